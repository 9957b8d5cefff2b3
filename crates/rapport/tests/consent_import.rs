//! `Service::import_consents` on the reference store: every row in one changeset (each
//! customer updated once with all its entries), nothing written when a row is refused or the
//! store fails, and a version conflict decided again from a fresh read.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::ports::ConsentStore;
use rapport::core::privacy::{ConsentEntry, ConsentState};
use rapport::core::*;
use rapport::{ConsentImportRow, ConsentRequest, Error, ManualClock, Service};
use rapport_memory::MemoryStore;
use support::{Hooked, Hooks, conflict_on};

const T: TenantId = TenantId::from_u128(1);

/// What the wrapped store's `apply` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards.
    Plain,
    /// Fails every apply as unavailable.
    Down,
    /// Fails every apply with a version conflict.
    AlwaysConflict,
    /// Before the first apply, writes a grant for this customer (a concurrent writer), so the
    /// import's first apply meets a moved version.
    RaceOnce(CustomerId),
}

/// The import's store: `apply` follows `mode`, and counts the applies it was asked for.
struct Flaky {
    mode: Mutex<Mode>,
    applies: AtomicU32,
}

fn flaky(mode: Mode) -> Hooked<Flaky> {
    Hooked::new(Flaky {
        mode: Mutex::new(mode),
        applies: AtomicU32::new(0),
    })
}

impl Hooks for Flaky {
    async fn apply(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        cs: &Changeset,
    ) -> Result<Applied, StoreError> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Plain => {}
            Mode::Down => return Err(StoreError::unavailable("disk detached")),
            Mode::AlwaysConflict => return Err(conflict_on(cs)),
            Mode::RaceOnce(id) => {
                *self.mode.lock().unwrap() = Mode::Plain;
                let read = inner.load(t, id).await?.unwrap();
                let history = inner.consents(t, id).await?;
                let e = ConsentEntry::new(
                    ConsentEntryId::from_u128(0xc0ffee),
                    id,
                    Purpose::Profiling,
                    ContactChannel::Any,
                    ConsentState::Granted,
                    "concurrent-writer",
                    read.customer.created_at(),
                )
                .unwrap();
                let d = rapport::core::privacy::record(&read.customer, read.stats, &history, e)
                    .unwrap();
                inner.apply(t, &d.changeset).await?;
            }
        }
        inner.apply(t, cs).await
    }
}

fn at(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(days)
}

fn service(mode: Mode) -> Service<Hooked<Flaky>> {
    Service::new(flaky(mode)).with_clock(ManualClock::at(at(100)))
}

fn register(svc: &Service<Hooked<Flaky>>, n: usize) -> Vec<CustomerId> {
    (0..n)
        .map(|_| {
            block_on(svc.register(T, Profile::default()))
                .unwrap()
                .customer
                .id()
        })
        .collect()
}

fn row(id: CustomerId, state: ConsentState, p: Purpose, ch: ContactChannel) -> ConsentImportRow {
    ConsentImportRow::new(id, state, ConsentRequest::new(p, ch, "crm-export"))
}

/// Versions and ledger lengths of `ids`, and the applies made so far.
fn state(svc: &Service<Hooked<Flaky>>, ids: &[CustomerId]) -> (Vec<u64>, Vec<usize>, u32) {
    let versions = ids
        .iter()
        .map(|id| block_on(svc.customer(T, *id)).unwrap().customer.version())
        .collect();
    let ledgers = ids
        .iter()
        .map(|id| block_on(svc.consents(T, *id)).unwrap().len())
        .collect();
    (
        versions,
        ledgers,
        svc.store().applies.load(Ordering::SeqCst),
    )
}

#[test]
fn an_import_updates_each_customer_once_with_all_its_entries() {
    use ConsentState::{Granted, Pending, Withdrawn};
    use ContactChannel::{Any, Email, Sms};
    use Purpose::{Analytics, Marketing};
    let svc = service(Mode::Plain);
    let ids = register(&svc, 3);
    let (ann, bo, cy) = (ids[0], ids[1], ids[2]);
    // Cy granted marketing by SMS before the import.
    block_on(svc.grant(T, cy, ConsentRequest::new(Marketing, Sms, "app"))).unwrap();
    let before = state(&svc, &ids);
    assert_eq!(before, (vec![1, 1, 2], vec![0, 0, 1], 4));

    let mut rows = vec![
        row(ann, Granted, Marketing, Email),
        row(bo, Pending, Marketing, Email),
        row(ann, Granted, Analytics, Any),
        row(cy, Withdrawn, Marketing, Sms),
        row(ann, Withdrawn, Marketing, Email),
    ];
    // Ann's withdrawal is dated after her grant; the grant is dated in the past.
    rows[0].request = rows[0].request.clone().at(at(10));
    rows[4].request = rows[4].request.clone().at(at(20));
    let report = block_on(svc.import_consents(T, &rows)).unwrap();

    assert_eq!(report.customers, 3);
    let got: Vec<(CustomerId, ConsentState, Purpose)> = report
        .entries
        .iter()
        .map(|e| (e.customer, e.state, e.purpose))
        .collect();
    let want: Vec<(CustomerId, ConsentState, Purpose)> = rows
        .iter()
        .map(|r| (r.customer, r.state, r.request.purpose))
        .collect();
    assert_eq!(got, want, "one entry per row, in row order");
    assert!(report.entries.iter().all(|e| e.recorded_at == at(100)));
    assert_eq!(
        (report.entries[0].at, report.entries[1].at),
        (at(10), at(100))
    );
    // One apply; each customer one version on; 3 + 1 + (1 + 1) entries.
    assert_eq!(state(&svc, &ids), (vec![2, 2, 3], vec![3, 1, 2], 5));
    let consents = |id| block_on(svc.customer(T, id)).unwrap().customer.consents;
    let a = consents(ann);
    assert!(
        !a.allows(Marketing, Email),
        "the later-dated withdrawal wins"
    );
    assert!(
        a.allows(Analytics, Email),
        "analytics granted on any channel"
    );
    assert_eq!(a.iter().count(), 2);
    assert!(
        !consents(bo).allows(Marketing, Email),
        "pending is not granted"
    );
    assert!(!consents(cy).allows(Marketing, Sms));
    let seg = Segment::parse(r#"consent("analytics", "any")"#).unwrap();
    assert_eq!(block_on(svc.find(T, &seg)).unwrap().len(), 1);
    // Nothing to import: nothing written.
    let empty = block_on(svc.import_consents(T, &[])).unwrap();
    assert_eq!((empty.entries.len(), empty.customers), (0, 0));
    assert_eq!(state(&svc, &ids).2, 5);
}

#[test]
fn a_refused_row_is_named_and_nothing_is_written() {
    let svc = service(Mode::Plain);
    let ids = register(&svc, 3);
    let (ann, bo, gone) = (ids[0], ids[1], ids[2]);
    // Erased behind the service's back (the wrapper is no erasure store).
    let read = block_on(svc.store().inner.load(T, gone)).unwrap().unwrap();
    let plan =
        rapport::core::privacy::plan_erasure(&read.customer, read.stats, "t-1", "gdpr", at(99))
            .unwrap();
    block_on(svc.store().inner.apply(T, &plan.changeset)).unwrap();
    let before = state(&svc, &[ann, bo]);
    let ok = |id| {
        row(
            id,
            ConsentState::Granted,
            Purpose::Marketing,
            ContactChannel::Email,
        )
    };
    let nobody = CustomerId::from_u128(0xdead);

    let err =
        block_on(svc.import_consents(T, &[ok(ann), ok(bo), ok(ann), ok(nobody)])).unwrap_err();
    assert!(
        matches!(&err, Error::Row { row: 3, source } if matches!(**source, Error::NotFound(id) if id == nobody)),
        "{err:?}"
    );
    assert_eq!(err.kind(), "not_found");
    assert!(err.to_string().starts_with("row 3: customer "), "{err}");

    let err = block_on(svc.import_consents(T, &[ok(ann), ok(gone), ok(bo)])).unwrap_err();
    assert!(
        matches!(&err, Error::Row { row: 1, source } if matches!(**source, Error::Domain(DomainError::Tombstoned { customer, state: "erased" }) if customer == gone)),
        "{err:?}"
    );

    let mut blank = ok(bo);
    blank.request.source = " ".into();
    let err = block_on(svc.import_consents(T, &[ok(ann), ok(bo), blank])).unwrap_err();
    assert!(
        matches!(&err, Error::Row { row: 2, source } if matches!(**source, Error::Domain(DomainError::InvalidText { .. }))),
        "{err:?}"
    );
    // No apply was even tried; versions and ledgers as before.
    assert_eq!(state(&svc, &[ann, bo]), before);
}

#[test]
fn a_failed_apply_leaves_nothing_behind() {
    let svc = service(Mode::Plain);
    let ids = register(&svc, 2);
    let before = state(&svc, &ids);
    let rows: Vec<ConsentImportRow> = ids
        .iter()
        .map(|id| {
            row(
                *id,
                ConsentState::Granted,
                Purpose::Marketing,
                ContactChannel::Email,
            )
        })
        .collect();

    *svc.store().mode.lock().unwrap() = Mode::Down;
    let err = block_on(svc.import_consents(T, &rows)).unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::Unavailable { .. })),
        "{err:?}"
    );
    assert_eq!(
        state(&svc, &ids),
        (before.0.clone(), before.1.clone(), before.2 + 1)
    );

    *svc.store().mode.lock().unwrap() = Mode::AlwaysConflict;
    let err = block_on(svc.import_consents(T, &rows)).unwrap_err();
    let attempts = rapport::DEFAULT_MAX_ATTEMPTS;
    assert!(
        matches!(err, Error::Contention { customer, attempts: n } if customer == ids[0] && n == attempts),
        "{err:?}"
    );
    assert_eq!(
        state(&svc, &ids),
        (before.0, before.1, before.2 + 1 + attempts)
    );
}

#[test]
fn a_version_conflict_is_decided_again_from_a_fresh_read() {
    let svc = service(Mode::Plain);
    let ids = register(&svc, 2);
    let (ann, bo) = (ids[0], ids[1]);
    *svc.store().mode.lock().unwrap() = Mode::RaceOnce(bo);
    let rows = [
        row(
            ann,
            ConsentState::Granted,
            Purpose::Marketing,
            ContactChannel::Email,
        ),
        row(
            bo,
            ConsentState::Granted,
            Purpose::Marketing,
            ContactChannel::Email,
        ),
        row(
            bo,
            ConsentState::Withdrawn,
            Purpose::Marketing,
            ContactChannel::Sms,
        ),
    ];
    let report = block_on(svc.import_consents(T, &rows)).unwrap();
    assert_eq!(report.entries.len(), 3);
    // Two applies of the import (the first lost the race; the racer's own apply is not
    // counted); Bo: the racer's version and one more; the racer's entry kept, once each.
    assert_eq!(state(&svc, &ids), (vec![2, 3], vec![1, 3], 2 + 2));
    let b = block_on(svc.customer(T, bo)).unwrap().customer.consents;
    assert!(
        b.allows(Purpose::Profiling, ContactChannel::Email),
        "the racer's grant stays in the snapshot"
    );
    assert!(b.allows(Purpose::Marketing, ContactChannel::Email));
    let ledger = block_on(svc.consents(T, bo)).unwrap();
    let mut entry_ids: Vec<ConsentEntryId> = ledger.iter().map(|e| e.id).collect();
    entry_ids.dedup();
    assert_eq!(entry_ids.len(), 3);
}

#[test]
fn the_blocking_service_imports_the_same() {
    let svc = rapport::blocking::Service::new(MemoryStore::new());
    let id = svc.register(T, Profile::default()).unwrap().customer.id();
    let rows = [
        row(
            id,
            ConsentState::Granted,
            Purpose::Marketing,
            ContactChannel::Email,
        ),
        row(
            id,
            ConsentState::Granted,
            Purpose::Marketing,
            ContactChannel::Push,
        ),
    ];
    let report = svc.import_consents(T, &rows).unwrap();
    assert_eq!((report.entries.len(), report.customers), (2, 1));
    assert_eq!(svc.customer(T, id).unwrap().customer.version(), 2);
    let err = svc
        .import_consents(
            T,
            &[
                rows[0].clone(),
                row(
                    CustomerId::from_u128(5),
                    ConsentState::Granted,
                    Purpose::Marketing,
                    ContactChannel::Email,
                ),
            ],
        )
        .unwrap_err();
    assert!(matches!(err, Error::Row { row: 1, .. }));
    assert_eq!(svc.consents(T, id).unwrap().len(), 2);
}

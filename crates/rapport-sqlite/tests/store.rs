//! The SQLite store against its contract: atomic changesets, versions, idempotent
//! activities, outbox leases, tenant scoping, round trips, and no lost updates under
//! concurrent writers.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::ports::{ActivityImport, ImportActivity, ImportPolicy};
use rapport_core::*;
use rapport_sqlite::{ApplyError, SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

fn load(
    s: &SqliteStore,
    t: TenantId,
    id: CustomerId,
) -> Result<Option<(Customer, Stats)>, StoreError> {
    block_on(Store::load(s, t, id)).map(|o| o.map(|r| (r.customer, r.stats)))
}

fn scan(
    s: &SqliteStore,
    t: TenantId,
    after: Option<CustomerId>,
    limit: u32,
) -> Result<Vec<(Customer, Stats)>, StoreError> {
    block_on(Store::scan(s, t, Page { after, limit }))
        .map(|v| v.into_iter().map(|r| (r.customer, r.stats)).collect())
}

fn acts(
    s: &SqliteStore,
    t: TenantId,
    id: CustomerId,
    _from: Option<()>,
    _to: Option<()>,
) -> Result<Vec<Activity>, StoreError> {
    block_on(Store::activities(s, t, id, TimeRange::all()))
}

fn find(s: &SqliteStore, t: TenantId, key: &ContactKey) -> Result<Vec<CustomerId>, StoreError> {
    block_on(Store::find_by_contact(s, t, key))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("r.db"), SqliteConfig::default(), now()).unwrap()
}

const T1: TenantId = TenantId::from_u128(1);
const T2: TenantId = TenantId::from_u128(2);

fn customer(t: TenantId, id: u128) -> Customer {
    let profile = Profile {
        email: Some(Pii::new(
            Email::parse(&format!("c{id}@example.com")).unwrap(),
        )),
        ..Profile::default()
    };
    Customer::new(t, CustomerId::from_u128(id), profile, now())
}

fn purchase(c: CustomerId, key: &str, amount: Decimal) -> Activity {
    Activity::new(
        ActivityId::from_u128(7),
        c,
        now(),
        Channel::Web,
        IdempotencyKey::new(key).unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new(key).unwrap(),
            amount: Money::new(amount, Currency::USD),
            margin: None,
        },
    )
    .unwrap()
}

/// Plain activities, as the bulk import port takes them.
fn plain(acts: &[Activity]) -> Vec<ImportActivity> {
    acts.iter().cloned().map(ImportActivity::from).collect()
}

fn message(t: TenantId, id: u128, c: CustomerId) -> OutboxMessage {
    OutboxMessage::new(
        MessageId::from_u128(id),
        t,
        now(),
        DomainEvent::CustomerRegistered { customer: c },
    )
}

fn create_cs(t: TenantId, id: u128) -> Changeset {
    let c = customer(t, id);
    let mut cs = Changeset::new();
    cs.outbox.push(message(t, id, c.id()));
    cs.create(c, Stats::default());
    cs
}

#[test]
fn create_then_load_round_trips_and_create_again_fails_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let cs = create_cs(T1, 1);
    let out = block_on(s.apply(T1, &cs)).unwrap();
    assert_eq!((out.customers, out.messages), (1, 1));
    let (c, _) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
    assert_eq!(&c, cs.customers[0].customer());

    // Again, with an activity and a new message: AlreadyExists, and neither is stored.
    let mut again = create_cs(T1, 1);
    again.outbox[0].id = MessageId::from_u128(99);
    again.activities.push(purchase(c.id(), "k-1", Decimal::ONE));
    let err = block_on(s.apply(T1, &again)).unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { customer } if customer == c.id()),
        "{err}"
    );
    assert!(acts(&s, T1, c.id(), None, None).unwrap().is_empty());
    let claimed = block_on(s.claim_outbox(10, Duration::from_secs(30), now())).unwrap();
    assert_eq!(claimed.len(), 1, "only the first changeset's message");
}

#[test]
fn stale_update_conflicts_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    block_on(s.apply(T1, &create_cs(T1, 1))).unwrap();
    let (c, st) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
    let mut first = Changeset::new();
    first.update(&c, c.next_version(), st.clone());
    block_on(s.apply(T1, &first)).unwrap();

    let mut stale = Changeset::new();
    stale.update(&c, c.next_version(), st);
    stale
        .activities
        .push(purchase(c.id(), "k-stale", Decimal::ONE));
    let err = block_on(s.apply(T1, &stale)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(acts(&s, T1, c.id(), None, None).unwrap().is_empty());
}

#[test]
fn duplicate_activity_keys_write_nothing_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    block_on(s.apply(T1, &create_cs(T1, 1))).unwrap();
    let (c, st) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
    let a = purchase(c.id(), "order-1", Decimal::new(1999, 2));
    let mut cs = Changeset::new();
    let mut st2 = st.clone();
    st2.apply(&a).unwrap();
    cs.update(&c, c.next_version(), st2.clone());
    cs.activities.push(a.clone());
    let out = block_on(s.apply(T1, &cs)).unwrap();
    assert!(out.duplicates.is_empty());

    let (c2, _) = load(&s, T1, c.id()).unwrap().unwrap();
    let mut replay = Changeset::new();
    let mut st3 = st2.clone();
    st3.apply(&a).unwrap();
    replay.update(&c2, c2.next_version(), st3);
    replay.activities.push(a.clone());
    let out = block_on(s.apply(T1, &replay)).unwrap();
    assert_eq!(out.duplicates, vec![a.idempotency_key.clone()]);
    let (c3, st_after) = load(&s, T1, c.id()).unwrap().unwrap();
    assert_eq!(c3.version(), c2.version(), "the customer was not rewritten");
    assert_eq!(st_after, st2, "stats did not count the duplicate");
    // The same key in another tenant is a different activity.
    block_on(s.apply(T2, &create_cs(T2, 1))).unwrap();
    let mut other = Changeset::new();
    other.activities.push(a);
    assert!(block_on(s.apply(T2, &other)).unwrap().duplicates.is_empty());
}

#[test]
fn tenants_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    block_on(s.apply(T1, &create_cs(T1, 5))).unwrap();
    let id = CustomerId::from_u128(5);
    assert!(load(&s, T2, id).unwrap().is_none());
    assert!(scan(&s, T2, None, 10).unwrap().is_empty());
    let key = ContactKey::Email(Email::parse("c5@example.com").unwrap());
    assert_eq!(find(&s, T1, &key).unwrap(), vec![id]);
    assert!(find(&s, T2, &key).unwrap().is_empty());
    // The same id can exist in both tenants.
    block_on(s.apply(T2, &create_cs(T2, 5))).unwrap();
    assert_eq!(scan(&s, T1, None, 10).unwrap().len(), 1);
    // A tenant cannot write another tenant's customer.
    assert!(matches!(
        block_on(s.apply(T2, &create_cs(T1, 6))).unwrap_err(),
        StoreError::Invalid(_)
    ));
}

#[test]
fn scan_pages_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for id in [3u128, 1, 2, 5, 4] {
        block_on(s.apply(T1, &create_cs(T1, id))).unwrap();
    }
    let first = scan(&s, T1, None, 2).unwrap();
    let ids: Vec<u128> = first
        .iter()
        .map(|(c, _)| c.id().as_uuid().as_u128())
        .collect();
    assert_eq!(ids, vec![1, 2]);
    let rest = scan(&s, T1, Some(first[1].0.id()), 10).unwrap();
    let ids: Vec<u128> = rest
        .iter()
        .map(|(c, _)| c.id().as_uuid().as_u128())
        .collect();
    assert_eq!(ids, vec![3, 4, 5]);
}

#[test]
fn money_and_time_round_trip_at_the_extremes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    block_on(s.apply(T1, &create_cs(T1, 1))).unwrap();
    let (c, st) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
    let extremes = [
        Decimal::from_i128_with_scale(9_999_999_999_999_999_999_999_999_999, 0),
        Decimal::from_i128_with_scale(1_000_000_000_000_000_000_000_000_000, 28),
        Decimal::new(1050, 2),
        Decimal::new(1, 28),
        Decimal::ZERO,
    ];
    let mut cs = Changeset::new();
    for (i, d) in extremes.iter().enumerate() {
        let mut a = purchase(c.id(), &format!("x{i}"), *d);
        a.at = Utc
            .timestamp_micros(1_780_000_000_123_456 + i as i64)
            .single()
            .unwrap();
        cs.activities.push(a);
    }
    cs.update(&c, c.next_version(), st);
    block_on(s.apply(T1, &cs)).unwrap();
    let back = acts(&s, T1, c.id(), None, None).unwrap();
    assert_eq!(back, cs.activities);
    for (a, d) in back.iter().zip(extremes) {
        let ActivityKind::Purchase { amount, .. } = &a.kind else {
            panic!()
        };
        assert_eq!(amount.amount.scale(), d.scale());
        assert_eq!(amount.amount.to_string(), d.to_string());
    }
}

#[test]
fn outbox_leases_expire_and_acks_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for id in 1..=3u128 {
        block_on(s.apply(T1, &create_cs(T1, id))).unwrap();
    }
    let lease = Duration::from_secs(60);
    let got = block_on(s.claim_outbox(2, lease, now())).unwrap();
    assert_eq!(
        got.iter()
            .map(|m| m.id.as_uuid().as_u128())
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(got.iter().all(|m| m.attempts == 1));
    // Leased messages are not claimed again before the lease ends...
    let more = block_on(s.claim_outbox(10, lease, now())).unwrap();
    assert_eq!(more.len(), 1);
    block_on(s.ack_outbox(&[got[0].id])).unwrap();
    // ...and are claimed again after it (the relay that held them died).
    let later = now() + chrono::Duration::seconds(61);
    let again = block_on(s.claim_outbox(10, lease, later)).unwrap();
    let ids: Vec<u128> = again.iter().map(|m| m.id.as_uuid().as_u128()).collect();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(again[0].attempts, 2);
}

#[test]
fn a_database_newer_than_the_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    let conn = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    conn.execute(
        "INSERT INTO rapport_schema_migrations VALUES (99, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err =
        SqliteStore::open(dir.path().join("r.db"), SqliteConfig::default(), now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the database schema is version 99 but this rapport-sqlite supports up to {}; upgrade rapport-sqlite",
            rapport_sqlite::latest_version()
        )
    );
}

#[test]
fn no_lost_updates_under_eight_concurrent_writers() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 1_250;
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(&dir));
    block_on(s.apply(T1, &create_cs(T1, 1))).unwrap();
    let id = CustomerId::from_u128(1);
    let key = AttrKey::new("counter").unwrap();
    let conflicts: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let s = Arc::clone(&s);
                let key = key.clone();
                scope.spawn(move || {
                    let mut conflicts = 0;
                    for _ in 0..PER_THREAD {
                        loop {
                            let (c, st) = load(&s, T1, id).unwrap().unwrap();
                            let mut next = c.next_version();
                            let mut attrs = next.profile.attributes.expose().clone();
                            let n = match attrs.get(&key) {
                                Some(AttrValue::Number(n)) => *n,
                                _ => Decimal::ZERO,
                            };
                            attrs.insert(key.clone(), AttrValue::Number(n + Decimal::ONE));
                            next.profile.attributes = Pii::new(attrs);
                            let mut cs = Changeset::new();
                            cs.update(&c, next, st);
                            match block_on(s.apply(T1, &cs)) {
                                Ok(_) => break,
                                Err(StoreError::Conflict { .. }) => conflicts += 1,
                                Err(e) => panic!("unexpected error: {e}"),
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let (c, _) = load(&s, T1, id).unwrap().unwrap();
    let total = THREADS * PER_THREAD;
    assert_eq!(c.version(), 1 + total as u64);
    assert_eq!(
        c.profile.attributes.expose().get(&key),
        Some(&AttrValue::Number(Decimal::from(total as i64)))
    );
    eprintln!("{total} updates, {conflicts} conflicts retried, 0 lost");
}

#[test]
fn bulk_import_is_idempotent_and_folds_only_new_activities() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let batch: Vec<(Customer, Stats)> = (1..=50u128)
        .map(|i| (customer(T1, i), Stats::default()))
        .collect();
    let r = block_on(s.import_customers(T1, &batch)).unwrap();
    assert_eq!((r.rows, r.inserted, r.skipped), (50, 50, 0));
    let r = block_on(s.import_customers(T1, &batch)).unwrap();
    assert_eq!((r.inserted, r.skipped), (0, 50));

    let acts: Vec<Activity> = (1..=50u128)
        .flat_map(|i| {
            (0..3).map(move |k| {
                purchase(
                    CustomerId::from_u128(i),
                    &format!("{i}-{k}"),
                    Decimal::new(1000, 2),
                )
            })
        })
        .collect();
    let r = block_on(s.import_activities(T1, plain(&acts), &ImportPolicy::default())).unwrap();
    assert_eq!((r.inserted, r.skipped), (150, 0));
    let r = block_on(s.import_activities(T1, plain(&acts), &ImportPolicy::default())).unwrap();
    assert_eq!((r.inserted, r.skipped), (0, 150));
    let (c, st) = load(&s, T1, CustomerId::from_u128(7)).unwrap().unwrap();
    assert_eq!(st.orders(), 3, "re-run did not double count");
    assert_eq!(st.revenue_amount(), Decimal::new(3000, 2));
    assert_eq!(
        c.version(),
        2,
        "one version step for the one batch that changed it"
    );

    // An activity of an unknown customer fails the whole batch: nothing of it is stored.
    let bad = vec![
        purchase(CustomerId::from_u128(1), "new-ok", Decimal::ONE),
        purchase(CustomerId::from_u128(999), "orphan", Decimal::ONE),
    ];
    assert!(matches!(
        block_on(s.import_activities(T1, plain(&bad), &ImportPolicy::default())).unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert_eq!(
        load(&s, T1, CustomerId::from_u128(1))
            .unwrap()
            .unwrap()
            .1
            .orders(),
        3
    );
}

#[test]
fn pipelined_import_reports_progress_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let rows: Vec<(Customer, Stats)> = (1..=1_005u128)
        .map(|i| (customer(T1, i), Stats::default()))
        .collect();
    let mut seen = Vec::new();
    let total = s
        .import_customers_iter(T1, rows.clone(), 100, |r| seen.push(r.rows))
        .unwrap();
    assert_eq!((total.rows, total.inserted), (1_005, 1_005));
    assert_eq!(seen.len(), 11);
    assert_eq!(*seen.last().unwrap(), 1_005);
    let again = s.import_customers_iter(T1, rows, 100, |_| {}).unwrap();
    assert_eq!((again.inserted, again.skipped), (0, 1_005));
    assert_eq!(scan(&s, T1, None, 2_000).unwrap().len(), 1_005);
}

#[test]
fn a_batch_larger_than_a_chunk_is_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    // Several chunks of the streamed path; the last customer belongs to another tenant, so
    // nothing of the batch may be written.
    let mut batch: Vec<(Customer, Stats)> = (1..=2_500u128)
        .map(|i| (customer(T1, i), Stats::default()))
        .collect();
    batch.push((customer(T2, 9_999), Stats::default()));
    assert!(matches!(
        block_on(s.import_customers(T1, &batch)).unwrap_err(),
        ApplyError::Invalid(_)
    ));
    assert!(scan(&s, T1, None, 10).unwrap().is_empty());

    batch.pop();
    let r = block_on(s.import_customers(T1, &batch)).unwrap();
    assert_eq!((r.rows, r.inserted, r.skipped), (2_500, 2_500, 0));
    let r = block_on(s.import_customers(T1, &batch[1_000..])).unwrap();
    assert_eq!((r.rows, r.inserted, r.skipped), (1_500, 0, 1_500));
    assert_eq!(scan(&s, T1, None, 5_000).unwrap().len(), 2_500);
    let email = ContactKey::Email(Email::parse("c2345@example.com").unwrap());
    assert_eq!(
        block_on(Store::find_by_contact(&s, T1, &email)).unwrap(),
        vec![CustomerId::from_u128(2_345)]
    );
    assert!(
        block_on(Store::find_by_contact(&s, T2, &email))
            .unwrap()
            .is_empty()
    );
}

fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
}

#[test]
fn erasure_leaves_no_personal_bytes_in_the_database_or_wal_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let secret = "erase-me-7f3a@example.com";
    let mut c = customer(T1, 1);
    c.profile.email = Some(Pii::new(Email::parse(secret).unwrap()));
    c.profile.display_name = Some(Pii::new("Zhu Ershi Secretname".into()));
    let mut cs = Changeset::new();
    cs.create(c, Stats::default());
    block_on(s.apply(T1, &cs)).unwrap();
    // A few more versions, so old copies sit in several WAL frames and pages.
    for _ in 0..5 {
        let (c, st) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
        let mut cs = Changeset::new();
        cs.update(&c, c.next_version(), st);
        block_on(s.apply(T1, &cs)).unwrap();
    }
    let db = dir.path().join("r.db");
    let wal = dir.path().join("r.db-wal");
    assert!(file_contains(&db, secret.as_bytes()) || file_contains(&wal, secret.as_bytes()));

    let (c, st) = load(&s, T1, CustomerId::from_u128(1)).unwrap().unwrap();
    let mut erased = c.next_version();
    erased.profile = Profile::default();
    erased
        .set_lifecycle(rapport_core::Lifecycle {
            stage: Stage::Erased,
            ..erased.lifecycle().clone()
        })
        .unwrap();
    let mut cs = Changeset::new();
    cs.update(&c, erased, st);
    block_on(s.apply(T1, &cs)).unwrap();

    for needle in [secret.as_bytes(), b"Secretname".as_slice()] {
        assert!(!file_contains(&db, needle), "found in the database file");
        assert!(!file_contains(&wal, needle), "found in the WAL file");
    }
    let key = ContactKey::Email(Email::parse(secret).unwrap());
    assert!(find(&s, T1, &key).unwrap().is_empty());
    assert_eq!(
        load(&s, T1, CustomerId::from_u128(1))
            .unwrap()
            .unwrap()
            .0
            .stage(),
        Stage::Erased
    );
}

/// A long timeline comes back whole, in time then idempotency-key order, and a bad row deep
/// in it is a typed error, not a partial answer.
#[test]
fn a_long_timeline_reads_in_order_and_a_bad_row_in_it_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    block_on(s.apply(T1, &create_cs(T1, 1))).unwrap();
    let c = CustomerId::from_u128(1);
    let n = 3 * rapport_sql::seal::PARALLEL_DECODE_ROWS + 17;
    let mut cs = Changeset::new();
    // Written in reverse, two activities per microsecond with keys written out of order.
    for i in (0..n).rev() {
        let mut a = purchase(c, &format!("k{:05}", n - i), Decimal::ONE);
        a.id = ActivityId::from_u128(1_000 + i as u128);
        a.at = now() - chrono::Duration::microseconds((i / 2) as i64);
        cs.activities.push(a);
    }
    block_on(s.apply(T1, &cs)).unwrap();
    let got = acts(&s, T1, c, None, None).unwrap();
    assert_eq!(got.len(), n);
    let mut want = cs.activities.clone();
    want.sort_by(|a, b| (a.at, &a.idempotency_key).cmp(&(b.at, &b.idempotency_key)));
    assert_eq!(got, want);

    // One row near the end (in the part parsed on the second thread) no longer parses.
    let raw = rusqlite::Connection::open(dir.path().join("r.db")).unwrap();
    let changed = raw
        .execute(
            "UPDATE rapport_activities SET activity_json = '{\"broken' WHERE idempotency_key = ?1",
            [format!("k{:05}", n - 5)],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(raw);
    match acts(&s, T1, c, None, None) {
        Err(StoreError::Corrupt { reason }) => assert!(reason.contains("activities"), "{reason}"),
        other => panic!(
            "expected a corrupt-row error, got {:?}",
            other.map(|v| v.len())
        ),
    }
}

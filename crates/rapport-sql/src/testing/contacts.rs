//! The one-customer-per-contact cases both SQL stores' `tests/contacts.rs` run: a book migrated
//! from before the rule with duplicates in it, and eight importers racing with the same people.
//! Each backend keeps only how it writes the old rows and how it imports.
//!
//! ```
//! use rapport_sql::testing::contacts::{self, T};
//! let [oldest, younger, youngest, merged] = contacts::legacy_duplicates("dup@example.com");
//! assert!(oldest.created_at() < younger.created_at() && younger.created_at() < youngest.created_at());
//! assert_eq!(merged.stage().as_str(), "merged");
//! assert_eq!(contacts::importer_batch(0).len(), 300);
//! # let _ = T;
//! ```

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;

/// The tenant of every case.
pub const T: TenantId = TenantId::from_u128(7);

/// The cases' clock.
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// A customer of [`T`] with the given contacts, created at `created`.
#[must_use]
pub fn person(
    id: u128,
    email: Option<&str>,
    phone: Option<&str>,
    created: DateTime<Utc>,
) -> Customer {
    let profile = Profile {
        email: email.map(|e| Pii::new(Email::parse(e).unwrap())),
        phone: phone.map(|p| Pii::new(Phone::from_e164(p).unwrap())),
        ..Profile::default()
    };
    Customer::new(T, CustomerId::from_u128(id), profile, created)
}

/// The email contact key of `s`.
#[must_use]
pub fn email(s: &str) -> ContactKey {
    ContactKey::Email(Email::parse(s).unwrap())
}

/// The phone all the legacy duplicates but the younger share.
pub const SHARED_PHONE: &str = "+8613800138000";

/// Four customers as concurrent writers left them before the rule: `[oldest, younger,
/// youngest, merged]`, all with `dup@example.com` (the youngest's spelled `youngest_email`, as
/// an old row may hold it), the oldest and the youngest with [`SHARED_PHONE`], and a tombstone
/// merged into the oldest that is older still. Ids do not follow creation order: the oldest
/// is the holder, not the smallest id.
#[must_use]
pub fn legacy_duplicates(youngest_email: &str) -> [Customer; 4] {
    let t0 = now() - Duration::days(30);
    let oldest = person(3, Some("dup@example.com"), Some(SHARED_PHONE), t0);
    let younger = person(1, Some("dup@example.com"), None, t0 + Duration::hours(1));
    let youngest = person(
        2,
        Some(youngest_email),
        Some(SHARED_PHONE),
        t0 + Duration::hours(2),
    );
    let mut merged = person(4, Some("dup@example.com"), None, t0 - Duration::hours(5));
    merged
        .set_lifecycle(merged.lifecycle().merge_into(oldest.id(), t0).unwrap())
        .unwrap();
    [oldest, younger, youngest, merged]
}

/// Checks a store opened (and so migrated) over the [`legacy_duplicates`]: the holder is
/// found first, then the younger duplicates, never the tombstone; a younger duplicate can
/// still be written and keeps its email; no new duplicate gets in (the holder is named).
/// Returns the younger duplicate as stored, for the backend's own further checks.
pub fn check_migrated_duplicates<S: Store>(s: &S, dups: &[Customer; 4]) -> Customer {
    let [oldest, younger, youngest, _merged] = dups;
    assert_eq!(
        block_on(s.find_by_contact(T, &email("dup@example.com"))).unwrap(),
        vec![oldest.id(), younger.id(), youngest.id()]
    );
    let phone = ContactKey::Phone(Phone::from_e164(SHARED_PHONE).unwrap());
    assert_eq!(
        block_on(s.find_by_contact(T, &phone)).unwrap(),
        vec![oldest.id(), youngest.id()]
    );
    let mut next = younger.next_version();
    next.tags
        .insert("value:vip".parse().unwrap(), TagSource::Manual, now(), None);
    let mut cs = Changeset::new();
    cs.update(younger, next.clone(), Stats::default());
    block_on(s.apply(T, &cs)).unwrap();
    assert_eq!(
        block_on(s.load(T, younger.id())).unwrap().unwrap().customer,
        next
    );
    assert_eq!(
        block_on(s.find_by_contact(T, &email("dup@example.com"))).unwrap(),
        vec![oldest.id(), younger.id(), youngest.id()]
    );
    let mut cs = Changeset::new();
    cs.create(
        person(9, Some("dup@example.com"), None, now()),
        Stats::default(),
    );
    match block_on(s.apply(T, &cs)) {
        Err(StoreError::ContactTaken {
            contact: ContactKind::Email,
            existing,
            ..
        }) => assert_eq!(existing, oldest.id()),
        other => panic!("expected ContactTaken, got {other:?}"),
    }
    next
}

/// The people importer number `importer` brings: the same 300 people for every importer,
/// under ids of its own; everyone has an email, a phone or both.
#[must_use]
pub fn importer_batch(importer: u128) -> Vec<(Customer, Stats)> {
    (0..300u128)
        .map(|i| {
            let phone = format!("+86138{:08}", 100_000 + i);
            let c = person(
                importer * 1_000 + i + 1,
                (i % 3 != 0).then(|| format!("p{i}@example.com")).as_deref(),
                (i % 3 == 0 || i % 2 == 0).then_some(phone.as_str()),
                now(),
            );
            (c, Stats::default())
        })
        .collect()
}

/// Runs eight importers at once, each importing [`importer_batch`] in batches of 25 through
/// `import` (which returns how many rows it inserted and how many it refused as
/// `contact_taken`), and checks the outcome: exactly 300 customers, every other row counted
/// as taken, and no contact held twice. `label` names the run in failures.
pub fn check_racing_imports<S: Store + Sync>(
    s: &S,
    label: &str,
    import: impl Fn(&[(Customer, Stats)]) -> (usize, usize) + Sync,
) {
    let start = std::sync::Barrier::new(8);
    let totals: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u128)
            .map(|importer| {
                let (start, import) = (&start, &import);
                scope.spawn(move || {
                    let batch = importer_batch(importer);
                    start.wait();
                    // Small batches interleave the importers' transactions.
                    batch.chunks(25).fold((0, 0), |(i, t), part| {
                        let (di, dt) = import(part);
                        (i + di, t + dt)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted: usize = totals.iter().map(|t| t.0).sum();
    let taken: usize = totals.iter().map(|t| t.1).sum();
    assert_eq!((inserted, taken), (300, 7 * 300), "{label}");
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = block_on(s.scan(
            T,
            Page {
                after,
                limit: 1_000,
            },
        ))
        .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.customer.id());
        all.extend(page);
    }
    assert_eq!(all.len(), 300, "{label}");
    let mut keys: Vec<_> = all
        .iter()
        .flat_map(|r| r.customer.profile.contact_keys())
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "{label}: a contact is held twice");
}

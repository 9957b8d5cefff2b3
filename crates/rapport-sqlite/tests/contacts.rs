//! One live customer per email and per phone on SQLite: the migration that introduced the rule
//! keeps books that already hold duplicates readable and writable, and concurrent bulk imports
//! of the same people end with one customer each.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_sqlite::{MIGRATIONS, SqliteConfig, SqliteStore};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

const T: TenantId = TenantId::from_u128(7);

fn person(id: u128, email: Option<&str>, phone: Option<&str>, created: DateTime<Utc>) -> Customer {
    let profile = Profile {
        email: email.map(|e| Pii::new(Email::parse(e).unwrap())),
        phone: phone.map(|p| Pii::new(Phone::from_e164(p).unwrap())),
        ..Profile::default()
    };
    Customer::new(T, CustomerId::from_u128(id), profile, created)
}

fn email(s: &str) -> ContactKey {
    ContactKey::Email(Email::parse(s).unwrap())
}

/// A book at schema version 1 (before the rule), holding duplicates as concurrent writers
/// left them, is migrated: the oldest customer of each group keeps the contact, the younger
/// ones stay readable, findable and writable, and from then on no new duplicate gets in.
#[test]
fn the_migration_keeps_the_oldest_of_existing_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let t0 = now() - Duration::days(30);
    // Ids do not follow creation order: the oldest is the holder, not the smallest id.
    let oldest = person(3, Some("dup@example.com"), Some("+8613800138000"), t0);
    let younger = person(1, Some("dup@example.com"), None, t0 + Duration::hours(1));
    let youngest = person(
        2,
        Some("Dup@Example.com"),
        Some("+8613800138000"),
        t0 + Duration::hours(2),
    );
    let mut merged = person(4, Some("dup@example.com"), None, t0 - Duration::hours(5));
    merged
        .set_lifecycle(merged.lifecycle().merge_into(oldest.id(), t0).unwrap())
        .unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.execute_batch(
            "CREATE TABLE rapport_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_us INTEGER NOT NULL);
             INSERT INTO rapport_schema_migrations VALUES (1, 'init', 0);",
        )
        .unwrap();
        for c in [&oldest, &younger, &youngest, &merged] {
            conn.execute(
                "INSERT INTO rapport_customers (tenant_id, customer_id, version, stage, tier,
                     created_at_us, email, phone, customer_json, stats_json)
                 VALUES (?1, ?2, 1, ?3, 'lead', ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    T.to_bytes(),
                    c.id().to_bytes(),
                    c.stage().as_str(),
                    c.created_at().timestamp_micros(),
                    c.profile
                        .email
                        .as_ref()
                        .map(|e| e.expose().as_str().to_owned()),
                    c.profile
                        .phone
                        .as_ref()
                        .map(|p| p.expose().as_str().to_owned()),
                    serde_json::to_string(c).unwrap(),
                    serde_json::to_string(&Stats::default()).unwrap(),
                ],
            )
            .unwrap();
        }
    }
    let s = SqliteStore::open(&path, SqliteConfig::default(), now()).unwrap();
    // The holder first, then the younger duplicates (candidates to merge); not the tombstone.
    assert_eq!(
        block_on(s.find_by_contact(T, &email("dup@example.com"))).unwrap(),
        vec![oldest.id(), younger.id(), youngest.id()]
    );
    let phone = ContactKey::Phone(Phone::from_e164("+8613800138000").unwrap());
    assert_eq!(
        block_on(s.find_by_contact(T, &phone)).unwrap(),
        vec![oldest.id(), youngest.id()]
    );
    // A younger duplicate can still be written (its email unchanged), and keeps its email.
    let mut cs = Changeset::new();
    let mut next = younger.next_version();
    next.tags
        .insert("value:vip".parse().unwrap(), TagSource::Manual, now(), None);
    cs.update(&younger, next.clone(), Stats::default());
    block_on(s.apply(T, &cs)).unwrap();
    let back = block_on(s.load(T, younger.id())).unwrap().unwrap();
    assert_eq!(back.customer, next);
    assert_eq!(
        block_on(s.find_by_contact(T, &email("dup@example.com"))).unwrap(),
        vec![oldest.id(), younger.id(), youngest.id()]
    );
    // No new duplicate gets in: the holder is named.
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
    // A younger duplicate that changes its email to a free one claims the new one.
    let mut cs = Changeset::new();
    let mut moved = youngest.next_version();
    moved.profile.email = Some(Pii::new(Email::parse("fresh@example.com").unwrap()));
    cs.update(&youngest, moved, Stats::default());
    block_on(s.apply(T, &cs)).unwrap();
    assert_eq!(
        block_on(s.find_by_contact(T, &email("fresh@example.com"))).unwrap(),
        vec![youngest.id()]
    );
    let mut cs = Changeset::new();
    cs.create(
        person(10, Some("fresh@example.com"), None, now()),
        Stats::default(),
    );
    assert!(matches!(
        block_on(s.apply(T, &cs)),
        Err(StoreError::ContactTaken { existing, .. }) if existing == youngest.id()
    ));
}

/// The scenario on one store: eight importers at once, each with the same 300 people
/// under different ids. Before the rule this left hundreds of duplicates; now exactly 300
/// customers, and every row not written is counted as `contact_taken`.
#[test]
fn eight_concurrent_imports_of_the_same_people_leave_one_customer_each() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let s = std::sync::Arc::new(SqliteStore::open(&path, SqliteConfig::default(), now()).unwrap());
    let start = std::sync::Barrier::new(8);
    let reports: Vec<rapport_sqlite::ImportReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u128)
            .map(|importer| {
                let (s, start) = (std::sync::Arc::clone(&s), &start);
                scope.spawn(move || {
                    let batch: Vec<(Customer, Stats)> = (0..300u128)
                        .map(|i| {
                            let phone = format!("+86138{:08}", 100_000 + i);
                            let c = person(
                                importer * 1_000 + i + 1,
                                (i % 3 != 0).then(|| format!("p{i}@example.com")).as_deref(),
                                // Everyone has an email, a phone or both.
                                (i % 3 == 0 || i % 2 == 0).then_some(phone.as_str()),
                                now(),
                            );
                            (c, Stats::default())
                        })
                        .collect();
                    start.wait();
                    // Small batches interleave the importers' transactions.
                    let mut total = rapport_sqlite::ImportReport::default();
                    for part in batch.chunks(25) {
                        total += block_on(s.import_customers(T, part)).unwrap();
                    }
                    total
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted: usize = reports.iter().map(|r| r.inserted).sum();
    let taken: usize = reports.iter().map(|r| r.contact_taken).sum();
    assert_eq!((inserted, taken), (300, 7 * 300));
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
    assert_eq!(all.len(), 300);
    let mut keys: Vec<_> = all
        .iter()
        .flat_map(|r| r.customer.profile.contact_keys())
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a contact is held twice");
}

//! One live customer per email and per phone on PostgreSQL: the migration that introduced the
//! rule keeps books that already hold duplicates readable and writable, and concurrent bulk
//! imports of the same people end with one customer each (on both import paths).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::*;
use rapport_postgres::{ImportPath, MIGRATIONS, PostgresConfig, PostgresStore};
use support::{fresh, fresh_with, unique_schema, url};

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

/// A schema at version 1 (before the rule) holding duplicates as concurrent writers left
/// them is migrated: the oldest customer of each group keeps the contact, the younger ones
/// stay readable, findable and writable, and from then on no new duplicate gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_keeps_the_oldest_of_existing_duplicates() {
    drop(fresh()); // skips (or fails under RAPPORT_REQUIRE_POSTGRES) without a server
    let schema = unique_schema();
    let client = support::raw_client().await;
    let t0 = now() - Duration::days(30);
    let oldest = person(3, Some("dup@example.com"), Some("+8613800138000"), t0);
    let younger = person(1, Some("dup@example.com"), None, t0 + Duration::hours(1));
    let youngest = person(
        2,
        Some("dup@example.com"),
        Some("+8613800138000"),
        t0 + Duration::hours(2),
    );
    let mut merged = person(4, Some("dup@example.com"), None, t0 - Duration::hours(5));
    merged
        .set_lifecycle(merged.lifecycle().merge_into(oldest.id(), t0).unwrap())
        .unwrap();
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\";
             {}
             CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                 applied_at timestamptz NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'init', now());",
            MIGRATIONS[0].sql
        ))
        .await
        .unwrap();
    for c in [&oldest, &younger, &youngest, &merged] {
        client
            .execute(
                "INSERT INTO customers (tenant_id, customer_id, version, stage, tier, created_at,
                     email, phone, customer_json, stats_json)
                 VALUES ($1, $2, 1, $3, 'lead', $4, $5, $6, $7, $8)",
                &[
                    T.as_uuid(),
                    c.id().as_uuid(),
                    &c.stage().as_str(),
                    &c.created_at(),
                    &c.profile
                        .email
                        .as_ref()
                        .map(|e| e.expose().as_str().to_owned()),
                    &c.profile
                        .phone
                        .as_ref()
                        .map(|p| p.expose().as_str().to_owned()),
                    &serde_json::to_string(c).unwrap(),
                    &serde_json::to_string(&Stats::default()).unwrap(),
                ],
            )
            .await
            .unwrap();
    }
    let s = PostgresStore::connect(
        PostgresConfig::new(url()).with_schema(schema.clone()),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.find_by_contact(T, &email("dup@example.com"))
            .await
            .unwrap(),
        vec![oldest.id(), younger.id(), youngest.id()]
    );
    let phone = ContactKey::Phone(Phone::from_e164("+8613800138000").unwrap());
    assert_eq!(
        s.find_by_contact(T, &phone).await.unwrap(),
        vec![oldest.id(), youngest.id()]
    );
    // A younger duplicate can still be written (its email unchanged).
    let mut next = younger.next_version();
    next.tags
        .insert("value:vip".parse().unwrap(), TagSource::Manual, now(), None);
    let mut cs = Changeset::new();
    cs.update(&younger, next.clone(), Stats::default());
    s.apply(T, &cs).await.unwrap();
    assert_eq!(
        s.load(T, younger.id()).await.unwrap().unwrap().customer,
        next
    );
    // No new duplicate gets in: the holder is named.
    let mut cs = Changeset::new();
    cs.create(
        person(9, Some("dup@example.com"), None, now()),
        Stats::default(),
    );
    match s.apply(T, &cs).await {
        Err(StoreError::ContactTaken {
            contact: ContactKind::Email,
            existing,
            ..
        }) => assert_eq!(existing, oldest.id()),
        other => panic!("expected ContactTaken, got {other:?}"),
    }
    // An update taking a held phone is refused too, naming the holder.
    let mut cs = Changeset::new();
    let mut takes = younger.next_version().next_version();
    takes.profile.phone = Some(Pii::new(Phone::from_e164("+8613800138000").unwrap()));
    cs.update(&next, takes, Stats::default());
    match s.apply(T, &cs).await {
        Err(StoreError::ContactTaken {
            customer,
            contact: ContactKind::Phone,
            existing,
        }) => assert_eq!((customer, existing), (younger.id(), oldest.id())),
        other => panic!("expected ContactTaken, got {other:?}"),
    }
    s.drop_schema().await.unwrap();
}

/// The scenario: eight importers at once, each with the same 300 people under
/// different ids, in small batches, on both import paths. Before the rule this left 1,770
/// customers through the CLI; now exactly 300, and every row not written is counted as
/// `contact_taken`.
#[test]
fn eight_concurrent_imports_of_the_same_people_leave_one_customer_each() {
    for path in [ImportPath::Copy, ImportPath::Statements] {
        let f = fresh_with(|c| c.with_import(path).with_pool_size(8));
        let s = f.0.as_ref().unwrap();
        let start = std::sync::Barrier::new(8);
        let reports: Vec<rapport_postgres::ImportReport> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u128)
                .map(|importer| {
                    let start = &start;
                    scope.spawn(move || {
                        let batch: Vec<(Customer, Stats)> = (0..300u128)
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
                            .collect();
                        start.wait();
                        let mut total = rapport_postgres::ImportReport::default();
                        for part in batch.chunks(25) {
                            total +=
                                futures::executor::block_on(s.import_customers(T, part)).unwrap();
                        }
                        total
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let inserted: usize = reports.iter().map(|r| r.inserted).sum();
        let taken: usize = reports.iter().map(|r| r.contact_taken).sum();
        assert_eq!((inserted, taken), (300, 7 * 300), "{path:?}");
        let all = futures::executor::block_on(s.scan(T, Page::first(10_000))).unwrap();
        assert_eq!(all.len(), 300, "{path:?}");
    }
}

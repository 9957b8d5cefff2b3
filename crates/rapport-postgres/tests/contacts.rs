//! One live customer per email and per phone on PostgreSQL: the migration that introduced the
//! rule keeps books that already hold duplicates readable and writable, and concurrent bulk
//! imports of the same people end with one customer each (on both import paths).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use rapport_core::*;
use rapport_postgres::{ImportPath, MIGRATIONS, PostgresConfig, PostgresStore};
use rapport_sql::testing::contacts::{self, T, now};
use support::{fresh, fresh_with, unique_schema, url};

/// A schema at version 1 (before the rule) holding duplicates as concurrent writers left
/// them is migrated: the oldest customer of each group keeps the contact, the younger ones
/// stay readable, findable and writable, and from then on no new duplicate gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_keeps_the_oldest_of_existing_duplicates() {
    drop(fresh()); // skips (or fails under RAPPORT_REQUIRE_POSTGRES) without a server
    let schema = unique_schema();
    let client = support::raw_client().await;
    let dups = contacts::legacy_duplicates("dup@example.com");
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
    for c in &dups {
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
    // The shared checks drive the store with `block_on`: off the test's runtime.
    let (s, dups, next) = tokio::task::spawn_blocking(move || {
        let next = contacts::check_migrated_duplicates(&s, &dups);
        (s, dups, next)
    })
    .await
    .unwrap();
    let (younger, oldest) = (&dups[1], &dups[0]);
    // An update taking a held phone is refused too, naming the holder.
    let mut cs = Changeset::new();
    let mut takes = next.next_version();
    takes.profile.phone = Some(Pii::new(Phone::from_e164(contacts::SHARED_PHONE).unwrap()));
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
        let s = &f.inner;
        contacts::check_racing_imports(s, &format!("{path:?}"), |part| {
            let r = futures::executor::block_on(s.import_customers(T, part)).unwrap();
            (r.inserted, r.contact_taken)
        });
    }
}

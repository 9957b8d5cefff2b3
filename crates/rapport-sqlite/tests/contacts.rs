//! One live customer per email and per phone on SQLite: the migration that introduced the rule
//! keeps books that already hold duplicates readable and writable, and concurrent bulk imports
//! of the same people end with one customer each.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport_core::*;
use rapport_sql::testing::contacts::{self, T, email, now, person};
use rapport_sqlite::{MIGRATIONS, SqliteConfig, SqliteStore};

/// A book at schema version 1 (before the rule), holding duplicates as concurrent writers
/// left them, is migrated: the oldest customer of each group keeps the contact, the younger
/// ones stay readable, findable and writable, and from then on no new duplicate gets in.
#[test]
fn the_migration_keeps_the_oldest_of_existing_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let dups = contacts::legacy_duplicates("Dup@Example.com");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.execute_batch(
            "CREATE TABLE rapport_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_us INTEGER NOT NULL);
             INSERT INTO rapport_schema_migrations VALUES (1, 'init', 0);",
        )
        .unwrap();
        for c in &dups {
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
    contacts::check_migrated_duplicates(&s, &dups);
    let youngest = &dups[2];
    // A younger duplicate that changes its email to a free one claims the new one.
    let mut cs = Changeset::new();
    let mut moved = youngest.next_version();
    moved.profile.email = Some(Pii::new(Email::parse("fresh@example.com").unwrap()));
    cs.update(youngest, moved, Stats::default());
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
    let s = SqliteStore::open(dir.path().join("race.db"), SqliteConfig::default(), now()).unwrap();
    contacts::check_racing_imports(&s, "sqlite", |part| {
        let r = block_on(s.import_customers(T, part)).unwrap();
        (r.inserted, r.contact_taken)
    });
}

//! Crypto-shredding on PostgreSQL: the conformance kit with field encryption on, the kit's
//! `crypto_shredding` contract over a dump of the store's tables, and the raw-file
//! scan — erase 1,000 customers, checkpoint, then search the tables' files (heap, TOAST,
//! indexes) and every WAL segment for their names, emails and phones. Encryption on: none
//! anywhere. Off: the WAL keeps them (what docs/privacy.md says), which the test shows. The
//! scans read the server's data directory, so they need a local server and a user that can
//! read it (root in CI); they skip themselves otherwise.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport::blocking::Service;
use rapport_core::ports::KeyStore;
use rapport_core::*;
use rapport_keys::MemoryKeyStore;
use rapport_sql::testing::scan;
use rapport_testkit::broken::Broken;
use support::{Fresh, fresh};

fn encrypted_with(keys: Arc<dyn KeyStore>) -> Fresh {
    let Broken { inner, hooks } = fresh();
    Broken::new(inner.with_keystore(keys), hooks)
}

fn fresh_encrypted() -> Fresh {
    encrypted_with(Arc::new(MemoryKeyStore::new()))
}

mod encrypted {
    use super::fresh_encrypted;
    rapport_testkit::store_contracts!(fresh_encrypted; cases, accounts, privacy, actions, merges);
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// The test's own statements on a plain connection (as the server's superuser).
fn sql(statements: &str) -> Vec<Vec<String>> {
    support::raw_rows(statements)
}

/// Every row of the store's tables as text (what a dump or a logical backup holds).
fn dump(schema: &str) -> Vec<u8> {
    let tables = sql(&format!(
        "SELECT tablename FROM pg_tables WHERE schemaname = '{schema}'"
    ));
    let mut out = Vec::new();
    for t in tables {
        for row in sql(&format!("SELECT t::text FROM \"{schema}\".\"{}\" t", t[0])) {
            out.extend(row[0].as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn crypto_shredding_contract_over_a_dump_of_the_tables() {
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let store = encrypted_with(keys.clone());
    let schema = store.inner.schema().to_owned();
    rapport_testkit::check(
        || store,
        |s| async move {
            let raw_schema = schema.clone();
            rapport_testkit::privacy::crypto_shredding(
                &s,
                &*keys.clone(),
                move || dump(&raw_schema),
                move || {
                    // A backup: customer 7's row of tenant A as it is now, opened later
                    // through the same key store.
                    let row = sql(&format!(
                        "SELECT customer_json FROM \"{schema}\".customers
                         WHERE customer_id = '{}'",
                        CustomerId::from_u128(7)
                    ));
                    let json = row
                        .into_iter()
                        .map(|r| r[0].clone())
                        .find(|j| j.contains(&rapport_testkit::contracts::TA.to_string()))
                        .unwrap_or_default();
                    Box::new(move || {
                        let sealer = rapport_sql::seal::Sealer::new(keys);
                        sealer
                            .decode_customer(&json)
                            .map(|c| c.profile)
                            .map_err(|e| e.to_string())
                    })
                },
            )
            .await
        },
    );
}

#[test]
fn sealed_consents_contract_over_a_dump_of_the_tables() {
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let store = encrypted_with(keys.clone());
    let schema = store.inner.schema().to_owned();
    rapport_testkit::check(
        || store,
        |s| async move {
            rapport_testkit::privacy::sealed_consents(&s, &*keys, move || dump(&schema)).await
        },
    );
}

/// The files of the schema's tables, their TOAST tables and indexes, and the WAL segments.
fn raw_files(schema: &str) -> Option<Vec<u8>> {
    let dir = sql("SHOW data_directory").first()?.first()?.clone();
    let dir = PathBuf::from(dir);
    std::fs::read_dir(&dir).ok()?;
    sql("CHECKPOINT");
    let rels = sql(&format!(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '{schema}' AND c.relkind IN ('r', 'i', 'p')
         UNION ALL
         SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '{schema}' AND c.reltoastrelid <> 0"
    ));
    let mut out = Vec::new();
    for r in rels {
        if r[0].is_empty() {
            continue;
        }
        let base = dir.join(&r[0]);
        for seg in 0.. {
            let p = if seg == 0 {
                base.clone()
            } else {
                PathBuf::from(format!("{}.{seg}", base.display()))
            };
            match std::fs::read(&p) {
                Ok(b) => out.extend(b),
                Err(_) => break,
            }
        }
    }
    for e in std::fs::read_dir(dir.join("pg_wal")).ok()? {
        let p = e.ok()?.path();
        if p.is_file() {
            out.extend(std::fs::read(p).ok()?);
        }
    }
    Some(out)
}

fn run_scan(encrypted: bool) -> Option<(usize, usize)> {
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let f = if encrypted {
        encrypted_with(keys)
    } else {
        fresh()
    };
    let schema = f.inner.schema().to_owned();
    raw_files(&schema)?;
    let t = TenantId::from_u128(1);
    let tag = format!(
        "Pg{}{}{}",
        if encrypted { "Enc" } else { "Plain" },
        std::process::id(),
        Utc::now().timestamp_subsec_nanos()
    );
    let people = scan::people(&tag, "13910");
    let batch = scan::customers(&people, t, now());
    block_on(f.inner.import_customers(t, &batch)).unwrap();
    let svc = Service::new(f);
    for p in &people {
        svc.erase(t, p.id, "scan-test", "gdpr-art17").unwrap();
    }
    let raw = raw_files(&schema)?;
    // Phones: the digits of a random number can occur in binary data by chance; the names
    // and the emails cannot.
    let hits = scan::plaintext_hits(&raw, &tag, &people, false);
    let live = scan::plaintext_hits(&dump(&schema), &tag, &people, true);
    drop(svc);
    Some((hits, live))
}

#[test]
fn erasing_1000_encrypted_customers_leaves_no_plaintext_in_table_or_wal_files() {
    let Some((hits, live)) = run_scan(true) else {
        eprintln!("skipped: the server's data directory is not readable here");
        return;
    };
    assert_eq!(live, 0);
    assert_eq!(
        hits, 0,
        "plaintext of encrypted customers in the table or WAL files"
    );
}

#[test]
fn without_encryption_the_wal_keeps_what_erasure_removed_from_the_live_rows() {
    let Some((hits, live)) = run_scan(false) else {
        eprintln!("skipped: the server's data directory is not readable here");
        return;
    };
    assert_eq!(live, 0, "erased personal data in the live rows");
    // What docs/privacy.md warns about: the WAL (and, until VACUUM, the heap's dead tuples)
    // still hold the values written before the erasure.
    assert!(
        hits > 0,
        "the WAL scan found nothing: is it reading the right files?"
    );
}

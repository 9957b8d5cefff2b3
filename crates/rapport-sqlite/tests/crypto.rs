//! Crypto-shredding on SQLite: the conformance kit with field encryption on, the kit's
//! `crypto_shredding` contract over the raw database files, and the raw-file scan —
//! erase 1,000 customers, then search the database, WAL and shared-memory files for their
//! names, emails, phones and visits' free text (encryption on: none anywhere; off: none in the live database
//! after `secure_delete` and the checkpoint).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport::blocking::Service;
use rapport_core::ports::KeyStore;
use rapport_core::ports::{ActivityImport, ImportPolicy};
use rapport_core::*;
use rapport_keys::{FileKeyStore, MemoryKeyStore};
use rapport_sql::testing::scan::{self, Person};
use rapport_sqlite::{SqliteConfig, SqliteStore};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn fresh_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rapport-sqlite-crypto");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "{name}-{}-{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn fresh_encrypted() -> SqliteStore {
    SqliteStore::open(fresh_path("kit"), SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(Arc::new(MemoryKeyStore::new()))
}

mod encrypted {
    use super::fresh_encrypted;
    rapport_testkit::store_contracts!(fresh_encrypted; cases, accounts, privacy, actions, merges);
}

/// The database, WAL and shared-memory files as they are on disk.
fn raw_files(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", path.display())) {
            out.extend(bytes);
        }
    }
    out
}

#[test]
fn crypto_shredding_contract_over_the_raw_files() {
    let path = fresh_path("contract");
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let store = SqliteStore::open(&path, SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(keys.clone());
    let backup_keys = keys.clone();
    let backup_of = path.clone();
    rapport_testkit::check(
        || store,
        |s| async move {
            rapport_testkit::privacy::crypto_shredding(
                &s,
                &*keys,
                || raw_files(&path),
                move || {
                    // A backup: the three files copied as they are now.
                    let copy = fresh_path("backup");
                    for suffix in ["", "-wal", "-shm"] {
                        let from = format!("{}{suffix}", backup_of.display());
                        if Path::new(&from).exists() {
                            std::fs::copy(&from, format!("{}{suffix}", copy.display())).unwrap();
                        }
                    }
                    Box::new(move || {
                        // Opened on a thread of its own: the contract runs inside an executor.
                        std::thread::spawn(move || {
                            let old = SqliteStore::open(&copy, SqliteConfig::default(), now())
                                .map_err(|e| e.to_string())?
                                .with_keystore(backup_keys);
                            let r = block_on(
                                old.load(rapport_testkit::contracts::TA, CustomerId::from_u128(7)),
                            )
                            .map_err(|e| e.to_string())?
                            .ok_or("gone from the backup")?;
                            Ok(r.customer.profile)
                        })
                        .join()
                        .map_err(|_| "the backup reader panicked".to_owned())?
                    })
                },
            )
            .await
        },
    );
}

#[test]
fn sealed_consents_contract_over_the_raw_files() {
    let path = fresh_path("consents");
    let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let store = SqliteStore::open(&path, SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(keys.clone());
    rapport_testkit::check(
        || store,
        |s| async move {
            rapport_testkit::privacy::sealed_consents(&s, &*keys, || raw_files(&path)).await
        },
    );
}

/// A key deletion that fails after the erasure's commit is owed and retried by erasing again
/// (the kit's `owed_key_deletion`).
#[test]
fn a_failed_key_deletion_is_retried_by_erasing_again() {
    let keys = Arc::new(rapport_testkit::privacy::FlakyKeys::new(Arc::new(
        MemoryKeyStore::new(),
    )));
    let store = SqliteStore::open(fresh_path("owed-keys"), SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(keys.clone());
    rapport_testkit::check(
        || store,
        |s| async move { rapport_testkit::privacy::owed_key_deletion(&s, &keys).await },
    );
}

/// An owed key deletion survives a restart (the kit's
/// `owed_key_deletion_survives_a_restart`): on a file database with a `FileKeyStore`, the
/// store is dropped after the failed deletion and a new one opened on the same file with a
/// new `FileKeyStore` over the same directory; erasing again deletes the keys.
#[test]
fn an_owed_key_deletion_survives_a_restart() {
    let db = fresh_path("owed-restart");
    let key_dir = db.with_extension("keys");
    let _ = std::fs::remove_dir_all(&key_dir);
    let keys = Arc::new(rapport_testkit::privacy::FlakyKeys::new(Arc::new(
        FileKeyStore::open(&key_dir).unwrap(),
    )));
    let store = SqliteStore::open(&db, SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(keys.clone());
    rapport_testkit::check(
        || store,
        |s| async move {
            rapport_testkit::privacy::owed_key_deletion_survives_a_restart(
                s,
                &keys,
                |old| async move {
                    drop(old);
                    let keys = Arc::new(rapport_testkit::privacy::FlakyKeys::new(Arc::new(
                        FileKeyStore::open(&key_dir).map_err(|e| e.to_string())?,
                    )));
                    let store = SqliteStore::open(&db, SqliteConfig::default(), now())
                        .map_err(|e| e.to_string())?
                        .with_keystore(keys.clone());
                    Ok((store, keys))
                },
            )
            .await
        },
    );
}

const TAG: &str = "Scan";

fn populate(store: &SqliteStore, t: TenantId, people: &[Person]) {
    block_on(store.import_customers(t, &scan::customers(people, t, now()))).unwrap();
    let visits = scan::visits(people, now())
        .into_iter()
        .map(Into::into)
        .collect();
    block_on(store.import_activities(t, visits, &ImportPolicy::default())).unwrap();
}

/// How many of the people's names, emails (local parts), phones (national digits) and visit
/// notes occur in `bytes`.
fn plaintext_hits(bytes: &[u8], people: &[Person]) -> usize {
    scan::plaintext_hits(bytes, TAG, people)
}

fn erase_all(store: SqliteStore, t: TenantId, people: &[Person]) -> SqliteStore {
    let svc = Service::new(store);
    for p in people {
        svc.erase(t, p.id, "scan-test", "gdpr-art17").unwrap();
    }
    svc.into_inner().into_store()
}

#[test]
fn erasing_1000_encrypted_customers_leaves_no_plaintext_in_any_file() {
    let t = TenantId::from_u128(1);
    let path = fresh_path("scan-on");
    let keydir = tempfile::tempdir().unwrap();
    let keys = Arc::new(FileKeyStore::open(keydir.path()).unwrap());
    let store = SqliteStore::open(&path, SqliteConfig::default(), now())
        .unwrap()
        .with_keystore(keys.clone());
    let people = scan::people(TAG, "13855");
    populate(&store, t, &people);
    // Before the erasure already: the files hold ciphertext and blind indexes only.
    assert_eq!(plaintext_hits(&raw_files(&path), &people), 0);
    let store = erase_all(store, t, &people);
    assert_eq!(plaintext_hits(&raw_files(&path), &people), 0);
    for p in &people {
        assert_eq!(keys.data_key(t, p.id).unwrap(), None);
    }
    drop(store);
    assert_eq!(plaintext_hits(&raw_files(&path), &people), 0);
}

#[test]
fn erasing_1000_plain_customers_leaves_no_plaintext_in_the_live_database() {
    let t = TenantId::from_u128(1);
    let path = fresh_path("scan-off");
    let store = SqliteStore::open(&path, SqliteConfig::default(), now()).unwrap();
    let people = scan::people(TAG, "13855");
    populate(&store, t, &people);
    // Without encryption the plaintext is there before the erasure (the scan can see it) ...
    assert_eq!(plaintext_hits(&raw_files(&path), &people), 4_000);
    let store = erase_all(store, t, &people);
    // ... and gone after it: secure_delete zeroed the freed cells, the checkpoint after each
    // erasing commit truncated the WAL.
    let db = std::fs::read(&path).unwrap();
    assert_eq!(plaintext_hits(&db, &people), 0);
    assert_eq!(plaintext_hits(&raw_files(&path), &people), 0);
    drop(store);
}

/// A database written before schema 11 — blind indexes as 64 hexadecimal characters in the
/// contact columns — finds its customers by email and phone once the migration converted
/// them to the 16-byte form, and still refuses a new customer with a contact taken before.
#[test]
fn an_older_database_finds_its_customers_after_the_short_index_migration() {
    let t = TenantId::from_u128(1);
    let path = fresh_path("short-index");
    let keys = Arc::new(MemoryKeyStore::new());
    let open = || {
        SqliteStore::open(&path, SqliteConfig::default(), now())
            .unwrap()
            .with_keystore(keys.clone())
    };
    let people = &scan::people("Short", "13866")[..40];
    let store = open();
    block_on(store.import_customers(t, &scan::customers(people, t, now()))).unwrap();
    drop(store);

    // Turn the rows back into schema 10's: the full hexadecimal digests, version 11 unknown.
    let sealer = rapport_sql::seal::Sealer::new(keys.clone());
    let cn: Region = "CN".parse().unwrap();
    let email = |p: &Person| ContactKey::Email(Email::parse(&p.email).unwrap());
    let phone = |p: &Person| ContactKey::Phone(Phone::parse(&p.phone, cn).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for p in people {
            let (e, ph) = (
                sealer.lookup(t, &email(p)).unwrap(),
                sealer.lookup(t, &phone(p)).unwrap(),
            );
            assert_eq!(e.len(), 64);
            let n = conn
                .execute(
                    "UPDATE rapport_customers SET email = ?1, phone = ?2
                     WHERE tenant_id = ?3 AND customer_id = ?4",
                    rusqlite::params![e, ph, t.to_bytes(), p.id.to_bytes()],
                )
                .unwrap();
            assert_eq!(n, 1);
        }
        conn.execute(
            "DELETE FROM rapport_schema_migrations WHERE version >= 11",
            [],
        )
        .unwrap();
    }

    let store = open();
    for p in people {
        assert_eq!(
            block_on(store.find_by_contact(t, &email(p))).unwrap(),
            [p.id]
        );
        assert_eq!(
            block_on(store.find_by_contact(t, &phone(p))).unwrap(),
            [p.id]
        );
    }
    let forms: Vec<(String, i64)> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT typeof(email), length(email) FROM rapport_customers
                 UNION SELECT DISTINCT typeof(phone), length(phone) FROM rapport_customers",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(forms, [("blob".to_owned(), 16)]);
    // Uniqueness holds on the converted form: a new customer cannot take a converted email.
    let profile = Profile {
        email: Some(Pii::new(Email::parse(&people[3].email).unwrap())),
        ..Profile::default()
    };
    let newcomer = Customer::new(t, CustomerId::from_u128(999_999), profile, now());
    let mut cs = Changeset::new();
    cs.create(newcomer, Stats::default());
    match block_on(store.apply(t, &cs)) {
        Err(StoreError::ContactTaken {
            contact: ContactKind::Email,
            existing,
            ..
        }) => assert_eq!(existing, people[3].id),
        other => panic!("expected the email to be taken, got {other:?}"),
    }
}

/// Without encryption an erasure is done only once the WAL is truncated: while a reader holds
/// the WAL past the busy timeout, `erase` fails with a typed, retryable error (the erasure
/// itself is committed), and erasing again once the reader is gone runs the owed checkpoint
/// and succeeds with an empty WAL.
#[test]
fn an_erasure_whose_checkpoint_is_held_back_is_not_reported_done() {
    let t = TenantId::from_u128(1);
    let path = fresh_path("held-wal");
    let config = SqliteConfig {
        busy_timeout: std::time::Duration::from_millis(200),
        ..SqliteConfig::default()
    };
    let store = SqliteStore::open(&path, config, now()).unwrap();
    let people = &scan::people("Held", "13877")[..3];
    block_on(store.import_customers(t, &scan::customers(people, t, now()))).unwrap();
    let svc = Service::new(store);
    let wal = || std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());

    // A reader holding its snapshot of the WAL.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM rapport_customers", [], |r| r.get(0))
        .unwrap();
    match svc.erase(t, people[0].id, "test", "gdpr-art17") {
        Err(rapport::Error::Store(StoreError::Unavailable { reason })) => {
            assert!(reason.contains("erase again"), "{reason}");
        }
        other => panic!("expected the erasure to be reported undone, got {other:?}"),
    }
    assert!(wal() > 0, "the WAL is still there");
    // Erasing again while the reader holds on fails the same way.
    assert!(svc.erase(t, people[0].id, "test", "gdpr-art17").is_err());
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let record = svc.erase(t, people[0].id, "test", "gdpr-art17").unwrap();
    assert_eq!(record.customer, people[0].id);
    assert_eq!(wal(), 0, "the owed checkpoint truncated the WAL");
    // Later erasures are reported done as before.
    svc.erase(t, people[1].id, "test", "gdpr-art17").unwrap();
    assert_eq!(wal(), 0);
}

/// Without encryption, erasures from 8 concurrent callers (whose groups may share one
/// checkpoint) keep the promise one by one: when a caller's `erase` returns, that customer's
/// name, email and phone are in neither the database nor the WAL file.
#[test]
fn concurrent_plain_erasures_are_out_of_the_files_when_each_returns() {
    let t = TenantId::from_u128(1);
    let path = fresh_path("scan-concurrent");
    let store = SqliteStore::open(&path, SqliteConfig::default(), now()).unwrap();
    let people = scan::people(TAG, "13888");
    let people = &people[..64];
    populate(&store, t, people);
    assert_eq!(plaintext_hits(&raw_files(&path), people), 64 * 4);
    let svc = Service::new(store);
    std::thread::scope(|s| {
        for hand in people.chunks(8) {
            let (svc, path) = (&svc, &path);
            s.spawn(move || {
                for p in hand {
                    svc.erase(t, p.id, "scan-test", "gdpr-art17").unwrap();
                    let hits = plaintext_hits(&raw_files(path), std::slice::from_ref(p));
                    assert_eq!(hits, 0, "an erased customer's data left in the files");
                }
            });
        }
    });
    assert_eq!(plaintext_hits(&raw_files(&path), people), 0);
}

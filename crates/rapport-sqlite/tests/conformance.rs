//! rapport-sqlite passes the conformance kit, the differential test against rapport-memory,
//! and the reliability checks through the service.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use rapport_sqlite::{SqliteConfig, SqliteStore};

fn fresh() -> SqliteStore {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rapport-sqlite-kit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "kit-{}-{}.db",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    SqliteStore::open(path, SqliteConfig::default(), now).unwrap()
}

rapport_testkit::store_contracts!(fresh; concurrent, cases, accounts, privacy, actions, merges, line_items, activity_import, clv_models);

#[test]
fn no_lost_updates_through_the_service() {
    let r = rapport_testkit::reliability::no_lost_updates(fresh(), 8, 1_250).unwrap();
    assert_eq!((r.counter, r.version), (10_000, 10_001));
}

#[test]
fn outbox_delivers_2000_events_despite_failures_and_relay_deaths() {
    let (run, _) =
        rapport_testkit::reliability::outbox_survives_failures(fresh(), 2_000, 0.3, 3).unwrap();
    assert_eq!(run.delivered_unique, 2_000);
    assert_eq!(run.stuck, 0);
    assert!(run.deliveries > run.delivered_unique);
}

#[test]
fn every_storage_call_failing_once_leaves_nothing_half_applied() {
    let r = rapport_testkit::fault::every_call_fails_once(fresh).unwrap();
    assert_eq!(r.runs, 2 * r.calls);
    assert_eq!(r.typed_errors, r.runs);
}

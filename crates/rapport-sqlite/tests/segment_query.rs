//! The SQLite `query` (SQL prefilter + exact re-check) against rapport-memory's (the default:
//! scan + `Segment::matches`): the cases are rapport-sql's, shared with rapport-postgres
//! (`rapport_sql::testing`); one SQLite file and one memory store serve the whole run.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use rapport_memory::MemoryStore;
use rapport_sql::testing;
use rapport_sqlite::{SqliteConfig, SqliteStore};

/// One SQLite store and one memory store for the whole run; each case writes a fresh tenant.
fn stores() -> &'static (SqliteStore, MemoryStore) {
    static STORES: OnceLock<(SqliteStore, MemoryStore)> = OnceLock::new();
    STORES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rapport-sqlite-segq");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("segq-{}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let sqlite = SqliteStore::open(path, SqliteConfig::default(), now).unwrap();
        (sqlite, MemoryStore::new())
    })
}

/// Random trees over every field kind.
#[test]
fn sqlite_query_equals_memory_query() {
    let (sqlite, memory) = stores();
    testing::query_equals_reference(sqlite, memory, 384);
}

/// Each compiled comparison and its negation at the edges of integer rounding.
#[test]
fn compiled_leaves_at_the_edges() {
    let (sqlite, memory) = stores();
    testing::compiled_leaves_at_the_edges(sqlite, memory, 384);
}

/// The fixed cases: every compiled column at its edges, tags with and without expiries.
#[test]
fn fixed_segment_cases() {
    testing::segment_cases(&stores().0);
}

/// `bought(...)` and `category_spend(...)` over random line items with refunds: SQLite and
/// memory select the customers a direct evaluation of the line items selects.
#[test]
fn line_item_segments_equal_memory() {
    let (sqlite, memory) = stores();
    testing::line_item_segments_equal_reference(sqlite, memory, 192);
}

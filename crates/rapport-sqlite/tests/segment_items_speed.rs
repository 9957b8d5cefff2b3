//! How long a `query` with `bought(...)` / `category_spend(...)` takes on SQLite over a
//! population with line items (ignored: a measurement, run with `--ignored --nocapture`; the
//! body is `rapport_sql::testing::timing`, shared with PostgreSQL).
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{TimeZone, Utc};
use rapport_sql::testing::timing;
use rapport_sqlite::{SqliteConfig, SqliteStore};

#[test]
#[ignore = "measurement"]
fn line_item_segments_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let path = std::env::var("RAPPORT_SEG_DB")
        .map_or_else(|_| dir.path().join("s.db"), std::path::PathBuf::from);
    let store = SqliteStore::open(path, SqliteConfig::default(), now).unwrap();
    let figures = timing::line_item_segments(&store, timing::customers_from_env(), now);
    assert_eq!(figures.len(), timing::PREDICATES.len());
}

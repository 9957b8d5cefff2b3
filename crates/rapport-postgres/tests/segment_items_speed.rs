//! How long a `query` with `bought(...)` / `category_spend(...)` takes on PostgreSQL over a
//! population with line items (ignored: a measurement, run with `--ignored --nocapture`; the
//! body is `rapport_sql::testing::timing`, shared with SQLite).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use chrono::{TimeZone, Utc};
use rapport_sql::testing::timing;

#[test]
#[ignore = "measurement"]
fn line_item_segments_on_postgres() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let fresh = support::fresh();
    let store = &fresh.inner;
    let figures = timing::line_item_segments(store, timing::customers_from_env(), now);
    assert_eq!(figures.len(), timing::PREDICATES.len());
}

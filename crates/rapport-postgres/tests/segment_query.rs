//! The PostgreSQL `query` (SQL prefilter + exact re-check) against rapport-memory's (the
//! default: scan + `Segment::matches`): the cases are rapport-sql's, shared with
//! rapport-sqlite (`rapport_sql::testing`); each test runs on a fresh schema.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use rapport_memory::MemoryStore;
use rapport_sql::testing;

/// Random trees over every field kind.
#[test]
fn postgres_query_equals_memory_query() {
    let fresh = support::fresh();
    testing::query_equals_reference(&fresh.inner, &MemoryStore::new(), 256);
}

/// Each compiled comparison and its negation at the edges of integer rounding.
#[test]
fn compiled_leaves_at_the_edges() {
    let fresh = support::fresh();
    testing::compiled_leaves_at_the_edges(&fresh.inner, &MemoryStore::new(), 256);
}

/// The fixed cases: every compiled column at its edges, tags with and without expiries.
#[test]
fn fixed_segment_cases() {
    let fresh = support::fresh();
    testing::segment_cases(&fresh.inner);
}

/// `bought(...)` and `category_spend(...)` over random line items with refunds: PostgreSQL
/// and memory select the customers a direct evaluation of the line items selects.
#[test]
fn line_item_segments_equal_memory() {
    let fresh = support::fresh();
    testing::line_item_segments_equal_reference(&fresh.inner, &MemoryStore::new(), 128);
}

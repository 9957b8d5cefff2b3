//! The conformance kit, the differential test and the reliability checks again, on the
//! hash-partitioned layout (`PostgresConfig::partitioned(4)`: customers, activities and the
//! outbox partitioned by `tenant_id`): the layout changes where rows live, never an answer.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use rapport_postgres::Layout;
use support::fresh_partitioned;

rapport_testkit::store_contracts!(fresh_partitioned; concurrent, merges, clv_models);

#[test]
fn the_store_reports_its_partitioned_layout() {
    let f = fresh_partitioned();
    let store = &f.inner;
    assert_eq!(store.layout(), Layout::HashPartitioned { partitions: 4 });
}

#[test]
fn outbox_delivers_2000_events_despite_failures_and_relay_deaths() {
    let (run, _) =
        rapport_testkit::reliability::outbox_survives_failures(fresh_partitioned(), 2_000, 0.3, 3)
            .unwrap();
    assert_eq!(run.delivered_unique, 2_000);
    assert_eq!(run.stuck, 0);
    assert!(run.deliveries > run.delivered_unique);
}

#[test]
fn every_storage_call_failing_once_leaves_nothing_half_applied() {
    let r = rapport_testkit::fault::every_call_fails_once(fresh_partitioned).unwrap();
    assert_eq!(r.runs, 2 * r.calls);
    assert_eq!(r.typed_errors, r.runs);
}

/// The tables are partitioned by tenant in the catalog, and a tenant's point read touches
/// one partition only (the planner prunes the others).
#[test]
fn tenant_reads_are_pruned_to_one_partition() {
    let f = fresh_partitioned();
    let store = &f.inner;
    let parents: Vec<String> = support::raw_rows(&format!(
        "SELECT c.relname::text FROM pg_partitioned_table p
         JOIN pg_class c ON c.oid = p.partrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = '{}' AND p.partstrat = 'h' ORDER BY 1",
        store.schema()
    ))
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(parents, ["activities", "customers", "outbox"]);
    let plan: Vec<String> = support::raw_rows(&format!(
        "EXPLAIN (COSTS OFF) SELECT customer_json FROM \"{}\".customers
         WHERE tenant_id = '00000000-0000-0000-0000-000000000001'
           AND customer_id = '00000000-0000-0000-0000-000000000002'",
        store.schema()
    ))
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    let plan = plan.join("\n");
    let scanned = (0..4)
        .filter(|i| plan.contains(&format!(" on customers_p{i} ")))
        .count();
    assert_eq!(scanned, 1, "{plan}");
}

//! `rapport case …` end to end on SQLite: open, move, pause, breach, resolve with a CSAT,
//! list `--breached`, metrics, and a refused transition.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::{import_transactions, json as ok, rapport};

#[test]
fn a_case_is_opened_paused_breached_resolved_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import_transactions(
        d,
        "t.csv",
        "customer_id,date,amount\nc1,2026-03-01,10.00\nc2,2026-03-01,20.00\n",
        "2026-03-01",
    );

    // Urgent: first response within 1 h, resolution within 8 h.
    let opened = ok(
        d,
        &[
            "case",
            "open",
            "c1",
            "--category",
            "delivery",
            "--severity",
            "urgent",
            "--channel",
            "phone",
            "--at",
            "2026-03-02T09:00:00Z",
            "--json",
        ],
    );
    let id = opened[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        opened[0]["sla"]["first_response"]["due"],
        "2026-03-02T10:00:00+00:00"
    );
    assert_eq!(
        opened[0]["sla"]["resolution"]["due"],
        "2026-03-02T17:00:00+00:00"
    );

    let step = |status: &str, at: &str| {
        ok(
            d,
            &[
                "case", "update", &id, "--status", status, "--at", at, "--json",
            ],
        )
    };
    step("in_progress", "2026-03-02T09:30:00Z");
    // Two hours waiting on the customer move the resolution deadline two hours on.
    let waiting = step("waiting_on_customer", "2026-03-02T10:00:00Z");
    assert!(waiting[0]["sla"]["resolution"]["due"].is_null());
    let back = step("in_progress", "2026-03-02T12:00:00Z");
    assert_eq!(
        back[0]["sla"]["resolution"]["due"],
        "2026-03-02T19:00:00+00:00"
    );

    let list = |at: &str| ok(d, &["case", "list", "--breached", "--at", at, "--json"]);
    assert_eq!(list("2026-03-02T18:59:00Z").as_array().unwrap().len(), 0);
    let breached = list("2026-03-02T19:01:00Z");
    assert_eq!(breached.as_array().unwrap().len(), 1);
    assert_eq!(breached[0]["id"], id.as_str());

    let resolved = ok(
        d,
        &[
            "case",
            "update",
            &id,
            "--status",
            "resolved",
            "--csat",
            "4",
            "--at",
            "2026-03-02T21:00:00Z",
            "--json",
        ],
    );
    assert_eq!(resolved[0]["csat"], 4);
    assert_eq!(resolved[0]["status"], "resolved");
    // Resolved cases are not listed as open breaches any more.
    assert_eq!(list("2026-03-03T00:00:00Z").as_array().unwrap().len(), 0);

    let m = ok(
        d,
        &["case", "metrics", "--at", "2026-03-04T00:00:00Z", "--json"],
    );
    assert_eq!(m["cases"], 1);
    assert_eq!(m["median_first_response_minutes"], 30.0);
    assert_eq!(m["median_resolution_minutes"], 720.0);
    assert_eq!(m["breach_rate"], 1.0);
    assert_eq!(m["csat"][0]["category"], "delivery");
    assert_eq!(m["csat"][0]["csat"], 1.0);

    // The report has a case section once the book has cases.
    let r = ok(d, &["report", "--now", "2026-03-04", "--json"]);
    assert_eq!(r["cases"]["cases"], 1);
    assert_eq!(r["cases"]["reopen_rate"], 0.0);

    // A complaint opens its case (source: the complaint activity).
    let from = ok(
        d,
        &[
            "case",
            "open",
            "c2",
            "--complaint",
            "--category",
            "billing",
            "--severity",
            "high",
            "--at",
            "2026-03-03T08:00:00Z",
            "--json",
        ],
    );
    assert_eq!(from[0]["severity"], "high");
    assert_eq!(
        from[0]["sla"]["first_response"]["due"],
        "2026-03-03T12:00:00+00:00"
    );

    // A case never returns to open: refused with the machine's reason, nothing written.
    let refused = rapport(d, &["case", "update", &id, "--status", "open"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("a case never returns to open"));
    let again = ok(d, &["case", "list", "--json"]);
    assert_eq!(again[0]["version"], 5);
}

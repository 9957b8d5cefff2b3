//! `rapport account …` end to end on SQLite: a group with a subsidiary, contacts in roles
//! with one primary, the roll-up over the subsidiary, a refused cycle, an unlink kept as
//! history.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::{import_transactions, json, ok, rapport};

/// A fresh database with two customers, ann and bob, one purchase each.
fn ann_and_bob() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import_transactions(
        d,
        "t.csv",
        "customer_id,date,amount\nann,2026-03-01,10.00\nbob,2026-03-01,20.00\n",
        "2026-03-01",
    );
    dir
}

#[test]
fn accounts_group_contacts_in_roles_and_roll_up_their_subsidiaries() {
    let dir = ann_and_bob();
    let d = dir.path();
    let group = ok(d, &["account", "create", "Acme Group"])
        .trim()
        .to_owned();
    let sub = ok(
        d,
        &["account", "create", "Acme Shanghai", "--parent", &group],
    )
    .trim()
    .to_owned();
    ok(
        d,
        &[
            "account",
            "link",
            &sub,
            "ann",
            "--roles",
            "decision_maker,billing",
            "--primary",
        ],
    );
    ok(
        d,
        &[
            "account",
            "link",
            &sub,
            "bob",
            "--roles",
            "buyer",
            "--primary",
        ],
    );
    ok(d, &["account", "link", &group, "ann", "--roles", "other"]);

    let s = json(d, &["account", "show", &sub, "--json"]);
    let primaries: Vec<_> = s["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1, "one primary contact");
    assert_eq!(primaries[0]["roles"], serde_json::json!(["buyer"]));

    let g = json(d, &["account", "show", &group, "--json"]);
    assert_eq!(g["rollup"]["contacts"], 1);
    assert_eq!(g["rollup"]["group_contacts"], 2); // ann is counted once
    assert_eq!(g["rollup"]["group_by_role"]["buyer"], 1);
    assert_eq!(g["rollup"]["group_by_role"]["other"], 1);
    assert_eq!(
        g["rollup"]["subsidiaries"],
        serde_json::json!([sub.clone()])
    );

    // The group under its own subsidiary: a cycle, refused.
    let cycle = rapport(d, &["account", "parent", &group, "--parent", &sub]);
    assert!(!cycle.status.success());
    assert!(String::from_utf8_lossy(&cycle.stderr).contains("its own ancestor"));

    // Unlinking keeps the link, ended.
    ok(d, &["account", "unlink", &sub, "bob"]);
    let s = json(d, &["account", "show", &sub, "--json"]);
    assert_eq!(s["links"].as_array().unwrap().len(), 2);
    assert_eq!(s["rollup"]["contacts"], 1);
    assert!(
        s["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| !l["until"].is_null())
    );
}

#[test]
fn purchases_attributed_to_accounts_roll_up_and_feed_segments_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    import_transactions(
        d,
        "t.csv",
        "customer_id,date,amount\nann,2026-03-01,10.00\nbob,2026-03-02,20.00\nbob,2026-03-09,5.00\n",
        "2026-03-10",
    );
    let group = ok(d, &["account", "create", "Acme Group"])
        .trim()
        .to_owned();
    let sub = ok(
        d,
        &["account", "create", "Acme Shanghai", "--parent", &group],
    )
    .trim()
    .to_owned();
    ok(d, &["account", "link", &sub, "bob", "--roles", "buyer"]);
    ok(
        d,
        &["account", "attribute", &group, "ann", "tx:ann:20260301:1"],
    );
    ok(
        d,
        &["account", "attribute", &sub, "bob", "tx:bob:20260302:1"],
    );
    ok(
        d,
        &["account", "attribute", &sub, "bob", "tx:bob:20260309:1"],
    );
    // Attributing again, even elsewhere, keeps the first attribution.
    ok(
        d,
        &["account", "attribute", &group, "bob", "tx:bob:20260309:1"],
    );
    let unknown = rapport(d, &["account", "attribute", &sub, "bob", "tx:bob:nope"]);
    assert!(!unknown.status.success());

    let g = json(d, &["account", "show", &group, "--json"]);
    assert_eq!(g["stats"]["revenue"], "10.00 USD");
    assert_eq!(g["group_stats"]["revenue"], "35.00 USD");
    assert_eq!(g["group_stats"]["orders"], 3);
    let s = json(d, &["account", "show", &sub, "--json"]);
    assert_eq!(
        s["rollup"]["revenue_by_contact"].as_object().unwrap().len(),
        1
    );

    let swept = json(d, &["account", "sweep", "--json"]);
    assert_eq!(swept["accounts"], 2);
    assert_eq!(swept["contacts_by_role"]["buyer"], 1);
    let list = json(
        d,
        &[
            "account",
            "list",
            "--where",
            "account.revenue_365d > 30",
            "--json",
        ],
    );
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], group.as_str());
    let bad = rapport(d, &["account", "list", "--where", "revenue > 3"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("account.revenue"));

    let report = json(d, &["report", "--json"]);
    assert_eq!(report["accounts"]["accounts"], 2);
    assert_eq!(report["accounts"]["top"][0]["name"], "Acme Group");
    assert_eq!(report["accounts"]["top"][0]["revenue_365d"], "35.00");
    let text = ok(d, &["report"]);
    assert!(text.contains("Accounts: 2"));
}

#[test]
fn two_accounts_merge_and_unmerge_and_people_are_found_by_their_account_role() {
    let dir = ann_and_bob();
    let d = dir.path();
    let acme = ok(d, &["account", "create", "Acme"]).trim().to_owned();
    let dup = ok(d, &["account", "create", "ACME Inc"]).trim().to_owned();
    ok(
        d,
        &["account", "link", &dup, "ann", "--roles", "decision_maker"],
    );
    ok(d, &["account", "link", &acme, "bob", "--roles", "buyer"]);
    let found = |role: &str| {
        let seg = format!("has_account_role(\"{role}\")");
        let out = json(d, &["segment", &seg, "--json"]);
        let mut ids: Vec<String> = out["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["external_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(found("decision_maker"), ["ann"]);
    assert_eq!(found("buyer"), ["bob"]);

    let tomb = json(d, &["account", "merge", &dup, &acme]);
    assert_eq!(tomb["merged_into"], acme.as_str());
    let a = json(d, &["account", "show", &acme, "--json"]);
    assert_eq!(a["links"].as_array().unwrap().len(), 2);
    assert_eq!(found("decision_maker"), ["ann"]); // now through Acme

    let back = json(d, &["account", "unmerge", &dup]);
    assert!(back["merged_into"].is_null());
    let a = json(d, &["account", "show", &acme, "--json"]);
    assert_eq!(a["links"].as_array().unwrap().len(), 1);
}

//! `rapport import activities`: every kind from one file, idempotent re-runs, bad rows named by
//! line and column with nothing written, and the report's NPS and CSAT from the imported
//! answers.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::{json_ok as json, rapport};

const FILE: &str = "\
customer_id,date,kind,amount,order_id,score,scale,referred_customer_id,channel,severity,item
a,2026-01-05,purchase,120.00,A1,,,,store,,
a,2026-01-06,refund,120.00,A1,,,,store,,
a,2026-01-07,purchase,80.00,,,,,web,,
a,2026-01-08,visit,,,,,,app,,sku-9
b,2026-01-09,cart_abandoned,35.50,,,,,web,,
b,2026-01-10,complaint,,,,,,phone,high,
a,2026-01-11,feedback,,,3,nps,,email,,
a,2026-01-20,feedback,,,10,nps,,email,,
b,2026-01-12,feedback,,,9,0-10,,email,,
c,2026-01-12,feedback,,,2,nps,,email,,
a,2026-01-13,feedback,,,5,csat,,email,,
b,2026-01-13,feedback,,,4,1-5,,email,,
c,2026-01-14,feedback,,,2,csat,,email,,
a,2026-01-15,referral,,,,,c,,,
c,2026-01-16,contact,,,,,,phone,,
";

#[test]
fn every_kind_imports_once_and_feeds_nps_and_csat() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acts.csv"), FILE).unwrap();
    let args = [
        "import",
        "activities",
        "acts.csv",
        "--now",
        "2026-02-01",
        "--quiet",
    ];
    let first = json(&rapport(dir.path(), &args));
    assert_eq!(first["imported"]["rows"], 15);
    assert_eq!(first["imported"]["customers_new"], 3);
    assert_eq!(first["imported"]["activities_new"], 15);
    assert_eq!(first["skipped_rows"], 0);
    let again = json(&rapport(dir.path(), &args));
    assert_eq!(again["imported"]["activities_new"], 0);
    assert_eq!(again["imported"]["activities_skipped"], 15);
    assert_eq!(again["imported"]["customers_new"], 0);

    let report = json(&rapport(
        dir.path(),
        &[
            "report",
            "--now",
            "2026-02-01",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--json",
        ],
    ));
    assert_eq!(report["customers"], 3);
    // Latest NPS answers: a 10 (its 3 came earlier), b 9, c 2: (2 − 1) / 3 = 33.3 points.
    let nps = report["nps"].as_f64().unwrap();
    assert!((nps - 100.0 / 3.0).abs() < 1e-9, "{nps}");
    assert_eq!(report["counts"]["nps"]["promoters"], 2);
    assert_eq!(report["counts"]["nps"]["detractors"], 1);
    // CSAT answers 5, 4, 2: two of three satisfied.
    let csat = report["csat"].as_f64().unwrap();
    assert!((csat - 200.0 / 3.0).abs() < 1e-9, "{csat}");
    // a's first order was refunded in full: one purchase left (80.00).
    assert_eq!(report["revenue"]["USD"], "80.00");
    // The window excludes the answers: no score.
    let before = json(&rapport(
        dir.path(),
        &[
            "report",
            "--now",
            "2026-02-01",
            "--from",
            "2025-01-01",
            "--to",
            "2026-01-01",
            "--json",
        ],
    ));
    assert!(before["nps"].is_null() && before["csat"].is_null());
}

#[test]
fn a_bad_row_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "a,2026-01-05,purchase,10,,,,,,,\nb,2026-01-05,teleport,,,,,,,,\n",
            "line 3, column `kind`: unknown kind `teleport`",
        ),
        (
            "a,2026-01-05,feedback,,,11,nps,,,,\n",
            "line 2, column `score`",
        ),
        (
            "a,2026-01-05,feedback,,,4,stars,,,,\n",
            "line 2, column `scale`: unknown scale `stars`",
        ),
        (
            "a,2026-01-05,feedback,,,4,,,,,\n",
            "line 2, column `scale`: a feedback row needs a `scale` cell",
        ),
        (
            "a,2026-01-05,referral,,,,,,,,\n",
            "line 2, column `referred_customer_id`",
        ),
        ("a,2026-01-05,purchase,,,,,,,,\n", "line 2, column `amount`"),
        (
            "a,2026-01-05,refund,5,Z9,,,,,,\n",
            "line 2, column `order_id`",
        ),
        (
            "a,2026-01-05,visit,,,,,,pigeon,,\n",
            "line 2, column `channel`: unknown channel `pigeon`",
        ),
        (
            "a,2026-01-05,complaint,,,,,,,dire,\n",
            "line 2, column `severity`",
        ),
        ("a,2027-01-05,contact,,,,,,,,\n", "line 2, column `date`"),
    ];
    let header = FILE.lines().next().unwrap();
    for (rows, expected) in cases {
        std::fs::write(dir.path().join("bad.csv"), format!("{header}\n{rows}")).unwrap();
        let out = rapport(
            dir.path(),
            &[
                "import",
                "activities",
                "bad.csv",
                "--now",
                "2026-02-01",
                "--quiet",
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{rows}");
        assert!(err.contains(expected), "{rows}: {err}");
    }
    // Nothing was written by any of them.
    let report = json(&rapport(
        dir.path(),
        &["report", "--now", "2026-02-01", "--json"],
    ));
    assert_eq!(report["customers"], 0);
    // With --skip-bad the good row goes in and the bad one is listed.
    std::fs::write(
        dir.path().join("bad.csv"),
        format!("{header}\n{}", cases[0].0),
    )
    .unwrap();
    let out = rapport(
        dir.path(),
        &[
            "import",
            "activities",
            "bad.csv",
            "--now",
            "2026-02-01",
            "--quiet",
            "--skip-bad",
        ],
    );
    let v = json(&out);
    assert_eq!(v["skipped_rows"], 1);
    assert_eq!(v["imported"]["activities_new"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped line 3"));
}

//! `rapport report --from --to --json`: the period metrics under their fixed keys, equal to
//! `rapport_core::metrics` run on the same transactions read straight from the CSV, and the
//! cohort retention equal to a count written here from the definition.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use rapport_core::metrics::{self, Period};
use rapport_core::*;
use rust_decimal::Decimal;
use support::rapport;

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/cdnow_sample_transactions.csv")
}

/// customer → purchase days (and amounts in cents), from the CSV.
fn purchases() -> BTreeMap<String, Vec<(NaiveDate, i64)>> {
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut out: BTreeMap<String, Vec<(NaiveDate, i64)>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let day = NaiveDate::parse_from_str(f[2], "%Y%m%d").unwrap();
        let cents = (f[4].parse::<f64>().unwrap() * 100.0).round() as i64;
        out.entry(f[0].to_owned()).or_default().push((day, cents));
    }
    out
}

#[test]
fn period_metrics_equal_the_library_and_the_definition() {
    let dir = tempfile::tempdir().unwrap();
    let csv = sample();
    let import = rapport(
        dir.path(),
        &[
            "import",
            "transactions",
            csv.to_str().unwrap(),
            "--date-format",
            "%Y%m%d",
            "--now",
            "1998-06-30",
            "--quiet",
        ],
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let out = rapport(
        dir.path(),
        &[
            "report",
            "--now",
            "1998-06-30",
            "--from",
            "1997-07-01",
            "--to",
            "1998-01-01",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "churn_rate",
        "win_back_rate",
        "conversion_rate",
        "nps",
        "csat",
        "cohort_retention",
        "stage_flow",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(v["period"]["from"], "1997-07-01");
    assert_eq!(v["period"]["to"], "1998-01-01");

    // The same book, built here from the CSV, through the library.
    let book: Vec<(Customer, Stats)> = purchases()
        .iter()
        .enumerate()
        .map(|(i, (_, rows))| {
            let id = CustomerId::from_u128(i as u128 + 1);
            let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap());
            let acts: Vec<Activity> = rows
                .iter()
                .enumerate()
                .map(|(n, (d, cents))| {
                    Activity::new(
                        ActivityId::from_u128(n as u128),
                        id,
                        at(*d),
                        Channel::Web,
                        IdempotencyKey::new(format!("k{n}")).unwrap(),
                        ActivityKind::Purchase {
                            order_id: OrderId::new(format!("o{n}")).unwrap(),
                            amount: Money::new(Decimal::new(*cents, 2), Currency::USD),
                            margin: None,
                        },
                    )
                    .unwrap()
                })
                .collect();
            let first = rows.iter().map(|r| r.0).min().unwrap();
            let c = Customer::new(TenantId::from_u128(1), id, Profile::default(), at(first));
            (c, Stats::from_activities(&acts).unwrap())
        })
        .collect();
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let period = Period::new(d(1997, 7, 1), d(1998, 1, 1)).unwrap();
    let review = metrics::stage_review(
        book.iter().map(|(c, s)| (c, s)),
        &LifecyclePolicy::default(),
        period,
    );
    let counts = &v["counts"];
    assert_eq!(
        counts["churn_rate"]["numerator"],
        review.churn_rate.numerator
    );
    assert_eq!(
        counts["churn_rate"]["denominator"],
        review.churn_rate.denominator
    );
    assert_eq!(
        counts["win_back_rate"]["numerator"],
        review.win_back_rate.numerator
    );
    assert_eq!(
        counts["win_back_rate"]["denominator"],
        review.win_back_rate.denominator
    );
    assert!(review.churn_rate.denominator > 1000, "{review:?}");
    assert_eq!(v["churn_rate"].as_f64(), review.churn_rate.value());
    let flows: BTreeMap<String, u64> = v["stage_flow"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = review
        .flows
        .iter()
        .map(|f| (f.label(), f.customers))
        .collect();
    assert_eq!(flows, expected);
    assert_eq!(flows.values().sum::<u64>(), 2357);
    let tiers: BTreeMap<String, u64> = v["tier_flow"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = metrics::tier_movements(
        book.iter().map(|(c, s)| (c, s)),
        &TierPolicy::default(),
        period,
    )
    .unwrap()
    .iter()
    .map(|f| (f.label(), f.customers))
    .collect();
    assert_eq!(tiers, expected);
    assert!(tiers.len() > 2, "{tiers:?}");
    // CLV by tier: total = average × customers, the averages as before.
    assert!(!v["clv_by_tier"].as_object().unwrap().is_empty());
    for (tier, t) in v["clv_by_tier"].as_object().unwrap() {
        let (n, total, avg) = (
            t["customers"].as_f64().unwrap(),
            t["total"].as_f64().unwrap(),
            t["average"].as_f64().unwrap(),
        );
        assert!(n > 0.0 && (total - avg * n).abs() < 1e-6 * total.abs().max(1.0));
        assert_eq!(v["average_clv_by_tier"][tier].as_f64(), Some(avg));
    }
    // Customers are created by their first purchase: no prospects, no conversion rate; no
    // survey answers in CDNOW.
    assert!(v["conversion_rate"].is_null() && v["nps"].is_null() && v["csat"].is_null());

    // Cohort retention from the definition: month of the first purchase, share with a
    // purchase day k months later (purchase days up to the report's day).
    let month = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    let mut cohorts: BTreeMap<i64, Vec<BTreeSet<i64>>> = BTreeMap::new();
    for rows in purchases().values() {
        let months: BTreeSet<i64> = rows.iter().map(|r| month(r.0)).collect();
        cohorts
            .entry(*months.first().unwrap())
            .or_default()
            .push(months);
    }
    let got = v["cohort_retention"].as_object().unwrap();
    assert_eq!(got.len(), cohorts.len());
    let horizon = month(d(1998, 6, 30));
    for (first, members) in &cohorts {
        let label = format!("{}-{:02}", first / 12, first % 12 + 1);
        let shares = got[&label].as_array().unwrap();
        assert_eq!(shares.len() as i64, horizon - first);
        for (k, share) in (1..).zip(shares) {
            let n = members.iter().filter(|m| m.contains(&(first + k))).count();
            let expected = n as f64 / members.len() as f64;
            assert!(
                (share.as_f64().unwrap() - expected).abs() < 1e-12,
                "{label} +{k}"
            );
        }
    }

    // The text report shows the period and its flow table.
    let text = rapport(
        dir.path(),
        &[
            "report",
            "--now",
            "1998-06-30",
            "--from",
            "1997-07-01",
            "--to",
            "1998-01-01",
        ],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("period 1997-07-01 – 1997-12-31: churn rate"),
        "{text}"
    );
    assert!(text.contains("Stage flow over"), "{text}");

    // An empty or reversed period is refused.
    let bad = rapport(
        dir.path(),
        &[
            "report",
            "--from",
            "1998-01-01",
            "--to",
            "1998-01-01",
            "--json",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from 1998-01-01 --to 1998-01-01"));
}

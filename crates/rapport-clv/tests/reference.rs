//! rapport-clv against the `lifetimes` reference results in testdata/clv (see its README for
//! units and tolerances).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rapport_clv::*;

mod common;
use common::*;
use serde_json::Value;

fn bg(p: &Value) -> BgNbd {
    BgNbd::new(f(&p["r"]), f(&p["alpha"]), f(&p["a"]), f(&p["b"])).unwrap()
}

fn cohort() -> Vec<(f64, f64, f64)> {
    csv_rows("cdnow_customers_summary.csv")
        .iter()
        .map(|r| {
            (
                r["frequency"].parse().unwrap(),
                r["recency"].parse().unwrap(),
                r["T"].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn bgnbd_fit_on_the_2357_cohort_matches_lifetimes_and_the_paper() {
    let reference = json("cdnow_2357_reference.json");
    let fit = BgNbd::fit(&cohort()).unwrap();
    let want = &reference["bgnbd"]["params"];
    close(fit.model.r, f(&want["r"]), 1e-4, "r");
    close(fit.model.alpha, f(&want["alpha"]), 1e-4, "alpha");
    close(fit.model.a, f(&want["a"]), 1e-4, "a");
    close(fit.model.b, f(&want["b"]), 1e-4, "b");
    let ll = f(&reference["bgnbd"]["log_likelihood"]);
    assert!(
        fit.log_likelihood >= ll - 1e-3,
        "LL {} vs {ll}",
        fit.log_likelihood
    );
    assert_eq!(fit.customers, 2357);
    // The published values, to their precision.
    assert!((fit.model.r - 0.243).abs() < 5e-4 && (fit.model.alpha - 4.414).abs() < 5e-4);
    assert!((fit.model.a - 0.793).abs() < 5e-4 && (fit.model.b - 2.426).abs() < 5e-4);
    // The log-likelihood formula itself, at lifetimes' parameters.
    close(
        bg(want).log_likelihood(&cohort()),
        ll,
        1e-9,
        "LL at the reference parameters",
    );
}

#[test]
fn gamma_gamma_fit_matches_lifetimes() {
    let reference = json("cdnow_2357_reference.json");
    let rows: Vec<(f64, f64)> = csv_rows("cdnow_customers_summary_with_transactions.csv")
        .iter()
        .map(|r| (r["x"].parse().unwrap(), r["zbar"].parse().unwrap()))
        .collect();
    let fit = GammaGamma::fit(&rows).unwrap();
    let want = &reference["gamma_gamma"]["params"];
    close(fit.model.p, f(&want["p"]), 1e-4, "p");
    close(fit.model.q, f(&want["q"]), 1e-4, "q");
    close(fit.model.v, f(&want["v"]), 1e-4, "v");
    assert_eq!((fit.customers, fit.skipped), (946, 2357 - 946));
    assert!(fit.log_likelihood >= f(&reference["gamma_gamma"]["log_likelihood"]) - 1e-3);
}

#[test]
fn cohort_predictions_at_the_reference_parameters() {
    let reference = json("cdnow_2357_reference.json");
    let m = bg(&reference["bgnbd"]["params"]);
    let s = gg(&reference["gamma_gamma"]["params"]);
    for c in reference["customers_bgnbd"].as_array().unwrap() {
        let (x, tx, t, mv) = (
            f(&c["frequency"]),
            f(&c["recency"]),
            f(&c["T"]),
            f(&c["monetary_value"]),
        );
        let id = c["id"].as_str().unwrap();
        for h in [1, 10, 39, 52] {
            close(
                m.conditional_expected_purchases(f64::from(h), x, tx, t),
                f(&c[format!("expected_purchases_{h}")]),
                1e-6,
                &format!("customer {id} E[N({h})]"),
            );
        }
        close(
            m.p_alive(x, tx, t),
            f(&c["p_alive"]),
            1e-6,
            &format!("customer {id} P(alive)"),
        );
        close(
            s.conditional_expected_average_profit(x, mv),
            f(&c["expected_avg_profit"]),
            1e-6,
            "profit",
        );
        close(
            clv(
                &m,
                &s,
                &customer(x, tx, t, mv),
                &ClvParams::new(Period::Week),
            ),
            f(&c["clv_12m"]),
            1e-6,
            &format!("customer {id} CLV"),
        );
    }
    close(
        m.expected_purchases(78.0),
        f(&reference["population_expected_repeat_purchases_78w"]),
        1e-6,
        "E[X(78)]",
    );
}

#[test]
fn all_2357_predictions_and_checksums() {
    let reference = json("cdnow_2357_reference.json");
    let m = bg(&reference["bgnbd"]["params"]);
    let s = gg(&reference["gamma_gamma"]["params"]);
    let mut sums = BTreeMap::<String, f64>::new();
    for r in csv_rows("cdnow_2357_predictions.csv") {
        let g = |k: &str| r[k].parse::<f64>().unwrap();
        let (x, tx, t, mv) = (g("frequency"), g("recency"), g("T"), g("monetary_value"));
        for h in [1, 10, 39, 52] {
            let got = m.conditional_expected_purchases(f64::from(h), x, tx, t);
            close(
                got,
                g(&format!("bgnbd_expected_purchases_{h}")),
                1e-6,
                &format!("row {} E[N({h})]", r["ID"]),
            );
            *sums
                .entry(format!("sum_expected_purchases_{h}"))
                .or_default() += got;
        }
        let p = m.p_alive(x, tx, t);
        close(p, g("bgnbd_p_alive"), 1e-6, "P(alive)");
        *sums.entry("sum_p_alive".into()).or_default() += p;
        let v = clv(
            &m,
            &s,
            &customer(x, tx, t, mv),
            &ClvParams::new(Period::Week),
        );
        close(
            v,
            g("bgnbd_clv_12m").max(1e-300),
            1e-6,
            &format!("row {} CLV", r["ID"]),
        );
        *sums.entry("sum_clv_12m".into()).or_default() += v;
    }
    for (k, v) in sums {
        close(v, f(&reference["checksums_bgnbd"][&k]), 1e-9, &k);
    }
}

fn sample_summary(period: Period) -> BTreeMap<String, Summary> {
    let rows: Vec<(String, NaiveDate, f64)> = csv_rows("cdnow_sample_transactions.csv")
        .iter()
        .map(|r| {
            (
                r["customer_id"].clone(),
                NaiveDate::parse_from_str(&r["date"], "%Y%m%d").unwrap(),
                r["amount"].parse().unwrap(),
            )
        })
        .collect();
    summarize(rows, period, NaiveDate::from_ymd_opt(1998, 6, 30).unwrap())
}

#[test]
fn summaries_from_transactions_equal_lifetimes_daily_and_weekly() {
    for (period, file) in [
        (Period::Day, "cdnow_sample_rfm_daily.csv"),
        (Period::Week, "cdnow_sample_rfm_weekly.csv"),
    ] {
        let ours = sample_summary(period);
        let theirs = csv_rows(file);
        assert_eq!(ours.len(), theirs.len(), "{file}: customer count");
        for r in &theirs {
            let s = &ours[&r["customer_id"]];
            let g = |k: &str| r[k].parse::<f64>().unwrap();
            assert_eq!(
                (s.frequency, s.recency, s.t),
                (g("frequency"), g("recency"), g("T")),
                "{file} {}",
                r["customer_id"]
            );
            assert!(
                (s.monetary_value - g("monetary_value")).abs() < 0.005,
                "{file} {} monetary",
                r["customer_id"]
            );
        }
    }
}

#[test]
fn sample_daily_and_weekly_fits_and_predictions() {
    let reference = json("cdnow_sample_reference.json");
    for (key, period, horizons) in [
        ("weekly", Period::Week, [1, 10, 39, 52]),
        ("daily", Period::Day, [7, 30, 273, 365]),
    ] {
        let section = &reference[key];
        let rows: Vec<(f64, f64, f64)> = sample_summary(period)
            .values()
            .map(|s| (s.frequency, s.recency, s.t))
            .collect();
        let fit = BgNbd::fit(&rows).unwrap();
        for p in ["r", "alpha", "a", "b"] {
            let got = match p {
                "r" => fit.model.r,
                "alpha" => fit.model.alpha,
                "a" => fit.model.a,
                _ => fit.model.b,
            };
            close(
                got,
                f(&section["bgnbd"]["params"][p]),
                1e-4,
                &format!("{key} {p}"),
            );
        }
        let spend: Vec<(f64, f64)> = sample_summary(period)
            .values()
            .map(|s| (s.frequency, s.monetary_value))
            .collect();
        let gfit = GammaGamma::fit(&spend).unwrap();
        close(
            gfit.model.p,
            f(&section["gamma_gamma"]["params"]["p"]),
            1e-4,
            &format!("{key} p"),
        );
        let m = bg(&section["bgnbd"]["params"]);
        let s = gg(&section["gamma_gamma"]["params"]);
        for c in section["customers_bgnbd"].as_array().unwrap() {
            let (x, tx, t, mv) = (
                f(&c["frequency"]),
                f(&c["recency"]),
                f(&c["T"]),
                f(&c["monetary_value"]),
            );
            for h in horizons {
                close(
                    m.conditional_expected_purchases(f64::from(h), x, tx, t),
                    f(&c[format!("expected_purchases_{h}")]),
                    1e-6,
                    key,
                );
            }
            close(m.p_alive(x, tx, t), f(&c["p_alive"]), 1e-6, key);
            close(
                clv(&m, &s, &customer(x, tx, t, mv), &ClvParams::new(period)),
                f(&c["clv_12m"]),
                1e-6,
                &format!("{key} CLV"),
            );
        }
    }
}

//! Pareto/NBD, MBG/NBD and BG/BB against `lifetimes` 0.11.3: the shared reference files in
//! testdata/clv (Pareto/NBD) and `extra_reference.json`, made by `scripts/clv-reference.py`
//! with the same lifetimes version (MBG/NBD, BG/BB, Pareto/NBD CLV).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use rapport_clv::*;

mod common;
use common::*;
use serde_json::Value;

fn summary(name: &str, id: &str) -> Vec<(String, f64, f64, f64, f64)> {
    csv_rows(name)
        .iter()
        .map(|r| {
            let g = |k: &str| r.get(k).map_or(0.0, |v| v.parse().unwrap());
            (
                r[id].clone(),
                g("frequency"),
                g("recency"),
                g("T"),
                g("monetary_value"),
            )
        })
        .collect()
}

/// The cohort file names its columns x, t_x, T, zbar.
fn cohort_with_spend() -> Vec<(String, f64, f64, f64, f64)> {
    csv_rows("cdnow_customers_summary_with_transactions.csv")
        .iter()
        .map(|r| {
            let g = |k: &str| r[k].parse::<f64>().unwrap();
            (r["ID"].clone(), g("x"), g("t_x"), g("T"), g("zbar"))
        })
        .collect()
}

fn rft(rows: &[(String, f64, f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    rows.iter().map(|r| (r.1, r.2, r.3)).collect()
}

fn pareto(p: &Value) -> ParetoNbd {
    ParetoNbd::new(f(&p["r"]), f(&p["alpha"]), f(&p["s"]), f(&p["beta"])).unwrap()
}

fn mbg(p: &Value) -> MbgNbd {
    MbgNbd::new(f(&p["r"]), f(&p["alpha"]), f(&p["a"]), f(&p["b"])).unwrap()
}

fn check_pareto_fit(fit: &Fit<ParetoNbd>, want: &Value, what: &str) {
    let p = &want["params"];
    close(fit.model.r, f(&p["r"]), 1e-2, &format!("{what} r"));
    close(
        fit.model.alpha,
        f(&p["alpha"]),
        1e-2,
        &format!("{what} alpha"),
    );
    close(fit.model.s, f(&p["s"]), 1e-2, &format!("{what} s"));
    close(fit.model.beta, f(&p["beta"]), 1e-2, &format!("{what} beta"));
    let ll = f(&want["log_likelihood"]);
    assert!(
        fit.log_likelihood >= ll - 1e-3,
        "{what}: LL {} vs lifetimes' {ll}",
        fit.log_likelihood
    );
}

#[test]
fn pareto_nbd_fit_on_the_2357_cohort_matches_lifetimes_and_the_paper() {
    let reference = json("cdnow_2357_reference.json");
    let rows = rft(&summary("cdnow_customers_summary.csv", "ID"));
    let fit = ParetoNbd::fit(&rows).unwrap();
    check_pareto_fit(&fit, &reference["pareto_nbd"], "cohort");
    // The mle_check optimum (the exact maximum) is closer still.
    let exact = &reference["pareto_nbd"]["mle_check"]["params"];
    close(
        fit.model.s,
        f(&exact["s"]),
        1e-3,
        "s against the exact optimum",
    );
    // The paper: r = 0.55, α = 10.58, s = 0.61, β = 11.67, LL −9595.0.
    let paper = &reference["paper_pareto_nbd"];
    for (got, k) in [
        (fit.model.r, "r"),
        (fit.model.alpha, "alpha"),
        (fit.model.s, "s"),
        (fit.model.beta, "beta"),
    ] {
        assert!((got - f(&paper[k])).abs() < 0.01, "paper {k}: {got}");
    }
    close(
        pareto(&reference["pareto_nbd"]["params"]).log_likelihood(&rows),
        f(&reference["pareto_nbd"]["log_likelihood"]),
        1e-9,
        "LL at the reference parameters",
    );
}

#[test]
fn pareto_nbd_sample_daily_and_weekly_fits() {
    let reference = json("cdnow_sample_reference.json");
    for (key, file) in [
        ("weekly", "cdnow_sample_rfm_weekly.csv"),
        ("daily", "cdnow_sample_rfm_daily.csv"),
    ] {
        let rows = rft(&summary(file, "customer_id"));
        let fit = ParetoNbd::fit(&rows).unwrap();
        check_pareto_fit(&fit, &reference[key]["pareto_nbd"], key);
    }
}

#[test]
fn pareto_nbd_predictions_at_the_reference_parameters() {
    let reference = json("cdnow_2357_reference.json");
    let extra = json("extra_reference.json");
    let m = pareto(&reference["pareto_nbd"]["params"]);
    let s = gg(&reference["gamma_gamma"]["params"]);
    let cohort: BTreeMap<String, (String, f64, f64, f64, f64)> = cohort_with_spend()
        .into_iter()
        .map(|r| (r.0.clone(), r))
        .collect();
    for c in reference["customers_pareto_nbd"].as_array().unwrap() {
        let (x, tx, t) = (f(&c["frequency"]), f(&c["recency"]), f(&c["T"]));
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
        // CLV with Pareto/NBD as the count model (lifetimes' customer_lifetime_value).
        let zbar = cohort[id].4;
        let x_spend = cohort[id].1;
        close(
            clv(
                &m,
                &s,
                &customer(x_spend, tx, t, zbar),
                &ClvParams::new(Period::Week),
            ),
            f(&extra["cohort_pareto_nbd_clv_12m"][id]),
            1e-6,
            &format!("customer {id} CLV"),
        );
    }
    // Every customer, and the checksums.
    let mut sums = BTreeMap::<String, f64>::new();
    for r in csv_rows("cdnow_2357_predictions.csv") {
        let g = |k: &str| r[k].parse::<f64>().unwrap();
        let (x, tx, t) = (g("frequency"), g("recency"), g("T"));
        for h in [1, 10, 39, 52] {
            let got = m.conditional_expected_purchases(f64::from(h), x, tx, t);
            close(
                got,
                g(&format!("pareto_nbd_expected_purchases_{h}")),
                1e-6,
                "E[N]",
            );
            *sums
                .entry(format!("sum_expected_purchases_{h}"))
                .or_default() += got;
        }
        let p = m.p_alive(x, tx, t);
        close(
            p,
            g("pareto_nbd_p_alive"),
            1e-6,
            &format!("row {} P(alive)", r["ID"]),
        );
        *sums.entry("sum_p_alive".into()).or_default() += p;
    }
    for (k, v) in sums {
        close(v, f(&reference["checksums_pareto_nbd"][&k]), 1e-9, &k);
    }
    // The sample's customers, daily and weekly.
    let sample = json("cdnow_sample_reference.json");
    for (key, horizons) in [("weekly", [1, 10, 39, 52]), ("daily", [7, 30, 273, 365])] {
        let m = pareto(&sample[key]["pareto_nbd"]["params"]);
        for c in sample[key]["customers_pareto_nbd"].as_array().unwrap() {
            let (x, tx, t) = (f(&c["frequency"]), f(&c["recency"]), f(&c["T"]));
            for h in horizons {
                close(
                    m.conditional_expected_purchases(f64::from(h), x, tx, t),
                    f(&c[format!("expected_purchases_{h}")]),
                    1e-6,
                    key,
                );
            }
            close(m.p_alive(x, tx, t), f(&c["p_alive"]), 1e-6, key);
        }
    }
}

#[test]
fn mbgnbd_fits_and_predictions_match_lifetimes() {
    let extra = json("extra_reference.json");
    let sample = json("cdnow_sample_reference.json");
    let reference = json("cdnow_2357_reference.json");
    for (key, file, id, period, horizons, spend) in [
        (
            "cohort_mbgnbd",
            "cdnow_customers_summary_with_transactions.csv",
            "ID",
            Period::Week,
            [1, 10, 39, 52],
            &reference["gamma_gamma"]["params"],
        ),
        (
            "sample_weekly_mbgnbd",
            "cdnow_sample_rfm_weekly.csv",
            "customer_id",
            Period::Week,
            [1, 10, 39, 52],
            &sample["weekly"]["gamma_gamma"]["params"],
        ),
        (
            "sample_daily_mbgnbd",
            "cdnow_sample_rfm_daily.csv",
            "customer_id",
            Period::Day,
            [7, 30, 273, 365],
            &sample["daily"]["gamma_gamma"]["params"],
        ),
    ] {
        let want = &extra[key];
        let rows = if key == "cohort_mbgnbd" {
            cohort_with_spend()
        } else {
            summary(file, id)
        };
        let data = rft(&rows);
        let fit = MbgNbd::fit(&data).unwrap();
        let p = &want["params"];
        close(fit.model.r, f(&p["r"]), 1e-4, &format!("{key} r"));
        close(
            fit.model.alpha,
            f(&p["alpha"]),
            1e-4,
            &format!("{key} alpha"),
        );
        close(fit.model.a, f(&p["a"]), 1e-4, &format!("{key} a"));
        close(fit.model.b, f(&p["b"]), 1e-4, &format!("{key} b"));
        let ll = f(&want["log_likelihood"]);
        assert!(
            fit.log_likelihood >= ll - 1e-3,
            "{key}: LL {}",
            fit.log_likelihood
        );
        let m = mbg(p);
        close(
            m.log_likelihood(&data),
            ll,
            1e-9,
            &format!("{key} LL at lifetimes' parameters"),
        );
        let s = gg(spend);
        for c in want["customers_mbgnbd"].as_array().unwrap() {
            let (x, tx, t) = (f(&c["frequency"]), f(&c["recency"]), f(&c["T"]));
            for h in horizons {
                close(
                    m.conditional_expected_purchases(f64::from(h), x, tx, t),
                    f(&c[format!("expected_purchases_{h}")]),
                    1e-6,
                    &format!("{key} {} E[N({h})]", c["id"]),
                );
            }
            close(
                m.p_alive(x, tx, t),
                f(&c["p_alive"]),
                1e-6,
                &format!("{key} P(alive)"),
            );
            close(
                clv(
                    &m,
                    &s,
                    &customer(x, tx, t, f(&c["monetary_value"])),
                    &ClvParams::new(period),
                ),
                f(&c["clv_12m"]),
                1e-6,
                &format!("{key} {} CLV", c["id"]),
            );
        }
        for h in horizons {
            close(
                m.expected_purchases(f64::from(h)),
                f(&want["expected_purchases_new_customer"][h.to_string()]),
                1e-6,
                &format!("{key} E[X({h})]"),
            );
        }
        let last = horizons[3];
        let (mut pa, mut en) = (0.0, 0.0);
        for (x, tx, t) in &data {
            pa += m.p_alive(*x, *tx, *t);
            en += m.conditional_expected_purchases(f64::from(last), *x, *tx, *t);
        }
        close(pa, f(&want["sum_p_alive"]), 1e-9, "sum P(alive)");
        close(
            en,
            f(&want[format!("sum_expected_purchases_{last}")]),
            1e-9,
            "sum E[N]",
        );
    }
}

fn donations() -> Vec<(Opportunities, f64)> {
    csv_rows("donations.csv")
        .iter()
        .map(|r| {
            let g = |k: &str| r[k].parse::<u32>().unwrap();
            (
                Opportunities::new(g("frequency"), g("recency"), g("periods")).unwrap(),
                f64::from(g("weights")),
            )
        })
        .collect()
}

#[test]
fn bgbb_fit_on_the_donations_matches_lifetimes_and_the_paper() {
    let extra = json("extra_reference.json");
    let want = &extra["donations_bgbb"];
    let rows = donations();
    let fit = BgBb::fit(&rows).unwrap();
    let p = &want["params"];
    close(fit.model.alpha, f(&p["alpha"]), 1e-4, "alpha");
    close(fit.model.beta, f(&p["beta"]), 1e-4, "beta");
    close(fit.model.gamma, f(&p["gamma"]), 1e-4, "gamma");
    close(fit.model.delta, f(&p["delta"]), 1e-4, "delta");
    assert_eq!(fit.customers, 11_104);
    let ll = f(&want["log_likelihood"]);
    assert!(
        fit.log_likelihood >= ll - 1e-3,
        "LL {} vs {ll}",
        fit.log_likelihood
    );
    // Fader, Hardie & Shang (2010): α 1.204, β 0.750, γ 0.657, δ 2.783, LL −33,225.6.
    let paper = &want["paper"];
    for (got, k) in [
        (fit.model.alpha, "alpha"),
        (fit.model.beta, "beta"),
        (fit.model.gamma, "gamma"),
        (fit.model.delta, "delta"),
    ] {
        assert!((got - f(&paper[k])).abs() < 5e-4, "paper {k}: {got}");
    }
    assert!((fit.log_likelihood - f(&paper["log_likelihood"])).abs() < 0.05);
}

#[test]
fn bgbb_predictions_at_the_reference_parameters() {
    let extra = json("extra_reference.json");
    let want = &extra["donations_bgbb"];
    let p = &want["params"];
    let m = BgBb::new(
        f(&p["alpha"]),
        f(&p["beta"]),
        f(&p["gamma"]),
        f(&p["delta"]),
    )
    .unwrap();
    close(
        m.log_likelihood(&donations()),
        f(&want["log_likelihood"]),
        1e-9,
        "LL",
    );
    for r in want["rows"].as_array().unwrap() {
        let u = |k: &str| u32::try_from(r[k].as_u64().unwrap()).unwrap();
        let h = Opportunities::new(u("frequency"), u("recency"), u("periods")).unwrap();
        for m_future in [1, 5, 10] {
            close(
                m.conditional_expected_purchases(m_future, &h),
                f(&r[format!("expected_purchases_{m_future}")]),
                1e-6,
                &format!("{h:?} E[X({m_future})]"),
            );
        }
        close(m.p_alive(0, &h), f(&r["p_alive_0"]), 1e-6, "P(alive) now");
        close(m.p_alive(5, &h), f(&r["p_alive_5"]), 1e-6, "P(alive) in 5");
    }
    let total = 11_104.0;
    for (x, v) in want["expected_transactions_in_first_6"]
        .as_object()
        .unwrap()
    {
        let x: u32 = x.parse().unwrap();
        close(
            total * m.probability_of_purchases(x, 6),
            f(v),
            1e-6,
            &format!("P(X(6) = {x})"),
        );
    }
}

#[test]
fn impossible_bgbb_histories_are_typed_errors() {
    assert!(matches!(
        Opportunities::new(3, 2, 6),
        Err(ClvError::InvalidRow {
            field: "frequency",
            ..
        })
    ));
    assert!(matches!(
        Opportunities::new(1, 7, 6),
        Err(ClvError::InvalidRow {
            field: "recency",
            ..
        })
    ));
    assert!(matches!(
        Opportunities::new(0, 2, 6),
        Err(ClvError::InvalidRow {
            field: "recency",
            ..
        })
    ));
    let h = Opportunities::new(1, 1, 6).unwrap();
    assert!(matches!(
        BgBb::fit(&[(h, -1.0)]),
        Err(ClvError::InvalidRow {
            row: 0,
            field: "weights",
            ..
        })
    ));
    assert!(matches!(
        BgBb::fit(&[(h, 0.0)]),
        Err(ClvError::Empty { skipped: 1 })
    ));
}

#[test]
fn weighted_fits_equal_fits_on_the_repeated_rows() {
    let rows = rft(&summary("cdnow_customers_summary.csv", "ID"));
    let mut counts: BTreeMap<(u64, u64, u64), f64> = BTreeMap::new();
    for (x, tx, t) in &rows {
        *counts
            .entry((x.to_bits(), tx.to_bits(), t.to_bits()))
            .or_default() += 1.0;
    }
    let (distinct, weights): (Vec<(f64, f64, f64)>, Vec<f64>) = counts
        .iter()
        .map(|((x, tx, t), w)| {
            (
                (f64::from_bits(*x), f64::from_bits(*tx), f64::from_bits(*t)),
                *w,
            )
        })
        .unzip();
    assert!(distinct.len() < rows.len());
    let a = BgNbd::fit(&rows).unwrap();
    let b = BgNbd::fit_weighted(&distinct, &weights).unwrap();
    assert_eq!(b.customers, 2357);
    close(b.model.r, a.model.r, 1e-9, "r");
    close(b.model.b, a.model.b, 1e-9, "b");
    close(b.log_likelihood, a.log_likelihood, 1e-9, "LL");
    assert!(matches!(
        MbgNbd::fit_weighted(&distinct, &weights[1..]),
        Err(ClvError::InvalidRow {
            field: "weights",
            ..
        })
    ));
}

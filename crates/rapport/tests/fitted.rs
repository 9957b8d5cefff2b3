//! Fitted CLV models in decisions: churn risk = 1 − P(alive) with the model named, `clv_12m`
//! in segments, a tier ladder by predicted value, and `fit_clv` equal to fitting the same
//! summaries with `rapport-clv` directly.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::*;
use rapport::{FitClvOptions, ManualClock, NewActivity, Service};
use rapport_clv::{BgNbd, ClvParams, GammaGamma, Period, Summary};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

const T: TenantId = TenantId::from_u128(7);

fn usd(n: i64) -> Money {
    Money::new(Decimal::from(n), Currency::USD)
}

/// lifetimes' CDNOW fits (weeks) rescaled to days: alpha × 7.
fn model(at: DateTime<Utc>) -> FittedClv {
    FittedClv {
        model: ClvModel::BgNbd {
            r: 0.2426,
            alpha: 4.4135 * 7.0,
            a: 0.7929,
            b: 2.4258,
        },
        spend: Some(SpendModel {
            p: 6.2488,
            q: 3.7446,
            v: 15.4477,
        }),
        period: ClvPeriod::Day,
        monthly_discount: 0.01,
        fitted_at: at,
    }
}

type Svc = Service<MemoryStore>;

/// Customer `i` buys on the given days (from t0) for the given amounts.
fn book(svc: &Svc, clock: &ManualClock, buys: &[&[(i64, i64)]]) -> Vec<CustomerId> {
    let mut ids = Vec::new();
    for (i, days) in buys.iter().enumerate() {
        clock.set(t0());
        let id = block_on(svc.register(T, Profile::default()))
            .unwrap()
            .customer
            .id();
        for (k, (day, amount)) in days.iter().enumerate() {
            let at = t0() + Duration::days(*day);
            clock.set(at);
            let a = NewActivity::purchase(id, format!("o{i}-{k}"), usd(*amount), at).unwrap();
            block_on(svc.record(T, a)).unwrap();
        }
        ids.push(id);
    }
    ids
}

fn bg() -> BgNbd {
    BgNbd::new(0.2426, 4.4135 * 7.0, 0.7929, 2.4258).unwrap()
}

fn expected_clv(s: Summary) -> f64 {
    let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
    rapport_clv::clv(&bg(), &gg, &s, &ClvParams::new(Period::Day))
}

#[test]
fn churn_risk_is_one_minus_p_alive_with_the_model_named() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let ids = book(&svc, &clock, &[&[(0, 40), (10, 60), (30, 80)]]);
    clock.set(t0() + Duration::days(60));
    // Before a model: the rule score.
    let before = block_on(svc.evaluate(T, ids[0])).unwrap();
    assert_eq!(before.churn_risk.reason.rule, "churn.rules");
    block_on(svc.save_clv_model(T, model(t0()))).unwrap();
    let e = block_on(svc.evaluate(T, ids[0])).unwrap();
    // Purchase days 0, 10, 30 seen on day 60: frequency 2, recency 30, T 60.
    let p = bg().p_alive(2.0, 30.0, 60.0);
    assert!((0.0..1.0).contains(&p));
    assert!((e.churn_risk.score - (1.0 - p)).abs() < 1e-12, "{e:?}");
    assert_eq!(e.churn_risk.reason.rule, "churn.model");
    let shown = e.churn_risk.reason.to_string();
    assert!(shown.contains("bg_nbd"), "{shown}");
    // Longer silence: lower P(alive), higher risk.
    clock.set(t0() + Duration::days(400));
    let later = block_on(svc.evaluate(T, ids[0])).unwrap();
    assert!(later.churn_risk.score > e.churn_risk.score);
    assert!((later.churn_risk.score - (1.0 - bg().p_alive(2.0, 30.0, 400.0))).abs() < 1e-12);
}

#[test]
fn the_policy_can_keep_the_rule_score() {
    let clock = ManualClock::at(t0());
    let mut policies = Policies::default();
    policies.churn.use_fitted_model = false;
    let svc = Service::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_policies(policies)
        .unwrap();
    let ids = book(&svc, &clock, &[&[(0, 40), (10, 60)]]);
    block_on(svc.save_clv_model(T, model(t0()))).unwrap();
    let e = block_on(svc.evaluate(T, ids[0])).unwrap();
    assert_eq!(e.churn_risk.reason.rule, "churn.rules");
}

#[test]
fn clv_12m_in_segments_and_in_a_tier_ladder() {
    let clock = ManualClock::at(t0());
    let ladder = TierLadder {
        metric: TierMetric::Clv,
        ..TierLadder::customer_pyramid()
    };
    let policies = Policies {
        tier: TierPolicy {
            ladder,
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    let svc = Service::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_policies(policies)
        .unwrap();
    let buys: [&[(i64, i64)]; 4] = [
        &[(0, 50)],                                  // one purchase: no repeat spend
        &[(0, 100), (5, 300), (9, 500), (12, 400)],  // frequent, big
        &[(0, 20), (50, 30)],                        // slow, small
        &[(0, 900), (2, 800), (4, 1_200), (6, 950)], // frequent, very big
    ];
    let ids = book(&svc, &clock, &buys);
    let now = t0() + Duration::days(20);
    clock.set(now);
    let segment = Segment::parse("clv_12m > 500").unwrap();
    // No model: no CLV, so nobody (and `not` holds for everyone).
    assert!(block_on(svc.find(T, &segment)).unwrap().is_empty());
    let not = Segment::parse("not clv_12m > 500").unwrap();
    assert_eq!(block_on(svc.find(T, &not)).unwrap().len(), 4);

    block_on(svc.save_clv_model(T, model(t0()))).unwrap();
    let summaries = [
        Summary {
            frequency: 0.0,
            recency: 0.0,
            t: 20.0,
            monetary_value: 0.0,
        },
        Summary {
            frequency: 3.0,
            recency: 12.0,
            t: 20.0,
            monetary_value: 400.0,
        },
        // Day 50 is after now (day 20): not seen.
        Summary {
            frequency: 0.0,
            recency: 0.0,
            t: 20.0,
            monetary_value: 0.0,
        },
        Summary {
            frequency: 3.0,
            recency: 6.0,
            t: 20.0,
            monetary_value: (800.0 + 1_200.0 + 950.0) / 3.0,
        },
    ];
    let values: Vec<f64> = summaries.iter().map(|s| expected_clv(*s)).collect();
    assert!(values[3] > values[1] && values[1] > 500.0, "{values:?}");
    let want: Vec<CustomerId> = ids
        .iter()
        .zip(&values)
        .filter(|(_, v)| **v > 500.0)
        .map(|(id, _)| *id)
        .collect();
    let got: Vec<CustomerId> = block_on(svc.find(T, &segment))
        .unwrap()
        .iter()
        .map(|r| r.customer.id())
        .collect();
    assert_eq!(got, want);
    // Pages of one still read on past the customers the CLV filters out.
    let mut page = Page::first(1);
    let mut paged = Vec::new();
    loop {
        let rows = block_on(svc.find_page(T, &segment, page)).unwrap();
        let Some(last) = rows.last() else { break };
        page.after = Some(last.customer.id());
        paged.extend(rows.iter().map(|r| r.customer.id()));
    }
    assert_eq!(paged, want);
    let rest = block_on(svc.find(T, &not)).unwrap();
    assert_eq!(rest.len(), 4 - want.len());
    // Mixed with a pushed-down predicate.
    let mixed = Segment::parse("clv_12m > 500 and purchase_days >= 4").unwrap();
    assert_eq!(block_on(svc.find(T, &mixed)).unwrap().len(), want.len());

    // The CLV ladder: tier by predicted value (customer pyramid: iron from 200, gold from
    // 2,000, platinum from 10,000).
    let mut tiers = Vec::new();
    for (id, v) in ids.iter().zip(&values) {
        let e = block_on(svc.evaluate(T, *id)).unwrap();
        tiers.push(e.tier.to);
        let expected = if *v >= 10_000.0 {
            Tier::Platinum
        } else if *v >= 2_000.0 {
            Tier::Gold
        } else if *v >= 200.0 {
            Tier::Iron
        } else {
            Tier::Lead
        };
        assert_eq!(e.tier.to, expected, "clv {v}: {}", e.tier.reason);
        assert!(
            e.tier.reason.to_string().contains("clv"),
            "{}",
            e.tier.reason
        );
    }
    // The two one-time buyers are valued at the population's mean spend (CLV ≈ 34): Lead.
    assert_eq!(
        tiers,
        [Tier::Lead, Tier::Gold, Tier::Lead, Tier::Gold],
        "{values:?}"
    );
}

#[test]
fn fit_clv_fits_the_books_summaries_and_the_latest_fit_wins() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let mut buys: Vec<Vec<(i64, i64)>> = Vec::new();
    for i in 0..60i64 {
        let n = i % 6;
        buys.push(
            (0..n)
                .map(|k| (i % 5 + k * (3 + i % 9), 10 + (i * 7 + k * 13) % 90))
                .collect(),
        );
    }
    let refs: Vec<&[(i64, i64)]> = buys.iter().map(Vec::as_slice).collect();
    let _ = book(&svc, &clock, &refs);
    let now = t0() + Duration::days(90);
    clock.set(now);
    let fit = block_on(svc.fit_clv(T, FitClvOptions::default())).unwrap();
    // The same summaries fitted directly.
    let rows: Vec<(f64, f64, f64)> = buys
        .iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let mut days: Vec<i64> = b.iter().map(|(d, _)| *d).collect();
            days.sort_unstable();
            days.dedup();
            let (first, last) = (days[0], days[days.len() - 1]);
            (
                (days.len() - 1) as f64,
                (last - first) as f64,
                (90 - first) as f64,
            )
        })
        .collect();
    let direct = BgNbd::fit(&rows).unwrap();
    assert_eq!(fit.customers, rows.len());
    let ClvModel::BgNbd { r, alpha, a, b } = fit.model.model else {
        panic!("{:?}", fit.model)
    };
    for (got, want) in [
        (r, direct.model.r),
        (alpha, direct.model.alpha),
        (a, direct.model.a),
        (b, direct.model.b),
    ] {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
    assert!(fit.model.spend.is_some());
    assert_eq!(fit.model.fitted_at, now);
    assert_eq!(block_on(svc.clv_model(T)).unwrap(), Some(fit.model));
    // An older model does not replace it; a newer one does.
    block_on(svc.save_clv_model(T, model(t0()))).unwrap();
    assert_eq!(block_on(svc.clv_model(T)).unwrap(), Some(fit.model));
    block_on(svc.save_clv_model(T, model(now + Duration::days(1)))).unwrap();
    assert_eq!(
        block_on(svc.clv_model(T)).unwrap(),
        Some(model(now + Duration::days(1)))
    );
    // Another tenant has none.
    assert_eq!(
        block_on(svc.clv_model(TenantId::from_u128(8))).unwrap(),
        None
    );
    // A bad model is refused.
    let mut bad = model(now);
    bad.monthly_discount = -0.5;
    assert!(block_on(svc.save_clv_model(T, bad)).is_err());
}

#[test]
fn pareto_and_mbg_models_name_themselves_in_the_churn_reason() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let ids = book(&svc, &clock, &[&[(0, 40), (10, 60), (30, 80)]]);
    let now = t0() + Duration::days(60);
    clock.set(now);
    // lifetimes' CDNOW fits in weeks, rescaled to days (alpha, beta × 7).
    let pareto = rapport_clv::ParetoNbd::new(0.5534, 10.5802 * 7.0, 0.6061, 11.6562 * 7.0).unwrap();
    let mbg = rapport_clv::MbgNbd::new(0.5250, 6.1832 * 7.0, 0.8914, 1.6141).unwrap();
    let cases = [
        (
            ClvModel::ParetoNbd {
                r: pareto.r,
                alpha: pareto.alpha,
                s: pareto.s,
                beta: pareto.beta,
            },
            rapport_clv::CountModel::p_alive(&pareto, 2.0, 30.0, 60.0),
        ),
        (
            ClvModel::MbgNbd {
                r: mbg.r,
                alpha: mbg.alpha,
                a: mbg.a,
                b: mbg.b,
            },
            rapport_clv::CountModel::p_alive(&mbg, 2.0, 30.0, 60.0),
        ),
    ];
    for (i, (m, p)) in cases.into_iter().enumerate() {
        let fitted = FittedClv {
            model: m,
            fitted_at: t0() + Duration::days(i as i64 + 1),
            ..model(t0())
        };
        block_on(svc.save_clv_model(T, fitted)).unwrap();
        let e = block_on(svc.evaluate(T, ids[0])).unwrap();
        assert!(
            (e.churn_risk.score - (1.0 - p)).abs() < 1e-12,
            "{m:?}: {e:?}"
        );
        assert!(
            e.churn_risk.reason.to_string().contains(m.name()),
            "{}",
            e.churn_risk.reason
        );
    }
}

/// The service reads a tenant's model once and keeps it: a model saved through the service is
/// used from the next evaluation on, one written to the store behind its back only after
/// `forget_clv_models`, and tenants do not see each other's.
#[test]
fn the_model_is_read_once_and_a_newly_saved_one_is_used() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let ids = book(&svc, &clock, &[&[(0, 40), (10, 60), (30, 80)]]);
    clock.set(t0() + Duration::days(60));
    let p_bg = bg().p_alive(2.0, 30.0, 60.0);
    let risk = |svc: &Svc| block_on(svc.evaluate(T, ids[0])).unwrap().churn_risk;
    // No model yet (and that is cached too): the rule score.
    assert_eq!(risk(&svc).reason.rule, "churn.rules");
    block_on(svc.save_clv_model(T, model(t0()))).unwrap();
    assert!((risk(&svc).score - (1.0 - p_bg)).abs() < 1e-12);
    // Saved through the service: used at once.
    let mbg = rapport_clv::MbgNbd::new(0.5250, 6.1832 * 7.0, 0.8914, 1.6141).unwrap();
    let mbg_model = FittedClv {
        model: ClvModel::MbgNbd {
            r: mbg.r,
            alpha: mbg.alpha,
            a: mbg.a,
            b: mbg.b,
        },
        fitted_at: t0() + Duration::days(1),
        ..model(t0())
    };
    block_on(svc.save_clv_model(T, mbg_model)).unwrap();
    let p_mbg = rapport_clv::CountModel::p_alive(&mbg, 2.0, 30.0, 60.0);
    let e = risk(&svc);
    assert!((e.score - (1.0 - p_mbg)).abs() < 1e-12, "{e:?}");
    assert!(e.reason.to_string().contains("mbg_nbd"), "{}", e.reason);
    // Written to the store directly: the service keeps the model it read ...
    let newer_bg = FittedClv {
        fitted_at: t0() + Duration::days(2), // the store keeps the latest fit
        ..model(t0())
    };
    block_on(svc.store().save_clv_model(T, &newer_bg)).unwrap();
    assert!((risk(&svc).score - (1.0 - p_mbg)).abs() < 1e-12);
    // ... until told to forget.
    svc.forget_clv_models();
    assert!((risk(&svc).score - (1.0 - p_bg)).abs() < 1e-12);
    // Another tenant has no model.
    let other = TenantId::from_u128(8);
    clock.set(t0());
    let id = block_on(svc.register(other, Profile::default()))
        .unwrap()
        .customer
        .id();
    let e = block_on(svc.evaluate(other, id)).unwrap();
    assert_eq!(e.churn_risk.reason.rule, "churn.rules");
}

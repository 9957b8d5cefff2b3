//! Churn risk: the rule score's range, its monotonicity in recency against the customer's own
//! rhythm, the fitted-model replacement and the alert on an upward crossing.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn at(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap() + Duration::days(d)
}

fn activity(i: usize, day: i64, kind: ActivityKind) -> Activity {
    Activity::new(
        ActivityId::from_u128(i as u128),
        CustomerId::from_u128(1),
        at(day),
        Channel::Web,
        IdempotencyKey::new(format!("k{i}")).unwrap(),
        kind,
    )
    .unwrap()
}

fn purchase(i: usize) -> ActivityKind {
    ActivityKind::Purchase {
        order_id: OrderId::new(format!("o{i}")).unwrap(),
        amount: Money::new(Decimal::from(50), Currency::EUR),
        margin: None,
    }
}

fn stats(days: &[i64]) -> Stats {
    let acts: Vec<Activity> = days
        .iter()
        .enumerate()
        .map(|(i, d)| activity(i, *d, purchase(i)))
        .collect();
    Stats::from_activities(&acts).unwrap()
}

fn risk(s: &Stats, now: i64) -> f64 {
    ChurnPolicy::default()
        .assess(s, &LifecyclePolicy::default(), at(now), None)
        .score
}

#[test]
fn a_fresh_customer_has_no_risk_and_a_long_gone_one_is_at_the_alert() {
    let s = stats(&[0, 10, 20, 30]);
    assert_eq!(risk(&s, 30), 0.0);
    // Quiet past silent_after (30 d) with the purchases in the window before: 0.5 + 0.2.
    let quiet = risk(&s, 130);
    assert!((quiet - 0.7).abs() < 1e-12, "{quiet}");
    // Two years later both windows are empty: still at the alert, not safer.
    let gone = risk(&s, 760);
    assert!((gone - 0.7).abs() < 1e-12, "{gone}");
    let r = ChurnPolicy::default().assess(&s, &LifecyclePolicy::default(), at(760), None);
    assert_eq!(r.reason.rule, "churn.rules");
    assert_eq!(
        r.reason
            .factors
            .iter()
            .map(|m| &*m.name)
            .collect::<Vec<_>>(),
        ["recency", "trend", "complaints", "nps"]
    );
}

#[test]
fn a_prospect_has_no_risk() {
    assert_eq!(risk(&Stats::default(), 100), 0.0);
}

#[test]
fn a_fitted_model_replaces_the_rules_and_is_clamped() {
    let p = ChurnPolicy::default();
    let lp = LifecyclePolicy::default();
    let s = stats(&[0]);
    for (p_alive, want) in [(0.25, 0.75), (1.5, 0.0), (-0.5, 1.0)] {
        let r = p.assess(&s, &lp, at(400), Some(p_alive));
        assert!((r.score - want).abs() < 1e-12, "{p_alive}: {}", r.score);
        assert_eq!(r.reason.rule, "churn.model");
    }
    // A non-finite P(alive) is ignored: the rules decide.
    assert_eq!(
        p.assess(&s, &lp, at(400), Some(f64::NAN)).reason.rule,
        "churn.rules"
    );
}

#[test]
fn complaints_count_only_inside_the_window() {
    let mut s = stats(&[0, 10, 20, 30]);
    s.apply(&activity(
        90,
        29,
        ActivityKind::Complaint {
            severity: Severity::High,
        },
    ))
    .unwrap();
    let with = risk(&s, 30);
    assert!((with - 0.1).abs() < 1e-12, "one complaint of two: {with}");
    // 120 days later it has left the 90-day window.
    let base = risk(&stats(&[0, 10, 20, 30]), 150);
    assert!((risk(&s, 150) - base).abs() < 1e-12);
}

#[test]
fn bad_policies_are_rejected() {
    for bad in [
        ChurnPolicy {
            window_days: 0,
            ..ChurnPolicy::default()
        },
        ChurnPolicy {
            alert_threshold: 1.5,
            ..ChurnPolicy::default()
        },
        ChurnPolicy {
            recency_weight: 0.0,
            trend_weight: 0.0,
            complaint_weight: 0.0,
            nps_weight: 0.0,
            ..ChurnPolicy::default()
        },
        ChurnPolicy {
            trend_weight: -1.0,
            ..ChurnPolicy::default()
        },
    ] {
        assert!(matches!(
            bad.validate(),
            Err(DomainError::InvalidPolicy { .. })
        ));
    }
    assert!(ChurnPolicy::default().validate().is_ok());
}

#[test]
fn the_alert_event_fires_once_on_the_way_up_and_is_remembered() {
    let mut c = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(1),
        Profile::default(),
        at(0),
    );
    let s = stats(&[0, 10, 20, 30]);
    let p = Policies::default();
    let raised = |e: &Evaluation| e.events.iter().any(|e| e.name() == "churn_risk_raised");
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(40))).unwrap();
    assert!(!e.churn_alert && !raised(&e));
    e.apply_to(&mut c);
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(130))).unwrap();
    assert!(e.churn_alert && raised(&e));
    e.apply_to(&mut c);
    assert!(c.churn_alert);
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(200))).unwrap();
    assert!(
        e.churn_alert && !raised(&e),
        "already above: no second event"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_risk_is_in_the_unit_interval(
        days in prop::collection::vec(0i64..400, 0..10),
        complaints in prop::collection::vec(0i64..400, 0..4),
        nps in prop::option::of(0u8..=10),
        now in 0i64..800,
    ) {
        let mut s = stats(&days);
        for (i, d) in complaints.iter().enumerate() {
            s.apply(&activity(100 + i, *d, ActivityKind::Complaint { severity: Severity::Low })).unwrap();
        }
        if let Some(n) = nps {
            s.apply(&activity(200, 0, ActivityKind::Feedback { feedback: Feedback::Nps(Nps::new(n).unwrap()) })).unwrap();
        }
        let r = risk(&s, now);
        prop_assert!((0.0..=1.0).contains(&r), "{}", r);
    }

    #[test]
    fn prop_risk_is_monotone_in_recency_against_the_rhythm(
        days in prop::collection::vec(0i64..300, 1..10),
        later in 0i64..400,
    ) {
        // Same history and windows' contents, only the recency factor moves: compare the
        // recency part directly, and the whole score once both windows are past.
        let s = stats(&days);
        let last = *days.iter().max().unwrap();
        let p = ChurnPolicy::default();
        let lp = LifecyclePolicy::default();
        let part = |now: i64| {
            let r = p.assess(&s, &lp, at(now), None);
            match r.reason.factors[0].value { Value::Float(x) => x, _ => unreachable!() }
        };
        prop_assert!(part(last + later) <= part(last + later + 1));
        let beyond = last + 180;
        prop_assert!(risk(&s, beyond + later) >= risk(&s, beyond) - 1e-12);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_trend_compares_the_two_windows(
        days in prop::collection::vec(0i64..500, 0..12),
        now in 0i64..600,
        window in 1u32..120,
    ) {
        let s = stats(&days);
        let p = ChurnPolicy { window_days: window, ..ChurnPolicy::default() };
        let r = p.assess(&s, &LifecyclePolicy::default(), at(now), None);
        let trend = match r.reason.factors[1].value { Value::Float(x) => x, _ => unreachable!() };
        // Naive: ages in whole days of the distinct purchase days up to now.
        let mut seen: Vec<i64> = days.iter().copied().filter(|d| *d <= now).collect();
        seen.sort_unstable();
        seen.dedup();
        let w = i64::from(window);
        let count = |lo: i64, hi: i64| seen.iter().filter(|d| (lo..hi).contains(&(now - **d))).count() as f64;
        let (last, before) = (count(0, w), count(w, 2 * w));
        let want = if before > 0.0 {
            (1.0 - last / before).clamp(0.0, 1.0)
        } else if last == 0.0 && !seen.is_empty() {
            1.0
        } else {
            0.0
        };
        prop_assert_eq!(trend, want);
    }
}

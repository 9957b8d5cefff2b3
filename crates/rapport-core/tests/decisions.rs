//! Table and property tests of the decision rules: every row of the lifecycle transition
//! table, every cell of the RFM grid, the quintile formula, tier hysteresis and grace, churn
//! risk, and `evaluate`.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap()
}

fn at(d: i64) -> DateTime<Utc> {
    day0() + Duration::days(d)
}

fn stats(purchase_days: &[i64]) -> Stats {
    let acts: Vec<Activity> = purchase_days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Activity::new(
                ActivityId::from_u128(i as u128),
                CustomerId::from_u128(1),
                at(*d),
                Channel::Store,
                IdempotencyKey::new(format!("k{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{i}")).unwrap(),
                    amount: Money::new(Decimal::from(100), Currency::USD),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    Stats::from_activities(&acts).unwrap()
}

fn stage(purchases: &[i64], now: i64) -> Stage {
    stage_at(
        &stats(purchases),
        &Lifecycle::default(),
        &LifecyclePolicy::default(),
        at(now),
        None,
    )
    .to
}

// ---- lifecycle: one test per row of DOMAIN.md's transition table ----

#[test]
fn row_prospect_purchase_to_new() {
    assert_eq!(stage(&[], 10), Stage::Prospect);
    assert_eq!(stage(&[10], 10), Stage::New);
}

#[test]
fn row_new_purchase_to_active() {
    assert_eq!(stage(&[0, 20], 20), Stage::Active);
}

#[test]
fn row_new_no_repeat_within_new_window_to_silent() {
    assert_eq!(stage(&[0], 90), Stage::New);
    assert_eq!(stage(&[0], 91), Stage::Silent);
}

#[test]
fn row_active_past_silent_after_to_silent() {
    // Fewer than 3 purchase days: silent_after is a fixed 60 days.
    assert_eq!(stage(&[0, 10], 70), Stage::Active);
    assert_eq!(stage(&[0, 10], 71), Stage::Silent);
    // Adaptive: gaps 10, 10 → median 10 → max(30, 3 × 10) = 30 days.
    assert_eq!(stage(&[0, 10, 20], 50), Stage::Active);
    assert_eq!(stage(&[0, 10, 20], 51), Stage::Silent);
    // Gaps 40, 40, 40 → 120 days.
    assert_eq!(stage(&[0, 40, 80, 120], 240), Stage::Active);
    assert_eq!(stage(&[0, 40, 80, 120], 241), Stage::Silent);
}

#[test]
fn row_silent_purchase_to_active() {
    assert_eq!(stage(&[0, 10, 100], 100), Stage::Active);
}

#[test]
fn row_silent_past_churn_after_to_churned() {
    // churn_after = max(180, 2 × 60) = 180 from the last purchase day.
    assert_eq!(stage(&[0, 10], 190), Stage::Silent);
    assert_eq!(stage(&[0, 10], 191), Stage::Churned);
    // Gaps 100, 100 → silent_after 300 → churn_after 600.
    assert_eq!(stage(&[0, 100, 200], 800), Stage::Silent);
    assert_eq!(stage(&[0, 100, 200], 801), Stage::Churned);
    // One purchase day: New → Silent → Churned.
    assert_eq!(stage(&[0], 180), Stage::Silent);
    assert_eq!(stage(&[0], 181), Stage::Churned);
}

#[test]
fn row_churned_purchase_to_active_counts_a_win_back() {
    let s = stats(&[0, 10, 400]);
    let d = stage_at(
        &s,
        &Lifecycle::default(),
        &LifecyclePolicy::default(),
        at(400),
        None,
    );
    assert_eq!(d.to, Stage::Active);
    assert_eq!(d.win_backs, 1);
    let s = stats(&[0, 300, 700]);
    let d = stage_at(
        &s,
        &Lifecycle::default(),
        &LifecyclePolicy::default(),
        at(700),
        None,
    );
    assert_eq!(d.win_backs, 2);
}

#[test]
fn row_any_live_merge_to_merged_and_erasure_to_erased() {
    for live in Stage::LIVE {
        let l = Lifecycle {
            stage: live,
            ..Lifecycle::default()
        };
        let merged = l.merge_into(CustomerId::from_u128(2), at(0)).unwrap();
        assert_eq!(
            merged.stage,
            Stage::Merged {
                into: CustomerId::from_u128(2)
            }
        );
        assert_eq!(l.erase(at(0)).unwrap().stage, Stage::Erased);
    }
}

#[test]
fn row_any_live_cancel_to_churned_until_a_purchase() {
    let l = Lifecycle {
        stage: Stage::Active,
        ..Lifecycle::default()
    }
    .cancel(at(20))
    .unwrap();
    let s = stats(&[0, 10]);
    let p = LifecyclePolicy::default();
    assert_eq!(stage_at(&s, &l, &p, at(20), None).to, Stage::Churned);
    let s = stats(&[0, 10, 30]);
    let d = stage_at(&s, &l, &p, at(30), None);
    assert_eq!((d.to, d.win_backs), (Stage::Active, 1));
}

#[test]
fn row_manual_override_holds_until_expiry() {
    let p = LifecyclePolicy::default();
    let l = Lifecycle::default()
        .override_stage(
            Stage::Active,
            Actor::new("li").unwrap(),
            "key account",
            at(30),
            at(0),
        )
        .unwrap();
    let s = stats(&[]);
    let d = stage_at(&s, &l, &p, at(29), None);
    assert_eq!(d.to, Stage::Active);
    assert!(d.reason.note.as_deref().unwrap().contains("key account"));
    assert_eq!(stage_at(&s, &l, &p, at(30), None).to, Stage::Prospect);
}

#[test]
fn nothing_leaves_a_tombstone() {
    let merged = Lifecycle::default()
        .merge_into(CustomerId::from_u128(2), at(0))
        .unwrap();
    for r in [
        merged.cancel(at(1)),
        merged.erase(at(1)),
        merged.merge_into(CustomerId::from_u128(3), at(1)),
        merged.override_stage(Stage::Active, Actor::new("x").unwrap(), "r", at(9), at(1)),
    ] {
        let e = r.unwrap_err();
        assert!(
            matches!(e, DomainError::IllegalTransition { from: "merged", .. }),
            "{e}"
        );
    }
    let d = stage_at(
        &stats(&[0, 1]),
        &merged,
        &LifecyclePolicy::default(),
        at(5),
        None,
    );
    assert_eq!(d.to, merged.stage);
}

#[test]
fn illegal_overrides_are_typed_errors() {
    let l = Lifecycle::default();
    let a = Actor::new("x").unwrap();
    assert_eq!(
        l.override_stage(Stage::Active, a.clone(), "  ", at(9), at(1))
            .unwrap_err()
            .to_string(),
        "illegal stage transition from prospect to active: an override needs a reason"
    );
    assert!(
        l.override_stage(Stage::Active, a, "r", at(1), at(1))
            .is_err()
    );
}

#[test]
fn a_full_refund_moves_the_stage_back() {
    let mut s = stats(&[0, 10]);
    let refund = Activity::new(
        ActivityId::from_u128(9),
        CustomerId::from_u128(1),
        at(12),
        Channel::Store,
        IdempotencyKey::new("r").unwrap(),
        ActivityKind::Refund {
            order_id: OrderId::new("o1").unwrap(),
            amount: Money::new(Decimal::from(100), Currency::USD),
            margin: None,
            purchased_at: at(10),
            full: true,
        },
    )
    .unwrap();
    s.apply(&refund).unwrap();
    let d = stage_at(
        &s,
        &Lifecycle::default(),
        &LifecyclePolicy::default(),
        at(12),
        None,
    );
    assert_eq!(d.to, Stage::New);
}

#[test]
fn a_fitted_model_marks_churned_below_p_alive_threshold() {
    let s = stats(&[0, 10]);
    let p = LifecyclePolicy::default();
    assert_eq!(
        stage_at(&s, &Lifecycle::default(), &p, at(20), Some(0.05)).to,
        Stage::Churned
    );
    assert_eq!(
        stage_at(&s, &Lifecycle::default(), &p, at(20), Some(0.5)).to,
        Stage::Active
    );
}

#[test]
fn median_gap_of_an_even_count_is_the_mean_of_the_middle_two() {
    let d = |n: i64| NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + Duration::days(n);
    assert_eq!(median_gap(&[d(0), d(10), d(30)]), Some(15.0));
    assert_eq!(median_gap(&[d(0), d(10), d(30), d(31)]), Some(10.0));
    assert_eq!(median_gap(&[d(0)]), None);
}

proptest! {
    #[test]
    fn prop_stage_is_prospect_only_without_purchases(days in prop::collection::vec(0i64..900, 0..12), now in 0i64..1200) {
        let s = stage(&days, now);
        let bought = days.iter().any(|d| *d <= now);
        prop_assert_eq!(s == Stage::Prospect, !bought);
    }

    #[test]
    fn prop_replay_order_does_not_matter(mut days in prop::collection::vec(0i64..900, 0..12), now in 0i64..1200) {
        let a = stage(&days, now);
        days.reverse();
        prop_assert_eq!(a, stage(&days, now));
    }

    #[test]
    fn prop_time_alone_never_creates_a_purchase_stage(days in prop::collection::vec(0i64..400, 1..8), wait in 1i64..900) {
        // Without a purchase in between, advancing time never moves to New or Active from
        // Silent or Churned.
        let last = *days.iter().max().unwrap();
        let before = stage(&days, last);
        let after = stage(&days, last + wait);
        if matches!(before, Stage::Silent | Stage::Churned) {
            prop_assert!(matches!(after, Stage::Silent | Stage::Churned));
        }
        prop_assert!(!(after == Stage::Active && before != Stage::Active));
        prop_assert!(!(after == Stage::New && before != Stage::New));
    }
}

// ---- RFM ----

#[test]
fn every_cell_of_the_rf_grid() {
    use RfmSegment::*;
    let grid: [[RfmSegment; 5]; 5] = [
        // R = 5, F = 1..5
        [
            NewCustomers,
            PotentialLoyalists,
            PotentialLoyalists,
            Champions,
            Champions,
        ],
        [
            Promising,
            PotentialLoyalists,
            PotentialLoyalists,
            LoyalCustomers,
            LoyalCustomers,
        ],
        [
            AboutToSleep,
            AboutToSleep,
            NeedAttention,
            LoyalCustomers,
            LoyalCustomers,
        ],
        [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
        [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
    ];
    for (ri, row) in grid.iter().enumerate() {
        for (fi, expected) in row.iter().enumerate() {
            let s = RfmScores::new(5 - ri as u8, fi as u8 + 1, 3).unwrap();
            assert_eq!(RfmSegment::of(s), *expected, "R{} F{}", s.r, s.f);
        }
    }
    let names: Vec<&str> = RfmSegment::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "Champions",
            "Loyal Customers",
            "Potential Loyalists",
            "New Customers",
            "Promising",
            "Need Attention",
            "About to Sleep",
            "At Risk",
            "Can't Lose Them",
            "Hibernating"
        ]
    );
}

fn values(v: &[(i64, u32, i64)]) -> Vec<Option<RfmValues>> {
    v.iter()
        .map(|(d, f, m)| {
            Some(RfmValues {
                last_purchase: at(*d).date_naive(),
                frequency: *f,
                monetary: Decimal::from(*m),
            })
        })
        .collect()
}

#[test]
fn quintiles_follow_the_formula_and_ties_share_a_score() {
    // Ten customers, distinct values: 2 per quintile.
    let v: Vec<(i64, u32, i64)> = (0..10).map(|i| (i, i as u32 + 1, i * 10)).collect();
    let s = rfm_scores(&values(&v), &RfmPolicy::Quintiles, at(20));
    let r: Vec<u8> = s.iter().map(|x| x.unwrap().r).collect();
    assert_eq!(r, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    // All tied: nobody is strictly worse, everyone scores 1.
    let s = rfm_scores(&values(&[(5, 2, 7); 4]), &RfmPolicy::Quintiles, at(20));
    assert!(s.iter().all(|x| *x == RfmScores::new(1, 1, 1)));
    // Non-buyers are not scored and do not count in N.
    let mut vs = values(&[(1, 1, 1), (2, 2, 2)]);
    vs.push(None);
    let s = rfm_scores(&vs, &RfmPolicy::Quintiles, at(20));
    assert_eq!(s[1], RfmScores::new(3, 3, 3));
    assert_eq!(s[2], None);
}

#[test]
fn fixed_breakpoints() {
    let p = RfmPolicy::Breakpoints {
        r: [30, 90, 180, 365],
        f: [2, 3, 5, 10],
        m: [
            Decimal::from(100),
            Decimal::from(500),
            Decimal::from(1_000),
            Decimal::from(5_000),
        ],
    };
    let s = rfm_scores(&values(&[(0, 1, 50), (300, 12, 6_000)]), &p, at(330));
    assert_eq!(s[0], RfmScores::new(2, 1, 1)); // 330 days ago
    assert_eq!(s[1], RfmScores::new(5, 5, 5)); // 30 days ago
    assert!(
        RfmPolicy::Breakpoints {
            r: [3, 2, 1, 0],
            f: [1; 4],
            m: [Decimal::ONE; 4]
        }
        .validate()
        .is_err()
    );
}

proptest! {
    #[test]
    fn prop_quintile_scores_are_in_range_and_monotone(v in prop::collection::vec((0i64..100, 1u32..20, 0i64..10_000), 1..60)) {
        let s = rfm_scores(&values(&v), &RfmPolicy::Quintiles, at(200));
        for (a, sa) in v.iter().zip(&s) {
            let sa = sa.unwrap();
            prop_assert!((1..=5).contains(&sa.r) && (1..=5).contains(&sa.f) && (1..=5).contains(&sa.m));
            for (b, sb) in v.iter().zip(&s) {
                let sb = sb.unwrap();
                if a.0 < b.0 { prop_assert!(sa.r <= sb.r); }
                if a.1 == b.1 { prop_assert_eq!(sa.f, sb.f); }
                if a.2 < b.2 { prop_assert!(sa.m <= sb.m); }
            }
        }
    }
}

// ---- tiers ----

fn dec(v: i64) -> Decimal {
    Decimal::from(v)
}

#[test]
fn tiers_upgrade_at_once_and_downgrade_one_rung_after_grace() {
    let p = TierPolicy::default();
    let plat = p.decide(&TierState::default(), Some(dec(12_000)), None, at(0));
    assert_eq!((plat.from, plat.to), (Tier::Lead, Tier::Platinum));
    assert_eq!(plat.reason.rule, "tier.upgrade");
    // Far below: one rung per grace period, not straight to the bottom.
    let s1 = p.decide(&plat.state, Some(dec(0)), None, at(1));
    assert_eq!(s1.to, Tier::Platinum);
    assert_eq!(s1.reason.rule, "tier.grace");
    let s2 = p.decide(&s1.state, Some(dec(0)), None, at(31));
    assert_eq!(s2.to, Tier::Gold);
    assert_eq!(s2.reason.rule, "tier.downgrade");
    let s3 = p.decide(&s2.state, Some(dec(0)), None, at(32));
    assert_eq!(
        s3.to,
        Tier::Gold,
        "a new grace period starts on the new rung"
    );
    // Back inside the band resets the timer.
    let s4 = p.decide(&s3.state, Some(dec(1_850)), None, at(40));
    assert_eq!(s4.state.below_since, None);
}

#[test]
fn pins_win_until_they_expire() {
    let p = TierPolicy::default();
    let state = TierState {
        pin: Some(TierPin {
            tier: Tier::Platinum,
            actor: Actor::new("ceo").unwrap(),
            reason: "partner".into(),
            until: at(10),
        }),
        ..TierState::default()
    };
    let d = p.decide(&state, Some(dec(0)), None, at(5));
    assert_eq!((d.to, &*d.reason.rule), (Tier::Platinum, "tier.pin"));
    let d = p.decide(&d.state, Some(dec(0)), None, at(10));
    assert!(d.state.pin.is_none());
}

#[test]
fn share_ladders_rank_the_population_and_ties_go_up() {
    let policies = Policies {
        tier: TierPolicy {
            ladder: TierLadder::vip_heavy(),
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    // 100 customers with revenue 1..=100 (one purchase each, today).
    let pop: Vec<(CustomerId, Stats)> = (1..=100)
        .map(|i| {
            let a = Activity::new(
                ActivityId::from_u128(i),
                CustomerId::from_u128(i),
                at(0),
                Channel::Web,
                IdempotencyKey::new(format!("k{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new("o").unwrap(),
                    amount: Money::new(Decimal::from(i as i64), Currency::USD),
                    margin: None,
                },
            )
            .unwrap();
            (
                CustomerId::from_u128(i),
                Stats::from_activities([&a]).unwrap(),
            )
        })
        .collect();
    let ranked = rank(pop.iter().map(|(id, s)| (*id, s)), &policies, at(0), |_| {
        None
    });
    let count = |t: Tier| ranked.iter().filter(|r| r.share_tier == Some(t)).count();
    assert_eq!(
        (
            count(Tier::Platinum),
            count(Tier::Gold),
            count(Tier::Iron),
            count(Tier::Lead)
        ),
        (1, 4, 15, 80)
    );
    assert_eq!(ranked[99].share_tier, Some(Tier::Platinum));
    // Ties at a boundary go to the higher tier.
    let tied: Vec<(CustomerId, Stats)> = (1..=100)
        .map(|i| (CustomerId::from_u128(i), pop[0].1.clone()))
        .collect();
    let ranked = rank(
        tied.iter().map(|(id, s)| (*id, s)),
        &policies,
        at(0),
        |_| None,
    );
    assert!(ranked.iter().all(|r| r.share_tier == Some(Tier::Platinum)));
    assert!(TierLadder::classic_pyramid().validate().is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn prop_zero_hysteresis_zero_grace_is_the_threshold_lookup(values in prop::collection::vec(0i64..15_000, 1..100)) {
        let p = TierPolicy { hysteresis: Decimal::ZERO, grace_days: 0, ..TierPolicy::default() };
        let mut state = TierState::default();
        for (i, v) in values.iter().enumerate() {
            // With grace 0 a downgrade still goes one rung per evaluation; evaluate until stable.
            for _ in 0..4 {
                state = p.decide(&state, Some(dec(*v)), None, at(i as i64)).state;
            }
            prop_assert_eq!(state.tier, p.ladder.lookup(dec(*v)));
        }
    }

    #[test]
    fn prop_no_flapping_inside_the_band(start in 2_000i64..9_999, wiggle in prop::collection::vec(1_800i64..9_999, 1..100)) {
        // Gold entered at `start`; every later value stays within [1,800, 10,000): Gold forever.
        let p = TierPolicy::default();
        let mut state = p.decide(&TierState::default(), Some(dec(start)), None, at(0)).state;
        prop_assert_eq!(state.tier, Tier::Gold);
        for (i, v) in wiggle.iter().enumerate() {
            let d = p.decide(&state, Some(dec(*v)), None, at(1 + i as i64 * 40));
            prop_assert_eq!(d.to, Tier::Gold);
            state = d.state;
        }
    }

    #[test]
    fn prop_tiers_match_a_reference_with_explicit_timers(steps in prop::collection::vec((0i64..60, 0i64..14_000), 1..100)) {
        let p = TierPolicy::default();
        let (mut state, mut tier, mut below, mut day) = (TierState::default(), Tier::Lead, None::<i64>, 0i64);
        for (wait, v) in steps {
            day += wait;
            let target = p.ladder.lookup(dec(v));
            if target > tier {
                tier = target;
                below = None;
            } else if p.ladder.entry(tier).is_some_and(|e| dec(v) < e * Decimal::new(9, 1)) {
                let since = *below.get_or_insert(day);
                if day - since >= 30 {
                    tier = tier.below().unwrap();
                    // The next rung's grace period starts at the downgrade.
                    below = p
                        .ladder
                        .entry(tier)
                        .is_some_and(|e| dec(v) < e * Decimal::new(9, 1))
                        .then_some(day);
                }
            } else {
                below = None;
            }
            state = p.decide(&state, Some(dec(v)), None, at(day)).state;
            prop_assert_eq!(state.tier, tier);
        }
    }
}

// ---- churn risk and evaluate ----

#[test]
fn churn_risk_rises_with_recency_complaints_and_a_low_nps() {
    let p = ChurnPolicy::default();
    let lp = LifecyclePolicy::default();
    let s = stats(&[0, 10, 20, 30]);
    let fresh = p.assess(&s, &lp, at(30), None).score;
    let stale = p.assess(&s, &lp, at(200), None).score;
    assert!(stale > fresh, "{stale} > {fresh}");
    assert!((0.0..=1.0).contains(&stale));
    let mut unhappy = s.clone();
    for (i, kind) in [
        ActivityKind::Complaint {
            severity: Severity::High,
        },
        ActivityKind::Complaint {
            severity: Severity::Low,
        },
        ActivityKind::Feedback {
            feedback: Feedback::Nps(Nps::new(2).unwrap()),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let a = Activity::new(
            ActivityId::from_u128(50 + i as u128),
            CustomerId::from_u128(1),
            at(29),
            Channel::Phone,
            IdempotencyKey::new(format!("u{i}")).unwrap(),
            kind,
        )
        .unwrap();
        unhappy.apply(&a).unwrap();
    }
    let upset = p.assess(&unhappy, &lp, at(30), None).score;
    assert!(
        (upset - fresh - (0.2 + 0.1 * 5.0 / 7.0)).abs() < 1e-9,
        "{upset} vs {fresh}"
    );
}

#[test]
fn evaluate_decides_tier_stage_and_events_and_applies() {
    let now = at(30);
    let mut c = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(1),
        Profile::default(),
        at(0),
    );
    let promo: Tag = "promo:spring".parse().unwrap();
    c.tags
        .insert(promo.clone(), TagSource::Rule, at(0), Some(at(20)));
    let s = {
        let a = Activity::new(
            ActivityId::from_u128(1),
            c.id(),
            at(25),
            Channel::Web,
            IdempotencyKey::new("a").unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new("1").unwrap(),
                amount: Money::new(dec(2_500), Currency::USD),
                margin: None,
            },
        )
        .unwrap();
        Stats::from_activities([&a]).unwrap()
    };
    let e = evaluate(&c, &s, &Policies::default(), &EvalInputs::at(now)).unwrap();
    assert_eq!(e.tier.to, Tier::Gold);
    assert_eq!(e.stage.to, Stage::New);
    assert_eq!(e.tags_removed, vec![promo.clone()]);
    let names: Vec<&str> = e.events.iter().map(DomainEvent::name).collect();
    assert_eq!(names, ["tag_removed", "tier_changed", "stage_changed"]);
    assert!(!e.is_noop(&c));
    e.apply_to(&mut c);
    assert_eq!((c.tier(), c.stage()), (Tier::Gold, Stage::New));
    let again = evaluate(&c, &s, &Policies::default(), &EvalInputs::at(now)).unwrap();
    assert!(again.is_noop(&c), "evaluating twice changes nothing");
    assert!(again.events.is_empty());
    // Tombstones are refused.
    c.set_lifecycle(c.lifecycle().erase(now).unwrap()).unwrap();
    assert!(matches!(
        evaluate(&c, &s, &Policies::default(), &EvalInputs::at(now)),
        Err(DomainError::Tombstoned { .. })
    ));
}

#[test]
fn churn_alert_fires_only_when_crossing_upwards() {
    let c = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(1),
        Profile::default(),
        at(0),
    );
    let s = stats(&[0]);
    let inputs = EvalInputs {
        p_alive: Some(0.2),
        ..EvalInputs::at(at(10))
    };
    let e = evaluate(&c, &s, &Policies::default(), &inputs).unwrap();
    assert!(e.events.iter().any(|e| e.name() == "churn_risk_raised"));
    let inputs = EvalInputs {
        previous_churn_risk: Some(0.9),
        ..inputs
    };
    let e = evaluate(&c, &s, &Policies::default(), &inputs).unwrap();
    assert!(!e.events.iter().any(|e| e.name() == "churn_risk_raised"));
}

#[test]
fn default_policies_validate_and_bad_ones_do_not() {
    assert!(Policies::default().validate().is_ok());
    let bad = Policies {
        tier: TierPolicy {
            hysteresis: Decimal::ONE,
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "policy tier.hysteresis `1` is invalid: must be in [0, 1)"
    );
    let bad = Policies {
        churn: ChurnPolicy {
            recency_weight: f64::NAN,
            ..ChurnPolicy::default()
        },
        ..Policies::default()
    };
    assert!(bad.validate().is_err());
    let ladder = TierLadder {
        metric: TierMetric::Revenue365,
        rungs: Rungs::Thresholds {
            entries: vec![(Tier::Gold, dec(10)), (Tier::Platinum, dec(5))],
        },
    };
    assert!(ladder.validate().is_err());
}

proptest! {
    #[test]
    fn prop_rank_counts_equal_a_naive_count(v in prop::collection::vec((0i64..50, 0u32..3), 0..80)) {
        // Values like 1.0 and 1.00 are equal decimals with different scales.
        let d: Vec<Decimal> = v.iter().map(|(m, s)| Decimal::new(*m * 10i64.pow(*s), *s)).collect();
        let got = rank_counts_decimal(&d);
        for (i, x) in d.iter().enumerate() {
            let less = d.iter().filter(|y| *y < x).count();
            let greater = d.iter().filter(|y| *y > x).count();
            prop_assert_eq!((got[i].below, got[i].above), (less, greater));
        }
        let ints: Vec<i64> = v.iter().map(|(m, _)| *m).collect();
        let got = rank_counts(&ints);
        for (i, x) in ints.iter().enumerate() {
            prop_assert_eq!(got[i].below, ints.iter().filter(|y| *y < x).count());
        }
    }
}

//! `evaluate` as the service calls it: tag rules wired after tier, stage and churn risk (so
//! rules see the new ones), the events raised, `apply_to`/`is_noop`, purity and idempotence,
//! and the population inputs from `rank`.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn at(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap() + Duration::days(d)
}

fn customer() -> Customer {
    Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(1),
        Profile::default(),
        at(0),
    )
}

fn purchases(list: &[(i64, i64)]) -> Stats {
    purchases_in_order(list, false)
}

/// The same purchases folded in the given order, or the reverse (a replay, an import of an
/// unsorted file).
fn purchases_in_order(list: &[(i64, i64)], reversed: bool) -> Stats {
    let acts: Vec<Activity> = list
        .iter()
        .enumerate()
        .map(|(i, (day, amount))| {
            Activity::new(
                ActivityId::from_u128(i as u128),
                CustomerId::from_u128(1),
                at(*day),
                Channel::Web,
                IdempotencyKey::new(format!("k{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{i}")).unwrap(),
                    amount: Money::new(Decimal::from(*amount), Currency::USD),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    if reversed {
        Stats::from_activities(acts.iter().rev()).unwrap()
    } else {
        Stats::from_activities(&acts).unwrap()
    }
}

fn rules(text: &[&str]) -> Policies {
    Policies {
        tag_rules: text.iter().map(|t| TagRule::parse(t).unwrap()).collect(),
        ..Policies::default()
    }
}

fn tags(c: &[TagChange]) -> Vec<&str> {
    c.iter().map(|c| c.tag.as_str()).collect()
}

fn names(e: &Evaluation) -> Vec<&'static str> {
    e.events.iter().map(DomainEvent::name).collect()
}

#[test]
fn tag_rules_see_the_tier_and_stage_decided_in_the_same_evaluation() {
    let p = rules(&[
        "when tier >= gold then tag value:vip",
        "when stage == new then tag funnel:first-order",
        "when stage == prospect then tag funnel:lead",
    ]);
    let mut c = customer();
    // A prospect gets the lead tag.
    let e = evaluate(&c, &Stats::default(), &p, &EvalInputs::at(at(0))).unwrap();
    assert_eq!(tags(&e.tags_added), ["funnel:lead"]);
    e.apply_to(&mut c);
    assert_eq!(
        c.tags.get(&"funnel:lead".parse().unwrap()).unwrap().source,
        TagSource::Rule
    );
    // A first order of 2,500: Gold and New at once, and the rules see both.
    let s = purchases(&[(1, 2_500)]);
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(1))).unwrap();
    assert_eq!((e.tier.to, e.stage.to), (Tier::Gold, Stage::New));
    assert_eq!(tags(&e.tags_added), ["funnel:first-order", "value:vip"]);
    assert_eq!(tags(&e.tags_removed), ["funnel:lead"]);
    assert_eq!(e.tags_removed[0].reason.rule, "tag_rule:funnel:lead");
    assert_eq!(
        names(&e),
        [
            "tag_removed",
            "tag_added",
            "tag_added",
            "tier_changed",
            "stage_changed"
        ]
    );
    e.apply_to(&mut c);
    let again = evaluate(&c, &s, &p, &EvalInputs::at(at(1))).unwrap();
    assert!(again.is_noop(&c) && again.events.is_empty());
    // The rule stops holding when the stage moves on (a repeat purchase: Active).
    let s = purchases(&[(1, 2_500), (5, 10)]);
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(5))).unwrap();
    assert_eq!(e.stage.to, Stage::Active);
    assert_eq!(tags(&e.tags_removed), ["funnel:first-order"]);
    assert!(e.tags_added.is_empty());
}

#[test]
fn tag_rules_see_rfm_scores_and_churn_risk() {
    let p = rules(&[
        "when rfm.r >= 4 and rfm.f >= 4 then tag rfm:champion",
        "when churn_risk > 0.6 then tag care:at-risk for 30d",
    ]);
    let c = customer();
    let s = purchases(&[(0, 100), (10, 100), (20, 100), (30, 100)]);
    let inputs = EvalInputs {
        rfm: RfmScores::new(5, 4, 2),
        ..EvalInputs::at(at(30))
    };
    let e = evaluate(&c, &s, &p, &inputs).unwrap();
    assert_eq!(tags(&e.tags_added), ["rfm:champion"]);
    // Without ranking, rfm.* comparisons are false.
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(30))).unwrap();
    assert!(e.tags_added.is_empty());
    // A quiet spell raises the churn risk to the alert: the tag and the event together.
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(130))).unwrap();
    assert!(e.churn_alert);
    assert_eq!(tags(&e.tags_added), ["care:at-risk"]);
    assert_eq!(e.tags_added[0].expires_at, Some(at(160)));
    assert!(names(&e).contains(&"churn_risk_raised"));
}

#[test]
fn rules_leave_manual_tags_alone_and_expired_tags_go_with_a_reason() {
    let p = rules(&["when orders >= 1 then tag behavior:buyer"]);
    let mut c = customer();
    let buyer: Tag = "behavior:buyer".parse().unwrap();
    let promo: Tag = "promo:spring".parse().unwrap();
    c.tags.insert(buyer.clone(), TagSource::Manual, at(0), None);
    c.tags
        .insert(promo.clone(), TagSource::Import, at(0), Some(at(5)));
    let e = evaluate(&c, &Stats::default(), &p, &EvalInputs::at(at(10))).unwrap();
    assert_eq!(e.tags_removed, [promo]);
    assert_eq!(e.tags_removed[0].reason.rule, "tag.expired");
    assert!(e.tags_added.is_empty());
    e.apply_to(&mut c);
    assert!(c.tags.contains(&buyer, at(10)), "a person's tag stays");
}

#[test]
fn ranked_inputs_flow_into_evaluate() {
    let policies = Policies {
        tier: TierPolicy {
            ladder: TierLadder::vip_heavy(),
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    let pop: Vec<(CustomerId, Stats)> = (1..=20)
        .map(|i| (CustomerId::from_u128(i), purchases(&[(0, i as i64 * 10)])))
        .collect();
    let ranked = rank(pop.iter().map(|(id, s)| (*id, s)), &policies, at(1), |_| {
        None
    });
    let top = &ranked[19];
    assert_eq!(top.share_tier, Some(Tier::Platinum));
    let c = Customer::new(
        TenantId::from_u128(1),
        top.customer,
        Profile::default(),
        at(0),
    );
    let e = evaluate(
        &c,
        &pop[19].1,
        &policies,
        &EvalInputs::at(at(1)).with_ranked(Some(top)),
    )
    .unwrap();
    assert_eq!(e.tier.to, Tier::Platinum);
    assert_eq!(e.tier.reason.rule, "tier.upgrade");
    // A share ladder without a ranking keeps the tier and says why.
    let e = evaluate(&c, &pop[19].1, &policies, &EvalInputs::at(at(1))).unwrap();
    assert_eq!(
        (e.tier.to, &*e.tier.reason.rule),
        (Tier::Lead, "tier.metric_missing")
    );
}

#[test]
fn host_metrics_drive_clv_ladders() {
    let policies = Policies {
        tier: TierPolicy {
            ladder: TierLadder {
                metric: TierMetric::Clv,
                ..TierLadder::customer_pyramid()
            },
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    let inputs = EvalInputs {
        host_metric: Some(Decimal::from(12_000)),
        ..EvalInputs::at(at(0))
    };
    let e = evaluate(&customer(), &Stats::default(), &policies, &inputs).unwrap();
    assert_eq!(e.tier.to, Tier::Platinum);
    assert_eq!(e.tier.reason.measured.unwrap().name, "clv");
}

#[test]
fn tombstones_are_refused() {
    let mut c = customer();
    c.set_lifecycle(
        c.lifecycle()
            .merge_into(CustomerId::from_u128(9), at(1))
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        evaluate(
            &c,
            &Stats::default(),
            &Policies::default(),
            &EvalInputs::at(at(2))
        ),
        Err(DomainError::Tombstoned {
            state: "merged",
            ..
        })
    ));
}

#[test]
fn policies_read_from_partial_documents() {
    let p: Policies = serde_json::from_str(
        r#"{"tier": {"hysteresis": "0.2"},
            "tag_rules": ["when orders >= 10 then tag behavior:high-frequency"]}"#,
    )
    .unwrap();
    assert_eq!(p.tier.hysteresis, Decimal::new(2, 1));
    assert_eq!(p.tier.grace_days, 30);
    assert_eq!(p.tier.ladder, TierLadder::customer_pyramid());
    assert_eq!(p.tag_rules.len(), 1);
    assert_eq!(p.lifecycle, LifecyclePolicy::default());
    assert!(serde_json::from_str::<Policies>(r#"{"tag_rules": ["when then"]}"#).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prop_evaluate_depends_on_the_history_not_its_order_and_applying_it_is_idempotent(
        buys in prop::collection::vec((0i64..400, 1i64..6_000), 0..8),
        now in 0i64..600,
        steps in prop::collection::vec(1i64..90, 1..6),
    ) {
        let p = rules(&[
            "when tier >= iron then tag value:paying",
            "when stage == silent then tag care:silent for 14d",
            "when churn_risk > 0.4 then tag care:watch",
            "when days_since_last_purchase > 60 then tag behavior:lapsed",
        ]);
        let s = purchases(&buys);
        // The same purchases arriving newest first: a function of the history, not of the
        // order it was folded in.
        let replayed = purchases_in_order(&buys, true);
        let mut c = customer();
        let mut day = now;
        for step in steps {
            day += step;
            let inputs = EvalInputs::at(at(day));
            let e = evaluate(&c, &s, &p, &inputs).unwrap();
            prop_assert_eq!(&e, &evaluate(&c, &replayed, &p, &inputs).unwrap());
            prop_assert_eq!(e.is_noop(&c), e.events.is_empty() && e.is_noop(&c));
            e.apply_to(&mut c);
            let again = evaluate(&c, &s, &p, &inputs).unwrap();
            prop_assert!(again.is_noop(&c), "{:?}", again);
            prop_assert!(again.events.is_empty());
            prop_assert_eq!(c.tier(), e.tier.to);
            prop_assert_eq!(c.stage(), e.stage.to);
        }
    }
}

#[test]
fn rules_on_rfm_scores_wait_for_a_ranking() {
    let p = rules(&[
        "when rfm.r >= 4 then tag value:recent",
        "when not rfm.r >= 4 then tag value:lapsing",
        "when rfm.total >= 12 then tag value:core",
        "when orders >= 2 then tag value:core",
    ]);
    let s = purchases(&[(0, 100)]);
    let mut c = customer();
    c.tags.insert(
        "value:recent".parse().unwrap(),
        TagSource::Rule,
        at(0),
        None,
    );
    // Alone (no ranking): the RFM tags stay as the last sweep left them, both ways.
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(1))).unwrap();
    assert!(
        e.tags_added.is_empty() && e.tags_removed.is_empty(),
        "{e:?}"
    );
    assert_eq!(names(&e), ["stage_changed"]); // Prospect → New, no tag event
    // ... but a rule on the customer's own stats sharing a tag decides it when it holds.
    let two = purchases(&[(0, 100), (1, 50)]);
    let e = evaluate(&c, &two, &p, &EvalInputs::at(at(1))).unwrap();
    assert_eq!(
        (tags(&e.tags_added), tags(&e.tags_removed)),
        (vec!["value:core"], vec![])
    );
    // Ranked without RFM scores (no purchase in the ranking's eyes): decided, the tag goes.
    let none = Ranked {
        customer: c.id(),
        rfm: None,
        share_tier: None,
    };
    let e = evaluate(&c, &s, &p, &EvalInputs::at(at(1)).with_ranked(Some(&none))).unwrap();
    assert_eq!(
        (tags(&e.tags_added), tags(&e.tags_removed)),
        (vec!["value:lapsing"], vec!["value:recent"])
    );
    // Scores passed in directly count as a ranking.
    let inputs = EvalInputs {
        rfm: RfmScores::new(5, 1, 1),
        ..EvalInputs::at(at(1))
    };
    let e = evaluate(&c, &s, &p, &inputs).unwrap();
    assert!(
        e.tags_added.is_empty() && e.tags_removed.is_empty(),
        "{e:?}"
    );
}

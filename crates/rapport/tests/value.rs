//! Time travel and policy simulation through the service: `as_of(now)` is what evaluating the
//! stored customer at `now` decides, and a simulation writes nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use proptest::prelude::*;
use rapport::core::*;
use rapport::{Clock, ManualClock, NewActivity, Service};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Buy { day: i64, amount: i64 },
    Complain { day: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0i64..600, 1i64..6_000).prop_map(|(day, amount)| Step::Buy { day, amount }),
        1 => (0i64..600).prop_map(|day| Step::Complain { day }),
    ]
}

/// Records `steps` in time order, the clock at each activity's time (as a live system would),
/// and returns the service, the customer and the last activity's time.
fn book(steps: &mut [Step], policies: Policies) -> (Service<MemoryStore>, ManualClock, CustomerId) {
    let day = |s: &Step| match s {
        Step::Buy { day, .. } | Step::Complain { day } => *day,
    };
    steps.sort_by_key(day);
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_policies(policies)
        .unwrap();
    let t = TenantId::from_u128(1);
    let id = block_on(svc.register(t, Profile::default()))
        .unwrap()
        .customer
        .id();
    for (i, s) in steps.iter().enumerate() {
        let at = t0() + Duration::days(day(s)) + Duration::minutes(i as i64);
        clock.set(at);
        let a = match s {
            Step::Buy { amount, .. } => NewActivity::purchase(
                id,
                format!("o{i}"),
                Money::new(Decimal::from(*amount), Currency::USD),
                at,
            )
            .unwrap(),
            Step::Complain { .. } => NewActivity::complaint(id, Severity::High, at).unwrap(),
        };
        block_on(svc.record(t, a)).unwrap();
    }
    (svc, clock, id)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// as_of(now) equals the stored evaluation at now: the replay of the log makes the same
    /// decisions as recording it did, hysteresis and grace included.
    #[test]
    fn prop_as_of_now_equals_the_stored_evaluation(mut steps in prop::collection::vec(step(), 0..12), later in 0i64..400) {
        let mut policies = Policies::default();
        policies.tag_rules.push(TagRule::parse("when orders >= 3 then tag behavior:repeat").unwrap());
        let (svc, clock, id) = book(&mut steps, policies);
        let t = TenantId::from_u128(1);
        let now = clock.now() + Duration::days(later);
        let stored = block_on(svc.evaluate_at(t, id, now)).unwrap();
        let rec = block_on(svc.customer(t, id)).unwrap();
        let then = block_on(svc.as_of(t, id, now)).unwrap();
        prop_assert_eq!(then.evaluation.tier.to, stored.tier.to);
        prop_assert_eq!(&then.evaluation.tier.state, &stored.tier.state);
        prop_assert_eq!(then.evaluation.stage.to, stored.stage.to);
        prop_assert_eq!(&then.evaluation.stage.reason, &stored.stage.reason);
        prop_assert_eq!(then.evaluation.churn_risk.score, stored.churn_risk.score);
        prop_assert_eq!(then.customer.tier(), rec.customer.tier());
        prop_assert_eq!(then.customer.stage(), rec.customer.stage());
        prop_assert_eq!(&then.customer.lifecycle(), &rec.customer.lifecycle());
        let tags = |c: &Customer| c.tags.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        prop_assert_eq!(tags(&then.customer), tags(&rec.customer));
        prop_assert_eq!(then.stats.orders(), rec.stats.orders());
    }
}

#[test]
fn as_of_a_past_date_ignores_later_activities_and_explains() {
    let mut steps = vec![
        Step::Buy {
            day: 0,
            amount: 300,
        },
        Step::Buy {
            day: 20,
            amount: 2_500,
        },
        Step::Buy {
            day: 40,
            amount: 9_000,
        },
    ];
    let (svc, _, id) = book(&mut steps, Policies::default());
    let t = TenantId::from_u128(1);
    let at = |d| t0() + Duration::days(d) + Duration::hours(12);
    let jan = block_on(svc.as_of(t, id, at(10))).unwrap();
    assert_eq!(
        (jan.evaluation.tier.to, jan.evaluation.stage.to),
        (Tier::Iron, Stage::New)
    );
    assert_eq!(jan.stats.orders(), 1);
    assert_eq!(jan.rfm, RfmScores::new(1, 1, 1));
    let feb = block_on(svc.as_of(t, id, at(30))).unwrap();
    assert_eq!(
        (feb.evaluation.tier.to, feb.evaluation.stage.to),
        (Tier::Gold, Stage::Active)
    );
    assert_eq!(feb.stats.revenue_amount(), Decimal::from(2_800));
    let now = block_on(svc.as_of(t, id, at(60))).unwrap();
    assert_eq!(now.evaluation.tier.to, Tier::Platinum);
    assert_eq!(
        now.evaluation.stage.reason.rule,
        feb.evaluation.stage.reason.rule
    );
    // Before anything happened: a prospect.
    let before = block_on(svc.as_of(t, id, t0() - Duration::days(1))).unwrap();
    assert_eq!(before.evaluation.stage.to, Stage::Prospect);
    assert_eq!(before.rfm, None);
}

#[test]
fn simulation_writes_nothing_and_lists_movers_with_both_reasons() {
    let mut steps = vec![Step::Buy {
        day: 0,
        amount: 1_500,
    }];
    let (svc, clock, id) = book(&mut steps, Policies::default());
    let t = TenantId::from_u128(1);
    let other = block_on(svc.register(t, Profile::default()))
        .unwrap()
        .customer
        .id();
    let mut proposed = Policies::default();
    proposed.tier.ladder = TierLadder::vip_heavy();
    let before = block_on(svc.customer(t, id)).unwrap().customer;
    let s = block_on(svc.simulate(t, &proposed, clock.now())).unwrap();
    // Two customers: the buyer is top 1 % of two → Platinum; the prospect stays Lead.
    assert_eq!(s.current.tiers[&Tier::Iron], 1);
    assert_eq!(s.proposed.tiers[&Tier::Platinum], 1);
    assert_eq!(s.moves.len(), 1);
    let m = &s.moves[0];
    assert_eq!(m.customer, id);
    assert_eq!(
        m.change,
        Change::Tier {
            from: Tier::Iron,
            to: Tier::Platinum
        }
    );
    assert_eq!(m.current_reason.rule, "tier.stay");
    assert_eq!(m.proposed_reason.rule, "tier.upgrade");
    assert!(!s.moves.iter().any(|m| m.customer == other));
    assert_eq!(block_on(svc.customer(t, id)).unwrap().customer, before);
    // The same policy moves nobody.
    let same = block_on(svc.simulate(t, &Policies::default(), clock.now())).unwrap();
    assert!(same.moves.is_empty());
    // An invalid proposal is refused.
    let mut bad = Policies::default();
    bad.churn.alert_threshold = 3.0;
    assert!(matches!(
        block_on(svc.simulate(t, &bad, clock.now())),
        Err(rapport::Error::Domain(DomainError::InvalidPolicy { .. }))
    ));
}

//! Model-based test of tier decisions (proptest-state-machine): random sequences of metric
//! changes, time passing, pins and unpins under random hysteresis, grace periods and ladder
//! kinds, checked after every step against a reference with explicit grace timers, plus the
//! invariants of DOMAIN.md: upgrades at once, no flapping inside the band, at most one rung
//! down per grace period, and with hysteresis 0 and grace 0 the tier is the threshold lookup.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use rapport_core::*;
use rust_decimal::Decimal;

fn at(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap() + Duration::days(day)
}

/// The metric values worth trying: every entry, every band edge and one either side.
fn interesting_values() -> Vec<i64> {
    let mut v = vec![0, 1, 50, 150, 500, 1_000, 5_000, 20_000];
    for e in [200i64, 2_000, 10_000] {
        for h in [0i64, 10, 25] {
            let edge = e * (100 - h) / 100;
            v.extend([edge - 1, edge, edge + 1]);
        }
    }
    v
}

#[derive(Debug, Clone)]
pub enum Op {
    Wait(i64),
    /// A new metric value (threshold ladders) or ranked tier (share ladders).
    Metric(i64),
    ShareTier(Tier),
    Pin {
        tier: Tier,
        days: i64,
    },
    Unpin,
}

#[derive(Debug, Clone)]
pub struct Model {
    shares: bool,
    /// Hysteresis in percent.
    h: i64,
    grace: i64,
    today: i64,
    value: i64,
    share_tier: Tier,
    tier: Tier,
    below_since: Option<i64>,
    pin: Option<(Tier, i64)>,
}

impl Model {
    fn policy(&self) -> TierPolicy {
        TierPolicy {
            ladder: if self.shares {
                TierLadder::vip_heavy()
            } else {
                TierLadder::customer_pyramid()
            },
            hysteresis: Decimal::new(self.h, 2),
            grace_days: self.grace as u32,
            currency: Currency::USD,
        }
    }

    /// A direct transcription of the rules, in integers (the band edge is `entry × (100 − h)`
    /// against `value × 100`).
    fn lookup(&self) -> Tier {
        if self.shares {
            return self.share_tier;
        }
        match self.value {
            v if v >= 10_000 => Tier::Platinum,
            v if v >= 2_000 => Tier::Gold,
            v if v >= 200 => Tier::Iron,
            _ => Tier::Lead,
        }
    }

    fn below(&self, tier: Tier) -> bool {
        if self.shares {
            return self.share_tier < tier;
        }
        let entry = match tier {
            Tier::Lead => return false,
            Tier::Iron => 200,
            Tier::Gold => 2_000,
            Tier::Platinum => 10_000,
        };
        self.value * 100 < entry * (100 - self.h)
    }

    fn step(&mut self) {
        if self.pin.is_some_and(|(_, until)| until <= self.today) {
            self.pin = None;
        }
        if let Some((t, _)) = self.pin {
            self.tier = t;
            self.below_since = None;
            return;
        }
        let target = self.lookup();
        if target > self.tier {
            self.tier = target;
            self.below_since = None;
        } else if self.below(self.tier) {
            let since = *self.below_since.get_or_insert(self.today);
            if self.today - since >= self.grace {
                self.tier = self.tier.below().unwrap();
                while self.grace == 0 && self.tier > Tier::Lead && self.below(self.tier) {
                    self.tier = self.tier.below().unwrap();
                }
                // The next rung's grace period starts at the downgrade.
                self.below_since = self.below(self.tier).then_some(self.today);
            }
        } else {
            self.below_since = None;
        }
    }
}

pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        (
            prop::bool::weighted(0.25),
            prop::sample::select(vec![0i64, 10, 25]),
            prop::sample::select(vec![0i64, 1, 7, 30]),
        )
            .prop_map(|(shares, h, grace)| Model {
                shares,
                h,
                grace,
                today: 0,
                value: 0,
                share_tier: Tier::Lead,
                tier: Tier::Lead,
                below_since: None,
                pin: None,
            })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Op> {
        prop_oneof![
            5 => (0i64..45).prop_map(Op::Wait),
            4 => prop::sample::select(interesting_values()).prop_map(Op::Metric),
            2 => (0i64..15_000).prop_map(Op::Metric),
            3 => prop::sample::select(Tier::ALL.to_vec()).prop_map(Op::ShareTier),
            1 => (prop::sample::select(Tier::ALL.to_vec()), 1i64..60)
                .prop_map(|(tier, days)| Op::Pin { tier, days }),
            1 => Just(Op::Unpin),
        ]
        .boxed()
    }

    fn apply(mut s: Model, op: &Op) -> Model {
        match op {
            Op::Wait(d) => s.today += d,
            Op::Metric(v) => s.value = *v,
            Op::ShareTier(t) => s.share_tier = *t,
            Op::Pin { tier, days } => s.pin = Some((*tier, s.today + days)),
            Op::Unpin => s.pin = None,
        }
        s.step();
        s
    }
}

pub struct Sut {
    policy: TierPolicy,
    state: TierState,
    today: i64,
    value: Decimal,
    share_tier: Tier,
}

pub struct TierTest;

impl StateMachineTest for TierTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(model: &Model) -> Sut {
        let policy = model.policy();
        policy.validate().unwrap();
        Sut {
            policy,
            state: TierState::default(),
            today: 0,
            value: Decimal::ZERO,
            share_tier: Tier::Lead,
        }
    }

    fn apply(mut sut: Sut, model: &Model, op: Op) -> Sut {
        let now = at(sut.today);
        match op {
            Op::Wait(d) => sut.today += d,
            Op::Metric(v) => sut.value = Decimal::from(v),
            Op::ShareTier(t) => sut.share_tier = t,
            Op::Pin { tier, days } => {
                let pin = TierPin::new(
                    tier,
                    Actor::new("tester").unwrap(),
                    "model test",
                    now + Duration::days(days),
                    now,
                )
                .unwrap();
                sut.state.pin = Some(pin);
            }
            Op::Unpin => sut.state.pin = None,
        }
        let now = at(sut.today);
        let before = sut.state.clone();
        let d = sut
            .policy
            .decide(&before, Some(sut.value), Some(sut.share_tier), now);
        // Purity: deciding again on the same inputs gives the same decision.
        assert_eq!(
            d,
            sut.policy
                .decide(&before, Some(sut.value), Some(sut.share_tier), now)
        );
        assert_eq!(d.from, before.tier);
        assert_eq!(d.to, d.state.tier);
        assert_eq!(d.changed(), d.from != d.to);
        let pinned = before.pin.as_ref().is_some_and(|p| p.is_active(now));
        if !pinned {
            let lookup = if model.shares {
                sut.share_tier
            } else {
                sut.policy.ladder.lookup(sut.value)
            };
            if lookup > before.tier {
                assert_eq!(d.to, lookup, "upgrade at once");
            }
            if lookup <= before.tier && !model.below(before.tier) {
                assert_eq!(d.to, before.tier, "no flapping inside the band");
                assert_eq!(d.state.below_since, None);
            }
            if d.to < before.tier && model.grace > 0 {
                assert_eq!(Some(d.to), before.tier.below(), "one rung per grace period");
            }
            if model.h == 0 && model.grace == 0 {
                assert_eq!(d.to, lookup, "hysteresis 0, grace 0: the lookup");
            }
        }
        sut.state = d.state;
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        assert_eq!(sut.state.tier, model.tier, "tier at day {}", sut.today);
        assert_eq!(
            sut.state.below_since,
            model.below_since.map(at),
            "grace timer at day {}",
            sut.today
        );
        assert_eq!(
            sut.state.pin.as_ref().map(|p| (p.tier, p.until)),
            model.pin.map(|(t, until)| (t, at(until)))
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]
    #[test]
    fn prop_tiers_match_reference_with_explicit_timers(sequential 1..100 => TierTest);
}

#[test]
fn a_ladder_without_a_rung_steps_over_it() {
    let policy = TierPolicy {
        ladder: TierLadder {
            metric: TierMetric::Revenue365,
            rungs: Rungs::Thresholds {
                entries: vec![
                    (Tier::Gold, Decimal::from(1_000)),
                    (Tier::Platinum, Decimal::from(5_000)),
                ],
            },
        },
        ..TierPolicy::default()
    };
    policy.validate().unwrap();
    // A customer on Iron (e.g. from an older ladder) is below every rung of this one.
    let iron = TierState {
        tier: Tier::Iron,
        ..TierState::default()
    };
    let d = policy.decide(&iron, Some(Decimal::from(10)), None, at(0));
    assert_eq!((d.to, &*d.reason.rule), (Tier::Iron, "tier.grace"));
    let d = policy.decide(&d.state, Some(Decimal::from(10)), None, at(30));
    assert_eq!((d.to, &*d.reason.rule), (Tier::Lead, "tier.downgrade"));
    // Gold steps down to Lead: the ladder has no Iron.
    let gold = TierState {
        tier: Tier::Gold,
        ..TierState::default()
    };
    let d = policy.decide(&gold, Some(Decimal::from(10)), None, at(0));
    let d = policy.decide(&d.state, Some(Decimal::from(10)), None, at(30));
    assert_eq!(d.to, Tier::Lead);
}

#[test]
fn reasons_name_the_rule_the_value_and_the_threshold() {
    let p = TierPolicy::default();
    let up = p.decide(
        &TierState::default(),
        Some(Decimal::from(2_500)),
        None,
        at(0),
    );
    assert_eq!(
        up.reason.to_string(),
        "tier.upgrade: revenue_365d = 2500 USD against gold.entry = 2000 USD at 2025-01-01T12:00:00Z"
    );
    let wait = p.decide(&up.state, Some(Decimal::from(1_000)), None, at(1));
    assert_eq!(
        wait.reason.to_string(),
        "tier.grace: revenue_365d = 1000 USD against gold.entry × (1 − hysteresis) = 1800 USD \
         at 2025-01-02T12:00:00Z (days_below 0, grace_days 30)"
    );
    let missing = p.decide(&up.state, None, None, at(2));
    assert_eq!(
        (missing.to, &*missing.reason.rule),
        (Tier::Gold, "tier.metric_missing")
    );
}

#[test]
fn an_expired_pin_is_dropped_and_the_rules_resume_from_the_pinned_tier() {
    let p = TierPolicy::default();
    let pin = TierPin::new(
        Tier::Platinum,
        Actor::new("ceo").unwrap(),
        "partner",
        at(10),
        at(0),
    )
    .unwrap();
    let state = TierState {
        pin: Some(pin),
        ..TierState::default()
    };
    let d = p.decide(&state, Some(Decimal::from(2_500)), None, at(9));
    assert_eq!((d.to, &*d.reason.rule), (Tier::Platinum, "tier.pin"));
    let d = p.decide(&d.state, Some(Decimal::from(2_500)), None, at(10));
    assert!(d.state.pin.is_none());
    assert_eq!(
        (d.to, &*d.reason.rule),
        (Tier::Platinum, "tier.grace"),
        "no jump: the downgrade rule applies from the pinned tier"
    );
    let d = p.decide(&d.state, Some(Decimal::from(2_500)), None, at(40));
    assert_eq!(d.to, Tier::Gold);
}

#[test]
fn ladders_reject_lead_entries_bottom_up_shares_and_bad_hysteresis() {
    let d = Decimal::from;
    let bad = [
        Rungs::Thresholds {
            entries: vec![(Tier::Lead, d(0)), (Tier::Gold, d(100))],
        },
        Rungs::Thresholds {
            entries: vec![(Tier::Gold, d(100)), (Tier::Gold, d(200))],
        },
        Rungs::Shares {
            shares: vec![(Tier::Lead, d(80)), (Tier::Platinum, d(20))],
        },
        Rungs::Shares {
            shares: vec![(Tier::Platinum, d(50)), (Tier::Lead, d(40))],
        },
        Rungs::Shares {
            shares: vec![(Tier::Platinum, d(120)), (Tier::Lead, d(-20))],
        },
    ];
    for rungs in bad {
        let ladder = TierLadder {
            metric: TierMetric::Revenue365,
            rungs,
        };
        assert!(
            matches!(ladder.validate(), Err(DomainError::InvalidPolicy { .. })),
            "{ladder:?}"
        );
    }
    for ladder in [
        TierLadder::customer_pyramid(),
        TierLadder::vip_heavy(),
        TierLadder::classic_pyramid(),
    ] {
        ladder.validate().unwrap();
    }
    let p = TierPolicy {
        hysteresis: Decimal::new(-1, 2),
        ..TierPolicy::default()
    };
    assert!(p.validate().is_err());
}

//! Model-based test of the lifecycle state machine (proptest-state-machine): random sequences
//! of purchases (also back-dated), full refunds, time passing, cancellations, overrides,
//! merges and erasures, checked after every step against an *operational* reference that
//! walks the history event by event, where the implementation uses the closed form.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use rapport_core::*;
use rust_decimal::Decimal;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap()
}

fn at(day: i64) -> DateTime<Utc> {
    base() + Duration::days(day)
}

#[derive(Debug, Clone)]
pub enum Op {
    Wait(i64),
    Purchase { days_ago: i64 },
    RefundLast,
    Cancel,
    Override { stage: Stage, days: i64 },
    Merge,
    Erase,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    today: i64,
    purchases: Vec<i64>, // purchase days (with repeats), minus fully refunded ones
    cancelled: Option<i64>,
    manual: Option<(Stage, i64)>,
    terminal: Option<Stage>,
    n: u32,
}

/// The lifecycle rules of DOMAIN.md ("Lifecycle state machine"), with the default policy's
/// numbers written out here. The oracle reads none of `LifecyclePolicy`'s fields or helpers, so
/// a wrong default, a wrong median or a wrong threshold formula in the implementation shows up
/// as a difference instead of being copied into the expected value.
mod rules {
    /// `new_window`: a first purchase stays New this many days.
    pub(crate) const NEW_WINDOW: i64 = 90;
    /// `silent_after` is `max(MIN_SILENT, K × median gap)` ...
    pub(crate) const MIN_SILENT: f64 = 30.0;
    pub(crate) const K: f64 = 3.0;
    /// ... with at least this many purchase days; a fixed `FALLBACK_SILENT` below it.
    pub(crate) const MIN_PURCHASE_DAYS: usize = 3;
    pub(crate) const FALLBACK_SILENT: f64 = 60.0;
    /// `churn_after = max(CHURN_MIN, CHURN_FACTOR × silent_after)`.
    pub(crate) const CHURN_MIN: f64 = 180.0;
    pub(crate) const CHURN_FACTOR: f64 = 2.0;

    /// `silent_after` for distinct purchase days (day numbers, ascending): the gaps are the day
    /// counts between consecutive purchase days; the median of an even count is the mean of
    /// the two middle gaps.
    pub(crate) fn silent_after(days: &[i64]) -> f64 {
        if days.len() < MIN_PURCHASE_DAYS {
            return FALLBACK_SILENT;
        }
        let mut gaps: Vec<i64> = days.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_unstable();
        let n = gaps.len();
        let median = if n % 2 == 1 {
            gaps[n / 2] as f64
        } else {
            (gaps[n / 2 - 1] + gaps[n / 2]) as f64 / 2.0
        };
        (K * median).max(MIN_SILENT)
    }

    pub(crate) fn churn_after(days: &[i64]) -> f64 {
        (CHURN_FACTOR * silent_after(days)).max(CHURN_MIN)
    }
}

impl Model {
    /// Walks the distinct purchase days in order, applying time-based transitions before each
    /// purchase and the purchase transition itself, then time up to today.
    fn expected(&self) -> (Stage, u32) {
        if let Some(t) = self.terminal {
            return (t, 0);
        }
        let mut days: Vec<i64> = self
            .purchases
            .iter()
            .copied()
            .filter(|d| *d <= self.today)
            .collect();
        days.sort_unstable();
        days.dedup();
        let time_stage = |stage: Stage, hist: &[i64], day: i64| -> Stage {
            let Some(last) = hist.last() else {
                return stage;
            };
            let gap = (day - last) as f64;
            let churn = rules::churn_after(hist);
            match stage {
                Stage::New if gap > churn => Stage::Churned,
                Stage::New if gap > rules::NEW_WINDOW as f64 => Stage::Silent,
                Stage::Active if gap > churn => Stage::Churned,
                Stage::Active if gap > rules::silent_after(hist) => Stage::Silent,
                Stage::Silent if gap > churn => Stage::Churned,
                s => s,
            }
        };
        let mut stage = Stage::Prospect;
        let mut wins = 0;
        for (i, p) in days.iter().enumerate() {
            stage = time_stage(stage, &days[..i], *p);
            stage = match stage {
                Stage::Prospect => Stage::New,
                Stage::Churned => {
                    wins += 1;
                    Stage::Active
                }
                _ => Stage::Active,
            };
        }
        stage = time_stage(stage, &days, self.today);
        if let Some(c) = self.cancelled {
            if days.iter().any(|d| *d > c) {
                wins += 1;
            } else {
                stage = Stage::Churned;
            }
        }
        if let Some((s, until)) = self.manual {
            if until > self.today {
                stage = s;
            }
        }
        (stage, wins)
    }
}

pub struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Op> {
        prop_oneof![
            6 => (0i64..250).prop_map(Op::Wait),
            6 => (0i64..60).prop_map(|d| Op::Purchase { days_ago: if d < 45 { 0 } else { d } }),
            1 => Just(Op::RefundLast),
            1 => Just(Op::Cancel),
            1 => (prop::sample::select(Stage::LIVE.to_vec()), 1i64..120)
                .prop_map(|(stage, days)| Op::Override { stage, days }),
            1 => Just(Op::Merge),
            1 => Just(Op::Erase),
        ]
        .boxed()
    }

    fn apply(mut s: Model, op: &Op) -> Model {
        let live = s.terminal.is_none();
        match op {
            Op::Wait(d) => s.today += d,
            Op::Purchase { days_ago } => s.purchases.push((s.today - days_ago).max(0)),
            Op::RefundLast => {
                s.purchases.pop();
            }
            Op::Cancel if live => {
                s.cancelled = Some(s.today);
                s.manual = None;
            }
            Op::Override { stage, days } if live => s.manual = Some((*stage, s.today + days)),
            Op::Merge if live => {
                s.terminal = Some(Stage::Merged {
                    into: CustomerId::from_u128(99),
                })
            }
            Op::Erase if live => s.terminal = Some(Stage::Erased),
            _ => {}
        }
        s.n += 1;
        s
    }
}

pub struct Sut {
    customer: Customer,
    stats: Stats,
    today: i64,
    orders: Vec<(i64, u32)>,
}

pub struct LifecycleTest;

impl StateMachineTest for LifecycleTest {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        Sut {
            customer: Customer::new(
                TenantId::from_u128(1),
                CustomerId::from_u128(1),
                Profile::default(),
                base(),
            ),
            stats: Stats::default(),
            today: 0,
            orders: Vec::new(),
        }
    }

    fn apply(mut sut: Sut, model: &Model, op: Op) -> Sut {
        let now = |sut: &Sut| at(sut.today);
        let n = model.n;
        let activity = |kind| {
            Activity::new(
                ActivityId::from_u128(u128::from(n)),
                CustomerId::from_u128(1),
                at(sut.today),
                Channel::Web,
                IdempotencyKey::new(format!("k{n}")).unwrap(),
                kind,
            )
            .unwrap()
        };
        match op {
            Op::Wait(d) => sut.today += d,
            Op::Purchase { days_ago } => {
                let day = (sut.today - days_ago).max(0);
                let mut a = activity(ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}")).unwrap(),
                    amount: Money::new(Decimal::TEN, Currency::USD),
                    margin: None,
                });
                a.at = at(day);
                sut.stats.apply(&a).unwrap();
                sut.orders.push((day, n));
            }
            Op::RefundLast => {
                if let Some((day, o)) = sut.orders.pop() {
                    let a = activity(ActivityKind::Refund {
                        order_id: OrderId::new(format!("o{o}")).unwrap(),
                        amount: Money::new(Decimal::TEN, Currency::USD),
                        margin: None,
                        purchased_at: at(day),
                        full: true,
                    });
                    sut.stats.apply(&a).unwrap();
                }
            }
            Op::Cancel => match sut.customer.lifecycle().cancel(now(&sut)) {
                Ok(l) => sut.customer.set_lifecycle(l).unwrap(),
                Err(e) => assert!(!sut.customer.is_live(), "{e}"),
            },
            Op::Override { stage, days } => {
                let r = sut.customer.lifecycle().override_stage(
                    stage,
                    Actor::new("tester").unwrap(),
                    "model test",
                    now(&sut) + Duration::days(days),
                    now(&sut),
                );
                match r {
                    Ok(l) => sut.customer.set_lifecycle(l).unwrap(),
                    Err(e) => assert!(!sut.customer.is_live(), "{e}"),
                }
            }
            Op::Merge => match sut
                .customer
                .lifecycle()
                .merge_into(CustomerId::from_u128(99), now(&sut))
            {
                Ok(l) => sut.customer.set_lifecycle(l).unwrap(),
                Err(e) => assert!(!sut.customer.is_live(), "{e}"),
            },
            Op::Erase => match sut.customer.lifecycle().erase(now(&sut)) {
                Ok(l) => sut.customer.set_lifecycle(l).unwrap(),
                Err(e) => assert!(!sut.customer.is_live(), "{e}"),
            },
        }
        let was_terminal = !sut.customer.is_live();
        let before = sut.customer.stage();
        let Advanced {
            lifecycle: next,
            decision,
        } = advance(
            sut.customer.lifecycle(),
            &sut.stats,
            &LifecyclePolicy::default(),
            now(&sut),
            None,
        );
        if was_terminal {
            assert_eq!(next.stage, before, "no transition out of a tombstone");
            // And the model refuses to write any other state into it.
            if &next != sut.customer.lifecycle() {
                assert!(sut.customer.set_lifecycle(next).is_err());
            }
        } else {
            sut.customer.set_lifecycle(next).unwrap();
        }
        // The advanced state is a fixed point: deciding again at the same `now` moves nothing.
        let again = stage_at(
            &sut.stats,
            sut.customer.lifecycle(),
            &LifecyclePolicy::default(),
            now(&sut),
            None,
        );
        assert_eq!(again.to, decision.to);
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let (stage, wins) = model.expected();
        assert_eq!(sut.customer.stage(), stage, "stage at day {}", sut.today);
        if sut.customer.is_live() && sut.customer.lifecycle().manual.is_none() {
            assert_eq!(
                sut.customer.lifecycle().win_backs,
                wins,
                "win-backs at day {}",
                sut.today
            );
        }
        let bought = sut
            .stats
            .purchase_days_until(at(sut.today).date_naive())
            .count();
        if sut.customer.stage() == Stage::Prospect && sut.customer.lifecycle().manual.is_none() {
            assert_eq!(bought, 0, "Prospect only while there is no purchase");
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]
    #[test]
    fn prop_lifecycle_matches_operational_reference(sequential 1..100 => LifecycleTest);
}

//! Policy simulation: evaluate a book under the current and a proposed [`Policies`] at the same
//! `now`, without writing anything, and tell who would move (tier or stage) with both reasons.
//!
//! Both sides are evaluated the same way, from each customer's stored state — so a proposal
//! equal to the current policy moves nobody, and a stricter ladder shows downgrades only once
//! its grace period would have passed, as a sweep would apply them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::evaluate::{EvalInputs, Evaluation, decide_tier};
use crate::decide::lifecycle::{StageDecision, advance_with};
use crate::decide::policy::Policies;
use crate::decide::rank::{RankInput, Ranked, rank_values};
use crate::decide::reason::Reason;
use crate::decide::tier::TierDecision;
use crate::error::DomainError;
use crate::model::customer::Customer;
use crate::model::id::CustomerId;
use crate::model::lifecycle::Stage;
use crate::model::stats::Stats;
use crate::model::tier::Tier;

/// How many customers are in each tier and each stage (every tier and live stage listed, zero
/// included).
///
/// ```
/// use rapport_core::*;
/// let c = Census::default();
/// assert_eq!(c.tiers.len(), 4);
/// assert_eq!(c.stages.len(), Stage::LIVE.len());
/// assert_eq!(c.total(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// Customers per tier.
    pub tiers: BTreeMap<Tier, u64>,
    /// Customers per stage, keyed by the stage's name (`prospect`, `new`, …).
    pub stages: BTreeMap<String, u64>,
}

impl Default for Census {
    fn default() -> Self {
        Self {
            tiers: Tier::ALL.into_iter().map(|t| (t, 0)).collect(),
            stages: Stage::LIVE
                .into_iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect(),
        }
    }
}

impl Census {
    /// Customers counted.
    ///
    /// ```
    /// use rapport_core::*;
    /// let mut c = Census::default();
    /// c.count(Tier::Gold, Stage::Active);
    /// assert_eq!((c.total(), c.tiers[&Tier::Gold], c.stages["active"]), (1, 1, 1));
    /// ```
    #[must_use]
    pub fn total(&self) -> u64 {
        self.tiers.values().sum()
    }

    /// Counts one customer.
    pub fn count(&mut self, tier: Tier, stage: Stage) {
        *self.tiers.entry(tier).or_default() += 1;
        *self.stages.entry(stage.as_str().to_owned()).or_default() += 1;
    }
}

/// What moves for one customer.
///
/// ```
/// use rapport_core::*;
/// let c = Change::Tier { from: Tier::Gold, to: Tier::Iron };
/// assert_eq!((c.dimension(), c.from(), c.to()), ("tier", "gold", "iron"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "dimension")]
#[non_exhaustive]
pub enum Change {
    /// The tier moves.
    Tier {
        /// Under the current policies.
        from: Tier,
        /// Under the proposed ones.
        to: Tier,
    },
    /// The stage moves.
    Stage {
        /// Under the current policies.
        from: Stage,
        /// Under the proposed ones.
        to: Stage,
    },
}

impl Change {
    /// `tier` or `stage`.
    #[must_use]
    pub fn dimension(&self) -> &'static str {
        match self {
            Change::Tier { .. } => "tier",
            Change::Stage { .. } => "stage",
        }
    }

    /// The name of the value under the current policies.
    #[must_use]
    pub fn from(&self) -> &'static str {
        match self {
            Change::Tier { from, .. } => from.as_str(),
            Change::Stage { from, .. } => from.as_str(),
        }
    }

    /// The name of the value under the proposed policies.
    #[must_use]
    pub fn to(&self) -> &'static str {
        match self {
            Change::Tier { to, .. } => to.as_str(),
            Change::Stage { to, .. } => to.as_str(),
        }
    }
}

/// A customer who would move, with the reason under each policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// The customer.
    pub customer: CustomerId,
    /// What moves.
    pub change: Change,
    /// Why they are where they are under the current policies.
    pub current_reason: Reason,
    /// Why they would be elsewhere under the proposed ones.
    pub proposed_reason: Reason,
}

/// The outcome of a simulation: counts under both policies and the movers, in the order the
/// customers were added (a store scan: by id).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let t = TenantId::from_u128(1);
/// let purchase = |c: u128, amount: i64| Activity::new(
///     ActivityId::from_u128(c), CustomerId::from_u128(c), now, Channel::Web,
///     IdempotencyKey::new(format!("o-{c}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("{c}")).unwrap(), amount: Money::new(Decimal::from(amount), Currency::USD), margin: None },
/// ).unwrap();
/// let book: Vec<(Customer, Stats)> = [(1, 150), (2, 600)].into_iter().map(|(c, amount)| {
///     let customer = Customer::new(t, CustomerId::from_u128(c), Profile::default(), now);
///     (customer, Stats::from_activities([&purchase(c, amount)]).unwrap())
/// }).collect();
/// // Iron from 500 instead of 200: the first customer is Lead under both, the second Iron.
/// // From 100: the first moves up.
/// let mut proposed = Policies::default();
/// proposed.tier.ladder = TierLadder { rungs: Rungs::Thresholds { entries: vec![(Tier::Iron, Decimal::from(100))] }, ..TierLadder::customer_pyramid() };
/// let s = simulate(book.iter().map(|(c, s)| (c, s)), &Policies::default(), &proposed, now)?;
/// assert_eq!(s.current.tiers[&Tier::Iron], 1);
/// assert_eq!(s.proposed.tiers[&Tier::Iron], 2);
/// assert_eq!(s.moves.len(), 1);
/// assert_eq!(s.moves[0].customer, CustomerId::from_u128(1));
/// assert_eq!(s.moves[0].change, Change::Tier { from: Tier::Lead, to: Tier::Iron });
/// assert_eq!(s.moves[0].proposed_reason.rule, "tier.upgrade");
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// Under the current policies.
    pub current: Census,
    /// Under the proposed policies.
    pub proposed: Census,
    /// Customers whose tier or stage differs (a customer moving both appears twice).
    pub moves: Vec<Move>,
    /// Downgrades the proposal starts that wait for its grace period (the customer keeps the
    /// tier today, as a sweep would; `to` is the rung below): who moves once the grace ends.
    #[serde(default)]
    pub pending: Vec<Move>,
}

/// The two decisions a simulation compares: tier and stage, with reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierAndStage {
    /// The tier decision.
    pub tier: TierDecision,
    /// The stage decision.
    pub stage: StageDecision,
}

impl From<Evaluation> for TierAndStage {
    fn from(e: Evaluation) -> Self {
        Self {
            tier: e.tier,
            stage: e.stage,
        }
    }
}

/// The tier and stage [`evaluate`](crate::decide::evaluate::evaluate) would decide, without
/// the churn risk, tags and events (what a simulation needs, at a fraction of the cost); with
/// `stage` given (the same lifecycle policy decided it already), only the tier.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let d = decide_tier_and_stage(&c, &Stats::default(), &Policies::default(), &EvalInputs::at(now), None)?;
/// let e = evaluate(&c, &Stats::default(), &Policies::default(), &EvalInputs::at(now))?;
/// assert_eq!((d.tier, d.stage), (e.tier, e.stage));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::Tombstoned`] for a merged or erased customer; a currency error.
pub fn decide_tier_and_stage(
    customer: &Customer,
    stats: &Stats,
    policies: &Policies,
    inputs: &EvalInputs,
    stage: Option<&StageDecision>,
) -> Result<TierAndStage, DomainError> {
    customer.ensure_live()?;
    let tier = decide_tier(&policies.tier, customer, stats, inputs)?;
    let stage = match stage {
        Some(s) => s.clone(),
        None => {
            let rhythm = policies.lifecycle.rhythm(stats, inputs.now);
            advance_with(
                &rhythm,
                &customer.lifecycle,
                &policies.lifecycle,
                inputs.now,
                inputs.p_alive,
            )
            .decision
        }
    };
    Ok(TierAndStage { tier, stage })
}

impl Simulation {
    /// Adds one customer's decisions under both policies.
    pub fn add(&mut self, customer: CustomerId, current: &TierAndStage, proposed: &TierAndStage) {
        self.current.count(current.tier.to, current.stage.to);
        self.proposed.count(proposed.tier.to, proposed.stage.to);
        if current.tier.to != proposed.tier.to {
            self.moves.push(Move {
                customer,
                change: Change::Tier {
                    from: current.tier.to,
                    to: proposed.tier.to,
                },
                current_reason: current.tier.reason.clone(),
                proposed_reason: proposed.tier.reason.clone(),
            });
        } else if proposed.tier.reason.rule == "tier.grace"
            && current.tier.reason.rule != "tier.grace"
        {
            if let Some(below) = proposed.tier.to.below() {
                self.pending.push(Move {
                    customer,
                    change: Change::Tier {
                        from: proposed.tier.to,
                        to: below,
                    },
                    current_reason: current.tier.reason.clone(),
                    proposed_reason: proposed.tier.reason.clone(),
                });
            }
        }
        if current.stage.to != proposed.stage.to {
            self.moves.push(Move {
                customer,
                change: Change::Stage {
                    from: current.stage.to,
                    to: proposed.stage.to,
                },
                current_reason: current.stage.reason.clone(),
                proposed_reason: proposed.stage.reason.clone(),
            });
        }
    }
}

/// The population ranking of `policies` when it needs one (share ladders, RFM), sorted by id.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let none = ranking_for(&[], &Policies::default(), DateTime::UNIX_EPOCH);
/// assert!(none.is_none());
/// ```
#[must_use]
pub fn ranking_for(
    inputs: &[RankInput],
    policies: &Policies,
    now: DateTime<Utc>,
) -> Option<Vec<Ranked>> {
    if !policies.needs_ranking() {
        return None;
    }
    let mut r = rank_values(inputs, policies, now);
    r.sort_unstable_by_key(|r| r.customer);
    Some(r)
}

/// The inputs of `id` from a ranking sorted by id (`None`: the policy ranks nobody, so the
/// evaluation is unranked as a sweep without a ranking pass is).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let i = ranked_inputs(None, CustomerId::from_u128(1), DateTime::UNIX_EPOCH);
/// assert!(!i.ranked);
/// ```
#[must_use]
pub fn ranked_inputs(ranking: Option<&[Ranked]>, id: CustomerId, now: DateTime<Utc>) -> EvalInputs {
    match ranking {
        None => EvalInputs::at(now),
        Some(r) => EvalInputs::at(now).with_ranked(
            r.binary_search_by_key(&id, |r| r.customer)
                .ok()
                .map(|i| &r[i]),
        ),
    }
}

/// Simulates `proposed` against `current` over a book of live customers at `now` (tombstones
/// are skipped). Pure: nothing is written.
///
/// # Errors
/// [`DomainError::InvalidPolicy`] for an invalid proposal; evaluation errors.
pub fn simulate<'a, I>(
    book: I,
    current: &Policies,
    proposed: &Policies,
    now: DateTime<Utc>,
) -> Result<Simulation, DomainError>
where
    I: IntoIterator<Item = (&'a Customer, &'a Stats)>,
    I::IntoIter: Clone,
{
    proposed.validate()?;
    let book = book.into_iter().filter(|(c, _)| c.is_live());
    let rank_inputs = |p: &Policies| -> Vec<RankInput> {
        book.clone()
            .map(|(c, s)| RankInput::of(c.id(), s, p, now, None))
            .collect()
    };
    let rank_current = current
        .needs_ranking()
        .then(|| ranking_for(&rank_inputs(current), current, now))
        .flatten();
    let rank_proposed = proposed
        .needs_ranking()
        .then(|| ranking_for(&rank_inputs(proposed), proposed, now))
        .flatten();
    let same_lifecycle = current.lifecycle == proposed.lifecycle;
    let mut out = Simulation::default();
    for (c, s) in book {
        let id = c.id();
        let a = decide_tier_and_stage(
            c,
            s,
            current,
            &ranked_inputs(rank_current.as_deref(), id, now),
            None,
        )?;
        let b = decide_tier_and_stage(
            c,
            s,
            proposed,
            &ranked_inputs(rank_proposed.as_deref(), id, now),
            same_lifecycle.then_some(&a.stage),
        )?;
        out.add(id, &a, &b);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;
    use crate::decide::tier::{Rungs, TierLadder};
    use crate::model::activity::{Activity, ActivityKind, Channel};
    use crate::model::customer::Profile;
    use crate::model::id::{ActivityId, IdempotencyKey, OrderId, TenantId};
    use crate::model::money::{Currency, Money};

    fn book(spend: &[(u32, i64)], now: DateTime<Utc>) -> Vec<(Customer, Stats)> {
        spend
            .iter()
            .enumerate()
            .map(|(i, (days_ago, amount))| {
                let id = CustomerId::from_u128(i as u128 + 1);
                let c = Customer::new(TenantId::from_u128(1), id, Profile::default(), now);
                let acts: Vec<Activity> = (0..2)
                    .map(|k| {
                        Activity::new(
                            ActivityId::from_u128((i * 2 + k) as u128 + 1),
                            id,
                            now - Duration::days(i64::from(*days_ago) + 40 * k as i64),
                            Channel::Web,
                            IdempotencyKey::new(format!("o-{i}-{k}")).unwrap(),
                            ActivityKind::Purchase {
                                order_id: OrderId::new(format!("{i}-{k}")).unwrap(),
                                amount: Money::new(Decimal::from(*amount), Currency::USD),
                                margin: None,
                            },
                        )
                        .unwrap()
                    })
                    .collect();
                (c, Stats::from_activities(acts.iter()).unwrap())
            })
            .collect()
    }

    proptest! {
        #[test]
        fn prop_the_same_policy_moves_nobody(spend in prop::collection::vec((0u32..400, 0i64..20_000), 0..40), share in any::<bool>()) {
            let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
            let b = book(&spend, now);
            let mut p = Policies::default();
            if share { p.tier.ladder = TierLadder::vip_heavy(); }
            let s = simulate(b.iter().map(|(c, s)| (c, s)), &p, &p.clone(), now).unwrap();
            prop_assert!(s.moves.is_empty());
            prop_assert_eq!(&s.current, &s.proposed);
            prop_assert_eq!(s.current.total(), b.len() as u64);
        }

        #[test]
        fn prop_movers_account_for_the_count_differences(spend in prop::collection::vec((0u32..400, 0i64..20_000), 0..40), entry in 1i64..20_000) {
            let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
            let b = book(&spend, now);
            let mut proposed = Policies::default();
            proposed.tier.ladder = TierLadder { rungs: Rungs::Thresholds { entries: vec![(Tier::Gold, Decimal::from(entry))] }, ..TierLadder::customer_pyramid() };
            let s = simulate(b.iter().map(|(c, s)| (c, s)), &Policies::default(), &proposed, now).unwrap();
            // Counts under the proposal = current counts + arrivals − departures.
            let mut tiers = s.current.tiers.clone();
            for m in &s.moves {
                if let Change::Tier { from, to } = m.change {
                    *tiers.get_mut(&from).unwrap() -= 1;
                    *tiers.get_mut(&to).unwrap() += 1;
                }
            }
            prop_assert_eq!(tiers, s.proposed.tiers.clone());
            // Fresh customers upgrade at once: the proposal's tier is the threshold lookup.
            for (c, st) in &b {
                let revenue = st.rolling_365(now).revenue;
                let expected = if revenue >= Decimal::from(entry) { Tier::Gold } else { Tier::Lead };
                let moved = s.moves.iter().find(|m| m.customer == c.id() && m.change.dimension() == "tier");
                let proposed_tier = moved.map_or_else(
                    || proposed_tier_if_unmoved(&s, c.id(), st, now),
                    |m| match m.change { Change::Tier { to, .. } => to, Change::Stage { .. } => unreachable!() },
                );
                prop_assert_eq!(proposed_tier, expected);
            }
        }
    }

    fn proposed_tier_if_unmoved(
        _: &Simulation,
        _: CustomerId,
        st: &Stats,
        now: DateTime<Utc>,
    ) -> Tier {
        TierLadder::customer_pyramid().lookup(st.rolling_365(now).revenue)
    }

    #[test]
    fn a_stage_policy_change_moves_stages_with_both_reasons() {
        let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
        // Last purchase 100 days ago, one before it 140 days ago: Silent by default (fallback
        // 60 d with fewer than 3 purchase days), Active with a fixed 120 d.
        let b = book(&[(100, 50)], now);
        let mut proposed = Policies::default();
        proposed.lifecycle.silent_after =
            crate::decide::lifecycle::SilentAfter::Fixed { days: 120 };
        let s = simulate(
            b.iter().map(|(c, s)| (c, s)),
            &Policies::default(),
            &proposed,
            now,
        )
        .unwrap();
        assert_eq!(s.moves.len(), 1);
        assert_eq!(
            s.moves[0].change,
            Change::Stage {
                from: Stage::Silent,
                to: Stage::Active
            }
        );
        assert_eq!(s.current.stages["silent"], 1);
        assert_eq!(s.proposed.stages["active"], 1);
        assert_ne!(s.moves[0].current_reason, s.moves[0].proposed_reason);
    }

    #[test]
    fn a_stricter_ladder_lists_downgrades_pending_the_grace_period() {
        let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
        let mut b = book(&[(10, 1_500), (10, 50)], now);
        // Settled under the current ladder: the first customer is Gold (3,000 in 365 days).
        for (c, s) in &mut b {
            crate::decide::evaluate::evaluate(c, s, &Policies::default(), &EvalInputs::at(now))
                .unwrap()
                .apply_to(c);
        }
        let mut proposed = Policies::default();
        proposed.tier.ladder = TierLadder {
            rungs: Rungs::Thresholds {
                entries: vec![
                    (Tier::Iron, Decimal::from(200)),
                    (Tier::Gold, Decimal::from(5_000)),
                    (Tier::Platinum, Decimal::from(10_000)),
                ],
            },
            ..TierLadder::customer_pyramid()
        };
        let s = simulate(
            b.iter().map(|(c, s)| (c, s)),
            &Policies::default(),
            &proposed,
            now,
        )
        .unwrap();
        assert!(s.moves.is_empty(), "{:?}", s.moves);
        assert_eq!(s.pending.len(), 1);
        assert_eq!(s.pending[0].customer, b[0].0.id());
        assert_eq!(
            s.pending[0].change,
            Change::Tier {
                from: Tier::Gold,
                to: Tier::Iron
            }
        );
        assert_eq!(s.pending[0].proposed_reason.rule, "tier.grace");
    }

    #[test]
    fn an_invalid_proposal_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
        let mut bad = Policies::default();
        bad.tier.hysteresis = Decimal::from(2);
        let b = book(&[], now);
        assert!(matches!(
            simulate(
                b.iter().map(|(c, s)| (c, s)),
                &Policies::default(),
                &bad,
                now
            ),
            Err(DomainError::InvalidPolicy { .. })
        ));
    }
}

//! An account's value: [`Stats`] folded from the purchases attributed to it, and the rules of
//! people applied to accounts with their own policy — the same tier ladders, the same
//! lifecycle machine, the same churn score and RFM quintiles — plus the roll-ups of a group
//! structure (a parent's figures include its subsidiaries').
//!
//! The CLV models need nothing new: `rapport_clv::summarize` is generic over the key, so an
//! account's summary is built from its attributed purchases as a person's is from theirs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::churn::{ChurnPolicy, ChurnRisk};
use crate::decide::evaluate::{EvalInputs, decide_tier_state};
use crate::decide::lifecycle::{Advanced, LifecyclePolicy, StageDecision, advance_with};
use crate::decide::rfm::{RfmPolicy, RfmScores, RfmValues, rfm_scores};
use crate::decide::tier::{TierDecision, TierPolicy};
use crate::error::DomainError;
use crate::model::account::{Account, AccountStanding, MAX_ACCOUNT_DEPTH};
use crate::model::activity::{Activity, ActivityKind};
use crate::model::id::{AccountId, CustomerId};
use crate::model::money::Money;
use crate::model::stats::Stats;

/// The policies accounts are decided by: the people's kinds of policy, set apart so a tenant
/// can rank companies on another ladder than persons (defaults: the people's defaults).
///
/// ```
/// use rapport_core::*;
/// let p = AccountPolicies::default();
/// assert_eq!(p.tier, TierPolicy::default());
/// assert!(p.validate().is_ok());
/// let parsed: AccountPolicies = serde_json::from_str("{}").unwrap();
/// assert_eq!(parsed, p);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountPolicies {
    /// The account tier ladder (threshold ladders; a share ladder keeps the stored tier).
    pub tier: TierPolicy,
    /// The lifecycle machine over the account's purchase days.
    pub lifecycle: LifecyclePolicy,
    /// The churn score over the account's purchases.
    pub churn: ChurnPolicy,
    /// RFM over the tenant's accounts.
    pub rfm: RfmPolicy,
}

impl AccountPolicies {
    /// Checks every part.
    ///
    /// # Errors
    /// The first invalid part's [`DomainError::InvalidPolicy`].
    pub fn validate(&self) -> Result<(), DomainError> {
        self.tier.validate()?;
        self.lifecycle.validate()?;
        self.churn.validate()?;
        self.rfm.validate()
    }
}

/// What [`evaluate_account`] decided, with reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEvaluation {
    /// The account.
    pub account: AccountId,
    /// Tier decision (reason with the measured metric and the threshold).
    pub tier: TierDecision,
    /// Stage decision.
    pub stage: StageDecision,
    /// Churn risk with its reason.
    pub churn_risk: ChurnRisk,
    /// RFM scores, when a ranking over the tenant's accounts was given.
    pub rfm: Option<RfmScores>,
    /// The standing to store.
    pub standing: AccountStanding,
}

impl AccountEvaluation {
    /// True when the account already holds this standing (the evaluation time aside).
    #[must_use]
    pub fn is_noop(&self, account: &Account) -> bool {
        let (a, b) = (&account.standing, &self.standing);
        a.tier == b.tier && a.lifecycle == b.lifecycle && a.churn_alert == b.churn_alert
    }

    /// Writes the standing into the account.
    pub fn apply_to(&self, account: &mut Account) {
        account.standing = self.standing.clone();
    }
}

/// Evaluates an account at `inputs.now` from its (rolled-up or own) [`Stats`]: tier, stage and
/// churn risk, exactly as for a person ([`evaluate`](crate::evaluate)) but with the account's
/// policies and stored standing. Pure.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let day = |m, d| Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).unwrap();
/// let buy = |n: u128, at, amount: i64| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(n % 3),
///     at, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::from(amount), Currency::USD), margin: None }).unwrap();
/// // Three people buy for Acme on three days: 12,000 in the last year.
/// let stats = Stats::from_activities(&[buy(1, day(1, 5), 4_000), buy(2, day(2, 5), 4_000), buy(3, day(3, 5), 4_000)])?;
/// let acme = Account::new(AccountId::from_u128(1), TenantId::from_u128(1), AccountName::new("Acme")?, day(1, 1));
/// let e = evaluate_account(&acme, &stats, &AccountPolicies::default(), &EvalInputs::at(day(3, 10)))?;
/// assert_eq!((e.tier.to, e.stage.to), (Tier::Platinum, Stage::Active));
/// assert_eq!(e.tier.reason.rule, "tier.upgrade"); // measured 12,000 against Platinum's 10,000
/// let mut acme = acme;
/// e.apply_to(&mut acme);
/// assert_eq!((acme.tier(), acme.stage()), (Tier::Platinum, Stage::Active));
/// assert!(evaluate_account(&acme, &stats, &AccountPolicies::default(), &EvalInputs::at(day(3, 10)))?.is_noop(&acme));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// A money metric's [`DomainError::CurrencyMismatch`] is turned into a kept tier with the
/// reason `tier.currency_mismatch`, as for people; other policy errors are returned.
pub fn evaluate_account(
    account: &Account,
    stats: &Stats,
    policies: &AccountPolicies,
    inputs: &EvalInputs,
) -> Result<AccountEvaluation, DomainError> {
    let now = inputs.now;
    let standing = &account.standing;
    let tier = decide_tier_state(&policies.tier, &standing.tier, stats, inputs)?;
    let rhythm = policies.lifecycle.rhythm(stats, now);
    let Advanced {
        lifecycle,
        decision: stage,
    } = advance_with(
        &rhythm,
        &standing.lifecycle,
        &policies.lifecycle,
        now,
        inputs.p_alive,
    );
    let churn_risk = policies
        .churn
        .assess_with(stats, &rhythm, now, inputs.p_alive);
    let churn_alert = churn_risk.score >= policies.churn.alert_threshold;
    Ok(AccountEvaluation {
        account: account.id(),
        standing: AccountStanding {
            tier: tier.state.clone(),
            lifecycle,
            churn_alert,
            evaluated_at: Some(now),
        },
        tier,
        stage,
        churn_risk,
        rfm: inputs.rfm,
    })
}

/// RFM scores over the tenant's accounts (quintiles or breakpoints, as for people); accounts
/// without a purchase get none.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let none = rank_accounts([(AccountId::from_u128(1), &Stats::default())], &RfmPolicy::default(), DateTime::UNIX_EPOCH);
/// assert_eq!(none.get(&AccountId::from_u128(1)), Some(&None));
/// ```
#[must_use]
pub fn rank_accounts<'a>(
    population: impl IntoIterator<Item = (AccountId, &'a Stats)>,
    policy: &RfmPolicy,
    now: DateTime<Utc>,
) -> BTreeMap<AccountId, Option<RfmScores>> {
    let (ids, values): (Vec<AccountId>, Vec<Option<RfmValues>>) = population
        .into_iter()
        .map(|(id, s)| (id, RfmValues::of(s, now)))
        .unzip();
    ids.into_iter()
        .zip(rfm_scores(&values, policy, now))
        .collect()
}

/// The roll-up of a group structure: for every account, the [`Stats`] folded from the
/// activities attributed to it **and to every account below it**. `parents` maps each account
/// to its parent; `own` holds each account's attributed activities. A chain is followed at
/// most [`MAX_ACCOUNT_DEPTH`] levels up (the structure rules keep it acyclic), so a corrupt
/// cycle cannot loop.
///
/// ```
/// use std::collections::BTreeMap;
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let a = AccountId::from_u128;
/// let buy = |n: u128, amount: i64| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(n),
///     DateTime::UNIX_EPOCH, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::from(amount), Currency::USD), margin: None }).unwrap();
/// // Group 1 with subsidiaries 2 and 3; 3 has its own subsidiary 4.
/// let parents = BTreeMap::from([(a(1), None), (a(2), Some(a(1))), (a(3), Some(a(1))), (a(4), Some(a(3)))]);
/// let own = BTreeMap::from([(a(2), vec![buy(1, 100)]), (a(4), vec![buy(2, 50)]), (a(1), vec![buy(3, 7)])]);
/// let r = roll_up(&parents, &own)?;
/// assert_eq!(r[&a(1)].revenue_amount(), Decimal::from(157));
/// assert_eq!(r[&a(3)].revenue_amount(), Decimal::from(50));
/// assert_eq!(r[&a(2)].orders(), 1);
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// As [`Stats::apply`] (a currency mix within one group).
pub fn roll_up(
    parents: &BTreeMap<AccountId, Option<AccountId>>,
    own: &BTreeMap<AccountId, Vec<Activity>>,
) -> Result<BTreeMap<AccountId, Stats>, DomainError> {
    let mut out: BTreeMap<AccountId, Stats> =
        parents.keys().map(|id| (*id, Stats::default())).collect();
    for (id, activities) in own {
        let mut at = Some(*id);
        for _ in 0..=MAX_ACCOUNT_DEPTH {
            let Some(cur) = at else { break };
            let stats = out.entry(cur).or_default();
            for a in activities {
                stats.apply(a)?;
            }
            at = parents.get(&cur).copied().flatten();
        }
    }
    Ok(out)
}

/// Net revenue (purchases less refunds) of attributed activities by the person who made
/// them, in the activities' currency.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let usd = |n: i64| Money::new(Decimal::from(n), Currency::USD);
/// let act = |n: u128, who: u128, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(who),
///     DateTime::UNIX_EPOCH, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// let buy = ActivityKind::Purchase { order_id: OrderId::new("o1").unwrap(), amount: usd(100), margin: None };
/// let back = ActivityKind::Refund { order_id: OrderId::new("o1").unwrap(), amount: usd(30), margin: None,
///     purchased_at: DateTime::UNIX_EPOCH, full: false };
/// let by = revenue_by_contact(&[act(1, 7, buy), act(2, 7, back)])?;
/// assert_eq!(by[&CustomerId::from_u128(7)], usd(70));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::CurrencyMismatch`] when one person's amounts mix currencies.
pub fn revenue_by_contact<'a>(
    activities: impl IntoIterator<Item = &'a Activity>,
) -> Result<BTreeMap<CustomerId, Money>, DomainError> {
    let mut out: BTreeMap<CustomerId, Money> = BTreeMap::new();
    for a in activities {
        let delta = match &a.kind {
            ActivityKind::Purchase { amount, .. } => *amount,
            ActivityKind::Refund { amount, .. } => Money::new(-amount.amount, amount.currency),
            _ => continue,
        };
        let next = match out.get(&a.customer) {
            Some(sum) => sum.checked_add(&delta)?,
            None => delta,
        };
        out.insert(a.customer, next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::activity::Channel;
    use crate::model::id::{ActivityId, IdempotencyKey, OrderId};
    use crate::model::money::Currency;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn buy(n: usize, day: u32, cents: i64) -> Activity {
        let at =
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day.into());
        Activity::new(
            ActivityId::from_u128(n as u128 + 1),
            CustomerId::from_u128((n % 5) as u128 + 1),
            at,
            Channel::Web,
            IdempotencyKey::new(format!("k{n}")).unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("o{n}")).unwrap(),
                amount: Money::new(Decimal::new(cents, 2), Currency::USD),
                margin: Some(Decimal::new(cents / 3, 2)),
            },
        )
        .unwrap()
    }

    proptest! {
        /// Roll-up = a fold over the union of the activities attributed to the account and
        /// its descendants, for random group structures (at most 5 deep) and attributions.
        #[test]
        fn prop_rollup_equals_fold_over_union(
            parent_picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..10),
            has_parent in proptest::collection::vec(any::<bool>(), 10),
            purchases in proptest::collection::vec((any::<prop::sample::Index>(), 0u32..400, 1i64..1_000_000), 0..40),
        ) {
            let n = parent_picks.len();
            let ids: Vec<AccountId> = (0..n).map(|i| AccountId::from_u128(i as u128 + 1)).collect();
            let mut parent: Vec<Option<usize>> = vec![None; n];
            let mut depth = vec![0usize; n];
            for i in 1..n {
                let p = parent_picks[i].index(i);
                if has_parent[i] && depth[p] < MAX_ACCOUNT_DEPTH {
                    parent[i] = Some(p);
                    depth[i] = depth[p] + 1;
                }
            }
            let parents: BTreeMap<AccountId, Option<AccountId>> =
                (0..n).map(|i| (ids[i], parent[i].map(|p| ids[p]))).collect();
            let mut own: BTreeMap<AccountId, Vec<Activity>> = BTreeMap::new();
            let mut owner = Vec::new();
            for (k, (who, day, cents)) in purchases.iter().enumerate() {
                let i = who.index(n);
                own.entry(ids[i]).or_default().push(buy(k, *day, *cents));
                owner.push(i);
            }
            let rolled = roll_up(&parents, &own).unwrap();
            let under = |i: usize, j: usize| {
                let mut at = Some(j);
                while let Some(x) = at {
                    if x == i { return true; }
                    at = parent[x];
                }
                false
            };
            for i in 0..n {
                let union: Vec<Activity> = purchases.iter().enumerate()
                    .filter(|(k, _)| under(i, owner[*k]))
                    .map(|(k, (_, day, cents))| buy(k, *day, *cents))
                    .collect();
                prop_assert_eq!(&rolled[&ids[i]], &Stats::from_activities(&union).unwrap());
            }
        }
    }
}

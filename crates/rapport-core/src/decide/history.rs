//! Time travel: a customer's tier, stage, tags, RFM and churn risk as they were at a past
//! `date`, recomputed from the activity log — [`replay`] evaluates the customer after each
//! activity up to `date`, as recording it did, then at `date` itself.
//!
//! What the log does not hold is taken from the customer as stored: the profile, and manual or
//! imported tags (kept when added at or before `date` and not expired then). Rule-sourced tags,
//! the tier state (with its hysteresis and grace) and the lifecycle are rebuilt by the replay.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::evaluate::{EvalInputs, Evaluation, evaluate};
use crate::decide::policy::Policies;
use crate::decide::rfm::RfmScores;
use crate::error::DomainError;
use crate::model::activity::Activity;
use crate::model::customer::Customer;
use crate::model::stats::Stats;
use crate::model::tag::{Tag, TagSource};

/// A customer as at a past date, with the decisions of that date and their reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsOf {
    /// The date.
    pub at: DateTime<Utc>,
    /// The customer as rebuilt at `at` (tier, stage, tags of then; today's profile).
    pub customer: Customer,
    /// The figures of the activities at or before `at`.
    pub stats: Stats,
    /// The evaluation at `at`: tier, stage and churn risk, each with its reason.
    pub evaluation: Evaluation,
    /// RFM scores at `at` among the book of then (when the caller ranked it).
    pub rfm: Option<RfmScores>,
}

impl AsOf {
    /// The tags the customer carried at `at`, sorted.
    #[must_use]
    pub fn tags(&self) -> Vec<&Tag> {
        self.customer.tags.iter().map(|(t, _)| t).collect()
    }
}

/// Rebuilds `customer` at `at` from `activities` (any order; those after `at` are ignored)
/// under `policies`: evaluated after each activity at its time, then at `at` with `inputs`
/// (whose `now` is replaced by `at`; pass the ranking of that date for RFM and share ladders).
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
/// let id = CustomerId::from_u128(1);
/// let buy = |n: u128, days: i64, amount: i64| Activity::new(
///     ActivityId::from_u128(n), id, t0 + Duration::days(days), Channel::Web,
///     IdempotencyKey::new(format!("o{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("{n}")).unwrap(), amount: Money::new(Decimal::from(amount), Currency::USD), margin: None },
/// ).unwrap();
/// let log = [buy(1, 0, 300), buy(2, 30, 2_000)];
/// let today = Customer::new(TenantId::from_u128(1), id, Profile::default(), t0);
/// // On 1 February only the first purchase had happened: Iron and New.
/// let feb = replay(&today, &log, &Policies::default(), t0 + Duration::days(22), EvalInputs::at(t0))?;
/// assert_eq!((feb.evaluation.tier.to, feb.evaluation.stage.to), (Tier::Iron, Stage::New));
/// assert_eq!(feb.stats.orders(), 1);
/// // In March: Gold (2,300 in 365 days) and Active.
/// let mar = replay(&today, &log, &Policies::default(), t0 + Duration::days(50), EvalInputs::at(t0))?;
/// assert_eq!((mar.evaluation.tier.to, mar.evaluation.stage.to), (Tier::Gold, Stage::Active));
/// assert_eq!(mar.evaluation.tier.reason.rule, "tier.stay");
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError`] from folding the activities or evaluating.
pub fn replay(
    customer: &Customer,
    activities: &[Activity],
    policies: &Policies,
    at: DateTime<Utc>,
    inputs: EvalInputs,
) -> Result<AsOf, DomainError> {
    let mut log: Vec<&Activity> = activities.iter().filter(|a| a.at <= at).collect();
    log.sort_by_key(|a| (a.at, a.id));
    // Known since its creation (or its first activity, for one imported with older history).
    let start = log
        .first()
        .map_or(customer.created_at(), |a| a.at.min(customer.created_at()));
    let mut c = Customer::new(
        customer.tenant(),
        customer.id(),
        customer.profile.clone(),
        start,
    );
    for (tag, info) in customer.tags.iter() {
        if info.source != TagSource::Rule && info.added_at <= at && !info.is_expired(at) {
            c.tags
                .insert(tag.clone(), info.source, info.added_at, info.expires_at);
        }
    }
    let mut stats = Stats::default();
    for a in log {
        stats.apply(a)?;
        let e = evaluate(&c, &stats, policies, &EvalInputs::at(a.at))?;
        e.apply_to(&mut c);
    }
    let inputs = EvalInputs { now: at, ..inputs };
    let evaluation = evaluate(&c, &stats, policies, &inputs)?;
    evaluation.apply_to(&mut c);
    Ok(AsOf {
        at,
        customer: c,
        stats,
        evaluation,
        rfm: inputs.rfm,
    })
}

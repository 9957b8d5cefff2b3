//! The one entry point the service calls: [`evaluate`] a customer at `now` under the tenant's
//! [`Policies`], and the population [`rank`] step that share ladders and RFM quintiles need.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::churn::{ChurnPolicy, ChurnRisk};
use crate::customer::Customer;
use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::id::CustomerId;
use crate::lifecycle::{Lifecycle, LifecyclePolicy, StageDecision, advance};
use crate::rfm::{RfmPolicy, RfmScores, RfmValues, rfm_scores};
use crate::stats::Stats;
use crate::tag::Tag;
use crate::tier::{Rungs, Tier, TierDecision, TierMetric, TierPolicy};

/// A tenant's rules. `Default` is DOMAIN.md's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    /// Tiers.
    pub tier: TierPolicy,
    /// Lifecycle.
    pub lifecycle: LifecyclePolicy,
    /// Churn risk.
    pub churn: ChurnPolicy,
    /// RFM.
    pub rfm: RfmPolicy,
}

impl Policies {
    /// Checks every policy.
    ///
    /// # Errors
    /// The first [`DomainError::InvalidPolicy`].
    pub fn validate(&self) -> Result<(), DomainError> {
        self.tier.validate()?;
        self.lifecycle.validate()?;
        self.churn.validate()?;
        self.rfm.validate()
    }
}

/// What the caller knows besides the customer: `now` and the population-level inputs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalInputs {
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// The customer's RFM scores from [`rank`].
    pub rfm: Option<RfmScores>,
    /// The tier a share ladder gives (from [`rank`]).
    pub share_tier: Option<Tier>,
    /// A host-supplied metric (predicted CLV or any value) for `Clv`/`HostValue` ladders.
    pub host_metric: Option<Decimal>,
    /// P(alive) from a fitted model.
    pub p_alive: Option<f64>,
    /// The churn risk at the previous evaluation (for the raise-alert event); by default the
    /// customer's stored alert flag is used.
    pub previous_churn_risk: Option<f64>,
}

impl EvalInputs {
    /// Inputs with only `now`.
    #[must_use]
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            rfm: None,
            share_tier: None,
            host_metric: None,
            p_alive: None,
            previous_churn_risk: None,
        }
    }
}

/// Everything `evaluate` decided, with reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Tags that expired at `now` and are dropped.
    pub tags_removed: Vec<Tag>,
    /// The tier decision.
    pub tier: TierDecision,
    /// The stage decision.
    pub stage: StageDecision,
    /// The new lifecycle state.
    pub lifecycle: Lifecycle,
    /// The churn risk.
    pub churn_risk: ChurnRisk,
    /// True when the churn risk is at or above the policy's alert threshold.
    pub churn_alert: bool,
    /// Events to write to the outbox.
    pub events: Vec<DomainEvent>,
}

impl Evaluation {
    /// True when applying it would change nothing stored.
    #[must_use]
    pub fn is_noop(&self, customer: &Customer) -> bool {
        self.tags_removed.is_empty()
            && self.tier.state == customer.tier
            && self.lifecycle == customer.lifecycle
            && customer.churn_alert == self.churn_alert
    }

    /// Writes the decisions into `customer` (the service then stores it at the next version).
    pub fn apply_to(&self, customer: &mut Customer) {
        for t in &self.tags_removed {
            customer.tags.remove(t);
        }
        customer.tier = self.tier.state.clone();
        customer.lifecycle = self.lifecycle.clone();
        customer.churn_alert = self.churn_alert;
    }
}

fn metric_value(policy: &TierPolicy, stats: &Stats, inputs: &EvalInputs) -> Option<Decimal> {
    match policy.ladder.metric {
        TierMetric::Revenue365 => Some(stats.rolling_365(inputs.now).revenue),
        TierMetric::Margin => Some(stats.margin_amount()),
        TierMetric::RfmTotal => inputs.rfm.map(|r| Decimal::from(r.total())),
        TierMetric::Clv | TierMetric::HostValue => inputs.host_metric,
    }
}

/// Evaluates a customer at `inputs.now`: expired tags, tier, stage, churn risk, and the events
/// they raise. Pure: the same inputs give the same result.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let e = evaluate(&c, &Stats::default(), &Policies::default(), &EvalInputs::at(now)).unwrap();
/// assert_eq!(e.stage.to, Stage::Prospect);
/// assert_eq!(e.tier.to, Tier::Lead);
/// e.apply_to(&mut c);
/// let again = evaluate(&c, &Stats::default(), &Policies::default(), &EvalInputs::at(now)).unwrap();
/// assert!(again.is_noop(&c));
/// ```
///
/// # Errors
/// [`DomainError::Tombstoned`] for a merged or erased customer.
pub fn evaluate(
    customer: &Customer,
    stats: &Stats,
    policies: &Policies,
    inputs: &EvalInputs,
) -> Result<Evaluation, DomainError> {
    customer.ensure_live()?;
    let now = inputs.now;
    let id = customer.id();
    let tags_removed: Vec<Tag> = customer
        .tags
        .iter()
        .filter(|(_, i)| i.is_expired(now))
        .map(|(t, _)| t.clone())
        .collect();
    let value = metric_value(&policies.tier, stats, inputs);
    let tier = policies
        .tier
        .decide(&customer.tier, value, inputs.share_tier, now);
    let (lifecycle, stage) = advance(
        &customer.lifecycle,
        stats,
        &policies.lifecycle,
        now,
        inputs.p_alive,
    );
    let churn_risk = policies
        .churn
        .assess(stats, &policies.lifecycle, now, inputs.p_alive);
    let mut events = Vec::new();
    for tag in &tags_removed {
        events.push(DomainEvent::TagRemoved {
            customer: id,
            tag: tag.clone(),
        });
    }
    if tier.changed() {
        events.push(DomainEvent::TierChanged {
            customer: id,
            from: tier.from,
            to: tier.to,
        });
    }
    if stage.changed() {
        events.push(DomainEvent::StageChanged {
            customer: id,
            from: stage.from,
            to: stage.to,
        });
    }
    let threshold = policies.churn.alert_threshold;
    let churn_alert = churn_risk.score >= threshold;
    let was_alert = inputs
        .previous_churn_risk
        .map_or(customer.churn_alert, |p| p >= threshold);
    if churn_alert && !was_alert {
        events.push(DomainEvent::ChurnRiskRaised {
            customer: id,
            risk: churn_risk.score,
        });
    }
    Ok(Evaluation {
        tags_removed,
        tier,
        stage,
        lifecycle,
        churn_risk,
        churn_alert,
        events,
    })
}

/// The population-level inputs of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    /// The customer.
    pub customer: CustomerId,
    /// RFM scores (`None` without a purchase).
    pub rfm: Option<RfmScores>,
    /// The tier of a share ladder (`None` for threshold ladders).
    pub share_tier: Option<Tier>,
}

/// What [`rank_values`] needs of one customer: its RFM values and its tier metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankInput {
    /// The customer.
    pub customer: CustomerId,
    /// RFM values (`None` without a purchase).
    pub rfm: Option<RfmValues>,
    /// The tier metric (ignored for `RfmTotal` ladders, which rank by the RFM total).
    pub metric: Decimal,
}

impl RankInput {
    /// The inputs of a customer from its stats (`host_metric` for `Clv`/`HostValue` ladders).
    #[must_use]
    pub fn of(
        customer: CustomerId,
        stats: &Stats,
        policies: &Policies,
        now: DateTime<Utc>,
        host_metric: Option<Decimal>,
    ) -> Self {
        let metric = match policies.tier.ladder.metric {
            TierMetric::Revenue365 => stats.rolling_365(now).revenue,
            TierMetric::Margin => stats.margin_amount(),
            TierMetric::RfmTotal => Decimal::ZERO,
            TierMetric::Clv | TierMetric::HostValue => host_metric.unwrap_or(Decimal::ZERO),
        };
        Self {
            customer,
            rfm: RfmValues::of(stats, now),
            metric,
        }
    }
}

/// Ranks compact per-customer inputs (what a sweep keeps for a large population).
#[must_use]
pub fn rank_values(inputs: &[RankInput], policies: &Policies, now: DateTime<Utc>) -> Vec<Ranked> {
    let values: Vec<Option<RfmValues>> = inputs.iter().map(|i| i.rfm).collect();
    let scores = rfm_scores(&values, &policies.rfm, now);
    let mut out: Vec<Ranked> = inputs
        .iter()
        .zip(&scores)
        .map(|(i, rfm)| Ranked {
            customer: i.customer,
            rfm: *rfm,
            share_tier: None,
        })
        .collect();
    if let Rungs::Shares { shares } = &policies.tier.ladder.rungs {
        let metric: Vec<Decimal> = inputs
            .iter()
            .zip(&scores)
            .map(|(i, rfm)| match policies.tier.ladder.metric {
                TierMetric::RfmTotal => rfm.map_or(Decimal::ZERO, |r| Decimal::from(r.total())),
                _ => i.metric,
            })
            .collect();
        let n = metric.len();
        // Position = customers strictly better; ties share the better position, so a tie at
        // a boundary goes to the higher tier.
        let counts = crate::rfm::rank_counts_decimal(&metric);
        let mut bounds = Vec::new();
        let mut acc = Decimal::ZERO;
        for (tier, pct) in shares {
            acc += *pct;
            let upto = (acc * Decimal::from(n) / Decimal::from(100)).ceil();
            bounds.push((*tier, upto.to_string().parse::<usize>().unwrap_or(n)));
        }
        for (r, (_, better)) in out.iter_mut().zip(&counts) {
            let tier = bounds
                .iter()
                .find(|(_, upto)| *better < *upto)
                .map_or(Tier::Lead, |(t, _)| *t);
            r.share_tier = Some(tier);
        }
    }
    out
}

/// Ranks a tenant's population at `now`: RFM scores and, for a share ladder, each customer's
/// tier (customers sorted by the metric, best first; ties at a boundary go to the higher tier).
/// `host_metric` supplies the metric for `Clv`/`HostValue` ladders.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let pop = vec![(CustomerId::from_u128(1), Stats::default())];
/// let ranked = rank(pop.iter().map(|(id, s)| (*id, s)), &Policies::default(), now, |_| None);
/// assert_eq!(ranked[0].rfm, None);
/// ```
pub fn rank<'a>(
    population: impl IntoIterator<Item = (CustomerId, &'a Stats)>,
    policies: &Policies,
    now: DateTime<Utc>,
    host_metric: impl Fn(CustomerId) -> Option<Decimal>,
) -> Vec<Ranked> {
    let inputs: Vec<RankInput> = population
        .into_iter()
        .map(|(id, s)| RankInput::of(id, s, policies, now, host_metric(id)))
        .collect();
    rank_values(&inputs, policies, now)
}

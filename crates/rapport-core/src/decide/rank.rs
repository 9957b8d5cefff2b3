//! The population step: [`rank`] a tenant's customers at `now` for what one customer cannot
//! decide alone — RFM quintile scores and the tiers of a share ladder — and hand each
//! customer's [`Ranked`] to [`evaluate`](crate::decide::evaluate::evaluate) through
//! [`EvalInputs`](crate::decide::evaluate::EvalInputs).
//!
//! One sort per key (O(N log N)); a sweep keeps only the compact [`RankInput`]s of a large
//! population in memory.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::decide::policy::Policies;
use crate::decide::rfm::{RfmScores, RfmValues, rank_counts_decimal, rfm_scores};
use crate::decide::tier::{Rungs, TierMetric};
use crate::model::id::CustomerId;
use crate::model::stats::Stats;
use crate::model::tier::Tier;

/// The population-level inputs of one customer, from [`rank`] or [`rank_values`].
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let policies = Policies {
///     tier: TierPolicy { ladder: TierLadder::vip_heavy(), ..TierPolicy::default() },
///     ..Policies::default()
/// };
/// let none = Stats::default();
/// let ranked = rank([(CustomerId::from_u128(1), &none)], &policies, now, |_| None);
/// let r: Ranked = ranked[0];
/// assert_eq!(r.customer, CustomerId::from_u128(1));
/// assert_eq!(r.rfm, None); // no purchase, no RFM scores
/// assert_eq!(r.share_tier, Some(Tier::Platinum)); // alone at the top of a share ladder
/// assert_eq!(EvalInputs::at(now).with_ranked(Some(&r)).share_tier, Some(Tier::Platinum));
/// ```
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
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let at = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let purchase = Activity::new(
///     ActivityId::from_u128(1), CustomerId::from_u128(1), at, Channel::Web,
///     IdempotencyKey::new("order-1")?,
///     ActivityKind::Purchase { order_id: OrderId::new("1")?, amount: Money::new(Decimal::from(250), Currency::USD), margin: None },
/// )?;
/// let stats = Stats::from_activities([&purchase])?;
/// let input = RankInput::of(CustomerId::from_u128(1), &stats, &Policies::default(), now, None);
/// assert_eq!(input.metric, Decimal::from(250)); // rolling 365-day revenue
/// assert_eq!(input.rfm.unwrap().frequency, 1);
/// assert_eq!(RankInput::of(CustomerId::from_u128(2), &Stats::default(), &Policies::default(), now, None).rfm, None);
/// # Ok::<(), DomainError>(())
/// ```
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
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let mut policies = Policies::default();
    /// policies.tier.ladder.metric = TierMetric::Clv;
    /// let clv = Some(Decimal::from(900)); // e.g. predicted by rapport-clv
    /// let input = RankInput::of(CustomerId::from_u128(1), &Stats::default(), &policies, DateTime::UNIX_EPOCH, clv);
    /// assert_eq!(input.metric, Decimal::from(900));
    /// assert_eq!(input.rfm, None); // no purchase yet
    /// ```
    #[must_use]
    pub fn of(
        customer: CustomerId,
        stats: &Stats,
        policies: &Policies,
        now: DateTime<Utc>,
        host_metric: Option<Decimal>,
    ) -> Self {
        // A customer buying in another currency than the policy's is not ranked by its
        // amount (never compared with amounts in the base currency): it counts as zero, and
        // `evaluate` refuses its tier decision (`tier.currency_mismatch`).
        let foreign = stats
            .currency()
            .is_some_and(|c| c != policies.tier.currency);
        let metric = match policies.tier.ladder.metric {
            TierMetric::Revenue365 | TierMetric::Margin if foreign => Decimal::ZERO,
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
///
/// RFM scores follow [`RfmPolicy`](crate::decide::rfm::RfmPolicy) over the customers with a purchase.
/// On a share ladder, each customer's position is the number of customers with a strictly
/// better metric (so ties share the better position and a tie at a boundary goes to the
/// higher tier), and a tier takes the positions up to `ceil(cumulative share × N)`: the top
/// 1 % of 10 customers is the best one.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let policies = Policies {
///     tier: TierPolicy { ladder: TierLadder::classic_pyramid(), ..TierPolicy::default() },
///     ..Policies::default()
/// };
/// let inputs: Vec<RankInput> = (1..=10)
///     .map(|i| RankInput {
///         customer: CustomerId::from_u128(i),
///         rfm: Some(RfmValues {
///             last_purchase: NaiveDate::from_ymd_opt(2026, 6, i as u32).unwrap(),
///             frequency: 1,
///             monetary: Decimal::from(i as u64 * 100),
///         }),
///         metric: Decimal::from(i as u64 * 100),
///     })
///     .collect();
/// let ranked = rank_values(&inputs, &policies, now);
/// let tiers: Vec<Tier> = ranked.iter().map(|r| r.share_tier.unwrap()).collect();
/// use Tier::*;
/// assert_eq!(tiers, [Lead, Lead, Iron, Iron, Iron, Gold, Gold, Gold, Platinum, Platinum]);
/// assert_eq!(ranked[9].rfm, RfmScores::new(5, 1, 5));
/// ```
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
        let counts = rank_counts_decimal(&metric);
        let mut bounds = Vec::new();
        let mut acc = Decimal::ZERO;
        for (tier, pct) in shares {
            acc += *pct;
            let upto = (acc * Decimal::from(n) / Decimal::from(100)).ceil();
            bounds.push((*tier, upto.to_usize().unwrap_or(n)));
        }
        for (r, count) in out.iter_mut().zip(&counts) {
            let better = &count.above;
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
#[must_use]
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

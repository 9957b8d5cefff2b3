//! Tier distribution, CLV by tier and revenue per currency.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::customer::Customer;
use crate::model::money::Currency;
use crate::model::stats::Stats;
use crate::model::tier::Tier;

/// Live customers per tier.
///
/// ```
/// use rapport_core::Tier;
/// use rapport_core::metrics::TierCounts;
/// let mut t = TierCounts::default();
/// t.add(Tier::Gold);
/// assert_eq!((t.get(Tier::Gold), t.get(Tier::Lead), t.total()), (1, 0, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts([u64; 4]);

fn tier_index(t: Tier) -> usize {
    Tier::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

impl TierCounts {
    /// Counts one customer in `tier`.
    pub fn add(&mut self, tier: Tier) {
        self.0[tier_index(tier)] += 1;
    }

    /// Customers in `tier`.
    #[must_use]
    pub fn get(&self, tier: Tier) -> u64 {
        self.0[tier_index(tier)]
    }

    /// All customers counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(tier, customers)` from the lowest rung up, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (Tier, u64)> + '_ {
        Tier::ALL.iter().copied().zip(self.0.iter().copied())
    }
}

/// The current tier of each live customer, counted.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::tier_distribution;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(),
///     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
/// assert_eq!(tier_distribution([&c]).get(Tier::Lead), 1);
/// ```
#[must_use]
pub fn tier_distribution<'a>(book: impl IntoIterator<Item = &'a Customer>) -> TierCounts {
    let mut t = TierCounts::default();
    for c in book.into_iter().filter(|c| c.is_live()) {
        t.add(c.tier());
    }
    t
}

/// CLV of one tier: the customers with a value, their total and average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TierClv {
    /// The tier.
    pub tier: Tier,
    /// Customers with a CLV value.
    pub customers: u64,
    /// Sum of their CLV.
    pub total: f64,
    /// `total ÷ customers`.
    pub average: f64,
}

/// Total and average CLV per tier from `(tier, clv)` pairs (customers without a value left
/// out by the caller); tiers without values are absent; lowest rung first.
///
/// ```
/// use rapport_core::Tier;
/// use rapport_core::metrics::clv_by_tier;
/// let t = clv_by_tier([(Tier::Gold, 100.0), (Tier::Gold, 50.0), (Tier::Lead, 1.0)]);
/// assert_eq!(t.len(), 2);
/// assert_eq!((t[1].tier, t[1].customers, t[1].total, t[1].average), (Tier::Gold, 2, 150.0, 75.0));
/// ```
#[must_use]
pub fn clv_by_tier(values: impl IntoIterator<Item = (Tier, f64)>) -> Vec<TierClv> {
    let mut sums = [(0u64, 0.0f64); 4];
    for (tier, v) in values {
        let s = &mut sums[tier_index(tier)];
        s.0 += 1;
        s.1 += v;
    }
    Tier::ALL
        .iter()
        .zip(sums)
        .filter(|(_, (n, _))| *n > 0)
        .map(|(tier, (n, total))| TierClv {
            tier: *tier,
            customers: n,
            total,
            average: total / n as f64,
        })
        .collect()
}

/// Net revenue summed per currency, exactly (amounts in different currencies are never
/// added).
///
/// # Errors
/// [`DomainError::Overflow`] when a currency's total overflows.
///
/// ```
/// use rapport_core::Stats;
/// use rapport_core::metrics::revenue_by_currency;
/// assert!(revenue_by_currency([&Stats::default()])?.is_empty());
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
pub fn revenue_by_currency<'a>(
    book: impl IntoIterator<Item = &'a Stats>,
) -> Result<BTreeMap<Currency, Decimal>, DomainError> {
    let mut out: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for m in book.into_iter().filter_map(Stats::revenue) {
        let total = out.entry(m.currency).or_default();
        *total = total
            .checked_add(m.amount)
            .ok_or(DomainError::Overflow { field: "revenue" })?;
    }
    Ok(out)
}

/// Customers who moved from one tier to another over a period, by the ladder's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierFlow {
    /// Tier at the start.
    pub from: Tier,
    /// Tier at the end.
    pub to: Tier,
    /// How many customers.
    pub customers: u64,
}

impl TierFlow {
    /// `"iron->gold"`.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}->{}", self.from.as_str(), self.to.as_str())
    }
}

/// Tier movements over `period` on a threshold ladder of rolling 12-month revenue (the
/// default): each live customer's tier at the start and at the end is the ladder's lookup of
/// its net revenue over the 365 days up to that instant (recomputed from the purchase history,
/// without hysteresis, grace or pins — what the thresholds alone say). Customers who buy in
/// another currency than the policy's, or are not yet in the book at the start, are left out.
/// `None` for other metrics and share ladders, which need data the stats do not hold (a CLV
/// fit, the population's ranks at that date). Non-zero flows only, lowest `from` then `to`.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::{Period, tier_movements};
/// use rust_decimal::Decimal;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(),
///     Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
/// let buy = |n: u128, m, usd: i64| Activity::new(ActivityId::from_u128(n), c.id(),
///     Utc.with_ymd_and_hms(2026, m, 1, 12, 0, 0).unwrap(), Channel::Web,
///     IdempotencyKey::new(format!("k{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::from(usd), Currency::USD), margin: None }).unwrap();
/// let stats = Stats::from_activities(&[buy(1, 1, 500), buy(2, 2, 2_000)])?;
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// let flows = tier_movements([(&c, &stats)], &TierPolicy::default(), Period::new(d(1, 15), d(3, 1))?).unwrap();
/// assert_eq!(flows[0].label(), "iron->gold"); // 500 → 2,500 USD
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn tier_movements<'a>(
    book: impl IntoIterator<Item = (&'a Customer, &'a Stats)>,
    policy: &crate::decide::tier::TierPolicy,
    period: crate::metrics::Period,
) -> Option<Vec<TierFlow>> {
    use crate::decide::tier::{Rungs, TierMetric};
    if policy.ladder.metric != TierMetric::Revenue365
        || !matches!(policy.ladder.rungs, Rungs::Thresholds { .. })
    {
        return None;
    }
    let (t0, t1) = (period.opening(), period.closing());
    let mut counts = [[0u64; 4]; 4];
    for (customer, stats) in book {
        if !customer.is_live() || stats.currency().is_some_and(|c| c != policy.currency) {
            continue;
        }
        let in_book = customer.created_at() <= t0
            || stats
                .first_purchase_day()
                .is_some_and(|d| d <= t0.naive_utc().date());
        if !in_book {
            continue;
        }
        let tier = |t| policy.ladder.lookup(stats.window(t, 365).revenue);
        counts[tier_index(tier(t0))][tier_index(tier(t1))] += 1;
    }
    let mut out = Vec::new();
    for (i, from) in Tier::ALL.iter().enumerate() {
        for (j, to) in Tier::ALL.iter().enumerate() {
            if counts[i][j] > 0 {
                out.push(TierFlow {
                    from: *from,
                    to: *to,
                    customers: counts[i][j],
                });
            }
        }
    }
    Some(out)
}

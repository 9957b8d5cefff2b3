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

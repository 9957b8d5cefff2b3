//! Retention by monthly acquisition cohort.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::stats::Stats;

/// One acquisition cohort: the customers whose first purchase day falls in a calendar month,
/// and how many of them have a purchase day in each later month.
///
/// ```
/// use rapport_core::metrics::CohortRetention;
/// let c = CohortRetention { year: 2026, month: 1, customers: 4, returning: vec![2, 1] };
/// assert_eq!(c.label(), "2026-01");
/// assert_eq!(c.retention(), vec![0.5, 0.25]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CohortRetention {
    /// Year of the first purchase.
    pub year: i32,
    /// Month of the first purchase, 1–12.
    pub month: u32,
    /// Customers in the cohort.
    pub customers: u64,
    /// `returning[k - 1]`: customers with a purchase day in the k-th month after the first
    /// (k = 1, 2, … up to the last month observed).
    pub returning: Vec<u64>,
}

impl CohortRetention {
    /// `YYYY-MM`.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}-{:02}", self.year, self.month)
    }

    /// Retention in month k (index k − 1): `returning[k − 1] ÷ customers`.
    #[must_use]
    pub fn retention(&self) -> Vec<f64> {
        self.returning
            .iter()
            .map(|n| *n as f64 / self.customers.max(1) as f64)
            .collect()
    }
}

fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// Cohorts by month of first purchase, over the purchase days before `until` (excluded);
/// each cohort's `returning` runs from k = 1 to the month of the last day before `until`.
/// Customers without a purchase day before `until` are in no cohort. Oldest cohort first.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::cohort_retention;
/// use rust_decimal::Decimal;
/// let buy = |n: u128, m, d| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
///     Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).unwrap(), Channel::Web,
///     IdempotencyKey::new(format!("k{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::TEN, Currency::USD), margin: None }).unwrap();
/// let a = Stats::from_activities(&[buy(1, 1, 5), buy(2, 3, 1)])?; // January, back in March
/// let b = Stats::from_activities(&[buy(3, 1, 20)])?;              // January only
/// let c = cohort_retention([&a, &b], NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
/// assert_eq!(c.len(), 1);
/// assert_eq!((c[0].label(), c[0].customers, c[0].returning.clone()), ("2026-01".into(), 2, vec![0, 1]));
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn cohort_retention<'a>(
    book: impl IntoIterator<Item = &'a Stats>,
    until: NaiveDate,
) -> Vec<CohortRetention> {
    let Some(last_day) = until.pred_opt() else {
        return Vec::new();
    };
    let horizon = month_index(last_day);
    // First month → (customers, returning per k).
    let mut cohorts: BTreeMap<i64, (u64, Vec<u64>)> = BTreeMap::new();
    for stats in book {
        let mut days = stats.purchase_days().take_while(|d| *d < until);
        let Some(first) = days.next() else { continue };
        let first = month_index(first);
        let span = usize::try_from(horizon - first).unwrap_or(0);
        let entry = cohorts.entry(first).or_insert_with(|| (0, vec![0; span]));
        entry.0 += 1;
        let mut seen = 0;
        for d in days {
            let k = month_index(d) - first;
            // Days are ascending: count each month once.
            if k > seen {
                seen = k;
                if let Some(slot) = usize::try_from(k - 1).ok().and_then(|i| entry.1.get_mut(i)) {
                    *slot += 1;
                }
            }
        }
    }
    cohorts
        .into_iter()
        .map(|(m, (customers, returning))| CohortRetention {
            year: i32::try_from(m.div_euclid(12)).unwrap_or(i32::MAX),
            month: u32::try_from(m.rem_euclid(12) + 1).unwrap_or(1),
            customers,
            returning,
        })
        .collect()
}

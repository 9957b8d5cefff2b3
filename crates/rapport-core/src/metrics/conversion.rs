//! Conversion of prospects into customers.

use crate::metrics::period::{Period, Rate};
use crate::model::customer::Customer;
use crate::model::stats::Stats;

/// Prospects created in `period` who make a first purchase within `within_days` days (default
/// 30 in DOMAIN.md) ÷ prospects created in `period`.
///
/// A prospect created in the period is a live customer whose creation day is in the period
/// and who has no purchase day before it; it converts when its first purchase day is at most
/// `within_days` days after its creation day. Stats know purchase days, not times: a customer
/// created on the day of its first purchase (as a transactions import creates them) counts as
/// a prospect converted on day 0.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::{Period, conversion};
/// let at = Utc.with_ymd_and_hms(2026, 1, 10, 9, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), at);
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// let r = conversion([(&c, &Stats::default())], Period::new(d(1, 1), d(2, 1))?, 30);
/// assert_eq!((r.numerator, r.denominator), (0, 1)); // a prospect that has not bought
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn conversion<'a>(
    book: impl IntoIterator<Item = (&'a Customer, &'a Stats)>,
    period: Period,
    within_days: u32,
) -> Rate {
    let mut rate = Rate::default();
    for (customer, stats) in book {
        if !customer.is_live() {
            continue;
        }
        let created = customer.created_at().naive_utc().date();
        if !period.contains(created) {
            continue;
        }
        let first = stats.first_purchase_day();
        if first.is_some_and(|f| f < created) {
            continue;
        }
        rate.denominator += 1;
        let converted = first.is_some_and(|f| (f - created).num_days() <= i64::from(within_days));
        rate.numerator += u64::from(converted);
    }
    rate
}

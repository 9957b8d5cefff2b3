//! [`PurchaseSummary`]: what one customer's line items tell a segment — which skus it bought
//! (`bought("sku")`) and how much it spent per category over a window
//! (`category_spend("tea", 365)`). Built from the customer's stored [`LineItems`], pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Days, Utc};
use rust_decimal::Decimal;

use crate::model::id::{OrderId, ProductCategory, Sku};
use crate::model::line_item::LineItems;
use crate::ports::net_purchases;

/// One category's line, as it counts toward `category_spend`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spend {
    category: ProductCategory,
    /// The time of the purchase the line belongs to (a refund's: its order's purchase).
    counted_at: DateTime<Utc>,
    /// When the line list itself happened (a refund counts only once it has happened).
    at: DateTime<Utc>,
    /// quantity × unit price, negative for a refund's line.
    amount: Decimal,
}

/// One customer's purchases as segments read them (`bought`, `category_spend`), built from
/// its line lists with [`PurchaseSummary::from_line_items`] and handed to a segment with
/// [`SegmentContext::with_purchases`](super::SegmentContext::with_purchases).
///
/// - **bought(sku)**: as the recommender counts it ([`net_purchases`]): some order of the
///   customer holds more of the sku than that order's refund lines give back.
/// - **category_spend(category, days, now)**: Σ quantity × unit price of the lines of that
///   category whose purchase happened on a UTC day `d` with `today − days < d <= today`
///   (`today` is `now`'s UTC day: the window of `revenue_365d`,
///   [`Stats::window`](crate::Stats::window)), minus the lines of refunds of such purchases.
///   A refund's lines count on the day of its order's purchase, as [`Stats`](crate::Stats)
///   counts refunds on the purchase day, whenever the refund was made; a refund of an order
///   without purchase lines counts on its own day. Lines without a category count toward
///   none. Amounts are in the customer's currency (a customer buys in one). The same
///   figure as [`Stats::category_spend`](crate::Stats::category_spend) when the stats track
///   the category.
///
/// ```
/// use chrono::{TimeZone, Utc, Duration};
/// use rapport_core::*;
/// use rapport_core::segment::PurchaseSummary;
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let tea = Some(ProductCategory::new("tea")?);
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// let c = CustomerId::from_u128(7);
/// let list = |id, days_ago, order: &str, refund, items| LineItems { activity: ActivityId::from_u128(id),
///     customer: c, order: OrderId::new(order).unwrap(), at: now - Duration::days(days_ago), refund, items };
/// let rows = [
///     list(1, 10, "o1", false, vec![LineItem::new(Sku::new("puer")?, 2, usd("30"), tea.clone())?,
///                                  LineItem::new(Sku::new("cup")?, 1, usd("5"), None)?]),
///     list(2, 400, "o2", false, vec![LineItem::new(Sku::new("sencha")?, 1, usd("20"), tea.clone())?]),
///     list(3, 5, "o1", true, vec![LineItem::new(Sku::new("puer")?, 1, usd("30"), tea.clone())?]),
/// ];
/// let p = PurchaseSummary::from_line_items(&rows);
/// assert!(p.bought(&Sku::new("puer")?) && p.bought(&Sku::new("sencha")?));
/// let tea = ProductCategory::new("tea")?;
/// assert_eq!(p.category_spend(&tea, 365, now), "30".parse().unwrap()); // 60 - 30 refunded
/// assert_eq!(p.category_spend(&tea, 36_500, now), "50".parse().unwrap());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurchaseSummary {
    bought: BTreeSet<Sku>,
    spend: Vec<Spend>,
}

impl PurchaseSummary {
    /// The summary of one customer's line lists (purchases' and refunds'), in any order.
    ///
    /// ```
    /// use rapport_core::segment::PurchaseSummary;
    /// let none = PurchaseSummary::from_line_items(&[]);
    /// assert!(none.skus().next().is_none());
    /// ```
    #[must_use]
    pub fn from_line_items(rows: &[LineItems]) -> Self {
        let bought = net_purchases(rows).into_iter().map(|(_, s)| s).collect();
        // Each order's purchase time: its earliest purchase line list.
        let mut purchased: HashMap<&OrderId, DateTime<Utc>> = HashMap::new();
        for r in rows.iter().filter(|r| !r.refund) {
            purchased
                .entry(&r.order)
                .and_modify(|t| *t = (*t).min(r.at))
                .or_insert(r.at);
        }
        let mut spend = Vec::new();
        for r in rows {
            let counted_at = if r.refund {
                purchased.get(&r.order).copied().unwrap_or(r.at)
            } else {
                r.at
            };
            for l in &r.items {
                let Some(category) = &l.category else {
                    continue;
                };
                let Some(total) = l.unit_price.amount.checked_mul(Decimal::from(l.quantity)) else {
                    continue;
                };
                spend.push(Spend {
                    category: category.clone(),
                    counted_at,
                    at: r.at,
                    amount: if r.refund { -total } else { total },
                });
            }
        }
        Self { bought, spend }
    }

    /// True when the customer bought `sku`, net of full refunds.
    ///
    /// ```
    /// use rapport_core::Sku;
    /// use rapport_core::segment::PurchaseSummary;
    /// assert!(!PurchaseSummary::default().bought(&Sku::new("tea").unwrap()));
    /// ```
    #[must_use]
    pub fn bought(&self, sku: &Sku) -> bool {
        self.bought.contains(sku)
    }

    /// The skus bought (net of full refunds), in sku order.
    ///
    /// ```
    /// use rapport_core::segment::PurchaseSummary;
    /// assert_eq!(PurchaseSummary::default().skus().count(), 0);
    /// ```
    pub fn skus(&self) -> impl Iterator<Item = &Sku> {
        self.bought.iter()
    }

    /// Lifetime net spend per category as of `now` (purchases at or before `now`, net of the
    /// refunds made by then), categories in order: the per-category totals a report shows.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let tea = ProductCategory::new("tea")?;
    /// let lines = LineItems { activity: ActivityId::from_u128(1), customer: CustomerId::from_u128(2),
    ///     order: OrderId::new("o1")?, at: DateTime::UNIX_EPOCH, refund: false,
    ///     items: vec![LineItem::new(Sku::new("puer")?, 3, usd("2.50"), Some(tea.clone()))?] };
    /// let p = PurchaseSummary::from_line_items(&[lines]);
    /// let totals = p.category_totals(DateTime::UNIX_EPOCH);
    /// assert_eq!(totals.get(&tea), Some(&"7.50".parse().unwrap()));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn category_totals(&self, now: DateTime<Utc>) -> BTreeMap<ProductCategory, Decimal> {
        let mut out: BTreeMap<ProductCategory, Decimal> = BTreeMap::new();
        for s in self
            .spend
            .iter()
            .filter(|s| s.at <= now && s.counted_at <= now)
        {
            let sum = out.entry(s.category.clone()).or_insert(Decimal::ZERO);
            *sum = sum.saturating_add(s.amount);
        }
        out
    }

    /// Net spend on `category` over purchases of the `days` UTC days ending with `now`'s day
    /// (see the type's docs);
    /// zero when there is none. Sums that do not fit a `Decimal` saturate.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::ProductCategory;
    /// use rapport_core::segment::PurchaseSummary;
    /// let tea = ProductCategory::new("tea").unwrap();
    /// assert!(PurchaseSummary::default().category_spend(&tea, 30, DateTime::UNIX_EPOCH).is_zero());
    /// ```
    #[must_use]
    pub fn category_spend(
        &self,
        category: &ProductCategory,
        days: u32,
        now: DateTime<Utc>,
    ) -> Decimal {
        let today = now.date_naive();
        let start = today.checked_sub_days(Days::new(u64::from(days)));
        self.spend
            .iter()
            .filter(|s| {
                let d = s.counted_at.date_naive();
                &s.category == category && d <= today && start.is_none_or(|st| d > st)
            })
            .fold(Decimal::ZERO, |acc, s| acc.saturating_add(s.amount))
    }
}

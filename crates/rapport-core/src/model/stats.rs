//! [`Stats`]: figures folded from a customer's activities.
//!
//! The fold is **order-independent**: every field is a sum, a max, or a sorted per-day table,
//! so folding activities one by one as they arrive gives exactly what rebuilding from the full
//! history gives, whatever the arrival order. Rolling windows are not stored; they are read
//! at a `now` passed in, from the per-day table.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind, ActivityType, Csat, Feedback, Nps, Severity};
use crate::model::category_spend::CategorySpend;
use crate::model::money::{Currency, Money};

/// Totals of one UTC calendar day with purchases or refunds.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use rapport_core::*;
/// # use rust_decimal::Decimal;
/// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
/// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
/// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
/// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
/// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
/// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
/// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
/// // refund(id, day, order id, order day, cents, full)
/// // Two orders on 1 March; the second is refunded in full on 4 March.
/// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 1, 500), refund(3, 4, 2, 1, 500, true)])?;
/// let d = &stats.days()[0];
/// assert_eq!((d.day, d.orders, d.full_refunds), (day(1).date_naive(), 2, 1));
/// assert_eq!(d.revenue, Decimal::new(1000, 2)); // a refund counts against the day of its order
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    /// The UTC day.
    pub day: NaiveDate,
    /// Orders placed that day.
    pub orders: u32,
    /// Orders of that day refunded in full.
    pub full_refunds: u32,
    /// Revenue of the orders placed that day, net of their refunds.
    pub revenue: Decimal,
    /// Net margin of the orders of that day (known margins only, refunds deducted).
    pub margin: Decimal,
}

impl DayTotals {
    fn empty(day: NaiveDate) -> Self {
        Self {
            day,
            orders: 0,
            full_refunds: 0,
            revenue: Decimal::ZERO,
            margin: Decimal::ZERO,
        }
    }

    /// True when at least one order of the day was not refunded in full: a **purchase day**.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 2, 500), refund(3, 4, 2, 2, 500, true)])?;
    /// assert!(stats.days()[0].is_purchase_day());
    /// assert!(!stats.days()[1].is_purchase_day()); // its only order was refunded in full
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn is_purchase_day(&self) -> bool {
        self.orders > self.full_refunds
    }

    /// Revenue net of refunds (the same as the `revenue` field).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), refund(2, 3, 1, 1, 250, false)])?;
    /// assert_eq!(stats.days()[0].net_revenue(), Decimal::new(750, 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn net_revenue(&self) -> Decimal {
        self.revenue
    }
}

/// A value with the time it was observed.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use rapport_core::*;
/// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
/// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
/// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// # let feedback = |n, d, feedback| act(n, d, ActivityKind::Feedback { feedback });
/// // feedback(id, day, answer)
/// let stats = Stats::from_activities(&[feedback(1, 5, Feedback::Nps(Nps::new(9)?))])?;
/// let Stamped { at, value } = stats.last_nps().unwrap();
/// assert_eq!((at, value.get()), (day(5), 9));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamped<T> {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub value: T,
}

/// Figures over a window of days ending at a given `now` (see [`Stats::window`]).
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use rapport_core::*;
/// # use rust_decimal::Decimal;
/// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
/// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
/// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
/// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
/// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
/// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
/// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500), buy(3, 20, 500)])?;
/// let w: Window = stats.window(day(25), 10);
/// assert_eq!((w.purchase_days, w.orders), (1, 2));
/// assert_eq!(w.revenue, Decimal::new(3000, 2));
/// assert_eq!(w.margin, Decimal::new(750, 2));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Window {
    /// Purchase days in the window.
    pub purchase_days: u32,
    /// Orders in the window, less those refunded in full.
    pub orders: u32,
    /// Net revenue in the window.
    pub revenue: Decimal,
    /// Net margin in the window.
    pub margin: Decimal,
}

/// Figures folded from a customer's activities.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let buy = |n: u128, day: u32, cents: i64| Activity::new(
///     ActivityId::from_u128(n), CustomerId::from_u128(1),
///     Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(), Channel::Web,
///     IdempotencyKey::new(format!("o{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::new(cents, 2), Currency::USD), margin: None },
/// ).unwrap();
/// let mut stats = Stats::default();
/// for a in [buy(1, 1, 1000), buy(2, 1, 500), buy(3, 20, 2500)] {
///     stats.apply(&a).unwrap();
/// }
/// assert_eq!(stats.orders(), 3);
/// assert_eq!(stats.purchase_day_count(), 2); // two orders on 1 March count once
/// assert_eq!(stats.revenue().unwrap().amount, Decimal::new(4000, 2));
/// let now = Utc.with_ymd_and_hms(2026, 4, 5, 0, 0, 0).unwrap();
/// assert_eq!(stats.window(now, 30).revenue, Decimal::new(2500, 2));
/// assert_eq!(stats.days_since_last_purchase(now), Some(16));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    // Empty parts are left out of the serialised form: most customers have few activities
    // and the stored row stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    days: Vec<DayTotals>,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    orders: u32,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    full_refunds: u32,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    revenue: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    refunded: Decimal,
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    margin: Decimal,
    #[serde(default, skip_serializing_if = "all_zero")]
    counts: [u32; 8],
    #[serde(default, skip_serializing_if = "all_none")]
    last_at: [Option<DateTime<Utc>>; 8],
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    complaints: Vec<Stamped<Severity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_nps: Option<Stamped<Nps>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_csat: Option<Stamped<Csat>>,
    // Boxed: a host that tracks no category pays one pointer per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) category_spend: Option<Box<CategorySpend>>,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn all_zero(v: &[u32; 8]) -> bool {
    v.iter().all(|x| *x == 0)
}

fn all_none(v: &[Option<DateTime<Utc>>; 8]) -> bool {
    v.iter().all(Option::is_none)
}

/// The UTC calendar day of a time (without going through chrono's offset arithmetic).
fn utc_day(at: DateTime<Utc>) -> NaiveDate {
    at.naive_utc().date()
}

fn add(field: &'static str, a: Decimal, b: Decimal) -> Result<Decimal, DomainError> {
    a.checked_add(b).ok_or(DomainError::Overflow { field })
}

fn later<T: Ord + Copy>(cur: Option<Stamped<T>>, new: Stamped<T>) -> Option<Stamped<T>> {
    // Max by (time, value): a total order, so the fold does not depend on arrival order.
    Some(cur.map_or(new, |c| c.max(new)))
}

impl Stats {
    /// Folds a list of activities (any order).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let a = [buy(1, 20, 2500), buy(2, 1, 1000)];
    /// let stats = Stats::from_activities(&a)?;
    /// assert_eq!(stats, Stats::from_activities(a.iter().rev())?); // order does not matter
    /// let eur = act(3, 2, ActivityKind::Purchase { order_id: order(3), amount: Money::new(Decimal::ONE, Currency::EUR), margin: None });
    /// assert!(matches!(Stats::from_activities(&[buy(1, 1, 1000), eur]), Err(DomainError::CurrencyMismatch { .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Stats::apply`]; on error nothing is returned.
    pub fn from_activities<'a>(
        activities: impl IntoIterator<Item = &'a Activity>,
    ) -> Result<Self, DomainError> {
        let mut s = Stats::default();
        for a in activities {
            s.apply(a)?;
        }
        Ok(s)
    }

    /// Folds one activity in.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // complaint(id, day, severity)
    /// let mut stats = Stats::default();
    /// stats.apply(&buy(1, 1, 1000))?;
    /// stats.apply(&complaint(2, 3, Severity::Low))?;
    /// assert_eq!((stats.orders(), stats.count(ActivityType::Complaint)), (1, 1));
    /// let eur = act(3, 4, ActivityKind::Purchase { order_id: order(3), amount: Money::new(Decimal::ONE, Currency::EUR), margin: None });
    /// assert!(stats.apply(&eur).is_err());
    /// assert_eq!(stats.orders(), 1); // unchanged on error
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::CurrencyMismatch`] when a money amount is not in the currency of the
    /// earlier ones, [`DomainError::NegativeAmount`] for a negative purchase or refund,
    /// [`DomainError::Overflow`] when a total overflows. On error `self` is unchanged.
    pub fn apply(&mut self, a: &Activity) -> Result<(), DomainError> {
        a.kind.validate()?;
        match &a.kind {
            ActivityKind::Purchase { amount, margin, .. } => {
                self.check_currency(amount)?;
                let margin = margin.unwrap_or(Decimal::ZERO);
                let revenue = add("revenue", self.revenue, amount.amount)?;
                let total_margin = add("margin", self.margin, margin)?;
                let (idx, existing) = self.find_day(utc_day(a.at));
                let day = match existing {
                    Some(d) => &self.days[d],
                    None => &DayTotals::empty(utc_day(a.at)),
                };
                let day_revenue = add("revenue", day.revenue, amount.amount)?;
                let day_margin = add("margin", day.margin, margin)?;
                // Everything checked: now commit.
                let orders = day.orders + 1;
                let day = self.day_at(idx, existing.is_some(), utc_day(a.at));
                day.orders = orders;
                day.revenue = day_revenue;
                day.margin = day_margin;
                self.currency = Some(amount.currency);
                self.revenue = revenue;
                self.margin = total_margin;
                self.orders += 1;
            }
            ActivityKind::Refund {
                amount,
                margin,
                purchased_at,
                full,
                ..
            } => {
                self.check_currency(amount)?;
                let margin = margin.unwrap_or(Decimal::ZERO);
                let sub = |a: Decimal, b: Decimal| {
                    a.checked_sub(b)
                        .ok_or(DomainError::Overflow { field: "margin" })
                };
                let refunded = add("refunded", self.refunded, amount.amount)?;
                let total_margin = sub(self.margin, margin)?;
                let date = utc_day(*purchased_at);
                let (idx, existing) = self.find_day(date);
                let day = match existing {
                    Some(d) => &self.days[d],
                    None => &DayTotals::empty(date),
                };
                let day_revenue = day
                    .revenue
                    .checked_sub(amount.amount)
                    .ok_or(DomainError::Overflow { field: "revenue" })?;
                let day_margin = sub(day.margin, margin)?;
                let day = self.day_at(idx, existing.is_some(), date);
                day.revenue = day_revenue;
                day.margin = day_margin;
                day.full_refunds += u32::from(*full);
                self.currency = Some(amount.currency);
                self.refunded = refunded;
                self.margin = total_margin;
                self.full_refunds += u32::from(*full);
            }
            ActivityKind::CartAbandoned { value: Some(v) } => self.check_currency(v)?,
            ActivityKind::Complaint { severity } => {
                let c = Stamped {
                    at: a.at,
                    value: *severity,
                };
                let pos = self.complaints.partition_point(|x| *x <= c);
                self.complaints.insert(pos, c);
            }
            ActivityKind::Feedback { feedback } => match feedback {
                Feedback::Nps(n) => {
                    self.last_nps = later(
                        self.last_nps,
                        Stamped {
                            at: a.at,
                            value: *n,
                        },
                    );
                }
                Feedback::Csat(c) => {
                    self.last_csat = later(
                        self.last_csat,
                        Stamped {
                            at: a.at,
                            value: *c,
                        },
                    );
                }
            },
            _ => {}
        }
        let i = a.kind.activity_type().index();
        self.counts[i] += 1;
        self.last_at[i] = Some(self.last_at[i].map_or(a.at, |t| t.max(a.at)));
        Ok(())
    }

    fn check_currency(&self, m: &Money) -> Result<(), DomainError> {
        match self.currency {
            Some(c) if c != m.currency => Err(DomainError::CurrencyMismatch {
                expected: c,
                found: m.currency,
            }),
            _ => Ok(()),
        }
    }

    /// Where `day` is (`Some(index)`) or would be inserted (`(index, None)`).
    fn find_day(&self, day: NaiveDate) -> (usize, Option<usize>) {
        // Activities mostly arrive in time order: check the end first.
        match self.days.last() {
            Some(last) if last.day == day => (self.days.len() - 1, Some(self.days.len() - 1)),
            Some(last) if last.day < day => (self.days.len(), None),
            None => (0, None),
            Some(_) => match self.days.binary_search_by_key(&day, |d| d.day) {
                Ok(i) => (i, Some(i)),
                Err(i) => (i, None),
            },
        }
    }

    /// The totals at `idx`, inserting an empty day there first when it does not exist.
    fn day_at(&mut self, idx: usize, exists: bool, day: NaiveDate) -> &mut DayTotals {
        if !exists {
            self.days.insert(idx, DayTotals::empty(day));
        }
        &mut self.days[idx]
    }

    /// The currency of the money amounts, once one was seen.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// assert_eq!(Stats::default().currency(), None);
    /// assert_eq!(Stats::from_activities(&[buy(1, 1, 1000)])?.currency(), Some(Currency::USD));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// Orders placed (purchase activities), refunded ones included.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 2, 500), refund(3, 4, 2, 2, 500, true)])?;
    /// assert_eq!(stats.orders(), 2);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn orders(&self) -> u32 {
        self.orders
    }

    /// Orders refunded in full.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 2, 500), refund(3, 4, 2, 2, 500, true)])?;
    /// assert_eq!(stats.full_refunds(), 1);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn full_refunds(&self) -> u32 {
        self.full_refunds
    }

    /// Net revenue (purchases minus refunds), `None` before any money activity.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// assert_eq!(Stats::default().revenue(), None);
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), refund(2, 3, 1, 1, 250, false)])?;
    /// assert_eq!(stats.revenue().unwrap().to_string(), "7.50 USD");
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn revenue(&self) -> Option<Money> {
        self.currency
            .map(|c| Money::new(self.revenue - self.refunded, c))
    }

    /// Net revenue as a bare number (zero before any purchase).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// assert!(Stats::default().revenue_amount().is_zero());
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), refund(2, 3, 1, 1, 250, false)])?;
    /// assert_eq!(stats.revenue_amount(), Decimal::new(750, 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn revenue_amount(&self) -> Decimal {
        self.revenue - self.refunded
    }

    /// Net margin of the purchases whose margin is known, `None` before any money activity.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// // Each purchase here has a margin of a quarter of its amount.
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 2, 2000)])?;
    /// assert_eq!(stats.margin().unwrap().to_string(), "7.50 USD");
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn margin(&self) -> Option<Money> {
        self.currency.map(|c| Money::new(self.margin, c))
    }

    /// Net margin as a bare number.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000)])?;
    /// assert_eq!(stats.margin_amount(), Decimal::new(250, 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn margin_amount(&self) -> Decimal {
        self.margin
    }

    /// The per-day table, sorted by day (days with only refunds included).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 9, 500), buy(2, 1, 1000), buy(3, 1, 200)])?;
    /// let days: Vec<_> = stats.days().iter().map(|d| (d.day, d.orders)).collect();
    /// assert_eq!(days, [(day(1).date_naive(), 2), (day(9).date_naive(), 1)]);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn days(&self) -> &[DayTotals] {
        &self.days
    }

    /// Purchase days (a day with an order not refunded in full), in order.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let refund = |n, d, of: u128, of_day, cents, full| act(n, d, ActivityKind::Refund { order_id: order(of), amount: usd(cents), margin: None, purchased_at: day(of_day), full });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // refund(id, day, order id, order day, cents, full)
    /// let stats = Stats::from_activities(&[buy(1, 9, 500), buy(2, 1, 1000), buy(3, 5, 200), refund(4, 6, 3, 5, 200, true)])?;
    /// assert_eq!(stats.purchase_days().collect::<Vec<_>>(), [day(1).date_naive(), day(9).date_naive()]);
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn purchase_days(&self) -> impl DoubleEndedIterator<Item = NaiveDate> + '_ {
        self.days
            .iter()
            .filter(|d| d.is_purchase_day())
            .map(|d| d.day)
    }

    /// Number of purchase days.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 1, 500), buy(3, 20, 2500)])?;
    /// assert_eq!(stats.purchase_day_count(), 2); // two orders on one day count once
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn purchase_day_count(&self) -> u32 {
        self.purchase_days().count() as u32
    }

    /// Purchase days on or before `day`.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 9, 500), buy(3, 20, 2500)])?;
    /// assert_eq!(stats.purchase_days_until(day(9).date_naive()).count(), 2);
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn purchase_days_until(&self, day: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.purchase_days().take_while(move |d| *d <= day)
    }

    /// First purchase day.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 9, 500), buy(2, 1, 1000)])?;
    /// assert_eq!(stats.first_purchase_day(), Some(day(1).date_naive()));
    /// assert_eq!(Stats::default().first_purchase_day(), None);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn first_purchase_day(&self) -> Option<NaiveDate> {
        self.purchase_days().next()
    }

    /// Last purchase day.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 9, 500), buy(2, 1, 1000)])?;
    /// assert_eq!(stats.last_purchase_day(), Some(day(9).date_naive()));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn last_purchase_day(&self) -> Option<NaiveDate> {
        self.purchase_days().next_back()
    }

    /// Whole days from the last purchase day to `now`'s UTC day (never negative).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.days_since_last_purchase(day(25)), Some(5));
    /// assert_eq!(stats.days_since_last_purchase(day(10)), Some(9)); // purchases after `now` are ignored
    /// assert_eq!(Stats::default().days_since_last_purchase(day(25)), None);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn days_since_last_purchase(&self, now: DateTime<Utc>) -> Option<i64> {
        let today = now.date_naive();
        self.purchase_days_until(today)
            .last()
            .map(|d| (today - d).num_days())
    }

    /// Whole days from the first purchase day to `now`'s UTC day.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.days_since_first_purchase(day(25)), Some(24));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn days_since_first_purchase(&self, now: DateTime<Utc>) -> Option<i64> {
        let today = now.date_naive();
        self.first_purchase_day()
            .filter(|d| *d <= today)
            .map(|d| (today - d).num_days())
    }

    /// Figures over the `days` UTC days ending with `now`'s day: purchase days `d` with
    /// `today - days < d <= today`.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.window(day(25), 5).orders, 0); // 20 March is not after 25 - 5
    /// assert_eq!(stats.window(day(25), 6).revenue, Decimal::new(2500, 2));
    /// assert_eq!(stats.window(day(25), 30).purchase_days, 2);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn window(&self, now: DateTime<Utc>, days: u32) -> Window {
        let today = now.date_naive();
        // A window longer than the calendar reaches back to its first day (no panic).
        let start = today
            .checked_sub_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MIN);
        let from = self.days.partition_point(|d| d.day <= start);
        let mut w = Window::default();
        for d in self.days[from..].iter().take_while(|d| d.day <= today) {
            w.orders += d.orders.saturating_sub(d.full_refunds);
            w.purchase_days += u32::from(d.is_purchase_day());
            w.revenue += d.net_revenue();
            w.margin += d.margin;
        }
        w
    }

    /// The 30-day window at `now`.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.rolling_30(day(31)), stats.window(day(31), 30));
    /// assert_eq!(stats.rolling_30(day(31)).orders, 1);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn rolling_30(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 30)
    }

    /// The 90-day window at `now`.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.rolling_90(day(31)).orders, 2);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn rolling_90(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 90)
    }

    /// The 365-day window at `now` (the default tier metric reads its revenue).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), buy(2, 20, 2500)])?;
    /// assert_eq!(stats.rolling_365(day(31)).revenue, Decimal::new(3500, 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn rolling_365(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 365)
    }

    /// How many activities of a type were folded in.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // complaint(id, day, severity)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), complaint(2, 2, Severity::High), complaint(3, 5, Severity::Low)])?;
    /// assert_eq!(stats.count(ActivityType::Complaint), 2);
    /// assert_eq!(stats.count(ActivityType::Visit), 0);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn count(&self, t: ActivityType) -> u32 {
        self.counts[t.index()]
    }

    /// Time of the latest activity of a type.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // complaint(id, day, severity)
    /// let stats = Stats::from_activities(&[complaint(1, 5, Severity::Low), complaint(2, 2, Severity::High)])?;
    /// assert_eq!(stats.last_at(ActivityType::Complaint), Some(day(5)));
    /// assert_eq!(stats.last_at(ActivityType::Purchase), None);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn last_at(&self, t: ActivityType) -> Option<DateTime<Utc>> {
        self.last_at[t.index()]
    }

    /// Time of the latest activity of any type.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let usd = |cents| Money::new(Decimal::new(cents, 2), Currency::USD);
    /// # let order = |n: u128| OrderId::new(format!("o{n}")).unwrap();
    /// # let buy = |n, d, cents: i64| act(n, d, ActivityKind::Purchase { order_id: order(n), amount: usd(cents), margin: Some(Decimal::new(cents / 4, 2)) });
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // buy(id, day in March 2026, cents) is a USD purchase with a 25 % margin;
    /// // complaint(id, day, severity)
    /// let stats = Stats::from_activities(&[buy(1, 1, 1000), complaint(2, 7, Severity::Low)])?;
    /// assert_eq!(stats.last_activity_at(), Some(day(7)));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn last_activity_at(&self) -> Option<DateTime<Utc>> {
        self.last_at.iter().flatten().max().copied()
    }

    /// All complaints, oldest first.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // complaint(id, day, severity)
    /// let stats = Stats::from_activities(&[complaint(1, 5, Severity::Low), complaint(2, 2, Severity::High)])?;
    /// let severities: Vec<_> = stats.complaints().iter().map(|c| c.value).collect();
    /// assert_eq!(severities, [Severity::High, Severity::Low]);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn complaints(&self) -> &[Stamped<Severity>] {
        &self.complaints
    }

    /// Complaints in the `days` days ending with `now`'s day.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let complaint = |n, d, severity| act(n, d, ActivityKind::Complaint { severity });
    /// // complaint(id, day, severity)
    /// let stats = Stats::from_activities(&[complaint(1, 2, Severity::High), complaint(2, 20, Severity::Low)])?;
    /// assert_eq!(stats.complaints_within(day(25), 10), 1);
    /// assert_eq!(stats.complaints_within(day(25), 30), 2);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn complaints_within(&self, now: DateTime<Utc>, days: u32) -> usize {
        let today = now.date_naive();
        // A window longer than the calendar reaches back to its first day (no panic).
        let start = today
            .checked_sub_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MIN);
        self.complaints
            .iter()
            .filter(|c| {
                let d = c.at.date_naive();
                d > start && d <= today
            })
            .count()
    }

    /// The latest NPS answer.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let feedback = |n, d, feedback| act(n, d, ActivityKind::Feedback { feedback });
    /// // feedback(id, day, answer)
    /// let stats = Stats::from_activities(&[
    ///     feedback(1, 9, Feedback::Nps(Nps::new(3)?)),
    ///     feedback(2, 2, Feedback::Nps(Nps::new(10)?)),
    /// ])?;
    /// assert!(stats.last_nps().unwrap().value.is_detractor()); // the answer of 9 March
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn last_nps(&self) -> Option<Stamped<Nps>> {
        self.last_nps
    }

    /// The latest CSAT answer.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let day = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// # let act = |n: u128, d: u32, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(1),
    /// #     day(d), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// # let feedback = |n, d, feedback| act(n, d, ActivityKind::Feedback { feedback });
    /// // feedback(id, day, answer)
    /// let stats = Stats::from_activities(&[feedback(1, 4, Feedback::Csat(Csat::new(5)?))])?;
    /// assert_eq!(stats.last_csat().map(|s| s.value.get()), Some(5));
    /// assert_eq!(stats.last_nps(), None);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn last_csat(&self) -> Option<Stamped<Csat>> {
        self.last_csat
    }
}

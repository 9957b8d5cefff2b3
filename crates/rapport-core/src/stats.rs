//! [`Stats`]: figures folded from a customer's activities.
//!
//! The fold is **order-independent**: every field is a sum, a max, or a sorted per-day table,
//! so folding activities one by one as they arrive gives exactly what rebuilding from the full
//! history gives, whatever the arrival order. Rolling windows are not stored; they are read
//! at a `now` passed in, from the per-day table.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::activity::{Activity, ActivityKind, ActivityType, Csat, Feedback, Nps, Severity};
use crate::error::DomainError;
use crate::money::{Currency, Money};

/// Totals of one UTC calendar day with purchases or refunds.
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
    #[must_use]
    pub fn is_purchase_day(&self) -> bool {
        self.orders > self.full_refunds
    }

    /// Revenue net of refunds (the same as the `revenue` field).
    #[must_use]
    pub fn net_revenue(&self) -> Decimal {
        self.revenue
    }
}

/// A value with the time it was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamped<T> {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub value: T,
}

/// Figures over a window of days ending at a given `now` (see [`Stats::window`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Window {
    /// Purchase days in the window.
    pub purchase_days: u32,
    /// Orders in the window.
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
    #[must_use]
    pub fn currency(&self) -> Option<Currency> {
        self.currency
    }

    /// Orders placed (purchase activities), refunded ones included.
    #[must_use]
    pub fn orders(&self) -> u32 {
        self.orders
    }

    /// Orders refunded in full.
    #[must_use]
    pub fn full_refunds(&self) -> u32 {
        self.full_refunds
    }

    /// Net revenue (purchases minus refunds), `None` before any money activity.
    #[must_use]
    pub fn revenue(&self) -> Option<Money> {
        self.currency
            .map(|c| Money::new(self.revenue - self.refunded, c))
    }

    /// Net revenue as a bare number (zero before any purchase).
    #[must_use]
    pub fn revenue_amount(&self) -> Decimal {
        self.revenue - self.refunded
    }

    /// Net margin of the purchases whose margin is known, `None` before any money activity.
    #[must_use]
    pub fn margin(&self) -> Option<Money> {
        self.currency.map(|c| Money::new(self.margin, c))
    }

    /// Net margin as a bare number.
    #[must_use]
    pub fn margin_amount(&self) -> Decimal {
        self.margin
    }

    /// The per-day table, sorted by day (days with only refunds included).
    #[must_use]
    pub fn days(&self) -> &[DayTotals] {
        &self.days
    }

    /// Purchase days (a day with an order not refunded in full), in order.
    pub fn purchase_days(&self) -> impl DoubleEndedIterator<Item = NaiveDate> + '_ {
        self.days
            .iter()
            .filter(|d| d.is_purchase_day())
            .map(|d| d.day)
    }

    /// Number of purchase days.
    #[must_use]
    pub fn purchase_day_count(&self) -> u32 {
        self.purchase_days().count() as u32
    }

    /// Purchase days on or before `day`.
    pub fn purchase_days_until(&self, day: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.purchase_days().take_while(move |d| *d <= day)
    }

    /// First purchase day.
    #[must_use]
    pub fn first_purchase_day(&self) -> Option<NaiveDate> {
        self.purchase_days().next()
    }

    /// Last purchase day.
    #[must_use]
    pub fn last_purchase_day(&self) -> Option<NaiveDate> {
        self.purchase_days().next_back()
    }

    /// Whole days from the last purchase day to `now`'s UTC day (never negative).
    #[must_use]
    pub fn days_since_last_purchase(&self, now: DateTime<Utc>) -> Option<i64> {
        let today = now.date_naive();
        self.purchase_days_until(today)
            .last()
            .map(|d| (today - d).num_days())
    }

    /// Whole days from the first purchase day to `now`'s UTC day.
    #[must_use]
    pub fn days_since_first_purchase(&self, now: DateTime<Utc>) -> Option<i64> {
        let today = now.date_naive();
        self.first_purchase_day()
            .filter(|d| *d <= today)
            .map(|d| (today - d).num_days())
    }

    /// Figures over the `days` UTC days ending with `now`'s day: purchase days `d` with
    /// `today - days < d <= today`.
    #[must_use]
    pub fn window(&self, now: DateTime<Utc>, days: u32) -> Window {
        let today = now.date_naive();
        let start = today - chrono::Days::new(u64::from(days));
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
    #[must_use]
    pub fn rolling_30(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 30)
    }

    /// The 90-day window at `now`.
    #[must_use]
    pub fn rolling_90(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 90)
    }

    /// The 365-day window at `now` (the default tier metric reads its revenue).
    #[must_use]
    pub fn rolling_365(&self, now: DateTime<Utc>) -> Window {
        self.window(now, 365)
    }

    /// How many activities of a type were folded in.
    #[must_use]
    pub fn count(&self, t: ActivityType) -> u32 {
        self.counts[t.index()]
    }

    /// Time of the latest activity of a type.
    #[must_use]
    pub fn last_at(&self, t: ActivityType) -> Option<DateTime<Utc>> {
        self.last_at[t.index()]
    }

    /// Time of the latest activity of any type.
    #[must_use]
    pub fn last_activity_at(&self) -> Option<DateTime<Utc>> {
        self.last_at.iter().flatten().max().copied()
    }

    /// All complaints, oldest first.
    #[must_use]
    pub fn complaints(&self) -> &[Stamped<Severity>] {
        &self.complaints
    }

    /// Complaints in the `days` days ending with `now`'s day.
    #[must_use]
    pub fn complaints_within(&self, now: DateTime<Utc>, days: u32) -> usize {
        let today = now.date_naive();
        let start = today - chrono::Days::new(u64::from(days));
        self.complaints
            .iter()
            .filter(|c| {
                let d = c.at.date_naive();
                d > start && d <= today
            })
            .count()
    }

    /// The latest NPS answer.
    #[must_use]
    pub fn last_nps(&self) -> Option<Stamped<Nps>> {
        self.last_nps
    }

    /// The latest CSAT answer.
    #[must_use]
    pub fn last_csat(&self) -> Option<Stamped<Csat>> {
        self.last_csat
    }
}

//! [`CategorySpend`]: net spend per UTC day on the product categories a host tracks, kept in
//! [`Stats`] so that `category_spend("tea", 365)` is answered without reading
//! the customer's line items.
//!
//! Folded from purchase and refund line lists: a purchase's lines add on the day of the
//! purchase, a refund's lines subtract on the day of the order's purchase (its
//! `purchased_at`), as [`Stats`] counts refunds against the day of their order.
//! Every table is a sum per (category, day), so the fold does not depend on the order lines
//! arrive in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind};
use crate::model::id::ProductCategory;
use crate::model::line_item::LineItems;
use crate::model::stats::Stats;

/// One UTC day's net spend on a category.
///
/// ```
/// use rapport_core::CategoryDay;
/// let d = CategoryDay { day: "2026-03-01".parse().unwrap(), net: "12.50".parse().unwrap() };
/// assert_eq!(d.net.to_string(), "12.50");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryDay {
    /// The UTC day of the purchases.
    pub day: NaiveDate,
    /// Σ quantity × unit price of the category's lines of that day's purchases, minus the
    /// lines refunded from them.
    pub net: Decimal,
}

/// Net spend per UTC day on each tracked category (see the module docs).
///
/// `tracked` says which categories the tables are complete for: a category outside it has no
/// table here, and its spend is read from the line items instead.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let tea = ProductCategory::new("tea")?;
/// let spend = CategorySpend::tracking([tea.clone()]);
/// assert!(spend.tracks(&tea));
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// assert_eq!(spend.spend(&tea, 365, now), Some(rust_decimal::Decimal::ZERO));
/// assert_eq!(spend.spend(&ProductCategory::new("cups")?, 365, now), None); // not tracked
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CategorySpend {
    tracked: BTreeSet<ProductCategory>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    days: BTreeMap<ProductCategory, Vec<CategoryDay>>,
}

impl CategorySpend {
    /// Empty tables for `categories`.
    ///
    /// ```
    /// use rapport_core::*;
    /// let s = CategorySpend::tracking([ProductCategory::new("tea")?]);
    /// assert_eq!(s.tracked().count(), 1);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn tracking(categories: impl IntoIterator<Item = ProductCategory>) -> Self {
        Self {
            tracked: categories.into_iter().collect(),
            days: BTreeMap::new(),
        }
    }

    /// True when `category`'s table is kept.
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(!CategorySpend::default().tracks(&ProductCategory::new("tea")?));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn tracks(&self, category: &ProductCategory) -> bool {
        self.tracked.contains(category)
    }

    /// The tracked categories, in order.
    ///
    /// ```
    /// use rapport_core::*;
    /// assert_eq!(CategorySpend::default().tracked().count(), 0);
    /// ```
    pub fn tracked(&self) -> impl Iterator<Item = &ProductCategory> {
        self.tracked.iter()
    }

    /// A tracked category's days with spend, oldest first (empty for any other category).
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(CategorySpend::default().days(&ProductCategory::new("tea")?).is_empty());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn days(&self, category: &ProductCategory) -> &[CategoryDay] {
        self.days.get(category).map_or(&[], Vec::as_slice)
    }

    /// Net spend on `category` over the purchase days `d` with `today - days < d <= today`
    /// (`today` is `now`'s UTC day: the window of [`Stats::window`](crate::Stats::window));
    /// `None` when the category is not tracked. Sums that do not fit a `Decimal` saturate.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let tea = ProductCategory::new("tea")?;
    /// assert!(CategorySpend::tracking([tea.clone()]).spend(&tea, 30, DateTime::UNIX_EPOCH).unwrap().is_zero());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn spend(
        &self,
        category: &ProductCategory,
        days: u32,
        now: DateTime<Utc>,
    ) -> Option<Decimal> {
        if !self.tracks(category) {
            return None;
        }
        let table = self.days(category);
        let today = now.date_naive();
        // A window longer than the calendar reaches back to its first day (no panic).
        let start = today
            .checked_sub_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MIN);
        let from = table.partition_point(|d| d.day <= start);
        Some(
            table[from..]
                .iter()
                .take_while(|d| d.day <= today)
                .fold(Decimal::ZERO, |acc, d| acc.saturating_add(d.net)),
        )
    }

    /// Folds one line list of `activity` (the purchase or refund it belongs to) into the
    /// tracked categories' tables; lines of other categories, or without one, are left out.
    /// A list that belongs to another activity, or to an activity that is neither a purchase
    /// nor a refund, adds nothing.
    ///
    /// # Errors
    /// [`DomainError::Overflow`] when a line total or a day's sum overflows; on error `self`
    /// is unchanged.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// let usd = Money::new("30".parse().unwrap(), Currency::USD);
    /// let tea = ProductCategory::new("tea")?;
    /// let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), at, Channel::Web,
    ///     IdempotencyKey::new("o1")?, ActivityKind::Purchase { order_id: OrderId::new("o1")?, amount: usd, margin: None })?;
    /// let lines = LineItems::of(&buy, vec![LineItem::new(Sku::new("puer")?, 2, Money::new("15".parse().unwrap(), Currency::USD), Some(tea.clone()))?], false)?;
    /// let mut spend = CategorySpend::tracking([tea.clone()]);
    /// spend.apply(&buy, &lines)?;
    /// assert_eq!(spend.spend(&tea, 1, at), Some("30".parse().unwrap()));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn apply(&mut self, activity: &Activity, lines: &LineItems) -> Result<(), DomainError> {
        if lines.activity != activity.id {
            return Ok(());
        }
        let (day, sign) = match &activity.kind {
            ActivityKind::Purchase { .. } => (activity.at.date_naive(), Decimal::ONE),
            ActivityKind::Refund { purchased_at, .. } => {
                (purchased_at.date_naive(), Decimal::NEGATIVE_ONE)
            }
            _ => return Ok(()),
        };
        let overflow = || DomainError::Overflow {
            field: "category_spend",
        };
        // Every sum checked first, then committed: on error nothing changes.
        let mut sums: BTreeMap<&ProductCategory, Decimal> = BTreeMap::new();
        for l in &lines.items {
            let Some(c) = l.category.as_ref().filter(|c| self.tracked.contains(*c)) else {
                continue;
            };
            let total = l
                .unit_price
                .amount
                .checked_mul(Decimal::from(l.quantity))
                .ok_or_else(overflow)?;
            let sum = sums.entry(c).or_insert(Decimal::ZERO);
            *sum = sum.checked_add(total * sign).ok_or_else(overflow)?;
        }
        let mut updates = Vec::with_capacity(sums.len());
        for (c, add) in sums {
            let table = self.days(c);
            let at = table.partition_point(|d| d.day < day);
            let existing = table.get(at).filter(|d| d.day == day);
            let net = existing
                .map_or(Decimal::ZERO, |d| d.net)
                .checked_add(add)
                .ok_or_else(overflow)?;
            updates.push((c.clone(), at, existing.is_some(), net));
        }
        for (c, at, existing, net) in updates {
            let table = self.days.entry(c).or_default();
            if existing {
                table[at].net = net;
            } else {
                table.insert(at, CategoryDay { day, net });
            }
        }
        Ok(())
    }
}

/// Per-category spend in [`Stats`]: kept only for the categories named by
/// [`Stats::track_categories`] (the service takes them from
/// [`StatsPolicy::category_spend`](crate::StatsPolicy::category_spend)).
impl Stats {
    /// Starts keeping the spend of `categories` (empty tables; none kept when empty). The
    /// tables are complete only once every line list of the customer is folded in with
    /// [`Stats::apply_lines`] — [`Stats::from_history`] does both.
    ///
    /// ```
    /// use rapport_core::*;
    /// let tea = ProductCategory::new("tea")?;
    /// let mut s = Stats::default();
    /// s.track_categories([tea.clone()]);
    /// assert!(s.tracks_category(&tea));
    /// s.track_categories([]);
    /// assert_eq!(s, Stats::default()); // nothing kept
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn track_categories(&mut self, categories: impl IntoIterator<Item = ProductCategory>) {
        let spend = CategorySpend::tracking(categories);
        self.category_spend = (!spend.tracked.is_empty()).then(|| Box::new(spend));
    }

    /// True when the spend of `category` is kept (and `category_spend(category, …)` is
    /// answered from these stats).
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(!Stats::default().tracks_category(&ProductCategory::new("tea")?));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn tracks_category(&self, category: &ProductCategory) -> bool {
        self.category_spend
            .as_ref()
            .is_some_and(|s| s.tracks(category))
    }

    /// The per-category tables, when any category is tracked.
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(Stats::default().category_tables().is_none());
    /// ```
    #[must_use]
    pub fn category_tables(&self) -> Option<&CategorySpend> {
        self.category_spend.as_deref()
    }

    /// True when exactly `categories` are tracked (none tracked for an empty set).
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(Stats::default().tracks_exactly(&Default::default()));
    /// ```
    #[must_use]
    pub fn tracks_exactly(&self, categories: &BTreeSet<ProductCategory>) -> bool {
        match &self.category_spend {
            None => categories.is_empty(),
            Some(s) => s.tracked.iter().eq(categories.iter()),
        }
    }

    /// `category_spend(category, days)` at `now` from the kept tables (see
    /// [`CategorySpend::spend`]); `None` when the category is not tracked.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let tea = ProductCategory::new("tea")?;
    /// assert_eq!(Stats::default().category_spend(&tea, 30, DateTime::UNIX_EPOCH), None);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn category_spend(
        &self,
        category: &ProductCategory,
        days: u32,
        now: DateTime<Utc>,
    ) -> Option<Decimal> {
        self.category_spend.as_ref()?.spend(category, days, now)
    }

    /// Folds the line list of `activity` (its purchase or refund) into the tracked
    /// categories; nothing when none is tracked. Order-independent, like [`Stats::apply`].
    ///
    /// # Errors
    /// As [`CategorySpend::apply`]; on error `self` is unchanged.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let tea = ProductCategory::new("tea")?;
    /// let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), at, Channel::Web,
    ///     IdempotencyKey::new("o1")?, ActivityKind::Purchase { order_id: OrderId::new("o1")?, amount: usd("30"), margin: None })?;
    /// let lines = LineItems::of(&buy, vec![LineItem::new(Sku::new("puer")?, 2, usd("15"), Some(tea.clone()))?], false)?;
    /// let mut stats = Stats::default();
    /// stats.track_categories([tea.clone()]);
    /// stats.apply(&buy)?;
    /// stats.apply_lines(&buy, &lines)?;
    /// assert_eq!(stats.category_spend(&tea, 365, at), Some("30".parse().unwrap()));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn apply_lines(
        &mut self,
        activity: &Activity,
        lines: &LineItems,
    ) -> Result<(), DomainError> {
        match self.category_spend.as_mut() {
            Some(s) => s.apply(activity, lines),
            None => Ok(()),
        }
    }

    /// Folds a recorded activity's line lists into the stats (the activity itself folded
    /// already) under `tracked`, the [`StatsPolicy`](crate::StatsPolicy)'s categories. Stats
    /// folded under another policy start tracking `tracked` when the customer had no order
    /// before this one (`first_order`: no lines to catch up on); otherwise they stop keeping
    /// per-category spend, which is then read from the line items until the history is
    /// folded again ([`Stats::from_history`]). What recording one activity and a bulk import
    /// both do, so they fold the same stats.
    ///
    /// # Errors
    /// As [`Stats::apply_lines`].
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let tea = ProductCategory::new("tea")?;
    /// let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), at, Channel::Web,
    ///     IdempotencyKey::new("o1")?, ActivityKind::Purchase { order_id: OrderId::new("o1")?, amount: usd("30"), margin: None })?;
    /// let lines = LineItems::of(&buy, vec![LineItem::new(Sku::new("puer")?, 2, usd("15"), Some(tea.clone()))?], false)?;
    /// let mut stats = Stats::default();
    /// stats.apply(&buy)?;
    /// stats.fold_lines(&[tea.clone()].into(), true, &buy, &[lines])?;
    /// assert_eq!(stats.category_spend(&tea, 365, at), Some("30".parse().unwrap()));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn fold_lines(
        &mut self,
        tracked: &BTreeSet<ProductCategory>,
        first_order: bool,
        activity: &Activity,
        lines: &[LineItems],
    ) -> Result<(), DomainError> {
        if !self.tracks_exactly(tracked) {
            if first_order {
                self.track_categories(tracked.iter().cloned());
            } else {
                self.track_categories([]);
            }
        }
        for l in lines {
            self.apply_lines(activity, l)?;
        }
        Ok(())
    }

    /// The stats of a whole history: `activities` folded, `categories` tracked and every line
    /// list of `lines` folded with its activity (a list whose activity is not among
    /// `activities` is left out). What a merge or a re-fold computes.
    ///
    /// # Errors
    /// As [`Stats::apply`] and [`Stats::apply_lines`].
    ///
    /// ```
    /// use rapport_core::*;
    /// let tea = ProductCategory::new("tea")?;
    /// let s = Stats::from_history(&[], &[], [tea.clone()])?;
    /// assert!(s.tracks_category(&tea));
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn from_history(
        activities: &[Activity],
        lines: &[LineItems],
        categories: impl IntoIterator<Item = ProductCategory>,
    ) -> Result<Self, DomainError> {
        let mut stats = Self::from_activities(activities)?;
        stats.track_categories(categories);
        if stats.category_spend.is_some() {
            let by_id: std::collections::HashMap<_, _> =
                activities.iter().map(|a| (a.id, a)).collect();
            for l in lines {
                if let Some(a) = by_id.get(&l.activity) {
                    stats.apply_lines(a, l)?;
                }
            }
        }
        Ok(stats)
    }
}

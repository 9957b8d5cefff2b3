//! Churn rate, win-back rate, the stage funnel and the flows between two dates, with stages
//! recomputed from the purchase history by the lifecycle machine.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::lifecycle::{LifecyclePolicy, stage_at};
use crate::metrics::period::{Period, Rate};
use crate::model::customer::Customer;
use crate::model::lifecycle::{Lifecycle, Stage};
use crate::model::stats::Stats;

/// The stage of a customer at `at`, recomputed from its purchase history and an observed
/// cancellation with [`stage_at`]; `None` for a tombstone (merged or erased: a merged
/// customer's history counts under its survivor) and for a customer not yet in the book at
/// `at` (created later and no purchase day on or before `at`'s day). Manual overrides are
/// presentation, not history: they are ignored.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::stage_on;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), t0);
/// let p = LifecyclePolicy::default();
/// assert_eq!(stage_on(&c, &Stats::default(), &p, t0), Some(Stage::Prospect));
/// assert_eq!(stage_on(&c, &Stats::default(), &p, t0 - Duration::days(1)), None);
/// ```
#[must_use]
pub fn stage_on(
    customer: &Customer,
    stats: &Stats,
    policy: &LifecyclePolicy,
    at: DateTime<Utc>,
) -> Option<Stage> {
    if !customer.is_live() {
        return None;
    }
    let in_book = customer.created_at() <= at
        || stats
            .first_purchase_day()
            .is_some_and(|d| d <= at.naive_utc().date());
    if !in_book {
        return None;
    }
    let state = Lifecycle {
        cancelled_at: customer.lifecycle.cancelled_at,
        ..Lifecycle::default()
    };
    Some(stage_at(stats, &state, policy, at, None).to)
}

/// The lifecycle machine's stage at the close of `today` for a live customer without a manual
/// override or a P(alive): [`stage_at`]'s rules without building its reason, on the purchase
/// days up to `today` (ascending). The review calls it twice per customer, so it must not
/// allocate; `prop_review_stages_equal_stage_at` holds it to [`stage_at`].
fn stage_of(
    days: &[NaiveDate],
    cancelled_on: Option<NaiveDate>,
    policy: &LifecyclePolicy,
    today: NaiveDate,
) -> Stage {
    let cancelled_on = cancelled_on.filter(|c| *c <= today);
    let Some(&last) = days.last() else {
        return if cancelled_on.is_some() {
            Stage::Churned
        } else {
            Stage::Prospect
        };
    };
    if cancelled_on.is_some_and(|c| last <= c) {
        return Stage::Churned;
    }
    let silent = policy.silent_after_days(days);
    let churn = policy.churn_after_from_silent(silent);
    let d = (today - last).num_days();
    if (d as f64) > churn {
        Stage::Churned
    } else if days.len() == 1 {
        if d <= i64::from(policy.new_window_days) {
            Stage::New
        } else {
            Stage::Silent
        }
    } else if (d as f64) > silent {
        Stage::Silent
    } else {
        Stage::Active
    }
}

fn live_index(s: Stage) -> usize {
    Stage::LIVE.iter().position(|x| *x == s).unwrap_or(0)
}

/// Customers per live stage.
///
/// ```
/// use rapport_core::Stage;
/// use rapport_core::metrics::StageCounts;
/// let mut c = StageCounts::default();
/// c.add(Stage::Active);
/// assert_eq!((c.get(Stage::Active), c.get(Stage::Silent), c.total()), (1, 0, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCounts([u64; 5]);

impl StageCounts {
    /// Counts one customer in `stage` (tombstones are not counted).
    pub fn add(&mut self, stage: Stage) {
        if stage.is_live() {
            self.0[live_index(stage)] += 1;
        }
    }

    /// Customers in `stage` (0 for a tombstone).
    #[must_use]
    pub fn get(&self, stage: Stage) -> u64 {
        if stage.is_live() {
            self.0[live_index(stage)]
        } else {
            0
        }
    }

    /// Customers in any stage.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(stage, customers)` in funnel order, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (Stage, u64)> + '_ {
        Stage::LIVE.iter().copied().zip(self.0.iter().copied())
    }
}

/// Customers who went from one stage to another over a period; `from` is `None` for those
/// who entered the book during it.
///
/// ```
/// use rapport_core::Stage;
/// use rapport_core::metrics::StageFlow;
/// let f = StageFlow { from: Some(Stage::Active), to: Stage::Silent, customers: 3 };
/// assert_eq!(f.label(), "active->silent");
/// assert_eq!(StageFlow { from: None, ..f }.label(), "none->silent");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageFlow {
    /// Stage at the start (`None`: not yet in the book).
    pub from: Option<Stage>,
    /// Stage at the end.
    pub to: Stage,
    /// How many customers.
    pub customers: u64,
}

impl StageFlow {
    /// `"active->silent"`; `"none->new"` for customers who joined during the period.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}->{}", self.from.map_or("none", Stage::as_str), self.to)
    }
}

/// The stage figures of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StageReview {
    /// The period.
    pub period: Period,
    /// Customers New, Active or Silent at the start who are Churned at the end ÷ those
    /// customers.
    pub churn_rate: Rate,
    /// Customers Churned at the start with a purchase day in the period ÷ customers Churned
    /// at the start.
    pub win_back_rate: Rate,
    /// Customers per stage at the start.
    pub opening: StageCounts,
    /// Customers per stage at the end: the stage funnel.
    pub funnel: StageCounts,
    /// `(stage at start → stage at end)` counts, non-zero ones only, in funnel order of
    /// `from` (newcomers first) then `to`.
    pub flows: Vec<StageFlow>,
}

/// Churn rate, win-back rate, funnel and flows over `period`, in one pass over the book
/// (customers with their stats). Stages are [`stage_on`] at [`Period::opening`] and
/// [`Period::closing`].
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::{Period, stage_review};
/// use rust_decimal::Decimal;
/// let t = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), t(2025, 1, 1));
/// let buy = |n: u128, at| Activity::new(ActivityId::from_u128(n), c.id(), at, Channel::Web,
///     IdempotencyKey::new(format!("k{n}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
///         amount: Money::new(Decimal::TEN, Currency::USD), margin: None }).unwrap();
/// // Two purchases in January 2025, then nothing: Active at the start of July, Churned by the end of 2025.
/// let stats = Stats::from_activities(&[buy(1, t(2025, 1, 1)), buy(2, t(2025, 1, 20))])?;
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let r = stage_review([(&c, &stats)], &LifecyclePolicy::default(), Period::new(d(2025, 2, 1), d(2026, 1, 1))?);
/// assert_eq!((r.churn_rate.numerator, r.churn_rate.denominator), (1, 1));
/// assert_eq!(r.flows[0].label(), "active->churned");
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn stage_review<'a>(
    book: impl IntoIterator<Item = (&'a Customer, &'a Stats)>,
    policy: &LifecyclePolicy,
    period: Period,
) -> StageReview {
    let (t0, t1) = (period.opening(), period.closing());
    let (first_day, last_day) = (t0.naive_utc().date(), t1.naive_utc().date());
    let mut opening = StageCounts::default();
    let mut funnel = StageCounts::default();
    // Rows: stage at the start (index 5 = not yet in the book); columns: stage at the end.
    let mut flow = [[0u64; 5]; 6];
    let mut churn = Rate::default();
    let mut win_back = Rate::default();
    // Purchase days up to the end, reused from customer to customer; those up to the start
    // are a prefix of them.
    let mut days: Vec<NaiveDate> = Vec::new();
    for (customer, stats) in book {
        if !customer.is_live() {
            continue;
        }
        days.clear();
        days.extend(stats.purchase_days_until(last_day));
        let in_book = |t: DateTime<Utc>, day: NaiveDate| {
            customer.created_at() <= t || days.first().is_some_and(|d| *d <= day)
        };
        if !in_book(t1, last_day) {
            continue;
        }
        let cancelled_on = customer
            .lifecycle
            .cancelled_at
            .map(|c| c.naive_utc().date());
        let end = stage_of(&days, cancelled_on, policy, last_day);
        let before = days.partition_point(|d| *d <= first_day);
        let start = in_book(t0, first_day)
            .then(|| stage_of(&days[..before], cancelled_on, policy, first_day));
        funnel.add(end);
        let row = start.map_or(5, live_index);
        flow[row][live_index(end)] += 1;
        match start {
            Some(s @ (Stage::New | Stage::Active | Stage::Silent)) => {
                opening.add(s);
                churn.denominator += 1;
                churn.numerator += u64::from(end == Stage::Churned);
            }
            Some(Stage::Churned) => {
                opening.add(Stage::Churned);
                win_back.denominator += 1;
                // Days after the prefix are the period's purchase days.
                win_back.numerator += u64::from(days.len() > before);
            }
            Some(s) => opening.add(s),
            None => {}
        }
    }
    let froms = std::iter::once(None).chain(Stage::LIVE.iter().copied().map(Some));
    let mut flows = Vec::new();
    for from in froms {
        let row = from.map_or(5, live_index);
        for (col, to) in Stage::LIVE.iter().enumerate() {
            let n = flow[row][col];
            if n > 0 {
                flows.push(StageFlow {
                    from,
                    to: *to,
                    customers: n,
                });
            }
        }
    }
    StageReview {
        period,
        churn_rate: churn,
        win_back_rate: win_back,
        opening,
        funnel,
        flows,
    }
}

//! Lifecycle rules: how a customer moves between stages (prospect → new → active ⇄
//! silent → churned, win-backs counted), decided from the purchase rhythm and `now`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::lifecycle::{Lifecycle, Stage};
use chrono::NaiveDate;

use crate::decide::reason::Reason;
use crate::error::DomainError as Error;
use crate::model::stats::Stats;

/// How `silent_after` is chosen.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_core::{LifecyclePolicy, SilentAfter};
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// let weekly = [d(1, 1), d(1, 8), d(1, 15), d(1, 22)];
/// // The default is adaptive: max(30, 3 × median gap of 7) = 30 days.
/// assert_eq!(LifecyclePolicy::default().silent_after_days(&weekly), 30.0);
/// let fixed = LifecyclePolicy { silent_after: SilentAfter::Fixed { days: 45 }, ..LifecyclePolicy::default() };
/// assert_eq!(fixed.silent_after_days(&weekly), 45.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum SilentAfter {
    /// `max(min_days, k × median gap)` between purchase days; `fallback_days` with fewer than
    /// `min_purchase_days` purchase days.
    Adaptive {
        /// Floor, in days (default 30).
        min_days: u32,
        /// Multiplier of the median gap (default 3).
        k: f64,
        /// Used below `min_purchase_days` (default 60).
        fallback_days: u32,
        /// Purchase days needed for the adaptive rule (default 3).
        min_purchase_days: u32,
    },
    /// A fixed number of days.
    Fixed {
        /// Days.
        days: u32,
    },
}

/// The lifecycle rules' parameters. `Default` is DOMAIN.md's defaults.
///
/// ```
/// use rapport_core::LifecyclePolicy;
/// let p = LifecyclePolicy::default();
/// assert_eq!(p.new_window_days, 90);
/// assert_eq!(p.churn_after_min_days, 180);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecyclePolicy {
    /// A one-purchase customer stays New this many days (default 90).
    pub new_window_days: u32,
    /// When an active customer turns Silent.
    pub silent_after: SilentAfter,
    /// `churn_after = max(churn_after_min_days, churn_factor × silent_after)` (180, 2).
    pub churn_after_min_days: u32,
    /// See `churn_after_min_days`.
    pub churn_factor: f64,
    /// With a fitted model, Churned also when P(alive) is below this (default 0.1).
    pub p_alive_churned_below: f64,
}

impl Default for LifecyclePolicy {
    fn default() -> Self {
        Self {
            new_window_days: 90,
            silent_after: SilentAfter::Adaptive {
                min_days: 30,
                k: 3.0,
                fallback_days: 60,
                min_purchase_days: 3,
            },
            churn_after_min_days: 180,
            churn_factor: 2.0,
            p_alive_churned_below: 0.1,
        }
    }
}

/// The median of whole-day gaps between consecutive days (mean of the two middle ones for an
/// even count); `None` with fewer than two days.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_core::median_gap;
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// assert_eq!(median_gap(&[d(1, 1)]), None);
/// assert_eq!(median_gap(&[d(1, 1), d(1, 11), d(1, 14)]), Some(6.5)); // gaps 10 and 3
/// assert_eq!(median_gap(&[d(1, 1), d(1, 2), d(1, 12), d(1, 14)]), Some(2.0)); // 1, 10, 2
/// ```
#[must_use]
pub fn median_gap(days: &[NaiveDate]) -> Option<f64> {
    let n = days.len().checked_sub(1).filter(|n| *n > 0)?;
    // Most histories are short: keep their gaps on the stack.
    let mut stack = [0i64; 32];
    let mut heap = Vec::new();
    let gaps: &mut [i64] = if n <= stack.len() {
        &mut stack[..n]
    } else {
        heap.resize(n, 0);
        &mut heap
    };
    for (g, w) in gaps.iter_mut().zip(days.windows(2)) {
        *g = (w[1] - w[0]).num_days();
    }
    gaps.sort_unstable();
    let n = gaps.len();
    Some(if n % 2 == 1 {
        gaps[n / 2] as f64
    } else {
        (gaps[n / 2 - 1] + gaps[n / 2]) as f64 / 2.0
    })
}

impl LifecyclePolicy {
    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::InvalidPolicy`] for a non-finite or non-positive factor, or a
    /// `p_alive_churned_below` outside 0..=1.
    ///
    /// ```
    /// use rapport_core::{DomainError, LifecyclePolicy};
    /// assert!(LifecyclePolicy::default().validate().is_ok());
    /// let p = LifecyclePolicy { churn_factor: 0.0, ..LifecyclePolicy::default() };
    /// assert!(matches!(p.validate(), Err(DomainError::InvalidPolicy { field: "churn_factor", .. })));
    /// let p = LifecyclePolicy { p_alive_churned_below: 1.5, ..LifecyclePolicy::default() };
    /// assert!(p.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, value: f64| Error::InvalidPolicy {
            field,
            value: value.to_string(),
            reason: "must be a finite number above zero",
        };
        if !(self.churn_factor.is_finite() && self.churn_factor > 0.0) {
            return Err(bad("churn_factor", self.churn_factor));
        }
        if let SilentAfter::Adaptive { k, .. } = self.silent_after {
            if !(k.is_finite() && k > 0.0) {
                return Err(bad("silent_after.k", k));
            }
        }
        if !(0.0..=1.0).contains(&self.p_alive_churned_below) {
            return Err(Error::InvalidPolicy {
                field: "p_alive_churned_below",
                value: self.p_alive_churned_below.to_string(),
                reason: "must be a probability in [0, 1]",
            });
        }
        Ok(())
    }

    /// `silent_after` in days for a history of purchase days (sorted).
    ///
    /// ```
    /// use chrono::{Duration, NaiveDate};
    /// use rapport_core::LifecyclePolicy;
    /// let p = LifecyclePolicy::default();
    /// let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    /// let every = |gap: i64, n: i64| (0..n).map(|i| start + Duration::days(gap * i)).collect::<Vec<_>>();
    /// assert_eq!(p.silent_after_days(&every(20, 2)), 60.0); // fewer than 3 purchase days: fallback
    /// assert_eq!(p.silent_after_days(&every(20, 4)), 60.0); // 3 × 20
    /// assert_eq!(p.silent_after_days(&every(5, 4)), 30.0); // floor of 30 days
    /// ```
    #[must_use]
    pub fn silent_after_days(&self, purchase_days: &[NaiveDate]) -> f64 {
        match self.silent_after {
            SilentAfter::Fixed { days } => f64::from(days),
            SilentAfter::Adaptive {
                min_days,
                k,
                fallback_days,
                min_purchase_days,
            } => {
                if (purchase_days.len() as u64) < u64::from(min_purchase_days) {
                    f64::from(fallback_days)
                } else {
                    median_gap(purchase_days).map_or(f64::from(fallback_days), |m| {
                        (k * m).max(f64::from(min_days))
                    })
                }
            }
        }
    }

    /// `churn_after` in days for a history of purchase days:
    /// `max(churn_after_min_days, churn_factor × silent_after)`.
    ///
    /// ```
    /// use chrono::{Duration, NaiveDate};
    /// use rapport_core::LifecyclePolicy;
    /// let p = LifecyclePolicy::default();
    /// let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    /// let every = |gap: i64| (0..4).map(|i| start + Duration::days(gap * i)).collect::<Vec<_>>();
    /// assert_eq!(p.churn_after_days(&every(10)), 180.0); // 2 × 30 is below the 180-day floor
    /// assert_eq!(p.churn_after_days(&every(40)), 240.0); // 2 × 3 × 40
    /// ```
    #[must_use]
    pub fn churn_after_days(&self, purchase_days: &[NaiveDate]) -> f64 {
        self.churn_after_from_silent(self.silent_after_days(purchase_days))
    }

    pub(crate) fn churn_after_from_silent(&self, silent_after: f64) -> f64 {
        (self.churn_factor * silent_after).max(f64::from(self.churn_after_min_days))
    }
}

/// A purchase history read once at `now`: the purchase days up to `now`'s day and the
/// `silent_after`/`churn_after` they give. Stage and churn risk both need it.
#[derive(Debug, Clone)]
pub(crate) struct Rhythm {
    /// Purchase days up to today, ascending.
    pub(crate) days: Vec<NaiveDate>,
    /// `silent_after` in days.
    pub(crate) silent_after: f64,
    /// `churn_after` in days.
    pub(crate) churn_after: f64,
}

impl LifecyclePolicy {
    /// Reads the history in `stats` as of `now`.
    pub(crate) fn rhythm(&self, stats: &Stats, now: DateTime<Utc>) -> Rhythm {
        let days: Vec<NaiveDate> = stats.purchase_days_until(now.date_naive()).collect();
        let silent_after = self.silent_after_days(&days);
        Rhythm {
            churn_after: self.churn_after_from_silent(silent_after),
            silent_after,
            days,
        }
    }
}

/// The stage a customer is in at `now`, with why and the win-back count.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let cancelled = Lifecycle::default().cancel(now)?;
/// let d = stage_at(&Stats::default(), &cancelled, &LifecyclePolicy::default(), now, None);
/// assert_eq!((d.from, d.to), (Stage::Churned, Stage::Churned));
/// assert!(!d.changed());
/// assert_eq!(d.reason.rule, "lifecycle.cancelled");
/// let d = stage_at(&Stats::default(), &Lifecycle { stage: Stage::New, ..Lifecycle::default() },
///     &LifecyclePolicy::default(), now, None);
/// assert!(d.changed()); // no purchase day: back to Prospect
/// assert_eq!(d.win_backs, 0);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StageDecision {
    /// Stage before.
    pub from: Stage,
    /// Stage at `now`.
    pub to: Stage,
    /// Why.
    pub reason: Reason,
    /// Win-backs in the history up to `now`.
    pub win_backs: u32,
}

impl StageDecision {
    /// True when the stage moves.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let policy = LifecyclePolicy::default();
    /// let new = Lifecycle { stage: Stage::New, ..Lifecycle::default() };
    /// assert!(stage_at(&Stats::default(), &new, &policy, now, None).changed()); // no purchase: Prospect
    /// assert!(!stage_at(&Stats::default(), &Lifecycle::default(), &policy, now, None).changed());
    /// ```
    #[must_use]
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

/// Win-backs in a purchase history: purchase days that come after a gap longer than the
/// `churn_after` of the history before them, plus one for a purchase after an observed
/// cancellation.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_core::{LifecyclePolicy, win_backs};
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// let p = LifecyclePolicy::default();
/// // A year without purchases (> 180 days): the purchase after the gap is a win-back.
/// let days = [d(2025, 1, 1), d(2025, 1, 20), d(2026, 3, 1)];
/// assert_eq!(win_backs(&days, None, &p), 1);
/// assert_eq!(win_backs(&days[..2], None, &p), 0);
/// // A purchase after an observed cancellation is one more.
/// assert_eq!(win_backs(&days, Some(d(2026, 2, 1)), &p), 2);
/// ```
#[must_use]
pub fn win_backs(
    days: &[NaiveDate],
    cancelled_on: Option<NaiveDate>,
    policy: &LifecyclePolicy,
) -> u32 {
    let mut n = 0;
    // `churn_after` is never below `churn_after_min_days`, so only the (rare) long gaps need
    // the prefix's median: linear for a daily buyer instead of quadratic.
    let floor = f64::from(policy.churn_after_min_days);
    for i in 1..days.len() {
        let gap = (days[i] - days[i - 1]).num_days() as f64;
        if gap > floor && gap > policy.churn_after_days(&days[..i]) {
            n += 1;
        }
    }
    if let Some(c) = cancelled_on {
        if days.iter().any(|d| *d > c) {
            n += 1;
        }
    }
    n
}

/// The stage at `now`: a pure function of the purchase history in `stats`, the lifecycle state
/// (tombstones, an observed cancellation, a manual override), the policy, `now`, and — when a
/// fitted model is supplied — P(alive). Rules: DOMAIN.md "Lifecycle state machine".
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let d = stage_at(&Stats::default(), &Lifecycle::default(), &LifecyclePolicy::default(), now, None);
/// assert_eq!(d.to, Stage::Prospect);
/// assert_eq!(d.reason.rule, "lifecycle.no_purchase");
/// ```
#[must_use]
pub fn stage_at(
    stats: &Stats,
    state: &Lifecycle,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
    p_alive: Option<f64>,
) -> StageDecision {
    stage_with(&policy.rhythm(stats, now), state, policy, now, p_alive)
}

/// [`stage_at`] on a history already read (evaluate shares it with churn risk).
pub(crate) fn stage_with(
    rhythm: &Rhythm,
    state: &Lifecycle,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
    p_alive: Option<f64>,
) -> StageDecision {
    let from = state.stage;
    let today = now.date_naive();
    let days = &rhythm.days;
    let cancelled_on = state
        .cancelled_at
        .map(|c| c.date_naive())
        .filter(|c| *c <= today);
    let win_backs = win_backs(days, cancelled_on, policy);
    let decide = |to: Stage, reason: Reason| StageDecision {
        from,
        to,
        reason,
        win_backs,
    };
    if !from.is_live() {
        return decide(
            from,
            Reason::new("lifecycle.terminal", now).note(from.as_str()),
        );
    }
    if let Some(o) = state.manual.as_ref().filter(|o| o.until > now) {
        return decide(
            o.stage,
            Reason::new("lifecycle.override", now)
                .threshold("until", o.until)
                .note(format!("{} by {}: {}", o.stage, o.actor, o.reason)),
        );
    }
    let Some(last) = days.last().copied() else {
        return match cancelled_on {
            Some(c) => decide(
                Stage::Churned,
                Reason::new("lifecycle.cancelled", now).measured("cancelled_on", c),
            ),
            None => decide(
                Stage::Prospect,
                Reason::new("lifecycle.no_purchase", now).measured("purchase_days", 0i64),
            ),
        };
    };
    if let Some(c) = cancelled_on {
        if last <= c {
            return decide(
                Stage::Churned,
                Reason::new("lifecycle.cancelled", now)
                    .measured("cancelled_on", c)
                    .note("no purchase since the cancellation"),
            );
        }
    }
    let d = (today - last).num_days();
    let (silent, churn) = (rhythm.silent_after, rhythm.churn_after);
    let measured = |r: Reason| r.measured("days_since_last_purchase", d);
    if let Some(p) = p_alive {
        if p < policy.p_alive_churned_below {
            return decide(
                Stage::Churned,
                Reason::new("lifecycle.p_alive", now)
                    .measured("p_alive", p)
                    .threshold("p_alive_churned_below", policy.p_alive_churned_below),
            );
        }
    }
    if (d as f64) > churn {
        return decide(
            Stage::Churned,
            measured(Reason::new("lifecycle.churn_after", now))
                .threshold("churn_after_days", churn),
        );
    }
    if days.len() == 1 {
        return if d <= i64::from(policy.new_window_days) {
            decide(
                Stage::New,
                measured(Reason::new("lifecycle.new_window", now))
                    .threshold("new_window_days", policy.new_window_days),
            )
        } else {
            decide(
                Stage::Silent,
                measured(Reason::new("lifecycle.no_repeat_purchase", now))
                    .threshold("new_window_days", policy.new_window_days),
            )
        };
    }
    if (d as f64) > silent {
        decide(
            Stage::Silent,
            measured(Reason::new("lifecycle.silent_after", now))
                .threshold("silent_after_days", silent),
        )
    } else {
        decide(
            Stage::Active,
            measured(Reason::new("lifecycle.active", now)).threshold("silent_after_days", silent),
        )
    }
}

/// What [`advance`] returns: the next lifecycle state and the decision that led to it.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let Advanced { lifecycle, decision } =
///     advance(&Lifecycle::default(), &Stats::default(), &LifecyclePolicy::default(), now, None);
/// assert_eq!((lifecycle.stage, decision.to), (Stage::Prospect, Stage::Prospect));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Advanced {
    /// The state to store: the new stage and `since` when it changed, win-backs, an expired
    /// manual override dropped.
    pub lifecycle: Lifecycle,
    /// The stage decision with its reason.
    pub decision: StageDecision,
}

/// Recomputes the stage at `now` and returns the new lifecycle state with the decision.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let next = advance(&Lifecycle::default(), &Stats::default(), &LifecyclePolicy::default(), now, None);
/// assert!(!next.decision.changed());
/// assert_eq!(next.lifecycle.stage, Stage::Prospect);
/// ```
pub fn advance(
    state: &Lifecycle,
    stats: &Stats,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
    p_alive: Option<f64>,
) -> Advanced {
    advance_with(&policy.rhythm(stats, now), state, policy, now, p_alive)
}

/// [`advance`] on a history already read.
pub(crate) fn advance_with(
    rhythm: &Rhythm,
    state: &Lifecycle,
    policy: &LifecyclePolicy,
    now: DateTime<Utc>,
    p_alive: Option<f64>,
) -> Advanced {
    let d = stage_with(rhythm, state, policy, now, p_alive);
    let mut next = state.clone();
    if state.manual.as_ref().is_some_and(|o| o.until <= now) {
        next.manual = None;
    }
    if d.changed() {
        next.stage = d.to;
        next.since = Some(now);
    }
    next.win_backs = d.win_backs;
    Advanced {
        lifecycle: next,
        decision: d,
    }
}

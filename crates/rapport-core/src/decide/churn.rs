//! Churn risk: a score in [0, 1]. With a fitted model it is `1 − P(alive)`; otherwise a rule
//! score from recency against the customer's own rhythm, falling activity, recent complaints
//! and a low NPS.

use chrono::{DateTime, Days, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::lifecycle::{LifecyclePolicy, Rhythm};
use crate::decide::reason::Reason;
use crate::error::DomainError;
use crate::model::stats::Stats;

/// Weights and windows of the rule score. `Default`: recency 0.5, trend 0.2, complaints 0.2,
/// NPS 0.1; 90-day windows; alert at 0.7.
///
/// Without a fitted model the score is the weighted mean of four factors in [0, 1]:
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let complaint = |i: u128| Activity::new(
///     ActivityId::from_u128(i), CustomerId::from_u128(1), now - Duration::days(i as i64),
///     Channel::Phone, IdempotencyKey::new(format!("call-{i}")).unwrap(),
///     ActivityKind::Complaint { severity: Severity::High },
/// ).unwrap();
/// let (a, b) = (complaint(1), complaint(2));
/// let stats = Stats::from_activities([&a, &b])?;
///
/// let p = ChurnPolicy::default();
/// let risk = p.assess(&stats, &LifecyclePolicy::default(), now, None);
/// // No purchases yet: recency, trend and NPS are 0; two recent complaints count fully.
/// assert!((risk.score - 0.2).abs() < 1e-12);
/// assert_eq!(risk.reason.rule, "churn.rules");
/// assert_eq!(risk.reason.factors[2].name, "complaints");
///
/// let complaints_only = ChurnPolicy { recency_weight: 0.0, trend_weight: 0.0, nps_weight: 0.0, ..p };
/// assert_eq!(complaints_only.assess(&stats, &LifecyclePolicy::default(), now, None).score, 1.0);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChurnPolicy {
    /// Weight of recency against the customer's `silent_after`.
    pub recency_weight: f64,
    /// Weight of the fall in purchase days: `1 − last window / window before` (0 when it
    /// rose; 1 when both windows are empty after earlier purchases).
    pub trend_weight: f64,
    /// Weight of complaints in the last window (2 or more count fully).
    pub complaint_weight: f64,
    /// Weight of the last NPS when it is a detractor's (0–6).
    pub nps_weight: f64,
    /// Window length in days.
    pub window_days: u32,
    /// A `ChurnRiskRaised` event is emitted when the risk crosses this upwards.
    pub alert_threshold: f64,
    /// When the tenant has a fitted CLV model stored (`Service::fit_clv`, `rapport clv fit
    /// --store`), churn risk is 1 − P(alive) from it, and `clv_12m` is known to segments
    /// and CLV tier ladders (default `true`; `false` keeps the rule score and saves the
    /// service one read of the model per decision).
    pub use_fitted_model: bool,
}

impl Default for ChurnPolicy {
    fn default() -> Self {
        Self {
            recency_weight: 0.5,
            trend_weight: 0.2,
            complaint_weight: 0.2,
            nps_weight: 0.1,
            window_days: 90,
            alert_threshold: 0.7,
            use_fitted_model: true,
        }
    }
}

/// A churn risk with its explanation, from [`ChurnPolicy::assess`].
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let risk: ChurnRisk = ChurnPolicy::default().assess(&Stats::default(), &LifecyclePolicy::default(), now, Some(0.05));
/// assert!((risk.score - 0.95).abs() < 1e-12); // 1 − P(alive)
/// assert!(risk.score >= ChurnPolicy::default().alert_threshold);
/// assert_eq!(risk.reason.to_string(), "churn.model: p_alive = 0.050 at 2026-06-30T00:00:00Z");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChurnRisk {
    /// The risk in [0, 1].
    pub score: f64,
    /// Why.
    pub reason: Reason,
}

impl ChurnPolicy {
    /// Checks weights are finite, non-negative and not all zero, the window at least a day and
    /// the threshold in [0, 1].
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`].
    ///
    /// ```
    /// use rapport_core::{ChurnPolicy, DomainError};
    /// assert!(ChurnPolicy::default().validate().is_ok());
    /// let p = ChurnPolicy { recency_weight: 0.0, trend_weight: 0.0, complaint_weight: 0.0, nps_weight: 0.0, ..ChurnPolicy::default() };
    /// assert!(matches!(p.validate(), Err(DomainError::InvalidPolicy { field: "churn.weights", .. })));
    /// let p = ChurnPolicy { window_days: 0, ..ChurnPolicy::default() };
    /// assert!(p.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        let w = [
            self.recency_weight,
            self.trend_weight,
            self.complaint_weight,
            self.nps_weight,
        ];
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
            return Err(DomainError::InvalidPolicy {
                field: "churn.weights",
                value: format!("{w:?}"),
                reason: "weights are finite, >= 0 and not all zero",
            });
        }
        if self.window_days == 0 {
            return Err(DomainError::InvalidPolicy {
                field: "churn.window_days",
                value: "0".to_owned(),
                reason: "a window is at least one day",
            });
        }
        if !(0.0..=1.0).contains(&self.alert_threshold) {
            return Err(DomainError::InvalidPolicy {
                field: "churn.alert_threshold",
                value: self.alert_threshold.to_string(),
                reason: "must be in [0, 1]",
            });
        }
        Ok(())
    }

    /// The risk at `now`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let p = ChurnPolicy::default();
    /// let fitted = p.assess(&Stats::default(), &LifecyclePolicy::default(), now, Some(0.8));
    /// assert!((fitted.score - 0.2).abs() < 1e-12);
    /// assert_eq!(fitted.reason.rule, "churn.model");
    /// ```
    #[must_use]
    pub fn assess(
        &self,
        stats: &Stats,
        lifecycle: &LifecyclePolicy,
        now: DateTime<Utc>,
        p_alive: Option<f64>,
    ) -> ChurnRisk {
        self.assess_with(stats, &lifecycle.rhythm(stats, now), now, p_alive)
    }

    /// [`ChurnPolicy::assess`] on a history already read (evaluate shares it with the stage).
    pub(crate) fn assess_with(
        &self,
        stats: &Stats,
        rhythm: &Rhythm,
        now: DateTime<Utc>,
        p_alive: Option<f64>,
    ) -> ChurnRisk {
        if let Some(p) = p_alive.filter(|p| p.is_finite()) {
            let score = (1.0 - p).clamp(0.0, 1.0);
            return ChurnRisk {
                score,
                reason: Reason::new("churn.model", now).measured("p_alive", p),
            };
        }
        let today = now.date_naive();
        let days = &rhythm.days;
        let recency = days.last().map_or(0.0, |last| {
            let d = (today - *last).num_days() as f64;
            // A `silent_after` of 0 days: silent from the next day on.
            (d / rhythm.silent_after.max(1.0)).clamp(0.0, 1.0)
        });
        // Purchase days at least `k` windows old: those on or before `today − k × window`
        // (the days are sorted and none is after today).
        let older_than = |k: u64| {
            today
                .checked_sub_days(Days::new(k * u64::from(self.window_days)))
                .map_or(0, |cut| days.partition_point(|d| *d <= cut))
        };
        let (one, two) = (older_than(1), older_than(2));
        let (last, before) = ((days.len() - one) as f64, (one - two) as f64);
        // Both windows empty after earlier purchases: activity has already fallen to nothing,
        // so a long-gone customer does not look safer than one who just went quiet.
        let trend = if before > 0.0 {
            (1.0 - last / before).clamp(0.0, 1.0)
        } else if last == 0.0 && !days.is_empty() {
            1.0
        } else {
            0.0
        };
        let complaints =
            (stats.complaints_within(now, self.window_days) as f64 / 2.0).clamp(0.0, 1.0);
        let nps = stats
            .last_nps()
            .filter(|n| n.value.is_detractor())
            .map_or(0.0, |n| f64::from(7 - n.value.get()) / 7.0);
        let total =
            self.recency_weight + self.trend_weight + self.complaint_weight + self.nps_weight;
        let score = if total > 0.0 {
            ((self.recency_weight * recency
                + self.trend_weight * trend
                + self.complaint_weight * complaints
                + self.nps_weight * nps)
                / total)
                .clamp(0.0, 1.0)
        } else {
            0.0
        };
        ChurnRisk {
            score,
            reason: Reason::new("churn.rules", now)
                .measured("score", score)
                .factor("recency", recency)
                .factor("trend", trend)
                .factor("complaints", complaints)
                .factor("nps", nps),
        }
    }
}

//! The case policy (SLA, reopen window, opening cases from complaints), cases as churn-risk
//! signals, and the case figures of the periodic review.
//!
//! Cases never move a lifecycle stage: they raise the churn risk, with the counts in the
//! reason, and nothing else.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::churn::ChurnRisk;
use crate::decide::sla::SlaPolicy;
use crate::error::DomainError;
use crate::model::case::{Case, CaseSeverity};
use crate::model::id::CaseCategory;

/// How a tenant handles cases. `Default`: DOMAIN.md's SLA targets in calendar time, reopen
/// within 14 days, a `Complaint` activity opens a case, cases weigh 0.5 in the churn risk
/// over a 90-day window.
///
/// ```
/// use rapport_core::CasePolicy;
/// let p = CasePolicy::default();
/// assert_eq!((p.reopen_days, p.open_on_complaint, p.window_days), (14, true, 90));
/// assert!(p.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CasePolicy {
    /// SLA targets and calendar.
    pub sla: SlaPolicy,
    /// A resolved case may be reopened for this many days.
    pub reopen_days: u32,
    /// A recorded `Complaint` activity opens a case (the host may opt out).
    pub open_on_complaint: bool,
    /// Weight of the case signals in the churn risk, in [0, 1]: the risk becomes
    /// `score + weight × signal × (1 − score)`.
    pub risk_weight: f64,
    /// Cases resolved within this many days still count as breached signals.
    pub window_days: u32,
}

impl Default for CasePolicy {
    fn default() -> Self {
        Self {
            sla: SlaPolicy::default(),
            reopen_days: 14,
            open_on_complaint: true,
            risk_weight: 0.5,
            window_days: 90,
        }
    }
}

/// What the cases of one customer say at `now`, from [`CasePolicy::signals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSignals {
    /// Cases still open (open, in progress, waiting on the customer).
    pub open: usize,
    /// Cases open or resolved within the window with a breached SLA clock.
    pub breached: usize,
}

impl CasePolicy {
    /// Checks the SLA, the weight in [0, 1] and a window of at least a day.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`].
    ///
    /// ```
    /// use rapport_core::CasePolicy;
    /// assert!(CasePolicy { risk_weight: 1.5, ..CasePolicy::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        self.sla.validate()?;
        if !(0.0..=1.0).contains(&self.risk_weight) {
            return Err(DomainError::InvalidPolicy {
                field: "cases.risk_weight",
                value: self.risk_weight.to_string(),
                reason: "must be in [0, 1]",
            });
        }
        if self.window_days == 0 {
            return Err(DomainError::InvalidPolicy {
                field: "cases.window_days",
                value: "0".to_owned(),
                reason: "a window is at least one day",
            });
        }
        Ok(())
    }

    /// The reopen window.
    #[must_use]
    pub fn reopen_window(&self) -> Duration {
        Duration::days(i64::from(self.reopen_days))
    }

    /// Counts open and breached cases at `now`.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::*;
    /// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2),
    ///     CaseCategory::new("x")?, CaseSeverity::Urgent, Channel::Web, t0));
    /// let s = CasePolicy::default().signals([&c], t0 + Duration::hours(2));
    /// assert_eq!((s.open, s.breached), (1, 1));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn signals<'a>(
        &self,
        cases: impl IntoIterator<Item = &'a Case>,
        now: DateTime<Utc>,
    ) -> CaseSignals {
        let since = now - Duration::days(i64::from(self.window_days));
        let mut s = CaseSignals::default();
        for c in cases {
            if c.opened_at() > now {
                continue;
            }
            let open = c.status_at(now).is_open();
            s.open += usize::from(open);
            let recent = open || c.resolved_at().is_some_and(|r| r >= since);
            if recent && self.sla.evaluate(c, now).breached() {
                s.breached += 1;
            }
        }
        s
    }

    /// Raises a churn risk by the case signals: `signal = ½·min(open, 2)/2 + ½·min(breached, 1)`,
    /// `score' = score + weight × signal × (1 − score)`. The reason keeps its rule and gains
    /// the factors `open_cases`, `breached_cases` and `cases`; nothing else changes (the
    /// lifecycle stage is not touched).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let base = ChurnPolicy::default().assess(&Stats::default(), &LifecyclePolicy::default(), now, Some(0.6));
    /// let p = CasePolicy::default();
    /// let raised = p.raise_risk(base.clone(), CaseSignals { open: 2, breached: 1 });
    /// assert!((raised.score - (0.4 + 0.5 * 1.0 * 0.6)).abs() < 1e-12);
    /// assert_eq!(raised.reason.factors.last().map(|f| f.name.as_ref()), Some("cases"));
    /// assert_eq!(p.raise_risk(base.clone(), CaseSignals::default()).score, base.score);
    /// ```
    #[must_use]
    pub fn raise_risk(&self, mut risk: ChurnRisk, signals: CaseSignals) -> ChurnRisk {
        let open = signals.open.min(2) as f64 / 2.0;
        let breached = signals.breached.min(1) as f64;
        let signal = 0.5 * open + 0.5 * breached;
        risk.score = (risk.score + self.risk_weight * signal * (1.0 - risk.score)).clamp(0.0, 1.0);
        risk.reason = risk
            .reason
            .factor("open_cases", signals.open as f64)
            .factor("breached_cases", signals.breached as f64)
            .factor("cases", signal);
        risk
    }
}

/// CSAT of one (category, severity) group: responses and the share of 4–5 answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsatGroup {
    /// Category.
    pub category: CaseCategory,
    /// Severity.
    pub severity: CaseSeverity,
    /// Cases with a CSAT answer.
    pub responses: usize,
    /// Mean answer (1–5).
    pub mean: f64,
    /// Share of answers 4 or 5 (DOMAIN.md's CSAT).
    pub csat: f64,
}

/// The case figures of the periodic review, from [`CaseMetrics::compute`]. Durations are in
/// calendar minutes; rates are `None` when their denominator is zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseMetrics {
    /// Cases opened at or before `now`.
    pub cases: usize,
    /// Of them, still open.
    pub open: usize,
    /// Median minutes from opening to the first response (answered cases).
    pub median_first_response_minutes: Option<f64>,
    /// Median minutes from opening to the (last) resolution (resolved cases).
    pub median_resolution_minutes: Option<f64>,
    /// Share of cases with a breached SLA clock.
    pub breach_rate: Option<f64>,
    /// Share of resolved-at-least-once cases that were reopened.
    pub reopen_rate: Option<f64>,
    /// CSAT by category and severity, sorted by category then severity.
    pub csat: Vec<CsatGroup>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl CaseMetrics {
    /// The figures over `cases` at `now`, with `sla` deciding breaches.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::*;
    /// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    /// let open = |i| Case::open(NewCase::new(CaseId::from_u128(i), TenantId::from_u128(1), CustomerId::from_u128(i),
    ///     CaseCategory::new("billing").unwrap(), CaseSeverity::Normal, Channel::Web, t0));
    /// let a = open(1).move_to(CaseStatus::InProgress, t0 + Duration::minutes(30))?.resolve(t0 + Duration::hours(2), Some(Csat::new(5)?))?;
    /// let b = open(2).move_to(CaseStatus::InProgress, t0 + Duration::minutes(90))?.resolve(t0 + Duration::hours(4), Some(Csat::new(2)?))?;
    /// let m = CaseMetrics::compute(&[a, b], &SlaPolicy::default(), t0 + Duration::days(1));
    /// assert_eq!(m.median_first_response_minutes, Some(60.0));
    /// assert_eq!(m.median_resolution_minutes, Some(180.0));
    /// assert_eq!((m.breach_rate, m.reopen_rate), (Some(0.0), Some(0.0)));
    /// assert_eq!((m.csat[0].responses, m.csat[0].csat, m.csat[0].mean), (2, 0.5, 3.5));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn compute(cases: &[Case], sla: &SlaPolicy, now: DateTime<Utc>) -> Self {
        let minutes = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_seconds() as f64 / 60.0;
        let seen: Vec<&Case> = cases.iter().filter(|c| c.opened_at() <= now).collect();
        let mut first = Vec::new();
        let mut resolution = Vec::new();
        let (mut open, mut breached, mut resolved, mut reopened) = (0, 0, 0, 0);
        let mut groups: BTreeMap<(CaseCategory, CaseSeverity), (usize, u32, usize)> =
            BTreeMap::new();
        for c in &seen {
            open += usize::from(c.status().is_open());
            breached += usize::from(sla.evaluate(c, now).breached());
            if let Some(f) = c.first_response_at() {
                first.push(minutes(c.opened_at(), f));
            }
            if let Some(r) = c.resolved_at() {
                resolved += 1;
                reopened += usize::from(c.reopens() > 0);
                if !c.status().is_open() {
                    resolution.push(minutes(c.opened_at(), r));
                }
            }
            if let Some(s) = c.csat() {
                let g = groups
                    .entry((c.category.clone(), c.severity))
                    .or_insert((0, 0, 0));
                g.0 += 1;
                g.1 += u32::from(s.get());
                g.2 += usize::from(s.get() >= 4);
            }
        }
        let rate = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
        Self {
            cases: seen.len(),
            open,
            median_first_response_minutes: median(first),
            median_resolution_minutes: median(resolution),
            breach_rate: rate(breached, seen.len()),
            reopen_rate: rate(reopened, resolved),
            csat: groups
                .into_iter()
                .map(|((category, severity), (n, sum, good))| CsatGroup {
                    category,
                    severity,
                    responses: n,
                    mean: f64::from(sum) / n as f64,
                    csat: good as f64 / n as f64,
                })
                .collect(),
        }
    }
}

//! [`Reason`]: why the core decided something — which rule, which measured value, which
//! threshold, at which `now` — so a host can answer "why is this customer Gold / Silent?".

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The explanation carried by every decision.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::Reason;
/// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
/// let r = Reason::new("tier.upgrade", now)
///     .measured("rolling_365_revenue", "2450.00")
///     .threshold("gold.entry", "2000");
/// assert_eq!(
///     r.to_string(),
///     "tier.upgrade: rolling_365_revenue = 2450.00 against gold.entry = 2000 at 2026-06-01T00:00:00Z"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule that fired, dotted (`lifecycle.silent_after`, `tier.downgrade`, `tag_rule:<tag>`).
    pub rule: String,
    /// What was measured, as (name, value) text (e.g. `days_since_last_purchase`, `97`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<(String, String)>,
    /// The threshold it was compared with, as (name, value) text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<(String, String)>,
    /// The `now` the decision was made at.
    pub at: DateTime<Utc>,
    /// Free text for what does not fit the fields above (e.g. an override's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Reason {
    /// A reason for `rule` at `at`.
    #[must_use]
    pub fn new(rule: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            rule: rule.into(),
            measured: None,
            threshold: None,
            at,
            note: None,
        }
    }

    /// Adds the measured value.
    #[must_use]
    pub fn measured(mut self, name: impl Into<String>, value: impl fmt::Display) -> Self {
        self.measured = Some((name.into(), value.to_string()));
        self
    }

    /// Adds the threshold.
    #[must_use]
    pub fn threshold(mut self, name: impl Into<String>, value: impl fmt::Display) -> Self {
        self.threshold = Some((name.into(), value.to_string()));
        self
    }

    /// Adds a note.
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule)?;
        if let Some((n, v)) = &self.measured {
            write!(f, ": {n} = {v}")?;
        }
        if let Some((n, v)) = &self.threshold {
            write!(f, " against {n} = {v}")?;
        }
        write!(
            f,
            " at {}",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

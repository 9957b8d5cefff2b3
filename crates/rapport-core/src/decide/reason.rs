//! [`Reason`]: why the core decided something — which rule, which measured value, which
//! threshold, at which `now` — so a host can answer "why is this customer Gold / Silent?".
//!
//! Values are kept as numbers and only formatted when shown: deciding is hot (a sweep
//! evaluates millions of customers), showing is rare.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::money::Money;

/// A measured or threshold value. Floats are shown with three decimals, dates and times as
/// text, money with its currency (`4780.00 CNY`).
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_core::Value;
/// use rust_decimal::Decimal;
/// assert_eq!(Value::from(42u32), Value::Int(42));
/// assert_eq!(Value::from(0.25).to_string(), "0.250");
/// assert_eq!(Value::from(Decimal::new(1050, 2)).to_string(), "10.50");
/// assert_eq!(Value::from(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()), Value::Text("2026-03-01".into()));
/// let yuan = rapport_core::Money::new(Decimal::new(478_000, 2), rapport_core::Currency::CNY);
/// assert_eq!(Value::from(yuan).to_string(), "4780.00 CNY");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Value {
    /// A whole number (days, counts).
    Int(i64),
    /// An exact amount.
    Decimal(Decimal),
    /// A ratio or score.
    Float(f64),
    /// Anything else.
    Text(String),
    /// An amount of money, shown with its currency. (Last: the untagged form is an object
    /// `{"amount": "4780.00", "currency": "CNY"}`, which no other variant reads.)
    Money(Money),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:.3}"),
            Value::Text(v) => f.write_str(v),
            Value::Money(m) => write!(f, "{m}"),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Decimal(v)
    }
}
impl From<Money> for Value {
    fn from(v: Money) -> Self {
        Value::Money(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<chrono::NaiveDate> for Value {
    fn from(v: chrono::NaiveDate) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Text(v.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

/// A named value.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::{Measure, Reason, Value};
/// let r = Reason::new("lifecycle.silent_after", DateTime::UNIX_EPOCH).measured("days_since_last_purchase", 45i64);
/// let m: &Measure = r.measured.as_ref().unwrap();
/// assert_eq!((m.name.as_ref(), &m.value), ("days_since_last_purchase", &Value::Int(45)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// What it is (`days_since_last_purchase`, `gold.entry`).
    pub name: Cow<'static, str>,
    /// Its value.
    pub value: Value,
}

/// The explanation carried by every decision.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::Reason;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
/// let usd = |v| rapport_core::Money::new(v, rapport_core::Currency::USD);
/// let r = Reason::new("tier.upgrade", now)
///     .measured("revenue_365d", usd(Decimal::new(245000, 2)))
///     .threshold("gold.entry", usd(Decimal::from(2000)));
/// assert_eq!(
///     r.to_string(),
///     "tier.upgrade: revenue_365d = 2450.00 USD against gold.entry = 2000 USD at 2026-06-01T00:00:00Z"
/// );
/// let r = Reason::new("churn.rules", now).factor("recency", 0.5).factor("trend", 1.0).note("no model");
/// assert_eq!(r.factors.len(), 2);
/// assert_eq!(r.to_string(), "churn.rules at 2026-06-01T00:00:00Z (recency 0.500, trend 1.000) (no model)");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule that fired, dotted (`lifecycle.silent_after`, `tier.downgrade`).
    pub rule: Cow<'static, str>,
    /// What was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measure>,
    /// The threshold it was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Measure>,
    /// The `now` the decision was made at.
    pub at: DateTime<Utc>,
    /// Further contributing values (e.g. the parts of a churn score).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<Measure>,
    /// Free text for what does not fit the fields above (e.g. an override's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Reason {
    /// A reason for `rule` at `at`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Reason, Value};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    /// let r = Reason::new("lifecycle.prospect", now);
    /// assert_eq!(r.to_string(), "lifecycle.prospect at 2026-06-01T00:00:00Z");
    /// ```
    #[must_use]
    pub fn new(rule: impl Into<Cow<'static, str>>, at: DateTime<Utc>) -> Self {
        Self {
            rule: rule.into(),
            measured: None,
            threshold: None,
            at,
            factors: Vec::new(),
            note: None,
        }
    }

    /// Adds the measured value.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Reason, Value};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    /// let r = Reason::new("lifecycle.silent", now).measured("days_since_last_purchase", 75_i64);
    /// assert_eq!(r.measured.unwrap().value, Value::Int(75));
    /// ```
    #[must_use]
    pub fn measured(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.measured = Some(Measure {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds the threshold.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Reason, Value};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    /// let r = Reason::new("lifecycle.silent", now)
    ///     .measured("days_since_last_purchase", 75_i64)
    ///     .threshold("silent_after_days", 60_i64);
    /// assert_eq!(r.to_string(), "lifecycle.silent: days_since_last_purchase = 75 against silent_after_days = 60 at 2026-06-01T00:00:00Z");
    /// ```
    #[must_use]
    pub fn threshold(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Self {
        self.threshold = Some(Measure {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a contributing value.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Reason, Value};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    /// let r = Reason::new("churn.rules", now).factor("recency", 0.5).factor("complaints", 0.25);
    /// let names: Vec<_> = r.factors.iter().map(|m| m.name.as_ref()).collect();
    /// assert_eq!(names, ["recency", "complaints"]);
    /// ```
    #[must_use]
    pub fn factor(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.factors.push(Measure {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a note.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Reason, Value};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    /// let r = Reason::new("lifecycle.manual", now).note("key account");
    /// assert_eq!(r.note.as_deref(), Some("key account"));
    /// assert!(r.to_string().ends_with("(key account)"));
    /// ```
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rule)?;
        if let Some(m) = &self.measured {
            write!(f, ": {} = {}", m.name, m.value)?;
        }
        if let Some(t) = &self.threshold {
            write!(f, " against {} = {}", t.name, t.value)?;
        }
        write!(
            f,
            " at {}",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if !self.factors.is_empty() {
            f.write_str(" (")?;
            for (i, m) in self.factors.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{} {}", m.name, m.value)?;
            }
            f.write_str(")")?;
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

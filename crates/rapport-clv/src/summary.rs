//! Frequency / recency / T / monetary summaries from transactions, with the rules of the
//! `lifetimes` package (`summary_data_from_transaction_data`).

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::ClvError;

/// The period transactions are counted in: summaries, T and the horizons of the predictions
/// are numbers of these periods. `#[non_exhaustive]`: more periods (months) may come.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_clv::Period;
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// // 2026-03-02 is a Monday: the whole week until Sunday 8 March is one period.
/// assert_eq!(Period::Week.index(d(3, 2)), Period::Week.index(d(3, 8)));
/// assert_eq!(Period::Week.index(d(3, 9)), Period::Week.index(d(3, 2)) + 1);
/// assert_eq!(Period::Day.index(d(3, 2)) + 1, Period::Day.index(d(3, 3)));
/// assert_eq!(Period::Day.index(NaiveDate::default()), 0); // days since 1970-01-01
/// assert_eq!((Period::Day.per_month(), Period::Week.per_month()), (30.0, 4.345));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Period {
    /// Calendar days: a date counts as its own period.
    Day,
    /// Calendar weeks Monday–Sunday (pandas `W` = `W-SUN`): a date counts as the Monday
    /// starting its week.
    Week,
}

impl Period {
    /// Periods per month in lifetimes' CLV (30 days, 4.345 weeks).
    ///
    /// ```
    /// use rapport_clv::Period;
    /// assert_eq!(Period::Day.per_month(), 30.0);
    /// assert_eq!(Period::Week.per_month(), 4.345);
    /// ```
    #[must_use]
    pub fn per_month(self) -> f64 {
        match self {
            Period::Day => 30.0,
            Period::Week => 4.345,
        }
    }

    /// The period number of a date: days since 1970-01-01, or weeks since the week starting
    /// Monday 1970-01-05 (the epoch's own week, from Monday 1969-12-29, is -1).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rapport_clv::Period;
    /// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    /// assert_eq!(Period::Day.index(d(1970, 1, 11)), 10);
    /// assert_eq!(Period::Week.index(d(1970, 1, 5)), 0);
    /// assert_eq!(Period::Week.index(d(1970, 1, 1)), -1);
    /// assert_eq!(Period::Week.index(d(1970, 1, 11)), 0); // a Sunday: still the week of 5 January
    /// ```
    #[must_use]
    pub fn index(self, d: NaiveDate) -> i64 {
        let epoch = NaiveDate::default();
        match self {
            Period::Day => (d - epoch).num_days(),
            Period::Week => {
                let monday = d - Days::new(u64::from(d.weekday().num_days_from_monday()));
                (monday - epoch).num_days().div_euclid(7)
            }
        }
    }
}

/// One customer's summary, in periods: what [`summarize`] returns, what the count models read
/// as `(frequency, recency, T)`, and the customer [`clv`](crate::clv) values. A plain value,
/// built as a literal; [`Summary::validate`] checks it.
///
/// ```
/// use rapport_clv::{ClvError, Summary};
/// let s = Summary { frequency: 2.0, recency: 30.43, t: 38.86, monetary_value: 22.35 };
/// assert!(s.validate(0).is_ok());
/// let late = Summary { recency: 40.0, ..s };
/// assert!(matches!(late.validate(7), Err(ClvError::InvalidRow { row: 7, field: "recency", .. })));
/// let negative = Summary { monetary_value: -1.0, ..s };
/// assert!(negative.validate(0).is_err());
/// // Serialised with lifetimes' column names.
/// assert_eq!(serde_json::to_value(s).unwrap()["T"], 38.86);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Repeat purchase periods (periods with a purchase − 1).
    pub frequency: f64,
    /// Periods from the first to the last purchase period.
    pub recency: f64,
    /// Periods from the first purchase period to the end of observation.
    #[serde(rename = "T")]
    pub t: f64,
    /// Mean of the per-period totals over the repeat periods (0 without repeats).
    pub monetary_value: f64,
}

impl Summary {
    /// Checks a row: all finite and ≥ 0, recency ≤ T, no recency without repeats.
    ///
    /// ```
    /// use rapport_clv::{ClvError, Summary};
    /// let ok = Summary { frequency: 2.0, recency: 30.43, t: 38.86, monetary_value: 22.35 };
    /// assert!(ok.validate(0).is_ok());
    /// let no_repeat = Summary { frequency: 0.0, recency: 3.0, ..ok };
    /// assert!(matches!(no_repeat.validate(4), Err(ClvError::InvalidRow { row: 4, field: "recency", .. })));
    /// let nan = Summary { t: f64::NAN, ..ok };
    /// assert!(matches!(nan.validate(0), Err(ClvError::InvalidRow { field: "T", .. })));
    /// ```
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`] naming the field and value.
    pub fn validate(&self, row: usize) -> Result<(), ClvError> {
        let bad = |field, reason: String| Err(ClvError::InvalidRow { row, field, reason });
        for (field, v) in [
            ("frequency", self.frequency),
            ("recency", self.recency),
            ("T", self.t),
            ("monetary_value", self.monetary_value),
        ] {
            if !v.is_finite() || v < 0.0 {
                return bad(field, format!("{v} is not a finite number >= 0"));
            }
        }
        if self.frequency == 0.0 && self.recency > 0.0 {
            return bad(
                "recency",
                format!(
                    "{} without a repeat purchase (frequency 0 means recency 0)",
                    self.recency
                ),
            );
        }
        if self.recency > self.t {
            return bad(
                "recency",
                format!("{} is greater than T {}", self.recency, self.t),
            );
        }
        Ok(())
    }
}

/// Summarises `(customer, date, amount)` rows observed until `observation_end` (later rows are
/// ignored). Rows of one customer in one period count as one purchase with their amounts
/// summed. Returns customers in key order.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_clv::summary::{Period, summarize};
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// let rows = [("a", d(1, 1), 10.0), ("a", d(1, 1), 5.0), ("a", d(1, 11), 20.0), ("a", d(1, 21), 30.0)];
/// let s = summarize(rows.iter().map(|(c, d, a)| (*c, *d, *a)), Period::Day, d(1, 31));
/// let a = &s["a"];
/// assert_eq!((a.frequency, a.recency, a.t, a.monetary_value), (2.0, 20.0, 30.0, 25.0));
/// ```
pub fn summarize<K: Ord + Clone>(
    rows: impl IntoIterator<Item = (K, NaiveDate, f64)>,
    period: Period,
    observation_end: NaiveDate,
) -> BTreeMap<K, Summary> {
    let end = period.index(observation_end);
    let mut per: BTreeMap<K, BTreeMap<i64, f64>> = BTreeMap::new();
    for (k, d, amount) in rows {
        if d > observation_end {
            continue;
        }
        *per.entry(k)
            .or_default()
            .entry(period.index(d))
            .or_insert(0.0) += amount;
    }
    per.into_iter()
        .map(|(k, periods)| {
            let first = periods.keys().next().copied().unwrap_or(end);
            let last = periods.keys().next_back().copied().unwrap_or(end);
            let repeats: Vec<f64> = periods.values().skip(1).copied().collect();
            let monetary_value = if repeats.is_empty() {
                0.0
            } else {
                repeats.iter().sum::<f64>() / repeats.len() as f64
            };
            (
                k,
                Summary {
                    frequency: (periods.len() - 1) as f64,
                    recency: (last - first) as f64,
                    t: (end - first) as f64,
                    monetary_value,
                },
            )
        })
        .collect()
}

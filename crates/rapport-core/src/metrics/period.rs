//! The review period `[start, end)` in UTC days, and rates with their counts.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A review period: the UTC days from `start` (included) to `end` (excluded).
///
/// A stage "at the start" of the period is the stage at the close of the day before `start`
/// ([`Period::opening`]), and "at the end" the stage at the close of the period's last day
/// ([`Period::closing`]): a purchase on the first day of the period belongs to the period.
///
/// ```
/// use chrono::NaiveDate;
/// use rapport_core::metrics::Period;
/// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
/// let p = Period::new(d(1, 1), d(2, 1))?;
/// assert_eq!((p.start(), p.end(), p.days()), (d(1, 1), d(2, 1), 31));
/// assert_eq!(p.opening().to_rfc3339(), "2025-12-31T23:59:59+00:00");
/// assert_eq!(p.closing().to_rfc3339(), "2026-01-31T23:59:59+00:00");
/// assert!(Period::new(d(2, 1), d(2, 1)).is_err()); // empty
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

/// The last second of a UTC day: the time a day-granular evaluation of that day runs at.
fn close_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(23, 59, 59)
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

impl Period {
    /// The days `start..end` (`end` excluded).
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] (field `period`) when `end` is not after `start`, or
    /// `start` is the first representable day.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, DomainError> {
        if end <= start || start.pred_opt().is_none() {
            return Err(DomainError::InvalidText {
                field: "period",
                value: format!("{start}..{end}"),
                reason: "the end day (excluded) must come after the start day",
            });
        }
        Ok(Self { start, end })
    }

    /// First day, included.
    #[must_use]
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Day after the last one (excluded).
    #[must_use]
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// Number of days.
    #[must_use]
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// True when `day` is in the period.
    #[must_use]
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day < self.end
    }

    /// True when the UTC day of `at` is in the period.
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use rapport_core::metrics::Period;
    /// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    /// let p = Period::new(d(1, 1), d(2, 1))?;
    /// assert!(p.contains_time(Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 59).unwrap()));
    /// assert!(!p.contains_time(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()));
    /// # Ok::<(), rapport_core::DomainError>(())
    /// ```
    #[must_use]
    pub fn contains_time(&self, at: DateTime<Utc>) -> bool {
        self.contains(at.naive_utc().date())
    }

    /// When the stage "at the start" is evaluated: the close of the day before `start`.
    #[must_use]
    pub fn opening(&self) -> DateTime<Utc> {
        close_of(self.start.pred_opt().unwrap_or(self.start))
    }

    /// When the stage "at the end" is evaluated: the close of the last day of the period.
    #[must_use]
    pub fn closing(&self) -> DateTime<Utc> {
        close_of(self.end.pred_opt().unwrap_or(self.end))
    }
}

/// A share with the counts it comes from.
///
/// ```
/// use rapport_core::metrics::Rate;
/// assert_eq!(Rate { numerator: 3, denominator: 12 }.value(), Some(0.25));
/// assert_eq!(Rate::default().value(), None); // nobody to count: no rate, not zero
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Customers who did it.
    pub numerator: u64,
    /// Customers who could.
    pub denominator: u64,
}

impl Rate {
    /// `numerator ÷ denominator`, `None` when the denominator is zero.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

//! RFM: Recency, Frequency and Monetary scores 1–5 and the named segments of the R×F grid.

use serde::{Deserialize, Serialize};

/// R, F and M scores, each 1–5 (5 is best: most recent, most frequent, highest spend).
///
/// ```
/// use rapport_core::RfmScores;
/// let s = RfmScores::new(5, 4, 3).unwrap();
/// assert_eq!(s.total(), 12);
/// assert!(RfmScores::new(0, 1, 1).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RfmScores {
    /// Recency score.
    pub r: u8,
    /// Frequency score.
    pub f: u8,
    /// Monetary score.
    pub m: u8,
}

impl RfmScores {
    /// Scores when all three are in 1..=5.
    #[must_use]
    pub fn new(r: u8, f: u8, m: u8) -> Option<Self> {
        let ok = |x: u8| (1..=5).contains(&x);
        (ok(r) && ok(f) && ok(m)).then_some(Self { r, f, m })
    }

    /// R + F + M (3–15).
    #[must_use]
    pub fn total(self) -> u8 {
        self.r + self.f + self.m
    }
}

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::error::DomainError;
use crate::stats::Stats;

/// How scores are computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RfmPolicy {
    /// Quintiles over the tenant's customers with at least one purchase (default):
    /// `score = 1 + floor(5 × (customers with a strictly worse value) / N)`, so ties share a
    /// score.
    #[default]
    Quintiles,
    /// Fixed breakpoints: a value reaching `breakpoints[i]` scores `i + 2`.
    Breakpoints {
        /// Days since the last purchase, ascending; at most `r[0]` days scores 5, at most
        /// `r[3]` scores 2, more scores 1.
        r: [u32; 4],
        /// Purchase days, ascending; at least `f[3]` scores 5.
        f: [u32; 4],
        /// Revenue, ascending; at least `m[3]` scores 5.
        m: [Decimal; 4],
    },
}

/// The three values RFM scores rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmValues {
    /// Last purchase day.
    pub last_purchase: NaiveDate,
    /// Purchase days.
    pub frequency: u32,
    /// Net revenue.
    pub monetary: Decimal,
}

impl RfmValues {
    /// The values of a customer with at least one purchase day up to `now`.
    #[must_use]
    pub fn of(stats: &Stats, now: DateTime<Utc>) -> Option<Self> {
        let today = now.date_naive();
        let last = stats.purchase_days_until(today).last()?;
        Some(Self {
            last_purchase: last,
            frequency: stats.purchase_days_until(today).count() as u32,
            monetary: stats.revenue_amount(),
        })
    }
}

fn quintile(worse: usize, n: usize) -> u8 {
    // 1 + floor(5 × worse / n), in integers.
    (1 + (5 * worse) / n).min(5) as u8
}

/// Scores a population. Returns one entry per input, `None` for customers without a purchase
/// (they are not scored). O(N log N).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
/// let v = |d, f, m| Some(RfmValues { last_purchase: day(d), frequency: f, monetary: Decimal::from(m) });
/// let scores = rfm_scores(&[v(29, 9, 900), v(1, 1, 10), None], &RfmPolicy::Quintiles, now);
/// assert_eq!(scores[0], RfmScores::new(3, 3, 3)); // one of two customers is worse
/// assert_eq!(scores[1], RfmScores::new(1, 1, 1));
/// assert_eq!(scores[2], None);
/// ```
#[must_use]
pub fn rfm_scores(
    values: &[Option<RfmValues>],
    policy: &RfmPolicy,
    now: DateTime<Utc>,
) -> Vec<Option<RfmScores>> {
    match policy {
        RfmPolicy::Quintiles => {
            let scored: Vec<&RfmValues> = values.iter().flatten().collect();
            let n = scored.len();
            let mut r: Vec<NaiveDate> = scored.iter().map(|v| v.last_purchase).collect();
            let mut f: Vec<u32> = scored.iter().map(|v| v.frequency).collect();
            let mut m: Vec<Decimal> = scored.iter().map(|v| v.monetary).collect();
            r.sort_unstable();
            f.sort_unstable();
            m.sort_unstable();
            values
                .iter()
                .map(|v| {
                    v.map(|v| RfmScores {
                        r: quintile(r.partition_point(|x| *x < v.last_purchase), n),
                        f: quintile(f.partition_point(|x| *x < v.frequency), n),
                        m: quintile(m.partition_point(|x| *x < v.monetary), n),
                    })
                })
                .collect()
        }
        RfmPolicy::Breakpoints { r, f, m } => {
            let today = now.date_naive();
            values
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let days = (today - v.last_purchase).num_days().max(0) as u64;
                        let rs = 5 - r.iter().filter(|b| days > u64::from(**b)).count() as u8;
                        let fs = 1 + f.iter().filter(|b| v.frequency >= **b).count() as u8;
                        let ms = 1 + m.iter().filter(|b| v.monetary >= **b).count() as u8;
                        RfmScores {
                            r: rs,
                            f: fs,
                            m: ms,
                        }
                    })
                })
                .collect()
        }
    }
}

impl RfmPolicy {
    /// Checks breakpoints are ascending.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`].
    pub fn validate(&self) -> Result<(), DomainError> {
        if let RfmPolicy::Breakpoints { r, f, m } = self {
            let asc = r.windows(2).all(|w| w[0] <= w[1])
                && f.windows(2).all(|w| w[0] <= w[1])
                && m.windows(2).all(|w| w[0] <= w[1]);
            if !asc {
                return Err(DomainError::InvalidPolicy {
                    field: "rfm.breakpoints",
                    value: format!("{r:?} {f:?} {m:?}"),
                    reason: "breakpoints must be ascending",
                });
            }
        }
        Ok(())
    }
}

/// The named segments of the R×F grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfmSegment {
    /// Bought recently, buy often.
    Champions,
    /// Buy often, fairly recently.
    LoyalCustomers,
    /// Recent, a few purchases.
    PotentialLoyalists,
    /// Bought very recently, once.
    NewCustomers,
    /// Recent, once.
    Promising,
    /// Average recency and frequency.
    NeedAttention,
    /// Below average recency, low frequency.
    AboutToSleep,
    /// Bought often, long ago.
    AtRisk,
    /// Bought most often, long ago.
    CantLoseThem,
    /// Long ago, rarely.
    Hibernating,
}

impl RfmSegment {
    /// All segments.
    pub const ALL: [RfmSegment; 10] = [
        RfmSegment::Champions,
        RfmSegment::LoyalCustomers,
        RfmSegment::PotentialLoyalists,
        RfmSegment::NewCustomers,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::AtRisk,
        RfmSegment::CantLoseThem,
        RfmSegment::Hibernating,
    ];

    /// The segment of an R and F score (DOMAIN.md's grid).
    ///
    /// ```
    /// use rapport_core::{RfmScores, RfmSegment};
    /// let s = RfmScores::new(5, 5, 1).unwrap();
    /// assert_eq!(RfmSegment::of(s), RfmSegment::Champions);
    /// assert_eq!(RfmSegment::of(RfmScores::new(1, 5, 5).unwrap()).as_str(), "Can't Lose Them");
    /// ```
    #[must_use]
    pub fn of(s: RfmScores) -> RfmSegment {
        use RfmSegment::*;
        match (s.r, s.f) {
            (5, 1) => NewCustomers,
            (5, 2 | 3) | (4, 2 | 3) => PotentialLoyalists,
            (5, 4 | 5) => Champions,
            (4, 1) => Promising,
            (4 | 3, 4 | 5) => LoyalCustomers,
            (3, 1 | 2) => AboutToSleep,
            (3, 3) => NeedAttention,
            (1 | 2, 1 | 2) => Hibernating,
            (1 | 2, 3 | 4) => AtRisk,
            (1 | 2, 5) => CantLoseThem,
            _ => Hibernating,
        }
    }

    /// The display name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RfmSegment::Champions => "Champions",
            RfmSegment::LoyalCustomers => "Loyal Customers",
            RfmSegment::PotentialLoyalists => "Potential Loyalists",
            RfmSegment::NewCustomers => "New Customers",
            RfmSegment::Promising => "Promising",
            RfmSegment::NeedAttention => "Need Attention",
            RfmSegment::AboutToSleep => "About to Sleep",
            RfmSegment::AtRisk => "At Risk",
            RfmSegment::CantLoseThem => "Can't Lose Them",
            RfmSegment::Hibernating => "Hibernating",
        }
    }
}

impl fmt::Display for RfmSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

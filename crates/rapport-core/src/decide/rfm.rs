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
    ///
    /// ```
    /// use rapport_core::RfmScores;
    /// let s = RfmScores::new(5, 3, 1).unwrap();
    /// assert_eq!((s.r, s.f, s.m), (5, 3, 1));
    /// assert!(RfmScores::new(5, 6, 1).is_none());
    /// ```
    #[must_use]
    pub fn new(r: u8, f: u8, m: u8) -> Option<Self> {
        let ok = |x: u8| (1..=5).contains(&x);
        (ok(r) && ok(f) && ok(m)).then_some(Self { r, f, m })
    }

    /// R + F + M (3–15).
    ///
    /// ```
    /// use rapport_core::RfmScores;
    /// assert_eq!(RfmScores::new(1, 1, 1).unwrap().total(), 3);
    /// assert_eq!(RfmScores::new(5, 5, 5).unwrap().total(), 15);
    /// ```
    #[must_use]
    pub fn total(self) -> u8 {
        self.r + self.f + self.m
    }
}

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::error::DomainError;
use crate::model::stats::Stats;

/// How scores are computed.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let fixed = RfmPolicy::Breakpoints {
///     r: [7, 30, 90, 180],
///     f: [2, 4, 8, 16],
///     m: [Decimal::from(100), Decimal::from(500), Decimal::from(1_000), Decimal::from(5_000)],
/// };
/// assert!(fixed.validate().is_ok());
/// let v = RfmValues { last_purchase: NaiveDate::from_ymd_opt(2026, 6, 10).unwrap(), frequency: 5, monetary: Decimal::from(1_200) };
/// // 20 days ago: R 4; 5 purchase days reach f[1]: F 3; 1,200 reaches m[2]: M 4.
/// assert_eq!(rfm_scores(&[Some(v)], &fixed, now), vec![RfmScores::new(4, 3, 4)]);
/// // Quintiles need a population: a lone customer has nobody worse.
/// assert_eq!(rfm_scores(&[Some(v)], &RfmPolicy::default(), now), vec![RfmScores::new(1, 1, 1)]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
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

/// The three values RFM scores rank; [`RfmValues::of`] reads them from a customer's stats.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let purchase = |i: u128, d: u32, amount: i64| Activity::new(
///     ActivityId::from_u128(i), CustomerId::from_u128(1),
///     Utc.with_ymd_and_hms(2026, 6, d, 10, 0, 0).unwrap(), Channel::Store,
///     IdempotencyKey::new(format!("pos-{i}")).unwrap(),
///     ActivityKind::Purchase { order_id: OrderId::new(format!("{i}")).unwrap(), amount: Money::new(Decimal::from(amount), Currency::CNY), margin: None },
/// ).unwrap();
/// let (a, b, c) = (purchase(1, 3, 100), purchase(2, 3, 50), purchase(3, 20, 80));
/// let stats = Stats::from_activities([&a, &b, &c])?;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let v = RfmValues::of(&stats, now).unwrap();
/// assert_eq!(v.last_purchase, NaiveDate::from_ymd_opt(2026, 6, 20).unwrap());
/// assert_eq!(v.frequency, 2); // two orders on 3 June are one purchase day
/// assert_eq!(v.monetary, Decimal::from(230));
/// assert_eq!(RfmValues::of(&Stats::default(), now), None);
/// # Ok::<(), DomainError>(())
/// ```
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
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let at = Utc.with_ymd_and_hms(2026, 6, 3, 10, 0, 0).unwrap();
    /// let purchase = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(1), at, Channel::Store,
    ///     IdempotencyKey::new("pos-1")?,
    ///     ActivityKind::Purchase { order_id: OrderId::new("1")?, amount: Money::new(Decimal::from(80), Currency::CNY), margin: None })?;
    /// let stats = Stats::from_activities([&purchase])?;
    /// let v = RfmValues::of(&stats, at).unwrap();
    /// assert_eq!((v.last_purchase, v.frequency, v.monetary), (at.date_naive(), 1, Decimal::from(80)));
    /// assert_eq!(RfmValues::of(&stats, at - chrono::Duration::days(1)), None); // nothing bought yet then
    /// # Ok::<(), DomainError>(())
    /// ```
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

/// Where one key stands in a population: how many keys are strictly less and strictly
/// greater (ties count in neither).
///
/// ```
/// use rapport_core::{RankCount, rank_counts};
/// assert_eq!(rank_counts(&[5, 7])[0], RankCount { below: 0, above: 1 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RankCount {
    /// Keys strictly less than this one.
    pub below: usize,
    /// Keys strictly greater than this one.
    pub above: usize,
}

/// For each key, how many keys are strictly less and strictly greater (one sort of
/// `(key, index)` pairs, one pass).
///
/// ```
/// use rapport_core::{RankCount, rank_counts};
/// let c = rank_counts(&[3, 1, 3, 2]);
/// let pairs: Vec<(usize, usize)> = c.iter().map(|r| (r.below, r.above)).collect();
/// assert_eq!(pairs, vec![(2, 0), (0, 3), (2, 0), (1, 2)]);
/// ```
#[must_use]
pub fn rank_counts<K: Copy + Ord>(keys: &[K]) -> Vec<RankCount> {
    let mut pairs: Vec<(K, u32)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, i as u32))
        .collect();
    pairs.sort_unstable();
    runs(&pairs, |a, b| a.0 == b.0)
}

/// [`rank_counts`] for exact decimals: sorted by their `f64` approximation (cheap), then
/// exactly within runs of equal approximations, so ties are exact.
///
/// ```
/// use rapport_core::rank_counts_decimal;
/// use rust_decimal::Decimal;
/// let big = Decimal::from_i128_with_scale(10_000_000_000_000_000_000, 0);
/// let keys = [big, big + Decimal::ONE, Decimal::ZERO]; // equal as f64, different as decimals
/// let below: Vec<usize> = rank_counts_decimal(&keys).iter().map(|r| r.below).collect();
/// assert_eq!(below, vec![1, 2, 0]);
/// ```
#[must_use]
pub fn rank_counts_decimal(keys: &[Decimal]) -> Vec<RankCount> {
    use rust_decimal::prelude::ToPrimitive;
    let mut pairs: Vec<(f64, u32)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.to_f64().unwrap_or(0.0), i as u32))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // Equal approximations may hide different decimals: order those runs exactly.
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start + 1;
        while end < pairs.len() && pairs[end].0 == pairs[start].0 {
            end += 1;
        }
        if end - start > 1 {
            pairs[start..end].sort_unstable_by(|a, b| keys[a.1 as usize].cmp(&keys[b.1 as usize]));
        }
        start = end;
    }
    runs(&pairs, |a, b| keys[a.1 as usize] == keys[b.1 as usize])
}

fn runs<K>(sorted: &[(K, u32)], same: impl Fn(&(K, u32), &(K, u32)) -> bool) -> Vec<RankCount> {
    let n = sorted.len();
    let mut out = vec![RankCount::default(); n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && same(&sorted[start], &sorted[end]) {
            end += 1;
        }
        for p in &sorted[start..end] {
            out[p.1 as usize] = RankCount {
                below: start,
                above: n - end,
            };
        }
        start = end;
    }
    out
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
            let r = rank_counts(&scored.iter().map(|v| v.last_purchase).collect::<Vec<_>>());
            let f = rank_counts(&scored.iter().map(|v| v.frequency).collect::<Vec<_>>());
            let m = rank_counts_decimal(&scored.iter().map(|v| v.monetary).collect::<Vec<_>>());
            let mut k = 0;
            values
                .iter()
                .map(|v| {
                    v.map(|_| {
                        let s = RfmScores {
                            r: quintile(r[k].below, n),
                            f: quintile(f[k].below, n),
                            m: quintile(m[k].below, n),
                        };
                        k += 1;
                        s
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
    ///
    /// ```
    /// use rapport_core::{DomainError, RfmPolicy};
    /// use rust_decimal::Decimal;
    /// assert!(RfmPolicy::Quintiles.validate().is_ok());
    /// let bad = RfmPolicy::Breakpoints { r: [90, 30, 7, 180], f: [1, 2, 3, 4], m: [Decimal::ONE; 4] };
    /// assert!(matches!(bad.validate(), Err(DomainError::InvalidPolicy { field: "rfm.breakpoints", .. })));
    /// ```
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
///
/// ```
/// use rapport_core::{RfmScores, RfmSegment};
/// let seg = |r, f| RfmSegment::of(RfmScores::new(r, f, 3).unwrap());
/// assert_eq!(seg(5, 1), RfmSegment::NewCustomers);
/// assert_eq!(seg(3, 3).as_str(), "Need Attention");
/// assert_eq!(seg(2, 4).to_string(), "At Risk");
/// // Every one of the 25 cells has a segment, and every segment is used.
/// let mut used: Vec<_> = (1..=5).flat_map(|r| (1..=5).map(move |f| seg(r, f))).collect();
/// used.sort();
/// used.dedup();
/// assert_eq!(used, RfmSegment::ALL.to_vec());
/// ```
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
    /// Average recency (R = 3), low frequency (F 1–2).
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
    ///
    /// ```
    /// use rapport_core::RfmSegment;
    /// assert_eq!(RfmSegment::ALL.len(), 10);
    /// assert_eq!(RfmSegment::ALL[0], RfmSegment::Champions);
    /// ```
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
    ///
    /// ```
    /// use rapport_core::RfmSegment;
    /// assert_eq!(RfmSegment::AboutToSleep.as_str(), "About to Sleep");
    /// assert_eq!(RfmSegment::CantLoseThem.to_string(), "Can't Lose Them");
    /// ```
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

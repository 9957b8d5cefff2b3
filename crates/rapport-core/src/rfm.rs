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

//! Durations as text in rule files: `30m`, `24h`, `7d`, `90s`.

use std::fmt;
use std::str::FromStr;

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// A non-negative duration written `<whole number><unit>`, unit `s`, `m`, `h` or `d`.
///
/// ```
/// use rapport_core::automation::DurationText;
/// let d: DurationText = "24h".parse()?;
/// assert_eq!(d.get(), chrono::Duration::hours(24));
/// assert_eq!(d.to_string(), "1d");
/// assert!("24 hours".parse::<DurationText>().is_err());
/// assert!("-1d".parse::<DurationText>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DurationText(Duration);

impl DurationText {
    /// Wraps a duration (negative ones become zero).
    #[must_use]
    pub fn new(d: Duration) -> Self {
        Self(d.max(Duration::zero()))
    }

    /// The duration.
    #[must_use]
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for DurationText {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || format!("duration `{s}` is not <number><s|m|h|d>, e.g. 24h");
        let (digits, unit) = s.split_at(s.len().saturating_sub(1));
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let secs_per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let secs = n
            .checked_mul(secs_per)
            .filter(|s| *s <= 100 * 365 * 86_400)
            .ok_or_else(|| format!("duration `{s}` is longer than 100 years"))?;
        Ok(Self(Duration::seconds(secs)))
    }
}

impl TryFrom<String> for DurationText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DurationText> for String {
    fn from(d: DurationText) -> String {
        d.to_string()
    }
}

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.num_seconds();
        for (unit, per) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s != 0 && s % per == 0 {
                return write!(f, "{}{unit}", s / per);
            }
        }
        write!(f, "{s}s")
    }
}

//! [`TenantZone`]: the time zone a tenant's local rules are read in (quiet hours, schedules).
//!
//! Either a fixed offset from UTC (`+08:00`) or a named IANA zone (`Europe/Berlin`) whose
//! offset follows daylight saving, from the tz database compiled into `chrono-tz` (pure data:
//! no file or clock is read).

use std::fmt;
use std::str::FromStr;

use chrono::offset::LocalResult;
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Offset as _, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// A tenant's time zone: a fixed offset or a named zone with daylight-saving rules.
///
/// Local times that do not exist (the hour skipped when clocks go forward) are read as the
/// same wall-clock distance after the gap's start, i.e. with the offset in force before it;
/// local times that happen twice (the hour repeated when clocks go back) are read as the
/// earlier instant.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::TenantZone;
/// let berlin: TenantZone = "Europe/Berlin".parse()?;
/// // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
/// let winter = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap().and_hms_opt(9, 0, 0).unwrap();
/// let summer = NaiveDate::from_ymd_opt(2026, 7, 15).unwrap().and_hms_opt(9, 0, 0).unwrap();
/// assert_eq!(berlin.to_utc(winter), Utc.with_ymd_and_hms(2026, 1, 15, 8, 0, 0).unwrap());
/// assert_eq!(berlin.to_utc(summer), Utc.with_ymd_and_hms(2026, 7, 15, 7, 0, 0).unwrap());
/// let beijing: TenantZone = "+08:00".parse()?;
/// assert_eq!(beijing.to_string(), "+08:00");
/// assert_eq!(TenantZone::default().to_string(), "UTC");
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TenantZone {
    /// Coordinated Universal Time.
    #[default]
    Utc,
    /// A fixed offset from UTC, in minutes east (at most ±14 h).
    Offset(i32),
    /// A named zone of the IANA tz database.
    Named(chrono_tz::Tz),
}

impl TenantZone {
    /// A fixed offset of `minutes` east of UTC.
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] beyond ±14 hours.
    ///
    /// ```
    /// use rapport_core::TenantZone;
    /// assert!(TenantZone::offset_minutes(480).is_ok());
    /// assert!(TenantZone::offset_minutes(15 * 60).is_err());
    /// ```
    pub fn offset_minutes(minutes: i32) -> Result<Self, DomainError> {
        if minutes.abs() > 14 * 60 {
            return Err(invalid(minutes.to_string()));
        }
        Ok(if minutes == 0 {
            Self::Utc
        } else {
            Self::Offset(minutes)
        })
    }

    /// The offset from UTC in force at `at`, in minutes east.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::TenantZone;
    /// let ny: TenantZone = "America/New_York".parse()?;
    /// assert_eq!(ny.offset_at(Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()), -300);
    /// assert_eq!(ny.offset_at(Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()), -240);
    /// # Ok::<(), rapport_core::DomainError>(())
    /// ```
    #[must_use]
    pub fn offset_at(&self, at: DateTime<Utc>) -> i32 {
        match self {
            Self::Utc => 0,
            Self::Offset(m) => *m,
            Self::Named(tz) => {
                tz.offset_from_utc_datetime(&at.naive_utc())
                    .fix()
                    .local_minus_utc()
                    / 60
            }
        }
    }

    /// The local wall-clock time at the instant `at`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::TenantZone;
    /// let z: TenantZone = "Asia/Shanghai".parse()?;
    /// let local = z.to_local(Utc.with_ymd_and_hms(2026, 3, 1, 23, 30, 0).unwrap());
    /// assert_eq!(local.to_string(), "2026-03-02 07:30:00");
    /// # Ok::<(), rapport_core::DomainError>(())
    /// ```
    #[must_use]
    pub fn to_local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        let minutes = self.offset_at(at);
        at.naive_utc()
            .checked_add_signed(Duration::minutes(i64::from(minutes)))
            .unwrap_or(at.naive_utc())
    }

    /// The instant of the local wall-clock time `local` (see the type's docs for the skipped
    /// and repeated hours of daylight saving).
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use rapport_core::TenantZone;
    /// let berlin: TenantZone = "Europe/Berlin".parse()?;
    /// // 29 March 2026: clocks go from 02:00 to 03:00; 02:30 does not exist.
    /// let gap = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
    /// assert_eq!(berlin.to_utc(gap), Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap());
    /// // 25 October 2026: 02:30 happens twice; the earlier one.
    /// let fold = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
    /// assert_eq!(berlin.to_utc(fold), Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
    /// # Ok::<(), rapport_core::DomainError>(())
    /// ```
    #[must_use]
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let fixed = |minutes: i32| {
            local
                .checked_sub_signed(Duration::minutes(i64::from(minutes)))
                .unwrap_or(local)
                .and_utc()
        };
        match self {
            Self::Utc => local.and_utc(),
            Self::Offset(m) => fixed(*m),
            Self::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(t) => t.with_timezone(&Utc),
                LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
                LocalResult::None => {
                    // In a gap: read with the offset in force just before it (a day earlier
                    // is always before any gap).
                    let before = fixed(0) - Duration::days(1);
                    fixed(self.offset_at(before))
                }
            },
        }
    }
}

fn invalid(value: String) -> DomainError {
    DomainError::InvalidText {
        field: "time_zone",
        value,
        reason: "expected UTC, an offset such as +08:00 (at most ±14:00), or an IANA zone such as Europe/Berlin",
    }
}

impl FromStr for TenantZone {
    type Err = DomainError;

    /// `UTC`/`Z`, `+HH:MM`/`-HH:MM`, or an IANA zone name (`Europe/Berlin`).
    fn from_str(text: &str) -> Result<Self, DomainError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Self::Utc);
        }
        if let Some(rest) = t
            .strip_prefix('+')
            .map(|r| (1, r))
            .or_else(|| t.strip_prefix('-').map(|r| (-1, r)))
        {
            let (sign, rest) = rest;
            let (h, m) = rest.split_once(':').ok_or_else(|| invalid(t.to_owned()))?;
            let parse = |s: &str| s.parse::<i32>().ok().filter(|_| s.len() == 2);
            let (Some(h), Some(m)) = (parse(h), parse(m)) else {
                return Err(invalid(t.to_owned()));
            };
            if !(0..60).contains(&m) {
                return Err(invalid(t.to_owned()));
            }
            return Self::offset_minutes(sign * (h * 60 + m)).map_err(|_| invalid(t.to_owned()));
        }
        t.parse::<chrono_tz::Tz>()
            .map(Self::Named)
            .map_err(|_| invalid(t.to_owned()))
    }
}

impl fmt::Display for TenantZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::Offset(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
            }
            Self::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl Serialize for TenantZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TenantZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The fixed offset of a zone at an instant (for hosts that format local times).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::TenantZone;
/// use rapport_core::model::zone::fixed_offset_at;
/// let z: TenantZone = "+05:30".parse()?;
/// assert_eq!(fixed_offset_at(&z, chrono::DateTime::UNIX_EPOCH).local_minus_utc(), 19_800);
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[must_use]
pub fn fixed_offset_at(zone: &TenantZone, at: DateTime<Utc>) -> FixedOffset {
    FixedOffset::east_opt(zone.offset_at(at) * 60).unwrap_or(Utc.fix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    #[test]
    fn parse_and_print_round_trip() {
        for text in [
            "UTC",
            "+08:00",
            "-05:30",
            "Europe/Berlin",
            "America/New_York",
        ] {
            let z: TenantZone = text.parse().unwrap();
            assert_eq!(z.to_string(), text);
            assert_eq!(z.to_string().parse::<TenantZone>().unwrap(), z);
        }
        for bad in ["", "+8", "+15:00", "+08:60", "Mars/Olympus", "08:00"] {
            assert!(bad.parse::<TenantZone>().is_err(), "{bad}");
        }
    }

    proptest! {
        /// Outside the repeated hour, local → instant → local is the identity; and instant →
        /// local → instant is the identity everywhere except inside a repeated hour's second
        /// copy (which reads as the first).
        #[test]
        fn prop_berlin_round_trips(secs in 1_700_000_000i64..1_900_000_000) {
            let z: TenantZone = "Europe/Berlin".parse().unwrap();
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let local = z.to_local(at);
            let back = z.to_utc(local);
            prop_assert!(back == at || back == at - Duration::hours(1), "{at} → {local} → {back}");
            prop_assert_eq!(z.to_local(back), local);
        }
    }

    #[test]
    fn a_day_in_berlin_has_23_or_25_hours_at_the_switches() {
        let z: TenantZone = "Europe/Berlin".parse().unwrap();
        let midnight = |d: u32, m: u32| {
            z.to_utc(
                NaiveDate::from_ymd_opt(2026, m, d)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
        };
        assert_eq!(midnight(30, 3) - midnight(29, 3), Duration::hours(23));
        assert_eq!(midnight(26, 10) - midnight(25, 10), Duration::hours(25));
        assert_eq!(midnight(2, 6) - midnight(1, 6), Duration::hours(24));
    }
}

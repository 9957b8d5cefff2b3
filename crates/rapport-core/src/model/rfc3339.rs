//! Timestamps in JSON exactly as chrono's serde support writes and reads them (RFC 3339, UTC
//! as `Z`, fractional seconds only as many as needed: none, 3, 6 or 9 digits), without its
//! formatting machinery on the hot path: an activity's time is written and read once per row
//! of every timeline, export and backup. Used as `#[serde(with = "rfc3339")]`.
//!
//! The common shape (`YYYY-MM-DDTHH:MM:SS[.f…]Z`, years 0–9999, no leap second) is written
//! from a stack buffer and parsed by hand; everything else goes to chrono, so the accepted
//! inputs and the text written are chrono's, byte for byte (property-tested below).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserializer, Serialize, Serializer, de};

/// Writes `at` as chrono does (`SecondsFormat::AutoSi`, `Z`).
pub(crate) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = Buf { b: [0; 30], n: 0 };
    match write(at, &mut buf).and_then(|()| std::str::from_utf8(&buf.b[..buf.n]).ok()) {
        Some(text) => s.serialize_str(text),
        None => at.serialize(s),
    }
}

/// Reads what chrono's `Deserialize for DateTime<Utc>` reads.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    struct Visitor;
    impl de::Visitor<'_> for Visitor {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 formatted date and time string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if let Some(at) = parse(v) {
                return Ok(at);
            }
            v.parse::<DateTime<FixedOffset>>()
                .map(|at| at.with_timezone(&Utc))
                .map_err(E::custom)
        }
    }
    d.deserialize_str(Visitor)
}

/// A timestamp's bytes (the longest form, with nanoseconds, is 30 bytes).
struct Buf {
    b: [u8; 30],
    n: usize,
}

impl Buf {
    fn byte(&mut self, c: u8) {
        if let Some(slot) = self.b.get_mut(self.n) {
            *slot = c;
            self.n += 1;
        }
    }

    fn digits(&mut self, value: u32, width: u32) {
        for i in (0..width).rev() {
            // A digit: always < 10.
            self.byte(b'0' + ((value / 10u32.pow(i)) % 10) as u8);
        }
    }
}

/// `at` into `buf` in chrono's AutoSi form; `None` outside the common shape.
fn write(at: &DateTime<Utc>, buf: &mut Buf) -> Option<()> {
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None; // a leap second: chrono's own form
    }
    buf.digits(year, 4);
    buf.byte(b'-');
    buf.digits(at.month(), 2);
    buf.byte(b'-');
    buf.digits(at.day(), 2);
    buf.byte(b'T');
    buf.digits(at.hour(), 2);
    buf.byte(b':');
    buf.digits(at.minute(), 2);
    buf.byte(b':');
    buf.digits(at.second(), 2);
    if nanos != 0 {
        buf.byte(b'.');
        if nanos % 1_000_000 == 0 {
            buf.digits(nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            buf.digits(nanos / 1_000, 6);
        } else {
            buf.digits(nanos, 9);
        }
    }
    buf.byte(b'Z');
    Some(())
}

/// The common shape parsed by hand; `None` sends the text to chrono.
fn parse(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let num = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(&b[0..4])?).ok()?;
    let (month, day) = (num(&b[5..7])?, num(&b[8..10])?);
    let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if second >= 60 {
        return None; // a leap second: chrono decides
    }
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            num(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;
    use proptest::prelude::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Ours(#[serde(with = "super")] DateTime<Utc>);

    fn chrono_text(at: &DateTime<Utc>) -> String {
        serde_json::to_string(at).unwrap()
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        // Years 0–9999 and beyond, any nanosecond, plus the round fractions AutoSi shortens.
        (
            -20_000i64 * 86_400..320_000_000_000i64,
            prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
        )
            .prop_map(|(secs, nanos)| {
                DateTime::from_timestamp(secs - 62_135_596_800, nanos).unwrap()
            })
    }

    proptest! {
        #[test]
        fn written_as_chrono_writes(at in any_time()) {
            let ours = serde_json::to_string(&Ours(at)).unwrap();
            prop_assert_eq!(&ours, &chrono_text(&at));
            prop_assert_eq!(&ours[1..ours.len() - 1], at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }

        #[test]
        fn read_as_chrono_reads(at in any_time()) {
            let text = chrono_text(&at);
            let ours: Ours = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(ours.0, at);
        }

        #[test]
        fn the_fast_path_agrees_with_chrono_on_any_text(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?(Z|z|\\+01:00)?"
        ) {
            let chrono = s.parse::<DateTime<FixedOffset>>().ok().map(|at| at.with_timezone(&Utc));
            if let Some(fast) = parse(&s) {
                prop_assert_eq!(Some(fast), chrono);
            }
            let ours = serde_json::from_str::<Ours>(&serde_json::to_string(&s).unwrap()).ok().map(|o| o.0);
            prop_assert_eq!(ours, chrono);
        }
    }

    #[test]
    fn leap_seconds_and_odd_years_go_to_chrono() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let text = serde_json::to_string(&Ours(leap)).unwrap();
        assert_eq!(text, chrono_text(&leap));
        assert_eq!(serde_json::from_str::<Ours>(&text).unwrap().0, leap);
        let far = DateTime::from_timestamp(400_000_000_000, 7).unwrap();
        assert_eq!(
            serde_json::to_string(&Ours(far)).unwrap(),
            chrono_text(&far)
        );
        assert!(serde_json::from_str::<Ours>("\"2026-02-30T00:00:00Z\"").is_err());
        assert!(serde_json::from_str::<Ours>("\"yesterday\"").is_err());
        let offset: Ours = serde_json::from_str("\"2026-03-01T10:00:00+02:00\"").unwrap();
        assert_eq!(offset.0.to_rfc3339(), "2026-03-01T08:00:00+00:00");
    }
}

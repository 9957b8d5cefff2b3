//! `Phone::parse` on arbitrary UTF-8 read in a region picked by the first byte. Nothing may
//! panic; what parses is E.164 (`+`, a non-zero digit, 5–15 digits in all: E.164 caps a
//! number at 15 digits and sets no minimum, and the numbering plans hold short valid numbers,
//! e.g. `+4989550` in Munich, which an 8-digit floor rejected in the first run), parsing it again in
//! any region gives it back (idempotent), `Phone::from_e164` accepts it, and `Debug` of the
//! number and of every error never holds the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_core::DomainError;
use rapport_core::{Phone, Region};

const REGIONS: &[&str] = &["CN", "US", "GB", "DE", "FR", "IN", "BR", "JP", "RU", "IT", "AU", "SG"];


fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(region) = REGIONS[usize::from(pick) % REGIONS.len()].parse::<Region>() else {
        panic!("a listed region does not parse");
    };
    match Phone::parse(text, region) {
        Ok(p) => {
            let s = p.as_str();
            let digits = &s[1.min(s.len())..];
            assert!(s.starts_with('+'), "no +: {s}");
            assert!((5..=15).contains(&digits.len()), "{} digits: {s}", digits.len());
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "not digits: {s}");
            assert!(!digits.starts_with('0'), "country code 0: {s}");
            // An E.164 number reads the same in any region (three, to keep the target fast:
            // the numbering library is slow).
            for other in [REGIONS[usize::from(pick) % REGIONS.len()], "US", "CN"] {
                let Ok(r) = other.parse::<Region>() else { continue };
                assert_eq!(Phone::parse(s, r).as_ref(), Ok(&p), "not idempotent in {other}");
            }
            assert_eq!(Phone::from_e164(s).as_ref(), Ok(&p));
            assert_eq!(format!("{p:?}"), "Phone(<redacted>)");
            assert_eq!(p.to_string(), s);
        }
        // The error holds a fixed reason and nothing of the input: its Debug and Display
        // are exactly the redacted templates.
        Err(err) => {
            let DomainError::InvalidPhone { reason } = &err else {
                panic!("unexpected error kind: {err:?}");
            };
            assert_eq!(format!("{err:?}"), format!("InvalidPhone {{ reason: {reason:?} }}"));
            assert_eq!(err.to_string(), format!("phone <redacted> is invalid: {reason}"));
        }
    }
});

//! `Email::parse` on arbitrary UTF-8. Nothing may panic; what parses is the normal form:
//! parsing it again gives it back (idempotent), it is trimmed, has no ASCII capital, is at most
//! 254 bytes with one `@` splitting a 1–64 byte local part from a dotted domain (internationalised
//! addresses — a UTF-8 local part, an IDN domain kept in Unicode — are accepted since #15); an
//! ASCII input without punycode normalises to itself trimmed and lower-cased; `Debug` of the
//! address and of every error is redacted (never holds the input), and an error's `Display`
//! does not hold it either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_core::DomainError;
use rapport_core::Email;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Email::parse(text) {
        Ok(e) => {
            let s = e.as_str();
            assert_eq!(Email::parse(s).as_ref(), Ok(&e), "not idempotent");
            assert_eq!(s, s.trim());
            assert!(!s.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(s.len() <= 254);
            assert_eq!(s.matches('@').count(), 1, "one @");
            let (local, domain) = s.split_once('@').unwrap_or_default();
            assert!((1..=64).contains(&local.len()));
            assert!(domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
            assert_eq!(e.domain(), domain);
            // An ASCII address without punycode is the input, trimmed and lower-cased.
            if text.is_ascii() && !text.to_ascii_lowercase().contains("xn--") {
                assert_eq!(s, text.trim().to_ascii_lowercase());
            }
            let debug = format!("{e:?}");
            assert_eq!(debug, "Email(<redacted>)");
            assert_eq!(e.to_string(), s);
        }
        // The error holds a fixed reason and nothing of the input: its Debug and Display
        // are exactly the redacted templates.
        Err(err) => {
            let DomainError::InvalidEmail { reason } = &err else {
                panic!("unexpected error kind: {err:?}");
            };
            assert_eq!(format!("{err:?}"), format!("InvalidEmail {{ reason: {reason:?} }}"));
            assert_eq!(err.to_string(), format!("email <redacted> is invalid: {reason}"));
        }
    }
});

//! `Profile::normalise_name` on arbitrary UTF-8. Nothing may panic; what it returns is the
//! normal form: normalising it again gives it back (idempotent), no leading, trailing or
//! doubled whitespace and no whitespace other than a plain space, no control character, 1–200
//! characters, and the same words as the input (in Unicode NFC, since #15) in the same order.
//! Errors never hold the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_core::DomainError;
use rapport_core::Profile;
use unicode_normalization::UnicodeNormalization;


fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Profile::normalise_name(text) {
        Ok(n) => {
            assert_eq!(Profile::normalise_name(&n).as_ref(), Ok(&n), "not idempotent");
            assert_eq!(n, n.trim(), "leading or trailing whitespace");
            assert!(!n.contains("  "), "double space");
            assert!(
                n.chars().all(|c| c == ' ' || !c.is_whitespace()),
                "whitespace other than a space"
            );
            assert!(!n.chars().any(char::is_control), "control character");
            assert!((1..=200).contains(&n.chars().count()));
            let nfc: String = text.nfc().collect();
            assert!(
                n.split(' ').eq(nfc.split_whitespace()),
                "words changed: {text:?} -> {n:?}"
            );
        }
        // The error holds a fixed reason and nothing of the input: its Debug and Display
        // are exactly the redacted templates.
        Err(err) => {
            let DomainError::InvalidName { field: "display_name", reason } = &err else {
                panic!("unexpected error kind: {err:?}");
            };
            assert_eq!(format!("{err:?}"), format!("InvalidName {{ field: \"display_name\", reason: {reason:?} }}"));
            assert_eq!(err.to_string(), format!("display_name <redacted> is invalid: {reason}"));
        }
    }
});

//! One-line errors for the terminal.

use std::fmt;

/// A command failed: what is wrong and what to do, on one line.
#[derive(Debug)]
pub(crate) struct CliError(pub(crate) String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type Result<T> = std::result::Result<T, CliError>;

/// Builds a [`CliError`] from a format string.
macro_rules! fail {
    ($($t:tt)*) => { $crate::error::CliError(format!($($t)*)) };
}
pub(crate) use fail;

impl From<rapport::Error> for CliError {
    fn from(e: rapport::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<rapport_core::StoreError> for CliError {
    fn from(e: rapport_core::StoreError) -> Self {
        CliError(format!("storage: {e}"))
    }
}

impl From<rapport_sqlite::SqliteError> for CliError {
    fn from(e: rapport_sqlite::SqliteError) -> Self {
        CliError(format!("storage: {e}"))
    }
}

impl From<rapport_sqlite::ApplyError> for CliError {
    fn from(e: rapport_sqlite::ApplyError) -> Self {
        CliError(format!("storage: {e}"))
    }
}

impl From<rapport_clv::ClvError> for CliError {
    fn from(e: rapport_clv::ClvError) -> Self {
        CliError(e.to_string())
    }
}

impl From<rapport_core::DomainError> for CliError {
    fn from(e: rapport_core::DomainError) -> Self {
        CliError(e.to_string())
    }
}

/// The message for a value the user typed (a CSV cell, an argument) that the library
/// rejected. The library's errors redact personal values (`email <redacted> is invalid: …`) so
/// they are safe to log; the person at the terminal handed the text over, so it is shown back
/// to them, from the text the CLI holds: ``email `ann@example` is invalid: its domain has no
/// dot``. Other errors keep the library's message.
pub(crate) fn rejected(text: &str, e: &rapport_core::DomainError) -> String {
    use rapport_core::DomainError;
    match e {
        DomainError::InvalidEmail { reason } => format!("email `{text}` is invalid: {reason}"),
        DomainError::InvalidPhone { reason } => format!("phone `{text}` is invalid: {reason}"),
        DomainError::InvalidName { reason, .. } => format!("name `{text}` is invalid: {reason}"),
        other => other.to_string(),
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(format!("i/o: {e}"))
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use rapport_core::{DomainError, Email, Phone, Profile, Region};

    use super::rejected;

    #[test]
    fn a_rejected_cell_is_shown_back_with_the_library_reason() {
        let cn: Region = "CN".parse().unwrap();
        let cases = [
            (
                "alice.smith@example",
                Email::parse("alice.smith@example").unwrap_err(),
                "email `alice.smith@example` is invalid: its domain has no dot",
            ),
            (
                "138 0013 80ab",
                Phone::parse("138 0013 80ab", cn).unwrap_err(),
                "phone `138 0013 80ab` is invalid: it has characters other than digits, spaces, + - ( ) . /",
            ),
            (
                "Wang\u{7}Fang",
                Profile::normalise_name("Wang\u{7}Fang").unwrap_err(),
                "name `Wang\u{7}Fang` is invalid: it contains a control character",
            ),
        ];
        for (cell, err, message) in cases {
            // The library's own message keeps the value out; the CLI puts the cell back.
            assert!(!err.to_string().contains(cell), "{err}");
            assert_eq!(rejected(cell, &err), message);
        }
        let other = DomainError::Overflow { field: "amount" };
        assert_eq!(rejected("x", &other), "amount overflowed");
    }
}

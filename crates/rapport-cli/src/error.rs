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

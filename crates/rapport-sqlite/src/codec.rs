//! How values are stored: ids as 16-byte BLOBs, times as UTC microseconds, days as days since
//! the Unix epoch, records as JSON (money inside as canonical decimal text, scale kept).

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::SqliteError;

/// Microseconds since the Unix epoch, UTC. Sub-microsecond digits are dropped (stores keep
/// microseconds).
#[must_use]
pub(crate) fn time_to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Days since 1970-01-01.
#[must_use]
pub(crate) fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::default()).num_days()
}

/// JSON text of a record.
///
/// # Errors
/// [`SqliteError::Corrupt`] if serialisation fails (it does not for the model types).
pub(crate) fn to_json<T: serde::Serialize>(
    table: &'static str,
    v: &T,
) -> Result<String, SqliteError> {
    Ok(rapport_sql::codec::to_json(table, v)?)
}

/// A record from its JSON text.
///
/// # Errors
/// [`SqliteError::Corrupt`] naming the table when the text does not decode.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    s: &str,
) -> Result<T, SqliteError> {
    Ok(rapport_sql::codec::from_json(table, s)?)
}

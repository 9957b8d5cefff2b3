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

/// What an `email`/`phone` column holds: the normalised contact as `TEXT` without
/// encryption, the short blind index (the first 128 bits of the HMAC, see
/// [`rapport_sql::seal::short_blind_index`]) as a 16-byte `BLOB` with it (schema 11 on).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum ContactValue {
    /// The normalised contact (encryption off).
    Plain(String),
    /// The short blind index (encryption on).
    Blind(rapport_sql::seal::ShortIndex),
}

/// Never shows the contact (personal data) nor its index.
impl std::fmt::Debug for ContactValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "ContactValue::Plain(..)",
            Self::Blind(_) => "ContactValue::Blind(..)",
        })
    }
}

impl rusqlite::ToSql for ContactValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Plain(s) => ValueRef::Text(s.as_bytes()),
            Self::Blind(b) => ValueRef::Blob(b),
        }))
    }
}

/// The `email`/`phone` columns of `c`: short blind indexes through `sealer`, else the
/// contacts the customer claims.
pub(crate) fn contact_columns(
    sealer: Option<&rapport_sql::seal::Sealer>,
    c: &rapport_core::Customer,
) -> Result<(Option<ContactValue>, Option<ContactValue>), SqliteError> {
    Ok(match sealer {
        Some(s) => {
            let (e, p) = s.short_contact_columns(c)?;
            (e.map(ContactValue::Blind), p.map(ContactValue::Blind))
        }
        None => {
            let (e, p) = rapport_sql::codec::claimed_contacts(c);
            (
                e.map(|e| ContactValue::Plain(e.to_owned())),
                p.map(|p| ContactValue::Plain(p.to_owned())),
            )
        }
    })
}

/// What the contact columns hold for a lookup of `key`: its short blind index through
/// `sealer`, else the contact.
pub(crate) fn contact_lookup(
    sealer: Option<&rapport_sql::seal::Sealer>,
    tenant: rapport_core::TenantId,
    key: &rapport_core::ContactKey,
) -> Result<ContactValue, SqliteError> {
    Ok(match sealer {
        Some(s) => ContactValue::Blind(s.short_lookup(tenant, key)?),
        None => ContactValue::Plain(key.as_str().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    proptest! {
        /// Migration 11's conversion of a stored blind index (`unhex(substr(x, 1, 32))` in
        /// SQLite) equals the short form the code writes and looks up.
        #[test]
        fn the_migration_converts_as_the_code_writes(digest in prop::array::uniform32(any::<u8>())) {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let conn = rusqlite::Connection::open_in_memory().unwrap();
            let converted: Vec<u8> = conn
                .query_row("SELECT unhex(substr(?1, 1, 32))", [&hex], |r| r.get(0))
                .unwrap();
            let short = rapport_sql::seal::short_blind_index(&hex).unwrap();
            prop_assert_eq!(&converted[..], &short[..]);
            prop_assert_eq!(&short[..], &digest[..16]);
        }
    }
}

//! Row codecs every SQL store uses: records as JSON text (money inside as canonical decimal
//! text, scale kept), decode failures as [`CorruptRow`] naming the table, and the nearest
//! `f64` of a decimal for float projection columns.

use rapport_core::Record;
use rust_decimal::Decimal;

/// A stored row that does not decode (or a record that does not encode).
///
/// ```
/// use rapport_sql::codec::{CorruptRow, from_json};
/// let err = from_json::<rapport_core::Stats>("customers", "{oops").unwrap_err();
/// assert_eq!(err.table, "customers");
/// assert!(err.to_string().starts_with("corrupt row in customers: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt row in {table}: {reason}")]
pub struct CorruptRow {
    /// The table.
    pub table: &'static str,
    /// What did not decode.
    pub reason: String,
}

/// JSON text of a record.
///
/// ```
/// let text = rapport_sql::codec::to_json("customers", &rapport_core::Stats::default())?;
/// assert!(text.starts_with('{'));
/// # Ok::<(), rapport_sql::codec::CorruptRow>(())
/// ```
///
/// # Errors
/// [`CorruptRow`] if serialisation fails (it does not for the model types).
pub fn to_json<T: serde::Serialize>(table: &'static str, v: &T) -> Result<String, CorruptRow> {
    serde_json::to_string(v).map_err(|e| CorruptRow {
        table,
        reason: e.to_string(),
    })
}

/// A record from its JSON text.
///
/// ```
/// use rapport_core::Stats;
/// use rapport_sql::codec::{from_json, to_json};
/// let text = to_json("customers", &Stats::default())?;
/// assert_eq!(from_json::<Stats>("customers", &text)?, Stats::default());
/// # Ok::<(), rapport_sql::codec::CorruptRow>(())
/// ```
///
/// # Errors
/// [`CorruptRow`] naming the table when the text does not decode.
pub fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    s: &str,
) -> Result<T, CorruptRow> {
    serde_json::from_str(s).map_err(|e| CorruptRow {
        table,
        reason: e.to_string(),
    })
}

/// A customer row's record from its `customer_json` and `stats_json` columns.
///
/// ```
/// use rapport_core::*;
/// use rapport_sql::codec::{decode_record, to_json};
/// let t = TenantId::from_u128(1);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), chrono::DateTime::UNIX_EPOCH);
/// let r = decode_record("customers", &to_json("customers", &c)?, &to_json("customers", &Stats::default())?)?;
/// assert_eq!(r.customer, c);
/// assert!(decode_record("customers", "{}", "{}").is_err());
/// # Ok::<(), rapport_sql::codec::CorruptRow>(())
/// ```
///
/// # Errors
/// [`CorruptRow`] naming `table` when either column does not decode.
pub fn decode_record(
    table: &'static str,
    customer_json: &str,
    stats_json: &str,
) -> Result<Record, CorruptRow> {
    Ok(Record {
        customer: from_json(table, customer_json)?,
        stats: from_json(table, stats_json)?,
    })
}

/// The `f64` nearest to `d` (`None` only if its text does not parse, which it always does).
/// Rounding to nearest is monotone (`a < b` gives `f(a) <= f(b)`), which is what makes a
/// float projection of money usable as a prefilter ([`crate::MoneyColumn::NearestF64`]).
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_sql::codec::nearest_f64;
/// assert_eq!(nearest_f64(Decimal::new(1050, 2)), Some(10.5));
/// assert_eq!(nearest_f64(Decimal::new(1, 28)), Some(1e-28));
/// ```
#[must_use]
pub fn nearest_f64(d: Decimal) -> Option<f64> {
    d.to_string().parse().ok()
}

/// The contacts a customer row claims in the `email` and `phone` columns: its normalised
/// email and phone while it is live, nothing once it is a tombstone. The stores' partial
/// unique indexes on `(tenant_id, email)` and `(tenant_id, phone)` over these columns are what
/// holds "one live customer per email and per phone"; a merged or erased customer releases
/// its contacts by writing `NULL` here.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_sql::codec::claimed_contacts;
/// let t = TenantId::from_u128(1);
/// let p = Profile { email: Some(Pii::new(Email::parse("Li@Example.cn")?)), ..Profile::default() };
/// let c = Customer::new(t, CustomerId::from_u128(2), p, DateTime::UNIX_EPOCH);
/// assert_eq!(claimed_contacts(&c), (Some("li@example.cn"), None));
/// let mut merged = c.next_version();
/// merged.set_lifecycle(merged.lifecycle().merge_into(CustomerId::from_u128(3), DateTime::UNIX_EPOCH)?)?;
/// assert_eq!(claimed_contacts(&merged), (None, None));
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn claimed_contacts(c: &rapport_core::Customer) -> (Option<&str>, Option<&str>) {
    if !c.is_live() {
        return (None, None);
    }
    (
        c.profile.email.as_ref().map(|e| e.expose().as_str()),
        c.profile.phone.as_ref().map(|p| p.expose().as_str()),
    )
}

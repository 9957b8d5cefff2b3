//! Reads: each one statement on a pooled connection (one snapshot).

use chrono::{DateTime, Utc};
use rapport_core::{Activity, CustomerId, Record, StoreError};
use tokio_postgres::Row;

use crate::error::{corrupt, corrupt_row};

/// A customer row (`customer_json`, `stats_json`) decoded.
pub(crate) fn record(row: &Row) -> Result<Record, StoreError> {
    rapport_sql::codec::decode_record("customers", row.get(0), row.get(1)).map_err(corrupt_row)
}

pub(crate) fn customer_id(row: &Row) -> CustomerId {
    CustomerId::from_uuid(row.get(0))
}

pub(crate) fn activity(row: &Row) -> Result<Activity, StoreError> {
    let a: &str = row.get(0);
    serde_json::from_str(a).map_err(|e| corrupt("activities", e))
}

/// The earliest `timestamptz` (4713-11-24 BC), in microseconds since the Unix epoch; chrono's
/// latest time is inside PostgreSQL's range.
const PG_MIN_MICROS: i64 = -210_866_803_200_000_000;

/// True when `t` is earlier than every time PostgreSQL can store.
pub(crate) fn before_all(t: DateTime<Utc>) -> bool {
    t.timestamp_micros() < PG_MIN_MICROS
}

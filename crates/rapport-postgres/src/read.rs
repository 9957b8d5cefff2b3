//! Reads: each one statement on a pooled connection (one snapshot).

use std::future::Future;

use chrono::{DateTime, Utc};
use rapport_core::{Activity, CustomerId, Record, StoreError, TenantId};
use rapport_sql::seal::Sealer;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::{column, corrupt, corrupt_row, db};

/// Runs `query` (a statement sent on `client` when first polled) after naming `tenant` for
/// the row-level security policies, both in one round trip (pipelined: the setting is sent
/// first).
pub(crate) async fn as_tenant<T>(
    client: &deadpool_postgres::ClientWrapper,
    tenant: &str,
    query: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    let set = client
        .prepare_cached(crate::sql::SET_TENANT)
        .await
        .map_err(db)?;
    let (named, out) = futures::future::join(client.execute(&set, &[&tenant]), query).await;
    named.map_err(db)?;
    out.map_err(db)
}

/// Column `idx` of a row of `table`, decoded: a NULL where a value is required, or a value of
/// another type, is [`StoreError::Corrupt`] naming the table and the column (never a panic,
/// as `Row::get` would).
pub(crate) fn col<'a, T: FromSql<'a>>(
    row: &'a Row,
    table: &str,
    idx: usize,
) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| {
        let name = row.columns().get(idx).map_or("?", |c| c.name());
        column(table, name, &e)
    })
}

/// A customer row (`customer_json`, `stats_json`) decoded.
pub(crate) fn record(row: &Row, sealer: Option<&Sealer>) -> Result<Record, StoreError> {
    let customer = rapport_sql::seal::decode_customer(sealer, col(row, "customers", 0)?)
        .map_err(crate::error::seal_failure)?;
    let stats = rapport_sql::codec::from_json("customers", col(row, "customers", 1)?)
        .map_err(corrupt_row)?;
    Ok(Record { customer, stats })
}

pub(crate) fn customer_id(row: &Row) -> Result<CustomerId, StoreError> {
    col(row, "customers", 0).map(CustomerId::from_uuid)
}

/// Activity rows (`activity_json` first) decoded, each customer's key looked up once.
pub(crate) fn activities(
    rows: &[Row],
    tenant: TenantId,
    sealer: Option<&Sealer>,
) -> Result<Vec<Activity>, StoreError> {
    let mut decoder = rapport_sql::seal::ActivityDecoder::new(sealer, tenant);
    rows.iter()
        .map(|row| {
            let a: &str = col(row, "activities", 0)?;
            match sealer {
                Some(_) => decoder.decode(a).map_err(crate::error::seal_failure),
                None => serde_json::from_str(a).map_err(|e| corrupt("activities", e)),
            }
        })
        .collect()
}

/// The earliest `timestamptz` (4713-11-24 BC), in microseconds since the Unix epoch; chrono's
/// latest time is inside PostgreSQL's range.
const PG_MIN_MICROS: i64 = -210_866_803_200_000_000;

/// True when `t` is earlier than every time PostgreSQL can store.
pub(crate) fn before_all(t: DateTime<Utc>) -> bool {
    t.timestamp_micros() < PG_MIN_MICROS
}

//! Reads: each one statement on a pooled connection (one snapshot).

use std::future::Future;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, ObjectId};
use rapport_core::{Activity, CustomerId, Record, StoreError, TenantId};
use rapport_sql::seal::Sealer;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::{column, corrupt, corrupt_row, db};

/// The tenant each pooled connection's session names (`rapport.tenant`, as [`as_tenant`] set
/// it), by the pool's object id (unique within the pool, never reused). Only [`as_tenant`]
/// sets the session's value (writes name theirs with `set_config(…, true)`, which ends with
/// their transaction), and the pool recycles connections without resetting them
/// (`RecyclingMethod::Fast`), so a connection found here names that tenant still. An entry is
/// taken out while a read runs on its connection: a read that fails leaves the tenant unknown,
/// and the next read names it again.
#[derive(Debug, Default)]
pub(crate) struct Named(std::sync::Mutex<std::collections::HashMap<ObjectId, String>>);

/// Entries kept at most; past it the map starts afresh (connections closed by the pool leave
/// theirs behind).
const NAMED_MAX: usize = 256;

impl Named {
    fn take(&self, id: ObjectId) -> Option<String> {
        self.0.lock().ok()?.remove(&id)
    }

    /// The connection's session tenant is no longer known (it is about to be set another
    /// way than by [`as_tenant`]).
    pub(crate) fn forget(&self, client: &Object) {
        self.take(Object::id(client));
    }

    fn put(&self, id: ObjectId, tenant: &str) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= NAMED_MAX {
                map.clear();
            }
            map.insert(id, tenant.to_owned());
        }
    }
}

/// Runs `query` (a statement sent on `client` when first polled) with `tenant` named for the
/// row-level security policies: when the connection's session names another tenant (or none
/// known), the naming is sent first, both in one round trip (pipelined); when it names this
/// tenant already ([`Named`]), the statement goes alone.
pub(crate) async fn as_tenant<T>(
    named: &Named,
    client: &Object,
    tenant: &str,
    query: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    let id = Object::id(client);
    if named.take(id).as_deref() == Some(tenant) {
        let out = query.await.map_err(db)?;
        named.put(id, tenant);
        return Ok(out);
    }
    let set = client
        .prepare_cached(crate::sql::SET_TENANT)
        .await
        .map_err(db)?;
    let (set, out) = futures::future::join(client.execute(&set, &[&tenant]), query).await;
    set.map_err(db)?;
    // The session names `tenant` now, whatever the statement's outcome.
    named.put(id, tenant);
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
    if sealer.is_none() {
        return rows
            .iter()
            .map(|row| {
                let a: &str = col(row, "activities", 0)?;
                serde_json::from_str(a).map_err(|e| corrupt("activities", e))
            })
            .collect();
    }
    // Sealed rows: opened on two threads for a long timeline (`decode_activities`).
    let json = rows
        .iter()
        .map(|row| col::<&str>(row, "activities", 0))
        .collect::<Result<Vec<&str>, StoreError>>()?;
    rapport_sql::seal::decode_activities(sealer, tenant, &json).map_err(crate::error::seal_failure)
}

/// The earliest `timestamptz` (4713-11-24 BC), in microseconds since the Unix epoch; chrono's
/// latest time is inside PostgreSQL's range.
const PG_MIN_MICROS: i64 = -210_866_803_200_000_000;

/// True when `t` is earlier than every time PostgreSQL can store.
pub(crate) fn before_all(t: DateTime<Utc>) -> bool {
    t.timestamp_micros() < PG_MIN_MICROS
}

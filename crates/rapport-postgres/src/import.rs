//! Bulk imports: one transaction per batch, idempotent (known customers and activity keys are
//! skipped, never overwritten). Two paths with the same results ([`ImportPath`]):
//!
//! - `Copy`: the rows are streamed with `COPY … FROM STDIN (FORMAT binary)` into a temporary
//!   staging table (dropped at commit), then moved with one
//!   `INSERT … SELECT … ORDER BY ord ON CONFLICT DO NOTHING` — so the first of two rows with
//!   one key wins, as on the other path.
//! - `Statements`: one `INSERT … ON CONFLICT DO NOTHING` per row, pipelined on one connection.

use std::collections::{BTreeMap, HashSet};
use std::pin::pin;

use futures::future::try_join_all;
use rapport_core::{Activity, Customer, CustomerId, Stats, StoreError, TenantId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use rapport_sql::ImportReport;

use crate::apply::{ActivityRow, CustomerRow};
use crate::error::{db, pool};
use crate::read::record;
use crate::{ImportPath, Inner};

pub(crate) async fn customers(
    inner: &Inner,
    tenant: TenantId,
    rows: Vec<CustomerRow>,
) -> Result<ImportReport, StoreError> {
    let t = *tenant.as_uuid();
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    let inserted = match inner.import {
        ImportPath::Copy if !rows.is_empty() => copy_customers(&tx, inner, &t, &rows).await?,
        _ => {
            let written = try_join_all(rows.iter().map(|r| r.insert(&tx, &inner.sql, &t))).await?;
            written.iter().filter(|n| **n == 1).count()
        }
    };
    tx.commit().await.map_err(db)?;
    Ok(ImportReport {
        rows: rows.len(),
        inserted,
        skipped: rows.len() - inserted,
    })
}

pub(crate) fn check_tenant(
    tenant: TenantId,
    batch: &[(Customer, Stats)],
) -> Result<Vec<CustomerRow>, StoreError> {
    batch
        .iter()
        .map(|(c, s)| {
            if c.tenant() != tenant {
                return Err(StoreError::Invalid(
                    rapport_core::DomainError::InvalidChangeset {
                        reason: format!("customer {} belongs to another tenant", c.id()),
                    },
                ));
            }
            CustomerRow::new(c, s)
        })
        .collect()
}

pub(crate) async fn activities(
    inner: &Inner,
    tenant: TenantId,
    batch: Vec<Activity>,
) -> Result<ImportReport, StoreError> {
    let t = *tenant.as_uuid();
    let rows = batch
        .iter()
        .map(|a| {
            a.kind.validate()?;
            ActivityRow::new(a)
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    let written: Vec<u64> = match inner.import {
        ImportPath::Copy if !rows.is_empty() => copy_activities(&tx, inner, &t, &rows).await?,
        _ => try_join_all(rows.iter().map(|r| r.insert(&tx, &inner.sql, &t))).await?,
    };
    let mut report = ImportReport {
        rows: batch.len(),
        ..ImportReport::default()
    };
    let mut fresh: BTreeMap<CustomerId, Vec<&Activity>> = BTreeMap::new();
    for (a, n) in batch.iter().zip(&written) {
        if *n == 1 {
            report.inserted += 1;
            fresh.entry(a.customer).or_default().push(a);
        } else {
            report.skipped += 1;
        }
    }
    // In id order, so concurrent imports lock customers in one order (no deadlocks).
    for (id, acts) in fresh {
        let row = tx
            .query_opt(
                &tx.prepare_cached(&inner.sql.load_for_update)
                    .await
                    .map_err(db)?,
                &[&t, id.as_uuid()],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                entity: rapport_core::ports::Entity::Customer(id),
            });
        };
        let mut r = record(&row)?;
        for a in acts {
            r.stats.apply(a)?;
        }
        CustomerRow::new(&r.customer.next_version(), &r.stats)?
            .update_stats(&tx, &inner.sql, &t)
            .await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(report)
}

const CUSTOMER_COLUMNS: &str = "tenant_id, customer_id, version, stage, tier, merged_into, \
     created_at, email, phone, orders, purchase_days, revenue, last_purchase_day, \
     first_purchase_day, customer_json, stats_json";

/// The binary types of [`CUSTOMER_COLUMNS`] and the staging order.
const CUSTOMER_TYPES: [Type; 17] = [
    Type::UUID,
    Type::UUID,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::NUMERIC,
    Type::DATE,
    Type::DATE,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
];

const ACTIVITY_COLUMNS: &str =
    "tenant_id, idempotency_key, activity_id, customer_id, at, kind, amount, activity_json";

/// The binary types of [`ACTIVITY_COLUMNS`] and the staging order.
const ACTIVITY_TYPES: [Type; 9] = [
    Type::UUID,
    Type::TEXT,
    Type::UUID,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::NUMERIC,
    Type::TEXT,
    Type::INT8,
];

/// Streams `rows` (each its values, then its position) into a fresh staging table shaped
/// like `table` plus `ord`, dropped at commit.
async fn stage<'r, I>(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    table: &str,
    columns: &str,
    types: &[Type],
    rows: I,
) -> Result<String, StoreError>
where
    I: Iterator<Item = Vec<&'r (dyn ToSql + Sync)>>,
{
    let staging = format!("rapport_import_{table}");
    tx.batch_execute(&format!(
        "CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS
             SELECT {columns}, 0::bigint AS ord FROM \"{schema}\".{table} WITH NO DATA"
    ))
    .await
    .map_err(db)?;
    let sink = tx
        .copy_in(&format!(
            "COPY {staging} ({columns}, ord) FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(db)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
    for (ord, mut values) in rows.enumerate() {
        let ord = i64::try_from(ord).unwrap_or(i64::MAX);
        values.push(&ord);
        writer.as_mut().write(&values).await.map_err(db)?;
    }
    writer.as_mut().finish().await.map_err(db)?;
    Ok(staging)
}

/// The customers through `COPY`; how many were new.
async fn copy_customers(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    t: &uuid::Uuid,
    rows: &[CustomerRow],
) -> Result<usize, StoreError> {
    let staging = stage(
        tx,
        &inner.schema,
        "customers",
        CUSTOMER_COLUMNS,
        &CUSTOMER_TYPES,
        rows.iter().map(|r| r.values(t).to_vec()),
    )
    .await?;
    let n = tx
        .execute(
            &format!(
                "INSERT INTO \"{}\".customers ({CUSTOMER_COLUMNS})
                 SELECT {CUSTOMER_COLUMNS} FROM {staging} ORDER BY ord
                 ON CONFLICT DO NOTHING",
                inner.schema
            ),
            &[],
        )
        .await
        .map_err(db)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The activities through `COPY`; for each row, 1 when it was stored and 0 when its key was
/// known (or came earlier in the batch), as the per-row statements answer.
async fn copy_activities(
    tx: &deadpool_postgres::Transaction<'_>,
    inner: &Inner,
    t: &uuid::Uuid,
    rows: &[ActivityRow],
) -> Result<Vec<u64>, StoreError> {
    let staging = stage(
        tx,
        &inner.schema,
        "activities",
        ACTIVITY_COLUMNS,
        &ACTIVITY_TYPES,
        rows.iter().map(|r| r.values(t).to_vec()),
    )
    .await?;
    let stored = tx
        .query(
            &format!(
                "INSERT INTO \"{}\".activities ({ACTIVITY_COLUMNS})
                 SELECT {ACTIVITY_COLUMNS} FROM {staging} ORDER BY ord
                 ON CONFLICT DO NOTHING RETURNING idempotency_key",
                inner.schema
            ),
            &[],
        )
        .await
        .map_err(db)?;
    let mut fresh: HashSet<String> = stored.iter().map(|r| r.get(0)).collect();
    Ok(rows
        .iter()
        .map(|r| u64::from(fresh.remove(r.key())))
        .collect())
}

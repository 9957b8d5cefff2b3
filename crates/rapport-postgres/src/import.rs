//! Bulk imports: one transaction per batch, idempotent (known customers and activity keys are
//! skipped, never overwritten). Two paths with the same results ([`ImportPath`]):
//!
//! - `Copy`: when no key comes twice in the batch and neither its first nor its last key is
//!   stored (two primary-key probes), the rows are streamed with `COPY … FROM STDIN (FORMAT
//!   binary)` straight into the table, under a savepoint: should any key be stored after all
//!   (elsewhere in the batch, or by a concurrent writer meanwhile), the primary key refuses
//!   the copy (it cannot hold a second row for a key), the copy is rolled back to the
//!   savepoint, and the batch takes the general way. The general way streams the rows into a temporary staging table (dropped at
//!   commit), then moves them with one `INSERT … SELECT … ORDER BY ord ON CONFLICT DO
//!   NOTHING` — so the first of two rows with one key wins, as on the other path.
//! - `Statements`: one `INSERT … ON CONFLICT DO NOTHING` per row, pipelined on one connection.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::pin::pin;

use futures::future::try_join_all;
use rapport_core::{Activity, Customer, CustomerId, Stats, StoreError, TenantId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use rapport_sql::ImportReport;

use crate::apply::{ActivityRow, CustomerRow};
use crate::error::{db, pool};
use crate::read::record;
use crate::{ImportPath, Inner};

pub(crate) async fn customers(
    inner: &Inner,
    tenant: TenantId,
    batch: &[(Customer, Stats)],
) -> Result<ImportReport, StoreError> {
    let t = *tenant.as_uuid();
    let sealer = inner.sealer.get();
    let row = |(c, s): &(Customer, Stats)| CustomerRow::new(c, s, sealer);
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    name_tenant(&tx, &t).await?;
    let inserted = match inner.import {
        ImportPath::Copy if !batch.is_empty() => {
            let ids: Vec<uuid::Uuid> = batch.iter().map(|(c, _)| *c.id().as_uuid()).collect();
            let mut rows = Vec::with_capacity(batch.len());
            let copied = !rls(inner)
                && distinct(&ids)
                && !any_stored(&tx, &inner.sql.any_customer, &t, &ends(&ids)).await?
                && direct(
                    &tx,
                    &inner.schema,
                    "customers",
                    CUSTOMER_COLUMNS,
                    &CUSTOMER_TYPES[..16],
                    (&t, batch.iter().map(row)),
                    &mut rows,
                )
                .await?;
            if copied {
                batch.len()
            } else {
                // The rows the copy did not reach before it was refused.
                for r in &batch[rows.len()..] {
                    rows.push(row(r)?);
                }
                copy_customers(&tx, inner, &t, &rows).await?
            }
        }
        _ => {
            let rows = batch.iter().map(row).collect::<Result<Vec<_>, _>>()?;
            let stmt = tx
                .prepare_cached(&inner.sql.insert_customer)
                .await
                .map_err(db)?;
            let written = try_join_all(rows.iter().map(|r| r.insert(&tx, &stmt, &t))).await?;
            written.iter().filter(|n| **n == 1).count()
        }
    };
    // A row not written is either already stored (by id) or refused because another live
    // customer holds its email or phone; only then is it worth counting which.
    let contact_taken = if inserted < batch.len() {
        let mut ids: Vec<uuid::Uuid> = batch.iter().map(|(c, _)| *c.id().as_uuid()).collect();
        ids.sort_unstable();
        ids.dedup();
        let stored: i64 = tx
            .query_one(&inner.sql.count_customers, &[&t, &ids])
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        ids.len()
            .saturating_sub(usize::try_from(stored).unwrap_or(0))
    } else {
        0
    };
    if let Some(s) = inner.sealer.get() {
        s.keys().sync()?;
    }
    tx.commit().await.map_err(db)?;
    Ok(ImportReport {
        rows: batch.len(),
        inserted,
        skipped: batch.len() - inserted - contact_taken,
        contact_taken,
    })
}

/// The unique contact indexes of `customers` (migration 2's definitions, in the store's
/// schema): what a first load drops before its rows and builds again after them.
fn contact_indexes(schema: &str) -> [(&'static str, String); 2] {
    [
        (
            "customers_email",
            format!(
                "CREATE UNIQUE INDEX customers_email ON \"{schema}\".customers (tenant_id, email) \
                 WHERE email IS NOT NULL"
            ),
        ),
        (
            "customers_phone",
            format!(
                "CREATE UNIQUE INDEX customers_phone ON \"{schema}\".customers (tenant_id, phone) \
                 WHERE phone IS NOT NULL"
            ),
        ),
    ]
}

/// How many rows a first load makes before it decides which contact indexes it rebuilds.
const LOOK_AHEAD: usize = 1024;

/// A first load: every row of `rows` in one transaction into an empty `customers` table,
/// the unique contact indexes dropped before the copy and built again after it (a sorted
/// build instead of one index insertion per row). `None`, with nothing read from `rows` and
/// nothing written, when the way is closed: row-level security applies to the store's role,
/// the table holds a row (of any tenant), another session holds a lock on it for 5 s, or the role
/// may not drop its indexes (it does not own the table).
///
/// The table is locked `ACCESS EXCLUSIVE` for the load, so no other writer can take a
/// contact or an id meanwhile; the indexes' decisions are made in memory as the rows go, in
/// order, exactly as `INSERT … ON CONFLICT DO NOTHING` in row order would: a row whose id
/// came before is skipped, a row whose email or phone column a written row holds is refused
/// (`contact_taken`), and only written rows claim. Building the indexes again cannot fail
/// for that reason; should it fail anyway, the error rolls the whole load back.
pub(crate) async fn first_load<I>(
    inner: &Inner,
    tenant: TenantId,
    rows: &mut I,
) -> Result<Option<ImportReport>, StoreError>
where
    I: Iterator<Item = (Customer, Stats)>,
{
    if rls(inner) {
        return Ok(None);
    }
    let t = *tenant.as_uuid();
    let sealer = inner.sealer.get();
    let schema = &inner.schema;
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    // A lock held elsewhere for more than 5 s (an autovacuum in the way cancels itself
    // after `deadlock_timeout`) or a role without the right to drop an index closes the way
    // (the transaction is rolled back when dropped); any other error is the caller's.
    let closed = |e: tokio_postgres::Error| match e.code() {
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            Ok(None)
        }
        _ => Err(db(e)),
    };
    if let Err(e) = tx
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '5s';
             LOCK TABLE \"{schema}\".customers IN ACCESS EXCLUSIVE MODE"
        ))
        .await
    {
        return closed(e);
    }
    let occupied: bool = crate::read::col(
        &tx.query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM \"{schema}\".customers)"),
            &[],
        )
        .await
        .map_err(db)?,
        "customers",
        0,
    )?;
    if occupied {
        return Ok(None);
    }
    // Only an index the load fills is dropped and built again: a load without phones keeps
    // the phone index (a row without a phone only has its predicate checked), which saves
    // the build's scan of the whole table. Decided on the first rows, made ahead.
    let mut ahead: Vec<(Customer, Stats, CustomerRow)> = Vec::new();
    for (c, s) in rows.by_ref().take(LOOK_AHEAD) {
        let row = CustomerRow::new(&c, &s, sealer)?;
        ahead.push((c, s, row));
    }
    let fills = |pick: fn(&CustomerRow) -> bool| ahead.iter().any(|(_, _, r)| pick(r));
    let (email, phone) = (
        fills(|r| r.contacts().0.is_some()),
        fills(|r| r.contacts().1.is_some()),
    );
    let indexes: Vec<(&str, String)> = contact_indexes(schema)
        .into_iter()
        .zip([email, phone])
        .filter_map(|(index, filled)| filled.then_some(index))
        .collect();
    for (name, _) in &indexes {
        if let Err(e) = tx
            .batch_execute(&format!("DROP INDEX \"{schema}\".{name}"))
            .await
        {
            return closed(e);
        }
    }
    name_tenant(&tx, &t).await?;

    let mut report = ImportReport::default();
    let mut written: HashSet<uuid::Uuid> = HashSet::new();
    let mut refused: HashSet<uuid::Uuid> = HashSet::new();
    let (mut emails, mut phones): (HashSet<String>, HashSet<String>) = Default::default();
    let sink = tx
        .copy_in(&format!(
            "COPY \"{schema}\".customers ({CUSTOMER_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(db)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &CUSTOMER_TYPES[..16]));
    let made = ahead.into_iter().map(|(c, s, r)| (c, s, Some(r)));
    for (c, s, made) in made.chain(rows.map(|(c, s)| (c, s, None))) {
        report.rows += 1;
        if c.tenant() != tenant {
            // Dropping the transaction rolls the load back: nothing is written.
            return Err(StoreError::Invalid(
                rapport_core::DomainError::InvalidChangeset {
                    reason: format!("customer {} belongs to another tenant", c.id()),
                },
            ));
        }
        let id = *c.id().as_uuid();
        if written.contains(&id) {
            continue;
        }
        let row = match made {
            Some(row) => row,
            None => CustomerRow::new(&c, &s, sealer)?,
        };
        let (email, phone) = row.contacts();
        if email.is_some_and(|e| emails.contains(e)) || phone.is_some_and(|p| phones.contains(p)) {
            refused.insert(id);
            continue;
        }
        emails.extend(email.map(str::to_owned));
        phones.extend(phone.map(str::to_owned));
        written.insert(id);
        writer
            .as_mut()
            .write(&row.copy_values(&t))
            .await
            .map_err(db)?;
    }
    writer.as_mut().finish().await.map_err(db)?;
    tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")
        .await
        .map_err(db)?;
    for (_, create) in &indexes {
        tx.batch_execute(create).await.map_err(db)?;
    }
    if let Some(s) = sealer {
        s.keys().sync()?;
    }
    tx.commit().await.map_err(db)?;
    report.inserted = written.len();
    report.contact_taken = refused.difference(&written).count();
    report.skipped = report.rows - report.inserted - report.contact_taken;
    Ok(Some(report))
}

/// Every customer of the batch is the tenant's (checked before anything is sent).
pub(crate) fn check_tenant(
    tenant: TenantId,
    batch: &[(Customer, Stats)],
) -> Result<(), StoreError> {
    match batch.iter().find(|(c, _)| c.tenant() != tenant) {
        Some((c, _)) => Err(StoreError::Invalid(
            rapport_core::DomainError::InvalidChangeset {
                reason: format!("customer {} belongs to another tenant", c.id()),
            },
        )),
        None => Ok(()),
    }
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
            ActivityRow::new(a, tenant, inner.sealer.get())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    name_tenant(&tx, &t).await?;
    let written: Vec<u64> = match inner.import {
        ImportPath::Copy if !rows.is_empty() => {
            let keys: Vec<&str> = rows.iter().map(ActivityRow::key).collect();
            let copied = !rls(inner)
                && distinct(&keys)
                && !any_stored(&tx, &inner.sql.any_activity, &t, &ends(&keys)).await?
                && direct(
                    &tx,
                    &inner.schema,
                    "activities",
                    ACTIVITY_COLUMNS,
                    &ACTIVITY_TYPES[..8],
                    (&t, rows.iter().map(Ok)),
                    &mut Vec::new(),
                )
                .await?;
            if copied {
                vec![1; rows.len()]
            } else {
                copy_activities(&tx, inner, &t, &rows).await?
            }
        }
        _ => {
            let stmt = tx
                .prepare_cached(&inner.sql.insert_activity)
                .await
                .map_err(db)?;
            try_join_all(rows.iter().map(|r| r.insert(&tx, &stmt, &t))).await?
        }
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
        let mut r = record(&row, inner.sealer.get())?;
        for a in acts {
            r.stats.apply(a)?;
        }
        CustomerRow::new(&r.customer.next_version(), &r.stats, inner.sealer.get())?
            .update_stats(&tx, &inner.sql, &t)
            .await?;
    }
    if let Some(s) = inner.sealer.get() {
        s.keys().sync()?;
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

/// The first and the last key: what is probed before copying straight in. A re-run of a
/// batch (every key stored) is caught by the probe and takes the staging way at once; a
/// batch with a stored key elsewhere is caught by the primary key during the copy, which
/// then falls back (a wasted copy, but never a wrong row). Probing every key would cost
/// ~15 % of a first load's time.
fn ends<K: Clone>(keys: &[K]) -> Vec<K> {
    match keys {
        [] => Vec::new(),
        [one] => vec![one.clone()],
        [first, .., last] => vec![first.clone(), last.clone()],
    }
}

/// No key twice.
fn distinct<K: Hash + Eq>(keys: &[K]) -> bool {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter().all(|k| seen.insert(k))
}

/// Whether any of `keys` is stored for the tenant (`sql` takes the tenant and the key array).
async fn any_stored<K: ToSql + Sync>(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    t: &uuid::Uuid,
    keys: &[K],
) -> Result<bool, StoreError> {
    let stmt = tx.prepare_cached(sql).await.map_err(db)?;
    let row = tx.query_one(&stmt, &[t, &keys]).await.map_err(db)?;
    crate::read::col(&row, "customers", 0)
}

/// Whether row-level security applies to the store's role: the server then refuses `COPY
/// FROM` into the tables, and the rows go through staging.
fn rls(inner: &Inner) -> bool {
    inner.rls.get().copied().unwrap_or(true)
}

/// Names the tenant for the row-level security policies until the end of the transaction.
async fn name_tenant(
    tx: &deadpool_postgres::Transaction<'_>,
    t: &uuid::Uuid,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(crate::sql::SET_TENANT_LOCAL)
        .await
        .map_err(db)?;
    tx.execute(&stmt, &[&t.to_string()]).await.map_err(db)?;
    Ok(())
}

/// `COPY … FROM STDIN (FORMAT binary)` of `rows` into `target`'s `columns`; with `ord`, each
/// row's position follows its values (the last column).
async fn copy_rows<'r, I>(
    tx: &deadpool_postgres::Transaction<'_>,
    target: &str,
    columns: &str,
    types: &[Type],
    rows: I,
    ord: bool,
) -> Result<(), tokio_postgres::Error>
where
    I: Iterator<Item = Vec<&'r (dyn ToSql + Sync)>>,
{
    let sink = tx
        .copy_in(&format!(
            "COPY {target} ({columns}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
    for (i, mut values) in rows.enumerate() {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        if ord {
            values.push(&i);
        }
        writer.as_mut().write(&values).await?;
    }
    writer.as_mut().finish().await?;
    Ok(())
}

/// A row a copy writes: its values in the column order.
pub(crate) trait CopyRow {
    /// The values, the tenant first.
    fn copy_values<'a>(&'a self, tenant: &'a uuid::Uuid) -> Vec<&'a (dyn ToSql + Sync)>;
}

impl CopyRow for CustomerRow {
    fn copy_values<'a>(&'a self, tenant: &'a uuid::Uuid) -> Vec<&'a (dyn ToSql + Sync)> {
        self.values(tenant).to_vec()
    }
}

impl CopyRow for ActivityRow {
    fn copy_values<'a>(&'a self, tenant: &'a uuid::Uuid) -> Vec<&'a (dyn ToSql + Sync)> {
        self.values(tenant).to_vec()
    }
}

impl<R: CopyRow> CopyRow for &R {
    fn copy_values<'a>(&'a self, tenant: &'a uuid::Uuid) -> Vec<&'a (dyn ToSql + Sync)> {
        (**self).copy_values(tenant)
    }
}

/// Copies the rows of `source` (the tenant, then rows made as the copy goes) straight into
/// `table`, under a savepoint, keeping each row written in `made` — so a caller that builds
/// rows lazily encodes the next ones while the server inserts the first. `false` (with
/// nothing written) when a key was stored by someone else after the caller's check: the
/// primary key refused the copy, and the caller takes the staging way with the rows made so
/// far. Not taken when row-level security applies to the store's role ([`rls`]). A row that
/// fails to be made aborts the copy and returns its error (the caller's transaction is then
/// dropped, rolling everything back).
async fn direct<R, I>(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    table: &str,
    columns: &str,
    types: &[Type],
    (tenant, rows): (&uuid::Uuid, I),
    made: &mut Vec<R>,
) -> Result<bool, StoreError>
where
    R: CopyRow,
    I: Iterator<Item = Result<R, StoreError>>,
{
    tx.batch_execute("SAVEPOINT rapport_direct")
        .await
        .map_err(db)?;
    let target = format!("\"{schema}\".{table}");
    let copy = async {
        let sink = tx
            .copy_in(&format!(
                "COPY {target} ({columns}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(Copy::Db)?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
        for row in rows {
            let row = row.map_err(Copy::Row)?;
            writer
                .as_mut()
                .write(&row.copy_values(tenant))
                .await
                .map_err(Copy::Db)?;
            made.push(row);
        }
        writer.as_mut().finish().await.map_err(Copy::Db)?;
        Ok::<(), Copy>(())
    };
    match copy.await {
        Ok(()) => {
            tx.batch_execute("RELEASE SAVEPOINT rapport_direct")
                .await
                .map_err(db)?;
            Ok(true)
        }
        Err(Copy::Db(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            tx.batch_execute(
                "ROLLBACK TO SAVEPOINT rapport_direct; RELEASE SAVEPOINT rapport_direct",
            )
            .await
            .map_err(db)?;
            Ok(false)
        }
        Err(Copy::Db(e)) => Err(db(e)),
        Err(Copy::Row(e)) => Err(e),
    }
}

/// Why a direct copy stopped.
enum Copy {
    /// The server or the connection.
    Db(tokio_postgres::Error),
    /// A row could not be made (a seal failure).
    Row(StoreError),
}

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
    copy_rows(tx, &staging, &format!("{columns}, ord"), types, rows, true)
        .await
        .map_err(db)?;
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
    let mut fresh = stored
        .iter()
        .map(|r| crate::read::col(r, "activities", 0))
        .collect::<Result<HashSet<String>, _>>()?;
    Ok(rows
        .iter()
        .map(|r| u64::from(fresh.remove(r.key())))
        .collect())
}

//! Bulk imports: one transaction per batch, idempotent (known customers and activity keys are
//! skipped), statements pipelined on one connection. (`COPY BINARY` is the planned faster
//! path.)

use std::collections::BTreeMap;

use futures::future::try_join_all;
use rapport_core::{Activity, Customer, CustomerId, Stats, StoreError, TenantId};

use crate::Inner;
use crate::apply::{ActivityRow, CustomerRow};
use crate::error::{db, pool};
use crate::read::record;

/// What an import batch did.
///
/// ```
/// use rapport_postgres::ImportReport;
/// let mut total = ImportReport::default();
/// total += ImportReport { rows: 3, inserted: 1, skipped: 2 };
/// total += ImportReport { rows: 2, inserted: 2, skipped: 0 };
/// assert_eq!(total, ImportReport { rows: 5, inserted: 3, skipped: 2 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows in the batch.
    pub rows: usize,
    /// Rows written (new).
    pub inserted: usize,
    /// Rows already present (skipped: the import is idempotent).
    pub skipped: usize,
}

impl std::ops::AddAssign for ImportReport {
    fn add_assign(&mut self, o: Self) {
        self.rows += o.rows;
        self.inserted += o.inserted;
        self.skipped += o.skipped;
    }
}

pub(crate) async fn customers(
    inner: &Inner,
    tenant: TenantId,
    rows: Vec<CustomerRow>,
) -> Result<ImportReport, StoreError> {
    let t = *tenant.as_uuid();
    let mut client = inner.pool.get().await.map_err(pool)?;
    let tx = client.transaction().await.map_err(db)?;
    let written = try_join_all(rows.iter().map(|r| r.insert(&tx, &inner.sql, &t))).await?;
    tx.commit().await.map_err(db)?;
    let inserted = written.iter().filter(|n| **n == 1).count();
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
    let written = try_join_all(rows.iter().map(|r| r.insert(&tx, &inner.sql, &t))).await?;
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
                what: format!("customer {id}"),
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

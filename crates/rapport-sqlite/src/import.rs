//! The bulk import path: one `BEGIN IMMEDIATE` transaction per batch, prepared statements,
//! idempotent on re-run (customers by id, activities by idempotency key).

use std::collections::BTreeMap;

use rapport_core::{Activity, Customer, CustomerId, Stats, TenantId};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::apply::{ApplyError, CustomerRow, INSERT_CUSTOMER, insert_row};
use crate::codec::{from_json, time_to_us, to_json};

/// What one import batch did.
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

/// Serialises an import batch of customers (on the caller's thread).
pub(crate) fn prepare_customers(
    tenant: TenantId,
    batch: &[(Customer, Stats)],
) -> Result<Vec<CustomerRow>, ApplyError> {
    batch
        .iter()
        .map(|(c, s)| {
            if c.tenant() != tenant {
                return Err(ApplyError::Invalid(
                    rapport_core::DomainError::InvalidChangeset {
                        reason: format!("customer {} belongs to another tenant", c.id()),
                    },
                ));
            }
            Ok(CustomerRow::new(c, s)?)
        })
        .collect()
}

/// Inserts customers that do not exist yet; existing ids are skipped, not overwritten.
pub(crate) fn customers(
    conn: &mut Connection,
    tenant: TenantId,
    rows: &[CustomerRow],
) -> Result<ImportReport, ApplyError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = ImportReport {
        rows: rows.len(),
        ..ImportReport::default()
    };
    {
        let sql = format!("{INSERT_CUSTOMER} ON CONFLICT (tenant_id, customer_id) DO NOTHING");
        let mut ins = tx.prepare_cached(&sql)?;
        for r in rows {
            if insert_row(&mut ins, tenant.to_bytes(), r)? == 1 {
                report.inserted += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    tx.commit()?;
    Ok(report)
}

/// Inserts activities whose key is new and folds exactly those into their customers' stats
/// (each touched customer's version steps by one), all in one transaction. An activity of an
/// unknown customer fails the whole batch.
pub(crate) fn activities(
    conn: &mut Connection,
    tenant: TenantId,
    batch: &[Activity],
) -> Result<ImportReport, ApplyError> {
    let t = tenant.to_bytes();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = ImportReport {
        rows: batch.len(),
        ..ImportReport::default()
    };
    let mut fresh: BTreeMap<CustomerId, Vec<&Activity>> = BTreeMap::new();
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO rapport_activities (tenant_id, idempotency_key, activity_id, customer_id,
                 at_us, kind, activity_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        )?;
        for a in batch {
            a.kind.validate()?;
            let n = ins.execute(params![
                t,
                a.idempotency_key.as_str(),
                a.id.to_bytes(),
                a.customer.to_bytes(),
                time_to_us(a.at),
                a.kind.activity_type().as_str(),
                to_json("rapport_activities", a)?,
            ])?;
            if n == 1 {
                report.inserted += 1;
                fresh.entry(a.customer).or_default().push(a);
            } else {
                report.skipped += 1;
            }
        }
    }
    {
        let mut get = tx.prepare_cached(
            "SELECT customer_json, stats_json FROM rapport_customers
             WHERE tenant_id = ?1 AND customer_id = ?2",
        )?;
        let mut put = tx.prepare_cached(
            "UPDATE rapport_customers SET version = ?3, orders = ?4, purchase_days = ?5,
                 revenue_num = ?6, last_purchase_day = ?7, first_purchase_day = ?8,
                 customer_json = ?9, stats_json = ?10
             WHERE tenant_id = ?1 AND customer_id = ?2",
        )?;
        for (id, acts) in fresh {
            let row: Option<(String, String)> = get
                .query_row(params![t, id.to_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((cj, sj)) = row else {
                return Err(ApplyError::NotFound(id));
            };
            let customer: Customer = from_json("rapport_customers", &cj)?;
            let mut stats: Stats = from_json("rapport_customers", &sj)?;
            for a in acts {
                stats.apply(a)?;
            }
            let p = CustomerRow::new(&customer.next_version(), &stats)?;
            put.execute(params![
                t,
                id.to_bytes(),
                p.version,
                p.orders,
                p.purchase_days,
                p.revenue_num,
                p.last_purchase_day,
                p.first_purchase_day,
                p.customer_json,
                p.stats_json,
            ])?;
        }
    }
    tx.commit()?;
    Ok(report)
}

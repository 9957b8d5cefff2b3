//! Line items on PostgreSQL (table `line_items`, migration 8, row-level security per
//! tenant): a changeset's lines written in its transaction once its other statements
//! succeeded without a duplicate key, read back by activity, by customer and in pages.

use chrono::{DateTime, Utc};
use rapport_core::{
    ActivityId, Changeset, CustomerId, LineItemStore, LineItems, StoreError, TenantId,
};
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::{corrupt, db, pool};
use crate::{PostgresStore, read};

const TABLE: &str = "line_items";

/// The line item statements for one schema.
#[derive(Debug, Clone)]
pub(crate) struct LineSql {
    insert: String,
    reassign: String,
    one: String,
    of_customer: String,
    page: String,
}

impl LineSql {
    pub(crate) fn new(s: &str) -> Self {
        let cols = "SELECT customer_id, lines_json FROM";
        Self {
            insert: format!(
                "INSERT INTO {s}.line_items (tenant_id, activity_id, customer_id, at, lines_json)
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            reassign: format!(
                "UPDATE {s}.line_items SET customer_id = $3
                 WHERE tenant_id = $1 AND activity_id = $2"
            ),
            one: format!("{cols} {s}.line_items WHERE tenant_id = $1 AND activity_id = $2"),
            of_customer: format!(
                "{cols} {s}.line_items WHERE tenant_id = $1 AND customer_id = $2
                 ORDER BY at, activity_id"
            ),
            page: format!(
                "{cols} {s}.line_items WHERE tenant_id = $1 AND ($2::uuid IS NULL OR activity_id > $2)
                 ORDER BY activity_id LIMIT $3"
            ),
        }
    }
}

struct LineRow {
    activity: Uuid,
    customer: Uuid,
    at: DateTime<Utc>,
    json: String,
}

/// A changeset's line rows and the (activity, new customer) of its moves.
#[derive(Default)]
pub(crate) struct LineWrites {
    rows: Vec<LineRow>,
    moves: Vec<(Uuid, Uuid)>,
}

impl LineWrites {
    pub(crate) fn new(cs: &Changeset) -> Result<Self, StoreError> {
        Ok(Self {
            rows: cs
                .line_items
                .iter()
                .map(|l| {
                    Ok(LineRow {
                        activity: *l.activity.as_uuid(),
                        customer: *l.customer.as_uuid(),
                        at: l.at,
                        json: serde_json::to_string(l).map_err(|e| corrupt(TABLE, e))?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            moves: cs
                .moves
                .iter()
                .map(|m| (*m.activity.id.as_uuid(), *m.activity.customer.as_uuid()))
                .collect(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.moves.is_empty()
    }

    /// Inserts and moves in `tx` (whose tenant is set), after the changeset's other
    /// statements succeeded.
    pub(crate) async fn write(
        &self,
        tx: &impl Conn,
        sql: &LineSql,
        tenant: &Uuid,
    ) -> Result<(), StoreError> {
        if !self.rows.is_empty() {
            let insert: Statement = tx.prepare(&sql.insert).await?;
            for r in &self.rows {
                tx.exec(&insert, &[tenant, &r.activity, &r.customer, &r.at, &r.json])
                    .await?;
            }
        }
        if !self.moves.is_empty() {
            let update: Statement = tx.prepare(&sql.reassign).await?;
            for (a, c) in &self.moves {
                tx.exec(&update, &[tenant, a, c]).await?;
            }
        }
        Ok(())
    }
}

fn decode(r: &Row) -> Result<LineItems, StoreError> {
    let customer: Uuid = read::col(r, TABLE, 0)?;
    let mut l: LineItems =
        serde_json::from_str(&read::col::<String>(r, TABLE, 1)?).map_err(|e| corrupt(TABLE, e))?;
    l.customer = CustomerId::from_uuid(customer);
    Ok(l)
}

impl PostgresStore {
    async fn line_rows(
        &self,
        tenant: TenantId,
        pick: fn(&LineSql) -> &String,
        a: Option<Uuid>,
        b: Option<i64>,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(pick(&inner.sql.line_items))
                .await
                .map_err(db)?;
            let t = *tenant.as_uuid();
            let rows = match b {
                Some(limit) => {
                    read::as_tenant(
                        &inner.named,
                        &client,
                        &tenant.to_string(),
                        client.query(&stmt, &[&t, &a, &limit]),
                    )
                    .await?
                }
                None => {
                    read::as_tenant(
                        &inner.named,
                        &client,
                        &tenant.to_string(),
                        client.query(&stmt, &[&t, &a]),
                    )
                    .await?
                }
            };
            rows.iter().map(decode).collect()
        })
        .await
    }
}

impl LineItemStore for PostgresStore {
    async fn line_items(
        &self,
        tenant: TenantId,
        activity: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        let rows = self
            .line_rows(tenant, |s| &s.one, Some(*activity.as_uuid()), None)
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn customer_line_items(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.line_rows(tenant, |s| &s.of_customer, Some(*customer.as_uuid()), None)
            .await
    }

    async fn line_items_page(
        &self,
        tenant: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.line_rows(
            tenant,
            |s| &s.page,
            after.map(|a| *a.as_uuid()),
            Some(i64::from(limit)),
        )
        .await
    }
}

rapport_sql::activity_import! {
    /// Bulk imports with line items: [`rapport_core::ports::import_by_apply`], one changeset per
    /// batch (all or nothing, versions checked, keys idempotent), logged as the other imports.
    PostgresStore, "rapport_postgres.import_activities",
    |this, tenant, batch, policy| rapport_sql::logged_import(this, tenant, batch, policy).await
}

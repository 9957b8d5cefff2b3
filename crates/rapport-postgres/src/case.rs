//! Cases in PostgreSQL (`cases`, schema version 7, row-level security per tenant): written in
//! the changeset's pipeline (a create with `ON CONFLICT DO NOTHING`, an update with
//! `WHERE version = $n`, each followed by a read of the version left, so a refusal names it
//! without another round trip), read with the tenant named first.

use chrono::{DateTime, Utc};
use futures::future::{join, join_all};
use rapport_core::ports::Entity;
use rapport_core::{Case, CaseId, CaseQuery, CaseStore, Changeset, StoreError, TenantId};
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::PostgresStore;
use crate::conn::Conn;
use crate::error::{corrupt, db, pool};
use crate::read::{as_tenant, col};

const TABLE: &str = "cases";

/// The case statements for one schema.
#[derive(Debug, Clone)]
pub(crate) struct CaseSql {
    pub(crate) insert: String,
    pub(crate) update: String,
    pub(crate) version_of: String,
    load: String,
    list: String,
}

impl CaseSql {
    /// `s` is the quoted schema name.
    pub(crate) fn new(s: &str) -> Self {
        Self {
            insert: format!(
                "INSERT INTO {s}.cases (tenant_id, case_id, customer_id, version, status,
                     severity, opened_at, case_json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
            ),
            update: format!(
                "UPDATE {s}.cases SET customer_id = $3, version = $4, status = $5, severity = $6,
                     opened_at = $7, case_json = $8
                 WHERE tenant_id = $1 AND case_id = $2 AND version = $9"
            ),
            version_of: format!(
                "SELECT version FROM {s}.cases WHERE tenant_id = $1 AND case_id = $2"
            ),
            load: format!("SELECT case_json FROM {s}.cases WHERE tenant_id = $1 AND case_id = $2"),
            list: format!(
                "SELECT case_json FROM {s}.cases
                 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR case_id > $2)
                   AND ($3::uuid IS NULL OR customer_id = $3)
                   AND (NOT $4 OR status IN ('open', 'in_progress', 'waiting_on_customer'))
                 ORDER BY case_id LIMIT $5"
            ),
        }
    }
}

/// The prepared case statements (`None` when the changeset writes no case).
pub(crate) struct CaseStmts {
    insert: Option<Statement>,
    update: Option<Statement>,
    version_of: Option<Statement>,
}

impl CaseStmts {
    /// Prepares what `rows` need (everything when `None`).
    pub(crate) async fn prepare(
        tx: &impl Conn,
        sql: &CaseSql,
        rows: Option<&[CaseRow]>,
    ) -> Result<Self, StoreError> {
        let (creates, updates) = rows.map_or((true, true), |r| {
            (
                r.iter().any(|c| c.expected.is_none()),
                r.iter().any(|c| c.expected.is_some()),
            )
        });
        let prep = |yes: bool, text: &str| {
            let text = text.to_owned();
            async move {
                if yes {
                    tx.prepare(&text).await.map(Some)
                } else {
                    Ok(None)
                }
            }
        };
        Ok(Self {
            insert: prep(creates, &sql.insert).await?,
            update: prep(updates, &sql.update).await?,
            version_of: prep(creates || updates, &sql.version_of).await?,
        })
    }
}

/// One case row ready to write.
pub(crate) struct CaseRow {
    id: Uuid,
    expected: Option<u64>,
    customer: Uuid,
    version: i64,
    status: &'static str,
    severity: &'static str,
    opened_at: DateTime<Utc>,
    json: String,
}

/// Serialises a changeset's case writes.
pub(crate) fn rows(cs: &Changeset) -> Result<Vec<CaseRow>, StoreError> {
    cs.cases
        .iter()
        .map(|w| {
            let c = w.case();
            Ok(CaseRow {
                id: *c.id().as_uuid(),
                expected: w.expected_version(),
                customer: *c.customer.as_uuid(),
                version: i64::try_from(c.version()).unwrap_or(i64::MAX),
                status: c.status().as_str(),
                severity: c.severity.as_str(),
                opened_at: c.opened_at(),
                json: serde_json::to_string(c).map_err(|e| corrupt(TABLE, e))?,
            })
        })
        .collect()
}

/// Sends every case write (with the read of the version it leaves) on the first poll, then
/// reads the answers in order: the first refused write is the outcome.
pub(crate) async fn send(
    tx: &impl Conn,
    stmts: &CaseStmts,
    tenant: &Uuid,
    rows: &[CaseRow],
) -> Result<(), StoreError> {
    let answers = join_all(rows.iter().map(|r| async move {
        let expected = r.expected.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let write = async {
            match (expected, &stmts.insert, &stmts.update) {
                (None, Some(ins), _) => {
                    tx.exec(
                        ins,
                        &[
                            tenant,
                            &r.id,
                            &r.customer,
                            &r.version,
                            &r.status,
                            &r.severity,
                            &r.opened_at,
                            &r.json,
                        ],
                    )
                    .await
                }
                (Some(v), _, Some(upd)) => {
                    tx.exec(
                        upd,
                        &[
                            tenant,
                            &r.id,
                            &r.customer,
                            &r.version,
                            &r.status,
                            &r.severity,
                            &r.opened_at,
                            &r.json,
                            &v,
                        ],
                    )
                    .await
                }
                _ => Ok(0),
            }
        };
        let version = async {
            match &stmts.version_of {
                Some(stmt) => tx.rows(stmt, &[tenant, &r.id]).await,
                None => Ok(Vec::new()),
            }
        };
        join(write, version).await
    }))
    .await;
    for (r, (n, version)) in rows.iter().zip(answers) {
        if n? == 1 {
            continue;
        }
        let stored = match version?.first() {
            Some(row) => u64::try_from(col::<i64>(row, TABLE, 0)?).unwrap_or(0),
            None => 0,
        };
        let case = CaseId::from_uuid(r.id);
        return Err(match r.expected {
            Some(_) if stored == 0 => StoreError::NotFound {
                entity: Entity::Case(case),
            },
            expected => StoreError::CaseConflict {
                case,
                expected: expected.unwrap_or(0),
                actual: stored,
            },
        });
    }
    Ok(())
}

fn decode(row: &tokio_postgres::Row) -> Result<Case, StoreError> {
    let json: &str = col(row, TABLE, 0)?;
    serde_json::from_str(json).map_err(|e| corrupt(TABLE, e))
}

impl CaseStore for PostgresStore {
    async fn load_case(&self, tenant: TenantId, id: CaseId) -> Result<Option<Case>, StoreError> {
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(&inner.sql.case.load)
                .await
                .map_err(db)?;
            let row = as_tenant(
                &inner.named,
                &client,
                &tenant.to_string(),
                client.query_opt(&stmt, &[tenant.as_uuid(), id.as_uuid()]),
            )
            .await?;
            row.as_ref().map(decode).transpose()
        })
        .await
    }

    async fn cases(&self, tenant: TenantId, query: CaseQuery) -> Result<Vec<Case>, StoreError> {
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(&inner.sql.case.list)
                .await
                .map_err(db)?;
            let after = query.after.map(|a| *a.as_uuid());
            let customer = query.customer.map(|c| *c.as_uuid());
            let limit = i64::from(query.limit);
            let rows = as_tenant(
                &inner.named,
                &client,
                &tenant.to_string(),
                client.query(
                    &stmt,
                    &[
                        tenant.as_uuid(),
                        &after,
                        &customer,
                        &query.open_only,
                        &limit,
                    ],
                ),
            )
            .await?;
            rows.iter().map(decode).collect()
        })
        .await
    }
}

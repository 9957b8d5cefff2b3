//! [`ActionStore`] for PostgreSQL: scheduled actions and the action log (migration 0006,
//! row-level security per tenant). A write is one transaction that names its tenant, the
//! sent actions' outbox rows included.

use chrono::{DateTime, Utc};
use rapport_core::automation::{ActionOutcome, ActionRecord, ScheduledAction};
use rapport_core::ports::{ActionLog, ActionStore, DueActions, redriven_action};
use rapport_core::{CustomerId, StoreError, TenantId};
use uuid::Uuid;

use crate::PostgresStore;
use crate::error::{corrupt, db, pool};
use crate::read;

fn json<T: serde::Serialize>(table: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(table, e))
}

fn outcome_label(r: &ActionRecord) -> String {
    r.outcome.label().to_owned()
}

impl ActionStore for PostgresStore {
    async fn write_actions(&self, t: TenantId, w: &DueActions) -> Result<ActionLog, StoreError> {
        let w = w.clone();
        self.run(move |inner| async move {
            let s = format!("\"{}\"", inner.schema);
            let mut client = inner.pool.get().await.map_err(pool)?;
            let tx = client.transaction().await.map_err(db)?;
            tx.execute(crate::sql::SET_TENANT_LOCAL, &[&t.to_string()]).await.map_err(db)?;
            let tu = *t.as_uuid();
            let mut out = ActionLog::default();
            let known = tx
                .prepare(&format!(
                    "SELECT EXISTS(SELECT 1 FROM {s}.scheduled_actions WHERE tenant_id = $1 AND action_id = $2)
                         OR EXISTS(SELECT 1 FROM {s}.action_log WHERE tenant_id = $1 AND action_id = $2)"
                ))
                .await
                .map_err(db)?;
            let ins = tx
                .prepare(&format!(
                    "INSERT INTO {s}.scheduled_actions (tenant_id, action_id, customer_id, due, action_json)
                     VALUES ($1, $2, $3, $4, $5)"
                ))
                .await
                .map_err(db)?;
            for a in &w.schedule {
                let id = *a.id.as_uuid();
                let exists: bool = tx.query_one(&known, &[&tu, &id]).await.map_err(db)?.get(0);
                if a.tenant != t || exists {
                    out.skipped += 1;
                    continue;
                }
                let body = json("scheduled_actions", a)?;
                tx.execute(&ins, &[&tu, &id, a.customer.as_uuid(), &a.due, &body]).await.map_err(db)?;
                out.scheduled += 1;
            }
            let defer = tx
                .prepare(&format!("UPDATE {s}.scheduled_actions SET due = $3 WHERE tenant_id = $1 AND action_id = $2"))
                .await
                .map_err(db)?;
            for (id, due) in &w.defer {
                tx.execute(&defer, &[&tu, id.as_uuid(), due]).await.map_err(db)?;
            }
            let drop_it = tx
                .prepare(&format!("DELETE FROM {s}.scheduled_actions WHERE tenant_id = $1 AND action_id = $2"))
                .await
                .map_err(db)?;
            let log = tx
                .prepare(&format!(
                    "INSERT INTO {s}.action_log (tenant_id, action_id, customer_id, at, outcome, record_json)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
                ))
                .await
                .map_err(db)?;
            let mut fresh = Vec::new();
            for r in w.log.iter().filter(|r| r.tenant == t) {
                let id = *r.id.as_uuid();
                tx.execute(&drop_it, &[&tu, &id]).await.map_err(db)?;
                let body = json("action_log", r)?;
                let n = tx
                    .execute(&log, &[&tu, &id, r.customer.as_uuid(), &r.at, &outcome_label(r), &body])
                    .await
                    .map_err(db)?;
                if n == 1 {
                    fresh.push(r.id.message_id());
                    out.logged += 1;
                }
            }
            let msg = tx
                .prepare(&format!(
                    "INSERT INTO {s}.outbox (tenant_id, message_id, occurred_at, attempts, message_json)
                     VALUES ($1, $2, $3, 0, $4) ON CONFLICT DO NOTHING"
                ))
                .await
                .map_err(db)?;
            for m in w.outbox.iter().filter(|m| m.tenant == t && fresh.contains(&m.id)) {
                let body = json("outbox", m)?;
                tx.execute(&msg, &[&tu, m.id.as_uuid(), &m.occurred_at, &body]).await.map_err(db)?;
            }
            // Dead letters and re-drives rewrite a line (read under FOR UPDATE) when its
            // current outcome allows: sent → dead_lettered, dead_lettered → sent.
            let line = tx
                .prepare(&format!(
                    "SELECT record_json FROM {s}.action_log WHERE tenant_id = $1 AND action_id = $2 FOR UPDATE"
                ))
                .await
                .map_err(db)?;
            let relabel = tx
                .prepare(&format!(
                    "UPDATE {s}.action_log SET outcome = $3, record_json = $4 WHERE tenant_id = $1 AND action_id = $2"
                ))
                .await
                .map_err(db)?;
            let mut changes: Vec<(uuid::Uuid, ActionOutcome, Option<&rapport_core::OutboxMessage>)> = Vec::new();
            for (id, reason) in &w.dead_letters {
                changes.push((*id.as_uuid(), ActionOutcome::DeadLettered { reason: reason.clone() }, None));
            }
            for m in w.redrive.iter().filter(|m| m.tenant == t) {
                if let Some(id) = redriven_action(m) {
                    changes.push((*id.as_uuid(), ActionOutcome::Sent, Some(m)));
                }
            }
            for (id, outcome, message) in changes {
                let Some(row) = tx.query_opt(&line, &[&tu, &id]).await.map_err(db)? else {
                    continue;
                };
                let body: &str = read::col(&row, "action_log", 0)?;
                let mut r: ActionRecord =
                    serde_json::from_str(body).map_err(|e| corrupt("action_log", e))?;
                let allowed = if message.is_some() { r.is_dead_lettered() } else { r.is_sent() };
                if !allowed {
                    continue;
                }
                r.outcome = outcome;
                let body = json("action_log", &r)?;
                tx.execute(&relabel, &[&tu, &id, &outcome_label(&r), &body]).await.map_err(db)?;
                match message {
                    None => out.dead_lettered += 1,
                    Some(m) => {
                        let body = json("outbox", m)?;
                        tx.execute(&msg, &[&tu, m.id.as_uuid(), &m.occurred_at, &body]).await.map_err(db)?;
                        out.redriven += 1;
                    }
                }
            }
            tx.commit().await.map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        let c = *customer.as_uuid();
        self.scheduled(t, Scope::Customer(c)).await
    }

    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        self.scheduled(t, Scope::Due(now, i64::from(limit))).await
    }

    async fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let c: Option<Uuid> = customer.map(|c| *c.as_uuid());
        self.run(move |inner| async move {
            let s = format!("\"{}\"", inner.schema);
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT record_json FROM {s}.action_log
                     WHERE tenant_id = $1 AND at >= $2 AND ($3::uuid IS NULL OR customer_id = $3)
                     ORDER BY at, action_id LIMIT $4"
                ))
                .await
                .map_err(db)?;
            let tu = *t.as_uuid();
            let rows = read::as_tenant(
                &inner.named,
                &client,
                &t.to_string(),
                client.query(&stmt, &[&tu, &since, &c, &i64::from(limit)]),
            )
            .await?;
            rows.iter()
                .map(|r| {
                    let body: &str = read::col(r, "action_log", 0)?;
                    serde_json::from_str(body).map_err(|e| corrupt("action_log", e))
                })
                .collect()
        })
        .await
    }
}

/// Which scheduled actions to read.
#[derive(Clone, Copy)]
enum Scope {
    /// One customer's.
    Customer(Uuid),
    /// Those due at a time, at most a number.
    Due(DateTime<Utc>, i64),
}

impl PostgresStore {
    /// A tenant's scheduled actions in `scope`, by (due, id).
    async fn scheduled(
        &self,
        t: TenantId,
        scope: Scope,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        self.run(move |inner| async move {
            let s = format!("\"{}\"", inner.schema);
            let client = inner.pool.get().await.map_err(pool)?;
            let tu = *t.as_uuid();
            let rows = match scope {
                Scope::Customer(c) => {
                    let stmt = client
                        .prepare_cached(&format!(
                            "SELECT due, action_json FROM {s}.scheduled_actions
                             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY due, action_id"
                        ))
                        .await
                        .map_err(db)?;
                    read::as_tenant(
                        &inner.named,
                        &client,
                        &t.to_string(),
                        client.query(&stmt, &[&tu, &c]),
                    )
                    .await?
                }
                Scope::Due(now, limit) => {
                    let stmt = client
                        .prepare_cached(&format!(
                            "SELECT due, action_json FROM {s}.scheduled_actions
                             WHERE tenant_id = $1 AND due <= $2 ORDER BY due, action_id LIMIT $3"
                        ))
                        .await
                        .map_err(db)?;
                    read::as_tenant(
                        &inner.named,
                        &client,
                        &t.to_string(),
                        client.query(&stmt, &[&tu, &now, &limit]),
                    )
                    .await?
                }
            };
            rows.iter()
                .map(|r| {
                    let due: DateTime<Utc> = read::col(r, "scheduled_actions", 0)?;
                    let body: &str = read::col(r, "scheduled_actions", 1)?;
                    let mut a: ScheduledAction =
                        serde_json::from_str(body).map_err(|e| corrupt("scheduled_actions", e))?;
                    a.due = due;
                    Ok(a)
                })
                .collect()
        })
        .await
    }
}

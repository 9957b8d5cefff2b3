//! [`ActionStore`] for SQLite: scheduled actions and the action log (migration 0005). Writes
//! run on the writer connection in one `BEGIN IMMEDIATE` transaction, the sent actions'
//! outbox rows included.

use chrono::{DateTime, Utc};
use rapport_core::automation::{ActionId, ActionOutcome, ActionRecord, ScheduledAction};
use rapport_core::ports::{ActionLog, ActionStore, DueActions, redriven_action};
use rapport_core::{CustomerId, StoreError, TenantId};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::SqliteStore;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

const SCHEDULED: &str = "rapport_scheduled_actions";
const LOG: &str = "rapport_action_log";

fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn outcome_label(r: &ActionRecord) -> String {
    r.outcome.label().to_owned()
}

/// Rewrites the log line of `id` with `outcome` when its current line passes `when`; returns
/// whether it did.
fn relabel(
    tx: &rusqlite::Transaction<'_>,
    tb: [u8; 16],
    id: ActionId,
    when: impl Fn(&ActionRecord) -> bool,
    outcome: ActionOutcome,
) -> Result<bool, SqliteError> {
    let idb = id.as_uuid().into_bytes();
    let json: Option<String> = tx
        .prepare_cached(
            "SELECT record_json FROM rapport_action_log WHERE tenant_id = ?1 AND action_id = ?2",
        )?
        .query_map(params![tb, idb], |r| r.get(0))?
        .next()
        .transpose()?;
    let Some(json) = json else { return Ok(false) };
    let mut r: ActionRecord = from_json(LOG, &json)?;
    if !when(&r) {
        return Ok(false);
    }
    r.outcome = outcome;
    tx.prepare_cached(
        "UPDATE rapport_action_log SET outcome = ?3, record_json = ?4 WHERE tenant_id = ?1 AND action_id = ?2",
    )?
    .execute(params![tb, idb, outcome_label(&r), to_json(LOG, &r)?])?;
    Ok(true)
}

fn write(conn: &mut Connection, t: TenantId, w: &DueActions) -> Result<ActionLog, SqliteError> {
    let tb = t.to_bytes();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = ActionLog::default();
    {
        let mut known = tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM rapport_scheduled_actions WHERE tenant_id = ?1 AND action_id = ?2)
                 OR EXISTS(SELECT 1 FROM rapport_action_log WHERE tenant_id = ?1 AND action_id = ?2)",
        )?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO rapport_scheduled_actions (tenant_id, action_id, customer_id, due_us, action_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for a in &w.schedule {
            let id = a.id.as_uuid().into_bytes();
            if a.tenant != t || known.query_row(params![tb, id], |r| r.get::<_, bool>(0))? {
                out.skipped += 1;
                continue;
            }
            ins.execute(params![
                tb,
                id,
                a.customer.to_bytes(),
                time_to_us(a.due),
                to_json(SCHEDULED, a)?
            ])?;
            out.scheduled += 1;
        }
        let mut defer = tx.prepare_cached(
            "UPDATE rapport_scheduled_actions SET due_us = ?3 WHERE tenant_id = ?1 AND action_id = ?2",
        )?;
        for (id, due) in &w.defer {
            defer.execute(params![tb, id.as_uuid().into_bytes(), time_to_us(*due)])?;
        }
        let mut drop_it = tx.prepare_cached(
            "DELETE FROM rapport_scheduled_actions WHERE tenant_id = ?1 AND action_id = ?2",
        )?;
        let mut log = tx.prepare_cached(
            "INSERT INTO rapport_action_log (tenant_id, action_id, customer_id, at_us, outcome, record_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?;
        let mut fresh = Vec::new();
        for r in w.log.iter().filter(|r| r.tenant == t) {
            let id = r.id.as_uuid().into_bytes();
            drop_it.execute(params![tb, id])?;
            let n = log.execute(params![
                tb,
                id,
                r.customer.to_bytes(),
                time_to_us(r.at),
                outcome_label(r),
                to_json(LOG, r)?
            ])?;
            if n == 1 {
                fresh.push(r.id.message_id());
                out.logged += 1;
            }
        }
        let mut msg = tx.prepare_cached(
            "INSERT INTO rapport_outbox (tenant_id, message_id, seq, occurred_at_us, attempts, available_at_us, message_json)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM rapport_outbox), ?3, 0, ?4, ?5)
             ON CONFLICT DO NOTHING",
        )?;
        for m in w
            .outbox
            .iter()
            .filter(|m| m.tenant == t && fresh.contains(&m.id))
        {
            msg.execute(params![
                tb,
                m.id.to_bytes(),
                time_to_us(m.occurred_at),
                i64::MIN,
                to_json("rapport_outbox", m)?
            ])?;
        }
        for (id, reason) in &w.dead_letters {
            let dead = ActionOutcome::DeadLettered {
                reason: reason.clone(),
            };
            if relabel(&tx, tb, *id, ActionRecord::is_sent, dead)? {
                out.dead_lettered += 1;
            }
        }
        for m in w.redrive.iter().filter(|m| m.tenant == t) {
            let Some(id) = redriven_action(m) else {
                continue;
            };
            if relabel(
                &tx,
                tb,
                id,
                ActionRecord::is_dead_lettered,
                ActionOutcome::Sent,
            )? {
                // The first delivery was acknowledged (deleted): the same id goes in again.
                msg.execute(params![
                    tb,
                    m.id.to_bytes(),
                    time_to_us(m.occurred_at),
                    i64::MIN,
                    to_json("rapport_outbox", m)?
                ])?;
                out.redriven += 1;
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

fn scheduled_rows(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<ScheduledAction>, SqliteError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (due, json) = row?;
        let mut a: ScheduledAction = from_json(SCHEDULED, &json)?;
        a.due = from_us(due);
        out.push(a);
    }
    Ok(out)
}

impl ActionStore for SqliteStore {
    async fn write_actions(&self, t: TenantId, w: &DueActions) -> Result<ActionLog, StoreError> {
        let w = w.clone();
        Ok(self.writer.exec(move |c| write(c, t, &w)).await?)
    }

    async fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                scheduled_rows(
                    c,
                    "SELECT due_us, action_json FROM rapport_scheduled_actions
                     WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY due_us, action_id",
                    params![t.to_bytes(), customer.to_bytes()],
                )
            })
            .await?)
    }

    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                scheduled_rows(
                    c,
                    "SELECT due_us, action_json FROM rapport_scheduled_actions
                     WHERE tenant_id = ?1 AND due_us <= ?2 ORDER BY due_us, action_id LIMIT ?3",
                    params![t.to_bytes(), time_to_us(now), i64::from(limit)],
                )
            })
            .await?)
    }

    async fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT record_json FROM rapport_action_log
                     WHERE tenant_id = ?1 AND at_us >= ?2 AND (?3 IS NULL OR customer_id = ?3)
                     ORDER BY at_us, action_id LIMIT ?4",
                )?;
                let rows = stmt.query_map(
                    params![
                        t.to_bytes(),
                        time_to_us(since),
                        customer.map(CustomerId::to_bytes),
                        i64::from(limit)
                    ],
                    |r| r.get::<_, String>(0),
                )?;
                rows.map(|r| from_json(LOG, &r?)).collect()
            })
            .await?)
    }
}

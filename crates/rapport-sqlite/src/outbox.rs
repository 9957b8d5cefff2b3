//! Outbox claims and acks, run on the writer connection in `BEGIN IMMEDIATE` transactions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::{MessageId, OutboxMessage};
use rusqlite::{Connection, TransactionBehavior, params};

use crate::codec::{from_json, time_to_us};
use crate::error::SqliteError;

/// Claims up to `limit` messages available at `now` (never claimed, lease expired, or back-off
/// over), oldest commit first, leasing them until `now + lease` and counting the attempt.
pub(crate) fn claim(
    conn: &mut Connection,
    limit: u32,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxMessage>, SqliteError> {
    let now_us = time_to_us(now);
    let until = now_us.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::new();
    {
        let mut pick = tx.prepare_cached(
            "SELECT tenant_id, message_id, attempts, message_json FROM rapport_outbox
             WHERE available_at_us <= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = pick.query_map(params![now_us, i64::from(limit)], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut lease_it = tx.prepare_cached(
            "UPDATE rapport_outbox SET available_at_us = ?3, attempts = attempts + 1
             WHERE tenant_id = ?1 AND message_id = ?2",
        )?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        for (tenant, id, attempts, json) in rows {
            lease_it.execute(params![tenant, id, until])?;
            let mut m: OutboxMessage = from_json("rapport_outbox", &json)?;
            m.attempts = u32::try_from(attempts + 1).unwrap_or(u32::MAX);
            out.push(m);
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Deletes delivered messages.
pub(crate) fn ack(conn: &mut Connection, ids: &[MessageId]) -> Result<(), SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut del = tx.prepare_cached("DELETE FROM rapport_outbox WHERE message_id = ?1")?;
        for id in ids {
            del.execute(params![id.to_bytes()])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Makes a claimed message available again at `at` (back-off after a failed delivery).
pub(crate) fn retry_at(
    conn: &mut Connection,
    id: MessageId,
    at: DateTime<Utc>,
) -> Result<(), SqliteError> {
    conn.prepare_cached("UPDATE rapport_outbox SET available_at_us = ?2 WHERE message_id = ?1")?
        .execute(params![id.to_bytes(), time_to_us(at)])?;
    Ok(())
}

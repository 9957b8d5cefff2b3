//! Merges in PostgreSQL: a changeset's activity moves, the revival of a tombstone by the undo
//! of its merge, and the merge records (table `merges`, migration 0004, row-level security).
//! Run after the changeset's pipeline succeeded, in the same transaction and savepoint.

use chrono::{DateTime, Utc};
use rapport_core::quality::merge_op::{MergeRecord, MergeRecordWrite};
use rapport_core::{Changeset, CustomerId, DomainError, StoreError};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::apply::CustomerRow;
use crate::conn::Conn;
use crate::error::corrupt;

/// The statement texts, qualified by the schema once.
#[derive(Debug)]
pub(crate) struct MergeSql {
    revive: String,
    version_of: String,
    move_activity: String,
    insert: String,
    undo: String,
    redact: String,
    pub(crate) record: String,
    pub(crate) records_of: String,
    distinct: String,
    pub(crate) distinct_pairs: String,
}

impl MergeSql {
    pub(crate) fn new(s: &str) -> Self {
        Self {
            revive: format!(
                "UPDATE {s}.customers SET version = $3, stage = $4, tier = $5, merged_into = $6,
                     email = $7, phone = $8, orders = $9, purchase_days = $10, revenue = $11,
                     last_purchase_day = $12, first_purchase_day = $13, customer_json = $14,
                     stats_json = $15
                 WHERE tenant_id = $1 AND customer_id = $2 AND version = $16 AND stage = 'merged'"
            ),
            version_of: format!(
                "SELECT version, stage FROM {s}.customers WHERE tenant_id = $1 AND customer_id = $2"
            ),
            move_activity: format!(
                "UPDATE {s}.activities SET customer_id = $5, activity_json = $6
                 WHERE tenant_id = $1 AND idempotency_key = $2 AND activity_id = $3
                   AND customer_id = $4"
            ),
            insert: format!(
                "INSERT INTO {s}.merges (tenant_id, merge_id, survivor_id, loser_id, at, record_json)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
            ),
            undo: format!(
                "UPDATE {s}.merges SET undone_at = $4
                 WHERE tenant_id = $1 AND merge_id = $2 AND loser_id = $3 AND undone_at IS NULL"
            ),
            redact: format!(
                "UPDATE {s}.merges SET record_json = $5
                 WHERE tenant_id = $1 AND merge_id = $2 AND survivor_id = $3 AND loser_id = $4
                   AND (undone_at IS NOT NULL) = $6"
            ),
            distinct: format!(
                "INSERT INTO {s}.distinct_pairs (tenant_id, first_id, second_id, stamp)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, first_id, second_id) DO UPDATE SET stamp = EXCLUDED.stamp"
            ),
            distinct_pairs: format!(
                "SELECT first_id, second_id, stamp FROM {s}.distinct_pairs WHERE tenant_id = $1
                 ORDER BY first_id, second_id"
            ),
            record: format!(
                "SELECT record_json, undone_at FROM {s}.merges WHERE tenant_id = $1 AND merge_id = $2"
            ),
            records_of: format!(
                "SELECT record_json, undone_at FROM {s}.merges
                 WHERE tenant_id = $1 AND (survivor_id = $2 OR loser_id = $2)
                 ORDER BY at, merge_id"
            ),
        }
    }
}

struct MoveRow {
    key: String,
    id: Uuid,
    from: Uuid,
    to: Uuid,
    json: String,
}

enum RecordRow {
    Insert {
        id: Uuid,
        survivor: Uuid,
        loser: Uuid,
        at: DateTime<Utc>,
        json: String,
    },
    Undo {
        id: Uuid,
        loser: CustomerId,
        at: DateTime<Utc>,
    },
    Redact {
        id: Uuid,
        survivor: Uuid,
        loser: Uuid,
        undone: bool,
        json: String,
    },
}

/// A changeset's merge part; the revived customers' rows are taken out of the pipeline.
#[derive(Default)]
pub(crate) struct PreparedMerges {
    revives: Vec<CustomerId>,
    moves: Vec<MoveRow>,
    records: Vec<RecordRow>,
    distinct: Vec<(Uuid, Uuid, i64)>,
}

impl PreparedMerges {
    pub(crate) fn new(
        cs: &Changeset,
        tenant: rapport_core::TenantId,
        sealer: Option<&rapport_sql::seal::Sealer>,
    ) -> Result<Self, StoreError> {
        let mut out = Self::default();
        for m in &cs.moves {
            out.moves.push(MoveRow {
                key: m.activity.idempotency_key.as_str().to_owned(),
                id: *m.activity.id.as_uuid(),
                from: *m.from.as_uuid(),
                to: *m.activity.customer.as_uuid(),
                json: rapport_sql::seal::activity_json(sealer, tenant, &m.activity)
                    .map_err(crate::error::seal_failure)?,
            });
        }
        for d in &cs.distinct {
            out.distinct.push((
                *d.first.as_uuid(),
                *d.second.as_uuid(),
                i64::from_ne_bytes(d.stamp.to_ne_bytes()),
            ));
        }
        for w in &cs.merges {
            out.records.push(match w {
                MergeRecordWrite::Insert { record } => RecordRow::Insert {
                    id: *record.id.as_uuid(),
                    survivor: *record.survivor.as_uuid(),
                    loser: *record.loser.as_uuid(),
                    at: record.at,
                    json: rapport_sql::seal::merge_record_json(sealer, tenant, record)
                        .map_err(crate::error::seal_failure)?,
                },
                MergeRecordWrite::Undo { id, loser, at } => {
                    out.revives.push(*loser);
                    RecordRow::Undo {
                        id: *id.as_uuid(),
                        loser: *loser,
                        at: *at,
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    if cs.reopens(record.loser) {
                        out.revives.push(record.loser);
                    }
                    RecordRow::Redact {
                        id: *record.id.as_uuid(),
                        survivor: *record.survivor.as_uuid(),
                        loser: *record.loser.as_uuid(),
                        undone: record.undone_at.is_some(),
                        json: rapport_sql::seal::redacted_merge_record_json(record)
                            .map_err(crate::error::seal_failure)?,
                    }
                }
            });
        }
        Ok(out)
    }

    pub(crate) fn revives(&self, id: Uuid) -> bool {
        self.revives.iter().any(|c| c.as_uuid() == &id)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.records.is_empty() && self.distinct.is_empty()
    }

    /// Revives, moves and records, one statement after the other.
    pub(crate) async fn write(
        &self,
        tx: &impl Conn,
        sql: &MergeSql,
        t: &Uuid,
        revived: &[(u64, CustomerRow)],
    ) -> Result<(), StoreError> {
        let invalid =
            |reason: String| StoreError::Invalid(DomainError::InvalidChangeset { reason });
        for (expected, row) in revived {
            let stmt = tx.prepare(&sql.revive).await?;
            if row.update(tx, &stmt, t, *expected).await? == 1 {
                continue;
            }
            let stmt = tx.prepare(&sql.version_of).await?;
            let stored = tx.rows(&stmt, &[t, &row.id]).await?;
            let customer = CustomerId::from_uuid(row.id);
            return Err(match stored.first() {
                None => StoreError::NotFound {
                    entity: rapport_core::ports::Entity::Customer(customer),
                },
                Some(r) => {
                    let version: i64 = crate::read::col(r, "customers", 0)?;
                    let stage: String = crate::read::col(r, "customers", 1)?;
                    if stage == "erased" {
                        StoreError::Invalid(DomainError::Tombstoned {
                            customer,
                            state: "erased",
                        })
                    } else {
                        StoreError::Conflict {
                            customer,
                            expected: *expected,
                            actual: u64::try_from(version).unwrap_or(0),
                        }
                    }
                }
            });
        }
        if !self.moves.is_empty() {
            let stmt = tx.prepare(&sql.move_activity).await?;
            for m in &self.moves {
                let params: [&(dyn ToSql + Sync); 6] = [t, &m.key, &m.id, &m.from, &m.to, &m.json];
                if tx.exec(&stmt, &params).await? != 1 {
                    return Err(invalid(format!(
                        "activity {} is not stored under customer {}",
                        m.id, m.from
                    )));
                }
            }
        }
        if !self.distinct.is_empty() {
            let stmt = tx.prepare(&sql.distinct).await?;
            for (a, b, stamp) in &self.distinct {
                let params: [&(dyn ToSql + Sync); 4] = [t, a, b, stamp];
                tx.exec(&stmt, &params).await?;
            }
        }
        for r in &self.records {
            match r {
                RecordRow::Insert {
                    id,
                    survivor,
                    loser,
                    at,
                    json,
                } => {
                    let stmt = tx.prepare(&sql.insert).await?;
                    let params: [&(dyn ToSql + Sync); 6] = [t, id, survivor, loser, at, json];
                    if tx.exec(&stmt, &params).await? != 1 {
                        return Err(invalid(format!("merge {id} is recorded already")));
                    }
                }
                RecordRow::Undo { id, loser, at } => {
                    let stmt = tx.prepare(&sql.undo).await?;
                    let params: [&(dyn ToSql + Sync); 4] = [t, id, loser.as_uuid(), at];
                    if tx.exec(&stmt, &params).await? != 1 {
                        return Err(StoreError::Invalid(DomainError::CannotUnmerge {
                            loser: *loser,
                            reason: "no such merge, or it was undone already",
                        }));
                    }
                }
                RecordRow::Redact {
                    id,
                    survivor,
                    loser,
                    undone,
                    json,
                } => {
                    let stmt = tx.prepare(&sql.redact).await?;
                    let params: [&(dyn ToSql + Sync); 6] = [t, id, survivor, loser, json, undone];
                    if tx.exec(&stmt, &params).await? != 1 {
                        return Err(invalid(format!(
                            "merge {id} is not stored as the redaction names it"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Decodes a `record_json, undone_at` row.
pub(crate) fn decode(
    row: &tokio_postgres::Row,
    tenant: rapport_core::TenantId,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Result<MergeRecord, StoreError> {
    let json: String = crate::read::col(row, "merges", 0)?;
    let undone: Option<DateTime<Utc>> = crate::read::col(row, "merges", 1)?;
    let mut r = match sealer {
        Some(_) => rapport_sql::seal::decode_merge_record(sealer, tenant, &json)
            .map_err(crate::error::seal_failure)?,
        None => serde_json::from_str(&json).map_err(|e| corrupt("merges", e))?,
    };
    r.undone_at = undone;
    Ok(r)
}

/// Decodes a `first_id, second_id, stamp` row.
pub(crate) fn decode_pair(
    row: &tokio_postgres::Row,
) -> Result<rapport_core::DistinctPair, StoreError> {
    let first: Uuid = crate::read::col(row, "distinct_pairs", 0)?;
    let second: Uuid = crate::read::col(row, "distinct_pairs", 1)?;
    let stamp: i64 = crate::read::col(row, "distinct_pairs", 2)?;
    Ok(rapport_core::DistinctPair {
        first: CustomerId::from_uuid(first),
        second: CustomerId::from_uuid(second),
        stamp: u64::from_ne_bytes(stamp.to_ne_bytes()),
    })
}

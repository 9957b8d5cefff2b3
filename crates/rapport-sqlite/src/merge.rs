//! Merges in SQLite: a changeset's activity moves, the revival of a tombstone by the undo of
//! its merge, and the merge records (table `rapport_merges`, migration 0003).

use rapport_core::quality::merge_op::{DistinctPair, MergeRecord, MergeRecordWrite};
use rapport_core::{Changeset, CustomerId, DomainError, MergeId, TenantId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::apply::{ApplyError, CustomerRow};
use crate::codec::time_to_us;
use crate::error::SqliteError;

struct MoveRow {
    key: String,
    id: [u8; 16],
    from: [u8; 16],
    to: [u8; 16],
    json: String,
}

enum RecordRow {
    Insert {
        id: [u8; 16],
        survivor: [u8; 16],
        loser: [u8; 16],
        at_us: i64,
        json: String,
    },
    Undo {
        id: [u8; 16],
        loser: CustomerId,
        at_us: i64,
    },
    Redact {
        id: [u8; 16],
        survivor: [u8; 16],
        loser: [u8; 16],
        undone: bool,
        json: String,
    },
}

/// A changeset's merge part, serialised before the writer sees it.
#[derive(Default)]
pub(crate) struct PreparedMerges {
    revives: Vec<CustomerId>,
    moves: Vec<MoveRow>,
    records: Vec<RecordRow>,
    distinct: Vec<([u8; 16], [u8; 16], i64)>,
}

impl PreparedMerges {
    pub(crate) fn new(
        cs: &Changeset,
        tenant: TenantId,
        sealer: Option<&rapport_sql::seal::Sealer>,
    ) -> Result<Self, SqliteError> {
        let mut out = Self::default();
        for m in &cs.moves {
            out.moves.push(MoveRow {
                key: m.activity.idempotency_key.as_str().to_owned(),
                id: m.activity.id.to_bytes(),
                from: m.from.to_bytes(),
                to: m.activity.customer.to_bytes(),
                json: rapport_sql::seal::activity_json(sealer, tenant, &m.activity)?,
            });
        }
        for d in &cs.distinct {
            out.distinct.push((
                d.first.to_bytes(),
                d.second.to_bytes(),
                i64::from_ne_bytes(d.stamp.to_ne_bytes()),
            ));
        }
        for w in &cs.merges {
            out.records.push(match w {
                MergeRecordWrite::Insert { record } => RecordRow::Insert {
                    id: record.id.to_bytes(),
                    survivor: record.survivor.to_bytes(),
                    loser: record.loser.to_bytes(),
                    at_us: time_to_us(record.at),
                    json: rapport_sql::seal::merge_record_json(sealer, tenant, record)?,
                },
                MergeRecordWrite::Undo { id, loser, at } => {
                    out.revives.push(*loser);
                    RecordRow::Undo {
                        id: id.to_bytes(),
                        loser: *loser,
                        at_us: time_to_us(*at),
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    if cs.reopens(record.loser) {
                        out.revives.push(record.loser);
                    }
                    RecordRow::Redact {
                        id: record.id.to_bytes(),
                        survivor: record.survivor.to_bytes(),
                        loser: record.loser.to_bytes(),
                        undone: record.undone_at.is_some(),
                        json: rapport_sql::seal::redacted_merge_record_json(record)?,
                    }
                }
            });
        }
        Ok(out)
    }

    /// True when the changeset may write tombstone `id`: the undo of the merge that made it,
    /// or its erasure with the customer it was merged into (`Changeset::reopens`).
    pub(crate) fn revives(&self, id: CustomerId) -> bool {
        self.revives.contains(&id)
    }
}

/// Updates a `merged` tombstone revived by its unmerge, at the version read.
pub(crate) fn revive(
    conn: &Connection,
    t: [u8; 16],
    r: &CustomerRow,
    expected: u64,
) -> Result<(), ApplyError> {
    let n = conn
        .prepare_cached(
            "UPDATE rapport_customers SET version = ?3, stage = ?4, tier = ?5, merged_into = ?6,
                 email = ?7, phone = ?8, orders = ?9, purchase_days = ?10, revenue_num = ?11,
                 last_purchase_day = ?12, first_purchase_day = ?13, customer_json = ?14,
                 stats_json = ?15
             WHERE tenant_id = ?1 AND customer_id = ?2 AND version = ?16 AND stage = 'merged'",
        )?
        .execute(params![
            t,
            r.id.to_bytes(),
            r.version,
            r.stage,
            r.tier,
            r.merged_into,
            r.email,
            r.phone,
            r.orders,
            r.purchase_days,
            r.revenue_num,
            r.last_purchase_day,
            r.first_purchase_day,
            r.customer_json,
            r.stats_json,
            i64::try_from(expected).unwrap_or(i64::MAX),
        ]);
    match n {
        Ok(1) => Ok(()),
        Ok(_) => {
            let stored: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT version, stage FROM rapport_customers
                     WHERE tenant_id = ?1 AND customer_id = ?2",
                )?
                .query_row(params![t, r.id.to_bytes()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            match stored {
                None => Err(ApplyError::NotFound(r.id)),
                Some((_, stage)) if stage == "erased" => {
                    Err(ApplyError::Invalid(DomainError::Tombstoned {
                        customer: r.id,
                        state: "erased",
                    }))
                }
                Some((actual, _)) => Err(ApplyError::Conflict {
                    customer: r.id,
                    expected,
                    actual: u64::try_from(actual).unwrap_or(0),
                }),
            }
        }
        Err(e) if crate::apply::is_constraint(&e) => {
            Err(crate::apply::contact_taken(conn, t, r)?.unwrap_or(e.into()))
        }
        Err(e) => Err(e.into()),
    }
}

fn invalid(reason: String) -> ApplyError {
    ApplyError::Invalid(DomainError::InvalidChangeset { reason })
}

/// Writes the moves and the merge records, inside the changeset's savepoint.
pub(crate) fn apply(conn: &Connection, t: [u8; 16], p: &PreparedMerges) -> Result<(), ApplyError> {
    if !p.moves.is_empty() {
        let mut stmt = conn.prepare_cached(
            "UPDATE rapport_activities SET customer_id = ?5, activity_json = ?6
             WHERE tenant_id = ?1 AND idempotency_key = ?2 AND activity_id = ?3
               AND customer_id = ?4",
        )?;
        for m in &p.moves {
            if stmt.execute(params![t, m.key, m.id, m.from, m.to, m.json])? != 1 {
                return Err(invalid(format!(
                    "activity {} is not stored under customer {}",
                    uuid::Uuid::from_bytes(m.id),
                    uuid::Uuid::from_bytes(m.from)
                )));
            }
        }
    }
    if !p.distinct.is_empty() {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO rapport_distinct_pairs (tenant_id, first_id, second_id, stamp)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, first_id, second_id) DO UPDATE SET stamp = excluded.stamp",
        )?;
        for (a, b, stamp) in &p.distinct {
            stmt.execute(params![t, a, b, stamp])?;
        }
    }
    for r in &p.records {
        match r {
            RecordRow::Insert {
                id,
                survivor,
                loser,
                at_us,
                json,
            } => {
                let n = conn
                    .prepare_cached(
                        "INSERT INTO rapport_merges (tenant_id, merge_id, survivor_id, loser_id,
                             at_us, record_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![t, id, survivor, loser, at_us, json])?;
                if n != 1 {
                    return Err(invalid(format!(
                        "merge {} is recorded already",
                        uuid::Uuid::from_bytes(*id)
                    )));
                }
            }
            RecordRow::Undo { id, loser, at_us } => {
                let n = conn
                    .prepare_cached(
                        "UPDATE rapport_merges SET undone_at_us = ?4
                         WHERE tenant_id = ?1 AND merge_id = ?2 AND loser_id = ?3
                           AND undone_at_us IS NULL",
                    )?
                    .execute(params![t, id, loser.to_bytes(), at_us])?;
                if n != 1 {
                    return Err(ApplyError::Invalid(DomainError::CannotUnmerge {
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
                let n = conn
                    .prepare_cached(
                        "UPDATE rapport_merges SET record_json = ?5
                         WHERE tenant_id = ?1 AND merge_id = ?2 AND survivor_id = ?3
                           AND loser_id = ?4 AND (undone_at_us IS NOT NULL) = ?6",
                    )?
                    .execute(params![t, id, survivor, loser, json, undone])?;
                if n != 1 {
                    return Err(invalid(format!(
                        "merge {} is not stored as the redaction names it",
                        uuid::Uuid::from_bytes(*id)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Reads merge record `id` (its `undone_at` from the column).
pub(crate) fn record(
    conn: &Connection,
    tenant: TenantId,
    id: MergeId,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Result<Option<MergeRecord>, SqliteError> {
    let row: Option<(String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT record_json, undone_at_us FROM rapport_merges
             WHERE tenant_id = ?1 AND merge_id = ?2",
        )?
        .query_row(params![tenant.to_bytes(), id.to_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((json, undone)) = row else {
        return Ok(None);
    };
    let mut record = rapport_sql::seal::decode_merge_record(sealer, tenant, &json)?;
    record.undone_at = undone.and_then(chrono::DateTime::from_timestamp_micros);
    Ok(Some(record))
}

/// Every merge record naming `customer`, by time then id.
pub(crate) fn records_of(
    conn: &Connection,
    tenant: TenantId,
    customer: CustomerId,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Result<Vec<MergeRecord>, SqliteError> {
    let rows: Vec<(String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT record_json, undone_at_us FROM rapport_merges
             WHERE tenant_id = ?1 AND (survivor_id = ?2 OR loser_id = ?2)
             ORDER BY at_us, merge_id",
        )?
        .query_map(params![tenant.to_bytes(), customer.to_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(json, undone)| {
            let mut record = rapport_sql::seal::decode_merge_record(sealer, tenant, &json)?;
            record.undone_at = undone.and_then(chrono::DateTime::from_timestamp_micros);
            Ok(record)
        })
        .collect()
}

/// Every pair of `tenant` marked "not a duplicate".
pub(crate) fn distinct_pairs(
    conn: &Connection,
    tenant: TenantId,
) -> Result<Vec<DistinctPair>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT first_id, second_id, stamp FROM rapport_distinct_pairs WHERE tenant_id = ?1
         ORDER BY first_id, second_id",
    )?;
    let rows = stmt.query_map(params![tenant.to_bytes()], |r| {
        Ok((
            r.get::<_, [u8; 16]>(0)?,
            r.get::<_, [u8; 16]>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (a, b, stamp) = row?;
        out.push(DistinctPair {
            first: CustomerId::from_uuid(uuid::Uuid::from_bytes(a)),
            second: CustomerId::from_uuid(uuid::Uuid::from_bytes(b)),
            stamp: u64::from_ne_bytes(stamp.to_ne_bytes()),
        });
    }
    Ok(out)
}

/// A customer's consent entries, cases, links and their accounts (one reader's connection).
pub(crate) fn belongings(
    c: &Connection,
    tenant: TenantId,
    customer: CustomerId,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Result<rapport_core::Belongings, SqliteError> {
    let consents = crate::consent::read(c, tenant, customer, sealer)?;
    let cases = crate::case::of_customer(c, tenant, customer)?;
    let (links, accounts) = crate::account::of_customer(c, tenant, customer)?;
    Ok(rapport_core::Belongings {
        lines: None,
        consents,
        cases,
        links,
        accounts,
    })
}

/// One side of a merge: the customer, its history and belongings, or `None` if it is missing.
pub(crate) fn side(
    c: &Connection,
    tenant: TenantId,
    id: CustomerId,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Result<Option<rapport_core::ports::MergeSide>, SqliteError> {
    let Some((customer, stats)) = crate::read::load(c, tenant, id, sealer)? else {
        return Ok(None);
    };
    Ok(Some(rapport_core::ports::MergeSide {
        record: rapport_core::Record { customer, stats },
        activities: crate::read::activities(c, tenant, id, None, None, sealer)?,
        belongings: belongings(c, tenant, id, sealer)?,
    }))
}

//! The consent ledger on SQLite (table `rapport_consents`, migration 4): entries serialised
//! on the caller's thread with the rest of a changeset, written by the writer thread inside
//! the changeset's savepoint, read by the reader threads.

use rapport_core::Activity;
use rapport_core::ports::{ConsentStore, ErasureStore, already_erased, entry_stored, sort_ledger};
use rapport_core::privacy::{ConsentEntry, ErasureRecord, strip_activity};
use rapport_core::{Changeset, CustomerId, StoreError, TenantId};
use rusqlite::OptionalExtension;
use rusqlite::{Connection, params};

use crate::SqliteStore;
use crate::apply::ApplyError;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

const TABLE: &str = "rapport_consents";

/// One entry, serialised.
pub(crate) struct EntryRow {
    id: [u8; 16],
    customer: [u8; 16],
    at_us: i64,
    recorded_at_us: i64,
    json: String,
}

impl EntryRow {
    fn new(e: &ConsentEntry) -> Result<Self, SqliteError> {
        Ok(Self {
            id: e.id.to_bytes(),
            customer: e.customer.to_bytes(),
            at_us: time_to_us(e.at),
            recorded_at_us: time_to_us(e.recorded_at),
            json: to_json(TABLE, e)?,
        })
    }
}

/// A changeset's ledger writes.
#[derive(Default)]
pub(crate) struct LedgerWrites {
    entries: Vec<EntryRow>,
    moves: Vec<([u8; 16], CustomerId)>,
    entry_moves: Vec<rapport_core::ConsentEntryMove>,
    erasures: Vec<(CustomerId, i64, String)>,
}

impl LedgerWrites {
    pub(crate) fn new(cs: &Changeset) -> Result<Self, SqliteError> {
        Ok(Self {
            entries: cs
                .consents
                .iter()
                .map(EntryRow::new)
                .collect::<Result<_, _>>()?,
            moves: cs
                .consent_moves
                .iter()
                .map(|m| (m.from.to_bytes(), m.to))
                .collect(),
            entry_moves: cs.consent_entry_moves.clone(),
            erasures: cs
                .erasures
                .iter()
                .map(|r| {
                    Ok((
                        r.customer,
                        time_to_us(r.erased_at),
                        to_json("rapport_erasures", r)?,
                    ))
                })
                .collect::<Result<_, SqliteError>>()?,
        })
    }

    /// Moves, then inserts, inside the writer's open savepoint.
    pub(crate) fn apply(&self, conn: &Connection, t: [u8; 16]) -> Result<(), ApplyError> {
        for (from, to) in &self.moves {
            let moved: Vec<([u8; 16], String)> = conn
                .prepare_cached(
                    "SELECT entry_id, entry_json FROM rapport_consents
                     WHERE tenant_id = ?1 AND customer_id = ?2",
                )?
                .query_map(params![t, from], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut update = conn.prepare_cached(
                "UPDATE rapport_consents SET customer_id = ?3, entry_json = ?4
                 WHERE tenant_id = ?1 AND entry_id = ?2",
            )?;
            for (id, json) in moved {
                let mut e: ConsentEntry = from_json(TABLE, &json)?;
                e.customer = *to;
                update.execute(params![t, id, to.to_bytes(), to_json(TABLE, &e)?])?;
            }
        }
        for m in &self.entry_moves {
            let json: Option<String> = conn
                .prepare_cached(
                    "SELECT entry_json FROM rapport_consents
                     WHERE tenant_id = ?1 AND entry_id = ?2 AND customer_id = ?3",
                )?
                .query_row(params![t, m.entry.to_bytes(), m.from.to_bytes()], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(json) = json else {
                return Err(ApplyError::Invalid(
                    rapport_core::DomainError::InvalidChangeset {
                        reason: format!(
                            "consent entry {} is not stored under customer {}",
                            m.entry, m.from
                        ),
                    },
                ));
            };
            let mut e: ConsentEntry = from_json(TABLE, &json)?;
            e.customer = m.to;
            conn.prepare_cached(
                "UPDATE rapport_consents SET customer_id = ?3, entry_json = ?4
                 WHERE tenant_id = ?1 AND entry_id = ?2",
            )?
            .execute(params![
                t,
                m.entry.to_bytes(),
                m.to.to_bytes(),
                to_json(TABLE, &e)?
            ])?;
        }
        if !self.entries.is_empty() {
            let mut ins = conn.prepare_cached(
                "INSERT INTO rapport_consents (tenant_id, entry_id, customer_id, at_us,
                     recorded_at_us, entry_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT DO NOTHING",
            )?;
            for e in &self.entries {
                let n = ins.execute(params![
                    t,
                    e.id,
                    e.customer,
                    e.at_us,
                    e.recorded_at_us,
                    e.json
                ])?;
                if n == 0 {
                    let id = rapport_core::ConsentEntryId::from_uuid(uuid::Uuid::from_bytes(e.id));
                    return Err(match entry_stored(id) {
                        StoreError::Invalid(d) => ApplyError::Invalid(d),
                        _ => ApplyError::Invalid(rapport_core::DomainError::InvalidChangeset {
                            reason: format!("consent entry {id} is already stored"),
                        }),
                    });
                }
            }
        }
        for (customer, at_us, json) in &self.erasures {
            erase(conn, t, *customer, *at_us, json)?;
        }
        Ok(())
    }
}

/// Stores the record (refused when one exists), strips the customer's visits and consent
/// entries, deletes its pending outbox messages.
fn erase(
    conn: &Connection,
    t: [u8; 16],
    customer: CustomerId,
    at_us: i64,
    json: &str,
) -> Result<(), ApplyError> {
    let c = customer.to_bytes();
    let n = conn
        .prepare_cached(
            "INSERT INTO rapport_erasures (tenant_id, customer_id, erased_at_us, record_json)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )?
        .execute(params![t, c, at_us, json])?;
    if n == 0 {
        return Err(match already_erased(customer) {
            StoreError::Invalid(d) => ApplyError::Invalid(d),
            _ => ApplyError::NotFound(customer),
        });
    }
    // Only visits carry free text (`strip_activity`).
    let visits: Vec<(String, String)> = conn
        .prepare_cached(
            "SELECT idempotency_key, activity_json FROM rapport_activities
             WHERE tenant_id = ?1 AND customer_id = ?2 AND kind = 'visit'",
        )?
        .query_map(params![t, c], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare_cached(
        "UPDATE rapport_activities SET activity_json = ?3 WHERE tenant_id = ?1 AND idempotency_key = ?2",
    )?;
    for (key, json) in visits {
        let a: Activity = from_json("rapport_activities", &json)?;
        let stripped = strip_activity(&a);
        if stripped != a {
            update.execute(params![t, key, to_json("rapport_activities", &stripped)?])?;
        }
    }
    let entries: Vec<([u8; 16], String)> = conn
        .prepare_cached(
            "SELECT entry_id, entry_json FROM rapport_consents WHERE tenant_id = ?1 AND customer_id = ?2",
        )?
        .query_map(params![t, c], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare_cached(
        "UPDATE rapport_consents SET entry_json = ?3 WHERE tenant_id = ?1 AND entry_id = ?2",
    )?;
    for (id, json) in entries {
        let e: ConsentEntry = from_json(TABLE, &json)?;
        update.execute(params![t, id, to_json(TABLE, &e.stripped())?])?;
    }
    conn.prepare_cached(
        "DELETE FROM rapport_outbox WHERE tenant_id = ?1
           AND json_extract(message_json, '$.event.customer') = ?2",
    )?
    .execute(params![t, customer.to_string()])?;
    Ok(())
}

/// A customer's erasure record.
fn read_erasure(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
) -> Result<Option<ErasureRecord>, SqliteError> {
    let json: Option<String> = conn
        .prepare_cached(
            "SELECT record_json FROM rapport_erasures WHERE tenant_id = ?1 AND customer_id = ?2",
        )?
        .query_row(params![tenant.to_bytes(), id.to_bytes()], |r| r.get(0))
        .optional()?;
    json.map(|j| from_json("rapport_erasures", &j)).transpose()
}

impl ErasureStore for SqliteStore {
    async fn erasure(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Option<ErasureRecord>, StoreError> {
        Ok(self
            .readers
            .read(move |c| read_erasure(c, tenant, id))
            .await?)
    }
}

/// A customer's entries, in ledger order (also read by a merge's belongings).
pub(crate) fn read(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
) -> Result<Vec<ConsentEntry>, SqliteError> {
    let rows: Vec<String> = conn
        .prepare_cached(
            "SELECT entry_json FROM rapport_consents WHERE tenant_id = ?1 AND customer_id = ?2
             ORDER BY at_us, recorded_at_us, entry_id",
        )?
        .query_map(params![tenant.to_bytes(), id.to_bytes()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = rows
        .iter()
        .map(|j| from_json(TABLE, j))
        .collect::<Result<Vec<ConsentEntry>, _>>()?;
    // Times agree with the projections to the microsecond; the exact order is the entries'.
    sort_ledger(&mut out);
    Ok(out)
}

impl ConsentStore for SqliteStore {
    async fn consents(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Vec<ConsentEntry>, StoreError> {
        Ok(self.readers.read(move |c| read(c, tenant, id)).await?)
    }
}

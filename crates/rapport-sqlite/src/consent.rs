//! The consent ledger on SQLite (table `rapport_consents`, migration 4): entries serialised
//! on the caller's thread with the rest of a changeset, written by the writer thread inside
//! the changeset's savepoint, read by the reader threads.

use rapport_core::ports::{ConsentStore, entry_stored, sort_ledger};
use rapport_core::privacy::ConsentEntry;
use rapport_core::{Changeset, CustomerId, StoreError, TenantId};
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
        Ok(())
    }
}

/// A customer's entries, in ledger order.
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

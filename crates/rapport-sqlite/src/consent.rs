//! The consent ledger on SQLite (table `rapport_consents`, migration 4): entries serialised
//! on the caller's thread with the rest of a changeset, written by the writer thread inside
//! the changeset's savepoint, read by the reader threads. With field encryption an entry's
//! source and evidence are sealed under its holder's key (`rapport_sql::seal`), and an entry
//! moved to another customer is sealed again under that customer's key.

use rapport_core::ports::{ConsentStore, ErasureStore, already_erased, entry_stored, sort_ledger};
use rapport_core::privacy::{ConsentEntry, ErasureRecord};
use rapport_core::{Changeset, CustomerId, StoreError, TenantId};
use rapport_sql::seal::{self, ConsentDecoder, Sealer};
use rusqlite::OptionalExtension;
use rusqlite::{Connection, params};

use crate::SqliteStore;
use crate::apply::ApplyError;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

/// One entry, serialised.
pub(crate) struct EntryRow {
    id: [u8; 16],
    customer: [u8; 16],
    at_us: i64,
    recorded_at_us: i64,
    json: String,
}

impl EntryRow {
    fn new(
        tenant: TenantId,
        e: &ConsentEntry,
        sealer: Option<&Sealer>,
    ) -> Result<Self, SqliteError> {
        Ok(Self {
            id: e.id.to_bytes(),
            customer: e.customer.to_bytes(),
            at_us: time_to_us(e.at),
            recorded_at_us: time_to_us(e.recorded_at),
            json: seal::consent_entry_json(sealer, tenant, e)?,
        })
    }
}

/// A changeset's ledger writes.
pub(crate) struct LedgerWrites {
    entries: Vec<EntryRow>,
    moves: Vec<([u8; 16], CustomerId)>,
    entry_moves: Vec<rapport_core::ConsentEntryMove>,
    erasures: Vec<(CustomerId, i64, String)>,
    /// The tenant and the sealer of an encrypting store: moved entries are sealed again.
    tenant: TenantId,
    sealer: Option<Sealer>,
}

impl LedgerWrites {
    pub(crate) fn new(
        tenant: TenantId,
        cs: &Changeset,
        sealer: Option<&Sealer>,
    ) -> Result<Self, SqliteError> {
        if let Some(s) = sealer {
            // The keys moved entries are sealed under exist (and are synced with the group's
            // other new keys) before the writer re-seals them.
            for to in seal::consent_move_targets(cs) {
                s.keys()
                    .create_data_key(tenant, to)
                    .map_err(SqliteError::Keys)?;
            }
        }
        Ok(Self {
            tenant,
            sealer: sealer.cloned(),
            entries: cs
                .consents
                .iter()
                .map(|e| EntryRow::new(tenant, e, sealer))
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

    /// The `entry_json` of a stored row moved to `to`.
    fn moved(&self, json: &str, to: CustomerId) -> Result<String, ApplyError> {
        Ok(seal::moved_consent_entry_json(
            self.sealer.as_ref(),
            self.tenant,
            json,
            to,
        )?)
    }

    /// Moves, then inserts, inside the writer's open savepoint.
    pub(crate) fn apply(&self, conn: &Connection, t: [u8; 16]) -> Result<(), ApplyError> {
        for (from, to) in &self.moves {
            let moved: Vec<([u8; 16], String)> = conn
                .prepare_cached(ENTRIES_OF)?
                .query_map(params![t, from], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut update = conn.prepare_cached(
                "UPDATE rapport_consents SET customer_id = ?3, entry_json = ?4
                 WHERE tenant_id = ?1 AND entry_id = ?2",
            )?;
            for (id, json) in moved {
                update.execute(params![t, id, to.to_bytes(), self.moved(&json, *to)?])?;
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
            conn.prepare_cached(
                "UPDATE rapport_consents SET customer_id = ?3, entry_json = ?4
                 WHERE tenant_id = ?1 AND entry_id = ?2",
            )?
            .execute(params![
                t,
                m.entry.to_bytes(),
                m.to.to_bytes(),
                self.moved(&json, m.to)?
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

/// Removes the free text of a customer's visits (`?1` tenant, `?2` customer).
const STRIP_VISITS: &str = "UPDATE rapport_activities
     SET activity_json = json_remove(activity_json, '$.kind.item')
     WHERE tenant_id = ?1 AND customer_id = ?2 AND kind = 'visit'
       AND json_type(activity_json, '$.kind.item') IS NOT NULL";

/// Blanks the source and evidence of a customer's consent entries (`?3`: `ERASED_SOURCE`)
/// and drops their sealed part (dead anyway once the key is deleted).
const STRIP_ENTRIES: &str = "UPDATE rapport_consents INDEXED BY rapport_consents_customer
     SET entry_json = json_remove(json_set(entry_json, '$.source', ?3, '$.evidence', NULL),
                                  '$.sealed_entry')
     WHERE tenant_id = ?1 AND customer_id = ?2";

/// Deletes a customer's pending outbox messages (`?2`: the customer id as text), through
/// the expression index of migration 10 — named: without statistics the planner prefers the
/// primary key's `tenant_id` prefix, which reads the tenant's whole outbox.
const DROP_MESSAGES: &str = "DELETE FROM rapport_outbox INDEXED BY rapport_outbox_customer
     WHERE tenant_id = ?1 AND json_extract(message_json, '$.event.customer') = ?2";

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
    // Set-based, one statement per table, no row decoded: only visits carry free text
    // (`strip_activity` removes `kind.item`; a sealed row's plaintext part has none, and its
    // sealed part dies with the key); a consent entry keeps everything but its source and
    // evidence (`ConsentEntry::stripped`). `tests::set_based_stripping_equals_the_core_functions`
    // holds these statements to those functions.
    conn.prepare_cached(STRIP_VISITS)?.execute(params![t, c])?;
    conn.prepare_cached(STRIP_ENTRIES)?.execute(params![
        t,
        c,
        rapport_core::privacy::ERASED_SOURCE
    ])?;
    conn.prepare_cached(DROP_MESSAGES)?
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
        // An erasure reported undone because its key deletion or its WAL checkpoint failed:
        // asked again (the service reads the record of an erased customer), what it owes is
        // retried first.
        self.writer.flush_erasures(tenant, id).await?;
        // With encryption, an erased customer's key and its merged tombstones' keys are
        // deleted again: a deletion that failed before a restart is owed no more in memory
        // (a never-erased customer costs the record's lookup only).
        let keys = self.sealer.as_ref().map(|s| s.keys().clone());
        Ok(self
            .readers
            .read(move |c| {
                let record = read_erasure(c, tenant, id)?;
                if let (Some(_), Some(keys)) = (&record, &keys) {
                    let ids = erased_with(c, tenant, id)?;
                    rapport_sql::shred::delete_again(keys, tenant, &ids)?;
                }
                Ok(record)
            })
            .await?)
    }
}

/// `?2` of tenant `?1` and the customers erased with it: the `Merged` tombstones merged into
/// it, along chains (merges in force), that hold an erasure record.
const ERASED_WITH: &str = "WITH RECURSIVE merged(id) AS (
         SELECT ?2
         UNION
         SELECT m.loser_id FROM rapport_merges m JOIN merged ON m.survivor_id = merged.id
          WHERE m.tenant_id = ?1 AND m.undone_at_us IS NULL
     )
     SELECT e.customer_id FROM merged JOIN rapport_erasures e
         ON e.tenant_id = ?1 AND e.customer_id = merged.id";

/// The erased customer `id` and the tombstones erased with it ([`ERASED_WITH`]).
fn erased_with(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
) -> Result<Vec<CustomerId>, SqliteError> {
    let rows: Vec<[u8; 16]> = conn
        .prepare_cached(ERASED_WITH)?
        .query_map(params![tenant.to_bytes(), id.to_bytes()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .map(|b| CustomerId::from_uuid(uuid::Uuid::from_bytes(b)))
        .collect())
}

/// A customer's entries (`?1` tenant, `?2` customer), in ledger order.
const LEDGER: &str = "SELECT entry_json FROM rapport_consents INDEXED BY rapport_consents_customer
     WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY at_us, recorded_at_us, entry_id";

/// Every entry of a customer (`?1` tenant, `?2` customer), for a move.
const ENTRIES_OF: &str = "SELECT entry_id, entry_json FROM rapport_consents
     INDEXED BY rapport_consents_customer WHERE tenant_id = ?1 AND customer_id = ?2";

/// A customer's entries, in ledger order (also read by a merge's belongings).
pub(crate) fn read(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
    sealer: Option<&Sealer>,
) -> Result<Vec<ConsentEntry>, SqliteError> {
    let rows: Vec<String> = conn
        .prepare_cached(LEDGER)?
        .query_map(params![tenant.to_bytes(), id.to_bytes()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut decoder = ConsentDecoder::new(sealer, tenant);
    let mut out = rows
        .iter()
        .map(|j| decoder.decode(j))
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
        let sealer = self.sealer.clone();
        Ok(self
            .readers
            .read(move |c| read(c, tenant, id, sealer.as_ref()))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use rapport_core::privacy::strip_activity;
    use rapport_core::*;

    #[test]
    fn erasure_and_ledger_statements_read_a_customers_rows_by_index() {
        let conn = Connection::open_in_memory().expect("open");
        for m in crate::migrate::MIGRATIONS {
            conn.execute_batch(m.sql).expect("migration");
        }
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {DROP_MESSAGES}"))
            .expect("explain")
            .query_map(params![[1u8; 16], "x"], |r| r.get::<_, String>(3))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect();
        assert!(
            plan.iter()
                .any(|p| p.contains("INDEX rapport_outbox_customer")),
            "{plan:?}"
        );
        // Without statistics SQLite 3.51 reads a tenant's whole ledger through the primary
        // key's `tenant_id` prefix; the statements name the customer index.
        for (sql, n, index) in [
            (STRIP_ENTRIES, 3, "rapport_consents_customer"),
            (LEDGER, 2, "rapport_consents_customer"),
            (ENTRIES_OF, 2, "rapport_consents_customer"),
            (STRIP_VISITS, 2, "rapport_activities_customer"),
        ] {
            let args: Vec<rusqlite::types::Value> = vec![
                vec![1u8; 16].into(),
                vec![2u8; 16].into(),
                "x".to_owned().into(),
            ];
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain")
                .query_map(rusqlite::params_from_iter(&args[..n]), |r| {
                    r.get::<_, String>(3)
                })
                .expect("rows")
                .map(|r| r.expect("row"))
                .collect();
            assert!(
                plan.iter()
                    .any(|p| p.contains(&format!("{index} (tenant_id=? AND customer_id=?)"))),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn set_based_stripping_equals_the_core_functions() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE rapport_activities (tenant_id BLOB, customer_id BLOB, kind TEXT,
                 activity_json TEXT);
             CREATE TABLE rapport_consents (tenant_id BLOB, customer_id BLOB, entry_json TEXT);
             CREATE INDEX rapport_consents_customer ON rapport_consents (tenant_id, customer_id);",
        )
        .expect("tables");
        let (t, c) = ([1u8; 16], CustomerId::from_u128(2));
        let at = DateTime::UNIX_EPOCH;
        let visit = |n: u128, item: Option<&str>| {
            Activity::new(
                ActivityId::from_u128(n),
                c,
                at,
                Channel::Web,
                IdempotencyKey::new(format!("v{n}")).expect("key"),
                ActivityKind::Visit {
                    item: item.map(str::to_owned),
                },
            )
            .expect("activity")
        };
        let activities = [visit(1, Some("wedding \"dress\" ✓")), visit(2, None)];
        for a in &activities {
            conn.execute(
                "INSERT INTO rapport_activities VALUES (?1, ?2, 'visit', ?3)",
                params![t, c.to_bytes(), to_json("a", a).expect("json")],
            )
            .expect("insert");
        }
        let mut entry = ConsentEntry::new(
            ConsentEntryId::from_u128(3),
            c,
            Purpose::Marketing,
            ContactChannel::Email,
            privacy::ConsentState::Granted,
            "signup-form",
            at,
        )
        .expect("entry");
        entry.evidence = Some("form-8812".into());
        // One row plain, one sealed (field encryption): both strip alike, and the sealed
        // part goes too, so the entry reads stripped even while the key still exists.
        let sealer = Sealer::new(std::sync::Arc::new(rapport_keys::MemoryKeyStore::new()));
        let tenant = TenantId::from_uuid(uuid::Uuid::from_bytes(t));
        let sealed = sealer.consent_entry_json(tenant, &entry).expect("sealed");
        assert!(!sealed.contains("form-8812") && !sealed.contains("signup-form"));
        for json in [to_json("rapport_consents", &entry).expect("json"), sealed] {
            conn.execute(
                "INSERT INTO rapport_consents VALUES (?1, ?2, ?3)",
                params![t, c.to_bytes(), json],
            )
            .expect("insert");
        }
        conn.execute(STRIP_VISITS, params![t, c.to_bytes()])
            .expect("strip visits");
        conn.execute(
            STRIP_ENTRIES,
            params![t, c.to_bytes(), rapport_core::privacy::ERASED_SOURCE],
        )
        .expect("strip entries");
        let read: Vec<Activity> = conn
            .prepare("SELECT activity_json FROM rapport_activities ORDER BY rowid")
            .expect("select")
            .query_map([], |r| r.get::<_, String>(0))
            .expect("rows")
            .map(|j| from_json("a", &j.expect("row")).expect("decode"))
            .collect();
        let expected: Vec<Activity> = activities.iter().map(strip_activity).collect();
        assert_eq!(read, expected);
        let rows: Vec<String> = conn
            .prepare("SELECT entry_json FROM rapport_consents ORDER BY rowid")
            .expect("select")
            .query_map([], |r| r.get::<_, String>(0))
            .expect("rows")
            .map(|j| j.expect("row"))
            .collect();
        assert_eq!(rows.len(), 2);
        for json in rows {
            assert!(!json.contains("sealed_entry"), "{json}");
            let e = ConsentDecoder::new(Some(&sealer), tenant)
                .decode(&json)
                .expect("decode");
            assert_eq!(e, entry.stripped());
        }
    }
}

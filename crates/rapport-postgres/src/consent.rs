//! The consent ledger on PostgreSQL (table `consents`, migration 5, row-level security per
//! tenant): a changeset's entries written in its transaction after its other statements
//! succeeded, and a customer's history read back in ledger order. With field encryption an
//! entry's source and evidence are sealed under its holder's key (`rapport_sql::seal`), and
//! an entry moved to another customer is sealed again under that customer's key.

use chrono::{DateTime, Utc};
use rapport_core::Activity;
use rapport_core::ports::{ConsentStore, ErasureStore, already_erased, entry_stored, sort_ledger};
use rapport_core::privacy::{ConsentEntry, ErasureRecord, strip_activity};
use rapport_core::{Changeset, CustomerId, StoreError, TenantId};
use rapport_sql::seal::{self, ConsentDecoder, Sealer};
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::{corrupt, db, pool, seal_failure};
use crate::{PostgresStore, read};

const TABLE: &str = "consents";

/// The ledger's statements for one schema.
#[derive(Debug, Clone)]
pub(crate) struct ConsentSql {
    insert: String,
    of_customer: String,
    reassign: String,
    one_entry: String,
    insert_erasure: String,
    erasure: String,
    erased_with: String,
    visits: String,
    update_activity: String,
    restamp: String,
    pub(crate) drop_messages: String,
}

impl ConsentSql {
    pub(crate) fn new(s: &str) -> Self {
        Self {
            insert: format!(
                "INSERT INTO {s}.consents (tenant_id, entry_id, customer_id, at, recorded_at,
                     entry_json) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
            ),
            of_customer: format!(
                "SELECT entry_id, entry_json FROM {s}.consents
                 WHERE tenant_id = $1 AND customer_id = $2 ORDER BY at, recorded_at, entry_id"
            ),
            reassign: format!(
                "UPDATE {s}.consents SET customer_id = $3, entry_json = $4
                 WHERE tenant_id = $1 AND entry_id = $2"
            ),
            one_entry: format!(
                "SELECT entry_json FROM {s}.consents
                 WHERE tenant_id = $1 AND entry_id = $2 AND customer_id = $3"
            ),
            insert_erasure: format!(
                "INSERT INTO {s}.erasures (tenant_id, customer_id, erased_at, record_json)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            ),
            erasure: format!(
                "SELECT record_json FROM {s}.erasures WHERE tenant_id = $1 AND customer_id = $2"
            ),
            // The erased customer and the `Merged` tombstones merged into it, along chains
            // (merges in force), that hold an erasure record.
            erased_with: format!(
                "WITH RECURSIVE merged(id) AS (
                     SELECT $2::uuid
                     UNION
                     SELECT m.loser_id FROM {s}.merges m JOIN merged ON m.survivor_id = merged.id
                      WHERE m.tenant_id = $1 AND m.undone_at IS NULL
                 )
                 SELECT e.customer_id FROM merged JOIN {s}.erasures e
                     ON e.tenant_id = $1 AND e.customer_id = merged.id"
            ),
            visits: format!(
                "SELECT idempotency_key, activity_json FROM {s}.activities
                 WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'visit'"
            ),
            update_activity: format!(
                "UPDATE {s}.activities SET activity_json = $3
                 WHERE tenant_id = $1 AND idempotency_key = $2"
            ),
            restamp: format!(
                "UPDATE {s}.consents SET entry_json = $3 WHERE tenant_id = $1 AND entry_id = $2"
            ),
            drop_messages: format!(
                "DELETE FROM {s}.outbox WHERE tenant_id = $1
                   AND (message_json::jsonb -> 'event' ->> 'customer') = $2"
            ),
        }
    }
}

struct EntryRow {
    id: Uuid,
    customer: Uuid,
    at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    json: String,
}

/// A changeset's ledger writes, serialised on the caller's side.
pub(crate) struct LedgerWrites {
    entries: Vec<EntryRow>,
    moves: Vec<(Uuid, CustomerId)>,
    entry_moves: Vec<rapport_core::ConsentEntryMove>,
    erasures: Vec<(CustomerId, DateTime<Utc>, String)>,
    /// The tenant and the sealer of an encrypting store: moved entries are sealed again.
    tenant: TenantId,
    sealer: Option<Sealer>,
}

fn to_json(e: &ConsentEntry) -> Result<String, StoreError> {
    serde_json::to_string(e).map_err(|err| corrupt(TABLE, err))
}

fn from_json(s: &str) -> Result<ConsentEntry, StoreError> {
    serde_json::from_str(s).map_err(|err| corrupt(TABLE, err))
}

impl LedgerWrites {
    /// The writes of `cs`; with a sealer, the keys its moves re-seal entries under are made
    /// here, before the caller syncs the key store.
    pub(crate) fn new(
        tenant: TenantId,
        cs: &Changeset,
        sealer: Option<&Sealer>,
    ) -> Result<Self, StoreError> {
        if let Some(s) = sealer {
            for to in seal::consent_move_targets(cs) {
                s.keys().create_data_key(tenant, to)?;
            }
        }
        Ok(Self {
            tenant,
            sealer: sealer.cloned(),
            entries: cs
                .consents
                .iter()
                .map(|e| {
                    Ok(EntryRow {
                        id: *e.id.as_uuid(),
                        customer: *e.customer.as_uuid(),
                        at: e.at,
                        recorded_at: e.recorded_at,
                        json: seal::consent_entry_json(sealer, tenant, e).map_err(seal_failure)?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            moves: cs
                .consent_moves
                .iter()
                .map(|m| (*m.from.as_uuid(), m.to))
                .collect(),
            entry_moves: cs.consent_entry_moves.clone(),
            erasures: cs
                .erasures
                .iter()
                .map(|r| {
                    let json = serde_json::to_string(r).map_err(|e| corrupt("erasures", e))?;
                    Ok((r.customer, r.erased_at, json))
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }

    /// The `entry_json` of a stored row moved to `to`.
    fn moved(&self, json: &str, to: CustomerId) -> Result<String, StoreError> {
        seal::moved_consent_entry_json(self.sealer.as_ref(), self.tenant, json, to)
            .map_err(seal_failure)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.moves.is_empty()
            && self.entry_moves.is_empty()
            && self.erasures.is_empty()
    }

    /// Moves, then inserts, in `tx` (whose tenant is set), after the changeset's other
    /// statements succeeded.
    pub(crate) async fn write(
        &self,
        tx: &impl Conn,
        sql: &ConsentSql,
        tenant: &Uuid,
    ) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        if !self.moves.is_empty() {
            let select: Statement = tx.prepare(&sql.of_customer).await?;
            let update: Statement = tx.prepare(&sql.reassign).await?;
            for (from, to) in &self.moves {
                for row in tx.rows(&select, &[tenant, from]).await? {
                    let id: Uuid = read::col(&row, TABLE, 0)?;
                    let json = self.moved(&read::col::<String>(&row, TABLE, 1)?, *to)?;
                    tx.exec(&update, &[tenant, &id, to.as_uuid(), &json])
                        .await?;
                }
            }
        }
        if !self.entry_moves.is_empty() {
            let one: Statement = tx.prepare(&sql.one_entry).await?;
            let update: Statement = tx.prepare(&sql.reassign).await?;
            for m in &self.entry_moves {
                let rows = tx
                    .rows(&one, &[tenant, m.entry.as_uuid(), m.from.as_uuid()])
                    .await?;
                let Some(row) = rows.first() else {
                    return Err(StoreError::Invalid(
                        rapport_core::DomainError::InvalidChangeset {
                            reason: format!(
                                "consent entry {} is not stored under customer {}",
                                m.entry, m.from
                            ),
                        },
                    ));
                };
                let json = self.moved(&read::col::<String>(row, TABLE, 0)?, m.to)?;
                tx.exec(&update, &[tenant, m.entry.as_uuid(), m.to.as_uuid(), &json])
                    .await?;
            }
        }
        if !self.entries.is_empty() {
            let insert: Statement = tx.prepare(&sql.insert).await?;
            for e in &self.entries {
                let n = tx
                    .exec(
                        &insert,
                        &[tenant, &e.id, &e.customer, &e.at, &e.recorded_at, &e.json],
                    )
                    .await?;
                if n == 0 {
                    return Err(entry_stored(rapport_core::ConsentEntryId::from_uuid(e.id)));
                }
            }
        }
        for (customer, at, json) in &self.erasures {
            erase(tx, sql, tenant, *customer, at, json).await?;
        }
        Ok(())
    }
}

/// Stores the record (refused when one exists), strips the customer's visits and consent
/// entries, deletes its pending outbox messages.
async fn erase(
    tx: &impl Conn,
    sql: &ConsentSql,
    tenant: &Uuid,
    customer: CustomerId,
    at: &DateTime<Utc>,
    json: &String,
) -> Result<(), StoreError> {
    let c = customer.as_uuid();
    let insert = tx.prepare(&sql.insert_erasure).await?;
    if tx.exec(&insert, &[tenant, c, at, json]).await? == 0 {
        return Err(already_erased(customer));
    }
    let visits = tx.prepare(&sql.visits).await?;
    let update = tx.prepare(&sql.update_activity).await?;
    for row in tx.rows(&visits, &[tenant, c]).await? {
        let key: String = read::col(&row, "activities", 0)?;
        let a: Activity = serde_json::from_str(&read::col::<String>(&row, "activities", 1)?)
            .map_err(|e| corrupt("activities", e))?;
        let stripped = strip_activity(&a);
        if stripped != a {
            let text = serde_json::to_string(&stripped).map_err(|e| corrupt("activities", e))?;
            tx.exec(&update, &[tenant, &key, &text]).await?;
        }
    }
    let entries = tx.prepare(&sql.of_customer).await?;
    let restamp = tx.prepare(&sql.restamp).await?;
    for row in tx.rows(&entries, &[tenant, c]).await? {
        let id: Uuid = read::col(&row, TABLE, 0)?;
        // The plain part of a sealed row is the stripped entry: the rewrite drops the seal.
        let e = from_json(&read::col::<String>(&row, TABLE, 1)?)?;
        tx.exec(&restamp, &[tenant, &id, &to_json(&e.stripped())?])
            .await?;
    }
    let drop = tx.prepare(&sql.drop_messages).await?;
    tx.exec(&drop, &[tenant, &customer.to_string()]).await?;
    Ok(())
}

impl ErasureStore for PostgresStore {
    async fn erasure(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Option<ErasureRecord>, StoreError> {
        // An erasure reported undone because its key deletion failed: asked again (the
        // service reads the record of an erased customer), the owed deletions are retried
        // first.
        self.retry_owed_keys(tenant, id).await?;
        let (record, erased) = self
            .here(move |inner| async move {
                let client = inner.pool.get().await.map_err(pool)?;
                let stmt = client
                    .prepare_cached(&inner.sql.consents.erasure)
                    .await
                    .map_err(db)?;
                let name = tenant.to_string();
                let row = read::as_tenant(
                    &inner.named,
                    &client,
                    &name,
                    client.query_opt(&stmt, &[tenant.as_uuid(), id.as_uuid()]),
                )
                .await?;
                let record: Option<ErasureRecord> = row
                    .map(|r| {
                        serde_json::from_str(&read::col::<String>(&r, "erasures", 0)?)
                            .map_err(|e| corrupt("erasures", e))
                    })
                    .transpose()?;
                // With encryption, the keys to delete again (a never-erased customer costs
                // the record's lookup only).
                if record.is_none() || inner.sealer.get().is_none() {
                    return Ok((record, Vec::new()));
                }
                let stmt = client
                    .prepare_cached(&inner.sql.consents.erased_with)
                    .await
                    .map_err(db)?;
                let rows = read::as_tenant(
                    &inner.named,
                    &client,
                    &name,
                    client.query(&stmt, &[tenant.as_uuid(), id.as_uuid()]),
                )
                .await?;
                let erased = rows
                    .iter()
                    .map(|r| read::col::<Uuid>(r, "erasures", 0).map(CustomerId::from_uuid))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((record, erased))
            })
            .await?;
        if !erased.is_empty() {
            self.delete_again(tenant, erased).await?;
        }
        Ok(record)
    }
}

impl ConsentStore for PostgresStore {
    async fn consents(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Vec<ConsentEntry>, StoreError> {
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(&inner.sql.consents.of_customer)
                .await
                .map_err(db)?;
            let rows = read::as_tenant(
                &inner.named,
                &client,
                &tenant.to_string(),
                client.query(&stmt, &[tenant.as_uuid(), id.as_uuid()]),
            )
            .await?;
            let mut decoder = ConsentDecoder::new(inner.sealer.get(), tenant);
            let mut out = rows
                .iter()
                .map(|r| {
                    decoder
                        .decode(&read::col::<String>(r, TABLE, 1)?)
                        .map_err(seal_failure)
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            sort_ledger(&mut out);
            Ok(out)
        })
        .await
    }
}

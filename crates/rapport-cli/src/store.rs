//! Opening the store named by `--db` (SQLite or PostgreSQL) and naming tenants and customers.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::{
    Activity, Applied, Changeset, ContactKey, Customer, CustomerId, MessageId, Outbox,
    OutboxMessage, Page, Record, Segment, Stats, Store, StoreError, TenantId, TimeRange,
};
use rapport_postgres::{PostgresConfig, PostgresStore};
use rapport_sqlite::{ImportReport, SqliteConfig, SqliteStore};
use uuid::Uuid;

use crate::error::{Result, fail};

/// The namespace of the ids the CLI derives from names (UUID v5).
const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_2c3e_9b4d_4e5f_8a7b_1c2d_3e4f_5a6b);

/// `sqlite://path` or a bare path.
pub(crate) fn sqlite_path(db: &str) -> Result<PathBuf> {
    if let Some(p) = db.strip_prefix("sqlite://") {
        return Ok(PathBuf::from(p));
    }
    if db.contains("://") {
        return Err(fail!(
            "unknown database URL `{db}`; use --db sqlite://path or --db postgres://…"
        ));
    }
    Ok(PathBuf::from(db))
}

fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The store behind `--db`: the commands are written once for both.
pub(crate) enum Db {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// The key store every store this process opens encrypts with (`--keystore DIR` or `[keys]
/// dir` in rapport.toml), set once at start-up by [`use_keystore`].
static KEYSTORE: std::sync::OnceLock<std::sync::Arc<rapport_keys::FileKeyStore>> =
    std::sync::OnceLock::new();

/// Switches field encryption on for the stores this process opens: personal fields sealed
/// under per-customer keys kept in `dir` (created if missing), contacts looked up by blind
/// index, erasure deleting the customer's key (docs/privacy.md).
pub(crate) fn use_keystore(dir: &std::path::Path) -> Result<()> {
    let keys = rapport_keys::FileKeyStore::open(dir)
        .map_err(|e| fail!("--keystore {}: {e}", dir.display()))?;
    let _ = KEYSTORE.set(std::sync::Arc::new(keys));
    Ok(())
}

/// Opens `sqlite://path` (or a bare path) or `postgres://…` (`?schema=name` picks the schema,
/// default `rapport`), encrypting through the key store when one is set ([`use_keystore`]).
pub(crate) fn open(db: &str, now: DateTime<Utc>) -> Result<Db> {
    let keys = KEYSTORE
        .get()
        .map(|k| k.clone() as std::sync::Arc<dyn rapport_core::ports::KeyStore>);
    if is_postgres(db) {
        let config = PostgresConfig::from_url(db).map_err(|e| fail!("--db: {e}"))?;
        return block_on(PostgresStore::connect(config, now))
            .map(|s| match keys {
                Some(k) => s.with_keystore(k),
                None => s,
            })
            .map(Db::Postgres)
            .map_err(|e| fail!("{e}"));
    }
    let path = sqlite_path(db)?;
    SqliteStore::open(&path, SqliteConfig::default(), now)
        .map(|s| match keys {
            Some(k) => s.with_keystore(k),
            None => s,
        })
        .map(Db::Sqlite)
        .map_err(|e| fail!("cannot open {}: {e}", path.display()))
}

/// A name for where the data went, for messages (no credentials).
pub(crate) fn describe(db: &str) -> String {
    match db.split_once('@') {
        Some((_, rest)) if is_postgres(db) => format!("postgres://…@{rest}"),
        _ => sqlite_path(db).map_or_else(|_| db.to_owned(), |p| p.display().to_string()),
    }
}

fn pg_report(r: rapport_postgres::ImportReport) -> ImportReport {
    ImportReport {
        rows: r.rows,
        inserted: r.inserted,
        skipped: r.skipped,
        contact_taken: r.contact_taken,
    }
}

impl Db {
    /// Imports customers in batches of `batch_size`, reporting the running totals.
    pub(crate) fn import_customers_iter(
        &self,
        tenant: TenantId,
        customers: impl IntoIterator<Item = (Customer, Stats)>,
        batch_size: usize,
        mut progress: impl FnMut(ImportReport),
    ) -> Result<ImportReport> {
        match self {
            Db::Sqlite(s) => Ok(s.import_customers_iter(tenant, customers, batch_size, progress)?),
            Db::Postgres(s) => {
                let mut total = ImportReport::default();
                let mut iter = customers.into_iter().peekable();
                while iter.peek().is_some() {
                    let batch: Vec<_> = iter.by_ref().take(batch_size.max(1)).collect();
                    total += pg_report(block_on(s.import_customers(tenant, &batch))?);
                    progress(total);
                }
                Ok(total)
            }
        }
    }
}

impl Store for Db {
    async fn load(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> std::result::Result<Option<Record>, StoreError> {
        match self {
            Db::Sqlite(s) => s.load(t, id).await,
            Db::Postgres(s) => s.load(t, id).await,
        }
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> std::result::Result<Vec<CustomerId>, StoreError> {
        match self {
            Db::Sqlite(s) => s.find_by_contact(t, key).await,
            Db::Postgres(s) => s.find_by_contact(t, key).await,
        }
    }
    async fn scan(&self, t: TenantId, page: Page) -> std::result::Result<Vec<Record>, StoreError> {
        match self {
            Db::Sqlite(s) => s.scan(t, page).await,
            Db::Postgres(s) => s.scan(t, page).await,
        }
    }
    async fn query(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> std::result::Result<Vec<Record>, StoreError> {
        match self {
            Db::Sqlite(s) => s.query(t, segment, now, page).await,
            Db::Postgres(s) => s.query(t, segment, now, page).await,
        }
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> std::result::Result<Vec<Activity>, StoreError> {
        match self {
            Db::Sqlite(s) => s.activities(t, id, range).await,
            Db::Postgres(s) => s.activities(t, id, range).await,
        }
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> std::result::Result<Applied, StoreError> {
        match self {
            Db::Sqlite(s) => s.apply(t, cs).await,
            Db::Postgres(s) => s.apply(t, cs).await,
        }
    }
    async fn purchase_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> std::result::Result<Option<Vec<rapport_core::LineItems>>, StoreError> {
        match self {
            Db::Sqlite(s) => s.purchase_lines(t, id).await,
            Db::Postgres(s) => s.purchase_lines(t, id).await,
        }
    }

    async fn account_roles(
        &self,
        t: TenantId,
        customers: &[CustomerId],
    ) -> std::result::Result<Vec<rapport_core::AccountRoleSet>, StoreError> {
        match self {
            Db::Sqlite(s) => s.account_roles(t, customers).await,
            Db::Postgres(s) => s.account_roles(t, customers).await,
        }
    }
    async fn clv_model(
        &self,
        t: TenantId,
    ) -> std::result::Result<Option<rapport_core::FittedClv>, StoreError> {
        match self {
            Db::Sqlite(s) => s.clv_model(t).await,
            Db::Postgres(s) => s.clv_model(t).await,
        }
    }
    async fn save_clv_model(
        &self,
        t: TenantId,
        model: &rapport_core::FittedClv,
    ) -> std::result::Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.save_clv_model(t, model).await,
            Db::Postgres(s) => s.save_clv_model(t, model).await,
        }
    }
}
impl Outbox for Db {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> std::result::Result<Vec<OutboxMessage>, StoreError> {
        match self {
            Db::Sqlite(s) => s.claim_outbox(limit, lease, now).await,
            Db::Postgres(s) => s.claim_outbox(limit, lease, now).await,
        }
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> std::result::Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.ack_outbox(ids).await,
            Db::Postgres(s) => s.ack_outbox(ids).await,
        }
    }
    async fn retry_outbox(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> std::result::Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.retry_outbox(id, at).await,
            Db::Postgres(s) => s.retry_outbox(id, at).await,
        }
    }
    async fn ack_outbox_for(
        &self,
        messages: &[(TenantId, MessageId)],
    ) -> std::result::Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.ack_outbox_for(messages).await,
            Db::Postgres(s) => s.ack_outbox_for(messages).await,
        }
    }
    async fn retry_outbox_for(
        &self,
        tenant: TenantId,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> std::result::Result<(), StoreError> {
        match self {
            Db::Sqlite(s) => s.retry_outbox_for(tenant, id, at).await,
            Db::Postgres(s) => s.retry_outbox_for(tenant, id, at).await,
        }
    }
}

/// The tenant id of a tenant name: stable, so every command finds the same book.
pub(crate) fn tenant(name: &str) -> TenantId {
    TenantId::from_uuid(Uuid::new_v5(
        &NAMESPACE,
        format!("tenant:{name}").as_bytes(),
    ))
}

/// The customer id of an external customer key within a tenant.
pub(crate) fn customer_id(tenant: TenantId, external: &str) -> CustomerId {
    CustomerId::from_uuid(Uuid::new_v5(
        tenant.as_uuid(),
        format!("customer:{external}").as_bytes(),
    ))
}

/// The id of an imported activity: UUIDv5 of its idempotency key under the tenant, so a
/// re-run gives the same id and two files never give one id to two activities (line items
/// are keyed by activity id).
pub(crate) fn activity_id(tenant: TenantId, key: &str) -> rapport_core::ActivityId {
    rapport_core::ActivityId::from_uuid(Uuid::new_v5(
        tenant.as_uuid(),
        format!("activity:{key}").as_bytes(),
    ))
}

impl rapport_core::ports::ConsentStore for Db {
    async fn consents(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> std::result::Result<Vec<rapport_core::privacy::ConsentEntry>, StoreError> {
        match self {
            Db::Sqlite(s) => s.consents(t, id).await,
            Db::Postgres(s) => s.consents(t, id).await,
        }
    }
}

impl rapport_core::ports::ErasureStore for Db {
    async fn erasure(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> std::result::Result<Option<rapport_core::privacy::ErasureRecord>, StoreError> {
        match self {
            Db::Sqlite(s) => s.erasure(t, id).await,
            Db::Postgres(s) => s.erasure(t, id).await,
        }
    }
}

//! Opening the store named by `--db` and naming tenants and customers.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rapport_core::{CustomerId, TenantId};
use rapport_sqlite::{SqliteConfig, SqliteStore};
use uuid::Uuid;

use crate::error::{Result, fail};

/// The namespace of the ids the CLI derives from names (UUID v5).
const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_2c3e_9b4d_4e5f_8a7b_1c2d_3e4f_5a6b);

/// `sqlite://path` or a bare path.
pub(crate) fn sqlite_path(db: &str) -> Result<PathBuf> {
    if let Some(p) = db.strip_prefix("sqlite://") {
        return Ok(PathBuf::from(p));
    }
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Err(fail!(
            "the PostgreSQL store is not built yet; use --db sqlite://path (the default is sqlite://rapport.db)"
        ));
    }
    if db.contains("://") {
        return Err(fail!("unknown database URL `{db}`; use --db sqlite://path"));
    }
    Ok(PathBuf::from(db))
}

pub(crate) fn open(db: &str, now: DateTime<Utc>) -> Result<SqliteStore> {
    let path = sqlite_path(db)?;
    SqliteStore::open(&path, SqliteConfig::default(), now)
        .map_err(|e| fail!("cannot open {}: {e}", path.display()))
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

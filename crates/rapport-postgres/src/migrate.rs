//! Schema migrations: numbered `.sql` files embedded in the crate, applied in one transaction
//! into `<schema>.schema_migrations`, under an advisory lock so that processes starting
//! together migrate once. A schema newer than this code is refused.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::error::{PostgresError, db};

/// One schema migration (rapport-sql's: the SQL stores share their bookkeeping). Its SQL
/// has unqualified table names: run it with `search_path` set to the store's schema.
///
/// ```
/// use rapport_postgres::{MIGRATIONS, Migration, latest_version};
/// let first: &Migration = &MIGRATIONS[0];
/// assert_eq!((first.version, first.name), (1, "init"));
/// assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
/// assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(latest_version()));
/// ```
pub use rapport_sql::Migration;

/// Every migration this version of the crate knows, in order. Hosts that run their own
/// migration tool can take the SQL from here (run each with `SET LOCAL search_path TO <schema>`
/// and record it in `<schema>.schema_migrations (version integer PRIMARY KEY, name text,
/// applied_at timestamptz)`).
///
/// ```
/// assert!(rapport_postgres::MIGRATIONS[0].sql.contains("CREATE TABLE customers"));
/// ```
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "init",
    sql: include_str!("../migrations/0001_init.sql"),
}];

/// The schema version this code writes.
///
/// ```
/// assert_eq!(rapport_postgres::latest_version(), 1);
/// ```
#[must_use]
pub fn latest_version() -> u32 {
    rapport_sql::latest_version(MIGRATIONS)
}

/// Creates the schema if needed and applies the missing migrations in one transaction;
/// returns the versions applied.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u32>, PostgresError> {
    let tx = client.transaction().await.map_err(db)?;
    // Two processes creating the same schema at once would collide on the catalog.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("rapport-migrate:{schema}")],
    )
    .await
    .map_err(db)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         SET LOCAL search_path TO \"{schema}\";
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL
         );"
    ))
    .await
    .map_err(db)?;
    let current: Option<i32> = tx
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .await
        .map_err(db)?
        .get(0);
    let current = u32::try_from(current.unwrap_or(0)).unwrap_or(0);
    let pending =
        rapport_sql::pending(MIGRATIONS, current).map_err(|e| PostgresError::SchemaTooNew {
            found: e.found,
            supported: e.supported,
        })?;
    let mut applied = Vec::new();
    for m in pending {
        tx.batch_execute(m.sql).await.map_err(db)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &m.name, &now],
        )
        .await
        .map_err(db)?;
        applied.push(m.version);
    }
    tx.commit().await.map_err(db)?;
    Ok(applied)
}

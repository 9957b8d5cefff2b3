//! Schema migrations: numbered `.sql` files embedded in the crate, applied in one transaction
//! into `rapport_schema_migrations`. A database whose schema is newer than this code is refused.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::SqliteError;

/// One schema migration (rapport-sql's: the SQL stores share their bookkeeping).
///
/// ```
/// use rapport_sqlite::{MIGRATIONS, Migration, latest_version};
/// let first: &Migration = &MIGRATIONS[0];
/// assert_eq!((first.version, first.name), (1, "init"));
/// // Versions strictly increase.
/// assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
/// assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(latest_version()));
/// ```
pub use rapport_sql::Migration;

/// Every migration this version of the crate knows, in order. Hosts that run their own
/// migration tool can take the SQL from here (and must then record the versions in
/// `rapport_schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at_us INTEGER)`).
///
/// ```
/// assert_eq!(rapport_sqlite::MIGRATIONS[0].version, 1);
/// assert!(rapport_sqlite::MIGRATIONS[0].sql.contains("CREATE TABLE rapport_customers"));
/// ```
#[rustfmt::skip] // one line per migration
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "init", include_str!("../migrations/0001_init.sql")),
    Migration::new(2, "one_customer_per_contact", include_str!("../migrations/0002_one_customer_per_contact.sql")),
    Migration::new(3, "cases_and_accounts", include_str!("../migrations/0003_cases_and_accounts.sql")),
    Migration::new(4, "consent_ledger", include_str!("../migrations/0004_consent_ledger.sql")),
    Migration::new(5, "automation", include_str!("../migrations/0005_automation.sql")),
    Migration::new(6, "merges", include_str!("../migrations/0006_merges.sql")),
    Migration::new(7, "account_activities", include_str!("../migrations/0007_account_activities.sql")),
    Migration::new(8, "line_items", include_str!("../migrations/0008_line_items.sql")),
    Migration::new(9, "clv_models", include_str!("../migrations/0009_clv_models.sql")),
    Migration::new(10, "outbox_by_customer", include_str!("../migrations/0010_outbox_by_customer.sql")),
    Migration::new(11, "short_blind_index", include_str!("../migrations/0011_short_blind_index.sql")),
];

/// The schema version this code writes.
///
/// ```
/// use rapport_sqlite::{SqliteConfig, SqliteStore, latest_version};
/// let dir = tempfile::tempdir()?;
/// let db = dir.path().join("crm.db");
/// drop(SqliteStore::open(&db, SqliteConfig::default(), chrono::Utc::now())?);
/// let stored: u32 = rusqlite::Connection::open(&db)?
///     .query_row("SELECT MAX(version) FROM rapport_schema_migrations", [], |r| r.get(0))?;
/// assert_eq!(stored, latest_version());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn latest_version() -> u32 {
    rapport_sql::latest_version(MIGRATIONS)
}

/// Applies the missing migrations in one `BEGIN IMMEDIATE` transaction; returns the versions
/// applied.
///
/// # Errors
/// [`SqliteError::SchemaTooNew`] when the database has a version this code does not know,
/// or a driver error (nothing is applied then).
pub(crate) fn migrate(conn: &mut Connection, now_us: i64) -> Result<Vec<u32>, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS rapport_schema_migrations (
             version INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at_us INTEGER NOT NULL
         )",
    )?;
    let current: Option<u32> = tx
        .query_row(
            "SELECT MAX(version) FROM rapport_schema_migrations",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let pending = rapport_sql::pending(MIGRATIONS, current.unwrap_or(0)).map_err(|e| {
        SqliteError::SchemaTooNew {
            found: e.found,
            supported: e.supported,
        }
    })?;
    let mut applied = Vec::new();
    for m in pending {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO rapport_schema_migrations (version, name, applied_at_us) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, now_us],
        )?;
        applied.push(m.version);
    }
    tx.commit()?;
    Ok(applied)
}

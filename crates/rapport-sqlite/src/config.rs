//! Connection settings.

use std::time::Duration;

/// How hard SQLite syncs to disk on commit.
///
/// ```
/// use rapport_sqlite::{SqliteConfig, SqliteStore, Synchronous};
/// assert_eq!(Synchronous::default(), Synchronous::Normal);
/// let dir = tempfile::tempdir()?;
/// let config = SqliteConfig { synchronous: Synchronous::Full, ..SqliteConfig::default() };
/// let store = SqliteStore::open(dir.path().join("durable.db"), config, chrono::Utc::now())?;
/// assert!(store.path().exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL` (default): in WAL mode a commit survives an application crash; a
    /// power loss may lose the last commits but never corrupts the database.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is on disk before it is acknowledged.
    Full,
}

/// Settings of a [`crate::SqliteStore`].
///
/// ```
/// use rapport_sqlite::{SqliteConfig, Synchronous};
/// let c = SqliteConfig { synchronous: Synchronous::Full, ..SqliteConfig::default() };
/// assert_eq!(c.readers, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock before failing.
    pub busy_timeout: Duration,
    /// Idle read connections kept open.
    pub readers: usize,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            readers: 4,
        }
    }
}

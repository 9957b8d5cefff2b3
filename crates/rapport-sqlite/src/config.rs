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
/// Reads run on `readers` dedicated threads, each owning one read-only connection (clamped to
/// 1..=64; default 4). The queue in front of them holds 16 jobs per reader; async callers
/// beyond that wait for room (as futures, first come first served) instead of blocking their
/// executor, so a store never opens more than `1 + readers` connections (the writer's and the
/// readers') and never runs a statement on the caller's thread.
///
/// ```
/// use rapport_sqlite::{SqliteConfig, SqliteStore, Synchronous};
/// let c = SqliteConfig { synchronous: Synchronous::Full, ..SqliteConfig::default() };
/// assert_eq!(c.readers, 4);
/// // Two reader threads, so at most two reads run at once.
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(
///     dir.path().join("crm.db"),
///     SqliteConfig { readers: 2, ..SqliteConfig::default() },
///     chrono::Utc::now(),
/// )?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock before failing. Lock errors SQLite's busy
    /// handler does not cover are retried on the store's own threads with an exponential
    /// back-off (1 ms doubling to 64 ms) within the same budget.
    pub busy_timeout: Duration,
    /// Reader threads, each owning one read-only connection: the most reads that run at once
    /// (clamped to 1..=64).
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

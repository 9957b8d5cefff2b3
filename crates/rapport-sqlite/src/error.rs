//! Errors of the SQLite store, before they are mapped to the port's `StoreError`.

/// What can go wrong inside the SQLite store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The driver failed; the source is kept.
    #[error("sqlite: {0}")]
    Driver(#[from] rusqlite::Error),
    /// The database was written by a newer version of rapport-sqlite.
    #[error(
        "the database schema is version {found} but this rapport-sqlite supports up to {supported}; upgrade rapport-sqlite"
    )]
    SchemaTooNew {
        /// Version found in `rapport_schema_migrations`.
        found: u32,
        /// Highest version this code knows.
        supported: u32,
    },
    /// A stored row does not decode.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What did not decode.
        reason: String,
    },
    /// The database could not take the write (begin or commit failed); nothing was written.
    #[error("sqlite write failed: {0}")]
    Unavailable(String),
    /// The writer thread is gone (the store was closed or the thread panicked).
    #[error("the sqlite writer thread is not running")]
    WriterGone,
}

impl SqliteError {
    /// True for lock contention and IO errors that a retry may clear.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            SqliteError::Driver(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

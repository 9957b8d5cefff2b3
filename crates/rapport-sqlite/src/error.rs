//! Errors of the SQLite store, before they are mapped to the port's `StoreError`.

/// What can go wrong inside the SQLite store.
///
/// ```
/// use rapport_sqlite::{SqliteConfig, SqliteError, SqliteStore, latest_version};
/// let dir = tempfile::tempdir()?;
/// let db = dir.path().join("crm.db");
/// let now = chrono::Utc::now();
/// drop(SqliteStore::open(&db, SqliteConfig::default(), now)?);
/// // Pretend a newer rapport-sqlite migrated the file.
/// rusqlite::Connection::open(&db)?.execute(
///     "INSERT INTO rapport_schema_migrations (version, name, applied_at_us) VALUES (?1, 'future', 0)",
///     [latest_version() + 1],
/// )?;
/// let err = SqliteStore::open(&db, SqliteConfig::default(), now).unwrap_err();
/// assert!(matches!(
///     err,
///     SqliteError::SchemaTooNew { found, supported } if found == latest_version() + 1 && supported == latest_version()
/// ));
/// assert!(!err.is_retryable());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    /// The read pool is gone (the store was closed or a reader thread could not start).
    #[error("the sqlite reader threads are not running")]
    ReaderGone,
    /// An erasure committed, but the WAL could not be checkpointed and truncated within the
    /// busy timeout (a reader held it): older copies of the erased personal data may still be
    /// in the WAL file, so the erasure is not reported done. The writer retries the checkpoint
    /// at its next commits; erasing the customer again (erasure is idempotent) retries it and
    /// succeeds once it went through.
    #[error(
        "the erasure is committed but the WAL could not be truncated ({0}); erase again to retry"
    )]
    ErasureNotFlushed(String),
    /// An erasure committed (with encryption), but the key store failed to delete an erased
    /// customer's data key: older copies of the rows (WAL, backups) still open with it, so the
    /// erasure is not reported done. The deletion is owed; erasing the customer again
    /// (`ErasureStore::erasure`, which the service reads for an erased customer) retries it
    /// and succeeds once the key is gone.
    #[error(transparent)]
    KeysNotDeleted(#[from] rapport_sql::shred::KeysNotDeleted),
    /// The key store of an encrypting store failed (crypto-shredding).
    #[error("key store: {0}")]
    Keys(rapport_core::StoreError),
}

impl SqliteError {
    /// True for lock contention and IO errors that a retry may clear.
    ///
    /// ```
    /// use rapport_sqlite::SqliteError;
    /// let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
    /// assert!(SqliteError::Driver(busy).is_retryable());
    /// let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
    /// assert!(!SqliteError::Driver(full).is_retryable());
    /// assert!(!SqliteError::WriterGone.is_retryable());
    /// ```
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

impl From<rapport_sql::seal::SealFailure> for SqliteError {
    fn from(e: rapport_sql::seal::SealFailure) -> Self {
        match e {
            rapport_sql::seal::SealFailure::Corrupt(c) => c.into(),
            rapport_sql::seal::SealFailure::Keys(k) => SqliteError::Keys(k),
            other => SqliteError::Unavailable(other.to_string()),
        }
    }
}

impl From<rapport_sql::codec::CorruptRow> for SqliteError {
    fn from(e: rapport_sql::codec::CorruptRow) -> Self {
        SqliteError::Corrupt {
            table: e.table,
            reason: e.reason,
        }
    }
}

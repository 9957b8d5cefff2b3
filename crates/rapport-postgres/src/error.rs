//! Errors: [`PostgresError`] for opening a store, and the mapping of driver errors to the
//! port's `StoreError` by SQLSTATE.

use rapport_core::StoreError;
use tokio_postgres::error::SqlState;

/// What can go wrong opening a [`crate::PostgresStore`].
///
/// ```
/// use rapport_postgres::{PostgresConfig, PostgresError};
/// let err = PostgresConfig::from_url("postgres://localhost/db?schema=Not-Plain").unwrap_err();
/// assert!(matches!(&err, PostgresError::InvalidSchema(s) if s == "Not-Plain"));
/// assert_eq!(err.to_string(),
///     "schema name `Not-Plain` must be lower-case letters, digits and `_` (at most 63 bytes, not starting with a digit)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The configured schema name is not a plain identifier.
    #[error(
        "schema name `{0}` must be lower-case letters, digits and `_` (at most 63 bytes, not starting with a digit)"
    )]
    InvalidSchema(String),
    /// [`crate::Layout::HashPartitioned`] with 0 or more than
    /// [`crate::Layout::MAX_PARTITIONS`] partitions.
    #[error("a hash-partitioned layout takes 1 to 1024 partitions, not {partitions}")]
    InvalidLayout {
        /// The partitions asked for.
        partitions: u16,
    },
    /// The URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(#[source] tokio_postgres::Error),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect {
        /// Host and database, without credentials.
        target: String,
        /// Why.
        reason: String,
    },
    /// The schema was written by a newer rapport-postgres.
    #[error(
        "the database schema is version {found} but this rapport-postgres supports up to {supported}; upgrade rapport-postgres"
    )]
    SchemaTooNew {
        /// Version found in `schema_migrations`.
        found: u32,
        /// Highest version this code knows.
        supported: u32,
    },
    /// The async runtime could not be started.
    #[error("cannot start the store's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Any other failure, mapped as the store's methods map it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A human reason for a driver error: the server's message and SQLSTATE when there is one,
/// else the driver's message and its source.
pub(crate) fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// Maps a driver error: serialization failures, deadlocks, lock timeouts, shutdowns,
/// connection-class errors and lost connections become [`StoreError::Unavailable`] (a retry
/// may succeed); everything else is [`StoreError::Backend`] with the driver error as source.
/// A unique index on a contact column (`customers_email`, `customers_phone`, or a partition's
/// copy of them) refused a write: what [`db`] wraps in `StoreError::Backend` until the store,
/// with the changeset at hand, names the customer holding the contact
/// (`StoreError::ContactTaken`).
#[derive(Debug, thiserror::Error)]
#[error("another live customer holds this {contact}")]
pub(crate) struct ContactClash {
    pub(crate) contact: rapport_core::ContactKind,
}

/// The contact a unique violation is about, from the index that raised it.
pub(crate) fn contact_clash(e: &tokio_postgres::Error) -> Option<rapport_core::ContactKind> {
    let d = e.as_db_error()?;
    if *d.code() != SqlState::UNIQUE_VIOLATION {
        return None;
    }
    let index = d.constraint()?;
    if index.contains("email") {
        Some(rapport_core::ContactKind::Email)
    } else if index.contains("phone") {
        Some(rapport_core::ContactKind::Phone)
    } else {
        None
    }
}

/// The contact clash `e` carries, if it is one (see [`ContactClash`]).
pub(crate) fn as_contact_clash(e: &StoreError) -> Option<rapport_core::ContactKind> {
    match e {
        StoreError::Backend { source, .. } => {
            source.downcast_ref::<ContactClash>().map(|c| c.contact)
        }
        _ => None,
    }
}

pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    if let Some(contact) = contact_clash(&e) {
        return StoreError::Backend {
            backend: "postgres",
            source: Box::new(ContactClash { contact }),
        };
    }
    let retryable = match e.code() {
        Some(code) => {
            *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || code.code().starts_with("08")
        }
        // No SQLSTATE: the connection broke or timed out.
        None => e.is_closed() || std::error::Error::source(&e).is_some(),
    };
    if retryable {
        StoreError::unavailable(format!("postgres: {}", reason(&e)))
    } else {
        StoreError::Backend {
            backend: "postgres",
            source: Box::new(e),
        }
    }
}

/// Maps a pool error: a driver error as [`db`], anything else (timeout, closed pool) as
/// [`StoreError::Unavailable`].
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db(e),
        other => StoreError::unavailable(format!("postgres pool: {other}")),
    }
}

/// A stored row that does not decode.
pub(crate) fn corrupt(table: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        reason: format!("{table}: {e}"),
    }
}

/// A stored row that does not decode, as rapport-sql's codecs report it.
pub(crate) fn corrupt_row(e: rapport_sql::codec::CorruptRow) -> StoreError {
    corrupt(e.table, e.reason)
}

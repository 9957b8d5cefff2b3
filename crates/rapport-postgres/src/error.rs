//! Errors: [`PostgresError`] for opening a store, and the mapping of driver errors to the
//! port's `StoreError` by SQLSTATE.

use rapport_core::StoreError;

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
    /// `sslmode` has a value this crate does not know (`disable`, `prefer`, `require`,
    /// `verify-ca`, `verify-full` are known).
    #[error("unknown sslmode `{0}`: use disable, prefer, require, verify-ca or verify-full")]
    InvalidSslMode(String),
    /// The TLS settings cannot be used: a root certificate that does not parse, an
    /// unreadable `sslrootcert` file.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The connection could not be secured as the TLS mode asks: the server offers no TLS
    /// (under `require` and the verifying modes), or its certificate was refused.
    #[error("cannot connect to PostgreSQL at {target} with sslmode={mode}: {reason}")]
    TlsConnect {
        /// Host and database, without credentials.
        target: String,
        /// The mode in force.
        mode: crate::SslMode,
        /// Why (the server's answer or the certificate check's).
        reason: String,
    },
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

/// How a driver error is reported, decided from its SQLSTATE (and, for a unique violation,
/// the constraint and detail the server names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    /// A retry may succeed: [`StoreError::Unavailable`].
    Retryable,
    /// A create met a customer that is stored: [`StoreError::AlreadyExists`].
    AlreadyExists(rapport_core::CustomerId),
    /// A unique index on a contact column refused a write: [`StoreError::Backend`] carrying
    /// a [`ContactClash`] until the store names the holder (`StoreError::ContactTaken`).
    Contact(rapport_core::ContactKind),
    /// Anything else: [`StoreError::Backend`] with the driver error as source.
    Other,
}

/// A unique index on a contact column (`customers_email`, `customers_phone`, or a partition's
/// copy of them) refused a write: what [`db`] wraps in `StoreError::Backend` until the store,
/// with the changeset at hand, names the customer holding the contact
/// (`StoreError::ContactTaken`). Holds the kind of contact only: the server's detail names the
/// value, which is personal data.
#[derive(Debug, thiserror::Error)]
#[error("another live customer holds this {contact}")]
pub(crate) struct ContactClash {
    pub(crate) contact: rapport_core::ContactKind,
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

/// The class of an error with SQLSTATE `code`:
///
/// | SQLSTATE | meaning | class |
/// |---|---|---|
/// | `40001` | serialization failure | retryable |
/// | `40P01` | deadlock detected | retryable |
/// | `55P03` | lock not available | retryable |
/// | `57P01`, `57P02`, `57P03` | admin / crash shutdown, cannot connect now | retryable |
/// | `53300` | too many connections | retryable |
/// | `08xxx` | connection exception | retryable |
/// | `23505` | unique violation | [`unique_violation`] |
/// | anything else | | other |
pub(crate) fn classify(code: &str, constraint: Option<&str>, detail: Option<&str>) -> Class {
    match code {
        "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300" => Class::Retryable,
        c if c.starts_with("08") => Class::Retryable,
        "23505" => unique_violation(constraint.unwrap_or(""), detail.unwrap_or("")),
        _ => Class::Other,
    }
}

/// **The one place a unique constraint is mapped to a typed clash.** `constraint` is the
/// name the server reports (the migrations name them), `detail` its `Key (…)=(…) already
/// exists.` text — which may hold a personal value for a contact index, so it is parsed here
/// and never copied into a message.
///
/// - `customers_pkey` (the same customer id stored twice, e.g. by two imports racing):
///   [`Class::AlreadyExists`] with the id from the detail.
/// - `customers_email`, `customers_phone` (one live customer per contact; on a partitioned
///   layout the partitions' copies are named `customers_p<i>_tenant_id_email_idx`, ...):
///   [`Class::Contact`].
/// - Anything else: [`Class::Other`].
pub(crate) fn unique_violation(constraint: &str, detail: &str) -> Class {
    match constraint {
        // The partitions of a hash-partitioned `customers` report the parent's key under
        // their own name (`customers_p<i>_pkey`).
        c if c == "customers_pkey" || (c.starts_with("customers_p") && c.ends_with("_pkey")) => {
            customer_in_key(detail).map_or(Class::Other, Class::AlreadyExists)
        }
        c if c.starts_with("customers") && c.contains("email") => {
            Class::Contact(rapport_core::ContactKind::Email)
        }
        c if c.starts_with("customers") && c.contains("phone") => {
            Class::Contact(rapport_core::ContactKind::Phone)
        }
        _ => Class::Other,
    }
}

/// The customer id of a `Key (tenant_id, customer_id)=(<tenant>, <customer>) already exists.`
/// detail.
fn customer_in_key(detail: &str) -> Option<rapport_core::CustomerId> {
    let values = detail.split_once(")=(")?.1;
    let values = values.split_once(')')?.0;
    let customer = values.split(',').nth(1)?.trim();
    uuid::Uuid::parse_str(customer)
        .ok()
        .map(rapport_core::CustomerId::from_uuid)
}

/// Maps a driver error by [`classify`]: serialization failures, deadlocks, lock timeouts,
/// shutdowns, connection-class errors and lost connections become
/// [`StoreError::Unavailable`] (a retry may succeed); a unique violation of a known
/// constraint its typed clash ([`unique_violation`]); everything else is
/// [`StoreError::Backend`] with the driver error as source.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    let class = match e.as_db_error() {
        Some(d) => classify(d.code().code(), d.constraint(), d.detail()),
        None => match e.code() {
            Some(code) => classify(code.code(), None, None),
            // No SQLSTATE: the connection broke or timed out.
            None if e.is_closed() || std::error::Error::source(&e).is_some() => Class::Retryable,
            None => Class::Other,
        },
    };
    match class {
        Class::Retryable => StoreError::unavailable(format!("postgres: {}", reason(&e))),
        Class::AlreadyExists(customer) => StoreError::AlreadyExists { customer },
        Class::Contact(contact) => StoreError::Backend {
            backend: "postgres",
            source: Box::new(ContactClash { contact }),
        },
        Class::Other => StoreError::Backend {
            backend: "postgres",
            source: Box::new(e),
        },
    }
}

/// True for a failure to set up TLS (the server offers none, or the handshake failed):
/// the driver reports those as "error performing TLS handshake".
pub(crate) fn is_tls(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none() && e.to_string().contains("TLS handshake")
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

/// A column of a stored row that does not decode (NULL where a value is required, or a
/// column of another type): [`StoreError::Corrupt`] naming the table and column.
pub(crate) fn column(table: &str, column: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Corrupt {
        reason: format!("{table}.{column}: {}", column_reason(e)),
    }
}

/// The driver's reason without the value (a `WasNull` or `WrongType` message only names
/// types).
fn column_reason(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => s.to_string(),
        None => e.to_string(),
    }
}

/// A stored row that does not decode, as rapport-sql's codecs report it.
pub(crate) fn corrupt_row(e: rapport_sql::codec::CorruptRow) -> StoreError {
    corrupt(e.table, e.reason)
}

/// A row that could not be sealed or opened (crypto-shredding): corrupt, or the key store's
/// own error.
pub(crate) fn seal_failure(e: rapport_sql::seal::SealFailure) -> StoreError {
    match e {
        rapport_sql::seal::SealFailure::Corrupt(c) => corrupt_row(c),
        rapport_sql::seal::SealFailure::Keys(k) => k,
        other => StoreError::unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_core::CustomerId;

    #[test]
    fn serialization_failures_deadlocks_and_lock_timeouts_are_retryable() {
        for code in ["40001", "40P01", "55P03"] {
            assert_eq!(classify(code, None, None), Class::Retryable, "{code}");
        }
    }

    #[test]
    fn shutdowns_and_connection_errors_are_retryable() {
        for code in [
            "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006", "08001",
        ] {
            assert_eq!(classify(code, None, None), Class::Retryable, "{code}");
        }
    }

    #[test]
    fn a_duplicate_customer_id_is_already_exists_with_the_id() {
        let detail = "Key (tenant_id, customer_id)=(00000000-0000-0000-0000-000000000001, \
                      00000000-0000-0000-0000-000000000007) already exists.";
        let want = Class::AlreadyExists(CustomerId::from_u128(7));
        assert_eq!(
            classify("23505", Some("customers_pkey"), Some(detail)),
            want
        );
        assert_eq!(
            classify("23505", Some("customers_p3_pkey"), Some(detail)),
            want
        );
    }

    #[test]
    fn other_unique_violations_and_other_errors_stay_backend_errors() {
        let detail = "Key (tenant_id, idempotency_key)=(00000000-0000-0000-0000-000000000001, k) already exists.";
        assert_eq!(
            classify("23505", Some("activities_pkey"), Some(detail)),
            Class::Other
        );
        // A detail that does not parse is not guessed at.
        assert_eq!(
            classify(
                "23505",
                Some("customers_pkey"),
                Some("Key (x)=(y) already exists.")
            ),
            Class::Other
        );
        assert_eq!(classify("23505", None, None), Class::Other);
        for code in ["42P01", "22P02", "23503", "XX000", "25P01"] {
            assert_eq!(classify(code, None, None), Class::Other, "{code}");
        }
    }

    /// Errors provoked on the real server (`RAPPORT_POSTGRES_URL`, or the local default
    /// when `RAPPORT_REQUIRE_POSTGRES` is set; else skipped) map to their class.
    mod provoked {
        use super::*;

        fn url() -> Option<String> {
            match std::env::var("RAPPORT_POSTGRES_URL") {
                Ok(u) if !u.is_empty() => Some(u),
                _ if std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
                    Some("postgres://postgres@127.0.0.1:5432/test".to_owned())
                }
                _ => None,
            }
        }

        async fn connect(url: &str) -> tokio_postgres::Client {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            tokio::spawn(conn);
            client
        }

        fn run(f: impl std::future::Future<Output = ()>) {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
                .block_on(f);
        }

        fn scratch() -> String {
            format!(
                "rapport_err_{}_{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            )
        }

        #[test]
        fn a_duplicate_customer_key_is_already_exists() {
            let Some(url) = url() else { return };
            run(async {
                let c = connect(&url).await;
                let s = scratch();
                c.batch_execute(&format!(
                    "CREATE SCHEMA {s};
                     CREATE TABLE {s}.customers (tenant_id uuid, customer_id uuid,
                         PRIMARY KEY (tenant_id, customer_id));
                     INSERT INTO {s}.customers VALUES
                         ('00000000-0000-0000-0000-000000000001',
                          '00000000-0000-0000-0000-000000000007');"
                ))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
                let err = c
                    .batch_execute(&format!(
                        "INSERT INTO {s}.customers VALUES
                             ('00000000-0000-0000-0000-000000000001',
                              '00000000-0000-0000-0000-000000000007')"
                    ))
                    .await
                    .map(|()| panic!("the duplicate went in"))
                    .unwrap_or_else(|e| e);
                let _ = c.batch_execute(&format!("DROP SCHEMA {s} CASCADE")).await;
                assert!(
                    matches!(db(err), StoreError::AlreadyExists { customer } if customer == CustomerId::from_u128(7))
                );
            });
        }

        #[test]
        fn a_serialization_failure_is_retryable() {
            let Some(url) = url() else { return };
            run(async {
                let (a, b) = (connect(&url).await, connect(&url).await);
                let s = scratch();
                a.batch_execute(&format!(
                    "CREATE SCHEMA {s}; CREATE TABLE {s}.t (k int PRIMARY KEY, v int);
                     INSERT INTO {s}.t VALUES (1, 0);"
                ))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
                let begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
                a.batch_execute(&format!("{begin}; SELECT * FROM {s}.t;"))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                b.batch_execute(&format!(
                    "{begin}; UPDATE {s}.t SET v = 2 WHERE k = 1; COMMIT;"
                ))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
                let err = a
                    .batch_execute(&format!("UPDATE {s}.t SET v = 1 WHERE k = 1"))
                    .await
                    .map(|()| panic!("no serialization failure"))
                    .unwrap_or_else(|e| e);
                assert_eq!(err.code().map(|c| c.code()), Some("40001"));
                let _ = a.batch_execute("ROLLBACK").await;
                let _ = a.batch_execute(&format!("DROP SCHEMA {s} CASCADE")).await;
                assert!(db(err).is_retryable());
            });
        }

        #[test]
        fn an_administrator_shutdown_of_the_connection_is_retryable() {
            let Some(url) = url() else { return };
            run(async {
                let (victim, admin) = (connect(&url).await, connect(&url).await);
                let pid: i32 = victim
                    .query_one("SELECT pg_backend_pid()", &[])
                    .await
                    .and_then(|r| r.try_get(0))
                    .unwrap_or_else(|e| panic!("{e}"));
                admin
                    .execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let err = victim
                    .batch_execute("SELECT 1")
                    .await
                    .map(|()| panic!("the terminated connection answered"))
                    .unwrap_or_else(|e| e);
                let mapped = db(err);
                assert!(mapped.is_retryable(), "{mapped:?}");
            });
        }
    }
}

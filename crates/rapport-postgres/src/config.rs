//! Connection settings.

use std::time::Duration;

use crate::error::PostgresError;
use crate::tls::SslMode;

/// Settings of a [`crate::PostgresStore`]: the server, the schema its tables live in, and the
/// pool.
///
/// ```
/// use rapport_postgres::PostgresConfig;
/// let c = PostgresConfig::new("postgres://app@db.internal/crm");
/// assert_eq!((c.schema.as_str(), c.pool_size), ("rapport", 8));
///
/// // `schema` may also come in the URL (the CLI's `--db` takes it so); it is taken out before
/// // the URL goes to the driver.
/// let c = PostgresConfig::from_url("postgres://app@db.internal/crm?sslmode=disable&schema=crm_eu")?;
/// assert_eq!(c.schema, "crm_eu");
/// assert_eq!(c.url, "postgres://app@db.internal/crm?sslmode=disable");
/// # Ok::<(), rapport_postgres::PostgresError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// A libpq-style URL or key-value string, e.g. `postgres://user@host:5432/db`.
    pub url: String,
    /// The schema holding rapport's tables (created if missing). Lower-case letters, digits
    /// and `_`, starting with a letter or `_`, at most 63 bytes.
    pub schema: String,
    /// Most open connections.
    pub pool_size: usize,
    /// How long opening one connection may take, when the URL does not say
    /// (`connect_timeout`).
    pub connect_timeout: Duration,
    /// How the bulk imports write ([`ImportPath::Copy`] unless told).
    pub import: ImportPath,
    /// How the tables are laid out when the schema is created ([`Layout::Plain`] unless
    /// told). An existing schema keeps the layout it was created with.
    pub layout: Layout,
    /// The TLS mode, over the URL's `sslmode` (which is read when this is `None`; neither:
    /// [`SslMode::Prefer`], libpq's default). See [`SslMode`].
    pub ssl_mode: Option<SslMode>,
    /// Certificates (PEM) trusted as roots by [`SslMode::VerifyCa`] and
    /// [`SslMode::VerifyFull`], beside the Mozilla roots and the URL's `sslrootcert` file:
    /// a private CA, or a self-signed server certificate.
    pub root_certificates: Vec<Vec<u8>>,
}

/// How a new schema's tenant tables are laid out. Every table is keyed by `tenant_id` first
/// and every tenant query names its tenant, so both layouts answer the same; the
/// partitioned one is the first step of the scale-out path (see `docs/scaling.md`).
///
/// The layout is chosen when the schema is created (by the first migration); a store
/// connecting to an existing schema uses what it finds ([`crate::PostgresStore::layout`]).
///
/// ```
/// use rapport_postgres::{Layout, PostgresConfig};
/// let c = PostgresConfig::new("postgres://localhost/db");
/// assert_eq!(c.layout, Layout::Plain);
/// let c = c.partitioned(16);
/// assert_eq!(c.layout, Layout::HashPartitioned { partitions: 16 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// One table each.
    #[default]
    Plain,
    /// The tenant tables (`customers`, `activities`, `outbox`) hash-partitioned by
    /// `tenant_id` with native PostgreSQL partitioning (`PARTITION BY HASH (tenant_id)`),
    /// into `partitions` partitions named `<table>_p<i>` (1 to [`Layout::MAX_PARTITIONS`]).
    /// A tenant's rows all live in one partition, and every tenant query is pruned to it.
    HashPartitioned {
        /// How many partitions each table has.
        partitions: u16,
    },
}

impl Layout {
    /// The most partitions [`Layout::HashPartitioned`] takes.
    ///
    /// ```
    /// assert_eq!(rapport_postgres::Layout::MAX_PARTITIONS, 1024);
    /// ```
    pub const MAX_PARTITIONS: u16 = 1024;
}

/// How [`crate::PostgresStore::import_customers`] and
/// [`crate::PostgresStore::import_raw_activities`] write a batch. Both are one transaction,
/// idempotent (known customers and activity keys are skipped, never overwritten) and give
/// the same store contents and reports.
///
/// ```
/// use rapport_postgres::{ImportPath, PostgresConfig};
/// let c = PostgresConfig::new("postgres://localhost/db");
/// assert_eq!(c.import, ImportPath::Copy);
/// let c = c.with_import(ImportPath::Statements);
/// assert_eq!(c.import, ImportPath::Statements);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportPath {
    /// `COPY … FROM STDIN (FORMAT binary)`: straight into the table when no key of the batch
    /// is stored (and none comes twice), else into a temporary staging table, then one
    /// `INSERT … SELECT … ON CONFLICT DO NOTHING`. The fast path.
    #[default]
    Copy,
    /// One pipelined `INSERT … ON CONFLICT DO NOTHING` per row.
    Statements,
}

impl PostgresConfig {
    /// The defaults for a server URL: schema `rapport`, 8 connections, 5 s connect timeout.
    ///
    /// ```
    /// let c = rapport_postgres::PostgresConfig::new("host=localhost user=postgres");
    /// assert_eq!(c.connect_timeout, std::time::Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "rapport".to_owned(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            import: ImportPath::Copy,
            layout: Layout::Plain,
            ssl_mode: None,
            root_certificates: Vec::new(),
        }
    }

    /// Another schema.
    ///
    /// ```
    /// let c = rapport_postgres::PostgresConfig::new("postgres://localhost/db").with_schema("crm");
    /// assert_eq!(c.schema, "crm");
    /// ```
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Another pool size (at least 1).
    ///
    /// ```
    /// let c = rapport_postgres::PostgresConfig::new("postgres://localhost/db").with_pool_size(0);
    /// assert_eq!(c.pool_size, 1);
    /// ```
    #[must_use]
    pub fn with_pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// Another layout for a new schema.
    ///
    /// ```
    /// use rapport_postgres::{Layout, PostgresConfig};
    /// let c = PostgresConfig::new("postgres://localhost/db").with_layout(Layout::HashPartitioned { partitions: 8 });
    /// assert_eq!(c, PostgresConfig::new("postgres://localhost/db").partitioned(8));
    /// ```
    #[must_use]
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// A new schema's tenant tables hash-partitioned by `tenant_id` into `partitions`
    /// partitions: `with_layout(Layout::HashPartitioned { partitions })`. Connecting fails
    /// with [`PostgresError::InvalidLayout`] for 0 or more than [`Layout::MAX_PARTITIONS`].
    ///
    /// ```
    /// let c = rapport_postgres::PostgresConfig::new("postgres://localhost/db").partitioned(4);
    /// assert_eq!(c.layout, rapport_postgres::Layout::HashPartitioned { partitions: 4 });
    /// ```
    #[must_use]
    pub fn partitioned(self, partitions: u16) -> Self {
        self.with_layout(Layout::HashPartitioned { partitions })
    }

    /// Another TLS mode than the URL's `sslmode`.
    ///
    /// ```
    /// use rapport_postgres::{PostgresConfig, SslMode};
    /// let c = PostgresConfig::new("postgres://db.internal/crm?sslmode=disable")
    ///     .with_ssl_mode(SslMode::VerifyFull);
    /// assert_eq!(c.ssl_mode, Some(SslMode::VerifyFull)); // wins over the URL
    /// ```
    #[must_use]
    pub fn with_ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    /// Trusts `pem` (one or more PEM certificates) as roots for the verifying TLS modes. A
    /// certificate that does not parse fails [`crate::PostgresStore::connect`] with
    /// [`PostgresError::Tls`].
    ///
    /// ```
    /// use rapport_postgres::{PostgresConfig, SslMode};
    /// # let ca_pem = b"-----BEGIN CERTIFICATE-----\n...".to_vec();
    /// let c = PostgresConfig::new("postgres://app@db.internal/crm?sslmode=verify-full")
    ///     .with_root_certificate(ca_pem);
    /// assert_eq!(c.root_certificates.len(), 1);
    /// ```
    #[must_use]
    pub fn with_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Another import path.
    #[must_use]
    pub fn with_import(mut self, import: ImportPath) -> Self {
        self.import = import;
        self
    }

    /// The defaults for a URL that may carry a `schema=<name>` query parameter, which is
    /// removed from the URL (the driver does not know it).
    ///
    /// # Errors
    /// [`PostgresError::InvalidSchema`] when the schema name is not a plain identifier.
    pub fn from_url(url: &str) -> Result<Self, PostgresError> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok(Self::new(url));
        };
        let mut schema = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.strip_prefix("schema=") {
                Some(s) => {
                    schema = Some(s.to_owned());
                    false
                }
                None => !kv.is_empty(),
            })
            .collect();
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut c = Self::new(url);
        if let Some(s) = schema {
            check_schema(&s)?;
            c.schema = s;
        }
        Ok(c)
    }
}

/// A layout the server can build.
pub(crate) fn check_layout(l: Layout) -> Result<(), PostgresError> {
    match l {
        Layout::HashPartitioned { partitions }
            if !(1..=Layout::MAX_PARTITIONS).contains(&partitions) =>
        {
            Err(PostgresError::InvalidLayout { partitions })
        }
        _ => Ok(()),
    }
}

/// Schema names are restricted so they can be pasted into SQL as quoted identifiers safely.
pub(crate) fn check_schema(s: &str) -> Result<(), PostgresError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(PostgresError::InvalidSchema(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema("rapport_test_1").is_ok());
        for bad in ["", "1abc", "Rapport", "a\"b", "a;drop", &"x".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_partitioned_layout_takes_1_to_1024_partitions() {
        for ok in [
            Layout::Plain,
            Layout::HashPartitioned { partitions: 1 },
            Layout::HashPartitioned { partitions: 1024 },
        ] {
            assert!(check_layout(ok).is_ok(), "{ok:?}");
        }
        for bad in [0, 1025, u16::MAX] {
            let err = check_layout(Layout::HashPartitioned { partitions: bad });
            assert!(
                matches!(err, Err(PostgresError::InvalidLayout { partitions }) if partitions == bad)
            );
        }
    }

    #[test]
    fn connecting_with_zero_partitions_is_refused_before_any_connection() {
        let config = PostgresConfig::new("postgres://127.0.0.1:1/nowhere").partitioned(0);
        let err = futures::executor::block_on(crate::PostgresStore::connect(
            config,
            chrono::DateTime::UNIX_EPOCH,
        ));
        assert!(matches!(
            err,
            Err(PostgresError::InvalidLayout { partitions: 0 })
        ));
    }

    #[test]
    fn schema_parameter_is_taken_out_of_the_url() {
        let c =
            PostgresConfig::from_url("postgres://h/db?schema=s1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.url.as_str(), c.schema.as_str()),
            ("postgres://h/db", "s1")
        );
        let c = PostgresConfig::from_url("postgres://h/db").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.schema, "rapport");
        assert!(PostgresConfig::from_url("postgres://h/db?schema=Bad-Name").is_err());
    }
}

//! The PostgreSQL store of **rapport**, on [tokio-postgres](https://docs.rs/tokio-postgres).
//!
//! - Money as `NUMERIC` (all 28 digits, scale kept), times as `timestamptz` (microseconds),
//!   ids as `uuid`; every table is keyed `(tenant_id, …)`, in a schema of its own (default
//!   `rapport`, configurable, so one database can hold several books or test runs).
//! - `apply` is atomic: creates `INSERT … ON CONFLICT DO NOTHING` (zero rows →
//!   `AlreadyExists`, never an upsert), updates `UPDATE … WHERE version = $n` with the rows
//!   affected checked before commit (`Conflict {expected, actual}`, nothing left behind),
//!   activities idempotent by `(tenant_id, idempotency_key)`, outbox rows in the same commit.
//!   Concurrent `apply` calls share one transaction (**group commit**, as the SQLite store
//!   does): each changeset under a savepoint of its own, so a refused one is rolled back
//!   alone, and one `COMMIT` for the group; a changeset's statements are pipelined (one round
//!   trip).
//!   [`PostgresStore::apply_in`] does the same inside a host's own transaction (under a
//!   savepoint), so the host commits its rows and rapport's together.
//! - The outbox is claimed with `FOR UPDATE SKIP LOCKED`, so several relays share it.
//! - Segment queries compile the predicate to a parameterised SQL prefilter (literals are
//!   always bound) and re-check every candidate with `Segment::matches`, so they answer
//!   exactly what the default `query` answers.
//! - Driver errors map by SQLSTATE: serialization failures (`40001`), deadlocks (`40P01`),
//!   lock timeouts (`55P03`), shutdowns (`57P01`–`57P03`), too many connections (`53300`),
//!   connection errors (`08xxx`) and lost connections are `StoreError::Unavailable`
//!   (retryable); a unique violation of the customers' primary key is
//!   `StoreError::AlreadyExists` with the id; the rest is `StoreError::Backend` with the
//!   driver error as source. A stored value that does not decode (a NULL, another type) is
//!   `StoreError::Corrupt` naming the table and column, never a panic.
//! - TLS over rustls, chosen by the URL's `sslmode` as libpq does (default `prefer`;
//!   `require`, `verify-ca`, `verify-full`; `disable`): see [`SslMode`],
//!   [`PostgresConfig::with_root_certificate`].
//! - Row-level security (migration 3): every tenant table only shows the rows of the tenant
//!   the session names in `rapport.tenant`, which the store sets before each read, changeset
//!   and import; run the store as an ordinary role (not a superuser, which bypasses it). See
//!   *Security* below.
//! - Schema as numbered migrations ([`MIGRATIONS`]) applied at connect under an advisory lock,
//!   refusing a schema newer than the code.
//! - Every table is keyed by `tenant_id` first; [`Layout::HashPartitioned`]
//!   ([`PostgresConfig::partitioned`]) creates the tenant tables hash-partitioned by it
//!   (`docs/scaling.md` has the scale-out plan).
//!
//! # Security
//! ```text
//! postgres://app@db.internal/crm?sslmode=verify-full&sslrootcert=/etc/rapport/ca.pem
//! ```
//! connects with TLS, checking the server's certificate against the Mozilla roots and the
//! CA file, and its host name ([`SslMode`] lists the modes; a server that cannot satisfy the
//! mode fails [`PostgresStore::connect`] with [`PostgresError::TlsConnect`]).
//!
//! Migration 3 enables and forces row-level security on `customers`, `activities` and
//! `outbox` (and their partitions) with the policy `tenant_id = rapport.tenant`; the
//! relay's outbox claim runs under `rapport.tenant = '*'`, which shows the outbox alone.
//! Policies never apply to superusers or `BYPASSRLS` roles, so the application should
//! connect as an ordinary role, granted (once the schema exists):
//!
//! ```sql
//! CREATE ROLE rapport_app LOGIN;
//! GRANT USAGE ON SCHEMA rapport TO rapport_app;
//! GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rapport TO rapport_app;
//! GRANT USAGE ON ALL SEQUENCES IN SCHEMA rapport TO rapport_app;
//! ```
//!
//! Such a role needs no `CREATE` right to connect to an up-to-date schema.
//! `docs/scaling.md` ("Security") has the design.
//!
//! # Runtime
//! tokio-postgres needs a tokio reactor for its connections. The store therefore runs its
//! database work on a runtime it owns (two worker threads, started by
//! [`PostgresStore::connect`]) or on one the host gives it
//! ([`PostgresStore::connect_on`]); every method spawns onto that runtime and awaits the
//! task. So the store's futures can be driven by **any** executor — tokio, or
//! `futures::executor::block_on` as `rapport::blocking` does — and a blocking host needs no
//! runtime of its own.
//!
//! # Example
//! Needs a server: it is taken from `RAPPORT_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), and the example does nothing without it.
//!
//! ```
//! use rapport::core::*;
//! use rapport_postgres::{PostgresConfig, PostgresStore};
//! use futures::executor::block_on;
//!
//! let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else { return Ok(()) };
//! let config = PostgresConfig::new(url).with_schema("crm"); // default schema: `rapport`
//! # let schema = format!("rapport_doc_{}", std::process::id()); // not `crm` in the test database
//! # let config = config.with_schema(schema.clone());
//! let store = block_on(PostgresStore::connect(config, chrono::Utc::now()))?;
//!
//! // A blocking host: no runtime of its own, the store runs the database work on its own.
//! let svc = rapport::blocking::Service::new(store);
//! let t = TenantId::from_u128(1);
//! let ann = svc.register(t, Profile::default())?.customer;
//! assert_eq!(svc.customer(t, ann.id())?.customer, ann);
//! # drop(svc);
//! # block_on(block_on(PostgresStore::connect(PostgresConfig::new(std::env::var("RAPPORT_POSTGRES_URL")?).with_schema(schema), chrono::Utc::now()))?.drop_schema())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod account;
mod apply;
mod automation;
mod case;
mod config;
mod conn;
mod consent;
mod error;
mod group;
mod import;
mod line_items;
mod merge;
mod migrate;
mod read;
mod segment_sql;
mod sql;
mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rapport_core::{
    Activity, Applied, Changeset, ContactKey, CustomerId, MessageId, Outbox, OutboxMessage, Page,
    Record, Segment, SegmentContext, Store, StoreError, TenantId, TimeRange,
};
use tokio::runtime::{Handle, Runtime};
use uuid::Uuid;

pub use config::{ImportPath, Layout, PostgresConfig};
pub use error::PostgresError;
pub use migrate::{MIGRATIONS, Migration, latest_version};
pub use rapport_sql::ImportReport;
pub use tls::SslMode;

/// The statement an erasure deletes a customer's pending outbox messages with (`$1` the
/// tenant, `$2` the customer id as text), for the store schema `schema`: exposed for the plan
/// test that checks it reads the `outbox_customer` index (migration 11), not the tenant's whole
/// outbox.
#[doc(hidden)]
#[must_use]
pub fn erasure_drop_messages_sql(schema: &str) -> String {
    consent::ConsentSql::new(&format!("\"{schema}\"")).drop_messages
}

use error::{corrupt, db, pool};
use sql::Sql;

/// What the spawned tasks share.
struct Inner {
    pool: Pool,
    sql: Sql,
    schema: String,
    import: ImportPath,
    /// Set once the migrations ran: the layout the schema has.
    layout: std::sync::OnceLock<Layout>,
    /// Set once the migrations ran: whether row-level security applies to the store's role
    /// (it does to every role but superusers and `BYPASSRLS` ones). The server refuses
    /// `COPY FROM` into a table under row-level security, so imports then copy into a
    /// staging table only.
    rls: std::sync::OnceLock<bool>,
    /// Field encryption (crypto-shredding), once [`PostgresStore::with_keystore`] set it.
    sealer: std::sync::OnceLock<rapport_sql::seal::Sealer>,
    /// The tenant each pooled connection's session names (reads skip naming it again).
    named: read::Named,
    /// Erased customers' key deletions that failed after their commit, owed until a retry
    /// (`ErasureStore::erasure`) goes through.
    owed_keys: rapport_sql::shred::OwedKeys,
}

impl Inner {
    /// The rows `sql` (prepared once per pooled connection) answers for `params`, read on a
    /// connection whose session names `tenant` (what the row-level security policies read:
    /// a tenant id, or [`sql::ALL_TENANTS`]).
    async fn rows(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.pool.get().await.map_err(pool)?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        read::as_tenant(&self.named, &client, tenant, client.query(&stmt, params)).await
    }

    /// [`Inner::rows`] for a statement that answers at most one row.
    async fn row(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let client = self.pool.get().await.map_err(pool)?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        read::as_tenant(
            &self.named,
            &client,
            tenant,
            client.query_opt(&stmt, params),
        )
        .await
    }

    /// [`Inner::rows`] for a statement that writes: how many rows it changed.
    async fn execute(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await.map_err(pool)?;
        let stmt = client.prepare_cached(sql).await.map_err(db)?;
        read::as_tenant(&self.named, &client, tenant, client.execute(&stmt, params)).await
    }
}

/// The runtime the store's tasks run on; an owned one is shut down without blocking when the
/// store is dropped (so dropping the store inside an async context is fine).
struct Rt {
    handle: Handle,
    owned: Option<Runtime>,
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            rt.shutdown_background();
        }
    }
}

/// A rapport store in a PostgreSQL schema. See the [crate documentation](crate) for the
/// storage and runtime model.
pub struct PostgresStore {
    inner: Arc<Inner>,
    /// Declared before `rt`: dropping the queues ends the lane tasks before an owned runtime
    /// shuts down.
    groups: group::Groups,
    rt: Rt,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

/// Host and database of a config, for messages (never the password).
fn target(c: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}:{port}/{}",
        hosts.join(","),
        c.get_dbname().unwrap_or("")
    )
}

impl PostgresStore {
    /// Connects on a runtime of the store's own (two worker threads), creates the schema if
    /// needed and applies the missing migrations. `now` stamps the migrations it applies. The
    /// future can be driven by any executor.
    ///
    /// ```no_run
    /// use rapport_postgres::{PostgresConfig, PostgresStore};
    /// let config = PostgresConfig::from_url("postgres://postgres@127.0.0.1:5432/test?schema=crm")?;
    /// let store = futures::executor::block_on(PostgresStore::connect(config, chrono::Utc::now()))?;
    /// assert_eq!(store.schema(), "crm");
    /// # Ok::<(), rapport_postgres::PostgresError>(())
    /// ```
    ///
    /// # Errors
    /// [`PostgresError::Connect`] when the server cannot be reached,
    /// [`PostgresError::SchemaTooNew`], [`PostgresError::InvalidSchema`],
    /// [`PostgresError::InvalidUrl`], or a driver error.
    pub async fn connect(
        config: PostgresConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, PostgresError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rapport-postgres")
            .enable_all()
            .build()
            .map_err(PostgresError::Runtime)?;
        let handle = rt.handle().clone();
        Self::open(
            Rt {
                handle,
                owned: Some(rt),
            },
            config,
            now,
        )
        .await
    }

    /// As [`PostgresStore::connect`], on the host's tokio runtime (which must have IO and
    /// time enabled, and must outlive the store).
    ///
    /// ```no_run
    /// # async fn host() -> Result<(), rapport_postgres::PostgresError> {
    /// use rapport_postgres::{PostgresConfig, PostgresStore};
    /// let config = PostgresConfig::new("postgres://postgres@127.0.0.1:5432/test");
    /// let store = PostgresStore::connect_on(tokio::runtime::Handle::current(), config, chrono::Utc::now()).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_on(
        handle: Handle,
        config: PostgresConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, PostgresError> {
        Self::open(
            Rt {
                handle,
                owned: None,
            },
            config,
            now,
        )
        .await
    }

    async fn open(
        rt: Rt,
        config: PostgresConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, PostgresError> {
        config::check_schema(&config.schema)?;
        config::check_layout(config.layout)?;
        let (url, mode_in_url) = tls::take_param(&config.url, "sslmode");
        let (url, root_file) = tls::take_param(&url, "sslrootcert");
        let mode = match (config.ssl_mode, mode_in_url) {
            (Some(m), _) => m,
            (None, Some(m)) => m.parse()?,
            (None, None) => SslMode::Prefer,
        };
        let mut pg: tokio_postgres::Config = url.parse().map_err(PostgresError::InvalidUrl)?;
        pg.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let connector = tls::connector(mode, &config.root_certificates, root_file.as_deref())?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(config.connect_timeout);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("rapport");
        }
        let target = target(&pg);
        let manager_config = ManagerConfig {
            // Fast: no `DISCARD ALL` between users, so a session keeps the tenant it names
            // (`read::Named` relies on it).
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match connector {
            Some(tls) => Manager::from_config(pg, tls, manager_config),
            None => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
        };
        // Last in, first out: a read takes the connection used last (its backend and
        // statement cache warm), the others stay idle.
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| PostgresError::Connect {
                target: target.clone(),
                reason: e.to_string(),
            })?;
        let inner = Arc::new(Inner {
            pool,
            sql: Sql::new(&config.schema),
            schema: config.schema,
            import: config.import,
            layout: std::sync::OnceLock::new(),
            rls: std::sync::OnceLock::new(),
            sealer: std::sync::OnceLock::new(),
            named: read::Named::default(),
            owed_keys: rapport_sql::shred::OwedKeys::default(),
        });
        let layout = config.layout;
        let task = {
            let inner = Arc::clone(&inner);
            rt.handle.spawn(async move {
                let mut client = inner.pool.get().await.map_err(|e| match e {
                    deadpool_postgres::PoolError::Backend(e) if error::is_tls(&e) => {
                        PostgresError::TlsConnect {
                            target,
                            mode,
                            reason: error::reason(&e),
                        }
                    }
                    deadpool_postgres::PoolError::Backend(e) => PostgresError::Connect {
                        target,
                        reason: error::reason(&e),
                    },
                    other => PostgresError::Connect {
                        target,
                        reason: other.to_string(),
                    },
                })?;
                let (_, found) = migrate::migrate(&mut client, &inner.schema, now, layout).await?;
                let _ = inner.layout.set(found);
                let row = client
                    .query_one(
                        "SELECT row_security_active(format('%I.customers', $1::text)::regclass)",
                        &[&inner.schema],
                    )
                    .await
                    .map_err(db)?;
                let _ = inner.rls.set(read::col(&row, "pg_class", 0)?);
                Ok::<_, PostgresError>(())
            })
        };
        task.await
            .map_err(|e| StoreError::unavailable(format!("postgres task failed: {e}")))??;
        let groups = group::Groups::start(&rt.handle, &inner, lanes());
        Ok(Self { inner, groups, rt })
    }

    /// The schema holding the store's tables.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The layout of the store's tables: the configured one for a schema this store created,
    /// else the one the existing schema has.
    ///
    /// ```
    /// # use rapport_postgres::{Layout, PostgresConfig, PostgresStore};
    /// # use futures::executor::block_on;
    /// # let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else { return Ok(()) };
    /// let schema = format!("rapport_doc_layout_{}", std::process::id());
    /// let config = PostgresConfig::new(url).with_schema(schema).partitioned(4);
    /// let store = block_on(PostgresStore::connect(config.clone(), chrono::Utc::now()))?;
    /// assert_eq!(store.layout(), Layout::HashPartitioned { partitions: 4 });
    /// // Reconnecting with another layout finds the one the schema has.
    /// let again = block_on(PostgresStore::connect(config.with_layout(Layout::Plain), chrono::Utc::now()))?;
    /// assert_eq!(again.layout(), Layout::HashPartitioned { partitions: 4 });
    /// # block_on(store.drop_schema())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.inner.layout.get().copied().unwrap_or_default()
    }

    /// Drops the store's schema **with every row in it** (`DROP SCHEMA … CASCADE`). For
    /// tests and uninstalls.
    ///
    /// # Errors
    /// Driver errors.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        self.run(|inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    inner.schema
                ))
                .await
                .map_err(db)
        })
        .await
    }

    /// Imports a batch of customers in one transaction; ids that exist are skipped (so a
    /// re-run adds nothing, and an existing customer is never overwritten). By default the
    /// rows go in with `COPY … FROM STDIN (FORMAT binary)`: straight into the table when none
    /// of their ids is stored, else into a staging table, then one `INSERT … SELECT … ON
    /// CONFLICT DO NOTHING` (see [`ImportPath`]).
    ///
    /// ```
    /// # use rapport::core::*;
    /// # use rapport_postgres::{PostgresConfig, PostgresStore};
    /// # use futures::executor::block_on;
    /// # let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else { return Ok(()) };
    /// # let config = PostgresConfig::new(url).with_schema(format!("rapport_doc_ic_{}", std::process::id()));
    /// # let store = block_on(PostgresStore::connect(config, chrono::Utc::now()))?;
    /// # let (t, now) = (TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH);
    /// let customers: Vec<_> = (1..=3)
    ///     .map(|i| (Customer::new(t, CustomerId::from_u128(i), Profile::default(), now), Stats::default()))
    ///     .collect();
    /// let first = block_on(store.import_customers(t, &customers))?;
    /// assert_eq!((first.rows, first.inserted, first.skipped), (3, 3, 0));
    /// let again = block_on(store.import_customers(t, &customers))?;
    /// assert_eq!((again.inserted, again.skipped), (0, 3));
    /// // Another tenant's customer fails the whole batch.
    /// assert!(matches!(
    ///     block_on(store.import_customers(TenantId::from_u128(2), &customers)),
    ///     Err(StoreError::Invalid(_))
    /// ));
    /// # block_on(store.drop_schema())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for another tenant's customer; driver errors. Nothing of the
    /// batch is written on error.
    #[tracing::instrument(
        name = "rapport_postgres.import_customers",
        level = "info",
        skip_all,
        fields(tenant = %tenant, rows = batch.len())
    )]
    pub async fn import_customers(
        &self,
        tenant: TenantId,
        batch: &[(rapport_core::Customer, rapport_core::Stats)],
    ) -> Result<ImportReport, StoreError> {
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        // On the caller's executor: the rows are serialised while the copy streams them, so
        // the server inserts one part of the batch while this thread encodes the next.
        let out = match import::check_tenant(tenant, batch) {
            Ok(()) => {
                self.here(
                    move |inner| async move { import::customers(&inner, tenant, batch).await },
                )
                .await
            }
            Err(e) => Err(e),
        };
        rapport_sql::log_import(out.as_ref().map_err(rapport_sql::store_error_kind), started);
        out
    }

    /// Loads a tenant's customers into a **fresh database** (no customer row of any tenant):
    /// one transaction, the unique contact indexes dropped before the rows and built again
    /// after them, the rows streamed with one `COPY … FROM STDIN (FORMAT binary)` as `rows`
    /// yields them. The outcome is the one [`PostgresStore::import_customers`] gives for the
    /// same rows in order (a repeated id is skipped, a row whose email or phone a row before
    /// it took is `contact_taken`), decided in memory while the table is locked
    /// `ACCESS EXCLUSIVE` for the load (other sessions wait for it, also to read).
    ///
    /// When the way is closed — the table holds a row, another session holds a lock on it for 5 s,
    /// row-level security applies to the store's role, or the role does not own the table —
    /// the rows go through [`PostgresStore::import_customers`] in batches of 10,000 instead
    /// (each its own transaction) and [`FirstLoad::indexes_built_after`] is `false`.
    ///
    /// ```
    /// # use rapport::core::*;
    /// # use rapport_postgres::{PostgresConfig, PostgresStore};
    /// # use futures::executor::block_on;
    /// # let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else { return Ok(()) };
    /// # let config = PostgresConfig::new(url).with_schema(format!("rapport_doc_fl_{}", std::process::id()));
    /// # let store = block_on(PostgresStore::connect(config, chrono::Utc::now()))?;
    /// # let (t, now) = (TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH);
    /// let customers = (1..=3).map(|i| {
    ///     (Customer::new(t, CustomerId::from_u128(i), Profile::default(), now), Stats::default())
    /// });
    /// let first = block_on(store.first_load(t, customers.clone()))?;
    /// assert!(first.indexes_built_after);
    /// assert_eq!((first.report.rows, first.report.inserted), (3, 3));
    /// // The table holds rows now: a second load takes the batch way and adds nothing.
    /// let again = block_on(store.first_load(t, customers))?;
    /// assert_eq!((again.indexes_built_after, again.report.skipped), (false, 3));
    /// # block_on(store.drop_schema())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for another tenant's customer (nothing of the load is
    /// written); driver errors (on the fresh-database way nothing is written; on the batch
    /// way the batches before the failing one stay).
    #[tracing::instrument(name = "rapport_postgres.first_load", level = "info", skip_all, fields(tenant = %tenant))]
    pub async fn first_load<I>(&self, tenant: TenantId, rows: I) -> Result<FirstLoad, StoreError>
    where
        I: IntoIterator<Item = (rapport_core::Customer, rapport_core::Stats)>,
        I::IntoIter: Send,
    {
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        let mut rows = rows.into_iter();
        let fast = self
            .here(|inner| async move {
                let loaded = import::first_load(&inner, tenant, &mut rows).await;
                loaded.map(|r| (r, rows))
            })
            .await;
        let out = match fast {
            Ok((Some(report), _)) => Ok(FirstLoad {
                report,
                indexes_built_after: true,
            }),
            Ok((None, mut rows)) => {
                let mut report = ImportReport::default();
                let mut batch = Vec::with_capacity(FIRST_LOAD_BATCH);
                loop {
                    batch.clear();
                    batch.extend(rows.by_ref().take(FIRST_LOAD_BATCH));
                    if batch.is_empty() {
                        break;
                    }
                    report += self.import_customers(tenant, &batch).await?;
                }
                Ok(FirstLoad {
                    report,
                    indexes_built_after: false,
                })
            }
            Err(e) => Err(e),
        };
        rapport_sql::log_import(
            out.as_ref()
                .map(|l| &l.report)
                .map_err(rapport_sql::store_error_kind),
            started,
        );
        out
    }

    /// Imports a batch of plain activities in one transaction, the raw fast path: new keys
    /// are stored and folded into their customers' stats (each such customer's version steps
    /// once); known keys are skipped (so a re-run adds nothing). The rows go in as
    /// [`PostgresStore::import_customers`]' do (see [`ImportPath`]).
    ///
    /// Raw: no line items, no [`ImportPolicy`](rapport_core::ports::ImportPolicy), and a
    /// refund is folded as it comes (its `purchased_at` and `full` as given), **not settled
    /// against its order** (no check of what is left of it). The bulk import port,
    /// [`ActivityImport::import_activities`](rapport_core::ports::ActivityImport::import_activities),
    /// does all of that (through `import_by_apply`), as the other stores' do.
    ///
    /// ```
    /// # use rapport::core::*;
    /// # use rapport_postgres::{PostgresConfig, PostgresStore};
    /// # use futures::executor::block_on;
    /// # let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else { return Ok(()) };
    /// # let config = PostgresConfig::new(url).with_schema(format!("rapport_doc_ia_{}", std::process::id()));
    /// # let store = block_on(PostgresStore::connect(config, chrono::Utc::now()))?;
    /// # let (t, now) = (TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH);
    /// let ann = CustomerId::from_u128(1);
    /// block_on(store.import_customers(t, &[(Customer::new(t, ann, Profile::default(), now), Stats::default())]))?;
    /// let order = Activity::new(ActivityId::from_u128(10), ann, now, Channel::Web,
    ///     IdempotencyKey::new("order-1")?,
    ///     ActivityKind::Purchase {
    ///         order_id: OrderId::new("1")?,
    ///         amount: Money::new(rust_decimal::Decimal::from(25), Currency::EUR),
    ///         margin: None,
    ///     })?;
    /// let r = block_on(store.import_raw_activities(t, vec![order.clone()]))?;
    /// assert_eq!((r.inserted, r.skipped), (1, 0));
    /// let again = block_on(store.import_raw_activities(t, vec![order]))?;
    /// assert_eq!((again.inserted, again.skipped), (0, 1));
    /// let rec = block_on(store.load(t, ann))?.unwrap();
    /// assert_eq!((rec.stats.orders(), rec.customer.version()), (1, 2));
    /// # block_on(store.drop_schema())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an activity of an unknown customer; validation and driver
    /// errors. Nothing of the batch is written on error.
    #[tracing::instrument(
        name = "rapport_postgres.import_raw_activities",
        level = "info",
        skip_all,
        fields(tenant = %tenant, rows = batch.len())
    )]
    pub async fn import_raw_activities(
        &self,
        tenant: TenantId,
        batch: Vec<Activity>,
    ) -> Result<ImportReport, StoreError> {
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        let out = self
            .run(move |inner| async move { import::activities(&inner, tenant, batch).await })
            .await;
        rapport_sql::log_import(out.as_ref().map_err(rapport_sql::store_error_kind), started);
        out
    }

    /// Applies a changeset inside the **host's own transaction**, so the host can commit its
    /// own rows together with rapport's (one commit, or one rollback, for both).
    ///
    /// The semantics are those of [`Store::apply`]: versions checked (`Conflict`), creates
    /// never upsert (`AlreadyExists`), known idempotency keys reported as duplicates with
    /// nothing written, outbox rows written with the rest. The difference is that nothing is
    /// committed here: rapport's writes run under a savepoint in `client`'s transaction; a
    /// refusal (an error, or duplicates) rolls back to that savepoint, so the host's own
    /// earlier writes are untouched and its transaction stays usable; the host's `COMMIT`
    /// or `ROLLBACK` decides whether anything of rapport's is kept.
    ///
    /// The future runs on the caller's runtime (the connection is the caller's), not on the
    /// store's. The store's schema must be in the database `client` is connected to.
    /// `client` is a `tokio_postgres::Transaction` (or a `Client` that has run `BEGIN`); a
    /// host on deadpool-postgres passes `&*tx`, its transaction dereferencing to tokio-postgres'.
    /// Statements are sent as text (prepared by the driver on each call), as the host's
    /// connection carries no statement cache of the store's.
    ///
    /// ```no_run
    /// # async fn host(store: &rapport_postgres::PostgresStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use rapport::core::*;
    /// let (mut client, connection) =
    ///     tokio_postgres::connect("postgres://postgres@127.0.0.1:5432/test", tokio_postgres::NoTls).await?;
    /// tokio::spawn(connection);
    ///
    /// let t = TenantId::from_u128(1);
    /// let ann = Customer::new(t, CustomerId::from_u128(7), Profile::default(), chrono::Utc::now());
    /// let mut cs = Changeset::new();
    /// cs.create(ann, Stats::default());
    ///
    /// let tx = client.transaction().await?;
    /// tx.execute("INSERT INTO shop.signups (customer_id) VALUES ($1)", &[&uuid::Uuid::from_u128(7)]).await?;
    /// match store.apply_in(&tx, t, &cs).await {
    ///     Ok(applied) if !applied.is_duplicate() => tx.commit().await?, // both rows, or neither
    ///     Ok(_duplicate) => tx.rollback().await?,
    ///     Err(e) => {
    ///         tx.rollback().await?;
    ///         return Err(e.into());
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Store::apply`]. `client` must be inside a transaction: on a connection in
    /// autocommit mode the savepoint is refused (a [`StoreError::Backend`] with SQLSTATE
    /// `25P01`) and nothing is written.
    #[tracing::instrument(
        name = "rapport_postgres.apply_in",
        level = "debug",
        skip_all,
        fields(
            tenant = %tenant,
            customers = cs.customers.len(),
            activities = cs.activities.len(),
            messages = cs.outbox.len(),
        )
    )]
    pub async fn apply_in<C>(
        &self,
        client: &C,
        tenant: TenantId,
        cs: &Changeset,
    ) -> Result<Applied, StoreError>
    where
        C: tokio_postgres::GenericClient + Sync,
    {
        let prepared = apply::Prepared::new(tenant, cs, self.inner.sealer.get())?;
        client
            .batch_execute("SAVEPOINT rapport_apply")
            .await
            .map_err(db)?;
        let undo = "ROLLBACK TO SAVEPOINT rapport_apply; RELEASE SAVEPOINT rapport_apply";
        match prepared.write(&conn::Host(client), &self.inner.sql).await {
            Ok(done) if !done.is_duplicate() => {
                client
                    .batch_execute("RELEASE SAVEPOINT rapport_apply")
                    .await
                    .map_err(db)?;
                Ok(done)
            }
            Ok(dup) => {
                client.batch_execute(undo).await.map_err(db)?;
                Ok(dup)
            }
            Err(e) => {
                // The refusal is the answer; a failing rollback leaves the host's transaction
                // aborted, which its own rollback clears.
                let undone = client.batch_execute(undo).await.is_ok();
                match error::as_contact_clash(&e) {
                    Some(contact) if undone => {
                        let claims = claims(cs, contact, self.inner.sealer.get());
                        Err(
                            holder(client, &self.inner.sql, tenant, contact, &claims, true)
                                .await
                                .unwrap_or_else(|e| e),
                        )
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// Runs `f` on the caller's executor, with the store's runtime entered while it is polled
    /// (so the pool can open connections on it): for reads, which then cost what a bare
    /// driver call costs (no task hop). Dropping the future cancels the read.
    fn here<T, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + use<T, F, Fut>
    where
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        Entered {
            handle: self.rt.handle.clone(),
            fut: Box::pin(f(Arc::clone(&self.inner))),
        }
    }

    /// Switches field encryption (crypto-shredding) on: every personal field this store writes
    /// from now on — a customer's profile (names, email, phone, birth date, attributes) and an
    /// activity's personal payload — is sealed with XChaCha20-Poly1305 under the customer's
    /// data key from `keys`, the `email`/`phone` columns hold keyed blind indexes (HMAC-SHA256
    /// under the tenant's index key) instead of the contacts, and `apply` deletes an erased
    /// customer's key after the commit, so its old row versions in the table, the WAL, base
    /// backups and replicas no longer open. Segment queries on non-personal fields still run
    /// in SQL; `email_domain` is decided on the opened records. Set it once, right after
    /// connecting, with the same key store every time.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use rapport_postgres::{PostgresConfig, PostgresStore};
    /// let keys = Arc::new(rapport_keys::FileKeyStore::open("/var/lib/rapport/keys")?);
    /// let config = PostgresConfig::new("postgres://localhost/crm");
    /// let store = PostgresStore::connect(config, chrono::Utc::now()).await?.with_keystore(keys);
    /// assert!(store.is_encrypted());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_keystore(self, keys: Arc<dyn rapport_core::ports::KeyStore>) -> Self {
        let _ = self.inner.sealer.set(rapport_sql::seal::Sealer::new(keys));
        self
    }

    /// Whether field encryption is on ([`Self::with_keystore`]).
    #[must_use]
    pub fn is_encrypted(&self) -> bool {
        self.inner.sealer.get().is_some()
    }

    /// Deletes the data keys of the customers `cs` erased (crypto-shredding). `apply` calls it
    /// after its commit; a host committing through [`Self::apply_in`] calls it after its own
    /// commit. Without encryption it does nothing.
    ///
    /// ```no_run
    /// # async fn host(store: &rapport_postgres::PostgresStore, t: rapport::core::TenantId, cs: &rapport::core::Changeset) -> Result<(), rapport::core::StoreError> {
    /// // After the host's transaction holding `store.apply_in(&tx, t, cs)` committed:
    /// store.delete_erased_keys(t, cs).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the key store fails
    /// ([`rapport_sql::shred::KeysNotDeleted`]): the erasure stands (the rows are stripped
    /// tombstones), but the keys left behind still open the older copies of the rows (WAL,
    /// backups, replicas), so it is not done. The deletion is owed: erasing the customer again
    /// (`ErasureStore::erasure`, which `Service::erase` reads for an erased customer) retries
    /// it, and succeeds once the keys are gone.
    pub async fn delete_erased_keys(
        &self,
        tenant: TenantId,
        cs: &Changeset,
    ) -> Result<(), StoreError> {
        self.shred(tenant, cs).await
    }

    async fn shred(&self, tenant: TenantId, cs: &Changeset) -> Result<(), StoreError> {
        let Some(sealer) = self.inner.sealer.get() else {
            return Ok(());
        };
        let erased: Vec<CustomerId> = cs
            .customers
            .iter()
            .filter(|w| w.customer().stage() == rapport_core::Stage::Erased)
            .map(|w| w.customer().id())
            .collect();
        if erased.is_empty() {
            return Ok(());
        }
        let keys = sealer.keys().clone();
        let inner = Arc::clone(&self.inner);
        // The key store's file IO runs on the store's runtime's blocking pool. A failed
        // deletion is owed until the erasure is asked for again.
        let done = self
            .rt
            .handle
            .spawn_blocking({
                let (keys, erased) = (keys.clone(), erased.clone());
                move || inner.owed_keys.delete(&keys, tenant, &erased)
            })
            .await;
        match done {
            Ok(r) => Ok(r?),
            Err(_) => Err(self
                .inner
                .owed_keys
                .owe(&keys, tenant, &erased, "task")
                .into()),
        }
    }

    /// Retries the key deletions owed by earlier erasures (see [`Self::delete_erased_keys`]);
    /// an error while one naming `customer` of `tenant` is still owed.
    async fn retry_owed_keys(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(), StoreError> {
        if self.inner.owed_keys.is_empty() {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        self.rt
            .handle
            .spawn_blocking(move || inner.owed_keys.retry(tenant, customer))
            .await
            .map_err(|e| StoreError::unavailable(format!("key deletion task failed: {e}")))?
            .map_err(StoreError::from)
    }

    /// Deletes again the data keys of the erased customers `erased` (an erased customer and
    /// the tombstones erased with it): a deletion that failed before the process stopped is
    /// not owed in memory any more, so `ErasureStore::erasure` of an erased customer deletes
    /// its keys again ([`rapport_sql::shred::delete_again`]). Without encryption it does
    /// nothing.
    async fn delete_again(
        &self,
        tenant: TenantId,
        erased: Vec<CustomerId>,
    ) -> Result<(), StoreError> {
        let Some(sealer) = self.inner.sealer.get() else {
            return Ok(());
        };
        let keys = sealer.keys().clone();
        self.rt
            .handle
            .spawn_blocking(move || rapport_sql::shred::delete_again(&keys, tenant, &erased))
            .await
            .map_err(|e| StoreError::unavailable(format!("key deletion task failed: {e}")))?
            .map_err(StoreError::from)
    }

    /// Runs `f` on the store's runtime and awaits it from whatever executor polls the caller.
    fn run<T, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + use<T, F, Fut>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.rt.handle.spawn(f(Arc::clone(&self.inner)));
        async move {
            task.await
                .map_err(|e| StoreError::unavailable(format!("postgres task failed: {e}")))?
        }
    }
}

/// The batch size of [`PostgresStore::first_load`] when it takes the batch way.
const FIRST_LOAD_BATCH: usize = 10_000;

/// What [`PostgresStore::first_load`] did.
///
/// ```
/// fn fast(l: &rapport_postgres::FirstLoad) -> bool { l.indexes_built_after }
/// # let _ = fast;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FirstLoad {
    /// The counts, as [`PostgresStore::import_customers`] reports them.
    pub report: ImportReport,
    /// True when the rows went into the empty table in one transaction with the contact
    /// indexes built after them; false when they took the batch way.
    pub indexes_built_after: bool,
}

/// How many group-commit lanes the store runs: one. Since plain groups send their `COMMIT`
/// in the same pipeline, one lane with [`group::IN_FLIGHT`] groups in flight makes larger
/// groups (fewer WAL flushes) than two lanes did: 8 callers, one lane 0.99–1.45× the raw
/// single-row commits, two lanes 0.66–1.24× (docs/performance.md, stop 20). The lane
/// machinery stays: routing by customer keeps working for any number.
fn lanes() -> usize {
    1
}

/// A future polled with a runtime entered.
struct Entered<F> {
    handle: Handle,
    fut: std::pin::Pin<Box<F>>,
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.handle.enter();
        this.fut.as_mut().poll(cx)
    }
}

/// The contacts of `kind` the live customers of `cs` claim (as their columns hold them):
/// who may have been refused.
fn claims(
    cs: &Changeset,
    kind: rapport_core::ContactKind,
    sealer: Option<&rapport_sql::seal::Sealer>,
) -> Vec<(CustomerId, String)> {
    cs.customers
        .iter()
        .filter_map(|w| {
            let c = w.customer();
            let (email, phone) = rapport_sql::seal::contact_columns(sealer, c).ok()?;
            let value = if kind == rapport_core::ContactKind::Email {
                email
            } else {
                phone
            };
            value.map(|v| (c.id(), v))
        })
        .collect()
}

/// After a unique index on a contact column refused a changeset (rolled back): the
/// `StoreError::ContactTaken` naming the live customer that holds one of `claims`. When the
/// holder has released it since, the write may succeed now: `Unavailable` (retryable).
/// `in_transaction`: the lookup runs in the host's transaction (the tenant is set for it
/// alone), else on a pooled session (set for the session, as every read does).
async fn holder<C: tokio_postgres::GenericClient + Sync>(
    client: &C,
    sql: &Sql,
    tenant: TenantId,
    contact: rapport_core::ContactKind,
    claims: &[(CustomerId, String)],
    in_transaction: bool,
) -> Result<StoreError, StoreError> {
    // Row-level security shows the tenant's rows only once the session names it.
    let set = if in_transaction {
        sql::SET_TENANT_LOCAL
    } else {
        sql::SET_TENANT
    };
    client
        .query(set, &[&tenant.to_string()])
        .await
        .map_err(db)?;
    let text = if contact == rapport_core::ContactKind::Email {
        &sql.holder_email
    } else {
        &sql.holder_phone
    };
    let stmt = client.prepare(text).await.map_err(db)?;
    for (customer, value) in claims {
        let row = client
            .query_opt(&stmt, &[tenant.as_uuid(), value, customer.as_uuid()])
            .await
            .map_err(db)?;
        if let Some(row) = row {
            return Ok(StoreError::ContactTaken {
                customer: *customer,
                contact,
                existing: read::customer_id(&row)?,
            });
        }
    }
    Ok(StoreError::unavailable(
        "postgres: a contact the changeset claims was held by a writer that has released it since; retry",
    ))
}

impl rapport_core::ports::MergeStore for PostgresStore {
    async fn merge_record(
        &self,
        tenant: TenantId,
        id: rapport_core::MergeId,
    ) -> Result<Option<rapport_core::MergeRecord>, StoreError> {
        self.here(move |inner| async move {
            let row = inner
                .row(
                    &tenant.to_string(),
                    &inner.sql.merges.record,
                    &[tenant.as_uuid(), id.as_uuid()],
                )
                .await?;
            row.as_ref()
                .map(|r| merge::decode(r, tenant, inner.sealer.get()))
                .transpose()
        })
        .await
    }

    async fn merges_of(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<rapport_core::MergeRecord>, StoreError> {
        self.here(move |inner| async move {
            let rows = inner
                .rows(
                    &tenant.to_string(),
                    &inner.sql.merges.records_of,
                    &[tenant.as_uuid(), customer.as_uuid()],
                )
                .await?;
            rows.iter()
                .map(|r| merge::decode(r, tenant, inner.sealer.get()))
                .collect()
        })
        .await
    }

    async fn distinct_pairs(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<rapport_core::DistinctPair>, StoreError> {
        self.here(move |inner| async move {
            let rows = inner
                .rows(
                    &tenant.to_string(),
                    &inner.sql.merges.distinct_pairs,
                    &[tenant.as_uuid()],
                )
                .await?;
            rows.iter().map(merge::decode_pair).collect()
        })
        .await
    }

    async fn belongings(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<rapport_core::Belongings, StoreError> {
        use rapport_core::ports::{AccountStore, CaseStore, ConsentStore};
        let consents = self.consents(tenant, customer).await?;
        let mut cases = Vec::new();
        let mut query = rapport_core::CaseQuery::all(1_000).of_customer(customer);
        loop {
            let page = self.cases(tenant, query).await?;
            let Some(last) = page.last() else { break };
            query.after = Some(last.id());
            let full = page.len() == 1_000;
            cases.extend(page);
            if !full {
                break;
            }
        }
        let links = self.customer_links(tenant, customer).await?;
        let mut accounts = Vec::with_capacity(links.len());
        for l in &links {
            if let Some(a) = self.load_account(tenant, l.account).await? {
                accounts.push(a);
            }
        }
        Ok(rapport_core::Belongings {
            lines: None,
            consents,
            cases,
            links,
            accounts,
        })
    }
}

impl Store for PostgresStore {
    async fn purchase_lines(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<Vec<rapport_core::LineItems>>, StoreError> {
        Ok(Some(
            rapport_core::LineItemStore::customer_line_items(self, tenant, customer).await?,
        ))
    }

    /// One statement over `account_links` for all the customers, as the tenant.
    async fn account_roles(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<rapport_core::AccountRoleSet>, StoreError> {
        self.roles_of(tenant, customers).await
    }

    async fn clv_model(
        &self,
        tenant: TenantId,
    ) -> Result<Option<rapport_core::FittedClv>, StoreError> {
        self.here(move |inner| async move {
            let table = format!("\"{}\".clv_models", inner.schema);
            let row = inner
                .row(
                    &tenant.to_string(),
                    &rapport_sql::clv_model::load_sql(&table, "$1"),
                    &[tenant.as_uuid()],
                )
                .await?;
            row.map(|r| {
                let json: String = read::col(&r, "clv_models", 0)?;
                rapport_sql::clv_model::decode(&json).map_err(error::corrupt_row)
            })
            .transpose()
        })
        .await
    }

    async fn save_clv_model(
        &self,
        tenant: TenantId,
        model: &rapport_core::FittedClv,
    ) -> Result<(), StoreError> {
        model.validate()?;
        let (at, json) = rapport_sql::clv_model::encode(model).map_err(error::corrupt_row)?;
        self.run(move |inner| async move {
            let mut client = inner.pool.get().await.map_err(pool)?;
            let table = format!("\"{}\".clv_models", inner.schema);
            let tx = client.transaction().await.map_err(db)?;
            tx.execute(crate::sql::SET_TENANT_LOCAL, &[&tenant.to_string()])
                .await
                .map_err(db)?;
            tx.execute(
                rapport_sql::clv_model::save_sql(&table, ["$1", "$2", "$3"]).as_str(),
                &[tenant.as_uuid(), &at, &json],
            )
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)
        })
        .await
    }

    async fn load(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.here(move |inner| async move {
            let t = *tenant.as_uuid();
            let row = inner
                .row(&tenant.to_string(), &inner.sql.load, &[&t, id.as_uuid()])
                .await?;
            row.as_ref()
                .map(|r| read::record(r, inner.sealer.get()))
                .transpose()
        })
        .await
    }

    async fn find_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let email = matches!(key, ContactKey::Email(_));
        let value = rapport_sql::seal::lookup(self.inner.sealer.get(), tenant, key)
            .map_err(error::seal_failure)?;
        self.here(move |inner| async move {
            let sql = if email {
                &inner.sql.find_by_email
            } else {
                &inner.sql.find_by_phone
            };
            let rows = inner
                .rows(&tenant.to_string(), sql, &[tenant.as_uuid(), &value])
                .await?;
            rows.iter().map(read::customer_id).collect()
        })
        .await
    }

    async fn scan(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.here(move |inner| async move {
            let limit = i64::from(page.limit);
            let named = tenant.to_string();
            let rows = match page.after {
                None => {
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
                        [tenant.as_uuid(), &limit];
                    inner.rows(&named, &inner.sql.scan_first, &params).await?
                }
                Some(a) => {
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                        [tenant.as_uuid(), a.as_uuid(), &limit];
                    inner.rows(&named, &inner.sql.scan_after, &params).await?
                }
            };
            rows.iter()
                .map(|r| read::record(r, inner.sealer.get()))
                .collect()
        })
        .await
    }

    /// The segment compiled to a parameterised SQL prefilter over the projection columns
    /// (contacts, orders, purchase days, revenue, tier, stage, purchase and registration days)
    /// and the tag map, read in id-ordered batches; every candidate is re-checked with
    /// `Segment::matches`: the same answer as the default `query`, without decoding the rows
    /// the prefilter rules out.
    async fn query(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let blind = self.inner.sealer.get().is_some();
        let dialect = segment_sql::Postgres {
            schema: &self.inner.schema,
        };
        let filter = match rapport_sql::segment::prefilter_with(&dialect, segment, now, blind) {
            rapport_sql::segment::Cond::False => return Ok(Vec::new()),
            other => other.into_sql(&dialect),
        };
        // The customer's account roles and line lists, for the re-check, when the segment
        // tests them (roles in column 3, lists in column 4).
        let roles = segment.uses_account_roles();
        let items = segment.uses_line_items();
        let roles_sql = if roles {
            dialect.account_roles_sql()
        } else {
            "NULL::text".to_owned()
        };
        let items_sql = match rapport_sql::Dialect::line_items(&dialect) {
            Some(li) if items => li.lists_of_row(),
            _ => "NULL::text".to_owned(),
        };
        let sql = format!(
            "SELECT customer_json, stats_json, customer_id, {roles_sql}, {items_sql} FROM \"{}\".customers
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR customer_id > $2) AND {}
             ORDER BY customer_id LIMIT $3",
            self.inner.schema,
            filter.render(&dialect, 4)
        );
        let segment = segment.clone();
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            // Named once for the batches below, pipelined with the prepare.
            let stmt = read::as_tenant(
                &inner.named,
                &client,
                &tenant.to_string(),
                client.prepare(&sql),
            )
            .await?;
            let want = page.limit as usize;
            let batch = i64::from(page.limit.clamp(256, 4096));
            let mut after = page.after.map(|a| *a.as_uuid());
            let mut out = Vec::new();
            loop {
                let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    vec![tenant.as_uuid(), &after, &batch];
                params.extend(filter.params().iter().map(segment_sql::param));
                let rows = client.query(&stmt, &params).await.map_err(db)?;
                for row in &rows {
                    let r = read::record(row, inner.sealer.get())?;
                    let held = if roles {
                        rapport_sql::segment::account_roles(
                            read::col::<Option<String>>(row, "customers", 3)?.as_deref(),
                        )
                    } else {
                        rapport_core::AccountRoleSet::default()
                    };
                    let bought = if items {
                        rapport_sql::segment::purchase_summary(
                            read::col::<Option<String>>(row, "customers", 4)?.as_deref(),
                            r.customer.id(),
                        )
                        .map_err(error::corrupt_row)?
                    } else {
                        rapport_core::segment::PurchaseSummary::default()
                    };
                    let ctx = SegmentContext::new(&r.customer, &r.stats, now)
                        .with_account_roles(held)
                        .with_purchases(&bought);
                    if segment.matches(&ctx) {
                        out.push(r);
                        if out.len() == want {
                            return Ok(out);
                        }
                    }
                }
                if rows.len() < usize::try_from(batch).unwrap_or(usize::MAX) {
                    return Ok(out);
                }
                after = rows
                    .last()
                    .map(|row| read::col::<uuid::Uuid>(row, "customers", 2))
                    .transpose()?;
            }
        })
        .await
    }

    async fn activities(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        if range.to.is_some_and(read::before_all) {
            return Ok(Vec::new());
        }
        let from = range.from.filter(|f| !read::before_all(*f));
        self.here(move |inner| async move {
            let rows = inner
                .rows(
                    &tenant.to_string(),
                    &inner.sql.activities,
                    &[tenant.as_uuid(), id.as_uuid(), &from, &range.to],
                )
                .await?;
            read::activities(&rows, tenant, inner.sealer.get())
        })
        .await
    }

    #[tracing::instrument(
        name = "rapport_postgres.apply",
        level = "debug",
        skip_all,
        fields(
            tenant = %tenant,
            customers = cs.customers.len(),
            activities = cs.activities.len(),
            messages = cs.outbox.len(),
        )
    )]
    async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        let started = tracing::enabled!(tracing::Level::DEBUG).then(std::time::Instant::now);
        let out = match apply::Prepared::new(tenant, cs, self.inner.sealer.get()) {
            Ok(prepared) => self.groups.apply(prepared).await,
            Err(e) => Err(e),
        };
        // Only a changeset that stayed in its group's commit shreds; a key deletion that
        // fails then answers the erasure with the retryable error.
        let out = match out {
            Ok(applied) => self.shred(tenant, cs).await.map(|()| applied),
            e => e,
        };
        let out = match out {
            Err(e) => match error::as_contact_clash(&e) {
                Some(contact) => {
                    let claims = claims(cs, contact, self.inner.sealer.get());
                    Err(self
                        .here(move |inner| async move {
                            let client = inner.pool.get().await.map_err(pool)?;
                            // `holder` names the tenant for the session itself.
                            inner.named.forget(&client);
                            holder(&**client, &inner.sql, tenant, contact, &claims, false).await
                        })
                        .await
                        .unwrap_or_else(|e| e))
                }
                None => Err(e),
            },
            ok => ok,
        };
        rapport_sql::log_apply(&out, started);
        out
    }
}
impl Outbox for PostgresStore {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let until = chrono::Duration::from_std(lease)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.run(move |inner| async move {
            // The claim spans tenants: `*` shows every tenant's outbox rows (only those).
            let rows = inner
                .rows(
                    sql::ALL_TENANTS,
                    &inner.sql.claim,
                    &[&now, &i64::from(limit), &until],
                )
                .await?;
            let mut out = rows
                .iter()
                .map(|r| {
                    let seq: i64 = read::col(r, "outbox", 0)?;
                    let attempts: i32 = read::col(r, "outbox", 1)?;
                    let json: &str = read::col(r, "outbox", 2)?;
                    let mut m: OutboxMessage =
                        serde_json::from_str(json).map_err(|e| corrupt("outbox", e))?;
                    m.attempts = u32::try_from(attempts).unwrap_or(0);
                    Ok((seq, m))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.sort_by_key(|(seq, _)| *seq);
            Ok(out.into_iter().map(|(_, m)| m).collect())
        })
        .await
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|m| *m.as_uuid()).collect();
        self.run(move |inner| async move {
            // The port names messages by id alone (ids are unique across tenants).
            inner
                .execute(sql::ALL_TENANTS, &inner.sql.ack, &[&ids])
                .await?;
            Ok(())
        })
        .await
    }
    /// One statement by primary key `(tenant_id, message_id)`: a message id another tenant
    /// also used is never touched.
    async fn ack_outbox_for(&self, messages: &[(TenantId, MessageId)]) -> Result<(), StoreError> {
        let tenants: Vec<Uuid> = messages.iter().map(|(t, _)| *t.as_uuid()).collect();
        let ids: Vec<Uuid> = messages.iter().map(|(_, m)| *m.as_uuid()).collect();
        self.run(move |inner| async move {
            inner
                .execute(sql::ALL_TENANTS, &inner.sql.ack_keyed, &[&tenants, &ids])
                .await?;
            Ok(())
        })
        .await
    }
    /// By primary key, with the row-level security policies showing the message's tenant
    /// only.
    async fn retry_outbox_for(
        &self,
        tenant: TenantId,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.run(move |inner| async move {
            inner
                .execute(
                    &tenant.to_string(),
                    &inner.sql.retry_keyed,
                    &[tenant.as_uuid(), id.as_uuid(), &at],
                )
                .await?;
            Ok(())
        })
        .await
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.run(move |inner| async move {
            inner
                .execute(sql::ALL_TENANTS, &inner.sql.retry, &[id.as_uuid(), &at])
                .await?;
            Ok(())
        })
        .await
    }
}

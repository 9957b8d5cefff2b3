//! The SQLite store of **rapport**: the embedded default.
//!
//! - WAL journal, `synchronous=NORMAL` by default (`FULL` selectable), `busy_timeout`,
//!   foreign keys on; every write transaction is `BEGIN IMMEDIATE`.
//! - One **writer thread** owns the writing connection; `apply` calls from any thread or task
//!   are queued to it and **group-committed** (one transaction, each changeset under its own
//!   savepoint so a conflicting one fails alone). Async hosts never block on a write and the
//!   blocking service needs no runtime.
//! - Reads run on a **bounded pool of reader threads** ([`SqliteConfig::readers`], each owning
//!   one read-only connection) fed by a bounded queue; async callers await the result on a
//!   oneshot channel, so a read never blocks the caller's executor, and no runtime is needed.
//! - Lock contention (`SQLITE_BUSY`/`SQLITE_LOCKED`) is retried on the store's own threads with
//!   an exponential back-off (1 ms doubling to 64 ms) within `busy_timeout`.
//! - Bulk imports: one transaction per batch, streamed to the writer in chunks so serialising
//!   overlaps inserting; new databases use 8 KiB pages.
//! - Schema as numbered migrations ([`MIGRATIONS`]), refusing a database newer than the code.
#![forbid(unsafe_code)]

mod account;
mod apply;
mod automation;
mod case;
mod codec;
mod config;
mod consent;
mod error;
mod import;
mod line_items;
mod merge;
mod migrate;
mod outbox;
mod pool;
mod read;
mod segment_sql;
mod writer;

use std::path::{Path, PathBuf};

use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::{
    Activity, Applied, Changeset, ContactKey, Customer, CustomerId, FittedClv, MessageId, Outbox,
    OutboxMessage, Page, Record, Segment, Stats, Store, StoreError, TenantId, TimeRange,
};
use rusqlite::{Connection, OptionalExtension};

pub use apply::{ApplyError, Outcome};
pub use config::{SqliteConfig, Synchronous};
pub use error::SqliteError;
pub use import::ImportReport;
pub use migrate::{MIGRATIONS, Migration, latest_version};

use pool::ReadPool;
use writer::Writer;

/// A rapport store in one SQLite file.
///
/// ```
/// use rapport::core::*;
/// use rapport_sqlite::{SqliteConfig, SqliteStore};
///
/// let dir = tempfile::tempdir()?; // removed when dropped
/// let db = dir.path().join("crm.db");
/// let t = TenantId::from_u128(1);
/// let svc = rapport::blocking::Service::new(SqliteStore::open(&db, SqliteConfig::default(), chrono::Utc::now())?);
/// let ann = svc.register(t, Profile::default())?.customer;
/// drop(svc); // closes the store
///
/// // The customer is still there after reopening.
/// let svc = rapport::blocking::Service::new(SqliteStore::open(&db, SqliteConfig::default(), chrono::Utc::now())?);
/// assert_eq!(svc.customer(t, ann.id())?.customer, ann);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: ReadPool,
    /// Field encryption (crypto-shredding), when a key store was given.
    sealer: Option<rapport_sql::seal::Sealer>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("encrypted", &self.sealer.is_some())
            .finish_non_exhaustive()
    }
}

/// Page size of the databases this crate creates (an existing database keeps its own).
const PAGE_SIZE: i64 = 8192;

fn setup(conn: &Connection, config: &SqliteConfig) -> Result<(), SqliteError> {
    conn.busy_timeout(config.busy_timeout)?;
    // Only takes effect on a new, empty database (before WAL mode writes its header): 8 KiB
    // pages hold a customer row about 15 times over, so imports split and copy fewer pages.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match config.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    // 64 MiB of page cache: bulk imports touch two indexes besides the table.
    conn.pragma_update(None, "cache_size", -65536)?;
    // Statement and savepoint journals in memory: a changeset that touches more than 64 KiB
    // of pages (a merge: two customers, moved activities and their index entries, a merge
    // record, outbox rows) would otherwise spill its savepoint journal into a temporary file
    // created, written and deleted for every changeset.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies the missing migrations and
    /// starts the writer thread. `now` stamps the migrations it applies.
    ///
    /// ```
    /// use rapport_sqlite::{SqliteConfig, SqliteStore, Synchronous};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("crm.db");
    /// let config = SqliteConfig { synchronous: Synchronous::Full, ..SqliteConfig::default() };
    /// let store = SqliteStore::open(&path, config, chrono::Utc::now())?;
    /// assert_eq!(store.path(), path);
    /// assert!(path.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SqliteError::SchemaTooNew`] for a database written by a newer rapport-sqlite, or a
    /// driver error.
    pub fn open(
        path: impl AsRef<Path>,
        config: SqliteConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, SqliteError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path)?;
        setup(&conn, &config)?;
        migrate::migrate(&mut conn, codec::time_to_us(now))?;
        let writer = Writer::spawn(conn, config.busy_timeout)?;
        Ok(Self {
            readers: ReadPool::new(&path, &config)?,
            path,
            writer,
            sealer: None,
        })
    }

    /// Switches field encryption (crypto-shredding) on: every personal field this store writes
    /// from now on — a customer's profile (names, email, phone, birth date, attributes) and an
    /// activity's personal payload — is sealed with XChaCha20-Poly1305 under the customer's
    /// data key from `keys`, the `email`/`phone` columns hold keyed blind indexes (HMAC-SHA256
    /// under the tenant's index key) instead of the contacts, and an erasure deletes the
    /// customer's key after its commit (instead of checkpointing the WAL: the old bytes no
    /// longer open). Segment queries on non-personal fields still run in SQL; `email_domain`
    /// is decided on the opened records. Use the same key store every time the database is
    /// opened; rows written before stay readable (plain).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// use rapport::core::*;
    /// use futures::executor::block_on;
    /// let dir = tempfile::tempdir()?;
    /// let keys = Arc::new(rapport_keys::MemoryKeyStore::new());
    /// let now = chrono::DateTime::UNIX_EPOCH;
    /// let store = SqliteStore::open(dir.path().join("crm.db"), SqliteConfig::default(), now)?
    ///     .with_keystore(keys.clone());
    /// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
    /// let mut c = Customer::new(t, id, Profile::default(), now);
    /// c.profile.email = Some(Pii::new(Email::parse("ann@example.com")?));
    /// block_on(store.import_customers(t, &[(c.clone(), Stats::default())]))?;
    /// let email = ContactKey::Email(Email::parse("ann@example.com")?);
    /// assert_eq!(block_on(store.find_by_contact(t, &email))?, [id]);
    /// assert_eq!(block_on(store.load(t, id))?.unwrap().customer, c);
    /// // Without its key the row opens to an empty profile.
    /// rapport::core::ports::KeyStore::delete_data_key(&*keys, t, id)?;
    /// assert_eq!(block_on(store.load(t, id))?.unwrap().customer.profile, Profile::default());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_keystore(
        mut self,
        keys: std::sync::Arc<dyn rapport_core::ports::KeyStore>,
    ) -> Self {
        self.sealer = Some(rapport_sql::seal::Sealer::new(keys));
        self
    }

    /// Whether field encryption is on ([`Self::with_keystore`]).
    ///
    /// ```
    /// # use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("a.db"), SqliteConfig::default(), chrono::Utc::now())?;
    /// assert!(!store.is_encrypted());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_encrypted(&self) -> bool {
        self.sealer.is_some()
    }

    /// The database file.
    ///
    /// ```
    /// # use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// let dir = tempfile::tempdir()?;
    /// let store = SqliteStore::open(dir.path().join("a.db"), SqliteConfig::default(), chrono::Utc::now())?;
    /// assert_eq!(store.path(), dir.path().join("a.db"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Imports a batch of customers in one transaction; ids that exist are skipped (so a
    /// re-run adds nothing). The batch is serialised in chunks on the caller's thread while the
    /// writer thread inserts the chunks before it (all in the batch's one transaction).
    ///
    /// ```
    /// # use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// # use rapport::core::*;
    /// # use futures::executor::block_on;
    /// # let dir = tempfile::tempdir()?;
    /// # let now = chrono::DateTime::UNIX_EPOCH;
    /// # let store = SqliteStore::open(dir.path().join("crm.db"), SqliteConfig::default(), now)?;
    /// # let t = TenantId::from_u128(1);
    /// let customers: Vec<_> = (1..=3)
    ///     .map(|i| (Customer::new(t, CustomerId::from_u128(i), Profile::default(), now), Stats::default()))
    ///     .collect();
    /// let first = block_on(store.import_customers(t, &customers))?;
    /// assert_eq!((first.rows, first.inserted, first.skipped), (3, 3, 0));
    /// // A re-run adds nothing.
    /// let again = block_on(store.import_customers(t, &customers))?;
    /// assert_eq!((again.inserted, again.skipped), (0, 3));
    /// // Another tenant's customer fails the whole batch.
    /// assert!(matches!(
    ///     block_on(store.import_customers(TenantId::from_u128(2), &customers)),
    ///     Err(rapport_sqlite::ApplyError::Invalid(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ApplyError::Invalid`] for another tenant's customer; driver errors. Nothing of the
    /// batch is written on error.
    #[tracing::instrument(
        name = "rapport_sqlite.import_customers",
        level = "info",
        skip_all,
        fields(tenant = %tenant, rows = batch.len())
    )]
    pub async fn import_customers(
        &self,
        tenant: TenantId,
        batch: &[(Customer, Stats)],
    ) -> Result<ImportReport, ApplyError> {
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        let out = self.import_customers_batch(tenant, batch).await;
        rapport_sql::log_import(out.as_ref().map_err(import_error_kind), started);
        out
    }

    /// [`Self::import_customers`], without its log.
    async fn import_customers_batch(
        &self,
        tenant: TenantId,
        batch: &[(Customer, Stats)],
    ) -> Result<ImportReport, ApplyError> {
        import::check_tenant(tenant, batch)?;
        if batch.len() <= import::CHUNK_ROWS {
            // One chunk: nothing to overlap.
            let chunk = import::prepare_chunk(batch, self.sealer.as_ref())?;
            let sealer = self.sealer.clone();
            return self
                .writer
                .exec_apply(move |c| {
                    let (feed, rx) = std::sync::mpsc::channel();
                    let _ = feed.send(import::Feed::Rows(chunk));
                    let _ = feed.send(import::Feed::Commit);
                    import::customers(c, tenant, &rx, sealer.as_ref())
                })
                .await;
        }
        let (feed, rx) = std::sync::mpsc::channel();
        let sealer = self.sealer.clone();
        let done = self
            .writer
            .start_apply(move |c| import::customers(c, tenant, &rx, sealer.as_ref()))?;
        // Dropping `feed` unfinished (on error) makes the writer roll the batch back.
        import::feed_customers(&feed, batch, self.sealer.as_ref())?;
        drop(feed);
        done.await.map_err(|_| SqliteError::WriterGone)?
    }

    /// Activities with their line items in one writer job and one transaction
    /// (`import::activities`), with the import log.
    pub(crate) async fn import_lined(
        &self,
        tenant: TenantId,
        batch: Vec<rapport_core::ports::ImportActivity>,
        policy: &rapport_core::ports::ImportPolicy,
    ) -> Result<rapport_core::ports::ActivityImportReport, ApplyError> {
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        let out = self
            .writer
            .exec_apply({
                let sealer = self.sealer.clone();
                let policy = policy.clone();
                move |c| import::activities(c, tenant, batch, &policy, sealer.as_ref())
            })
            .await;
        let logged = out.as_ref().map(|r| ImportReport {
            rows: r.rows,
            inserted: r.inserted,
            skipped: r.skipped,
            contact_taken: 0,
        });
        rapport_sql::log_import(logged.as_ref().map_err(|e| import_error_kind(e)), started);
        out
    }

    /// Imports customers from an iterator in batches of `batch_size`, calling `progress` with
    /// the running totals after each batch. The next batch is serialised while the writer
    /// thread stores the previous one. Idempotent: ids that exist are skipped.
    ///
    /// ```
    /// # use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// # use rapport::core::*;
    /// # use futures::executor::block_on;
    /// # let dir = tempfile::tempdir()?;
    /// # let now = chrono::DateTime::UNIX_EPOCH;
    /// # let store = SqliteStore::open(dir.path().join("crm.db"), SqliteConfig::default(), now)?;
    /// # let t = TenantId::from_u128(1);
    /// let customers = (1..=5)
    ///     .map(|i| (Customer::new(t, CustomerId::from_u128(i), Profile::default(), now), Stats::default()));
    /// let mut seen = Vec::new();
    /// let total = store.import_customers_iter(t, customers, 2, |r| seen.push(r.rows))?;
    /// assert_eq!((total.rows, total.inserted), (5, 5));
    /// assert_eq!(seen, [2, 4, 5]); // running totals after each batch
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The first batch error; the batches before it stay committed (re-running the import
    /// skips them).
    pub fn import_customers_iter(
        &self,
        tenant: TenantId,
        customers: impl IntoIterator<Item = (Customer, Stats)>,
        batch_size: usize,
        mut progress: impl FnMut(ImportReport),
    ) -> Result<ImportReport, ApplyError> {
        let _span = tracing::info_span!("rapport_sqlite.import_customers_iter", tenant = %tenant, batch_size)
            .entered();
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        let out = self.import_customers_batches(tenant, customers, batch_size, &mut progress);
        rapport_sql::log_import(out.as_ref().map_err(import_error_kind), started);
        out
    }

    /// [`Self::import_customers_iter`], without its log.
    fn import_customers_batches(
        &self,
        tenant: TenantId,
        customers: impl IntoIterator<Item = (Customer, Stats)>,
        batch_size: usize,
        progress: &mut impl FnMut(ImportReport),
    ) -> Result<ImportReport, ApplyError> {
        let mut total = ImportReport::default();
        let mut in_flight: Option<std::sync::mpsc::Receiver<Result<ImportReport, ApplyError>>> =
            None;
        let mut iter = customers.into_iter().peekable();
        let mut batch = Vec::with_capacity(batch_size.max(1));
        while iter.peek().is_some() || in_flight.is_some() {
            batch.clear();
            batch.extend(iter.by_ref().take(batch_size.max(1)));
            let next = if batch.is_empty() {
                None
            } else {
                // The writer starts this batch once the previous one is committed; its chunks
                // wait in the channel meanwhile.
                import::check_tenant(tenant, &batch)?;
                let (feed, rx) = std::sync::mpsc::channel();
                let sealer = self.sealer.clone();
                let done = self
                    .writer
                    .submit(move |c| import::customers(c, tenant, &rx, sealer.as_ref()))?;
                import::feed_customers(&feed, &batch, self.sealer.as_ref())?;
                Some(done)
            };
            if let Some(rx) = in_flight.take() {
                let r = rx.recv().map_err(|_| SqliteError::WriterGone)??;
                tracing::debug!(rows = r.rows, inserted = r.inserted, "import batch");
                total += r;
                progress(total);
            }
            in_flight = next;
        }
        Ok(total)
    }
}

fn import_error_kind(e: &ApplyError) -> &'static str {
    match e {
        ApplyError::AlreadyExists(_) => "already_exists",
        ApplyError::Conflict { .. } => "conflict",
        ApplyError::NotFound(_) => "not_found",
        ApplyError::ContactTaken { .. } => "contact_taken",
        ApplyError::Invalid(_) => "invalid",
        ApplyError::Sqlite(_) => "backend",
        ApplyError::CaseConflict { .. } => "conflict",
        ApplyError::CaseNotFound(_) => "not_found",
        ApplyError::AccountConflict { .. } => "conflict",
        ApplyError::AccountNotFound(_) => "not_found",
    }
}

pub(crate) fn from_apply(e: ApplyError) -> StoreError {
    match e {
        ApplyError::AlreadyExists(customer) => StoreError::AlreadyExists { customer },
        ApplyError::Conflict {
            customer,
            expected,
            actual,
        } => StoreError::Conflict {
            customer,
            expected,
            actual,
        },
        ApplyError::NotFound(id) => StoreError::NotFound {
            entity: rapport_core::ports::Entity::Customer(id),
        },
        ApplyError::ContactTaken {
            customer,
            contact,
            existing,
        } => StoreError::ContactTaken {
            customer,
            contact,
            existing,
        },
        ApplyError::Invalid(d) => StoreError::Invalid(d),
        ApplyError::Sqlite(e) => e.into(),
        ApplyError::CaseConflict {
            case,
            expected,
            actual,
        } => StoreError::CaseConflict {
            case,
            expected,
            actual,
        },
        ApplyError::CaseNotFound(id) => StoreError::NotFound {
            entity: rapport_core::ports::Entity::Case(id),
        },
        ApplyError::AccountConflict {
            account,
            expected,
            actual,
        } => StoreError::AccountConflict {
            account,
            expected,
            actual,
        },
        ApplyError::AccountNotFound(id) => StoreError::NotFound {
            entity: rapport_core::ports::Entity::Account(id),
        },
    }
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        match e {
            e if e.is_retryable() => StoreError::Unavailable {
                reason: e.to_string(),
            },
            SqliteError::Corrupt { table, reason } => StoreError::Corrupt {
                reason: format!("{table}: {reason}"),
            },
            SqliteError::Unavailable(reason) => StoreError::Unavailable { reason },
            e @ (SqliteError::WriterGone
            | SqliteError::ReaderGone
            | SqliteError::ErasureNotFlushed(_)) => StoreError::Unavailable {
                reason: e.to_string(),
            },
            SqliteError::Keys(e) => e,
            SqliteError::KeysNotDeleted(e) => e.into(),
            e => StoreError::Backend {
                backend: "sqlite",
                source: Box::new(e),
            },
        }
    }
}

impl rapport_core::ports::MergeStore for SqliteStore {
    async fn merge_record(
        &self,
        tenant: TenantId,
        id: rapport_core::MergeId,
    ) -> Result<Option<rapport_core::MergeRecord>, StoreError> {
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| merge::record(c, tenant, id, sealer.as_ref())
            })
            .await?)
    }

    async fn merges_of(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<rapport_core::MergeRecord>, StoreError> {
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| merge::records_of(c, tenant, customer, sealer.as_ref())
            })
            .await?)
    }

    async fn distinct_pairs(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<rapport_core::DistinctPair>, StoreError> {
        Ok(self
            .readers
            .read(move |c| merge::distinct_pairs(c, tenant))
            .await?)
    }

    async fn belongings(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<rapport_core::Belongings, StoreError> {
        // One reader job for the three reads.
        let sealer = self.sealer.clone();
        Ok(self
            .readers
            .read(move |c| merge::belongings(c, tenant, customer, sealer.as_ref()))
            .await?)
    }

    async fn merge_inputs(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> Result<
        Option<(
            rapport_core::ports::MergeSide,
            rapport_core::ports::MergeSide,
        )>,
        StoreError,
    > {
        // One reader job (one snapshot) for both customers, histories and belongings.
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| {
                    let s = merge::side(c, tenant, survivor, sealer.as_ref())?;
                    let l = merge::side(c, tenant, loser, sealer.as_ref())?;
                    Ok::<_, SqliteError>(s.zip(l))
                }
            })
            .await?)
    }

    async fn load_with_merges(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<rapport_core::ports::RecordWithMerges>, StoreError> {
        // One reader job (one snapshot) for the record and its merges: an erasure's reads.
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| {
                    let Some((customer_read, stats)) =
                        read::load(c, tenant, customer, sealer.as_ref())?
                    else {
                        return Ok(None);
                    };
                    let merges = merge::records_of(c, tenant, customer, sealer.as_ref())?;
                    Ok::<_, SqliteError>(Some((
                        Record {
                            customer: customer_read,
                            stats,
                        },
                        merges,
                    )))
                }
            })
            .await?)
    }
}

impl Store for SqliteStore {
    async fn purchase_lines(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<Vec<rapport_core::LineItems>>, StoreError> {
        Ok(Some(
            rapport_core::LineItemStore::customer_line_items(self, tenant, customer).await?,
        ))
    }

    async fn clv_model(&self, tenant: TenantId) -> Result<Option<FittedClv>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                let mut stmt = c.prepare_cached(&rapport_sql::clv_model::load_sql(
                    "rapport_clv_models",
                    "?1",
                ))?;
                let json: Option<String> = stmt
                    .query_row(rusqlite::params![tenant.to_bytes()], |r| r.get(0))
                    .optional()?;
                Ok(json
                    .map(|j| rapport_sql::clv_model::decode(&j))
                    .transpose()?)
            })
            .await?)
    }

    async fn save_clv_model(&self, tenant: TenantId, model: &FittedClv) -> Result<(), StoreError> {
        model.validate()?;
        let (at, json) = rapport_sql::clv_model::encode(model).map_err(SqliteError::from)?;
        Ok(self
            .writer
            .exec(move |c| {
                c.prepare_cached(&rapport_sql::clv_model::save_sql(
                    "rapport_clv_models",
                    ["?1", "?2", "?3"],
                ))?
                .execute(rusqlite::params![tenant.to_bytes(), at, json])?;
                Ok(())
            })
            .await?)
    }

    /// One indexed lookup per customer over `rapport_account_links`, in one read.
    async fn account_roles(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<rapport_core::AccountRoleSet>, StoreError> {
        let customers = customers.to_vec();
        Ok(self
            .readers
            .read(move |c| account::roles_of(c, tenant, &customers))
            .await?)
    }

    async fn load(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| read::load(c, tenant, id, sealer.as_ref())
            })
            .await?
            .map(|(customer, stats)| Record { customer, stats }))
    }

    async fn find_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let key = key.clone();
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| read::find_by_contact(c, tenant, &key, sealer.as_ref())
            })
            .await?)
    }

    async fn scan(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| read::scan(c, tenant, page.after, page.limit, sealer.as_ref())
            })
            .await?
            .into_iter()
            .map(|(customer, stats)| Record { customer, stats })
            .collect())
    }

    /// The segment compiled to a parameterised SQL prefilter over the projection columns
    /// (contacts, orders, purchase days, revenue, tier, stage, purchase and registration days)
    /// and the tag map, then every candidate re-checked with `Segment::matches`: the same
    /// answer as the default `query`, without decoding the rows the prefilter rules out.
    async fn query(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        let segment = segment.clone();
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| {
                    read::query(
                        c,
                        tenant,
                        &segment,
                        now,
                        page.after,
                        page.limit,
                        sealer.as_ref(),
                    )
                }
            })
            .await?
            .into_iter()
            .map(|(customer, stats)| Record { customer, stats })
            .collect())
    }

    async fn activities(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        Ok(self
            .readers
            .read({
                let sealer = self.sealer.clone();
                move |c| read::activities(c, tenant, id, range.from, range.to, sealer.as_ref())
            })
            .await?)
    }

    #[tracing::instrument(
        name = "rapport_sqlite.apply",
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
        let out = match apply::Prepared::new(tenant, cs, self.sealer.as_ref()) {
            Ok(prepared) => self.writer.apply(prepared).await,
            Err(e) => Err(e),
        }
        .map_err(from_apply)
        .map(|out| Applied {
            duplicates: out.duplicates,
            customers: out.customers,
            activities: out.activities,
            messages: out.messages,
        });
        rapport_sql::log_apply(&out, started);
        out
    }
}
impl Outbox for SqliteStore {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .writer
            .exec(move |c| outbox::claim(c, limit, lease, now))
            .await?)
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        Ok(self.writer.exec(move |c| outbox::ack(c, &ids)).await?)
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(self
            .writer
            .exec(move |c| outbox::retry_at(c, id, at))
            .await?)
    }
}

//! What a bulk import reports.

/// What one import batch did.
///
/// ```
/// use rapport_sql::ImportReport;
/// let mut total = ImportReport::default();
/// total += ImportReport { rows: 3, inserted: 1, skipped: 2, contact_taken: 0 };
/// total += ImportReport { rows: 3, inserted: 2, skipped: 0, contact_taken: 1 };
/// assert_eq!(total, ImportReport { rows: 6, inserted: 3, skipped: 2, contact_taken: 1 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows in the batch.
    pub rows: usize,
    /// Rows written (new).
    pub inserted: usize,
    /// Rows already present (skipped: the import is idempotent).
    pub skipped: usize,
    /// Customer rows not written because another live customer of the tenant holds their
    /// email or phone (one live customer per contact; a concurrent writer may have taken it
    /// after the caller checked). Always 0 for activities.
    pub contact_taken: usize,
}

impl std::ops::AddAssign for ImportReport {
    fn add_assign(&mut self, o: Self) {
        self.rows += o.rows;
        self.inserted += o.inserted;
        self.skipped += o.skipped;
        self.contact_taken += o.contact_taken;
    }
}

/// [`import_by_apply`](rapport_core::ports::import_by_apply) with the import log both SQL
/// stores write (`imported rows= inserted= skipped= duration_us=`, or `import failed`): their
/// [`ActivityImport`](rapport_core::ports::ActivityImport), inside each one's span.
///
/// ```
/// # use rapport_core::ports::*;
/// # use rapport_core::*;
/// async fn import<S: Store>(s: &S, t: TenantId, batch: Vec<ImportActivity>) -> Result<ActivityImportReport, StoreError> {
///     rapport_sql::logged_import(s, t, batch, &ImportPolicy::default()).await
/// }
/// ```
///
/// # Errors
/// As `import_by_apply`.
pub async fn logged_import<S: rapport_core::Store + ?Sized>(
    store: &S,
    tenant: rapport_core::TenantId,
    batch: Vec<rapport_core::ports::ImportActivity>,
    policy: &rapport_core::ports::ImportPolicy,
) -> Result<rapport_core::ports::ActivityImportReport, rapport_core::StoreError> {
    let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
    let out = rapport_core::ports::import_by_apply(store, tenant, batch, policy).await;
    let logged = out.as_ref().map(|r| ImportReport {
        rows: r.rows,
        inserted: r.inserted,
        skipped: r.skipped,
        contact_taken: 0,
    });
    crate::log_import(
        logged.as_ref().map_err(|e| crate::store_error_kind(e)),
        started,
    );
    out
}

/// Implements [`ActivityImport`](rapport_core::ports::ActivityImport) for a store: its
/// `import_activities` runs `body` inside the store's info span `span` (fields `tenant` and
/// `rows`, as every import of the SQL stores), with `this` the store and `tenant`, `batch`
/// and `policy` the method's arguments (named by the caller). Doc comments before the type
/// go on the impl.
///
/// ```
/// # use rapport_core::ports::*;
/// # use rapport_core::*;
/// # pub struct MyStore;
/// # impl Store for MyStore {
/// #     async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
/// #     async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
/// #     async fn scan(&self, _: TenantId, _: Page) -> Result<Vec<Record>, StoreError> { Ok(vec![]) }
/// #     async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
/// #     async fn apply(&self, _: TenantId, cs: &Changeset) -> Result<Applied, StoreError> { Ok(Applied::counting(cs)) }
/// # }
/// rapport_sql::activity_import! {
///     /// Bulk imports through `apply`, logged.
///     MyStore, "my_store.import_activities",
///     |this, tenant, batch, policy| rapport_sql::logged_import(this, tenant, batch, policy).await
/// }
/// let r = futures::executor::block_on(MyStore.import_activities(
///     TenantId::from_u128(1),
///     vec![],
///     &ImportPolicy::default(),
/// ))?;
/// assert_eq!(r.rows, 0);
/// # Ok::<(), StoreError>(())
/// ```
#[macro_export]
macro_rules! activity_import {
    (
        $(#[$meta:meta])*
        $store:ty, $span:literal,
        |$this:ident, $tenant:ident, $batch:ident, $policy:ident| $body:expr
    ) => {
        $(#[$meta])*
        impl ::rapport_core::ports::ActivityImport for $store {
            #[tracing::instrument(
                name = $span,
                level = "info",
                skip_all,
                fields(tenant = %$tenant, rows = $batch.len())
            )]
            async fn import_activities(
                &self,
                $tenant: ::rapport_core::TenantId,
                $batch: ::std::vec::Vec<::rapport_core::ports::ImportActivity>,
                $policy: &::rapport_core::ports::ImportPolicy,
            ) -> ::core::result::Result<
                ::rapport_core::ports::ActivityImportReport,
                ::rapport_core::StoreError,
            > {
                let $this = self;
                $body
            }
        }
    };
}

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

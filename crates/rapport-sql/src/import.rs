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

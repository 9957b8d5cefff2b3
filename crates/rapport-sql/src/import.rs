//! What a bulk import reports.

/// What one import batch did.
///
/// ```
/// use rapport_sql::ImportReport;
/// let mut total = ImportReport::default();
/// total += ImportReport { rows: 3, inserted: 1, skipped: 2 };
/// total += ImportReport { rows: 2, inserted: 2, skipped: 0 };
/// assert_eq!(total, ImportReport { rows: 5, inserted: 3, skipped: 2 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows in the batch.
    pub rows: usize,
    /// Rows written (new).
    pub inserted: usize,
    /// Rows already present (skipped: the import is idempotent).
    pub skipped: usize,
}

impl std::ops::AddAssign for ImportReport {
    fn add_assign(&mut self, o: Self) {
        self.rows += o.rows;
        self.inserted += o.inserted;
        self.skipped += o.skipped;
    }
}

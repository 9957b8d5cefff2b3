//! Cases in the memory store: a B-tree per tenant, checked and written inside `apply`.

use rapport_core::ports::check_case_writes;
use rapport_core::*;

use crate::{Book, MemoryStore};

/// Checks a changeset's case writes against the book (before any write).
pub(crate) fn check(book: &Book, cs: &Changeset) -> Result<(), StoreError> {
    check_case_writes(&cs.cases, |id| book.cases.get(&id))
}

/// Writes a changeset's cases (after [`check`]).
pub(crate) fn write(book: &mut Book, cs: &Changeset) {
    for w in &cs.cases {
        book.cases.insert(w.case().id(), w.case().clone());
    }
}

impl CaseStore for MemoryStore {
    async fn load_case(&self, tenant: TenantId, id: CaseId) -> Result<Option<Case>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.cases.get(&id).cloned()))
    }

    async fn cases(&self, tenant: TenantId, query: CaseQuery) -> Result<Vec<Case>, StoreError> {
        let inner = self.lock()?;
        let Some(book) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        Ok(book
            .cases
            .values()
            .filter(|c| query.selects(c))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }
}

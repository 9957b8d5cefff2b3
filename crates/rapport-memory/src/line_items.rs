//! Line items in the memory store: a B-tree per tenant keyed by activity id, written inside
//! `apply` after the activities (a refused changeset writes none).

use rapport_core::*;

use crate::{Book, MemoryStore};

/// Writes a changeset's line items, and moves the lines of activities a merge moves.
pub(crate) fn write(book: &mut Book, cs: &Changeset) {
    for l in &cs.line_items {
        book.line_items.insert(l.activity, l.clone());
    }
    for m in &cs.moves {
        if let Some(l) = book.line_items.get_mut(&m.activity.id) {
            l.customer = m.activity.customer;
        }
    }
}

impl LineItemStore for MemoryStore {
    async fn line_items(
        &self,
        tenant: TenantId,
        activity: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.line_items.get(&activity).cloned()))
    }

    async fn customer_line_items(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        let inner = self.lock()?;
        let Some(book) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<LineItems> = book
            .line_items
            .values()
            .filter(|l| l.customer == customer)
            .cloned()
            .collect();
        out.sort_by_key(|l| (l.at, l.activity));
        Ok(out)
    }

    async fn line_items_page(
        &self,
        tenant: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        let inner = self.lock()?;
        let Some(book) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        let range = match after {
            Some(a) => book
                .line_items
                .range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => book.line_items.range(..),
        };
        Ok(range.take(limit as usize).map(|(_, l)| l.clone()).collect())
    }
}

/// Bulk imports with line items: [`rapport_core::ports::import_by_apply`], one changeset per
/// batch (all or nothing, versions checked, keys idempotent).
impl rapport_core::ports::ActivityImport for MemoryStore {}

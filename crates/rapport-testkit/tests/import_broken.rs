//! The `activity_import` contracts fail on stores that break them: one that drops the line
//! items of what it applies, one whose bulk import folds without the category policy.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport_core::ports::{
    ActivityImport, ActivityImportReport, ImportActivity, ImportPolicy, import_by_apply,
};
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::import;

/// Forwards to rapport-memory, but `apply` writes no line items.
struct DropsLines(MemoryStore);

impl Store for DropsLines {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.0.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.0.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.0.scan(t, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.0.activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        let mut cs = cs.clone();
        cs.line_items.clear();
        self.0.apply(t, &cs).await
    }
    async fn purchase_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<Vec<LineItems>>, StoreError> {
        self.0.purchase_lines(t, id).await
    }
}

impl LineItemStore for DropsLines {
    async fn line_items(
        &self,
        t: TenantId,
        a: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        self.0.line_items(t, a).await
    }
    async fn customer_line_items(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.0.customer_line_items(t, c).await
    }
    async fn line_items_page(
        &self,
        t: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.0.line_items_page(t, after, limit).await
    }
}

impl ActivityImport for DropsLines {}

/// rapport-memory whose bulk import folds without the category policy.
struct IgnoresPolicy(MemoryStore);

impl ActivityImport for IgnoresPolicy {
    async fn import_activities(
        &self,
        t: TenantId,
        batch: Vec<ImportActivity>,
        _policy: &ImportPolicy,
    ) -> Result<ActivityImportReport, StoreError> {
        import_by_apply(&self.0, t, batch, &ImportPolicy::default()).await
    }
}

impl Store for IgnoresPolicy {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.0.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.0.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.0.scan(t, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.0.activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        self.0.apply(t, cs).await
    }
    async fn purchase_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<Vec<LineItems>>, StoreError> {
        self.0.purchase_lines(t, id).await
    }
}

impl LineItemStore for IgnoresPolicy {
    async fn line_items(
        &self,
        t: TenantId,
        a: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        self.0.line_items(t, a).await
    }
    async fn customer_line_items(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.0.customer_line_items(t, c).await
    }
    async fn line_items_page(
        &self,
        t: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.0.line_items_page(t, after, limit).await
    }
}

#[test]
fn a_store_that_drops_lines_fails_the_round_trip() {
    let s = DropsLines(MemoryStore::new());
    let r = block_on(import::import_round_trips_lines(&s));
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn an_import_that_ignores_the_category_policy_fails_the_comparison() {
    let s = IgnoresPolicy(MemoryStore::new());
    let r = block_on(import::import_folds_as_the_service(&s));
    assert!(r.is_err(), "{r:?}");
}

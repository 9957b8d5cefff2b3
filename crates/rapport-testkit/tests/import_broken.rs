//! The `activity_import` contracts fail on stores that break them: one that drops the line
//! items of what it applies, one whose bulk import folds without the category policy.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport_core::ports::{ActivityImportReport, ImportActivity, ImportPolicy, import_by_apply};
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::broken::{Broken, Hooks};
use rapport_testkit::import;

/// `apply` writes no line items (and bulk imports go through that `apply`).
struct DropsLines;

impl Hooks<MemoryStore> for DropsLines {
    async fn apply(
        this: &Broken<MemoryStore, Self>,
        t: TenantId,
        cs: &Changeset,
    ) -> Result<Applied, StoreError> {
        let mut cs = cs.clone();
        cs.line_items.clear();
        this.inner.apply(t, &cs).await
    }
    async fn import_activities(
        this: &Broken<MemoryStore, Self>,
        t: TenantId,
        batch: Vec<ImportActivity>,
        policy: &ImportPolicy,
    ) -> Result<ActivityImportReport, StoreError> {
        import_by_apply(this, t, batch, policy).await
    }
}

/// The bulk import folds without the category policy.
struct IgnoresPolicy;

impl Hooks<MemoryStore> for IgnoresPolicy {
    async fn import_activities(
        this: &Broken<MemoryStore, Self>,
        t: TenantId,
        batch: Vec<ImportActivity>,
        _policy: &ImportPolicy,
    ) -> Result<ActivityImportReport, StoreError> {
        import_by_apply(&this.inner, t, batch, &ImportPolicy::default()).await
    }
}

#[test]
fn a_store_that_drops_lines_fails_the_round_trip() {
    let s = Broken::new(MemoryStore::new(), DropsLines);
    let r = block_on(import::import_round_trips_lines(&s));
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn an_import_that_ignores_the_category_policy_fails_the_comparison() {
    let s = Broken::new(MemoryStore::new(), IgnoresPolicy);
    let r = block_on(import::import_folds_as_the_service(&s));
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn the_wrapper_without_hooks_passes_both() {
    let s = || Broken::new(MemoryStore::new(), ());
    assert_eq!(block_on(import::import_round_trips_lines(&s())), Ok(()));
    assert_eq!(block_on(import::import_folds_as_the_service(&s())), Ok(()));
}

//! A bulk import through the boxed twins (`Box<dyn DynStore>`, `Box<dyn DynMergeStore>`) is
//! the boxed store's own `ActivityImport::import_activities`, not the provided body over the
//! box.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::DateTime;
use futures::executor::block_on;
use rapport_core::ports::{
    ActivityImport, ActivityImportReport, DynMergeStore, DynStore, ImportActivity, ImportPolicy,
};
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::broken::{Broken, Hooks};
use rust_decimal::Decimal;

/// Forwards everything; counts the calls of the store's own bulk import.
struct CountsImports(Arc<AtomicUsize>);

impl Hooks<MemoryStore> for CountsImports {
    async fn import_activities(
        this: &Broken<MemoryStore, Self>,
        t: TenantId,
        batch: Vec<ImportActivity>,
        policy: &ImportPolicy,
    ) -> Result<ActivityImportReport, StoreError> {
        this.hooks.0.fetch_add(1, Ordering::SeqCst);
        this.inner.import_activities(t, batch, policy).await
    }
}

const T: TenantId = TenantId::from_u128(1);
const ANN: CustomerId = CustomerId::from_u128(7);

/// Imports one purchase of a new customer twice through `store` (a fresh store); answers the
/// calls of the wrapped store's own import counted so far.
fn import_twice<S: Store + ActivityImport + ?Sized>(store: &S, calls: &AtomicUsize) -> usize {
    let now = DateTime::UNIX_EPOCH;
    let mut cs = Changeset::new();
    cs.create(
        Customer::new(T, ANN, Profile::default(), now),
        Stats::default(),
    );
    block_on(store.apply(T, &cs)).unwrap();
    let order = Activity::new(
        ActivityId::from_u128(10),
        ANN,
        now,
        Channel::Web,
        IdempotencyKey::new("order-1").unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new("1").unwrap(),
            amount: Money::new(Decimal::from(25), Currency::EUR),
            margin: None,
        },
    )
    .unwrap();
    let policy = ImportPolicy::default();
    let r = block_on(store.import_activities(T, vec![order.clone().into()], &policy)).unwrap();
    assert_eq!((r.rows, r.inserted, r.skipped), (1, 1, 0));
    let again = block_on(store.import_activities(T, vec![order.into()], &policy)).unwrap();
    assert_eq!((again.inserted, again.skipped), (0, 1));
    let rec = block_on(store.load(T, ANN)).unwrap().unwrap();
    assert_eq!(rec.stats.orders(), 1);
    calls.load(Ordering::SeqCst)
}

#[test]
fn an_import_through_a_boxed_twin_is_the_stores_own() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = || Broken::new(MemoryStore::new(), CountsImports(Arc::clone(&calls)));
    let store: Box<dyn DynStore> = Box::new(counted());
    assert_eq!(import_twice(&store, &calls), 2);
    // The boxed method itself, too.
    let none = block_on(store.import_activities_boxed(T, vec![], &ImportPolicy::default()));
    assert_eq!((none.unwrap().rows, calls.load(Ordering::SeqCst)), (0, 3));
    // And through the merging twin.
    let store: Box<dyn DynMergeStore> = Box::new(counted());
    assert_eq!(import_twice(&store, &calls), 5);
}

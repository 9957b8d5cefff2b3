//! The object-safe twin of the ports, for a backend chosen at run time.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::changeset::Changeset;
use crate::decide::segment::Segment;
use crate::event::OutboxMessage;
use crate::model::account::AccountRoleSet;
use crate::model::activity::Activity;
use crate::model::clv_model::FittedClv;
use crate::model::contact::ContactKey;
use crate::model::id::{CustomerId, MergeId, MessageId, TenantId};
use crate::model::line_item::LineItems;
use crate::ports::{
    ActivityImport, ActivityImportReport, Applied, ImportActivity, ImportPolicy, MergeSide,
    MergeStore, Outbox, Page, Record, Store, StoreError, TimeRange,
};
use crate::quality::merge_op::{Belongings, DistinctPair, MergeRecord};

/// A boxed future, for [`DynStore`].
///
/// ```
/// use futures::executor::block_on;
/// use rapport_core::ports::BoxFuture;
/// let f: BoxFuture<'_, u32> = Box::pin(async { 7 });
/// assert_eq!(block_on(f), 7);
/// ```
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe twin of [`Store`] (with [`Outbox`] and [`ActivityImport`]), for hosts that
/// choose the backend at run time (e.g. from a `--db` URL). Every `Store + Outbox +
/// ActivityImport` is a `DynStore`, and `Box<dyn DynStore>` is each of the three again, so
/// the service takes either and a bulk import through the box takes the store's own path. A
/// store without a bulk import of its own declares `impl ActivityImport for MyStore {}` (the
/// provided body, [`import_by_apply`](crate::ports::import_by_apply)).
///
/// ```ignore
/// // The backend is chosen at run time; the service is written once.
/// let store: Box<dyn DynStore> = match url {
///     u if u.starts_with("sqlite://") => Box::new(SqliteStore::open(path, config, now)?),
///     _ => Box::new(MemoryStore::new()),
/// };
/// let svc = rapport::Service::new(store);
/// ```
///
/// A runnable version (`Toy` is the minimal store of the [`Store`] example):
///
/// ```
/// use futures::executor::block_on;
/// use rapport_core::ports::DynStore;
/// use rapport_core::*;
/// # use toy::Toy;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let use_toy = true; // e.g. decided from a configuration value
/// let store: Box<dyn DynStore> = if use_toy { Box::new(Toy::default()) } else { unimplemented!() };
/// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(7));
/// let c = Customer::new(t, id, Profile::default(), chrono::DateTime::UNIX_EPOCH);
/// let mut cs = Changeset::new();
/// cs.create(c, Stats::default());
/// // `Box<dyn DynStore>` is a `Store`: the async trait methods work on it...
/// block_on(store.apply(t, &cs))?;
/// assert!(block_on(store.load(t, id))?.is_some());
/// // ...and so do the boxed methods they forward to.
/// assert_eq!(block_on(store.scan_boxed(t, Page::first(10)))?.len(), 1);
/// assert!(block_on(store.load_boxed(t, id))?.is_some());
/// let everyone = Segment::parse("true")?;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// assert_eq!(block_on(store.query_boxed(t, &everyone, now, Page::first(10)))?.len(), 1);
/// let key = ContactKey::Email(Email::parse("nobody@example.com")?);
/// assert!(block_on(store.find_by_contact_boxed(t, &key))?.is_empty());
/// assert!(block_on(store.activities_boxed(t, id, TimeRange::all()))?.is_empty());
/// // A create of the same id again fails through the boxed `apply` too.
/// assert!(matches!(block_on(store.apply_boxed(t, &cs)), Err(StoreError::AlreadyExists { .. })));
/// let lease = std::time::Duration::from_secs(30);
/// assert!(block_on(store.claim_outbox_boxed(10, lease, now))?.is_empty());
/// block_on(store.retry_outbox_boxed(MessageId::from_u128(1), now))?;
/// block_on(store.ack_outbox_boxed(&[]))?;
/// // A bulk import through the box is the store's own (`Toy`'s is the provided body).
/// use rapport_core::ports::{ActivityImport, ImportPolicy};
/// let none = block_on(store.import_activities(t, vec![], &ImportPolicy::default()))?;
/// assert_eq!(none.rows, 0);
/// # Ok(())
/// # }
/// # mod toy {
/// #     use std::{collections::BTreeMap, sync::Mutex, time::Duration};
/// #     use chrono::{DateTime, Utc};
/// #     use rapport_core::{*, ports::*};
/// #     #[derive(Default)]
/// #     pub struct Toy(Mutex<(BTreeMap<CustomerId, Record>, Vec<Activity>, Vec<(OutboxMessage, DateTime<Utc>)>)>);
/// #     fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, StoreError> {
/// #         m.lock().map_err(|_| StoreError::unavailable("poisoned"))
/// #     }
/// #     impl Store for Toy { // one tenant only, for brevity
/// #         async fn load(&self, _: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> { Ok(lock(&self.0)?.0.get(&id).cloned()) }
/// #         async fn find_by_contact(&self, _: TenantId, key: &ContactKey) -> Result<Vec<CustomerId>, StoreError> {
/// #             Ok(lock(&self.0)?.0.values().filter(|r| r.customer.profile.contact_keys().contains(key)).map(|r| r.customer.id()).collect())
/// #         }
/// #         async fn scan(&self, _: TenantId, p: Page) -> Result<Vec<Record>, StoreError> {
/// #             Ok(lock(&self.0)?.0.values().filter(|r| p.after.is_none_or(|a| r.customer.id() > a)).take(p.limit as usize).cloned().collect())
/// #         }
/// #         async fn activities(&self, _: TenantId, id: CustomerId, range: TimeRange) -> Result<Vec<Activity>, StoreError> {
/// #             Ok(lock(&self.0)?.1.iter().filter(|a| a.customer == id && range.contains(a.at)).cloned().collect())
/// #         }
/// #         async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
/// #             cs.validate(t)?;
/// #             let mut g = lock(&self.0)?;
/// #             let duplicates: Vec<_> = cs.activities.iter().filter(|a| g.1.iter().any(|b| b.idempotency_key == a.idempotency_key)).map(|a| a.idempotency_key.clone()).collect();
/// #             if !duplicates.is_empty() { return Ok(Applied { duplicates, ..Applied::default() }); }
/// #             check_writes(&cs.customers, |id| g.0.get(&id).map(|r| &r.customer))?;
/// #             for w in &cs.customers { g.0.insert(w.customer().id(), Record { customer: w.customer().clone(), stats: w.stats().clone() }); }
/// #             g.1.extend(cs.activities.iter().cloned());
/// #             g.2.extend(cs.outbox.iter().map(|m| (m.clone(), DateTime::<Utc>::MIN_UTC)));
/// #             Ok(Applied::counting(cs))
/// #         }
/// #     }
/// #     impl ActivityImport for Toy {}
/// #     impl Outbox for Toy {
/// #         async fn claim_outbox(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> Result<Vec<OutboxMessage>, StoreError> {
/// #             let mut g = lock(&self.0)?;
/// #             let mut out = Vec::new();
/// #             for (m, free_at) in g.2.iter_mut().filter(|(_, f)| *f <= now).take(limit as usize) {
/// #                 *free_at = now + lease;
/// #                 m.attempts += 1;
/// #                 out.push(m.clone());
/// #             }
/// #             Ok(out)
/// #         }
/// #         async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> { lock(&self.0)?.2.retain(|(m, _)| !ids.contains(&m.id)); Ok(()) }
/// #         async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
/// #             for (m, free_at) in lock(&self.0)?.2.iter_mut() { if m.id == id { *free_at = at; } }
/// #             Ok(())
/// #         }
/// #     }
/// # }
/// ```
pub trait DynStore: Send + Sync {
    /// [`Store::load`], boxed.
    fn load_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    /// [`Store::find_by_contact`], boxed.
    fn find_by_contact_boxed<'a>(
        &'a self,
        tenant: TenantId,
        key: &'a ContactKey,
    ) -> BoxFuture<'a, Result<Vec<CustomerId>, StoreError>>;
    /// [`Store::scan`], boxed.
    fn scan_boxed(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    /// [`Store::query`], boxed.
    fn query_boxed<'a>(
        &'a self,
        tenant: TenantId,
        segment: &'a Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>>;
    /// [`Store::activities`], boxed.
    fn activities_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> BoxFuture<'_, Result<Vec<Activity>, StoreError>>;
    /// [`Store::apply`], boxed.
    fn apply_boxed<'a>(
        &'a self,
        tenant: TenantId,
        cs: &'a Changeset,
    ) -> BoxFuture<'a, Result<Applied, StoreError>>;
    /// [`Store::purchase_lines`], boxed.
    fn purchase_lines_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Vec<LineItems>>, StoreError>>;
    /// [`Store::account_roles`], boxed.
    fn account_roles_boxed<'a>(
        &'a self,
        tenant: TenantId,
        customers: &'a [CustomerId],
    ) -> BoxFuture<'a, Result<Vec<AccountRoleSet>, StoreError>>;
    /// [`Store::clv_model`], boxed.
    fn clv_model_boxed(
        &self,
        tenant: TenantId,
    ) -> BoxFuture<'_, Result<Option<FittedClv>, StoreError>>;
    /// [`Store::save_clv_model`], boxed.
    fn save_clv_model_boxed<'a>(
        &'a self,
        tenant: TenantId,
        model: &'a FittedClv,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// [`ActivityImport::import_activities`], boxed: the store's own bulk import (a store
    /// without one declares `impl ActivityImport for MyStore {}`, whose provided body is
    /// [`import_by_apply`](crate::ports::import_by_apply)).
    fn import_activities_boxed<'a>(
        &'a self,
        tenant: TenantId,
        batch: Vec<ImportActivity>,
        policy: &'a ImportPolicy,
    ) -> BoxFuture<'a, Result<ActivityImportReport, StoreError>>;
    /// [`Outbox::claim_outbox`], boxed.
    fn claim_outbox_boxed(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<OutboxMessage>, StoreError>>;
    /// [`Outbox::ack_outbox`], boxed.
    fn ack_outbox_boxed<'a>(
        &'a self,
        ids: &'a [MessageId],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// [`Outbox::retry_outbox`], boxed.
    fn retry_outbox_boxed(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl<S: Store + Outbox + ActivityImport> DynStore for S {
    fn load_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        Box::pin(self.load(tenant, id))
    }
    fn find_by_contact_boxed<'a>(
        &'a self,
        tenant: TenantId,
        key: &'a ContactKey,
    ) -> BoxFuture<'a, Result<Vec<CustomerId>, StoreError>> {
        Box::pin(self.find_by_contact(tenant, key))
    }
    fn scan_boxed(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(self.scan(tenant, page))
    }
    fn query_boxed<'a>(
        &'a self,
        tenant: TenantId,
        segment: &'a Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        Box::pin(self.query(tenant, segment, now, page))
    }
    fn activities_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> BoxFuture<'_, Result<Vec<Activity>, StoreError>> {
        Box::pin(self.activities(tenant, id, range))
    }
    fn apply_boxed<'a>(
        &'a self,
        tenant: TenantId,
        cs: &'a Changeset,
    ) -> BoxFuture<'a, Result<Applied, StoreError>> {
        Box::pin(self.apply(tenant, cs))
    }
    fn purchase_lines_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Vec<LineItems>>, StoreError>> {
        Box::pin(self.purchase_lines(tenant, customer))
    }

    fn account_roles_boxed<'a>(
        &'a self,
        tenant: TenantId,
        customers: &'a [CustomerId],
    ) -> BoxFuture<'a, Result<Vec<AccountRoleSet>, StoreError>> {
        Box::pin(self.account_roles(tenant, customers))
    }
    fn clv_model_boxed(
        &self,
        tenant: TenantId,
    ) -> BoxFuture<'_, Result<Option<FittedClv>, StoreError>> {
        Box::pin(self.clv_model(tenant))
    }
    fn save_clv_model_boxed<'a>(
        &'a self,
        tenant: TenantId,
        model: &'a FittedClv,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.save_clv_model(tenant, model))
    }
    fn import_activities_boxed<'a>(
        &'a self,
        tenant: TenantId,
        batch: Vec<ImportActivity>,
        policy: &'a ImportPolicy,
    ) -> BoxFuture<'a, Result<ActivityImportReport, StoreError>> {
        Box::pin(self.import_activities(tenant, batch, policy))
    }
    fn claim_outbox_boxed(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<OutboxMessage>, StoreError>> {
        Box::pin(self.claim_outbox(limit, lease, now))
    }
    fn ack_outbox_boxed<'a>(
        &'a self,
        ids: &'a [MessageId],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.ack_outbox(ids))
    }
    fn retry_outbox_boxed(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.retry_outbox(id, at))
    }
}

/// `Store`, `ActivityImport` and `Outbox` for a boxed twin (`dyn DynStore`, `dyn DynMergeStore`): each
/// method awaits its boxed form.
macro_rules! boxed_store {
    ($($boxed:ident),*) => {$(
    impl Store for dyn $boxed {
        async fn load(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
            self.load_boxed(tenant, id).await
        }
        async fn find_by_contact(
            &self,
            tenant: TenantId,
            key: &ContactKey,
        ) -> Result<Vec<CustomerId>, StoreError> {
            self.find_by_contact_boxed(tenant, key).await
        }
        async fn scan(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
            self.scan_boxed(tenant, page).await
        }
        async fn query(
            &self,
            tenant: TenantId,
            segment: &Segment,
            now: DateTime<Utc>,
            page: Page,
        ) -> Result<Vec<Record>, StoreError> {
            self.query_boxed(tenant, segment, now, page).await
        }
        async fn activities(
            &self,
            tenant: TenantId,
            id: CustomerId,
            range: TimeRange,
        ) -> Result<Vec<Activity>, StoreError> {
            self.activities_boxed(tenant, id, range).await
        }
        async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
            self.apply_boxed(tenant, cs).await
        }
        async fn purchase_lines(
            &self,
            tenant: TenantId,
            customer: CustomerId,
        ) -> Result<Option<Vec<LineItems>>, StoreError> {
            self.purchase_lines_boxed(tenant, customer).await
        }

        async fn account_roles(
            &self,
            tenant: TenantId,
            customers: &[CustomerId],
        ) -> Result<Vec<AccountRoleSet>, StoreError> {
            self.account_roles_boxed(tenant, customers).await
        }
        async fn clv_model(&self, tenant: TenantId) -> Result<Option<FittedClv>, StoreError> {
            self.clv_model_boxed(tenant).await
        }
        async fn save_clv_model(&self, tenant: TenantId, model: &FittedClv) -> Result<(), StoreError> {
            self.save_clv_model_boxed(tenant, model).await
        }
    }
    impl ActivityImport for dyn $boxed {
        async fn import_activities(
            &self,
            tenant: TenantId,
            batch: Vec<ImportActivity>,
            policy: &ImportPolicy,
        ) -> Result<ActivityImportReport, StoreError> {
            self.import_activities_boxed(tenant, batch, policy).await
        }
    }
    impl Outbox for dyn $boxed {
        async fn claim_outbox(
            &self,
            limit: u32,
            lease: Duration,
            now: DateTime<Utc>,
        ) -> Result<Vec<OutboxMessage>, StoreError> {
            self.claim_outbox_boxed(limit, lease, now).await
        }
        async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
            self.ack_outbox_boxed(ids).await
        }
        async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
            self.retry_outbox_boxed(id, at).await
        }
    }
    )*};
}
boxed_store!(DynStore, DynMergeStore);

/// The object-safe twin of [`MergeStore`]: a [`DynStore`] that also merges, so that a backend
/// chosen at run time can be asked to merge, unmerge and scan for duplicates through the
/// service (`Service<Box<dyn DynMergeStore>>`). Every `MergeStore` (with an [`Outbox`] and an
/// [`ActivityImport`]) is a `DynMergeStore`, and `Box<dyn DynMergeStore>` is a `Store`, an
/// `Outbox`, an `ActivityImport` and a `MergeStore` again.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_core::ports::{DynMergeStore, MergeStore};
/// use rapport_core::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # #[derive(Default)] struct Nothing;
/// # impl ports::Store for Nothing {
/// #     async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<ports::Record>, StoreError> { Ok(None) }
/// #     async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
/// #     async fn scan(&self, _: TenantId, _: ports::Page) -> Result<Vec<ports::Record>, StoreError> { Ok(vec![]) }
/// #     async fn activities(&self, _: TenantId, _: CustomerId, _: ports::TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
/// #     async fn apply(&self, _: TenantId, cs: &Changeset) -> Result<ports::Applied, StoreError> { Ok(ports::Applied::counting(cs)) }
/// # }
/// # impl ports::ActivityImport for Nothing {}
/// # impl ports::Outbox for Nothing {
/// #     async fn claim_outbox(&self, _: u32, _: std::time::Duration, _: chrono::DateTime<chrono::Utc>) -> Result<Vec<OutboxMessage>, StoreError> { Ok(vec![]) }
/// #     async fn ack_outbox(&self, _: &[MessageId]) -> Result<(), StoreError> { Ok(()) }
/// #     async fn retry_outbox(&self, _: MessageId, _: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> { Ok(()) }
/// # }
/// # impl MergeStore for Nothing {
/// #     async fn merge_record(&self, _: TenantId, _: MergeId) -> Result<Option<MergeRecord>, StoreError> { Ok(None) }
/// #     async fn merges_of(&self, _: TenantId, _: CustomerId) -> Result<Vec<MergeRecord>, StoreError> { Ok(vec![]) }
/// #     async fn distinct_pairs(&self, _: TenantId) -> Result<Vec<DistinctPair>, StoreError> { Ok(vec![]) }
/// #     async fn belongings(&self, _: TenantId, _: CustomerId) -> Result<Belongings, StoreError> { Ok(Belongings::default()) }
/// # }
/// // `Nothing` is any store that implements `MergeStore` (the workspace's three do).
/// let store: Box<dyn DynMergeStore> = Box::new(Nothing);
/// let t = TenantId::from_u128(1);
/// assert!(block_on(store.merge_record(t, MergeId::from_u128(1)))?.is_none());
/// assert!(block_on(store.distinct_pairs(t))?.is_empty());
/// let (a, b) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
/// assert_eq!(block_on(store.belongings(t, a))?, Belongings::default());
/// assert!(block_on(store.merge_inputs(t, a, b))?.is_none());
/// // And the `Store` side, as on `DynStore`.
/// assert!(block_on(store.load(t, a))?.is_none());
/// # Ok(())
/// # }
/// ```
pub trait DynMergeStore: DynStore {
    /// [`MergeStore::merge_record`], boxed.
    fn merge_record_boxed(
        &self,
        tenant: TenantId,
        id: MergeId,
    ) -> BoxFuture<'_, Result<Option<MergeRecord>, StoreError>>;
    /// [`MergeStore::merges_of`], boxed.
    fn merges_of_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Vec<MergeRecord>, StoreError>>;
    /// [`MergeStore::distinct_pairs`], boxed.
    fn distinct_pairs_boxed(
        &self,
        tenant: TenantId,
    ) -> BoxFuture<'_, Result<Vec<DistinctPair>, StoreError>>;
    /// [`MergeStore::belongings`], boxed.
    fn belongings_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Belongings, StoreError>>;
    /// [`MergeStore::merge_inputs`], boxed.
    fn merge_inputs_boxed(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> BoxFuture<'_, Result<Option<(MergeSide, MergeSide)>, StoreError>>;
    /// [`MergeStore::load_with_merges`], boxed.
    fn load_with_merges_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Option<crate::ports::merge::RecordWithMerges>, StoreError>>;
}

impl<S: MergeStore + Outbox + ActivityImport> DynMergeStore for S {
    fn merge_record_boxed(
        &self,
        tenant: TenantId,
        id: MergeId,
    ) -> BoxFuture<'_, Result<Option<MergeRecord>, StoreError>> {
        Box::pin(self.merge_record(tenant, id))
    }
    fn merges_of_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Vec<MergeRecord>, StoreError>> {
        Box::pin(self.merges_of(tenant, customer))
    }
    fn distinct_pairs_boxed(
        &self,
        tenant: TenantId,
    ) -> BoxFuture<'_, Result<Vec<DistinctPair>, StoreError>> {
        Box::pin(self.distinct_pairs(tenant))
    }
    fn belongings_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Belongings, StoreError>> {
        Box::pin(self.belongings(tenant, customer))
    }
    fn merge_inputs_boxed(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> BoxFuture<'_, Result<Option<(MergeSide, MergeSide)>, StoreError>> {
        Box::pin(self.merge_inputs(tenant, survivor, loser))
    }
    fn load_with_merges_boxed(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> BoxFuture<'_, Result<Option<crate::ports::merge::RecordWithMerges>, StoreError>> {
        Box::pin(self.load_with_merges(tenant, customer))
    }
}

impl MergeStore for dyn DynMergeStore {
    async fn merge_record(
        &self,
        tenant: TenantId,
        id: MergeId,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.merge_record_boxed(tenant, id).await
    }
    async fn merges_of(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<MergeRecord>, StoreError> {
        self.merges_of_boxed(tenant, customer).await
    }
    async fn distinct_pairs(&self, tenant: TenantId) -> Result<Vec<DistinctPair>, StoreError> {
        self.distinct_pairs_boxed(tenant).await
    }
    async fn belongings(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Belongings, StoreError> {
        self.belongings_boxed(tenant, customer).await
    }
    async fn merge_inputs(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> Result<Option<(MergeSide, MergeSide)>, StoreError> {
        self.merge_inputs_boxed(tenant, survivor, loser).await
    }
    async fn load_with_merges(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<crate::ports::merge::RecordWithMerges>, StoreError> {
        self.load_with_merges_boxed(tenant, customer).await
    }
}

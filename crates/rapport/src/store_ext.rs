//! Conveniences over any [`Store`]: [`StoreExt`], implemented for every store, so a backend
//! writes only the minimal required methods of the port.

use std::future::Future;

use chrono::{DateTime, Utc};

use rapport_core::ports::{Page, Record, Store, StoreError};
use rapport_core::{ContactKey, CustomerId, Segment, Stage, TenantId};

/// How many `Merged { into }` links [`StoreExt::load_following_merges`] follows before it
/// reports the chain as corrupt.
///
/// ```
/// use futures::executor::block_on;
/// use rapport::{MAX_MERGE_HOPS, StoreExt};
/// use rapport::core::*;
/// let store = rapport_memory::MemoryStore::new();
/// let t = TenantId::from_u128(1);
/// let now = chrono::DateTime::UNIX_EPOCH;
/// // Two customers merged into each other: a cycle, which no number of hops resolves.
/// let (a, b) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
/// let mut cs = Changeset::new();
/// for (id, into) in [(a, b), (b, a)] {
///     let mut c = Customer::new(t, id, Profile::default(), now);
///     c.set_lifecycle(c.lifecycle().merge_into(into, now).unwrap()).unwrap();
///     cs.create(c, Stats::default());
/// }
/// block_on(store.apply(t, &cs)).unwrap();
/// let err = block_on(store.load_following_merges(t, a)).unwrap_err();
/// assert!(matches!(err, StoreError::Corrupt { .. }));
/// assert!(err.to_string().contains(&MAX_MERGE_HOPS.to_string()));
/// ```
pub const MAX_MERGE_HOPS: usize = 16;

/// Conveniences built from the [`Store`] methods; every store has them.
///
/// ```
/// use futures::executor::block_on;
/// use rapport::StoreExt;
/// use rapport::core::*;
/// let store = rapport_memory::MemoryStore::new();
/// let t = TenantId::from_u128(1);
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let mut cs = Changeset::new();
/// for i in 1..=3 {
///     cs.create(Customer::new(t, CustomerId::from_u128(i), Profile::default(), now), Stats::default());
/// }
/// block_on(store.apply(t, &cs)).unwrap();
/// assert_eq!(block_on(store.count(t, 2)).unwrap(), 3);
/// assert!(matches!(
///     block_on(store.load_required(t, CustomerId::from_u128(9))),
///     Err(StoreError::NotFound { .. })
/// ));
/// let all = block_on(store.scan_all(t, 2)).unwrap();
/// assert_eq!(all.len(), 3);
/// let big = Segment::parse("orders >= 1").unwrap();
/// assert!(block_on(store.query_all(t, &big, now, 2)).unwrap().is_empty());
/// ```
pub trait StoreExt: Store {
    /// The customer, or [`StoreError::NotFound`].
    fn load_required(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> impl Future<Output = Result<Record, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            self.load(tenant, id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    entity: rapport_core::ports::Entity::Customer(id),
                })
        }
    }

    /// The customer, or the survivor it was merged into (following up to
    /// [`MAX_MERGE_HOPS`] links); [`StoreError::NotFound`] when missing,
    /// [`StoreError::Corrupt`] for a longer chain (a cycle).
    fn load_following_merges(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> impl Future<Output = Result<Record, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut id = id;
            for _ in 0..=MAX_MERGE_HOPS {
                let r = self.load_required(tenant, id).await?;
                match r.customer.stage() {
                    Stage::Merged { into } => id = into,
                    _ => return Ok(r),
                }
            }
            Err(StoreError::Corrupt {
                reason: format!("merge chain from customer {id} is longer than {MAX_MERGE_HOPS}"),
            })
        }
    }

    /// Every record of the tenant, in id order, read in pages of `page_size`.
    fn scan_all(
        &self,
        tenant: TenantId,
        page_size: u32,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut out = Vec::new();
            let mut page = Page::first(page_size.max(1));
            loop {
                let rows = self.scan(tenant, page).await?;
                let Some(last) = rows.last() else { break };
                page.after = Some(last.customer.id());
                out.extend(rows);
            }
            Ok(out)
        }
    }

    /// The number of records of the tenant (tombstones included), counted in pages.
    fn count(
        &self,
        tenant: TenantId,
        page_size: u32,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut n = 0;
            let mut page = Page::first(page_size.max(1));
            loop {
                let rows = self.scan(tenant, page).await?;
                let Some(last) = rows.last() else { break };
                page.after = Some(last.customer.id());
                n += rows.len();
            }
            Ok(n)
        }
    }

    /// Every record matching `segment` at `now`, through [`Store::query`] in pages.
    fn query_all(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page_size: u32,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut out = Vec::new();
            let mut page = Page::first(page_size.max(1));
            loop {
                let rows = self.query(tenant, segment, now, page).await?;
                let Some(last) = rows.last() else { break };
                page.after = Some(last.customer.id());
                let done = rows.len() < page.limit as usize;
                out.extend(rows);
                if done {
                    break;
                }
            }
            Ok(out)
        }
    }

    /// The customer holding a contact key, if any (the first by id when a store holds
    /// several).
    fn find_one_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> impl Future<Output = Result<Option<CustomerId>, StoreError>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut ids = self.find_by_contact(tenant, key).await?;
            ids.sort_unstable();
            Ok(ids.first().copied())
        }
    }
}

impl<S: Store> StoreExt for S {}

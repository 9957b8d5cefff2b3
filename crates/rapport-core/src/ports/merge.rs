//! The merge port: what a store that can merge keeps besides customers and activities — the
//! merge records a merge writes and an unmerge reads back.

use std::future::Future;

use crate::changeset::{Changeset, CustomerWrite};
use crate::model::activity::Activity;
use crate::model::customer::Customer;
use crate::model::id::{CustomerId, MergeId, TenantId};
use crate::model::lifecycle::Stage;
use crate::ports::store::{Record, Store, TimeRange, check_writes};
use crate::ports::{Entity, StoreError};
use crate::quality::merge_op::{Belongings, DistinctPair, MergeRecord};

/// One side of a merge as read: the customer and its stats, its whole history, its
/// belongings.
///
/// ```
/// use rapport_core::ports::MergeSide;
/// fn history_len(side: &MergeSide) -> usize { side.activities.len() }
/// # let _ = history_len;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSide {
    /// The customer and its stats.
    pub record: Record,
    /// Every activity stored under it.
    pub activities: Vec<Activity>,
    /// Its consent entries, cases and account links.
    pub belongings: Belongings,
}

/// A customer's record and every merge record naming it: what
/// [`MergeStore::load_with_merges`] reads.
pub type RecordWithMerges = (Record, Vec<MergeRecord>);

/// A [`Store`] that applies a changeset's `moves` and `merges` (activities handed between
/// customers, merge records) and reads merge records back. The three stores of the
/// workspace implement it; a store that does not cannot be asked to merge.
///
/// ```
/// use rapport_core::ports::MergeStore;
/// fn needs_merges<S: MergeStore>(_: &S) {}
/// ```
pub trait MergeStore: Store {
    /// The merge record `id` of `tenant`, with `undone_at` set if it was undone.
    fn merge_record(
        &self,
        tenant: TenantId,
        id: MergeId,
    ) -> impl Future<Output = Result<Option<MergeRecord>, StoreError>> + Send;

    /// Every merge record of `tenant` naming `customer` as survivor or loser (undone ones
    /// too, with `undone_at`), by time then id: what an export lists under merges.
    ///
    /// # Errors
    /// Store errors.
    fn merges_of(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<MergeRecord>, StoreError>> + Send;

    /// Every pair of `tenant` marked "not a duplicate", in `(first, second)` order.
    fn distinct_pairs(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<Vec<DistinctPair>, StoreError>> + Send;

    /// What `customer` holds besides its row and activities — consent ledger entries, cases,
    /// account links and their accounts — as one read, for a merge or an unmerge to move.
    /// Empty for a customer that holds nothing (or does not exist).
    ///
    /// # Errors
    /// Store errors.
    fn belongings(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Belongings, StoreError>> + Send;

    /// Everything a merge of `loser` into `survivor` decides on — both customers, both
    /// histories, both customers' belongings — or `None` when either customer does not exist.
    /// The default reads them one by one; a store may answer in one round trip (SQLite: one
    /// reader job).
    ///
    /// # Errors
    /// Store errors.
    fn merge_inputs(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> impl Future<Output = Result<Option<(MergeSide, MergeSide)>, StoreError>> + Send {
        async move {
            let mut sides = Vec::with_capacity(2);
            for id in [survivor, loser] {
                let Some(record) = self.load(tenant, id).await? else {
                    return Ok(None);
                };
                sides.push(MergeSide {
                    record,
                    activities: self.activities(tenant, id, TimeRange::all()).await?,
                    belongings: self.belongings(tenant, id).await?,
                });
            }
            let l = sides.pop();
            let s = sides.pop();
            Ok(s.zip(l))
        }
    }

    /// A customer's record and every merge record naming it (as [`Self::merges_of`]), or
    /// `None` when it does not exist: what an erasure reads before it decides. The default
    /// reads them one after the other; a store may answer in one round trip (SQLite: one
    /// reader job, one snapshot).
    ///
    /// # Errors
    /// Store errors.
    fn load_with_merges(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Option<RecordWithMerges>, StoreError>> + Send {
        async move {
            let Some(record) = self.load(tenant, customer).await? else {
                return Ok(None);
            };
            Ok(Some((record, self.merges_of(tenant, customer).await?)))
        }
    }
}

macro_rules! forward_merge_store {
    ($($wrapper:ty),*) => {$(
        impl<S: MergeStore + ?Sized> MergeStore for $wrapper {
            fn merge_record(
                &self,
                tenant: TenantId,
                id: MergeId,
            ) -> impl Future<Output = Result<Option<MergeRecord>, StoreError>> + Send {
                (**self).merge_record(tenant, id)
            }
            fn merges_of(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Vec<MergeRecord>, StoreError>> + Send {
                (**self).merges_of(tenant, customer)
            }
            fn distinct_pairs(
                &self,
                tenant: TenantId,
            ) -> impl Future<Output = Result<Vec<DistinctPair>, StoreError>> + Send {
                (**self).distinct_pairs(tenant)
            }
            fn belongings(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Belongings, StoreError>> + Send {
                (**self).belongings(tenant, customer)
            }
            fn merge_inputs(
                &self,
                tenant: TenantId,
                survivor: CustomerId,
                loser: CustomerId,
            ) -> impl Future<Output = Result<Option<(MergeSide, MergeSide)>, StoreError>> + Send {
                (**self).merge_inputs(tenant, survivor, loser)
            }
            fn load_with_merges(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Option<RecordWithMerges>, StoreError>> + Send {
                (**self).load_with_merges(tenant, customer)
            }
        }
    )*};
}
forward_merge_store!(&S, Box<S>, std::sync::Arc<S>);

/// [`check_writes`] for a whole changeset: the update of a `Merged` tombstone is accepted when
/// the changeset carries the undo of the merge that made it, or its erasure with the customer
/// it was merged into ([`Changeset::reopens`]) — still at the version read —, every other
/// write is checked by [`check_writes`]. For in-memory
/// stores; the SQL stores do the same in their statements.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::ports::check_changeset_writes;
/// use rapport_core::quality::merge_op::MergeRecordWrite;
/// let t = TenantId::from_u128(1);
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let mut tomb = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// tomb.set_lifecycle(tomb.lifecycle().merge_into(CustomerId::from_u128(1), now)?)?;
/// // The loser as it was before the merge (what an unmerge writes back), one version on.
/// let back = Customer::new(t, tomb.id(), Profile::default(), now).with_version(tomb.version() + 1);
/// let mut cs = Changeset::new();
/// cs.update(&tomb, back, Stats::default());
/// assert!(check_changeset_writes(&cs, |_| Some(&tomb)).is_err()); // a tombstone is final…
/// cs.merges.push(MergeRecordWrite::Undo { id: MergeId::from_u128(9), loser: tomb.id(), at: now });
/// assert!(check_changeset_writes(&cs, |_| Some(&tomb)).is_ok()); // …but for its unmerge
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// As [`check_writes`]; [`StoreError::Conflict`] for a revived tombstone read at another
/// version; [`crate::DomainError::Tombstoned`] when it is erased, not merged.
pub fn check_changeset_writes<'a>(
    cs: &Changeset,
    stored: impl Fn(CustomerId) -> Option<&'a Customer>,
) -> Result<(), StoreError> {
    for w in &cs.customers {
        let id = w.customer().id();
        if !cs.reopens(id) {
            check_writes(std::slice::from_ref(w), &stored)?;
            continue;
        }
        let CustomerWrite::Update {
            expected_version, ..
        } = w
        else {
            return Err(StoreError::AlreadyExists { customer: id });
        };
        let current = stored(id).ok_or(StoreError::NotFound {
            entity: Entity::Customer(id),
        })?;
        if current.version() != *expected_version {
            return Err(StoreError::Conflict {
                customer: id,
                expected: *expected_version,
                actual: current.version(),
            });
        }
        if !matches!(current.stage(), Stage::Merged { .. }) {
            current.ensure_live()?;
        }
    }
    Ok(())
}

//! [`ErasureStore`]: the erasure records. An erasure is written through
//! [`Changeset::erasures`](crate::Changeset::erasures) by `Store::apply`, with the customer's
//! update to `Erased`; this trait reads the records back.

use std::future::Future;

use crate::model::id::{CustomerId, TenantId};
use crate::ports::error::StoreError;
use crate::ports::store::Store;
use crate::privacy::ErasureRecord;

/// A store that applies erasures and keeps their records.
///
/// Contract (kit: `erasure_is_complete`): with an erasure record in a changeset, `apply` —
/// all or nothing — also strips the customer's activities (`privacy::strip_activity`: kinds,
/// times, channels, amounts kept) and consent entries (`ConsentEntry::stripped`), deletes the
/// customer's outbox messages not yet acknowledged, and stores the record; a second record
/// for the same customer fails the changeset. `erasure` reads the record back, per tenant.
///
/// ```
/// use rapport_core::ports::ErasureStore;
/// use rapport_core::{CustomerId, TenantId};
/// async fn was_erased<S: ErasureStore>(s: &S) -> bool {
///     matches!(s.erasure(TenantId::from_u128(1), CustomerId::from_u128(2)).await, Ok(Some(_)))
/// }
/// ```
pub trait ErasureStore: Store {
    /// The erasure record of `id` in `tenant`, if it was erased. A store that crypto-shreds
    /// finishes what the erasure still owes before answering for an erased customer (the SQL
    /// stores delete again its data key and those of the tombstones erased with it, and fail
    /// with `StoreError::Unavailable` while the key store fails); for a customer never
    /// erased it only looks the record up.
    fn erasure(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<ErasureRecord>, StoreError>> + Send;
}

/// The error of a changeset erasing a customer that has an erasure record already: every
/// store refuses it the same way, writing nothing.
///
/// ```
/// use rapport_core::{CustomerId, StoreError};
/// let e = rapport_core::ports::already_erased(CustomerId::from_u128(1));
/// assert!(matches!(e, StoreError::Invalid(_)));
/// ```
#[must_use]
pub fn already_erased(id: CustomerId) -> StoreError {
    StoreError::Invalid(crate::error::DomainError::InvalidChangeset {
        reason: format!("customer {id} has an erasure record already"),
    })
}

macro_rules! forward_erasure {
    ($($wrapper:ty),*) => {$(
        impl<S: ErasureStore + ?Sized> ErasureStore for $wrapper {
            fn erasure(
                &self,
                tenant: TenantId,
                id: CustomerId,
            ) -> impl Future<Output = Result<Option<ErasureRecord>, StoreError>> + Send {
                (**self).erasure(tenant, id)
            }
        }
    )*};
}
forward_erasure!(&S, Box<S>, std::sync::Arc<S>);

//! [`ConsentStore`]: the read side of the consent ledger. Entries are written through
//! [`Changeset::consents`](crate::Changeset::consents) (and moved by
//! [`Changeset::consent_moves`](crate::Changeset::consent_moves)) by `Store::apply`, in the
//! same transaction as the customer's snapshot; this trait reads them back.

use std::future::Future;

use crate::model::id::{CustomerId, TenantId};
use crate::ports::error::StoreError;
use crate::ports::store::Store;
use crate::privacy::ConsentEntry;

/// A store that keeps the consent ledger.
///
/// Contract (kit: `consent_ledger`): `apply` stores a changeset's `consents` with its other
/// writes, all or nothing (an entry id already stored fails the changeset); `consent_moves`
/// reassign every entry of `from` to `to`; `consents` returns a customer's entries in ledger
/// order — by `at`, then `recorded_at`, then id — and nothing of another tenant.
///
/// ```
/// use rapport_core::ports::ConsentStore;
/// use rapport_core::{CustomerId, TenantId};
/// async fn history<S: ConsentStore>(s: &S) -> usize {
///     s.consents(TenantId::from_u128(1), CustomerId::from_u128(2)).await.map_or(0, |h| h.len())
/// }
/// ```
pub trait ConsentStore: Store {
    /// Every ledger entry of `id` in `tenant`, in ledger order.
    fn consents(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> impl Future<Output = Result<Vec<ConsentEntry>, StoreError>> + Send;
}

/// Sorts entries in ledger order (by `at`, then `recorded_at`, then id): what
/// [`ConsentStore::consents`] returns.
///
/// ```
/// use chrono::{DateTime, Duration};
/// use rapport_core::privacy::{ConsentEntry, ConsentState};
/// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
/// let e = |id, days| ConsentEntry::new(ConsentEntryId::from_u128(id), CustomerId::from_u128(1),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Granted, "f",
///     DateTime::UNIX_EPOCH + Duration::days(days)).unwrap();
/// let mut v = vec![e(1, 3), e(2, 1)];
/// rapport_core::ports::sort_ledger(&mut v);
/// assert_eq!(v[0].id, ConsentEntryId::from_u128(2));
/// ```
pub fn sort_ledger(entries: &mut [ConsentEntry]) {
    entries.sort_by_key(|a| (a.at, a.recorded_at, a.id));
}

/// The error of a changeset whose consent entry id is already stored: every store refuses it
/// the same way (`Invalid(InvalidChangeset)`), writing nothing.
///
/// ```
/// use rapport_core::{ConsentEntryId, DomainError, StoreError};
/// let e = rapport_core::ports::entry_stored(ConsentEntryId::from_u128(1));
/// assert!(matches!(e, StoreError::Invalid(DomainError::InvalidChangeset { .. })));
/// ```
#[must_use]
pub fn entry_stored(id: crate::model::id::ConsentEntryId) -> StoreError {
    StoreError::Invalid(crate::error::DomainError::InvalidChangeset {
        reason: format!("consent entry {id} is already stored"),
    })
}

macro_rules! forward_consents {
    ($($wrapper:ty),*) => {$(
        impl<S: ConsentStore + ?Sized> ConsentStore for $wrapper {
            fn consents(
                &self,
                tenant: TenantId,
                id: CustomerId,
            ) -> impl Future<Output = Result<Vec<ConsentEntry>, StoreError>> + Send {
                (**self).consents(tenant, id)
            }
        }
    )*};
}
forward_consents!(&S, Box<S>, std::sync::Arc<S>);

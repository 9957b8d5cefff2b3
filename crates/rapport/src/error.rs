//! [`Error`]: what a use case of the service can fail with.

use rapport_core::{CustomerId, DomainError, NotifyError, StoreError};

/// A use case failed.
///
/// ```
/// use futures::executor::block_on;
/// use rapport::{Error, Service};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
///
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// let nobody = CustomerId::from_u128(42);
/// let err = block_on(svc.customer(t, nobody)).unwrap_err();
/// assert!(matches!(err, Error::NotFound(id) if id == nobody));
/// assert_eq!(err.to_string(), format!("customer {nobody} not found"));
///
/// // Domain rules surface as `Error::Domain`.
/// let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// let bad = block_on(svc.pin_tier(t, ann.id(), Tier::Gold, Actor::new("li")?, " ", svc.now()));
/// assert!(matches!(bad, Err(Error::Domain(DomainError::InvalidText { .. }))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request broke a domain rule (bad input, illegal transition, tombstone).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such customer in this tenant.
    #[error("customer {0} not found")]
    NotFound(CustomerId),
    /// The customer kept changing under us: the update was retried this many times.
    #[error("customer {customer} changed concurrently {attempts} times; giving up")]
    Contention {
        /// Who.
        customer: CustomerId,
        /// How many attempts were made.
        attempts: u32,
    },
    /// A notifier failed.
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

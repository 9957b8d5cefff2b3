//! [`Error`]: what a use case of the service can fail with.

use rapport_core::{CustomerId, DomainError, NotifyError, StoreError};

/// A use case failed.
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

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
    /// No merge record with this id in the tenant.
    #[error("merge {0} not found")]
    MergeNotFound(rapport_core::MergeId),
    /// A CLV model could not be fitted (too few customers, no convergence) or used.
    #[error(transparent)]
    Clv(#[from] rapport_clv::ClvError),
    /// One row of a batch (a consent import) was refused: nothing of the batch was written.
    #[error("row {row}: {source}")]
    Row {
        /// The row's index in the batch (from 0).
        row: usize,
        /// What was wrong with it ([`Error::NotFound`], a tombstone, bad text, ...).
        source: Box<Error>,
    },
}

impl Error {
    /// The kind of the error as a fixed, lower-case label (`"not_found"`, `"store.conflict"`,
    /// `"domain.invalid_email"`, ...): what the service's logs carry in their `error` field,
    /// and a label a host can count by. It holds no data, while the error's `Display` may
    /// hold a driver's message or a rejected text.
    ///
    /// ```
    /// use rapport::Error;
    /// use rapport::core::{CustomerId, Nps, StoreError};
    /// assert_eq!(Error::NotFound(CustomerId::from_u128(1)).kind(), "not_found");
    /// assert_eq!(Error::from(Nps::new(11).unwrap_err()).kind(), "domain.out_of_range");
    /// assert_eq!(Error::from(StoreError::unavailable("busy")).kind(), "store.unavailable");
    /// // A batch's row error is labelled by what was wrong with the row.
    /// let row = Error::Row { row: 3, source: Box::new(Error::NotFound(CustomerId::from_u128(1))) };
    /// assert_eq!(row.kind(), "not_found");
    /// ```
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Domain(e) => domain_kind(e),
            Error::Store(e) => store_kind(e),
            Error::NotFound(_) => "not_found",
            Error::Contention { .. } => "contention",
            Error::Notify(NotifyError::Failed { .. }) => "notify.failed",
            Error::Notify(NotifyError::Rejected { .. }) => "notify.rejected",
            Error::Notify(_) => "notify",
            Error::MergeNotFound(_) => "merge_not_found",
            Error::Clv(_) => "clv",
            Error::Row { source, .. } => source.kind(),
        }
    }
}

/// [`Error::kind`] of a store error.
pub(crate) fn store_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { .. } => "store.not_found",
        StoreError::AlreadyExists { .. } => "store.already_exists",
        StoreError::ContactTaken { .. } => "store.contact_taken",
        StoreError::Conflict { .. } => "store.conflict",
        StoreError::Invalid(e) => domain_kind(e),
        StoreError::Unsupported { .. } => "store.unsupported",
        StoreError::Unavailable { .. } => "store.unavailable",
        StoreError::Corrupt { .. } => "store.corrupt",
        StoreError::Backend { .. } => "store.backend",
        StoreError::CaseConflict { .. } | StoreError::AccountConflict { .. } => "store.conflict",
        _ => "store",
    }
}

fn domain_kind(e: &DomainError) -> &'static str {
    match e {
        DomainError::InvalidId { .. } => "domain.invalid_id",
        DomainError::InvalidCurrency { .. } => "domain.invalid_currency",
        DomainError::CurrencyMismatch { .. } => "domain.currency_mismatch",
        DomainError::Overflow { .. } => "domain.overflow",
        DomainError::InvalidEmail { .. } => "domain.invalid_email",
        DomainError::InvalidPhone { .. } => "domain.invalid_phone",
        DomainError::InvalidName { .. } => "domain.invalid_name",
        DomainError::InvalidRegion { .. } => "domain.invalid_region",
        DomainError::InvalidTag { .. } => "domain.invalid_tag",
        DomainError::InvalidText { .. } => "domain.invalid_text",
        DomainError::NegativeAmount { .. } => "domain.negative_amount",
        DomainError::OutOfRange { .. } => "domain.out_of_range",
        DomainError::Tombstoned { .. } => "domain.tombstoned",
        DomainError::IllegalTransition { .. } => "domain.illegal_transition",
        DomainError::InvalidChangeset { .. } => "domain.invalid_changeset",
        DomainError::InvalidMerge { .. } => "domain.invalid_merge",
        DomainError::InvalidPolicy { .. } => "domain.invalid_policy",
        DomainError::UnknownOrder { .. } => "domain.unknown_order",
        DomainError::RefundExceedsOrder { .. } => "domain.refund_exceeds_order",
        DomainError::RefundBeforeOrder { .. } => "domain.refund_before_order",
        DomainError::IllegalCaseTransition { .. } => "domain.illegal_case_transition",
        DomainError::NothingToConfirm { .. } => "domain.nothing_to_confirm",
        DomainError::CannotUnmerge { .. } => "domain.cannot_unmerge",
        DomainError::ImportedActivity { .. } => "domain.imported_activity",
        _ => "domain",
    }
}

//! What a store can fail with.

use std::error::Error as StdError;

use crate::error::DomainError;
use crate::model::contact::ContactKind;
use crate::model::id::CustomerId;

/// A store failed. Kinds are semantic so callers can react; the driver's error is kept as
/// the source.
///
/// ```
/// use rapport_core::{CustomerId, DomainError, Nps, StoreError};
/// let conflict = StoreError::Conflict { customer: CustomerId::from_u128(2), expected: 3, actual: 4 };
/// assert!(!conflict.is_retryable()); // reload and decide again instead
/// assert_eq!(conflict.to_string(),
///     "customer 00000000-0000-0000-0000-000000000002 is at version 4, the change expected 3");
/// let busy = StoreError::unavailable("pool exhausted");
/// assert!(matches!(&busy, StoreError::Unavailable { reason } if reason == "pool exhausted"));
/// // Domain errors convert, so a store can use `?` on `Changeset::validate`.
/// let invalid: StoreError = Nps::new(11).unwrap_err().into();
/// assert!(matches!(invalid, StoreError::Invalid(DomainError::OutOfRange { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The customer (or other row) does not exist.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for: which kind of row, under which key.
        entity: Entity,
    },
    /// A create found the customer already there (creates are never upserts).
    #[error("customer {customer} already exists")]
    AlreadyExists {
        /// The customer.
        customer: CustomerId,
    },
    /// The write would give a normalised email or phone number a second live customer in the
    /// tenant: `existing` holds it (one live customer per email and per phone, enforced by
    /// every store). Names the kind of contact, never its value. Not retryable: the host
    /// decides (return the existing customer, merge, or ask the user).
    ///
    /// ```
    /// use rapport_core::{ContactKind, CustomerId, StoreError};
    /// let e = StoreError::ContactTaken {
    ///     customer: CustomerId::from_u128(2),
    ///     contact: ContactKind::Email,
    ///     existing: CustomerId::from_u128(1),
    /// };
    /// assert_eq!(e.to_string(), "the email of customer 00000000-0000-0000-0000-000000000002 \
    ///     belongs to customer 00000000-0000-0000-0000-000000000001 (one live customer per email or phone)");
    /// assert!(!e.is_retryable());
    /// ```
    #[error(
        "the {contact} of customer {customer} belongs to customer {existing} (one live customer per email or phone)"
    )]
    ContactTaken {
        /// The customer the refused write would have given the contact.
        customer: CustomerId,
        /// Which of its contacts.
        contact: ContactKind,
        /// The live customer that holds it.
        existing: CustomerId,
    },
    /// An update was based on a version that is no longer current.
    #[error("customer {customer} is at version {actual}, the change expected {expected}")]
    Conflict {
        /// The customer.
        customer: CustomerId,
        /// The version the change was based on.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// The changeset broke a domain rule.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The backend cannot do this.
    #[error("unsupported by this store: {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// The backend is unreachable or overloaded; retrying may help.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// Stored data does not decode.
    #[error("corrupt data: {reason}")]
    Corrupt {
        /// What did not decode.
        reason: String,
    },
    /// Any other backend failure, with the driver's error.
    #[error("{backend} failed: {source}")]
    Backend {
        /// Which backend (`"sqlite"`, `"postgres"`, ...).
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A case write found the stored case at another version than it read (`expected: 0`:
    /// a create found the case already there; `actual: 0`: an update found none).
    ///
    /// ```
    /// use rapport_core::{CaseId, StoreError};
    /// let e = StoreError::CaseConflict { case: CaseId::from_u128(1), expected: 2, actual: 3 };
    /// assert_eq!(e.to_string(), "case 00000000-0000-0000-0000-000000000001 is at version 3, the change expected 2");
    /// ```
    #[error("case {case} is at version {actual}, the change expected {expected}")]
    CaseConflict {
        /// The case.
        case: crate::model::id::CaseId,
        /// The version the change was based on (0 for a create).
        expected: u64,
        /// The stored version (0 when absent).
        actual: u64,
    },
    /// An account write found the stored account at another version than it read
    /// (`expected: 0`: a create found it there; `actual: 0`: an update found none).
    #[error("account {account} is at version {actual}, the change expected {expected}")]
    AccountConflict {
        /// The account.
        account: crate::model::id::AccountId,
        /// The version the change was based on (0 for a create).
        expected: u64,
        /// The stored version (0 when absent).
        actual: u64,
    },
}

impl StoreError {
    /// An [`StoreError::Unavailable`] with a reason.
    ///
    /// ```
    /// use rapport_core::StoreError;
    /// let e = StoreError::unavailable("database is locked");
    /// assert_eq!(e.to_string(), "store unavailable: database is locked");
    /// assert!(e.is_retryable());
    /// ```
    #[must_use]
    pub fn unavailable(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
        }
    }

    /// True when retrying the same call may succeed (unavailability, not conflicts: a
    /// conflict needs a reload and a new decision).
    ///
    /// ```
    /// use rapport_core::ports::StoreError;
    /// assert!(StoreError::unavailable("busy").is_retryable());
    /// ```
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Which row a [`StoreError::NotFound`] looked for: the kind of entity and its key, so a host
/// can map it (to a 404, say) without parsing a message.
///
/// ```
/// use rapport_core::{CustomerId, StoreError, ports::Entity};
/// let e = StoreError::NotFound { entity: Entity::Customer(CustomerId::from_u128(7)) };
/// assert!(matches!(e, StoreError::NotFound { entity: Entity::Customer(id) } if id == CustomerId::from_u128(7)));
/// assert_eq!(Entity::Customer(CustomerId::from_u128(7)).kind(), "customer");
/// assert!(e.to_string().starts_with("customer "));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A customer, by id.
    Customer(CustomerId),
    /// A case, by id.
    Case(crate::model::id::CaseId),
    /// An account, by id.
    Account(crate::model::id::AccountId),
}

impl Entity {
    /// The kind of row, in lower case (`"customer"`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Entity::Customer(_) => "customer",
            Entity::Case(_) => "case",
            Entity::Account(_) => "account",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entity::Customer(id) => write!(f, "customer {id}"),
            Entity::Case(id) => write!(f, "case {id}"),
            Entity::Account(id) => write!(f, "account {id}"),
        }
    }
}

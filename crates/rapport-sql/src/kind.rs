//! [`store_error_kind`]: a store error as a fixed label, for logs and metrics.

use rapport_core::StoreError;

/// The kind of a [`StoreError`] as a fixed, lower-case label (`"conflict"`, `"backend"`,
/// ...): what the SQL stores put in the `error` field of their logs. Unlike the error's
/// `Display`, which may carry a driver's message (and a driver's message may quote a stored
/// value), the label holds no data.
///
/// ```
/// use rapport_core::{CustomerId, StoreError};
/// use rapport_sql::store_error_kind;
/// let conflict = StoreError::Conflict { customer: CustomerId::from_u128(1), expected: 1, actual: 2 };
/// assert_eq!(store_error_kind(&conflict), "conflict");
/// assert_eq!(store_error_kind(&StoreError::unavailable("pool exhausted")), "unavailable");
/// ```
#[must_use]
pub fn store_error_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { .. } => "not_found",
        StoreError::AlreadyExists { .. } => "already_exists",
        StoreError::Conflict { .. } => "conflict",
        StoreError::Invalid(_) => "invalid",
        StoreError::Unsupported { .. } => "unsupported",
        StoreError::Unavailable { .. } => "unavailable",
        StoreError::Corrupt { .. } => "corrupt",
        StoreError::Backend { .. } => "backend",
        _ => "other",
    }
}

//! [`store_error_kind`]: a store error as a fixed label, for logs and metrics; [`log_apply`]
//! and [`log_import`]: the one event each SQL store writes at the end of an apply or an
//! import (written once here, so both stores log the same fields).

use std::time::Instant;

use rapport_core::{Applied, StoreError};

use crate::ImportReport;

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
        StoreError::ContactTaken { .. } => "contact_taken",
        StoreError::Conflict { .. } => "conflict",
        StoreError::Invalid(_) => "invalid",
        StoreError::Unsupported { .. } => "unsupported",
        StoreError::Unavailable { .. } => "unavailable",
        StoreError::Corrupt { .. } => "corrupt",
        StoreError::Backend { .. } => "backend",
        StoreError::CaseConflict { .. } | StoreError::AccountConflict { .. } => "conflict",
        _ => "other",
    }
}

fn elapsed_us(started: Option<Instant>) -> u64 {
    started.map_or(0, |s| {
        u64::try_from(s.elapsed().as_micros()).unwrap_or(u64::MAX)
    })
}

/// Logs an apply's `outcome` (`applied`, `duplicate`, or `error` with its
/// [kind](store_error_kind)) and `duration_us` as one debug event in the caller's span.
/// `started` is `None` when the level is off (no clock read then).
///
/// ```
/// use rapport_core::{Applied, StoreError};
/// rapport_sql::log_apply(&Ok(Applied::default()), None);
/// rapport_sql::log_apply(&Err(StoreError::unavailable("busy")), Some(std::time::Instant::now()));
/// ```
pub fn log_apply(out: &Result<Applied, StoreError>, started: Option<Instant>) {
    let duration_us = elapsed_us(started);
    match out {
        Ok(a) => tracing::debug!(
            outcome = if a.is_duplicate() {
                "duplicate"
            } else {
                "applied"
            },
            duration_us,
            "applied"
        ),
        Err(e) => tracing::debug!(
            outcome = "error",
            error = store_error_kind(e),
            duration_us,
            "apply failed"
        ),
    }
}

/// Logs a bulk import's summary (`rows`, `inserted`, `skipped`, `duration_us`) as one info
/// event, or its failure's kind as a warning. The error is given as its kind (a fixed label,
/// never a message that could quote a stored value).
///
/// ```
/// use rapport_sql::ImportReport;
/// rapport_sql::log_import(Ok(&ImportReport::default()), None);
/// rapport_sql::log_import(Err("backend"), Some(std::time::Instant::now()));
/// ```
pub fn log_import(out: Result<&ImportReport, &'static str>, started: Option<Instant>) {
    let duration_us = elapsed_us(started);
    match out {
        Ok(r) => tracing::info!(
            rows = r.rows,
            inserted = r.inserted,
            skipped = r.skipped,
            duration_us,
            "imported"
        ),
        Err(kind) => tracing::warn!(error = kind, duration_us, "import failed"),
    }
}

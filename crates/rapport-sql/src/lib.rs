//! What rapport's SQL stores share, written once: **rapport-sql** holds the parts of
//! `rapport-sqlite` and `rapport-postgres` that do not depend on a driver, so a new table,
//! column or segment predicate is written here and both backends follow.
//!
//! - [`segment`]: a [`Segment`](rapport_core::Segment) compiled to a parameterised SQL
//!   prefilter over the customer row, for any [`Dialect`].
//! - [`Sql`], [`Value`], [`Dialect`]: SQL text with bound values, rendered with a dialect's
//!   placeholders. A backend implements [`Dialect`] once (booleans, placeholders, days, JSON
//!   access to the tag map, text functions, how money compares) and keeps only its driver
//!   code: connections, statements, transactions, type conversions.
//! - [`codec`]: records as JSON text, [`CorruptRow`](codec::CorruptRow) decode errors, the
//!   float projection of money.
//! - [`ImportReport`]: what a bulk import did; [`Migration`], [`latest_version`], [`pending`]:
//!   migration bookkeeping.
//! - [`store_error_kind`]: a store error as a fixed label for logs (no driver message).
//! - [`seal`]: field encryption of rows (crypto-shredding); [`shred`]: the erased customers'
//!   key deletions a store owes when the key store failed after the erasure's commit, retried
//!   when the erasure is asked for again.
//! - `testing` (feature `testing`): the segment-query cases both backends' tests run against
//!   the in-memory reference.
//!
//! It depends on `rapport-core` only: no driver, no IO, no clock.
//!
//! ```
//! use rapport_sql::{ImportReport, Migration, pending};
//! const MIGRATIONS: &[Migration] = &[Migration { version: 1, name: "init", sql: "CREATE TABLE t (x int)" }];
//! // A new database needs every migration; one newer than the code is refused.
//! assert_eq!(pending(MIGRATIONS, 0)?.len(), 1);
//! assert!(pending(MIGRATIONS, 2).is_err());
//! assert_eq!(ImportReport::default().rows, 0);
//! # Ok::<(), rapport_sql::SchemaTooNew>(())
//! ```
#![forbid(unsafe_code)]

pub mod clv_model;
pub mod codec;
mod import;
mod kind;
mod migrate;
pub mod seal;
pub mod segment;
pub mod shred;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use import::{ImportReport, logged_import};
pub use kind::{log_apply, log_import, store_error_kind};
pub use migrate::{Migration, SchemaTooNew, latest_version, pending};
pub use sql::{Dialect, LineItemsSql, MoneyColumn, Sql, Value};

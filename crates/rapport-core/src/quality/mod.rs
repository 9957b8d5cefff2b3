//! Data quality: duplicate candidates across a book (blocking + Jaro-Winkler) and the
//! field-by-field merge preview with survivorship rules. Normalisation of names, emails and
//! phones happens where those types are built, in [`model`](crate::model).
//!
//! ```
//! use rapport_core::quality::dedupe::DedupePolicy;
//! assert!(DedupePolicy::default().validate().is_ok());
//! ```

pub mod account_merge;
pub mod dedupe;
pub mod merge;
pub mod merge_op;

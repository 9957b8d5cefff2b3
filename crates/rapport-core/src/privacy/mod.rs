//! Privacy: the consent ledger ([`ledger`]) — every grant, withdrawal and pending double
//! opt-in as append-only entries whose current state is a pure function of the ledger — and
//! erasure ([`erasure`]): what removing a person's data writes, with a record of it — and
//! the crypto-shredding primitives ([`crypto`]): sealed personal fields, blind indexes.
//!
//! ```
//! use chrono::DateTime;
//! use rapport_core::privacy::{ConsentEntry, ConsentState, state_of};
//! use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
//! let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
//!     Purpose::Marketing, ContactChannel::Email, ConsentState::Granted, "signup", DateTime::UNIX_EPOCH)?;
//! assert_eq!(state_of(&[e], Purpose::Marketing, ContactChannel::Email), Some(ConsentState::Granted));
//! # Ok::<(), rapport_core::DomainError>(())
//! ```

pub mod crypto;
pub mod erasure;
pub mod export;
pub mod ledger;

pub use erasure::{
    ERASED_REASON, ErasurePlan, ErasureRecord, MAX_CODE_LEN, RetentionPolicy, plan_erasure,
    strip_activity,
};
pub use export::{
    Decided, DecisionChange, EXPORT_SCHEMA, EXPORT_SCHEMA_VERSION, ExportDocument, ExportedMerge,
    MergeRole, decision_history,
};

pub use ledger::{
    ConsentBatchDecision, ConsentDecision, ConsentEntry, ConsentState, ERASED_SOURCE, LegalBasis,
    MAX_REF_LEN, confirmation, current, record, record_all, snapshot, state_of,
};

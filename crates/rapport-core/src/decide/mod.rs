//! The rules: pure functions of a customer, their stats, the tenant's [`Policies`](policy::Policies)
//! and `now`, each decision with a [`Reason`](reason::Reason) — the segment language, tag
//! rules, RFM, tiers, the lifecycle, churn risk, population ranks, and [`evaluate`](evaluate::evaluate),
//! which runs them all.
//!
//! ```
//! use rapport_core::decide::{policy::Policies, segment::Segment};
//! assert!(Policies::default().validate().is_ok());
//! assert!(Segment::parse("tier >= gold and stage == active").is_ok());
//! ```

pub mod account;
pub mod account_segment;
pub mod account_value;
pub mod case;
pub mod churn;
pub mod evaluate;
pub mod history;
pub mod lifecycle;
pub mod policy;
pub mod rank;
pub mod reason;
pub mod rfm;
pub mod segment;
pub mod simulate;
pub mod sla;
pub mod tag_rule;
pub mod tier;

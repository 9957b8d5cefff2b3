//! The model: every type a customer *holds* — ids and keys, the profile and its contacts,
//! tags, activities, money, the folded stats, and the state the rules maintain (lifecycle
//! stage, tier, consents). Types here validate at construction and depend on nothing in
//! [`decide`](crate::decide): the arrows run decide → model, never back.
//!
//! ```
//! use rapport_core::model::{customer::Customer, id::{CustomerId, TenantId}};
//! use rapport_core::{Profile, Stage};
//! let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), chrono::DateTime::UNIX_EPOCH);
//! assert_eq!(c.stage(), Stage::Prospect);
//! ```

pub mod account;
pub mod activity;
pub mod case;
pub mod category_spend;
pub mod clv_model;
pub mod consent;
pub mod contact;
pub mod customer;
pub mod id;
pub mod lifecycle;
pub mod line_item;
pub mod money;
pub mod order;
pub mod pii;
pub(crate) mod rfc3339;
pub mod stats;
pub mod tag;
pub mod tier;
pub mod zone;

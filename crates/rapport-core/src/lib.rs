//! The pure core of **rapport**: the customer model and the rules of customer management.
//!
//! Everything here is a deterministic function of its inputs. The crate does no IO, reads no
//! clock and makes no random ids: time (`now`) and ids come in as arguments, and every state
//! change is returned as a [`Changeset`] that a store applies atomically. That makes each
//! decision replayable and testable without a database.
//!
//! # The model in one example
//! ```
//! use chrono::{TimeZone, Utc};
//! use rapport_core::*;
//! use rust_decimal::Decimal;
//!
//! let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
//! let cn: Region = "CN".parse()?;
//! let profile = Profile {
//!     display_name: Some(Pii::new(Profile::normalise_name(" Wang  Fang ")?)),
//!     email: Some(Pii::new(Email::parse("Wang.Fang@Example.cn")?)),
//!     phone: Some(Pii::new(Phone::parse("138 0013 8000", cn)?)),
//!     ..Profile::default()
//! };
//! let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(7), profile, now);
//! assert!(!format!("{customer:?}").contains("Wang")); // personal data is redacted
//!
//! let purchase = Activity::new(
//!     ActivityId::from_u128(1), customer.id(), now, Channel::Store,
//!     IdempotencyKey::new("pos-1-0001")?,
//!     ActivityKind::Purchase {
//!         order_id: OrderId::new("0001")?,
//!         amount: Money::new(Decimal::new(29900, 2), Currency::CNY),
//!         margin: Some(Decimal::new(9000, 2)),
//!     },
//! )?;
//! let stats = Stats::from_activities([&purchase])?;
//! assert_eq!(stats.revenue().unwrap().to_string(), "299.00 CNY");
//! # Ok::<(), DomainError>(())
//! ```
//!
//! # Modules
//! One module per domain concept: [`customer`], [`contact`], [`activity`], [`stats`], [`tag`],
//! [`tag_rule`], [`segment`], [`tier`], [`lifecycle`], [`rfm`], [`churn`], [`evaluate`](mod@evaluate),
//! [`dedupe`], [`merge`], [`policy`], [`rank`](mod@rank), [`privacy`], [`money`], [`changeset`],
//! [`event`], [`ports`], [`error`].
#![forbid(unsafe_code)]

pub mod activity;
pub mod changeset;
pub mod churn;
pub mod contact;
pub mod customer;
pub mod dedupe;
pub mod error;
pub mod evaluate;
pub mod event;
pub mod id;
pub mod lifecycle;
pub mod merge;
pub mod money;
pub mod pii;
pub mod policy;
pub mod ports;
pub mod privacy;
pub mod rank;
pub mod reason;
pub mod rfm;
pub mod segment;
pub mod stats;
pub mod tag;
pub mod tag_rule;
pub mod text;
pub mod tier;

pub use activity::{Activity, ActivityKind, ActivityType, Channel, Csat, Feedback, Nps, Severity};
pub use changeset::{Changeset, CustomerWrite};
pub use churn::{ChurnPolicy, ChurnRisk};
pub use contact::{ContactKey, Email, Phone, Region};
pub use customer::{AttrKey, AttrValue, Attributes, Customer, Profile};
pub use dedupe::{DedupePolicy, DuplicateCandidate, MatchReason, duplicate_candidates};
pub use error::DomainError;
pub use evaluate::{EvalInputs, Evaluation, evaluate};
pub use event::{DomainEvent, OutboxMessage};
pub use id::{ActivityId, CustomerId, MessageId, TenantId};
pub use lifecycle::{
    Lifecycle, LifecyclePolicy, SilentAfter, Stage, StageDecision, StageOverride, advance, stage_at,
};
pub use merge::{
    FieldDecision, FieldOutcome, MergeField, MergePlan, MergePreview, Survivorship,
    SurvivorshipPolicy, ValueSource,
};
pub use money::{Currency, Money};
pub use pii::Pii;
pub use policy::Policies;
pub use ports::{Applied, Notifier, NotifyError, Page, Record, Store, StoreError, TimeRange};
pub use privacy::{Consent, Consents, ContactChannel, Purpose};
pub use rank::{RankInput, Ranked, rank, rank_values};
pub use reason::{Measure, Reason, Value};
pub use rfm::{
    RfmPolicy, RfmScores, RfmSegment, RfmValues, rank_counts, rank_counts_decimal, rfm_scores,
};
pub use segment::{Segment, SegmentContext, SegmentParseError};
pub use stats::{DayTotals, Stamped, Stats, Window};
pub use tag::{Tag, TagInfo, TagSet, TagSource};
pub use tag_rule::{TagChange, TagRule, TagRuleOutcome, evaluate_tag_rules};
pub use text::{Actor, IdempotencyKey, OrderId};
pub use tier::{Rungs, Tier, TierDecision, TierLadder, TierMetric, TierPin, TierPolicy, TierState};

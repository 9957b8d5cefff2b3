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
//! # Map
//! The crate is grouped by concept, one folder per area of DOMAIN.md's glossary; the types
//! are re-exported at the root, so `rapport_core::Customer` is the path to use.
//!
//! | folder | holds |
//! |---|---|
//! | [`model`] | what a customer holds: ids and keys, [`Customer`]/[`Profile`], contacts, [`Pii`], tags, activities, [`Money`], [`Stats`], and the state the rules keep (lifecycle [`Stage`], [`TierState`], [`Consents`]) |
//! | [`decide`] | the rules, each with a [`Reason`]: [`segment`], tag rules, RFM, tier ladders, lifecycle, churn risk, ranks, [`evaluate()`] |
//! | [`quality`] | duplicate candidates and merge previews |
//! | [`recommend`] | item-to-item cosine recommendations over co-purchases, with explanations and a popularity fallback |
//! | [`metrics`] | the periodic review: churn and win-back rates, cohorts, conversion, stage flows, NPS, CSAT (used through `rapport_core::metrics::…`) |
//! | [`privacy`] | the consent ledger: entries, the current state as a function of them |
//! | [`ports`] | the traits hosts and backends implement: [`Store`] (the repository), [`Outbox`], [`Notifier`], and the boxed [`DynStore`](ports::DynStore) |
//! | root | [`Changeset`] (every state change), [`DomainEvent`]/[`OutboxMessage`], [`DomainError`] |
#![forbid(unsafe_code)]

pub mod automation;
pub mod changeset;
pub mod decide;
pub mod error;
pub mod event;
pub mod metrics;
pub mod model;
pub mod ports;
pub mod privacy;
pub mod quality;
pub mod recommend;

pub use decide::segment;

pub use event::EventCause;

pub use changeset::{
    AccountActivityMove, AccountWrite, CaseWrite, Changeset, ConsentEntryMove, ConsentMove,
    CustomerWrite, LinkRemoval,
};
pub use decide::account::{check_parent, make_primary};
pub use decide::account_segment::{ACCOUNT_PREFIX, AccountSegment};
pub use decide::account_value::{
    AccountEvaluation, AccountPolicies, evaluate_account, rank_accounts, revenue_by_contact,
    roll_up,
};
pub use decide::case::{CaseMetrics, CasePolicy, CaseSignals, CsatGroup};
pub use decide::churn::{ChurnPolicy, ChurnRisk};
pub use decide::evaluate::{EvalInputs, Evaluation, evaluate, evaluate_with_purchases};
pub use decide::history::{AsOf, replay};
pub use decide::lifecycle::{
    Advanced, LifecyclePolicy, SilentAfter, StageDecision, advance, median_gap, stage_at, win_backs,
};
pub use decide::policy::{Policies, StatsPolicy};
pub use decide::rank::{RankInput, Ranked, rank, rank_values};
pub use decide::reason::{Measure, Reason, Value};
pub use decide::rfm::{
    RankCount, RfmPolicy, RfmScores, RfmSegment, RfmValues, rank_counts, rank_counts_decimal,
    rfm_scores,
};
pub use decide::segment::{PurchaseSummary, Segment, SegmentContext, SegmentParseError};
pub use decide::simulate::{
    Census, Change, Move, Simulation, TierAndStage, decide_tier_and_stage, ranked_inputs,
    ranking_for, simulate,
};
pub use decide::sla::{
    BusinessHours, BusinessHoursSpec, DayHours, SlaBreach, SlaClock, SlaEvaluation, SlaKind,
    SlaPolicy, SlaTarget, SlaTargets,
};
pub use decide::tag_rule::{
    TagChange, TagRule, TagRuleOutcome, evaluate_tag_rules, evaluate_tag_rules_unranked,
};
pub use decide::tier::{Rungs, TierDecision, TierLadder, TierMetric, TierPolicy};
pub use error::DomainError;
pub use event::{DomainEvent, OutboxMessage};
pub use model::account::{
    Account, AccountActivity, AccountLink, AccountMerge, AccountRole, AccountRoleSet,
    AccountStanding, MAX_ACCOUNT_DEPTH,
};
pub use model::activity::{
    Activity, ActivityKind, ActivityType, Channel, Csat, Feedback, Nps, Severity,
};
pub use model::case::{Case, CaseSeverity, CaseStatus, NewCase, StatusChange};
pub use model::category_spend::{CategoryDay, CategorySpend};
pub use model::clv_model::{ClvModel, ClvPeriod, FittedClv, SpendModel};
pub use model::consent::{Consent, Consents, ContactChannel, Purpose};
pub use model::contact::{ContactKey, ContactKind, Email, Phone, Region};
pub use model::customer::{AttrKey, AttrValue, Attributes, Customer, Profile};
pub use model::id::ConsentEntryId;
pub use model::id::{AccountId, AccountName};
pub use model::id::{ActivityId, CustomerId, MergeId, MessageId, TenantId};
pub use model::id::{Actor, IdempotencyKey, OrderId};
pub use model::id::{Assignee, CaseCategory, CaseId};
pub use model::id::{ProductCategory, Sku};
pub use model::lifecycle::{Lifecycle, Stage, StageOverride};
pub use model::line_item::{LineItem, LineItems, check_line_total};
pub use model::money::{Currency, Money};
pub use model::order::{OrderLedger, OrderState, RefundCheck};
pub use model::pii::Pii;
pub use model::stats::{DayTotals, Stamped, Stats, Window};
pub use model::tag::{Tag, TagInfo, TagSet, TagSource};
pub use model::tier::{Tier, TierPin, TierState};
pub use model::zone::TenantZone;
pub use ports::LineItemStore;
pub use ports::{AccountStore, CaseQuery, CaseStore};
pub use ports::{
    Applied, Notifier, NotifyError, Outbox, Page, Record, Store, StoreError, TimeRange,
};
pub use quality::account_merge::{AccountMergeInputs, plan_account_merge, plan_account_unmerge};
pub use quality::dedupe::{DedupePolicy, DuplicateCandidate, MatchReason, duplicate_candidates};
pub use quality::merge::{
    FieldConflict, FieldDecision, FieldOutcome, HostSurvivorship, MergeField, MergePlan,
    MergePreview, Survivorship, SurvivorshipPolicy, ValueSource, profile_differences,
};
pub use quality::merge_op::{
    ActivityMove, Belongings, DistinctPair, MergeContext, MergeRecord, MergeRecordWrite, Planned,
    plan_merge, plan_unmerge,
};

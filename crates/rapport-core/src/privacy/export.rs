//! Export (access and portability, GDPR Art. 15 and 20, PIPL Art. 45): everything held about
//! one person as one document with a versioned schema (`docs/export.schema.json`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::evaluate::{EvalInputs, evaluate};
use crate::decide::policy::Policies;
use crate::decide::reason::Reason;
use crate::error::DomainError;
use crate::model::activity::Activity;
use crate::model::customer::Customer;
use crate::model::id::{Actor, CustomerId, MergeId, TenantId};
use crate::model::stats::Stats;
use crate::privacy::{ConsentEntry, ErasureRecord};
use crate::quality::merge::FieldOutcome;
use crate::quality::merge_op::MergeRecord;

/// The schema version [`ExportDocument`]s are written in (2: merges and the tier and stage
/// history; 3: account links and cases).
pub const EXPORT_SCHEMA_VERSION: u32 = 3;

/// The URI naming the export schema (`docs/export.schema.json`).
pub const EXPORT_SCHEMA: &str = "https://rapport.dev/schema/export/v3.json";

/// Which side of a merge the exported person was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeRole {
    /// The record kept.
    Survivor,
    /// The record tombstoned into the other.
    Loser,
}

/// A merge the person took part in, as the export shows it: the person's own state before
/// the merge, the other record only by id (its personal data belongs to someone who may be
/// another person), and per field which side's value the merged record kept.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::privacy::export::{ExportedMerge, MergeRole};
/// let t = TenantId::from_u128(1);
/// let now = DateTime::UNIX_EPOCH;
/// let mut ann = Customer::new(t, CustomerId::from_u128(1), Profile::default(), now);
/// ann.profile.display_name = Some(Pii::new("Ann".into()));
/// let mut bob = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// bob.profile.display_name = Some(Pii::new("Bob".into()));
/// let preview = MergePlan::preview(&ann, &bob, &SurvivorshipPolicy::default())?;
/// let record = MergeRecord {
///     id: MergeId::from_u128(9), survivor: ann.id(), loser: bob.id(), actor: Actor::new("ops")?,
///     at: now, preview, survivor_before: ann.clone(), loser_before: bob, loser_stats_before: Stats::default(),
///     moved: vec![], moved_consents: vec![], moved_cases: vec![], links_before: vec![],
///     links_merged: vec![], undone_at: None,
/// };
/// let m = ExportedMerge::of(&record, ann.id()).expect("ann took part");
/// assert_eq!((m.role, m.other), (MergeRole::Survivor, CustomerId::from_u128(2)));
/// assert_eq!(m.before, ann); // Ann's own state, not Bob's
/// assert!(!serde_json::to_string(&m)?.contains("Bob"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportedMerge {
    /// The merge's id.
    pub id: MergeId,
    /// The person's side.
    pub role: MergeRole,
    /// The other record's id (nothing else of it).
    pub other: CustomerId,
    /// Who asked for the merge (an opaque reference).
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// When it was undone, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<DateTime<Utc>>,
    /// The person's record as it was just before the merge.
    pub before: Customer,
    /// Per profile field and attribute: which side's value was kept, and why (no values).
    pub fields: Vec<FieldOutcome>,
    /// How many activities, consent entries and cases moved from the loser to the survivor.
    pub moved_activities: usize,
    /// See `moved_activities`.
    pub moved_consents: usize,
    /// See `moved_activities`.
    pub moved_cases: usize,
}

impl ExportedMerge {
    /// The view of `record` for `person`; `None` when `person` is neither side.
    #[must_use]
    pub fn of(record: &MergeRecord, person: CustomerId) -> Option<Self> {
        let (role, other, before) = if record.survivor == person {
            (MergeRole::Survivor, record.loser, &record.survivor_before)
        } else if record.loser == person {
            (MergeRole::Loser, record.survivor, &record.loser_before)
        } else {
            return None;
        };
        Some(Self {
            id: record.id,
            role,
            other,
            actor: record.actor.clone(),
            at: record.at,
            undone_at: record.undone_at,
            before: before.clone(),
            fields: record.preview.fields.clone(),
            moved_activities: record.moved.len(),
            moved_consents: record.moved_consents.len(),
            moved_cases: record.moved_cases.len(),
        })
    }
}

/// What a [`DecisionChange`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decided {
    /// The tier (customer pyramid rung).
    Tier,
    /// The lifecycle stage.
    Stage,
}

/// One change of tier or stage in the person's history, with the reason the rule gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DecisionChange {
    /// When.
    pub at: DateTime<Utc>,
    /// Tier or stage.
    pub what: Decided,
    /// The value before (`iron`, `active`, ...).
    pub from: String,
    /// The value after.
    pub to: String,
    /// Why.
    pub reason: Reason,
}

/// The person's tier and stage changes with their reasons, recomputed from the activity log
/// under `policies`: the activities folded in time order and the customer evaluated at the
/// last activity of each UTC day that has any (the rules measure in days: revenue over 365
/// days, days since the last purchase), then at `now`. A change is dated by the activity it
/// was decided at. Manual pins and overrides are not in the log: the current ones, with their
/// reasons, are in the customer record. One evaluation per active day, not per activity,
/// keeps a 10k-activity export fast.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::privacy::export::{Decided, decision_history};
/// use rust_decimal::Decimal;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), t0);
/// let buy = Activity::new(ActivityId::from_u128(1), c.id(), t0 + Duration::days(1), Channel::Web,
///     IdempotencyKey::new("o1")?, ActivityKind::Purchase { order_id: OrderId::new("1")?,
///     amount: Money::new(Decimal::from(3_000), Currency::USD), margin: None })?;
/// let h = decision_history(&c, &[buy], &Policies::default(), t0 + Duration::days(2))?;
/// let stage = h.iter().find(|d| d.what == Decided::Stage).unwrap();
/// assert_eq!((stage.from.as_str(), stage.to.as_str()), ("prospect", "new"));
/// assert_eq!(stage.at, t0 + Duration::days(1));
/// assert!(!stage.reason.rule.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`DomainError`] from folding the activities or evaluating.
pub fn decision_history(
    customer: &Customer,
    activities: &[Activity],
    policies: &Policies,
    now: DateTime<Utc>,
) -> Result<Vec<DecisionChange>, DomainError> {
    let mut log: Vec<&Activity> = activities.iter().filter(|a| a.at <= now).collect();
    log.sort_by_key(|a| (a.at, a.id));
    let start = log
        .first()
        .map_or(customer.created_at(), |a| a.at.min(customer.created_at()));
    let mut c = Customer::new(customer.tenant(), customer.id(), Default::default(), start);
    let mut stats = Stats::default();
    let mut out = Vec::new();
    let mut decide = |c: &mut Customer, stats: &Stats, at: DateTime<Utc>| {
        let e = evaluate(c, stats, policies, &EvalInputs::at(at))?;
        if e.tier.from != e.tier.to {
            out.push(DecisionChange {
                at,
                what: Decided::Tier,
                from: e.tier.from.as_str().to_owned(),
                to: e.tier.to.as_str().to_owned(),
                reason: e.tier.reason.clone(),
            });
        }
        if e.stage.from != e.stage.to {
            out.push(DecisionChange {
                at,
                what: Decided::Stage,
                from: e.stage.from.as_str().to_owned(),
                to: e.stage.to.as_str().to_owned(),
                reason: e.stage.reason.clone(),
            });
        }
        e.apply_to(c);
        Ok::<(), DomainError>(())
    };
    for (i, a) in log.iter().enumerate() {
        stats.apply(a)?;
        let day_ends = log
            .get(i + 1)
            .is_none_or(|next| next.at.date_naive() != a.at.date_naive());
        if day_ends {
            decide(&mut c, &stats, a.at)?;
        }
    }
    decide(&mut c, &stats, now)?;
    Ok(out)
}

/// One person's data: the customer (profile, contacts, attributes, tags with sources and
/// expiries, tier and lifecycle state with their pins and overrides, consent snapshot), the
/// folded stats, every activity, the tier and stage history with reasons, the consent ledger
/// with its history, the merges the person took part in (without the other record's personal
/// data), the person's links to B2B accounts (roles, since, until), the complaint cases about
/// them and the erasure record when it was erased. Personal values appear as they are: the
/// document is for the person.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::privacy::{ExportDocument, EXPORT_SCHEMA_VERSION};
/// let now = DateTime::UNIX_EPOCH;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let doc = ExportDocument::new(c, Stats::default(), vec![], vec![], None, now);
/// assert_eq!(doc.schema_version, EXPORT_SCHEMA_VERSION);
/// assert_eq!(doc.tenant, TenantId::from_u128(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportDocument {
    /// The schema's URI.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The schema version.
    pub schema_version: u32,
    /// When the document was made.
    pub generated_at: DateTime<Utc>,
    /// The tenant.
    pub tenant: TenantId,
    /// The customer record.
    pub customer: Customer,
    /// Figures folded from the activities.
    pub stats: Stats,
    /// Every activity, in timeline order.
    pub activities: Vec<Activity>,
    /// Tier and stage changes with their reasons (see [`decision_history`]).
    #[serde(default)]
    pub history: Vec<DecisionChange>,
    /// The consent ledger, in ledger order.
    pub consents: Vec<ConsentEntry>,
    /// The merges the person took part in, by time (see [`ExportedMerge`]).
    #[serde(default)]
    pub merges: Vec<ExportedMerge>,
    /// The person's links to accounts, current and ended, by account.
    #[serde(default)]
    pub accounts: Vec<crate::AccountLink>,
    /// The cases about the person, by id, with their status history.
    #[serde(default)]
    pub cases: Vec<crate::Case>,
    /// The erasure record, when the customer was erased.
    pub erasure: Option<ErasureRecord>,
}

impl ExportDocument {
    /// The document for `customer` at `now`.
    #[must_use]
    pub fn new(
        customer: Customer,
        stats: Stats,
        activities: Vec<Activity>,
        consents: Vec<ConsentEntry>,
        erasure: Option<ErasureRecord>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            schema: EXPORT_SCHEMA.to_owned(),
            schema_version: EXPORT_SCHEMA_VERSION,
            generated_at: now,
            tenant: customer.tenant(),
            customer,
            stats,
            activities,
            history: Vec::new(),
            consents,
            merges: Vec::new(),
            accounts: Vec::new(),
            cases: Vec::new(),
            erasure,
        }
    }
}

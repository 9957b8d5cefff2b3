//! Merging and unmerging, decided: the one [`Changeset`] that folds a duplicate into a
//! survivor (survivor update, loser → `Merged { into }` tombstone, the loser's activities
//! moved with their ids and idempotency keys, stats re-folded from the union, tier, stage and
//! rule tags re-evaluated, a [`MergeRecord`]), and the one that takes it back.
//!
//! Pure: ids, the actor and `now` are arguments; the stores apply the changeset atomically
//! and check the versions it was decided on, so "A into B" racing "B into A" cannot both
//! win (each writes both customers).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rapport_core::*;
//! use rapport_core::quality::merge_op::{MergeContext, plan_merge, plan_unmerge};
//! let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
//! let t = TenantId::from_u128(1);
//! let ann = Customer::new(t, CustomerId::from_u128(1), Profile::default(), now);
//! let dup = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
//! let visit = Activity::new(ActivityId::from_u128(9), dup.id(), now, Channel::Web,
//!     IdempotencyKey::new("v-1")?, ActivityKind::Visit { item: None })?;
//! let ctx = MergeContext { id: MergeId::from_u128(5), actor: Actor::new("alice")?, now };
//! let mut n = 0u128;
//! let mut ids = || { n += 1; MessageId::from_u128(n) };
//! let none = Belongings::default();
//! let merged = plan_merge(&ann, &[], &dup, &Stats::default(), &[visit.clone()], &none, &none,
//!     &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut ids)?;
//! assert_eq!(merged.changeset.moves[0].activity.customer, ann.id());
//! assert_eq!(merged.changeset.moves[0].activity.idempotency_key, visit.idempotency_key);
//! assert_eq!(merged.record.moved, [visit.id]);
//! let tomb = merged.changeset.customers[0].customer().clone();
//! assert_eq!(tomb.stage(), Stage::Merged { into: ann.id() });
//!
//! let survivor = merged.changeset.customers[1].customer().clone();
//! let moved: Vec<Activity> = merged.changeset.moves.iter().map(|m| m.activity.clone()).collect();
//! let undone = plan_unmerge(&merged.record, &survivor, &moved, &none, &tomb, &Policies::default(), now, &mut ids)?;
//! assert_eq!(undone.changeset.customers[1].customer().stage(), dup.stage());
//! assert_eq!(undone.changeset.moves[0].activity.customer, dup.id());
//! # Ok::<(), DomainError>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::changeset::{
    AccountWrite, CaseWrite, Changeset, ConsentEntryMove, CustomerWrite, LinkRemoval,
};
use crate::decide::evaluate::{EvalInputs, Evaluation, evaluate};
use crate::decide::policy::Policies;
use crate::error::DomainError;
use crate::event::{DomainEvent, OutboxMessage};
use crate::model::account::{Account, AccountLink, AccountRoleSet};
use crate::model::activity::Activity;
use crate::model::case::Case;
use crate::model::customer::{Attributes, Customer};
use crate::model::id::{
    AccountId, ActivityId, Actor, CaseId, ConsentEntryId, CustomerId, MergeId, MessageId,
};
use crate::model::lifecycle::Stage;
use crate::model::line_item::LineItems;
use crate::model::pii::Pii;
use crate::model::stats::Stats;
use crate::privacy::{ConsentEntry, snapshot};
use crate::quality::merge::{MergePlan, MergePreview, SurvivorshipPolicy};

/// One activity handed from one customer to another by a merge or an unmerge: the activity
/// as it will be stored (its `customer` is the new owner; id, time and idempotency key kept).
/// A store moves it only if it is stored under `from`, else the changeset fails.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::ActivityMove;
/// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), chrono::DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("k")?, ActivityKind::Visit { item: None })?;
/// let m = ActivityMove { from: CustomerId::from_u128(3), activity: a };
/// assert_eq!(serde_json::to_value(&m)?["from"], "00000000-0000-0000-0000-000000000003");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityMove {
    /// The customer the activity is stored under now.
    pub from: CustomerId,
    /// The activity as it will be stored, under its new customer.
    pub activity: Activity,
}

/// What a merge did, kept so that it can be explained and undone: who asked, when, the
/// preview applied, both customers as they were before, and which activities moved.
/// `Debug` keeps personal data redacted (the customers' profiles are [`Pii`]).
///
/// Stored slim: the preview's merged profile and tags are not written — they follow from
/// both customers' prior state and the field outcomes, and are rebuilt when a record is read
/// (records written with them are still read as written).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::{MergeContext, MergeRecord, plan_merge};
/// let t = TenantId::from_u128(1);
/// let named = |id: u128, name: &str| Customer::new(t, CustomerId::from_u128(id),
///     Profile { display_name: Some(Pii::new(name.into())), ..Profile::default() }, DateTime::UNIX_EPOCH);
/// let (ann, dup) = (named(1, "Ann Lee"), named(2, "Ann Li"));
/// let ctx = MergeContext { id: MergeId::from_u128(5), actor: Actor::new("alice")?, now: DateTime::UNIX_EPOCH };
/// let none = Belongings::default();
/// let mut n = 0u128;
/// let merged = plan_merge(&ann, &[], &dup, &Stats::default(), &[], &none, &none,
///     &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut || { n += 1; MessageId::from_u128(n) })?;
/// let json = serde_json::to_value(&merged.record)?;
/// assert!(json["preview"].get("profile").is_none()); // not stored twice…
/// let back: MergeRecord = serde_json::from_value(json)?;
/// assert_eq!(back, merged.record); // …but read back whole
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredRecord")]
pub struct MergeRecord {
    /// The merge's id.
    pub id: MergeId,
    /// The record kept.
    pub survivor: CustomerId,
    /// The record tombstoned.
    pub loser: CustomerId,
    /// Who asked for it (an opaque name from the host).
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// The field-by-field outcome applied.
    #[serde(serialize_with = "slim_preview")]
    pub preview: MergePreview,
    /// The survivor as it was read before the merge.
    pub survivor_before: Customer,
    /// The loser as it was read before the merge.
    pub loser_before: Customer,
    /// The loser's stats before the merge.
    pub loser_stats_before: Stats,
    /// The loser's activities moved to the survivor.
    pub moved: Vec<ActivityId>,
    /// The loser's consent ledger entries moved to the survivor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_consents: Vec<ConsentEntryId>,
    /// The loser's cases moved to the survivor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_cases: Vec<CaseId>,
    /// Both customers' links, before the merge, on every account the loser was linked to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links_before: Vec<AccountLink>,
    /// The survivor's links on those accounts as the merge wrote them (roles unioned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links_merged: Vec<AccountLink>,
    /// When it was undone, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undone_at: Option<DateTime<Utc>>,
}

/// The preview of a stored record: plan and outcomes (profile and tags are rebuilt).
fn slim_preview<S: serde::Serializer>(p: &MergePreview, ser: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Slim<'a> {
        plan: &'a crate::quality::merge::MergePlan,
        fields: &'a [crate::quality::merge::FieldOutcome],
    }
    Slim {
        plan: &p.plan,
        fields: &p.fields,
    }
    .serialize(ser)
}

/// A stored preview: slim (plan and outcomes), or whole as records were first written.
#[derive(Deserialize)]
struct StoredPreview {
    plan: crate::quality::merge::MergePlan,
    fields: Vec<crate::quality::merge::FieldOutcome>,
    #[serde(default)]
    profile: Option<crate::model::customer::Profile>,
    #[serde(default)]
    tags: Option<crate::model::tag::TagSet>,
}

/// [`MergeRecord`] as stored.
#[derive(Deserialize)]
struct StoredRecord {
    id: MergeId,
    survivor: CustomerId,
    loser: CustomerId,
    actor: Actor,
    at: DateTime<Utc>,
    preview: StoredPreview,
    survivor_before: Customer,
    loser_before: Customer,
    loser_stats_before: Stats,
    moved: Vec<ActivityId>,
    #[serde(default)]
    moved_consents: Vec<ConsentEntryId>,
    #[serde(default)]
    moved_cases: Vec<CaseId>,
    #[serde(default)]
    links_before: Vec<AccountLink>,
    #[serde(default)]
    links_merged: Vec<AccountLink>,
    #[serde(default)]
    undone_at: Option<DateTime<Utc>>,
}

impl From<StoredRecord> for MergeRecord {
    fn from(r: StoredRecord) -> Self {
        let p = r.preview;
        let (profile, tags) = match (p.profile, p.tags) {
            (Some(profile), Some(tags)) => (profile, tags),
            (profile, tags) => {
                let (built, united) =
                    crate::quality::merge::rebuild(&p.fields, &r.survivor_before, &r.loser_before);
                (profile.unwrap_or(built), tags.unwrap_or(united))
            }
        };
        Self {
            id: r.id,
            survivor: r.survivor,
            loser: r.loser,
            actor: r.actor,
            at: r.at,
            preview: MergePreview {
                plan: p.plan,
                fields: p.fields,
                profile,
                tags,
            },
            survivor_before: r.survivor_before,
            loser_before: r.loser_before,
            loser_stats_before: r.loser_stats_before,
            moved: r.moved,
            moved_consents: r.moved_consents,
            moved_cases: r.moved_cases,
            links_before: r.links_before,
            links_merged: r.links_merged,
            undone_at: r.undone_at,
        }
    }
}

impl MergeRecord {
    /// The record with no personal data left: both customers' profiles, tags and consent
    /// snapshots before the merge and the merged profile and tags emptied; ids, times, the
    /// field outcomes (which side won, and why), the loser's stats and what moved are kept.
    /// What an erasure of either customer stores in place of the record.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// use rapport_core::quality::merge_op::{MergeContext, plan_merge};
    /// let t = TenantId::from_u128(1);
    /// let named = |id: u128, name: &str| Customer::new(t, CustomerId::from_u128(id),
    ///     Profile { display_name: Some(Pii::new(name.into())), ..Profile::default() }, DateTime::UNIX_EPOCH);
    /// let (ann, dup) = (named(1, "Ann Lee"), named(2, "Ann Li"));
    /// let ctx = MergeContext { id: MergeId::from_u128(5), actor: Actor::new("alice")?, now: DateTime::UNIX_EPOCH };
    /// let none = Belongings::default();
    /// let mut n = 0u128;
    /// let merged = plan_merge(&ann, &[], &dup, &Stats::default(), &[], &none, &none,
    ///     &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut || { n += 1; MessageId::from_u128(n) })?;
    /// let r = merged.record.redacted();
    /// assert!(!serde_json::to_string(&r)?.contains("Ann"));
    /// assert_eq!((r.id, r.survivor, r.loser, r.preview.fields.len()), (merged.record.id, ann.id(), dup.id(), merged.record.preview.fields.len()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn redacted(&self) -> MergeRecord {
        let mut r = self.clone();
        crate::privacy::erasure::strip_customer(&mut r.survivor_before);
        crate::privacy::erasure::strip_customer(&mut r.loser_before);
        r.preview.profile = crate::model::customer::Profile::default();
        r.preview.tags = crate::model::tag::TagSet::default();
        r
    }
}

/// A merge record to write: a new one (a merge), or the mark that one was undone (an
/// unmerge; the store refuses it unless the record exists, names `loser` and is not undone).
///
/// ```
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::MergeRecordWrite;
/// let w = MergeRecordWrite::Undo { id: MergeId::from_u128(1), loser: CustomerId::from_u128(2), at: chrono::DateTime::UNIX_EPOCH };
/// assert_eq!(w.id(), MergeId::from_u128(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum MergeRecordWrite {
    /// Insert a new record.
    Insert {
        /// The record.
        record: Box<MergeRecord>,
    },
    /// Mark a record undone.
    Undo {
        /// The merge.
        id: MergeId,
        /// Its loser (restored by the same changeset).
        loser: CustomerId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Replace a stored record by its redaction ([`MergeRecord::redacted`]) because a customer
    /// it names is erased. While the merge is in force (not undone) its loser's tombstone is
    /// erased by the same changeset, which carries the tombstone's erasure record
    /// ([`Changeset::reopens`](crate::Changeset::reopens)); the store refuses it unless the
    /// record exists.
    Redact {
        /// The record, its personal data removed.
        record: Box<MergeRecord>,
    },
}

impl MergeRecordWrite {
    /// The merge this write is about.
    ///
    /// ```
    /// use rapport_core::*;
    /// use rapport_core::quality::merge_op::MergeRecordWrite;
    /// let w = MergeRecordWrite::Undo { id: MergeId::from_u128(3), loser: CustomerId::from_u128(2), at: chrono::DateTime::UNIX_EPOCH };
    /// assert_eq!(w.id().to_string(), "00000000-0000-0000-0000-000000000003");
    /// ```
    #[must_use]
    pub fn id(&self) -> MergeId {
        match self {
            MergeRecordWrite::Insert { record } => record.id,
            MergeRecordWrite::Undo { id, .. } => *id,
            MergeRecordWrite::Redact { record } => record.id,
        }
    }
}

/// The id, actor and time of a merge (the core makes none of them).
///
/// ```
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::MergeContext;
/// let ctx = MergeContext { id: MergeId::from_u128(1), actor: Actor::new("cli")?, now: chrono::DateTime::UNIX_EPOCH };
/// assert_eq!(ctx.actor.as_str(), "cli");
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeContext {
    /// The new merge's id.
    pub id: MergeId,
    /// Who asks.
    pub actor: Actor,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A decided merge or unmerge: the changeset to apply and what it decided.
///
/// ```
/// use rapport_core::quality::merge_op::Planned;
/// fn survivor_of(p: &Planned) -> &rapport_core::Customer { &p.survivor }
/// # let _ = survivor_of;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Planned {
    /// Everything to write, atomically.
    pub changeset: Changeset,
    /// The merge record (new, or the one undone with `undone_at` set).
    pub record: MergeRecord,
    /// The survivor as written.
    pub survivor: Customer,
    /// The survivor's stats as written.
    pub stats: Stats,
    /// The survivor's re-evaluation, with reasons.
    pub evaluation: Evaluation,
}

/// What a customer holds besides its row and activities, as read for a merge: its consent
/// ledger entries, its cases, its account links (active and ended) and the accounts those
/// links name (whose versions guard the link writes).
///
/// ```
/// use rapport_core::Belongings;
/// let none = Belongings::default();
/// assert!(none.consents.is_empty() && none.cases.is_empty() && none.links.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Belongings {
    /// Consent ledger entries stored under the customer.
    pub consents: Vec<ConsentEntry>,
    /// Cases of the customer.
    pub cases: Vec<Case>,
    /// The customer's account links.
    pub links: Vec<AccountLink>,
    /// The accounts of `links`.
    pub accounts: Vec<Account>,
    /// The customer's line lists, when read: the stats folded again by a merge or an undo
    /// keep per-category spend ([`StatsPolicy`](crate::StatsPolicy)) only when the line lists
    /// of both customers are given; `None` (the stores' default) drops it, and
    /// `category_spend` is then read from the line items.
    pub lines: Option<Vec<LineItems>>,
}

impl Belongings {
    fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id() == id)
    }

    fn link(&self, account: AccountId) -> Option<&AccountLink> {
        self.links.iter().find(|l| l.account == account)
    }
}

/// The survivor's link on an account after a merge with the loser's link on it: roles
/// unioned, primary if either was, linked since the earlier, active if either was.
fn union_link(survivor: Option<&AccountLink>, loser: &AccountLink, to: CustomerId) -> AccountLink {
    let Some(s) = survivor else {
        return AccountLink {
            customer: to,
            ..loser.clone()
        };
    };
    AccountLink {
        account: s.account,
        customer: to,
        roles: s.roles.union(&loser.roles).copied().collect(),
        primary: s.primary || loser.primary,
        since: s.since.min(loser.since),
        until: match (s.until, loser.until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        },
    }
}

/// A bumped write of each account in `ids` (one per account), from the accounts read.
fn account_writes(
    ids: impl IntoIterator<Item = AccountId>,
    read: &[&Belongings],
    missing: impl Fn(AccountId) -> DomainError,
) -> Result<Vec<AccountWrite>, DomainError> {
    let mut out: BTreeMap<AccountId, AccountWrite> = BTreeMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        let a = read
            .iter()
            .find_map(|b| b.account(id))
            .ok_or_else(|| missing(id))?;
        out.insert(
            id,
            AccountWrite::Update {
                expected_version: a.version(),
                account: Box::new(a.next_version()),
            },
        );
    }
    Ok(out.into_values().collect())
}

/// Stats folded again from `activities`, with the tracked categories' spend when the line
/// lists are given (lists of other activities are left out).
fn refold(
    activities: &[Activity],
    lines: Option<&[LineItems]>,
    policies: &Policies,
) -> Result<Stats, DomainError> {
    match lines {
        Some(lines) => Stats::from_history(
            activities,
            lines,
            policies.stats.category_spend.iter().cloned(),
        ),
        None => Stats::from_activities(activities),
    }
}

fn refuse(survivor: CustomerId, loser: CustomerId, reason: &'static str) -> DomainError {
    DomainError::InvalidMerge {
        survivor,
        loser,
        reason,
    }
}

/// Decides merging `loser` into `survivor` (both as read, with the activities stored under
/// each): the survivor takes the preview's profile and the union of tags, the loser's
/// activities move to it (ids and idempotency keys kept, so re-ingesting one is still a
/// duplicate), its stats are folded again from the union, tier, stage and rule tags are
/// evaluated at `now`, and the loser becomes a `Merged { into: survivor }` tombstone whose
/// contacts are released (the tombstone is written first). The loser's belongings move too:
/// its consent ledger entries one by one, and the survivor's consent snapshot is folded again
/// from the merged ledger (DOMAIN.md: the snapshot is a pure function of the ledger, so the
/// latest entry of either customer per purpose and channel is the survivor's state; a merge
/// writes no entry of its own), its cases, and its account links, each folded into the
/// survivor's link on the same account (roles unioned, primary if either was) or handed over
/// when the survivor had none; every account touched is written one version on.
///
/// # Errors
/// [`DomainError::InvalidMerge`] for the same customer, two tenants, or activities that are
/// not the named customers' (the same for belongings, or a link whose account is missing);
/// [`DomainError::Tombstoned`] when either is merged or erased (so a
/// cycle cannot be made: a tombstone never merges and nothing merges into one); stats and
/// evaluation errors (e.g. a currency mix across the two histories).
#[allow(clippy::too_many_arguments)]
pub fn plan_merge(
    survivor: &Customer,
    survivor_activities: &[Activity],
    loser: &Customer,
    loser_stats: &Stats,
    loser_activities: &[Activity],
    survivor_has: &Belongings,
    loser_has: &Belongings,
    policy: &SurvivorshipPolicy,
    policies: &Policies,
    ctx: &MergeContext,
    message_id: &mut dyn FnMut() -> MessageId,
) -> Result<Planned, DomainError> {
    policy.validate()?;
    let preview = MergePlan::preview(survivor, loser, policy)?;
    let (sid, lid) = (survivor.id(), loser.id());
    if survivor_activities.iter().any(|a| a.customer != sid)
        || loser_activities.iter().any(|a| a.customer != lid)
    {
        return Err(refuse(
            sid,
            lid,
            "an activity handed in is not the customer's",
        ));
    }
    if loser_has.consents.iter().any(|e| e.customer != lid)
        || survivor_has.consents.iter().any(|e| e.customer != sid)
        || loser_has.cases.iter().any(|c| c.customer != lid)
        || loser_has.links.iter().any(|l| l.customer != lid)
        || survivor_has.links.iter().any(|l| l.customer != sid)
    {
        return Err(refuse(
            sid,
            lid,
            "a belonging handed in is not the customer's",
        ));
    }
    let moves: Vec<ActivityMove> = loser_activities
        .iter()
        .map(|a| ActivityMove {
            from: lid,
            activity: Activity {
                customer: sid,
                ..a.clone()
            },
        })
        .collect();
    let union: Vec<Activity> = survivor_activities
        .iter()
        .chain(moves.iter().map(|m| &m.activity))
        .cloned()
        .collect();
    let lines = match (&survivor_has.lines, &loser_has.lines) {
        (Some(s), Some(l)) => Some(s.iter().chain(l).cloned().collect::<Vec<_>>()),
        _ => None,
    };
    let stats = refold(&union, lines.as_deref(), policies)?;

    let mut next = survivor.next_version();
    next.profile = preview.profile.clone();
    next.tags = preview.tags.clone();
    // The merged ledger decides the survivor's consent state, as any ledger does.
    next.consents = snapshot(
        &survivor_has
            .consents
            .iter()
            .chain(&loser_has.consents)
            .cloned()
            .collect::<Vec<_>>(),
    );
    // The survivor's roles after the merge (its links folded with the loser's), so a
    // `has_account_role` tag rule decides on the merged links, not on none.
    let merged_links: Vec<AccountLink> = loser_has
        .links
        .iter()
        .map(|l| union_link(survivor_has.link(l.account), l, sid))
        .collect();
    let roles = AccountRoleSet::of_links(
        survivor_has
            .links
            .iter()
            .filter(|s| !loser_has.links.iter().any(|l| l.account == s.account))
            .chain(&merged_links),
    );
    let inputs = EvalInputs::at(ctx.now).with_account_roles(roles);
    let evaluation = evaluate(&next, &stats, policies, &inputs)?;
    evaluation.apply_to(&mut next);

    let mut tomb = loser.next_version();
    tomb.lifecycle = tomb.lifecycle.merge_into(sid, ctx.now)?;

    let record = MergeRecord {
        id: ctx.id,
        survivor: sid,
        loser: lid,
        actor: ctx.actor.clone(),
        at: ctx.now,
        preview,
        survivor_before: survivor.clone(),
        loser_before: loser.clone(),
        loser_stats_before: loser_stats.clone(),
        moved: loser_activities.iter().map(|a| a.id).collect(),
        moved_consents: loser_has.consents.iter().map(|e| e.id).collect(),
        moved_cases: loser_has.cases.iter().map(|c| c.id()).collect(),
        links_before: Vec::new(),
        links_merged: Vec::new(),
        undone_at: None,
    };
    let mut record = record;
    let mut events = vec![
        DomainEvent::Merged {
            customer: lid,
            into: sid,
        },
        DomainEvent::ProfileUpdated { customer: sid },
    ];
    events.extend(evaluation.events.iter().cloned());

    let mut cs = Changeset::new();
    // The tombstone first: it releases the contacts the survivor may take.
    cs.update(loser, tomb, Stats::default());
    cs.update(survivor, next.clone(), stats.clone());
    cs.moves = moves;
    cs.consent_entry_moves = loser_has
        .consents
        .iter()
        .map(|e| ConsentEntryMove {
            entry: e.id,
            from: lid,
            to: sid,
        })
        .collect();
    cs.cases = loser_has
        .cases
        .iter()
        .map(|c| CaseWrite::Update {
            expected_version: c.version(),
            case: Box::new(c.move_customer(sid)),
        })
        .collect();
    for (l, merged) in loser_has.links.iter().zip(merged_links) {
        let had = survivor_has.link(l.account);
        record.links_before.extend(had.cloned());
        record.links_before.push(l.clone());
        record.links_merged.push(merged.clone());
        cs.account_links.push(merged);
        cs.link_removals.push(LinkRemoval {
            account: l.account,
            customer: lid,
        });
    }
    cs.accounts = account_writes(
        loser_has.links.iter().map(|l| l.account),
        &[loser_has, survivor_has],
        |_| refuse(sid, lid, "a link's account was not handed in"),
    )?;
    cs.merges = vec![MergeRecordWrite::Insert {
        record: Box::new(record.clone()),
    }];
    cs.outbox = messages(survivor, ctx.now, events, message_id);
    Ok(Planned {
        changeset: cs,
        record,
        survivor: next,
        stats,
        evaluation,
    })
}

fn messages(
    c: &Customer,
    now: DateTime<Utc>,
    events: Vec<DomainEvent>,
    message_id: &mut dyn FnMut() -> MessageId,
) -> Vec<OutboxMessage> {
    events
        .into_iter()
        .map(|e| OutboxMessage::new(message_id(), c.tenant(), now, e))
        .collect()
}

/// Decides undoing `record`: the loser comes back as it was before the merge (one version on
/// from its tombstone, stats folded from the activities that move back), the activities that
/// came from it move back, and the survivor gets back, field by field, the values it had
/// before wherever it still holds the merged value (a field edited since keeps the edit);
/// tags that only the loser brought are removed if unchanged since; its tier and lifecycle
/// state are the ones before the merge, evaluated again at `now` over its remaining
/// activities. The consent entries and cases that came from the loser move back (those still
/// under the survivor), and each customer's consent snapshot is folded again from the ledger
/// it holds afterwards; on every account whose links the merge folded, the loser's link comes
/// back as it was, and the survivor's goes back to what it was (or is deleted when it only
/// came from the loser) unless it was changed since. `survivor`, `survivor_activities` and
/// `survivor_has` are as read now; `loser` is the tombstone.
///
/// # Errors
/// [`DomainError::CannotUnmerge`] when the record is undone already, the loser was erased
/// since or is not merged into the survivor, or the survivor is no longer live (undo the
/// later merge first); stats and evaluation errors.
#[allow(clippy::too_many_arguments)]
pub fn plan_unmerge(
    record: &MergeRecord,
    survivor: &Customer,
    survivor_activities: &[Activity],
    survivor_has: &Belongings,
    loser: &Customer,
    policies: &Policies,
    now: DateTime<Utc>,
    message_id: &mut dyn FnMut() -> MessageId,
) -> Result<Planned, DomainError> {
    let no = |reason| DomainError::CannotUnmerge {
        loser: record.loser,
        reason,
    };
    if record.undone_at.is_some() {
        return Err(no("the merge was undone already"));
    }
    if survivor.id() != record.survivor || loser.id() != record.loser {
        return Err(no("the customers handed in are not the merge's"));
    }
    match loser.stage() {
        Stage::Erased => return Err(no("the loser was erased since")),
        Stage::Merged { into } if into == record.survivor => {}
        _ => return Err(no("the loser is not merged into the survivor")),
    }
    if !survivor.is_live() {
        return Err(no(
            "the survivor was merged or erased since (undo that first)",
        ));
    }
    if survivor_activities
        .iter()
        .any(|a| a.customer != survivor.id())
    {
        return Err(no("an activity handed in is not the survivor's"));
    }
    let (back, kept): (Vec<&Activity>, Vec<&Activity>) = survivor_activities
        .iter()
        .partition(|a| record.moved.contains(&a.id));
    let moves: Vec<ActivityMove> = back
        .iter()
        .map(|a| ActivityMove {
            from: record.survivor,
            activity: Activity {
                customer: record.loser,
                ..(*a).clone()
            },
        })
        .collect();
    let back: Vec<Activity> = moves.iter().map(|m| m.activity.clone()).collect();
    let kept: Vec<Activity> = kept.into_iter().cloned().collect();
    // Lines go where their activity goes (each list names its activity).
    let loser_stats = refold(&back, survivor_has.lines.as_deref(), policies)?;
    let stats = refold(&kept, survivor_has.lines.as_deref(), policies)?;

    let before = &record.survivor_before;
    let merged = &record.preview;
    let mut next = survivor.next_version();
    let p = &mut next.profile;
    revert(
        &mut p.display_name,
        &merged.profile.display_name,
        &before.profile.display_name,
    );
    revert(&mut p.email, &merged.profile.email, &before.profile.email);
    revert(&mut p.phone, &merged.profile.phone, &before.profile.phone);
    revert(
        &mut p.birth_date,
        &merged.profile.birth_date,
        &before.profile.birth_date,
    );
    let mut attrs: Attributes = p.attributes.expose().clone();
    let (ma, ba) = (
        merged.profile.attributes.expose(),
        before.profile.attributes.expose(),
    );
    for key in ma.keys().chain(ba.keys()) {
        if attrs.get(key) == ma.get(key) {
            match ba.get(key) {
                Some(v) => attrs.insert(key.clone(), v.clone()),
                None => attrs.remove(key),
            };
        }
    }
    p.attributes = Pii::new(attrs);
    for (tag, info) in merged.tags.iter() {
        if next.tags.get(tag) != Some(info) {
            continue; // changed since the merge: the later decision stands
        }
        next.tags.remove(tag);
        if let Some(b) = before.tags.get(tag) {
            next.tags
                .insert(tag.clone(), b.source, b.added_at, b.expires_at);
        }
    }
    // Each keeps the snapshot of the ledger it holds after the undo: the survivor what stays
    // with it (entries recorded since the merge included), the loser what moves back.
    let (consents_back, consents_kept): (Vec<ConsentEntry>, Vec<ConsentEntry>) = survivor_has
        .consents
        .iter()
        .filter(|e| e.customer == record.survivor)
        .cloned()
        .partition(|e| record.moved_consents.contains(&e.id));
    next.consents = snapshot(&consents_kept);
    next.tier = before.tier.clone();
    next.lifecycle = before.lifecycle.clone();
    next.churn_alert = before.churn_alert;
    // The survivor's links after the undo: each link the merge folded goes back to what the
    // survivor had (or goes), unless it was changed since.
    let undone_links: Vec<&AccountLink> = survivor_has
        .links
        .iter()
        .filter_map(
            |l| match record.links_merged.iter().find(|m| m.account == l.account) {
                Some(m) if m == l => record
                    .links_before
                    .iter()
                    .find(|b| b.account == l.account && b.customer == record.survivor),
                _ => Some(l),
            },
        )
        .collect();
    let inputs = EvalInputs::at(now).with_account_roles(AccountRoleSet::of_links(undone_links));
    let evaluation = evaluate(&next, &stats, policies, &inputs)?;
    evaluation.apply_to(&mut next);

    let mut restored = record
        .loser_before
        .clone()
        .with_version(loser.version() + 1);
    restored.consents = snapshot(&consents_back);
    let mut events = vec![
        DomainEvent::ProfileUpdated {
            customer: record.survivor,
        },
        DomainEvent::ProfileUpdated {
            customer: record.loser,
        },
    ];
    events.extend(evaluation.events.iter().cloned());

    let mut cs = Changeset::new();
    // The survivor first: it releases the contacts the restored loser takes back.
    cs.update(survivor, next.clone(), stats.clone());
    cs.customers.push(CustomerWrite::Update {
        expected_version: loser.version(),
        customer: Box::new(restored),
        stats: Box::new(loser_stats),
    });
    cs.moves = moves;
    let (sid, lid) = (record.survivor, record.loser);
    cs.consent_entry_moves = consents_back
        .iter()
        .map(|e| ConsentEntryMove {
            entry: e.id,
            from: sid,
            to: lid,
        })
        .collect();
    cs.cases = survivor_has
        .cases
        .iter()
        .filter(|c| c.customer == sid && record.moved_cases.contains(&c.id()))
        .map(|c| CaseWrite::Update {
            expected_version: c.version(),
            case: Box::new(c.move_customer(lid)),
        })
        .collect();
    let before = |account: AccountId, customer: CustomerId| {
        record
            .links_before
            .iter()
            .find(|l| l.account == account && l.customer == customer)
    };
    for merged in &record.links_merged {
        let a = merged.account;
        if let Some(l) = before(a, lid) {
            cs.account_links.push(l.clone());
        }
        if survivor_has.link(a) == Some(merged) {
            match before(a, sid) {
                Some(b) => cs.account_links.push(b.clone()),
                None => cs.link_removals.push(LinkRemoval {
                    account: a,
                    customer: sid,
                }),
            }
        }
    }
    cs.accounts = account_writes(
        record.links_merged.iter().map(|l| l.account),
        &[survivor_has],
        |_| no("an account the merge linked is gone"),
    )?;
    cs.merges = vec![MergeRecordWrite::Undo {
        id: record.id,
        loser: record.loser,
        at: now,
    }];
    cs.outbox = messages(survivor, now, events, message_id);
    Ok(Planned {
        changeset: cs,
        record: MergeRecord {
            undone_at: Some(now),
            ..record.clone()
        },
        survivor: next,
        stats,
        evaluation,
    })
}

/// Puts back `before` where `current` still holds the merged value.
fn revert<T: PartialEq + Clone>(current: &mut Option<T>, merged: &Option<T>, before: &Option<T>) {
    if current == merged {
        current.clone_from(before);
    }
}

/// The end of a merge chain: follows `Merged { into }` through `load` until a customer that
/// is not merged (live or erased), at most `limit` steps (cycles are impossible by
/// construction; the limit guards a corrupt book).
///
/// ```
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::resolve_chain;
/// let t = TenantId::from_u128(1);
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let c = |n| Customer::new(t, CustomerId::from_u128(n), Profile::default(), now);
/// let (mut a, mut b, z) = (c(1), c(2), c(3));
/// a.set_lifecycle(a.lifecycle().merge_into(b.id(), now)?)?;
/// b.set_lifecycle(b.lifecycle().merge_into(z.id(), now)?)?;
/// let book = [a.clone(), b, z.clone()];
/// let end = resolve_chain(a.id(), |id| book.iter().find(|c| c.id() == id).cloned(), 8);
/// assert_eq!(end.map(|c| c.id()), Some(z.id()));
/// # Ok::<(), DomainError>(())
/// ```
pub fn resolve_chain(
    start: CustomerId,
    mut load: impl FnMut(CustomerId) -> Option<Customer>,
    limit: usize,
) -> Option<Customer> {
    let mut c = load(start)?;
    for _ in 0..limit {
        match c.stage() {
            Stage::Merged { into } => c = load(into)?,
            _ => return Some(c),
        }
    }
    None
}

/// A pair the host marked "not a duplicate": duplicate scans do not propose it again while
/// both customers keep the contact keys they had when it was marked (`stamp`, a stable
/// fingerprint of both customers' normalised email and phone — not the values themselves).
/// `first < second`.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::quality::merge_op::DistinctPair;
/// let t = TenantId::from_u128(1);
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let mut a = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// let b = Customer::new(t, CustomerId::from_u128(1), Profile::default(), now);
/// let pair = DistinctPair::new(&a, &b);
/// assert_eq!((pair.first, pair.second), (b.id(), a.id())); // ordered
/// assert!(pair.holds_for(&a, &b) && pair.holds_for(&b, &a));
/// a.profile.email = Some(Pii::new(Email::parse("new@example.com")?));
/// assert!(!pair.holds_for(&a, &b)); // a contact key changed: proposed again
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DistinctPair {
    /// The smaller id.
    pub first: CustomerId,
    /// The larger id.
    pub second: CustomerId,
    /// The contact keys' fingerprint when marked.
    pub stamp: u64,
}

impl DistinctPair {
    /// The pair of `a` and `b` as they are now.
    #[must_use]
    pub fn new(a: &Customer, b: &Customer) -> Self {
        let (x, y) = if a.id() <= b.id() { (a, b) } else { (b, a) };
        Self {
            first: x.id(),
            second: y.id(),
            stamp: contact_stamp(x, y),
        }
    }

    /// True when the pair is of `a` and `b` (either order) and neither changed a contact key
    /// since it was marked.
    #[must_use]
    pub fn holds_for(&self, a: &Customer, b: &Customer) -> bool {
        let now = Self::new(a, b);
        now == *self
    }
}

/// FNV-1a over both customers' contact keys, in id order: stable across processes and
/// versions (stored by the SQL stores), and no personal value leaves the core.
fn contact_stamp(x: &Customer, y: &Customer) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for c in [x, y] {
        for key in c.profile.contact_keys() {
            eat(key.as_str().as_bytes());
            eat(&[0x1f]);
        }
        eat(&[0x1e]);
    }
    h
}

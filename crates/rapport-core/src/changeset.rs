//! [`Changeset`]: every state change the core decides, as data a store applies in one
//! transaction — customers created or updated (with the version they were read at),
//! activities, and outbox messages.

use std::collections::HashSet;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::event::OutboxMessage;
use crate::model::account::{Account, AccountActivity, AccountLink};
use crate::model::activity::Activity;
use crate::model::case::Case;
use crate::model::customer::Customer;
use crate::model::id::{AccountId, ConsentEntryId, CustomerId, IdempotencyKey, TenantId};
use crate::model::line_item::LineItems;
use crate::model::stats::Stats;
use crate::privacy::{ConsentEntry, ErasureRecord};
use crate::quality::merge_op::{ActivityMove, DistinctPair, MergeRecordWrite};

/// One customer row to write, with its stats.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let tenant = TenantId::from_u128(1);
/// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
/// let mut cs = Changeset::new();
/// cs.update(&c, c.next_version(), Stats::default());
/// match &cs.customers[0] {
///     CustomerWrite::Update { expected_version, customer, .. } => {
///         assert_eq!((*expected_version, customer.version()), (1, 2));
///     }
///     CustomerWrite::Create { .. } => unreachable!(),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum CustomerWrite {
    /// Insert a new customer (version 1). The store fails `AlreadyExists` if the id is taken:
    /// a create is never an upsert.
    Create {
        /// The new customer.
        customer: Box<Customer>,
        /// Its stats.
        stats: Box<Stats>,
    },
    /// Replace a customer read at `expected_version` by `customer` (at `expected_version + 1`).
    /// The store fails `Conflict` if the stored version moved.
    Update {
        /// The version the decision was based on.
        expected_version: u64,
        /// The new state.
        customer: Box<Customer>,
        /// The new stats.
        stats: Box<Stats>,
    },
}

impl CustomerWrite {
    /// The customer written.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// cs.create(c.clone(), Stats::default());
    /// assert_eq!(cs.customers[0].customer().id(), c.id());
    /// ```
    #[must_use]
    pub fn customer(&self) -> &Customer {
        match self {
            CustomerWrite::Create { customer, .. } | CustomerWrite::Update { customer, .. } => {
                customer
            }
        }
    }

    /// The stats written.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// cs.create(c, Stats::default());
    /// assert_eq!(cs.customers[0].stats().orders(), 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> &Stats {
        match self {
            CustomerWrite::Create { stats, .. } | CustomerWrite::Update { stats, .. } => stats,
        }
    }

    /// The customer and stats written, by value (no clone once the write is applied).
    ///
    /// ```
    /// use rapport_core::*;
    /// let t = TenantId::from_u128(1);
    /// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), chrono::DateTime::UNIX_EPOCH);
    /// let mut cs = Changeset::new();
    /// cs.create(c.clone(), Stats::default());
    /// let (back, _) = cs.customers.pop().unwrap().into_parts();
    /// assert_eq!(back, c);
    /// ```
    #[must_use]
    pub fn into_parts(self) -> (Customer, Stats) {
        match self {
            CustomerWrite::Create { customer, stats }
            | CustomerWrite::Update {
                customer, stats, ..
            } => (*customer, *stats),
        }
    }
}

/// Everything one decision changes, applied atomically by a store.
///
/// Contract for stores (checked by the conformance kit): all or nothing; creates fail
/// `AlreadyExists`, stale updates fail `Conflict`; if any activity's idempotency key already
/// exists in the tenant, **nothing** is written and the duplicates are reported, so derived
/// state (stats, tier, stage) never counts an activity twice; outbox messages commit with the
/// state that caused them.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let t = TenantId::from_u128(1);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// let mut cs = Changeset::default();
/// cs.create(c.clone(), Stats::default());
/// cs.update(&c, c.next_version(), Stats::default());
/// // The same customer twice in one changeset is rejected.
/// assert!(cs.validate(t).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changeset {
    /// Customer rows.
    pub customers: Vec<CustomerWrite>,
    /// New activities (idempotent by key).
    pub activities: Vec<Activity>,
    /// Outbox messages.
    pub outbox: Vec<OutboxMessage>,
    /// Case rows (created or updated with optimistic versions, like customers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseWrite>,
    /// Account rows (versioned like customers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountWrite>,
    /// Account links, stored by (account, customer): each link's account must be written by
    /// the same changeset, so the account's version guards its links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account_links: Vec<AccountLink>,
    /// New consent ledger entries (appended; an entry id already stored is refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<ConsentEntry>,
    /// Ledger entries to move from one customer to another (a merge moves the loser's
    /// consents to the survivor): every entry of `from` is reassigned to `to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_moves: Vec<ConsentMove>,
    /// Erasures: for each record, the store also strips the customer's activities
    /// (`privacy::strip_activity`) and consent entries (`ConsentEntry::stripped`), drops the
    /// outbox messages still pending for it, and stores the record (a second record for the
    /// same customer is refused). The customer's own update to `Erased` is in `customers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erasures: Vec<ErasureRecord>,
    /// Activities handed to another customer by a merge or an unmerge (ids and idempotency
    /// keys kept). A store moves each only if it is stored under the move's `from`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<ActivityMove>,
    /// Merge records written (a merge) or marked undone (an unmerge). An update of a
    /// `Merged` tombstone is accepted only with the `Undo` of the merge that made it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<MergeRecordWrite>,
    /// Pairs marked "not a duplicate" (written, or their stamp replaced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct: Vec<DistinctPair>,
    /// Purchases and refunds attributed to an account (B2B), stored by (tenant, idempotency
    /// key): the first attribution of a key is kept, a repeat is ignored. They need no write
    /// of the account (an attribution changes no account row, so busy accounts do not
    /// contend on their version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account_activities: Vec<AccountActivity>,
    /// Line items of purchases or refunds in `activities` (each written with its activity, or
    /// not at all when the activity's idempotency key is already stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItems>,
    /// Single consent ledger entries handed to another customer (a merge moves the loser's
    /// entries one by one, so that an unmerge moves back exactly those). A store moves each
    /// only if it is stored under the move's `from`, else the changeset fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_entry_moves: Vec<ConsentEntryMove>,
    /// Account links deleted (a merge folds the loser's link into the survivor's; an unmerge
    /// deletes a link the survivor only had from the loser). Each link's account must be
    /// written by the same changeset, like `account_links`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_removals: Vec<LinkRemoval>,
    /// Attributed activities handed from one account to another (merging two accounts and
    /// undoing it). A store moves each only if it is attributed to the move's `from`, else
    /// the changeset fails; both accounts must be written by the same changeset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account_activity_moves: Vec<AccountActivityMove>,
}

/// One attributed activity (by idempotency key) handed from one account to another.
///
/// ```
/// use rapport_core::{AccountActivityMove, AccountId, IdempotencyKey};
/// let m = AccountActivityMove { key: IdempotencyKey::new("purchase:SO-1")?, from: AccountId::from_u128(2), to: AccountId::from_u128(1) };
/// assert_eq!(serde_json::to_value(&m)?["key"], "purchase:SO-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountActivityMove {
    /// The attributed activity's idempotency key.
    pub key: IdempotencyKey,
    /// The account it is attributed to now.
    pub from: AccountId,
    /// The account it will be attributed to.
    pub to: AccountId,
}

/// One consent ledger entry moved from `from` to `to` (the entry's `customer` is rewritten;
/// everything else is kept).
///
/// ```
/// use rapport_core::{ConsentEntryId, ConsentEntryMove, CustomerId};
/// let m = ConsentEntryMove { entry: ConsentEntryId::from_u128(7), from: CustomerId::from_u128(1), to: CustomerId::from_u128(2) };
/// assert_eq!(serde_json::to_value(m)?["entry"], "00000000-0000-0000-0000-000000000007");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntryMove {
    /// The entry.
    pub entry: ConsentEntryId,
    /// The customer it is stored under now.
    pub from: CustomerId,
    /// The customer it will be stored under.
    pub to: CustomerId,
}

/// The key of an account link to delete.
///
/// ```
/// use rapport_core::{AccountId, CustomerId, LinkRemoval};
/// let r = LinkRemoval { account: AccountId::from_u128(1), customer: CustomerId::from_u128(2) };
/// assert_eq!(r.customer, CustomerId::from_u128(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkRemoval {
    /// The account.
    pub account: AccountId,
    /// The person whose link goes.
    pub customer: CustomerId,
}

/// Moves every consent ledger entry of `from` to `to` (same tenant).
///
/// ```
/// use rapport_core::{ConsentMove, CustomerId};
/// let m = ConsentMove { from: CustomerId::from_u128(1), to: CustomerId::from_u128(2) };
/// assert_ne!(m.from, m.to);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentMove {
    /// Whose entries move.
    pub from: CustomerId,
    /// Where they go.
    pub to: CustomerId,
}

impl Changeset {
    /// An empty changeset.
    ///
    /// ```
    /// let cs = rapport_core::Changeset::new();
    /// assert!(cs.is_empty());
    /// assert!(cs.validate(rapport_core::TenantId::from_u128(1)).is_ok());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// True when it writes nothing.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// assert!(cs.is_empty());
    /// cs.create(c, Stats::default());
    /// assert!(!cs.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
            && self.activities.is_empty()
            && self.outbox.is_empty()
            && self.cases.is_empty()
            && self.accounts.is_empty()
            && self.account_links.is_empty()
            && self.consents.is_empty()
            && self.consent_moves.is_empty()
            && self.erasures.is_empty()
            && self.moves.is_empty()
            && self.merges.is_empty()
            && self.distinct.is_empty()
            && self.account_activities.is_empty()
            && self.consent_entry_moves.is_empty()
            && self.link_removals.is_empty()
            && self.account_activity_moves.is_empty()
    }

    /// Adds a create.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// cs.create(c, Stats::default());
    /// assert!(matches!(cs.customers[0], CustomerWrite::Create { .. }));
    /// assert!(cs.validate(tenant).is_ok());
    /// ```
    pub fn create(&mut self, customer: Customer, stats: Stats) -> &mut Self {
        self.customers.push(CustomerWrite::Create {
            customer: Box::new(customer),
            stats: Box::new(stats),
        });
        self
    }

    /// Adds an update of `read` (as it was loaded) to `new`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// let mut next = c.next_version();
    /// next.churn_alert = true;
    /// cs.update(&c, next, Stats::default());
    /// assert!(cs.validate(tenant).is_ok());
    /// // The new state must be exactly one version on.
    /// let mut stale = Changeset::new();
    /// stale.update(&c, c.clone(), Stats::default());
    /// assert!(matches!(stale.validate(tenant), Err(DomainError::InvalidChangeset { .. })));
    /// ```
    pub fn update(&mut self, read: &Customer, new: Customer, stats: Stats) -> &mut Self {
        self.customers.push(CustomerWrite::Update {
            expected_version: read.version(),
            customer: Box::new(new),
            stats: Box::new(stats),
        });
        self
    }

    /// Checks the changeset's own rules before a store sees it: every customer of `tenant`,
    /// at most once; creates at version 1; updates step the version by one; idempotency keys
    /// and message ids unique; outbox messages of `tenant`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let tenant = TenantId::from_u128(1);
    /// let c = Customer::new(tenant, CustomerId::from_u128(2), Profile::default(), now);
    /// let mut cs = Changeset::new();
    /// cs.create(c, Stats::default());
    /// assert!(cs.validate(tenant).is_ok());
    /// let err = cs.validate(TenantId::from_u128(9)).unwrap_err();
    /// assert!(err.to_string().contains("another tenant"));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidChangeset`] saying which rule broke.
    pub fn validate(&self, tenant: TenantId) -> Result<(), DomainError> {
        let bad = |reason: String| Err(DomainError::InvalidChangeset { reason });
        let twice = first_repeat(&self.customers, |w| w.customer().id());
        for (i, w) in self.customers.iter().enumerate() {
            let c = w.customer();
            if c.tenant() != tenant {
                return bad(format!("customer {} belongs to another tenant", c.id()));
            }
            if twice == Some(i) {
                return bad(format!("customer {} is written twice", c.id()));
            }
            match w {
                CustomerWrite::Create { customer, .. } if customer.version() != 1 => {
                    return bad(format!(
                        "created customer {} has version {}, expected 1",
                        customer.id(),
                        customer.version()
                    ));
                }
                CustomerWrite::Update {
                    expected_version,
                    customer,
                    ..
                } if Some(customer.version()) != expected_version.checked_add(1) => {
                    return bad(format!(
                        "updated customer {} has version {}, expected {} + 1",
                        customer.id(),
                        customer.version(),
                        expected_version
                    ));
                }
                _ => {}
            }
        }
        let twice = first_repeat(&self.activities, |a| &a.idempotency_key);
        for (i, a) in self.activities.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!(
                    "idempotency key `{}` appears twice",
                    a.idempotency_key
                ));
            }
            a.kind.validate()?;
        }
        let twice = first_repeat(&self.account_activities, |a| &a.activity.idempotency_key);
        for (i, a) in self.account_activities.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!(
                    "attributed key `{}` appears twice",
                    a.activity.idempotency_key
                ));
            }
            AccountActivity::check(&a.activity)?;
            a.activity.kind.validate()?;
        }
        validate_line_items(&self.line_items, &self.activities)?;
        let twice = first_repeat(&self.moves, |m| m.activity.id);
        for (i, m) in self.moves.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!("activity {} is moved twice", m.activity.id));
            }
            if m.from == m.activity.customer {
                return bad(format!(
                    "activity {} is moved to the customer it is stored under",
                    m.activity.id
                ));
            }
        }
        let twice = first_repeat(&self.merges, MergeRecordWrite::id);
        for (i, w) in self.merges.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!("merge {} is written twice", w.id()));
            }
            let restored = match w {
                MergeRecordWrite::Undo { loser, .. } => {
                    self.customers.iter().any(|c| c.customer().id() == *loser)
                }
                MergeRecordWrite::Insert { .. } => true,
                MergeRecordWrite::Redact { record } => {
                    if **record != record.redacted() {
                        return bad(format!(
                            "the redaction of merge {} holds personal data",
                            record.id
                        ));
                    }
                    // A merge in force: its loser's tombstone is erased with it.
                    record.undone_at.is_some()
                        || self.customers.iter().any(|c| {
                            c.customer().id() == record.loser
                                && c.customer().stage() == crate::model::lifecycle::Stage::Erased
                        })
                }
            };
            if !restored {
                return bad(format!(
                    "the {} of merge {} does not write its loser",
                    match w {
                        MergeRecordWrite::Redact { .. } => "redaction",
                        _ => "undo",
                    },
                    w.id()
                ));
            }
        }
        let twice = first_repeat(&self.outbox, |m| m.id);
        for (i, m) in self.outbox.iter().enumerate() {
            if m.tenant != tenant {
                return bad(format!("outbox message {} belongs to another tenant", m.id));
            }
            if twice == Some(i) {
                return bad(format!("outbox message {} appears twice", m.id));
            }
        }
        validate_cases(&self.cases, tenant)?;
        validate_accounts(&self.accounts, &self.account_links, tenant)?;
        for m in &self.account_activity_moves {
            let written = |id| self.accounts.iter().any(|w| w.account().id() == id);
            if !written(m.from) || !written(m.to) {
                return Err(DomainError::InvalidChangeset {
                    reason: format!(
                        "an activity moved from account {} to {} without a write of both",
                        m.from, m.to
                    ),
                });
            }
        }
        let twice = first_repeat(&self.consents, |e| e.id);
        for (i, e) in self.consents.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!("consent entry {} appears twice", e.id));
            }
            e.validate()?;
        }
        for r in &self.erasures {
            r.validate()?;
            let erased = self.customers.iter().any(|w| {
                w.customer().id() == r.customer
                    && w.customer().stage() == crate::model::lifecycle::Stage::Erased
            });
            if !erased {
                return bad(format!(
                    "erasure of {} without its update to erased",
                    r.customer
                ));
            }
        }
        for m in &self.consent_moves {
            if m.from == m.to {
                return bad(format!("consents of {} moved onto themselves", m.from));
            }
        }
        let twice = first_repeat(&self.consent_entry_moves, |m| m.entry);
        for (i, m) in self.consent_entry_moves.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!("consent entry {} is moved twice", m.entry));
            }
            if m.from == m.to {
                return bad(format!("consent entry {} moved onto its customer", m.entry));
            }
        }
        let twice = first_repeat(&self.link_removals, |r| *r);
        for (i, r) in self.link_removals.iter().enumerate() {
            if twice == Some(i) {
                return bad(format!(
                    "the link of account {} is removed twice",
                    r.account
                ));
            }
            if !self.accounts.iter().any(|w| w.account().id() == r.account) {
                return bad(format!(
                    "a link removal of account {} without a write of the account",
                    r.account
                ));
            }
            if self
                .account_links
                .iter()
                .any(|l| l.account == r.account && l.customer == r.customer)
            {
                return bad(format!(
                    "the link of account {} is written and removed",
                    r.account
                ));
            }
        }
        Ok(())
    }
}

/// One case row to write. Like a customer's: a create is never an upsert (the store fails
/// [`StoreError::CaseConflict`](crate::StoreError::CaseConflict) with `expected: 0`), an
/// update carries the version it was read at.
///
/// ```
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let c = Case::open(NewCase::new(CaseId::from_u128(1), t, CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH));
/// let next = c.assign(Some(Assignee::new("agent")?))?;
/// let mut cs = Changeset::new();
/// cs.cases.push(CaseWrite::Update { expected_version: c.version(), case: Box::new(next) });
/// assert!(cs.validate(t).is_ok());
/// assert_eq!(cs.cases[0].expected_version(), Some(1));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum CaseWrite {
    /// Insert a new case (version 1).
    Create {
        /// The case.
        case: Box<Case>,
    },
    /// Replace the case read at `expected_version` (the new one is one version on).
    Update {
        /// The version the decision was based on.
        expected_version: u64,
        /// The new state.
        case: Box<Case>,
    },
}

impl CaseWrite {
    /// The case written.
    #[must_use]
    pub fn case(&self) -> &Case {
        match self {
            CaseWrite::Create { case } | CaseWrite::Update { case, .. } => case,
        }
    }

    /// The version an update read; `None` for a create.
    #[must_use]
    pub fn expected_version(&self) -> Option<u64> {
        match self {
            CaseWrite::Create { .. } => None,
            CaseWrite::Update {
                expected_version, ..
            } => Some(*expected_version),
        }
    }
}

/// Each line list names an activity of the same changeset and describes it (the total check
/// is the host's: an import may allow a difference).
fn validate_line_items(lines: &[LineItems], activities: &[Activity]) -> Result<(), DomainError> {
    if lines.is_empty() {
        return Ok(());
    }
    let twice = first_repeat(lines, |l| l.activity);
    let by_id: std::collections::HashMap<_, _> = activities.iter().map(|a| (a.id, a)).collect();
    for (i, l) in lines.iter().enumerate() {
        if twice == Some(i) {
            return Err(DomainError::InvalidChangeset {
                reason: format!("activity {} has two line lists", l.activity),
            });
        }
        let Some(a) = by_id.get(&l.activity) else {
            return Err(DomainError::InvalidChangeset {
                reason: format!(
                    "line items name activity {}, which the changeset does not write",
                    l.activity
                ),
            });
        };
        l.check_against(a, true)?;
    }
    Ok(())
}

fn validate_cases(cases: &[CaseWrite], tenant: TenantId) -> Result<(), DomainError> {
    let bad = |reason: String| Err(DomainError::InvalidChangeset { reason });
    let twice = first_repeat(cases, |w| w.case().id());
    for (i, w) in cases.iter().enumerate() {
        let c = w.case();
        if c.tenant() != tenant {
            return bad(format!("case {} belongs to another tenant", c.id()));
        }
        if twice == Some(i) {
            return bad(format!("case {} is written twice", c.id()));
        }
        let want = w.expected_version().map_or(Some(1), |v| v.checked_add(1));
        if Some(c.version()) != want {
            return bad(format!(
                "case {} has version {}, expected {}",
                c.id(),
                c.version(),
                want.map_or_else(|| "none".to_owned(), |v| v.to_string())
            ));
        }
    }
    Ok(())
}

/// One account row to write: a create (version 1, never an upsert) or an update from the
/// version read.
///
/// ```
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let a = Account::new(AccountId::from_u128(1), t, AccountName::new("Acme")?, chrono::DateTime::UNIX_EPOCH);
/// let mut cs = Changeset::new();
/// cs.accounts.push(AccountWrite::Create { account: Box::new(a.clone()) });
/// cs.account_links.push(AccountLink::new(a.id(), CustomerId::from_u128(2), [AccountRole::Buyer], a.created_at()));
/// assert!(cs.validate(t).is_ok());
/// // A link whose account the changeset does not write is refused.
/// let mut orphan = Changeset::new();
/// orphan.account_links = cs.account_links.clone();
/// assert!(orphan.validate(t).is_err());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum AccountWrite {
    /// Insert a new account (version 1).
    Create {
        /// The account.
        account: Box<Account>,
    },
    /// Replace the account read at `expected_version`.
    Update {
        /// The version read.
        expected_version: u64,
        /// The new state.
        account: Box<Account>,
    },
}

impl AccountWrite {
    /// The account written.
    #[must_use]
    pub fn account(&self) -> &Account {
        match self {
            AccountWrite::Create { account } | AccountWrite::Update { account, .. } => account,
        }
    }

    /// The version an update read; `None` for a create.
    #[must_use]
    pub fn expected_version(&self) -> Option<u64> {
        match self {
            AccountWrite::Create { .. } => None,
            AccountWrite::Update {
                expected_version, ..
            } => Some(*expected_version),
        }
    }
}

fn validate_accounts(
    accounts: &[AccountWrite],
    links: &[AccountLink],
    tenant: TenantId,
) -> Result<(), DomainError> {
    let bad = |reason: String| Err(DomainError::InvalidChangeset { reason });
    let twice = first_repeat(accounts, |w| w.account().id());
    for (i, w) in accounts.iter().enumerate() {
        let a = w.account();
        if a.tenant() != tenant {
            return bad(format!("account {} belongs to another tenant", a.id()));
        }
        if twice == Some(i) {
            return bad(format!("account {} is written twice", a.id()));
        }
        let want = w.expected_version().map_or(Some(1), |v| v.checked_add(1));
        if Some(a.version()) != want {
            return bad(format!("account {} has a wrong version step", a.id()));
        }
    }
    let twice = first_repeat(links, |l| (l.account, l.customer));
    for (i, l) in links.iter().enumerate() {
        if twice == Some(i) {
            return bad(format!(
                "the link of account {} is written twice",
                l.account
            ));
        }
        if !accounts.iter().any(|w| w.account().id() == l.account) {
            return bad(format!(
                "a link of account {} without a write of the account",
                l.account
            ));
        }
    }
    Ok(())
}

impl Changeset {
    /// True when the changeset restores `id` from a `Merged` tombstone: it carries the undo of
    /// a merge whose loser is `id`. Stores accept the update of such a tombstone (only).
    ///
    /// ```
    /// use rapport_core::*;
    /// use rapport_core::quality::merge_op::MergeRecordWrite;
    /// let mut cs = Changeset::new();
    /// assert!(!cs.revives(CustomerId::from_u128(2)));
    /// cs.merges.push(MergeRecordWrite::Undo { id: MergeId::from_u128(1), loser: CustomerId::from_u128(2), at: chrono::DateTime::UNIX_EPOCH });
    /// assert!(cs.revives(CustomerId::from_u128(2)));
    /// ```
    #[must_use]
    pub fn revives(&self, id: CustomerId) -> bool {
        self.merges
            .iter()
            .any(|w| matches!(w, MergeRecordWrite::Undo { loser, .. } if *loser == id))
    }

    /// True when the changeset may write the `Merged` tombstone `id`: it revives it
    /// ([`Self::revives`]), or it erases it with the customer it was merged into — the
    /// changeset carries `id`'s erasure record and the redaction of the merge in force that
    /// made it ([`MergeRecordWrite::Redact`]). Stores accept the update of a tombstone only
    /// then, at the version read.
    ///
    /// ```
    /// use rapport_core::*;
    /// use rapport_core::privacy::ErasureRecord;
    /// use rapport_core::quality::merge_op::{MergeRecord, MergeRecordWrite};
    /// # fn record(survivor: CustomerId, loser: CustomerId) -> MergeRecord {
    /// #     let t = TenantId::from_u128(1);
    /// #     let now = chrono::DateTime::UNIX_EPOCH;
    /// #     let (s, l) = (Customer::new(t, survivor, Profile::default(), now), Customer::new(t, loser, Profile::default(), now));
    /// #     let ctx = rapport_core::quality::merge_op::MergeContext { id: MergeId::from_u128(9), actor: Actor::new("a").unwrap(), now };
    /// #     let none = Belongings::default();
    /// #     rapport_core::quality::merge_op::plan_merge(&s, &[], &l, &Stats::default(), &[], &none, &none,
    /// #         &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut || MessageId::from_u128(1)).unwrap().record
    /// # }
    /// let (ann, dup) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
    /// let mut cs = Changeset::new();
    /// cs.merges.push(MergeRecordWrite::Redact { record: Box::new(record(ann, dup).redacted()) });
    /// assert!(!cs.reopens(dup)); // a redaction alone does not open the tombstone…
    /// cs.erasures.push(ErasureRecord::new(dup, "ticket-1", "gdpr-art17", chrono::DateTime::UNIX_EPOCH)?);
    /// assert!(cs.reopens(dup)); // …its erasure with it does
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn reopens(&self, id: CustomerId) -> bool {
        self.revives(id)
            || (self.erasures.iter().any(|e| e.customer == id)
                && self.merges.iter().any(|w| {
                    matches!(w, MergeRecordWrite::Redact { record }
                        if record.loser == id && record.undone_at.is_none())
                }))
    }
}

/// The index of the first item whose key an earlier item already has. A use case writes one
/// customer, an activity and a few messages: scanning the earlier items is cheaper than
/// building a hash set, which only large changesets (imports, sweeps) get.
fn first_repeat<'a, T, K: Eq + Hash>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Option<usize> {
    if items.len() <= 16 {
        (1..items.len()).find(|&i| {
            let k = key(&items[i]);
            items[..i].iter().any(|p| key(p) == k)
        })
    } else {
        let mut seen = HashSet::with_capacity(items.len());
        items.iter().position(|x| !seen.insert(key(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::first_repeat;

    #[test]
    fn first_repeat_finds_the_first_item_seen_before_by_scan_and_by_set() {
        for n in [0usize, 1, 2, 5, 16, 17, 100] {
            let distinct: Vec<usize> = (0..n).collect();
            assert_eq!(first_repeat(&distinct, |x| *x), None);
            if n >= 2 {
                // 0, 1, …, n-2, then 1 again (or 0 when n == 2): the repeat is the last item.
                let mut v: Vec<usize> = (0..n - 1).collect();
                v.push(usize::from(n > 2));
                assert_eq!(first_repeat(&v, |x| *x), Some(n - 1));
                // Two repeats: the earlier one is reported.
                v.insert(1, 0);
                assert_eq!(first_repeat(&v, |x| *x), Some(1));
            }
        }
    }
}

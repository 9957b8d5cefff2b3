//! Accounts (B2B): a company customer with an optional parent (group structures, depth at most
//! [`MAX_ACCOUNT_DEPTH`], no cycles) and its contacts — people linked to it in roles, at most
//! one of them the primary contact. A person may hold roles in several accounts; unlinking
//! keeps the link's history (`until`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind};
use crate::model::id::{AccountId, AccountName, CustomerId, IdempotencyKey, TenantId};
use crate::model::lifecycle::{Lifecycle, Stage};
use crate::model::tier::{Tier, TierState};

/// The deepest an account may sit under its top parent: a top account has depth 0, its
/// subsidiaries 1, and so on up to 5.
pub const MAX_ACCOUNT_DEPTH: usize = 5;

/// A contact's role in an account.
///
/// ```
/// use rapport_core::AccountRole;
/// assert_eq!("decision_maker".parse::<AccountRole>()?, AccountRole::DecisionMaker);
/// assert_eq!(AccountRole::Billing.as_str(), "billing");
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Decides the purchases.
    DecisionMaker,
    /// Places the orders.
    Buyer,
    /// Uses the product.
    User,
    /// Pays.
    Billing,
    /// Anything else.
    Other,
}

impl AccountRole {
    /// Every role.
    pub const ALL: [AccountRole; 5] = [
        AccountRole::DecisionMaker,
        AccountRole::Buyer,
        AccountRole::User,
        AccountRole::Billing,
        AccountRole::Other,
    ];

    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::DecisionMaker => "decision_maker",
            AccountRole::Buyer => "buyer",
            AccountRole::User => "user",
            AccountRole::Billing => "billing",
            AccountRole::Other => "other",
        }
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountRole {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::InvalidText {
                field: "account.role",
                value: s.to_owned(),
                reason: "expected decision_maker, buyer, user, billing or other",
            })
    }
}

/// A set of [`AccountRole`]s, small and `Copy`: what a contact holds over its active links
/// (the `has_account_role(...)` segment predicate reads it).
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let ann = CustomerId::from_u128(2);
/// let mut old = AccountLink::new(AccountId::from_u128(1), ann, [AccountRole::Billing], now);
/// old.until = Some(now); // unlinked: its roles no longer count
/// let links = [AccountLink::new(AccountId::from_u128(3), ann, [AccountRole::DecisionMaker], now), old];
/// let roles = AccountRoleSet::of_links(&links);
/// assert!(roles.contains(AccountRole::DecisionMaker) && !roles.contains(AccountRole::Billing));
/// assert_eq!(roles.iter().collect::<Vec<_>>(), [AccountRole::DecisionMaker]);
/// assert!(AccountRoleSet::default().is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AccountRoleSet(u8);

impl AccountRoleSet {
    fn bit(role: AccountRole) -> u8 {
        1 << (role as u8)
    }

    /// The union of the roles of the active links among `links`.
    ///
    /// ```
    /// use rapport_core::*;
    /// let now = chrono::DateTime::UNIX_EPOCH;
    /// let c = CustomerId::from_u128(2);
    /// let links = [
    ///     AccountLink::new(AccountId::from_u128(1), c, [AccountRole::Buyer], now),
    ///     AccountLink::new(AccountId::from_u128(3), c, [AccountRole::User, AccountRole::Buyer], now),
    /// ];
    /// assert_eq!(AccountRoleSet::of_links(&links).iter().count(), 2);
    /// ```
    #[must_use]
    pub fn of_links<'a>(links: impl IntoIterator<Item = &'a AccountLink>) -> Self {
        let mut set = Self::default();
        for l in links.into_iter().filter(|l| l.is_active()) {
            for r in &l.roles {
                set.insert(*r);
            }
        }
        set
    }

    /// Adds a role.
    ///
    /// ```
    /// use rapport_core::{AccountRole, AccountRoleSet};
    /// let mut s = AccountRoleSet::default();
    /// s.insert(AccountRole::Billing);
    /// assert!(s.contains(AccountRole::Billing));
    /// ```
    pub fn insert(&mut self, role: AccountRole) {
        self.0 |= Self::bit(role);
    }

    /// True when the set holds `role`.
    ///
    /// ```
    /// use rapport_core::{AccountRole, AccountRoleSet};
    /// let s: AccountRoleSet = [AccountRole::User].into_iter().collect();
    /// assert!(s.contains(AccountRole::User) && !s.contains(AccountRole::Other));
    /// ```
    #[must_use]
    pub fn contains(self, role: AccountRole) -> bool {
        self.0 & Self::bit(role) != 0
    }

    /// True when the set holds no role.
    ///
    /// ```
    /// assert!(rapport_core::AccountRoleSet::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles held, in [`AccountRole::ALL`] order.
    ///
    /// ```
    /// use rapport_core::{AccountRole, AccountRoleSet};
    /// let s: AccountRoleSet = [AccountRole::Other, AccountRole::Buyer].into_iter().collect();
    /// assert_eq!(s.iter().collect::<Vec<_>>(), [AccountRole::Buyer, AccountRole::Other]);
    /// ```
    pub fn iter(self) -> impl Iterator<Item = AccountRole> {
        AccountRole::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
}

impl FromIterator<AccountRole> for AccountRoleSet {
    fn from_iter<I: IntoIterator<Item = AccountRole>>(iter: I) -> Self {
        let mut set = Self::default();
        for r in iter {
            set.insert(r);
        }
        set
    }
}

/// The set as the list of its role names, in [`AccountRole::ALL`] order (so
/// [`EvalInputs`](crate::EvalInputs) round-trip with the roles they were given).
///
/// ```
/// use rapport_core::{AccountRole, AccountRoleSet};
/// let s: AccountRoleSet = [AccountRole::Billing, AccountRole::DecisionMaker].into_iter().collect();
/// let json = serde_json::to_string(&s).unwrap();
/// assert_eq!(json, r#"["decision_maker","billing"]"#);
/// assert_eq!(serde_json::from_str::<AccountRoleSet>(&json).unwrap(), s);
/// ```
impl Serialize for AccountRoleSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AccountRoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<AccountRole>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// What merging an account into another moved, kept on the loser's tombstone
/// ([`Account::merged`]).
///
/// ```
/// use rapport_core::*;
/// let m = AccountMerge::new(AccountId::from_u128(2), chrono::DateTime::UNIX_EPOCH);
/// assert_eq!(m.into, AccountId::from_u128(2));
/// assert!(m.links.is_empty() && m.activities.is_empty() && m.subsidiaries.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMerge {
    /// The survivor.
    pub into: AccountId,
    /// When.
    pub at: DateTime<Utc>,
    /// The loser's links as they were (removed from it by the merge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<AccountLink>,
    /// The survivor's links to the same people before the merge folded the loser's into
    /// them (a person missing here had no link to the survivor).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub survivor_links: Vec<AccountLink>,
    /// The attributed activities handed to the survivor, by idempotency key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<IdempotencyKey>,
    /// The loser's subsidiaries, re-parented to the survivor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsidiaries: Vec<AccountId>,
}

impl AccountMerge {
    /// A merge into `into` at `at` that moved nothing yet.
    #[must_use]
    pub fn new(into: AccountId, at: DateTime<Utc>) -> Self {
        Self {
            into,
            at,
            links: Vec::new(),
            survivor_links: Vec::new(),
            activities: Vec::new(),
            subsidiaries: Vec::new(),
        }
    }
}

/// A company account.
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let acme = Account::new(AccountId::from_u128(1), TenantId::from_u128(1), AccountName::new("Acme")?, now);
/// assert_eq!((acme.version(), acme.parent), (1, None));
/// let mut next = acme.next_version();
/// next.parent = Some(AccountId::from_u128(2));
/// assert_eq!(next.version(), 2);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    id: AccountId,
    tenant: TenantId,
    /// The company's name.
    pub name: AccountName,
    /// The parent account (group structure), checked by [`check_parent`](crate::check_parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<AccountId>,
    /// What the account's last evaluation decided (tier, stage, churn alert); the default
    /// (Lead, Prospect) until the first one.
    #[serde(default, skip_serializing_if = "AccountStanding::is_initial")]
    pub standing: AccountStanding,
    /// Set on a tombstone: the account was merged into another, and this is what the merge
    /// moved (so that it can be undone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Box<AccountMerge>>,
    created_at: DateTime<Utc>,
    version: u64,
}

impl Account {
    /// A new top-level account at version 1.
    #[must_use]
    pub fn new(id: AccountId, tenant: TenantId, name: AccountName, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant,
            name,
            parent: None,
            standing: AccountStanding::default(),
            merged: None,
            created_at: now,
            version: 1,
        }
    }
    /// Its id.
    #[must_use]
    pub fn id(&self) -> AccountId {
        self.id
    }
    /// Its tenant.
    #[must_use]
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// When it was created.
    #[must_use]
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// The stored version.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }
    /// True unless the account was merged into another (a tombstone).
    ///
    /// ```
    /// use rapport_core::*;
    /// let a = Account::new(AccountId::from_u128(1), TenantId::from_u128(1), AccountName::new("Acme")?, chrono::DateTime::UNIX_EPOCH);
    /// assert!(a.is_live() && a.merged_into().is_none());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.merged.is_none()
    }
    /// The account this one was merged into, for a tombstone.
    #[must_use]
    pub fn merged_into(&self) -> Option<AccountId> {
        self.merged.as_ref().map(|m| m.into)
    }
    /// The same account one version on, to change and write.
    #[must_use]
    pub fn next_version(&self) -> Self {
        let mut n = self.clone();
        n.version += 1;
        n
    }
}

impl Account {
    /// The account's tier (from its last evaluation).
    #[must_use]
    pub fn tier(&self) -> Tier {
        self.standing.tier.tier
    }
    /// The account's lifecycle stage (from its last evaluation).
    #[must_use]
    pub fn stage(&self) -> Stage {
        self.standing.lifecycle.stage
    }
}

/// An account's tier, lifecycle and churn alert, as its last evaluation
/// ([`evaluate_account`](crate::decide::account_value::evaluate_account)) decided them: the
/// same ladder and lifecycle machine as for people, over the account's attributed purchases.
///
/// ```
/// use rapport_core::*;
/// let s = AccountStanding::default();
/// assert_eq!((s.tier.tier, s.lifecycle.stage, s.churn_alert), (Tier::Lead, Stage::Prospect, false));
/// assert!(s.is_initial());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStanding {
    /// Tier state (with the hysteresis clock and any pin).
    #[serde(default)]
    pub tier: TierState,
    /// Lifecycle state (stage, since, win-backs).
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// True while the churn risk is at or above the policy's alert threshold.
    #[serde(default)]
    pub churn_alert: bool,
    /// When the account was last evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<DateTime<Utc>>,
}

impl AccountStanding {
    /// True before any evaluation.
    #[must_use]
    pub fn is_initial(&self) -> bool {
        *self == Self::default()
    }
}

/// A purchase or refund **attributed to an account**: the order was made for the company,
/// by one of its people. The activity is the customer's own (recorded as usual); the
/// attribution adds it to the account's figures. An activity (by idempotency key) is
/// attributed to at most one account: a store keeps the first attribution of a key.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let at = DateTime::UNIX_EPOCH;
/// let key = IdempotencyKey::new("order-1")?;
/// let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), at, Channel::Web, key.clone(),
///     ActivityKind::Purchase { order_id: OrderId::new("1")?, amount: Money::new(1_000.into(), Currency::USD), margin: None })?;
/// let a = AccountActivity::new(AccountId::from_u128(9), buy)?;
/// assert_eq!(a.activity.idempotency_key, key);
/// let visit = Activity::new(ActivityId::from_u128(3), CustomerId::from_u128(2), at, Channel::Web,
///     IdempotencyKey::new("v-1")?, ActivityKind::Visit { item: None })?;
/// assert!(AccountActivity::new(AccountId::from_u128(9), visit).is_err()); // only purchases and refunds
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountActivity {
    /// The account the order was made for.
    pub account: AccountId,
    /// The purchase or refund (as recorded for its customer).
    pub activity: Activity,
}

impl AccountActivity {
    /// An attribution, checked: only purchases and refunds carry an account's value.
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming `account.activity` for another kind.
    pub fn new(account: AccountId, activity: Activity) -> Result<Self, DomainError> {
        Self::check(&activity)?;
        Ok(Self { account, activity })
    }

    /// Checks that `activity` may be attributed (a purchase or a refund).
    ///
    /// # Errors
    /// As [`AccountActivity::new`].
    pub fn check(activity: &Activity) -> Result<(), DomainError> {
        match activity.kind {
            ActivityKind::Purchase { .. } | ActivityKind::Refund { .. } => Ok(()),
            _ => Err(DomainError::InvalidText {
                field: "account.activity",
                value: activity.kind.activity_type().as_str().to_owned(),
                reason: "only purchases and refunds are attributed to an account",
            }),
        }
    }
}

/// A person's place in an account: roles, whether they are the primary contact, and since
/// when (until when, once unlinked: history is kept).
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let l = AccountLink::new(AccountId::from_u128(1), CustomerId::from_u128(2), [AccountRole::Buyer], now);
/// assert!(l.is_active() && !l.primary && l.roles.contains(&AccountRole::Buyer));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLink {
    /// The account.
    pub account: AccountId,
    /// The person.
    pub customer: CustomerId,
    /// Roles held.
    pub roles: BTreeSet<AccountRole>,
    /// The account's primary contact.
    #[serde(default)]
    pub primary: bool,
    /// Linked since.
    pub since: DateTime<Utc>,
    /// Unlinked at (the link is kept as history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl AccountLink {
    /// An active, non-primary link.
    #[must_use]
    pub fn new(
        account: AccountId,
        customer: CustomerId,
        roles: impl IntoIterator<Item = AccountRole>,
        since: DateTime<Utc>,
    ) -> Self {
        Self {
            account,
            customer,
            roles: roles.into_iter().collect(),
            primary: false,
            since,
            until: None,
        }
    }

    /// True while not unlinked.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.until.is_none()
    }
}

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
use crate::model::id::{AccountId, AccountName, CustomerId, TenantId};

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
    /// The same account one version on, to change and write.
    #[must_use]
    pub fn next_version(&self) -> Self {
        let mut n = self.clone();
        n.version += 1;
        n
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

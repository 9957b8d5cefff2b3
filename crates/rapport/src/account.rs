//! Account use cases (B2B): create accounts, place them in a group structure (depth at most
//! five, no cycles), link people in roles with one primary contact, unlink (keeping history),
//! and the contact roll-up of an account and its subsidiaries. Every change writes the
//! account with the version read (its links with it), decided again on a conflict.

use std::collections::BTreeMap;

use rapport_core::*;

use crate::error::Error;
use crate::service::Service;

/// An account's contacts counted by role, over the account alone and over the account with
/// every subsidiary below it (see [`Service::account_rollup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRollup {
    /// The account.
    pub account: AccountId,
    /// Its subsidiaries at every level below it.
    pub subsidiaries: Vec<AccountId>,
    /// Active contacts of the account itself.
    pub contacts: usize,
    /// Active contacts by role, of the account itself.
    pub by_role: BTreeMap<AccountRole, usize>,
    /// Distinct active contacts of the account and its subsidiaries.
    pub group_contacts: usize,
    /// Active contacts by role over the account and its subsidiaries (a person counted once
    /// per account holding the role).
    pub group_by_role: BTreeMap<AccountRole, usize>,
}

fn missing(id: AccountId) -> Error {
    Error::Store(StoreError::NotFound {
        entity: rapport_core::ports::Entity::Account(id),
    })
}

impl<S: AccountStore, N: Notifier> Service<S, N> {
    /// One account.
    ///
    /// # Errors
    /// A missing account ([`StoreError::NotFound`] as [`Error::Store`]); store errors.
    pub async fn account(&self, t: TenantId, id: AccountId) -> Result<Account, Error> {
        self.store()
            .load_account(t, id)
            .await?
            .ok_or_else(|| missing(id))
    }

    /// The ancestors of `id`, its parent first (at most one more than the allowed depth, so
    /// a stored cycle cannot loop).
    pub(crate) async fn ancestors(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<Vec<AccountId>, Error> {
        let mut out = Vec::new();
        let mut at = self.account(t, id).await?.parent;
        while let Some(p) = at {
            if out.contains(&p) || out.len() > MAX_ACCOUNT_DEPTH {
                break;
            }
            out.push(p);
            at = self.account(t, p).await?.parent;
        }
        Ok(out)
    }

    /// Every subsidiary below `id` with its level (1 for direct ones), breadth first.
    pub(crate) async fn below(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<Vec<(AccountId, usize)>, Error> {
        let mut out: Vec<(AccountId, usize)> = Vec::new();
        let mut frontier = vec![id];
        let mut level = 0;
        while !frontier.is_empty() && level <= MAX_ACCOUNT_DEPTH {
            level += 1;
            let mut next = Vec::new();
            for p in frontier {
                for s in self.store().subsidiaries(t, p).await? {
                    if s.id() != id && !out.iter().any(|(x, _)| *x == s.id()) {
                        out.push((s.id(), level));
                        next.push(s.id());
                    }
                }
            }
            frontier = next;
        }
        Ok(out)
    }

    async fn check_parent_of(
        &self,
        t: TenantId,
        id: AccountId,
        parent: AccountId,
    ) -> Result<(), Error> {
        // The parent must exist; its chain and our subtree bound the depth.
        self.account(t, parent).await?;
        let chain = self.ancestors(t, parent).await?;
        let height = self
            .below(t, id)
            .await?
            .iter()
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(0);
        Ok(check_parent(id, parent, &chain, height)?)
    }

    /// Creates an account, under `parent` when given.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let group = block_on(svc.create_account(t, AccountName::new("Acme Group")?, None))?;
    /// let sub = block_on(svc.create_account(t, AccountName::new("Acme Shanghai")?, Some(group.id())))?;
    /// assert_eq!(sub.parent, Some(group.id()));
    /// // A group under its own subsidiary would be a cycle: refused.
    /// assert!(block_on(svc.set_account_parent(t, group.id(), Some(sub.id()))).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A missing parent, a structure over five levels deep; store errors.
    pub async fn create_account(
        &self,
        t: TenantId,
        name: AccountName,
        parent: Option<AccountId>,
    ) -> Result<Account, Error> {
        let mut a = Account::new(AccountId::from_uuid(self.next_id()), t, name, self.now());
        if let Some(p) = parent {
            self.check_parent_of(t, a.id(), p).await?;
            a.parent = Some(p);
        }
        let mut cs = Changeset::new();
        cs.accounts.push(AccountWrite::Create {
            account: Box::new(a.clone()),
        });
        self.store().apply(t, &cs).await?;
        Ok(a)
    }

    /// Writes `decide(account, links)` (the new account state and the links that change)
    /// with the version read, deciding again on a conflict.
    pub(crate) async fn modify_account(
        &self,
        t: TenantId,
        id: AccountId,
        decide: impl Fn(&Account, &[AccountLink]) -> Result<(Account, Vec<AccountLink>), Error>,
    ) -> Result<(Account, Vec<AccountLink>), Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let read = self.account(t, id).await?;
            let links = self.store().account_links(t, id).await?;
            let (next, changed) = decide(&read, &links)?;
            let mut cs = Changeset::new();
            cs.accounts.push(AccountWrite::Update {
                expected_version: read.version(),
                account: Box::new(next.clone()),
            });
            cs.account_links = changed.clone();
            match self.store().apply(t, &cs).await {
                Ok(_) => return Ok((next, changed)),
                Err(StoreError::AccountConflict { .. }) if attempt < self.max_attempts() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Moves an account under `parent` (or to the top with `None`).
    ///
    /// # Errors
    /// A cycle or a structure over five levels deep ([`DomainError::InvalidText`] naming
    /// `account.parent`); a missing account; store errors.
    pub async fn set_account_parent(
        &self,
        t: TenantId,
        id: AccountId,
        parent: Option<AccountId>,
    ) -> Result<Account, Error> {
        if let Some(p) = parent {
            self.check_parent_of(t, id, p).await?;
        }
        let (a, _) = self
            .modify_account(t, id, |read, _| {
                let mut n = read.next_version();
                n.parent = parent;
                Ok((n, Vec::new()))
            })
            .await?;
        Ok(a)
    }

    /// Links a live customer to an account with `roles` (replacing the roles of an existing
    /// link, reactivating an ended one); with `primary`, makes them the account's only
    /// primary contact.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let bob = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.link_contact(t, acme.id(), ann, [AccountRole::DecisionMaker].into(), true))?;
    /// block_on(svc.link_contact(t, acme.id(), bob, [AccountRole::Buyer].into(), true))?;
    /// let links = block_on(svc.account_contacts(t, acme.id()))?;
    /// assert_eq!(links.iter().filter(|l| l.primary).map(|l| l.customer).collect::<Vec<_>>(), vec![bob]);
    /// block_on(svc.unlink_contact(t, acme.id(), ann))?;
    /// let r = block_on(svc.account_rollup(t, acme.id()))?;
    /// assert_eq!((r.contacts, r.by_role.get(&AccountRole::Buyer)), (1, Some(&1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown customer, tombstones, no role; store errors.
    pub async fn link_contact(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
        roles: std::collections::BTreeSet<AccountRole>,
        primary: bool,
    ) -> Result<AccountLink, Error> {
        if roles.is_empty() {
            return Err(DomainError::InvalidText {
                field: "account.roles",
                value: String::new(),
                reason: "a link holds at least one role",
            }
            .into());
        }
        let person = self.customer(t, customer).await?;
        person.customer.ensure_live()?;
        let customer = person.customer.id();
        let now = self.now();
        let (_, changed) = self
            .modify_account(t, account, |read, links| {
                let mut link = links
                    .iter()
                    .find(|l| l.customer == customer)
                    .cloned()
                    .unwrap_or_else(|| AccountLink::new(account, customer, [], now));
                if !link.is_active() {
                    link.since = now;
                    link.until = None;
                }
                link.roles = roles.clone();
                let mut changed = Vec::new();
                if primary {
                    let mut all: Vec<AccountLink> = links
                        .iter()
                        .filter(|l| l.customer != customer)
                        .cloned()
                        .collect();
                    all.push(link.clone());
                    changed = make_primary(&all, customer)?;
                }
                if !changed.iter().any(|l| l.customer == customer) {
                    changed.push(link);
                }
                Ok((read.next_version(), changed))
            })
            .await?;
        changed
            .into_iter()
            .find(|l| l.customer == customer)
            .ok_or(Error::NotFound(customer))
    }

    /// Ends a customer's link to an account (kept as history, no longer primary).
    ///
    /// # Errors
    /// No active link ([`DomainError::InvalidText`]); store errors.
    pub async fn unlink_contact(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
    ) -> Result<AccountLink, Error> {
        let now = self.now();
        let (_, changed) = self
            .modify_account(t, account, |read, links| {
                let mut link = links
                    .iter()
                    .find(|l| l.customer == customer && l.is_active())
                    .cloned()
                    .ok_or_else(|| DomainError::InvalidText {
                        field: "account.link",
                        value: customer.to_string(),
                        reason: "the customer has no active link to the account",
                    })?;
                link.until = Some(now.max(link.since));
                link.primary = false;
                Ok((read.next_version(), vec![link]))
            })
            .await?;
        changed.into_iter().next().ok_or(Error::NotFound(customer))
    }

    /// Every link of an account (active and past), by customer id.
    ///
    /// # Errors
    /// Store errors.
    pub async fn account_contacts(
        &self,
        t: TenantId,
        account: AccountId,
    ) -> Result<Vec<AccountLink>, Error> {
        Ok(self.store().account_links(t, account).await?)
    }

    /// Every link of a person (active and past), by account id.
    ///
    /// # Errors
    /// Store errors.
    pub async fn customer_accounts(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, Error> {
        Ok(self.store().customer_links(t, customer).await?)
    }

    /// A page of accounts in id order.
    ///
    /// # Errors
    /// Store errors.
    pub async fn accounts(
        &self,
        t: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, Error> {
        Ok(self.store().accounts(t, after, limit).await?)
    }

    /// The contact roll-up of an account: its active contacts by role, and the same over the
    /// account with all its subsidiaries (a parent's figures include its subsidiaries').
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let group = block_on(svc.create_account(t, AccountName::new("Group")?, None))?;
    /// let sub = block_on(svc.create_account(t, AccountName::new("Sub")?, Some(group.id())))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.link_contact(t, sub.id(), ann, [AccountRole::Buyer].into(), false))?;
    /// let r = block_on(svc.account_rollup(t, group.id()))?;
    /// assert_eq!((r.contacts, r.group_contacts, r.subsidiaries.clone()), (0, 1, vec![sub.id()]));
    /// assert_eq!(r.group_by_role.get(&AccountRole::Buyer), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A missing account; store errors.
    pub async fn account_rollup(&self, t: TenantId, id: AccountId) -> Result<AccountRollup, Error> {
        self.account(t, id).await?;
        let subsidiaries: Vec<AccountId> = self
            .below(t, id)
            .await?
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        let count = |links: &[AccountLink], by: &mut BTreeMap<AccountRole, usize>| {
            for l in links.iter().filter(|l| l.is_active()) {
                for r in &l.roles {
                    *by.entry(*r).or_default() += 1;
                }
            }
        };
        let own = self.store().account_links(t, id).await?;
        let mut by_role = BTreeMap::new();
        count(&own, &mut by_role);
        let mut group_by_role = by_role.clone();
        let mut people: std::collections::BTreeSet<CustomerId> = own
            .iter()
            .filter(|l| l.is_active())
            .map(|l| l.customer)
            .collect();
        for s in &subsidiaries {
            let links = self.store().account_links(t, *s).await?;
            count(&links, &mut group_by_role);
            people.extend(links.iter().filter(|l| l.is_active()).map(|l| l.customer));
        }
        Ok(AccountRollup {
            account: id,
            subsidiaries,
            contacts: own.iter().filter(|l| l.is_active()).count(),
            by_role,
            group_contacts: people.len(),
            group_by_role,
        })
    }
}

//! Accounts and their links in the memory store, checked and written inside `apply`.

use rapport_core::ports::check_account_writes;
use rapport_core::*;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::{Book, MemoryStore};

/// Activities attributed to accounts in one book.
#[derive(Debug, Default)]
pub(crate) struct Attributed {
    /// The account each attributed key went to (the first attribution wins).
    owner: HashMap<IdempotencyKey, AccountId>,
    /// Each account's attributed activities, by (time, key).
    by_account: BTreeMap<AccountId, BTreeMap<(DateTime<Utc>, IdempotencyKey), Activity>>,
}

/// A page of `segment`'s customers in `book`, each evaluated with the roles of its active
/// account links (when the segment tests roles) and the summary of its line items (when it
/// reads them).
pub(crate) fn query_with_context(
    book: &Book,
    segment: &Segment,
    now: DateTime<Utc>,
    page: Page,
) -> Vec<Record> {
    let mut roles: HashMap<CustomerId, AccountRoleSet> = HashMap::new();
    if segment.uses_account_roles() {
        for l in book.account_links.values().filter(|l| l.is_active()) {
            let held = roles.entry(l.customer).or_default();
            for r in &l.roles {
                held.insert(*r);
            }
        }
    }
    let mut lists: HashMap<CustomerId, Vec<LineItems>> = HashMap::new();
    if segment.uses_line_items() {
        for l in book.line_items.values() {
            lists.entry(l.customer).or_default().push(l.clone());
        }
    }
    let after = page
        .after
        .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
    book.customers
        .range((after, std::ops::Bound::Unbounded))
        .filter(|(id, r)| {
            let held = roles.get(id).copied().unwrap_or_default();
            let ctx = SegmentContext::new(&r.customer, &r.stats, now).with_account_roles(held);
            // Line items only where the stats do not answer (`category_spend` of a category
            // they track is read from them).
            if !segment.needs_line_items(&r.stats) {
                return segment.matches(&ctx);
            }
            let bought =
                segment::PurchaseSummary::from_line_items(lists.get(id).map_or(&[], Vec::as_slice));
            segment.matches(&ctx.with_purchases(&bought))
        })
        .take(page.limit as usize)
        .map(|(_, r)| Record::clone(r))
        .collect()
}

/// Checks a changeset's account writes against the book (before any write).
pub(crate) fn check(book: &Book, cs: &Changeset) -> Result<(), StoreError> {
    check_account_writes(&cs.accounts, |id| book.accounts.get(&id))?;
    for m in &cs.account_activity_moves {
        if book.attributed.owner.get(&m.key) != Some(&m.from) {
            return Err(StoreError::Invalid(DomainError::InvalidChangeset {
                reason: format!(
                    "no activity {} is attributed to the account it moves from",
                    m.key.as_str()
                ),
            }));
        }
    }
    Ok(())
}

/// Writes a changeset's accounts and links (after [`check`]).
pub(crate) fn write(book: &mut Book, cs: &Changeset) {
    for w in &cs.accounts {
        book.accounts.insert(w.account().id(), w.account().clone());
    }
    for r in &cs.link_removals {
        book.account_links.remove(&(r.account, r.customer));
        book.links_by_customer.remove(&(r.customer, r.account));
    }
    for l in &cs.account_links {
        book.account_links
            .insert((l.account, l.customer), l.clone());
        book.links_by_customer.insert((l.customer, l.account));
    }
    let at = &mut book.attributed;
    for a in &cs.account_activities {
        let key = &a.activity.idempotency_key;
        if at.owner.contains_key(key) {
            continue;
        }
        at.owner.insert(key.clone(), a.account);
        at.by_account
            .entry(a.account)
            .or_default()
            .insert((a.activity.at, key.clone()), a.activity.clone());
    }
    // A merge hands activities to the survivor: their attributed copies follow.
    for m in &cs.moves {
        let key = &m.activity.idempotency_key;
        if let Some(account) = at.owner.get(key)
            && let Some(copy) = at
                .by_account
                .get_mut(account)
                .and_then(|acts| acts.get_mut(&(m.activity.at, key.clone())))
            && copy.customer == m.from
        {
            copy.customer = m.activity.customer;
        }
    }
    // Merging two accounts hands attributions from one to the other.
    for m in &cs.account_activity_moves {
        let Some(acts) = at.by_account.get_mut(&m.from) else {
            continue; // checked before: unreachable
        };
        let Some(slot) = acts.keys().find(|(_, k)| *k == m.key).cloned() else {
            continue;
        };
        let Some(activity) = acts.remove(&slot) else {
            continue;
        };
        if acts.is_empty() {
            at.by_account.remove(&m.from);
        }
        at.owner.insert(m.key.clone(), m.to);
        at.by_account
            .entry(m.to)
            .or_default()
            .insert(slot, activity);
    }
}

impl AccountStore for MemoryStore {
    async fn load_account(
        &self,
        tenant: TenantId,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.accounts.get(&id).cloned()))
    }

    async fn accounts(
        &self,
        tenant: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let inner = self.lock()?;
        Ok(inner.books.get(&tenant).map_or_else(Vec::new, |b| {
            let from = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            b.accounts
                .range((from, std::ops::Bound::Unbounded))
                .take(limit as usize)
                .map(|(_, a)| a.clone())
                .collect()
        }))
    }

    async fn subsidiaries(
        &self,
        tenant: TenantId,
        parent: AccountId,
    ) -> Result<Vec<Account>, StoreError> {
        let inner = self.lock()?;
        Ok(inner.books.get(&tenant).map_or_else(Vec::new, |b| {
            b.accounts
                .values()
                .filter(|a| a.parent == Some(parent))
                .cloned()
                .collect()
        }))
    }

    async fn account_links(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        let inner = self.lock()?;
        Ok(inner.books.get(&tenant).map_or_else(Vec::new, |b| {
            b.account_links
                .range((account, CustomerId::from_u128(0))..)
                .take_while(|((a, _), _)| *a == account)
                .map(|(_, l)| l.clone())
                .collect()
        }))
    }

    async fn account_activities(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<Activity>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .books
            .get(&tenant)
            .and_then(|b| b.attributed.by_account.get(&account))
            .map_or_else(Vec::new, |acts| acts.values().cloned().collect()))
    }

    /// One lock for the whole page.
    async fn accounts_activities(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<Vec<Vec<Activity>>, StoreError> {
        let inner = self.lock()?;
        let by_account = inner.books.get(&tenant).map(|b| &b.attributed.by_account);
        Ok(accounts
            .iter()
            .map(|a| {
                by_account
                    .and_then(|m| m.get(a))
                    .map_or_else(Vec::new, |acts| acts.values().cloned().collect())
            })
            .collect())
    }

    /// One lock for the whole page; the links are counted where they are, not copied.
    async fn contacts_by_role(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<BTreeMap<AccountRole, usize>, StoreError> {
        let inner = self.lock()?;
        let mut by_role = BTreeMap::new();
        if let Some(b) = inner.books.get(&tenant) {
            for a in accounts {
                let links = b
                    .account_links
                    .range((*a, CustomerId::from_u128(0))..)
                    .take_while(|((x, _), _)| x == a)
                    .map(|(_, l)| l);
                rapport_core::ports::count_roles(&mut by_role, links);
            }
        }
        Ok(by_role)
    }

    async fn customer_links(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .books
            .get(&tenant)
            .map_or_else(Vec::new, |b| b.links_of(customer).cloned().collect()))
    }
}

impl Book {
    /// A person's links (active and past), by account id.
    pub(crate) fn links_of(&self, customer: CustomerId) -> impl Iterator<Item = &AccountLink> {
        let (lo, hi) = (AccountId::from_u128(0), AccountId::from_u128(u128::MAX));
        self.links_by_customer
            .range((customer, lo)..=(customer, hi))
            .filter_map(|(c, a)| self.account_links.get(&(*a, *c)))
    }
}

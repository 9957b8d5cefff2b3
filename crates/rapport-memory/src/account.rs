//! Accounts and their links in the memory store, checked and written inside `apply`.

use rapport_core::ports::check_account_writes;
use rapport_core::*;

use crate::{Book, MemoryStore};

/// Checks a changeset's account writes against the book (before any write).
pub(crate) fn check(book: &Book, cs: &Changeset) -> Result<(), StoreError> {
    check_account_writes(&cs.accounts, |id| book.accounts.get(&id))
}

/// Writes a changeset's accounts and links (after [`check`]).
pub(crate) fn write(book: &mut Book, cs: &Changeset) {
    for w in &cs.accounts {
        book.accounts.insert(w.account().id(), w.account().clone());
    }
    for r in &cs.link_removals {
        book.account_links.remove(&(r.account, r.customer));
    }
    for l in &cs.account_links {
        book.account_links
            .insert((l.account, l.customer), l.clone());
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
            b.accounts
                .values()
                .filter(|a| after.is_none_or(|x| a.id() > x))
                .take(limit as usize)
                .cloned()
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
                .values()
                .filter(|l| l.account == account)
                .cloned()
                .collect()
        }))
    }

    async fn customer_links(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        let inner = self.lock()?;
        Ok(inner.books.get(&tenant).map_or_else(Vec::new, |b| {
            b.account_links
                .values()
                .filter(|l| l.customer == customer)
                .cloned()
                .collect()
        }))
    }
}

//! The account port: reading accounts and their links back. Accounts and links are written
//! through [`Store::apply`] (the changeset's `accounts` and `account_links`).

use std::collections::BTreeMap;
use std::future::Future;

use crate::changeset::AccountWrite;
use crate::model::account::{Account, AccountLink, AccountRole};
use crate::model::activity::Activity;
use crate::model::id::{AccountId, CustomerId, TenantId};
use crate::ports::{Entity, Store, StoreError};

/// A store that also keeps accounts. Contract (checked by `rapport-testkit`): account writes
/// are atomic with their changeset; a create of an existing account fails
/// [`StoreError::AccountConflict`] (`expected: 0`), a stale update `AccountConflict`, an
/// update of a missing one [`StoreError::NotFound`] ([`Entity::Account`]); a link replaces the
/// stored link of the same (account, customer); an attributed activity
/// (`Changeset::account_activities`) is kept once per idempotency key, the first attribution
/// winning; reads never cross tenants; lists are in id order (links by customer id, or by
/// account id for a customer's links; attributed activities by time, then key).
pub trait AccountStore: Store {
    /// One account.
    fn load_account(
        &self,
        tenant: TenantId,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;

    /// A page of accounts after `after`, at most `limit`.
    fn accounts(
        &self,
        tenant: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send;

    /// The accounts whose parent is `parent`.
    fn subsidiaries(
        &self,
        tenant: TenantId,
        parent: AccountId,
    ) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send;

    /// Every link of an account (active and past), by customer id.
    fn account_links(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<AccountLink>, StoreError>> + Send;

    /// The purchases and refunds attributed to an account (its own, not its subsidiaries'),
    /// by time then idempotency key.
    fn account_activities(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<Activity>, StoreError>> + Send;

    /// Every link of a person (active and past), by account id.
    fn customer_links(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<AccountLink>, StoreError>> + Send;

    /// The attributed activities of each of `accounts`, in the order given, each list as
    /// [`AccountStore::account_activities`] answers it: a sweep reads a page of accounts' figures
    /// in one call. The default body asks once per account; a store overrides it to read the
    /// page at once.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// # use rapport_core::ports::*;
    /// # struct S;
    /// # impl Store for S {
    /// #     async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
    /// #     async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
    /// #     async fn scan(&self, _: TenantId, _: Page) -> Result<Vec<Record>, StoreError> { Ok(vec![]) }
    /// #     async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #     async fn apply(&self, _: TenantId, cs: &Changeset) -> Result<Applied, StoreError> { Ok(Applied::counting(cs)) }
    /// # }
    /// # impl AccountStore for S {
    /// #     async fn load_account(&self, _: TenantId, _: AccountId) -> Result<Option<Account>, StoreError> { Ok(None) }
    /// #     async fn accounts(&self, _: TenantId, _: Option<AccountId>, _: u32) -> Result<Vec<Account>, StoreError> { Ok(vec![]) }
    /// #     async fn subsidiaries(&self, _: TenantId, _: AccountId) -> Result<Vec<Account>, StoreError> { Ok(vec![]) }
    /// #     async fn account_links(&self, _: TenantId, a: AccountId) -> Result<Vec<AccountLink>, StoreError> {
    /// #         let mut gone = AccountLink::new(a, CustomerId::from_u128(3), [AccountRole::Buyer], chrono::DateTime::UNIX_EPOCH);
    /// #         gone.until = Some(chrono::DateTime::UNIX_EPOCH);
    /// #         Ok(vec![AccountLink::new(a, CustomerId::from_u128(2), [AccountRole::Buyer], chrono::DateTime::UNIX_EPOCH), gone])
    /// #     }
    /// #     async fn account_activities(&self, _: TenantId, _: AccountId) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #     async fn customer_links(&self, _: TenantId, _: CustomerId) -> Result<Vec<AccountLink>, StoreError> { Ok(vec![]) }
    /// # }
    /// # let s = S;
    /// // `s` is any account store (here one whose accounts have no attributed activity).
    /// let t = TenantId::from_u128(1);
    /// let ids = [AccountId::from_u128(1), AccountId::from_u128(2)];
    /// assert_eq!(block_on(s.accounts_activities(t, &ids))?, vec![Vec::<Activity>::new(); 2]);
    /// # Ok::<(), StoreError>(())
    /// ```
    fn accounts_activities(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<Vec<Vec<Activity>>, StoreError>> + Send {
        async move {
            let mut out = Vec::with_capacity(accounts.len());
            for a in accounts {
                out.push(self.account_activities(tenant, *a).await?);
            }
            Ok(out)
        }
    }

    /// The active contacts of `accounts` by role, summed over the accounts: for each role, how
    /// many active links (no `until`) of these accounts hold it (a person in two of them
    /// counts twice). The default body reads each account's links; a store overrides it to
    /// count the page at once without handing the links over.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// # use rapport_core::ports::*;
    /// # struct S;
    /// # impl Store for S {
    /// #     async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
    /// #     async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
    /// #     async fn scan(&self, _: TenantId, _: Page) -> Result<Vec<Record>, StoreError> { Ok(vec![]) }
    /// #     async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #     async fn apply(&self, _: TenantId, cs: &Changeset) -> Result<Applied, StoreError> { Ok(Applied::counting(cs)) }
    /// # }
    /// # impl AccountStore for S {
    /// #     async fn load_account(&self, _: TenantId, _: AccountId) -> Result<Option<Account>, StoreError> { Ok(None) }
    /// #     async fn accounts(&self, _: TenantId, _: Option<AccountId>, _: u32) -> Result<Vec<Account>, StoreError> { Ok(vec![]) }
    /// #     async fn subsidiaries(&self, _: TenantId, _: AccountId) -> Result<Vec<Account>, StoreError> { Ok(vec![]) }
    /// #     async fn account_links(&self, _: TenantId, a: AccountId) -> Result<Vec<AccountLink>, StoreError> {
    /// #         let mut gone = AccountLink::new(a, CustomerId::from_u128(3), [AccountRole::Buyer], chrono::DateTime::UNIX_EPOCH);
    /// #         gone.until = Some(chrono::DateTime::UNIX_EPOCH);
    /// #         Ok(vec![AccountLink::new(a, CustomerId::from_u128(2), [AccountRole::Buyer], chrono::DateTime::UNIX_EPOCH), gone])
    /// #     }
    /// #     async fn account_activities(&self, _: TenantId, _: AccountId) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #     async fn customer_links(&self, _: TenantId, _: CustomerId) -> Result<Vec<AccountLink>, StoreError> { Ok(vec![]) }
    /// # }
    /// # let s = S;
    /// // `s` is any account store; here every account has one active buyer and one who left.
    /// let t = TenantId::from_u128(1);
    /// let by_role = block_on(s.contacts_by_role(t, &[AccountId::from_u128(1), AccountId::from_u128(2)]))?;
    /// assert_eq!(by_role.into_iter().collect::<Vec<_>>(), [(AccountRole::Buyer, 2)]);
    /// # Ok::<(), StoreError>(())
    /// ```
    fn contacts_by_role(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> impl Future<Output = Result<BTreeMap<AccountRole, usize>, StoreError>> + Send {
        async move {
            let mut by_role = BTreeMap::new();
            for a in accounts {
                count_roles(&mut by_role, &self.account_links(tenant, *a).await?);
            }
            Ok(by_role)
        }
    }
}

// References and `Arc`s of an account store are account stores (as for every other port), so
// a service over `&S` or `Arc<S>` reads accounts too. Every method forwards, the provided ones
// included, so a store's own faster forms are kept.
macro_rules! forward_account_store {
    ($($wrapper:ty),+) => {$(
        impl<S: AccountStore + ?Sized> AccountStore for $wrapper {
            fn load_account(
                &self,
                tenant: TenantId,
                id: AccountId,
            ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send {
                (**self).load_account(tenant, id)
            }
            fn accounts(
                &self,
                tenant: TenantId,
                after: Option<AccountId>,
                limit: u32,
            ) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send {
                (**self).accounts(tenant, after, limit)
            }
            fn subsidiaries(
                &self,
                tenant: TenantId,
                parent: AccountId,
            ) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send {
                (**self).subsidiaries(tenant, parent)
            }
            fn account_links(
                &self,
                tenant: TenantId,
                account: AccountId,
            ) -> impl Future<Output = Result<Vec<AccountLink>, StoreError>> + Send {
                (**self).account_links(tenant, account)
            }
            fn account_activities(
                &self,
                tenant: TenantId,
                account: AccountId,
            ) -> impl Future<Output = Result<Vec<Activity>, StoreError>> + Send {
                (**self).account_activities(tenant, account)
            }
            fn customer_links(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Vec<AccountLink>, StoreError>> + Send {
                (**self).customer_links(tenant, customer)
            }
            fn accounts_activities(
                &self,
                tenant: TenantId,
                accounts: &[AccountId],
            ) -> impl Future<Output = Result<Vec<Vec<Activity>>, StoreError>> + Send {
                (**self).accounts_activities(tenant, accounts)
            }
            fn contacts_by_role(
                &self,
                tenant: TenantId,
                accounts: &[AccountId],
            ) -> impl Future<Output = Result<BTreeMap<AccountRole, usize>, StoreError>> + Send {
                (**self).contacts_by_role(tenant, accounts)
            }
        }
    )+};
}

forward_account_store!(&S, std::sync::Arc<S>);

/// Adds the roles of the active links among `links` to `by_role` (one per link and role).
///
/// ```
/// use rapport_core::ports::count_roles;
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let a = AccountId::from_u128(1);
/// let mut gone = AccountLink::new(a, CustomerId::from_u128(3), [AccountRole::Buyer], now);
/// gone.until = Some(now);
/// let links = [AccountLink::new(a, CustomerId::from_u128(2), [AccountRole::Buyer, AccountRole::User], now), gone];
/// let mut by_role = std::collections::BTreeMap::new();
/// count_roles(&mut by_role, &links);
/// assert_eq!(by_role[&AccountRole::Buyer], 1);
/// assert_eq!(by_role[&AccountRole::User], 1);
/// ```
pub fn count_roles<'a>(
    by_role: &mut BTreeMap<AccountRole, usize>,
    links: impl IntoIterator<Item = &'a AccountLink>,
) {
    for l in links.into_iter().filter(|l| l.is_active()) {
        for r in &l.roles {
            *by_role.entry(*r).or_default() += 1;
        }
    }
}

/// Checks account writes against the stored accounts, for in-memory stores.
///
/// ```
/// use rapport_core::ports::check_account_writes;
/// use rapport_core::*;
/// let a = Account::new(AccountId::from_u128(1), TenantId::from_u128(1), AccountName::new("Acme")?, chrono::DateTime::UNIX_EPOCH);
/// let create = [AccountWrite::Create { account: Box::new(a.clone()) }];
/// assert!(check_account_writes(&create, |_| None).is_ok());
/// assert!(matches!(check_account_writes(&create, |_| Some(&a)), Err(StoreError::AccountConflict { expected: 0, .. })));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`StoreError::AccountConflict`] or [`StoreError::NotFound`] for the first refused write.
pub fn check_account_writes<'a>(
    writes: &[AccountWrite],
    stored: impl Fn(AccountId) -> Option<&'a Account>,
) -> Result<(), StoreError> {
    for w in writes {
        let id = w.account().id();
        match (w.expected_version(), stored(id)) {
            (None, Some(old)) => {
                return Err(StoreError::AccountConflict {
                    account: id,
                    expected: 0,
                    actual: old.version(),
                });
            }
            (Some(_), None) => {
                return Err(StoreError::NotFound {
                    entity: Entity::Account(id),
                });
            }
            (Some(v), Some(old)) if old.version() != v => {
                return Err(StoreError::AccountConflict {
                    account: id,
                    expected: v,
                    actual: old.version(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

//! The account port: reading accounts and their links back. Accounts and links are written
//! through [`Store::apply`] (the changeset's `accounts` and `account_links`).

use std::future::Future;

use crate::changeset::AccountWrite;
use crate::model::account::{Account, AccountLink};
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

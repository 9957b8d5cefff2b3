//! The rules of account structures: a parent that keeps the hierarchy acyclic and at most
//! [`MAX_ACCOUNT_DEPTH`] deep, and one primary contact per account.

use crate::error::DomainError;
use crate::model::account::{AccountLink, MAX_ACCOUNT_DEPTH};
use crate::model::id::{AccountId, CustomerId};

fn refuse(value: String, reason: &'static str) -> DomainError {
    DomainError::InvalidText {
        field: "account.parent",
        value,
        reason,
    }
}

/// Checks that `account` may get `parent`, given the parent's ancestors (`parent_chain`: the
/// parent's parent first, up to the top) and the height of `account`'s own subtree (0 when
/// it has no subsidiaries): no cycle, and every account of the subtree at most
/// [`MAX_ACCOUNT_DEPTH`] deep.
///
/// ```
/// use rapport_core::*;
/// let a = |i| AccountId::from_u128(i);
/// // 2 under 1: fine.
/// assert!(check_parent(a(2), a(1), &[], 0).is_ok());
/// // 1 under 3 where 3 is under 2 and 2 under 1: a cycle.
/// assert!(check_parent(a(1), a(3), &[a(2), a(1)], 0).is_err());
/// // Depth: the parent at depth 4 (4 ancestors), the account would be at 5 — allowed…
/// assert!(check_parent(a(9), a(5), &[a(4), a(3), a(2), a(1)], 0).is_ok());
/// // …but not with a subsidiary of its own (it would be at 6).
/// assert!(check_parent(a(9), a(5), &[a(4), a(3), a(2), a(1)], 1).is_err());
/// ```
///
/// # Errors
/// [`DomainError::InvalidText`] naming `account.parent`.
pub fn check_parent(
    account: AccountId,
    parent: AccountId,
    parent_chain: &[AccountId],
    subtree_height: usize,
) -> Result<(), DomainError> {
    if parent == account || parent_chain.contains(&account) {
        return Err(refuse(
            parent.to_string(),
            "the parent would make the account its own ancestor",
        ));
    }
    // The parent sits at depth `parent_chain.len()`; the account one below it.
    if parent_chain.len() + 1 + subtree_height > MAX_ACCOUNT_DEPTH {
        return Err(refuse(
            parent.to_string(),
            "the account structure would be more than 5 levels deep",
        ));
    }
    Ok(())
}

/// Makes `customer` the only primary contact among `links` (of one account); the others lose
/// the flag. Returns the links that changed.
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let (acc, ann, bob) = (AccountId::from_u128(1), CustomerId::from_u128(1), CustomerId::from_u128(2));
/// let mut a = AccountLink::new(acc, ann, [AccountRole::Buyer], now);
/// a.primary = true;
/// let b = AccountLink::new(acc, bob, [AccountRole::DecisionMaker], now);
/// let changed = make_primary(&[a, b], bob)?;
/// assert_eq!(changed.len(), 2);
/// assert!(changed.iter().all(|l| l.primary == (l.customer == bob)));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::InvalidText`] when `customer` has no active link among `links`.
pub fn make_primary(
    links: &[AccountLink],
    customer: CustomerId,
) -> Result<Vec<AccountLink>, DomainError> {
    if !links
        .iter()
        .any(|l| l.customer == customer && l.is_active())
    {
        return Err(DomainError::InvalidText {
            field: "account.primary",
            value: customer.to_string(),
            reason: "the primary contact is an active contact of the account",
        });
    }
    Ok(links
        .iter()
        .filter(|l| l.primary != (l.customer == customer && l.is_active()))
        .map(|l| AccountLink {
            primary: l.customer == customer && l.is_active(),
            ..l.clone()
        })
        .collect())
}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    /// Depth of `a` following parents, `None` on a cycle.
    fn depth(parents: &BTreeMap<u128, u128>, a: u128) -> Option<usize> {
        let (mut at, mut d) = (a, 0);
        while let Some(p) = parents.get(&at) {
            d += 1;
            if d > parents.len() {
                return None;
            }
            at = *p;
        }
        Some(d)
    }

    proptest! {
        /// Random parent moves over 12 accounts, each accepted only when `check_parent`
        /// allows it (with the chain and subtree height read from the current structure):
        /// the structure never has a cycle nor an account deeper than 5, and a refused move
        /// would have made one.
        #[test]
        fn prop_hierarchy_stays_acyclic_and_shallow(moves in proptest::collection::vec((0u128..12, 0u128..12), 1..80)) {
            let mut parents: BTreeMap<u128, u128> = BTreeMap::new();
            for (a, p) in moves {
                let mut chain = Vec::new();
                let mut at = p;
                while let Some(q) = parents.get(&at) {
                    chain.push(AccountId::from_u128(*q));
                    at = *q;
                    if chain.len() > 12 { break; }
                }
                let height = (0u128..12)
                    .filter(|x| {
                        let mut at = *x;
                        while let Some(q) = parents.get(&at) {
                            if *q == a { return true; }
                            at = *q;
                        }
                        false
                    })
                    .map(|x| {
                        let (mut at, mut h) = (x, 0);
                        while at != a { at = parents[&at]; h += 1; }
                        h
                    })
                    .max()
                    .unwrap_or(0);
                let verdict = check_parent(AccountId::from_u128(a), AccountId::from_u128(p), &chain, height);
                let mut tried = parents.clone();
                tried.insert(a, p);
                let fine = (0u128..12).all(|x| depth(&tried, x).is_some_and(|d| d <= MAX_ACCOUNT_DEPTH));
                prop_assert_eq!(verdict.is_ok(), fine, "move {} under {}", a, p);
                if fine {
                    parents = tried;
                }
                prop_assert!((0u128..12).all(|x| depth(&parents, x).is_some_and(|d| d <= MAX_ACCOUNT_DEPTH)));
            }
        }
    }
}

//! The account contracts can fail: account stores that break one promise each fail exactly
//! the contract that holds it — a store that keeps the links a merge removes, one that does
//! not move attributions between accounts, one that counts ended links by role, one that
//! answers no account roles (a wrapper that forgot to forward `Store::account_roles`) — and
//! pass the others.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use futures::executor::block_on;
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::account;
use rapport_testkit::broken::{Broken, Hooks};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Flaw {
    /// `Changeset::link_removals` are not applied: a merged account keeps its links.
    KeepsRemovedLinks,
    /// `Changeset::account_activity_moves` are not applied: attributions stay put.
    IgnoresAttributionMoves,
    /// `contacts_by_role` counts every link, ended ones included.
    CountsEndedLinks,
    /// `Store::account_roles` is not forwarded: the default body answers no roles.
    ForgetsAccountRoles,
}

type Flawed = Broken<MemoryStore, Flaw>;

impl Hooks<MemoryStore> for Flaw {
    async fn apply(this: &Flawed, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        let mut cs = cs.clone();
        match this.hooks {
            Flaw::KeepsRemovedLinks => cs.link_removals.clear(),
            Flaw::IgnoresAttributionMoves => cs.account_activity_moves.clear(),
            Flaw::CountsEndedLinks | Flaw::ForgetsAccountRoles => {}
        }
        this.inner.apply(t, &cs).await
    }
    async fn account_roles(
        this: &Flawed,
        t: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<AccountRoleSet>, StoreError> {
        if this.hooks == Flaw::ForgetsAccountRoles {
            return Ok(vec![AccountRoleSet::default(); customers.len()]);
        }
        this.inner.account_roles(t, customers).await
    }
    async fn contacts_by_role(
        this: &Flawed,
        t: TenantId,
        accounts: &[AccountId],
    ) -> Result<BTreeMap<AccountRole, usize>, StoreError> {
        if this.hooks != Flaw::CountsEndedLinks {
            return this.inner.contacts_by_role(t, accounts).await;
        }
        let mut by_role = BTreeMap::new();
        for a in accounts {
            for l in this.inner.account_links(t, *a).await? {
                for r in &l.roles {
                    *by_role.entry(*r).or_default() += 1;
                }
            }
        }
        Ok(by_role)
    }
}

/// The outcome of every account contract for a store with `flaw`, by contract name.
fn outcomes(flaw: Flaw) -> BTreeMap<&'static str, Result<(), String>> {
    let s = || Broken::new(MemoryStore::new(), flaw);
    BTreeMap::from([
        (
            "round_trip",
            block_on(account::accounts_round_trip_and_link(&s())),
        ),
        (
            "versions",
            block_on(account::account_versions_conflict(&s())),
        ),
        (
            "attributed",
            block_on(account::account_activities_attributed(&s())),
        ),
        ("roles", block_on(account::account_roles_feed_rules(&s()))),
        ("merge", block_on(account::accounts_merge_and_unmerge(&s()))),
    ])
}

/// Asserts that exactly `broken` fails, with a message containing `says`.
fn fails_only(flaw: Flaw, broken: &str, says: &str) {
    for (name, outcome) in outcomes(flaw) {
        if name == broken {
            let e = outcome.expect_err(name);
            assert!(e.contains(says), "{flaw:?}: {name}: {e}");
        } else {
            assert_eq!(outcome, Ok(()), "{flaw:?}: {name}");
        }
    }
}

#[test]
fn the_memory_store_passes_every_account_contract() {
    let s = || MemoryStore::new();
    block_on(account::accounts_round_trip_and_link(&s())).unwrap();
    block_on(account::account_versions_conflict(&s())).unwrap();
    block_on(account::account_activities_attributed(&s())).unwrap();
    block_on(account::account_roles_feed_rules(&s())).unwrap();
    block_on(account::accounts_merge_and_unmerge(&s())).unwrap();
}

#[test]
fn a_store_keeping_removed_links_fails_the_merge_contract() {
    fails_only(Flaw::KeepsRemovedLinks, "merge", "the loser kept its links");
}

#[test]
fn a_store_ignoring_attribution_moves_fails_the_merge_contract() {
    fails_only(
        Flaw::IgnoresAttributionMoves,
        "merge",
        "the attributed activity did not move",
    );
}

#[test]
fn a_store_counting_ended_links_fails_the_round_trip() {
    fails_only(Flaw::CountsEndedLinks, "round_trip", "ended link");
}

#[test]
fn a_store_forgetting_account_roles_fails_the_roles_contract() {
    fails_only(Flaw::ForgetsAccountRoles, "roles", "account roles");
}

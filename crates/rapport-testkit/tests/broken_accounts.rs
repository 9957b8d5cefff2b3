//! The account contracts can fail: account stores that break one promise each fail exactly
//! the contract that holds it — a store that keeps the links a merge removes, one that does
//! not move attributions between accounts, one that counts ended links by role, one that
//! answers no account roles (a wrapper that forgot to forward `Store::account_roles`) — and
//! pass the others.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::automation::{ActionRecord, ScheduledAction};
use rapport_core::ports::{ActionLog, ActionStore, DueActions};
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::account;

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

struct Flawed(MemoryStore, Flaw);

impl Store for Flawed {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.0.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.0.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.0.scan(t, page).await
    }
    async fn query(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        self.0.query(t, segment, now, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.0.activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        let mut cs = cs.clone();
        match self.1 {
            Flaw::KeepsRemovedLinks => cs.link_removals.clear(),
            Flaw::IgnoresAttributionMoves => cs.account_activity_moves.clear(),
            Flaw::CountsEndedLinks | Flaw::ForgetsAccountRoles => {}
        }
        self.0.apply(t, &cs).await
    }
    async fn account_roles(
        &self,
        t: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<AccountRoleSet>, StoreError> {
        if self.1 == Flaw::ForgetsAccountRoles {
            return Ok(vec![AccountRoleSet::default(); customers.len()]);
        }
        self.0.account_roles(t, customers).await
    }
}

impl AccountStore for Flawed {
    async fn load_account(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        self.0.load_account(t, id).await
    }
    async fn accounts(
        &self,
        t: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        self.0.accounts(t, after, limit).await
    }
    async fn subsidiaries(&self, t: TenantId, p: AccountId) -> Result<Vec<Account>, StoreError> {
        self.0.subsidiaries(t, p).await
    }
    async fn account_links(
        &self,
        t: TenantId,
        a: AccountId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        self.0.account_links(t, a).await
    }
    async fn account_activities(
        &self,
        t: TenantId,
        a: AccountId,
    ) -> Result<Vec<Activity>, StoreError> {
        self.0.account_activities(t, a).await
    }
    async fn customer_links(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        self.0.customer_links(t, c).await
    }
    async fn contacts_by_role(
        &self,
        t: TenantId,
        accounts: &[AccountId],
    ) -> Result<BTreeMap<AccountRole, usize>, StoreError> {
        if self.1 != Flaw::CountsEndedLinks {
            return self.0.contacts_by_role(t, accounts).await;
        }
        let mut by_role = BTreeMap::new();
        for a in accounts {
            for l in self.0.account_links(t, *a).await? {
                for r in &l.roles {
                    *by_role.entry(*r).or_default() += 1;
                }
            }
        }
        Ok(by_role)
    }
}

impl ActionStore for Flawed {
    async fn write_actions(&self, t: TenantId, w: &DueActions) -> Result<ActionLog, StoreError> {
        self.0.write_actions(t, w).await
    }
    async fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        self.0.pending_actions(t, customer).await
    }
    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        self.0.due_actions(t, now, limit).await
    }
    async fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        self.0.action_log(t, customer, since, limit).await
    }
}

/// The outcome of every account contract for a store with `flaw`, by contract name.
fn outcomes(flaw: Flaw) -> BTreeMap<&'static str, Result<(), String>> {
    let s = || Flawed(MemoryStore::new(), flaw);
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

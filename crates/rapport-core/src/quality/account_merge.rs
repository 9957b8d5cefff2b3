//! Merging two accounts, following the customer merge rules (DOMAIN.md, Accounts and Data
//! quality): one changeset moves everything of the loser to the survivor — its people's
//! links folded into the survivor's (roles unioned, the earlier start kept, at most one
//! primary contact), its attributed purchases and refunds, its subsidiaries — and leaves the
//! loser as a tombstone that points at the survivor and records what moved
//! ([`AccountMerge`]), so that [`plan_account_unmerge`] hands back exactly that.
//!
//! Survivorship: the survivor keeps its name, parent and standing (its tier and stage are
//! decided again over the merged figures by the next evaluation). Cases belong to people,
//! not accounts, so no case moves.

use chrono::{DateTime, Utc};

use crate::changeset::{AccountActivityMove, AccountWrite, Changeset, LinkRemoval};
use crate::decide::account::check_parent;
use crate::error::DomainError;
use crate::model::account::{Account, AccountLink, AccountMerge};
use crate::model::activity::Activity;
use crate::model::id::AccountId;

/// What [`plan_account_merge`] reads: both accounts as stored, their links, the loser's
/// attributed activities, its subsidiaries with the height of each one's own subtree, and
/// the survivor's ancestors (its parent first).
#[derive(Debug, Clone, Copy)]
pub struct AccountMergeInputs<'a> {
    /// The account folded into the other.
    pub loser: &'a Account,
    /// The account that stays.
    pub survivor: &'a Account,
    /// Every link of the loser.
    pub loser_links: &'a [AccountLink],
    /// Every link of the survivor.
    pub survivor_links: &'a [AccountLink],
    /// The activities attributed to the loser.
    pub loser_activities: &'a [Activity],
    /// The loser's subsidiaries, each with the height of its subtree (0 without any).
    pub subsidiaries: &'a [(Account, usize)],
    /// The survivor's ancestors, its parent first.
    pub survivor_chain: &'a [AccountId],
}

fn refuse(value: String, reason: &'static str) -> DomainError {
    DomainError::InvalidText {
        field: "account.merge",
        value,
        reason,
    }
}

/// The changeset that merges `loser` into `survivor` at `now` (see the module docs): the
/// loser becomes a tombstone carrying an [`AccountMerge`], both accounts are written from the
/// versions read (so a concurrent change fails the merge instead of being lost).
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let (t, ann) = (TenantId::from_u128(1), CustomerId::from_u128(7));
/// let acme = Account::new(AccountId::from_u128(1), t, AccountName::new("Acme")?, now);
/// let dup = Account::new(AccountId::from_u128(2), t, AccountName::new("ACME Inc")?, now);
/// let mut boss = AccountLink::new(dup.id(), ann, [AccountRole::DecisionMaker], now);
/// boss.primary = true;
/// let buyer = AccountLink::new(acme.id(), ann, [AccountRole::Buyer], now);
/// let cs = plan_account_merge(AccountMergeInputs {
///     loser: &dup, survivor: &acme,
///     loser_links: &[boss], survivor_links: &[buyer],
///     loser_activities: &[], subsidiaries: &[], survivor_chain: &[],
/// }, now)?;
/// assert!(cs.validate(t).is_ok());
/// // Ann's link to Acme now has both roles (and the primary flag, Acme having none).
/// assert_eq!(cs.account_links[0].roles, [AccountRole::DecisionMaker, AccountRole::Buyer].into());
/// assert!(cs.account_links[0].primary);
/// let tombstone = cs.accounts.iter().find(|w| w.account().id() == dup.id()).unwrap().account();
/// assert_eq!(tombstone.merged_into(), Some(acme.id()));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::InvalidText`] naming `account.merge` for an account merged into itself or
/// a tombstone on either side; naming `account.parent` when a subsidiary re-parented to the
/// survivor would make a cycle (the survivor sits below the loser) or a structure more than
/// five levels deep.
pub fn plan_account_merge(
    inputs: AccountMergeInputs<'_>,
    now: DateTime<Utc>,
) -> Result<Changeset, DomainError> {
    let AccountMergeInputs {
        loser,
        survivor,
        loser_links,
        survivor_links,
        loser_activities,
        subsidiaries,
        survivor_chain,
    } = inputs;
    if loser.id() == survivor.id() {
        return Err(refuse(
            loser.id().to_string(),
            "an account cannot be merged into itself",
        ));
    }
    if !loser.is_live() || !survivor.is_live() {
        return Err(refuse(
            (if loser.is_live() { survivor } else { loser })
                .id()
                .to_string(),
            "the account was merged into another already",
        ));
    }
    let mut record = AccountMerge::new(survivor.id(), now);
    let mut cs = Changeset::new();
    // Links: each of the loser's people folds into the survivor's link to the same person.
    let survivor_has_primary = survivor_links.iter().any(|l| l.primary && l.is_active());
    for old in loser_links {
        record.links.push(old.clone());
        cs.link_removals.push(LinkRemoval {
            account: loser.id(),
            customer: old.customer,
        });
        let before = survivor_links.iter().find(|l| l.customer == old.customer);
        if let Some(b) = before {
            record.survivor_links.push(b.clone());
        }
        let folded = fold_link(survivor.id(), before, old, survivor_has_primary);
        if before != Some(&folded) {
            cs.account_links.push(folded);
        }
    }
    // Attributed purchases and refunds.
    for a in loser_activities {
        record.activities.push(a.idempotency_key.clone());
        cs.account_activity_moves.push(AccountActivityMove {
            key: a.idempotency_key.clone(),
            from: loser.id(),
            to: survivor.id(),
        });
    }
    // Subsidiaries.
    for (sub, height) in subsidiaries {
        check_parent(sub.id(), survivor.id(), survivor_chain, *height)?;
        record.subsidiaries.push(sub.id());
        let mut moved = sub.next_version();
        moved.parent = Some(survivor.id());
        update(&mut cs, sub, moved);
    }
    let mut tombstone = loser.next_version();
    tombstone.merged = Some(Box::new(record));
    update(&mut cs, loser, tombstone);
    update(&mut cs, survivor, survivor.next_version());
    Ok(cs)
}

/// The survivor's link to `old`'s person after the merge: roles unioned, the earlier start,
/// active when either is, primary when the loser's was and the survivor has no primary yet.
fn fold_link(
    survivor: AccountId,
    before: Option<&AccountLink>,
    old: &AccountLink,
    survivor_has_primary: bool,
) -> AccountLink {
    let mut l = before.cloned().unwrap_or_else(|| AccountLink {
        account: survivor,
        customer: old.customer,
        roles: Default::default(),
        primary: false,
        since: old.since,
        until: old.until,
    });
    if old.is_active() {
        l.roles.extend(old.roles.iter().copied());
        l.until = None;
        l.primary |= old.primary && !survivor_has_primary;
    } else if before.is_none() {
        // A past link stays history, with its roles.
        l.roles.extend(old.roles.iter().copied());
    }
    l.since = l.since.min(old.since);
    l
}

/// The changeset that undoes the merge recorded on `tombstone`: the loser is live again with
/// its links as they were, the survivor's links to the same people are put back as they were
/// before the merge (a link the survivor only had from the loser goes), the attributions
/// come back, and so do the subsidiaries still under the survivor (`subsidiaries`: the
/// loser's former ones as stored now).
///
/// ```
/// use rapport_core::*;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let (t, ann) = (TenantId::from_u128(1), CustomerId::from_u128(7));
/// let acme = Account::new(AccountId::from_u128(1), t, AccountName::new("Acme")?, now);
/// let dup = Account::new(AccountId::from_u128(2), t, AccountName::new("ACME Inc")?, now);
/// let boss = AccountLink::new(dup.id(), ann, [AccountRole::DecisionMaker], now);
/// let merge = plan_account_merge(AccountMergeInputs {
///     loser: &dup, survivor: &acme, loser_links: &[boss.clone()], survivor_links: &[],
///     loser_activities: &[], subsidiaries: &[], survivor_chain: &[],
/// }, now)?;
/// let stored = |id| merge.accounts.iter().find(|w| w.account().id() == id).unwrap().account().clone();
/// let undo = plan_account_unmerge(&stored(dup.id()), &stored(acme.id()), &[], now)?;
/// assert_eq!(undo.account_links, [boss]);
/// assert_eq!(undo.link_removals, [LinkRemoval { account: acme.id(), customer: ann }]);
/// assert!(undo.accounts.iter().all(|w| w.account().is_live()));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::InvalidText`] naming `account.merge` when `tombstone` is not merged into
/// `survivor`.
pub fn plan_account_unmerge(
    tombstone: &Account,
    survivor: &Account,
    subsidiaries: &[Account],
    _now: DateTime<Utc>,
) -> Result<Changeset, DomainError> {
    let Some(record) = tombstone
        .merged
        .as_deref()
        .filter(|m| m.into == survivor.id())
    else {
        return Err(refuse(
            tombstone.id().to_string(),
            "the account was not merged into this one",
        ));
    };
    let mut cs = Changeset::new();
    for l in &record.links {
        cs.account_links.push(l.clone());
        match record
            .survivor_links
            .iter()
            .find(|b| b.customer == l.customer)
        {
            Some(b) => cs.account_links.push(b.clone()),
            None => cs.link_removals.push(LinkRemoval {
                account: survivor.id(),
                customer: l.customer,
            }),
        }
    }
    for key in &record.activities {
        cs.account_activity_moves.push(AccountActivityMove {
            key: key.clone(),
            from: survivor.id(),
            to: tombstone.id(),
        });
    }
    for sub in subsidiaries {
        if record.subsidiaries.contains(&sub.id()) && sub.parent == Some(survivor.id()) {
            let mut back = sub.next_version();
            back.parent = Some(tombstone.id());
            update(&mut cs, sub, back);
        }
    }
    let mut live = tombstone.next_version();
    live.merged = None;
    update(&mut cs, tombstone, live);
    update(&mut cs, survivor, survivor.next_version());
    Ok(cs)
}

/// Adds the update of `read` to `next` (written from the version read).
fn update(cs: &mut Changeset, read: &Account, next: Account) {
    cs.accounts.push(AccountWrite::Update {
        expected_version: read.version(),
        account: Box::new(next),
    });
}

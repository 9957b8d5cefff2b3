//! Contracts of merging (issue #15), for stores that implement
//! [`MergeStore`]: run through the service, so they check the
//! store's part of a merge (activity moves, merge records, the revival of a tombstone by its
//! unmerge) end to end. Registered by `store_contracts!(factory; merges)`.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::{Error, MergeRequest, NewActivity, Service};
use rapport_core::ports::{ConsentStore, MergeStore};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::contracts::Outcome;
use crate::fault::FaultyStore;
use crate::support::{FixedClock, SequentialIds};

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

const T: TenantId = TenantId::from_u128(0x15);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn service<S: Store>(s: S, first_id: u64) -> Service<S> {
    Service::new(s)
        .with_clock(FixedClock::at(now()))
        .with_ids(SequentialIds::starting_at(first_id))
}

fn e(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Two customers of tenant `T` with purchases and a visit each; returns (survivor, loser).
async fn pair<S: Store>(svc: &Service<S>, n: u32) -> Result<(CustomerId, CustomerId), String> {
    let profile = |name: &str, email: String, phone: Option<String>| Profile {
        display_name: Some(Pii::new(name.to_owned())),
        email: Email::parse(&email).ok().map(Pii::new),
        phone: phone.and_then(|p| Phone::from_e164(&p).ok()).map(Pii::new),
        ..Profile::default()
    };
    let a = svc
        .register(T, profile("Ann Lee", format!("ann{n}@example.com"), None))
        .await
        .map_err(e)?
        .customer
        .id();
    let b = svc
        .register(
            T,
            profile(
                "Ann  Lee",
                format!("ann.lee{n}@example.com"),
                Some(format!("+1415555{:04}", n % 10_000)),
            ),
        )
        .await
        .map_err(e)?
        .customer
        .id();
    for (i, (c, cents, days)) in [(a, 1250, 40), (b, 9900, 10), (b, 500, 3), (a, 700, 1)]
        .into_iter()
        .enumerate()
    {
        let usd = Money::new(Decimal::new(cents, 2), Currency::USD);
        let order = format!("m{n}-{i}");
        let act = NewActivity::purchase(c, &order, usd, now() - Duration::days(days)).map_err(e)?;
        svc.record(T, act).await.map_err(e)?;
    }
    let visit = NewActivity::visit(b, now() - Duration::days(2)).map_err(e)?;
    svc.record(T, visit).await.map_err(e)?;
    Ok((a, b))
}

async fn snapshot<S: Store>(s: &S, id: CustomerId) -> Result<(Record, Vec<Activity>), String> {
    let r = s
        .load(T, id)
        .await
        .map_err(e)?
        .ok_or(format!("customer {id} missing"))?;
    let acts = s.activities(T, id, TimeRange::all()).await.map_err(e)?;
    Ok((r, acts))
}

/// Merge then unmerge: the survivor's stats are the fold of the union of both histories, the
/// loser is a tombstone that reads resolve through, its activities (ids and keys kept) are
/// the survivor's and re-ingesting one is a duplicate; the unmerge gives back both customers
/// as they were (but their versions) with their own activities; both sides list the record
/// (`merges_of`), undone after the unmerge; a second unmerge is refused with a typed error.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_testkit::merge::merge_round_trip;
/// assert_eq!(block_on(merge_round_trip(&rapport_memory::MemoryStore::new())), Ok(()));
/// ```
pub async fn merge_round_trip<S: MergeStore>(s: &S) -> Outcome {
    let svc = service(s, 1);
    let (a, b) = pair(&svc, 0).await?;
    let (ra, aa) = snapshot(s, a).await?;
    let (rb, ba) = snapshot(s, b).await?;
    ensure!(
        aa.len() == 2 && ba.len() == 3,
        "setup: {} and {} activities",
        aa.len(),
        ba.len()
    );

    let m = svc
        .merge(T, MergeRequest::new(a, b, Actor::new("kit").map_err(e)?))
        .await
        .map_err(e)?;
    let (sa, sacts) = snapshot(s, a).await?;
    let union: Vec<Activity> = aa.iter().chain(&ba).cloned().collect();
    let fold = Stats::from_activities(&union).map_err(e)?;
    ensure!(
        sa.stats == fold,
        "survivor stats are not the fold of the union"
    );
    ensure!(
        sa.stats.orders() == 4,
        "survivor has {} orders, not 4",
        sa.stats.orders()
    );
    ensure!(
        sacts.len() == 5,
        "survivor holds {} activities, not 5",
        sacts.len()
    );
    for moved in &ba {
        ensure!(
            sacts
                .iter()
                .any(|x| x.id == moved.id && x.idempotency_key == moved.idempotency_key),
            "activity {} did not move with its id and key",
            moved.id
        );
    }
    let (lb, lacts) = snapshot(s, b).await?;
    ensure!(
        lb.customer.stage() == Stage::Merged { into: a } && lacts.is_empty(),
        "the loser is {:?} with {} activities",
        lb.customer.stage(),
        lacts.len()
    );
    // Reads through the tombstone resolve; the loser's phone is the survivor's now.
    let read = svc.customer(T, b).await.map_err(e)?;
    ensure!(
        read.customer.id() == a,
        "a read of the loser did not resolve to the survivor"
    );
    ensure!(
        sa.customer.profile.phone.is_some(),
        "the loser's phone was lost"
    );
    let phone = ContactKey::Phone(Phone::from_e164("+14155550000").map_err(e)?);
    let holders = s.find_by_contact(T, &phone).await.map_err(e)?;
    ensure!(
        holders.contains(&a),
        "the survivor is not found by the loser's phone"
    );
    // Re-ingesting a loser's activity: a duplicate, nothing added.
    let again = NewActivity::purchase(
        b,
        "m0-1",
        Money::new(Decimal::new(9900, 2), Currency::USD),
        now() - Duration::days(10),
    )
    .map_err(e)?;
    let rec = svc
        .record(
            T,
            NewActivity {
                customer: a,
                ..again
            },
        )
        .await
        .map_err(e)?;
    ensure!(
        rec.duplicate,
        "re-ingesting a moved activity was not a duplicate"
    );
    ensure!(
        snapshot(s, a).await?.0.stats == fold,
        "re-ingesting a moved activity changed the stats"
    );
    let stored = s.merge_record(T, m.record.id).await.map_err(e)?;
    ensure!(
        stored
            .as_ref()
            .is_some_and(|r| r.loser == b && r.moved.len() == 3 && r.undone_at.is_none()),
        "the merge record was not stored as written"
    );

    for side in [a, b] {
        let listed = s.merges_of(T, side).await.map_err(e)?;
        ensure!(
            listed.len() == 1 && Some(&listed[0]) == stored.as_ref(),
            "merges_of({side}) lists {} records, not the merge",
            listed.len()
        );
    }
    let other = s
        .merge_record(TenantId::from_u128(0x16), m.record.id)
        .await
        .map_err(e)?;
    ensure!(other.is_none(), "another tenant reads the merge record");
    ensure!(
        s.merges_of(TenantId::from_u128(0x16), a)
            .await
            .map_err(e)?
            .is_empty(),
        "another tenant lists the merge"
    );
    let undone = svc.unmerge(T, m.record.id).await.map_err(e)?;
    ensure!(
        undone.record.undone_at.is_some(),
        "the unmerge did not mark the record undone"
    );
    let (ra2, aa2) = snapshot(s, a).await?;
    let (rb2, ba2) = snapshot(s, b).await?;
    ensure!(
        ra2.customer == ra.customer.clone().with_version(ra.customer.version() + 2),
        "the survivor is not as before the merge"
    );
    ensure!(
        rb2.customer == rb.customer.clone().with_version(rb.customer.version() + 2),
        "the loser is not as before the merge"
    );
    ensure!(
        ra2.stats == ra.stats && rb2.stats == rb.stats,
        "stats differ after the unmerge"
    );
    ensure!(aa2 == aa && ba2 == ba, "activities did not move back");
    let stored = s.merge_record(T, m.record.id).await.map_err(e)?;
    ensure!(
        stored.is_some_and(|r| r.undone_at.is_some()),
        "the store does not show the merge undone"
    );
    ensure!(
        s.merges_of(T, b)
            .await
            .map_err(e)?
            .iter()
            .all(|r| r.undone_at.is_some()),
        "merges_of does not show the merge undone"
    );
    match svc.unmerge(T, m.record.id).await {
        Err(Error::Domain(DomainError::CannotUnmerge { .. })) => {}
        other => return Err(format!("a second unmerge was not refused: {other:?}")),
    }
    // A merge can be done again after its unmerge, and a merge into a tombstone is refused.
    svc.merge(T, MergeRequest::new(b, a, Actor::new("kit").map_err(e)?))
        .await
        .map_err(e)?;
    let c = svc
        .register(T, Profile::default())
        .await
        .map_err(e)?
        .customer
        .id();
    match svc
        .merge(T, MergeRequest::new(a, c, Actor::new("kit").map_err(e)?))
        .await
    {
        Err(Error::Domain(DomainError::Tombstoned { .. })) => Ok(()),
        other => Err(format!(
            "a merge into a tombstone was not refused: {other:?}"
        )),
    }
}

/// A merge is all or nothing under injected storage faults: with the k-th storage call of the
/// merge failing (before the call, or after it committed), the book is either fully merged or
/// untouched, and every customer's stats are the fold of its stored activities.
///
/// ```
/// use rapport_testkit::merge::merge_is_atomic_under_faults;
/// let runs = merge_is_atomic_under_faults(rapport_memory::MemoryStore::new).unwrap();
/// assert!(runs >= 8);
/// ```
///
/// # Errors
/// The first violation found.
pub fn merge_is_atomic_under_faults<S: MergeStore>(
    factory: impl Fn() -> S,
) -> Result<usize, String> {
    let mut runs = 0;
    let mut calls = usize::MAX;
    let mut k = 1;
    while k <= calls {
        for after in [false, true] {
            let store = factory();
            let (a, b) = block_on(async {
                let svc = service(&store, 1);
                pair(&svc, 0).await
            })?;
            let before = block_on(async {
                Ok::<_, String>((snapshot(&store, a).await?, snapshot(&store, b).await?))
            })?;
            let faulty = FaultyStore::new(store, k, after);
            let svc = service(&faulty, 1_000);
            let result =
                block_on(svc.merge(T, MergeRequest::new(a, b, Actor::new("kit").map_err(e)?)));
            drop(svc);
            let store = faulty.inner;
            if calls == usize::MAX {
                // Counted on the first run, whose fault (at call 1, before it) aborts nothing
                // written: the fault-free call count comes from a clean run.
                let clean = factory();
                let (ca, cb) = block_on(async {
                    let svc = service(&clean, 1);
                    pair(&svc, 0).await
                })?;
                let counter = FaultyStore::new(clean, 0, false);
                let svc = service(&counter, 1_000);
                block_on(svc.merge(T, MergeRequest::new(ca, cb, Actor::new("kit").map_err(e)?)))
                    .map_err(|x| format!("fault-free merge failed: {x}"))?;
                calls = svc.store().calls();
            }
            let (ra, aa) = block_on(snapshot(&store, a))?;
            let (rb, ba) = block_on(snapshot(&store, b))?;
            let merged = rb.customer.stage() == (Stage::Merged { into: a });
            if merged {
                ensure!(
                    ba.is_empty() && aa.len() == 5,
                    "fault at call {k} (after: {after}): merged, but activities split {}/{}",
                    aa.len(),
                    ba.len()
                );
            } else {
                ensure!(
                    result.is_err(),
                    "fault at call {k} (after: {after}): the merge reported success, nothing merged"
                );
                ensure!(
                    (ra.clone(), aa.clone()) == before.0 && (rb.clone(), ba.clone()) == before.1,
                    "fault at call {k} (after: {after}): a failed merge left partial changes"
                );
            }
            for (r, acts) in [(&ra, &aa), (&rb, &ba)] {
                ensure!(
                    Stats::from_activities(acts.iter()).map_err(e)? == r.stats,
                    "fault at call {k} (after: {after}): customer {} stats do not fold its activities",
                    r.customer.id()
                );
            }
            runs += 1;
        }
        k += 1;
    }
    Ok(runs)
}

/// What [`merge_race`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeRace {
    /// Pairs raced.
    pub pairs: usize,
    /// Merges that won.
    pub won: usize,
    /// Merges refused with a typed conflict (version conflict or tombstone).
    pub refused: usize,
}

/// "A into B" racing "B into A", `pairs` times (fresh pairs in one store, two threads each):
/// exactly one of each pair wins, the other gets a typed conflict, and no cycle forms (both
/// ids resolve to the same live customer, which holds both histories). The kit's contract
/// `merge_race_never_makes_a_cycle` runs 1,000 pairs on every backend.
///
/// ```
/// use rapport_testkit::merge::merge_race;
/// let r = merge_race(rapport_memory::MemoryStore::new(), 20).unwrap();
/// assert_eq!((r.won, r.refused), (20, 20));
/// ```
///
/// # Errors
/// The first violation found.
pub fn merge_race<S: MergeStore + 'static>(store: S, pairs: usize) -> Result<MergeRace, String> {
    let svc = Arc::new(service(store, 1));
    // Pairs are independent: eight workers race theirs side by side (a server store is
    // bound by commit latency, not by the work), each pair's two merges on two threads.
    const WORKERS: usize = 8;
    let refused: Vec<Result<usize, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let svc = Arc::clone(&svc);
                scope.spawn(move || -> Result<usize, String> {
                    let mut refused = 0;
                    for n in (w..pairs).step_by(WORKERS) {
                        refused += race_pair(&svc, n)?;
                    }
                    Ok(refused)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a race worker panicked".to_owned()))
            })
            .collect()
    });
    let mut report = MergeRace {
        pairs,
        won: pairs,
        ..MergeRace::default()
    };
    for r in refused {
        report.refused += r?;
    }
    Ok(report)
}

/// One race of [`merge_race`]: pair `n` merged both ways at once; exactly one wins. Returns
/// how many were refused (one).
fn race_pair<S: MergeStore + 'static>(svc: &Arc<Service<S>>, n: usize) -> Result<usize, String> {
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    let (a, b) = block_on(pair(svc, n32 + 1))?;
    let outcomes: Vec<Result<rapport::Merged, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = [(a, b), (b, a)]
            .into_iter()
            .map(|(s, l)| {
                let svc = Arc::clone(svc);
                scope.spawn(move || {
                    let actor = Actor::new("racer").map_err(Error::Domain)?;
                    block_on(svc.merge(T, MergeRequest::new(s, l, actor)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::NotFound(a))))
            .collect()
    });
    let (mut won, mut refused) = (0, 0);
    for o in &outcomes {
        match o {
            Ok(_) => won += 1,
            Err(Error::Store(StoreError::Conflict { .. }))
            | Err(Error::Domain(DomainError::Tombstoned { .. }))
            | Err(Error::Store(StoreError::Invalid(DomainError::Tombstoned { .. }))) => {
                refused += 1;
            }
            Err(other) => return Err(format!("pair {n}: untyped refusal: {other}")),
        }
    }
    ensure!(won == 1, "pair {n}: {won} merges won");
    let end_a = block_on(svc.customer(T, a)).map_err(e)?;
    let end_b = block_on(svc.customer(T, b)).map_err(e)?;
    ensure!(
        end_a.customer.id() == end_b.customer.id() && end_a.customer.is_live(),
        "pair {n}: the two ids resolve to different customers (a cycle or a lost customer)"
    );
    ensure!(
        end_a.stats.orders() == 4,
        "pair {n}: the survivor has {} orders, not 4",
        end_a.stats.orders()
    );
    Ok(refused)
}

/// Pairs marked "not a duplicate" are stored per tenant and left out of later scans until a
/// contact key of either customer changes.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_testkit::merge::distinct_pairs_are_remembered;
/// assert_eq!(block_on(distinct_pairs_are_remembered(&rapport_memory::MemoryStore::new())), Ok(()));
/// ```
pub async fn distinct_pairs_are_remembered<S: MergeStore>(s: &S) -> Outcome {
    let svc = service(s, 1);
    let born = chrono::NaiveDate::from_ymd_opt(1990, 5, 1).ok_or("date")?;
    let person = |name: &str| Profile {
        display_name: Some(Pii::new(name.to_owned())),
        birth_date: Some(Pii::new(born)),
        ..Profile::default()
    };
    let a = svc
        .register(T, person("Wang Fang"))
        .await
        .map_err(e)?
        .customer
        .id();
    let b = svc
        .register(T, person("Wang Fang"))
        .await
        .map_err(e)?
        .customer
        .id();
    let opts = rapport::DuplicateOptions::default();
    let found = svc.duplicates(T, &opts).await.map_err(e)?;
    ensure!(found.len() == 1, "{} candidate pairs, not 1", found.len());
    svc.mark_distinct(T, b, a).await.map_err(e)?;
    ensure!(
        svc.duplicates(T, &opts).await.map_err(e)?.is_empty(),
        "a pair marked distinct was proposed again"
    );
    let pairs = s.distinct_pairs(T).await.map_err(e)?;
    ensure!(
        pairs.len() == 1 && pairs[0].first == a.min(b) && pairs[0].second == a.max(b),
        "the stored pairs are {pairs:?}"
    );
    ensure!(
        s.distinct_pairs(TenantId::from_u128(0x16))
            .await
            .map_err(e)?
            .is_empty(),
        "another tenant sees the pair"
    );
    // Marking again is idempotent.
    svc.mark_distinct(T, a, b).await.map_err(e)?;
    ensure!(
        s.distinct_pairs(T).await.map_err(e)?.len() == 1,
        "a pair stored twice"
    );
    // A contact key changes: proposed again.
    svc.update_profile(T, a, |p| {
        p.phone = Some(Pii::new(Phone::from_e164("+8613800138000")?));
        Ok(())
    })
    .await
    .map_err(e)?;
    ensure!(
        svc.duplicates(T, &opts).await.map_err(e)?.len() == 1,
        "a pair whose contact keys changed was not proposed again"
    );
    Ok(())
}

/// Belongings, with their versions set aside (a merge and its undo step cases and accounts on).
fn unversioned(
    b: &Belongings,
) -> (
    Vec<privacy::ConsentEntry>,
    Vec<(CaseId, CustomerId)>,
    Vec<AccountLink>,
) {
    let mut consents = b.consents.clone();
    consents.sort_by_key(|e| e.id);
    let mut cases: Vec<(CaseId, CustomerId)> =
        b.cases.iter().map(|c| (c.id(), c.customer)).collect();
    cases.sort();
    let mut links = b.links.clone();
    links.sort_by_key(|l| l.account);
    (consents, cases, links)
}

/// A merge moves the loser's consent ledger entries (one by one), cases and account links to
/// the survivor — on an account both are linked to, one link with the roles unioned and the
/// primary kept —, leaves the tombstone holding nothing, and an unmerge gives every one back
/// (entries, cases and links as before but for versions).
///
/// ```
/// use futures::executor::block_on;
/// use rapport_testkit::merge::merge_moves_belongings;
/// assert_eq!(block_on(merge_moves_belongings(&rapport_memory::MemoryStore::new())), Ok(()));
/// ```
pub async fn merge_moves_belongings<S: MergeStore>(s: &S) -> Outcome {
    use privacy::{ConsentEntry, ConsentState};
    let svc = service(s, 5_000);
    let (a, b) = pair(&svc, 7).await?;
    let entry = |n: u128, who: CustomerId, state: ConsentState, days: i64| {
        ConsentEntry::new(
            ConsentEntryId::from_u128(0x15_0000 + n),
            who,
            Purpose::Marketing,
            ContactChannel::Email,
            state,
            "signup-form",
            now() - Duration::days(days),
        )
        .map_err(e)
    };
    let case = |n: u128, who: CustomerId| -> Result<Case, String> {
        Ok(Case::open(NewCase::new(
            CaseId::from_u128(0x15_0000 + n),
            T,
            who,
            CaseCategory::new("delivery").map_err(e)?,
            CaseSeverity::Normal,
            Channel::Email,
            now() - Duration::days(5),
        )))
    };
    let acct = |n: u128| -> Result<Account, String> {
        Ok(Account::new(
            AccountId::from_u128(0x15_0000 + n),
            T,
            AccountName::new(format!("Acme {n}")).map_err(e)?,
            now() - Duration::days(60),
        ))
    };
    let (shared, own) = (acct(1)?, acct(2)?);
    let mut cs = Changeset::new();
    cs.consents = vec![
        entry(1, a, ConsentState::Granted, 30)?,
        entry(2, b, ConsentState::Granted, 20)?,
        entry(3, b, ConsentState::Withdrawn, 10)?,
    ];
    cs.cases = vec![
        CaseWrite::Create {
            case: Box::new(case(1, a)?),
        },
        CaseWrite::Create {
            case: Box::new(case(2, b)?),
        },
    ];
    cs.accounts = vec![
        AccountWrite::Create {
            account: Box::new(shared.clone()),
        },
        AccountWrite::Create {
            account: Box::new(own.clone()),
        },
    ];
    let mut lb_shared = AccountLink::new(
        shared.id(),
        b,
        [AccountRole::Billing],
        now() - Duration::days(50),
    );
    lb_shared.primary = true;
    cs.account_links = vec![
        AccountLink::new(
            shared.id(),
            a,
            [AccountRole::Buyer],
            now() - Duration::days(40),
        ),
        lb_shared,
        AccountLink::new(own.id(), b, [AccountRole::User], now() - Duration::days(45)),
    ];
    s.apply(T, &cs).await.map_err(e)?;
    let (before_a, before_b) = (
        s.belongings(T, a).await.map_err(e)?,
        s.belongings(T, b).await.map_err(e)?,
    );
    ensure!(
        (
            before_a.consents.len(),
            before_a.cases.len(),
            before_a.links.len(),
            before_a.accounts.len()
        ) == (1, 1, 1, 1)
            && (
                before_b.consents.len(),
                before_b.cases.len(),
                before_b.links.len(),
                before_b.accounts.len()
            ) == (2, 1, 2, 2),
        "setup: belongings read back wrong: {before_a:?} / {before_b:?}"
    );

    let m = svc
        .merge(T, MergeRequest::new(a, b, Actor::new("kit").map_err(e)?))
        .await
        .map_err(e)?;
    let (after_a, after_b) = (
        s.belongings(T, a).await.map_err(e)?,
        s.belongings(T, b).await.map_err(e)?,
    );
    ensure!(
        after_b.consents.is_empty() && after_b.cases.is_empty() && after_b.links.is_empty(),
        "the tombstone still holds belongings: {after_b:?}"
    );
    ensure!(
        after_a.consents.len() == 3 && after_a.consents.iter().all(|x| x.customer == a),
        "consent entries did not all move to the survivor: {:?}",
        after_a.consents
    );
    ensure!(
        after_a.cases.len() == 2 && after_a.cases.iter().all(|c| c.customer == a),
        "cases did not all move to the survivor"
    );
    let on = |acc: AccountId| after_a.links.iter().find(|l| l.account == acc);
    let merged_link = on(shared.id()).ok_or("the survivor lost its link to the shared account")?;
    ensure!(
        merged_link.roles
            == [AccountRole::Buyer, AccountRole::Billing]
                .into_iter()
                .collect()
            && merged_link.primary,
        "the shared account's link did not union roles and keep the primary: {merged_link:?}"
    );
    ensure!(
        on(own.id()).is_some_and(|l| l.roles.contains(&AccountRole::User)),
        "the loser's own account link did not move"
    );
    let shared_links = s_links(&after_a, &after_b, shared.id());
    ensure!(
        shared_links == 1,
        "{shared_links} links on the shared account, not 1"
    );
    ensure!(
        m.record.moved_consents.len() == 2 && m.record.moved_cases.len() == 1,
        "the merge record does not list what moved"
    );

    svc.unmerge(T, m.record.id).await.map_err(e)?;
    let (back_a, back_b) = (
        s.belongings(T, a).await.map_err(e)?,
        s.belongings(T, b).await.map_err(e)?,
    );
    ensure!(
        unversioned(&back_a) == unversioned(&before_a),
        "the survivor's belongings after the unmerge differ: {back_a:?} vs {before_a:?}"
    );
    ensure!(
        unversioned(&back_b) == unversioned(&before_b),
        "the loser's belongings after the unmerge differ: {back_b:?} vs {before_b:?}"
    );
    Ok(())
}

/// DOMAIN.md (Privacy): a customer's consent snapshot is a pure function of its ledger, also
/// across a merge and its undo. The loser's later withdrawal and its own grant become the
/// survivor's state when their entries move; after the unmerge (and a grant recorded on the
/// survivor in between) each customer's stored snapshot is the fold of the ledger it holds
/// again, the loser's as it was before the merge.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_testkit::merge::merge_folds_consent_snapshots;
/// assert_eq!(block_on(merge_folds_consent_snapshots(&rapport_memory::MemoryStore::new())), Ok(()));
/// ```
pub async fn merge_folds_consent_snapshots<S: MergeStore + ConsentStore>(s: &S) -> Outcome {
    use ContactChannel::{Any, Email, Sms};
    use Purpose::{Analytics, Marketing};
    let svc = service(s, 6_000);
    let (a, b) = pair(&svc, 8).await?;
    let ask = |p: Purpose, c: ContactChannel, days: i64| {
        rapport::ConsentRequest::new(p, c, "kit-form").at(now() - Duration::days(days))
    };
    svc.grant(T, a, ask(Marketing, Email, 30))
        .await
        .map_err(e)?;
    svc.grant(T, b, ask(Marketing, Email, 20))
        .await
        .map_err(e)?;
    svc.withdraw(T, b, ask(Marketing, Email, 10))
        .await
        .map_err(e)?;
    svc.grant(T, b, ask(Marketing, Sms, 5)).await.map_err(e)?;
    // The snapshot each customer stores, and the fold of the ledger it holds.
    let held = |id: CustomerId| async move {
        let stored = s
            .load(T, id)
            .await
            .map_err(e)?
            .ok_or(format!("customer {id} missing"))?
            .customer
            .consents;
        let ledger = s.consents(T, id).await.map_err(e)?;
        Ok::<_, String>((stored, privacy::snapshot(&ledger)))
    };
    let loser_before = held(b).await?.0;

    let m = svc
        .merge(T, MergeRequest::new(a, b, Actor::new("kit").map_err(e)?))
        .await
        .map_err(e)?;
    let (stored, folded) = held(a).await?;
    ensure!(
        stored == folded && m.survivor.consents == folded,
        "after the merge the survivor's snapshot is not the fold of the merged ledger: \
         stored {stored:?}, returned {:?}, fold {folded:?}",
        m.survivor.consents
    );
    ensure!(
        !stored.allows(Marketing, Email) && stored.allows(Marketing, Sms),
        "the loser's later withdrawal and its grant are not the survivor's state: {stored:?}"
    );

    svc.grant(T, a, ask(Analytics, Any, 1)).await.map_err(e)?;
    svc.unmerge(T, m.record.id).await.map_err(e)?;
    let (stored, folded) = held(a).await?;
    ensure!(
        stored == folded
            && stored.allows(Marketing, Email)
            && !stored.allows(Marketing, Sms)
            && stored.allows(Analytics, Any),
        "after the unmerge the survivor's snapshot is not the fold of its ledger: \
         stored {stored:?}, fold {folded:?}"
    );
    let (stored, folded) = held(b).await?;
    ensure!(
        stored == folded && stored == loser_before,
        "after the unmerge the loser's snapshot is not its ledger's: stored {stored:?}, \
         fold {folded:?}, before the merge {loser_before:?}"
    );
    Ok(())
}

fn s_links(a: &Belongings, b: &Belongings, account: AccountId) -> usize {
    a.links
        .iter()
        .chain(&b.links)
        .filter(|l| l.account == account)
        .count()
}

//! Contracts of the [`CaseStore`] port: cases written with their changeset, read back
//! exactly, listed in id order by customer and status, isolated by tenant, and versioned so
//! that concurrent updates never lose a status change. Run them with the `cases` capability
//! flag of [`store_contracts!`](crate::store_contracts).

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;

use crate::contracts::{Outcome, TA, TB};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

fn new_case(t: TenantId, id: u128, customer: u128) -> Result<Case, String> {
    let mut n = NewCase::new(
        CaseId::from_u128(id),
        t,
        CustomerId::from_u128(customer),
        CaseCategory::new("delivery").map_err(|e| e.to_string())?,
        CaseSeverity::High,
        Channel::Phone,
        now() + Duration::minutes(i64::try_from(id).unwrap_or(0)),
    );
    n.assignee = Some(Assignee::new("agent-7").map_err(|e| e.to_string())?);
    Ok(Case::open(n))
}

fn with_customer(t: TenantId, id: u128, cases: Vec<Case>) -> Changeset {
    let mut cs = Changeset::new();
    cs.create(
        Customer::new(t, CustomerId::from_u128(id), Profile::default(), now()),
        Stats::default(),
    );
    cs.cases = cases
        .into_iter()
        .map(|c| CaseWrite::Create { case: Box::new(c) })
        .collect();
    cs
}

fn update(read: &Case, next: Case) -> Changeset {
    let mut cs = Changeset::new();
    cs.cases.push(CaseWrite::Update {
        expected_version: read.version(),
        case: Box::new(next),
    });
    cs
}

async fn apply<S: CaseStore>(s: &S, t: TenantId, cs: &Changeset) -> Outcome {
    s.apply(t, cs)
        .await
        .map(|_| ())
        .map_err(|e| format!("apply failed: {e}"))
}

async fn load<S: CaseStore>(s: &S, t: TenantId, id: u128) -> Result<Option<Case>, String> {
    s.load_case(t, CaseId::from_u128(id))
        .await
        .map_err(|e| format!("load_case failed: {e}"))
}

async fn list<S: CaseStore>(s: &S, t: TenantId, q: CaseQuery) -> Result<Vec<u128>, String> {
    Ok(s.cases(t, q)
        .await
        .map_err(|e| format!("cases failed: {e}"))?
        .iter()
        .map(|c| c.id().as_uuid().as_u128())
        .collect())
}

/// Cases round-trip exactly (status history, times, CSAT), list in id order by customer and
/// by openness with paging, and never show across tenants.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::case::cases_round_trip_and_list(&MemoryStore::new())), Ok(()));
/// ```
pub async fn cases_round_trip_and_list<S: CaseStore>(s: &S) -> Outcome {
    // Customer 1 with cases 3, 1; customer 2 with case 2 (ids out of insertion order).
    apply(
        s,
        TA,
        &with_customer(TA, 1, vec![new_case(TA, 3, 1)?, new_case(TA, 1, 1)?]),
    )
    .await?;
    apply(s, TA, &with_customer(TA, 2, vec![new_case(TA, 2, 2)?])).await?;
    let mut next = load(s, TA, 1).await?.ok_or("case 1 not found")?;
    // Each step its own write, from the version read.
    for step in 0..4 {
        let at = now() + Duration::minutes(10 * (step + 1));
        let decided = match step {
            0 => next.move_to(CaseStatus::InProgress, at),
            1 => next.move_to(CaseStatus::WaitingOnCustomer, at),
            2 => next.move_to(CaseStatus::InProgress, at),
            _ => Csat::new(4).and_then(|csat| next.resolve(at, Some(csat))),
        }
        .map_err(|e| e.to_string())?;
        apply(s, TA, &update(&next, decided.clone())).await?;
        next = decided;
    }
    let back = load(s, TA, 1).await?;
    if back.as_ref() != Some(&next) {
        return Err(format!("case read back differs: {back:?} != {next:?}"));
    }
    let all = list(s, TA, CaseQuery::all(10)).await?;
    if all != vec![1, 2, 3] {
        return Err(format!("cases not listed in id order: {all:?}"));
    }
    let open = list(s, TA, CaseQuery::open(10)).await?;
    if open != vec![2, 3] {
        return Err(format!("open cases: {open:?}, expected [2, 3]"));
    }
    let of_one = list(
        s,
        TA,
        CaseQuery::all(10).of_customer(CustomerId::from_u128(1)),
    )
    .await?;
    if of_one != vec![1, 3] {
        return Err(format!("customer 1's cases: {of_one:?}, expected [1, 3]"));
    }
    let page = list(
        s,
        TA,
        CaseQuery {
            after: Some(CaseId::from_u128(1)),
            ..CaseQuery::all(1)
        },
    )
    .await?;
    if page != vec![2] {
        return Err(format!("page after 1 of 1: {page:?}, expected [2]"));
    }
    // Tenant B sees nothing of A, and its own case with A's id stays apart.
    if load(s, TB, 1).await?.is_some() || !list(s, TB, CaseQuery::all(10)).await?.is_empty() {
        return Err("tenant B sees tenant A's cases".into());
    }
    apply(s, TB, &with_customer(TB, 1, vec![new_case(TB, 1, 1)?])).await?;
    let b = load(s, TB, 1).await?.ok_or("tenant B's case not found")?;
    if b.version() != 1 || load(s, TA, 1).await?.as_ref() != Some(&next) {
        return Err("a case of tenant B changed tenant A's case of the same id".into());
    }
    Ok(())
}

/// A create of an existing case and a stale update fail `CaseConflict` and write nothing of
/// their changeset (the customer write beside them included); an update of a missing case
/// fails `NotFound`.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::case::case_versions_conflict(&MemoryStore::new())), Ok(()));
/// ```
pub async fn case_versions_conflict<S: CaseStore>(s: &S) -> Outcome {
    let c = new_case(TA, 1, 1)?;
    apply(s, TA, &with_customer(TA, 1, vec![c.clone()])).await?;
    // The same case again, with a new customer beside it: refused, the customer not written.
    match s.apply(TA, &with_customer(TA, 2, vec![c.clone()])).await {
        Err(StoreError::CaseConflict {
            expected: 0,
            actual: 1,
            ..
        }) => {}
        other => return Err(format!("a second create of a case: {other:?}")),
    }
    let ghost = s
        .load(TA, CustomerId::from_u128(2))
        .await
        .map_err(|e| e.to_string())?;
    if ghost.is_some() {
        return Err("a refused changeset left its customer behind".into());
    }
    let moved = c
        .move_to(CaseStatus::InProgress, now() + Duration::hours(1))
        .map_err(|e| e.to_string())?;
    apply(s, TA, &update(&c, moved.clone())).await?;
    // Stale: decided on version 1 again.
    let other = c.assign(None).map_err(|e| e.to_string())?;
    match s.apply(TA, &update(&c, other)).await {
        Err(StoreError::CaseConflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => return Err(format!("a stale case update: {other:?}")),
    }
    if load(s, TA, 1).await?.as_ref() != Some(&moved) {
        return Err("a refused case update changed the case".into());
    }
    let missing = new_case(TA, 9, 1)?;
    match s
        .apply(
            TA,
            &update(&missing, missing.assign(None).map_err(|e| e.to_string())?),
        )
        .await
    {
        Err(StoreError::NotFound {
            entity: rapport_core::ports::Entity::Case(id),
        }) if id == missing.id() => Ok(()),
        other => Err(format!("an update of a missing case: {other:?}")),
    }
}

/// `threads` threads each make `per_thread` status changes to one case (in progress ⇄
/// waiting on the customer), reloading and deciding again on every `CaseConflict`: the case
/// ends with every change in its history, in time order (none lost to a race). Returns the
/// final version.
///
/// # Errors
/// A description when a change is lost or a store call fails otherwise.
///
/// ```
/// let v = rapport_testkit::case::no_case_change_lost(rapport_memory::MemoryStore::new(), 4, 10).unwrap();
/// assert_eq!(v, 1 + 1 + 40);
/// ```
pub fn no_case_change_lost<S: CaseStore>(
    store: S,
    threads: usize,
    per_thread: usize,
) -> Result<u64, String> {
    let c = new_case(TA, 1, 1)?;
    block_on(apply(&store, TA, &with_customer(TA, 1, vec![c.clone()])))?;
    let first = c
        .move_to(CaseStatus::InProgress, c.opened_at())
        .map_err(|e| e.to_string())?;
    block_on(apply(&store, TA, &update(&c, first)))?;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Outcome {
                    for _ in 0..per_thread {
                        loop {
                            let read = block_on(load(&store, TA, 1))?.ok_or("case vanished")?;
                            let to = if read.status() == CaseStatus::InProgress {
                                CaseStatus::WaitingOnCustomer
                            } else {
                                CaseStatus::InProgress
                            };
                            let next = read
                                .move_to(to, read.last_change_at() + Duration::minutes(1))
                                .map_err(|e| e.to_string())?;
                            match block_on(store.apply(TA, &update(&read, next))) {
                                Ok(_) => break,
                                Err(StoreError::CaseConflict { .. }) => {}
                                Err(e) if e.is_retryable() => {}
                                Err(e) => return Err(format!("case update failed: {e}")),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "a thread panicked".to_owned())?)
    })?;
    let end = block_on(load(&store, TA, 1))?.ok_or("case vanished")?;
    let changes = threads * per_thread;
    // Open, InProgress, then one entry per change, a minute apart.
    if end.history().len() != 2 + changes {
        return Err(format!(
            "{} status changes kept of {}",
            end.history().len() - 2,
            changes
        ));
    }
    if end.version() != 2 + changes as u64 {
        return Err(format!("version {} after {changes} changes", end.version()));
    }
    Ok(end.version())
}

/// Expands to one `#[test]` per case contract (used by the `cases` flag of
/// [`store_contracts!`](crate::store_contracts)).
#[macro_export]
macro_rules! case_contracts {
    ($factory:expr) => {
        #[test]
        fn cases_round_trip_and_list() {
            $crate::check($factory, |s| async move {
                $crate::case::cases_round_trip_and_list(&s).await
            });
        }
        #[test]
        fn case_versions_conflict() {
            $crate::check($factory, |s| async move {
                $crate::case::case_versions_conflict(&s).await
            });
        }
        #[test]
        fn no_case_change_lost_under_concurrency() {
            let v = $crate::case::no_case_change_lost(($factory)(), 4, 10)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!(v, 42, "store contract violated: case changes lost");
        }
    };
}

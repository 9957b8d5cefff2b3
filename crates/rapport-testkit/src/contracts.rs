//! One `pub async fn` per contract of the [`Store`] port. Each takes a fresh, empty store and
//! returns `Err(description)` when the store breaks the contract, so the kit's own tests can
//! show that it fails on broken stores.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rapport_core::*;
use rust_decimal::Decimal;

/// A contract violation, described.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::{Outcome, contacts_are_found};
/// let ok: Outcome = block_on(contacts_are_found(&MemoryStore::new()));
/// assert_eq!(ok, Ok(()));
/// ```
pub type Outcome = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Tenant A of the contracts.
///
/// ```
/// use rapport_testkit::contracts::{TA, TB};
/// assert_ne!(TA, TB);
/// assert_eq!(TA, rapport_core::TenantId::from_u128(0xA));
/// ```
pub const TA: TenantId = TenantId::from_u128(0xA);
/// Tenant B of the contracts.
///
/// ```
/// use rapport_testkit::contracts::{TA, TB};
/// assert_eq!(TB, rapport_core::TenantId::from_u128(0xB));
/// assert_ne!(TB, TA);
/// ```
pub const TB: TenantId = TenantId::from_u128(0xB);

fn customer(t: TenantId, id: u128, email: &str) -> Customer {
    let profile = Profile {
        email: Email::parse(email).ok().map(Pii::new),
        ..Profile::default()
    };
    Customer::new(t, CustomerId::from_u128(id), profile, now())
}

fn purchase(
    c: CustomerId,
    key: &str,
    amount: Decimal,
    at: DateTime<Utc>,
) -> Result<Activity, String> {
    Activity::new(
        ActivityId::from_u128(u128::from(key.len() as u32)),
        c,
        at,
        Channel::Web,
        IdempotencyKey::new(key).map_err(|e| e.to_string())?,
        ActivityKind::Purchase {
            order_id: OrderId::new(key).map_err(|e| e.to_string())?,
            amount: Money::new(amount, Currency::USD),
            margin: None,
        },
    )
    .map_err(|e| e.to_string())
}

fn msg(t: TenantId, id: u128, c: CustomerId) -> OutboxMessage {
    OutboxMessage::new(
        MessageId::from_u128(id),
        t,
        now(),
        DomainEvent::CustomerRegistered { customer: c },
    )
}

async fn create<S: Store>(s: &S, t: TenantId, c: &Customer) -> Outcome {
    let mut cs = Changeset::new();
    cs.create(c.clone(), Stats::default());
    s.apply(t, &cs)
        .await
        .map(|_| ())
        .map_err(|e| format!("create failed: {e}"))
}

async fn load<S: Store>(s: &S, t: TenantId, id: CustomerId) -> Result<Option<Record>, String> {
    s.load(t, id).await.map_err(|e| format!("load failed: {e}"))
}

/// A create of an existing id fails `AlreadyExists` and changes nothing (never an upsert).
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::create_fails_already_exists;
/// assert_eq!(block_on(create_fails_already_exists(&MemoryStore::new())), Ok(()));
/// // A store whose first call fails breaks the contract, and the outcome says how.
/// use rapport_testkit::fault::FaultyStore;
/// let broken = FaultyStore::new(MemoryStore::new(), 1, false);
/// assert_eq!(block_on(create_fails_already_exists(&broken)),
///     Err("create failed: store unavailable: injected fault".to_owned()));
/// ```
pub async fn create_fails_already_exists<S: Store>(s: &S) -> Outcome {
    let c = customer(TA, 1, "first@example.com");
    create(s, TA, &c).await?;
    let mut other = customer(TA, 1, "second@example.com");
    other.tags.insert(
        "x:y".parse().map_err(|e: DomainError| e.to_string())?,
        TagSource::Manual,
        now(),
        None,
    );
    let mut cs = Changeset::new();
    cs.create(other, Stats::default());
    let r = s.apply(TA, &cs).await;
    ensure!(
        matches!(r, Err(StoreError::AlreadyExists { .. })),
        "second create gave {r:?}, expected AlreadyExists"
    );
    let stored = load(s, TA, c.id()).await?.ok_or("customer vanished")?;
    ensure!(
        stored.customer == c,
        "the second create overwrote the customer"
    );
    Ok(())
}

/// An update based on a stale version fails `Conflict { expected, actual }` and nothing of its
/// changeset (activities, messages, other customers) is written.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::stale_update_conflicts;
/// assert_eq!(block_on(stale_update_conflicts(&MemoryStore::new())), Ok(()));
/// ```
pub async fn stale_update_conflicts<S: Store + Outbox>(s: &S) -> Outcome {
    let c = customer(TA, 1, "a@example.com");
    create(s, TA, &c).await?;
    let mut first = Changeset::new();
    first.update(&c, c.next_version(), Stats::default());
    s.apply(TA, &first)
        .await
        .map_err(|e| format!("fresh update failed: {e}"))?;
    let mut stale = Changeset::new();
    stale.update(&c, c.next_version(), Stats::default());
    stale.create(customer(TA, 2, "b@example.com"), Stats::default());
    stale
        .activities
        .push(purchase(c.id(), "stale-1", Decimal::ONE, now())?);
    stale.outbox.push(msg(TA, 1, c.id()));
    let r = s.apply(TA, &stale).await;
    ensure!(
        matches!(
            r,
            Err(StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            })
        ),
        "stale update gave {r:?}, expected Conflict {{ expected: 1, actual: 2 }}"
    );
    ensure!(
        load(s, TA, CustomerId::from_u128(2)).await?.is_none(),
        "customer 2 of the failed changeset was written"
    );
    let acts = s
        .activities(TA, c.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        acts.is_empty(),
        "an activity of the failed changeset was written"
    );
    let claimed = s
        .claim_outbox(10, Duration::from_secs(60), now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        claimed.is_empty(),
        "a message of the failed changeset was written"
    );
    Ok(())
}

/// A changeset whose last write fails leaves no trace of its first writes.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::changeset_is_atomic;
/// assert_eq!(block_on(changeset_is_atomic(&MemoryStore::new())), Ok(()));
/// ```
pub async fn changeset_is_atomic<S: Store + Outbox>(s: &S) -> Outcome {
    let existing = customer(TA, 5, "e@example.com");
    create(s, TA, &existing).await?;
    let mut cs = Changeset::new();
    cs.create(customer(TA, 6, "f@example.com"), Stats::default());
    cs.outbox.push(msg(TA, 6, CustomerId::from_u128(6)));
    cs.create(existing.clone(), Stats::default()); // fails: exists
    let r = s.apply(TA, &cs).await;
    ensure!(r.is_err(), "a changeset with a failing create was accepted");
    ensure!(
        load(s, TA, CustomerId::from_u128(6)).await?.is_none(),
        "the first create of a failed changeset stayed"
    );
    let claimed = s
        .claim_outbox(10, Duration::from_secs(60), now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        claimed.is_empty(),
        "the message of a failed changeset stayed"
    );
    Ok(())
}

/// A repeated idempotency key is reported in `Applied::duplicates` and nothing is written;
/// the same key in another tenant is a different activity.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::activities_are_idempotent;
/// assert_eq!(block_on(activities_are_idempotent(&MemoryStore::new())), Ok(()));
/// ```
pub async fn activities_are_idempotent<S: Store + Outbox>(s: &S) -> Outcome {
    let c = customer(TA, 1, "a@example.com");
    create(s, TA, &c).await?;
    let a = purchase(c.id(), "order-1", Decimal::TEN, now())?;
    let mut st = Stats::default();
    st.apply(&a).map_err(|e| e.to_string())?;
    let mut cs = Changeset::new();
    cs.update(&c, c.next_version(), st.clone());
    cs.activities.push(a.clone());
    let first = s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    ensure!(
        first.duplicates.is_empty(),
        "first write reported duplicates"
    );
    let now_c = load(s, TA, c.id()).await?.ok_or("customer vanished")?;
    let mut again = Changeset::new();
    again.update(&now_c.customer, now_c.customer.next_version(), st);
    again.activities.push(a.clone());
    again.outbox.push(msg(TA, 9, c.id()));
    let second = s
        .apply(TA, &again)
        .await
        .map_err(|e| format!("replay failed: {e}"))?;
    ensure!(
        second.duplicates == vec![a.idempotency_key.clone()],
        "replay reported {:?}",
        second.duplicates
    );
    let after = load(s, TA, c.id()).await?.ok_or("customer vanished")?;
    ensure!(
        after.customer.version() == now_c.customer.version(),
        "the replay's customer update was written"
    );
    let acts = s
        .activities(TA, c.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        acts.len() == 1,
        "{} activities stored for one key",
        acts.len()
    );
    let claimed = s
        .claim_outbox(10, Duration::from_secs(60), now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(claimed.is_empty(), "the replay's message was written");
    // Same key, other tenant.
    let cb = customer(TB, 1, "a@example.com");
    create(s, TB, &cb).await?;
    let mut other = Changeset::new();
    other.activities.push(a);
    let r = s.apply(TB, &other).await.map_err(|e| e.to_string())?;
    ensure!(
        r.duplicates.is_empty(),
        "a key of tenant A counted as a duplicate in tenant B"
    );
    Ok(())
}

/// No method lets tenant B see or change tenant A's rows, even with the same customer id.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::tenants_are_isolated;
/// assert_eq!(block_on(tenants_are_isolated(&MemoryStore::new())), Ok(()));
/// ```
pub async fn tenants_are_isolated<S: Store + Outbox>(s: &S) -> Outcome {
    let a = customer(TA, 7, "shared@example.com");
    create(s, TA, &a).await?;
    let mut cs = Changeset::new();
    let act = purchase(a.id(), "iso-1", Decimal::ONE, now())?;
    cs.update(&a, a.next_version(), Stats::default());
    cs.activities.push(act);
    cs.outbox.push(msg(TA, 70, a.id()));
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    ensure!(
        load(s, TB, a.id()).await?.is_none(),
        "load in B returned A's customer"
    );
    let key = ContactKey::Email(Email::parse("shared@example.com").map_err(|e| e.to_string())?);
    let found = s
        .find_by_contact(TB, &key)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(found.is_empty(), "find_by_contact in B found A's customer");
    let page = s
        .scan(TB, Page::first(100))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        page.is_empty(),
        "scan in B returned {} of A's customers",
        page.len()
    );
    let acts = s
        .activities(TB, a.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(acts.is_empty(), "activities in B returned A's activities");
    // An update in B of A's customer is not found; a create in B of the same id succeeds.
    let mut upd = Changeset::new();
    let fake = customer(TB, 7, "shared@example.com");
    upd.update(&fake, fake.next_version(), Stats::default());
    ensure!(
        s.apply(TB, &upd).await.is_err(),
        "an update in B reached A's customer"
    );
    create(s, TB, &fake).await?;
    let back = load(s, TA, a.id()).await?.ok_or("A's customer vanished")?;
    ensure!(
        back.customer.version() == 2 && back.customer.tenant() == TA,
        "A's customer changed through B"
    );
    let mut wrong = Changeset::new();
    wrong.create(customer(TA, 8, "x@example.com"), Stats::default());
    ensure!(
        s.apply(TB, &wrong).await.is_err(),
        "B wrote a customer of A"
    );
    // Claimed messages carry their tenant.
    let claimed = s
        .claim_outbox(10, Duration::from_secs(60), now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        claimed.iter().all(|m| m.tenant == TA),
        "a claimed message lost its tenant"
    );
    Ok(())
}

/// A merged tombstone is stored and read back with its survivor, so reads can resolve it.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::merge_reads_through;
/// assert_eq!(block_on(merge_reads_through(&MemoryStore::new())), Ok(()));
/// ```
pub async fn merge_reads_through<S: Store>(s: &S) -> Outcome {
    let survivor = customer(TA, 1, "keep@example.com");
    let loser = customer(TA, 2, "dup@example.com");
    create(s, TA, &survivor).await?;
    create(s, TA, &loser).await?;
    let mut merged = loser.next_version();
    merged
        .set_lifecycle(
            merged
                .lifecycle()
                .merge_into(survivor.id(), now())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    let mut cs = Changeset::new();
    cs.update(&loser, merged, Stats::default());
    cs.outbox.push(OutboxMessage::new(
        MessageId::from_u128(3),
        TA,
        now(),
        DomainEvent::Merged {
            customer: loser.id(),
            into: survivor.id(),
        },
    ));
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    let back = load(s, TA, loser.id()).await?.ok_or("tombstone vanished")?;
    ensure!(
        back.customer.stage()
            == Stage::Merged {
                into: survivor.id()
            },
        "tombstone reads back as {:?}",
        back.customer.stage()
    );
    Ok(())
}

/// `Merged` and `Erased` tombstones are final: an update of either — at the version read or a
/// stale one, trying to revive it or only to change a tag — fails with
/// [`DomainError::Tombstoned`] and writes nothing of its changeset.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::tombstones_are_final;
/// assert_eq!(block_on(tombstones_are_final(&MemoryStore::new())), Ok(()));
/// ```
pub async fn tombstones_are_final<S: Store>(s: &S) -> Outcome {
    let survivor = customer(TA, 11, "stay@example.com");
    let loser = customer(TA, 12, "gone@example.com");
    let erased = customer(TA, 13, "erase@example.com");
    for c in [&survivor, &loser, &erased] {
        create(s, TA, c).await?;
    }
    let mut merged_next = loser.next_version();
    merged_next
        .set_lifecycle(
            merged_next
                .lifecycle()
                .merge_into(survivor.id(), now())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    let mut erased_next = erased.next_version();
    erased_next.profile = Profile::default();
    erased_next
        .set_lifecycle(
            erased_next
                .lifecycle()
                .erase(now())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    for (read, next) in [(&loser, merged_next), (&erased, erased_next)] {
        let mut cs = Changeset::new();
        cs.update(read, next, Stats::default());
        s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    }
    for id in [loser.id(), erased.id()] {
        let stored = load(s, TA, id).await?.ok_or("tombstone vanished")?;
        let tomb = stored.customer.clone();
        // Revive it (the lifecycle of a new customer), or only tag it; at its version and at
        // a stale one. Each changeset also carries an activity and a message that must not land.
        // (The model refuses `set_lifecycle` on a tombstone, so a revival is a live customer
        // built afresh under the tombstone's id, as a buggy or hostile caller could.)
        let revived = Customer::new(TA, tomb.id(), tomb.profile.clone(), tomb.created_at())
            .with_version(tomb.version() + 1);
        let mut tagged = tomb.next_version();
        tagged.tags.insert(
            "value:vip"
                .parse()
                .map_err(|e: DomainError| e.to_string())?,
            TagSource::Manual,
            now(),
            None,
        );
        let stale = tomb
            .clone()
            .with_version(tomb.version().saturating_sub(1).max(1));
        for (n, (read, next)) in [(&tomb, &revived), (&tomb, &tagged), (&stale, &revived)]
            .into_iter()
            .enumerate()
        {
            let mut cs = Changeset::new();
            cs.update(
                read,
                next.clone().with_version(read.version() + 1),
                Stats::default(),
            );
            let key = format!("tomb-{id}-{n}");
            cs.activities.push(
                Activity::new(
                    ActivityId::from_u128(900 + n as u128),
                    id,
                    now(),
                    Channel::Web,
                    IdempotencyKey::new(key.clone()).map_err(|e| e.to_string())?,
                    ActivityKind::Visit { item: None },
                )
                .map_err(|e| e.to_string())?,
            );
            match s.apply(TA, &cs).await {
                Err(StoreError::Invalid(DomainError::Tombstoned { customer, .. }))
                    if customer == id => {}
                other => {
                    return Err(format!(
                        "an update of tombstone {id} (write {n}) gave {other:?}, expected Tombstoned"
                    ));
                }
            }
            let after = load(s, TA, id).await?.ok_or("tombstone vanished")?;
            ensure!(
                after.customer == tomb,
                "a refused update of tombstone {id} changed it"
            );
            let acts = s
                .activities(TA, id, TimeRange::all())
                .await
                .map_err(|e| e.to_string())?;
            ensure!(
                !acts.iter().any(|a| a.idempotency_key.as_str() == key),
                "a refused update of tombstone {id} left its activity behind"
            );
        }
    }
    Ok(())
}

/// Outbox messages commit with their change, are leased on claim, are handed out again after
/// the lease expires (the relay died), come back after a retry time, and acks delete them.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::outbox_leases;
/// assert_eq!(block_on(outbox_leases(&MemoryStore::new())), Ok(()));
/// // Contracts run without an async runtime through `check` too.
/// rapport_testkit::check(MemoryStore::new, |s| async move { outbox_leases(&s).await });
/// ```
pub async fn outbox_leases<S: Store + Outbox>(s: &S) -> Outcome {
    for i in 1..=3u128 {
        let c = customer(TA, i, &format!("o{i}@example.com"));
        let mut cs = Changeset::new();
        cs.outbox.push(msg(TA, i, c.id()));
        cs.create(c, Stats::default());
        s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    }
    let lease = Duration::from_secs(60);
    let first = s
        .claim_outbox(2, lease, now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        first.len() == 2,
        "claimed {} of 3 with limit 2",
        first.len()
    );
    ensure!(
        first.iter().all(|m| m.attempts == 1),
        "attempts not counted"
    );
    let during = s
        .claim_outbox(10, lease, now())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        during.len() == 1,
        "leased messages were handed out again ({} claimed)",
        during.len()
    );
    s.ack_outbox(&[first[0].id])
        .await
        .map_err(|e| e.to_string())?;
    s.retry_outbox(during[0].id, now() + chrono::Duration::hours(1))
        .await
        .map_err(|e| e.to_string())?;
    let after = s
        .claim_outbox(10, lease, now() + chrono::Duration::seconds(61))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        after.len() == 1 && after[0].id == first[1].id && after[0].attempts == 2,
        "after the lease: {:?}",
        after.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>()
    );
    let later = s
        .claim_outbox(10, lease, now() + chrono::Duration::hours(2))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        later.len() == 2,
        "after the retry time {} messages came back, expected 2",
        later.len()
    );
    // A lease past the end of the calendar lasts to its end: no overflow, no error.
    let forever = s
        .claim_outbox(10, Duration::MAX, now() + chrono::Duration::hours(3))
        .await
        .map_err(|e| format!("a lease of Duration::MAX: {e}"))?;
    ensure!(
        forever.len() == 2,
        "a lease of Duration::MAX claimed {} messages, expected 2",
        forever.len()
    );
    let still = s
        .claim_outbox(10, lease, now() + chrono::Duration::days(365 * 1000))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        still.is_empty(),
        "{} messages came back within a lease to the end of time",
        still.len()
    );
    Ok(())
}

/// Money keeps all 28 digits and its scale; times keep microseconds.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::values_round_trip;
/// assert_eq!(block_on(values_round_trip(&MemoryStore::new())), Ok(()));
/// ```
pub async fn values_round_trip<S: Store>(s: &S) -> Outcome {
    let c = customer(TA, 1, "m@example.com");
    create(s, TA, &c).await?;
    let amounts = [
        Decimal::from_i128_with_scale(9_999_999_999_999_999_999_999_999_999, 0),
        Decimal::from_i128_with_scale(1_234_567_890_123_456_789_012_345_678, 28),
        Decimal::new(1050, 2),
        Decimal::new(1, 28),
    ];
    let mut cs = Changeset::new();
    for (i, d) in amounts.iter().enumerate() {
        let at = Utc
            .timestamp_micros(1_780_000_000_123_456 + i as i64)
            .single()
            .ok_or("bad time")?;
        cs.activities
            .push(purchase(c.id(), &format!("rt-{i}"), *d, at)?);
    }
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    let back = s
        .activities(TA, c.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        back == cs.activities,
        "activities changed on the way through the store"
    );
    for (a, d) in back.iter().zip(amounts) {
        if let ActivityKind::Purchase { amount, .. } = &a.kind {
            ensure!(
                amount.amount.to_string() == d.to_string(),
                "{} came back as {}",
                d,
                amount.amount
            );
        }
    }
    Ok(())
}

/// Pages are in id order, and rows inserted meanwhile do not make a page repeat or skip a
/// row that existed when the scan started.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::pagination_is_stable;
/// assert_eq!(block_on(pagination_is_stable(&MemoryStore::new())), Ok(()));
/// ```
pub async fn pagination_is_stable<S: Store>(s: &S) -> Outcome {
    for i in (10..30u128).step_by(2) {
        create(s, TA, &customer(TA, i, &format!("p{i}@example.com"))).await?;
    }
    let mut seen = Vec::new();
    let mut page = Page::first(3);
    let mut inserted = 0u128;
    loop {
        let rows = s.scan(TA, page).await.map_err(|e| e.to_string())?;
        let Some(last) = rows.last() else { break };
        page.after = Some(last.customer.id());
        seen.extend(rows.iter().map(|r| r.customer.id().as_uuid().as_u128()));
        // Insert behind and ahead of the cursor.
        inserted += 1;
        create(
            s,
            TA,
            &customer(TA, 1 + inserted * 2, &format!("n{inserted}@example.com")),
        )
        .await
        .ok();
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(sorted == seen, "scan repeated or reordered rows: {seen:?}");
    for i in (10..30u128).step_by(2) {
        ensure!(seen.contains(&i), "scan skipped customer {i}");
    }
    Ok(())
}

/// `find_by_contact` finds by the normalised email and phone.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::contacts_are_found;
/// assert_eq!(block_on(contacts_are_found(&MemoryStore::new())), Ok(()));
/// ```
pub async fn contacts_are_found<S: Store>(s: &S) -> Outcome {
    let cn: Region = "CN".parse().map_err(|e: DomainError| e.to_string())?;
    let mut c = customer(TA, 3, "Mixed.Case@Example.COM");
    c.profile.phone = Phone::parse("138 0013 8000", cn).ok().map(Pii::new);
    create(s, TA, &c).await?;
    let by_email = s
        .find_by_contact(
            TA,
            &ContactKey::Email(Email::parse("mixed.case@example.com").map_err(|e| e.to_string())?),
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(by_email == vec![c.id()], "email lookup gave {by_email:?}");
    let by_phone = s
        .find_by_contact(
            TA,
            &ContactKey::Phone(Phone::from_e164("+8613800138000").map_err(|e| e.to_string())?),
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(by_phone == vec![c.id()], "phone lookup gave {by_phone:?}");
    Ok(())
}

/// One live customer per normalised email and per phone in a tenant, enforced by the store:
/// a create or an update that would give a held contact a second live customer fails
/// [`StoreError::ContactTaken`] naming the holder and the kind of contact, and writes nothing
/// of its changeset; two writes of one changeset claiming one contact are refused too; other
/// tenants are other worlds; a tombstone (erased or merged) releases its contacts, and a
/// changeset may hand a contact from the customer it tombstones to another.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::contacts_are_unique;
/// assert_eq!(block_on(contacts_are_unique(&MemoryStore::new())), Ok(()));
/// ```
pub async fn contacts_are_unique<S: Store>(s: &S) -> Outcome {
    let cn: Region = "CN".parse().map_err(|e: DomainError| e.to_string())?;
    let mut ann = customer(TA, 21, "ann@example.com");
    ann.profile.phone = Phone::parse("138 0013 8000", cn).ok().map(Pii::new);
    create(s, TA, &ann).await?;
    let taken = |r: Result<Applied, StoreError>, who: CustomerId, kind: ContactKind, what: &str| {
        match r {
            Err(StoreError::ContactTaken {
                customer,
                contact,
                existing,
            }) if customer == who && contact == kind && existing == ann.id() => Ok(()),
            other => Err(format!(
                "{what} gave {other:?}, expected ContactTaken {{ customer: {who}, contact: {kind}, existing: {} }}",
                ann.id()
            )),
        }
    };
    // A second customer with the same email (typed differently: the key is normalised), with
    // an activity in the same changeset: refused, nothing written.
    let twin = customer(TA, 22, " ANN@Example.com ");
    let mut cs = Changeset::new();
    cs.create(twin.clone(), Stats::default());
    cs.activities
        .push(purchase(twin.id(), "twin-1", Decimal::TEN, now())?);
    taken(
        s.apply(TA, &cs).await,
        twin.id(),
        ContactKind::Email,
        "a create with a held email",
    )?;
    ensure!(
        load(s, TA, twin.id()).await?.is_none(),
        "a refused create was written"
    );
    let acts = s
        .activities(TA, twin.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(acts.is_empty(), "a refused create left its activity");
    // The same phone, another email.
    let mut caller = customer(TA, 23, "caller@example.com");
    caller.profile.phone = Phone::from_e164("+8613800138000").ok().map(Pii::new);
    let mut cs = Changeset::new();
    cs.create(caller.clone(), Stats::default());
    taken(
        s.apply(TA, &cs).await,
        caller.id(),
        ContactKind::Phone,
        "a create with a held phone",
    )?;
    // An update that takes the email: refused, the customer unchanged.
    let dan = customer(TA, 24, "dan@example.com");
    create(s, TA, &dan).await?;
    let mut next = dan.next_version();
    next.profile.email = ann.profile.email.clone();
    let mut cs = Changeset::new();
    cs.update(&dan, next, Stats::default());
    taken(
        s.apply(TA, &cs).await,
        dan.id(),
        ContactKind::Email,
        "an update taking a held email",
    )?;
    let stored = load(s, TA, dan.id()).await?.ok_or("dan vanished")?;
    ensure!(
        stored.customer == dan,
        "a refused update changed the customer"
    );
    // An update that keeps its own contacts is no clash.
    let mut cs = Changeset::new();
    cs.update(&ann, ann.next_version(), Stats::default());
    s.apply(TA, &cs)
        .await
        .map_err(|e| format!("an update keeping its own email failed: {e}"))?;
    let ann = ann.next_version();
    // Two creates of one changeset with one new email.
    let (e1, e2) = (
        customer(TA, 25, "pair@example.com"),
        customer(TA, 26, "pair@example.com"),
    );
    let mut cs = Changeset::new();
    cs.create(e1.clone(), Stats::default());
    cs.create(e2.clone(), Stats::default());
    match s.apply(TA, &cs).await {
        Err(StoreError::ContactTaken { .. }) => {}
        other => return Err(format!("two creates with one email gave {other:?}")),
    }
    ensure!(
        load(s, TA, e1.id()).await?.is_none() && load(s, TA, e2.id()).await?.is_none(),
        "a refused changeset of two creates wrote one"
    );
    // Tenant B has its own Ann.
    create(s, TB, &customer(TB, 21, "ann@example.com")).await?;
    create(s, TB, &customer(TB, 22, "ann@example.com"))
        .await
        .err()
        .ok_or("tenant B accepted two customers with one email")?;
    // Erasing Ann releases her email and phone.
    let mut erased = ann.next_version();
    erased.profile = Profile::default();
    erased
        .set_lifecycle(erased.lifecycle().erase(now()).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut cs = Changeset::new();
    cs.update(&ann, erased, Stats::default());
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    create(s, TA, &twin)
        .await
        .map_err(|e| format!("after erasing the holder: {e}"))?;
    create(s, TA, &caller)
        .await
        .map_err(|e| format!("after erasing the holder: {e}"))?;
    let found = s
        .find_by_contact(
            TA,
            &ContactKey::Email(Email::parse("ann@example.com").map_err(|e| e.to_string())?),
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(found == vec![twin.id()], "the email now finds {found:?}");
    // Merging hands the loser's email to the survivor in one changeset (the loser keeps its
    // profile as a tombstone: it claims nothing).
    let mut merged = twin.next_version();
    merged
        .set_lifecycle(
            merged
                .lifecycle()
                .merge_into(dan.id(), now())
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    let mut survivor = dan.next_version();
    survivor.profile.email = twin.profile.email.clone();
    let mut cs = Changeset::new();
    cs.update(&dan, survivor, Stats::default());
    cs.update(&twin, merged, Stats::default());
    s.apply(TA, &cs)
        .await
        .map_err(|e| format!("a merge moving the email to the survivor failed: {e}"))?;
    let holder = load(s, TA, dan.id())
        .await?
        .ok_or("the survivor vanished")?;
    ensure!(
        holder.customer.profile.email == twin.profile.email,
        "the survivor did not get the email"
    );
    Ok(())
}

/// Erasure leaves no personal data: after the erasing write (the profile cleared, the stage
/// `Erased`), the customer reads back as an empty tombstone, its old email and phone find
/// nobody, no scanned or queried record carries them, and the same id in tenant B keeps its
/// own profile.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::erasure_leaves_no_pii;
/// assert_eq!(block_on(erasure_leaves_no_pii(&MemoryStore::new())), Ok(()));
/// ```
pub async fn erasure_leaves_no_pii<S: Store>(s: &S) -> Outcome {
    let secret_email = "erase.me.7f3a@example.com";
    let cn: Region = "CN".parse().map_err(|e: DomainError| e.to_string())?;
    let mut c = customer(TA, 40, secret_email);
    c.profile.phone = Phone::parse("139 0013 9000", cn).ok().map(Pii::new);
    c.profile.display_name = Some(Pii::new("Wang Erase".to_owned()));
    let mut attrs = Attributes::new();
    attrs.insert(
        AttrKey::new("city").map_err(|e| e.to_string())?,
        AttrValue::Text("Secretville".into()),
    );
    c.profile.attributes = Pii::new(attrs);
    create(s, TA, &c).await?;
    let other = customer(TB, 40, secret_email);
    create(s, TB, &other).await?;
    let mut erased = c.next_version();
    erased.profile = Profile::default();
    erased
        .set_lifecycle(c.lifecycle().erase(now()).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut cs = Changeset::new();
    cs.update(&c, erased, Stats::default());
    s.apply(TA, &cs)
        .await
        .map_err(|e| format!("the erasing write failed: {e}"))?;
    let back = load(s, TA, c.id())
        .await?
        .ok_or("the erased customer is gone; it must stay as a tombstone")?;
    ensure!(
        back.customer.stage() == Stage::Erased,
        "stage after erasure: {:?}",
        back.customer.stage()
    );
    ensure!(
        back.customer.profile == Profile::default(),
        "the erased profile still holds data"
    );
    let leaks = |r: &Record| {
        let text = serde_json::to_string(r).unwrap_or_default();
        text.contains("erase.me.7f3a")
            || text.contains("8613900139000")
            || text.contains("Secretville")
            || text.contains("Wang Erase")
    };
    ensure!(
        !leaks(&back),
        "the erased record still carries personal data"
    );
    let email = ContactKey::Email(Email::parse(secret_email).map_err(|e| e.to_string())?);
    let phone = ContactKey::Phone(Phone::from_e164("+8613900139000").map_err(|e| e.to_string())?);
    for key in [&email, &phone] {
        let found = s
            .find_by_contact(TA, key)
            .await
            .map_err(|e| e.to_string())?;
        ensure!(found.is_empty(), "an erased contact still finds {found:?}");
    }
    let rows = s
        .scan(TA, Page::first(100))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        !rows.iter().any(leaks),
        "a scanned record carries the erased data"
    );
    let seg =
        Segment::parse("has_email == true or has_phone == true").map_err(|e| e.to_string())?;
    let hits = s
        .query(TA, &seg, now(), Page::first(100))
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        !hits.iter().any(|r| r.customer.id() == c.id()),
        "a segment query still sees the erased contacts"
    );
    let kept = load(s, TB, other.id())
        .await?
        .ok_or("tenant B's customer with the same id is gone")?;
    ensure!(
        kept.customer.profile.email.is_some(),
        "erasure in tenant A cleared tenant B's profile"
    );
    let found = s
        .find_by_contact(TB, &email)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        found == vec![other.id()],
        "tenant B's contact lookup gave {found:?}"
    );
    Ok(())
}

/// An activity of `kind` for the segment contract.
fn act(c: CustomerId, n: u128, at: DateTime<Utc>, kind: ActivityKind) -> Result<Activity, String> {
    Activity::new(
        ActivityId::from_u128(n),
        c,
        at,
        Channel::Web,
        IdempotencyKey::new(format!("seg-{n}")).map_err(|e| e.to_string())?,
        kind,
    )
    .map_err(|e| e.to_string())
}

fn usd(amount: i64) -> Money {
    Money::new(Decimal::new(amount, 2), Currency::USD)
}

fn tag(text: &str) -> Result<Tag, String> {
    text.parse().map_err(|e: DomainError| e.to_string())
}

/// The customers of one tenant for the segment contract: every field kind set on some and
/// missing on others, tags with and without (past, present, future, sub-second) expiry,
/// every tier and stage, a purchase dated after `now`, tombstones.
fn segment_population(
    t: TenantId,
    offset: u128,
) -> Result<Vec<(Customer, Stats, Vec<Activity>)>, String> {
    let now = now();
    let day = chrono::Duration::days(1);
    let mut out = Vec::new();
    let mut n = offset * 1_000;
    for i in 0..24u128 {
        let id = CustomerId::from_u128(offset * 100 + i + 1);
        let created = now - day * (i as i32 * 7) - chrono::Duration::hours(i as i64 % 13);
        let email = match i % 4 {
            0 => None,
            1 => Some(format!("c{i}@Example.COM")),
            2 => Some(format!("c{i}@shop.example.org")),
            _ => Some(format!("C{i}@other.io")),
        };
        let mut profile = Profile {
            email: email.and_then(|e| Email::parse(&e).ok()).map(Pii::new),
            ..Profile::default()
        };
        if i % 3 == 0 {
            let cn: Region = "CN".parse().map_err(|e: DomainError| e.to_string())?;
            // One phone per customer: a phone identifies one live customer.
            let number = format!("138 0013 {:04}", 8000 + i);
            profile.phone = Phone::parse(&number, cn).ok().map(Pii::new);
        }
        let mut attrs = Attributes::new();
        let key = |k: &str| AttrKey::new(k).map_err(|e| e.to_string());
        match i % 5 {
            0 => {}
            1 => {
                attrs.insert(key("plan")?, AttrValue::Text("gold".into()));
                attrs.insert(key("seats")?, AttrValue::Number(Decimal::from(i as i64)));
            }
            2 => {
                attrs.insert(key("plan")?, AttrValue::Text("free".into()));
                attrs.insert(key("trial")?, AttrValue::Bool(true));
            }
            3 => {
                attrs.insert(key("seats")?, AttrValue::Text("many".into())); // another type
                attrs.insert(
                    key("renewal")?,
                    AttrValue::Date(now.date_naive() + day * (i as i32)),
                );
            }
            _ => {
                attrs.insert(key("renewal")?, AttrValue::Timestamp(now - day * 3));
            }
        }
        profile.attributes = Pii::new(attrs);
        let mut c = Customer::new(t, id, profile, created);
        c.set_tier_state(TierState {
            tier: Tier::ALL[(i % 4) as usize],
            ..c.tier_state().clone()
        })
        .map_err(|e| e.to_string())?;
        c.set_lifecycle(Lifecycle {
            stage: match i % 8 {
                0 => Stage::Prospect,
                1 => Stage::New,
                2 | 3 => Stage::Active,
                4 => Stage::Silent,
                5 => Stage::Churned,
                6 if i > 6 => Stage::Merged {
                    into: CustomerId::from_u128(offset * 100 + 1),
                },
                7 if i > 20 => Stage::Erased,
                _ => Stage::Active,
            },
            ..c.lifecycle().clone()
        })
        .map_err(|e| e.to_string())?;
        match i % 6 {
            0 => {}
            1 => {
                c.tags
                    .insert(tag("vip:gold")?, TagSource::Manual, created, None);
            }
            2 => {
                // Expired a day ago, and one expiring exactly now (expired at `now`).
                c.tags.insert(
                    tag("promo:spring")?,
                    TagSource::Rule,
                    created,
                    Some(now - day),
                );
                c.tags
                    .insert(tag("promo:now")?, TagSource::Rule, created, Some(now));
            }
            3 => {
                c.tags.insert(
                    tag("promo:spring")?,
                    TagSource::Rule,
                    created,
                    Some(now + day),
                );
                c.tags
                    .insert(tag("vip:gold")?, TagSource::Import, created, None);
            }
            4 => {
                // Expiring within `now`'s second, before and after it.
                let ms = chrono::Duration::milliseconds(400);
                c.tags
                    .insert(tag("promo:now")?, TagSource::Rule, created, Some(now + ms));
                c.tags
                    .insert(tag("promo:soon")?, TagSource::Rule, created, Some(now - ms));
            }
            _ => {
                c.tags.insert(
                    tag("promo:soon")?,
                    TagSource::Rule,
                    created,
                    Some(now + day * 400),
                );
            }
        }
        // Activities: `i % 7` purchases spread over the past, a refund, feedback, complaints.
        let mut stats = Stats::default();
        let mut acts = Vec::new();
        let purchases = i % 7;
        for p in 0..purchases {
            n += 1;
            let at = now - day * ((p * 17 + i * 3) as i32) - chrono::Duration::hours(p as i64);
            let amount = usd((p as i64 + 1) * 2_550 + i as i64);
            acts.push(act(
                id,
                n,
                at,
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}")).map_err(|e| e.to_string())?,
                    amount,
                    margin: (p % 2 == 0).then(|| Decimal::new(i as i64 * 100 - 700, 2)),
                },
            )?);
        }
        if i % 9 == 4 || i == 14 {
            n += 1;
            // A purchase dated after `now` (imported from a clock ahead).
            acts.push(act(
                id,
                n,
                now + day * 2,
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}")).map_err(|e| e.to_string())?,
                    amount: usd(999),
                    margin: None,
                },
            )?);
        }
        if purchases >= 2 && i % 2 == 0 {
            n += 1;
            let purchased_at = now - day * ((i * 3) as i32);
            acts.push(act(
                id,
                n,
                now - day,
                ActivityKind::Refund {
                    order_id: OrderId::new(format!("o{}", n - 1)).map_err(|e| e.to_string())?,
                    amount: usd(2_550 + i as i64),
                    margin: None,
                    purchased_at,
                    full: i % 4 == 0,
                },
            )?);
        }
        if i % 4 == 1 {
            n += 1;
            let score = (i % 11) as u8;
            let nps = Nps::new(score).map_err(|e| e.to_string())?;
            acts.push(act(
                id,
                n,
                now - day * (i as i32),
                ActivityKind::Feedback {
                    feedback: Feedback::Nps(nps),
                },
            )?);
        }
        if i % 4 == 2 {
            n += 1;
            let csat = Csat::new(1 + (i % 5) as u8).map_err(|e| e.to_string())?;
            acts.push(act(
                id,
                n,
                now - day * 2,
                ActivityKind::Feedback {
                    feedback: Feedback::Csat(csat),
                },
            )?);
        }
        if i % 5 == 3 {
            for k in 0..2 {
                n += 1;
                acts.push(act(
                    id,
                    n,
                    now - day * (k * 100 + 5),
                    ActivityKind::Complaint {
                        severity: Severity::High,
                    },
                )?);
            }
        }
        if i % 3 == 1 {
            n += 1;
            acts.push(act(
                id,
                n,
                now - chrono::Duration::hours(11 + (i as i64 % 2) * 2),
                ActivityKind::Visit { item: None },
            )?);
        }
        acts.sort_by_key(|a| a.at);
        for a in &acts {
            stats.apply(a).map_err(|e| format!("seeding stats: {e}"))?;
        }
        out.push((c, stats, acts));
    }
    Ok(out)
}

/// The predicates of the segment contract: every field kind, `not` over missing values,
/// expired tags, tiers, stages, case-insensitive email domains, RFM and churn risk (never in
/// a query's context), and combinations.
///
/// ```
/// use rapport_core::Segment;
/// use rapport_testkit::contracts::SEGMENT_PREDICATES;
/// // Every predicate parses and prints back to the same tree.
/// for text in SEGMENT_PREDICATES {
///     let s = Segment::parse(text).unwrap();
///     assert_eq!(Segment::parse(&s.to_string()).unwrap(), s);
/// }
/// ```
pub const SEGMENT_PREDICATES: &[&str] = &[
    "true",
    "false",
    "all()",
    "any()",
    "has_email == true",
    "has_email != true",
    "has_phone == false",
    "not has_phone == true",
    r#"email_domain == "EXAMPLE.com""#,
    r#"email_domain == "example.com""#,
    r#"email_domain != "Example.Com""#,
    r#"not email_domain == "example.com""#,
    r#"email_domain in ("shop.example.org", "OTHER.IO")"#,
    r#"attr.plan == "gold""#,
    r#"attr.plan != "gold""#,
    r#"not attr.plan == "gold""#,
    "attr.seats >= 10",
    "not attr.seats < 10",
    "attr.trial == true",
    "attr.renewal < 2026-03-10",
    "attr.renewal >= 2026-02-26",
    "orders >= 2",
    "orders == 0",
    "orders != 1",
    "orders > 1.5",
    "orders <= 2.5",
    "orders == 3.0",
    "orders < 100000000000000000000000000",
    "orders > -100000000000000000000000000",
    "purchase_days >= 2",
    "not purchase_days > 1",
    "revenue > 100",
    "revenue <= 0",
    "revenue == 25.510",
    "revenue != 0",
    "revenue >= 76.56",
    "not revenue >= 50",
    "revenue < 0.0000000000000000000000000001",
    "margin > 0",
    "margin < 0",
    "revenue_30d > 0",
    "revenue_90d >= 50",
    "not revenue_365d < 100",
    "complaints >= 1",
    "complaints_90d == 0",
    "complaints_90d >= 1",
    "last_nps >= 9",
    "not last_nps >= 9",
    "last_nps != 10",
    "not last_nps != 10",
    "last_csat <= 3",
    "tier >= gold",
    "tier == lead",
    "tier < iron",
    "tier != platinum",
    "not tier > iron",
    "stage == active",
    "stage in (silent, churned)",
    "stage != merged",
    "not stage == prospect",
    "stage == erased or stage == merged",
    "rfm.r >= 1",
    "not rfm.total > 3",
    "churn_risk < 0.5",
    "not churn_risk >= 0",
    "days_since_last_purchase > 30",
    "days_since_last_purchase <= 3",
    "days_since_last_purchase == 0",
    "days_since_last_purchase == 3",
    "not days_since_last_purchase < 10",
    "days_since_last_purchase > 2.5",
    "days_since_first_purchase >= 60",
    "not days_since_first_purchase < 30",
    "days_since(purchase) < 7",
    "days_since(complaint) > 1",
    "days_since(feedback) >= 0",
    "not days_since(visit) < 30",
    "days_since(visit) == 0",
    "days_since_registered >= 30",
    "days_since_registered == 0",
    "days_since_registered < 14",
    "not days_since_registered > 100",
    r#"has_tag("vip:gold")"#,
    r#"has_tag("promo:spring")"#,
    r#"not has_tag("promo:spring")"#,
    r#"has_tag("promo:now")"#,
    r#"not has_tag("promo:now")"#,
    r#"has_tag("promo:soon")"#,
    r#"has_tag("nobody:has-this")"#,
    r#"tier >= gold and has_tag("vip:gold") and days_since_last_purchase > 30"#,
    "not (orders > 1 and last_nps >= 9)",
    "not (orders > 1 or margin > 0)",
    r#"not (has_tag("promo:spring") or attr.plan == "gold")"#,
    "(stage == active or tier == platinum) and not revenue_90d > 0",
    "not not (revenue > 60 and not days_since(visit) < 1)",
    r#"any(orders == 0, all(has_email == true, not email_domain == "other.io"))"#,
];

/// All of `t`'s records in `segment` at `now`, by paging the store's `query` with `limit`.
async fn query_all<S: Store>(
    s: &S,
    t: TenantId,
    segment: &Segment,
    at: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Record>, String> {
    let mut out: Vec<Record> = Vec::new();
    let mut page = Page::first(limit);
    for _ in 0..10_000 {
        let rows = s
            .query(t, segment, at, page)
            .await
            .map_err(|e| format!("query `{segment}` failed: {e}"))?;
        ensure!(
            rows.len() <= limit as usize,
            "query `{segment}` returned {} rows for a limit of {limit}",
            rows.len()
        );
        let full = rows.len() == limit as usize;
        page.after = rows.last().map(|r| r.customer.id()).or(page.after);
        out.extend(rows);
        if !full {
            return Ok(out);
        }
    }
    Err(format!("query `{segment}` never ended"))
}

/// `query` answers exactly what paging `scan` and keeping the records for which
/// `Segment::matches` holds (with `SegmentContext::new`: no RFM scores or churn risk) answers,
/// for predicates over every field kind, in id order, paged with any limit, per tenant.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::segment_query_equals_in_memory_evaluation;
/// assert_eq!(block_on(segment_query_equals_in_memory_evaluation(&MemoryStore::new())), Ok(()));
/// ```
pub async fn segment_query_equals_in_memory_evaluation<S: Store>(s: &S) -> Outcome {
    for (t, offset) in [(TA, 1u128), (TB, 2)] {
        let mut cs = Changeset::new();
        for (c, stats, acts) in segment_population(t, offset)? {
            cs.create(c, stats);
            cs.activities.extend(acts);
        }
        s.apply(t, &cs)
            .await
            .map_err(|e| format!("seeding tenant {t}: {e}"))?;
    }
    // Tenant B also holds a customer with one of A's ids.
    create(s, TB, &customer(TB, 101, "c0@example.com")).await?;
    let at = now();
    for t in [TA, TB] {
        let mut all = Vec::new();
        let mut page = Page::first(7);
        loop {
            let rows = s.scan(t, page).await.map_err(|e| e.to_string())?;
            let Some(last) = rows.last() else { break };
            page.after = Some(last.customer.id());
            all.extend(rows);
        }
        for text in SEGMENT_PREDICATES {
            let segment = Segment::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
            let expected: Vec<&Record> = all.iter().filter(|r| r.matches(&segment, at)).collect();
            for limit in [1_000, 3, 1] {
                let got = query_all(s, t, &segment, at, limit).await?;
                let ids = |v: &[&Record]| v.iter().map(|r| r.customer.id()).collect::<Vec<_>>();
                let got_refs: Vec<&Record> = got.iter().collect();
                ensure!(
                    ids(&got_refs) == ids(&expected),
                    "tenant {t}, `{text}` (limit {limit}): query gave {:?}, in-memory evaluation {:?}",
                    ids(&got_refs),
                    ids(&expected)
                );
                ensure!(
                    got_refs == expected,
                    "tenant {t}, `{text}`: query returned records that differ from scan's"
                );
            }
            // A page starting in the middle, and an empty page.
            if let Some(mid) = expected.get(expected.len() / 2) {
                let after = Page {
                    after: Some(mid.customer.id()),
                    limit: 1_000,
                };
                let rest = s
                    .query(t, &segment, at, after)
                    .await
                    .map_err(|e| e.to_string())?;
                ensure!(
                    rest.len() == expected.len() - expected.len() / 2 - 1,
                    "tenant {t}, `{text}`: a page after the middle match has {} rows",
                    rest.len()
                );
            }
            let none = s
                .query(t, &segment, at, Page::first(0))
                .await
                .map_err(|e| e.to_string())?;
            ensure!(none.is_empty(), "a query with limit 0 returned rows");
        }
    }
    // An empty tenant has no matches.
    let other = s
        .query(
            TenantId::from_u128(0xC),
            &Segment::True,
            at,
            Page::first(10),
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure!(other.is_empty(), "a query in an empty tenant returned rows");
    Ok(())
}

/// Refunds recorded through the service are checked against the customer's orders, read back
/// through the store's `activities`: a refund of an order the customer never bought (or that
/// another customer bought) fails `UnknownOrder`, one above what is left fails
/// `RefundExceedsOrder` with the amounts, and neither writes anything; an accepted refund
/// counts against the order's day whatever `purchased_at` the caller sent, one that empties
/// the order is its full refund, and a retried refund (same key) is a duplicate even when it
/// would no longer fit. Revenue ends at exactly zero, never below.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::contracts::refunds_are_checked_against_orders;
/// assert_eq!(block_on(refunds_are_checked_against_orders(&MemoryStore::new())), Ok(()));
/// ```
pub async fn refunds_are_checked_against_orders<S: Store>(s: &S) -> Outcome {
    use rapport::{Error, NewActivity, Service};
    let e = |e: Error| e.to_string();
    let svc = Service::new(s)
        .with_clock(crate::FixedClock::at(now()))
        .with_ids(crate::SequentialIds::starting_at(0x5EF0_0000));
    let usd = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::USD);
    let ann = svc
        .register(TA, Profile::default())
        .await
        .map_err(e)?
        .customer;
    let bob = svc
        .register(TA, Profile::default())
        .await
        .map_err(e)?
        .customer;
    let placed = now() - chrono::Duration::days(3);
    let buy =
        NewActivity::purchase(ann.id(), "SO-1", usd(5_000), placed).map_err(|e| e.to_string())?;
    svc.record(TA, buy).await.map_err(e)?;
    let refund = |who: CustomerId, order: &str, cents: i64, days_ago: i64| {
        NewActivity::refund(
            who,
            order,
            usd(cents),
            now() - chrono::Duration::days(days_ago),
        )
        .map_err(|e| e.to_string())
    };
    let state = |id: CustomerId| async move {
        let r = s.load(TA, id).await.map_err(|e| e.to_string())?;
        let r = r.ok_or_else(|| format!("customer {id} vanished"))?;
        let n = s
            .activities(TA, id, TimeRange::all())
            .await
            .map_err(|e| e.to_string())?
            .len();
        Ok::<_, String>((r.customer.version(), n, r.stats))
    };
    let before = state(ann.id()).await?;
    let bob_before = state(bob.id()).await?;
    // Refused: another customer's order, an order never recorded, more than was paid.
    match svc.record(TA, refund(bob.id(), "SO-1", 100, 1)?).await {
        Err(Error::Domain(DomainError::UnknownOrder { order })) if order.as_str() == "SO-1" => {}
        other => {
            return Err(format!(
                "a refund of another customer's order gave {other:?}"
            ));
        }
    }
    match svc.record(TA, refund(ann.id(), "SO-404", 100, 1)?).await {
        Err(Error::Domain(DomainError::UnknownOrder { order })) if order.as_str() == "SO-404" => {}
        other => return Err(format!("a refund of an unknown order gave {other:?}")),
    }
    match svc.record(TA, refund(ann.id(), "SO-1", 50_000, 1)?).await {
        Err(Error::Domain(DomainError::RefundExceedsOrder {
            left, requested, ..
        })) if left == usd(5_000) && requested == usd(50_000) => {}
        other => return Err(format!("500.00 refunded on a 50.00 order gave {other:?}")),
    }
    ensure!(
        state(ann.id()).await? == before && state(bob.id()).await? == bob_before,
        "a refused refund wrote something"
    );
    // Accepted, with a wrong caller-supplied order date that the order's own replaces.
    let mut first = refund(ann.id(), "SO-1", 3_000, 2)?;
    if let ActivityKind::Refund { purchased_at, .. } = &mut first.kind {
        *purchased_at = now() - chrono::Duration::days(300);
    }
    let r = svc.record(TA, first.clone()).await.map_err(e)?;
    ensure!(!r.duplicate, "the first refund was taken for a duplicate");
    let stored = s
        .activities(TA, ann.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    let dated = stored.iter().find_map(|a| match &a.kind {
        ActivityKind::Refund { purchased_at, .. } => Some(*purchased_at),
        _ => None,
    });
    ensure!(
        dated == Some(placed),
        "the refund's order date reads back as {dated:?}, not the order's {placed}"
    );
    match svc.record(TA, refund(ann.id(), "SO-1", 2_001, 1)?).await {
        Err(Error::Domain(DomainError::RefundExceedsOrder { left, .. })) if left == usd(2_000) => {}
        other => return Err(format!("20.01 on the 20.00 left gave {other:?}")),
    }
    let last = svc
        .record(TA, refund(ann.id(), "SO-1", 2_000, 1)?)
        .await
        .map_err(e)?;
    ensure!(!last.duplicate, "the last refund was taken for a duplicate");
    // The first refund again: a duplicate, not a new refund that no longer fits.
    let again = svc.record(TA, first).await.map_err(e)?;
    ensure!(again.duplicate, "a retried refund was not a duplicate");
    let (_, n, stats) = state(ann.id()).await?;
    ensure!(
        n == 3,
        "{n} activities stored; expected the purchase and two refunds"
    );
    ensure!(
        stats.revenue() == Some(usd(0)) && stats.full_refunds() == 1,
        "after refunding the whole order: revenue {:?}, full refunds {}",
        stats.revenue(),
        stats.full_refunds()
    );
    ensure!(
        stats.purchase_day_count() == 0,
        "the order refunded in full still counts {} purchase day(s)",
        stats.purchase_day_count()
    );
    Ok(())
}

/// The review contract (in [`crate::review`]), with the others for the macros.
pub use crate::review::review_matches_the_definitions;
pub use crate::value::time_travel_and_simulation;

//! One `pub async fn` per contract of the [`Store`] port. Each takes a fresh, empty store and
//! returns `Err(description)` when the store breaks the contract, so the kit's own tests can
//! show that it fails on broken stores.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rapport_core::*;
use rust_decimal::Decimal;

/// A contract violation, described.
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
pub const TA: TenantId = TenantId::from_u128(0xA);
/// Tenant B of the contracts.
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
pub async fn stale_update_conflicts<S: Store>(s: &S) -> Outcome {
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
pub async fn changeset_is_atomic<S: Store>(s: &S) -> Outcome {
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
pub async fn activities_are_idempotent<S: Store>(s: &S) -> Outcome {
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
pub async fn tenants_are_isolated<S: Store>(s: &S) -> Outcome {
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
pub async fn merge_reads_through<S: Store>(s: &S) -> Outcome {
    let survivor = customer(TA, 1, "keep@example.com");
    let loser = customer(TA, 2, "dup@example.com");
    create(s, TA, &survivor).await?;
    create(s, TA, &loser).await?;
    let mut merged = loser.next_version();
    merged.lifecycle = merged
        .lifecycle
        .merge_into(survivor.id(), now())
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

/// Outbox messages commit with their change, are leased on claim, are handed out again after
/// the lease expires (the relay died), come back after a retry time, and acks delete them.
pub async fn outbox_leases<S: Store>(s: &S) -> Outcome {
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
    Ok(())
}

/// Money keeps all 28 digits and its scale; times keep microseconds.
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

//! Contracts of the privacy ports — the consent ledger ([`ConsentStore`]), erasure — and of
//! the service's privacy use cases over them: export and the retention policy. Each takes a
//! fresh, empty store and returns `Err(description)` on a violation.
//! `store_contracts!(f; privacy)` runs them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::ports::ConsentStore;
use rapport_core::privacy::{ConsentEntry, ConsentState, record};
use rapport_core::*;

use crate::contracts::{Outcome, TA, TB};

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

mod rights;
pub use rights::{PrivacyStore, export_holds_everything, retention_erases_only_the_inactive};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn entry(
    id: u128,
    c: CustomerId,
    purpose: Purpose,
    channel: ContactChannel,
    state: ConsentState,
    at: DateTime<Utc>,
) -> Result<ConsentEntry, String> {
    let mut e = ConsentEntry::new(
        ConsentEntryId::from_u128(id),
        c,
        purpose,
        channel,
        state,
        format!("form-{id}"),
        at,
    )
    .map_err(|e| e.to_string())?;
    e.evidence = Some(format!("proof-{id}"));
    e.recorded_at = t0() + Duration::seconds(i64::try_from(id).unwrap_or(0));
    Ok(e)
}

async fn create<S: Store>(s: &S, t: TenantId, id: u128) -> Result<Customer, String> {
    let c = Customer::new(t, CustomerId::from_u128(id), Profile::default(), t0());
    let mut cs = Changeset::new();
    cs.create(c.clone(), Stats::default());
    s.apply(t, &cs).await.map_err(|e| e.to_string())?;
    Ok(c)
}

async fn load<S: Store>(s: &S, t: TenantId, id: CustomerId) -> Result<Customer, String> {
    s.load(t, id)
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.customer)
        .ok_or_else(|| format!("customer {id} is gone"))
}

async fn history<S: ConsentStore>(
    s: &S,
    t: TenantId,
    id: CustomerId,
) -> Result<Vec<ConsentEntry>, String> {
    s.consents(t, id).await.map_err(|e| e.to_string())
}

/// The consent ledger: entries commit with the customer's snapshot, read back whole and in
/// ledger order (by time, then recording time, whatever the arrival order); a changeset
/// refused for a stale version or a stored entry id keeps none of its entries; moves
/// reassign every entry; tenants never see each other's entries.
///
/// ```
/// use futures::executor::block_on;
/// let store = rapport_memory::MemoryStore::new();
/// assert_eq!(block_on(rapport_testkit::privacy::consent_ledger(&store)), Ok(()));
/// ```
pub async fn consent_ledger<S: ConsentStore>(s: &S) -> Outcome {
    use ConsentState::{Granted, Pending, Withdrawn};
    use ContactChannel::{Email as Mail, Sms};
    use Purpose::{Marketing, Profiling};
    let a = create(s, TA, 1).await?;
    // One entry, with the snapshot it implies, in one changeset.
    let e1 = entry(1, a.id(), Marketing, Mail, Granted, t0())?;
    let d = record(&a, Stats::default(), &[], e1.clone()).map_err(|e| e.to_string())?;
    s.apply(TA, &d.changeset).await.map_err(|e| e.to_string())?;
    ensure!(
        history(s, TA, a.id()).await? == vec![e1.clone()],
        "a recorded entry does not read back whole"
    );
    let a1 = load(s, TA, a.id()).await?;
    ensure!(
        a1.consents.allows(Marketing, Mail) && a1.version() == 2,
        "the customer's snapshot was not written with the entry"
    );
    // Two entries at once; one dated before the first (an import): ledger order is by time.
    let early = entry(
        2,
        a.id(),
        Profiling,
        ContactChannel::Any,
        Granted,
        t0() - Duration::days(30),
    )?;
    let pending = entry(
        3,
        a.id(),
        Marketing,
        Sms,
        Pending,
        t0() + Duration::hours(1),
    )?;
    let mut cs = Changeset::new();
    cs.update(&a1, a1.next_version(), Stats::default());
    cs.consents = vec![pending.clone(), early.clone()];
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    let ids: Vec<ConsentEntryId> = history(s, TA, a.id()).await?.iter().map(|e| e.id).collect();
    ensure!(
        ids == vec![early.id, e1.id, pending.id],
        "entries are not in ledger order (by time): {ids:?}"
    );
    // Same instant as the first entry, recorded later: after it.
    let a2 = load(s, TA, a.id()).await?;
    let tie = entry(4, a.id(), Marketing, Mail, Withdrawn, t0())?;
    let mut cs = Changeset::new();
    cs.update(&a2, a2.next_version(), Stats::default());
    cs.consents = vec![tie.clone()];
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    let ids: Vec<ConsentEntryId> = history(s, TA, a.id()).await?.iter().map(|e| e.id).collect();
    ensure!(
        ids == vec![early.id, e1.id, tie.id, pending.id],
        "entries of one instant are not in recording order: {ids:?}"
    );
    // A stale changeset keeps none of its entries.
    let stale_entry = entry(5, a.id(), Marketing, Mail, Granted, t0())?;
    let mut cs = Changeset::new();
    cs.update(&a2, a2.next_version(), Stats::default());
    cs.consents = vec![stale_entry];
    ensure!(
        matches!(s.apply(TA, &cs).await, Err(StoreError::Conflict { .. })),
        "a stale changeset with consent entries did not fail Conflict"
    );
    ensure!(
        history(s, TA, a.id()).await?.len() == 4,
        "a refused changeset left a consent entry behind"
    );
    // An entry id already stored: refused, nothing of the changeset written.
    let a3 = load(s, TA, a.id()).await?;
    let mut cs = Changeset::new();
    cs.update(&a3, a3.next_version(), Stats::default());
    cs.consents = vec![entry(6, a.id(), Profiling, Sms, Granted, t0())?, e1.clone()];
    ensure!(
        s.apply(TA, &cs).await.is_err(),
        "a consent entry id stored twice was accepted"
    );
    ensure!(
        history(s, TA, a.id()).await?.len() == 4
            && load(s, TA, a.id()).await?.version() == a3.version(),
        "a changeset refused for a stored entry id wrote something"
    );
    // Tenants: B sees nothing of A's, and its own entries (same ids) are its own.
    ensure!(
        history(s, TB, a.id()).await?.is_empty(),
        "tenant B reads tenant A's consent ledger"
    );
    let b = create(s, TB, 1).await?;
    let eb = entry(1, b.id(), Marketing, Mail, Withdrawn, t0())?;
    let d = record(&b, Stats::default(), &[], eb.clone()).map_err(|e| e.to_string())?;
    s.apply(TB, &d.changeset)
        .await
        .map_err(|e| format!("tenant B cannot use an entry id tenant A uses: {e}"))?;
    ensure!(
        history(s, TB, b.id()).await? == vec![eb] && history(s, TA, a.id()).await?.len() == 4,
        "the tenants' ledgers mixed"
    );
    // A move (what a merge does): every entry of A's customer 1 now belongs to customer 2.
    let survivor = create(s, TA, 2).await?;
    let a4 = load(s, TA, a.id()).await?;
    let mut cs = Changeset::new();
    cs.update(&a4, a4.next_version(), Stats::default());
    cs.update(&survivor, survivor.next_version(), Stats::default());
    cs.consent_moves = vec![ConsentMove {
        from: a.id(),
        to: survivor.id(),
    }];
    s.apply(TA, &cs).await.map_err(|e| e.to_string())?;
    let moved = history(s, TA, survivor.id()).await?;
    ensure!(
        history(s, TA, a.id()).await?.is_empty() && moved.len() == 4,
        "a move left entries behind or lost some ({} moved)",
        moved.len()
    );
    ensure!(
        moved.iter().all(|e| e.customer == survivor.id()),
        "a moved entry still names its old customer"
    );
    ensure!(
        history(s, TB, b.id()).await?.len() == 1,
        "a move in tenant A touched tenant B"
    );
    Ok(())
}

/// Erasure: the customer becomes an empty `Erased` tombstone with its stats kept to the
/// cent, holding none of its personal data — the free-text reasons of its tier pin and stage
/// override included (the pin keeps its tier and expiry); its visits lose their free text
/// while purchases keep amounts and dates; its consent
/// entries lose source and evidence; its pending outbox messages are dropped (another
/// customer's stay); the record reads back and a second one is refused with nothing written;
/// tenant B is untouched.
///
/// ```
/// use futures::executor::block_on;
/// let store = rapport_memory::MemoryStore::new();
/// assert_eq!(block_on(rapport_testkit::privacy::erasure_is_complete(&store)), Ok(()));
/// ```
pub async fn erasure_is_complete<S>(s: &S) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + Outbox,
{
    use rapport_core::privacy::{ERASED_SOURCE, plan_erasure};
    let secret = "zq-secret-7f3a";
    let mut profile = Profile {
        email: Email::parse(&format!("{secret}@example.com"))
            .ok()
            .map(Pii::new),
        ..Profile::default()
    };
    profile.display_name = Pii::new(secret.to_owned()).into();
    let mut ids = 0u128;
    let mut book = Vec::new();
    // An operator's reasons for a tier pin and a stage override are free text that can name
    // the person.
    let (pin_reason, override_reason) = (format!("{secret} pin"), format!("{secret} override"));
    let ops = Actor::new("ops-1").map_err(|e| e.to_string())?;
    for t in [TA, TB] {
        let mut c = Customer::new(t, CustomerId::from_u128(7), profile.clone(), t0());
        let pin = TierPin::new(
            Tier::Gold,
            ops.clone(),
            &pin_reason,
            t0() + Duration::days(90),
            t0(),
        )
        .map_err(|e| e.to_string())?;
        c.set_tier_state(TierState {
            pin: Some(pin),
            ..c.tier_state().clone()
        })
        .map_err(|e| e.to_string())?;
        let manual = c
            .lifecycle()
            .override_stage(
                Stage::Active,
                ops.clone(),
                &override_reason,
                t0() + Duration::days(10),
                t0(),
            )
            .map_err(|e| e.to_string())?;
        c.set_lifecycle(manual).map_err(|e| e.to_string())?;
        let other = Customer::new(t, CustomerId::from_u128(8), Profile::default(), t0());
        let order = Activity::new(
            ActivityId::from_u128(1),
            c.id(),
            t0(),
            Channel::Web,
            IdempotencyKey::new("order-1").map_err(|e| e.to_string())?,
            ActivityKind::Purchase {
                order_id: OrderId::new("o-1").map_err(|e| e.to_string())?,
                amount: Money::new(rust_decimal::Decimal::new(123_457, 2), Currency::USD),
                margin: None,
            },
        )
        .map_err(|e| e.to_string())?;
        let visit = Activity::new(
            ActivityId::from_u128(2),
            c.id(),
            t0() + Duration::hours(1),
            Channel::Web,
            IdempotencyKey::new("visit-1").map_err(|e| e.to_string())?,
            ActivityKind::Visit {
                item: Some(secret.to_owned()),
            },
        )
        .map_err(|e| e.to_string())?;
        let stats = Stats::from_activities([&order, &visit]).map_err(|e| e.to_string())?;
        let mut cs = Changeset::new();
        cs.create(c.clone(), stats.clone());
        cs.create(other.clone(), Stats::default());
        cs.activities = vec![order, visit];
        for (who, n) in [(c.id(), 1), (other.id(), 2)] {
            ids += 1;
            cs.outbox.push(OutboxMessage::new(
                MessageId::from_u128(ids),
                t,
                t0(),
                DomainEvent::ProfileUpdated { customer: who },
            ));
            let _ = n;
        }
        let mut e = entry(
            10,
            c.id(),
            Purpose::Marketing,
            ContactChannel::Email,
            ConsentState::Granted,
            t0(),
        )?;
        e.source = secret.to_owned();
        e.evidence = Some(secret.to_owned());
        cs.consents.push(e);
        s.apply(t, &cs).await.map_err(|e| e.to_string())?;
        book.push((t, c, stats));
    }
    let (t, c, stats) = book[0].clone();
    let read = load(s, t, c.id()).await?;
    let plan = plan_erasure(&read, stats.clone(), "ticket-1", "gdpr-art17", t0())
        .map_err(|e| e.to_string())?;
    s.apply(t, &plan.changeset)
        .await
        .map_err(|e| e.to_string())?;
    let back = s
        .load(t, c.id())
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the erased customer is gone")?;
    ensure!(
        back.customer.stage() == Stage::Erased && back.customer.profile == Profile::default(),
        "the erased customer is not an empty Erased tombstone"
    );
    let record_text = serde_json::to_string(&back.customer).map_err(|e| e.to_string())?;
    ensure!(
        !record_text.contains(secret),
        "the erased record keeps personal data (a pin's or an override's reason?): {record_text}"
    );
    ensure!(
        back.customer
            .tier_state()
            .pin
            .as_ref()
            .is_some_and(|p| p.tier == Tier::Gold && p.until == t0() + Duration::days(90)),
        "the erasure dropped the tier pin's tier or expiry"
    );
    ensure!(
        back.stats.revenue() == stats.revenue() && back.stats.orders() == 1,
        "erasure changed the anonymous aggregates"
    );
    let acts = s
        .activities(t, c.id(), TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        acts.len() == 2,
        "erasure removed activities ({} left)",
        acts.len()
    );
    let text = serde_json::to_string(&acts).map_err(|e| e.to_string())?;
    ensure!(
        !text.contains(secret),
        "an erased customer's activity keeps its free text"
    );
    ensure!(
        text.contains("1234.57"),
        "an erased customer's purchase lost its amount: {text}"
    );
    let entries = history(s, t, c.id()).await?;
    ensure!(
        entries.len() == 1
            && entries[0].source == ERASED_SOURCE
            && entries[0].evidence.is_none()
            && entries[0].state == ConsentState::Granted,
        "an erased customer's consent entry keeps its free text: {entries:?}"
    );
    let record = s.erasure(t, c.id()).await.map_err(|e| e.to_string())?;
    ensure!(
        record.as_ref() == Some(&plan.record),
        "the erasure record does not read back: {record:?}"
    );
    ensure!(
        s.erasure(TB, c.id())
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "tenant B sees tenant A's erasure record"
    );
    // Pending messages: the erased customer's are gone, the others stay, in both tenants.
    let claimed = s
        .claim_outbox(100, std::time::Duration::from_secs(60), t0())
        .await
        .map_err(|e| e.to_string())?;
    let mut left: Vec<(TenantId, CustomerId)> = claimed
        .iter()
        .map(|m| (m.tenant, m.event.customer()))
        .collect();
    left.sort();
    let (c7, c8) = (CustomerId::from_u128(7), CustomerId::from_u128(8));
    ensure!(
        left == vec![(TA, c8), (TB, c7), (TB, c8)],
        "pending messages after the erasure: {left:?}"
    );
    // A second record for the same customer: refused, nothing written.
    let mut again = Changeset::new();
    let mut next = back.customer.next_version();
    next.churn_alert = !next.churn_alert;
    again.customers.push(CustomerWrite::Update {
        expected_version: back.customer.version(),
        customer: Box::new(next),
        stats: Box::new(back.stats.clone()),
    });
    again.erasures.push(plan.record.clone());
    ensure!(
        s.apply(t, &again).await.is_err(),
        "a second erasure of a customer was accepted"
    );
    // Tenant B's customer 7 keeps everything.
    let b = load(s, TB, c7).await?;
    ensure!(
        b.profile == profile && b.is_live(),
        "erasing in tenant A touched tenant B"
    );
    ensure!(
        b.tier_state().pin.as_ref().map(|p| p.reason.as_str()) == Some(pin_reason.as_str())
            && b.lifecycle().manual.as_ref().map(|o| o.reason.as_str())
                == Some(override_reason.as_str()),
        "erasing in tenant A stripped tenant B's pin or override"
    );
    let b_acts = s
        .activities(TB, c7, TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        serde_json::to_string(&b_acts)
            .map_err(|e| e.to_string())?
            .contains(secret),
        "erasing in tenant A stripped tenant B's activities"
    );
    Ok(())
}

/// Crypto-shredding, for a store writing through the key store `keys` (field encryption on):
/// the raw bytes of the store (`raw`: its files, or a dump of its tables) never hold a
/// customer's name, email, phone, birth-date-free attributes or an activity's free text, while
/// loads, contact lookups and segment queries (push-down included, `email_domain` too) still
/// answer with the plaintext; an erasure deletes the customer's data key, after which nothing
/// personal reads back and the raw bytes still hold none of it, and `snapshot_reads` — a
/// reader over a copy of the store taken *before* the erasure (a backup), returning the
/// profile of customer 7 in tenant A it can open — finds nothing either. Tenant B keeps its
/// data and its key.
///
/// # Errors
/// A description of the first violation.
pub async fn crypto_shredding<S, R, B>(
    s: &S,
    keys: &dyn rapport_core::ports::KeyStore,
    raw: R,
    backup: B,
) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + Outbox,
    R: Fn() -> Vec<u8>,
    B: FnOnce() -> Box<dyn FnOnce() -> Result<Profile, String>>,
{
    use rapport_core::privacy::plan_erasure;
    let name = "Qiang Zhuoyue-Secret";
    let email = "qzs.unique.8c1e@example.com";
    let phone = "+8613812345678";
    let item = "item-secret-4d2b";
    let mut attributes = Attributes::new();
    attributes.insert(
        AttrKey::new("nickname").map_err(|e| e.to_string())?,
        AttrValue::Text("attr-secret-91aa".into()),
    );
    let cn: Region = "CN".parse().map_err(|e: DomainError| e.to_string())?;
    let profile = Profile {
        display_name: Some(Pii::new(name.to_owned())),
        email: Some(Pii::new(Email::parse(email).map_err(|e| e.to_string())?)),
        phone: Some(Pii::new(
            Phone::parse(phone, cn).map_err(|e| e.to_string())?,
        )),
        attributes: Pii::new(attributes),
        ..Profile::default()
    };
    let secrets = [
        name,
        "qzs.unique.8c1e",
        "13812345678",
        item,
        "attr-secret-91aa",
    ];
    let hits = |bytes: &[u8]| -> Vec<&str> {
        secrets
            .iter()
            .copied()
            .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
            .collect()
    };
    for t in [TA, TB] {
        let c = Customer::new(t, CustomerId::from_u128(7), profile.clone(), t0());
        let visit = Activity::new(
            ActivityId::from_u128(2),
            c.id(),
            t0(),
            Channel::Web,
            IdempotencyKey::new("visit-1").map_err(|e| e.to_string())?,
            ActivityKind::Visit {
                item: Some(item.to_owned()),
            },
        )
        .map_err(|e| e.to_string())?;
        let stats = Stats::from_activities([&visit]).map_err(|e| e.to_string())?;
        let mut cs = Changeset::new();
        cs.create(c, stats);
        cs.activities = vec![visit];
        s.apply(t, &cs).await.map_err(|e| e.to_string())?;
    }
    let found = hits(&raw());
    ensure!(
        found.is_empty(),
        "plaintext PII in the stored bytes: {found:?}"
    );
    let c7 = CustomerId::from_u128(7);
    let back = load(s, TA, c7).await?;
    ensure!(
        back.profile == profile,
        "a sealed profile does not read back"
    );
    let acts = s
        .activities(TA, c7, TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        matches!(&acts[..], [a] if a.kind == ActivityKind::Visit { item: Some(item.to_owned()) }),
        "a sealed activity does not read back: {acts:?}"
    );
    let key = ContactKey::Email(Email::parse(email).map_err(|e| e.to_string())?);
    ensure!(
        s.find_by_contact(TA, &key)
            .await
            .map_err(|e| e.to_string())?
            == vec![c7],
        "the blind index does not find the customer by email"
    );
    let key = ContactKey::Phone(Phone::parse(phone, cn).map_err(|e| e.to_string())?);
    ensure!(
        s.find_by_contact(TA, &key)
            .await
            .map_err(|e| e.to_string())?
            == vec![c7],
        "the blind index does not find the customer by phone"
    );
    for (text, expected) in [
        (r#"email_domain == "example.com""#, vec![c7]),
        (r#"email_domain == "example.org""#, vec![]),
        ("has_phone == true and stage == prospect", vec![c7]),
    ] {
        let seg = Segment::parse(text).map_err(|e| e.to_string())?;
        let got: Vec<CustomerId> = s
            .query(TA, &seg, t0(), Page::first(100))
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| r.customer.id())
            .collect();
        ensure!(got == expected, "segment {text} on sealed rows: {got:?}");
    }
    let reopen = backup();
    let read = load(s, TA, c7).await?;
    let stats = s
        .load(TA, c7)
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.stats)
        .unwrap_or_default();
    let plan =
        plan_erasure(&read, stats, "ticket-1", "gdpr-art17", t0()).map_err(|e| e.to_string())?;
    s.apply(TA, &plan.changeset)
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        keys.data_key(TA, c7).map_err(|e| e.to_string())?.is_none(),
        "the erased customer's data key is still in the key store"
    );
    ensure!(
        keys.data_key(TB, c7).map_err(|e| e.to_string())?.is_some(),
        "erasing in tenant A deleted tenant B's key"
    );
    let found = hits(&raw());
    ensure!(
        found.is_empty(),
        "plaintext PII in the stored bytes after erasure: {found:?}"
    );
    let after = load(s, TA, c7).await?;
    ensure!(
        after.profile == Profile::default() && after.stage() == Stage::Erased,
        "an erased customer reads back personal data"
    );
    let acts = s
        .activities(TA, c7, TimeRange::all())
        .await
        .map_err(|e| e.to_string())?;
    ensure!(
        !serde_json::to_string(&acts)
            .map_err(|e| e.to_string())?
            .contains(item),
        "an erased customer's activity reads back its free text"
    );
    let old = reopen()?;
    ensure!(
        old == Profile::default(),
        "a copy taken before the erasure still opens the erased profile"
    );
    ensure!(
        load(s, TB, c7).await?.profile == profile,
        "erasing in tenant A touched tenant B's sealed profile"
    );
    Ok(())
}

/// The service the merge-and-erasure contracts run through over `s`: the clock fixed 30 days
/// after [`t0`], ids counted from 1.
fn merge_service<S: Store>(s: &S) -> rapport::Service<&S> {
    use crate::support::{FixedClock, SequentialIds};
    rapport::Service::new(s)
        .with_clock(FixedClock::at(t0() + Duration::days(30)))
        .with_ids(SequentialIds::starting_at(1))
}

/// A profile with a display name (`{tag}-{who}-name`) and an email (`{tag}-{who}@example.com`).
fn person(tag: &str, who: &str) -> Result<Profile, String> {
    Ok(Profile {
        display_name: Some(Pii::new(format!("{tag}-{who}-name"))),
        email: Some(Pii::new(
            Email::parse(&format!("{tag}-{who}@example.com")).map_err(|e| e.to_string())?,
        )),
        ..Profile::default()
    })
}

/// Registers one [`person`] per name in `who` in tenant `t` and returns their ids in that
/// order.
async fn register_people<S: Store, const N: usize>(
    svc: &rapport::Service<&S>,
    t: TenantId,
    tag: &str,
    who: [&str; N],
) -> Result<[CustomerId; N], String> {
    let mut ids = [CustomerId::from_u128(0); N];
    for (id, who) in ids.iter_mut().zip(who) {
        *id = svc
            .register(t, person(tag, who)?)
            .await
            .map_err(|e| e.to_string())?
            .customer
            .id();
    }
    Ok(ids)
}

/// Erasure reaches what was merged into the person: with `B` merged into `A` and `A` into
/// `C` (a chain), and `D` merged into `C` then unmerged, erasing `B`'s id (followed to `C`)
/// leaves `C`, `A` and `B` empty `Erased` tombstones with an erasure record each and no trace
/// of the reasons an operator gave for their tier pins and stage overrides, every merge
/// record naming them without a trace of their names, emails, phones or those reasons (the
/// undone one included), the merges no longer undoable, and `D` live with its profile; erasing again
/// returns the stored records; tenant B's customer with the same name is untouched.
///
/// ```
/// use futures::executor::block_on;
/// let store = rapport_memory::MemoryStore::new();
/// assert_eq!(block_on(rapport_testkit::privacy::erasure_reaches_merged_records(&store)), Ok(()));
/// ```
pub async fn erasure_reaches_merged_records<S>(s: &S) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + rapport_core::ports::MergeStore + Outbox,
{
    let e = |e: rapport::Error| e.to_string();
    let svc = merge_service(s);
    let [a, b, c, d] = register_people(&svc, TA, "zq", ["a", "b", "c", "d"]).await?;
    let [other] = register_people(&svc, TB, "zq", ["a"]).await?;
    let actor = Actor::new("kit").map_err(|e| e.to_string())?;
    // Operators' reasons naming the person, on pins and overrides (kept in the merge
    // records' before-states).
    let until = t0() + Duration::days(60);
    for (id, who) in [(a, "a"), (b, "b"), (c, "c")] {
        svc.pin_tier(
            TA,
            id,
            Tier::Gold,
            actor.clone(),
            &format!("zq-{who} pin"),
            until,
        )
        .await
        .map_err(e)?;
        svc.override_stage(
            TA,
            id,
            Stage::Active,
            actor.clone(),
            &format!("zq-{who} why"),
            until,
        )
        .await
        .map_err(e)?;
    }
    let m1 = svc
        .merge(TA, rapport::MergeRequest::new(a, b, actor.clone()))
        .await
        .map_err(e)?;
    let m2 = svc
        .merge(TA, rapport::MergeRequest::new(c, a, actor.clone()))
        .await
        .map_err(e)?;
    let m3 = svc
        .merge(TA, rapport::MergeRequest::new(c, d, actor))
        .await
        .map_err(e)?;
    svc.unmerge(TA, m3.record.id).await.map_err(e)?;

    let record = svc
        .erase(TA, b, "ticket-9", "gdpr-art17")
        .await
        .map_err(e)?;
    ensure!(
        record.customer == c,
        "the erasure of a merged id did not reach the survivor at the end of the chain"
    );
    for id in [c, a, b] {
        let r = s
            .load(TA, id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("an erased customer is gone")?;
        ensure!(
            r.customer.stage() == Stage::Erased && r.customer.profile == Profile::default(),
            "customer {id} is {:?} with a profile after the erasure",
            r.customer.stage()
        );
        ensure!(
            !serde_json::to_string(&r.customer)
                .map_err(|e| e.to_string())?
                .contains("zq-"),
            "customer {id} keeps personal data after the erasure (a pin's reason?)"
        );
        ensure!(
            s.erasure(TA, id)
                .await
                .map_err(|e| e.to_string())?
                .is_some(),
            "customer {id} has no erasure record"
        );
    }
    let mut records = Vec::new();
    for id in [a, b, c, d] {
        records.extend(s.merges_of(TA, id).await.map_err(|e| e.to_string())?);
    }
    ensure!(
        [m1.record.id, m2.record.id, m3.record.id]
            .iter()
            .all(|m| records.iter().any(|r| r.id == *m)),
        "a merge record is gone after the erasure"
    );
    let text = serde_json::to_string(&records).map_err(|e| e.to_string())?;
    for who in ["a", "b", "c", "d"] {
        ensure!(
            !text.contains(&format!("zq-{who}")),
            "a merge record keeps the erased person's data ({who})"
        );
    }
    ensure!(
        matches!(
            svc.unmerge(TA, m2.record.id).await,
            Err(rapport::Error::Domain(DomainError::CannotUnmerge { .. }))
        ),
        "an erased person's merge could be undone"
    );
    let d_now = svc.customer(TA, d).await.map_err(e)?.customer;
    ensure!(
        d_now.is_live() && d_now.profile == person("zq", "d")?,
        "the erasure touched a customer unmerged from the person"
    );
    // Idempotent: the tombstone's own record, written with the person's.
    let again = svc.erase(TA, a, "ticket-10", "again").await.map_err(e)?;
    ensure!(
        again.customer == a
            && (again.erased_at, &again.requester, &again.reason)
                == (record.erased_at, &record.requester, &record.reason),
        "erasing a merged-in id again did not return its stored record: {again:?}"
    );
    ensure!(
        svc.erase(TA, c, "ticket-10", "again").await.map_err(e)? == record,
        "erasing again did not return the stored record"
    );
    let b_side = svc.customer(TB, other).await.map_err(e)?.customer;
    ensure!(
        b_side.is_live() && b_side.profile == person("zq", "a")?,
        "erasing in tenant A touched tenant B"
    );
    Ok(())
}

/// Sealed consent entries, for a store writing through the key store `keys` (field
/// encryption on): the sources and evidence references of consent entries — and of the
/// customer's consent snapshot and the merge records — never appear in the store's raw bytes
/// (`raw`: its files, or a dump of its tables), yet read back whole through
/// `ConsentStore::consents` and `load`; when `B` is merged into `A` its entries move to `A`
/// sealed again under `A`'s key, so they stay readable on `A` after `B`'s key is deleted (what
/// an erasure of `B` does to the bytes sealed under it); erasing `A` deletes `A`'s and `B`'s
/// keys and leaves every entry stripped (`ConsentEntry::stripped`), with still nothing in the
/// raw bytes. Tenant B's entries with the same references keep them.
///
/// # Errors
/// A description of the first violation.
pub async fn sealed_consents<S, R>(
    s: &S,
    keys: &dyn rapport_core::ports::KeyStore,
    raw: R,
) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + rapport_core::ports::MergeStore + Outbox,
    R: Fn() -> Vec<u8>,
{
    use rapport_core::privacy::ERASED_SOURCE;
    let e = |e: rapport::Error| e.to_string();
    let svc = merge_service(s);
    let secrets = [
        "src-a-7f3e-clerk",
        "evi-a-7f3e-scan",
        "src-b-2c9d-clerk",
        "evi-b-2c9d-scan",
    ];
    let hits = |bytes: &[u8]| -> Vec<&str> {
        secrets
            .iter()
            .copied()
            .filter(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
            .collect()
    };
    let request = |channel, source: &str, evidence: &str| {
        let mut r = rapport::ConsentRequest::new(Purpose::Marketing, channel, source);
        r.evidence = Some(evidence.to_owned());
        r
    };
    let mut ids = Vec::new();
    for t in [TA, TB] {
        for (who, channel, [source, evidence]) in [
            ("a", ContactChannel::Email, [secrets[0], secrets[1]]),
            ("b", ContactChannel::Sms, [secrets[2], secrets[3]]),
        ] {
            let id = svc
                .register(t, person("sc", who)?)
                .await
                .map_err(e)?
                .customer
                .id();
            svc.grant(t, id, request(channel, source, evidence))
                .await
                .map_err(e)?;
            ids.push(id);
        }
    }
    let [a, b, other_a, _] = ids[..] else {
        return Err("setup: four customers".into());
    };
    let found = hits(&raw());
    ensure!(
        found.is_empty(),
        "consent references in the stored bytes: {found:?}"
    );
    let ledger = history(s, TA, a).await?;
    ensure!(
        matches!(&ledger[..], [x] if x.source == secrets[0] && x.evidence.as_deref() == Some(secrets[1])),
        "a sealed consent entry does not read back: {ledger:?}"
    );
    let snapshot = load(s, TA, a).await?;
    ensure!(
        snapshot
            .consents
            .get(Purpose::Marketing, ContactChannel::Email)
            .is_some_and(|c| c.granted && c.source == secrets[0]),
        "the sealed consent snapshot does not read back: {:?}",
        snapshot.consents
    );

    let actor = Actor::new("kit").map_err(|e| e.to_string())?;
    svc.merge(TA, rapport::MergeRequest::new(a, b, actor))
        .await
        .map_err(e)?;
    let found = hits(&raw());
    ensure!(
        found.is_empty(),
        "consent references in the stored bytes after a merge: {found:?}"
    );
    // The loser's key goes, as its erasure would take it: the moved entry was sealed again
    // under the survivor's key, so it still reads whole.
    keys.delete_data_key(TA, b).map_err(|e| e.to_string())?;
    let ledger = history(s, TA, a).await?;
    let whole = |source: &str, evidence: &str| {
        ledger.iter().any(|x| {
            x.customer == a && x.source == source && x.evidence.as_deref() == Some(evidence)
        })
    };
    ensure!(
        ledger.len() == 2 && whole(secrets[0], secrets[1]) && whole(secrets[2], secrets[3]),
        "the survivor's ledger after the merge and the loser's key deletion: {ledger:?}"
    );
    let snapshot = load(s, TA, a).await?;
    ensure!(
        snapshot
            .consents
            .get(Purpose::Marketing, ContactChannel::Email)
            .is_some_and(|c| c.granted && c.source == secrets[0]),
        "the survivor's sealed snapshot after the merge: {:?}",
        snapshot.consents
    );

    svc.erase(TA, a, "ticket-3", "gdpr-art17")
        .await
        .map_err(e)?;
    for id in [a, b] {
        ensure!(
            keys.data_key(TA, id).map_err(|e| e.to_string())?.is_none(),
            "customer {id}'s data key survived the erasure"
        );
    }
    let ledger = history(s, TA, a).await?;
    ensure!(
        ledger.len() == 2
            && ledger
                .iter()
                .all(|x| x.source == ERASED_SOURCE && x.evidence.is_none()),
        "an erased customer's entries read back their references: {ledger:?}"
    );
    let found = hits(&raw());
    ensure!(
        found.is_empty(),
        "consent references in the stored bytes after the erasure: {found:?}"
    );
    let ledger = history(s, TB, other_a).await?;
    ensure!(
        matches!(&ledger[..], [x] if x.source == secrets[0] && x.evidence.as_deref() == Some(secrets[1])),
        "erasing in tenant A touched tenant B's entries: {ledger:?}"
    );
    Ok(())
}

/// A key store that fails its next `n` key deletions ([`FlakyKeys::fail_deletions`]) and
/// otherwise does what the key store it wraps does: for the contract
/// [`owed_key_deletion`].
///
/// ```
/// use std::sync::Arc;
/// use rapport_core::ports::KeyStore;
/// use rapport_core::{CustomerId, TenantId};
/// use rapport_testkit::privacy::FlakyKeys;
/// # #[derive(Debug, Default)]
/// # struct Keys;
/// # impl KeyStore for Keys {
/// #   fn index_key(&self, _: TenantId) -> Result<rapport_core::privacy::crypto::IndexKey, rapport_core::StoreError> { Ok(rapport_core::privacy::crypto::IndexKey::from_bytes([1; 32])) }
/// #   fn data_key(&self, _: TenantId, _: CustomerId) -> Result<Option<rapport_core::privacy::crypto::DataKey>, rapport_core::StoreError> { Ok(None) }
/// #   fn create_data_key(&self, _: TenantId, _: CustomerId) -> Result<rapport_core::privacy::crypto::DataKey, rapport_core::StoreError> { Ok(rapport_core::privacy::crypto::DataKey::from_bytes([2; 32])) }
/// #   fn delete_data_key(&self, _: TenantId, _: CustomerId) -> Result<bool, rapport_core::StoreError> { Ok(true) }
/// #   fn nonce(&self) -> [u8; 24] { [0; 24] }
/// # }
/// let keys = FlakyKeys::new(Arc::new(Keys));
/// let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
/// keys.fail_deletions(1);
/// assert!(keys.delete_data_keys(t, &[c]).is_err());
/// assert!(keys.delete_data_keys(t, &[c]).is_ok());
/// ```
#[derive(Debug)]
pub struct FlakyKeys {
    inner: std::sync::Arc<dyn rapport_core::ports::KeyStore>,
    fails: std::sync::atomic::AtomicUsize,
    calls: std::sync::atomic::AtomicUsize,
}

impl FlakyKeys {
    /// Wraps `inner`, failing nothing yet.
    #[must_use]
    pub fn new(inner: std::sync::Arc<dyn rapport_core::ports::KeyStore>) -> Self {
        Self {
            inner,
            fails: std::sync::atomic::AtomicUsize::new(0),
            calls: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many deletion calls (`delete_data_key` or `delete_data_keys`, failed ones
    /// included) this key store has seen.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rapport_core::ports::KeyStore;
    /// use rapport_core::{CustomerId, TenantId};
    /// use rapport_testkit::privacy::FlakyKeys;
    /// let keys = FlakyKeys::new(Arc::new(rapport_keys::MemoryKeyStore::new()));
    /// keys.delete_data_keys(TenantId::from_u128(1), &[CustomerId::from_u128(2)])?;
    /// assert_eq!(keys.deletion_calls(), 1);
    /// # Ok::<(), rapport_core::StoreError>(())
    /// ```
    #[must_use]
    pub fn deletion_calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Fails the next `n` deletion calls (`delete_data_key` or `delete_data_keys`, each call
    /// one), deleting nothing in them.
    pub fn fail_deletions(&self, n: usize) {
        self.fails.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn failing(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        match self
            .fails
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        {
            Ok(_) => Err(StoreError::Unavailable {
                reason: "key store: injected deletion failure".into(),
            }),
            Err(_) => Ok(()),
        }
    }
}

impl rapport_core::ports::KeyStore for FlakyKeys {
    fn index_key(&self, t: TenantId) -> Result<privacy::crypto::IndexKey, StoreError> {
        self.inner.index_key(t)
    }
    fn data_key(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Option<privacy::crypto::DataKey>, StoreError> {
        self.inner.data_key(t, c)
    }
    fn create_data_key(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<privacy::crypto::DataKey, StoreError> {
        self.inner.create_data_key(t, c)
    }
    fn delete_data_key(&self, t: TenantId, c: CustomerId) -> Result<bool, StoreError> {
        self.failing()?;
        self.inner.delete_data_key(t, c)
    }
    fn delete_data_keys(&self, t: TenantId, cs: &[CustomerId]) -> Result<(), StoreError> {
        self.failing()?;
        self.inner.delete_data_keys(t, cs)
    }
    fn nonce(&self) -> [u8; privacy::crypto::NONCE_LEN] {
        self.inner.nonce()
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }
}

/// A key deletion that fails after the erasure's commit is owed, never dropped: for a store
/// encrypting through `keys`, with a customer `b` merged into `a`, an erasure of `a` whose
/// key deletion fails is answered `StoreError::Unavailable` ("… erase again …") while `a`
/// and `b` are `Erased` and both keys are still there; erasing again while the key store
/// still fails fails the same way; erasing again once it works returns the erasure record and
/// both keys are gone — the merged tombstone's with the survivor's. A customer `c` (with `d`
/// merged into it) erased meanwhile with a working key store is answered done at once, and
/// its key and `d`'s are gone.
///
/// # Errors
/// A description of the first violation.
pub async fn owed_key_deletion<S>(s: &S, keys: &FlakyKeys) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + rapport_core::ports::MergeStore + Outbox,
{
    use rapport_core::ports::KeyStore;
    let e = |e: rapport::Error| e.to_string();
    let svc = merge_service(s);
    let [a, b, c, d] = register_people(&svc, TA, "ok", ["a", "b", "c", "d"]).await?;
    let actor = Actor::new("kit").map_err(|e| e.to_string())?;
    for (survivor, loser) in [(a, b), (c, d)] {
        svc.merge(
            TA,
            rapport::MergeRequest::new(survivor, loser, actor.clone()),
        )
        .await
        .map_err(e)?;
    }
    let has_key = |id| keys.data_key(TA, id).map(|k| k.is_some()).ok();
    ensure!(
        has_key(a) == Some(true) && has_key(b) == Some(true),
        "setup: the customers have no data keys (is encryption on?)"
    );
    let undone = |r: &Result<privacy::ErasureRecord, rapport::Error>| match r {
        Err(rapport::Error::Store(StoreError::Unavailable { reason })) => {
            reason.contains("erase again") && reason.contains("data key")
        }
        _ => false,
    };

    keys.fail_deletions(2);
    let first = svc.erase(TA, a, "ticket-5", "gdpr-art17").await;
    ensure!(
        undone(&first),
        "an erasure whose key deletion failed was answered {first:?}"
    );
    for id in [a, b] {
        ensure!(
            load(s, TA, id).await?.stage() == Stage::Erased,
            "customer {id} is not erased after the committed erasure"
        );
        ensure!(
            has_key(id) == Some(true),
            "setup: the failed deletion deleted customer {id}'s key"
        );
    }
    let again = svc.erase(TA, a, "ticket-6", "again").await;
    ensure!(
        undone(&again),
        "erasing again while the key store still fails was answered {again:?}"
    );
    // A working key store meanwhile: another customer's erasure is done at once, and deletes
    // the key of the tombstone merged into it with its own.
    svc.erase(TA, c, "ticket-7", "gdpr-art17")
        .await
        .map_err(e)?;
    for id in [c, d] {
        ensure!(
            has_key(id) == Some(false),
            "customer {id}'s key survived the erasure of c (d merged into c)"
        );
    }
    let record = svc.erase(TA, a, "ticket-8", "again").await.map_err(e)?;
    ensure!(
        record.customer == a && record.requester == "ticket-5",
        "erasing again did not return the stored record: {record:?}"
    );
    for id in [a, b] {
        ensure!(
            has_key(id) == Some(false),
            "customer {id}'s data key survived the retried erasure"
        );
    }
    ensure!(
        svc.erase(TA, b, "ticket-9", "again").await.is_ok(),
        "erasing the merged tombstone again failed"
    );
    Ok(())
}

/// An owed key deletion survives a restart of the process: for a store encrypting through
/// `keys`, with `b` merged into `a`, an erasure of `a` whose key deletion fails is answered
/// `StoreError::Unavailable` with both keys left; `reopen` then drops the store (and what it
/// owes in memory) and opens a new one on the same database with a working key store (the
/// one it returns, wrapping the same keys). Asking that store for the erasure of a customer
/// never erased answers none without a call to the key store; erasing `a` again returns the
/// stored record and both keys are gone — the merged tombstone's with the survivor's —
/// as they are after erasing `b` again; a customer of tenant B keeps its key.
///
/// # Errors
/// A description of the first violation.
pub async fn owed_key_deletion_survives_a_restart<S, R, Fut>(
    first: S,
    keys: &FlakyKeys,
    reopen: R,
) -> Outcome
where
    S: ConsentStore + rapport_core::ports::ErasureStore + rapport_core::ports::MergeStore + Outbox,
    R: FnOnce(S) -> Fut,
    Fut: std::future::Future<Output = Result<(S, std::sync::Arc<FlakyKeys>), String>>,
{
    use crate::support::{FixedClock, SequentialIds};
    use rapport_core::ports::KeyStore;
    let e = |e: rapport::Error| e.to_string();
    let person = |who: &str| -> Result<Profile, String> {
        Ok(Profile {
            display_name: Some(Pii::new(format!("rs-{who}-name"))),
            email: Some(Pii::new(
                Email::parse(&format!("rs-{who}@example.com")).map_err(|e| e.to_string())?,
            )),
            ..Profile::default()
        })
    };
    let (a, b, c, other) = {
        let svc = rapport::Service::new(&first)
            .with_clock(FixedClock::at(t0() + Duration::days(30)))
            .with_ids(SequentialIds::starting_at(1));
        let mut ids = Vec::new();
        for who in ["a", "b", "c"] {
            ids.push(
                svc.register(TA, person(who)?)
                    .await
                    .map_err(e)?
                    .customer
                    .id(),
            );
        }
        let other = svc
            .register(TB, person("a")?)
            .await
            .map_err(e)?
            .customer
            .id();
        let [a, b, c] = ids[..] else {
            return Err("setup: three customers".into());
        };
        let actor = Actor::new("kit").map_err(|e| e.to_string())?;
        svc.merge(TA, rapport::MergeRequest::new(a, b, actor))
            .await
            .map_err(e)?;
        ensure!(
            [a, b]
                .iter()
                .all(|id| keys.data_key(TA, *id).is_ok_and(|k| k.is_some())),
            "setup: the customers have no data keys (is encryption on?)"
        );
        keys.fail_deletions(1);
        let first_try = svc.erase(TA, a, "ticket-5", "gdpr-art17").await;
        ensure!(
            matches!(
                &first_try,
                Err(rapport::Error::Store(StoreError::Unavailable { .. }))
            ),
            "an erasure whose key deletion failed was answered {first_try:?}"
        );
        (a, b, c, other)
    };
    // The process stops before anyone erases again: what the store owed in memory is gone.
    let (second, keys) = reopen(first).await?;
    let has_key = |t, id| keys.data_key(t, id).map(|k| k.is_some()).ok();
    for id in [a, b] {
        ensure!(
            has_key(TA, id) == Some(true),
            "setup: the failed deletion deleted customer {id}'s key"
        );
        ensure!(
            load(&second, TA, id).await?.stage() == Stage::Erased,
            "customer {id} is not erased after the committed erasure"
        );
    }
    let calls = keys.deletion_calls();
    ensure!(
        second
            .erasure(TA, c)
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "a customer never erased has an erasure record"
    );
    ensure!(
        keys.deletion_calls() == calls,
        "asking for the erasure of a customer never erased called the key store"
    );
    let svc = rapport::Service::new(&second)
        .with_clock(FixedClock::at(t0() + Duration::days(31)))
        .with_ids(SequentialIds::starting_at(1_000));
    let record = svc.erase(TA, a, "ticket-6", "again").await.map_err(e)?;
    ensure!(
        record.customer == a && record.requester == "ticket-5",
        "erasing again after the restart did not return the stored record: {record:?}"
    );
    for id in [a, b] {
        ensure!(
            has_key(TA, id) == Some(false),
            "customer {id}'s data key survived erasing again after a restart"
        );
    }
    ensure!(
        svc.erase(TA, b, "ticket-7", "again").await.is_ok(),
        "erasing the merged tombstone again failed"
    );
    ensure!(
        has_key(TA, c) == Some(true) && has_key(TB, other) == Some(true),
        "erasing again deleted the key of a customer not erased"
    );
    Ok(())
}

//! The short embedding path: builder methods on both services, `ManualClock`, `evaluate_at`,
//! `sweep_with_decisions`, `find_pages` and the `NewActivity` constructors.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::StreamExt;
use futures::executor::block_on;
use rapport::core::*;
use rapport::{Clock, Error, IdSource, ManualClock, NewActivity, Service, blocking};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;
use support::{Hooked, Hooks, conflict_on};

const SHOP: TenantId = TenantId::from_u128(3);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

struct SequentialIds(AtomicU64);

impl IdSource for SequentialIds {
    fn next(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(self.0.fetch_add(1, Ordering::SeqCst).into())
    }
}

/// Hooks that can refuse the next `apply`s with a conflict and fail queries, to drive the
/// sweep's redo path and the page stream's error path.
#[derive(Default)]
struct Faulty {
    conflicts: AtomicU32,
    fail_query_at: Mutex<Option<usize>>,
    queries: AtomicU32,
}

impl Hooks for Faulty {
    async fn query(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        let n = self.queries.fetch_add(1, Ordering::SeqCst) as usize;
        if *self.fail_query_at.lock().unwrap() == Some(n) {
            return Err(StoreError::unavailable("query refused"));
        }
        inner.query(t, segment, now, page).await
    }
    async fn apply(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        cs: &Changeset,
    ) -> Result<Applied, StoreError> {
        let refuse = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err(conflict_on(cs));
        }
        inner.apply(t, cs).await
    }
}

/// A notifier without `Debug`, counting deliveries.
#[derive(Default)]
struct Counting(AtomicU32);

impl Notifier for Counting {
    async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn manual_clock_is_shared_send_sync_and_saturates() {
    fn send_sync<T: Send + Sync + 'static>(_: &T) {}
    let c = ManualClock::at(t0());
    send_sync(&c);
    let other = c.clone();
    c.advance(Duration::hours(36));
    assert_eq!(other.now(), t0() + Duration::hours(36));
    other.set(t0() - Duration::days(1));
    assert_eq!(c.now(), t0() - Duration::days(1));
    // Set from another thread, read here.
    let remote = c.clone();
    std::thread::spawn(move || remote.set(t0())).join().unwrap();
    assert_eq!(c.now(), t0());
    // Microsecond precision.
    c.advance(Duration::nanoseconds(1_500));
    assert_eq!((c.now() - t0()).num_microseconds(), Some(1));
    // Far out of range saturates instead of wrapping or panicking.
    c.advance(Duration::MAX);
    assert_eq!(c.now(), DateTime::<Utc>::MAX_UTC);
    c.set(t0());
    c.advance(Duration::MIN);
    assert_eq!(c.now(), DateTime::<Utc>::MIN_UTC);
}

#[test]
fn blocking_service_builders_match_the_async_ones() {
    let clock = ManualClock::at(t0());
    let mut policies = Policies::default();
    policies.tier.grace_days = 0;
    policies.tier.hysteresis = Decimal::ZERO;
    let svc = blocking::Service::new(MemoryStore::new())
        .with_policies(policies.clone())
        .unwrap()
        .with_clock(clock.clone())
        .with_ids(SequentialIds(AtomicU64::new(500)))
        .with_max_attempts(2)
        .with_notifier(Counting::default());
    assert_eq!(svc.policies(), &policies);
    assert_eq!(svc.now(), t0());
    let ann = svc.register(SHOP, Profile::default()).unwrap().customer;
    assert_eq!(ann.id(), CustomerId::from_u128(500));
    assert_eq!(ann.created_at(), t0());
    let rec = svc
        .record(
            SHOP,
            NewActivity::purchase(ann.id(), "1", usd("2500"), t0()).unwrap(),
        )
        .unwrap();
    assert_eq!(rec.customer.tier(), Tier::Gold);
    // The policies are the ones given: no grace, so a year and a day later gold is gone at once.
    clock.advance(Duration::days(366));
    let e = svc.evaluate(SHOP, ann.id()).unwrap();
    assert!(e.tier.to < Tier::Gold, "{:?}", e.tier);
    // The notifier is the one given (and needs no Debug).
    let r = svc
        .relay_once(&rapport::RelayConfig::default(), svc.now())
        .unwrap();
    assert_eq!(
        r.delivered,
        svc.notifier().0.load(Ordering::SeqCst) as usize
    );
    assert!(r.delivered >= 3); // registered, activity recorded, tier changed, …
    assert!(format!("{svc:?}").starts_with("Service(Service { store: "));
    // Invalid policies are refused as on the async service.
    let mut bad = Policies::default();
    bad.lifecycle.churn_factor = -1.0;
    assert!(matches!(
        blocking::Service::new(MemoryStore::new()).with_policies(bad),
        Err(Error::Domain(DomainError::InvalidPolicy { .. }))
    ));
    let store = svc.into_store();
    assert_eq!(store.pending_outbox().unwrap(), 0);
}

#[test]
fn evaluate_at_decides_as_the_sweep_at_the_same_now_and_stamps_events_then() {
    let clock = ManualClock::at(t0());
    let a = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let b = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let mut ids = Vec::new();
    for svc in [&a, &b] {
        let id = block_on(svc.register(SHOP, Profile::default()))
            .unwrap()
            .customer
            .id();
        for (order, days) in [("1", 0), ("2", 10), ("3", 25)] {
            let p = NewActivity::purchase(id, order, usd("80"), t0() + Duration::days(days));
            block_on(svc.record(SHOP, p.unwrap())).unwrap();
        }
        ids.push(id);
    }
    let later = t0() + Duration::days(200);
    // The clock stays at t0: evaluate_at does not read it.
    let e = block_on(a.evaluate_at(SHOP, ids[0], later)).unwrap();
    let mut swept = Vec::new();
    block_on(b.sweep_with_decisions(SHOP, later, 10, |c, e| swept.push((c.clone(), e.clone()))))
        .unwrap();
    assert_eq!(swept.len(), 1);
    let (stored_b, e_b) = &swept[0];
    assert_eq!(e.stage.to, e_b.stage.to);
    assert_eq!(e.tier.to, e_b.tier.to);
    assert_eq!(e.stage.reason, e_b.stage.reason);
    assert_ne!(e.stage.to, Stage::Active); // 175 days without a purchase
    let stored_a = block_on(a.customer(SHOP, ids[0])).unwrap().customer;
    assert_eq!(stored_a.stage(), stored_b.stage());
    assert_eq!(stored_a.stage(), e.stage.to);
    // Its events are in the outbox, stamped `later`, not the clock's now.
    let msgs = block_on(
        a.store()
            .claim_outbox(100, std::time::Duration::from_secs(1), later),
    )
    .unwrap();
    let stage_msgs: Vec<_> = msgs
        .iter()
        .filter(|m| matches!(m.event, DomainEvent::StageChanged { .. }))
        .collect();
    assert!(!stage_msgs.is_empty());
    assert!(stage_msgs.iter().any(|m| m.occurred_at == later));
    assert_eq!(clock.now(), t0());
    // Missing customers are typed.
    assert!(matches!(
        block_on(a.evaluate_at(SHOP, CustomerId::from_u128(9), later)),
        Err(Error::NotFound(_))
    ));
}

/// 25 registered customers, of whom the 1st, 9th, 17th and 25th bought once at `t0`; their
/// ids, sorted.
fn populated<S: Store>(svc: &Service<S>) -> Vec<CustomerId> {
    let mut ids = Vec::new();
    for i in 0..25 {
        let id = block_on(svc.register(SHOP, Profile::default()))
            .unwrap()
            .customer
            .id();
        if i % 8 == 0 {
            let p = NewActivity::purchase(id, format!("o{i}"), usd("10"), t0()).unwrap();
            block_on(svc.record(SHOP, p)).unwrap();
        }
        ids.push(id);
    }
    ids.sort();
    ids
}

#[test]
fn sweep_with_decisions_reports_every_live_customer_in_id_order_as_stored() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let ids = populated(&svc);
    let later = t0() + Duration::days(400);
    let mut seen = Vec::new();
    let mut progress_calls = 0;
    let plain = Service::new(MemoryStore::new()).with_clock(clock.clone());
    populated(&plain);
    let done = block_on(svc.sweep_with_decisions(SHOP, later, 7, |c, e| {
        seen.push((c.clone(), e.clone()));
    }))
    .unwrap();
    let plain_done = block_on(plain.sweep(SHOP, later, 7, |_| progress_calls += 1)).unwrap();
    // Same counts as the plain sweep.
    assert_eq!(done, plain_done);
    assert_eq!((done.evaluated, done.total), (25, 25));
    assert_eq!(done.changed, 4); // ids 0, 8, 16, 24 bought: all churned since
    assert_eq!(progress_calls, 4); // batches of 7: 7, 14, 21, 25
    let seen_ids: Vec<_> = seen.iter().map(|(c, _)| c.id()).collect();
    assert_eq!(seen_ids, ids);
    for (c, e) in &seen {
        let stored = block_on(svc.customer(SHOP, c.id())).unwrap().customer;
        assert_eq!(&stored, c, "reported as stored");
        assert_eq!(stored.stage(), e.stage.to);
        assert_eq!(stored.tier(), e.tier.to);
    }
    let churned = seen
        .iter()
        .filter(|(_, e)| e.stage.to == Stage::Churned)
        .count();
    assert_eq!(churned, 4);
}

#[test]
fn sweep_with_decisions_after_a_conflict_reports_the_redone_decisions_once() {
    let clock = ManualClock::at(t0());
    let svc = Service::new(Hooked::<Faulty>::default()).with_clock(clock.clone());
    let ids = populated(&svc);
    // The first batch's changeset is refused once: its changed customers are redone one by one.
    svc.store().conflicts.store(1, Ordering::SeqCst);
    let later = t0() + Duration::days(400);
    let mut seen = Vec::new();
    let done = block_on(svc.sweep_with_decisions(SHOP, later, 10, |c, e| {
        seen.push((c.clone(), e.stage.to));
    }))
    .unwrap();
    assert_eq!(
        svc.store().conflicts.load(Ordering::SeqCst),
        0,
        "refused once"
    );
    assert_eq!((done.evaluated, done.changed), (25, 4));
    assert_eq!(seen.iter().map(|(c, _)| c.id()).collect::<Vec<_>>(), ids);
    for (c, stage) in &seen {
        let stored = block_on(svc.customer(SHOP, c.id())).unwrap().customer;
        assert_eq!(&stored, c);
        assert_eq!(stored.stage(), *stage);
    }
    assert_eq!(seen.iter().filter(|(_, s)| *s == Stage::Churned).count(), 4);
}

#[test]
fn find_pages_streams_a_tenant_larger_than_a_page() {
    let svc = Service::new(Hooked::<Faulty>::default()).with_clock(ManualClock::at(t0()));
    let ids = populated(&svc);
    let everyone = Segment::parse("stage != merged").unwrap();
    let pages: Vec<Vec<Record>> = block_on(svc.find_pages(SHOP, &everyone, 10).collect::<Vec<_>>())
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let streamed: Vec<_> = pages.iter().flatten().map(|r| r.customer.id()).collect();
    assert_eq!(streamed, ids);
    assert_eq!(svc.store().queries.load(Ordering::SeqCst), 3);
    // `find` collects the same.
    let all: Vec<_> = block_on(svc.find(SHOP, &everyone))
        .unwrap()
        .into_iter()
        .map(|r| r.customer.id())
        .collect();
    assert_eq!(all, ids);
    // An exact multiple ends on the empty query, yielding no empty page.
    let buyers = Segment::parse("orders >= 1").unwrap();
    let sizes: Vec<usize> = block_on(svc.find_pages(SHOP, &buyers, 2).collect::<Vec<_>>())
        .into_iter()
        .map(|p| p.unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2]);
    // Nothing matches: no page. Page size 0 is raised to 1.
    let nobody = Segment::parse("orders >= 100").unwrap();
    assert_eq!(block_on(svc.find_pages(SHOP, &nobody, 0).count()), 0);
    let ones = block_on(svc.find_pages(SHOP, &buyers, 0).collect::<Vec<_>>());
    assert_eq!(ones.len(), 4);
    // The blocking face iterates the same pages.
    let b = blocking::Service::from_async(svc);
    let sizes: Vec<usize> = b
        .find_pages(SHOP, &everyone, 10)
        .map(|p| p.unwrap().len())
        .collect();
    assert_eq!(sizes, [10, 10, 5]);
}

#[test]
fn find_pages_ends_after_an_error() {
    let svc = Service::new(Hooked::<Faulty>::default()).with_clock(ManualClock::at(t0()));
    populated(&svc);
    let everyone = Segment::parse("stage != merged").unwrap();
    // The second query fails: one page, the error, then nothing.
    let base = svc.store().queries.load(Ordering::SeqCst) as usize;
    *svc.store().fail_query_at.lock().unwrap() = Some(base + 1);
    let items = block_on(svc.find_pages(SHOP, &everyone, 10).collect::<Vec<_>>());
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().map(Vec::len).ok(), Some(10));
    assert!(matches!(
        &items[1],
        Err(Error::Store(StoreError::Unavailable { reason })) if reason == "query refused"
    ));
    *svc.store().fail_query_at.lock().unwrap() = Some(base + 2);
    assert!(block_on(svc.find(SHOP, &everyone)).is_err());
}

#[test]
fn activity_constructors_record_what_the_literals_did() {
    let svc = blocking::Service::new(MemoryStore::new()).with_clock(ManualClock::at(t0()));
    let ann = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    let bob = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    let day = |d: i64| t0() - Duration::days(d);
    let acts = [
        NewActivity::purchase(ann, "A-1", usd("120.50"), day(30))
            .unwrap()
            .with_margin(Decimal::new(3000, 2))
            .via(Channel::Store),
        NewActivity::purchase(ann, "A-2", usd("79.50"), day(10)).unwrap(),
        NewActivity::refund(ann, "A-2", usd("79.50"), day(8))
            .unwrap()
            .in_full(),
        NewActivity::visit(ann, day(5)).unwrap().of_item("sku-1"),
        NewActivity::cart_abandoned(ann, Some(usd("15")), day(4)).unwrap(),
        NewActivity::complaint(ann, Severity::Low, day(3)).unwrap(),
        NewActivity::feedback(ann, Feedback::Nps(Nps::new(9).unwrap()), day(2)).unwrap(),
        NewActivity::referral(ann, bob, day(1)).unwrap(),
        NewActivity::contact(ann, day(1))
            .unwrap()
            .via(Channel::Phone),
    ];
    for a in &acts {
        assert!(!svc.record(SHOP, a.clone()).unwrap().duplicate, "{a:?}");
    }
    // Every one again: all duplicates (the derived keys are stable).
    for a in &acts {
        assert!(svc.record(SHOP, a.clone()).unwrap().duplicate, "{a:?}");
    }
    let keys: Vec<String> = svc
        .timeline(SHOP, ann, TimeRange::all())
        .unwrap()
        .iter()
        .map(|a| a.idempotency_key.as_str().to_owned())
        .collect();
    assert_eq!(keys.len(), 9);
    assert_eq!(keys[0], "purchase:A-1");
    assert_eq!(keys[2], "refund:A-2:20260221T120000.000000Z");
    assert_eq!(keys[3], format!("visit:{ann}:20260224T120000.000000Z"));
    let stats = svc.customer(SHOP, ann).unwrap().stats;
    assert_eq!(stats.orders(), 2);
    assert_eq!(stats.full_refunds(), 1);
    assert_eq!(stats.revenue_amount(), Decimal::new(12050, 2)); // 120.50 + 79.50 − 79.50
    assert_eq!(stats.margin_amount(), Decimal::new(3000, 2));
    assert_eq!(stats.purchase_day_count(), 1); // A-2's day was refunded in full
    assert_eq!(stats.complaints().len(), 1);
    assert_eq!(stats.last_nps().map(|s| s.value.get()), Some(9));
    // A second partial refund of the same order at another time is another activity.
    let again = NewActivity::refund(ann, "A-1", usd("1"), day(7)).unwrap();
    assert!(!svc.record(SHOP, again).unwrap().duplicate);
    // A host key overrides the derived one: the same visit under two keys is two visits.
    let v = NewActivity::visit(ann, day(5))
        .unwrap()
        .with_key(IdempotencyKey::new("evt-1").unwrap());
    assert!(!svc.record(SHOP, v).unwrap().duplicate);
    // Bad input is refused before anything is recorded.
    assert!(matches!(
        NewActivity::purchase(ann, "", usd("1"), day(1)),
        Err(DomainError::InvalidText {
            field: "order_id",
            ..
        })
    ));
    assert!(matches!(
        NewActivity::cart_abandoned(ann, Some(usd("-1")), day(1)),
        Err(DomainError::NegativeAmount { .. })
    ));
    let long = "x".repeat(200); // a valid order id, but the key "purchase:xxx…" is too long
    assert!(matches!(
        NewActivity::purchase(ann, long, usd("1"), day(1)),
        Err(DomainError::InvalidText {
            field: "idempotency_key",
            ..
        })
    ));
}

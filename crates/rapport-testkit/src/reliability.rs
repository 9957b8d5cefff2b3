//! Reliability checks shared by every backend's test suite: no lost updates under concurrent
//! writers through the service, and an outbox that loses nothing under failing deliveries and
//! relay restarts.

use std::sync::Arc;

use chrono::Duration;
use rapport::{RelayConfig, Service, relay_once};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::support::{FixedClock, FlakyNotifier, SequentialIds};

/// Result of [`no_lost_updates`].
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::{LostUpdates, no_lost_updates};
/// let r: LostUpdates = no_lost_updates(MemoryStore::new(), 2, 5).unwrap();
/// assert_eq!(r, LostUpdates { updates: 10, counter: 10, version: 11 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostUpdates {
    /// Updates made.
    pub updates: usize,
    /// The counter at the end (must equal `updates`).
    pub counter: i64,
    /// The customer's final version (must be `updates + 1`).
    pub version: u64,
}

/// `threads` threads each make `per_thread` read-modify-write updates of one customer through
/// the service (a counter attribute + 1); the service retries conflicts. Nothing may be lost.
///
/// # Errors
/// A description of the first failure.
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::no_lost_updates;
/// let r = no_lost_updates(MemoryStore::new(), 4, 10).unwrap();
/// assert_eq!(r.counter, r.updates as i64); // every increment survived the races
/// assert_eq!(r.version, r.updates as u64 + 1);
/// ```
pub fn no_lost_updates<S: Store + 'static>(
    store: S,
    threads: usize,
    per_thread: usize,
) -> Result<LostUpdates, String> {
    let svc = Arc::new(rapport::blocking::Service::from_async(
        Service::new(store)
            .with_clock(FixedClock::default())
            .with_ids(SequentialIds::default())
            // Eight writers on one customer: a writer may lose many races in a row.
            .with_max_attempts(100_000),
    ));
    let t = TenantId::from_u128(1);
    let id = svc
        .register(t, Profile::default())
        .map_err(|e| e.to_string())?
        .customer
        .id();
    let key = AttrKey::new("counter").map_err(|e| e.to_string())?;
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let svc = Arc::clone(&svc);
                let key = key.clone();
                scope.spawn(move || {
                    for _ in 0..per_thread {
                        let r = svc.update_profile(t, id, |p| {
                            let mut attrs = p.attributes.expose().clone();
                            let n = match attrs.get(&key) {
                                Some(AttrValue::Number(n)) => *n,
                                _ => Decimal::ZERO,
                            };
                            attrs.insert(key.clone(), AttrValue::Number(n + Decimal::ONE));
                            p.attributes = Pii::new(attrs);
                            Ok(())
                        });
                        if let Err(e) = r {
                            return Some(e.to_string());
                        }
                    }
                    None
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    if let Some(e) = errors.first() {
        return Err(format!("an update failed: {e}"));
    }
    let r = svc.customer(t, id).map_err(|e| e.to_string())?;
    let counter = match r.customer.profile.attributes.expose().get(&key) {
        Some(AttrValue::Number(n)) => n.to_string().parse().unwrap_or(-1),
        _ => -1,
    };
    Ok(LostUpdates {
        updates: threads * per_thread,
        counter,
        version: r.customer.version(),
    })
}

/// Result of [`one_customer_per_contact`].
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::{ContactRace, one_customer_per_contact};
/// let r: ContactRace = one_customer_per_contact(MemoryStore::new(), 2, 5).unwrap();
/// assert_eq!((r.creates, r.created, r.refused), (10, 1, 9));
/// assert_eq!((r.register_new, r.register_new_created), (10, 1));
/// assert_eq!((r.registers, r.register_created, r.register_ids), (10, 1, 1));
/// assert_eq!(r.customers, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactRace {
    /// Changesets applied straight to the store, each creating a new customer with one email.
    pub creates: usize,
    /// How many of them the store accepted (must be 1).
    pub created: usize,
    /// How many it refused with `ContactTaken` naming the one it accepted (must be the rest).
    pub refused: usize,
    /// `Service::register_new` calls with a second email.
    pub register_new: usize,
    /// How many of them created a customer (must be 1; the others must get `ContactTaken`
    /// naming it).
    pub register_new_created: usize,
    /// `Service::register` (get-or-create) calls with one phone.
    pub registers: usize,
    /// How many of them reported `created` (must be 1).
    pub register_created: usize,
    /// Distinct customer ids the `register` calls returned (must be 1).
    pub register_ids: usize,
    /// Live customers in the tenant at the end (must be 3: one per contact).
    pub customers: usize,
}

type Outcomes = Vec<Result<(CustomerId, bool), String>>;

/// Runs `call(thread, i)` `per_thread` times on each of `threads` threads released together.
fn race(
    threads: usize,
    per_thread: usize,
    call: impl Fn(usize, usize) -> Result<(CustomerId, bool), String> + Sync,
) -> Result<Vec<(CustomerId, bool)>, String> {
    let start = std::sync::Barrier::new(threads);
    let out: Outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let (start, call) = (&start, &call);
                scope.spawn(move || {
                    start.wait();
                    (0..per_thread).map(|i| call(th, i)).collect::<Outcomes>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("a thread panicked".into())])
            })
            .collect()
    });
    out.into_iter().collect()
}

/// Checks that exactly one call created and that every refusal named it; returns how many
/// created.
fn one_winner(what: &str, outcomes: &[(CustomerId, bool)]) -> Result<usize, String> {
    use std::collections::HashSet;
    let created = outcomes.iter().filter(|(_, c)| *c).count();
    let named: HashSet<CustomerId> = outcomes.iter().map(|(id, _)| *id).collect();
    if created == 1 && named.len() != 1 {
        return Err(format!(
            "{what}: the refusals named {} customers",
            named.len()
        ));
    }
    Ok(created)
}

/// `threads` threads race to create the same person, released together by a barrier:
///
/// 1. straight on the store, `per_thread` changesets each creating a new customer id with one
///    email: exactly one may be applied, every other must fail `StoreError::ContactTaken`
///    naming it — the store holds the line, whatever its callers checked before;
/// 2. through `Service::register_new` with a second email: one customer, the other callers
///    get `ContactTaken` naming it (the service's lookup and its write are separate calls, so
///    racing callers pass the lookup together);
/// 3. through `Service::register` (get-or-create) with one phone: all get the same customer,
///    one of them `created`.
///
/// # Errors
/// A description of the first unexpected result.
pub fn one_customer_per_contact<S: Store + 'static>(
    store: S,
    threads: usize,
    per_thread: usize,
) -> Result<ContactRace, String> {
    use std::collections::HashSet;
    let svc = rapport::blocking::Service::from_async(
        Service::new(store)
            .with_clock(FixedClock::default())
            .with_ids(SequentialIds::default()),
    );
    let t = TenantId::from_u128(0xC0);
    let email = |s: &str| -> Result<Profile, String> {
        Ok(Profile {
            email: Some(Pii::new(Email::parse(s).map_err(|e| e.to_string())?)),
            ..Profile::default()
        })
    };
    let (first, second) = (email("race@example.com")?, email("race.two@example.com")?);
    let by_phone = Profile {
        phone: Some(Pii::new(
            Phone::from_e164("+8613800138000").map_err(|e| e.to_string())?,
        )),
        ..Profile::default()
    };
    let now = svc.now();
    let creates = race(threads, per_thread, |th, i| {
        let id = CustomerId::from_u128(0xC000_0000 + (th * per_thread + i) as u128);
        let mut cs = Changeset::new();
        cs.create(Customer::new(t, id, first.clone(), now), Stats::default());
        match futures::executor::block_on(svc.store().apply(t, &cs)) {
            Ok(_) => Ok((id, true)),
            Err(StoreError::ContactTaken {
                customer,
                contact: ContactKind::Email,
                existing,
            }) if customer == id => Ok((existing, false)),
            Err(e) => Err(format!("a racing create failed: {e}")),
        }
    })?;
    let created = one_winner("creates on the store", &creates)?;
    let strict = race(threads, per_thread, |_, _| {
        match svc.register_new(t, second.clone()) {
            Ok(c) => Ok((c.id(), true)),
            Err(rapport::Error::Store(StoreError::ContactTaken {
                existing,
                contact: ContactKind::Email,
                ..
            })) => Ok((existing, false)),
            Err(e) => Err(format!("a racing register_new failed: {e}")),
        }
    })?;
    let register_new_created = one_winner("register_new", &strict)?;
    let loose = race(threads, per_thread, |_, _| {
        svc.register(t, by_phone.clone())
            .map(|r| (r.customer.id(), r.created))
            .map_err(|e| format!("a racing register failed: {e}"))
    })?;
    let mut customers = 0;
    let mut after = None;
    loop {
        let page = futures::executor::block_on(svc.store().scan(t, Page { after, limit: 500 }))
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer.id());
        customers += page.iter().filter(|r| r.customer.is_live()).count();
    }
    Ok(ContactRace {
        creates: creates.len(),
        created,
        refused: creates.len() - created,
        register_new: strict.len(),
        register_new_created,
        registers: loose.len(),
        register_created: loose.iter().filter(|(_, c)| *c).count(),
        register_ids: loose
            .iter()
            .map(|(id, _)| *id)
            .collect::<HashSet<_>>()
            .len(),
        customers,
    })
}

/// Result of [`outbox_survives_failures`].
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::outbox_survives_failures;
/// // No failures and no relay deaths: every event is delivered exactly once.
/// let (run, _) = outbox_survives_failures(MemoryStore::new(), 30, 0.0, 0).unwrap();
/// assert_eq!((run.events, run.delivered_unique, run.deliveries), (30, 30, 30));
/// assert_eq!((run.relay_deaths, run.stuck), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRun {
    /// Events written.
    pub events: usize,
    /// Distinct events delivered (after receiver-side dedupe).
    pub delivered_unique: usize,
    /// Deliveries including repeats.
    pub deliveries: usize,
    /// Relay "deaths": rounds that claimed and then vanished without acking.
    pub relay_deaths: usize,
    /// Messages still in the outbox at the end.
    pub stuck: usize,
}

/// Writes `events` outbox messages (one registration each), then runs relay rounds with a
/// notifier failing `fail` of deliveries. In about one round of `kill_every` (chosen at
/// random, so deaths do not line up with lease expiries) the relay "dies" after claiming —
/// half of the time before delivering, half after delivering but before acking — so leases
/// must expire and receivers see repeats. Time advances 10 s per round. Ends when every event
/// has been received (or after a generous round limit).
///
/// # Errors
/// A description of a store failure.
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::outbox_survives_failures;
/// let (run, store) = outbox_survives_failures(MemoryStore::new(), 60, 0.3, 4).unwrap();
/// assert_eq!(run.delivered_unique, run.events); // nothing lost
/// assert!(run.deliveries >= run.delivered_unique); // repeats are allowed
/// assert!(run.relay_deaths > 0);
/// assert_eq!(run.stuck, 0);
/// assert_eq!(store.pending_outbox().unwrap(), 0);
/// ```
pub fn outbox_survives_failures<S: Store + Outbox>(
    store: S,
    events: usize,
    fail: f64,
    kill_every: usize,
) -> Result<(OutboxRun, S), String> {
    let clock = Arc::new(FixedClock::default());
    let svc = Service::new(store)
        .with_clock(Arc::clone(&clock))
        .with_ids(SequentialIds::default());
    let t = TenantId::from_u128(1);
    let blocking = rapport::blocking::Service::from_async(svc);
    for _ in 0..events {
        blocking
            .register(t, Profile::default())
            .map_err(|e| e.to_string())?;
    }
    let svc = blocking.into_inner();
    let notifier = FlakyNotifier::new(fail, 42);
    let config = RelayConfig {
        batch: 25,
        lease: std::time::Duration::from_secs(30),
        backoff: std::time::Duration::from_secs(1),
        max_backoff: std::time::Duration::from_secs(60),
    };
    let mut deaths = 0;
    let mut dice = crate::generate::Rng::new(7);
    for _round in 1..=100_000usize {
        let now = rapport::Clock::now(&clock);
        // Relay deaths at random rounds (about one in `kill_every`), so they do not line up
        // with lease expiries.
        if kill_every > 0 && dice.next_u64() % kill_every as u64 == 0 {
            // The relay claims a batch and dies: half the time before delivering, half the
            // time after delivering but before acking (the receiver then sees repeats).
            let claimed = futures::executor::block_on(svc.store().claim_outbox(
                config.batch,
                config.lease,
                now,
            ))
            .map_err(|e| e.to_string())?;
            if dice.next_u64() % 2 == 0 {
                for m in &claimed {
                    let _ =
                        futures::executor::block_on(rapport_core::Notifier::deliver(&notifier, m));
                }
            }
            deaths += usize::from(!claimed.is_empty());
        } else {
            futures::executor::block_on(relay_once(svc.store(), &notifier, &config, now))
                .map_err(|e| e.to_string())?;
        }
        clock.advance(Duration::seconds(10));
        if notifier.inner.unique().len() >= events {
            break;
        }
    }
    // Drain: a healthy relay, once every lease and back-off has run out, finds the messages
    // that were delivered by a relay that died before acking, delivers them again and acks.
    for _ in 0..1_000 {
        clock.advance(Duration::seconds(120));
        let r = futures::executor::block_on(relay_once(
            svc.store(),
            &notifier,
            &config,
            rapport::Clock::now(&clock),
        ))
        .map_err(|e| e.to_string())?;
        if r.claimed == 0 {
            break;
        }
    }
    let stuck = futures::executor::block_on(svc.store().claim_outbox(
        u32::MAX,
        std::time::Duration::ZERO,
        rapport::Clock::now(&clock) + Duration::days(3650),
    ))
    .map_err(|e| e.to_string())?
    .len();
    let run = OutboxRun {
        events,
        delivered_unique: notifier.inner.unique().len(),
        deliveries: notifier.inner.deliveries().len(),
        relay_deaths: deaths,
        stuck,
    };
    Ok((run, svc.into_store()))
}

/// Result of [`refund_race`].
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::{RefundRace, refund_race};
/// let r: RefundRace = refund_race(MemoryStore::new(), 5).unwrap();
/// assert_eq!((r.accepted, r.refused), (5, 5));
/// assert_eq!(r.revenue, "100.00".parse().unwrap()); // 5 × (50.00 − 30.00)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundRace {
    /// Orders raced on (two refunds each).
    pub orders: usize,
    /// Refunds recorded.
    pub accepted: usize,
    /// Refunds refused with `RefundExceedsOrder`.
    pub refused: usize,
    /// The customer's net revenue at the end.
    pub revenue: Decimal,
}

/// One customer buys `orders` orders of 50.00 USD; then, order by order, two threads released
/// together each refund 30.00 USD of the same order through the service. The two refunds
/// together exceed the order, so exactly one of each pair may be recorded (the other sees it
/// when its write loses on the customer's version, decides again and is refused
/// `RefundExceedsOrder`): `accepted == refused == orders`, revenue `orders × 20.00`.
///
/// # Errors
/// A description of the first unexpected failure.
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::reliability::refund_race;
/// let r = refund_race(MemoryStore::new(), 20).unwrap();
/// assert_eq!((r.orders, r.accepted, r.refused), (20, 20, 20));
/// ```
pub fn refund_race<S: Store + 'static>(store: S, orders: usize) -> Result<RefundRace, String> {
    use rapport::NewActivity;
    let clock = FixedClock::default();
    let start = rapport::Clock::now(&clock);
    let svc = Arc::new(rapport::blocking::Service::from_async(
        Service::new(store)
            .with_clock(clock)
            .with_ids(SequentialIds::default())
            .with_max_attempts(1_000),
    ));
    let t = TenantId::from_u128(1);
    let usd = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::USD);
    let ann = svc
        .register(t, Profile::default())
        .map_err(|e| e.to_string())?
        .customer
        .id();
    let placed = start - Duration::days(10);
    for i in 0..orders {
        let buy = NewActivity::purchase(ann, format!("R-{i}"), usd(5_000), placed)
            .map_err(|e| e.to_string())?;
        svc.record(t, buy).map_err(|e| e.to_string())?;
    }
    let barrier = std::sync::Barrier::new(2);
    let outcomes: Vec<Result<(usize, usize), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2i64)
            .map(|side| {
                let (svc, barrier) = (Arc::clone(&svc), &barrier);
                scope.spawn(move || {
                    let (mut accepted, mut refused, mut failed) = (0, 0, None);
                    for i in 0..orders {
                        // Distinct times, so distinct keys: two refunds, not one retried.
                        let at = start - Duration::days(1) + Duration::seconds(side);
                        let r = NewActivity::refund(ann, format!("R-{i}"), usd(3_000), at);
                        // Both sides reach the barrier every round, even after a failure,
                        // so a failing store ends the run instead of stalling it.
                        barrier.wait();
                        match r
                            .map_err(rapport::Error::from)
                            .and_then(|r| svc.record(t, r))
                        {
                            Ok(rec) if !rec.duplicate => accepted += 1,
                            Err(rapport::Error::Domain(DomainError::RefundExceedsOrder {
                                ..
                            })) => refused += 1,
                            other => {
                                failed.get_or_insert(format!("order R-{i}: {other:?}"));
                            }
                        }
                    }
                    failed.map_or(Ok((accepted, refused)), Err)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a racer panicked".into())))
            .collect()
    });
    let (mut accepted, mut refused) = (0, 0);
    for o in outcomes {
        let (a, r) = o?;
        accepted += a;
        refused += r;
    }
    let revenue = svc
        .customer(t, ann)
        .map_err(|e| e.to_string())?
        .stats
        .revenue_amount();
    Ok(RefundRace {
        orders,
        accepted,
        refused,
        revenue,
    })
}

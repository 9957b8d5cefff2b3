//! Group commit: concurrent `apply` calls share transactions, yet each changeset keeps its
//! own outcome — a refused one (`AlreadyExists`, `Conflict`, duplicate keys) leaves nothing
//! behind (no customer, no activity, no outbox row), the others of its group are kept.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;
use support::{Fresh, fresh};

const T: TenantId = TenantId::from_u128(1);
const THREADS: u128 = 8;
const ROUNDS: u128 = 40;

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + chrono::Duration::days(20_000)
}

fn message(id: u128, customer: CustomerId) -> OutboxMessage {
    OutboxMessage::new(
        MessageId::from_u128(id),
        T,
        now(),
        DomainEvent::CustomerRegistered { customer },
    )
}

fn purchase(customer: CustomerId, key: &str) -> Activity {
    Activity::new(
        ActivityId::from_u128(1),
        customer,
        now(),
        Channel::Web,
        IdempotencyKey::new(key).unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new(key).unwrap(),
            amount: Money::new(rust_decimal::Decimal::from(5), Currency::EUR),
            margin: None,
        },
    )
    .unwrap()
}

/// Every outbox message stored, by id.
fn outbox(store: &Fresh) -> BTreeSet<MessageId> {
    let mut all = BTreeSet::new();
    loop {
        let batch = block_on(store.claim_outbox(500, Duration::from_secs(600), now())).unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch.iter().map(|m| m.id));
    }
}

/// Eight threads at once, each round: a create of a customer of its own (kept), a create of
/// the round's shared customer (one thread's kept, the others `AlreadyExists`), and a stale
/// update of a customer every thread updates at version 1 in round 0 (one kept, the others
/// `Conflict`). Every changeset carries an outbox message of its own; exactly the messages of
/// the kept changesets are stored.
#[test]
fn refused_changesets_leave_nothing_and_the_rest_of_their_group_is_kept() {
    let store = fresh();
    let hot = Customer::new(T, CustomerId::from_u128(1), Profile::default(), now());
    let mut cs = Changeset::new();
    cs.create(hot.clone(), Stats::default());
    block_on(store.apply(T, &cs)).unwrap();
    let kept: Vec<(BTreeSet<MessageId>, usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|th| {
                let (store, hot) = (&store, &hot);
                scope.spawn(move || {
                    let mut kept = BTreeSet::new();
                    let (mut exists, mut conflicts) = (0, 0);
                    for round in 0..ROUNDS {
                        let msg = |kind: u128| 1_000_000 * kind + 1_000 * round + th;
                        // Its own customer: kept.
                        let own = Customer::new(
                            T,
                            CustomerId::from_u128(10_000 + round * THREADS + th),
                            Profile::default(),
                            now(),
                        );
                        let mut cs = Changeset::new();
                        cs.create(own.clone(), Stats::default());
                        cs.outbox.push(message(msg(1), own.id()));
                        block_on(store.apply(T, &cs)).unwrap();
                        kept.insert(MessageId::from_u128(msg(1)));
                        // The round's shared customer, with a purchase: one thread wins.
                        let shared = CustomerId::from_u128(100 + round);
                        let mut cs = Changeset::new();
                        cs.create(
                            Customer::new(T, shared, Profile::default(), now()),
                            Stats::default(),
                        );
                        cs.activities
                            .push(purchase(shared, &format!("t{th}-r{round}")));
                        cs.outbox.push(message(msg(2), shared));
                        match block_on(store.apply(T, &cs)) {
                            Ok(a) => {
                                assert!(!a.is_duplicate());
                                kept.insert(MessageId::from_u128(msg(2)));
                            }
                            Err(StoreError::AlreadyExists { customer }) => {
                                assert_eq!(customer, shared);
                                exists += 1;
                            }
                            Err(e) => panic!("{e}"),
                        }
                        // The hot customer, always written against version 1.
                        let mut cs = Changeset::new();
                        cs.update(hot, hot.next_version(), Stats::default());
                        cs.outbox.push(message(msg(3), hot.id()));
                        match block_on(store.apply(T, &cs)) {
                            Ok(_) => {
                                kept.insert(MessageId::from_u128(msg(3)));
                            }
                            Err(StoreError::Conflict {
                                expected, actual, ..
                            }) => {
                                assert_eq!((expected, actual), (1, 2));
                                conflicts += 1;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    (kept, exists, conflicts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let exists: usize = kept.iter().map(|k| k.1).sum();
    let conflicts: usize = kept.iter().map(|k| k.2).sum();
    let (threads, rounds) = (THREADS as usize, ROUNDS as usize);
    assert_eq!(exists, rounds * (threads - 1));
    assert_eq!(conflicts, rounds * threads - 1);
    let want: BTreeSet<MessageId> = kept.iter().flat_map(|k| k.0.iter().copied()).collect();
    assert_eq!(want.len(), rounds * threads + rounds + 1);
    assert_eq!(outbox(&store), want);
    // Each shared customer holds the purchase of the one changeset that created it.
    for round in 0..ROUNDS {
        let winners: Vec<u128> = (0..THREADS)
            .filter(|th| {
                kept[*th as usize]
                    .0
                    .contains(&MessageId::from_u128(2_000_000 + 1_000 * round + th))
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}");
        let id = CustomerId::from_u128(100 + round);
        let acts = block_on(store.activities(T, id, TimeRange::default())).unwrap();
        let keys: Vec<&str> = acts.iter().map(|a| a.idempotency_key.as_str()).collect();
        assert_eq!(keys, [format!("t{}-r{round}", winners[0])], "round {round}");
    }
    let stored = block_on(store.load(T, hot.id())).unwrap().unwrap();
    assert_eq!(stored.customer.version(), 2);
}

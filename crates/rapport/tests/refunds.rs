//! Refunds name their order (issue #14): through the service on rapport-memory, a refund must
//! name an order a purchase of the same customer recorded, for at most what is left of it;
//! the order's date is the refund's purchase date; retries stay duplicates.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport::core::*;
use rapport::{Error, ManualClock, NewActivity, blocking};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

const SHOP: TenantId = TenantId::from_u128(14);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

fn service() -> blocking::Service<MemoryStore> {
    blocking::Service::new(MemoryStore::new()).with_clock(ManualClock::at(t0()))
}

/// Version and activity count: what a refused refund must leave as it was.
fn footprint(svc: &blocking::Service<MemoryStore>, id: CustomerId) -> (u64, usize) {
    let version = svc.customer(SHOP, id).unwrap().customer.version();
    (
        version,
        svc.timeline(SHOP, id, TimeRange::all()).unwrap().len(),
    )
}

/// The issue's reproduction: a 500 USD refund on a 50 USD order, and a refund of an order
/// never recorded, were accepted (revenue −480.00 USD). Both are refused now, nothing is
/// written, and revenue stays at 50.00.
#[test]
fn the_issue_refunds_are_refused_and_revenue_stays_positive() {
    let svc = service();
    let ann = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    svc.record(
        SHOP,
        NewActivity::purchase(ann, "SO-1", usd(5_000), t0() - Duration::days(5)).unwrap(),
    )
    .unwrap();
    let before = footprint(&svc, ann);
    let too_much = NewActivity::refund(ann, "SO-1", usd(50_000), t0()).unwrap();
    let err = svc.record(SHOP, too_much).unwrap_err();
    assert!(
        matches!(&err, Error::Domain(DomainError::RefundExceedsOrder { order, left, requested })
            if order.as_str() == "SO-1" && *left == usd(5_000) && *requested == usd(50_000)),
        "{err:?}"
    );
    assert_eq!(err.kind(), "domain.refund_exceeds_order");
    let unknown = NewActivity::refund(ann, "SO-2", usd(3_000), t0()).unwrap();
    let err = svc.record(SHOP, unknown).unwrap_err();
    assert!(
        matches!(&err, Error::Domain(DomainError::UnknownOrder { order }) if order.as_str() == "SO-2"),
        "{err:?}"
    );
    assert_eq!(footprint(&svc, ann), before);
    let stats = svc.customer(SHOP, ann).unwrap().stats;
    assert_eq!(stats.revenue(), Some(usd(5_000)));
}

/// The refund counts against the day of its order, whatever date the caller wrote in a
/// literal; two partial refunds that empty the order make it a full refund (its purchase day
/// goes), once.
#[test]
fn the_order_gives_the_date_and_an_emptied_order_is_refunded_in_full() {
    let svc = service();
    let ann = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    let placed = t0() - Duration::days(40);
    for (order, at) in [("A", placed), ("B", t0() - Duration::days(2))] {
        svc.record(
            SHOP,
            NewActivity::purchase(ann, order, usd(5_000), at).unwrap(),
        )
        .unwrap();
    }
    let mut literal = NewActivity::refund(ann, "A", usd(2_000), t0() - Duration::days(1)).unwrap();
    if let ActivityKind::Refund { purchased_at, .. } = &mut literal.kind {
        *purchased_at = t0() - Duration::days(2); // B's day: wrong
    }
    svc.record(SHOP, literal).unwrap();
    let stats = svc.customer(SHOP, ann).unwrap().stats;
    let day = |d: DateTime<Utc>| {
        stats
            .days()
            .iter()
            .find(|x| x.day == d.date_naive())
            .cloned()
    };
    assert_eq!(day(placed).unwrap().revenue, Decimal::new(3_000, 2));
    assert_eq!(
        day(t0() - Duration::days(2)).unwrap().revenue,
        Decimal::new(5_000, 2)
    );
    assert_eq!(stats.purchase_day_count(), 2);
    // The rest of A: it empties the order, which is then refunded in full.
    svc.record(
        SHOP,
        NewActivity::refund(ann, "A", usd(3_000), t0()).unwrap(),
    )
    .unwrap();
    let stats = svc.customer(SHOP, ann).unwrap().stats;
    assert_eq!((stats.full_refunds(), stats.purchase_day_count()), (1, 1));
    assert_eq!(stats.revenue(), Some(usd(5_000)));
    // A zero refund of the emptied order fits (nothing left, nothing asked) and does not
    // count it refunded in full twice.
    let zero = NewActivity::refund(ann, "A", usd(0), t0() + Duration::hours(1))
        .unwrap()
        .in_full();
    svc.record(SHOP, zero).unwrap();
    assert_eq!(svc.customer(SHOP, ann).unwrap().stats.full_refunds(), 1);
    // Another currency is refused.
    let eur = NewActivity::refund(ann, "B", Money::new(Decimal::ONE, Currency::EUR), t0()).unwrap();
    assert!(matches!(
        svc.record(SHOP, eur),
        Err(Error::Domain(DomainError::CurrencyMismatch { .. }))
    ));
}

/// A refund cannot come before the order it names (it was accepted before, dated whenever
/// the caller said): refused with `RefundBeforeOrder`, nothing written; the same refund at
/// the order's own time is accepted.
#[test]
fn a_refund_before_its_order_is_refused() {
    let svc = service();
    let ann = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    let placed = t0() - Duration::days(10);
    svc.record(
        SHOP,
        NewActivity::purchase(ann, "SO-1", usd(5_000), placed).unwrap(),
    )
    .unwrap();
    let before = footprint(&svc, ann);
    let early =
        NewActivity::refund(ann, "SO-1", usd(1_000), placed - Duration::seconds(1)).unwrap();
    match svc.record(SHOP, early) {
        Err(Error::Domain(DomainError::RefundBeforeOrder {
            order,
            purchased_at,
            refunded_at,
        })) => {
            assert_eq!(order.as_str(), "SO-1");
            assert_eq!(
                (purchased_at, refunded_at),
                (placed, placed - Duration::seconds(1))
            );
        }
        other => panic!("expected RefundBeforeOrder, got {other:?}"),
    }
    assert_eq!(footprint(&svc, ann), before);
    svc.record(
        SHOP,
        NewActivity::refund(ann, "SO-1", usd(1_000), placed).unwrap(),
    )
    .unwrap();
    assert_eq!(
        svc.customer(SHOP, ann).unwrap().stats.revenue(),
        Some(usd(4_000))
    );
}

/// Re-ingesting a refund (same idempotency key) is a duplicate, even once later refunds have
/// used up the order so that, checked again as a new refund, it would exceed it.
#[test]
fn a_retried_refund_is_a_duplicate_not_a_new_refund() {
    let svc = service();
    let ann = svc
        .register(SHOP, Profile::default())
        .unwrap()
        .customer
        .id();
    svc.record(
        SHOP,
        NewActivity::purchase(ann, "SO-1", usd(5_000), t0() - Duration::days(3)).unwrap(),
    )
    .unwrap();
    let first = NewActivity::refund(ann, "SO-1", usd(3_000), t0() - Duration::days(2)).unwrap();
    assert!(!svc.record(SHOP, first.clone()).unwrap().duplicate);
    let host_keyed = NewActivity::refund(ann, "SO-1", usd(2_000), t0() - Duration::days(1))
        .unwrap()
        .with_key(IdempotencyKey::new("evt-77").unwrap());
    assert!(!svc.record(SHOP, host_keyed.clone()).unwrap().duplicate);
    let before = footprint(&svc, ann);
    assert!(svc.record(SHOP, first).unwrap().duplicate);
    assert!(svc.record(SHOP, host_keyed).unwrap().duplicate);
    assert_eq!(footprint(&svc, ann), before);
    assert_eq!(
        svc.customer(SHOP, ann).unwrap().stats.revenue(),
        Some(usd(0))
    );
}

/// An order is the customer's own: another customer's refund of it is an unknown order.
#[test]
fn a_refund_of_another_customers_order_is_unknown() {
    let svc = service();
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
    svc.record(
        SHOP,
        NewActivity::purchase(ann, "SO-1", usd(5_000), t0() - Duration::days(3)).unwrap(),
    )
    .unwrap();
    let before = footprint(&svc, bob);
    let r = NewActivity::refund(bob, "SO-1", usd(100), t0()).unwrap();
    assert!(matches!(
        svc.record(SHOP, r),
        Err(Error::Domain(DomainError::UnknownOrder { .. }))
    ));
    assert_eq!(footprint(&svc, bob), before);
}

#[derive(Debug, Clone)]
enum Op {
    /// Customer `who` buys order `order` (its own) for `cents`.
    Buy { who: usize, order: u8, cents: i64 },
    /// Customer `who` asks a refund of `cents` on order `order` of customer `owner`.
    Refund {
        who: usize,
        owner: usize,
        order: u8,
        cents: i64,
        full: bool,
    },
    /// The `n`-th accepted refund again.
    Retry { n: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 0..4u8, 0..10_000i64).prop_map(|(who, order, cents)| Op::Buy { who, order, cents }),
        5 => (0..2usize, 0..2usize, 0..6u8, 0..8_000i64, any::<bool>()).prop_map(|(who, owner, order, cents, full)| {
            // Mostly one's own orders; sometimes the other customer's.
            Op::Refund { who, owner: if owner == 1 && who == 0 { 1 } else { who }, order, cents, full }
        }),
        1 => (0..64usize).prop_map(|n| Op::Retry { n }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// For random purchases and refunds (some of unknown or other customers' orders, some too
    /// large, some retried) through the service: revenue is never negative and equals the sum
    /// over orders of the purchase less its accepted refunds; every refused refund gets its
    /// typed error and writes nothing; a retry is a duplicate.
    #[test]
    fn prop_revenue_is_purchases_less_accepted_refunds_per_order(ops in proptest::collection::vec(op(), 1..48)) {
        let svc = service();
        let ids: Vec<CustomerId> = (0..2).map(|_| svc.register(SHOP, Profile::default()).unwrap().customer.id()).collect();
        // (customer, order) -> (paid, refunded), in cents.
        let mut model: BTreeMap<(usize, u8), (i64, i64)> = BTreeMap::new();
        let mut accepted: Vec<NewActivity> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let at = t0() - Duration::days(30) + Duration::minutes(step as i64);
            match op {
                Op::Buy { who, order, cents } => {
                    let a = NewActivity::purchase(ids[who], format!("c{who}-o{order}"), usd(cents), at).unwrap();
                    let r = svc.record(SHOP, a).unwrap();
                    prop_assert_eq!(r.duplicate, model.contains_key(&(who, order)));
                    model.entry((who, order)).or_insert((cents, 0));
                }
                Op::Refund { who, owner, order, cents, full } => {
                    let mut a = NewActivity::refund(ids[who], format!("c{owner}-o{order}"), usd(cents), at).unwrap();
                    if full {
                        a = a.in_full();
                    }
                    let before = footprint(&svc, ids[who]);
                    let known = if owner == who { model.get(&(who, order)).copied() } else { None };
                    match (svc.record(SHOP, a.clone()), known) {
                        (Ok(r), Some((paid, refunded))) => {
                            prop_assert!(!r.duplicate);
                            prop_assert!(cents <= paid - refunded, "accepted {cents} with {} left", paid - refunded);
                            model.insert((who, order), (paid, refunded + cents));
                            accepted.push(a);
                        }
                        (Err(Error::Domain(DomainError::UnknownOrder { order: named })), None) => {
                            prop_assert_eq!(named.as_str(), format!("c{owner}-o{order}"));
                            prop_assert_eq!(footprint(&svc, ids[who]), before);
                        }
                        (Err(Error::Domain(DomainError::RefundExceedsOrder { left, requested, .. })), Some((paid, refunded))) => {
                            prop_assert!(cents > paid - refunded);
                            prop_assert_eq!((left, requested), (usd(paid - refunded), usd(cents)));
                            prop_assert_eq!(footprint(&svc, ids[who]), before);
                        }
                        (other, known) => prop_assert!(false, "refund of {cents} on {known:?}: {other:?}"),
                    }
                }
                Op::Retry { n } => {
                    if let Some(a) = accepted.get(n).cloned() {
                        let before = footprint(&svc, a.customer);
                        prop_assert!(svc.record(SHOP, a.clone()).unwrap().duplicate);
                        prop_assert_eq!(footprint(&svc, a.customer), before);
                    }
                }
            }
            for (who, id) in ids.iter().enumerate() {
                let revenue = svc.customer(SHOP, *id).unwrap().stats.revenue_amount();
                let expected: i64 = model.iter().filter(|((w, _), _)| *w == who).map(|(_, (p, r))| p - r).sum();
                prop_assert!(!revenue.is_sign_negative() || revenue.is_zero(), "revenue {revenue}");
                prop_assert_eq!(revenue, Decimal::new(expected, 2));
            }
        }
    }
}

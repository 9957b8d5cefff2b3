//! The stats fold: order-independent, incremental = rebuilt, and equal to a naive recount.
#![allow(clippy::unwrap_used)]

mod strategies;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;
use strategies::*;

/// A straightforward re-derivation of the purchase figures from the raw list.
struct Naive {
    revenue: Decimal,
    days: BTreeMap<NaiveDate, (i64, i64, Decimal)>, // orders, full refunds, net revenue
}

fn naive(h: &[Activity]) -> Naive {
    let mut n = Naive {
        revenue: Decimal::ZERO,
        days: BTreeMap::new(),
    };
    for a in h {
        match &a.kind {
            ActivityKind::Purchase { amount, .. } => {
                n.revenue += amount.amount;
                let e = n
                    .days
                    .entry(a.at.date_naive())
                    .or_insert((0, 0, Decimal::ZERO));
                e.0 += 1;
                e.2 += amount.amount;
            }
            ActivityKind::Refund {
                amount,
                purchased_at,
                full,
                ..
            } => {
                n.revenue -= amount.amount;
                let e = n
                    .days
                    .entry(purchased_at.date_naive())
                    .or_insert((0, 0, Decimal::ZERO));
                e.1 += i64::from(*full);
                e.2 -= amount.amount;
            }
            _ => {}
        }
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_fold_is_order_independent(h in history(), seed in any::<u64>()) {
        let forward = Stats::from_activities(&h).unwrap();
        let backward = Stats::from_activities(h.iter().rev()).unwrap();
        prop_assert_eq!(&forward, &backward);
        // A deterministic shuffle.
        let mut shuffled: Vec<&Activity> = h.iter().collect();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&forward, &Stats::from_activities(shuffled).unwrap());
    }

    #[test]
    fn prop_incremental_equals_rebuilt(h in history(), split in 0usize..60) {
        let split = split.min(h.len());
        let mut s = Stats::from_activities(&h[..split]).unwrap();
        for a in &h[split..] {
            s.apply(a).unwrap();
        }
        prop_assert_eq!(s, Stats::from_activities(&h).unwrap());
    }

    #[test]
    fn prop_fold_matches_naive_recount(h in history(), now_days in 0i64..1500) {
        let s = Stats::from_activities(&h).unwrap();
        let n = naive(&h);
        prop_assert_eq!(s.revenue_amount(), n.revenue);
        let purchase_days: Vec<NaiveDate> =
            n.days.iter().filter(|(_, v)| v.0 > v.1).map(|(d, _)| *d).collect();
        prop_assert_eq!(s.purchase_days().collect::<Vec<_>>(), purchase_days.clone());
        prop_assert_eq!(
            s.orders() as usize,
            h.iter().filter(|a| matches!(a.kind, ActivityKind::Purchase { .. })).count()
        );
        for t in ActivityType::ALL {
            let of_type: Vec<_> = h.iter().filter(|a| a.kind.activity_type() == t).collect();
            prop_assert_eq!(s.count(t) as usize, of_type.len());
            prop_assert_eq!(s.last_at(t), of_type.iter().map(|a| a.at).max());
        }
        // Windows against a recount at a `now`.
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap() + Duration::days(now_days);
        let today = now.date_naive();
        for w in [30u32, 90, 365] {
            let start = today - Duration::days(i64::from(w));
            let expected: Decimal = n
                .days
                .iter()
                .filter(|(d, _)| **d > start && **d <= today)
                .map(|(_, v)| v.2)
                .sum();
            prop_assert_eq!(s.window(now, w).revenue, expected);
            let expected_days = purchase_days.iter().filter(|d| **d > start && **d <= today).count();
            prop_assert_eq!(s.window(now, w).purchase_days as usize, expected_days);
        }
        let last = purchase_days.iter().filter(|d| **d <= today).max();
        prop_assert_eq!(s.days_since_last_purchase(now), last.map(|d| (today - *d).num_days()));
    }

    #[test]
    fn prop_failed_apply_changes_nothing(h in history(), other in currency()) {
        let mut s = Stats::from_activities(&h).unwrap();
        let before = s.clone();
        if let Some(cur) = s.currency() {
            prop_assume!(cur != other);
            let bad = Activity {
                kind: ActivityKind::Purchase {
                    order_id: OrderId::new("x").unwrap(),
                    amount: Money::new(Decimal::ONE, other),
                    margin: None,
                },
                ..h[0].clone()
            };
            let err = s.apply(&bad).unwrap_err();
            prop_assert!(matches!(err, DomainError::CurrencyMismatch { .. }), "{}", err);
            prop_assert_eq!(s, before);
        }
    }
}

fn at(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 15, 30, 0).unwrap()
}

fn purchase(n: u32, day: u32, cents: i64) -> Activity {
    Activity::new(
        ActivityId::from_u128(u128::from(n)),
        CustomerId::from_u128(1),
        at(day),
        Channel::Web,
        IdempotencyKey::new(format!("k{n}")).unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new(format!("o{n}")).unwrap(),
            amount: Money::new(Decimal::new(cents, 2), Currency::USD),
            margin: Some(Decimal::new(cents / 4, 2)),
        },
    )
    .unwrap()
}

fn refund(n: u32, day: u32, of_day: u32, cents: i64, full: bool) -> Activity {
    Activity::new(
        ActivityId::from_u128(u128::from(n)),
        CustomerId::from_u128(1),
        at(day),
        Channel::Web,
        IdempotencyKey::new(format!("k{n}")).unwrap(),
        ActivityKind::Refund {
            order_id: OrderId::new(format!("o{n}")).unwrap(),
            amount: Money::new(Decimal::new(cents, 2), Currency::USD),
            margin: None,
            purchased_at: at(of_day),
            full,
        },
    )
    .unwrap()
}

#[test]
fn a_full_refund_removes_the_purchase_day() {
    let s = Stats::from_activities(&[
        purchase(1, 3, 1000),
        purchase(2, 9, 2000),
        refund(3, 12, 9, 2000, true),
    ])
    .unwrap();
    assert_eq!(s.purchase_day_count(), 1);
    assert_eq!(s.last_purchase_day(), Some(at(3).date_naive()));
    assert_eq!(s.revenue_amount(), Decimal::new(1000, 2));
    assert_eq!(s.full_refunds(), 1);
}

#[test]
fn a_partial_refund_keeps_the_purchase_day() {
    let s = Stats::from_activities(&[purchase(1, 3, 1000), refund(2, 5, 3, 400, false)]).unwrap();
    assert_eq!(s.purchase_day_count(), 1);
    assert_eq!(s.revenue().unwrap().to_string(), "6.00 USD");
}

#[test]
fn margin_is_summed_and_reduced_by_refunded_margin() {
    let s = Stats::from_activities(&[purchase(1, 3, 1000), purchase(2, 4, 2000)]).unwrap();
    assert_eq!(s.margin_amount(), Decimal::new(750, 2));
}

#[test]
fn negative_purchase_is_rejected_even_if_constructed_by_hand() {
    let mut a = purchase(1, 3, 1000);
    a.kind = ActivityKind::Purchase {
        order_id: OrderId::new("o").unwrap(),
        amount: Money::new(Decimal::new(-1, 0), Currency::USD),
        margin: None,
    };
    let mut s = Stats::default();
    let err = s.apply(&a).unwrap_err();
    assert_eq!(err.to_string(), "purchase.amount `-1` is negative");
    assert_eq!(s, Stats::default());
}

#[test]
fn last_nps_is_the_latest_by_time_not_by_arrival() {
    let fb = |n: u32, day: u32, score: u8| {
        Activity::new(
            ActivityId::from_u128(u128::from(n)),
            CustomerId::from_u128(1),
            at(day),
            Channel::Email,
            IdempotencyKey::new(format!("f{n}")).unwrap(),
            ActivityKind::Feedback {
                feedback: Feedback::Nps(Nps::new(score).unwrap()),
            },
        )
        .unwrap()
    };
    let s = Stats::from_activities(&[fb(1, 10, 9), fb(2, 2, 3)]).unwrap();
    assert_eq!(s.last_nps().unwrap().value.get(), 9);
}

#[test]
fn windows_count_whole_utc_days_ending_today() {
    let s = Stats::from_activities(&[
        purchase(1, 1, 100),
        purchase(2, 2, 200),
        purchase(3, 31, 300),
    ])
    .unwrap();
    // now = Jan 31: the 30-day window is Jan 2..=Jan 31.
    let w = s.window(at(31), 30);
    assert_eq!(w.revenue, Decimal::new(500, 2));
    assert_eq!(w.purchase_days, 2);
    assert_eq!(s.days_since_first_purchase(at(31)), Some(30));
    // Purchases after `now` are not in the past window.
    assert_eq!(s.window(at(15), 30).revenue, Decimal::new(300, 2));
    assert_eq!(s.days_since_last_purchase(at(15)), Some(13));
}

#[test]
fn complaints_within_a_window() {
    let complaint = |n: u32, day: u32| {
        Activity::new(
            ActivityId::from_u128(u128::from(n)),
            CustomerId::from_u128(1),
            at(day),
            Channel::Phone,
            IdempotencyKey::new(format!("c{n}")).unwrap(),
            ActivityKind::Complaint {
                severity: Severity::High,
            },
        )
        .unwrap()
    };
    let s = Stats::from_activities(&[complaint(1, 1), complaint(2, 20), complaint(3, 25)]).unwrap();
    assert_eq!(s.complaints_within(at(25), 10), 2);
    assert_eq!(s.complaints().len(), 3);
}

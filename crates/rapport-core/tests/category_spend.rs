//! Per-category spend kept in `Stats` under a `StatsPolicy`: the fold is order-independent,
//! incremental = rebuilt, self-contained (serde), and answers `category_spend` exactly as the
//! line items do — directly, in segments and in tag rules — on random histories with refunds.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::segment::PurchaseSummary;
use rapport_core::*;
use rust_decimal::Decimal;

const CATEGORIES: [&str; 3] = ["tea", "cups", "pots"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn cat(k: usize) -> ProductCategory {
    ProductCategory::new(CATEGORIES[k]).unwrap()
}

/// One generated order: hours before now of its purchase (negative: after now), its lines as
/// (sku, quantity, cents, category), and maybe a refund `delay` hours later of the first
/// `n` lines, one unit each.
type Order = (i64, Vec<(u8, u32, i64, Option<u8>)>, Option<(i64, usize)>);

/// A customer's history: activities and their line lists, consistent as the service writes
/// them (a refund's `purchased_at` is its order's purchase time).
struct History {
    activities: Vec<Activity>,
    lines: Vec<LineItems>,
}

fn history(orders: &[Order]) -> History {
    let customer = CustomerId::from_u128(7);
    let mut h = History {
        activities: Vec::new(),
        lines: Vec::new(),
    };
    let mut push = |n: u128, at, kind, items: Vec<LineItem>| {
        let a = Activity::new(
            ActivityId::from_u128(n),
            customer,
            at,
            Channel::Web,
            IdempotencyKey::new(format!("k{n}")).unwrap(),
            kind,
        )
        .unwrap();
        h.lines.push(LineItems::of(&a, items, false).unwrap());
        h.activities.push(a);
    };
    for (i, (hours, lines, refund)) in orders.iter().enumerate() {
        let order = OrderId::new(format!("o{i}")).unwrap();
        let at = now() - Duration::hours(*hours);
        let items: Vec<LineItem> = lines
            .iter()
            .map(|(s, q, c, k)| {
                LineItem::new(
                    Sku::new(format!("s{s}")).unwrap(),
                    *q,
                    Money::new(Decimal::new(*c, 2), Currency::USD),
                    k.map(|k| cat(k as usize)),
                )
                .unwrap()
            })
            .collect();
        let total = check_total(&items);
        let kind = ActivityKind::Purchase {
            order_id: order.clone(),
            amount: Money::new(total, Currency::USD),
            margin: None,
        };
        push(2 * i as u128 + 1, at, kind, items.clone());
        if let Some((delay, n)) = refund {
            let back: Vec<LineItem> = items
                .iter()
                .take((*n).clamp(1, items.len()))
                .map(|l| LineItem {
                    quantity: 1,
                    ..l.clone()
                })
                .collect();
            let amount = check_total(&back);
            let kind = ActivityKind::Refund {
                order_id: order,
                amount: Money::new(amount, Currency::USD),
                margin: None,
                purchased_at: at,
                full: amount == total,
            };
            push(2 * i as u128 + 2, at + Duration::hours(*delay), kind, back);
        }
    }
    h
}

fn check_total(items: &[LineItem]) -> Decimal {
    items
        .iter()
        .map(|l| l.unit_price.amount * Decimal::from(l.quantity))
        .sum()
}

fn orders() -> impl Strategy<Value = Vec<Order>> {
    prop::collection::vec(
        (
            -48i64..24 * 800,
            prop::collection::vec(
                (0u8..5, 1u32..4, 0i64..10_000, prop::option::of(0u8..3)),
                1..4,
            ),
            prop::option::of((0i64..24 * 90, 1usize..4)),
        ),
        0..10,
    )
}

fn tracked() -> impl Strategy<Value = BTreeSet<ProductCategory>> {
    prop::collection::btree_set((0usize..3).prop_map(cat), 0..=3)
}

fn customer() -> Customer {
    Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(7),
        Profile::default(),
        now() - Duration::days(900),
    )
}

/// A deterministic shuffle of `0..n`.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Stats tracking a category give `category_spend` exactly as the line items give it, at
    /// any `now` and window; other categories are not answered by the stats.
    #[test]
    fn prop_stats_answer_as_the_line_items(
        o in orders(), track in tracked(), now_days in -30i64..900, days in 1u32..1000,
    ) {
        let h = history(&o);
        let stats = Stats::from_history(&h.activities, &h.lines, track.iter().cloned()).unwrap();
        let summary = PurchaseSummary::from_line_items(&h.lines);
        let at = now() - Duration::days(now_days);
        for k in 0..3 {
            let c = cat(k);
            let want = summary.category_spend(&c, days, at);
            match stats.category_spend(&c, days, at) {
                Some(got) => {
                    prop_assert!(track.contains(&c));
                    prop_assert_eq!(got, want, "{} over {} days", c.as_str(), days);
                }
                None => prop_assert!(!track.contains(&c)),
            }
        }
    }

    /// Segments and tag rules decide the same from the stats (no line items handed in) as
    /// from the line items (stats tracking nothing).
    #[test]
    fn prop_segments_and_rules_decide_alike(
        o in orders(), days in 1u32..800, cents in 0i64..20_000,
    ) {
        let h = history(&o);
        let all: BTreeSet<_> = (0..3).map(cat).collect();
        let tracking = Stats::from_history(&h.activities, &h.lines, all.iter().cloned()).unwrap();
        let plain = Stats::from_activities(&h.activities).unwrap();
        let summary = PurchaseSummary::from_line_items(&h.lines);
        let c = customer();
        let v = Decimal::new(cents, 2);
        for name in CATEGORIES {
            for op in segment::CmpOp::ALL {
                let text = format!(r#"category_spend("{name}", {days}) {op} {v}"#);
                let seg = Segment::parse(&text).unwrap();
                prop_assert!(!seg.needs_line_items(&tracking));
                prop_assert!(seg.needs_line_items(&plain));
                let from_stats = seg.matches(&SegmentContext::new(&c, &tracking, now()));
                let from_lines = seg.matches(&SegmentContext::new(&c, &plain, now()).with_purchases(&summary));
                prop_assert_eq!(from_stats, from_lines, "{}", text);
            }
            let rule = TagRule::parse(&format!(
                r#"when category_spend("{name}", {days}) >= {v} then tag value:{name}-lover"#
            )).unwrap();
            let policies = Policies { tag_rules: vec![rule], ..Policies::default() };
            let inputs = EvalInputs::at(now());
            let a = evaluate_with_purchases(&c, &tracking, &policies, &inputs, None).unwrap();
            let b = evaluate_with_purchases(&c, &plain, &policies, &inputs, Some(&summary)).unwrap();
            prop_assert_eq!(&a.tags_added, &b.tags_added);
            prop_assert_eq!(&a.tags_removed, &b.tags_removed);
        }
    }

    /// Folding activities and line lists one by one, in any order (a list after its activity
    /// or before it, as long as both are in by the end — the service writes them together),
    /// gives the stats of the whole history; they survive a serde round trip unchanged.
    #[test]
    fn prop_fold_is_order_independent_and_self_contained(
        o in orders(), track in tracked(), seed in any::<u64>(), split in 0usize..20,
    ) {
        let h = history(&o);
        let whole = Stats::from_history(&h.activities, &h.lines, track.iter().cloned()).unwrap();
        let mut s = Stats::default();
        s.track_categories(track.iter().cloned());
        for i in shuffled(h.activities.len(), seed) {
            s.apply(&h.activities[i]).unwrap();
            s.apply_lines(&h.activities[i], &h.lines[i]).unwrap();
        }
        prop_assert_eq!(&s, &whole);
        // Incremental after a rebuilt prefix.
        let split = split.min(h.activities.len());
        let mut s = Stats::from_history(&h.activities[..split], &h.lines[..split], track.iter().cloned()).unwrap();
        for (a, l) in h.activities[split..].iter().zip(&h.lines[split..]) {
            s.apply(a).unwrap();
            s.apply_lines(a, l).unwrap();
        }
        prop_assert_eq!(&s, &whole);
        let json = serde_json::to_string(&whole).unwrap();
        prop_assert_eq!(serde_json::from_str::<Stats>(&json).unwrap(), whole.clone());
        // The stats' other figures do not depend on the policy.
        let mut untracked = whole;
        untracked.track_categories([]);
        prop_assert_eq!(untracked, Stats::from_activities(&h.activities).unwrap());
    }
}

#[test]
fn a_host_that_tracks_nothing_pays_nothing() {
    let o: Vec<Order> = vec![(24, vec![(1, 2, 1500, Some(0))], Some((2, 1)))];
    let h = history(&o);
    let stats = Stats::from_history(&h.activities, &h.lines, []).unwrap();
    assert_eq!(stats, Stats::from_activities(&h.activities).unwrap());
    assert!(stats.category_tables().is_none());
    let json = serde_json::to_string(&stats).unwrap();
    assert!(!json.contains("category_spend"), "{json}");
    // One pointer in memory.
    assert_eq!(
        std::mem::size_of::<Option<Box<CategorySpend>>>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn refunds_count_on_the_order_day_and_other_activities_add_nothing() {
    let o: Vec<Order> = vec![(
        24 * 10,
        vec![(1, 2, 1500, Some(0)), (2, 1, 500, None)],
        Some((24 * 5, 1)),
    )];
    let h = history(&o);
    let tea = cat(0);
    let stats = Stats::from_history(&h.activities, &h.lines, [tea.clone()]).unwrap();
    // 2 × 15 bought ten days ago, one given back five days ago: counted ten days ago.
    assert_eq!(
        stats.category_spend(&tea, 11, now()),
        Some(Decimal::from(15))
    );
    assert_eq!(stats.category_spend(&tea, 10, now()), Some(Decimal::ZERO));
    let days = stats.category_tables().unwrap().days(&tea);
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].day, (now() - Duration::days(10)).date_naive());
    // Lines handed with another activity, or with a visit, add nothing.
    let mut s = stats.clone();
    s.apply_lines(&h.activities[1], &h.lines[0]).unwrap();
    let visit = Activity::new(
        h.lines[0].activity,
        CustomerId::from_u128(7),
        now(),
        Channel::Web,
        IdempotencyKey::new("v").unwrap(),
        ActivityKind::Visit { item: None },
    )
    .unwrap();
    s.apply_lines(&visit, &h.lines[0]).unwrap();
    assert_eq!(s, stats);
}

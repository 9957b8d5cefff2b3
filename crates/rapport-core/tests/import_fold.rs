//! `fold_import`: a customer's activities folded in one batch give the same activities, line
//! lists and stats as the same activities folded in any split into batches (each later batch
//! seeing the earlier ones as stored), under a policy tracking a category or not.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::ports::{ImportActivity, ImportPolicy, fold_import};
use rapport_core::*;
use rust_decimal::Decimal;

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

/// What happens to one order: its lines (sku index, quantity, unit cents), then an optional
/// partial refund of its first line (with lines) and an optional full refund without lines.
type Order = (Vec<(u8, u8, u16)>, bool, bool);

fn orders() -> impl Strategy<Value = Vec<Order>> {
    prop::collection::vec(
        (
            prop::collection::vec((0u8..4, 1u8..4, 1u16..500), 1..4),
            any::<bool>(),
            any::<bool>(),
        ),
        1..6,
    )
}

/// The rows of `orders`, in time order.
fn rows(orders: &[Order]) -> Vec<ImportActivity> {
    let c = CustomerId::from_u128(1);
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let cats = ["tea", "cups"];
    let mut out = Vec::new();
    let mut n = 0u32;
    let mut next = |kind: ActivityKind, lines: Vec<LineItem>| {
        n += 1;
        ImportActivity {
            activity: Activity::new(
                ActivityId::from_u128(u128::from(n)),
                c,
                t0 + Duration::hours(i64::from(n)),
                Channel::Web,
                IdempotencyKey::new(format!("k{n}")).unwrap(),
                kind,
            )
            .unwrap(),
            lines,
        }
    };
    for (i, (lines, partial, full)) in orders.iter().enumerate() {
        let order = OrderId::new(format!("o{i}")).unwrap();
        let items: Vec<LineItem> = lines
            .iter()
            .map(|&(s, q, p)| {
                LineItem::new(
                    Sku::new(format!("sku-{s}")).unwrap(),
                    u32::from(q),
                    usd(i64::from(p)),
                    Some(ProductCategory::new(cats[usize::from(s) % 2]).unwrap()),
                )
                .unwrap()
            })
            .collect();
        let cents = |l: &[(u8, u8, u16)]| {
            l.iter()
                .map(|&(_, q, p)| i64::from(q) * i64::from(p))
                .sum::<i64>()
        };
        let total = cents(lines);
        out.push(next(
            ActivityKind::Purchase {
                order_id: order.clone(),
                amount: usd(total),
                margin: None,
            },
            items.clone(),
        ));
        let mut left = total;
        if *partial && lines.len() > 1 {
            let first = cents(&lines[..1]);
            left -= first;
            out.push(next(
                ActivityKind::Refund {
                    order_id: order.clone(),
                    amount: usd(first),
                    margin: None,
                    purchased_at: t0,
                    full: false,
                },
                items[..1].to_vec(),
            ));
        }
        if *full {
            out.push(next(
                ActivityKind::Refund {
                    order_id: order,
                    amount: usd(left),
                    margin: None,
                    purchased_at: t0,
                    full: false,
                },
                Vec::new(),
            ));
        }
    }
    out
}

proptest! {
    #[test]
    fn prop_a_batch_folds_as_its_parts(orders in orders(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4), track in any::<bool>()) {
        let rows = rows(&orders);
        let mut policy = ImportPolicy::default();
        if track {
            policy.stats.category_spend.insert(ProductCategory::new("tea").unwrap());
        }
        let whole = fold_import(Stats::default(), &[], &[], rows.clone(), &policy).unwrap();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(rows.len() + 1)).collect();
        at.push(0);
        at.push(rows.len());
        at.sort_unstable();
        let (mut stats, mut history, mut lines) = (Stats::default(), Vec::new(), Vec::new());
        for w in at.windows(2) {
            let part = rows[w[0]..w[1]].to_vec();
            let done = fold_import(stats, &history, &lines, part, &policy).unwrap();
            stats = done.stats;
            history.extend(done.activities);
            lines.extend(done.line_items);
        }
        prop_assert_eq!(&history, &whole.activities);
        prop_assert_eq!(&lines, &whole.line_items);
        prop_assert_eq!(&stats, &whole.stats);
        // Every full refund without lines gave back its order's lines: nothing left bought.
        for (i, (_, _, full)) in orders.iter().enumerate() {
            let order = OrderId::new(format!("o{i}")).unwrap();
            prop_assert_eq!(rapport_core::ports::lines_left(&lines, &order).is_empty(), *full);
        }
    }
}

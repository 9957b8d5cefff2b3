//! How long a `query` with `bought(...)` / `category_spend(...)` takes on PostgreSQL over a
//! population with line items (ignored: a measurement, run with `--ignored --nocapture`).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rust_decimal::Decimal;

#[test]
#[ignore = "measurement"]
fn line_item_segments_on_postgres() {
    let n: u128 = std::env::var("RAPPORT_SEG_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let fresh = support::fresh();
    let Some(store) = fresh.0.as_ref() else {
        return;
    };
    let t = TenantId::from_u128(1);
    let usd = |c: i64| Money::new(Decimal::new(c, 2), Currency::USD);
    let cats = ["tea", "cups", "pots"];
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let mut cs = Changeset::new();
        for &i in chunk {
            let c = CustomerId::from_u128(i + 1);
            let mut acts = Vec::new();
            let mut lists = Vec::new();
            for k in 0..2u128 {
                let at = now - Duration::days(((i * 7 + k * 131) % 700) as i64);
                let sku = Sku::new(format!("sku-{}", (i * 3 + k * 17) % 500)).unwrap();
                let cat = ProductCategory::new(cats[((i + k) % 3) as usize]).unwrap();
                let line =
                    LineItem::new(sku, 1, usd(500 + (i % 97) as i64 * 100), Some(cat)).unwrap();
                let key = format!("o-{i}-{k}");
                let a = Activity::new(
                    ActivityId::from_u128((i + 1) * 10 + k),
                    c,
                    at,
                    Channel::Web,
                    IdempotencyKey::new(key.clone()).unwrap(),
                    ActivityKind::Purchase {
                        order_id: OrderId::new(key).unwrap(),
                        amount: line.total().unwrap(),
                        margin: None,
                    },
                )
                .unwrap();
                lists.push(LineItems::of(&a, vec![line], false).unwrap());
                acts.push(a);
            }
            acts.sort_by_key(|a| a.at);
            let stats = Stats::from_activities(&acts).unwrap();
            cs.create(
                Customer::new(t, c, Profile::default(), now - Duration::days(800)),
                stats,
            );
            cs.activities.extend(acts);
            cs.line_items.extend(lists);
        }
        block_on(store.apply(t, &cs)).unwrap();
    }
    println!(
        "loaded {n} customers, {} line lists in {:?}",
        2 * n,
        started.elapsed()
    );
    for text in [
        "orders > 1",
        r#"bought("sku-42")"#,
        r#"bought("sku-42") and tier >= lead"#,
        r#"category_spend("tea", 365) > 60"#,
        r#"not bought("sku-42")"#,
    ] {
        let seg = Segment::parse(text).unwrap();
        let started = Instant::now();
        let mut count = 0;
        let mut page = Page::first(1_000);
        loop {
            let rows = block_on(store.query(t, &seg, now, page)).unwrap();
            count += rows.len();
            if rows.len() < 1_000 {
                break;
            }
            page.after = rows.last().map(|r| r.customer.id());
        }
        println!("{text:45} {count:>7} customers in {:?}", started.elapsed());
    }
}

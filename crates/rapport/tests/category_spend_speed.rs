//! How much the per-category spend kept in the stats saves (docs/performance.md, issue #19):
//! the same book under a policy tracking `tea` and under one tracking nothing, a sweep with a
//! tag rule on `category_spend("tea", 365)` and a `find` on it over rapport-memory, timed in
//! one run. Not a test of speed (no assert on time): run it by hand,
//!
//! `cargo test --release -p rapport --test category_spend_speed -- --ignored --nocapture`
//!
//! (`RAPPORT_SPEND_N` customers, default 20,000, each with three orders of two lines over
//! 700 days.)
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use chrono::Duration;
use rapport::NewActivity;
use rapport::blocking::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;

fn usd(cents: i64) -> Money {
    Money::new(rust_decimal::Decimal::new(cents, 2), Currency::USD)
}

fn policies(track: bool) -> Policies {
    let mut p = Policies {
        tag_rules: vec![
            TagRule::parse(r#"when category_spend("tea", 365) > 60 then tag value:tea-lover"#)
                .unwrap(),
        ],
        ..Policies::default()
    };
    if track {
        p.stats
            .category_spend
            .insert(ProductCategory::new("tea").unwrap());
    }
    p
}

/// A book of `n` customers; returns the service and the time to record it.
fn book(n: u64, track: bool) -> (Service<MemoryStore>, TenantId, f64) {
    let svc = Service::new(MemoryStore::new())
        .with_policies(policies(track))
        .unwrap();
    let t = TenantId::from_u128(1);
    let start = Instant::now();
    let now = svc.now();
    for i in 0..n {
        let id = svc.register(t, Profile::default()).unwrap().customer.id();
        for o in 0..3u64 {
            let at = now - Duration::days(((i * 7 + o * 233) % 700) as i64);
            let cat = ["tea", "cups", "pots"][((i + o) % 3) as usize];
            let price = 1000 + ((i * 31 + o * 17) % 5000) as i64;
            let lines = vec![
                LineItem::new(
                    Sku::new(format!("sku-{}", (i + o) % 500)).unwrap(),
                    1,
                    usd(price),
                    Some(ProductCategory::new(cat).unwrap()),
                )
                .unwrap(),
                LineItem::new(Sku::new("bag").unwrap(), 1, usd(100), None).unwrap(),
            ];
            let buy = NewActivity::purchase(id, format!("o{i}-{o}"), usd(price + 100), at).unwrap();
            svc.record_with_lines(t, buy, lines, false).unwrap();
        }
    }
    (svc, t, start.elapsed().as_secs_f64())
}

#[test]
#[ignore = "timing; run by hand with --release"]
fn tracked_spend_against_line_items() {
    let n: u64 = std::env::var("RAPPORT_SPEND_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seg = Segment::parse(r#"category_spend("tea", 365) > 60"#).unwrap();
    let mut found = Vec::new();
    for track in [false, true] {
        let (svc, t, record) = book(n, track);
        let now = svc.now() + Duration::days(1);
        let start = Instant::now();
        let report = svc.sweep(t, now, 1000, |_| {}).unwrap();
        let sweep = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let hits = svc.find(t, &seg).unwrap().len();
        let find = start.elapsed().as_secs_f64();
        println!(
            "{}: record {n} × 3 orders {record:.3} s, sweep {sweep:.3} s ({} changed), find {find:.3} s ({hits} matches)",
            if track {
                "tracked (stats)"
            } else {
                "untracked (line items)"
            },
            report.changed,
        );
        found.push((report.changed, hits));
    }
    // Both ways decide the same.
    assert_eq!(found[0], found[1]);
}

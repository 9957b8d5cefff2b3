//! The service over rapport-memory: a sweep of 1M customers (beside a bare scan of the same
//! store), with default policies and with a share ladder (also handing each decision to the
//! caller: `sweep_with_decisions`), plus the memory each stored customer takes (RSS growth in
//! this fresh process). The record-purchase use case is `benches/record.rs`.
//!
//! Run: `cargo bench -p rapport --bench service`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

const SWEEP_N: usize = 1_000_000;

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn bench_sweep(c: &mut Criterion) {
    let t = TenantId::from_u128(1);
    let store = MemoryStore::new();
    let before = rss_bytes();
    let (start, end) = (
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap(),
    );
    for chunk in 0..(SWEEP_N / 10_000) {
        let mut cs = Changeset::new();
        let mut x = chunk as u64 * 7919 + 1;
        for i in 0..10_000 {
            let id = (chunk * 10_000 + i) as u128 + 1;
            let c = Customer::new(t, CustomerId::from_u128(id), Profile::default(), start);
            let mut s = Stats::default();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 5) {
                let a = Activity {
                    id: ActivityId::from_u128(0),
                    customer: c.id(),
                    at: start + chrono::Duration::days(((x >> 8) % 300 + k * 13) as i64),
                    channel: Channel::Web,
                    idempotency_key: IdempotencyKey::new("k").unwrap(),
                    kind: ActivityKind::Purchase {
                        order_id: OrderId::new("o").unwrap(),
                        amount: Money::new(Decimal::new((x % 50_000) as i64, 2), Currency::USD),
                        margin: None,
                    },
                };
                s.apply(&a).unwrap();
            }
            cs.create(c, s);
        }
        block_on(store.apply(t, &cs)).unwrap();
    }
    let per_customer = (rss_bytes().saturating_sub(before)) as f64 / SWEEP_N as f64;
    eprintln!(
        "memory: {per_customer:.0} bytes per stored customer with stats (RSS growth / {SWEEP_N})"
    );
    let svc = Service::new(store);
    let mut g = c.benchmark_group("sweep_1m_customers_memory");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(SWEEP_N as u64));
    g.bench_function("baseline_scan_all_pages", |b| {
        b.iter(|| {
            let mut page = Page::first(10_000);
            let mut n = 0;
            loop {
                let rows = block_on(svc.store().scan(t, page)).unwrap();
                let Some(last) = rows.last() else { break };
                page.after = Some(last.customer.id());
                n += rows.len();
            }
            black_box(n)
        })
    });
    let mut day = 0;
    // Default policies (threshold ladder, no rules): no ranking pass.
    g.bench_function("sweep", |b| {
        b.iter(|| {
            day += 1;
            black_box(
                block_on(svc.sweep(t, end + chrono::Duration::days(day), 10_000, |_| {})).unwrap(),
            )
        })
    });
    // A share ladder: the ranking pass (a second scan and the population sort) runs first.
    let mut policies = Policies::default();
    policies.tier.ladder = TierLadder::vip_heavy();
    let svc = Service::new(svc.into_store())
        .with_policies(policies)
        .unwrap();
    g.bench_function("sweep_share_ladder", |b| {
        b.iter(|| {
            day += 1;
            black_box(
                block_on(svc.sweep(t, end + chrono::Duration::days(day), 10_000, |_| {})).unwrap(),
            )
        })
    });
    // The same, handing every customer's decisions to the caller (who keeps a count).
    g.bench_function("sweep_share_ladder_with_decisions", |b| {
        b.iter(|| {
            day += 1;
            let mut seen = 0usize;
            let at = end + chrono::Duration::days(day);
            let done = block_on(svc.sweep_with_decisions(t, at, 10_000, |_, _| seen += 1)).unwrap();
            black_box((done, seen))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_sweep);
criterion_main!(benches);

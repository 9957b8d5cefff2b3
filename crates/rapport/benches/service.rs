//! The service over rapport-memory: the record-purchase use case (beside the pure work it
//! wraps: `Stats::apply` + `evaluate`), and a sweep of 1M customers (beside a bare scan of
//! the same store), plus the memory each stored customer takes.
//!
//! Run: `cargo bench -p rapport --bench service`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport::core::*;
use rapport::{NewActivity, Service};
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

fn purchase(i: u64, customer: CustomerId) -> NewActivity {
    NewActivity {
        customer,
        at: Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
            + chrono::Duration::hours((i % 5000) as i64),
        channel: Channel::Web,
        idempotency_key: IdempotencyKey::new(format!("k{i}")).unwrap(),
        kind: ActivityKind::Purchase {
            order_id: OrderId::new(format!("o{i}")).unwrap(),
            amount: Money::new(Decimal::new(1999, 2), Currency::USD),
            margin: None,
        },
    }
}

fn bench_record(c: &mut Criterion) {
    let t = TenantId::from_u128(1);
    let mut g = c.benchmark_group("record_purchase");
    g.throughput(Throughput::Elements(1));
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let policies = Policies::default();
    // Baseline: the pure work of the use case, without the store and the changeset.
    let mut stats = Stats::default();
    let customer = Customer::new(t, CustomerId::from_u128(1), Profile::default(), now);
    let mut i = 0u64;
    g.bench_function("baseline_fold_and_evaluate", |b| {
        b.iter(|| {
            i += 1;
            let a = purchase(i, customer.id());
            let act = Activity::new(
                ActivityId::from_u128(u128::from(i)),
                customer.id(),
                a.at,
                a.channel,
                a.idempotency_key,
                a.kind,
            )
            .unwrap();
            let mut s = stats.clone();
            s.apply(&act).unwrap();
            black_box(evaluate(&customer, &s, &policies, &EvalInputs::at(now)).unwrap());
            if i % 64 == 0 {
                stats = Stats::default();
            }
        })
    });
    let svc = Service::new(MemoryStore::new());
    let ids: Vec<CustomerId> = (0..1_000)
        .map(|_| {
            block_on(svc.register(t, Profile::default()))
                .unwrap()
                .customer
                .id()
        })
        .collect();
    let mut i = 0u64;
    // A running relay drains the outbox; here every 1,000th purchase claims and acks what is
    // pending (inside the measurement: the relay's work is part of the cost of a purchase).
    g.bench_function("service_record_purchase", |b| {
        b.iter(|| {
            i += 1;
            if i % 1000 == 0 {
                let claimed = block_on(svc.store().claim_outbox(
                    100_000,
                    Duration::from_secs(60),
                    now,
                ))
                .unwrap();
                let ids: Vec<MessageId> = claimed.iter().map(|m| m.id).collect();
                block_on(svc.store().ack_outbox(&ids)).unwrap();
            }
            black_box(block_on(svc.record(t, purchase(i, ids[(i % 1000) as usize]))).unwrap())
        })
    });
    g.finish();
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
    g.finish();
}

criterion_group!(benches, bench_sweep, bench_record);
criterion_main!(benches);

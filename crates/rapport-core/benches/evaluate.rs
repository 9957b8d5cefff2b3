//! `evaluate` over 1M synthetic customers with default policies, and the population ranking
//! (RFM quintiles + a share ladder) of 1M customers — each beside a baseline in the same run.
//!
//! Run: `cargo bench -p rapport-core --bench evaluate`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

fn population() -> Vec<(Customer, Stats)> {
    let base = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let t = TenantId::from_u128(1);
    let key = IdempotencyKey::new("k").unwrap();
    let order = OrderId::new("o").unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..N)
        .map(|i| {
            let c = Customer::new(
                t,
                CustomerId::from_u128(i as u128 + 1),
                Profile::default(),
                base,
            );
            let mut s = Stats::default();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x % 6;
            let mut day = (x % 200) as i64;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                day += (x % 60) as i64;
                let a = Activity {
                    id: ActivityId::from_u128(0),
                    customer: c.id(),
                    at: base + chrono::Duration::days(day),
                    channel: Channel::Web,
                    idempotency_key: key.clone(),
                    kind: ActivityKind::Purchase {
                        order_id: order.clone(),
                        amount: Money::new(Decimal::new((x % 300_000) as i64, 2), Currency::USD),
                        margin: None,
                    },
                };
                s.apply(&a).unwrap();
            }
            (c, s)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pop = population();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let policies = Policies::default();
    let inputs = EvalInputs::at(now);
    let mut g = c.benchmark_group("evaluate_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_days_since_last_purchase", |b| {
        b.iter(|| {
            pop.iter()
                .map(|(_, s)| s.days_since_last_purchase(now).unwrap_or(0))
                .sum::<i64>()
        })
    });
    g.bench_function("evaluate", |b| {
        b.iter(|| {
            let mut changed = 0usize;
            for (c, s) in &pop {
                let e = evaluate(c, s, &policies, &inputs).unwrap();
                changed += usize::from(!e.is_noop(c));
            }
            black_box(changed)
        })
    });
    g.finish();

    let shares = Policies {
        tier: TierPolicy {
            ladder: TierLadder::vip_heavy(),
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    let rank_inputs: Vec<RankInput> = pop
        .iter()
        .map(|(c, s)| RankInput::of(c.id(), s, &shares, now, None))
        .collect();
    let mut g = c.benchmark_group("rank_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_sort_one_key", |b| {
        b.iter(|| {
            let mut v: Vec<Decimal> = rank_inputs.iter().map(|r| r.metric).collect();
            v.sort_unstable();
            black_box(v.len())
        })
    });
    g.bench_function("rank_values_quintiles_and_shares", |b| {
        b.iter(|| black_box(rank_values(&rank_inputs, &shares, now).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

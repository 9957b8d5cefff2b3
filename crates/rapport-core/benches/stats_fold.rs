//! Folding 10M purchase activities over 1M customers into `Stats`, against a compact
//! baseline loop (i64 cents into a Vec by customer index) measured in the same run.
//!
//! Run: `cargo bench -p rapport-core --bench stats_fold`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;
use rust_decimal::Decimal;

const CUSTOMERS: usize = 1_000_000;
const PER_CUSTOMER: usize = 10;
const CHUNK_CUSTOMERS: usize = 100_000;
const EVENTS: u64 = (CUSTOMERS * PER_CUSTOMER) as u64;

/// One chunk of activities: `CHUNK_CUSTOMERS` customers × `PER_CUSTOMER` purchases each, in
/// time order per customer. The same chunk is folded into the 10 ranges of the population.
fn chunk() -> Vec<(u32, Activity)> {
    let base = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap();
    let key = IdempotencyKey::new("k").unwrap();
    let order = OrderId::new("o").unwrap();
    let mut out = Vec::with_capacity(CHUNK_CUSTOMERS * PER_CUSTOMER);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for c in 0..CHUNK_CUSTOMERS {
        let mut day = 0i64;
        for _ in 0..PER_CUSTOMER {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            day += (x % 40) as i64;
            let cents = 500 + (x % 20_000) as i64;
            out.push((
                c as u32,
                Activity {
                    id: ActivityId::from_u128(0),
                    customer: CustomerId::from_u128(c as u128),
                    at: base + chrono::Duration::days(day),
                    channel: Channel::Web,
                    idempotency_key: key.clone(),
                    kind: ActivityKind::Purchase {
                        order_id: order.clone(),
                        amount: Money::new(Decimal::new(cents, 2), Currency::USD),
                        margin: Some(Decimal::new(cents / 4, 2)),
                    },
                },
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let activities = chunk();
    let cents: Vec<(u32, i64)> = activities
        .iter()
        .map(|(i, a)| match &a.kind {
            ActivityKind::Purchase { amount, .. } => {
                (*i, (amount.amount * Decimal::from(100)).mantissa() as i64)
            }
            _ => unreachable!(),
        })
        .collect();

    let mut g = c.benchmark_group("fold_10m_purchases_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(EVENTS));

    g.bench_function("baseline_i64_cents_vec", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sums = vec![0i64; CUSTOMERS];
                let start = Instant::now();
                for range in 0..CUSTOMERS / CHUNK_CUSTOMERS {
                    let off = range * CHUNK_CUSTOMERS;
                    for (i, cents) in &cents {
                        sums[off + *i as usize] += *cents;
                    }
                }
                total += start.elapsed();
                black_box(&sums);
            }
            total
        });
    });

    g.bench_function("stats_apply", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut stats = vec![Stats::default(); CUSTOMERS];
                let start = Instant::now();
                for range in 0..CUSTOMERS / CHUNK_CUSTOMERS {
                    let off = range * CHUNK_CUSTOMERS;
                    for (i, a) in &activities {
                        stats[off + *i as usize].apply(a).unwrap();
                    }
                }
                total += start.elapsed();
                black_box(&stats);
            }
            total
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The population step for 1M customers — RFM quintiles on three keys plus a share ladder
//! (`vip_heavy`) — beside a baseline in the same run: sorting the one metric column.
//!
//! Run: `cargo bench -p rapport-core --bench rank`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

/// Compact inputs as a sweep keeps them: about 70 % of customers with purchases, recency over
/// a year, 1–20 purchase days, revenue in cents with many ties.
fn inputs() -> Vec<RankInput> {
    let day0 = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let r = next();
            let bought = r % 10 < 7;
            let revenue = Decimal::new((next() % 500_000) as i64, 2);
            RankInput {
                customer: CustomerId::from_u128(i as u128 + 1),
                rfm: bought.then(|| RfmValues {
                    last_purchase: day0 + Days::new(r % 365),
                    frequency: 1 + (r >> 20) as u32 % 20,
                    monetary: revenue,
                }),
                metric: if bought { revenue } else { Decimal::ZERO },
            }
        })
        .collect()
}

fn seconds(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let shares = Policies {
        tier: TierPolicy {
            ladder: TierLadder::vip_heavy(),
            ..TierPolicy::default()
        },
        ..Policies::default()
    };
    let baseline = || {
        let mut v: Vec<Decimal> = inputs.iter().map(|r| r.metric).collect();
        v.sort_unstable();
        black_box(v.len());
    };
    let base = seconds(baseline);
    let ranked = seconds(|| {
        black_box(rank_values(&inputs, &shares, now).len());
    });
    println!(
        "summary (best of 3, 1M customers): baseline sort of one decimal column {base:.3} s; \
         rank_values (RFM quintiles + vip_heavy shares) {ranked:.3} s (ratio {:.1}x)",
        ranked / base
    );

    let mut g = c.benchmark_group("rank_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_sort_one_decimal_column", |b| b.iter(baseline));
    g.bench_function("rank_values_quintiles_and_shares", |b| {
        b.iter(|| black_box(rank_values(&inputs, &shares, now).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

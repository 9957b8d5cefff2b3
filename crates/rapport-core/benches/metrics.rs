//! The periodic review over 1M customers — churn and win-back rates with the stage funnel and
//! flows (stages recomputed at both ends of a quarter), and monthly cohort retention — beside
//! a baseline in the same run: one pass that reads each customer's purchase days.
//!
//! Run: `cargo bench -p rapport-core --bench metrics`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::metrics::{Period, cohort_retention, stage_review};
use rapport_core::*;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

/// 1M customers over two years: 80 % with 1–8 purchases, the rest prospects.
fn book() -> Vec<(Customer, Stats)> {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let id = CustomerId::from_u128(i as u128 + 1);
            let first = next() % 600;
            let c = Customer::new(
                TenantId::from_u128(1),
                id,
                Profile::default(),
                start + chrono::Duration::days(first as i64),
            );
            let mut stats = Stats::default();
            if next() % 10 < 8 {
                let n = 1 + next() % 8;
                let mut day = first;
                for k in 0..n {
                    let a = Activity::new(
                        ActivityId::from_u128(k as u128),
                        id,
                        start + chrono::Duration::days(day as i64),
                        Channel::Web,
                        IdempotencyKey::new("k").unwrap(),
                        ActivityKind::Purchase {
                            order_id: OrderId::new("o").unwrap(),
                            amount: Money::new(Decimal::new(2500, 2), Currency::USD),
                            margin: None,
                        },
                    )
                    .unwrap();
                    stats.apply(&a).unwrap();
                    day += 1 + next() % 120;
                }
            }
            (c, stats)
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
    let book = book();
    let policy = LifecyclePolicy::default();
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let quarter = Period::new(d(2025, 7, 1), d(2025, 10, 1)).unwrap();
    let baseline = || {
        let n: usize = book.iter().map(|(_, s)| s.purchase_days().count()).sum();
        black_box(n);
    };
    let churn = || {
        let r = stage_review(book.iter().map(|(c, s)| (c, s)), &policy, quarter);
        black_box(r.churn_rate);
    };
    let cohorts = || {
        black_box(cohort_retention(book.iter().map(|(_, s)| s), quarter.end()).len());
    };
    let (base, churn_s, cohort_s) = (seconds(baseline), seconds(churn), seconds(cohorts));
    println!(
        "summary (best of 3, 1M customers): baseline pass over purchase days {base:.3} s; \
         stage_review (churn, win-back, funnel, flows) {churn_s:.3} s ({:.1}x); \
         cohort_retention {cohort_s:.3} s ({:.1}x); both {:.3} s",
        churn_s / base,
        cohort_s / base,
        churn_s + cohort_s
    );

    let mut g = c.benchmark_group("metrics_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_purchase_days_pass", |b| b.iter(baseline));
    g.bench_function("stage_review_quarter", |b| b.iter(churn));
    g.bench_function("cohort_retention", |b| b.iter(cohorts));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

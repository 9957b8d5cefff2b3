//! `evaluate` over 1M synthetic customers with default policies, beside a baseline in the same
//! run: a bare loop reading the same stats (days since the last purchase). Fresh customers
//! (nearly every one changes tier or stage) and a settled population (evaluated the day
//! before, as in a daily sweep); and the same with four tag rules, for information.
//!
//! Run: `cargo bench -p rapport-core --bench evaluate`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

/// 1M customers with 0–5 purchases each over about a year (xorshift, fixed seed).
fn population() -> Vec<(Customer, Stats)> {
    let base = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let t = TenantId::from_u128(1);
    let key = IdempotencyKey::new("k").unwrap();
    let order = OrderId::new("o").unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let c = Customer::new(
                t,
                CustomerId::from_u128(i as u128 + 1),
                Profile::default(),
                base,
            );
            let mut s = Stats::default();
            let n = next() % 6;
            let mut day = (next() % 200) as i64;
            for _ in 0..n {
                let x = next();
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

fn baseline(pop: &[(Customer, Stats)], now: DateTime<Utc>) -> i64 {
    pop.iter()
        .map(|(_, s)| s.days_since_last_purchase(now).unwrap_or(0))
        .sum::<i64>()
}

fn evaluate_all(pop: &[(Customer, Stats)], policies: &Policies, inputs: &EvalInputs) -> usize {
    let mut changed = 0usize;
    for (c, s) in pop {
        let e = evaluate(c, s, policies, inputs).unwrap();
        changed += usize::from(!e.is_noop(c));
    }
    changed
}

/// Best of three timed passes, in customers per second.
fn rate(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            N as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn bench(c: &mut Criterion) {
    let pop = population();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let policies = Policies::default();
    let with_rules = Policies {
        tag_rules: [
            "when tier >= gold then tag value:vip",
            "when stage == silent then tag care:silent for 14d",
            "when churn_risk > 0.6 then tag care:at-risk",
            "when orders >= 4 then tag behavior:frequent",
        ]
        .iter()
        .map(|t| TagRule::parse(t).unwrap())
        .collect(),
        ..Policies::default()
    };
    let inputs = EvalInputs::at(now);
    let settle = |policies: &Policies| -> Vec<(Customer, Stats)> {
        let before = EvalInputs::at(now - chrono::Duration::days(1));
        pop.iter()
            .map(|(c, s)| {
                let mut c = c.clone();
                evaluate(&c, s, policies, &before).unwrap().apply_to(&mut c);
                (c, s.clone())
            })
            .collect()
    };
    let settled = settle(&policies);
    let settled_rules = settle(&with_rules);

    let base = rate(|| {
        black_box(baseline(&pop, now));
    });
    let eval = rate(|| {
        black_box(evaluate_all(&pop, &policies, &inputs));
    });
    let steady = rate(|| {
        black_box(evaluate_all(&settled, &policies, &inputs));
    });
    let rules = rate(|| {
        black_box(evaluate_all(&pop, &with_rules, &inputs));
    });
    let rules_steady = rate(|| {
        black_box(evaluate_all(&settled_rules, &with_rules, &inputs));
    });
    println!(
        "summary (best of 3, 1M customers, M customers/s): baseline {:.2}; evaluate fresh {:.2} \
         ({:.1}x the baseline's time), settled {:.2} ({:.1}x); with 4 tag rules fresh {:.2}, \
         settled {:.2}",
        base / 1e6,
        eval / 1e6,
        base / eval,
        steady / 1e6,
        base / steady,
        rules / 1e6,
        rules_steady / 1e6
    );

    let mut g = c.benchmark_group("evaluate_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_days_since_last_purchase", |b| {
        b.iter(|| baseline(&pop, now))
    });
    g.bench_function("evaluate_default_policies", |b| {
        b.iter(|| evaluate_all(&pop, &policies, &inputs))
    });
    g.bench_function("evaluate_settled", |b| {
        b.iter(|| evaluate_all(&settled, &policies, &inputs))
    });
    g.bench_function("evaluate_with_4_tag_rules", |b| {
        b.iter(|| evaluate_all(&pop, &with_rules, &inputs))
    });
    g.bench_function("evaluate_with_4_tag_rules_settled", |b| {
        b.iter(|| evaluate_all(&settled_rules, &with_rules, &inputs))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

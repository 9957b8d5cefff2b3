//! Duplicate candidates among 100k customers of one tenant — about 3 % sharing an email with
//! another, 2 % a phone, 1 % a name and birth date — beside a baseline in the same run: sorting
//! the email column (the least any blocking on email must do).
//!
//! Run: `cargo bench -p rapport-core --bench dedupe`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;

const N: usize = 100_000;

fn customers() -> Vec<Customer> {
    let t = TenantId::from_u128(1);
    let born = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let r = next() % 100;
            // A duplicate reuses the key of the customer before it.
            let email = if r < 3 { i.saturating_sub(1) } else { i };
            let phone = if (3..5).contains(&r) {
                i.saturating_sub(1)
            } else {
                i
            };
            let name = if r == 5 { i.saturating_sub(1) } else { i };
            let profile = Profile {
                display_name: Some(Pii::new(format!("Customer {name}"))),
                email: Some(Pii::new(
                    Email::parse(&format!("c{email}@example.com")).unwrap(),
                )),
                phone: Some(Pii::new(
                    Phone::from_e164(&format!("+86138{phone:08}")).unwrap(),
                )),
                birth_date: Some(Pii::new(born + chrono::Days::new((name % 20_000) as u64))),
                ..Profile::default()
            };
            Customer::new(
                t,
                CustomerId::from_u128(i as u128 + 1),
                profile,
                DateTime::UNIX_EPOCH,
            )
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
    let people = customers();
    let policy = DedupePolicy::default();
    let baseline = || {
        let mut v: Vec<&str> = people
            .iter()
            .filter_map(|c| c.profile.email.as_ref().map(|e| e.expose().as_str()))
            .collect();
        v.sort_unstable();
        black_box(v.len());
    };
    let base = seconds(baseline);
    let mut pairs = 0;
    let found = seconds(|| pairs = black_box(duplicate_candidates(&people, &policy).len()));
    println!(
        "summary (best of 3, 100k customers): baseline sort of the email column {base:.3} s; \
         duplicate_candidates ({pairs} pairs) {found:.3} s (ratio {:.1}x)",
        found / base
    );

    let mut g = c.benchmark_group("dedupe_100k_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_sort_email_column", |b| b.iter(baseline));
    g.bench_function("duplicate_candidates", |b| {
        b.iter(|| black_box(duplicate_candidates(&people, &policy).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

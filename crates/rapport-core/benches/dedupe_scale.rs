//! Duplicate scan of a whole book: 100k and 1M customers with about 3 % planted duplicates
//! (`support/planted.rs` documents the generator: case and spacing, phone formats, typos in
//! names and emails, swapped names, new contacts), each beside a baseline in the same run —
//! one `sort_unstable` of the book's email column. Prints recall and precision of the planted
//! pairs at the default policy, and the 1M ÷ 100k time ratio (issue #15: ≤ 12×, both ≥ 0.95).
//!
//! Run: `cargo bench -p rapport-core --bench dedupe_scale`
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "support/planted.rs"]
mod planted;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;

fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn sort_emails(people: &[Customer]) {
    let mut v: Vec<&str> = people
        .iter()
        .filter_map(|c| c.profile.email.as_ref().map(|e| e.expose().as_str()))
        .collect();
    v.sort_unstable();
    black_box(v.len());
}

fn bench(c: &mut Criterion) {
    let policy = DedupePolicy::default();
    let mut g = c.benchmark_group("dedupe_scale");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    let mut times = Vec::new();
    for n in [100_000usize, 1_000_000] {
        let book = planted::book(n, 0x9E37_79B9_7F4A_7C15);
        let people = &book.customers;
        let found = duplicate_candidates(people, &policy);
        let (recall, precision) = planted::recall_precision(&book.planted, &found);
        let base = best_of(3, || sort_emails(people));
        let scan = best_of(3, || {
            black_box(duplicate_candidates(people, &policy).len());
        });
        println!(
            "summary {n} customers, {} planted pairs: duplicate_candidates {scan:.3} s (best of 3), \
             {} pairs reported, recall {recall:.4}, precision {precision:.4}; \
             baseline sort of the email column {base:.3} s (scan = {:.1}x the baseline)",
            book.planted.len(),
            found.len(),
            scan / base
        );
        times.push((scan, base));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("baseline_sort_email_column/{n}"), |b| {
            b.iter(|| sort_emails(people))
        });
        g.bench_function(format!("duplicate_candidates/{n}"), |b| {
            b.iter(|| black_box(duplicate_candidates(people, &policy).len()))
        });
    }
    g.finish();
    let ((s1, b1), (s2, b2)) = (times[0], times[1]);
    println!(
        "summary 1M ÷ 100k: duplicate_candidates {:.1}x, baseline sort {:.1}x",
        s2 / s1,
        b2 / b1
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

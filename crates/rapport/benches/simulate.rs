//! `Service::simulate` over 1M customers in rapport-memory: a new threshold ladder and a share
//! ladder, beside a baseline in the same run — one pass that scans the book and evaluates every
//! customer under the current policies (what a dry-run sweep costs; the simulation evaluates
//! twice). Goal (issue #20): a new ladder over 1M customers in < 2 s.
//!
//! Run: `cargo bench -p rapport --bench simulate`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

const N: usize = 1_000_000;

fn book(t: TenantId) -> MemoryStore {
    let store = MemoryStore::new();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    for chunk in 0..(N / 10_000) {
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
                        amount: Money::new(Decimal::new((x % 500_000) as i64, 2), Currency::USD),
                        margin: None,
                    },
                };
                s.apply(&a).unwrap();
            }
            // Settled: evaluated the day before, as after a nightly sweep.
            let mut c = c;
            evaluate(
                &c,
                &s,
                &Policies::default(),
                &EvalInputs::at(start + chrono::Duration::days(364)),
            )
            .unwrap()
            .apply_to(&mut c);
            cs.create(c, s);
        }
        block_on(store.apply(t, &cs)).unwrap();
    }
    store
}

/// The baseline: scan every page and evaluate under the current policies, nothing written.
fn evaluate_book(svc: &Service<MemoryStore>, t: TenantId, now: chrono::DateTime<Utc>) -> usize {
    let mut page = Page::first(2_000);
    let mut moved = 0;
    loop {
        let rows = block_on(svc.store().scan(t, page)).unwrap();
        let Some(last) = rows.last() else { break };
        page.after = Some(last.customer.id());
        for r in &rows {
            let e = evaluate(&r.customer, &r.stats, svc.policies(), &EvalInputs::at(now)).unwrap();
            moved += usize::from(e.tier.changed());
        }
    }
    moved
}

/// Best of three, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench(_: &mut Criterion) {
    let t = TenantId::from_u128(1);
    let svc = Service::new(book(t));
    let now = Utc.with_ymd_and_hms(2025, 12, 31, 0, 0, 0).unwrap();
    let mut ladder = Policies::default();
    ladder.tier.ladder.rungs = Rungs::Thresholds {
        entries: vec![
            (Tier::Iron, Decimal::from(500)),
            (Tier::Gold, Decimal::from(1_500)),
            (Tier::Platinum, Decimal::from(4_000)),
        ],
    };
    let mut shares = Policies::default();
    shares.tier.ladder = TierLadder::vip_heavy();
    let base = best(|| {
        black_box(evaluate_book(&svc, t, now));
    });
    let mut moves = 0;
    let new_ladder = best(|| {
        moves = black_box(block_on(svc.simulate(t, &ladder, now)).unwrap())
            .moves
            .len();
    });
    let mut share_moves = 0;
    let share = best(|| {
        share_moves = black_box(block_on(svc.simulate(t, &shares, now)).unwrap())
            .moves
            .len();
    });
    println!(
        "summary (best of 3, 1M customers in memory): baseline scan + evaluate {base:.3} s; \
         simulate a new threshold ladder {new_ladder:.3} s ({:.2}x the baseline, {moves} moves; goal < 2 s); \
         simulate vip_heavy (ranking pass) {share:.3} s ({:.2}x, {share_moves} moves)",
        new_ladder / base,
        share / base
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

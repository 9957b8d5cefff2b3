//! The record-purchase use case over rapport-memory (load → fold → evaluate → changeset with
//! outbox → apply), beside the pure work it wraps (`Stats::apply` + `evaluate`), in its own
//! process so no other benchmark's heap is in the way.
//!
//! Run: `cargo bench -p rapport --bench record`
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
    // A running relay drains the outbox; here every 1,000th purchase claims and acks what is
    // pending (inside the measurement: the relay's work is part of the cost of a purchase).
    // 1,000 customers end the run with thousands of purchases each; 100,000 with tens.
    for (name, customers) in [
        ("service_record_purchase", 1_000u64),
        ("service_record_purchase_100k_customers", 100_000),
    ] {
        let svc = Service::new(MemoryStore::new());
        let ids: Vec<CustomerId> = (0..customers)
            .map(|_| {
                block_on(svc.register(t, Profile::default()))
                    .unwrap()
                    .customer
                    .id()
            })
            .collect();
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                if i % 1000 == 0 {
                    let claimed = block_on(svc.store().claim_outbox(
                        100_000,
                        Duration::from_secs(60),
                        now,
                    ))
                    .unwrap();
                    let done: Vec<MessageId> = claimed.iter().map(|m| m.id).collect();
                    block_on(svc.store().ack_outbox(&done)).unwrap();
                }
                let who = ids[(i % customers) as usize];
                black_box(block_on(svc.record(t, purchase(i, who))).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_record);
criterion_main!(benches);

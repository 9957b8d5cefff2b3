//! Privacy on SQLite, in the same run: erasing customers (`Service::erase`: the tombstone,
//! stripped activities and consent entries, dropped outbox rows, the record, then the WAL
//! checkpoint the writer runs after an erasure) against plain `apply` of one customer update
//! each (the baseline: the issue asks erasure ≥ 0.5× its throughput); and the export of a
//! customer with 10,000 activities (the issue asks < 20 ms).
//!
//! Run: `cargo bench -p rapport-sqlite --bench privacy`
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport::ConsentRequest;
use rapport::blocking::Service;
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};

const T: TenantId = TenantId::from_u128(1);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// `n` customers from `base`, each with an email, a purchase, a visit with free text and a
/// consent entry (what an erasure has to strip).
fn populate(svc: &Service<SqliteStore>, base: u128, n: u64) -> Vec<CustomerId> {
    let mut cs = Changeset::new();
    let mut ids = Vec::new();
    for i in 0..u128::from(n) {
        let id = CustomerId::from_u128(base + i);
        let profile = Profile {
            email: Some(Pii::new(
                Email::parse(&format!("c{}@example.com", base + i)).unwrap(),
            )),
            display_name: Some(Pii::new(format!("Name {}", base + i))),
            ..Profile::default()
        };
        let c = Customer::new(T, id, profile, now());
        let buy = Activity::new(
            ActivityId::from_u128(base + i),
            id,
            now(),
            Channel::Web,
            IdempotencyKey::new(format!("o-{}", base + i)).unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("o-{}", base + i)).unwrap(),
                amount: Money::new(rust_decimal::Decimal::new(1999, 2), Currency::USD),
                margin: None,
            },
        )
        .unwrap();
        let visit = Activity::new(
            ActivityId::from_u128(base + i + (1 << 64)),
            id,
            now(),
            Channel::Web,
            IdempotencyKey::new(format!("v-{}", base + i)).unwrap(),
            ActivityKind::Visit {
                item: Some(format!("item {}", base + i)),
            },
        )
        .unwrap();
        let stats = Stats::from_activities([&buy, &visit]).unwrap();
        cs.create(c, stats);
        cs.activities.extend([buy, visit]);
        ids.push(id);
    }
    block_on(svc.inner().store().apply(T, &cs)).unwrap();
    for id in &ids {
        svc.grant(
            T,
            *id,
            ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "signup-form"),
        )
        .unwrap();
    }
    ids
}

fn bench_erasure(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("b.db"), SqliteConfig::default(), now()).unwrap();
    let svc = Service::new(store);
    let mut next = 1u128 << 32;
    let mut g = c.benchmark_group("privacy_sqlite");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    // Baseline: one `apply` per customer, a version step (what any use case writes).
    g.bench_function("apply_update_baseline", |b| {
        b.iter_custom(|iters| {
            let ids = populate(&svc, next, iters);
            next += u128::from(iters) + 1;
            let store = svc.inner().store();
            let reads: Vec<Record> = ids
                .iter()
                .map(|id| block_on(store.load(T, *id)).unwrap().unwrap())
                .collect();
            let start = Instant::now();
            for r in reads {
                let mut cs = Changeset::new();
                let mut n = r.customer.next_version();
                n.churn_alert = !n.churn_alert;
                cs.update(&r.customer, n, r.stats);
                block_on(store.apply(T, &cs)).unwrap();
            }
            start.elapsed()
        });
    });
    g.bench_function("erase", |b| {
        b.iter_custom(|iters| {
            let ids = populate(&svc, next, iters);
            next += u128::from(iters) + 1;
            let start = Instant::now();
            for id in ids {
                svc.erase(T, id, "bench", "gdpr-art17").unwrap();
            }
            start.elapsed()
        });
    });
    g.finish();
}

fn bench_export(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("e.db"), SqliteConfig::default(), now()).unwrap();
    let svc = Service::new(store);
    let id = populate(&svc, 1, 1)[0];
    let mut cs = Changeset::new();
    for i in 0..10_000u32 {
        cs.activities.push(
            Activity::new(
                ActivityId::from_u128(1_000_000 + u128::from(i)),
                id,
                now() - chrono::Duration::minutes(i64::from(i)),
                Channel::Web,
                IdempotencyKey::new(format!("x-{i}")).unwrap(),
                ActivityKind::Visit {
                    item: Some(format!("sku-{i}")),
                },
            )
            .unwrap(),
        );
    }
    block_on(svc.inner().store().apply(T, &cs)).unwrap();
    let doc = svc.export(T, id).unwrap();
    assert_eq!(doc.activities.len(), 10_002);
    let mut g = c.benchmark_group("privacy_sqlite");
    g.sample_size(20);
    g.bench_function("export_10k_activities_to_json", |b| {
        b.iter(|| {
            let doc = svc.export(T, id).unwrap();
            serde_json::to_vec(&doc).unwrap().len()
        });
    });
    g.finish();
}

criterion_group!(benches, bench_erasure, bench_export);
criterion_main!(benches);

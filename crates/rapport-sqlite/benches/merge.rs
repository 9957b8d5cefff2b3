//! `merge` throughput on SQLite beside `apply` of single-customer changesets, in the same run
//! (issue #15: merge ≥ 0.5× apply). A merge here is what `Service::merge` does: read both
//! customers, histories and belongings in one job (`merge_inputs`), decide (`plan_merge`), apply one changeset (two customer
//! writes, the loser's activities moved, a merge record). Two baselines: a bare one-customer
//! update (load, flip a flag, apply: one row, no event), and the single-customer changeset the
//! service writes most — a purchase recorded (load, the activity folded into the stats, the
//! customer evaluated, the activity, the customer and its events applied at once, as
//! `Service::record` does). A further case is the merge read as four separate reader jobs
//! without belongings (the path before `merge_inputs`). Customers are evaluated when they are
//! written (as the service stores them), and pairs and customers are written before each
//! timed batch.
//!
//! The machine this runs on is often shared, so wall times swing; the bench also prints the
//! **CPU time** of the process per operation (all its threads: caller, reader, writer), in
//! three interleaved rounds of 300 applies and 300 merges, and the ratio of the two — what
//! the code costs, whatever else the machine runs.
//!
//! Run: `cargo bench -p rapport-sqlite --bench merge`
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport_core::ports::MergeStore;
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

const T: TenantId = TenantId::from_u128(1);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next() -> u128 {
    u128::from(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A customer with two purchases, written in one changeset; returns its id.
fn customer(store: &SqliteStore) -> CustomerId {
    let n = next();
    let profile = Profile {
        email: Some(Pii::new(
            Email::parse(&format!("c{n}@example.com")).unwrap(),
        )),
        ..Profile::default()
    };
    let c = Customer::new(T, CustomerId::from_u128(n), profile, now());
    let acts: Vec<Activity> = (0..2)
        .map(|k| {
            Activity::new(
                ActivityId::from_u128(n * 10 + k),
                c.id(),
                now() - chrono::Duration::days(i64::try_from(k).unwrap() * 30 + 1),
                Channel::Web,
                IdempotencyKey::new(format!("o{n}-{k}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}-{k}")).unwrap(),
                    amount: Money::new(Decimal::from(50), Currency::USD),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    let stats = Stats::from_activities(&acts).unwrap();
    let mut c = c;
    evaluate(&c, &stats, &Policies::default(), &EvalInputs::at(now()))
        .unwrap()
        .apply_to(&mut c);
    let mut cs = Changeset::new();
    cs.create(c.clone(), stats);
    cs.activities = acts;
    block_on(store.apply(T, &cs)).unwrap();
    c.id()
}

fn merge_once(store: &SqliteStore, s: CustomerId, l: CustomerId, policies: &Policies) {
    let (s, l) = block_on(store.merge_inputs(T, s, l)).unwrap().unwrap();
    let ctx = MergeContext {
        id: MergeId::from_u128(next()),
        actor: Actor::new("bench").unwrap(),
        now: now(),
    };
    let mut ids = || MessageId::from_u128(next());
    let planned = plan_merge(
        &s.record.customer,
        &s.activities,
        &l.record.customer,
        &l.record.stats,
        &l.activities,
        &s.belongings,
        &l.belongings,
        &SurvivorshipPolicy::default(),
        policies,
        &ctx,
        &mut ids,
    )
    .unwrap();
    block_on(store.apply(T, &planned.changeset)).unwrap();
}

fn apply_once(store: &SqliteStore, id: CustomerId) {
    let r = block_on(store.load(T, id)).unwrap().unwrap();
    let mut next_c = r.customer.next_version();
    next_c.churn_alert = !next_c.churn_alert;
    let mut cs = Changeset::new();
    cs.update(&r.customer, next_c, r.stats);
    block_on(store.apply(T, &cs)).unwrap();
}

/// A purchase recorded as `Service::record` records it: the customer loaded, the activity
/// folded into its stats, the customer evaluated, and one changeset with the customer, the
/// activity and its events (`activity_recorded` and whatever the evaluation decided).
fn record_once(store: &SqliteStore, id: CustomerId, policies: &Policies) {
    let r = block_on(store.load(T, id)).unwrap().unwrap();
    let n = next();
    let a = Activity::new(
        ActivityId::from_u128(n),
        id,
        now(),
        Channel::Web,
        IdempotencyKey::new(format!("r{n}")).unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new(format!("r{n}")).unwrap(),
            amount: Money::new(Decimal::from(20), Currency::USD),
            margin: None,
        },
    )
    .unwrap();
    let mut stats = r.stats;
    stats.apply(&a).unwrap();
    let mut c = r.customer.next_version();
    let e = evaluate(&c, &stats, policies, &EvalInputs::at(now())).unwrap();
    e.apply_to(&mut c);
    let mut events = vec![DomainEvent::ActivityRecorded {
        customer: id,
        activity: a.id,
        kind: a.kind.activity_type(),
    }];
    events.extend(e.events.iter().cloned());
    let mut cs = Changeset::new();
    cs.update(&r.customer, c, stats);
    cs.activities = vec![a];
    cs.outbox = events
        .into_iter()
        .map(|ev| OutboxMessage::new(MessageId::from_u128(next()), T, now(), ev))
        .collect();
    block_on(store.apply(T, &cs)).unwrap();
}

/// CPU time used by this process so far: the sum over its threads of the scheduler's
/// run time (`/proc/self/task/*/schedstat`, nanoseconds; Linux). Threads that ended are not
/// counted, so read it around work done by long-lived threads (the store's).
fn cpu() -> Duration {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text
                .split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}

/// Per-operation CPU and wall time of bare applies, recorded purchases and merges, interleaved
/// in rounds.
fn cpu_summary(store: &SqliteStore, policies: &Policies) {
    const N: usize = 300;
    // [bare apply, recorded purchase, merge]: (cpu, wall)
    let mut sum = [(Duration::ZERO, Duration::ZERO); 3];
    let mut timed = |k: usize, f: &mut dyn FnMut()| {
        let (c, w) = (cpu(), Instant::now());
        f();
        sum[k].0 += cpu() - c;
        sum[k].1 += w.elapsed();
    };
    for _ in 0..3 {
        let ids: Vec<CustomerId> = (0..N).map(|_| customer(store)).collect();
        timed(0, &mut || ids.iter().for_each(|&id| apply_once(store, id)));
        let ids: Vec<CustomerId> = (0..N).map(|_| customer(store)).collect();
        timed(1, &mut || {
            ids.iter().for_each(|&id| record_once(store, id, policies));
        });
        let pairs: Vec<(CustomerId, CustomerId)> =
            (0..N).map(|_| (customer(store), customer(store))).collect();
        timed(2, &mut || {
            pairs
                .iter()
                .for_each(|&(s, l)| merge_once(store, s, l, policies));
        });
    }
    let per = |d: Duration| d / (3 * N as u32);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let [bare, record, merge] = sum;
    println!(
        "summary cpu per op: bare apply {:?}, recorded purchase {:?}, merge {:?} \
         (merge throughput {:.2}x the recorded purchase, {:.2}x the bare apply); \
         wall per op: {:?}, {:?}, {:?} ({:.2}x, {:.2}x)",
        per(bare.0),
        per(record.0),
        per(merge.0),
        ratio(record.0, merge.0),
        ratio(bare.0, merge.0),
        per(bare.1),
        per(record.1),
        per(merge.1),
        ratio(record.1, merge.1),
        ratio(bare.1, merge.1),
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("m.db"), SqliteConfig::default(), now()).unwrap();
    let policies = Policies::default();
    cpu_summary(&store, &policies);
    let mut g = c.benchmark_group("sqlite_merge");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("apply: load + one-customer update", |b| {
        b.iter_custom(|iters| {
            let ids: Vec<CustomerId> = (0..iters).map(|_| customer(&store)).collect();
            let start = Instant::now();
            for id in ids {
                apply_once(&store, id);
            }
            start.elapsed()
        });
    });
    g.bench_function(
        "apply: a recorded purchase (activity, stats, evaluation, events)",
        |b| {
            b.iter_custom(|iters| {
                let ids: Vec<CustomerId> = (0..iters).map(|_| customer(&store)).collect();
                let start = Instant::now();
                for id in ids {
                    record_once(&store, id, &policies);
                }
                start.elapsed()
            });
        },
    );
    g.bench_function("merge: load both + histories + plan + apply", |b| {
        b.iter_custom(|iters| {
            let pairs: Vec<(CustomerId, CustomerId)> = (0..iters)
                .map(|_| (customer(&store), customer(&store)))
                .collect();
            let start = Instant::now();
            for (s, l) in pairs {
                merge_once(&store, s, l, &policies);
            }
            start.elapsed()
        });
    });
    g.bench_function("merge without belongings reads (4 reads)", |b| {
        b.iter_custom(|iters| {
            let pairs: Vec<(CustomerId, CustomerId)> = (0..iters)
                .map(|_| (customer(&store), customer(&store)))
                .collect();
            let start = Instant::now();
            for (s, l) in pairs {
                let rs = block_on(store.load(T, s)).unwrap().unwrap();
                let rl = block_on(store.load(T, l)).unwrap().unwrap();
                let sa = block_on(store.activities(T, s, TimeRange::all())).unwrap();
                let la = block_on(store.activities(T, l, TimeRange::all())).unwrap();
                let none = Belongings::default();
                let ctx = MergeContext {
                    id: MergeId::from_u128(next()),
                    actor: Actor::new("bench").unwrap(),
                    now: now(),
                };
                let mut ids = || MessageId::from_u128(next());
                let planned = plan_merge(
                    &rs.customer,
                    &sa,
                    &rl.customer,
                    &rl.stats,
                    &la,
                    &none,
                    &none,
                    &SurvivorshipPolicy::default(),
                    &policies,
                    &ctx,
                    &mut ids,
                )
                .unwrap();
                block_on(store.apply(T, &planned.changeset)).unwrap();
            }
            start.elapsed()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! What checking a refund against its order costs for a customer with 10,000 orders, both
//! ways (figures in docs/reliability.md, "Refunds name their order"):
//!
//! - **re-read** (what `Service::record` does): read the customer's activities, fold an
//!   `OrderLedger`, decide — paid by refunds only;
//! - **kept in `Stats`** (not done): a per-order map in the stats row would make the decision a
//!   lookup, but every load and write of the customer (every purchase, every sweep row) would
//!   carry it; measured here as the size and the JSON round trip of such a map.
//!
//! Run: `cargo test --release -p rapport-sqlite --test refund_cost -- --ignored --nocapture`
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::ports::{ActivityImport, ImportPolicy};
use rapport::core::*;
use rapport::{ManualClock, NewActivity, Service};
use rapport_sqlite::{SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

const ORDERS: usize = 10_000;
const RUNS: usize = 30;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

fn median(mut v: Vec<StdDuration>) -> StdDuration {
    v.sort();
    v[v.len() / 2]
}

/// Purchases of `ORDERS` orders, one a day going back from `t0`.
fn purchases(id: CustomerId) -> Vec<Activity> {
    (0..ORDERS)
        .map(|i| {
            Activity::new(
                ActivityId::from_u128(1_000_000 + i as u128),
                id,
                t0() - Duration::hours(6 * i as i64 + 24),
                Channel::Web,
                IdempotencyKey::new(format!("purchase:O-{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("O-{i}")).unwrap(),
                    amount: usd(5_000),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect()
}

fn measure<S: Store>(name: &str, svc: &Service<S>, t: TenantId, id: CustomerId) {
    let mut refund = Vec::new();
    let mut purchase = Vec::new();
    let mut read = Vec::new();
    for i in 0..RUNS {
        let r = NewActivity::refund(
            id,
            format!("O-{i}"),
            usd(100),
            t0() + Duration::seconds(i as i64),
        )
        .unwrap();
        let start = Instant::now();
        block_on(svc.record(t, r)).unwrap();
        refund.push(start.elapsed());
        let p = NewActivity::purchase(
            id,
            format!("N-{i}"),
            usd(100),
            t0() + Duration::seconds(i as i64),
        )
        .unwrap();
        let start = Instant::now();
        block_on(svc.record(t, p)).unwrap();
        purchase.push(start.elapsed());
        let start = Instant::now();
        let all = block_on(svc.store().activities(t, id, TimeRange::all())).unwrap();
        let ledger = OrderLedger::from_activities(&all).unwrap();
        read.push(start.elapsed());
        assert!(ledger.len() >= ORDERS);
    }
    let stats = block_on(svc.customer(t, id)).unwrap().stats;
    let json = serde_json::to_string(&stats).unwrap();
    println!(
        "{name}: {ORDERS} orders — record(refund) median {:?}, record(purchase) median {:?}, \
         activities read + ledger fold median {:?}; stats JSON {} bytes",
        median(refund),
        median(purchase),
        median(read),
        json.len()
    );
}

/// The map a `Stats`-kept ledger would carry: per order, its time, amount, refunded, closed.
type KeptMap = BTreeMap<String, (DateTime<Utc>, Money, Decimal, bool)>;

fn kept_map_cost(stats: &Stats) {
    let map: KeptMap = (0..ORDERS)
        .map(|i| {
            (
                format!("O-{i}"),
                (
                    t0() - Duration::hours(6 * i as i64),
                    usd(5_000),
                    Decimal::ZERO,
                    false,
                ),
            )
        })
        .collect();
    let plain = serde_json::to_string(stats).unwrap();
    let with_map = serde_json::to_string(&(stats, &map)).unwrap();
    let round = |s: &str, with: bool| {
        let start = Instant::now();
        for _ in 0..RUNS {
            if with {
                let back: (Stats, KeptMap) = serde_json::from_str(s).unwrap();
                std::hint::black_box(serde_json::to_string(&back).unwrap());
            } else {
                let back: Stats = serde_json::from_str(s).unwrap();
                std::hint::black_box(serde_json::to_string(&back).unwrap());
            }
        }
        start.elapsed() / RUNS as u32
    };
    println!(
        "kept in Stats: stats JSON {} → {} bytes; read+write of the row's JSON {:?} → {:?} \
         (on every load and write of the customer)",
        plain.len(),
        with_map.len(),
        round(&plain, false),
        round(&with_map, true)
    );
}

#[test]
#[ignore = "a measurement: run in release with --nocapture"]
fn refund_cost_with_10k_orders() {
    let t = TenantId::from_u128(1);
    // Memory.
    let svc = Service::new(rapport_memory::MemoryStore::new()).with_clock(ManualClock::at(t0()));
    let id = block_on(svc.register(t, Profile::default()))
        .unwrap()
        .customer
        .id();
    for a in purchases(id) {
        let p = NewActivity {
            customer: id,
            at: a.at,
            channel: a.channel,
            idempotency_key: a.idempotency_key,
            kind: a.kind,
        };
        block_on(svc.record(t, p)).unwrap();
    }
    measure("memory", &svc, t, id);
    // SQLite (file, WAL, default config), orders bulk-imported.
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(dir.path().join("cost.db"), SqliteConfig::default(), t0()).unwrap();
    let svc = Service::new(store).with_clock(ManualClock::at(t0()));
    let id = block_on(svc.register(t, Profile::default()))
        .unwrap()
        .customer
        .id();
    let orders = purchases(id).into_iter().map(Into::into).collect();
    block_on(
        svc.store()
            .import_activities(t, orders, &ImportPolicy::default()),
    )
    .unwrap();
    measure("sqlite", &svc, t, id);
    kept_map_cost(&block_on(svc.customer(t, id)).unwrap().stats);
}

//! rapport-sqlite side by side with raw rusqlite, in the same run:
//! bulk import vs a raw prepared INSERT; 8 concurrent `apply` callers (group commit) vs raw
//! single-row commits; point `load` vs a raw point SELECT; a segment query over 100k customers
//! with the SQL prefilter vs the default scan + `Segment::matches`.
//!
//! Run: `cargo bench -p rapport-sqlite --bench sqlite`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore, Synchronous};
use rusqlite::{Connection, params};

const IMPORT_ROWS: usize = 1_000_000;
const BATCH: usize = 10_000;
const WRITES: usize = 4_000;
const THREADS: usize = 8;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn customers(n: usize) -> Vec<(Customer, Stats)> {
    let t = TenantId::from_u128(1);
    (0..n)
        .map(|i| {
            let profile = Profile {
                email: Some(Pii::new(
                    Email::parse(&format!("c{i}@example.com")).unwrap(),
                )),
                ..Profile::default()
            };
            (
                Customer::new(t, CustomerId::from_u128(i as u128 + 1), profile, now()),
                Stats::default(),
            )
        })
        .collect()
}

fn raw_conn(path: &std::path::Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS raw (tenant_id BLOB NOT NULL, id BLOB NOT NULL, email TEXT,
             body TEXT NOT NULL, PRIMARY KEY (tenant_id, id)) WITHOUT ROWID",
    )
    .unwrap();
    c
}

fn bench_import(c: &mut Criterion) {
    let rows = customers(IMPORT_ROWS);
    let bodies: Vec<(Vec<u8>, String, String)> = rows
        .iter()
        .map(|(c, _)| {
            (
                c.id().to_bytes().to_vec(),
                c.profile.email.as_ref().unwrap().expose().to_string(),
                serde_json::to_string(c).unwrap(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("import_1m_customers");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(IMPORT_ROWS as u64));
    g.bench_function("raw_prepared_insert", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let mut conn = raw_conn(&dir.path().join("raw.db"));
                let start = Instant::now();
                for chunk in bodies.chunks(BATCH) {
                    let tx = conn.transaction().unwrap();
                    {
                        let mut st = tx
                            .prepare_cached("INSERT INTO raw (tenant_id, id, email, body) VALUES (?1, ?2, ?3, ?4)")
                            .unwrap();
                        for (id, email, body) in chunk {
                            st.execute(params![[1u8; 16], id, email, body]).unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
                total += start.elapsed();
            }
            total
        });
    });
    g.bench_function("rapport_import_customers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let store =
                    SqliteStore::open(dir.path().join("r.db"), SqliteConfig::default(), now())
                        .unwrap();
                let start = Instant::now();
                for chunk in rows.chunks(BATCH) {
                    block_on(store.import_customers(TenantId::from_u128(1), chunk)).unwrap();
                }
                total += start.elapsed();
            }
            total
        });
    });
    g.finish();
}

fn raw_single_row_commits(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    sync: &str,
) {
    let sync = sync.to_owned();
    g.bench_function(
        format!("raw_single_row_commit_{}", sync.to_lowercase()),
        |b| {
            let dir = tempfile::tempdir().unwrap();
            let conn = raw_conn(&dir.path().join("raw.db"));
            conn.pragma_update(None, "synchronous", &sync).unwrap();
            let mut n = 0u128;
            b.iter(|| {
                for _ in 0..WRITES {
                    n += 1;
                    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                    conn.prepare_cached(
                        "INSERT INTO raw (tenant_id, id, email, body) VALUES (?1, ?2, 'x', '{}')",
                    )
                    .unwrap()
                    .execute(params![[1u8; 16], n.to_be_bytes()])
                    .unwrap();
                    conn.execute_batch("COMMIT").unwrap();
                }
            });
        },
    );
}

fn rapport_8_callers(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    synchronous: Synchronous,
) {
    let name = match synchronous {
        Synchronous::Full => "rapport_apply_8_callers_full",
        _ => "rapport_apply_8_callers_normal",
    };
    g.bench_function(name, |b| {
        let dir = tempfile::tempdir().unwrap();
        let config = SqliteConfig {
            synchronous,
            ..SqliteConfig::default()
        };
        let store = Arc::new(SqliteStore::open(dir.path().join("r.db"), config, now()).unwrap());
        let t = TenantId::from_u128(1);
        let mut next = 0u128;
        b.iter(|| {
            let base = next;
            next += WRITES as u128;
            std::thread::scope(|s| {
                for th in 0..THREADS {
                    let store = Arc::clone(&store);
                    s.spawn(move || {
                        for k in 0..WRITES / THREADS {
                            let id = base + (th * (WRITES / THREADS) + k) as u128 + 1;
                            let c = Customer::new(
                                t,
                                CustomerId::from_u128(id),
                                Profile::default(),
                                now(),
                            );
                            let mut cs = Changeset::new();
                            cs.create(c, Stats::default());
                            block_on(Store::apply(&*store, t, &cs)).unwrap();
                        }
                    });
                }
            });
        });
    });
}

fn bench_concurrent_apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_single_customer_writes");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(WRITES as u64));
    raw_single_row_commits(&mut g, "NORMAL");
    rapport_8_callers(&mut g, Synchronous::Normal);
    raw_single_row_commits(&mut g, "FULL");
    rapport_8_callers(&mut g, Synchronous::Full);
    g.finish();
}

fn bench_point_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = SqliteStore::open(&path, SqliteConfig::default(), now()).unwrap();
    let t = TenantId::from_u128(1);
    for chunk in customers(100_000).chunks(BATCH) {
        block_on(store.import_customers(t, chunk)).unwrap();
    }
    let raw = Connection::open(&path).unwrap();
    let mut g = c.benchmark_group("point_load");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u128;
    g.bench_function("raw_point_select", |b| {
        b.iter(|| {
            i = i % 100_000 + 1;
            let body: String = raw
                .prepare_cached(
                    "SELECT customer_json || stats_json FROM rapport_customers WHERE tenant_id = ?1 AND customer_id = ?2",
                )
                .unwrap()
                .query_row(params![t.to_bytes(), CustomerId::from_u128(i).to_bytes()], |r| r.get(0))
                .unwrap();
            black_box(body)
        });
    });
    g.bench_function("rapport_load", |b| {
        b.iter(|| {
            i = i % 100_000 + 1;
            black_box(block_on(Store::load(&store, t, CustomerId::from_u128(i))).unwrap())
        });
    });
    g.finish();
}

fn bench_sweep(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let store =
        SqliteStore::open(dir.path().join("sweep.db"), SqliteConfig::default(), now()).unwrap();
    let t = TenantId::from_u128(1);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let rows = rapport_sql::testing::sweep_population(t, N, start);
    store
        .import_customers_iter(t, rows, 10_000, |_| {})
        .unwrap();
    let svc = rapport::Service::new(store);
    let mut g = c.benchmark_group("sweep_1m_customers_sqlite");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(60));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_scan_all_pages", |b| {
        b.iter(|| black_box(rapport_sql::testing::scan_pages(svc.store(), t, 10_000)))
    });
    let mut day = 0;
    g.bench_function("sweep", |b| {
        b.iter(|| {
            day += 1;
            let at =
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day);
            black_box(block_on(svc.sweep(t, at, 10_000, |_| {})).unwrap())
        })
    });
    g.finish();
}

/// 100k generated customers (a year of BG/NBD-like purchases), with emails on half, tiers by
/// revenue and a `vip:gold` tag on one in twenty (some expired).
fn segment_store(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(dir.join("seg.db"), SqliteConfig::default(), now()).unwrap();
    let t = TenantId::from_u128(1);
    let (start, end) = rapport_testkit::generate::year_2026();
    let vip: Tag = "vip:gold".parse().unwrap();
    let rows = rapport_testkit::generate::customers(t, SEGMENT_CUSTOMERS, 7, start, end)
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let mut c = g.customer;
            if i % 2 == 0 {
                c.profile.email = Email::parse(&format!("c{i}@shop{}.example.com", i % 10))
                    .ok()
                    .map(Pii::new);
            }
            let revenue = g.stats.revenue_amount();
            c.set_tier_state(rapport_core::TierState {
                tier: match revenue {
                    r if r >= rust_decimal::Decimal::from(2_000) => Tier::Platinum,
                    r if r >= rust_decimal::Decimal::from(800) => Tier::Gold,
                    r if r > rust_decimal::Decimal::ZERO => Tier::Iron,
                    _ => Tier::Lead,
                },
                ..c.tier_state().clone()
            })
            .unwrap();
            if i % 20 == 0 {
                let expires = (i % 40 == 0).then(|| start + chrono::Duration::days(30));
                c.tags
                    .insert(vip.clone(), TagSource::Manual, start, expires);
            }
            (c, g.stats)
        });
    store.import_customers_iter(t, rows, BATCH, |_| {}).unwrap();
    store
}

const SEGMENT_CUSTOMERS: usize = 100_000;

fn bench_segment_query(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = segment_store(dir.path());
    let t = TenantId::from_u128(1);
    let at = Utc.with_ymd_and_hms(2027, 1, 15, 9, 0, 0).unwrap();
    let cases = [
        (
            "selective_columns",
            "tier >= gold and orders >= 10 and days_since_last_purchase <= 60",
        ),
        ("tag", r#"has_tag("vip:gold") and has_email == true"#),
        ("not_compilable", "revenue_90d > 150"),
    ];
    let mut g = c.benchmark_group("segment_query_100k_customers");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(200));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(SEGMENT_CUSTOMERS as u64));
    for (name, text) in cases {
        let seg = Segment::parse(text).unwrap();
        let run = |default: bool| {
            let mut page = Page::first(1_000);
            let mut n = 0;
            loop {
                let rows = if default {
                    block_on(rapport_core::ports::query_by_scan(
                        &store, t, &seg, at, page,
                    ))
                } else {
                    block_on(Store::query(&store, t, &seg, at, page))
                }
                .unwrap();
                n += rows.len();
                if rows.len() < page.limit as usize {
                    break n;
                }
                page.after = rows.last().map(|r| r.customer.id());
            }
        };
        let (sql, scan) = (run(false), run(true));
        assert_eq!(sql, scan, "{name}: both paths find the same customers");
        eprintln!("segment_query {name}: `{text}` matches {sql} of {SEGMENT_CUSTOMERS}");
        g.bench_function(format!("{name}/sql_prefilter"), |b| {
            b.iter(|| black_box(run(false)))
        });
        g.bench_function(format!("{name}/scan_filter"), |b| {
            b.iter(|| black_box(run(true)))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_import,
    bench_concurrent_apply,
    bench_point_load,
    bench_sweep,
    bench_segment_query
);
criterion_main!(benches);

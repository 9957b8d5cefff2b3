//! rapport-postgres side by side with raw tokio-postgres, in the same run and on the same
//! server: bulk import (the `COPY BINARY` path and the per-row statements) vs a raw
//! `COPY BINARY` of id + email + JSON rows; 8 concurrent `apply` callers vs raw single-row
//! `INSERT … COMMIT`s from 8 connections (of a narrow row, and of the customer row `apply`
//! writes); point `load` vs a raw point `SELECT`; a
//! `rapport::Service` sweep of 100k customers vs scanning all pages. Import, apply and load
//! run on the plain layout and again on the hash-partitioned one (`…_partitioned`, 16
//! partitions by `tenant_id`; the bench's single tenant lives in one of them, so those runs
//! measure what partitioning costs a tenant, not what spreading tenants gains).
//!
//! The server comes from `RAPPORT_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); everything is written in a schema of the
//! bench's own, dropped at the end. Unreachable, the bench prints a notice and does nothing.
//!
//! Run: `cargo bench -p rapport-postgres --bench postgres`
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{ImportPath, Layout, PostgresConfig, PostgresStore, SslMode};
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

const IMPORT_ROWS: usize = 100_000;
const BATCH: usize = 10_000;
const WRITES: usize = 2_000;
const THREADS: usize = 8;
const LOAD_ROWS: usize = 100_000;
const SWEEP_ROWS: usize = 100_000;

fn url() -> String {
    std::env::var("RAPPORT_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

const T: TenantId = TenantId::from_u128(1);

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn raw_client() -> Client {
    let (client, conn) = tokio_postgres::connect(&url(), NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// A schema of the bench's own, with the raw table.
fn schema(name: &str) -> String {
    format!("rapport_bench_{}_{name}", std::process::id())
}

fn store(schema: &str, import: ImportPath) -> PostgresStore {
    store_in(schema, import, Layout::Plain)
}

/// The partitions of the partitioned layout's runs.
const PARTITIONS: u16 = 16;

fn store_in(schema: &str, import: ImportPath, layout: Layout) -> PostgresStore {
    // The raw baselines connect without TLS (`NoTls`); the store's default `sslmode=prefer`
    // would take the TLS the local server offers and encrypt every message. Same transport on
    // both sides, so that the ratios measure rapport, not TLS.
    let config = PostgresConfig::new(url())
        .with_schema(schema)
        .with_import(import)
        .with_layout(layout)
        .with_ssl_mode(SslMode::Disable);
    block_on(PostgresStore::connect(config, now())).unwrap()
}

/// Both layouts, with the suffix of the partitioned runs' names.
fn layouts() -> [(Layout, &'static str); 2] {
    [
        (Layout::Plain, ""),
        (
            Layout::HashPartitioned {
                partitions: PARTITIONS,
            },
            "_partitioned",
        ),
    ]
}

fn customers(n: usize) -> Vec<(Customer, Stats)> {
    (0..n)
        .map(|i| {
            let profile = Profile {
                email: Some(Pii::new(
                    Email::parse(&format!("c{i}@example.com")).unwrap(),
                )),
                ..Profile::default()
            };
            (
                Customer::new(T, CustomerId::from_u128(i as u128 + 1), profile, now()),
                Stats::default(),
            )
        })
        .collect()
}

async fn raw_table(client: &Client, schema: &str) {
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE TABLE IF NOT EXISTS \"{schema}\".raw (tenant_id uuid NOT NULL,
                 id uuid NOT NULL, email text, body text NOT NULL,
                 PRIMARY KEY (tenant_id, id));
             TRUNCATE \"{schema}\".raw"
        ))
        .await
        .unwrap();
}

/// The raw table with the unique `(tenant_id, email)` index a rapport customers table has:
/// the second baseline of the import, which tells the index's share of the gap from the rest.
async fn raw_table_email_index(client: &Client, schema: &str) {
    raw_table(client, schema).await;
    client
        .batch_execute(&format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS raw_email ON \"{schema}\".raw (tenant_id, email)
                 WHERE email IS NOT NULL"
        ))
        .await
        .unwrap();
}

fn bench_import(c: &mut Criterion, rt: &Runtime) {
    let rows = customers(IMPORT_ROWS);
    let bodies: Vec<(Uuid, String, String)> = rows
        .iter()
        .map(|(c, _)| {
            (
                *c.id().as_uuid(),
                c.profile.email.as_ref().unwrap().expose().to_string(),
                serde_json::to_string(c).unwrap(),
            )
        })
        .collect();
    let raw_schema = schema("import_raw");
    let mut raw = rt.block_on(raw_client());
    let mut g = c.benchmark_group("import_100k_customers_postgres");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(IMPORT_ROWS as u64));
    for (name, email_index) in [
        ("raw_copy_binary", false),
        ("raw_copy_binary_email_index", true),
    ] {
        g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if email_index {
                    rt.block_on(raw_table_email_index(&raw, &raw_schema));
                } else {
                    rt.block_on(raw_table(&raw, &raw_schema));
                }
                let start = Instant::now();
                rt.block_on(async {
                    let copy = format!(
                        "COPY \"{raw_schema}\".raw (tenant_id, id, email, body) FROM STDIN (FORMAT binary)"
                    );
                    for chunk in bodies.chunks(BATCH) {
                        let tx = raw.transaction().await.unwrap();
                        let sink = tx.copy_in(&copy).await.unwrap();
                        let mut w = pin!(BinaryCopyInWriter::new(
                            sink,
                            &[Type::UUID, Type::UUID, Type::TEXT, Type::TEXT]
                        ));
                        for (id, email, body) in chunk {
                            w.as_mut()
                                .write(&[T.as_uuid(), id, email, body])
                                .await
                                .unwrap();
                        }
                        w.as_mut().finish().await.unwrap();
                        tx.commit().await.unwrap();
                    }
                });
                total += start.elapsed();
            }
            total
        });
    });
    }
    for (name, path, layout) in [
        (
            "rapport_import_customers_copy",
            ImportPath::Copy,
            Layout::Plain,
        ),
        (
            "rapport_import_customers_copy_partitioned",
            ImportPath::Copy,
            Layout::HashPartitioned {
                partitions: PARTITIONS,
            },
        ),
        (
            "rapport_import_customers_statements",
            ImportPath::Statements,
            Layout::Plain,
        ),
    ] {
        let schema = schema(name);
        let store = store_in(&schema, path, layout);
        let truncate = format!("TRUNCATE \"{schema}\".customers");
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rt.block_on(raw.batch_execute(&truncate)).unwrap();
                    let start = Instant::now();
                    for chunk in rows.chunks(BATCH) {
                        let r = block_on(store.import_customers(T, chunk)).unwrap();
                        assert_eq!(r.inserted, chunk.len());
                    }
                    total += start.elapsed();
                }
                total
            });
        });
        block_on(store.drop_schema()).unwrap();
    }
    // A fresh database's first load: every row in one copy, the contact indexes built after.
    for (name, layout) in [
        ("rapport_first_load", Layout::Plain),
        (
            "rapport_first_load_partitioned",
            Layout::HashPartitioned {
                partitions: PARTITIONS,
            },
        ),
    ] {
        let schema = schema(name);
        let store = store_in(&schema, ImportPath::Copy, layout);
        let truncate = format!("TRUNCATE \"{schema}\".customers");
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    rt.block_on(raw.batch_execute(&truncate)).unwrap();
                    let start = Instant::now();
                    let l = block_on(store.first_load(T, rows.iter().cloned())).unwrap();
                    assert!(l.indexes_built_after);
                    assert_eq!(l.report.inserted, rows.len());
                    total += start.elapsed();
                }
                total
            });
        });
        block_on(store.drop_schema()).unwrap();
    }
    g.finish();
    rt.block_on(raw.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{raw_schema}\" CASCADE")))
        .unwrap();
}

/// A row the raw single-row baselines insert: one `BEGIN`, `INSERT`, `COMMIT` per id.
trait RawRow: Copy + Send + 'static {
    /// Commits the row of customer `id` through `stmt` (the prepared insert) on `client`.
    fn commit(self, client: &Client, stmt: &Statement, id: u128)
    -> impl Future<Output = ()> + Send;
}

/// The narrow raw row: tenant, id and two constant columns.
#[derive(Clone, Copy)]
struct NarrowRow;

impl RawRow for NarrowRow {
    async fn commit(self, client: &Client, stmt: &Statement, id: u128) {
        let id = Uuid::from_u128(id);
        client.batch_execute("BEGIN").await.unwrap();
        client.execute(stmt, &[T.as_uuid(), &id]).await.unwrap();
        client.batch_execute("COMMIT").await.unwrap();
    }
}

/// The customer row `apply` writes (its 16 columns, its JSON), as a hand-written driver would.
#[derive(Clone, Copy)]
struct CustomerRow;

impl RawRow for CustomerRow {
    async fn commit(self, client: &Client, stmt: &Statement, id: u128) {
        let c = Customer::new(T, CustomerId::from_u128(id), Profile::default(), now());
        let stats = Stats::default();
        let none_day: Option<chrono::NaiveDate> = None;
        let none_text: Option<String> = None;
        let none_id: Option<Uuid> = None;
        let zero = rust_decimal::Decimal::ZERO;
        client.batch_execute("BEGIN").await.unwrap();
        client
            .execute(
                stmt,
                &[
                    T.as_uuid(),
                    c.id().as_uuid(),
                    &1i64,
                    &c.stage().as_str(),
                    &c.tier().as_str(),
                    &none_id,
                    &c.created_at(),
                    &none_text,
                    &none_text,
                    &0i64,
                    &0i64,
                    &zero,
                    &none_day,
                    &none_day,
                    &serde_json::to_string(&c).unwrap(),
                    &serde_json::to_string(&stats).unwrap(),
                ],
            )
            .await
            .unwrap();
        client.batch_execute("COMMIT").await.unwrap();
    }
}

/// `WRITES` raw single-row commits of `row`, `WRITES / THREADS` from each of the `THREADS`
/// connections in a task of its own (each preparing `insert` once), ids `base + 1` on.
fn raw_commits(
    rt: &Runtime,
    clients: &Arc<Vec<Client>>,
    insert: &str,
    base: u128,
    row: impl RawRow,
) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..THREADS)
            .map(|th| {
                let clients = Arc::clone(clients);
                let insert = insert.to_owned();
                tokio::spawn(async move {
                    let client = &clients[th];
                    let stmt = client.prepare(&insert).await.unwrap();
                    for k in 0..WRITES / THREADS {
                        let id = base + (th * (WRITES / THREADS) + k) as u128 + 1;
                        row.commit(client, &stmt, id).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn bench_concurrent_apply(c: &mut Criterion, rt: &Runtime) {
    let raw_schema = schema("apply_raw");
    let clients: Vec<Client> = rt.block_on(async {
        let first = raw_client().await;
        raw_table(&first, &raw_schema).await;
        let mut v = vec![first];
        for _ in 1..THREADS {
            v.push(raw_client().await);
        }
        v
    });
    let clients = Arc::new(clients);
    let mut g = c.benchmark_group("single_customer_writes_8_callers_postgres");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(WRITES as u64));
    let insert = format!(
        "INSERT INTO \"{raw_schema}\".raw (tenant_id, id, email, body) VALUES ($1, $2, 'x', '{{}}')"
    );
    let mut next = 0u128;
    g.bench_function("raw_single_row_insert_commit", |b| {
        b.iter(|| {
            let base = next;
            next += WRITES as u128;
            raw_commits(rt, &clients, &insert, base, NarrowRow);
        });
    });
    // The same commits writing the row `apply` writes: a hand-written driver's insert of the
    // customer (its 16 columns, its JSON, into the store's own table with its indexes), one
    // `BEGIN`/`INSERT`/`COMMIT` per customer from each of 8 connections.
    let row_schema = schema("apply_rawrow");
    let row_store = store_in(&row_schema, ImportPath::Copy, Layout::Plain);
    let insert_row = format!(
        "INSERT INTO \"{row_schema}\".customers (tenant_id, customer_id, version, stage, tier,
             merged_into, created_at, email, phone, orders, purchase_days, revenue,
             last_purchase_day, first_purchase_day, customer_json, stats_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    let mut next_row = 0u128;
    g.bench_function("raw_customer_row_insert_commit", |b| {
        b.iter(|| {
            let base = next_row;
            next_row += WRITES as u128;
            raw_commits(rt, &clients, &insert_row, base, CustomerRow);
        });
    });
    block_on(row_store.drop_schema()).unwrap();
    for (layout, suffix) in layouts() {
        let schema = schema(&format!("apply{suffix}"));
        let store = Arc::new(store_in(&schema, ImportPath::Copy, layout));
        let mut next = 0u128;
        g.bench_function(format!("rapport_apply{suffix}"), |b| {
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
                                    T,
                                    CustomerId::from_u128(id),
                                    Profile::default(),
                                    now(),
                                );
                                let mut cs = Changeset::new();
                                cs.create(c, Stats::default());
                                block_on(Store::apply(&*store, T, &cs)).unwrap();
                            }
                        });
                    }
                });
            });
        });
        block_on(store.drop_schema()).unwrap();
    }
    g.finish();
    rt.block_on(
        clients[0].batch_execute(&format!("DROP SCHEMA IF EXISTS \"{raw_schema}\" CASCADE")),
    )
    .unwrap();
}

fn bench_point_load(c: &mut Criterion, rt: &Runtime) {
    let stores: Vec<(PostgresStore, &str)> = layouts()
        .into_iter()
        .map(|(layout, suffix)| {
            let store = store_in(&schema(&format!("load{suffix}")), ImportPath::Copy, layout);
            for chunk in customers(LOAD_ROWS).chunks(BATCH) {
                block_on(store.import_customers(T, chunk)).unwrap();
            }
            (store, suffix)
        })
        .collect();
    let raw = rt.block_on(raw_client());
    let select = rt
        .block_on(raw.prepare(&format!(
            "SELECT customer_json, stats_json FROM \"{}\".customers
             WHERE tenant_id = $1 AND customer_id = $2",
            stores[0].0.schema()
        )))
        .unwrap();
    let mut g = c.benchmark_group("point_load_postgres");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(5));
    let mut i = 0u128;
    g.bench_function("raw_point_select", |b| {
        b.iter(|| {
            i = i % LOAD_ROWS as u128 + 1;
            let row = rt
                .block_on(raw.query_one(&select, &[T.as_uuid(), &Uuid::from_u128(i)]))
                .unwrap();
            let (c, s): (String, String) = (row.get(0), row.get(1));
            black_box((c, s))
        });
    });
    for (store, suffix) in &stores {
        g.bench_function(format!("rapport_load{suffix}"), |b| {
            b.iter(|| {
                i = i % LOAD_ROWS as u128 + 1;
                black_box(block_on(Store::load(store, T, CustomerId::from_u128(i))).unwrap())
            });
        });
    }
    g.finish();
    for (store, _) in stores {
        block_on(store.drop_schema()).unwrap();
    }
}

fn bench_sweep(c: &mut Criterion) {
    let schema = schema("sweep");
    let store = store(&schema, ImportPath::Copy);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let rows: Vec<(Customer, Stats)> =
        rapport_sql::testing::sweep_population(T, SWEEP_ROWS, start).collect();
    for chunk in rows.chunks(BATCH) {
        block_on(store.import_customers(T, chunk)).unwrap();
    }
    drop(rows);
    let svc = rapport::Service::new(store);
    let mut g = c.benchmark_group("sweep_100k_customers_postgres");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(SWEEP_ROWS as u64));
    g.bench_function("baseline_scan_all_pages", |b| {
        b.iter(|| black_box(rapport_sql::testing::scan_pages(svc.store(), T, 10_000)))
    });
    let mut day = 0;
    g.bench_function("sweep", |b| {
        b.iter(|| {
            day += 1;
            let at =
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day);
            black_box(block_on(svc.sweep(T, at, 10_000, |_| {})).unwrap())
        })
    });
    g.finish();
    block_on(svc.store().drop_schema()).unwrap();
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    if let Err(e) = rt.block_on(tokio_postgres::connect(&url(), NoTls)) {
        eprintln!(
            "rapport-postgres bench: skipped, {} is not reachable ({e})",
            url()
        );
        return;
    }
    bench_import(c, &rt);
    bench_concurrent_apply(c, &rt);
    bench_point_load(c, &rt);
    bench_sweep(c);
}

criterion_group!(postgres, benches);
criterion_main!(postgres);

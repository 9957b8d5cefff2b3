//! Privacy on SQLite, in the same run: erasing customers (`Service::erase`: the tombstone,
//! stripped activities and consent entries, dropped outbox rows, the record, then — without
//! encryption — the WAL checkpoint the writer runs after an erasure, or — with encryption —
//! the deletion of the customer's data key) against plain `apply` of one customer update
//! each (the baseline: the issue asks erasure ≥ 0.5× its throughput), each with encryption
//! off, on with the in-memory key store and on with the file key store; the export of a
//! customer with 10,000 activities (the issue asks < 20 ms), off and on; and the import of
//! customers with a name, email and phone, encryption off against on (the issue asks ≤ 30 %
//! cost).
//!
//! The erasure groups run twice: one caller after another, and from 8 concurrent callers on
//! both sides (how `apply` throughput is measured everywhere else in the project).
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
use rapport_sqlite::{SqliteConfig, SqliteStore, Synchronous};
use std::sync::Arc;

/// Encryption off, on with keys in memory, on with keys in files.
#[derive(Clone, Copy)]
enum Keys {
    Off,
    Memory,
    File,
}

impl Keys {
    const ALL: [Keys; 3] = [Keys::Off, Keys::Memory, Keys::File];

    fn name(self) -> &'static str {
        match self {
            Keys::Off => "plain",
            Keys::Memory => "encrypted_memory_keys",
            Keys::File => "encrypted_file_keys",
        }
    }

    fn open(self, dir: &std::path::Path, name: &str) -> SqliteStore {
        self.open_with(dir, name, SqliteConfig::default())
    }

    fn open_with(self, dir: &std::path::Path, name: &str, config: SqliteConfig) -> SqliteStore {
        let store = SqliteStore::open(dir.join(name), config, now()).unwrap();
        match self {
            Keys::Off => store,
            Keys::Memory => store.with_keystore(Arc::new(rapport_keys::MemoryKeyStore::new())),
            Keys::File => store.with_keystore(Arc::new(
                rapport_keys::FileKeyStore::open(dir.join(format!("{name}.keys"))).unwrap(),
            )),
        }
    }
}

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

/// `n` customers populated from `*next` (which moves past them) and loaded back: the records
/// the `apply` baselines update, made before the clock starts.
fn populated_records(svc: &Service<SqliteStore>, next: &mut u128, n: u64) -> Vec<Record> {
    let ids = populate(svc, *next, n);
    *next += u128::from(n) + 1;
    let store = svc.inner().store();
    ids.iter()
        .map(|id| block_on(store.load(T, *id)).unwrap().unwrap())
        .collect()
}

/// The baseline's write: one `apply` of `r`'s version step (its churn alert flipped).
fn apply_version_step(svc: &Service<SqliteStore>, r: Record) {
    let mut cs = Changeset::new();
    let mut n = r.customer.next_version();
    n.churn_alert = !n.churn_alert;
    cs.update(&r.customer, n, r.stats);
    block_on(svc.inner().store().apply(T, &cs)).unwrap();
}

/// The `apply` baseline from [`CALLERS`] concurrent callers: `n` version steps on `svc`'s
/// store, one customer per call; the wall time of the applies alone.
fn apply_update_8_callers(svc: &Service<SqliteStore>, next: &mut u128, n: u64) -> Duration {
    from_callers(populated_records(svc, next, n), |r| {
        apply_version_step(svc, r)
    })
}

fn bench_erasure(c: &mut Criterion) {
    for keys in Keys::ALL {
        bench_erasure_with(c, keys);
    }
}

fn bench_erasure_with(c: &mut Criterion, keys: Keys) {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(keys.open(dir.path(), "b.db"));
    let mut next = 1u128 << 32;
    let mut g = c.benchmark_group(format!("privacy_sqlite_{}", keys.name()));
    g.sample_size(10);
    // Baseline: one `apply` per customer, a version step (what any use case writes).
    g.bench_function("apply_update_baseline", |b| {
        b.iter_custom(|iters| {
            let records = populated_records(&svc, &mut next, iters);
            let start = Instant::now();
            for r in records {
                apply_version_step(&svc, r);
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
    // Erasures run 64 at a time (`erase_many`, what the retention sweep uses): they share
    // group commits, so a group checkpoints (or deletes its keys) once.
    g.bench_function("erase_many", |b| {
        b.iter_custom(|iters| {
            let ids = populate(&svc, next, iters);
            next += u128::from(iters) + 1;
            let start = Instant::now();
            for r in svc.erase_many(T, &ids, "bench", "gdpr-art17") {
                r.unwrap();
            }
            start.elapsed()
        });
    });
    g.finish();
}

/// Callers of the concurrent groups (the project's `apply` throughput is measured with 8).
const CALLERS: usize = 8;

/// Runs `op` over `items` from [`CALLERS`] threads (each taking every `CALLERS`-th item,
/// dealt before the clock starts) and returns the wall time of the whole.
fn from_callers<T: Send>(items: Vec<T>, op: impl Fn(T) + Sync) -> Duration {
    let mut hands: Vec<Vec<T>> = (0..CALLERS).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        hands[i % CALLERS].push(item);
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for hand in hands {
            let op = &op;
            s.spawn(move || hand.into_iter().for_each(op));
        }
    });
    start.elapsed()
}

fn bench_erasure_8_callers(c: &mut Criterion) {
    for keys in Keys::ALL {
        bench_erasure_8_callers_with(c, keys);
    }
}

/// The same erasure against the same `apply`, each from 8 concurrent callers (one customer
/// per call): erasures arriving together share a group commit, so one WAL checkpoint (without
/// encryption) or one key-deletion pass (with it) serves the whole group.
fn bench_erasure_8_callers_with(c: &mut Criterion, keys: Keys) {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(keys.open(dir.path(), "c.db"));
    let mut next = 1u128 << 40;
    let mut g = c.benchmark_group(format!("privacy_sqlite_8_callers_{}", keys.name()));
    g.sample_size(10);
    g.bench_function("apply_update_baseline_8_callers", |b| {
        b.iter_custom(|iters| apply_update_8_callers(&svc, &mut next, iters));
    });
    // The same `apply` on a store that syncs every commit (`synchronous=FULL`): the baseline
    // with the promise an erasure keeps — what it wrote is on disk before it answers.
    let durable = Service::new(keys.open_with(
        dir.path(),
        "c-full.db",
        SqliteConfig {
            synchronous: Synchronous::Full,
            ..SqliteConfig::default()
        },
    ));
    let mut next_durable = 1u128 << 40;
    g.bench_function("apply_update_synchronous_full_8_callers", |b| {
        b.iter_custom(|iters| apply_update_8_callers(&durable, &mut next_durable, iters));
    });
    g.bench_function("erase_8_callers", |b| {
        b.iter_custom(|iters| {
            let ids = populate(&svc, next, iters);
            next += u128::from(iters) + 1;
            from_callers(ids, |id| {
                svc.erase(T, id, "bench", "gdpr-art17").unwrap();
            })
        });
    });
    // Erasures in bulk (`erase_many`, what the retention sweep runs), in the same group so
    // their throughput reads against the same `apply` baselines.
    g.bench_function("erase_many", |b| {
        b.iter_custom(|iters| {
            let ids = populate(&svc, next, iters);
            next += u128::from(iters) + 1;
            let start = Instant::now();
            for r in svc.erase_many(T, &ids, "bench", "gdpr-art17") {
                r.unwrap();
            }
            start.elapsed()
        });
    });
    g.finish();
}

fn bench_export(c: &mut Criterion) {
    for keys in [Keys::Off, Keys::File] {
        bench_export_with(c, keys);
    }
}

fn bench_export_with(c: &mut Criterion, keys: Keys) {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(keys.open(dir.path(), "e.db"));
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
    let mut g = c.benchmark_group(format!("privacy_sqlite_{}", keys.name()));
    g.sample_size(20);
    // Where the export's time goes: the activity read alone, the document alone.
    g.bench_function("export_10k_read_activities", |b| {
        b.iter(|| {
            block_on(svc.inner().store().activities(T, id, TimeRange::all()))
                .unwrap()
                .len()
        });
    });
    g.bench_function("export_10k_document", |b| {
        b.iter(|| svc.export(T, id).unwrap().activities.len());
    });
    g.bench_function("export_10k_activities_to_json", |b| {
        b.iter(|| {
            let doc = svc.export(T, id).unwrap();
            serde_json::to_vec(&doc).unwrap().len()
        });
    });
    g.finish();
}

/// Decoding one customer's 10,000 `activity_json` rows (visits with free text), plain and
/// sealed: one decoder on one thread against `decode_activities` (split over two threads from
/// `PARALLEL_DECODE_ROWS` rows on), in the same run.
fn bench_decode(c: &mut Criterion) {
    use rapport_sql::seal::{ActivityDecoder, Sealer, decode_activities};
    let sealer = Sealer::new(Arc::new(rapport_keys::MemoryKeyStore::new()));
    let id = CustomerId::from_u128(9);
    let activities: Vec<Activity> = (0..10_000u32)
        .map(|i| {
            Activity::new(
                ActivityId::from_u128(u128::from(i) + 1),
                id,
                now() - chrono::Duration::minutes(i64::from(i)),
                Channel::Web,
                IdempotencyKey::new(format!("x-{i}")).unwrap(),
                ActivityKind::Visit {
                    item: Some(format!("sku-{i}")),
                },
            )
            .unwrap()
        })
        .collect();
    let mut g = c.benchmark_group("privacy_sqlite_decode_10k");
    g.sample_size(20);
    for (name, sealer) in [("plain", None), ("sealed", Some(&sealer))] {
        let rows: Vec<String> = activities
            .iter()
            .map(|a| rapport_sql::seal::activity_json(sealer, T, a).unwrap())
            .collect();
        g.bench_function(format!("{name}_one_thread"), |b| {
            b.iter(|| {
                let mut d = ActivityDecoder::new(sealer, T);
                rows.iter()
                    .map(|r| d.decode(r).unwrap())
                    .collect::<Vec<_>>()
                    .len()
            });
        });
        g.bench_function(format!("{name}_decode_activities"), |b| {
            b.iter(|| decode_activities(sealer, T, &rows).unwrap().len());
        });
    }
    g.finish();
}

/// Importing 5,000 customers with a name, an email and a phone per iteration, encryption off
/// against on (keys in memory; file key store: new keys appended, synced once per batch).
///
/// Two orders of the same kind of data: `p{i}@example.com` and `+8613{i:09}` (the contacts
/// ascend with the customer ids, so plain rows land next to each other in the unique contact
/// indexes while blind indexes land anywhere — the goal's figure), and `_scattered_contacts`,
/// the contacts of a multiplicative hash of `i` (as a real file's rows would come, in no
/// order of their email), for plain and file keys.
fn bench_import(c: &mut Criterion) {
    let runs = Keys::ALL
        .into_iter()
        .map(|k| (k, false))
        .chain([(Keys::Off, true), (Keys::File, true)]);
    for (keys, scattered) in runs {
        bench_import_with(c, keys, scattered);
    }
}

fn bench_import_with(c: &mut Criterion, keys: Keys, scattered: bool) {
    const N: u128 = 5_000;
    let cn: Region = "CN".parse().unwrap();
    // Distinct for distinct `i` (an odd multiplier is a bijection of `u64`).
    let contact = |i: u128| {
        let i = i as u64;
        if scattered {
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        } else {
            i
        }
    };
    let mut g = c.benchmark_group("privacy_sqlite_import");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Elements(N as u64));
    {
        let dir = tempfile::tempdir().unwrap();
        let store = keys.open(dir.path(), "i.db");
        let mut base = 0u128;
        let suffix = if scattered { "_scattered_contacts" } else { "" };
        g.bench_function(
            format!("import_5000_customers_{}{suffix}", keys.name()),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let batch: Vec<(Customer, Stats)> = (base..base + N)
                            .map(|i| {
                                let profile = Profile {
                                    display_name: Some(Pii::new(format!("Person {i}"))),
                                    email: Some(Pii::new(
                                        Email::parse(&format!("p{}@example.com", contact(i)))
                                            .unwrap(),
                                    )),
                                    phone: Some(Pii::new(
                                        Phone::parse(
                                            &format!("+8613{:09}", contact(i) % 1_000_000_000),
                                            cn,
                                        )
                                        .unwrap(),
                                    )),
                                    ..Profile::default()
                                };
                                (
                                    Customer::new(T, CustomerId::from_u128(i + 1), profile, now()),
                                    Stats::default(),
                                )
                            })
                            .collect();
                        base += N;
                        let start = Instant::now();
                        let r = block_on(store.import_customers(T, &batch)).unwrap();
                        total += start.elapsed();
                        assert_eq!(r.inserted, N as usize);
                    }
                    total
                });
            },
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_erasure,
    bench_erasure_8_callers,
    bench_export,
    bench_decode,
    bench_import
);
criterion_main!(benches);

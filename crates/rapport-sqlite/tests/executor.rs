//! Reads stay off the caller's async executor, on a bounded pool.
//!
//! - `reads_do_not_block_the_executor`: on a tokio runtime with 2 worker threads, a timer task
//!   that wakes every millisecond measures its own lateness while 1,000 concurrent reads (load,
//!   scan, query, find_by_contact) run on a store of 3,000 customers; the worst lateness stays
//!   under [`WORST_LATENESS`] and every read returns the right rows. When the reads ran inside
//!   `poll` (before the read pool), both workers were busy decoding rows and the timer waited
//!   for them: 590-780 ms, and it ticked 26-28 times in 4-7 s.
//! - `read_connections_and_threads_stay_within_config`: 32 OS threads reading at once never
//!   see more than `readers` read connections open on the file (nor more reader threads);
//!   before, each concurrent read beyond the idle ones opened a connection of its own.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};

const T: TenantId = TenantId::from_u128(7);
const CUSTOMERS: u128 = 3_000;
const READS: usize = 1_000;
/// Rows per `scan` / `query` page.
const PAGE: u32 = 500;
/// The bound on the timer task's worst lateness. Generous: on a loaded machine (load average
/// 10-13 on 2 cores while this was tuned) the OS alone delays the timer's worker by up to about
/// 150 ms; reads run on the executor delayed it by 590-780 ms (debug build).
const WORST_LATENESS: Duration = Duration::from_millis(300);
/// The timer must tick at least once per this much wall time on average (it ticked about once
/// per 2-5 ms with the read pool, once per 150-250 ms with reads on the executor).
const MEAN_TICK: Duration = Duration::from_millis(25);

/// The tests of this file measure timing: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn email(i: u128) -> String {
    format!("c{i}@example.com")
}

/// A store of `CUSTOMERS` prospects with ids 1..=CUSTOMERS and an email each.
fn seeded(config: SqliteConfig) -> (tempfile::TempDir, std::path::PathBuf, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exec.db");
    let store = SqliteStore::open(&path, config, now()).unwrap();
    let batch: Vec<_> = (1..=CUSTOMERS)
        .map(|i| {
            let profile = Profile {
                email: Some(Pii::new(Email::parse(&email(i)).unwrap())),
                ..Profile::default()
            };
            (
                Customer::new(T, CustomerId::from_u128(i), profile, now()),
                Stats::default(),
            )
        })
        .collect();
    let r = block_on(store.import_customers(T, &batch)).unwrap();
    assert_eq!(r.inserted, CUSTOMERS as usize);
    (dir, path, Arc::new(store))
}

/// The ids a page after `after` holds: `after + 1 ..` up to `PAGE` of them.
fn page_ids(after: u128) -> Vec<CustomerId> {
    (after + 1..=CUSTOMERS.min(after + u128::from(PAGE)))
        .map(CustomerId::from_u128)
        .collect()
}

fn ids(records: &[Record]) -> Vec<CustomerId> {
    records.iter().map(|r| r.customer.id()).collect()
}

/// Read number `i` of the mix, checked against what the store holds.
async fn read(store: Arc<SqliteStore>, i: usize) -> Result<(), String> {
    let n = i as u128;
    let k = (n * 997) % CUSTOMERS; // spread over the table
    match i % 4 {
        0 => {
            let id = CustomerId::from_u128(k + 1);
            let r = store.load(T, id).await.map_err(|e| e.to_string())?;
            let r = r.ok_or(format!("read {i}: customer missing"))?;
            if r.customer.id() != id
                || r.customer
                    .profile
                    .email
                    .as_ref()
                    .map(|e| e.expose().as_str().to_owned())
                    != Some(email(k + 1))
            {
                return Err(format!("read {i}: wrong customer"));
            }
        }
        1 => {
            let page = Page {
                after: (k > 0).then(|| CustomerId::from_u128(k)),
                limit: PAGE,
            };
            let got = store.scan(T, page).await.map_err(|e| e.to_string())?;
            if ids(&got) != page_ids(k) {
                return Err(format!("read {i}: scan returned the wrong page"));
            }
        }
        2 => {
            let page = Page {
                after: (k > 0).then(|| CustomerId::from_u128(k)),
                limit: PAGE,
            };
            // Every customer is a prospect without orders.
            let (segment, want) = if i % 8 == 2 {
                ("stage == prospect", page_ids(k))
            } else {
                ("orders >= 1", Vec::new())
            };
            let segment = Segment::parse(segment).unwrap();
            let got = store
                .query(T, &segment, now(), page)
                .await
                .map_err(|e| e.to_string())?;
            if ids(&got) != want {
                return Err(format!("read {i}: query returned the wrong page"));
            }
        }
        _ => {
            let key = ContactKey::Email(Email::parse(&email(k + 1)).unwrap());
            let got = store
                .find_by_contact(T, &key)
                .await
                .map_err(|e| e.to_string())?;
            if got != [CustomerId::from_u128(k + 1)] {
                return Err(format!("read {i}: find_by_contact returned {got:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn reads_do_not_block_the_executor() {
    let _serial = serial();
    let (_dir, _path, store) = seeded(SqliteConfig::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let started = Instant::now();
    let (worst, ticks, done) = rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let timer = tokio::spawn({
            let stop = stop.clone();
            async move {
                let (mut worst, mut ticks) = (Duration::ZERO, 0u32);
                while !stop.load(Ordering::Relaxed) {
                    let due = Instant::now() + Duration::from_millis(1);
                    tokio::time::sleep_until(due.into()).await;
                    worst = worst.max(due.elapsed());
                    ticks += 1;
                }
                (worst, ticks)
            }
        });
        // Let the timer run alone first: its lateness on an idle runtime.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let reads: Vec<_> = (0..READS)
            .map(|i| tokio::spawn(read(store.clone(), i)))
            .collect();
        let mut done = 0;
        for r in reads {
            r.await.unwrap().unwrap();
            done += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let (worst, ticks) = timer.await.unwrap();
        (worst, ticks, done)
    });
    let elapsed = started.elapsed();
    eprintln!(
        "{READS} reads in {elapsed:?}; timer: {ticks} ticks, worst lateness {:.1} ms",
        worst.as_secs_f64() * 1e3
    );
    assert_eq!(done, READS);
    assert!(
        worst < WORST_LATENESS,
        "the timer task was {worst:?} late (bound {WORST_LATENESS:?}): reads block the executor"
    );
    assert!(
        elapsed < MEAN_TICK * ticks,
        "the timer ticked {ticks} times in {elapsed:?}: reads starve the executor"
    );
}

/// The open file descriptors of this process on `path` (one per connection to it).
#[cfg(target_os = "linux")]
fn open_connections(path: &std::path::Path) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == path))
        .count()
}

/// The threads of this process named like the store's reader threads.
#[cfg(target_os = "linux")]
fn reader_threads() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim_end() == "rapport-reader")
        })
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn read_connections_and_threads_stay_within_config() {
    const READERS: usize = 3;
    let config = SqliteConfig {
        readers: READERS,
        ..SqliteConfig::default()
    };
    let _serial = serial();
    let (_dir, path, store) = seeded(config);
    let path = std::fs::canonicalize(&path).unwrap();
    let running = Arc::new(AtomicUsize::new(32));
    let sampler = std::thread::spawn({
        let running = running.clone();
        let path = path.clone();
        move || {
            let (mut conns, mut threads, mut samples) = (0, 0, 0);
            while running.load(Ordering::Relaxed) > 0 {
                conns = conns.max(open_connections(&path));
                threads = threads.max(reader_threads());
                samples += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            (conns, threads, samples)
        }
    });
    let callers: Vec<_> = (0..32)
        .map(|c| {
            let store = store.clone();
            let running = running.clone();
            std::thread::spawn(move || {
                for i in 0..12 {
                    block_on(read(store.clone(), c * 12 + i)).unwrap();
                    let page = Page {
                        after: None,
                        limit: 300,
                    };
                    assert_eq!(block_on(store.scan(T, page)).unwrap().len(), 300);
                }
                running.fetch_sub(1, Ordering::Relaxed);
            })
        })
        .collect();
    for c in callers {
        c.join().unwrap();
    }
    let (conns, threads, samples) = sampler.join().unwrap();
    eprintln!(
        "readers = {READERS}: at most {conns} connections on the file (writer included) and {threads} reader threads over {samples} samples"
    );
    // The writer's connection plus at most one per reader.
    assert!(conns >= 2, "the sampler saw no read connection");
    assert!(
        conns <= 1 + READERS,
        "{conns} connections open on the file; the pool allows 1 + {READERS}"
    );
    assert!(threads <= READERS, "{threads} reader threads");
}

//! Reads stay off the caller's async executor, on a bounded pool.
//!
//! - `reads_do_not_block_the_executor`: on a single-threaded tokio runtime, 100 concurrent
//!   reads (load, scan, query, find_by_contact) of an encrypted store are held mid-read on its
//!   two reader threads (the key store's lookups park there behind a gate; the queue behind
//!   them is full, so most reads also wait for room) while another task on the same thread
//!   runs turn after turn, then opens the gate; no read answers before the gate opens, then
//!   every read returns the right rows. Order of events, not time: had the reads run (or been
//!   waited for) on the executor's thread, the other task could not have run while they were
//!   held. (It replaced a test bounding a timer task's lateness, which failed under load.)
//! - `read_connections_and_threads_stay_within_config`: 32 OS threads reading at once never
//!   see more than `readers` read connections open on the file (nor more reader threads);
//!   before, each concurrent read beyond the idle ones opened a connection of its own.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::channel::oneshot;
use futures::executor::block_on;
use rapport_core::ports::KeyStore;
use rapport_core::privacy::crypto::{DataKey, IndexKey, NONCE_LEN};
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};

const T: TenantId = TenantId::from_u128(7);
const CUSTOMERS: u128 = 3_000;
/// Rows per `scan` / `query` page.
const PAGE: u32 = 500;

/// The tests of this file run one at a time: one counts the process's reader threads, the
/// other holds a store's reader threads.
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
    seeded_with(config, None)
}

/// [`seeded`], encrypting through `keys` when given.
fn seeded_with(
    config: SqliteConfig,
    keys: Option<Arc<dyn KeyStore>>,
) -> (tempfile::TempDir, std::path::PathBuf, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exec.db");
    let mut store = SqliteStore::open(&path, config, now()).unwrap();
    if let Some(keys) = keys {
        store = store.with_keystore(keys);
    }
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

/// Events of `reads_do_not_block_the_executor`, in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A reader thread asked the key store for a key while the gate was shut, and parked.
    Parked,
    /// The other task ran its turns on the executor while every read was outstanding.
    OtherTaskRan,
    /// The other task opened the gate.
    GateOpened,
    /// A read answered.
    ReadDone,
}

/// A key store whose lookups park (the calling thread blocks) while its gate is shut: reads
/// of an encrypted store look keys up on the store's reader threads, so this holds a read
/// there, mid-statement, for as long as the test wants.
#[derive(Debug)]
struct GatedKeys {
    inner: rapport_keys::MemoryKeyStore,
    /// The executor's thread, once armed: a lookup from it fails instead of parking.
    armed: Mutex<Option<std::thread::ThreadId>>,
    /// While `true`, lookups park (until [`Self::open`]).
    shut: Mutex<bool>,
    opened: Condvar,
    /// Fired when this many lookups are parked at once.
    all_parked: Mutex<Option<(usize, oneshot::Sender<()>)>>,
    events: Arc<Mutex<Vec<Event>>>,
}

/// How long a parked lookup waits for the gate before giving up. Not a bound the test checks:
/// a guard against hanging when a regression blocks the executor (then the task that opens
/// the gate never runs), turning the hang into a failed read.
const HANG_GUARD: Duration = Duration::from_secs(60);

impl GatedKeys {
    fn new(events: Arc<Mutex<Vec<Event>>>) -> Self {
        Self {
            inner: rapport_keys::MemoryKeyStore::new(),
            armed: Mutex::new(None),
            shut: Mutex::new(false),
            opened: Condvar::new(),
            all_parked: Mutex::new(None),
            events,
        }
    }

    /// Shuts the gate: lookups from now on park. The calling thread is the executor's; a
    /// lookup from it fails at once (a read running inline would otherwise block the executor
    /// until [`HANG_GUARD`]). Returns a future that resolves once `parked` lookups are parked.
    fn arm(&self, parked: usize) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.all_parked.lock().unwrap() = Some((parked, tx));
        *self.shut.lock().unwrap() = true;
        *self.armed.lock().unwrap() = Some(std::thread::current().id());
        rx
    }

    fn open(&self) {
        *self.shut.lock().unwrap() = false;
        self.opened.notify_all();
    }

    /// Parks the calling thread while the gate is shut.
    fn gate(&self) -> Result<(), StoreError> {
        if !*self.shut.lock().unwrap() {
            return Ok(());
        }
        if *self.armed.lock().unwrap() == Some(std::thread::current().id()) {
            return Err(StoreError::unavailable(
                "a key lookup (a read) ran on the executor's thread",
            ));
        }
        let mut shut = self.shut.lock().unwrap();
        if *shut {
            let mut events = self.events.lock().unwrap();
            events.push(Event::Parked);
            let parked = events.iter().filter(|e| **e == Event::Parked).count();
            let mut all_parked = self.all_parked.lock().unwrap();
            if all_parked.as_ref().is_some_and(|(n, _)| parked >= *n) {
                let _ = all_parked.take().map(|(_, tx)| tx.send(()));
            }
        }
        while *shut {
            let (guard, waited) = self.opened.wait_timeout(shut, HANG_GUARD).unwrap();
            shut = guard;
            if *shut && waited.timed_out() {
                *shut = false;
                self.opened.notify_all();
                return Err(StoreError::unavailable(
                    "the gate was never opened: the executor did not run the task that opens it",
                ));
            }
        }
        Ok(())
    }
}

impl KeyStore for GatedKeys {
    fn index_key(&self, t: TenantId) -> Result<IndexKey, StoreError> {
        self.gate()?;
        self.inner.index_key(t)
    }
    fn data_key(&self, t: TenantId, c: CustomerId) -> Result<Option<DataKey>, StoreError> {
        self.gate()?;
        self.inner.data_key(t, c)
    }
    fn create_data_key(&self, t: TenantId, c: CustomerId) -> Result<DataKey, StoreError> {
        self.inner.create_data_key(t, c)
    }
    fn delete_data_key(&self, t: TenantId, c: CustomerId) -> Result<bool, StoreError> {
        self.inner.delete_data_key(t, c)
    }
    fn nonce(&self) -> [u8; NONCE_LEN] {
        self.inner.nonce()
    }
}

/// Opens the gate when dropped, so a failing test never leaves reader threads parked (the
/// store's drop joins them).
struct OpenOnDrop(Arc<GatedKeys>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// Yields to the executor once (the other tasks run before this one resumes).
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn reads_do_not_block_the_executor() {
    const READERS: usize = 2;
    // More than the readers and the queue hold: most reads also wait for room in the queue.
    const PARKED_READS: usize = 100;
    /// Turns the other task takes on the executor while the reads are held.
    const TURNS: usize = 50;
    let _serial = serial();
    let events = Arc::new(Mutex::new(Vec::new()));
    let keys = Arc::new(GatedKeys::new(events.clone()));
    let config = SqliteConfig {
        readers: READERS,
        ..SqliteConfig::default()
    };
    let (_dir, _path, store) = seeded_with(config, Some(keys.clone()));
    let _open = OpenOnDrop(keys.clone());
    // One thread: the reads and the other task share it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let parked = keys.arm(READERS);
        // Every read of the mix but the query that selects no one (i % 8 == 6) opens rows
        // or a blind index: it looks a key up, so it parks while the gate is shut.
        let reads: Vec<_> = (0..PARKED_READS)
            .filter(|i| i % 8 != 6)
            .map(|i| {
                let (store, events) = (store.clone(), events.clone());
                tokio::spawn(async move {
                    let r = read(store, i).await;
                    events.lock().unwrap().push(Event::ReadDone);
                    r
                })
            })
            .collect();
        let other = tokio::spawn({
            let (keys, events) = (keys.clone(), events.clone());
            async move {
                // Both reader threads hold a read, parked; every other read is queued or waits
                // for room, none answered: this task still gets the executor, turn after turn.
                let _ = parked.await;
                for _ in 0..TURNS {
                    YieldNow(false).await;
                }
                events.lock().unwrap().push(Event::OtherTaskRan);
                events.lock().unwrap().push(Event::GateOpened);
                keys.open();
            }
        });
        let mut results = Vec::new();
        for r in reads {
            results.push(r.await.unwrap());
        }
        // Had no read parked (they ran where no gate holds them), the other task still ends.
        drop(keys.all_parked.lock().unwrap().take());
        other.await.unwrap();
        results
    });
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "reads failed: {:?}",
        &failed[..failed.len().min(3)]
    );
    let events = events.lock().unwrap().clone();
    let parked = events.iter().filter(|e| **e == Event::Parked).count();
    eprintln!(
        "{} reads: {parked} parked on reader threads, the other task ran {TURNS} turns, then the gate opened",
        results.len(),
    );
    assert_eq!(parked, READERS, "reads held on the reader threads");
    let opened = events.iter().position(|e| *e == Event::GateOpened);
    let first_done = events.iter().position(|e| *e == Event::ReadDone);
    assert!(
        events.first() == Some(&Event::Parked),
        "no read parked on a reader thread before anything else happened: {:?}",
        &events[..events.len().min(8)]
    );
    assert!(
        opened.is_some_and(|o| first_done.is_some_and(|d| o < d)),
        "a read answered while the reads were held, or the other task never ran: {:?}",
        &events[..events.len().min(8)]
    );
    assert_eq!(
        events.iter().filter(|e| **e == Event::ReadDone).count(),
        results.len()
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

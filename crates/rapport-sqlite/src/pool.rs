//! The read pool: a fixed set of reader threads, each owning one read-only connection, fed by a
//! bounded job queue. A read never runs on the caller's thread: the async caller queues a job
//! (waiting, without blocking, while the queue is full) and awaits its result on a oneshot
//! channel, the way writes reach the writer thread. No runtime is needed: the blocking service
//! drives the same futures with `block_on`.

use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use rusqlite::{Connection, OpenFlags};

use crate::config::SqliteConfig;
use crate::error::SqliteError;

/// Most reader threads (and read connections) a store runs, whatever the config asks.
pub(crate) const MAX_READERS: usize = 64;
/// Jobs waiting in the queue per reader thread; callers beyond that wait for room.
pub(crate) const QUEUE_PER_READER: usize = 16;

/// What a reader thread holds: its connection, opened at its first job (and again after an
/// open failure).
pub(crate) struct Slot {
    path: PathBuf,
    busy_timeout: Duration,
    conn: Option<Connection>,
}

impl Slot {
    fn conn(&mut self) -> Result<&Connection, SqliteError> {
        if self.conn.is_none() {
            self.conn = Some(open_reader(&self.path, self.busy_timeout)?);
        }
        self.conn.as_ref().ok_or(SqliteError::ReaderGone)
    }
}

fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, SqliteError> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(busy_timeout)?;
    // 16 MiB of page cache per reader instead of SQLite's 2 MB: one customer's timeline of
    // 10k activities (an export, a replay) is ~3 MB of table and index pages, which the
    // default cache re-reads from the file on every pass.
    c.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
    Ok(c)
}

/// A reader's page cache, in KiB (negative: SQLite's unit for a size instead of pages).
const READER_CACHE_KIB: i64 = -16_384;

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

struct State {
    jobs: VecDeque<Job>,
    /// Callers waiting for room in `jobs`, first come first served: (ticket, waker).
    waiting: VecDeque<(u64, Waker)>,
    next_ticket: u64,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes.
    work: Condvar,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the queue itself consistent (every update is
        // a single push or pop), so a poisoned lock is taken over.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The bounded pool of reader threads; dropping it stops and joins them (closing their
/// connections).
pub(crate) struct ReadPool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl ReadPool {
    /// Starts `config.readers` reader threads (at least 1, at most [`MAX_READERS`]).
    pub(crate) fn new(path: &Path, config: &SqliteConfig) -> Result<Self, SqliteError> {
        let readers = config.readers.clamp(1, MAX_READERS);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                waiting: VecDeque::new(),
                next_ticket: 0,
                closed: false,
            }),
            work: Condvar::new(),
            capacity: readers * QUEUE_PER_READER,
        });
        let mut pool = ReadPool {
            shared,
            threads: Vec::with_capacity(readers),
        };
        for _ in 0..readers {
            let shared = pool.shared.clone();
            let slot = Slot {
                path: path.to_path_buf(),
                busy_timeout: config.busy_timeout,
                conn: None,
            };
            let handle = thread::Builder::new()
                .name("rapport-reader".into())
                .spawn(move || run(&shared, slot))
                // Dropping `pool` stops the threads already started.
                .map_err(|_| SqliteError::ReaderGone)?;
            pool.threads.push(handle);
        }
        Ok(pool)
    }

    /// Runs `f` on a reader thread's connection and awaits its result. Lock contention
    /// (`SQLITE_BUSY`/`SQLITE_LOCKED`) is retried there with [`backoff`] until the store's
    /// `busy_timeout` has passed.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, SqliteError> + Send + 'static,
    ) -> Result<T, SqliteError> {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |slot: &mut Slot| {
            let deadline = Instant::now() + slot.busy_timeout;
            let result = retry_busy(deadline, || slot.conn().and_then(&f));
            let _ = reply.send(result);
        });
        Enqueue {
            shared: &self.shared,
            job: Some(job),
            ticket: None,
        }
        .await?;
        rx.await.map_err(|_| SqliteError::ReaderGone)?
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Queues a job, waiting (as a future) while the queue is full.
struct Enqueue<'a> {
    shared: &'a Shared,
    job: Option<Job>,
    /// Our place in `waiting`, once we had to wait.
    ticket: Option<u64>,
}

impl Future for Enqueue<'_> {
    type Output = Result<(), SqliteError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if st.closed {
            return Poll::Ready(Err(SqliteError::ReaderGone));
        }
        let first_in_line = match (this.ticket, st.waiting.front()) {
            (_, None) => true,
            (Some(t), Some((front, _))) => t == *front,
            (None, Some(_)) => false,
        };
        if first_in_line && st.jobs.len() < this.shared.capacity {
            if this.ticket.take().is_some() {
                st.waiting.pop_front();
            }
            let Some(job) = this.job.take() else {
                return Poll::Ready(Ok(()));
            };
            st.jobs.push_back(job);
            // Room left: the next waiting caller may queue too.
            if st.jobs.len() < this.shared.capacity {
                if let Some((_, w)) = st.waiting.front() {
                    w.wake_by_ref();
                }
            }
            drop(st);
            this.shared.work.notify_one();
            return Poll::Ready(Ok(()));
        }
        match this.ticket {
            Some(t) => {
                if let Some(entry) = st.waiting.iter_mut().find(|(k, _)| *k == t) {
                    entry.1.clone_from(cx.waker());
                }
            }
            None => {
                let t = st.next_ticket;
                st.next_ticket += 1;
                st.waiting.push_back((t, cx.waker().clone()));
                this.ticket = Some(t);
            }
        }
        Poll::Pending
    }
}

impl Drop for Enqueue<'_> {
    fn drop(&mut self) {
        // A caller that gave up waiting leaves the line, handing its turn on.
        if let Some(t) = self.ticket.take() {
            let mut st = self.shared.lock();
            st.waiting.retain(|(k, _)| *k != t);
            if st.jobs.len() < self.shared.capacity {
                if let Some((_, w)) = st.waiting.front() {
                    w.wake_by_ref();
                }
            }
        }
    }
}

fn run(shared: &Shared, mut slot: Slot) {
    loop {
        let job = {
            let mut st = shared.lock();
            loop {
                if let Some(job) = st.jobs.pop_front() {
                    // Room freed: wake the first caller waiting for it.
                    if let Some((_, w)) = st.waiting.front() {
                        w.wake_by_ref();
                    }
                    break job;
                }
                if st.closed {
                    return;
                }
                st = shared
                    .work
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        // A panicking job (a bug) must not take the thread with it: the pool would shrink and,
        // once every reader was gone, queued callers would wait forever. Its caller sees
        // `ReaderGone` (its reply channel is dropped); the connection is reopened.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut slot)));
        if ran.is_err() {
            slot.conn = None;
        }
    }
}

/// First pause before retrying a busy or locked statement.
const BACKOFF_START: Duration = Duration::from_millis(1);
/// Longest pause between retries.
const BACKOFF_CAP: Duration = Duration::from_millis(64);

/// The pause after `retries` failed attempts: 1 ms doubling up to 64 ms.
pub(crate) fn backoff(retries: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(1u32 << retries.min(6))
        .min(BACKOFF_CAP)
}

/// Runs `f` until it succeeds, fails with a non-retryable error, or `deadline` passes,
/// sleeping [`backoff`] between attempts. Runs on a store thread (reader or writer), never on
/// the caller's executor.
pub(crate) fn retry_busy<T>(
    deadline: Instant,
    mut f: impl FnMut() -> Result<T, SqliteError>,
) -> Result<T, SqliteError> {
    let mut retries = 0;
    loop {
        match f() {
            Err(e) if e.is_retryable() => {
                let pause = backoff(retries);
                if Instant::now() + pause > deadline {
                    return Err(e);
                }
                thread::sleep(pause);
                retries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let pauses: Vec<u64> = (0..9)
            .map(|r| u64::try_from(backoff(r).as_millis()).unwrap_or(u64::MAX))
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }

    fn busy() -> SqliteError {
        SqliteError::Driver(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ))
    }

    #[test]
    fn busy_is_retried_with_pauses_until_it_clears() {
        let started = Instant::now();
        let mut calls = 0;
        // A deadline no pause reaches, however slow the machine.
        let r = retry_busy(started + Duration::from_secs(3_600), || {
            calls += 1;
            if calls < 4 { Err(busy()) } else { Ok(calls) }
        });
        assert_eq!(r.ok(), Some(4));
        // 1 + 2 + 4 ms of pauses between the four attempts (a sleep never ends early).
        assert!(started.elapsed() >= Duration::from_millis(7));
    }

    #[test]
    fn busy_gives_up_at_the_deadline_and_other_errors_at_once() {
        let started = Instant::now();
        let mut calls = 0;
        let r: Result<(), _> = retry_busy(started + Duration::from_millis(20), || {
            calls += 1;
            Err(busy())
        });
        assert!(r.is_err_and(|e| e.is_retryable()));
        // 1 + 2 + 4 + 8 ms fit in 20 ms, the next 16 do not: five attempts at most, whatever
        // the machine's load (a sleep never ends early; fewer when the OS oversleeps).
        assert!((1..=5).contains(&calls), "{calls} attempts");
        // A deadline already passed: one attempt, no pause.
        let mut calls = 0;
        let r: Result<(), _> = retry_busy(started, || {
            calls += 1;
            Err(busy())
        });
        assert!(r.is_err_and(|e| e.is_retryable()));
        assert_eq!(calls, 1);
        let mut calls = 0;
        let r: Result<(), _> = retry_busy(started + Duration::from_secs(5), || {
            calls += 1;
            Err(SqliteError::WriterGone)
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}

//! The writer thread: the one connection that writes. SQLite has one writer anyway; owning it
//! on a thread keeps async callers from blocking and lets concurrent `apply` calls share a
//! transaction (group commit): each changeset runs under its own savepoint, so a conflicting
//! one fails alone, and one `COMMIT` (one fsync) makes the whole group durable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use rapport_core::ports::KeyStore;
use rapport_core::{CustomerId, TenantId};
use rapport_sql::shred::{KeysNotDeleted, OwedKeys};
use rusqlite::Connection;

use crate::apply::{ApplyError, Outcome, Prepared, apply};
use crate::error::SqliteError;
use crate::pool::retry_busy;

/// Most changesets committed together.
pub(crate) const MAX_GROUP: usize = 256;

type Exec = Box<dyn FnOnce(&mut Connection) + Send>;

pub(crate) enum Job {
    Apply {
        prepared: Box<Prepared>,
        reply: oneshot::Sender<Result<Outcome, ApplyError>>,
    },
    /// Any other write (imports, outbox claims, erasure checkpoints), run alone in its own
    /// transaction by the closure itself.
    Exec(Exec),
}

/// Handle to the writer thread; dropping every handle stops it.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    /// Set while an erasure's TRUNCATE checkpoint is owed (it failed within the busy
    /// timeout); cleared by the next one that succeeds.
    owed: Arc<AtomicBool>,
    /// Erased customers' key deletions that failed after their commit, owed until a retry
    /// ([`Writer::flush_erasures`]) goes through.
    keys_owed: Arc<OwedKeys>,
    busy_timeout: Duration,
}

impl Writer {
    /// Starts the writer thread on `conn`; `busy_timeout` bounds its retries of a busy
    /// `BEGIN IMMEDIATE`.
    pub(crate) fn spawn(conn: Connection, busy_timeout: Duration) -> Result<Writer, SqliteError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (shred_tx, shred_rx) = mpsc::channel::<Shred>();
        let owed = Arc::new(AtomicBool::new(false));
        let flag = owed.clone();
        let keys_owed = Arc::new(OwedKeys::default());
        let shred_owed = keys_owed.clone();
        thread::Builder::new()
            .name("rapport-sqlite-shred".into())
            .spawn(move || shredder(&shred_rx))
            .map_err(|_| SqliteError::WriterGone)?;
        thread::Builder::new()
            .name("rapport-sqlite-writer".into())
            .spawn(move || {
                run(conn, busy_timeout, &rx, &flag, &shred_tx, &shred_owed);
            })
            .map_err(|_| SqliteError::WriterGone)?;
        Ok(Writer {
            tx,
            owed,
            keys_owed,
            busy_timeout,
        })
    }

    /// What an earlier erasure still owes before `customer` of `tenant` may be reported
    /// erased: the key deletions that failed after their commit (all retried; an error while
    /// one naming the customer is still owed), then the TRUNCATE checkpoint, if any (waiting
    /// for readers up to the busy timeout).
    ///
    /// # Errors
    /// [`SqliteError::KeysNotDeleted`] when the customer's key deletion fails again,
    /// [`SqliteError::ErasureNotFlushed`] when the checkpoint does.
    pub(crate) async fn flush_erasures(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<(), SqliteError> {
        if !self.keys_owed.is_empty() {
            // On the writer thread: key store IO stays off the caller's executor.
            let keys_owed = self.keys_owed.clone();
            self.exec(move |_| Ok(keys_owed.retry(tenant, customer)?))
                .await?;
        }
        if !self.owed.load(Ordering::Acquire) {
            return Ok(());
        }
        let (owed, wait) = (self.owed.clone(), self.busy_timeout);
        self.exec(move |conn| {
            if !owed.load(Ordering::Acquire) {
                return Ok(());
            }
            let r = checkpoint_truncate(conn, wait, wait);
            owed.store(r.is_err(), Ordering::Release);
            r.map_err(SqliteError::ErasureNotFlushed)
        })
        .await
    }

    pub(crate) fn send(&self, job: Job) -> Result<(), SqliteError> {
        self.tx.send(job).map_err(|_| SqliteError::WriterGone)
    }

    /// Runs `f` on the writer connection and waits for its result.
    pub(crate) async fn exec<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, SqliteError> + Send + 'static,
    ) -> Result<T, SqliteError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Exec(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        rx.await.map_err(|_| SqliteError::WriterGone)?
    }

    /// Queues `f` now and returns the receiver of its result, so the caller can prepare the
    /// next piece of work while the writer runs this one.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApplyError> + Send + 'static,
    ) -> Result<mpsc::Receiver<Result<T, ApplyError>>, SqliteError> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.send(Job::Exec(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        Ok(rx)
    }

    /// Queues `f` now and returns the future of its result (for a job the caller then feeds
    /// through a channel of its own).
    pub(crate) fn start_apply<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApplyError> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T, ApplyError>>, SqliteError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Exec(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        Ok(rx)
    }

    /// Like [`Writer::exec`] for closures failing with [`ApplyError`].
    pub(crate) async fn exec_apply<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApplyError> + Send + 'static,
    ) -> Result<T, ApplyError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Exec(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        })))?;
        rx.await.map_err(|_| SqliteError::WriterGone)?
    }

    /// Applies a changeset in the next group commit.
    pub(crate) async fn apply(&self, prepared: Prepared) -> Result<Outcome, ApplyError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Apply {
            prepared: Box::new(prepared),
            reply,
        })?;
        rx.await.map_err(|_| SqliteError::WriterGone)?
    }
}

fn run(
    mut conn: Connection,
    busy_timeout: Duration,
    rx: &mpsc::Receiver<Job>,
    owed: &AtomicBool,
    shred: &mpsc::Sender<Shred>,
    keys_owed: &Arc<OwedKeys>,
) {
    let ctx = Ctx {
        busy_timeout,
        owed,
        shred,
        keys_owed,
    };
    let mut seq: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM rapport_outbox",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let mut held = Held::default();
    loop {
        // With erasures waiting for their checkpoint, a changeset already queued is committed
        // first, so one checkpoint serves both groups; with none queued, the checkpoint runs.
        let first = if held.replies.is_empty() {
            match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            }
        } else {
            match rx.try_recv() {
                Ok(job) if held.groups < MAX_HELD_GROUPS => job,
                Ok(job) => {
                    held.flush(&conn, busy_timeout, owed);
                    job
                }
                Err(mpsc::TryRecvError::Empty) => {
                    held.flush(&conn, busy_timeout, owed);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        };
        let mut group = Vec::new();
        let mut pending = Some(first);
        while let Some(job) = pending.take() {
            match job {
                Job::Exec(f) => {
                    // Flush the applies gathered so far, then run the closure alone.
                    commit_group(
                        &mut conn,
                        std::mem::take(&mut group),
                        &mut seq,
                        &ctx,
                        &mut held,
                    );
                    held.flush(&conn, busy_timeout, owed);
                    f(&mut conn);
                }
                apply @ Job::Apply { .. } => group.push(apply),
            }
            if group.len() < MAX_GROUP {
                pending = rx.try_recv().ok();
            }
        }
        commit_group(&mut conn, group, &mut seq, &ctx, &mut held);
    }
    held.flush(&conn, busy_timeout, owed);
}

/// Most committed groups whose erasures wait for one shared checkpoint.
const MAX_HELD_GROUPS: usize = 8;

type Reply = oneshot::Sender<Result<Outcome, ApplyError>>;

/// Erasures (without encryption) committed and not answered yet: their answer waits for the
/// TRUNCATE checkpoint that takes the erased plaintext out of the WAL, which one checkpoint
/// does for every group committed before it.
#[derive(Default)]
struct Held {
    replies: Vec<(Reply, Result<Outcome, ApplyError>)>,
    groups: usize,
}

impl Held {
    /// Runs the checkpoint and answers the held erasures: done, or
    /// [`SqliteError::ErasureNotFlushed`] when the WAL could not be truncated (the checkpoint
    /// then stays owed).
    fn flush(&mut self, conn: &Connection, busy_timeout: Duration, owed: &AtomicBool) {
        if self.replies.is_empty() {
            self.groups = 0;
            return;
        }
        let flushed = checkpoint_truncate(conn, busy_timeout, busy_timeout);
        owed.store(flushed.is_err(), Ordering::Release);
        for (reply, r) in self.replies.drain(..) {
            let _ = reply.send(match &flushed {
                Ok(()) => r,
                Err(e) => r.and_then(|_| {
                    Err(ApplyError::Sqlite(SqliteError::ErasureNotFlushed(
                        e.clone(),
                    )))
                }),
            });
        }
        self.groups = 0;
    }
}

/// What [`commit_group`] needs of the writer loop besides the connection.
struct Ctx<'a> {
    busy_timeout: Duration,
    owed: &'a AtomicBool,
    shred: &'a mpsc::Sender<Shred>,
    keys_owed: &'a Arc<OwedKeys>,
}

/// What an applied changeset's answer waits for after the commit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Nothing: answered at once.
    Nothing,
    /// The TRUNCATE checkpoint (an erasure without encryption).
    Checkpoint,
    /// The deletion of the erased customers' keys (an erasure with encryption).
    Keys,
}

fn commit_group(
    conn: &mut Connection,
    group: Vec<Job>,
    seq: &mut i64,
    ctx: &Ctx<'_>,
    held: &mut Held,
) {
    if group.is_empty() {
        return;
    }
    let (busy_timeout, owed) = (ctx.busy_timeout, ctx.owed);
    let start_seq = *seq;
    // The busy handler already waits up to `busy_timeout`; a lock error it does not cover is
    // retried here with a back-off, on this thread.
    let begin = retry_busy(Instant::now() + busy_timeout, || {
        Ok(conn.execute_batch("BEGIN IMMEDIATE")?)
    });
    if let Err(e) = begin {
        for job in group {
            if let Job::Apply { reply, .. } = job {
                let _ = reply.send(Err(ApplyError::Sqlite(SqliteError::Unavailable(format!(
                    "could not begin the write transaction: {e}"
                )))));
            }
        }
        return;
    }
    // A changeset alone in its group needs no savepoint: the transaction is its own, and a
    // refusal rolls the whole transaction back (no savepoint journal to write).
    let lone = group.len() == 1;
    let mut refused = false;
    let mut results = Vec::with_capacity(group.len());
    let mut erased = false;
    let mut keys: Option<Arc<dyn KeyStore>> = None;
    let mut shred: Vec<(TenantId, CustomerId)> = Vec::new();
    for job in group {
        let Job::Apply { prepared, reply } = job else {
            continue;
        };
        let wait = match (&prepared.keys, prepared.erases) {
            // Crypto-shredding: deleting the keys after the commit makes the old bytes in the
            // WAL and the database pages unreadable, so no checkpoint is needed.
            (Some(_), true) => Wait::Keys,
            (None, true) => Wait::Checkpoint,
            (_, false) => Wait::Nothing,
        };
        if let Some(k) = &prepared.keys {
            keys = Some(k.clone());
        }
        let stmt = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
        let result = if lone {
            let r = apply(conn, &prepared, seq);
            refused = !matches!(&r, Ok(o) if o.duplicates.is_empty());
            r
        } else {
            match stmt("SAVEPOINT cs") {
                Err(e) => Err(ApplyError::from(e)),
                Ok(_) => {
                    let r = apply(conn, &prepared, seq);
                    let keep = matches!(&r, Ok(o) if o.duplicates.is_empty());
                    let end = if keep {
                        stmt("RELEASE cs")
                    } else {
                        stmt("ROLLBACK TO cs").and_then(|_| stmt("RELEASE cs"))
                    };
                    match end {
                        Ok(_) => r,
                        Err(e) => Err(ApplyError::from(e)),
                    }
                }
            }
        };
        // Only an erasure that stays in the commit deletes keys or needs the checkpoint (a
        // refused one, e.g. after a version conflict, erased nothing).
        let kept = matches!(&result, Ok(o) if o.duplicates.is_empty());
        if kept {
            match wait {
                Wait::Keys => {
                    shred.extend(prepared.erased.iter().map(|c| (prepared.tenant_id, *c)))
                }
                Wait::Checkpoint => erased = true,
                Wait::Nothing => {}
            }
        }
        let wait = if kept { wait } else { Wait::Nothing };
        results.push((reply, result, wait, prepared.tenant_id));
    }
    if refused {
        // The lone changeset was refused (or found duplicates): nothing of it stays.
        let rolled_back = conn.execute_batch("ROLLBACK");
        *seq = start_seq;
        for (reply, r, _, _) in results {
            let _ = reply.send(match &rolled_back {
                Ok(()) => r,
                Err(e) => r.and_then(|_| {
                    Err(ApplyError::Sqlite(SqliteError::Unavailable(format!(
                        "rollback failed: {e}"
                    ))))
                }),
            });
        }
        return;
    }
    // The keys that sealed this group's rows are durable before the rows are.
    let synced = keys.as_ref().map_or(Ok(()), |k| k.sync());
    let commit = match synced {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| e.to_string()),
        Err(e) => Err(format!("key store: {e}")),
    };
    match commit {
        Ok(()) => {
            // secure_delete zeroed the old rows in the database pages; the WAL still holds the
            // frames written before. The erasures' answers wait (in `held`) for the checkpoint
            // that copies them back and truncates the WAL, so the erased personal data is gone
            // from both files before the caller hears "done"; the writer runs it once no
            // committed group is queued behind. A checkpoint owed by an earlier erasure is
            // tried again after other commits, without waiting for readers.
            if erased {
                held.groups += 1;
            } else if owed.load(Ordering::Acquire)
                && checkpoint_truncate(conn, Duration::ZERO, busy_timeout).is_ok()
            {
                owed.store(false, Ordering::Release);
            }
            let mut shredding = Vec::new();
            for (reply, r, wait, tenant) in results {
                match wait {
                    Wait::Checkpoint if r.is_ok() => held.replies.push((reply, r)),
                    Wait::Keys if r.is_ok() => shredding.push((tenant, reply, r)),
                    _ => {
                        let _ = reply.send(r);
                    }
                }
            }
            // Crypto-shredding: the erased customers' keys are deleted on the shredder thread
            // (a file key store syncs there) while this thread commits the next groups; the
            // erasures' answers wait for the deletion.
            if let (Some(keys), false) = (keys, shred.is_empty()) {
                let job = Shred {
                    keys,
                    ids: shred,
                    replies: shredding,
                    owed: ctx.keys_owed.clone(),
                };
                if let Err(mpsc::SendError(job)) = ctx.shred.send(job) {
                    job.run();
                }
            } else {
                for (_, reply, r) in shredding {
                    let _ = reply.send(r);
                }
            }
        }
        Err(msg) => {
            let _ = conn.execute_batch("ROLLBACK");
            *seq = start_seq;
            for (reply, r, _, _) in results {
                let _ = reply.send(r.and_then(|_| {
                    Err(ApplyError::Sqlite(SqliteError::Unavailable(format!(
                        "commit failed: {msg}"
                    ))))
                }));
            }
        }
    }
}

/// Erased customers by tenant.
type ByTenant = BTreeMap<TenantId, Vec<CustomerId>>;

/// Committed erasures (with encryption) whose customers' keys are still to be deleted, and
/// their answers (with each erasure's tenant).
struct Shred {
    keys: Arc<dyn KeyStore>,
    ids: Vec<(TenantId, CustomerId)>,
    replies: Vec<(TenantId, Reply, Result<Outcome, ApplyError>)>,
    /// Where a failed deletion is remembered.
    owed: Arc<OwedKeys>,
}

impl Shred {
    /// Deletes the keys (per tenant, one call each), then answers.
    fn run(self) {
        Shred::run_all(vec![self]);
    }

    /// Deletes the keys of several jobs together — one call per key store and tenant, so a
    /// file key store syncs each touched shard once for all of them — then answers them all.
    /// A deletion that fails is owed ([`OwedKeys`]): the commit stands (the tombstone rows
    /// hold no sealed profile any more), but a key left behind still opens the older copies,
    /// so the erasures of that key store and tenant are answered
    /// [`SqliteError::KeysNotDeleted`] and erasing again retries.
    fn run_all(jobs: Vec<Shred>) {
        let mut stores: Vec<(Arc<dyn KeyStore>, Arc<OwedKeys>, ByTenant)> = Vec::new();
        let mut replies = Vec::new();
        for job in jobs {
            let at = match stores.iter().position(|(k, ..)| Arc::ptr_eq(k, &job.keys)) {
                Some(at) => at,
                None => {
                    stores.push((job.keys.clone(), job.owed.clone(), BTreeMap::new()));
                    stores.len() - 1
                }
            };
            for (t, c) in job.ids {
                stores[at].2.entry(t).or_default().push(c);
            }
            replies.extend(
                job.replies
                    .into_iter()
                    .map(|(t, reply, r)| (at, t, reply, r)),
            );
        }
        let mut failed: Vec<(usize, TenantId, KeysNotDeleted)> = Vec::new();
        for (at, (keys, owed, by_tenant)) in stores.iter().enumerate() {
            for (t, ids) in by_tenant {
                if let Err(e) = owed.delete(keys, *t, ids) {
                    failed.push((at, *t, e));
                }
            }
        }
        for (at, t, reply, r) in replies {
            let _ = reply.send(match failed.iter().find(|f| (f.0, f.1) == (at, t)) {
                Some((.., e)) => {
                    r.and_then(|_| Err(ApplyError::Sqlite(SqliteError::KeysNotDeleted(e.clone()))))
                }
                None => r,
            });
        }
    }
}

/// The shredder thread: deletes erased customers' keys after their commit, taking every job
/// queued meanwhile into one pass; ends when the writer thread does.
fn shredder(rx: &mpsc::Receiver<Shred>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        Shred::run_all(jobs);
    }
}

/// Microseconds between two tries of a TRUNCATE checkpoint waiting for readers.
const CHECKPOINT_POLL_US: u64 = 50;

thread_local! {
    /// Tries left to the checkpoint's busy handler (a `fn` pointer: it cannot capture).
    static CHECKPOINT_POLLS: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`, waiting for readers by polling every
/// [`CHECKPOINT_POLL_US`] µs (for up to `wait`) instead of SQLite's default busy handler,
/// which sleeps 1, 2, 5, 10, … ms between tries: a read lasts tens of microseconds, and with
/// concurrent callers reading for their next erasure the default back-off cost an erasure
/// group milliseconds. The connection's own busy timeout (`busy_timeout`) is restored after
/// it.
///
/// # Errors
/// Why the WAL was not truncated: readers held it past `wait`, or the checkpoint failed.
fn checkpoint_truncate(
    conn: &Connection,
    wait: Duration,
    busy_timeout: Duration,
) -> Result<(), String> {
    fn poll(tries: i32) -> bool {
        let more = tries < CHECKPOINT_POLLS.with(std::cell::Cell::get);
        if more {
            thread::sleep(Duration::from_micros(CHECKPOINT_POLL_US));
        }
        more
    }
    let polls = wait.as_micros() / u128::from(CHECKPOINT_POLL_US);
    CHECKPOINT_POLLS.with(|p| p.set(i32::try_from(polls).unwrap_or(i32::MAX)));
    let _ = conn.busy_handler(Some(poll));
    let busy: Result<i64, _> = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0));
    let _ = conn.busy_timeout(busy_timeout);
    match busy {
        Ok(0) => Ok(()),
        Ok(_) => {
            tracing::warn!("erasure checkpoint could not truncate the WAL (readers held it)");
            Err(format!("readers held the WAL for {} ms", wait.as_millis()))
        }
        Err(e) => {
            tracing::warn!("erasure checkpoint failed");
            Err(format!("checkpoint failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;
    use futures::executor::block_on;
    use rapport_core::ports::{KeyStore, Store};
    use rapport_core::privacy::plan_erasure;
    use rapport_core::*;

    use super::Job;
    use crate::{SqliteConfig, SqliteStore};

    /// An erasure refused inside a group (here: planned from a read an update of the same
    /// group made stale) deletes no key: only erasures that stay in the commit shred. (Before,
    /// every erasure of a committed group had its keys deleted, so the live customer's sealed
    /// profile no longer opened.)
    #[test]
    fn a_refused_erasure_in_a_group_keeps_the_customers_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = DateTime::UNIX_EPOCH;
        let keys: Arc<dyn KeyStore> = Arc::new(rapport_keys::MemoryKeyStore::new());
        let store = SqliteStore::open(dir.path().join("w.db"), SqliteConfig::default(), now)
            .expect("open")
            .with_keystore(keys.clone());
        let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
        let profile = Profile {
            display_name: Some(Pii::new("Ann Lee".into())),
            ..Profile::default()
        };
        let mut cs = Changeset::new();
        cs.create(Customer::new(t, id, profile.clone(), now), Stats::default());
        block_on(store.apply(t, &cs)).expect("create");
        let read = block_on(store.load(t, id)).expect("load").expect("there");
        let mut update = Changeset::new();
        let mut next = read.customer.next_version();
        next.churn_alert = !next.churn_alert;
        update.update(&read.customer, next, read.stats.clone());
        let erase = plan_erasure(
            &read.customer,
            read.stats.clone(),
            "test",
            "gdpr-art17",
            now,
        )
        .expect("plan")
        .changeset;

        // Hold the writer so that both changesets queue and commit in one group, the update
        // first.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        store
            .writer
            .send(Job::Exec(Box::new(move |_| {
                let _ = wait.recv();
            })))
            .expect("send");
        // An apply queues its job at its first poll: poll the update, then the erasure, once
        // each (both wait behind the held writer), then release the writer.
        let mut first = std::pin::pin!(store.apply(t, &update));
        let mut second = std::pin::pin!(store.apply(t, &erase));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        release.send(()).expect("release");
        assert!(block_on(first).is_ok());
        assert!(matches!(block_on(second), Err(StoreError::Conflict { .. })));
        assert!(keys.data_key(t, id).expect("keys").is_some(), "key deleted");
        let after = block_on(store.load(t, id)).expect("load").expect("there");
        assert_eq!(after.customer.profile, profile);
        assert_ne!(after.customer.stage(), Stage::Erased);
    }
}

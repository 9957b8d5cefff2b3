//! Group commit: concurrent [`Store::apply`](rapport_core::Store::apply) calls share one
//! transaction and one `COMMIT`, as the SQLite store's writer thread does.
//!
//! Each call is queued on one of a few *lanes* (chosen by its smallest customer id, so the
//! changesets of one customer always meet in the same lane and two group transactions never
//! wait on each other's rows for single-customer changesets). A lane's task takes the first
//! changeset queued, everything queued behind it (up to [`MAX_GROUP`]), and applies them in
//! one transaction on one pooled connection, each under its own `SAVEPOINT`: a changeset
//! that is refused (`Conflict`, `AlreadyExists`, `NotFound`, duplicate keys, a driver
//! error) is rolled back to its savepoint and answered alone, the others go on. One `COMMIT`
//! then makes the group durable (one WAL flush), and every caller hears its own outcome. When
//! the `COMMIT` (or the transaction itself) fails, every caller of the group whose changeset
//! had been written hears the error and nothing of the group is kept.
//!
//! A group is first tried without savepoints: one pipeline of `BEGIN`, the tenant named (once,
//! and again only where the next changeset's tenant differs) and every changeset's statements.
//! When no changeset is refused — the common case — that is the group's outcome, at one
//! statement per write (a savepoint and a tenant naming per changeset were two thirds of the
//! statements of a one-row changeset). At the first refusal or error the try is rolled back
//! (nothing of it is kept) and, for a group of one, the refusal is the answer; a larger group
//! runs again under savepoints, as follows.
//!
//! When every changeset of the group is *plain* — customers, activities and outbox rows only,
//! which is what the service's use cases write — the try also carries the `COMMIT`: `BEGIN`,
//! the statements and `COMMIT` leave in one pipeline before any answer is read, so a group
//! costs one round trip and one WAL flush. That is safe because the try uses the statements'
//! strict forms ([`crate::sql::Strict`], migration 12), in which every refusal (a taken id, a
//! stale version, a stored idempotency key) is an error: the error aborts the transaction, the
//! `COMMIT` behind it answers as a `ROLLBACK`, and the group runs again under savepoints to
//! give each caller its own outcome. Other groups (cases, accounts, consents, line items,
//! merges) read answers before they go on and keep the separate `COMMIT`.
//!
//! Under savepoints the whole group travels in one pipeline — `BEGIN`, then for each
//! changeset `SAVEPOINT cs<i>` and its statements — and the answers are read in order. Up to the first refusal
//! every changeset is kept; at a refusal, the transaction is rolled back to that changeset's
//! savepoint (undoing it and everything sent after it, which ran on top of it) and the
//! changesets after it are sent again. So a group costs two round trips (the pipeline and
//! the `COMMIT`) when nothing is refused, one more per refusal, and the outcome is the one of
//! applying the changesets one by one in queue order.

use std::sync::Arc;

use deadpool_postgres::Object;
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use futures::future::{join, join_all};
use rapport_core::{Applied, StoreError};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::Inner;
use crate::apply::{Prepared, Stmts, StrictStmts};
use crate::error::{db, pool};

/// Most changesets in one transaction: each has a savepoint, nested in the one before while
/// the group runs, and PostgreSQL keeps up to 64 subtransactions per session cheaply; at 30
/// `join_all` also still polls its futures in order (which the pipeline relies on).
pub(crate) const MAX_GROUP: usize = 30;

struct Job {
    prepared: Prepared,
    reply: oneshot::Sender<Result<Applied, StoreError>>,
}

/// The lanes' queues. Dropping it ends the lanes' tasks once their queues are drained.
pub(crate) struct Groups {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
}

impl Groups {
    /// Starts `lanes` (at least one) lane tasks on `handle`.
    pub(crate) fn start(handle: &Handle, inner: &Arc<Inner>, lanes: usize) -> Self {
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded();
                handle.spawn(lane(Arc::clone(inner), rx));
                tx
            })
            .collect();
        Self { lanes }
    }

    /// Applies `prepared` in its lane's next group.
    pub(crate) fn apply(
        &self,
        prepared: Prepared,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send + use<> {
        let (reply, answer) = oneshot::channel();
        let n = self.lanes.len() as u128;
        let lane = usize::try_from(prepared.route() % n).unwrap_or(0);
        let sent = self.lanes[lane].unbounded_send(Job { prepared, reply });
        async move {
            sent.map_err(|_| StoreError::unavailable("the postgres store is shut down"))?;
            answer
                .await
                .map_err(|_| StoreError::unavailable("the postgres group commit task stopped"))?
        }
    }
}

/// Groups of one lane in flight at once: one running its statements, the others waiting
/// for their `COMMIT` (the WAL flush).
pub(crate) const IN_FLIGHT: usize = 3;

async fn lane(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.next().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                _ => break,
            }
        }
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        // The group runs and commits on a task of its own; the next group starts as soon as
        // this one's statements have answered (`ran`), while its `COMMIT` is still under way.
        // A later group never waits for rows an earlier one has yet to lock (the earlier one
        // only commits), so groups in flight cannot deadlock each other.
        let (ran, statements_done) = oneshot::channel::<()>();
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            let mut ran = Some(ran);
            let group = run_group(&inner, group, &mut ran).await;
            if let Some(ran) = ran.take() {
                let _ = ran.send(());
            }
            group.commit().await;
            drop(slot);
        });
        let _ = statements_done.await;
    }
}

/// A pooled connection in the middle of a group's transaction: dropped before the
/// transaction ended (an error the savepoints did not absorb), it is taken out of the pool,
/// closing it (the server rolls the transaction back), so no later caller gets a connection
/// inside a transaction.
struct InTx(Option<Object>);

impl InTx {
    fn client(&self) -> &deadpool_postgres::ClientWrapper {
        self.0
            .as_deref()
            .unwrap_or_else(|| unreachable!("taken only on drop or finish"))
    }

    /// The transaction ended: the connection goes back to the pool.
    fn finish(mut self) {
        self.0.take();
    }
}

impl Drop for InTx {
    fn drop(&mut self) {
        if let Some(obj) = self.0.take() {
            drop(Object::take(obj));
        }
    }
}

/// A group whose statements have run: its `COMMIT` (or `ROLLBACK`) and answers are left.
struct Ran {
    client: Option<InTx>,
    group: Vec<Job>,
    outcomes: Vec<Option<Result<Applied, StoreError>>>,
    broken: Option<StoreError>,
    /// The transaction was rolled back already (a group of one, refused): nothing to commit.
    ended: bool,
}

/// Runs `group`'s statements; `ran` is sent (taken) once they have all answered, if that is
/// before the group's outcome is known (a pipelined `COMMIT` still under way).
async fn run_group(inner: &Inner, group: Vec<Job>, ran: &mut Option<oneshot::Sender<()>>) -> Ran {
    let failed = |group: Vec<Job>, client: Option<InTx>, e: StoreError| Ran {
        client,
        group,
        outcomes: Vec::new(),
        broken: Some(e),
        ended: false,
    };
    let client = match inner.pool.get().await {
        Ok(c) => InTx(Some(c)),
        Err(e) => return failed(group, None, pool(e)),
    };
    let conn = client.client();
    let stmts = match Stmts::prepare(conn, &inner.sql, None).await {
        Ok(s) => s,
        Err(e) => {
            client.finish();
            return failed(group, None, e);
        }
    };
    // First without savepoints: the common case, where no changeset is refused, then costs
    // one statement per write and the tenant named once, not a savepoint and a tenant per
    // changeset. Any refusal or error undoes the whole try and the group runs again below.
    // Plain changesets (customers, activities, outbox rows) send their `COMMIT` in the same
    // pipeline.
    let tried = if group.iter().all(|job| job.prepared.pipelinable()) {
        match StrictStmts::prepare(conn, &inner.sql).await {
            Ok(strict) => pipelined(conn, &stmts, &strict, &group, ran).await,
            Err(e) => Tried::Broken(e),
        }
    } else {
        optimistic(conn, &stmts, inner, &group).await
    };
    match tried {
        Tried::Committed(outcomes) => {
            return Ran {
                client: Some(client),
                group,
                outcomes,
                broken: None,
                ended: true,
            };
        }
        Tried::Applied(outcomes) => {
            return Ran {
                client: Some(client),
                group,
                outcomes,
                broken: None,
                ended: false,
            };
        }
        Tried::Alone(outcome) => {
            return Ran {
                client: Some(client),
                group,
                outcomes: vec![outcome],
                broken: None,
                ended: true,
            };
        }
        Tried::Refused => {}
        Tried::Broken(e) => {
            return Ran {
                client: Some(client),
                group,
                outcomes: Vec::new(),
                broken: Some(e),
                ended: false,
            };
        }
    }
    let savepoints: Vec<String> = (0..group.len())
        .map(|i| format!("SAVEPOINT cs{i}"))
        .collect();
    let mut outcomes: Vec<Option<Result<Applied, StoreError>>> = Vec::with_capacity(group.len());
    let mut broken = None;
    let mut begin = true;
    while outcomes.len() < group.len() {
        // One pipeline: the rest of the group, each changeset after a savepoint of its own.
        let from = outcomes.len();
        let opening = async {
            if begin {
                conn.batch_execute("BEGIN").await
            } else {
                Ok(())
            }
        };
        let rest = join_all(
            group[from..]
                .iter()
                .zip(&savepoints[from..])
                .map(|(job, sp)| {
                    join(
                        conn.batch_execute(sp),
                        job.prepared
                            .send_with_ledger(conn, &stmts, &inner.sql, true),
                    )
                }),
        );
        let (opened, answers) = join(opening, rest).await;
        begin = false;
        if let Err(e) = opened {
            broken = Some(db(e));
            break;
        }
        // Read in order up to the first refusal: the changesets after it ran on top of it,
        // so it is rolled back to its savepoint (with them) and they go again.
        let mut refused = None;
        for (i, (opened, written)) in answers.into_iter().enumerate() {
            if let Err(e) = opened {
                broken = Some(db(e));
                break;
            }
            match written {
                Ok(done) if !done.is_duplicate() => outcomes.push(Some(Ok(done))),
                other => {
                    outcomes.push(Some(other));
                    refused = Some(from + i);
                    break;
                }
            }
        }
        if broken.is_some() {
            break;
        }
        if let Some(i) = refused {
            if let Err(e) = conn
                .batch_execute(&format!("ROLLBACK TO SAVEPOINT cs{i}"))
                .await
            {
                broken = Some(db(e));
                break;
            }
        }
    }
    Ran {
        client: Some(client),
        group,
        outcomes,
        broken,
        ended: false,
    }
}

/// What the try without savepoints came to.
enum Tried {
    /// Every changeset written, none refused, and the pipelined `COMMIT` made them durable.
    Committed(Vec<Option<Result<Applied, StoreError>>>),
    /// Every changeset written, none refused: the group's outcomes, its transaction open.
    Applied(Vec<Option<Result<Applied, StoreError>>>),
    /// A changeset was refused (or a statement failed): the try was rolled back, nothing of
    /// it is kept, and the connection is outside any transaction.
    Refused,
    /// The one changeset of the group was refused: its answer, the try rolled back.
    Alone(Option<Result<Applied, StoreError>>),
    /// The connection failed (the roll-back too).
    Broken(StoreError),
}

/// The whole group and its `COMMIT` in one pipeline — `BEGIN`, the tenant named before the
/// first changeset and again only where it changes, each changeset's statements in their
/// strict forms ([`Prepared::send_pipelined`]), `COMMIT` — sent before any answer is read.
/// When every statement answers, the group is committed with one round trip and one WAL
/// flush. At the first refusal the strict statement fails, the transaction is aborted, the
/// statements after it fail too and the `COMMIT` rolls everything back: nothing is kept and
/// the group runs again under savepoints. `ran` is sent when the statements have answered
/// (every row the group writes is locked), before the `COMMIT`'s answer.
async fn pipelined(
    conn: &deadpool_postgres::ClientWrapper,
    stmts: &Stmts,
    strict: &StrictStmts,
    group: &[Job],
    ran: &mut Option<oneshot::Sender<()>>,
) -> Tried {
    let writes = writes(conn, stmts, group, |prepared| {
        prepared.send_pipelined(conn, stmts, strict)
    });
    let statements = async {
        let (opened, answers) = join(conn.batch_execute("BEGIN"), writes).await;
        if opened.is_ok() && answers.iter().all(Result::is_ok) {
            if let Some(ran) = ran.take() {
                let _ = ran.send(());
            }
        }
        (opened, answers)
    };
    // `join` polls `statements` first: `BEGIN` and every statement are sent before `COMMIT`.
    let ((opened, answers), committed) = join(statements, conn.batch_execute("COMMIT")).await;
    if let Err(e) = opened {
        return Tried::Broken(db(e));
    }
    match committed {
        // Every statement answered: the group is committed.
        Ok(()) if answers.iter().all(Result::is_ok) => {
            Tried::Committed(answers.into_iter().map(Some).collect())
        }
        // A refusal aborted the transaction: the `COMMIT` answered as a `ROLLBACK`. A group
        // of one whose failure is retryable (a deadlock, a lost connection) answers it as is,
        // as the try without the `COMMIT` does: running it again under a savepoint would
        // wait for the same locks. Anything else runs again under savepoints, which tells a
        // refusal's kind (the strict statements only say "refused").
        Ok(())
            if group.len() == 1
                && answers
                    .iter()
                    .any(|a| a.as_ref().is_err_and(StoreError::is_retryable)) =>
        {
            Tried::Alone(answers.into_iter().find(Result::is_err))
        }
        Ok(()) => Tried::Refused,
        Err(e) => Tried::Broken(db(e)),
    }
}

/// The whole group in one pipeline — `BEGIN`, each changeset's statements, the tenant named
/// before the first changeset and again only where it changes — with no savepoint: the
/// outcome when nothing is refused. At the first refusal or error the transaction is rolled
/// back, so the group can run again changeset by changeset under savepoints.
async fn optimistic(
    conn: &deadpool_postgres::ClientWrapper,
    stmts: &Stmts,
    inner: &Inner,
    group: &[Job],
) -> Tried {
    let writes = writes(conn, stmts, group, |prepared| {
        prepared.send_with_ledger(conn, stmts, &inner.sql, false)
    });
    let (opened, answers) = join(conn.batch_execute("BEGIN"), writes).await;
    if let Err(e) = opened {
        return Tried::Broken(db(e));
    }
    let clean = answers
        .iter()
        .all(|a| matches!(a, Ok(done) if !done.is_duplicate()));
    if clean {
        return Tried::Applied(answers.into_iter().map(Some).collect());
    }
    match conn.batch_execute("ROLLBACK").await {
        // A group of one: its refusal is its answer, as it would be under a savepoint.
        Ok(()) if answers.len() == 1 => Tried::Alone(answers.into_iter().next()),
        Ok(()) => Tried::Refused,
        Err(e) => Tried::Broken(db(e)),
    }
}

/// Each changeset of `group` written by `send` (its statements, in the order of `group`),
/// the tenant named before the first changeset and again only where the next one's tenant
/// differs: one future per changeset, answering the naming's error if it failed, else the
/// changeset's outcome. Every `send` is called here, in order; nothing is sent before the
/// returned future is first polled, which sends everything in order (the pipeline).
fn writes<'a, F, Fut>(
    conn: &'a deadpool_postgres::ClientWrapper,
    stmts: &'a Stmts,
    group: &'a [Job],
    send: F,
) -> impl Future<Output = Vec<Result<Applied, StoreError>>>
where
    F: Fn(&'a Prepared) -> Fut,
    Fut: Future<Output = Result<Applied, StoreError>>,
{
    let mut named = None;
    join_all(group.iter().map(|job| {
        let tenant = job.prepared.tenant();
        let name = (named != Some(tenant)).then_some(tenant);
        named = Some(tenant);
        // `join` sends the naming first, then the changeset's statements, on its first poll.
        let naming = async move {
            match name {
                Some(t) => stmts.name_tenant(conn, &t).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let written = send(&job.prepared);
        async move {
            let (named, written) = join(naming, written).await;
            named.and(written)
        }
    }))
}

impl Ran {
    /// Commits the group (or rolls it back when it broke) and answers every caller.
    async fn commit(self) {
        let Ran {
            client,
            group,
            outcomes,
            broken,
            ended,
        } = self;
        let ended = match (broken, &client) {
            (Some(e), _) => Err(e),
            (None, _) if ended => Ok(()),
            (None, Some(c)) => c.client().batch_execute("COMMIT").await.map_err(db),
            (None, None) => Err(StoreError::unavailable("group commit: no connection")),
        };
        let mut outcomes = outcomes.into_iter();
        match ended {
            Ok(()) => {
                if let Some(c) = client {
                    c.finish();
                }
                for job in group {
                    let answer = outcomes.next().flatten().unwrap_or_else(|| {
                        Err(StoreError::unavailable("group commit: not applied"))
                    });
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                // Nothing of the group is kept: each written changeset's caller hears why; a
                // refusal stays the answer to its own caller (nothing of it was kept either).
                if let Some(c) = client {
                    if c.client().batch_execute("ROLLBACK").await.is_ok() {
                        c.finish();
                    }
                }
                for job in group {
                    let answer = match outcomes.next().flatten() {
                        Some(Err(refusal)) => Err(refusal),
                        _ => Err(copy(&e)),
                    };
                    let _ = job.reply.send(answer);
                }
            }
        }
    }
}

/// The error for another caller of the same group: `StoreError` is not `Clone` (it keeps
/// the driver error as its source), so the others hear it as `Unavailable` (retryable: the
/// group's transaction is gone, nothing of theirs was kept) with the same message.
fn copy(e: &StoreError) -> StoreError {
    StoreError::unavailable(format!("group commit failed: {e}"))
}

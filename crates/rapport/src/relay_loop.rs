//! The relay as a loop: rounds of [`relay_once`] until shut down, as a tokio task
//! ([`spawn_relay`]) or a thread for hosts without a runtime ([`RelayThread`]).
//!
//! A round that claimed a full batch is followed at once by the next; otherwise the loop
//! waits `idle` (or less: a shutdown wakes it). A failing store (database down) is retried
//! with exponential back-off up to `max_error_backoff`, never fatal. A shutdown lets the
//! round in flight finish (deliveries are not cut off half-way), then the loop returns its
//! totals; whatever was claimed but not acknowledged is claimed again after its lease.

use std::sync::Arc;
use std::time::Duration;

use rapport_core::{Notifier, Outbox};

use crate::clock::Clock;
use crate::relay::{RelayConfig, RelayReport, relay_once};

/// Settings of the relay loop.
///
/// ```
/// use std::time::Duration;
/// use rapport::RelayLoopConfig;
/// let c = RelayLoopConfig::default();
/// assert_eq!(c.idle, Duration::from_secs(1));
/// assert_eq!(c.relay.batch, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLoopConfig {
    /// Each round's settings.
    pub relay: RelayConfig,
    /// The wait after a round that did not fill its batch.
    pub idle: Duration,
    /// The first wait after a store error; doubles per consecutive error.
    pub error_backoff: Duration,
    /// The longest wait after store errors.
    pub max_error_backoff: Duration,
}

impl Default for RelayLoopConfig {
    fn default() -> Self {
        Self {
            relay: RelayConfig::default(),
            idle: Duration::from_secs(1),
            error_backoff: Duration::from_millis(100),
            max_error_backoff: Duration::from_secs(30),
        }
    }
}

/// What a relay loop did until it stopped.
///
/// ```
/// let t = rapport::RelayTotals::default();
/// assert_eq!((t.rounds, t.delivered, t.store_errors), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayTotals {
    /// Rounds run (including failed ones).
    pub rounds: u64,
    /// Messages claimed.
    pub claimed: u64,
    /// Delivered and acknowledged.
    pub delivered: u64,
    /// Failed deliveries (scheduled again).
    pub failed: u64,
    /// Dead-lettered by the notifier.
    pub dead_lettered: u64,
    /// Rounds that hit a store error.
    pub store_errors: u64,
}

impl RelayTotals {
    fn add(&mut self, r: &RelayReport) {
        self.claimed += r.claimed as u64;
        self.delivered += r.delivered as u64;
        self.failed += r.failed as u64;
        self.dead_lettered += r.dead_lettered as u64;
    }
}

/// What to do after a round: go on at once, or wait this long.
fn next_wait(
    config: &RelayLoopConfig,
    round: &Result<RelayReport, crate::Error>,
    errors_in_a_row: &mut u32,
    totals: &mut RelayTotals,
) -> Option<Duration> {
    totals.rounds += 1;
    match round {
        Ok(r) => {
            *errors_in_a_row = 0;
            totals.add(r);
            (r.claimed < config.relay.batch as usize).then_some(config.idle)
        }
        Err(e) => {
            *errors_in_a_row += 1;
            totals.store_errors += 1;
            tracing::warn!(
                error = e.kind(),
                in_a_row = *errors_in_a_row,
                "relay round failed"
            );
            let factor = 2u32.saturating_pow(errors_in_a_row.saturating_sub(1).min(31));
            Some(
                config
                    .error_backoff
                    .saturating_mul(factor)
                    .min(config.max_error_backoff),
            )
        }
    }
}

/// Runs relay rounds until `shutdown` turns true (or its sender is dropped), then returns the
/// totals. Needs a tokio runtime with the time driver.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use rapport::{RelayLoopConfig, Service, SystemClock, run_relay};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
///
/// #[derive(Default)]
/// struct Seen(Mutex<Vec<MessageId>>);
/// impl Notifier for Seen {
///     async fn deliver(&self, m: &OutboxMessage) -> Result<(), NotifyError> {
///         self.0.lock().unwrap().push(m.id);
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let svc = Service::new(MemoryStore::new());
/// svc.register(TenantId::from_u128(1), Profile::default()).await?;
/// let (stop, stopped) = tokio::sync::watch::channel(false);
/// let config = RelayLoopConfig { idle: Duration::from_millis(5), ..RelayLoopConfig::default() };
/// let seen = Seen::default();
/// let relay = run_relay(svc.store(), &seen, config, SystemClock, stopped);
/// let stopper = async {
///     while seen.0.lock().unwrap().is_empty() { tokio::time::sleep(Duration::from_millis(1)).await; }
///     stop.send(true).unwrap();
/// };
/// let (totals, ()) = tokio::join!(relay, stopper);
/// assert_eq!(totals.delivered, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn run_relay<S: Outbox, N: Notifier, C: Clock>(
    store: &S,
    notifier: &N,
    config: RelayLoopConfig,
    clock: C,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> RelayTotals {
    let mut totals = RelayTotals::default();
    let mut errors = 0;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let round = relay_once(store, notifier, &config.relay, clock.now()).await;
        let Some(wait) = next_wait(&config, &round, &mut errors, &mut totals) else {
            continue;
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break; // the sender is gone: nobody can ask for more
                }
            }
        }
    }
    tracing::info!(
        rounds = totals.rounds,
        delivered = totals.delivered,
        "relay stopped"
    );
    totals
}

/// A relay loop running as a tokio task; [`RelayHandle::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct RelayHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<RelayTotals>,
}

/// Spawns [`run_relay`] on the current tokio runtime.
///
/// ```
/// use std::sync::Arc;
/// use rapport::{RelayLoopConfig, SystemClock, spawn_relay, NoopNotifier};
/// use rapport_memory::MemoryStore;
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let relay = spawn_relay(Arc::new(MemoryStore::new()), Arc::new(NoopNotifier), RelayLoopConfig::default(), SystemClock);
/// let totals = relay.shutdown().await;
/// assert_eq!(totals.delivered, 0);
/// # });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Panics
/// Outside a tokio runtime (as `tokio::spawn`).
pub fn spawn_relay<S, N, C>(
    store: Arc<S>,
    notifier: Arc<N>,
    config: RelayLoopConfig,
    clock: C,
) -> RelayHandle
where
    S: Outbox + 'static,
    N: Notifier + 'static,
    C: Clock + 'static,
{
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task =
        tokio::spawn(async move { run_relay(&*store, &*notifier, config, clock, stopped).await });
    RelayHandle { stop, task }
}

impl RelayHandle {
    /// Asks the loop to stop after its current round and waits for it; returns its totals
    /// (default totals if the task panicked or was cancelled).
    pub async fn shutdown(self) -> RelayTotals {
        // An error means the loop already ended: its totals are in the task.
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

/// A relay loop on its own thread, for hosts without an async runtime: each round is driven
/// with `futures::executor::block_on`, so the notifier must not need a tokio runtime
/// (a log, a `RecordingNotifier`, a channel with room; the webhook notifier needs
/// [`spawn_relay`]).
///
/// ```
/// use std::sync::Arc;
/// use rapport::{NoopNotifier, RelayLoopConfig, RelayThread, SystemClock, blocking::Service};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
///
/// let store = Arc::new(MemoryStore::new());
/// let svc = Service::new(store.clone());
/// svc.register(TenantId::from_u128(1), Profile::default())?;
/// let relay = RelayThread::spawn(store, Arc::new(NoopNotifier), RelayLoopConfig::default(), SystemClock);
/// std::thread::sleep(std::time::Duration::from_millis(50));
/// let totals = relay.stop();
/// assert_eq!(totals.delivered, 1);
/// # Ok::<(), rapport::Error>(())
/// ```
#[derive(Debug)]
pub struct RelayThread {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<RelayTotals>,
}

impl RelayThread {
    /// Starts the loop on a new thread named `rapport-relay`.
    ///
    /// # Panics
    /// When the operating system cannot start a thread.
    pub fn spawn<S, N, C>(
        store: Arc<S>,
        notifier: Arc<N>,
        config: RelayLoopConfig,
        clock: C,
    ) -> Self
    where
        S: Outbox + 'static,
        N: Notifier + 'static,
        C: Clock + 'static,
    {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rapport-relay".into())
            .spawn(move || {
                let mut totals = RelayTotals::default();
                let mut errors = 0;
                while let Err(std::sync::mpsc::TryRecvError::Empty) = stopped.try_recv() {
                    let round = futures::executor::block_on(relay_once(
                        &*store,
                        &*notifier,
                        &config.relay,
                        clock.now(),
                    ));
                    if let Some(wait) = next_wait(&config, &round, &mut errors, &mut totals) {
                        match stopped.recv_timeout(wait) {
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                            _ => break,
                        }
                    }
                }
                totals
            })
            .unwrap_or_else(|e| panic!("cannot start the relay thread: {e}"));
        Self { stop, thread }
    }

    /// Asks the loop to stop after its current round, waits for the thread and returns its
    /// totals (default totals if the thread panicked).
    #[must_use]
    pub fn stop(self) -> RelayTotals {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

//! Fault injection: a store wrapper that fails the k-th storage call, and a workload run for
//! every k. The failure is injected before the call (the store never sees it) or, for writes,
//! after it (the write committed but the caller hears an error — a lost reply).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport::{NewActivity, RelayConfig};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::support::{FixedClock, RecordingNotifier, SequentialIds};

/// Wraps a store and fails call number `fail_at` (1-based).
///
/// ```
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::fault::FaultyStore;
/// let t = TenantId::from_u128(1);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), chrono::DateTime::UNIX_EPOCH);
/// let mut cs = Changeset::new();
/// cs.create(c.clone(), Stats::default());
///
/// // Fail the first call after performing it: the write commits, the reply is lost.
/// let s = FaultyStore::new(MemoryStore::new(), 1, true);
/// assert!(matches!(block_on(s.apply(t, &cs)), Err(StoreError::Unavailable { .. })));
/// assert!(block_on(s.load(t, c.id())).unwrap().is_some()); // it was written
/// assert_eq!(s.calls(), 2);
///
/// // Before: the store never sees the call.
/// let s = FaultyStore::new(MemoryStore::new(), 1, false);
/// assert!(block_on(s.apply(t, &cs)).is_err());
/// assert!(block_on(s.inner.load(t, c.id())).unwrap().is_none());
/// ```
#[derive(Debug)]
pub struct FaultyStore<S> {
    /// The real store.
    pub inner: S,
    fail_at: usize,
    after: bool,
    calls: AtomicUsize,
}

impl<S> FaultyStore<S> {
    /// Fails call `fail_at`; with `after`, a write is performed first and its reply lost.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_memory::MemoryStore;
    /// use rapport_testkit::fault::FaultyStore;
    /// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
    /// let s = FaultyStore::new(MemoryStore::new(), 2, false); // the second call fails
    /// assert!(block_on(s.load(t, id)).is_ok());
    /// assert!(matches!(block_on(s.load(t, id)), Err(StoreError::Unavailable { .. })));
    /// assert!(block_on(s.load(t, id)).is_ok()); // only that one
    /// ```
    pub fn new(inner: S, fail_at: usize, after: bool) -> Self {
        Self {
            inner,
            fail_at,
            after,
            calls: AtomicUsize::new(0),
        }
    }

    /// Calls made so far.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_memory::MemoryStore;
    /// use rapport_testkit::fault::FaultyStore;
    /// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
    /// let s = FaultyStore::new(MemoryStore::new(), 99, false);
    /// assert_eq!(s.calls(), 0);
    /// block_on(s.load(t, id)).unwrap();
    /// block_on(s.scan(t, Page::first(10))).unwrap();
    /// assert_eq!(s.calls(), 2);
    /// ```
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn hit(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at
    }
}

fn injected() -> StoreError {
    StoreError::Unavailable {
        reason: "injected fault".into(),
    }
}

impl<S: Store> Store for FaultyStore<S> {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.scan(t, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.activities(t, id, range).await
    }
    async fn account_roles(
        &self,
        t: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<AccountRoleSet>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.account_roles(t, customers).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        if self.hit() {
            if self.after {
                let _ = self.inner.apply(t, cs).await;
            }
            return Err(injected());
        }
        self.inner.apply(t, cs).await
    }
    // Not counted as calls: the fault schedules of the existing contracts stay as they were.
    async fn purchase_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<Vec<rapport_core::LineItems>>, StoreError> {
        self.inner.purchase_lines(t, id).await
    }
    async fn clv_model(&self, t: TenantId) -> Result<Option<FittedClv>, StoreError> {
        self.inner.clv_model(t).await
    }
    async fn save_clv_model(&self, t: TenantId, model: &FittedClv) -> Result<(), StoreError> {
        self.inner.save_clv_model(t, model).await
    }
}
impl<S: Outbox> Outbox for FaultyStore<S> {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        if self.hit() {
            if self.after {
                let _ = self.inner.claim_outbox(limit, lease, now).await;
            }
            return Err(injected());
        }
        self.inner.claim_outbox(limit, lease, now).await
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        if self.hit() {
            if self.after {
                let _ = self.inner.ack_outbox(ids).await;
            }
            return Err(injected());
        }
        self.inner.ack_outbox(ids).await
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.retry_outbox(id, at).await
    }
}

/// What the fault runs found (see [`every_call_fails_once`]).
///
/// ```
/// use rapport_testkit::fault::FaultReport;
/// let r = FaultReport::default();
/// assert_eq!((r.runs, r.typed_errors, r.calls), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultReport {
    /// Fault points tried (k × before/after).
    pub runs: usize,
    /// Runs where the workload saw the injected error as a typed `rapport::Error`.
    pub typed_errors: usize,
    /// Storage calls of the fault-free workload.
    pub calls: usize,
}

const T: TenantId = TenantId::from_u128(7);

/// The workload: register customers, record purchases (idempotent keys), tag, evaluate, sweep,
/// relay. Stops at the first error, which it returns.
fn workload<S: Store + Outbox>(
    svc: &rapport::blocking::Service<S, RecordingNotifier>,
    clock: &FixedClock,
) -> Result<(), rapport::Error> {
    let mut ids = Vec::new();
    for i in 0..3 {
        let p = Profile {
            email: Email::parse(&format!("f{i}@example.com"))
                .ok()
                .map(Pii::new),
            ..Profile::default()
        };
        ids.push(svc.register(T, p)?.customer.id());
    }
    for k in 0..9u32 {
        let a = NewActivity {
            customer: ids[(k % 3) as usize],
            at: rapport::Clock::now(clock) - chrono::Duration::days(i64::from(40 - k * 4)),
            channel: Channel::Web,
            idempotency_key: IdempotencyKey::new(format!("f-{k}"))
                .map_err(rapport::Error::Domain)?,
            kind: ActivityKind::Purchase {
                order_id: OrderId::new(format!("{k}")).map_err(rapport::Error::Domain)?,
                amount: Money::new(Decimal::new(i64::from(k) * 1000 + 99, 2), Currency::USD),
                margin: None,
            },
        };
        svc.record(T, a)?;
    }
    let tag: Tag = "test:faulty".parse().map_err(rapport::Error::Domain)?;
    svc.tag(T, ids[0], tag, None)?;
    svc.evaluate(T, ids[1])?;
    svc.sweep(T, rapport::Clock::now(clock), 2, |_| {})?;
    svc.relay_once(&RelayConfig::default(), rapport::Clock::now(clock))?;
    Ok(())
}

/// Checks that nothing is half-applied: every customer's stored stats are exactly the fold of
/// its stored activities.
fn consistent<S: Store>(store: &S) -> Result<(), String> {
    let rows = futures::executor::block_on(store.scan(T, Page::first(1_000)))
        .map_err(|e| e.to_string())?;
    for r in rows {
        let acts =
            futures::executor::block_on(store.activities(T, r.customer.id(), TimeRange::all()))
                .map_err(|e| e.to_string())?;
        let folded = Stats::from_activities(&acts).map_err(|e| e.to_string())?;
        if folded != r.stats {
            return Err(format!(
                "customer {}: stats do not match its {} stored activities",
                r.customer.id(),
                acts.len()
            ));
        }
    }
    Ok(())
}

/// Runs the workload once without faults to count its storage calls, then once per call k,
/// failing call k before it happens and (for writes) after it. Every run must end in a typed
/// error or success — never a panic — leave the store consistent, and a fault-free re-run of
/// the workload on the same store must succeed and stay consistent (retries are idempotent).
///
/// # Errors
/// The first violation, described.
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::fault::every_call_fails_once;
/// let report = every_call_fails_once(MemoryStore::new).unwrap();
/// assert_eq!(report.runs, 2 * report.calls); // every call, failed before and after
/// assert!(report.typed_errors > 0 && report.typed_errors <= report.runs);
/// ```
pub fn every_call_fails_once<S: Store + Outbox + 'static>(
    factory: impl Fn() -> S,
) -> Result<FaultReport, String> {
    let service = |store: FaultyStore<S>, clock: &std::sync::Arc<FixedClock>, first_id: u64| {
        rapport::blocking::Service::from_async(
            rapport::Service::new(store)
                .with_clock(std::sync::Arc::clone(clock))
                .with_ids(SequentialIds::starting_at(first_id))
                .with_notifier(RecordingNotifier::default()),
        )
    };
    let clock = std::sync::Arc::new(FixedClock::default());
    let probe = service(FaultyStore::new(factory(), 0, false), &clock, 1);
    workload(&probe, &clock).map_err(|e| format!("fault-free workload failed: {e}"))?;
    let calls = probe.inner().store().calls();
    let mut report = FaultReport {
        calls,
        ..FaultReport::default()
    };
    for k in 1..=calls {
        for after in [false, true] {
            let clock = std::sync::Arc::new(FixedClock::default());
            let svc = service(FaultyStore::new(factory(), k, after), &clock, 1);
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| workload(&svc, &clock)));
            match outcome {
                Err(_) => return Err(format!("panic with a fault at call {k} (after: {after})")),
                Ok(Err(_typed)) => report.typed_errors += 1,
                Ok(Ok(())) => {}
            }
            report.runs += 1;
            let inner = &svc.inner().store().inner;
            consistent(inner).map_err(|e| format!("fault at call {k} (after: {after}): {e}"))?;
            // Recovery: the same workload again, without faults, with new ids as a restarted
            // host would draw.
            let again = service(
                FaultyStore::new(svc.into_inner().into_store().inner, 0, false),
                &clock,
                1_000_000,
            );
            workload(&again, &clock)
                .map_err(|e| format!("re-run after a fault at call {k} failed: {e}"))?;
            consistent(&again.inner().store().inner)
                .map_err(|e| format!("re-run after fault {k}: {e}"))?;
        }
    }
    Ok(report)
}

impl<S: rapport_core::ports::MergeStore> rapport_core::ports::MergeStore for FaultyStore<S> {
    async fn merge_record(
        &self,
        t: TenantId,
        id: MergeId,
    ) -> Result<Option<MergeRecord>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.merge_record(t, id).await
    }
    async fn merges_of(&self, t: TenantId, c: CustomerId) -> Result<Vec<MergeRecord>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.merges_of(t, c).await
    }
    async fn distinct_pairs(&self, t: TenantId) -> Result<Vec<DistinctPair>, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.distinct_pairs(t).await
    }
    async fn belongings(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<rapport_core::Belongings, StoreError> {
        if self.hit() {
            return Err(injected());
        }
        self.inner.belongings(t, c).await
    }
}

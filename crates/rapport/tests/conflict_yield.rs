//! A version-conflict retry hands the executor to the other ready tasks before it reads
//! again, and never blocks the executor's thread (it used `std::thread::yield_now`, which runs
//! the retry loop to its end inside one `poll`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::Poll;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;

/// A memory store whose next `conflicts` applies fail with a version conflict; it records how
/// many polls the other task had made at each apply.
struct Contended {
    inner: MemoryStore,
    conflicts: AtomicU32,
    other_polls: Arc<AtomicU32>,
    seen: Mutex<Vec<u32>>,
}

impl Store for Contended {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.inner.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.inner.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.inner.scan(t, page).await
    }
    async fn query(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.query(t, segment, now, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.inner.activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        self.seen
            .lock()
            .unwrap()
            .push(self.other_polls.load(Ordering::SeqCst));
        let refuse = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            let c = cs.customers[0].customer();
            return Err(StoreError::Conflict {
                customer: c.id(),
                expected: c.version() - 1,
                actual: c.version(),
            });
        }
        self.inner.apply(t, cs).await
    }
}

#[test]
fn a_conflict_retry_yields_to_the_executor_between_attempts() {
    let t = TenantId::from_u128(1);
    let other_polls = Arc::new(AtomicU32::new(0));
    let svc = Service::new(Contended {
        inner: MemoryStore::new(),
        conflicts: AtomicU32::new(0),
        other_polls: other_polls.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let ann = block_on(svc.register(t, Profile::default()))
        .unwrap()
        .customer;
    svc.store().seen.lock().unwrap().clear();
    svc.store().conflicts.store(3, Ordering::SeqCst);

    // One thread, two tasks: the tagging (three conflicts, then success) and another task
    // that counts how often the executor gets to poll it.
    let done = AtomicBool::new(false);
    let tagging = async {
        let r = svc
            .tag(t, ann.id(), Tag::new("value", "vip").unwrap(), None)
            .await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let other = std::future::poll_fn(|cx| {
        if done.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        other_polls.fetch_add(1, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    });
    let (tagged, ()) = block_on(futures::future::join(tagging, other));
    assert_eq!(tagged.unwrap().version(), 2);
    // Four attempts, and the other task ran between each two: the retries gave the executor
    // back instead of looping inside one poll (which recorded [0, 0, 0, 0]).
    let seen = svc.store().seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
}

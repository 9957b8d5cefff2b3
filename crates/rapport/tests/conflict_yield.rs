//! A version-conflict retry hands the executor to the other ready tasks before it reads
//! again, and never blocks the executor's thread (it used `std::thread::yield_now`, which runs
//! the retry loop to its end inside one `poll`).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::Poll;

use futures::executor::block_on;
use rapport::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;
use support::{Hooked, Hooks, conflict_on};

/// Hooks whose next `conflicts` applies fail with a version conflict; they record how
/// many polls the other task had made at each apply.
struct Contended {
    conflicts: AtomicU32,
    other_polls: Arc<AtomicU32>,
    seen: Mutex<Vec<u32>>,
}

impl Hooks for Contended {
    async fn apply(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        cs: &Changeset,
    ) -> Result<Applied, StoreError> {
        self.seen
            .lock()
            .unwrap()
            .push(self.other_polls.load(Ordering::SeqCst));
        let refuse = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err(conflict_on(cs));
        }
        inner.apply(t, cs).await
    }
}

#[test]
fn a_conflict_retry_yields_to_the_executor_between_attempts() {
    let t = TenantId::from_u128(1);
    let other_polls = Arc::new(AtomicU32::new(0));
    let svc = Service::new(Hooked::new(Contended {
        conflicts: AtomicU32::new(0),
        other_polls: other_polls.clone(),
        seen: Mutex::new(Vec::new()),
    }));
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

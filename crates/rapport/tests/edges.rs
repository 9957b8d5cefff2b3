//! The relay at the edges of time: a back-off or a lease past the end of the calendar waits
//! until its end instead of overflowing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::*;
use rapport::{RelayConfig, Service, relay_once};
use rapport_memory::MemoryStore;

/// Refuses everything.
struct Down;

impl Notifier for Down {
    async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
        Err(NotifyError::Failed {
            reason: "down".into(),
        })
    }
}

#[test]
fn a_backoff_past_the_end_of_time_waits_until_its_end() {
    let svc = Service::new(MemoryStore::new());
    let t = TenantId::from_u128(1);
    block_on(svc.register(t, Profile::default())).unwrap();
    let config = RelayConfig {
        backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        lease: Duration::MAX,
        ..RelayConfig::default()
    };
    let now = Utc.with_ymd_and_hms(9999, 12, 31, 23, 0, 0).unwrap();
    for at in [DateTime::UNIX_EPOCH, now] {
        let r = block_on(relay_once(svc.store(), &Down, &config, at)).unwrap();
        assert!(r.claimed <= 1 && r.failed == r.claimed, "{r:?}");
    }
    // The message is still there, deliverable at the end of time and not before.
    let later = block_on(svc.store().claim_outbox(10, Duration::from_secs(1), now)).unwrap();
    assert!(later.is_empty());
    let at_end = block_on(svc.store().claim_outbox(
        10,
        Duration::from_secs(1),
        DateTime::<Utc>::MAX_UTC,
    ))
    .unwrap();
    assert_eq!(at_end.len(), 1);
}

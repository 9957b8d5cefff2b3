//! The outbox is keyed `(tenant_id, message_id)` like every table: two tenants may hold a
//! message with the same id, and the relay's acknowledgement and retry (by tenant and id,
//! `Outbox::ack_outbox_for` / `retry_outbox_for`) touch only the message of its own tenant.
//! Before, they named the id alone, and acknowledging tenant A's message 1 deleted tenant
//! B's undelivered message 1 with it.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use support::fresh;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// Delivers tenant A's messages, fails tenant B's.
struct OnlyA(TenantId);

impl Notifier for OnlyA {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        if msg.tenant == self.0 {
            Ok(())
        } else {
            Err(NotifyError::Failed {
                reason: "receiver down".into(),
            })
        }
    }
}

fn message(store: &impl Store, t: TenantId, id: u128) {
    let mut cs = Changeset::new();
    cs.outbox.push(OutboxMessage::new(
        MessageId::from_u128(id),
        t,
        now(),
        DomainEvent::CustomerRegistered {
            customer: CustomerId::from_u128(id),
        },
    ));
    block_on(store.apply(t, &cs)).unwrap();
}

#[test]
fn the_relay_acks_and_retries_only_its_tenants_message_of_a_shared_id() {
    let store = fresh();
    let (a, b) = (TenantId::from_u128(0xA), TenantId::from_u128(0xB));
    message(&store, a, 1);
    message(&store, b, 1);
    let config = rapport::RelayConfig::default();
    let r = block_on(rapport::relay_once(&store, &OnlyA(a), &config, now())).unwrap();
    assert_eq!((r.claimed, r.delivered, r.failed), (2, 1, 1));
    // B's message 1 is still there, deliverable after its back-off, on its second attempt.
    let later = now() + chrono::Duration::days(1);
    let left = block_on(store.claim_outbox(10, Duration::from_secs(60), later)).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].tenant, left[0].id, left[0].attempts),
        (b, MessageId::from_u128(1), 2)
    );
}

#[test]
fn a_keyed_retry_leaves_the_other_tenants_message_of_the_same_id_alone() {
    let store = fresh();
    let (a, b) = (TenantId::from_u128(0xA), TenantId::from_u128(0xB));
    message(&store, a, 7);
    message(&store, b, 7);
    let lease = Duration::from_secs(60);
    assert_eq!(
        block_on(store.claim_outbox(10, lease, now()))
            .unwrap()
            .len(),
        2
    );
    // A's is put off for a day; B's lease ends in a minute as claimed.
    let tomorrow = now() + chrono::Duration::days(1);
    block_on(store.retry_outbox_for(a, MessageId::from_u128(7), tomorrow)).unwrap();
    let after_lease = now() + chrono::Duration::minutes(2);
    let again = block_on(store.claim_outbox(10, lease, after_lease)).unwrap();
    assert_eq!(again.iter().map(|m| m.tenant).collect::<Vec<_>>(), vec![b]);
    block_on(store.ack_outbox_for(&[(b, MessageId::from_u128(7))])).unwrap();
    let last = block_on(store.claim_outbox(10, lease, tomorrow)).unwrap();
    assert_eq!(last.iter().map(|m| m.tenant).collect::<Vec<_>>(), vec![a]);
}

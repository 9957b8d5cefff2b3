//! The outbox port: domain events committed with the state that caused them, claimed by the
//! relay under a lease, acknowledged once delivered, retried with back-off.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::event::OutboxMessage;
use crate::model::id::{MessageId, TenantId};
use crate::ports::StoreError;

/// Where the relay finds the messages a [`Store`](crate::ports::Store) committed with each
/// changeset (the transactional outbox). Claims span tenants; each message carries its tenant.
///
/// Contract (checked by `rapport-testkit`): `claim_outbox` leases up to `limit` messages
/// whose lease has expired until `now + lease` and counts the attempt; a message whose
/// lease expires is handed out again (at-least-once delivery); `ack_outbox` deletes;
/// `retry_outbox` makes a message deliverable again at a later time. A store implements
/// `Outbox` beside `Store`, usually on the same type, because the rows are written by
/// [`Store::apply`](crate::ports::Store::apply) in the same transaction.
///
/// ```
/// use std::{sync::Mutex, time::Duration};
/// use chrono::{DateTime, TimeZone, Utc};
/// use futures::executor::block_on;
/// use rapport_core::*;
///
/// /// Messages with the time each becomes claimable again.
/// #[derive(Default)]
/// struct Queue(Mutex<Vec<(OutboxMessage, DateTime<Utc>)>>);
///
/// impl Outbox for Queue {
///     async fn claim_outbox(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> Result<Vec<OutboxMessage>, StoreError> {
///         let mut q = self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?;
///         let mut out = Vec::new();
///         for (m, free_at) in q.iter_mut().filter(|(_, f)| *f <= now).take(limit as usize) {
///             *free_at = now + lease;
///             m.attempts += 1;
///             out.push(m.clone());
///         }
///         Ok(out)
///     }
///     async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
///         self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?.retain(|(m, _)| !ids.contains(&m.id));
///         Ok(())
///     }
///     async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
///         for (m, free_at) in self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?.iter_mut() {
///             if m.id == id { *free_at = at; }
///         }
///         Ok(())
///     }
/// }
///
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
/// let q = Queue::default();
/// let msg = OutboxMessage::new(MessageId::from_u128(1), t, now, DomainEvent::CustomerRegistered { customer: c });
/// q.0.lock().unwrap().push((msg, DateTime::<Utc>::MIN_UTC));
/// let lease = Duration::from_secs(60);
/// let claimed = block_on(q.claim_outbox(10, lease, now))?;
/// assert_eq!((claimed.len(), claimed[0].attempts), (1, 1));
/// assert!(block_on(q.claim_outbox(10, lease, now))?.is_empty()); // leased
/// block_on(q.retry_outbox(claimed[0].id, now + chrono::Duration::minutes(5)))?;
/// assert_eq!(block_on(q.claim_outbox(10, lease, now + chrono::Duration::minutes(5)))?[0].attempts, 2);
/// block_on(q.ack_outbox(&[claimed[0].id]))?;
/// assert!(block_on(q.claim_outbox(10, lease, now + chrono::Duration::hours(1)))?.is_empty());
/// # Ok::<(), StoreError>(())
/// ```
pub trait Outbox: Send + Sync {
    /// Leases up to `limit` deliverable outbox messages until `now + lease`.
    fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Deletes delivered messages.
    fn ack_outbox(&self, ids: &[MessageId]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes a claimed message deliverable again at `at` (back-off after a failed delivery).
    fn retry_outbox(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// [`Outbox::ack_outbox`] with each message named by its tenant and id, as a store
    /// keyed by tenant stores it (the relay calls this one). A store whose outbox is keyed
    /// `(tenant, message)` overrides it, so an ack can only ever touch the tenant's own row;
    /// by default it acks the ids.
    fn ack_outbox_for(
        &self,
        messages: &[(TenantId, MessageId)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let ids: Vec<MessageId> = messages.iter().map(|(_, id)| *id).collect();
        async move { self.ack_outbox(&ids).await }
    }

    /// [`Outbox::retry_outbox`] with the message named by its tenant and id (the relay calls
    /// this one); by default it retries the id.
    fn retry_outbox_for(
        &self,
        tenant: TenantId,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = tenant;
        self.retry_outbox(id, at)
    }
}

// Forwards every method through a pointer, so `&S`, `Box<S>` and `Arc<S>` are outboxes
// whenever `S` is.
macro_rules! forward_outbox {
    ($($wrapper:ty),*) => {$(
        impl<S: Outbox + ?Sized> Outbox for $wrapper {
            fn claim_outbox(
                &self,
                limit: u32,
                lease: Duration,
                now: DateTime<Utc>,
            ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send {
                (**self).claim_outbox(limit, lease, now)
            }
            fn ack_outbox(
                &self,
                ids: &[MessageId],
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).ack_outbox(ids)
            }
            fn retry_outbox(
                &self,
                id: MessageId,
                at: DateTime<Utc>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).retry_outbox(id, at)
            }
            fn ack_outbox_for(
                &self,
                messages: &[(TenantId, MessageId)],
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).ack_outbox_for(messages)
            }
            fn retry_outbox_for(
                &self,
                tenant: TenantId,
                id: MessageId,
                at: DateTime<Utc>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).retry_outbox_for(tenant, id, at)
            }
        }
    )*};
}
forward_outbox!(&S, Box<S>, Arc<S>);

//! The notification port: where domain events go.

use std::future::Future;

use crate::event::OutboxMessage;

/// A notifier could not deliver a message.
///
/// ```
/// use rapport_core::NotifyError;
/// let e = NotifyError::Rejected { reason: "unknown webhook".into() };
/// assert_eq!(e.to_string(), "delivery rejected: unknown webhook");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The receiver is unreachable or refused for now; the relay retries later.
    #[error("delivery failed: {reason}")]
    Failed {
        /// Why.
        reason: String,
    },
    /// The receiver will never take this message; the relay still retries with back-off (a
    /// host decides when to give up).
    #[error("delivery rejected: {reason}")]
    Rejected {
        /// Why.
        reason: String,
    },
    /// The notifier set the message aside as a dead letter (the receiver refused it for good,
    /// or its endpoint is disabled) and keeps it to be listed and re-driven: the relay stops
    /// retrying and acknowledges it.
    #[error("dead-lettered: {reason}")]
    DeadLettered {
        /// Why.
        reason: String,
    },
}

/// Where domain events go (a log, a channel, a webhook, a queue...). Delivery is at least
/// once: receivers deduplicate on [`OutboxMessage::id`].
///
/// ```
/// use std::sync::Mutex;
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::*;
///
/// /// Keeps the event names, refusing erasure events.
/// #[derive(Default)]
/// struct Log(Mutex<Vec<&'static str>>);
///
/// impl Notifier for Log {
///     async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
///         if matches!(msg.event, DomainEvent::Erased { .. }) {
///             return Err(NotifyError::Rejected { reason: "not for this log".into() });
///         }
///         self.0.lock().map_err(|_| NotifyError::Failed { reason: "poisoned".into() })?.push(msg.event.name());
///         Ok(())
///     }
/// }
///
/// let log = Log::default();
/// let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
/// let msg = |id, event| OutboxMessage::new(MessageId::from_u128(id), t, DateTime::UNIX_EPOCH, event);
/// assert!(block_on(log.deliver(&msg(1, DomainEvent::CustomerRegistered { customer: c }))).is_ok());
/// assert!(block_on(log.deliver(&msg(2, DomainEvent::Erased { customer: c }))).is_err());
/// assert_eq!(*log.0.lock().unwrap(), ["customer_registered"]);
/// ```
pub trait Notifier: Send + Sync {
    /// Delivers one message.
    fn deliver(&self, msg: &OutboxMessage) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

// Forwards through a pointer, so `&N`, `Box<N>` and `Arc<N>` are notifiers whenever `N` is.
macro_rules! forward_notifier {
    ($($wrapper:ty),*) => {$(
        impl<N: Notifier + ?Sized> Notifier for $wrapper {
            fn deliver(
                &self,
                msg: &OutboxMessage,
            ) -> impl Future<Output = Result<(), NotifyError>> + Send {
                (**self).deliver(msg)
            }
        }
    )*};
}
forward_notifier!(&N, Box<N>, std::sync::Arc<N>);

//! A notifier that hands messages to the host through a bounded tokio channel.

use std::time::Duration;

use rapport_core::{Notifier, NotifyError, OutboxMessage};
use tokio::sync::mpsc;

/// Sends each message into a bounded [`tokio::sync::mpsc`] channel the host consumes. A full
/// channel makes delivery wait up to `send_timeout` (back-pressure on the relay), then fail
/// so the relay retries later; a closed channel fails at once.
///
/// ```
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_notify::ChannelNotifier;
///
/// let (notifier, mut rx) = ChannelNotifier::new(8);
/// let event = DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(7) };
/// let msg = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH, event);
/// block_on(notifier.deliver(&msg))?;
/// assert_eq!(rx.try_recv().unwrap().id, MessageId::from_u128(1));
/// drop(rx);
/// assert!(block_on(notifier.deliver(&msg)).is_err()); // nobody listens
/// # Ok::<(), NotifyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChannelNotifier {
    tx: mpsc::Sender<OutboxMessage>,
    send_timeout: Duration,
}

impl ChannelNotifier {
    /// A notifier and the receiving end of a channel holding up to `capacity` messages (at
    /// least 1); a full channel is waited on for up to 5 s.
    #[must_use]
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<OutboxMessage>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                tx,
                send_timeout: Duration::from_secs(5),
            },
            rx,
        )
    }

    /// The same with another wait on a full channel.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (n, _rx) = rapport_notify::ChannelNotifier::new(1);
    /// let _n = n.with_send_timeout(Duration::from_millis(10));
    /// ```
    #[must_use]
    pub fn with_send_timeout(mut self, wait: Duration) -> Self {
        self.send_timeout = wait;
        self
    }
}

impl Notifier for ChannelNotifier {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        // Try without a timer first: a channel with room needs no runtime timer, so the
        // blocking relay (futures' executor) can drive it.
        match self.tx.try_send(msg.clone()) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(NotifyError::Failed {
                    reason: "channel closed".into(),
                });
            }
            Err(mpsc::error::TrySendError::Full(_)) => {}
        }
        match tokio::time::timeout(self.send_timeout, self.tx.send(msg.clone())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(NotifyError::Failed {
                reason: "channel closed".into(),
            }),
            Err(_) => Err(NotifyError::Failed {
                reason: "channel full".into(),
            }),
        }
    }
}

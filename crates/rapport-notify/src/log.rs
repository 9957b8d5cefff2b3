//! A notifier that writes each event to the `tracing` log.

use rapport_core::{Notifier, NotifyError, OutboxMessage};

/// Logs every message at info level on target `rapport.notify` with its id, tenant,
/// customer and event name — ids only, never a personal value. Never fails.
///
/// ```
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_notify::LogNotifier;
///
/// let event = DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(7) };
/// let msg = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH, event);
/// assert!(block_on(LogNotifier.deliver(&msg)).is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        tracing::info!(
            target: "rapport.notify",
            message = %msg.id,
            tenant = %msg.tenant,
            customer = %msg.event.customer(),
            event = msg.event.name(),
            occurred_at = %msg.occurred_at,
            "event"
        );
        Ok(())
    }
}

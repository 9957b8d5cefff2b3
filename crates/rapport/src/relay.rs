//! The outbox relay: claims messages with a lease, delivers them through the notifier, acks
//! the delivered ones and backs off the failed ones. Delivery is at least once: a relay that
//! dies holding a lease loses nothing, the lease expires and the message is claimed again;
//! receivers drop repeats by message id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::{Notifier, NotifyError, Outbox};

use crate::error::Error;

/// What one relay round did.
///
/// ```
/// use futures::executor::block_on;
/// use rapport::{RelayConfig, RelayReport, Service, relay_once};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
///
/// struct Down;
/// impl Notifier for Down {
///     async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
///         Err(NotifyError::Failed { reason: "webhook down".into() })
///     }
/// }
///
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// block_on(svc.register(t, Profile::default()))?; // one CustomerRegistered message
/// let always_fails = Down;
/// let r = block_on(relay_once(svc.store(), &always_fails, &RelayConfig::default(), svc.now()))?;
/// assert_eq!(r, RelayReport { claimed: 1, delivered: 0, failed: 1, dead_lettered: 0 });
/// # Ok::<(), rapport::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages claimed.
    pub claimed: usize,
    /// Delivered and acknowledged.
    pub delivered: usize,
    /// Failed and scheduled again.
    pub failed: usize,
    /// Set aside by the notifier as dead letters ([`NotifyError::DeadLettered`]) and
    /// acknowledged: the notifier keeps them to be listed and re-driven.
    pub dead_lettered: usize,
}

/// Relay settings.
///
/// ```
/// use std::time::Duration;
/// use rapport::RelayConfig;
/// let c = RelayConfig { batch: 10, ..RelayConfig::default() };
/// assert_eq!(c.batch, 10);
/// assert_eq!(c.lease, Duration::from_secs(30));
/// assert_eq!(c.max_backoff, Duration::from_secs(3_600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Messages per round.
    pub batch: u32,
    /// How long a claim holds a message.
    pub lease: Duration,
    /// Back-off after the first failed attempt; doubles per attempt, at most `max_backoff`.
    pub backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            lease: Duration::from_secs(30),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3_600),
        }
    }
}

impl RelayConfig {
    /// The wait before attempt `attempts + 1`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rapport::RelayConfig;
    /// let c = RelayConfig::default();
    /// assert_eq!(c.backoff_after(1), Duration::from_secs(1));
    /// assert_eq!(c.backoff_after(4), Duration::from_secs(8));
    /// assert_eq!(c.backoff_after(40), Duration::from_secs(3_600));
    /// ```
    #[must_use]
    pub fn backoff_after(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Runs one relay round at `now`.
///
/// ```
/// use futures::executor::block_on;
/// use rapport::{RelayConfig, RelayReport, Service, relay_once};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
/// use std::sync::Mutex;
///
/// #[derive(Default)]
/// struct Recording(Mutex<Vec<OutboxMessage>>);
/// impl Notifier for Recording {
///     async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
///         let mut seen = self.0.lock().map_err(|_| NotifyError::Failed { reason: "poisoned".into() })?;
///         seen.push(msg.clone());
///         Ok(())
///     }
/// }
///
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// let notifier = Recording::default();
/// let config = RelayConfig::default();
/// let r = block_on(relay_once(svc.store(), &notifier, &config, svc.now()))?;
/// assert_eq!(r, RelayReport { claimed: 1, delivered: 1, failed: 0, dead_lettered: 0 });
/// assert_eq!(
///     notifier.0.lock().unwrap()[0].event,
///     DomainEvent::CustomerRegistered { customer: ann.id() }
/// );
/// // Acknowledged: the next round finds nothing.
/// let r = block_on(relay_once(svc.store(), &notifier, &config, svc.now()))?;
/// assert_eq!(r.claimed, 0);
/// # Ok::<(), rapport::Error>(())
/// ```
///
/// # Errors
/// Store errors (claims, acks). Notifier failures are not errors: the message is retried.
#[tracing::instrument(name = "rapport.relay", level = "debug", skip_all, fields(batch = config.batch))]
pub async fn relay_once<S: Outbox, N: Notifier>(
    store: &S,
    notifier: &N,
    config: &RelayConfig,
    now: DateTime<Utc>,
) -> Result<RelayReport, Error> {
    let claimed = store.claim_outbox(config.batch, config.lease, now).await?;
    let mut report = RelayReport {
        claimed: claimed.len(),
        ..RelayReport::default()
    };
    let mut delivered = Vec::new();
    let mut acked = Vec::new();
    for m in &claimed {
        match notifier.deliver(m).await {
            Ok(()) => delivered.push((m.tenant, m.id)),
            Err(NotifyError::DeadLettered { .. }) => {
                tracing::debug!(message = %m.id, attempts = m.attempts, "dead-lettered by the notifier");
                acked.push((m.tenant, m.id));
                report.dead_lettered += 1;
            }
            Err(e) => {
                tracing::debug!(message = %m.id, attempts = m.attempts, error = notify_kind(&e), "delivery failed");
                // A back-off past the end of the calendar waits until its end (no panic).
                let at = chrono::Duration::from_std(config.backoff_after(m.attempts))
                    .ok()
                    .and_then(|wait| now.checked_add_signed(wait))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                store.retry_outbox_for(m.tenant, m.id, at).await?;
                report.failed += 1;
            }
        }
    }
    report.delivered = delivered.len();
    acked.extend(delivered);
    store.ack_outbox_for(&acked).await?;
    if report.claimed > 0 {
        tracing::info!(
            claimed = report.claimed,
            delivered = report.delivered,
            failed = report.failed,
            dead_lettered = report.dead_lettered,
            "relayed"
        );
    }
    Ok(report)
}

/// The kind of a delivery error, for the logs (the reason is the notifier's text).
fn notify_kind(e: &NotifyError) -> &'static str {
    match e {
        NotifyError::Failed { .. } => "failed",
        NotifyError::Rejected { .. } => "rejected",
        NotifyError::DeadLettered { .. } => "dead_lettered",
        _ => "other",
    }
}

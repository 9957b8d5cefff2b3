//! Delivery to an HTTP endpoint following the Standard Webhooks specification.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::{MessageId, Notifier, NotifyError, OutboxMessage};
use serde::Deserialize;

use crate::backoff::{Backoff, Jitter, SeededJitter};
use crate::signature::WebhookSecret;

/// Where and how to post: the `[webhook]` section of `rapport.toml`.
///
/// ```
/// use std::time::Duration;
/// use rapport_notify::WebhookConfig;
/// let c = WebhookConfig::new("http://127.0.0.1:9000/hooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?);
/// assert_eq!(c.timeout, Duration::from_secs(10));
/// assert_eq!(c.attempts, 3);
/// # Ok::<(), rapport_notify::SecretError>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The endpoint (http or https).
    pub url: String,
    /// The signing secret (`whsec_…`).
    pub secret: WebhookSecret,
    /// Whole-request timeout.
    #[serde(default = "default_timeout", with = "secs")]
    pub timeout: Duration,
    /// Connection timeout.
    #[serde(default = "default_connect_timeout", with = "secs")]
    pub connect_timeout: Duration,
    /// Attempts per delivery before handing the message back to the relay (at least 1).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// Waits between those attempts.
    #[serde(default, skip)]
    pub backoff: Backoff,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_attempts() -> u32 {
    3
}

/// Durations as (fractional) seconds in configuration files.
mod secs {
    use std::time::Duration;

    use serde::Deserialize;

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}

impl WebhookConfig {
    /// A configuration with the defaults: 10 s per request, 5 s to connect, 3 attempts.
    #[must_use]
    pub fn new(url: impl Into<String>, secret: WebhookSecret) -> Self {
        Self {
            url: url.into(),
            secret,
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            attempts: default_attempts(),
            backoff: Backoff::default(),
        }
    }

    /// The same with other timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, timeout: Duration, connect_timeout: Duration) -> Self {
        self.timeout = timeout;
        self.connect_timeout = connect_timeout;
        self
    }

    /// The same with other retry settings.
    #[must_use]
    pub fn with_retries(mut self, attempts: u32, backoff: Backoff) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }
}

/// Why a message became a dead letter.
///
/// ```
/// use rapport_notify::DeadLetterReason;
/// assert_eq!(DeadLetterReason::Refused { status: 400 }.to_string(), "endpoint refused it with status 400");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The endpoint answered 410 Gone: it is disabled until [`WebhookNotifier::enable`].
    #[error("endpoint gone (410); endpoint disabled")]
    Gone,
    /// The endpoint refused the message with a 4xx status other than 408, 410 and 429.
    #[error("endpoint refused it with status {status}")]
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The endpoint was disabled (after a 410) when the message came.
    #[error("endpoint disabled")]
    Disabled,
}

/// A message the webhook set aside: the relay acknowledged it, and a host lists it with
/// [`WebhookNotifier::dead_letters`] and re-drives it with [`WebhookNotifier::redrive`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The message.
    pub message: OutboxMessage,
    /// Why.
    pub reason: DeadLetterReason,
    /// When it was set aside.
    pub at: DateTime<Utc>,
}

/// What one delivery (with its in-call retries) came to.
enum Outcome {
    Delivered,
    DeadLetter(DeadLetterReason),
    Retry(String),
}

/// Posts each message as JSON to one endpoint with the Standard Webhooks headers
/// (`webhook-id` = the message id, so receivers deduplicate on it; `webhook-timestamp`;
/// `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`).
///
/// Outcomes: 2xx delivered; 5xx, 408, 429, timeouts and connection errors retried (up to
/// `attempts` in the call, with back-off and jitter, then [`NotifyError::Failed`] so the relay
/// retries later); 410 disables the endpoint and dead-letters the message; another 4xx
/// dead-letters it ([`NotifyError::DeadLettered`]: the relay stops retrying). Clones share the
/// client, the dead letters and the enabled flag.
///
/// The body is `{"type": <event name>, "timestamp": <occurred_at>, "data": <OutboxMessage>}`.
///
/// ```
/// use rapport_notify::{SeededJitter, WebhookConfig, WebhookNotifier};
/// let config = WebhookConfig::new("http://127.0.0.1:9/none", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?);
/// let hook = WebhookNotifier::new(config, SeededJitter::new(1))?;
/// assert!(hook.is_enabled());
/// assert!(hook.dead_letters().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct WebhookNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: WebhookConfig,
    client: reqwest::Client,
    jitter: Box<dyn Jitter>,
    enabled: AtomicBool,
    dead: Mutex<Vec<DeadLetter>>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("config", &self.inner.config)
            .field("enabled", &self.is_enabled())
            .finish_non_exhaustive()
    }
}

/// The HTTP client could not be built (TLS set-up).
///
/// ```
/// use rapport_notify::WebhookError;
/// let _ = std::any::type_name::<WebhookError>();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// reqwest refused the configuration.
    #[error("webhook client set-up failed")]
    Client(#[source] reqwest::Error),
}

impl WebhookNotifier {
    /// A notifier posting to `config.url`, with jitter from `jitter`.
    ///
    /// # Errors
    /// [`WebhookError::Client`] when the HTTP client cannot be built.
    pub fn new(config: WebhookConfig, jitter: impl Jitter + 'static) -> Result<Self, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            // A webhook endpoint that redirects is misconfigured; never re-post elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                jitter: Box::new(jitter),
                enabled: AtomicBool::new(true),
                dead: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A notifier with jitter seeded from the clock (hosts that do not need replayable waits).
    ///
    /// # Errors
    /// As [`WebhookNotifier::new`].
    pub fn with_clock_jitter(config: WebhookConfig) -> Result<Self, WebhookError> {
        let seed = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        Self::new(config, SeededJitter::new(seed.unsigned_abs()))
    }

    /// Whether the endpoint takes messages (false after a 410 until [`WebhookNotifier::enable`]).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Acquire)
    }

    /// Turns the endpoint back on (after its owner fixed it); dead letters stay until re-driven.
    pub fn enable(&self) {
        self.inner.enabled.store(true, Ordering::Release);
    }

    /// The dead letters, oldest first.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock_dead().clone()
    }

    /// Posts dead letter `id` again now. It leaves the list when delivered; otherwise it stays
    /// (with the new reason when it is refused again).
    ///
    /// # Errors
    /// [`NotifyError::Rejected`] when no dead letter has that id; [`NotifyError::Failed`] or
    /// [`NotifyError::DeadLettered`] when the delivery fails again.
    pub async fn redrive(&self, id: MessageId) -> Result<(), NotifyError> {
        let taken = {
            let mut dead = self.lock_dead();
            let pos = dead.iter().position(|d| d.message.id == id);
            pos.map(|p| dead.remove(p))
        };
        let Some(letter) = taken else {
            return Err(NotifyError::Rejected {
                reason: format!("no dead letter {id}"),
            });
        };
        match self.send(&letter.message).await {
            Outcome::Delivered => Ok(()),
            Outcome::DeadLetter(reason) => Err(self.dead_letter(&letter.message, reason)),
            Outcome::Retry(reason) => {
                // Acknowledged in the outbox already: keep it here rather than lose it.
                self.lock_dead().push(letter);
                Err(NotifyError::Failed { reason })
            }
        }
    }

    /// Re-drives every dead letter; returns how many were delivered.
    pub async fn redrive_all(&self) -> usize {
        let ids: Vec<MessageId> = self.lock_dead().iter().map(|d| d.message.id).collect();
        let mut delivered = 0;
        for id in ids {
            if self.redrive(id).await.is_ok() {
                delivered += 1;
            }
        }
        delivered
    }

    fn lock_dead(&self) -> std::sync::MutexGuard<'_, Vec<DeadLetter>> {
        // A panic while holding the list cannot leave it half-updated (push/remove only).
        self.inner
            .dead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dead_letter(&self, message: &OutboxMessage, reason: DeadLetterReason) -> NotifyError {
        tracing::warn!(target: "rapport.notify", message = %message.id, reason = %reason, "dead-lettered");
        self.lock_dead().push(DeadLetter {
            message: message.clone(),
            reason,
            at: Utc::now(),
        });
        NotifyError::DeadLettered {
            reason: reason.to_string(),
        }
    }

    /// One delivery with its in-call retries.
    async fn send(&self, msg: &OutboxMessage) -> Outcome {
        if !self.is_enabled() {
            return Outcome::DeadLetter(DeadLetterReason::Disabled);
        }
        let body = match body_of(msg) {
            Ok(b) => b,
            Err(e) => return Outcome::Retry(format!("serialising the message failed: {e}")),
        };
        let id = msg.id.to_string();
        let attempts = self.inner.config.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.post_once(&id, &body).await {
                Ok(status) if status.is_success() => return Outcome::Delivered,
                Ok(status) if status.as_u16() == 410 => {
                    self.inner.enabled.store(false, Ordering::Release);
                    return Outcome::DeadLetter(DeadLetterReason::Gone);
                }
                Ok(status) if status.is_client_error() && !matches!(status.as_u16(), 408 | 429) => {
                    return Outcome::DeadLetter(DeadLetterReason::Refused {
                        status: status.as_u16(),
                    });
                }
                Ok(status) => last = format!("endpoint answered {}", status.as_u16()),
                Err(e) => last = describe(&e),
            }
            if attempt < attempts {
                let wait = self
                    .inner
                    .config
                    .backoff
                    .wait(attempt, self.inner.jitter.fraction());
                tokio::time::sleep(wait).await;
            }
        }
        Outcome::Retry(last)
    }

    async fn post_once(
        &self,
        id: &str,
        body: &[u8],
    ) -> Result<reqwest::StatusCode, reqwest::Error> {
        let timestamp = Utc::now().timestamp();
        let signature = self.inner.config.secret.sign(id, timestamp, body);
        let response = self
            .inner
            .client
            .post(&self.inner.config.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await?;
        Ok(response.status())
    }
}

/// The request body: the Standard Webhooks payload shape around the outbox message.
fn body_of(msg: &OutboxMessage) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::json!({
        "type": msg.event.name(),
        "timestamp": msg.occurred_at,
        "data": msg,
    }))
}

/// A transport error as a short, value-free reason (no URL query strings or bodies).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "transport error".to_owned()
    }
}

impl Notifier for WebhookNotifier {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        match self.send(msg).await {
            Outcome::Delivered => Ok(()),
            Outcome::DeadLetter(reason) => Err(self.dead_letter(msg, reason)),
            Outcome::Retry(reason) => Err(NotifyError::Failed { reason }),
        }
    }
}

//! Notifiers for rapport's outbox: where domain events and automation actions go once the
//! relay claims them.
//!
//! | notifier | for |
//! |---|---|
//! | [`LogNotifier`] | development and audits: one `tracing` event per message (ids only) |
//! | [`ChannelNotifier`] | an in-process host: a bounded tokio channel it consumes |
//! | [`WebhookNotifier`] | another service: HTTP POST following the Standard Webhooks specification |
//!
//! Delivery is at least once (the relay retries until a notifier says done), so receivers
//! deduplicate on the message id — the webhook sends it as `webhook-id`.
//!
//! ```
//! use rapport_notify::WebhookSecret;
//! // A receiver verifies `webhook-signature` with the same secret:
//! let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
//! let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
//! assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! # Ok::<(), rapport_notify::SecretError>(())
//! ```
#![forbid(unsafe_code)]

mod backoff;
mod channel;
mod log;
mod signature;
mod webhook;

pub use backoff::{Backoff, Jitter, SeededJitter};
pub use channel::ChannelNotifier;
pub use log::LogNotifier;
pub use signature::{SECRET_PREFIX, SecretError, WebhookSecret};
pub use webhook::{DeadLetter, DeadLetterReason, WebhookConfig, WebhookError, WebhookNotifier};

//! A small webhook receiver (axum) that verifies Standard Webhooks signatures the way the
//! specification describes, deduplicates on `webhook-id`, and keeps what it received.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rapport::core::OutboxMessage;
use serde::Deserialize;
use sha2::Sha256;

/// How far a `webhook-timestamp` may be from the receiver's clock (the specification's
/// suggested tolerance: five minutes), against replays of old requests.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a request was refused.
///
/// ```
/// assert_eq!(automation::receiver::Refusal::BadSignature.to_string(), "no v1 signature matches");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A `webhook-*` header is missing or not text.
    MissingHeader,
    /// `webhook-timestamp` is not a number or outside [`TOLERANCE_SECS`].
    Timestamp,
    /// No `v1,<base64>` entry of `webhook-signature` matches.
    BadSignature,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::MissingHeader => "a webhook header is missing",
            Refusal::Timestamp => "timestamp missing or outside the tolerance",
            Refusal::BadSignature => "no v1 signature matches",
        })
    }
}

/// Verifies a request as the Standard Webhooks specification says: the signed content is
/// `{webhook-id}.{webhook-timestamp}.{body}`, the key is the base64 after `whsec_`, the
/// signature header is a space-separated list of `version,base64` entries of which one `v1`
/// entry must equal HMAC-SHA256(key, content) (compared in constant time), and the timestamp
/// must be within [`TOLERANCE_SECS`] of `now_secs`. Returns the `webhook-id`.
///
/// ```
/// use axum::http::HeaderMap;
/// use automation::receiver::{Refusal, verify};
/// let key = b"0123456789abcdef";
/// let mut h = HeaderMap::new();
/// h.insert("webhook-id", "msg_1".parse().unwrap());
/// h.insert("webhook-timestamp", "1000".parse().unwrap());
/// h.insert("webhook-signature", "v1,AAAA".parse().unwrap());
/// assert_eq!(verify(key, &h, b"{}", 1000), Err(Refusal::BadSignature));
/// assert_eq!(verify(key, &h, b"{}", 5000), Err(Refusal::Timestamp));
/// ```
///
/// # Errors
/// The [`Refusal`].
pub fn verify(
    key: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<String, Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::MissingHeader)
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let ts: i64 = timestamp.parse().map_err(|_| Refusal::Timestamp)?;
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return Err(Refusal::Timestamp);
    }
    let matches = signatures.split(' ').any(|entry| {
        let Some(("v1", sig)) = entry.split_once(',') else {
            return false;
        };
        let Ok(sig) = B64.decode(sig) else {
            return false;
        };
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
            return false;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    });
    if matches {
        Ok(id.to_owned())
    } else {
        Err(Refusal::BadSignature)
    }
}

/// The body rapport's webhook notifier posts.
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    data: OutboxMessage,
}

/// What the receiver has seen.
#[derive(Debug, Default)]
struct Inbox {
    requests: usize,
    refused: Vec<Refusal>,
    seen: BTreeSet<String>,
    duplicates: usize,
    accepted: Vec<(String, OutboxMessage)>,
}

/// A receiver's state: its key and what it received. Clones share it.
///
/// ```
/// let r = automation::receiver::Receiver::new(b"key".to_vec());
/// assert_eq!(r.requests(), 0);
/// assert!(r.accepted().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Receiver {
    key: Arc<Vec<u8>>,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    /// A receiver verifying with raw key bytes (the base64 of a `whsec_` secret, decoded).
    #[must_use]
    pub fn new(key: Vec<u8>) -> Self {
        Self {
            key: Arc::new(key),
            inbox: Arc::new(Mutex::new(Inbox::default())),
        }
    }

    /// A receiver for a `whsec_<base64>` secret, as a receiver's configuration holds it.
    ///
    /// ```
    /// assert!(automation::receiver::Receiver::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
    /// assert!(automation::receiver::Receiver::from_whsec("whsec_%%").is_none());
    /// ```
    #[must_use]
    pub fn from_whsec(secret: &str) -> Option<Self> {
        let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
        B64.decode(b64).ok().map(Self::new)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests received (verified or not).
    #[must_use]
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Requests refused, with why.
    #[must_use]
    pub fn refused(&self) -> Vec<Refusal> {
        self.lock().refused.clone()
    }

    /// Verified requests whose `webhook-id` had been seen before (redeliveries).
    #[must_use]
    pub fn duplicates(&self) -> usize {
        self.lock().duplicates
    }

    /// The verified messages, first delivery of each `webhook-id` only, in arrival order.
    #[must_use]
    pub fn accepted(&self) -> Vec<(String, OutboxMessage)> {
        self.lock().accepted.clone()
    }

    /// The axum router: `POST /hooks`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/hooks", post(hook))
            .with_state(self.clone())
    }

    /// Serves on `addr` (port 0: any free port) until `shutdown` resolves; returns the bound
    /// address and the server task.
    ///
    /// # Errors
    /// Binding the address failed.
    pub async fn serve(
        &self,
        addr: SocketAddr,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = self.router();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
        Ok((bound, task))
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = chrono::Utc::now().timestamp();
    let verified = verify(&r.key, &headers, &body, now);
    let mut inbox = r.lock();
    inbox.requests += 1;
    let id = match verified {
        Ok(id) => id,
        Err(why) => {
            inbox.refused.push(why);
            return StatusCode::UNAUTHORIZED;
        }
    };
    // Verified: now the body may be trusted enough to parse.
    let Ok(payload) = serde_json::from_slice::<Payload>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if payload.kind != payload.data.event.name() {
        return StatusCode::BAD_REQUEST;
    }
    if inbox.seen.insert(id.clone()) {
        inbox.accepted.push((id, payload.data));
    } else {
        // At-least-once delivery: a redelivery is acknowledged and dropped.
        inbox.duplicates += 1;
    }
    StatusCode::NO_CONTENT
}

//! Standard Webhooks signing: the `whsec_` secret and the `v1` HMAC-SHA256 signature over
//! `id.timestamp.body`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix Standard Webhooks secrets carry.
pub const SECRET_PREFIX: &str = "whsec_";

/// A webhook signing secret: `whsec_` followed by the base64 of the key bytes (the prefix is
/// optional when parsing, as the spec's libraries accept). `Debug` never prints the key.
///
/// ```
/// use rapport_notify::WebhookSecret;
/// let s: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
/// assert!("whsec_not base64!".parse::<WebhookSecret>().is_err());
/// # Ok::<(), rapport_notify::SecretError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

/// A webhook secret that could not be read (the message never shows the secret).
///
/// ```
/// use rapport_notify::{SecretError, WebhookSecret};
/// assert_eq!("whsec_".parse::<WebhookSecret>(), Err(SecretError::Empty));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No key bytes after the prefix.
    #[error("webhook secret is empty")]
    Empty,
    /// The part after `whsec_` is not standard base64.
    #[error("webhook secret is not base64 after the whsec_ prefix")]
    NotBase64,
}

impl WebhookSecret {
    /// A secret from raw key bytes.
    ///
    /// ```
    /// use rapport_notify::WebhookSecret;
    /// let s = WebhookSecret::from_bytes(b"0123456789abcdef0123456789abcdef".to_vec());
    /// assert!(s.to_whsec().starts_with("whsec_"));
    /// ```
    #[must_use]
    pub fn from_bytes(key: Vec<u8>) -> Self {
        Self(key)
    }

    /// The `whsec_<base64>` text form (to hand to the receiver; keep it secret).
    ///
    /// ```
    /// use rapport_notify::WebhookSecret;
    /// let text = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    /// assert_eq!(text.parse::<WebhookSecret>()?.to_whsec(), text);
    /// # Ok::<(), rapport_notify::SecretError>(())
    /// ```
    #[must_use]
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    /// The `webhook-signature` header value for a message: `v1,<base64 HMAC-SHA256(key,
    /// "{id}.{timestamp}.{body}")>`.
    ///
    /// ```
    /// use rapport_notify::WebhookSecret;
    /// // The Standard Webhooks specification's test vector.
    /// let s: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
    /// let sig = s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    /// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /// # Ok::<(), rapport_notify::SecretError>(())
    /// ```
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

impl std::str::FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s).trim();
        if b64.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = B64.decode(b64).map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(key))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for WebhookSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

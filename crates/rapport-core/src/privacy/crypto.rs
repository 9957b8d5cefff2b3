//! Crypto-shredding primitives, pure: personal fields sealed with XChaCha20-Poly1305 under a
//! per-customer [`DataKey`] (the 24-byte nonce is an argument: randomness comes from outside
//! the core, from a [`KeyStore`](crate::ports::KeyStore)), and the keyed blind index — an
//! HMAC-SHA256 of a normalised email or phone under a per-tenant [`IndexKey`] — that stores
//! look contacts up by instead of the plaintext.
//!
//! Deleting a customer's data key makes every copy of its sealed fields unreadable: backups,
//! WAL segments and replicas included.
//!
//! ```
//! use rapport_core::privacy::crypto::{DataKey, open, seal};
//! let key = DataKey::from_bytes([7; 32]);
//! let sealed = seal(&key, [1; 24], b"tenant/customer/profile", b"{\"display_name\":\"Ann\"}");
//! assert!(!sealed.windows(3).any(|w| w == b"Ann"));
//! assert_eq!(open(&key, b"tenant/customer/profile", &sealed)?, b"{\"display_name\":\"Ann\"}");
//! assert!(open(&DataKey::from_bytes([8; 32]), b"tenant/customer/profile", &sealed).is_err());
//! # Ok::<(), rapport_core::privacy::crypto::SealError>(())
//! ```

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::contact::ContactKind;
use crate::model::id::{CustomerId, TenantId};

/// Length of a key in bytes (256 bits).
pub const KEY_LEN: usize = 32;
/// Length of a nonce in bytes (XChaCha20's 192 bits: random nonces never collide in practice).
pub const NONCE_LEN: usize = 24;
/// Bytes a sealed value adds to its plaintext: the nonce and the 16-byte Poly1305 tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

macro_rules! secret_key {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// The key of these bytes (from a key store: random, never derived from data).
            #[must_use]
            pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// The key's bytes, for a key store to keep. Name it at the call site.
            #[must_use]
            pub const fn expose(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_key!(
    /// A customer's data key: seals its personal fields. Its `Debug` is redacted.
    ///
    /// ```
    /// let k = rapport_core::privacy::crypto::DataKey::from_bytes([9; 32]);
    /// assert_eq!(format!("{k:?}"), "DataKey(<redacted>)");
    /// assert_eq!(k.expose(), &[9; 32]);
    /// ```
    DataKey
);
secret_key!(
    /// A tenant's index key: keys the blind index of contacts. Its `Debug` is redacted.
    ///
    /// ```
    /// let k = rapport_core::privacy::crypto::IndexKey::from_bytes([9; 32]);
    /// assert_eq!(format!("{k:?}"), "IndexKey(<redacted>)");
    /// ```
    IndexKey
);

/// A sealed value that does not open: wrong key, other associated data, or altered bytes.
///
/// ```
/// use rapport_core::privacy::crypto::{DataKey, SealError, open};
/// assert_eq!(open(&DataKey::from_bytes([0; 32]), b"", b"short"), Err(SealError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value does not open (wrong key, associated data or bytes)")]
pub struct SealError;

/// Seals `plaintext` under `key` with a fresh `nonce` (never reuse one with the same key);
/// `aad` binds the ciphertext to its place (tenant, customer, field), so a sealed value moved
/// to another row does not open. Returns `nonce ‖ ciphertext ‖ tag`.
///
/// ```
/// use rapport_core::privacy::crypto::{DataKey, SEAL_OVERHEAD, seal};
/// let s = seal(&DataKey::from_bytes([1; 32]), [2; 24], b"aad", b"hello");
/// assert_eq!(s.len(), 5 + SEAL_OVERHEAD);
/// assert_eq!(&s[..24], &[2; 24]);
/// ```
#[must_use]
pub fn seal(key: &DataKey, nonce: [u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    let ct = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Encryption fails only past XChaCha20's 256 GiB message limit.
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens what [`seal`] returned, under the same key and associated data.
///
/// ```
/// use rapport_core::privacy::crypto::{DataKey, open, seal};
/// let k = DataKey::from_bytes([1; 32]);
/// let s = seal(&k, [2; 24], b"aad", b"hello");
/// assert_eq!(open(&k, b"aad", &s)?, b"hello");
/// assert!(open(&k, b"other", &s).is_err());
/// # Ok::<(), rapport_core::privacy::crypto::SealError>(())
/// ```
///
/// # Errors
/// [`SealError`] when the key, the associated data or the bytes differ from the sealing.
pub fn open(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(SealError);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError)?;
    XChaCha20Poly1305::new(&key.0.into())
        .decrypt(&nonce.into(), Payload { msg: ct, aad })
        .map_err(|_| SealError)
}

/// The associated data of a customer's sealed `field`: tenant, customer and field name.
///
/// ```
/// use rapport_core::{CustomerId, TenantId};
/// use rapport_core::privacy::crypto::aad;
/// let a = aad(TenantId::from_u128(1), CustomerId::from_u128(2), "profile");
/// assert_eq!(a.len(), 16 + 16 + "profile".len());
/// ```
#[must_use]
pub fn aad(tenant: TenantId, customer: CustomerId, field: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + field.len());
    out.extend_from_slice(&tenant.to_bytes());
    out.extend_from_slice(&customer.to_bytes());
    out.extend_from_slice(field.as_bytes());
    out
}

/// The blind index of a normalised contact: lower-case hex of HMAC-SHA256 under the tenant's
/// index key over the kind and the value. Equal contacts give equal digests (lookups and the
/// one-customer-per-contact unique index work on them); without the key a digest reveals
/// nothing, and a dictionary of guesses cannot be tested against it.
///
/// ```
/// use rapport_core::ContactKind;
/// use rapport_core::privacy::crypto::{IndexKey, blind_index};
/// let k = IndexKey::from_bytes([3; 32]);
/// let a = blind_index(&k, ContactKind::Email, "li@example.cn");
/// assert_eq!(a.len(), 64);
/// assert_eq!(a, blind_index(&k, ContactKind::Email, "li@example.cn"));
/// assert_ne!(a, blind_index(&k, ContactKind::Phone, "li@example.cn"));
/// assert_ne!(a, blind_index(&IndexKey::from_bytes([4; 32]), ContactKind::Email, "li@example.cn"));
/// ```
#[must_use]
pub fn blind_index(key: &IndexKey, kind: ContactKind, normalised: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    mac.update(match kind {
        ContactKind::Email => b"email\0",
        ContactKind::Phone => b"phone\0",
    });
    mac.update(normalised.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

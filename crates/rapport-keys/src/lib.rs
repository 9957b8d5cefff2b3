//! Key stores for rapport's crypto-shredding ([`rapport_core::ports::KeyStore`]): each
//! customer's personal fields are sealed under a data key of its own, kept here — outside the
//! main database — so that deleting the key at erasure makes every copy of the ciphertext
//! (backups, WAL, replicas) unreadable; each tenant has an index key for the blind index of
//! contacts.
//!
//! - [`MemoryKeyStore`]: keys in memory, for tests and hosts that keep keys elsewhere.
//! - [`FileKeyStore`]: keys in files under a directory (`rapport --keystore DIR`, or `[keys]
//!   dir` in `rapport.toml`).
//!
//! Keys and nonces come from the operating system's random source (`getrandom`).
//!
//! ```
//! use rapport_core::ports::KeyStore;
//! use rapport_core::{CustomerId, TenantId};
//! let dir = tempfile::tempdir()?;
//! let keys = rapport_keys::FileKeyStore::open(dir.path())?;
//! let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
//! let k = keys.create_data_key(t, c)?;
//! keys.sync()?;
//! assert_eq!(rapport_keys::FileKeyStore::open(dir.path())?.data_key(t, c)?, Some(k));
//! assert!(keys.delete_data_key(t, c)?);
//! assert_eq!(rapport_keys::FileKeyStore::open(dir.path())?.data_key(t, c)?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod memory;

pub use file::FileKeyStore;
pub use memory::MemoryKeyStore;

use rapport_core::StoreError;
use rapport_core::privacy::crypto::{KEY_LEN, NONCE_LEN};

/// A fresh random key.
pub(crate) fn random_key() -> Result<[u8; KEY_LEN], StoreError> {
    let mut k = [0; KEY_LEN];
    getrandom::fill(&mut k).map_err(|e| StoreError::Unavailable {
        reason: format!("no randomness for a key: {e}"),
    })?;
    Ok(k)
}

/// A fresh random nonce. XChaCha20's 24-byte nonces make random ones safe; a random source
/// that fails is fatal for sealing, so this panics rather than reuse a nonce.
pub(crate) fn random_nonce() -> [u8; NONCE_LEN] {
    let mut n = [0; NONCE_LEN];
    getrandom::fill(&mut n).expect("the operating system's random source failed");
    n
}

//! [`KeyStore`]: per-customer data keys and per-tenant index keys, kept outside the main
//! database, so that deleting a customer's key (erasure) makes its sealed personal fields
//! unreadable in every copy of the database — backups, WAL, replicas.
//!
//! The port is synchronous: stores call it from their own threads while encoding and decoding
//! rows, and a key is a few bytes a store implementation keeps cached. It is also the source
//! of the randomness field encryption needs (keys and nonces), which the pure core does not
//! make. Implementations ship in `rapport-keys` (in memory, and file-backed).

use crate::model::id::{CustomerId, TenantId};
use crate::ports::error::StoreError;
use crate::privacy::crypto::{DataKey, IndexKey, NONCE_LEN};

/// Where data keys and index keys live.
///
/// Contract: `create_data_key` returns the customer's key, making one if it has none;
/// `data_key` returns it until `delete_data_key`, after which it is gone for good (a later
/// `create_data_key` makes a *new* key, which cannot open what the old one sealed); the index
/// key of a tenant never changes once made; `nonce` never repeats; `sync` makes every key
/// created so far durable (stores call it before committing rows that a new key sealed).
///
/// ```
/// use rapport_core::ports::KeyStore;
/// use rapport_core::{CustomerId, StoreError, TenantId};
/// fn shred(keys: &dyn KeyStore) -> Result<bool, StoreError> {
///     keys.delete_data_key(TenantId::from_u128(1), CustomerId::from_u128(2))
/// }
/// ```
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// The tenant's index key (made on first use).
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read or written.
    fn index_key(&self, tenant: TenantId) -> Result<IndexKey, StoreError>;

    /// The customer's data key, `None` if it has none (never sealed, or erased).
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read.
    fn data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<DataKey>, StoreError>;

    /// The customer's data key, made now if it has none.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read or written.
    fn create_data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<DataKey, StoreError>;

    /// Deletes the customer's data key (crypto-shredding); `true` if there was one.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be written.
    fn delete_data_key(&self, tenant: TenantId, customer: CustomerId) -> Result<bool, StoreError>;

    /// Deletes several customers' data keys at once (one durable write where the store can).
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be written.
    fn delete_data_keys(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<(), StoreError> {
        for c in customers {
            self.delete_data_key(tenant, *c)?;
        }
        Ok(())
    }

    /// A fresh random nonce for one sealing.
    fn nonce(&self) -> [u8; NONCE_LEN];

    /// Makes every key created so far durable.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be written.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

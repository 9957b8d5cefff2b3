//! [`MemoryKeyStore`]: keys in a map, gone with the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rapport_core::ports::KeyStore;
use rapport_core::privacy::crypto::{DataKey, IndexKey, NONCE_LEN};
use rapport_core::{CustomerId, StoreError, TenantId};

/// Keys in memory: for tests, and for hosts that persist keys their own way.
///
/// ```
/// use rapport_core::ports::KeyStore;
/// use rapport_core::{CustomerId, TenantId};
/// let keys = rapport_keys::MemoryKeyStore::new();
/// let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
/// assert_eq!(keys.data_key(t, c)?, None);
/// let k = keys.create_data_key(t, c)?;
/// assert_eq!(keys.create_data_key(t, c)?, k); // one key per customer
/// assert!(keys.delete_data_key(t, c)?);
/// assert_ne!(keys.create_data_key(t, c)?, k); // a new key after erasure
/// assert_eq!(keys.index_key(t)?, keys.index_key(t)?);
/// # Ok::<(), rapport_core::StoreError>(())
/// ```
#[derive(Default)]
pub struct MemoryKeyStore {
    data: Mutex<HashMap<(TenantId, CustomerId), DataKey>>,
    index: Mutex<HashMap<TenantId, IndexKey>>,
}

impl MemoryKeyStore {
    /// An empty key store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many data keys it holds.
    ///
    /// ```
    /// assert_eq!(rapport_keys::MemoryKeyStore::new().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds no data key.
    ///
    /// ```
    /// assert!(rapport_keys::MemoryKeyStore::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("data_keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl KeyStore for MemoryKeyStore {
    fn index_key(&self, tenant: TenantId) -> Result<IndexKey, StoreError> {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = index.get(&tenant) {
            return Ok(k.clone());
        }
        let k = IndexKey::from_bytes(crate::random_key()?);
        index.insert(tenant, k.clone());
        Ok(k)
    }

    fn data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<DataKey>, StoreError> {
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(data.get(&(tenant, customer)).cloned())
    }

    fn create_data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<DataKey, StoreError> {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = data.get(&(tenant, customer)) {
            return Ok(k.clone());
        }
        let k = DataKey::from_bytes(crate::random_key()?);
        data.insert((tenant, customer), k.clone());
        Ok(k)
    }

    fn delete_data_key(&self, tenant: TenantId, customer: CustomerId) -> Result<bool, StoreError> {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(data.remove(&(tenant, customer)).is_some())
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        crate::random_nonce()
    }
}

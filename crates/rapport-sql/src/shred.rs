//! Owed key deletions (crypto-shredding), written once for both SQL stores. An erasure
//! deletes the erased customers' data keys after its commit; when the key store fails then,
//! the commit stands (the rows are stripped tombstones) but older copies of the rows — WAL,
//! backups, replicas — still open with the key left behind, so the erasure is not reported
//! done: the store remembers the deletion as owed ([`OwedKeys`]), answers the erasure with
//! [`KeysNotDeleted`] (a [`StoreError::Unavailable`]), and retries the owed deletions when the
//! customer's erasure is asked for again (`ErasureStore::erasure`, which `Service::erase`
//! reads for an already-erased customer). Erasing again thus retries, and succeeds once the
//! key is gone.
//!
//! ```
//! use std::sync::Arc;
//! use rapport_core::ports::KeyStore;
//! use rapport_core::{CustomerId, StoreError, TenantId};
//! use rapport_sql::shred::OwedKeys;
//! # #[derive(Debug, Default)]
//! # struct Keys { fail: std::sync::atomic::AtomicBool }
//! # impl KeyStore for Keys {
//! #   fn index_key(&self, _: TenantId) -> Result<rapport_core::privacy::crypto::IndexKey, StoreError> { unimplemented!() }
//! #   fn data_key(&self, _: TenantId, _: CustomerId) -> Result<Option<rapport_core::privacy::crypto::DataKey>, StoreError> { Ok(None) }
//! #   fn create_data_key(&self, _: TenantId, _: CustomerId) -> Result<rapport_core::privacy::crypto::DataKey, StoreError> { unimplemented!() }
//! #   fn delete_data_key(&self, _: TenantId, _: CustomerId) -> Result<bool, StoreError> {
//! #     if self.fail.load(std::sync::atomic::Ordering::SeqCst) { Err(StoreError::unavailable("disk")) } else { Ok(true) } }
//! #   fn nonce(&self) -> [u8; 24] { [0; 24] }
//! # }
//! let keys = Arc::new(Keys::default());
//! let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
//! let owed = OwedKeys::default();
//! keys.fail.store(true, std::sync::atomic::Ordering::SeqCst);
//! let err = owed.delete(&(keys.clone() as Arc<dyn KeyStore>), t, &[id]).unwrap_err();
//! assert!(matches!(StoreError::from(err), StoreError::Unavailable { .. }));
//! assert!(owed.retry(t, id).is_err()); // the key store still fails
//! keys.fail.store(false, std::sync::atomic::Ordering::SeqCst);
//! assert!(owed.retry(t, id).is_ok());
//! assert!(owed.is_empty());
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rapport_core::ports::KeyStore;
use rapport_core::{CustomerId, StoreError, TenantId};

/// An erasure committed, but the data key of a customer it erased could not be deleted:
/// older copies of the rows (WAL, backups, replicas) still open with it, so the erasure is not
/// done. The deletion is owed; erasing the customer again retries it. Converts to
/// [`StoreError::Unavailable`]; names the key store's error kind only.
///
/// ```
/// use rapport_core::StoreError;
/// use rapport_sql::shred::KeysNotDeleted;
/// let e = StoreError::from(KeysNotDeleted::new("unavailable"));
/// assert!(e.to_string().contains("data key could not be deleted"));
/// assert!(e.to_string().contains("erase again"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the erasure is committed but an erased customer's data key could not be deleted (key store: {kind}); erase again to retry"
)]
pub struct KeysNotDeleted {
    kind: &'static str,
}

impl KeysNotDeleted {
    /// The error for a key store failure of kind `kind` ([`crate::store_error_kind`]).
    ///
    /// ```
    /// let e = rapport_sql::shred::KeysNotDeleted::new("backend");
    /// assert!(e.to_string().contains("key store: backend"));
    /// ```
    #[must_use]
    pub fn new(kind: &'static str) -> Self {
        Self { kind }
    }
}

impl From<KeysNotDeleted> for StoreError {
    fn from(e: KeysNotDeleted) -> Self {
        StoreError::Unavailable {
            reason: e.to_string(),
        }
    }
}

/// Deletes again the data keys of an erased customer and of the tombstones erased with it
/// (`ids`: the customer and the `Merged` tombstones merged into it, along chains, that hold an
/// erasure record), as both SQL stores do in `ErasureStore::erasure` for a customer that has
/// an erasure record. [`OwedKeys`] lives in memory: a process stopped after a failed deletion
/// forgot what it owed, and the key left behind still opens the older copies of the rows.
/// Deleting again whenever the erasure is asked for makes erasing again (after a restart too)
/// finish the job; deleting a key that is gone already is free in both shipped key stores (no
/// file IO for `FileKeyStore`), so asking for an erasure that is done costs a lookup.
///
/// ```
/// use std::sync::Arc;
/// use rapport_core::ports::KeyStore;
/// use rapport_core::{CustomerId, TenantId};
/// let keys: Arc<dyn KeyStore> = Arc::new(rapport_keys::MemoryKeyStore::new());
/// let (t, a, b) = (TenantId::from_u128(1), CustomerId::from_u128(2), CustomerId::from_u128(3));
/// keys.create_data_key(t, a)?;
/// rapport_sql::shred::delete_again(&keys, t, &[a, b])?; // b's key was gone already
/// assert!(keys.data_key(t, a)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`KeysNotDeleted`] when the key store fails (the erasure is still not done; asking again
/// retries).
pub fn delete_again(
    keys: &Arc<dyn KeyStore>,
    tenant: TenantId,
    ids: &[CustomerId],
) -> Result<(), KeysNotDeleted> {
    keys.delete_data_keys(tenant, ids).map_err(|e| {
        let kind = crate::store_error_kind(&e);
        tracing::warn!(
            error = kind,
            customers = ids.len(),
            "key delete of an erased customer failed again"
        );
        KeysNotDeleted::new(kind)
    })
}

/// One failed deletion call: the customers of one tenant whose keys may still be there.
#[derive(Debug, Clone)]
struct Owed {
    seq: u64,
    keys: Arc<dyn KeyStore>,
    tenant: TenantId,
    ids: Vec<CustomerId>,
    kind: &'static str,
}

/// The key deletions a store owes: those that failed after their erasure committed, kept
/// (per failed call: the customers of one tenant) until a retry deletes them. See the
/// [module](self).
#[derive(Debug, Default)]
pub struct OwedKeys {
    next: AtomicU64,
    owed: Mutex<Vec<Owed>>,
}

impl OwedKeys {
    /// Deletes the data keys of `ids` (erased customers of `tenant`, after the erasure's
    /// commit); when the key store fails, remembers the deletion as owed and logs the
    /// failure's kind.
    ///
    /// # Errors
    /// [`KeysNotDeleted`] when the key store failed.
    pub fn delete(
        &self,
        keys: &Arc<dyn KeyStore>,
        tenant: TenantId,
        ids: &[CustomerId],
    ) -> Result<(), KeysNotDeleted> {
        match keys.delete_data_keys(tenant, ids) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.owe(keys, tenant, ids, crate::store_error_kind(&e))),
        }
    }

    /// Remembers the deletion of `ids`' keys as owed, its last failure of kind `kind` (for a
    /// deletion that could not even be tried, e.g. its task failed), and returns the error
    /// that answers the erasure.
    pub fn owe(
        &self,
        keys: &Arc<dyn KeyStore>,
        tenant: TenantId,
        ids: &[CustomerId],
        kind: &'static str,
    ) -> KeysNotDeleted {
        tracing::warn!(
            error = kind,
            customers = ids.len(),
            "key delete failed; owed until the erasure is asked for again"
        );
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Owed {
            seq,
            keys: keys.clone(),
            tenant,
            ids: ids.to_vec(),
            kind,
        });
        KeysNotDeleted::new(kind)
    }

    /// True when no deletion is owed (the cheap check before [`Self::retry`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Retries every owed deletion (each one the key store takes is forgotten), then answers
    /// for `customer` of `tenant`.
    ///
    /// # Errors
    /// [`KeysNotDeleted`] while a deletion naming the customer is still owed (its retry failed
    /// again, or another caller's retry of it has not finished).
    pub fn retry(&self, tenant: TenantId, customer: CustomerId) -> Result<(), KeysNotDeleted> {
        // Tried outside the lock (key store IO); an entry stays until its deletion went
        // through, so a concurrent caller never takes a deletion in flight for done.
        let tries: Vec<Owed> = self.lock().clone();
        for Owed {
            seq,
            keys,
            tenant: t,
            ids,
            ..
        } in tries
        {
            let done = keys.delete_data_keys(t, &ids);
            let mut owed = self.lock();
            match done {
                Ok(()) => owed.retain(|o| o.seq != seq),
                Err(e) => {
                    if let Some(o) = owed.iter_mut().find(|o| o.seq == seq) {
                        o.kind = crate::store_error_kind(&e);
                    }
                }
            }
        }
        match self
            .lock()
            .iter()
            .find(|o| o.tenant == tenant && o.ids.contains(&customer))
        {
            Some(o) => Err(KeysNotDeleted::new(o.kind)),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Owed>> {
        // The list stays consistent whatever panicked while holding it.
        self.owed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rapport_core::ports::KeyStore;
    use rapport_core::privacy::crypto::{DataKey, IndexKey};
    use rapport_core::{CustomerId, StoreError, TenantId};

    use super::OwedKeys;

    /// A key store holding no key whose first `fails` deletions fail.
    #[derive(Debug)]
    struct Flaky {
        fails: AtomicUsize,
    }

    impl KeyStore for Flaky {
        fn index_key(&self, _: TenantId) -> Result<IndexKey, StoreError> {
            Ok(IndexKey::from_bytes([1; 32]))
        }
        fn data_key(&self, _: TenantId, _: CustomerId) -> Result<Option<DataKey>, StoreError> {
            Ok(None)
        }
        fn create_data_key(&self, _: TenantId, _: CustomerId) -> Result<DataKey, StoreError> {
            Ok(DataKey::from_bytes([2; 32]))
        }
        fn delete_data_key(&self, _: TenantId, _: CustomerId) -> Result<bool, StoreError> {
            let failing = self
                .fails
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                Err(StoreError::unavailable("disk full"))
            } else {
                Ok(true)
            }
        }
        fn nonce(&self) -> [u8; 24] {
            [3; 24]
        }
    }

    /// Only the customers of a deletion still owed are refused: another tenant's customer,
    /// or one whose deletion went through, is answered done.
    #[test]
    fn a_retry_answers_for_the_customers_still_owed_only() {
        let keys: Arc<dyn KeyStore> = Arc::new(Flaky {
            fails: AtomicUsize::new(2),
        });
        let (t, u) = (TenantId::from_u128(1), TenantId::from_u128(2));
        let [a, b, c] = [1, 2, 3].map(CustomerId::from_u128);
        let owed = OwedKeys::default();
        let err = owed.delete(&keys, t, &[a, b]).unwrap_err();
        assert!(err.to_string().contains("key store: unavailable"), "{err}");
        // The retry fails again (the second failure): `a` and `b` still owed, `c` and tenant
        // u's `a` not.
        assert!(owed.retry(t, b).is_err());
        assert!(!owed.is_empty());
        // This retry goes through.
        assert!(owed.retry(t, c).is_ok());
        assert!(owed.is_empty());
        assert!(owed.retry(t, a).is_ok());
        assert!(owed.retry(u, a).is_ok());
    }

    /// A customer of another tenant than the owed deletion's is answered done even while the
    /// deletion fails.
    #[test]
    fn another_tenants_customer_is_not_held_by_an_owed_deletion() {
        let keys: Arc<dyn KeyStore> = Arc::new(Flaky {
            fails: AtomicUsize::new(usize::MAX),
        });
        let (t, u, a) = (
            TenantId::from_u128(1),
            TenantId::from_u128(2),
            CustomerId::from_u128(1),
        );
        let owed = OwedKeys::default();
        assert!(owed.delete(&keys, t, &[a]).is_err());
        assert!(owed.retry(u, a).is_ok());
        assert!(owed.retry(t, a).is_err());
    }
}

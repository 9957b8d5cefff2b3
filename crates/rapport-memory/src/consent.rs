//! The consent ledger in memory: each customer's entries, and the ids of every entry of the
//! tenant (an id stored twice fails the changeset, as a primary key would).

use std::collections::{HashMap, HashSet};

use rapport_core::ports::{ConsentStore, ErasureStore, already_erased, entry_stored, sort_ledger};
use rapport_core::privacy::{ConsentEntry, ErasureRecord, strip_activity};
use rapport_core::{Changeset, ConsentEntryId, CustomerId, StoreError, TenantId};

use crate::{Hashed, MemoryStore};

/// One tenant's ledger.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    by_customer: HashMap<CustomerId, Vec<ConsentEntry>, Hashed>,
    ids: HashSet<ConsentEntryId, Hashed>,
    erasures: HashMap<CustomerId, ErasureRecord, Hashed>,
}

impl Ledger {
    /// The entries stored under `customer` (unsorted).
    pub(crate) fn of(&self, customer: CustomerId) -> Vec<ConsentEntry> {
        self.by_customer.get(&customer).cloned().unwrap_or_default()
    }

    /// Refuses a changeset whose entries are already stored (before anything is written).
    pub(crate) fn check(&self, cs: &Changeset) -> Result<(), StoreError> {
        if let Some(r) = cs
            .erasures
            .iter()
            .find(|r| self.erasures.contains_key(&r.customer))
        {
            return Err(already_erased(r.customer));
        }
        for m in &cs.consent_entry_moves {
            let here = self
                .by_customer
                .get(&m.from)
                .is_some_and(|v| v.iter().any(|e| e.id == m.entry));
            if !here {
                return Err(StoreError::Invalid(
                    rapport_core::DomainError::InvalidChangeset {
                        reason: format!(
                            "consent entry {} is not stored under customer {}",
                            m.entry, m.from
                        ),
                    },
                ));
            }
        }
        match cs.consents.iter().find(|e| self.ids.contains(&e.id)) {
            Some(e) => Err(entry_stored(e.id)),
            None => Ok(()),
        }
    }

    /// Moves, then appends (the checks passed).
    pub(crate) fn apply(&mut self, cs: &Changeset) {
        for m in &cs.consent_moves {
            if let Some(mut moved) = self.by_customer.remove(&m.from) {
                for e in &mut moved {
                    e.customer = m.to;
                }
                self.by_customer.entry(m.to).or_default().extend(moved);
            }
        }
        for m in &cs.consent_entry_moves {
            let Some(from) = self.by_customer.get_mut(&m.from) else {
                continue; // checked before: unreachable
            };
            let Some(i) = from.iter().position(|e| e.id == m.entry) else {
                continue;
            };
            let mut e = from.remove(i);
            if from.is_empty() {
                self.by_customer.remove(&m.from);
            }
            e.customer = m.to;
            self.by_customer.entry(m.to).or_default().push(e);
        }
        for e in &cs.consents {
            self.ids.insert(e.id);
            self.by_customer
                .entry(e.customer)
                .or_default()
                .push(e.clone());
        }
        for r in &cs.erasures {
            if let Some(entries) = self.by_customer.get_mut(&r.customer) {
                for e in entries.iter_mut() {
                    *e = e.stripped();
                }
            }
            self.erasures.insert(r.customer, r.clone());
        }
    }
}

/// The rest of an erasure (the checks passed): the customer's activities stripped in the
/// log, its pending outbox messages dropped.
pub(crate) fn erase(inner: &mut crate::Inner, tenant: TenantId, cs: &Changeset) {
    if cs.erasures.is_empty() {
        return;
    }
    if let Some(book) = inner.books.get_mut(&tenant) {
        for r in &cs.erasures {
            let positions: Vec<u32> = book
                .activities
                .get(&r.customer)
                .map(|t| t.values().flat_map(|m| m.as_slice().to_vec()).collect())
                .unwrap_or_default();
            for at in positions {
                let at = at as usize;
                if let Some(a) = book
                    .log
                    .chunks
                    .get_mut(at / crate::CHUNK)
                    .and_then(|c| c.get_mut(at % crate::CHUNK))
                {
                    *a = strip_activity(a);
                }
            }
        }
    }
    inner.outbox.retain(|p| {
        p.message.tenant != tenant
            || !cs
                .erasures
                .iter()
                .any(|r| r.customer == p.message.event.customer())
    });
}

impl ErasureStore for MemoryStore {
    async fn erasure(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Option<ErasureRecord>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.consents.erasures.get(&id).cloned()))
    }
}

impl ConsentStore for MemoryStore {
    async fn consents(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Vec<ConsentEntry>, StoreError> {
        let mut out = self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.consents.by_customer.get(&id).cloned())
            .unwrap_or_default();
        sort_ledger(&mut out);
        Ok(out)
    }
}

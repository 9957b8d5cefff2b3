//! The consent ledger in memory: each customer's entries, and the ids of every entry of the
//! tenant (an id stored twice fails the changeset, as a primary key would).

use std::collections::{HashMap, HashSet};

use rapport_core::ports::{ConsentStore, sort_ledger};
use rapport_core::privacy::ConsentEntry;
use rapport_core::{Changeset, ConsentEntryId, CustomerId, StoreError, TenantId};

use crate::{Hashed, MemoryStore};

/// One tenant's ledger.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    by_customer: HashMap<CustomerId, Vec<ConsentEntry>, Hashed>,
    ids: HashSet<ConsentEntryId, Hashed>,
}

impl Ledger {
    /// Refuses a changeset whose entries are already stored (before anything is written).
    pub(crate) fn check(&self, cs: &Changeset) -> Result<(), StoreError> {
        match cs.consents.iter().find(|e| self.ids.contains(&e.id)) {
            Some(e) => Err(rapport_core::ports::entry_stored(e.id)),
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
        for e in &cs.consents {
            self.ids.insert(e.id);
            self.by_customer
                .entry(e.customer)
                .or_default()
                .push(e.clone());
        }
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

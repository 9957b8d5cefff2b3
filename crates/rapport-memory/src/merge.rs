//! Merges in the memory store: activities handed between customers (their log entries
//! rewritten in place, the timelines' positions moved) and merge records.

use std::collections::btree_map;

use rapport_core::quality::merge_op::{MergeRecord, MergeRecordWrite};
use rapport_core::*;

use crate::{Book, MemoryStore, Moment};

impl Book {
    /// The log position of `id`, stored under `customer` at `at`.
    fn position(
        &self,
        customer: CustomerId,
        at: chrono::DateTime<chrono::Utc>,
        id: ActivityId,
    ) -> Option<u32> {
        let moment = self.activities.get(&customer)?.get(&at)?;
        moment
            .as_slice()
            .iter()
            .copied()
            .find(|&p| self.log.get(p).is_some_and(|a| a.id == id))
    }

    /// Every check of the changeset's moves and merge records, before any write.
    pub(crate) fn check_merges(&self, cs: &Changeset) -> Result<(), StoreError> {
        for m in &cs.moves {
            let a = &m.activity;
            let same = self
                .position(m.from, a.at, a.id)
                .and_then(|p| self.log.get(p))
                .is_some_and(|s| s.idempotency_key == a.idempotency_key && s.kind == a.kind);
            if !same {
                return Err(StoreError::Invalid(DomainError::InvalidChangeset {
                    reason: format!("activity {} is not stored under customer {}", a.id, m.from),
                }));
            }
        }
        for w in &cs.merges {
            match w {
                MergeRecordWrite::Insert { record } if self.merges.contains_key(&record.id) => {
                    return Err(StoreError::Invalid(DomainError::InvalidChangeset {
                        reason: format!("merge {} is recorded already", record.id),
                    }));
                }
                MergeRecordWrite::Undo { id, loser, .. } => {
                    let ok = self
                        .merges
                        .get(id)
                        .is_some_and(|r| r.loser == *loser && r.undone_at.is_none());
                    if !ok {
                        return Err(StoreError::Invalid(DomainError::CannotUnmerge {
                            loser: *loser,
                            reason: "no such merge, or it was undone already",
                        }));
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    let ok = self.merges.get(&record.id).is_some_and(|r| {
                        (r.survivor, r.loser, r.undone_at)
                            == (record.survivor, record.loser, record.undone_at)
                    });
                    if !ok {
                        return Err(StoreError::Invalid(DomainError::InvalidChangeset {
                            reason: format!(
                                "merge {} is not stored as the redaction names it",
                                record.id
                            ),
                        }));
                    }
                }
                MergeRecordWrite::Insert { .. } => {}
            }
        }
        Ok(())
    }

    /// Writes the checked moves and merge records.
    pub(crate) fn apply_merges(&mut self, cs: &Changeset) {
        for m in &cs.moves {
            let a = &m.activity;
            let Some(p) = self.position(m.from, a.at, a.id) else {
                continue; // checked before: unreachable
            };
            if let Some(slot) = self.log.get_mut(p) {
                *slot = a.clone();
            }
            if let Some(timeline) = self.activities.get_mut(&m.from) {
                if let btree_map::Entry::Occupied(mut o) = timeline.entry(a.at) {
                    let rest: Vec<u32> = o
                        .get()
                        .as_slice()
                        .iter()
                        .copied()
                        .filter(|&q| q != p)
                        .collect();
                    match rest.as_slice() {
                        [] => {
                            o.remove();
                        }
                        [one] => *o.get_mut() = Moment::One(*one),
                        _ => *o.get_mut() = Moment::Many(rest),
                    }
                }
            }
            match self.activities.entry(a.customer).or_default().entry(a.at) {
                btree_map::Entry::Vacant(v) => {
                    v.insert(Moment::One(p));
                }
                btree_map::Entry::Occupied(mut o) => o.get_mut().push(p),
            }
        }
        for d in &cs.distinct {
            self.distinct.insert((d.first, d.second), d.stamp);
        }
        for w in &cs.merges {
            match w {
                MergeRecordWrite::Insert { record } => {
                    self.merges.insert(record.id, MergeRecord::clone(record));
                }
                MergeRecordWrite::Undo { id, at, .. } => {
                    if let Some(r) = self.merges.get_mut(id) {
                        r.undone_at = Some(*at);
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    self.merges.insert(record.id, MergeRecord::clone(record));
                }
            }
        }
    }
}

impl ports::MergeStore for MemoryStore {
    async fn merge_record(
        &self,
        tenant: TenantId,
        id: MergeId,
    ) -> Result<Option<MergeRecord>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.merges.get(&id).cloned()))
    }

    async fn merges_of(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<MergeRecord>, StoreError> {
        let mut out: Vec<MergeRecord> =
            self.lock()?.books.get(&tenant).map_or_else(Vec::new, |b| {
                b.merges
                    .values()
                    .filter(|r| r.survivor == customer || r.loser == customer)
                    .cloned()
                    .collect()
            });
        out.sort_by_key(|r| (r.at, r.id));
        Ok(out)
    }

    async fn distinct_pairs(&self, tenant: TenantId) -> Result<Vec<DistinctPair>, StoreError> {
        Ok(self.lock()?.books.get(&tenant).map_or_else(Vec::new, |b| {
            b.distinct
                .iter()
                .map(|(&(first, second), &stamp)| DistinctPair {
                    first,
                    second,
                    stamp,
                })
                .collect()
        }))
    }

    async fn belongings(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Belongings, StoreError> {
        let inner = self.lock()?;
        let Some(b) = inner.books.get(&tenant) else {
            return Ok(Belongings::default());
        };
        let mut consents = b.consents.of(customer);
        rapport_core::ports::sort_ledger(&mut consents);
        let links: Vec<AccountLink> = b.links_of(customer).cloned().collect();
        Ok(Belongings {
            lines: None,
            consents,
            cases: b
                .cases
                .values()
                .filter(|c| c.customer == customer)
                .cloned()
                .collect(),
            accounts: links
                .iter()
                .filter_map(|l| b.accounts.get(&l.account).cloned())
                .collect(),
            links,
        })
    }
}

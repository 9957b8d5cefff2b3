//! Scheduled automation actions and the action log, under the store's one lock (so the sent
//! actions' outbox messages commit with their log lines).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rapport_core::automation::{ActionId, ActionOutcome, ActionRecord, ScheduledAction};
use rapport_core::ports::{ActionLog, ActionStore, DueActions, redriven_action};
use rapport_core::{CustomerId, StoreError, TenantId};

use crate::{MemoryStore, Pending};

#[derive(Debug, Default)]
pub(crate) struct Actions {
    books: HashMap<TenantId, Book>,
}

#[derive(Debug, Default)]
struct Book {
    scheduled: BTreeMap<ActionId, ScheduledAction>,
    log: BTreeMap<ActionId, ActionRecord>,
}

impl ActionStore for MemoryStore {
    async fn write_actions(&self, t: TenantId, w: &DueActions) -> Result<ActionLog, StoreError> {
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let book = inner.actions.books.entry(t).or_default();
        let mut out = ActionLog::default();
        for a in &w.schedule {
            if a.tenant != t || book.scheduled.contains_key(&a.id) || book.log.contains_key(&a.id) {
                out.skipped += 1;
                continue;
            }
            book.scheduled.insert(a.id, a.clone());
            out.scheduled += 1;
        }
        for (id, due) in &w.defer {
            if let Some(a) = book.scheduled.get_mut(id) {
                a.due = *due;
            }
        }
        let mut fresh = Vec::new();
        for r in w.log.iter().filter(|r| r.tenant == t) {
            book.scheduled.remove(&r.id);
            if let std::collections::btree_map::Entry::Vacant(v) = book.log.entry(r.id) {
                v.insert(r.clone());
                fresh.push(r.id.message_id());
                out.logged += 1;
            }
        }
        for (id, reason) in &w.dead_letters {
            if let Some(r) = book.log.get_mut(id).filter(|r| r.is_sent()) {
                r.outcome = ActionOutcome::DeadLettered {
                    reason: reason.clone(),
                };
                out.dead_lettered += 1;
            }
        }
        for m in w.redrive.iter().filter(|m| m.tenant == t) {
            let Some(id) = redriven_action(m) else {
                continue;
            };
            if let Some(r) = book.log.get_mut(&id).filter(|r| r.is_dead_lettered()) {
                r.outcome = ActionOutcome::Sent;
                out.redriven += 1;
                // The first delivery was acknowledged; one still queued is not doubled.
                if !inner.outbox.iter().any(|p| p.message.id == m.id) {
                    inner.outbox.push_back(Pending {
                        message: m.clone(),
                        available_at: DateTime::<Utc>::MIN_UTC,
                    });
                }
            }
        }
        for m in w
            .outbox
            .iter()
            .filter(|m| m.tenant == t && fresh.contains(&m.id))
        {
            inner.outbox.push_back(Pending {
                message: m.clone(),
                available_at: DateTime::<Utc>::MIN_UTC,
            });
        }
        Ok(out)
    }

    async fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        let inner = self.lock()?;
        let mut out: Vec<ScheduledAction> = inner
            .actions
            .books
            .get(&t)
            .map(|b| {
                b.scheduled
                    .values()
                    .filter(|a| a.customer == customer)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|a| (a.due, a.id));
        Ok(out)
    }

    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        let inner = self.lock()?;
        let mut out: Vec<ScheduledAction> = inner
            .actions
            .books
            .get(&t)
            .map(|b| {
                b.scheduled
                    .values()
                    .filter(|a| a.due <= now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|a| (a.due, a.id));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let inner = self.lock()?;
        let mut out: Vec<ActionRecord> = inner
            .actions
            .books
            .get(&t)
            .map(|b| {
                b.log
                    .values()
                    .filter(|r| r.at >= since && customer.is_none_or(|c| r.customer == c))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|r| (r.at, r.id));
        out.truncate(limit as usize);
        Ok(out)
    }
}

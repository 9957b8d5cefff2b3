//! The ports: [`Store`] (where customers, activities and outbox messages live) and
//! [`Notifier`] (where domain events go). Host apps and third-party backends implement them;
//! the service in the `rapport` crate only talks to these traits.
//!
//! They are native async traits (`fn … -> impl Future + Send`), so any executor can drive
//! them — `rapport::blocking` uses `futures::executor::block_on`, no tokio needed.
//!
//! # A complete toy store
//! The smallest store that honours the contract (the conformance kit `rapport-testkit` checks
//! it): one mutex around a map per tenant.
//!
//! ```
//! use std::collections::{BTreeMap, HashMap, HashSet};
//! use std::sync::Mutex;
//! use std::time::Duration;
//! use chrono::{DateTime, Utc};
//! use rapport_core::ports::*;
//! use rapport_core::*;
//!
//! #[derive(Default)]
//! struct Toy(Mutex<HashMap<TenantId, Book>>);
//!
//! #[derive(Default)]
//! struct Book {
//!     customers: BTreeMap<CustomerId, Record>,
//!     keys: HashSet<IdempotencyKey>,
//!     activities: Vec<Activity>,
//!     outbox: Vec<(OutboxMessage, DateTime<Utc>)>,
//! }
//!
//! impl Toy {
//!     fn book<T>(&self, t: TenantId, f: impl FnOnce(&mut Book) -> T) -> Result<T, StoreError> {
//!         let mut all = self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?;
//!         Ok(f(all.entry(t).or_default()))
//!     }
//! }
//!
//! impl Store for Toy {
//!     async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
//!         self.book(t, |b| b.customers.get(&id).cloned())
//!     }
//!     async fn find_by_contact(&self, t: TenantId, key: &ContactKey) -> Result<Vec<CustomerId>, StoreError> {
//!         self.book(t, |b| b.customers.values()
//!             .filter(|r| r.customer.profile.contact_keys().contains(key))
//!             .map(|r| r.customer.id()).collect())
//!     }
//!     async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
//!         self.book(t, |b| b.customers.values()
//!             .filter(|r| page.after.is_none_or(|a| r.customer.id() > a))
//!             .take(page.limit as usize).cloned().collect())
//!     }
//!     async fn activities(&self, t: TenantId, id: CustomerId, range: TimeRange) -> Result<Vec<Activity>, StoreError> {
//!         self.book(t, |b| b.activities.iter()
//!             .filter(|a| a.customer == id && range.contains(a.at)).cloned().collect())
//!     }
//!     async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
//!         cs.validate(t)?;
//!         self.book(t, |b| {
//!             let duplicates: Vec<_> = cs.activities.iter()
//!                 .filter(|a| b.keys.contains(&a.idempotency_key))
//!                 .map(|a| a.idempotency_key.clone()).collect();
//!             if !duplicates.is_empty() {
//!                 return Ok(Applied { duplicates, ..Applied::default() });
//!             }
//!             check_writes(&cs.customers, |id| b.customers.get(&id).map(|r| &r.customer))?;
//!             for w in &cs.customers {
//!                 let r = Record { customer: w.customer().clone(), stats: w.stats().clone() };
//!                 b.customers.insert(r.customer.id(), r);
//!             }
//!             for a in &cs.activities {
//!                 b.keys.insert(a.idempotency_key.clone());
//!                 b.activities.push(a.clone());
//!             }
//!             let never = DateTime::<Utc>::MIN_UTC;
//!             b.outbox.extend(cs.outbox.iter().map(|m| (m.clone(), never)));
//!             Ok(Applied::counting(cs))
//!         })?
//!     }
//! }
//! impl Outbox for Toy {
//!     async fn claim_outbox(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> Result<Vec<OutboxMessage>, StoreError> {
//!         let mut all = self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?;
//!         let until = now + lease;
//!         let mut out = Vec::new();
//!         for book in all.values_mut() {
//!             for (m, available) in book.outbox.iter_mut() {
//!                 if out.len() < limit as usize && *available <= now {
//!                     *available = until;
//!                     m.attempts += 1;
//!                     out.push(m.clone());
//!                 }
//!             }
//!         }
//!         Ok(out)
//!     }
//!     async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
//!         let mut all = self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?;
//!         for book in all.values_mut() {
//!             book.outbox.retain(|(m, _)| !ids.contains(&m.id));
//!         }
//!         Ok(())
//!     }
//!     async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
//!         let mut all = self.0.lock().map_err(|_| StoreError::unavailable("poisoned"))?;
//!         for book in all.values_mut() {
//!             for (m, available) in book.outbox.iter_mut() {
//!                 if m.id == id { *available = at; }
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! # let _ = Toy::default();
//! ```

mod account;
mod actions;
mod case;
mod consent;
mod consent_source;
mod dyn_store;
mod erasure;
mod error;
mod import;
mod keystore;
mod line_items;
mod merge;
mod notifier;
mod outbox;
mod store;

pub use account::{AccountStore, check_account_writes, count_roles};
pub use actions::{ActionLog, ActionStore, DueActions, redriven_action};
pub use case::{CaseQuery, CaseStore, check_case_writes};
pub use consent::{ConsentStore, entry_stored, sort_ledger};
pub use consent_source::{ConsentSource, CustomerConsents};
pub use dyn_store::{BoxFuture, DynMergeStore, DynStore};
pub use erasure::{ErasureStore, already_erased};
pub use error::{Entity, StoreError};
pub use import::{
    ActivityImport, ActivityImportReport, CustomerImport, ImportActivity, ImportNeeds,
    ImportPolicy, by_customer, ensure_importable, fold_import, import_by_apply, refused_activity,
};
pub use keystore::KeyStore;
pub use line_items::{LineItemStore, lines_left, net_purchases};
pub use merge::{MergeSide, MergeStore, RecordWithMerges, check_changeset_writes};
pub use notifier::{Notifier, NotifyError};
pub use outbox::Outbox;
pub use store::{
    Applied, Page, Record, Store, TimeRange, check_contacts, check_writes, query_by_scan,
};

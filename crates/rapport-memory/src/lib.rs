//! The in-memory store of **rapport**: all ports, tenant-scoped, versioned, idempotent by
//! activity key, with a leased outbox. It is the reference every other backend is compared
//! with by `rapport-testkit`, and a fine store for tests and small tools.
//!
//! ```
//! use futures::executor::block_on;
//! use rapport_core::*;
//! use rapport_memory::MemoryStore;
//! let store = MemoryStore::new();
//! let now = chrono::DateTime::UNIX_EPOCH;
//! let t = TenantId::from_u128(1);
//! let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
//! let mut cs = Changeset::new();
//! cs.create(c.clone(), Stats::default());
//! block_on(store.apply(t, &cs)).unwrap();
//! assert_eq!(block_on(store.load(t, c.id())).unwrap().unwrap().customer, c);
//! assert!(block_on(store.load(TenantId::from_u128(9), c.id())).unwrap().is_none());
//! ```
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::ports::check_writes;
use rapport_core::*;

/// foldhash (the default hasher of `hashbrown`): randomly seeded like std's, several times
/// faster on the short keys hashed on every write; it does not claim SipHash's resistance to
/// deliberate hash flooding, which an in-process reference store does not need.
type Hashed = foldhash::fast::RandomState;

/// One customer's activities by (time, key): timeline order.
type Timeline = BTreeMap<(DateTime<Utc>, IdempotencyKey), Activity>;

#[derive(Debug, Default)]
struct Book {
    /// Records boxed: a B-tree filled in key order leaves its nodes about half full, and
    /// half-empty slots of a 16-byte key and a pointer cost far less than of a whole record.
    customers: BTreeMap<CustomerId, Box<Record>>,
    keys: HashSet<IdempotencyKey, Hashed>,
    /// Each customer's activities by (time, key): timeline order.
    activities: HashMap<CustomerId, Timeline, Hashed>,
}

#[derive(Debug)]
struct Pending {
    message: OutboxMessage,
    available_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    books: HashMap<TenantId, Book>,
    /// Outbox in commit order.
    outbox: BTreeMap<u64, Pending>,
    seq: u64,
}

/// An in-memory [`Store`]. Cheap to create; everything is lost when dropped.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_memory::MemoryStore;
/// let store = MemoryStore::new();
/// let (t, now) = (TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// let mut cs = Changeset::new();
/// cs.create(c.clone(), Stats::default());
/// cs.outbox.push(OutboxMessage::new(MessageId::from_u128(1), t, now, DomainEvent::CustomerRegistered { customer: c.id() }));
/// block_on(store.apply(t, &cs)).unwrap();
/// // A create is never an upsert; the failed changeset writes nothing, its message included.
/// let err = block_on(store.apply(t, &cs)).unwrap_err();
/// assert!(matches!(err, StoreError::AlreadyExists { .. }));
/// assert_eq!(store.pending_outbox().unwrap(), 1);
/// // An update from the version read.
/// let mut update = Changeset::new();
/// update.update(&c, c.next_version(), Stats::default());
/// block_on(store.apply(t, &update)).unwrap();
/// assert_eq!(block_on(store.load(t, c.id())).unwrap().unwrap().customer.version(), 2);
/// assert!(matches!(block_on(store.apply(t, &update)), Err(StoreError::Conflict { expected: 1, actual: 2, .. })));
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::{Page, Store, TenantId};
    /// let store = rapport_memory::MemoryStore::new();
    /// assert!(block_on(store.scan(TenantId::from_u128(1), Page::first(10))).unwrap().is_empty());
    /// assert_eq!(store.pending_outbox().unwrap(), 0);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::unavailable("memory store mutex poisoned"))
    }

    /// Number of outbox messages not yet acknowledged.
    ///
    /// # Errors
    /// When the mutex is poisoned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_memory::MemoryStore;
    /// let store = MemoryStore::new();
    /// let (t, now) = (TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH);
    /// let mut cs = Changeset::new();
    /// for i in 1..=3 {
    ///     let c = Customer::new(t, CustomerId::from_u128(i), Profile::default(), now);
    ///     cs.outbox.push(OutboxMessage::new(MessageId::from_u128(i), t, now, DomainEvent::CustomerRegistered { customer: c.id() }));
    ///     cs.create(c, Stats::default());
    /// }
    /// block_on(store.apply(t, &cs)).unwrap();
    /// assert_eq!(store.pending_outbox().unwrap(), 3);
    /// // Claiming leases messages but keeps them pending; only an ack removes them.
    /// let claimed = block_on(store.claim_outbox(2, Duration::from_secs(30), now)).unwrap();
    /// assert_eq!(store.pending_outbox().unwrap(), 3);
    /// let ids: Vec<MessageId> = claimed.iter().map(|m| m.id).collect();
    /// block_on(store.ack_outbox(&ids)).unwrap();
    /// assert_eq!(store.pending_outbox().unwrap(), 1);
    /// ```
    pub fn pending_outbox(&self) -> Result<usize, StoreError> {
        Ok(self.lock()?.outbox.len())
    }
}

impl Store for MemoryStore {
    async fn load(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        Ok(self
            .lock()?
            .books
            .get(&tenant)
            .and_then(|b| b.customers.get(&id).map(|r| Record::clone(r))))
    }

    async fn find_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        Ok(self.lock()?.books.get(&tenant).map_or_else(Vec::new, |b| {
            b.customers
                .values()
                .filter(|r| r.customer.profile.contact_keys().contains(key))
                .map(|r| r.customer.id())
                .collect()
        }))
    }

    async fn scan(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        let inner = self.lock()?;
        let Some(b) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        let iter: Box<dyn Iterator<Item = &Box<Record>>> = match page.after {
            Some(a) => Box::new(
                b.customers
                    .range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                    .map(|(_, r)| r),
            ),
            None => Box::new(b.customers.values()),
        };
        Ok(iter
            .take(page.limit as usize)
            .map(|r| Record::clone(r))
            .collect())
    }

    async fn activities(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        let inner = self.lock()?;
        let Some(b) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        Ok(b.activities.get(&id).map_or_else(Vec::new, |acts| {
            acts.iter()
                .filter(|((at, _), _)| range.contains(*at))
                .map(|(_, a)| a.clone())
                .collect()
        }))
    }

    async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        cs.validate(tenant)?;
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let book = inner.books.entry(tenant).or_default();
        let duplicates: Vec<IdempotencyKey> = cs
            .activities
            .iter()
            .filter(|a| book.keys.contains(&a.idempotency_key))
            .map(|a| a.idempotency_key.clone())
            .collect();
        if !duplicates.is_empty() {
            return Ok(Applied {
                duplicates,
                ..Applied::default()
            });
        }
        // Every check before the first write: all or nothing.
        check_writes(&cs.customers, |id| {
            book.customers.get(&id).map(|r| r.customer.version())
        })?;
        for w in &cs.customers {
            let r = Record {
                customer: w.customer().clone(),
                stats: w.stats().clone(),
            };
            book.customers.insert(r.customer.id(), Box::new(r));
        }
        for a in &cs.activities {
            book.keys.insert(a.idempotency_key.clone());
            book.activities
                .entry(a.customer)
                .or_default()
                .insert((a.at, a.idempotency_key.clone()), a.clone());
        }
        for m in &cs.outbox {
            inner.seq += 1;
            inner.outbox.insert(
                inner.seq,
                Pending {
                    message: m.clone(),
                    available_at: DateTime::<Utc>::MIN_UTC,
                },
            );
        }
        Ok(Applied::counting(cs))
    }

    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut inner = self.lock()?;
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut out = Vec::new();
        for p in inner.outbox.values_mut() {
            if out.len() >= limit as usize {
                break;
            }
            if p.available_at <= now {
                p.available_at = until;
                p.message.attempts += 1;
                out.push(p.message.clone());
            }
        }
        Ok(out)
    }

    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        let ids: HashSet<&MessageId> = ids.iter().collect();
        self.lock()?
            .outbox
            .retain(|_, p| !ids.contains(&p.message.id));
        Ok(())
    }

    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for p in self.lock()?.outbox.values_mut() {
            if p.message.id == id {
                p.available_at = at;
            }
        }
        Ok(())
    }
}

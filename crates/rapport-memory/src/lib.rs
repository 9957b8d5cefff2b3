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

mod consent;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque, btree_map, hash_map};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::ports::{check_changeset_writes, check_contacts};

mod merge;
use rapport_core::*;

mod account;
mod case;
mod line_items;

/// foldhash (the default hasher of `hashbrown`): randomly seeded like std's, several times
/// faster on the short keys hashed on every write; it does not claim SipHash's resistance to
/// deliberate hash flooding, which an in-process reference store does not need.
mod actions;

type Hashed = foldhash::fast::RandomState;

/// A tenant's activities in arrival order, in chunks that never move once allocated: a new
/// activity is written next to the one before (in cache), and growing never copies a chunk.
/// Timelines and the key index hold positions in it.
#[derive(Debug, Default)]
struct Log {
    chunks: Vec<Vec<Activity>>,
}

/// Activities per chunk of a [`Log`] (about 600 KiB).
const CHUNK: usize = 4096;

impl Log {
    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    /// Appends `a` and returns its position (the caller has checked that it fits a `u32`).
    fn push(&mut self, a: Activity) -> u32 {
        let at = u32::try_from(self.len()).unwrap_or(u32::MAX);
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(a),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(a);
                self.chunks.push(chunk);
            }
        }
        at
    }

    fn get(&self, at: u32) -> Option<&Activity> {
        let at = at as usize;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)
    }

    fn get_mut(&mut self, at: u32) -> Option<&mut Activity> {
        let at = at as usize;
        self.chunks.get_mut(at / CHUNK)?.get_mut(at % CHUNK)
    }
}

/// One customer's activities (positions in the tenant's [`Log`]) by time. The B-tree is keyed
/// by the instant alone, so an insert compares a few integers, never key strings; activities
/// that share an instant wait in arrival order and are put in key order when read (the
/// timeline order is (time, key), as in every store).
type Timeline = BTreeMap<DateTime<Utc>, Moment>;

/// The activities of one instant: nearly always one, kept inline without an allocation.
#[derive(Debug)]
enum Moment {
    One(u32),
    Many(Vec<u32>),
}

impl Moment {
    fn push(&mut self, at: u32) {
        match self {
            Moment::One(first) => *self = Moment::Many(vec![*first, at]),
            Moment::Many(v) => v.push(at),
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Moment::One(at) => std::slice::from_ref(at),
            Moment::Many(v) => v,
        }
    }
}

#[derive(Debug, Default)]
struct Book {
    /// Records boxed: a B-tree filled in key order leaves its nodes about half full, and
    /// half-empty slots of a 16-byte key and a pointer cost far less than of a whole record.
    customers: BTreeMap<CustomerId, Box<Record>>,
    /// Every activity of the tenant.
    log: Log,
    /// Every idempotency key of the tenant as a 64-bit fingerprint, with the position of its
    /// activity: a write hashes a key once and never clones it (the key is stored once, in its
    /// activity), and a fingerprint match is confirmed against that activity's key.
    keys: HashMap<u64, u32, Hashed>,
    /// Keys whose fingerprint an earlier, different key already had (one in about 2^64 / n).
    collided: HashSet<IdempotencyKey, Hashed>,
    /// The fingerprint function, seeded per book.
    fingerprint: Hashed,
    /// Each customer's timeline.
    activities: HashMap<CustomerId, Timeline, Hashed>,
    /// The live customer holding each normalised email and phone (one per key).
    contacts: HashMap<ContactKey, CustomerId, Hashed>,
    /// The tenant's cases.
    cases: BTreeMap<CaseId, Case>,
    /// The tenant's accounts.
    accounts: BTreeMap<AccountId, Account>,
    /// Account links by (account, customer).
    account_links: BTreeMap<(AccountId, CustomerId), AccountLink>,
    /// The keys of `account_links` by customer: a person's links without a scan.
    links_by_customer: BTreeSet<(CustomerId, AccountId)>,
    /// Activities attributed to accounts: the account of each attributed key (first wins) and
    /// each account's attributed activities by (time, key).
    attributed: account::Attributed,
    /// The consent ledger.
    consents: consent::Ledger,
    merges: HashMap<MergeId, rapport_core::MergeRecord, Hashed>,
    distinct: BTreeMap<(CustomerId, CustomerId), u64>,
    /// Line items by activity.
    line_items: BTreeMap<ActivityId, LineItems>,
}

impl Book {
    fn fingerprint(&self, key: &IdempotencyKey) -> u64 {
        self.fingerprint.hash_one(key)
    }

    /// True when the tenant has recorded `key`.
    fn has_key(&self, key: &IdempotencyKey) -> bool {
        let Some(&at) = self.keys.get(&self.fingerprint(key)) else {
            return false;
        };
        self.log.get(at).is_some_and(|a| a.idempotency_key == *key) || self.collided.contains(key)
    }

    /// Room for `n` more activities (positions are `u32`).
    fn has_room(&self, n: usize) -> bool {
        self.log.len().saturating_add(n) <= u32::MAX as usize
    }

    /// Adds an activity whose key the tenant does not have yet.
    fn insert(&mut self, a: &Activity) {
        let fp = self.fingerprint(&a.idempotency_key);
        let at = self.log.push(a.clone());
        match self.keys.entry(fp) {
            hash_map::Entry::Vacant(v) => {
                v.insert(at);
            }
            hash_map::Entry::Occupied(_) => {
                self.collided.insert(a.idempotency_key.clone());
            }
        }
        match self.activities.entry(a.customer).or_default().entry(a.at) {
            btree_map::Entry::Vacant(v) => {
                v.insert(Moment::One(at));
            }
            btree_map::Entry::Occupied(mut o) => o.get_mut().push(at),
        }
    }

    /// A customer's activities in `range`, in timeline order.
    fn timeline(&self, id: CustomerId, range: TimeRange) -> Vec<Activity> {
        let Some(timeline) = self.activities.get(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for moment in timeline.range(bounds(range)).map(|(_, m)| m) {
            let start = out.len();
            out.extend(
                moment
                    .as_slice()
                    .iter()
                    .filter_map(|&at| self.log.get(at))
                    .cloned(),
            );
            if out.len() - start > 1 {
                out[start..].sort_unstable_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
            }
        }
        out
    }
}

#[derive(Debug)]
struct Pending {
    message: OutboxMessage,
    available_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    books: HashMap<TenantId, Book>,
    /// Outbox in commit order: appended at the back, acknowledged messages removed
    /// wherever they are.
    outbox: VecDeque<Pending>,
    /// Scheduled automation actions and the action log (see `actions`).
    actions: actions::Actions,
    /// Each tenant's fitted CLV model (the latest `fitted_at`).
    clv_models: HashMap<TenantId, FittedClv>,
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

/// A time range as B-tree bounds (start inclusive, end exclusive).
fn bounds(range: TimeRange) -> (Bound<DateTime<Utc>>, Bound<DateTime<Utc>>) {
    let from = range.from.map_or(Bound::Unbounded, Bound::Included);
    match (range.from, range.to) {
        // An empty range: `BTreeMap::range` panics when the end is before the start.
        (Some(f), Some(t)) if t <= f => (Bound::Included(f), Bound::Excluded(f)),
        (_, to) => (from, to.map_or(Bound::Unbounded, Bound::Excluded)),
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

    /// The default scan, except for a segment that tests account roles or line items: then
    /// each customer is evaluated with the roles of its active links and the summary of its
    /// line items.
    async fn query(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        if !segment.uses_account_roles() && !segment.uses_line_items() {
            return rapport_core::ports::query_by_scan(self, tenant, segment, now, page).await;
        }
        let inner = self.lock()?;
        let Some(b) = inner.books.get(&tenant) else {
            return Ok(Vec::new());
        };
        Ok(account::query_with_context(b, segment, now, page))
    }

    async fn account_roles(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<AccountRoleSet>, StoreError> {
        let inner = self.lock()?;
        let Some(b) = inner.books.get(&tenant) else {
            return Ok(vec![AccountRoleSet::default(); customers.len()]);
        };
        Ok(customers
            .iter()
            .map(|c| AccountRoleSet::of_links(b.links_of(*c)))
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
        Ok(b.timeline(id, range))
    }

    async fn purchase_lines(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<Vec<LineItems>>, StoreError> {
        Ok(Some(self.customer_line_items(tenant, customer).await?))
    }

    async fn clv_model(&self, tenant: TenantId) -> Result<Option<FittedClv>, StoreError> {
        Ok(self.lock()?.clv_models.get(&tenant).copied())
    }

    async fn save_clv_model(&self, tenant: TenantId, model: &FittedClv) -> Result<(), StoreError> {
        model.validate()?;
        let mut inner = self.lock()?;
        let slot = inner.clv_models.entry(tenant).or_insert(*model);
        if slot.fitted_at <= model.fitted_at {
            *slot = *model;
        }
        Ok(())
    }

    async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        cs.validate(tenant)?;
        let mut inner = self.lock()?;
        let inner = &mut *inner;
        let book = inner.books.entry(tenant).or_default();
        let duplicates: Vec<IdempotencyKey> = cs
            .activities
            .iter()
            .filter(|a| book.has_key(&a.idempotency_key))
            .map(|a| a.idempotency_key.clone())
            .collect();
        if !duplicates.is_empty() {
            return Ok(Applied {
                duplicates,
                ..Applied::default()
            });
        }
        // Every check before the first write: all or nothing.
        if !book.has_room(cs.activities.len()) {
            return Err(StoreError::Unsupported {
                what: format!("more than {} activities in one tenant", u32::MAX),
            });
        }
        check_changeset_writes(cs, |id| book.customers.get(&id).map(|r| &r.customer))?;
        case::check(book, cs)?;
        account::check(book, cs)?;
        book.consents.check(cs)?;
        book.check_merges(cs)?;
        // Most writes (a purchase, a tag) keep the customer's contacts: nothing to check or
        // move then, which keeps the contact rule off the hot path.
        let moves_contacts = cs.customers.iter().any(|w| {
            let c = w.customer();
            match book.customers.get(&c.id()) {
                None => !c.profile.contact_keys().is_empty(),
                Some(old) => {
                    old.customer.is_live() != c.is_live()
                        || old.customer.profile.email != c.profile.email
                        || old.customer.profile.phone != c.profile.phone
                }
            }
        });
        if moves_contacts {
            check_contacts(&cs.customers, |key| book.contacts.get(key).copied())?;
        }
        // Claims move in two passes, so a changeset may hand a contact from one customer it
        // writes to another.
        for w in cs.customers.iter().filter(|_| moves_contacts) {
            let id = w.customer().id();
            if let Some(old) = book.customers.get(&id).filter(|r| r.customer.is_live()) {
                for key in old.customer.profile.contact_keys() {
                    if book.contacts.get(&key) == Some(&id) {
                        book.contacts.remove(&key);
                    }
                }
            }
        }
        for w in cs.customers.iter().filter(|_| moves_contacts) {
            let c = w.customer();
            if c.is_live() {
                for key in c.profile.contact_keys() {
                    book.contacts.insert(key, c.id());
                }
            }
        }
        for w in &cs.customers {
            let r = Record {
                customer: w.customer().clone(),
                stats: w.stats().clone(),
            };
            // An update overwrites the boxed record in place: no allocation, no B-tree insert.
            match book.customers.entry(r.customer.id()) {
                btree_map::Entry::Occupied(mut o) => **o.get_mut() = r,
                btree_map::Entry::Vacant(v) => {
                    v.insert(Box::new(r));
                }
            }
        }
        for a in &cs.activities {
            book.insert(a);
        }
        case::write(book, cs);
        account::write(book, cs);
        book.consents.apply(cs);
        book.apply_merges(cs);
        line_items::write(book, cs);
        inner.outbox.extend(cs.outbox.iter().map(|m| Pending {
            message: m.clone(),
            available_at: DateTime::<Utc>::MIN_UTC,
        }));
        consent::erase(inner, tenant, cs);
        Ok(Applied::counting(cs))
    }
}
impl Outbox for MemoryStore {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut inner = self.lock()?;
        // A lease past the end of the calendar lasts to its end (no overflow panic).
        let until = chrono::Duration::from_std(lease)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut out = Vec::new();
        for p in &mut inner.outbox {
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
        let ids: HashSet<&MessageId, Hashed> = ids.iter().collect();
        self.lock()?.outbox.retain(|p| !ids.contains(&p.message.id));
        Ok(())
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for p in &mut self.lock()?.outbox {
            if p.message.id == id {
                p.available_at = at;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use futures::executor::block_on;

    use super::*;

    const T: TenantId = TenantId::from_u128(1);

    fn visit(customer: u128, hour: u32, key: &str) -> Activity {
        Activity::new(
            ActivityId::from_u128(customer * 1_000 + u128::from(hour)),
            CustomerId::from_u128(customer),
            Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0).unwrap(),
            Channel::Web,
            IdempotencyKey::new(key).unwrap(),
            ActivityKind::Visit { item: None },
        )
        .unwrap()
    }

    fn record(store: &MemoryStore, acts: Vec<Activity>) -> Applied {
        let mut cs = Changeset::new();
        cs.activities = acts;
        block_on(store.apply(T, &cs)).unwrap()
    }

    fn keys(acts: &[Activity]) -> Vec<&str> {
        acts.iter().map(|a| a.idempotency_key.as_str()).collect()
    }

    fn keys_of(applied: &Applied) -> Vec<&str> {
        applied
            .duplicates
            .iter()
            .map(IdempotencyKey::as_str)
            .collect()
    }

    #[test]
    fn timeline_is_in_time_then_key_order_whatever_the_arrival_order() {
        let store = MemoryStore::new();
        for (hour, key) in [(9, "c"), (7, "z"), (9, "a"), (8, "m"), (9, "b"), (7, "y")] {
            assert!(!record(&store, vec![visit(1, hour, key)]).is_duplicate());
        }
        let id = CustomerId::from_u128(1);
        let all = block_on(store.activities(T, id, TimeRange::all())).unwrap();
        assert_eq!(keys(&all), ["y", "z", "m", "a", "b", "c"]);
        let at = |h| Some(Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap());
        let some = TimeRange {
            from: at(8),
            to: at(9),
        };
        assert_eq!(
            keys(&block_on(store.activities(T, id, some)).unwrap()),
            ["m"]
        );
        let backwards = TimeRange {
            from: at(9),
            to: at(8),
        };
        assert!(
            block_on(store.activities(T, id, backwards))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn keys_are_tenant_wide_and_found_among_tied_activities() {
        let store = MemoryStore::new();
        record(
            &store,
            vec![visit(1, 9, "a"), visit(1, 9, "b"), visit(1, 9, "c")],
        );
        // The same key for another customer at another time is still a duplicate.
        let again = record(&store, vec![visit(2, 3, "b"), visit(2, 4, "new")]);
        assert_eq!(keys_of(&again), ["b"]);
        let other = CustomerId::from_u128(2);
        assert!(
            block_on(store.activities(T, other, TimeRange::all()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_fingerprint_collision_neither_loses_nor_invents_a_key() {
        let mut book = Book::default();
        let (a, b) = (visit(1, 9, "a"), visit(2, 10, "b"));
        book.insert(&a);
        // Make `b` collide with `a`: its fingerprint is taken, by `a`'s place.
        let fp = book.fingerprint(&b.idempotency_key);
        book.keys.insert(fp, 0);
        assert!(!book.has_key(&b.idempotency_key));
        book.insert(&b);
        assert!(book.has_key(&a.idempotency_key));
        assert!(book.has_key(&b.idempotency_key));
        assert!(!book.has_key(&IdempotencyKey::new("c").unwrap()));
        assert_eq!(book.collided.len(), 1);
        assert_eq!(book.activities.len(), 2);
    }

    #[test]
    fn the_log_hands_out_positions_across_chunks() {
        let mut log = Log::default();
        for i in 0..=CHUNK {
            let key = format!("k{i}");
            assert_eq!(log.push(visit(1, 9, &key)) as usize, i);
        }
        assert_eq!(log.len(), CHUNK + 1);
        assert_eq!(log.chunks.len(), 2);
        let last = u32::try_from(CHUNK).unwrap();
        assert_eq!(
            log.get(last).map(|a| a.idempotency_key.as_str()),
            Some(&*format!("k{CHUNK}"))
        );
        assert!(log.get(last + 1).is_none());
    }
}

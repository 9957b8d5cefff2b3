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
//!             check_writes(&cs.customers, |id| b.customers.get(&id).map(|r| r.customer.version()))?;
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

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::activity::Activity;
use crate::changeset::{Changeset, CustomerWrite};
use crate::contact::ContactKey;
use crate::customer::Customer;
use crate::error::DomainError;
use crate::event::OutboxMessage;
use crate::id::{CustomerId, MessageId, TenantId};
use crate::segment::{Segment, SegmentContext};
use crate::stats::Stats;
use crate::text::IdempotencyKey;

/// A customer with its stats, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The customer.
    pub customer: Customer,
    /// Its stats.
    pub stats: Stats,
}

impl Record {
    /// True when the record is in `segment` at `now`, evaluated as [`Store::query`] does:
    /// with [`SegmentContext::new`] — the customer, its stats and `now`, **without** RFM
    /// scores or churn risk (so `rfm.*` and `churn_risk` comparisons are false).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let r = Record { customer, stats: Stats::default() };
    /// assert!(r.matches(&Segment::parse("stage == prospect and orders == 0")?, now));
    /// assert!(!r.matches(&Segment::parse("rfm.total >= 3")?, now));
    /// assert!(r.matches(&Segment::parse("not churn_risk > 0.5")?, now));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn matches(&self, segment: &Segment, now: DateTime<Utc>) -> bool {
        segment.matches(&SegmentContext::new(&self.customer, &self.stats, now))
    }
}

/// A page of customers in id order: those after `after`, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Start after this id (exclusive); `None` starts at the beginning.
    pub after: Option<CustomerId>,
    /// Most rows.
    pub limit: u32,
}

impl Page {
    /// The first page of `limit` rows.
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

/// A half-open time range `from <= t < to`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Everything.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// True when `t` is in the range.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Activities whose idempotency key already existed. When non-empty, **nothing** of the
    /// changeset was written.
    pub duplicates: Vec<IdempotencyKey>,
    /// Customer rows written.
    pub customers: usize,
    /// Activities written.
    pub activities: usize,
    /// Outbox messages written.
    pub messages: usize,
}

impl Applied {
    /// The counts of a changeset written in full.
    #[must_use]
    pub fn counting(cs: &Changeset) -> Self {
        Self {
            duplicates: Vec::new(),
            customers: cs.customers.len(),
            activities: cs.activities.len(),
            messages: cs.outbox.len(),
        }
    }

    /// True when nothing was written because of duplicate activities.
    #[must_use]
    pub fn is_duplicate(&self) -> bool {
        !self.duplicates.is_empty()
    }
}

/// A store failed. Kinds are semantic so callers can react; the driver's error is kept as
/// the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The customer (or other row) does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A create found the customer already there (creates are never upserts).
    #[error("customer {customer} already exists")]
    AlreadyExists {
        /// The customer.
        customer: CustomerId,
    },
    /// An update was based on a version that is no longer current.
    #[error("customer {customer} is at version {actual}, the change expected {expected}")]
    Conflict {
        /// The customer.
        customer: CustomerId,
        /// The version the change was based on.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// The changeset broke a domain rule.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The backend cannot do this.
    #[error("unsupported by this store: {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// The backend is unreachable or overloaded; retrying may help.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// Stored data does not decode.
    #[error("corrupt data: {reason}")]
    Corrupt {
        /// What did not decode.
        reason: String,
    },
    /// Any other backend failure, with the driver's error.
    #[error("{backend} failed: {source}")]
    Backend {
        /// Which backend (`"sqlite"`, `"postgres"`, ...).
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl StoreError {
    /// An [`StoreError::Unavailable`] with a reason.
    #[must_use]
    pub fn unavailable(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
        }
    }

    /// True when retrying the same call may succeed (unavailability, not conflicts: a
    /// conflict needs a reload and a new decision).
    ///
    /// ```
    /// use rapport_core::ports::StoreError;
    /// assert!(StoreError::unavailable("busy").is_retryable());
    /// ```
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// The default [`Store::query`]: pages through [`Store::scan`] and keeps the records for
/// which [`Record::matches`] holds, until `page.limit` records are found or the tenant ends.
///
/// Public so that a store which overrides `query` (e.g. with a SQL prefilter) can be compared
/// with, or fall back to, the plain evaluation.
///
/// See [`Store::query`] for an example.
///
/// # Errors
/// The errors of [`Store::scan`].
pub async fn query_by_scan<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    segment: &Segment,
    now: DateTime<Utc>,
    page: Page,
) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    let want = page.limit as usize;
    if want == 0 {
        return Ok(out);
    }
    let mut cursor = Page {
        after: page.after,
        limit: page.limit.clamp(QUERY_SCAN_BATCH_MIN, QUERY_SCAN_BATCH_MAX),
    };
    loop {
        let rows = store.scan(tenant, cursor).await?;
        let Some(last) = rows.last() else { break };
        cursor.after = Some(last.customer.id());
        for r in rows {
            if r.matches(segment, now) {
                out.push(r);
                if out.len() == want {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// The smallest `scan` page [`query_by_scan`] reads.
const QUERY_SCAN_BATCH_MIN: u32 = 256;
/// The largest `scan` page [`query_by_scan`] reads.
const QUERY_SCAN_BATCH_MAX: u32 = 4096;

/// Checks the writes of a changeset against the stored versions (`stored(id)` gives the
/// current version, `None` when absent): creates must be absent, updates must match. For
/// store implementations.
///
/// # Errors
/// [`StoreError::AlreadyExists`], [`StoreError::Conflict`] or [`StoreError::NotFound`].
pub fn check_writes(
    writes: &[CustomerWrite],
    stored: impl Fn(CustomerId) -> Option<u64>,
) -> Result<(), StoreError> {
    for w in writes {
        let id = w.customer().id();
        match (w, stored(id)) {
            (CustomerWrite::Create { .. }, Some(_)) => {
                return Err(StoreError::AlreadyExists { customer: id });
            }
            (CustomerWrite::Update { .. }, None) => {
                return Err(StoreError::NotFound {
                    what: format!("customer {id}"),
                });
            }
            (
                CustomerWrite::Update {
                    expected_version, ..
                },
                Some(actual),
            ) if actual != *expected_version => {
                return Err(StoreError::Conflict {
                    customer: id,
                    expected: *expected_version,
                    actual,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where customers, activities and outbox messages live. Every method is scoped by tenant
/// (outbox claims span tenants; each message carries its tenant).
///
/// Contract (checked by `rapport-testkit`): see [`Changeset`] for `apply`; reads never see
/// another tenant's rows; `scan` pages in ascending id order; `query` (provided) answers what
/// `scan` and [`Record::matches`] answer; `claim_outbox` leases messages
/// until `now + lease`, counts the attempt, and hands out a message again once its lease has
/// expired; `ack_outbox` deletes.
pub trait Store: Send + Sync {
    /// A customer and its stats (tombstones included).
    fn load(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Customers whose profile has this normalised email or phone, in id order.
    fn find_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> impl Future<Output = Result<Vec<CustomerId>, StoreError>> + Send;

    /// A page of customers in ascending id order.
    fn scan(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;

    /// A page of the customers in `segment` at `now`: those with an id after `page.after` for
    /// which the segment holds, at most `page.limit`, in ascending id order — the ordering key
    /// of [`Store::scan`], so a caller pages on by passing the last id it got as the next
    /// `page.after`; a page shorter than `limit` means there are no more matches.
    ///
    /// **What is evaluated.** Every record `scan` returns (merged and erased tombstones
    /// included; filter them with `stage` if needed) is tested with [`Record::matches`], i.e.
    /// [`Segment::matches`] on [`SegmentContext::new`]`(customer, stats, now)`: profile, stats,
    /// tags (unexpired at `now`), tier, stage and the `days_since…` fields against `now`'s UTC
    /// day. RFM scores and churn risk need a population step (ranking, a churn model) and are
    /// not stored, so the context has none: **every comparison on `rfm.*` or `churn_risk` is
    /// false**, and `not` makes it true (two-valued logic, as for any missing value). Every
    /// store must answer exactly so; `rapport-testkit` checks it against this evaluation.
    ///
    /// The default body is [`query_by_scan`] (page through `scan`, filter in memory), so a
    /// store needs no code for it. A store may override it to filter closer to its data — e.g.
    /// compile the predicate to a parameterised `WHERE` as a prefilter and re-check the
    /// candidates with `Segment::matches` — as long as the answer is the same.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use futures::executor::block_on;
    /// use rapport_core::ports::query_by_scan;
    /// use rapport_core::*;
    /// # let store = stand_in::store(5);
    /// // `store` is any `Store` holding five prospects of tenant 1, ids 1..=5.
    /// let t = TenantId::from_u128(1);
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let seg = Segment::parse("stage == prospect and not rfm.r >= 4")?;
    /// let page = block_on(store.query(t, &seg, now, Page::first(3)))?;
    /// assert_eq!(page.len(), 3);
    /// let next = Page { after: Some(page[2].customer.id()), limit: 3 };
    /// let rest = block_on(store.query(t, &seg, now, next))?;
    /// assert_eq!(rest.len(), 2); // short: no more matches
    /// // The default body, callable on any store:
    /// assert_eq!(block_on(query_by_scan(&store, t, &seg, now, next))?, rest);
    /// // RFM scores and churn risk are not in the context: comparisons on them are false.
    /// let rfm = Segment::parse("rfm.total >= 3 or churn_risk >= 0")?;
    /// assert!(block_on(store.query(t, &rfm, now, Page::first(10)))?.is_empty());
    /// # mod stand_in {
    /// #     use rapport_core::{*, ports::*};
    /// #     pub struct S(pub Vec<Record>);
    /// #     impl Store for S {
    /// #         async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
    /// #         async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
    /// #         async fn scan(&self, _: TenantId, p: Page) -> Result<Vec<Record>, StoreError> {
    /// #             Ok(self.0.iter().filter(|r| p.after.is_none_or(|a| r.customer.id() > a)).take(p.limit as usize).cloned().collect())
    /// #         }
    /// #         async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #         async fn apply(&self, _: TenantId, _: &Changeset) -> Result<Applied, StoreError> { Err(StoreError::Unsupported { what: "apply".into() }) }
    /// #         async fn claim_outbox(&self, _: u32, _: std::time::Duration, _: chrono::DateTime<chrono::Utc>) -> Result<Vec<OutboxMessage>, StoreError> { Ok(vec![]) }
    /// #         async fn ack_outbox(&self, _: &[MessageId]) -> Result<(), StoreError> { Ok(()) }
    /// #         async fn retry_outbox(&self, _: MessageId, _: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> { Ok(()) }
    /// #     }
    /// #     pub fn store(n: u128) -> S {
    /// #         let t = TenantId::from_u128(1);
    /// #         let now = chrono::DateTime::UNIX_EPOCH;
    /// #         S((1..=n).map(|i| Record {
    /// #             customer: Customer::new(t, CustomerId::from_u128(i), Profile::default(), now),
    /// #             stats: Stats::default(),
    /// #         }).collect())
    /// #     }
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn query(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send {
        query_by_scan(self, tenant, segment, now, page)
    }

    /// A customer's activities in the range, oldest first.
    fn activities(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> impl Future<Output = Result<Vec<Activity>, StoreError>> + Send;

    /// Writes a changeset atomically.
    fn apply(
        &self,
        tenant: TenantId,
        cs: &Changeset,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;

    /// Leases up to `limit` deliverable outbox messages until `now + lease`.
    fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, StoreError>> + Send;

    /// Deletes delivered messages.
    fn ack_outbox(&self, ids: &[MessageId]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes a claimed message deliverable again at `at` (back-off after a failed delivery).
    fn retry_outbox(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A notifier could not deliver a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The receiver is unreachable or refused for now; the relay retries later.
    #[error("delivery failed: {reason}")]
    Failed {
        /// Why.
        reason: String,
    },
    /// The receiver will never take this message; the relay still retries with back-off (a
    /// host decides when to give up).
    #[error("delivery rejected: {reason}")]
    Rejected {
        /// Why.
        reason: String,
    },
}

/// Where domain events go (a log, a channel, a webhook, a queue...). Delivery is at least
/// once: receivers deduplicate on [`OutboxMessage::id`].
pub trait Notifier: Send + Sync {
    /// Delivers one message.
    fn deliver(&self, msg: &OutboxMessage) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// A boxed future, for [`DynStore`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe twin of [`Store`], for hosts that choose the backend at run time (e.g. from
/// a `--db` URL). Every `Store` is a `DynStore`, and `Box<dyn DynStore>` is a `Store` again, so
/// the service takes either.
///
/// ```ignore
/// // The backend is chosen at run time; the service is written once.
/// let store: Box<dyn DynStore> = match url {
///     u if u.starts_with("sqlite://") => Box::new(SqliteStore::open(path, config, now)?),
///     _ => Box::new(MemoryStore::new()),
/// };
/// let svc = rapport::Service::new(store);
/// ```
#[allow(missing_docs)]
pub trait DynStore: Send + Sync {
    fn load_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    fn find_by_contact_boxed<'a>(
        &'a self,
        tenant: TenantId,
        key: &'a ContactKey,
    ) -> BoxFuture<'a, Result<Vec<CustomerId>, StoreError>>;
    fn scan_boxed(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    fn query_boxed<'a>(
        &'a self,
        tenant: TenantId,
        segment: &'a Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>>;
    fn activities_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> BoxFuture<'_, Result<Vec<Activity>, StoreError>>;
    fn apply_boxed<'a>(
        &'a self,
        tenant: TenantId,
        cs: &'a Changeset,
    ) -> BoxFuture<'a, Result<Applied, StoreError>>;
    fn claim_outbox_boxed(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<OutboxMessage>, StoreError>>;
    fn ack_outbox_boxed<'a>(
        &'a self,
        ids: &'a [MessageId],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn retry_outbox_boxed(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

impl<S: Store> DynStore for S {
    fn load_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        Box::pin(self.load(tenant, id))
    }
    fn find_by_contact_boxed<'a>(
        &'a self,
        tenant: TenantId,
        key: &'a ContactKey,
    ) -> BoxFuture<'a, Result<Vec<CustomerId>, StoreError>> {
        Box::pin(self.find_by_contact(tenant, key))
    }
    fn scan_boxed(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(self.scan(tenant, page))
    }
    fn query_boxed<'a>(
        &'a self,
        tenant: TenantId,
        segment: &'a Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> BoxFuture<'a, Result<Vec<Record>, StoreError>> {
        Box::pin(self.query(tenant, segment, now, page))
    }
    fn activities_boxed(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> BoxFuture<'_, Result<Vec<Activity>, StoreError>> {
        Box::pin(self.activities(tenant, id, range))
    }
    fn apply_boxed<'a>(
        &'a self,
        tenant: TenantId,
        cs: &'a Changeset,
    ) -> BoxFuture<'a, Result<Applied, StoreError>> {
        Box::pin(self.apply(tenant, cs))
    }
    fn claim_outbox_boxed(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<OutboxMessage>, StoreError>> {
        Box::pin(self.claim_outbox(limit, lease, now))
    }
    fn ack_outbox_boxed<'a>(
        &'a self,
        ids: &'a [MessageId],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.ack_outbox(ids))
    }
    fn retry_outbox_boxed(
        &self,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.retry_outbox(id, at))
    }
}

impl Store for Box<dyn DynStore> {
    async fn load(&self, tenant: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.as_ref().load_boxed(tenant, id).await
    }
    async fn find_by_contact(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.as_ref().find_by_contact_boxed(tenant, key).await
    }
    async fn scan(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.as_ref().scan_boxed(tenant, page).await
    }
    async fn query(
        &self,
        tenant: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        self.as_ref().query_boxed(tenant, segment, now, page).await
    }
    async fn activities(
        &self,
        tenant: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.as_ref().activities_boxed(tenant, id, range).await
    }
    async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        self.as_ref().apply_boxed(tenant, cs).await
    }
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.as_ref().claim_outbox_boxed(limit, lease, now).await
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        self.as_ref().ack_outbox_boxed(ids).await
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.as_ref().retry_outbox_boxed(id, at).await
    }
}

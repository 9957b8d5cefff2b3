//! The repository port: customers, their stats and activities, and the atomic apply.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changeset::{Changeset, CustomerWrite};
use crate::decide::segment::{Segment, SegmentContext};
use crate::model::account::AccountRoleSet;
use crate::model::activity::Activity;
use crate::model::clv_model::FittedClv;
use crate::model::contact::ContactKey;
use crate::model::customer::Customer;
use crate::model::id::IdempotencyKey;
use crate::model::id::{CustomerId, TenantId};
use crate::model::line_item::LineItems;
use crate::model::stats::Stats;
use crate::ports::{Entity, StoreError};

/// A customer with its stats, as stored.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let now = DateTime::UNIX_EPOCH;
/// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let r = Record { customer, stats: Stats::default() };
/// assert_eq!(r.customer.stage(), Stage::Prospect);
/// assert_eq!(r.stats.orders(), 0);
/// let json = serde_json::to_string(&r).unwrap();
/// assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
/// ```
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

/// A page of customers in id order: those after `after`, at most `limit`. To read a whole
/// tenant, pass the last id of each page as the next `after` until a page comes back short.
///
/// ```
/// use rapport_core::{CustomerId, Page};
/// let first = Page::first(100);
/// assert_eq!((first.after, first.limit), (None, 100));
/// let next = Page { after: Some(CustomerId::from_u128(100)), ..first };
/// assert_eq!(next.limit, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Start after this id (exclusive); `None` starts at the beginning.
    pub after: Option<CustomerId>,
    /// Most rows.
    pub limit: u32,
}

impl Page {
    /// The first page of `limit` rows.
    ///
    /// ```
    /// use rapport_core::Page;
    /// assert_eq!(Page::first(50), Page { after: None, limit: 50 });
    /// ```
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

/// A half-open time range `from <= t < to`; `None` is unbounded.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::TimeRange;
/// let march = TimeRange {
///     from: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
///     to: Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()),
/// };
/// assert!(march.contains(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap())); // inclusive start
/// assert!(!march.contains(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap())); // exclusive end
/// assert!(TimeRange::all().contains(chrono::DateTime::<Utc>::MIN_UTC));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Everything.
    ///
    /// ```
    /// use rapport_core::TimeRange;
    /// assert_eq!(TimeRange::all(), TimeRange { from: None, to: None });
    /// assert!(TimeRange::all().contains(chrono::DateTime::UNIX_EPOCH));
    /// ```
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// True when `t` is in the range.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::TimeRange;
    /// let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let since_march = TimeRange { from: Some(start), to: None };
    /// assert!(since_march.contains(start));
    /// assert!(!since_march.contains(start - chrono::Duration::seconds(1)));
    /// ```
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }
}

/// What `apply` did.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), DateTime::UNIX_EPOCH);
/// let mut cs = Changeset::new();
/// cs.create(c, Stats::default());
/// let done = Applied::counting(&cs);
/// assert_eq!((done.customers, done.activities, done.messages), (1, 0, 0));
/// assert!(!done.is_duplicate());
/// let dup = Applied { duplicates: vec![IdempotencyKey::new("pos-1")?], ..Applied::default() };
/// assert!(dup.is_duplicate());
/// # Ok::<(), DomainError>(())
/// ```
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
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), DateTime::UNIX_EPOCH);
    /// let mut cs = Changeset::new();
    /// cs.update(&c, c.next_version(), Stats::default());
    /// let done = Applied::counting(&cs);
    /// assert_eq!((done.customers, done.activities, done.messages), (1, 0, 0));
    /// assert!(done.duplicates.is_empty());
    /// ```
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
    ///
    /// ```
    /// use rapport_core::{Applied, IdempotencyKey};
    /// assert!(!Applied::default().is_duplicate());
    /// let dup = Applied { duplicates: vec![IdempotencyKey::new("pos-1-0001").unwrap()], ..Applied::default() };
    /// assert!(dup.is_duplicate());
    /// ```
    #[must_use]
    pub fn is_duplicate(&self) -> bool {
        !self.duplicates.is_empty()
    }
}

/// The default [`Store::query`]: pages through [`Store::scan`] and keeps the records for
/// which [`Record::matches`] holds, until `page.limit` records are found or the tenant ends.
///
/// Public so that a store which overrides `query` (e.g. with a SQL prefilter) can be compared
/// with, or fall back to, the plain evaluation.
///
/// See [`Store::query`] for paging; here a store of 1,000 customers in which every tenth
/// has spent more than 90:
///
/// ```
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::ports::query_by_scan;
/// use rapport_core::*;
/// # use stand_in::S;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = S::with_revenue(1_000); // customer i has revenue i % 100, ids 1..=1000
/// let (t, now) = (TenantId::from_u128(1), DateTime::UNIX_EPOCH);
/// let big = Segment::parse("revenue > 90")?;
/// let found = block_on(query_by_scan(&store, t, &big, now, Page::first(500)))?;
/// assert_eq!(found.len(), 90); // 91..=99 in each hundred
/// assert!(found.iter().all(|r| r.stats.revenue_amount() > 90.into()));
/// assert!(block_on(query_by_scan(&store, t, &big, now, Page::first(0)))?.is_empty());
/// # Ok(())
/// # }
/// # mod stand_in {
/// #     use rapport_core::{*, ports::*};
/// #     use rust_decimal::Decimal;
/// #     pub struct S(Vec<Record>);
/// #     impl S {
/// #         pub fn with_revenue(n: u128) -> S {
/// #             let t = TenantId::from_u128(1);
/// #             let now = chrono::DateTime::UNIX_EPOCH;
/// #             S((1..=n).map(|i| {
/// #                 let id = CustomerId::from_u128(i);
/// #                 let buy = Activity::new(ActivityId::from_u128(i), id, now, Channel::Web,
/// #                     IdempotencyKey::new(format!("o{i}")).unwrap(),
/// #                     ActivityKind::Purchase { order_id: OrderId::new(format!("{i}")).unwrap(),
/// #                         amount: Money::new(Decimal::from(i % 100), Currency::USD), margin: None }).unwrap();
/// #                 Record { customer: Customer::new(t, id, Profile::default(), now), stats: Stats::from_activities([&buy]).unwrap() }
/// #             }).collect())
/// #         }
/// #     }
/// #     impl Store for S {
/// #         async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
/// #         async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
/// #         async fn scan(&self, _: TenantId, p: Page) -> Result<Vec<Record>, StoreError> {
/// #             Ok(self.0.iter().filter(|r| p.after.is_none_or(|a| r.customer.id() > a)).take(p.limit as usize).cloned().collect())
/// #         }
/// #         async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
/// #         async fn apply(&self, _: TenantId, _: &Changeset) -> Result<Applied, StoreError> { Err(StoreError::Unsupported { what: "apply".into() }) }
/// #     }
/// #     impl Outbox for S {
/// #         async fn claim_outbox(&self, _: u32, _: std::time::Duration, _: chrono::DateTime<chrono::Utc>) -> Result<Vec<OutboxMessage>, StoreError> { Ok(vec![]) }
/// #         async fn ack_outbox(&self, _: &[MessageId]) -> Result<(), StoreError> { Ok(()) }
/// #         async fn retry_outbox(&self, _: MessageId, _: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> { Ok(()) }
/// #     }
/// # }
/// ```
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

/// Checks the writes of a changeset against the stored customers (`stored(id)` gives the
/// current one, `None` when absent): creates must be absent; updates must find a live
/// customer at the version they read. A `Merged` or `Erased` tombstone is final: no
/// changeset may edit it (the merge or erasure that made it was its last write). For store
/// implementations.
///
/// # Errors
/// [`StoreError::AlreadyExists`], [`StoreError::NotFound`], [`DomainError::Tombstoned`](crate::DomainError::Tombstoned) (as
/// [`StoreError::Invalid`]) or [`StoreError::Conflict`].
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::ports::check_writes;
/// use rapport_core::*;
/// let now = DateTime::UNIX_EPOCH;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let mut create = Changeset::new();
/// create.create(c.clone(), Stats::default());
/// assert!(check_writes(&create.customers, |_| None).is_ok());
/// assert!(matches!(check_writes(&create.customers, |_| Some(&c)), Err(StoreError::AlreadyExists { .. })));
///
/// let mut update = Changeset::new();
/// update.update(&c, c.next_version(), Stats::default()); // based on version 1
/// assert!(check_writes(&update.customers, |_| Some(&c)).is_ok());
/// let moved = c.next_version(); // version 2 stored
/// assert!(matches!(
///     check_writes(&update.customers, |_| Some(&moved)),
///     Err(StoreError::Conflict { expected: 1, actual: 2, .. })
/// ));
/// assert!(matches!(check_writes(&update.customers, |_| None), Err(StoreError::NotFound { .. })));
///
/// // A stored tombstone is final, whatever version the update read.
/// let mut erased = c.clone();
/// erased.set_lifecycle(erased.lifecycle().erase(now)?)?;
/// assert!(matches!(
///     check_writes(&update.customers, |_| Some(&erased)),
///     Err(StoreError::Invalid(DomainError::Tombstoned { state: "erased", .. }))
/// ));
/// # Ok::<(), DomainError>(())
/// ```
pub fn check_writes<'a>(
    writes: &[CustomerWrite],
    stored: impl Fn(CustomerId) -> Option<&'a Customer>,
) -> Result<(), StoreError> {
    for w in writes {
        let id = w.customer().id();
        match (w, stored(id)) {
            (CustomerWrite::Create { .. }, Some(_)) => {
                return Err(StoreError::AlreadyExists { customer: id });
            }
            (CustomerWrite::Update { .. }, None) => {
                return Err(StoreError::NotFound {
                    entity: Entity::Customer(id),
                });
            }
            (CustomerWrite::Update { .. }, Some(current)) if !current.is_live() => {
                current.ensure_live()?;
            }
            (
                CustomerWrite::Update {
                    expected_version, ..
                },
                Some(current),
            ) if current.version() != *expected_version => {
                return Err(StoreError::Conflict {
                    customer: id,
                    expected: *expected_version,
                    actual: current.version(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks the rule "one live customer per normalised email and per phone" for `writes`, for
/// stores that keep their data in memory (SQL stores enforce it with partial unique indexes
/// and must give the same answers). `holder` answers which stored live customer holds a
/// contact key now.
///
/// A write claims the contact keys of its customer when that customer is live (tombstones
/// claim nothing, so merging or erasing releases them); a claim fails with
/// [`StoreError::ContactTaken`] when another live customer holds the key — unless that
/// customer is itself written by the same changeset and no longer claims it, so a changeset
/// may move a contact from a customer it updates or tombstones — or when two writes of the
/// changeset claim the same key.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::ports::check_contacts;
/// use rapport_core::*;
/// let now = DateTime::UNIX_EPOCH;
/// let t = TenantId::from_u128(1);
/// let ann = Profile { email: Some(Pii::new(Email::parse("ann@example.com")?)), ..Profile::default() };
/// let held = Customer::new(t, CustomerId::from_u128(1), ann.clone(), now);
/// let mut cs = Changeset::new();
/// cs.create(Customer::new(t, CustomerId::from_u128(2), ann, now), Stats::default());
/// // Nobody holds the email: the create may claim it.
/// assert!(check_contacts(&cs.customers, |_| None).is_ok());
/// // Customer 1 holds it: refused, naming the holder (and not the address).
/// assert!(matches!(
///     check_contacts(&cs.customers, |_| Some(held.id())),
///     Err(StoreError::ContactTaken { contact: ContactKind::Email, existing, .. }) if existing == held.id()
/// ));
/// // The same changeset erasing customer 1 releases it.
/// let mut erased = held.next_version();
/// erased.profile = Profile::default();
/// erased.set_lifecycle(erased.lifecycle().erase(now)?)?;
/// cs.update(&held, erased, Stats::default());
/// assert!(check_contacts(&cs.customers, |_| Some(held.id())).is_ok());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`StoreError::ContactTaken`] for the first refused claim.
pub fn check_contacts(
    writes: &[CustomerWrite],
    holder: impl Fn(&ContactKey) -> Option<CustomerId>,
) -> Result<(), StoreError> {
    let written: Vec<CustomerId> = writes.iter().map(|w| w.customer().id()).collect();
    let mut claims: Vec<(ContactKey, CustomerId)> = Vec::new();
    for w in writes {
        let c = w.customer();
        if !c.is_live() {
            continue;
        }
        for key in c.profile.contact_keys() {
            if let Some((_, first)) = claims.iter().find(|(k, id)| *k == key && *id != c.id()) {
                return Err(StoreError::ContactTaken {
                    customer: c.id(),
                    contact: key.contact_kind(),
                    existing: *first,
                });
            }
            if let Some(existing) = holder(&key)
                .filter(|h| *h != c.id())
                .filter(|h| !written.contains(h))
            {
                return Err(StoreError::ContactTaken {
                    customer: c.id(),
                    contact: key.contact_kind(),
                    existing,
                });
            }
            claims.push((key, c.id()));
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
///
/// A round trip through a store (`Toy` is a minimal in-memory store like the one in the
/// [module documentation](crate::ports); `rapport-memory` is the full one):
///
/// ```
/// use std::time::Duration;
/// use chrono::{TimeZone, Utc};
/// use futures::executor::block_on;
/// use rapport_core::*;
/// # use toy::Toy;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Toy::default();
/// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(7));
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let profile = Profile { email: Some(Pii::new(Email::parse("li@example.cn")?)), ..Profile::default() };
/// let customer = Customer::new(t, id, profile, now);
/// let visit = Activity::new(ActivityId::from_u128(1), id, now, Channel::Web,
///     IdempotencyKey::new("web-1")?, ActivityKind::Visit { item: None })?;
/// let mut cs = Changeset::new();
/// cs.create(customer, Stats::default());
/// cs.activities.push(visit);
/// cs.outbox.push(OutboxMessage::new(MessageId::from_u128(1), t, now, DomainEvent::CustomerRegistered { customer: id }));
/// assert_eq!(block_on(store.apply(t, &cs))?.customers, 1);
///
/// // Reads.
/// assert_eq!(block_on(store.load(t, id))?.unwrap().customer.version(), 1);
/// let key = ContactKey::Email(Email::parse("LI@example.cn")?);
/// assert_eq!(block_on(store.find_by_contact(t, &key))?, vec![id]);
/// assert_eq!(block_on(store.scan(t, Page::first(10)))?.len(), 1);
/// assert_eq!(block_on(store.activities(t, id, TimeRange::all()))?.len(), 1);
///
/// // The same activity key again: reported, nothing written.
/// let mut again = Changeset::new();
/// again.activities = cs.activities.clone();
/// assert!(block_on(store.apply(t, &again))?.is_duplicate());
///
/// // The outbox: a claimed message is leased; a retry makes it deliverable later; an ack deletes.
/// let lease = Duration::from_secs(60);
/// let claimed = block_on(store.claim_outbox(10, lease, now))?;
/// assert_eq!((claimed.len(), claimed[0].attempts), (1, 1));
/// assert!(block_on(store.claim_outbox(10, lease, now))?.is_empty()); // still leased
/// block_on(store.retry_outbox(claimed[0].id, now + chrono::Duration::minutes(5)))?;
/// assert!(block_on(store.claim_outbox(10, lease, now + chrono::Duration::minutes(2)))?.is_empty());
/// let second = block_on(store.claim_outbox(10, lease, now + chrono::Duration::minutes(5)))?;
/// assert_eq!(second[0].attempts, 2);
/// block_on(store.ack_outbox(&[second[0].id]))?;
/// assert!(block_on(store.claim_outbox(10, lease, now + chrono::Duration::hours(1)))?.is_empty());
/// # Ok(())
/// # }
/// # mod toy {
/// #     use std::{collections::BTreeMap, sync::Mutex, time::Duration};
/// #     use chrono::{DateTime, Utc};
/// #     use rapport_core::{*, ports::*};
/// #     #[derive(Default)]
/// #     pub struct Toy(Mutex<(BTreeMap<CustomerId, Record>, Vec<Activity>, Vec<(OutboxMessage, DateTime<Utc>)>)>);
/// #     fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, StoreError> {
/// #         m.lock().map_err(|_| StoreError::unavailable("poisoned"))
/// #     }
/// #     impl Store for Toy { // one tenant only, for brevity
/// #         async fn load(&self, _: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> { Ok(lock(&self.0)?.0.get(&id).cloned()) }
/// #         async fn find_by_contact(&self, _: TenantId, key: &ContactKey) -> Result<Vec<CustomerId>, StoreError> {
/// #             Ok(lock(&self.0)?.0.values().filter(|r| r.customer.profile.contact_keys().contains(key)).map(|r| r.customer.id()).collect())
/// #         }
/// #         async fn scan(&self, _: TenantId, p: Page) -> Result<Vec<Record>, StoreError> {
/// #             Ok(lock(&self.0)?.0.values().filter(|r| p.after.is_none_or(|a| r.customer.id() > a)).take(p.limit as usize).cloned().collect())
/// #         }
/// #         async fn activities(&self, _: TenantId, id: CustomerId, range: TimeRange) -> Result<Vec<Activity>, StoreError> {
/// #             Ok(lock(&self.0)?.1.iter().filter(|a| a.customer == id && range.contains(a.at)).cloned().collect())
/// #         }
/// #         async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
/// #             cs.validate(t)?;
/// #             let mut g = lock(&self.0)?;
/// #             let duplicates: Vec<_> = cs.activities.iter().filter(|a| g.1.iter().any(|b| b.idempotency_key == a.idempotency_key)).map(|a| a.idempotency_key.clone()).collect();
/// #             if !duplicates.is_empty() { return Ok(Applied { duplicates, ..Applied::default() }); }
/// #             check_writes(&cs.customers, |id| g.0.get(&id).map(|r| &r.customer))?;
/// #             for w in &cs.customers { g.0.insert(w.customer().id(), Record { customer: w.customer().clone(), stats: w.stats().clone() }); }
/// #             g.1.extend(cs.activities.iter().cloned());
/// #             g.2.extend(cs.outbox.iter().map(|m| (m.clone(), DateTime::<Utc>::MIN_UTC)));
/// #             Ok(Applied::counting(cs))
/// #         }
/// #     }
/// #     impl Outbox for Toy {
/// #         async fn claim_outbox(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> Result<Vec<OutboxMessage>, StoreError> {
/// #             let mut g = lock(&self.0)?;
/// #             let mut out = Vec::new();
/// #             for (m, free_at) in g.2.iter_mut().filter(|(_, f)| *f <= now).take(limit as usize) {
/// #                 *free_at = now + lease;
/// #                 m.attempts += 1;
/// #                 out.push(m.clone());
/// #             }
/// #             Ok(out)
/// #         }
/// #         async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> { lock(&self.0)?.2.retain(|(m, _)| !ids.contains(&m.id)); Ok(()) }
/// #         async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
/// #             for (m, free_at) in lock(&self.0)?.2.iter_mut() { if m.id == id { *free_at = at; } }
/// #             Ok(())
/// #         }
/// #     }
/// # }
/// ```
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
    /// #     }
    /// #     impl Outbox for S {
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

    /// Every line list of a customer (purchases' and refunds'), for the segments and tag rules
    /// that read line items (`bought(...)`, `category_spend(...)`): the service builds a
    /// [`PurchaseSummary`](crate::segment::PurchaseSummary) from them. The default body answers
    /// `None`: a store that keeps no line items leaves such rules undecided (their tags stay
    /// as they are). A [`LineItemStore`](crate::ports::LineItemStore) answers its
    /// `customer_line_items`.
    fn purchase_lines(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Option<Vec<LineItems>>, StoreError>> + Send {
        let _ = (tenant, customer);
        async { Ok(None) }
    }

    /// The roles each of `customers` holds over its active account links (links without an
    /// `until`), in the order given: the union of the roles of its active links, empty for a
    /// customer without any (or unknown to the store). The service reads them only when a tag
    /// rule or an automation condition tests `has_account_role(...)`
    /// ([`Policies::uses_account_roles`](crate::Policies::uses_account_roles)), once per page
    /// of a sweep. Reads never cross tenants.
    ///
    /// The default body answers no roles for everyone: a store that keeps no accounts has no
    /// links. A store that is an [`AccountStore`](crate::ports::AccountStore) must answer
    /// [`AccountRoleSet::of_links`] over [`customer_links`](crate::ports::AccountStore::customer_links);
    /// `rapport-testkit`'s `account_roles_feed_rules` contract checks it.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// # use rapport_core::ports::*;
    /// # struct NoAccounts;
    /// # impl Store for NoAccounts {
    /// #     async fn load(&self, _: TenantId, _: CustomerId) -> Result<Option<Record>, StoreError> { Ok(None) }
    /// #     async fn find_by_contact(&self, _: TenantId, _: &ContactKey) -> Result<Vec<CustomerId>, StoreError> { Ok(vec![]) }
    /// #     async fn scan(&self, _: TenantId, _: Page) -> Result<Vec<Record>, StoreError> { Ok(vec![]) }
    /// #     async fn activities(&self, _: TenantId, _: CustomerId, _: TimeRange) -> Result<Vec<Activity>, StoreError> { Ok(vec![]) }
    /// #     async fn apply(&self, _: TenantId, cs: &Changeset) -> Result<Applied, StoreError> { Ok(Applied::counting(cs)) }
    /// # }
    /// // `NoAccounts` is a store that keeps no accounts: the default body.
    /// let ids = [CustomerId::from_u128(1), CustomerId::from_u128(2)];
    /// let roles = block_on(NoAccounts.account_roles(TenantId::from_u128(1), &ids))?;
    /// assert_eq!(roles, vec![AccountRoleSet::default(); 2]);
    /// # Ok::<(), StoreError>(())
    /// ```
    fn account_roles(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> impl Future<Output = Result<Vec<AccountRoleSet>, StoreError>> + Send {
        let _ = tenant;
        let none = vec![AccountRoleSet::default(); customers.len()];
        async move { Ok(none) }
    }

    /// The tenant's fitted CLV model (the one with the latest `fitted_at`), if one was saved.
    /// The default body answers `None`: a store that cannot keep models gives the rule-based
    /// churn risk and no `clv_12m`.
    fn clv_model(
        &self,
        tenant: TenantId,
    ) -> impl Future<Output = Result<Option<FittedClv>, StoreError>> + Send {
        let _ = tenant;
        async { Ok(None) }
    }

    /// Saves the tenant's fitted CLV model atomically, in one write of its own (a model is
    /// tenant state, not customer state, so it is not part of a [`Changeset`]). The model with
    /// the latest `fitted_at` is kept: saving an older one than the stored one changes
    /// nothing; at an equal `fitted_at` the later save wins. The default body answers
    /// [`StoreError::Unsupported`]; `rapport-testkit`'s `clv_model_*` contracts check a store
    /// that keeps models.
    fn save_clv_model(
        &self,
        tenant: TenantId,
        model: &FittedClv,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (tenant, model);
        async {
            Err(StoreError::Unsupported {
                what: "saving a fitted CLV model".into(),
            })
        }
    }
}

// Forwards every method (the provided `query` too, so an override is kept) through a
// pointer, so `&S`, `Box<S>` and `Arc<S>` are stores whenever `S` is: a host hands the
// service a shared store without a wrapper type.
macro_rules! forward_store {
    ($($wrapper:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $wrapper {
            fn load(
                &self,
                tenant: TenantId,
                id: CustomerId,
            ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send {
                (**self).load(tenant, id)
            }
            fn find_by_contact(
                &self,
                tenant: TenantId,
                key: &ContactKey,
            ) -> impl Future<Output = Result<Vec<CustomerId>, StoreError>> + Send {
                (**self).find_by_contact(tenant, key)
            }
            fn scan(
                &self,
                tenant: TenantId,
                page: Page,
            ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send {
                (**self).scan(tenant, page)
            }
            fn query(
                &self,
                tenant: TenantId,
                segment: &Segment,
                now: DateTime<Utc>,
                page: Page,
            ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send {
                (**self).query(tenant, segment, now, page)
            }
            fn activities(
                &self,
                tenant: TenantId,
                id: CustomerId,
                range: TimeRange,
            ) -> impl Future<Output = Result<Vec<Activity>, StoreError>> + Send {
                (**self).activities(tenant, id, range)
            }
            fn apply(
                &self,
                tenant: TenantId,
                cs: &Changeset,
            ) -> impl Future<Output = Result<Applied, StoreError>> + Send {
                (**self).apply(tenant, cs)
            }
            fn purchase_lines(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Option<Vec<LineItems>>, StoreError>> + Send {
                (**self).purchase_lines(tenant, customer)
            }
            fn account_roles(
                &self,
                tenant: TenantId,
                customers: &[CustomerId],
            ) -> impl Future<Output = Result<Vec<AccountRoleSet>, StoreError>> + Send {
                (**self).account_roles(tenant, customers)
            }
            fn clv_model(
                &self,
                tenant: TenantId,
            ) -> impl Future<Output = Result<Option<FittedClv>, StoreError>> + Send {
                (**self).clv_model(tenant)
            }
            fn save_clv_model(
                &self,
                tenant: TenantId,
                model: &FittedClv,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).save_clv_model(tenant, model)
            }
        }
    )*};
}
forward_store!(&S, Box<S>, std::sync::Arc<S>);

//! [`Service`]: the use cases. Each one loads what it needs, hands it with `now` and fresh ids
//! to the pure core, and applies the resulting changeset — state, activities and outbox
//! messages in one transaction. A version conflict reloads and decides again (bounded).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use rapport_core::*;

use crate::activity::NewActivity;
use crate::clock::{Clock, IdSource, SystemClock, UuidV7Ids};
use crate::error::{Error, store_kind};
use crate::fitted::Predictor;

/// How many times a use case re-decides after a version conflict before giving up.
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let svc = Service::new(MemoryStore::new());
/// # let t = TenantId::from_u128(1);
/// assert_eq!(rapport::DEFAULT_MAX_ATTEMPTS, 16);
/// // Override it per service; zero is raised to one attempt.
/// let svc = svc.with_max_attempts(0);
/// assert!(block_on(svc.register(t, Profile::default()))?.created);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const DEFAULT_MAX_ATTEMPTS: u32 = 16;

/// The page size [`Service::find`] queries the store with.
const FIND_PAGE: u32 = 1_000;

/// A notifier that drops every message (for hosts that only read the outbox themselves).
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let svc = Service::new(MemoryStore::new());
/// # let t = TenantId::from_u128(1);
/// use rapport::NoopNotifier;
/// let msg = OutboxMessage::new(MessageId::from_u128(1), t, svc.now(),
///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(2) });
/// assert!(block_on(NoopNotifier.deliver(&msg)).is_ok());
/// // It is the default: the service leaves messages in the outbox for a relay.
/// block_on(svc.register(t, Profile::default()))?;
/// assert_eq!(svc.store().pending_outbox()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopNotifier;

impl Notifier for NoopNotifier {
    async fn deliver(&self, _msg: &OutboxMessage) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// The result of registering a customer.
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let svc = Service::new(MemoryStore::new());
/// # let t = TenantId::from_u128(1);
/// let email = |s: &str| Profile { email: Some(Pii::new(Email::parse(s).unwrap())), ..Profile::default() };
/// let first = block_on(svc.register(t, email("Ann@Example.com")))?;
/// assert!(first.created);
/// let again = block_on(svc.register(t, email("ann@example.com")))?;
/// assert!(!again.created);
/// assert_eq!(again.customer, first.customer);
/// assert!(again.differs.is_empty()); // nothing new in the second registration
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The customer (new, or the existing one with the same email or phone).
    pub customer: Customer,
    /// False when an existing customer was returned.
    pub created: bool,
    /// When an existing customer was returned: the fields where the registration held a value
    /// the customer does not (empty or different), which [`Service::register`] leaves as
    /// they were and [`Service::register_or_update`] decides by the survivorship policy.
    pub differs: Vec<MergeField>,
    /// The fields [`Service::register_or_update`] changed (empty after `register`).
    pub updated: Vec<MergeField>,
    /// The fields of the registration the service normalised before using it (a display
    /// name trimmed, its whitespace collapsed, in NFC); emails and phones are normal by
    /// construction.
    pub normalised: Vec<MergeField>,
}

/// Normalises the name fields of `p` ([`Profile::normalise_name`]: trimmed, whitespace
/// collapsed, Unicode NFC, no case change) and says which it changed.
fn normalise_profile(p: &mut Profile) -> Result<Vec<MergeField>, DomainError> {
    let Some(name) = p.display_name.as_ref() else {
        return Ok(Vec::new());
    };
    let normal = Profile::normalise_name(name.expose())?;
    if normal == *name.expose() {
        return Ok(Vec::new());
    }
    p.display_name = Some(Pii::new(normal));
    Ok(vec![MergeField::DisplayName])
}

/// The result of recording an activity.
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let svc = Service::new(MemoryStore::new());
/// # let t = TenantId::from_u128(1);
/// # use rapport::NewActivity;
/// # use rust_decimal::Decimal;
/// # let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// let order = NewActivity {
///     customer: ann.id(),
///     at: svc.now(),
///     channel: Channel::Web,
///     idempotency_key: IdempotencyKey::new("order-1")?,
///     kind: ActivityKind::Purchase {
///         order_id: OrderId::new("1")?,
///         amount: Money::new(Decimal::from(40), Currency::EUR),
///         margin: None,
///     },
/// };
/// let first = block_on(svc.record(t, order.clone()))?;
/// assert!(!first.duplicate && first.evaluation.is_some());
/// // The same idempotency key again: nothing changes.
/// let again = block_on(svc.record(t, order))?;
/// assert!(again.duplicate && again.evaluation.is_none());
/// assert_eq!(again.customer.version(), first.customer.version());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// True when the key was already recorded: nothing changed.
    pub duplicate: bool,
    /// The customer after the activity.
    pub customer: Customer,
    /// The decisions taken because of it (absent for a duplicate).
    pub evaluation: Option<Evaluation>,
}

/// Progress of a sweep.
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let svc = Service::new(MemoryStore::new());
/// # let t = TenantId::from_u128(1);
/// use rapport::SweepProgress;
/// for _ in 0..3 {
///     block_on(svc.register(t, Profile::default()))?;
/// }
/// let mut seen = Vec::new();
/// let done = block_on(svc.sweep(t, svc.now(), 2, |p| seen.push(p)))?;
/// assert_eq!((done.evaluated, done.total), (3, 3));
/// assert_eq!(seen.len(), 2); // batches of 2: after 2, after 3
/// assert_eq!(seen[0].evaluated, 2);
/// assert_eq!(seen.last(), Some(&done));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepProgress {
    /// Customers evaluated so far.
    pub evaluated: usize,
    /// Customers whose stored state changed.
    pub changed: usize,
    /// Events written to the outbox.
    pub events: usize,
    /// Live customers in the tenant: known from the start when the policies need the ranking
    /// pass ([`Policies::needs_ranking`]); otherwise the live customers seen so far (the
    /// store's count is not known in advance), equal to `evaluated` at the end.
    pub total: usize,
}

/// A customer of a sweep's batch, waiting to be handed to the caller of
/// [`Service::sweep_with_decisions`].
enum Swept {
    /// Evaluated, nothing to write: the customer as read.
    Kept(Box<Customer>, Evaluation),
    /// Written: its index in the batch's changeset.
    Changed(usize, Evaluation),
}

/// What a decision does with the record it owns.
enum Step {
    /// Nothing to write: the record as read.
    Keep(Record),
    /// Write this.
    Write(Decision),
}

/// What one decision changes, before ids and versions are attached.
struct Decision {
    customer: Customer,
    stats: Stats,
    activities: Vec<Activity>,
    events: Vec<DomainEvent>,
    /// Line items of the activities (written with them).
    line_items: Vec<LineItems>,
    /// Attributions of the activities to an account (written with them).
    account_activities: Vec<AccountActivity>,
}

/// The use cases, over a store `S` and a notifier `N`. Cheap to share (`Arc` inside).
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::Service;
/// # use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// # let t = TenantId::from_u128(1);
/// # use rapport::Clock;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use rapport::ManualClock;
/// # #[derive(Default)] struct Counting(AtomicU64);
/// # impl Notifier for Counting {
/// #     async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> { self.0.fetch_add(1, Ordering::SeqCst); Ok(()) }
/// # }
/// struct Sequential(AtomicU64);
/// impl rapport::IdSource for Sequential {
///     fn next(&self) -> uuid::Uuid { uuid::Uuid::from_u128(self.0.fetch_add(1, Ordering::SeqCst).into()) }
/// }
/// let clock = ManualClock::at(chrono::DateTime::UNIX_EPOCH);
/// let svc = Service::new(MemoryStore::new())
///     .with_clock(clock.clone())
///     .with_ids(Sequential(AtomicU64::new(100)))
///     .with_max_attempts(4)
///     .with_notifier(Counting::default()); // any `Notifier`
/// assert_eq!(svc.now(), clock.now());
/// let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// assert_eq!(ann.id(), CustomerId::from_u128(100));
/// assert_eq!(ann.created_at(), clock.now());
/// assert_eq!(svc.policies(), &Policies::default());
/// assert_eq!(svc.notifier().0.load(Ordering::SeqCst), 0); // until a relay runs
/// assert_eq!(svc.store().pending_outbox()?, 1);
/// let store: MemoryStore = svc.into_store();
/// assert_eq!(store.pending_outbox()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Service<S, N = NoopNotifier> {
    store: S,
    notifier: N,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    policies: Policies,
    max_attempts: u32,
    clv_models: Arc<crate::fitted::ModelCache>,
}

impl<S: std::fmt::Debug, N> std::fmt::Debug for Service<S, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<S: Store> Service<S, NoopNotifier> {
    /// A service over `store` with the system clock, UUIDv7 ids, default policies and no
    /// notifier.
    ///
    /// ```
    /// use rapport::{Service, core::Policies};
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// assert_eq!(svc.policies(), &Policies::default());
    /// assert!((svc.now() - chrono::Utc::now()).num_seconds().abs() < 60);
    /// ```
    pub fn new(store: S) -> Self {
        Self {
            store,
            notifier: NoopNotifier,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7Ids),
            policies: Policies::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            clv_models: Arc::default(),
        }
    }
}

impl<S: Store, N: Notifier> Service<S, N> {
    /// Replaces the notifier.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use std::sync::Mutex;
    /// #[derive(Default)]
    /// struct Names(Mutex<Vec<&'static str>>);
    /// impl Notifier for Names {
    ///     async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
    ///         self.0.lock().map_err(|_| NotifyError::Failed { reason: "poisoned".into() })?.push(msg.event.name());
    ///         Ok(())
    ///     }
    /// }
    /// let svc = Service::new(MemoryStore::new()).with_notifier(Names::default());
    /// block_on(svc.register(t, Profile::default()))?;
    /// let report = block_on(rapport::relay_once(svc.store(), svc.notifier(), &rapport::RelayConfig::default(), svc.now()))?;
    /// assert_eq!(report.delivered, 1);
    /// assert_eq!(*svc.notifier().0.lock().unwrap(), ["customer_registered"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_notifier<M: Notifier>(self, notifier: M) -> Service<S, M> {
        Service {
            store: self.store,
            notifier,
            clock: self.clock,
            ids: self.ids,
            policies: self.policies,
            max_attempts: self.max_attempts,
            clv_models: self.clv_models,
        }
    }

    /// Replaces the clock.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use chrono::{TimeZone, Utc};
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    /// let svc = Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(now));
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer;
    /// assert_eq!(ann.created_at(), now);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the id source.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// struct Sequential(AtomicU64);
    /// impl rapport::IdSource for Sequential {
    ///     fn next(&self) -> uuid::Uuid { uuid::Uuid::from_u128(self.0.fetch_add(1, Ordering::SeqCst).into()) }
    /// }
    /// let svc = Service::new(MemoryStore::new()).with_ids(Sequential(AtomicU64::new(7)));
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer;
    /// assert_eq!(ann.id(), CustomerId::from_u128(7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_ids(mut self, ids: impl IdSource + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// How many times a use case re-decides after a version conflict (default
    /// [`DEFAULT_MAX_ATTEMPTS`]).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let svc = svc.with_max_attempts(3);
    /// assert!(block_on(svc.register(t, Profile::default()))?.created);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Replaces the policies.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// // A shop selling in euros: tier thresholds (Gold from 2,000) are amounts in EUR, and
    /// // a customer buying in another currency keeps its tier (`tier.currency_mismatch`).
    /// let mut p = Policies::default().with_currency(Currency::EUR);
    /// p.tier.ladder = TierLadder::classic_pyramid();
    /// let svc = svc.with_policies(p.clone())?;
    /// assert_eq!(svc.policies(), &p);
    /// assert_eq!(svc.policies().currency(), Currency::EUR);
    ///
    /// let mut bad = Policies::default();
    /// bad.lifecycle.churn_factor = -1.0;
    /// assert!(matches!(
    ///     svc.with_policies(bad),
    ///     Err(rapport::Error::Domain(DomainError::InvalidPolicy { field: "churn_factor", .. }))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When a policy is invalid.
    pub fn with_policies(mut self, policies: Policies) -> Result<Self, Error> {
        policies.validate()?;
        self.policies = policies;
        Ok(self)
    }

    /// The store.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// block_on(svc.register(t, Profile::default()))?;
    /// assert_eq!(svc.store().pending_outbox()?, 1); // the `customer_registered` message
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The tenants' fitted models this service has read.
    pub(crate) fn clv_models(&self) -> &crate::fitted::ModelCache {
        &self.clv_models
    }

    /// Forgets the fitted CLV models this service has read, so that the next evaluation of each
    /// tenant reads its model from the store again: for a model saved through another service
    /// or process (one saved through this service is used from the next call on anyway).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// use chrono::Utc;
    /// use rapport::Service;
    /// use rapport::core::*;
    /// use rapport_memory::MemoryStore;
    /// let t = TenantId::from_u128(1);
    /// let store = std::sync::Arc::new(MemoryStore::new());
    /// let svc = Service::new(store.clone());
    /// let other = Service::new(store);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = Money::new("25.00".parse()?, Currency::USD);
    /// block_on(svc.record(t, rapport::NewActivity::purchase(id, "o1", usd, svc.now())?))?;
    /// let rec = block_on(svc.customer(t, id))?;
    /// let e = block_on(svc.decide(t, &rec, svc.now()))?; // no model yet, and that is remembered
    /// assert_eq!(e.churn_risk.reason.rule, "churn.rules");
    /// let model = FittedClv {
    ///     model: ClvModel::BgNbd { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 },
    ///     spend: None,
    ///     period: ClvPeriod::Week,
    ///     monthly_discount: 0.01,
    ///     fitted_at: Utc::now(),
    /// };
    /// block_on(other.save_clv_model(t, model))?; // through another service
    /// svc.forget_clv_models();
    /// let e = block_on(svc.decide(t, &rec, svc.now()))?;
    /// assert_eq!(e.churn_risk.reason.rule, "churn.model");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forget_clv_models(&self) {
        self.clv_models.clear();
    }

    /// Gives the store back.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer;
    /// let store: MemoryStore = svc.into_store();
    /// let record = block_on(store.load(t, ann.id()))?.expect("stored");
    /// assert_eq!(record.customer, ann);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_store(self) -> S {
        self.store
    }

    /// The notifier.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// #[derive(Default)]
    /// struct Counting(AtomicU32);
    /// impl Notifier for Counting {
    ///     async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///         Ok(())
    ///     }
    /// }
    /// let svc = Service::new(MemoryStore::new()).with_notifier(Counting::default());
    /// block_on(svc.register(t, Profile::default()))?;
    /// assert_eq!(svc.notifier().0.load(Ordering::SeqCst), 0); // messages wait in the outbox until a relay runs
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The policies.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let mut p = Policies::default();
    /// p.tier.grace_days = 60;
    /// let svc = Service::new(MemoryStore::new()).with_policies(p)?;
    /// assert_eq!(svc.policies().tier.grace_days, 60);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The clock's now.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let clock = rapport::ManualClock::at("2026-01-01T00:00:00Z".parse()?);
    /// let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    /// clock.advance(chrono::Duration::days(30));
    /// assert_eq!(svc.now(), chrono::DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A fresh id from the service's id source (for entities other than customers,
    /// activities and messages: cases).
    pub(crate) fn next_id(&self) -> uuid::Uuid {
        self.ids.next()
    }

    /// How many times a use case decides again after a version conflict.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    fn messages(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        events: Vec<DomainEvent>,
    ) -> Vec<OutboxMessage> {
        events
            .into_iter()
            .map(|e| OutboxMessage::new(self.ids.message_id(), t, now, e))
            .collect()
    }

    /// Loads a customer, following merges to the survivor.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer;
    /// let r = block_on(svc.customer(t, ann.id()))?;
    /// assert_eq!(r.customer, ann);
    /// assert_eq!(r.stats, Stats::default());
    /// assert!(matches!(
    ///     block_on(svc.customer(t, CustomerId::from_u128(9))),
    ///     Err(rapport::Error::NotFound(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; store errors.
    pub async fn customer(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        let mut id = id;
        for _ in 0..16 {
            let r = self.store.load(t, id).await?.ok_or(Error::NotFound(id))?;
            match r.customer.stage() {
                Stage::Merged { into } => id = into,
                _ => return Ok(r),
            }
        }
        Err(Error::NotFound(id))
    }

    /// Load → decide → apply, re-deciding after a version conflict. `decide` returns `None`
    /// when there is nothing to write.
    async fn modify(
        &self,
        t: TenantId,
        id: CustomerId,
        decide: impl Fn(&Record, DateTime<Utc>) -> Result<Option<Decision>, Error>,
    ) -> Result<(Record, Applied), Error> {
        self.modify_at(t, id, None, decide).await
    }

    /// [`Self::modify`] at `at` instead of the clock's now, when given.
    async fn modify_at(
        &self,
        t: TenantId,
        id: CustomerId,
        at: Option<DateTime<Utc>>,
        decide: impl Fn(&Record, DateTime<Utc>) -> Result<Option<Decision>, Error>,
    ) -> Result<(Record, Applied), Error> {
        self.modify_owned_at(t, id, at, |read, now| {
            Ok(match decide(&read, now)? {
                Some(d) => Step::Write(d),
                None => Step::Keep(read),
            })
        })
        .await
    }

    /// [`Self::modify_at`] with `decide` owning the record read, so a decision that changes it
    /// (the customer and stats of a recorded purchase) moves it instead of cloning it.
    async fn modify_owned_at(
        &self,
        t: TenantId,
        id: CustomerId,
        at: Option<DateTime<Utc>>,
        decide: impl Fn(Record, DateTime<Utc>) -> Result<Step, Error>,
    ) -> Result<(Record, Applied), Error> {
        self.modify_with_history(t, id, at, false, |read, _, now| decide(read, now))
            .await
    }

    /// [`Self::modify_owned_at`], handing `decide` the customer's activities too when
    /// `history` is set: read after the customer at every attempt, so a decision on them is
    /// checked by the same version step as one on the record (an activity is only ever
    /// written with a step of its customer's version).
    async fn modify_with_history(
        &self,
        t: TenantId,
        id: CustomerId,
        at: Option<DateTime<Utc>>,
        history: bool,
        decide: impl Fn(Record, &[Activity], DateTime<Utc>) -> Result<Step, Error>,
    ) -> Result<(Record, Applied), Error> {
        for _ in 0..self.max_attempts {
            let read = self.customer(t, id).await?;
            let expected_version = read.customer.version();
            let activities = if history {
                self.store
                    .activities(t, read.customer.id(), TimeRange::all())
                    .await?
            } else {
                Vec::new()
            };
            let now = at.unwrap_or_else(|| self.clock.now());
            let d = match decide(read, &activities, now)? {
                Step::Keep(read) => return Ok((read, Applied::default())),
                Step::Write(d) => d,
            };
            let mut cs = Changeset::new();
            cs.customers.push(CustomerWrite::Update {
                expected_version,
                customer: Box::new(d.customer.with_version(expected_version + 1)),
                stats: Box::new(d.stats),
            });
            // The recorded activity is the cause of every event it led to (a rule can ignore
            // a stage move caused by a refund).
            let cause = d.activities.first().map(|a| EventCause::Activity {
                activity: a.id,
                kind: a.kind.activity_type(),
            });
            cs.activities = d.activities;
            cs.line_items = d.line_items;
            cs.account_activities = d.account_activities;
            cs.outbox = self.messages(t, now, d.events);
            for m in &mut cs.outbox {
                m.cause.clone_from(&cause);
            }
            match self.store.apply(t, &cs).await {
                Ok(applied) => {
                    if applied.is_duplicate() {
                        // Nothing was written: the stored state is the state to report.
                        return Ok((self.customer(t, id).await?, applied));
                    }
                    // The written state, taken back from the changeset without a clone.
                    let Some((customer, stats)) = cs.customers.pop().map(CustomerWrite::into_parts)
                    else {
                        return Err(Error::NotFound(id));
                    };
                    return Ok((Record { customer, stats }, applied));
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::trace!(tenant = %t, customer = %id, "version conflict; deciding again");
                    // Someone else's change won and is committed: hand the executor to the
                    // other ready tasks once (never blocking its thread), then read it back
                    // and decide again.
                    yield_to_executor().await;
                }
                Err(e) => {
                    tracing::debug!(tenant = %t, customer = %id, error = store_kind(&e), "write failed");
                    return Err(e.into());
                }
            }
        }
        tracing::warn!(tenant = %t, customer = %id, attempts = self.max_attempts, "gave up after repeated version conflicts");
        Err(Error::Contention {
            customer: id,
            attempts: self.max_attempts,
        })
    }

    /// Registers a customer, or returns the existing one with the same normalised email or
    /// phone (`created: false`).
    ///
    /// Safe under concurrency: the store holds one live customer per email and per phone, so
    /// of two callers registering the same person at once one creates the customer and the
    /// other gets that customer back. [`Service::register_new`] is the variant that refuses
    /// instead.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let profile = Profile { email: Some(Pii::new(Email::parse("ann@example.com")?)), ..Profile::default() };
    /// let r = block_on(svc.register(t, profile.clone()))?;
    /// assert!(r.created);
    /// assert_eq!(r.customer.stage(), Stage::Prospect);
    /// assert_eq!(block_on(svc.register(t, profile))?.customer.id(), r.customer.id());
    /// // Another tenant is another world.
    /// assert!(block_on(svc.register(TenantId::from_u128(2), r.customer.profile.clone()))?.created);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "rapport.register", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn register(&self, t: TenantId, mut profile: Profile) -> Result<Registered, Error> {
        let normalised = normalise_profile(&mut profile)?;
        self.register_normal(t, profile, normalised).await
    }

    /// [`Service::register`] of a profile normalised already (`normalised` says what was).
    async fn register_normal(
        &self,
        t: TenantId,
        profile: Profile,
        normalised: Vec<MergeField>,
    ) -> Result<Registered, Error> {
        match self.create_customer(t, profile.clone()).await {
            Err(Error::Store(StoreError::ContactTaken { existing, .. })) => {
                let r = self.customer(t, existing).await?;
                let differs = profile_differences(&r.customer.profile, &profile);
                tracing::debug!(customer = %existing, created = false, differs = differs.len(), "registered");
                Ok(Registered {
                    customer: r.customer,
                    created: false,
                    differs,
                    updated: Vec::new(),
                    normalised,
                })
            }
            Ok(customer) => {
                tracing::debug!(customer = %customer.id(), created = true, "registered");
                Ok(Registered {
                    customer,
                    created: true,
                    differs: Vec::new(),
                    updated: Vec::new(),
                    normalised,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Registers a customer, or, when a live customer already has the email or phone, updates
    /// it field by field as a merge of the registration into it would: `policy` decides each
    /// field both hold differently (the registration counts as the more recent record, so
    /// the default [`Survivorship::MostRecent`] takes its values; `MostTrusted` ranks its
    /// source attribute), a field only the registration fills is taken, a field only the
    /// customer fills is kept. One profile update (optimistic, retried on a version
    /// conflict); `differs` lists what differed and `updated` what changed.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = |name: &str, phone: Option<&str>| Profile {
    ///     display_name: Some(Pii::new(name.into())),
    ///     email: Some(Pii::new(Email::parse("ann@example.com").unwrap())),
    ///     phone: phone.map(|p| Pii::new(Phone::from_e164(p).unwrap())),
    ///     ..Profile::default()
    /// };
    /// let first = block_on(svc.register(t, ann("Ann Lee", None)))?;
    /// // `register` returns the known customer and says what it left as it was.
    /// let known = block_on(svc.register(t, ann("Ann Li", Some("+14155550100"))))?;
    /// assert_eq!(known.differs, [MergeField::DisplayName, MergeField::Phone]);
    /// assert_eq!(known.customer, first.customer);
    /// // `register_or_update` lets the survivorship policy decide each field.
    /// let r = block_on(svc.register_or_update(t, ann("Ann Li", Some("+14155550100")), &SurvivorshipPolicy::default()))?;
    /// assert_eq!((r.created, r.updated.len()), (false, 2));
    /// assert_eq!(r.customer.profile.display_name.as_ref().unwrap().expose(), "Ann Li");
    /// assert_eq!(r.customer.version(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`]; [`StoreError::ContactTaken`] when a value taken (say a
    /// new phone) belongs to another live customer; store errors.
    #[tracing::instrument(name = "rapport.register_or_update", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn register_or_update(
        &self,
        t: TenantId,
        profile: Profile,
        policy: &SurvivorshipPolicy,
    ) -> Result<Registered, Error> {
        policy.validate()?;
        let mut profile = profile;
        let normalised = normalise_profile(&mut profile)?;
        let r = self.register_normal(t, profile.clone(), normalised).await?;
        if r.created || r.differs.is_empty() {
            return Ok(r);
        }
        let existing = r.customer;
        // The registration as a record newer than every stored one.
        let incoming = Customer::new(
            t,
            self.ids.customer_id(),
            profile,
            self.clock
                .now()
                .max(existing.created_at() + chrono::Duration::microseconds(1)),
        );
        let updated = self
            .update_profile(t, existing.id(), |p| {
                let mut current = existing.clone();
                current.profile = p.clone();
                *p = MergePlan::preview(&current, &incoming, policy)?.profile;
                Ok(())
            })
            .await?;
        let changed = profile_differences(&existing.profile, &updated.profile);
        Ok(Registered {
            customer: updated,
            created: false,
            differs: r.differs,
            updated: changed,
            normalised: r.normalised,
        })
    }

    /// Registers a new customer (its display name normalised, as by [`Service::register`]),
    /// refusing when a live customer of the tenant already has the same normalised email or
    /// phone: [`StoreError::ContactTaken`] names that customer (and
    /// the kind of contact, never its value). The store enforces the rule, so of any number of
    /// concurrent callers with one email exactly one succeeds.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{Error, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let profile = Profile { email: Some(Pii::new(Email::parse("ann@example.com")?)), ..Profile::default() };
    /// let ann = block_on(svc.register_new(t, profile.clone()))?;
    /// let again = block_on(svc.register_new(t, profile)).unwrap_err();
    /// assert!(matches!(
    ///     again,
    ///     Error::Store(StoreError::ContactTaken { contact: ContactKind::Email, existing, .. }) if existing == ann.id()
    /// ));
    /// assert_eq!(again.kind(), "store.contact_taken");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`StoreError::ContactTaken`] (as [`Error::Store`]); other store errors.
    #[tracing::instrument(name = "rapport.register_new", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn register_new(&self, t: TenantId, mut profile: Profile) -> Result<Customer, Error> {
        normalise_profile(&mut profile)?;
        self.create_customer(t, profile).await
    }

    /// Creates a customer: a cheap lookup first (the common case of a known person needs no
    /// write), then the write, which the store refuses if the contact was taken meanwhile.
    /// `profile` is normalised already.
    async fn create_customer(&self, t: TenantId, profile: Profile) -> Result<Customer, Error> {
        let id = self.ids.customer_id();
        for key in profile.contact_keys() {
            for found in self.store.find_by_contact(t, &key).await? {
                if let Some(r) = self.store.load(t, found).await?
                    && r.customer.is_live()
                {
                    return Err(Error::Store(StoreError::ContactTaken {
                        customer: id,
                        contact: key.contact_kind(),
                        existing: r.customer.id(),
                    }));
                }
            }
        }
        let now = self.clock.now();
        let customer = Customer::new(t, id, profile, now);
        let mut cs = Changeset::new();
        cs.outbox = self.messages(
            t,
            now,
            vec![DomainEvent::CustomerRegistered {
                customer: customer.id(),
            }],
        );
        cs.create(customer.clone(), Stats::default());
        self.store.apply(t, &cs).await?;
        Ok(customer)
    }

    /// Changes a profile with `edit` (which may reject the change).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let c = block_on(svc.update_profile(t, id, |p| {
    ///     p.display_name = Some(Pii::new(Profile::normalise_name("  Ann   Lee ")?));
    ///     Ok(())
    /// }))?;
    /// assert_eq!(c.profile.display_name.as_ref().unwrap().expose(), "Ann Lee");
    /// assert_eq!(c.version(), 2);
    /// // An edit that changes nothing writes nothing.
    /// assert_eq!(block_on(svc.update_profile(t, id, |_| Ok(())))?.version(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The edit's error, [`Error::NotFound`], tombstones, store errors.
    pub async fn update_profile(
        &self,
        t: TenantId,
        id: CustomerId,
        edit: impl Fn(&mut Profile) -> Result<(), DomainError>,
    ) -> Result<Customer, Error> {
        let (r, _) = self
            .modify(t, id, |read, _now| {
                read.customer.ensure_live()?;
                let mut c = read.customer.clone();
                edit(&mut c.profile)?;
                normalise_profile(&mut c.profile)?;
                if c.profile == read.customer.profile {
                    return Ok(None);
                }
                Ok(Some(Decision {
                    line_items: Vec::new(),
                    account_activities: Vec::new(),
                    events: vec![DomainEvent::ProfileUpdated { customer: c.id() }],
                    customer: c,
                    stats: read.stats.clone(),
                    activities: Vec::new(),
                }))
            })
            .await?;
        Ok(r.customer)
    }

    fn evaluated(
        &self,
        mut customer: Customer,
        stats: &Stats,
        inputs: &EvalInputs,
        model: Option<&Predictor>,
        purchases: Option<&PurchaseSummary>,
    ) -> Result<(Customer, Evaluation), Error> {
        let e = self.evaluate_with(&customer, stats, inputs, model, purchases)?;
        e.apply_to(&mut customer);
        Ok((customer, e))
    }

    /// `evaluate` with P(alive) and the predicted CLV of the tenant's fitted model, if any,
    /// and the model named in a churn reason that came from it; with the customer's purchases
    /// for tag rules on line items (`None`: such rules leave their tags as they are).
    pub(crate) fn evaluate_with(
        &self,
        customer: &Customer,
        stats: &Stats,
        inputs: &EvalInputs,
        model: Option<&Predictor>,
        purchases: Option<&PurchaseSummary>,
    ) -> Result<Evaluation, Error> {
        let Some(m) = model else {
            return Ok(evaluate_with_purchases(
                customer,
                stats,
                &self.policies,
                inputs,
                purchases,
            )?);
        };
        let inputs = m.inputs(*inputs, stats, self.policies.tier.ladder.metric);
        let mut e = evaluate_with_purchases(customer, stats, &self.policies, &inputs, purchases)?;
        m.annotate(&mut e);
        Ok(e)
    }

    /// True when a tag rule reads line items the stats do not keep (`bought(...)`,
    /// `category_spend(...)` of a category outside [`StatsPolicy`]): each evaluation then
    /// reads the customer's line lists.
    pub(crate) fn rules_read_line_items(&self) -> bool {
        let tracked = &self.policies.stats.category_spend;
        self.policies
            .tag_rules
            .iter()
            .any(|r| r.when.needs_line_items_beyond(tracked))
    }

    /// The customer's stored line lists when a tag rule reads them (`None` otherwise, or from
    /// a store that keeps none).
    pub(crate) async fn rule_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<Vec<LineItems>>, Error> {
        if !self.rules_read_line_items() {
            return Ok(None);
        }
        Ok(self.store.purchase_lines(t, id).await?)
    }

    /// The customer's stored line lists when a tag rule reads line items its `stats` do not
    /// answer (`bought(...)`, `category_spend(...)` of a category they do not track): with
    /// the record in hand, stats folded under another policy still get their lines.
    pub(crate) async fn rule_lines_for(
        &self,
        t: TenantId,
        id: CustomerId,
        stats: &Stats,
    ) -> Result<Option<Vec<LineItems>>, Error> {
        if !self
            .policies
            .tag_rules
            .iter()
            .any(|r| r.when.needs_line_items(stats))
        {
            return Ok(None);
        }
        Ok(self.store.purchase_lines(t, id).await?)
    }

    /// The inputs of a single-customer evaluation at `now`: with the roles the customer holds
    /// over its active account links when a tag rule tests them
    /// ([`Policies::uses_account_roles`]; one store read), else none.
    pub(crate) async fn single_inputs(
        &self,
        t: TenantId,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<EvalInputs, Error> {
        Ok(EvalInputs::at(now).with_account_roles(self.roles_for(t, id).await?))
    }

    /// The roles `id` holds over its active account links when a tag rule tests them, else
    /// none (no store read).
    pub(crate) async fn roles_for(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<AccountRoleSet, Error> {
        if !self.policies.uses_account_roles() {
            return Ok(AccountRoleSet::default());
        }
        let roles = self.store.account_roles(t, &[id]).await?;
        Ok(roles.first().copied().unwrap_or_default())
    }

    /// The roles of each of `rows`' customers (in order) when a tag rule tests them, in one
    /// store read; `None` when no rule does.
    async fn page_roles(
        &self,
        t: TenantId,
        rows: &[Record],
    ) -> Result<Option<Vec<AccountRoleSet>>, Error> {
        if !self.policies.uses_account_roles() {
            return Ok(None);
        }
        let ids: Vec<CustomerId> = rows.iter().map(|r| r.customer.id()).collect();
        Ok(Some(self.store.account_roles(t, &ids).await?))
    }

    /// Records an activity (idempotent by key), folds it into the stats and re-evaluates the
    /// customer at the clock's now. Alone, without the population ranking: what depends on the
    /// other customers (a share ladder's tier, tags of rules on RFM scores) stays as the last
    /// [`Service::sweep`] decided it, until the next sweep.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// # use rust_decimal::Decimal;
    /// let rec = block_on(svc.record(t, rapport::NewActivity {
    ///     customer: id,
    ///     at: svc.now(),
    ///     channel: Channel::Store,
    ///     idempotency_key: IdempotencyKey::new("order-7")?,
    ///     kind: ActivityKind::Purchase {
    ///         order_id: OrderId::new("7")?,
    ///         amount: Money::new(Decimal::from(2_500), Currency::USD),
    ///         margin: None,
    ///     },
    /// }))?;
    /// assert!(!rec.duplicate);
    /// assert_eq!(rec.customer.stage(), Stage::New);
    /// assert_eq!(rec.customer.tier(), Tier::Gold);
    /// assert_eq!(rec.evaluation.map(|e| e.tier.to), Some(Tier::Gold));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// **Refunds are checked against the customer's orders** ([`OrderLedger`], rebuilt from
    /// the customer's activities): a refund must name an order a purchase of this customer
    /// recorded, in its currency, for at most what the purchase less the earlier refunds left;
    /// its `purchased_at` is the order's time and `full` is set when it closes the order (the
    /// caller's values are replaced). Two refunds of one order racing each other are decided
    /// one after the other: the loser's write fails on the customer's version, and it reads
    /// the winner's refund and decides again. A refund whose idempotency key is already
    /// recorded is a duplicate, as for any activity, not a new refund checked again.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let placed = svc.now() - chrono::Duration::days(3);
    /// block_on(svc.record(t, NewActivity::purchase(ann, "SO-1", usd("50.00"), placed)?))?;
    /// let too_much = NewActivity::refund(ann, "SO-1", usd("500.00"), svc.now())?;
    /// assert!(matches!(block_on(svc.record(t, too_much)),
    ///     Err(rapport::Error::Domain(DomainError::RefundExceedsOrder { left, .. })) if left == usd("50.00")));
    /// let unknown = NewActivity::refund(ann, "SO-404", usd("1.00"), svc.now())?;
    /// assert!(matches!(block_on(svc.record(t, unknown)),
    ///     Err(rapport::Error::Domain(DomainError::UnknownOrder { .. }))));
    /// let ok = block_on(svc.record(t, NewActivity::refund(ann, "SO-1", usd("20.00"), svc.now())?))?;
    /// assert_eq!(ok.customer.id(), ann);
    /// let stats = block_on(svc.customer(t, ann))?.stats;
    /// assert_eq!(stats.revenue().unwrap(), usd("30.00"));
    /// assert_eq!(stats.days()[0].day, placed.date_naive()); // counted against the order's day
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Invalid amounts or a currency mix, [`DomainError::UnknownOrder`] and
    /// [`DomainError::RefundExceedsOrder`] and [`DomainError::RefundBeforeOrder`] for a refund
    /// (nothing written),
    /// [`Error::NotFound`], tombstones, store errors.
    #[tracing::instrument(name = "rapport.record", level = "debug", skip_all, fields(tenant = %t, customer = %a.customer, kind = ?a.kind.activity_type()))]
    pub async fn record(&self, t: TenantId, a: NewActivity) -> Result<Recorded, Error> {
        self.record_with_lines(t, a, Vec::new(), false).await
    }

    /// [`Service::record`] for a purchase or refund with its line items, written in the same
    /// changeset (none are written when the activity's key was recorded before). The lines
    /// must add up to the amount unless `allow_total_mismatch`; no lines is a plain `record`.
    /// A refund recorded without lines that refunds its order in full (`record` too) gives
    /// back what is left of the order's stored lines ([`rapport_core::ports::lines_left`]),
    /// written with it, so segments and recommendations count the order as returned.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let buy = NewActivity::purchase(ann, "SO-1", usd("9.00"), svc.now())?;
    /// let lines = vec![LineItem::new(Sku::new("tea")?, 2, usd("4.50"), Some(ProductCategory::new("tea")?))?];
    /// block_on(svc.record_with_lines(t, buy, lines, false))?;
    /// let stored = block_on(svc.purchases(t))?;
    /// assert_eq!(stored.pairs, vec![(ann, Sku::new("tea")?)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::record`]; [`DomainError::LineTotalMismatch`] when the lines do not add
    /// up, [`DomainError::InvalidChangeset`] for lines on another kind of activity.
    pub async fn record_with_lines(
        &self,
        t: TenantId,
        a: NewActivity,
        lines: Vec<LineItem>,
        allow_total_mismatch: bool,
    ) -> Result<Recorded, Error> {
        self.record_into(t, a, lines, allow_total_mismatch, None)
            .await
    }

    /// [`Service::record_with_lines`], the activity attributed to `account` in the same
    /// changeset when one is given.
    pub(crate) async fn record_into(
        &self,
        t: TenantId,
        a: NewActivity,
        lines: Vec<LineItem>,
        allow_total_mismatch: bool,
        account: Option<AccountId>,
    ) -> Result<Recorded, Error> {
        let activity_id = self.ids.activity_id();
        let result = std::sync::Mutex::new(None);
        let refund = matches!(a.kind, ActivityKind::Refund { .. });
        let model = self.predictor(t).await?;
        let stored_lines = self.rule_lines(t, a.customer).await?;
        // A refund recorded without lines may be the order's full refund: it then gives back
        // what is left of the order's lines (read here, decided below once the refund is).
        let order_lines = if refund && lines.is_empty() {
            match &stored_lines {
                Some(stored) => Some(stored.clone()),
                None => self.store.purchase_lines(t, a.customer).await?,
            }
        } else {
            None
        };
        let roles = self.roles_for(t, a.customer).await?;
        let (r, applied) = self
            .modify_with_history(t, a.customer, None, refund, |read, history, now| {
                read.customer.ensure_live()?;
                // A key already recorded goes to the store as it is, which reports the
                // duplicate and writes nothing: a retried refund is not decided again.
                let kind = if refund
                    && !history
                        .iter()
                        .any(|h| h.idempotency_key == a.idempotency_key)
                {
                    OrderLedger::from_activities(history)?.settle_refund(a.kind.clone(), a.at)?
                } else {
                    a.kind.clone()
                };
                let Record {
                    customer,
                    mut stats,
                } = read;
                let activity = Activity::new(
                    activity_id,
                    customer.id(),
                    a.at,
                    a.channel,
                    a.idempotency_key.clone(),
                    kind,
                )?;
                let first_order = stats.count(ActivityType::Purchase) == 0
                    && stats.count(ActivityType::Refund) == 0;
                stats.apply(&activity)?;
                let line_items = match (&activity.kind, order_lines.as_deref()) {
                    _ if !lines.is_empty() => vec![LineItems::of(
                        &activity,
                        lines.clone(),
                        allow_total_mismatch,
                    )?],
                    // The order's full refund, without lines: it gives back what is left of
                    // the order's lines, so `bought`, `category_spend` and the recommendation
                    // model count the order as returned (net of full refunds). The amounts
                    // may differ (a refund of the amount left is not a price list).
                    (
                        ActivityKind::Refund {
                            order_id,
                            full: true,
                            ..
                        },
                        Some(stored),
                    ) => {
                        let left = rapport_core::ports::lines_left(stored, order_id);
                        if left.is_empty() {
                            Vec::new()
                        } else {
                            vec![LineItems::of(&activity, left, true)?]
                        }
                    }
                    _ => Vec::new(),
                };
                self.fold_category_spend(&mut stats, first_order, &activity, &line_items)?;
                // Tag rules on line items see the stored lines and these.
                let purchases = stored_lines.as_ref().map(|stored| {
                    let mut all = stored.clone();
                    all.extend(line_items.iter().cloned());
                    PurchaseSummary::from_line_items(&all)
                });
                let inputs = EvalInputs::at(now).with_account_roles(roles);
                let (customer, e) = self.evaluated(
                    customer,
                    &stats,
                    &inputs,
                    model.as_deref(),
                    purchases.as_ref(),
                )?;
                let mut events = vec![DomainEvent::ActivityRecorded {
                    customer: customer.id(),
                    activity: activity.id,
                    kind: activity.kind.activity_type(),
                }];
                events.extend(e.events.iter().cloned());
                if let Ok(mut slot) = result.lock() {
                    *slot = Some(e);
                }
                let account_activities = match account {
                    Some(account) => vec![AccountActivity::new(account, activity.clone())?],
                    None => Vec::new(),
                };
                Ok(Step::Write(Decision {
                    line_items,
                    account_activities,
                    customer,
                    stats,
                    activities: vec![activity],
                    events,
                }))
            })
            .await?;
        let duplicate = applied.is_duplicate();
        tracing::debug!(duplicate, version = r.customer.version(), "recorded");
        Ok(Recorded {
            duplicate,
            customer: r.customer,
            evaluation: if duplicate {
                None
            } else {
                result.into_inner().ok().flatten()
            },
        })
    }

    /// Adds a manual tag (optionally expiring).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let vip = Tag::new("value", "vip")?;
    /// let until = svc.now() + chrono::Duration::days(7);
    /// let c = block_on(svc.tag(t, id, vip.clone(), Some(until)))?;
    /// assert!(c.tags.contains(&vip, svc.now()));
    /// assert!(!c.tags.contains(&vip, until)); // expired by then
    /// assert_eq!(c.tags.get(&vip).map(|i| i.source), Some(TagSource::Manual));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], tombstones, store errors.
    pub async fn tag(
        &self,
        t: TenantId,
        id: CustomerId,
        tag: Tag,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Customer, Error> {
        let (r, _) = self
            .modify(t, id, |read, now| {
                read.customer.ensure_live()?;
                let mut c = read.customer.clone();
                if !c
                    .tags
                    .insert(tag.clone(), TagSource::Manual, now, expires_at)
                {
                    return Ok(None);
                }
                Ok(Some(Decision {
                    line_items: Vec::new(),
                    account_activities: Vec::new(),
                    events: vec![DomainEvent::TagAdded {
                        customer: c.id(),
                        tag: tag.clone(),
                        source: TagSource::Manual,
                    }],
                    customer: c,
                    stats: read.stats.clone(),
                    activities: Vec::new(),
                }))
            })
            .await?;
        Ok(r.customer)
    }

    /// Removes a tag, whatever its source.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let vip = Tag::new("value", "vip")?;
    /// block_on(svc.tag(t, id, vip.clone(), None))?;
    /// let c = block_on(svc.untag(t, id, &vip))?;
    /// assert!(c.tags.is_empty());
    /// // Removing a tag that is not there changes nothing.
    /// assert_eq!(block_on(svc.untag(t, id, &vip))?.version(), c.version());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], tombstones, store errors.
    pub async fn untag(&self, t: TenantId, id: CustomerId, tag: &Tag) -> Result<Customer, Error> {
        let (r, _) = self
            .modify(t, id, |read, _| {
                read.customer.ensure_live()?;
                let mut c = read.customer.clone();
                if c.tags.remove(tag).is_none() {
                    return Ok(None);
                }
                Ok(Some(Decision {
                    line_items: Vec::new(),
                    account_activities: Vec::new(),
                    events: vec![DomainEvent::TagRemoved {
                        customer: c.id(),
                        tag: tag.clone(),
                    }],
                    customer: c,
                    stats: read.stats.clone(),
                    activities: Vec::new(),
                }))
            })
            .await?;
        Ok(r.customer)
    }

    /// Pins a tier by hand until `until`, with who and why (checked by [`TierPin::new`] at
    /// the clock's now: a blank reason or an expiry not after now is refused).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let until = svc.now() + chrono::Duration::days(30);
    /// let e = block_on(svc.pin_tier(t, id, Tier::Platinum, Actor::new("li")?, "key account", until))?;
    /// assert_eq!(e.tier.to, Tier::Platinum);
    /// assert_eq!(block_on(svc.customer(t, id))?.customer.tier(), Tier::Platinum);
    /// // A blank reason is refused.
    /// assert!(block_on(svc.pin_tier(t, id, Tier::Gold, Actor::new("li")?, " ", until)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for the reason or the expiry, [`Error::NotFound`],
    /// tombstones, store errors.
    pub async fn pin_tier(
        &self,
        t: TenantId,
        id: CustomerId,
        tier: Tier,
        actor: Actor,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        self.decide_and_evaluate(t, id, None, move |c, now| {
            let pin = TierPin::new(tier, actor.clone(), reason, until, now)?;
            c.set_tier_state(TierState {
                pin: Some(pin),
                ..c.tier_state().clone()
            })?;
            Ok(())
        })
        .await
    }

    /// Sets the stage by hand until `until`, with who and why.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let until = svc.now() + chrono::Duration::days(10);
    /// let e = block_on(svc.override_stage(t, id, Stage::Active, Actor::new("li")?, "pilot", until))?;
    /// assert_eq!(e.stage.to, Stage::Active);
    /// assert_eq!(block_on(svc.customer(t, id))?.customer.stage(), Stage::Active);
    /// // Tombstone stages cannot be set by hand.
    /// assert!(matches!(
    ///     block_on(svc.override_stage(t, id, Stage::Erased, Actor::new("li")?, "no", until)),
    ///     Err(rapport::Error::Domain(DomainError::IllegalTransition { .. }))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::IllegalTransition`], [`Error::NotFound`], store errors.
    pub async fn override_stage(
        &self,
        t: TenantId,
        id: CustomerId,
        stage: Stage,
        actor: Actor,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        self.decide_and_evaluate(t, id, None, move |c, now| {
            let next = c
                .lifecycle()
                .override_stage(stage, actor.clone(), reason, until, now)?;
            c.set_lifecycle(next)?;
            Ok(())
        })
        .await
    }

    /// Re-evaluates one customer at the clock's now and stores what changed. Without the
    /// population ranking (as [`Service::record`]): a share ladder's tier and the tags of
    /// rules on RFM scores stay as the last [`Service::sweep`] decided them.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let e = block_on(svc.evaluate(t, id))?;
    /// assert_eq!(e.tier.to, Tier::Lead); // no purchases
    /// assert_eq!(e.stage.to, Stage::Prospect);
    /// // Nothing changed: evaluating again writes nothing.
    /// let before = block_on(svc.customer(t, id))?.customer.version();
    /// block_on(svc.evaluate(t, id))?;
    /// assert_eq!(block_on(svc.customer(t, id))?.customer.version(), before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], tombstones, store errors.
    #[tracing::instrument(name = "rapport.evaluate", level = "debug", skip_all, fields(tenant = %t, customer = %id))]
    pub async fn evaluate(&self, t: TenantId, id: CustomerId) -> Result<Evaluation, Error> {
        self.decide_and_evaluate(t, id, None, |_, _| Ok(())).await
    }

    /// Re-evaluates one customer at `now` (not the clock's) and stores what changed: the
    /// decisions a [`Service::sweep`] at the same `now` takes for this customer, without the
    /// population ranking (as [`Service::evaluate`]). Events are stamped `now`.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use chrono::{Duration, TimeZone, Utc};
    /// let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    /// let svc = Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(t0));
    /// let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// for (order, days) in [("1", 0), ("2", 20)] {
    ///     let a = NewActivity::purchase(id, order, Money::new("50".parse()?, Currency::EUR), t0 + Duration::days(days))?;
    ///     block_on(svc.record(t, a))?;
    /// }
    /// // A year later, as the nightly job would see it, whatever the clock says.
    /// let e = block_on(svc.evaluate_at(t, id, t0 + Duration::days(365)))?;
    /// assert_eq!(e.stage.to, Stage::Churned);
    /// assert_eq!(block_on(svc.customer(t, id))?.customer.stage(), Stage::Churned); // stored
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::evaluate`].
    #[tracing::instrument(name = "rapport.evaluate", level = "debug", skip_all, fields(tenant = %t, customer = %id))]
    pub async fn evaluate_at(
        &self,
        t: TenantId,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        self.decide_and_evaluate(t, id, Some(now), |_, _| Ok(()))
            .await
    }

    async fn decide_and_evaluate(
        &self,
        t: TenantId,
        id: CustomerId,
        at: Option<DateTime<Utc>>,
        change: impl Fn(&mut Customer, DateTime<Utc>) -> Result<(), DomainError>,
    ) -> Result<Evaluation, Error> {
        let result = std::sync::Mutex::new(None);
        let model = self.predictor(t).await?;
        let purchases = self
            .rule_lines(t, id)
            .await?
            .map(|l| PurchaseSummary::from_line_items(&l));
        let roles = self.roles_for(t, id).await?;
        self.modify_at(t, id, at, |read, now| {
            read.customer.ensure_live()?;
            let mut c = read.customer.clone();
            change(&mut c, now)?;
            let inputs = EvalInputs::at(now).with_account_roles(roles);
            let (customer, mut e) = self.evaluated(
                c,
                &read.stats,
                &inputs,
                model.as_deref(),
                purchases.as_ref(),
            )?;
            // A change made by hand (an override) moved the stage before the rules looked:
            // report the move from the stored stage, with its event, like any other.
            let stored = read.customer.stage();
            if customer.stage() != stored && e.stage.from != stored {
                e.stage.from = stored;
                e.events.push(DomainEvent::StageChanged {
                    customer: customer.id(),
                    from: stored,
                    to: customer.stage(),
                });
            }
            let events = e.events.clone();
            let unchanged = customer == read.customer;
            if let Ok(mut slot) = result.lock() {
                *slot = Some(e);
            }
            if unchanged {
                return Ok(None);
            }
            Ok(Some(Decision {
                line_items: Vec::new(),
                account_activities: Vec::new(),
                customer,
                stats: read.stats.clone(),
                activities: Vec::new(),
                events,
            }))
        })
        .await?;
        result
            .into_inner()
            .ok()
            .flatten()
            .ok_or(Error::NotFound(id))
    }

    /// A customer's activities in a time range, oldest first.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// # use rust_decimal::Decimal;
    /// for (key, days_ago) in [("b", 1), ("a", 5)] {
    ///     block_on(svc.record(t, rapport::NewActivity {
    ///         customer: id,
    ///         at: svc.now() - chrono::Duration::days(days_ago),
    ///         channel: Channel::Web,
    ///         idempotency_key: IdempotencyKey::new(key)?,
    ///         kind: ActivityKind::Purchase {
    ///             order_id: OrderId::new(key)?,
    ///             amount: Money::new(Decimal::from(10), Currency::EUR),
    ///             margin: None,
    ///         },
    ///     }))?;
    /// }
    /// let all = block_on(svc.timeline(t, id, TimeRange::all()))?;
    /// let keys: Vec<_> = all.iter().map(|a| a.idempotency_key.as_str()).collect();
    /// assert_eq!(keys, ["a", "b"]); // oldest first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn timeline(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, Error> {
        Ok(self.store.activities(t, id, range).await?)
    }

    /// Every customer of the tenant in `segment` at the clock's now, in id order, through
    /// [`Store::query`] (a SQL store filters in the database; others page through `scan`),
    /// collected into one `Vec`; [`Service::find_pages`] streams them page by page instead.
    ///
    /// Evaluated as `Store::query` documents: tombstones are included (add
    /// `stage != merged and stage != erased` to leave them out), and there are no RFM scores or
    /// churn risk in the context, so comparisons on `rfm.*` and `churn_risk` are false.
    ///
    /// ```
    /// use rapport_core::*;
    /// use rapport_memory::MemoryStore;
    /// let svc = rapport::blocking::Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let profile = Profile { email: Email::parse("ada@example.com").ok().map(Pii::new), ..Profile::default() };
    /// svc.register(t, profile)?;
    /// svc.register(t, Profile::default())?;
    /// let found = svc.find(t, &Segment::parse(r#"email_domain == "EXAMPLE.com""#)?)?;
    /// assert_eq!(found.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "rapport.find", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn find(&self, t: TenantId, segment: &Segment) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        let mut pages = std::pin::pin!(self.find_pages(t, segment, FIND_PAGE));
        while let Some(rows) = pages.next().await {
            out.extend(rows?);
        }
        tracing::debug!(rows = out.len(), "found");
        Ok(out)
    }

    /// The customers in `segment` at the clock's now (read once, when called), as a stream
    /// of pages of at most `page_size` records in id order: a tenant of any size is read
    /// with one page in memory at a time. Same matching as [`Service::find`]; the stream ends
    /// after the first page shorter than `page_size` (an empty page is never yielded) or
    /// after the first error.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// use futures::StreamExt;
    /// for _ in 0..5 {
    ///     block_on(svc.register(t, Profile::default()))?;
    /// }
    /// let everyone = Segment::parse("orders == 0")?;
    /// let sizes: Vec<usize> = block_on(
    ///     svc.find_pages(t, &everyone, 2).map(|page| page.map(|rows| rows.len())).collect::<Vec<_>>(),
    /// ).into_iter().collect::<Result<_, _>>()?;
    /// assert_eq!(sizes, [2, 2, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A page size of 0 is raised to 1. Each item is one [`Store::query`] call; its error ends
    /// the stream.
    pub fn find_pages<'a>(
        &'a self,
        t: TenantId,
        segment: &'a Segment,
        page_size: u32,
    ) -> impl Stream<Item = Result<Vec<Record>, Error>> + Send + 'a {
        let now = self.now();
        let limit = page_size.max(1);
        futures::stream::unfold(Some(Page::first(limit)), move |next| async move {
            let mut page = next?;
            match self.query_at(t, segment, now, page).await {
                Err(e) => Some((Err(e), None)),
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let full = rows.len() >= limit as usize;
                    page.after = rows.last().map(|r| r.customer.id());
                    Some((Ok(rows), full.then_some(page)))
                }
            }
        })
    }

    /// One page of the customers in `segment` at the clock's now: those after `page.after`,
    /// at most `page.limit`, in id order (see [`Service::find`] and [`Store::query`]).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// for _ in 0..3 {
    ///     block_on(svc.register(t, Profile::default()))?;
    /// }
    /// let everyone = Segment::parse("orders == 0")?;
    /// let first = block_on(svc.find_page(t, &everyone, Page::first(2)))?;
    /// assert_eq!(first.len(), 2);
    /// let mut next = Page::first(2);
    /// next.after = first.last().map(|r| r.customer.id());
    /// let rest = block_on(svc.find_page(t, &everyone, next))?;
    /// assert_eq!(rest.len(), 1);
    /// assert!(rest[0].customer.id() > first[1].customer.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "rapport.find_page", level = "debug", skip_all, fields(tenant = %t, limit = page.limit))]
    pub async fn find_page(
        &self,
        t: TenantId,
        segment: &Segment,
        page: Page,
    ) -> Result<Vec<Record>, Error> {
        self.query_at(t, segment, self.now(), page).await
    }

    /// [`Store::query`], except for a segment reading `clv_12m`: the store evaluates
    /// [`Segment::without_clv_12m`] (a superset, pushed down to SQL by the SQL stores) and the
    /// candidates are re-checked here with the CLV of the tenant's fitted model, reading on
    /// until the page is full or the store has no more.
    async fn query_at(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, Error> {
        if !segment.mentions_clv_12m() {
            return Ok(self.store.query(t, segment, now, page).await?);
        }
        let model = self.predictor(t).await?;
        let relaxed = segment.without_clv_12m();
        let limit = page.limit.max(1);
        let mut out = Vec::new();
        let mut next = Page { limit, ..page };
        let limit = limit as usize;
        loop {
            let rows = self.store.query(t, &relaxed, now, next).await?;
            let short = rows.len() < next.limit as usize;
            next.after = rows.last().map(|r| r.customer.id()).or(next.after);
            for r in rows {
                // A segment on line items too: the re-check reads the candidate's lines.
                let purchases = if segment.uses_line_items() {
                    self.store
                        .purchase_lines(t, r.customer.id())
                        .await?
                        .map(|l| PurchaseSummary::from_line_items(&l))
                } else {
                    None
                };
                if Predictor::matches(model.as_deref(), segment, &r, now, purchases.as_ref()) {
                    out.push(r);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            if short {
                return Ok(out);
            }
        }
    }

    /// Re-evaluates every live customer of the tenant at `now`: first ranks the population
    /// (RFM quintiles, share ladders), then evaluates each customer and writes what changed in
    /// batches of `batch` customers per changeset. `progress` is called after every batch.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///
    /// let vip = Tag::new("promo", "spring")?;
    /// block_on(svc.tag(t, id, vip.clone(), Some(svc.now() + chrono::Duration::days(1))))?;
    /// // Two days later the manual tag has expired: the sweep removes it.
    /// let later = svc.now() + chrono::Duration::days(2);
    /// let mut batches = 0;
    /// let done = block_on(svc.sweep(t, later, 100, |_| batches += 1))?;
    /// assert_eq!((done.evaluated, done.changed, batches), (1, 1, 1));
    /// assert!(block_on(svc.customer(t, id))?.customer.tags.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors; a batch that conflicts is retried customer by customer.
    pub async fn sweep(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        progress: impl FnMut(SweepProgress),
    ) -> Result<SweepProgress, Error> {
        self.sweep_inner(t, now, batch, progress, None::<fn(&Customer, &Evaluation)>)
            .await
    }

    /// [`Service::sweep`], handing `decided` every live customer evaluated with the decisions
    /// taken at `now` (tier, stage, tags, RFM, churn risk, each with its reason): the customer
    /// as stored after the sweep, whether it changed or not. Customers come in id order,
    /// batch by batch; a customer redone after a conflict is reported once, with the decision
    /// that was stored. Tombstones are not evaluated, so they are not reported.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use chrono::{Duration, TimeZone, Utc};
    /// let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    /// let svc = Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(t0));
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let bob = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let big = Money::new("2500".parse()?, Currency::USD);
    /// block_on(svc.record(t, NewActivity::purchase(ann, "1", big, t0)?))?;
    ///
    /// // Two years on: ann has churned (and her gold tier's grace period starts); bob is
    /// // still a prospect, which changes nothing.
    /// let mut seen = Vec::new();
    /// let done = block_on(svc.sweep_with_decisions(t, t0 + Duration::days(730), 100, |c, e| {
    ///     seen.push((c.id(), c.stage(), e.stage.to, e.stage.reason.to_string()));
    /// }))?;
    /// assert_eq!((done.evaluated, done.changed), (2, 1));
    /// assert_eq!(seen.len(), 2);
    /// assert!(seen[0].0 < seen[1].0); // id order
    /// let (_, stored, decided, why) = seen.iter().find(|s| s.0 == ann).unwrap();
    /// assert_eq!((*stored, *decided), (Stage::Churned, Stage::Churned));
    /// assert!(why.starts_with("lifecycle."), "{why}");
    /// assert!(seen.iter().any(|s| s.0 == bob && s.1 == Stage::Prospect));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::sweep`].
    pub async fn sweep_with_decisions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        decided: impl FnMut(&Customer, &Evaluation),
    ) -> Result<SweepProgress, Error> {
        self.sweep_inner(t, now, batch, |_| {}, Some(decided)).await
    }

    #[tracing::instrument(name = "rapport.sweep", level = "info", skip_all, fields(tenant = %t, batch = batch))]
    async fn sweep_inner(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        mut progress: impl FnMut(SweepProgress),
        mut decided: Option<impl FnMut(&Customer, &Evaluation)>,
    ) -> Result<SweepProgress, Error> {
        let batch = batch.max(1);
        let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
        // Pass 1, only when the policies compare customers with each other (share ladders,
        // RFM): rank on compact inputs.
        let ranking = self.policies.needs_ranking();
        let model = self.predictor(t).await?;
        let clv_metric = self.policies.tier.ladder.metric == rapport_core::TierMetric::Clv;
        let mut inputs = Vec::new();
        let mut page = Page::first(batch);
        if ranking {
            loop {
                let rows = self.store.scan(t, page).await?;
                let Some(last) = rows.last() else { break };
                page.after = Some(last.customer.id());
                inputs.extend(rows.iter().filter(|r| r.customer.is_live()).map(|r| {
                    let clv = model
                        .as_deref()
                        .filter(|_| clv_metric)
                        .and_then(|m| m.predict(&r.stats, now).1)
                        .and_then(rust_decimal::Decimal::from_f64_retain);
                    RankInput::of(r.customer.id(), &r.stats, &self.policies, now, clv)
                }));
            }
        }
        // In scan order, i.e. by id: pass 2 walks it with a cursor instead of hashing a
        // million ids (random lookups in a large map were a fifth of the sweep).
        let mut ranked: Vec<Ranked> = if ranking {
            rank_values(&inputs, &self.policies, now)
        } else {
            Vec::new()
        };
        if !ranked.is_sorted_by_key(|r| r.customer) {
            ranked.sort_unstable_by_key(|r| r.customer);
        }
        let mut cursor = 0usize;
        let mut report = SweepProgress {
            total: ranked.len(),
            ..SweepProgress::default()
        };
        drop(inputs);
        // Pass 2: evaluate and write.
        let collect = decided.is_some();
        let mut page = Page::first(batch);
        loop {
            let rows = self.store.scan(t, page).await?;
            let Some(last) = rows.last() else { break };
            page.after = Some(last.customer.id());
            // The page's account roles, in one read, when a tag rule tests them.
            let roles = self.page_roles(t, &rows).await?;
            let mut cs = Changeset::new();
            let mut changed = Vec::new();
            // What `decided` is told about this batch, in id order (only when collecting).
            let mut pending = Vec::new();
            // The page is ours: a changed customer and its stats move into the changeset
            // without a clone.
            for (i, r) in rows.into_iter().enumerate() {
                if !r.customer.is_live() {
                    continue;
                }
                if !ranking {
                    report.total += 1;
                }
                let id = r.customer.id();
                let held = roles.as_ref().and_then(|h| h.get(i)).copied();
                let inputs = inputs_for(find_ranked(&ranked, &mut cursor, id), now)
                    .with_account_roles(held.unwrap_or_default());
                let purchases = self
                    .rule_lines_for(t, id, &r.stats)
                    .await?
                    .map(|l| PurchaseSummary::from_line_items(&l));
                let mut e = self.evaluate_with(
                    &r.customer,
                    &r.stats,
                    &inputs,
                    model.as_deref(),
                    purchases.as_ref(),
                )?;
                report.evaluated += 1;
                if e.is_noop(&r.customer) {
                    if collect {
                        pending.push(Swept::Kept(Box::new(r.customer), e));
                    }
                    continue;
                }
                let expected_version = r.customer.version();
                let mut next = r.customer.with_version(expected_version + 1);
                e.apply_to(&mut next);
                changed.push((id, e.events.len()));
                let first_message = cs.outbox.len();
                if collect {
                    cs.outbox.extend(self.messages(t, now, e.events.clone()));
                    pending.push(Swept::Changed(cs.customers.len(), e));
                } else {
                    cs.outbox
                        .extend(self.messages(t, now, std::mem::take(&mut e.events)));
                }
                for m in &mut cs.outbox[first_message..] {
                    m.cause = Some(EventCause::Time);
                }
                cs.customers.push(CustomerWrite::Update {
                    expected_version,
                    customer: Box::new(next),
                    stats: Box::new(r.stats),
                });
            }
            // After a conflict: each redone customer as stored and its decision, in order.
            let mut redone = Vec::new();
            let mut conflicted = false;
            if !cs.is_empty() {
                match self.store.apply(t, &cs).await {
                    Ok(_) => {
                        report.changed += changed.len();
                        report.events += changed.iter().map(|(_, n)| n).sum::<usize>();
                    }
                    Err(StoreError::Conflict { .. }) => {
                        conflicted = true;
                        tracing::debug!(
                            customers = changed.len(),
                            "sweep batch conflicted; redoing customer by customer"
                        );
                        // Someone wrote meanwhile: redo those customers one by one.
                        for (id, _) in changed {
                            let inputs = inputs_for(
                                ranked
                                    .binary_search_by_key(&id, |r| r.customer)
                                    .ok()
                                    .map(|i| &ranked[i]),
                                now,
                            )
                            .with_account_roles(self.roles_for(t, id).await?);
                            let slot = std::sync::Mutex::new(None);
                            let purchases = self
                                .rule_lines(t, id)
                                .await?
                                .map(|l| PurchaseSummary::from_line_items(&l));
                            let (r, applied) = self
                                .modify(t, id, |read, _| {
                                    let keep = |e| {
                                        if let Ok(mut s) = slot.lock() {
                                            *s = e;
                                        }
                                    };
                                    keep(None);
                                    if !read.customer.is_live() {
                                        return Ok(None);
                                    }
                                    let e = self.evaluate_with(
                                        &read.customer,
                                        &read.stats,
                                        &inputs,
                                        model.as_deref(),
                                        purchases.as_ref(),
                                    )?;
                                    if collect {
                                        keep(Some(e.clone()));
                                    }
                                    if e.is_noop(&read.customer) {
                                        return Ok(None);
                                    }
                                    let mut c = read.customer.clone();
                                    e.apply_to(&mut c);
                                    Ok(Some(Decision {
                                        line_items: Vec::new(),
                                        account_activities: Vec::new(),
                                        customer: c,
                                        stats: read.stats.clone(),
                                        activities: Vec::new(),
                                        events: e.events,
                                    }))
                                })
                                .await?;
                            report.changed += usize::from(applied.customers > 0);
                            report.events += applied.messages;
                            if collect {
                                let e = slot.into_inner().ok().flatten();
                                redone.push(e.map(|e| (r.customer, e)));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = store_kind(&e), "sweep batch failed");
                        return Err(e.into());
                    }
                }
            }
            if let Some(tell) = decided.as_mut() {
                let mut redone = redone.into_iter();
                for p in &pending {
                    match p {
                        Swept::Kept(c, e) => tell(c, e),
                        Swept::Changed(i, e) if !conflicted => {
                            if let Some(w) = cs.customers.get(*i) {
                                tell(w.customer(), e);
                            }
                        }
                        Swept::Changed(..) => {
                            if let Some(Some((c, e))) = redone.next() {
                                tell(&c, &e);
                            }
                        }
                    }
                }
            }
            tracing::debug!(
                evaluated = report.evaluated,
                changed = report.changed,
                events = report.events,
                "sweep batch"
            );
            progress(report);
        }
        tracing::info!(
            total = report.total,
            evaluated = report.evaluated,
            changed = report.changed,
            events = report.events,
            duration_ms = started.map_or(0, |s| u64::try_from(s.elapsed().as_millis())
                .unwrap_or(u64::MAX)),
            "swept"
        );
        Ok(report)
    }
}

/// The ranking of `id` in `ranked` (sorted by id), moving `cursor` forward: pages come in id
/// order, so this is a merge walk; an id behind the cursor falls back to a binary search.
fn find_ranked<'a>(ranked: &'a [Ranked], cursor: &mut usize, id: CustomerId) -> Option<&'a Ranked> {
    if ranked.get(*cursor).is_none_or(|r| r.customer > id) {
        return ranked
            .binary_search_by_key(&id, |r| r.customer)
            .ok()
            .map(|i| &ranked[i]);
    }
    while ranked.get(*cursor).is_some_and(|r| r.customer < id) {
        *cursor += 1;
    }
    ranked.get(*cursor).filter(|r| r.customer == id)
}

fn inputs_for(r: Option<&Ranked>, now: DateTime<Utc>) -> EvalInputs {
    EvalInputs::at(now).with_ranked(r)
}

/// Returns `Pending` once (waking itself at once), so the executor polls its other ready tasks
/// before the caller goes on. Needs no runtime or timer: under `block_on` it is a re-poll.
pub(crate) fn yield_to_executor() -> impl std::future::Future<Output = ()> + Send {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
}

// What the use cases in other modules of the crate (privacy, …) need of the service's
// private parts.
impl<S, N> Service<S, N> {
    /// The id source.
    pub(crate) fn id_source(&self) -> &dyn IdSource {
        &*self.ids
    }

    /// How many times a use case decides again after a version conflict.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts
    }
}
mod merge;
mod stats;
pub use merge::{AUTO_MERGE_ACTOR, AutoMerged, DuplicateOptions, MergeRequest, Merged};

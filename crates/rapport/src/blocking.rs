//! A synchronous face of the [`crate::Service`] for hosts without an async runtime: every
//! method drives the same future with `futures::executor::block_on`. No tokio needed for the
//! in-memory or SQLite stores.

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;

use crate::activity::NewActivity;
use crate::clock::{Clock, IdSource};
use crate::error::Error;
use crate::relay::{RelayConfig, RelayReport, relay_once};
use crate::service::{NoopNotifier, Recorded, Registered, SweepProgress};

/// The blocking service.
///
/// ```
/// use rapport::blocking::Service;
/// use rapport_core::*;
/// use rapport_memory::MemoryStore;
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// let profile = Profile { email: Some(Pii::new(Email::parse("ann@example.com")?)), ..Profile::default() };
/// let first = svc.register(t, profile.clone())?;
/// let again = svc.register(t, profile)?; // same email: the existing customer
/// assert!(first.created && !again.created);
/// assert_eq!(first.customer.id(), again.customer.id());
/// # Ok::<(), rapport::Error>(())
/// ```
///
/// It is configured with the same builder methods as the async service:
///
/// ```
/// use rapport::{Clock, ManualClock, blocking::Service};
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
/// let mut policies = Policies::default();
/// policies.tier.grace_days = 60;
/// let clock = ManualClock::at("2026-05-01T09:00:00Z".parse()?);
/// let svc = Service::new(MemoryStore::new())
///     .with_policies(policies)?
///     .with_clock(clock.clone())
///     .with_max_attempts(4);
/// assert_eq!(svc.policies().tier.grace_days, 60);
/// assert_eq!(svc.now(), clock.now());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Service<S, N = NoopNotifier>(crate::Service<S, N>);

impl<S: std::fmt::Debug, N> std::fmt::Debug for Service<S, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Service").field(&self.0).finish()
    }
}

impl<S: Store> Service<S, NoopNotifier> {
    /// See [`crate::Service::new`].
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport_core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let ann = svc.register(TenantId::from_u128(1), Profile::default())?;
    /// assert!(ann.created && ann.customer.stage() == Stage::Prospect);
    /// # Ok::<(), rapport::Error>(())
    /// ```
    pub fn new(store: S) -> Self {
        Self(crate::Service::new(store))
    }
}

impl<S: Store, N: Notifier> Service<S, N> {
    /// Wraps an async service.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let clock = rapport::ManualClock::at(chrono::DateTime::UNIX_EPOCH);
    /// let svc = Service::from_async(rapport::Service::new(MemoryStore::new()).with_clock(clock));
    /// let ann = svc.register(t, Profile::default())?.customer;
    /// assert_eq!(ann.created_at(), chrono::DateTime::UNIX_EPOCH);
    /// assert_eq!(svc.inner().store().pending_outbox()?, 1);
    /// let store = svc.into_inner().into_store();
    /// assert_eq!(store.pending_outbox()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_async(inner: crate::Service<S, N>) -> Self {
        Self(inner)
    }

    /// Replaces the notifier; see [`crate::Service::with_notifier`]. The notifier needs no
    /// `Debug`.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// #[derive(Default)]
    /// struct Counting(AtomicU32); // no Debug
    /// impl Notifier for Counting {
    ///     async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
    ///         self.0.fetch_add(1, Ordering::SeqCst);
    ///         Ok(())
    ///     }
    /// }
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_notifier(Counting::default());
    /// svc.register(TenantId::from_u128(1), Profile::default())?;
    /// let r = svc.relay_once(&rapport::RelayConfig::default(), svc.now())?;
    /// assert_eq!((r.claimed, r.delivered), (1, 1));
    /// assert_eq!(svc.notifier().0.load(Ordering::SeqCst), 1);
    /// println!("{svc:?}"); // Debug without the notifier's
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_notifier<M: Notifier>(self, notifier: M) -> Service<S, M> {
        Service(self.0.with_notifier(notifier))
    }

    /// Replaces the clock; see [`crate::Service::with_clock`].
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::{ManualClock, blocking::Service};
    /// use rapport::core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_clock(ManualClock::at(now));
    /// assert_eq!(svc.register(TenantId::from_u128(1), Profile::default())?.customer.created_at(), now);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        Self(self.0.with_clock(clock))
    }

    /// Replaces the id source; see [`crate::Service::with_ids`].
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// struct Sequential(AtomicU64);
    /// impl rapport::IdSource for Sequential {
    ///     fn next(&self) -> uuid::Uuid { uuid::Uuid::from_u128(self.0.fetch_add(1, Ordering::SeqCst).into()) }
    /// }
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_ids(Sequential(AtomicU64::new(1)));
    /// let ann = svc.register(TenantId::from_u128(1), Profile::default())?.customer;
    /// assert_eq!(ann.id(), CustomerId::from_u128(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_ids(self, ids: impl IdSource + 'static) -> Self {
        Self(self.0.with_ids(ids))
    }

    /// How many times a use case re-decides after a version conflict; see
    /// [`crate::Service::with_max_attempts`].
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_max_attempts(0); // raised to 1
    /// assert!(svc.register(TenantId::from_u128(1), Profile::default())?.created);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_max_attempts(self, attempts: u32) -> Self {
        Self(self.0.with_max_attempts(attempts))
    }

    /// Replaces the policies; see [`crate::Service::with_policies`].
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let mut p = Policies::default();
    /// p.tier.ladder = TierLadder::classic_pyramid();
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_policies(p.clone())?;
    /// assert_eq!(svc.policies(), &p);
    /// let mut bad = Policies::default();
    /// bad.lifecycle.churn_factor = -1.0;
    /// assert!(svc.with_policies(bad).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// When a policy is invalid.
    pub fn with_policies(self, policies: Policies) -> Result<Self, Error> {
        Ok(Self(self.0.with_policies(policies)?))
    }

    /// The store.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// svc.register(TenantId::from_u128(1), Profile::default())?;
    /// assert_eq!(svc.store().pending_outbox()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store(&self) -> &S {
        self.0.store()
    }

    /// Gives the store back.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// svc.register(TenantId::from_u128(1), Profile::default())?;
    /// assert_eq!(svc.into_store().pending_outbox()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_store(self) -> S {
        self.0.into_store()
    }

    /// The notifier.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let _: &rapport::NoopNotifier = svc.notifier();
    /// ```
    pub fn notifier(&self) -> &N {
        self.0.notifier()
    }

    /// The policies.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// assert_eq!(svc.policies(), &rapport::core::Policies::default());
    /// ```
    pub fn policies(&self) -> &Policies {
        self.0.policies()
    }

    /// The clock's now.
    ///
    /// ```
    /// use rapport::{ManualClock, blocking::Service};
    /// let clock = ManualClock::at(chrono::DateTime::UNIX_EPOCH);
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_clock(clock.clone());
    /// clock.advance(chrono::Duration::days(1));
    /// assert_eq!(svc.now().to_rfc3339(), "1970-01-02T00:00:00+00:00");
    /// ```
    pub fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    /// The async service inside.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// assert_eq!(svc.inner().policies(), &rapport::core::Policies::default());
    /// ```
    pub fn inner(&self) -> &crate::Service<S, N> {
        &self.0
    }

    /// Consumes the wrapper.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport_core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// svc.register(TenantId::from_u128(1), Profile::default())?;
    /// let store = svc.into_inner().into_store();
    /// assert_eq!(store.pending_outbox()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> crate::Service<S, N> {
        self.0
    }

    /// See [`crate::Service::customer`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// assert_eq!(svc.customer(t, id)?.customer.id(), id);
    /// assert!(matches!(svc.customer(t, CustomerId::from_u128(9)), Err(rapport::Error::NotFound(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn customer(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        block_on(self.0.customer(t, id))
    }

    /// See [`crate::Service::register`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let r = svc.register(t, Profile::default())?;
    /// assert!(r.created);
    /// assert_eq!(r.customer.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn register(&self, t: TenantId, profile: Profile) -> Result<Registered, Error> {
        block_on(self.0.register(t, profile))
    }

    /// See [`crate::Service::register_or_update`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # let svc = Service::new(rapport_memory::MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let email = Some(Pii::new(Email::parse("ann@example.com")?));
    /// svc.register(t, Profile { email: email.clone(), ..Profile::default() })?;
    /// let named = Profile { email, display_name: Some(Pii::new("Ann".into())), ..Profile::default() };
    /// let r = svc.register_or_update(t, named, &SurvivorshipPolicy::default())?;
    /// assert_eq!(r.updated, [MergeField::DisplayName]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn register_or_update(
        &self,
        t: TenantId,
        profile: Profile,
        policy: &SurvivorshipPolicy,
    ) -> Result<Registered, Error> {
        block_on(self.0.register_or_update(t, profile, policy))
    }

    /// See [`crate::Service::register_new`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let phone = Phone::from_e164("+8613800138000")?;
    /// let p = Profile { phone: Some(Pii::new(phone)), ..Profile::default() };
    /// let li = svc.register_new(t, p.clone())?;
    /// assert!(matches!(
    ///     svc.register_new(t, p),
    ///     Err(rapport::Error::Store(StoreError::ContactTaken { existing, .. })) if existing == li.id()
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn register_new(&self, t: TenantId, profile: Profile) -> Result<Customer, Error> {
        block_on(self.0.register_new(t, profile))
    }

    /// See [`crate::Service::update_profile`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let c = svc.update_profile(t, id, |p| {
    ///     p.email = Some(Pii::new(Email::parse("ann@example.com")?));
    ///     Ok(())
    /// })?;
    /// assert_eq!(c.version(), 2);
    /// assert!(c.profile.email.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn update_profile(
        &self,
        t: TenantId,
        id: CustomerId,
        edit: impl Fn(&mut Profile) -> Result<(), DomainError>,
    ) -> Result<Customer, Error> {
        block_on(self.0.update_profile(t, id, edit))
    }

    /// See [`crate::Service::record`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    /// # use rust_decimal::Decimal;
    /// let order = rapport::NewActivity {
    ///     customer: id,
    ///     at: svc.now(),
    ///     channel: Channel::Web,
    ///     idempotency_key: IdempotencyKey::new("order-1")?,
    ///     kind: ActivityKind::Purchase {
    ///         order_id: OrderId::new("1")?,
    ///         amount: Money::new(Decimal::from(30), Currency::EUR),
    ///         margin: None,
    ///     },
    /// };
    /// assert!(!svc.record(t, order.clone())?.duplicate);
    /// assert!(svc.record(t, order)?.duplicate);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn record(&self, t: TenantId, a: NewActivity) -> Result<Recorded, Error> {
        block_on(self.0.record(t, a))
    }

    /// See [`crate::Service::tag`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let vip = Tag::new("value", "vip")?;
    /// let c = svc.tag(t, id, vip.clone(), None)?;
    /// assert!(c.tags.contains(&vip, svc.now()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn tag(
        &self,
        t: TenantId,
        id: CustomerId,
        tag: Tag,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Customer, Error> {
        block_on(self.0.tag(t, id, tag, expires_at))
    }

    /// See [`crate::Service::untag`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let vip = Tag::new("value", "vip")?;
    /// svc.tag(t, id, vip.clone(), None)?;
    /// assert!(svc.untag(t, id, &vip)?.tags.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn untag(&self, t: TenantId, id: CustomerId, tag: &Tag) -> Result<Customer, Error> {
        block_on(self.0.untag(t, id, tag))
    }

    /// See [`crate::Service::pin_tier`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let until = svc.now() + chrono::Duration::days(30);
    /// let e = svc.pin_tier(t, id, Tier::Gold, Actor::new("li")?, "partner", until)?;
    /// assert_eq!(e.tier.to, Tier::Gold);
    /// assert_eq!(svc.customer(t, id)?.customer.tier(), Tier::Gold);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn pin_tier(
        &self,
        t: TenantId,
        id: CustomerId,
        tier: Tier,
        actor: Actor,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        block_on(self.0.pin_tier(t, id, tier, actor, reason, until))
    }

    /// See [`crate::Service::override_stage`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let until = svc.now() + chrono::Duration::days(10);
    /// let e = svc.override_stage(t, id, Stage::Active, Actor::new("li")?, "pilot", until)?;
    /// assert_eq!(e.stage.to, Stage::Active);
    /// assert_eq!(svc.customer(t, id)?.customer.stage(), Stage::Active);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn override_stage(
        &self,
        t: TenantId,
        id: CustomerId,
        stage: Stage,
        actor: Actor,
        reason: &str,
        until: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        block_on(self.0.override_stage(t, id, stage, actor, reason, until))
    }

    /// See [`crate::Service::evaluate`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// let e = svc.evaluate(t, id)?;
    /// assert_eq!(e.stage.to, Stage::Prospect);
    /// assert!(!e.churn_alert);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn evaluate(&self, t: TenantId, id: CustomerId) -> Result<Evaluation, Error> {
        block_on(self.0.evaluate(t, id))
    }

    /// See [`crate::Service::fit_clv`]: fits a count model (and Gamma-Gamma) on the book and
    /// stores it as the tenant's model.
    ///
    /// ```
    /// use rapport::{FitClvOptions, blocking::Service};
    /// use rapport::core::TenantId;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// // An empty book has nothing to fit.
    /// assert!(matches!(svc.fit_clv(TenantId::from_u128(1), FitClvOptions::default()), Err(rapport::Error::Clv(_))));
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn fit_clv(
        &self,
        t: TenantId,
        options: crate::FitClvOptions,
    ) -> Result<crate::ClvFit, Error> {
        block_on(self.0.fit_clv(t, options))
    }

    /// See [`crate::Service::decide`]: the evaluation at `now`, with the fitted model, without
    /// writing.
    ///
    /// # Errors
    /// As the async method.
    pub fn decide(
        &self,
        t: TenantId,
        record: &Record,
        now: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        block_on(self.0.decide(t, record, now))
    }

    /// See [`crate::Service::clv_model`].
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let m = FittedClv {
    ///     model: ClvModel::BgNbd { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 },
    ///     spend: None,
    ///     period: ClvPeriod::Week,
    ///     monthly_discount: 0.01,
    ///     fitted_at: chrono::DateTime::UNIX_EPOCH,
    /// };
    /// svc.save_clv_model(t, m)?;
    /// assert_eq!(svc.clv_model(t)?, Some(m));
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn clv_model(&self, t: TenantId) -> Result<Option<FittedClv>, Error> {
        block_on(self.0.clv_model(t))
    }

    /// See [`crate::Service::save_clv_model`].
    ///
    /// # Errors
    /// As the async method.
    pub fn save_clv_model(&self, t: TenantId, model: FittedClv) -> Result<(), Error> {
        block_on(self.0.save_clv_model(t, model))
    }

    /// See [`crate::Service::forget_clv_models`].
    ///
    /// ```
    /// let svc = rapport::blocking::Service::new(rapport_memory::MemoryStore::new());
    /// svc.forget_clv_models(); // the next evaluation of each tenant reads its model again
    /// ```
    pub fn forget_clv_models(&self) {
        self.0.forget_clv_models();
    }

    /// See [`crate::Service::refold_stats`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let mut policies = Policies::default();
    /// policies.stats.category_spend.insert(ProductCategory::new("tea")?);
    /// let svc = Service::new(MemoryStore::new()).with_policies(policies)?;
    /// # let t = TenantId::from_u128(1);
    /// let id = svc.register(t, Profile::default())?.customer.id();
    /// let r = svc.refold_stats(t, id)?;
    /// assert!(r.stats.tracks_category(&ProductCategory::new("tea")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn refold_stats(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        block_on(self.0.refold_stats(t, id))
    }

    /// See [`crate::Service::evaluate_at`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    /// let vip = Tag::new("promo", "spring")?;
    /// svc.tag(t, id, vip.clone(), Some(svc.now() + chrono::Duration::days(1)))?;
    /// let e = svc.evaluate_at(t, id, svc.now() + chrono::Duration::days(2))?;
    /// assert_eq!(e.tags_removed.len(), 1); // expired by then: removed and stored
    /// assert_eq!(e.tags_removed[0].tag, vip);
    /// assert!(svc.customer(t, id)?.customer.tags.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn evaluate_at(
        &self,
        t: TenantId,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        block_on(self.0.evaluate_at(t, id, now))
    }

    /// See [`crate::Service::timeline`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    /// # use rust_decimal::Decimal;
    /// let order = rapport::NewActivity {
    ///     customer: id,
    ///     at: svc.now(),
    ///     channel: Channel::Web,
    ///     idempotency_key: IdempotencyKey::new("order-1")?,
    ///     kind: ActivityKind::Purchase {
    ///         order_id: OrderId::new("1")?,
    ///         amount: Money::new(Decimal::from(30), Currency::EUR),
    ///         margin: None,
    ///     },
    /// };
    /// svc.record(t, order)?;
    /// let acts = svc.timeline(t, id, TimeRange::all())?;
    /// assert_eq!(acts.len(), 1);
    /// assert_eq!(acts[0].idempotency_key.as_str(), "order-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn timeline(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, Error> {
        block_on(self.0.timeline(t, id, range))
    }

    /// See [`crate::Service::find`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let id = svc.register(t, Profile::default())?.customer.id();
    ///
    /// svc.tag(t, id, Tag::new("value", "vip")?, None)?;
    /// svc.register(t, Profile::default())?;
    /// let vips = svc.find(t, &Segment::parse(r#"has_tag("value:vip")"#)?)?;
    /// assert_eq!(vips.len(), 1);
    /// assert_eq!(vips[0].customer.id(), id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn find(&self, t: TenantId, segment: &Segment) -> Result<Vec<Record>, Error> {
        block_on(self.0.find(t, segment))
    }

    /// See [`crate::Service::find_pages`]: the matching customers as an iterator of pages of
    /// at most `page_size` records, each read when the iterator is advanced.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// for _ in 0..5 {
    ///     svc.register(t, Profile::default())?;
    /// }
    /// let everyone = Segment::parse("orders == 0")?;
    /// let mut seen = 0;
    /// for page in svc.find_pages(t, &everyone, 2) {
    ///     let page = page?;
    ///     assert!(page.len() <= 2);
    ///     seen += page.len();
    /// }
    /// assert_eq!(seen, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_pages<'a>(
        &'a self,
        t: TenantId,
        segment: &'a Segment,
        page_size: u32,
    ) -> impl Iterator<Item = Result<Vec<Record>, Error>> + 'a {
        futures::executor::block_on_stream(Box::pin(self.0.find_pages(t, segment, page_size)))
    }

    /// See [`crate::Service::find_page`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// for _ in 0..3 {
    ///     svc.register(t, Profile::default())?;
    /// }
    /// let page = svc.find_page(t, &Segment::parse("orders == 0")?, Page::first(2))?;
    /// assert_eq!(page.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn find_page(
        &self,
        t: TenantId,
        segment: &Segment,
        page: Page,
    ) -> Result<Vec<Record>, Error> {
        block_on(self.0.find_page(t, segment, page))
    }

    /// See [`crate::Service::sweep`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// for _ in 0..5 {
    ///     svc.register(t, Profile::default())?;
    /// }
    /// let mut calls = 0;
    /// let done = svc.sweep(t, svc.now(), 2, |_| calls += 1)?;
    /// assert_eq!((done.evaluated, done.total, calls), (5, 5, 3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn sweep(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        progress: impl FnMut(SweepProgress),
    ) -> Result<SweepProgress, Error> {
        block_on(self.0.sweep(t, now, batch, progress))
    }

    /// See [`crate::Service::sweep_with_decisions`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// for _ in 0..3 {
    ///     svc.register(t, Profile::default())?;
    /// }
    /// let mut decisions = Vec::new();
    /// let done = svc.sweep_with_decisions(t, svc.now(), 2, |c, e| decisions.push((c.id(), e.clone())))?;
    /// assert_eq!((done.evaluated, decisions.len()), (3, 3));
    /// assert!(decisions.iter().all(|(_, e)| e.stage.to == Stage::Prospect));
    /// assert!(decisions.is_sorted_by_key(|(id, _)| *id)); // id order
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn sweep_with_decisions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        decided: impl FnMut(&Customer, &Evaluation),
    ) -> Result<SweepProgress, Error> {
        block_on(self.0.sweep_with_decisions(t, now, batch, decided))
    }

    /// One outbox relay round through this service's notifier.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// struct Down;
    /// impl Notifier for Down {
    ///     async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
    ///         Err(NotifyError::Failed { reason: "webhook down".into() })
    ///     }
    /// }
    /// let svc = Service::new(MemoryStore::new()).with_notifier(Down);
    /// svc.register(t, Profile::default())?;
    /// let r = svc.relay_once(&rapport::RelayConfig::default(), svc.now())?;
    /// assert_eq!((r.claimed, r.delivered, r.failed), (1, 0, 1));
    /// assert_eq!(svc.store().pending_outbox()?, 1); // kept, retried after a back-off
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub fn relay_once(&self, config: &RelayConfig, now: DateTime<Utc>) -> Result<RelayReport, Error>
    where
        S: Outbox,
    {
        block_on(relay_once(self.0.store(), self.0.notifier(), config, now))
    }

    /// See [`crate::Service::simulate`]: the proposed policy against the book, nothing written.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// svc.register(t, Profile::default())?;
    /// let mut proposed = Policies::default();
    /// proposed.tier.ladder = TierLadder::vip_heavy();
    /// let s = svc.simulate(t, &proposed, svc.now())?;
    /// assert_eq!(s.current.total(), 1);
    /// assert_eq!(s.proposed.stages["prospect"], 1);
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn simulate(
        &self,
        t: TenantId,
        proposed: &Policies,
        now: DateTime<Utc>,
    ) -> Result<Simulation, Error> {
        block_on(self.0.simulate(t, proposed, now))
    }

    /// See [`crate::Service::as_of`]: the customer recomputed at a past date.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let id = svc.register(t, Profile::default())?.customer.id();
    /// let then = svc.as_of(t, id, svc.now())?;
    /// assert_eq!(then.evaluation.stage.to, Stage::Prospect);
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn as_of(&self, t: TenantId, id: CustomerId, at: DateTime<Utc>) -> Result<AsOf, Error> {
        block_on(self.0.as_of(t, id, at))
    }

    /// Opens a case (see [`crate::Service::open_case`]).
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::{CaseChange, OpenCase};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let ann = svc.register(t, Profile::default())?.customer.id();
    /// let case = svc.open_case(t, OpenCase::new(ann, CaseCategory::new("billing")?, CaseSeverity::Low, Channel::Web))?;
    /// let case = svc.update_case(t, case.id(), CaseChange::Assign(Some(Assignee::new("agent-2")?)))?;
    /// assert_eq!(svc.cases(t, CaseQuery::open(10))?, vec![case.clone()]);
    /// assert!(svc.breached(t, svc.now())?.is_empty());
    /// assert_eq!(svc.case(t, case.id())?.assignee().map(Assignee::as_str), Some("agent-2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn open_case(&self, t: TenantId, open: crate::OpenCase) -> Result<Case, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.open_case(t, open))
    }

    /// Records a complaint and opens its case (see [`crate::Service::record_complaint`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn record_complaint(
        &self,
        t: TenantId,
        a: NewActivity,
        category: CaseCategory,
    ) -> Result<crate::ComplaintRecorded, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.record_complaint(t, a, category))
    }

    /// One case.
    ///
    /// # Errors
    /// As the async method.
    pub fn case(&self, t: TenantId, id: CaseId) -> Result<Case, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.case(t, id))
    }

    /// Records a purchase or refund with its line items (see the async
    /// [`record_with_lines`](crate::Service::record_with_lines)).
    ///
    /// # Errors
    /// As the async method.
    pub fn record_with_lines(
        &self,
        t: TenantId,
        a: NewActivity,
        lines: Vec<LineItem>,
        allow_total_mismatch: bool,
    ) -> Result<Recorded, Error> {
        block_on(self.0.record_with_lines(t, a, lines, allow_total_mismatch))
    }

    /// The top `k` items for a customer (see the async
    /// [`recommend`](crate::Service::recommend)).
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = svc.register(t, Profile::default())?.customer.id();
    /// assert!(svc.recommend(t, ann, 10)?.cold_start);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn recommend(
        &self,
        t: TenantId,
        id: CustomerId,
        k: usize,
    ) -> Result<crate::Recommendations, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.recommend(t, id, k))
    }

    /// [`recommend`](Self::recommend) with other model parameters.
    ///
    /// # Errors
    /// As the async method.
    pub fn recommend_with(
        &self,
        t: TenantId,
        id: CustomerId,
        k: usize,
        params: rapport_core::recommend::CosineParams,
    ) -> Result<crate::Recommendations, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.recommend_with(t, id, k, params))
    }

    /// A [`crate::Recommender`] the host keeps (see the async method).
    ///
    /// # Errors
    /// As the async method.
    pub fn recommender(
        &self,
        t: TenantId,
        params: rapport_core::recommend::CosineParams,
    ) -> Result<crate::Recommender, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.recommender(t, params))
    }

    /// Recommendations from a kept [`crate::Recommender`] (see the async method).
    ///
    /// # Errors
    /// As the async method.
    pub fn recommend_from(
        &self,
        kept: &crate::Recommender,
        t: TenantId,
        id: CustomerId,
        k: usize,
    ) -> Result<crate::Recommendations, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.recommend_from(kept, t, id, k))
    }

    /// The tenant's purchases net of refunds (see the async method).
    ///
    /// # Errors
    /// As the async method.
    pub fn purchases(&self, t: TenantId) -> Result<crate::Purchases, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.purchases(t))
    }

    /// The `k` most-bought items of each tier (see the async method).
    ///
    /// # Errors
    /// As the async method.
    pub fn top_products_by_tier(&self, t: TenantId, k: usize) -> Result<crate::TopByTier, Error>
    where
        S: LineItemStore,
    {
        block_on(self.0.top_products_by_tier(t, k))
    }

    /// A page of cases.
    ///
    /// # Errors
    /// As the async method.
    pub fn cases(&self, t: TenantId, query: CaseQuery) -> Result<Vec<Case>, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.cases(t, query))
    }

    /// Every case `query` selects.
    ///
    /// # Errors
    /// As the async method.
    pub fn all_cases(&self, t: TenantId, query: CaseQuery) -> Result<Vec<Case>, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.all_cases(t, query))
    }

    /// Changes a case (see [`crate::Service::update_case`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn update_case(
        &self,
        t: TenantId,
        id: CaseId,
        change: crate::CaseChange,
    ) -> Result<Case, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.update_case(t, id, change))
    }

    /// The SLA breaches among open cases at `now`.
    ///
    /// # Errors
    /// As the async method.
    pub fn breached(&self, t: TenantId, now: DateTime<Utc>) -> Result<Vec<SlaBreach>, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.breached(t, now))
    }

    /// A customer's churn risk raised by its cases.
    ///
    /// # Errors
    /// As the async method.
    pub fn churn_risk_with_cases(
        &self,
        t: TenantId,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<ChurnRisk, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.churn_risk_with_cases(t, id, now))
    }

    /// The case figures at `now`.
    ///
    /// # Errors
    /// As the async method.
    pub fn case_metrics(&self, t: TenantId, now: DateTime<Utc>) -> Result<CaseMetrics, Error>
    where
        S: CaseStore,
    {
        block_on(self.0.case_metrics(t, now))
    }

    /// Creates an account (see [`crate::Service::create_account`]).
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let acme = svc.create_account(t, AccountName::new("Acme")?, None)?;
    /// let ann = svc.register(t, Profile::default())?.customer.id();
    /// svc.link_contact(t, acme.id(), ann, [AccountRole::Billing].into(), true)?;
    /// assert_eq!(svc.customer_accounts(t, ann)?[0].account, acme.id());
    /// assert_eq!(svc.account_rollup(t, acme.id())?.contacts, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn create_account(
        &self,
        t: TenantId,
        name: AccountName,
        parent: Option<AccountId>,
    ) -> Result<Account, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.create_account(t, name, parent))
    }

    /// One account.
    ///
    /// # Errors
    /// As the async method.
    pub fn account(&self, t: TenantId, id: AccountId) -> Result<Account, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.account(t, id))
    }

    /// A page of accounts.
    ///
    /// # Errors
    /// As the async method.
    pub fn accounts(
        &self,
        t: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.accounts(t, after, limit))
    }

    /// Moves an account in the group structure.
    ///
    /// # Errors
    /// As the async method.
    pub fn set_account_parent(
        &self,
        t: TenantId,
        id: AccountId,
        parent: Option<AccountId>,
    ) -> Result<Account, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.set_account_parent(t, id, parent))
    }

    /// Links a customer to an account in roles.
    ///
    /// # Errors
    /// As the async method.
    pub fn link_contact(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
        roles: std::collections::BTreeSet<AccountRole>,
        primary: bool,
    ) -> Result<AccountLink, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.link_contact(t, account, customer, roles, primary))
    }

    /// Ends a customer's link to an account.
    ///
    /// # Errors
    /// As the async method.
    pub fn unlink_contact(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
    ) -> Result<AccountLink, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.unlink_contact(t, account, customer))
    }

    /// An account's links.
    ///
    /// # Errors
    /// As the async method.
    pub fn account_contacts(
        &self,
        t: TenantId,
        account: AccountId,
    ) -> Result<Vec<AccountLink>, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.account_contacts(t, account))
    }

    /// A person's links.
    ///
    /// # Errors
    /// As the async method.
    pub fn customer_accounts(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.customer_accounts(t, customer))
    }

    /// The contact roll-up of an account and its subsidiaries.
    ///
    /// # Errors
    /// As the async method.
    pub fn account_rollup(&self, t: TenantId, id: AccountId) -> Result<crate::AccountRollup, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.account_rollup(t, id))
    }

    /// Attributes a recorded purchase or refund to an account (see
    /// [`crate::Service::attribute`]).
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::NewActivity;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let acme = svc.create_account(t, AccountName::new("Acme")?, None)?;
    /// let ann = svc.register(t, Profile::default())?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let order = NewActivity::purchase(ann, "SO-1", usd("300"), svc.now())?;
    /// let key = order.idempotency_key.clone();
    /// svc.record(t, order)?;
    /// svc.attribute(t, acme.id(), ann, &key)?;
    /// assert_eq!(svc.account_view(t, acme.id())?.stats.orders(), 1);
    /// assert_eq!(svc.sweep_accounts(t, svc.now())?.by_tier[&Tier::Iron], 1);
    /// assert_eq!(svc.account(t, acme.id())?.tier(), Tier::Iron);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn attribute(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
        key: &IdempotencyKey,
    ) -> Result<AccountActivity, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.attribute(t, account, customer, key))
    }

    /// Records an activity and attributes it to an account (see
    /// [`crate::Service::record_for_account`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn record_for_account(
        &self,
        t: TenantId,
        account: AccountId,
        a: crate::NewActivity,
    ) -> Result<crate::Recorded, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.record_for_account(t, account, a))
    }

    /// An account's figures, roll-ups and evaluation (see [`crate::Service::account_view`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn account_view(&self, t: TenantId, id: AccountId) -> Result<crate::AccountView, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.account_view(t, id))
    }

    /// Evaluates one account and stores its standing (see
    /// [`crate::Service::evaluate_account`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn evaluate_account(&self, t: TenantId, id: AccountId) -> Result<AccountEvaluation, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.evaluate_account(t, id))
    }

    /// Merges `loser` into `survivor` (see [`crate::Service::merge_accounts`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn merge_accounts(
        &self,
        t: TenantId,
        loser: AccountId,
        survivor: AccountId,
    ) -> Result<Account, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.merge_accounts(t, loser, survivor))
    }

    /// Undoes the merge of `loser` (see [`crate::Service::unmerge_accounts`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn unmerge_accounts(&self, t: TenantId, loser: AccountId) -> Result<Account, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.unmerge_accounts(t, loser))
    }

    /// The accounts in a segment (see [`crate::Service::find_accounts`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn find_accounts(
        &self,
        t: TenantId,
        segment: &AccountSegment,
        now: DateTime<Utc>,
    ) -> Result<Vec<Account>, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.find_accounts(t, segment, now))
    }

    /// Re-evaluates every account (see [`crate::Service::sweep_accounts`]).
    ///
    /// # Errors
    /// As the async method.
    pub fn sweep_accounts(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
    ) -> Result<crate::AccountSweep, Error>
    where
        S: AccountStore,
    {
        block_on(self.0.sweep_accounts(t, now))
    }

    /// The review of `period` (see [`crate::Service::review`]).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rapport::core::*;
    /// use rapport::core::metrics::Period;
    /// use rapport_memory::MemoryStore;
    /// let svc = rapport::blocking::Service::new(MemoryStore::new());
    /// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    /// let r = svc.review(TenantId::from_u128(1), Period::new(d(1, 1), d(2, 1))?)?;
    /// assert_eq!(r.stages.churn_rate.value(), None); // an empty book
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`crate::Service::review`].
    pub fn review(
        &self,
        t: TenantId,
        period: rapport_core::metrics::Period,
    ) -> Result<crate::Review, Error> {
        block_on(self.0.review(t, period))
    }
    /// See [`crate::Service::grant`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::ConsentRequest;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let id = svc.register(t, Profile::default())?.customer.id();
    /// svc.grant(t, id, ConsentRequest::new(Purpose::Analytics, ContactChannel::Any, "cookie-banner"))?;
    /// assert_eq!(svc.consents(t, id)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn grant(
        &self,
        t: TenantId,
        id: CustomerId,
        request: crate::ConsentRequest,
    ) -> Result<privacy::ConsentEntry, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.grant(t, id, request))
    }

    /// See [`crate::Service::import_consents`]: every row in one changeset, or nothing.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::privacy::ConsentState;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use rapport::{ConsentImportRow, ConsentRequest};
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let id = svc.register(t, Profile::default())?.customer.id();
    /// let row = |state| ConsentImportRow::new(id, state,
    ///     ConsentRequest::new(Purpose::Marketing, ContactChannel::Post, "paper-form"));
    /// let report = svc.import_consents(t, &[row(ConsentState::Pending), row(ConsentState::Granted)])?;
    /// assert_eq!((report.entries.len(), report.customers), (2, 1));
    /// assert!(svc.customer(t, id)?.customer.consents.allows(Purpose::Marketing, ContactChannel::Post));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn import_consents(
        &self,
        t: TenantId,
        rows: &[crate::ConsentImportRow],
    ) -> Result<crate::ConsentImportReport, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.import_consents(t, rows))
    }

    /// See [`crate::Service::withdraw`].
    ///
    /// # Errors
    /// As the async method.
    pub fn withdraw(
        &self,
        t: TenantId,
        id: CustomerId,
        request: crate::ConsentRequest,
    ) -> Result<privacy::ConsentEntry, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.withdraw(t, id, request))
    }

    /// See [`crate::Service::request_consent`].
    ///
    /// # Errors
    /// As the async method.
    pub fn request_consent(
        &self,
        t: TenantId,
        id: CustomerId,
        request: crate::ConsentRequest,
    ) -> Result<privacy::ConsentEntry, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.request_consent(t, id, request))
    }

    /// See [`crate::Service::confirm`].
    ///
    /// # Errors
    /// As the async method.
    pub fn confirm(
        &self,
        t: TenantId,
        id: CustomerId,
        purpose: Purpose,
        channel: ContactChannel,
        source: &str,
    ) -> Result<privacy::ConsentEntry, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.confirm(t, id, purpose, channel, source))
    }

    /// See [`crate::Service::consents`].
    ///
    /// # Errors
    /// Store errors.
    pub fn consents(&self, t: TenantId, id: CustomerId) -> Result<Vec<privacy::ConsentEntry>, Error>
    where
        S: ports::ConsentStore,
    {
        block_on(self.0.consents(t, id))
    }
    /// See [`crate::Service::erase`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// let svc = Service::new(MemoryStore::new());
    /// let id = svc.register(t, Profile::default())?.customer.id();
    /// let r = svc.erase(t, id, "ticket-9", "gdpr-art17")?;
    /// assert_eq!(svc.erasure(t, id)?, Some(r));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn erase(
        &self,
        t: TenantId,
        id: CustomerId,
        requester: &str,
        reason: &str,
    ) -> Result<privacy::ErasureRecord, Error>
    where
        S: ports::ConsentStore + ports::ErasureStore + ports::MergeStore,
    {
        block_on(self.0.erase(t, id, requester, reason))
    }

    /// See [`crate::Service::erase_many`].
    pub fn erase_many(
        &self,
        t: TenantId,
        ids: &[CustomerId],
        requester: &str,
        reason: &str,
    ) -> Vec<Result<privacy::ErasureRecord, Error>>
    where
        S: ports::ConsentStore + ports::ErasureStore + ports::MergeStore,
    {
        block_on(self.0.erase_many(t, ids, requester, reason))
    }

    /// See [`crate::Service::erasure`].
    ///
    /// # Errors
    /// Store errors.
    pub fn erasure(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<privacy::ErasureRecord>, Error>
    where
        S: ports::ConsentStore + ports::ErasureStore + ports::MergeStore,
    {
        block_on(self.0.erasure(t, id))
    }

    /// See [`crate::Service::retention`].
    ///
    /// # Errors
    /// As the async method.
    pub fn retention(
        &self,
        t: TenantId,
        policy: privacy::RetentionPolicy,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<crate::RetentionReport, Error>
    where
        S: ports::ConsentStore + ports::ErasureStore + ports::MergeStore,
    {
        block_on(self.0.retention(t, policy, now, dry_run))
    }

    /// See [`crate::Service::sweep_with_retention`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// use rapport::core::privacy::RetentionPolicy;
    /// svc.register(t, Profile::default())?;
    /// let later = svc.now() + chrono::Duration::days(400);
    /// let policy = RetentionPolicy { inactive_days: 365 };
    /// let done = svc.sweep_with_retention(t, later, 100, policy, false, |_| {})?;
    /// assert_eq!((done.retention.erased, done.sweep.evaluated), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn sweep_with_retention(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        policy: privacy::RetentionPolicy,
        dry_run: bool,
        progress: impl FnMut(SweepProgress),
    ) -> Result<crate::RetentionSweep, Error>
    where
        S: ports::ConsentStore + ports::ErasureStore + ports::MergeStore,
    {
        block_on(
            self.0
                .sweep_with_retention(t, now, batch, policy, dry_run, progress),
        )
    }
    /// See [`crate::Service::export`].
    ///
    /// # Errors
    /// As the async method.
    pub fn export(&self, t: TenantId, id: CustomerId) -> Result<privacy::ExportDocument, Error>
    where
        S: ports::ConsentStore
            + ports::ErasureStore
            + ports::MergeStore
            + ports::AccountStore
            + ports::CaseStore,
    {
        block_on(self.0.export(t, id))
    }

    /// [`crate::Service::fire_due_actions`]: schedule rules, then the due actions through the
    /// guards into the outbox.
    ///
    /// ```
    /// use rapport::blocking::Service;
    /// use rapport::core::automation::{AutomationPolicy, RuleSet};
    /// use rapport::core::ports::CustomerConsents;
    /// use rapport::core::TenantId;
    /// use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let r = svc.fire_due_actions(TenantId::from_u128(1), &RuleSet::default(), &AutomationPolicy::default(), &CustomerConsents, svc.now(), 100)?;
    /// assert_eq!(r.sent, 0);
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub fn fire_due_actions(
        &self,
        t: rapport_core::TenantId,
        rules: &rapport_core::automation::RuleSet,
        policy: &rapport_core::automation::AutomationPolicy,
        consents: &impl rapport_core::ports::ConsentSource,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<crate::FireReport, Error>
    where
        S: rapport_core::ports::ActionStore,
    {
        block_on(
            self.0
                .fire_due_actions(t, rules, policy, consents, now, limit),
        )
    }

    /// See [`crate::Service::schedule_sla_breaches`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// use rapport::core::automation::RuleSet;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = rapport::core::TenantId::from_u128(1);
    /// assert_eq!(svc.schedule_sla_breaches(t, &RuleSet::default(), svc.now())?, 0);
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub fn schedule_sla_breaches(
        &self,
        t: TenantId,
        rules: &rapport_core::automation::RuleSet,
        now: DateTime<Utc>,
    ) -> Result<usize, Error>
    where
        S: rapport_core::ports::ActionStore + rapport_core::ports::CaseStore,
    {
        block_on(self.0.schedule_sla_breaches(t, rules, now))
    }

    /// See [`crate::Service::dead_lettered_actions`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = rapport::core::TenantId::from_u128(1);
    /// assert!(svc.dead_lettered_actions(t, chrono::DateTime::UNIX_EPOCH, 10)?.is_empty());
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub fn dead_lettered_actions(
        &self,
        t: TenantId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<rapport_core::automation::ActionRecord>, Error>
    where
        S: rapport_core::ports::ActionStore,
    {
        block_on(self.0.dead_lettered_actions(t, since, limit))
    }

    /// See [`crate::Service::redrive_action`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// use rapport::core::automation::{ActionId, RuleId, RuleSet};
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = rapport::core::TenantId::from_u128(1);
    /// let id = ActionId::derive(&RuleId::new("win-back")?, rapport::core::MessageId::from_u128(1));
    /// assert_eq!(svc.redrive_action(t, id, &RuleSet::default())?, rapport::Redrive::NoSuchAction);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub fn redrive_action(
        &self,
        t: TenantId,
        id: rapport_core::automation::ActionId,
        rules: &rapport_core::automation::RuleSet,
    ) -> Result<crate::Redrive, Error>
    where
        S: rapport_core::ports::ActionStore,
    {
        block_on(self.0.redrive_action(t, id, rules))
    }

    /// See [`crate::Service::preview_merge`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let a = svc.register(t, Profile::default())?.customer.id();
    /// let b = svc.register(t, Profile::default())?.customer.id();
    /// let p = svc.preview_merge(t, a, b, &SurvivorshipPolicy::default())?;
    /// assert_eq!(p.plan, MergePlan { survivor: a, loser: b });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn preview_merge(
        &self,
        t: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
        policy: &SurvivorshipPolicy,
    ) -> Result<MergePreview, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.preview_merge(t, survivor, loser, policy))
    }

    /// See [`crate::Service::merge`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let a = svc.register(t, Profile::default())?.customer.id();
    /// let b = svc.register(t, Profile::default())?.customer.id();
    /// let m = svc.merge(t, rapport::MergeRequest::new(a, b, Actor::new("ops")?))?;
    /// assert_eq!(svc.customer(t, b)?.customer.id(), a);
    /// svc.unmerge(t, m.record.id)?;
    /// assert_eq!(svc.customer(t, b)?.customer.id(), b);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn merge(&self, t: TenantId, req: crate::MergeRequest) -> Result<crate::Merged, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.merge(t, req))
    }

    /// See [`crate::Service::unmerge`].
    ///
    /// # Errors
    /// As the async method.
    pub fn unmerge(&self, t: TenantId, id: MergeId) -> Result<crate::Merged, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.unmerge(t, id))
    }

    /// See [`crate::Service::duplicates`].
    ///
    /// # Errors
    /// As the async method.
    pub fn duplicates(
        &self,
        t: TenantId,
        options: &crate::DuplicateOptions,
    ) -> Result<Vec<DuplicateCandidate>, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.duplicates(t, options))
    }

    /// See [`crate::Service::auto_merge`].
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let none = svc.auto_merge(TenantId::from_u128(1), &rapport::DuplicateOptions::default().with_auto_merge(0.9))?;
    /// assert!(none.merged.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As the async method.
    pub fn auto_merge(
        &self,
        t: TenantId,
        options: &crate::DuplicateOptions,
    ) -> Result<crate::AutoMerged, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.auto_merge(t, options))
    }

    /// See [`crate::Service::mark_distinct`].
    ///
    /// # Errors
    /// As the async method.
    pub fn mark_distinct(
        &self,
        t: TenantId,
        a: CustomerId,
        b: CustomerId,
    ) -> Result<DistinctPair, Error>
    where
        S: rapport_core::ports::MergeStore,
    {
        block_on(self.0.mark_distinct(t, a, b))
    }
}

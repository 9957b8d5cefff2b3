//! A synchronous face of the [`crate::Service`] for hosts without an async runtime: every
//! method drives the same future with `futures::executor::block_on`. No tokio needed for the
//! in-memory or SQLite stores.

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;

use crate::error::Error;
use crate::relay::{RelayConfig, RelayReport, relay_once};
use crate::service::{NewActivity, NoopNotifier, Recorded, Registered, SweepProgress};

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
#[derive(Debug)]
pub struct Service<S, N = NoopNotifier>(crate::Service<S, N>);

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
    /// use rapport_testkit::SequentialIds;
    /// let svc = Service::from_async(rapport::Service::new(MemoryStore::new()).with_ids(SequentialIds::default()));
    /// let ann = svc.register(t, Profile::default())?.customer;
    /// assert_eq!(ann.id(), CustomerId::from_u128(1));
    /// assert_eq!(svc.inner().store().pending_outbox()?, 1);
    /// let store = svc.into_inner().into_store();
    /// assert_eq!(store.pending_outbox()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_async(inner: crate::Service<S, N>) -> Self {
        Self(inner)
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
    ///     at: svc.inner().now(),
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
    /// assert!(c.tags.contains(&vip, svc.inner().now()));
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
    /// let until = svc.inner().now() + chrono::Duration::days(30);
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
    /// let until = svc.inner().now() + chrono::Duration::days(10);
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
    ///     at: svc.inner().now(),
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
    /// let done = svc.sweep(t, svc.inner().now(), 2, |_| calls += 1)?;
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

    /// One outbox relay round through this service's notifier.
    ///
    /// ```
    /// # use rapport::blocking::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use rapport_testkit::RecordingNotifier;
    /// let svc = Service::from_async(rapport::Service::new(MemoryStore::new()).with_notifier(RecordingNotifier::default()));
    /// svc.register(t, Profile::default())?;
    /// let r = svc.relay_once(&rapport::RelayConfig::default(), svc.inner().now())?;
    /// assert_eq!((r.claimed, r.delivered, r.failed), (1, 1, 0));
    /// assert_eq!(svc.inner().notifier().deliveries().len(), 1);
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
}

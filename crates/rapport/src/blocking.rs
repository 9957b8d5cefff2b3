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
    pub fn new(store: S) -> Self {
        Self(crate::Service::new(store))
    }
}

impl<S: Store, N: Notifier> Service<S, N> {
    /// Wraps an async service.
    pub fn from_async(inner: crate::Service<S, N>) -> Self {
        Self(inner)
    }

    /// The async service inside.
    pub fn inner(&self) -> &crate::Service<S, N> {
        &self.0
    }

    /// Consumes the wrapper.
    pub fn into_inner(self) -> crate::Service<S, N> {
        self.0
    }

    /// See [`crate::Service::customer`].
    ///
    /// # Errors
    /// As the async method.
    pub fn customer(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        block_on(self.0.customer(t, id))
    }

    /// See [`crate::Service::register`].
    ///
    /// # Errors
    /// As the async method.
    pub fn register(&self, t: TenantId, profile: Profile) -> Result<Registered, Error> {
        block_on(self.0.register(t, profile))
    }

    /// See [`crate::Service::update_profile`].
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
    /// # Errors
    /// As the async method.
    pub fn record(&self, t: TenantId, a: NewActivity) -> Result<Recorded, Error> {
        block_on(self.0.record(t, a))
    }

    /// See [`crate::Service::tag`].
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
    /// # Errors
    /// As the async method.
    pub fn untag(&self, t: TenantId, id: CustomerId, tag: &Tag) -> Result<Customer, Error> {
        block_on(self.0.untag(t, id, tag))
    }

    /// See [`crate::Service::pin_tier`].
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
    /// # Errors
    /// As the async method.
    pub fn evaluate(&self, t: TenantId, id: CustomerId) -> Result<Evaluation, Error> {
        block_on(self.0.evaluate(t, id))
    }

    /// See [`crate::Service::timeline`].
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
    /// # Errors
    /// As the async method.
    pub fn find(&self, t: TenantId, segment: &Segment) -> Result<Vec<Record>, Error> {
        block_on(self.0.find(t, segment))
    }

    /// See [`crate::Service::find_page`].
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
    /// # Errors
    /// Store errors.
    pub fn relay_once(
        &self,
        config: &RelayConfig,
        now: DateTime<Utc>,
    ) -> Result<RelayReport, Error> {
        block_on(relay_once(self.0.store(), self.0.notifier(), config, now))
    }
}

//! A memory store whose `apply` and `query` a test may replace, for the tests that make the
//! store fail or race: [`Hooked`] forwards every other method to a [`MemoryStore`]. (The kit's
//! `rapport_testkit::broken::Broken` does this for every port, but the kit depends on this
//! crate.)

use std::future::Future;

use chrono::{DateTime, Utc};
use rapport::core::ports::ConsentStore;
use rapport::core::privacy::ConsentEntry;
use rapport::core::*;
use rapport_memory::MemoryStore;

/// What a [`Hooked`] store does instead of its memory store's `apply` and `query` (by
/// default, the memory store's); the hooks' own fields hold their state.
pub(crate) trait Hooks: Send + Sync {
    /// [`Store::apply`].
    fn apply(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        cs: &Changeset,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send {
        inner.apply(t, cs)
    }

    /// [`Store::query`].
    fn query(
        &self,
        inner: &MemoryStore,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send {
        inner.query(t, segment, now, page)
    }
}

/// A memory store with [`Hooks`]; derefs to the hooks, so a test reads their state from
/// `svc.store()`.
pub(crate) struct Hooked<H> {
    /// The real store.
    pub(crate) inner: MemoryStore,
    /// What it does differently.
    pub(crate) hooks: H,
}

impl<H> Hooked<H> {
    /// An empty memory store with `hooks`.
    pub(crate) fn new(hooks: H) -> Self {
        Self {
            inner: MemoryStore::new(),
            hooks,
        }
    }
}

impl<H: Default> Default for Hooked<H> {
    fn default() -> Self {
        Self::new(H::default())
    }
}

impl<H> std::ops::Deref for Hooked<H> {
    type Target = H;
    fn deref(&self) -> &H {
        &self.hooks
    }
}

/// The version conflict a store reports for the first customer `cs` writes.
pub(crate) fn conflict_on(cs: &Changeset) -> StoreError {
    let c = cs.customers[0].customer();
    StoreError::Conflict {
        customer: c.id(),
        expected: c.version() - 1,
        actual: c.version(),
    }
}

impl<H: Hooks> Store for Hooked<H> {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.inner.load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.inner.find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.inner.scan(t, page).await
    }
    async fn query(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        self.hooks.query(&self.inner, t, segment, now, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.inner.activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        self.hooks.apply(&self.inner, t, cs).await
    }
}

impl<H: Hooks> ConsentStore for Hooked<H> {
    async fn consents(&self, t: TenantId, id: CustomerId) -> Result<Vec<ConsentEntry>, StoreError> {
        self.inner.consents(t, id).await
    }
}

//! A store running as an ordinary (non-superuser) role, as a production host runs it: the
//! schema is created by the test's superuser store (`owner`), then a fresh login role gets
//! the grants `docs/scaling.md` lists and a second store connects as that role. Row-level
//! security applies to it (it applies to no superuser), so the conformance kit run on it
//! proves the store works under the policies, and the raw queries of `tests/rls.rs` prove
//! what they hide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{PostgresConfig, PostgresStore};

use super::{Fresh, fresh_with, url};

/// `url` with its user replaced by `user` (and no password: the test server trusts local
/// connections).
pub(crate) fn url_as(url: &str, user: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url} user={user}");
    };
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

/// A raw connection as `user` (the superuser of the test server when `None`).
pub(crate) async fn connect(user: Option<&str>) -> tokio_postgres::Client {
    let url = match user {
        Some(u) => url_as(&url(), u),
        None => url(),
    };
    super::raw_client_at(&url).await
}

fn on_runtime<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(f)
}

/// The grants a host gives its application role on the store's schema (no ownership, no
/// `CREATE`, no `BYPASSRLS`).
pub(crate) fn grants(schema: &str, role: &str) -> String {
    format!(
        "GRANT USAGE ON SCHEMA \"{schema}\" TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO {role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO {role};"
    )
}

/// The superuser's store (which created the schema) and a store of the same schema running
/// as a fresh login role.
pub(crate) struct AppRole {
    pub(crate) app: Option<PostgresStore>,
    pub(crate) owner: Fresh,
    pub(crate) role: String,
}

pub(crate) fn app_role() -> AppRole {
    app_role_with(|c| c)
}

pub(crate) fn app_role_partitioned() -> AppRole {
    app_role_with(|c| c.partitioned(4))
}

pub(crate) fn app_role_with(adjust: impl Fn(PostgresConfig) -> PostgresConfig) -> AppRole {
    static N: AtomicUsize = AtomicUsize::new(0);
    let owner = fresh_with(&adjust);
    let schema = owner
        .0
        .as_ref()
        .map(|s| s.schema().to_owned())
        .unwrap_or_default();
    let role = format!(
        "rapport_app_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    on_runtime(async {
        let su = connect(None).await;
        su.batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS; {}",
            grants(&schema, &role)
        ))
        .await
        .unwrap_or_else(|e| panic!("create {role}: {e}"));
    });
    let config = adjust(
        PostgresConfig::new(url_as(&url(), &role))
            .with_schema(schema)
            .with_pool_size(4),
    );
    let app = block_on(PostgresStore::connect(config, Utc::now()))
        .unwrap_or_else(|e| panic!("connect as {role}: {e}"));
    AppRole {
        app: Some(app),
        owner,
        role,
    }
}

impl AppRole {
    pub(crate) fn s(&self) -> &PostgresStore {
        self.app.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for AppRole {
    fn drop(&mut self) {
        drop(self.app.take());
        // The owner's store drops the schema (and the grants on it) when it is dropped; then
        // the role goes.
        let owner = std::mem::replace(&mut self.owner, Fresh(None));
        let role = self.role.clone();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                drop(owner);
                on_runtime(async {
                    let su = connect(None).await;
                    if let Err(e) = su
                        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
                        .await
                    {
                        eprintln!("could not drop role {role}: {e}");
                    }
                });
            });
        });
    }
}

impl Store for AppRole {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.s().load(t, id).await
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.s().find_by_contact(t, key).await
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.s().scan(t, page).await
    }
    async fn query(
        &self,
        t: TenantId,
        seg: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        self.s().query(t, seg, now, page).await
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.s().activities(t, id, range).await
    }
    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        self.s().apply(t, cs).await
    }
    async fn account_roles(
        &self,
        t: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<rapport_core::AccountRoleSet>, StoreError> {
        self.s().account_roles(t, customers).await
    }
    async fn clv_model(&self, t: TenantId) -> Result<Option<rapport_core::FittedClv>, StoreError> {
        self.s().clv_model(t).await
    }
    async fn save_clv_model(
        &self,
        t: TenantId,
        model: &rapport_core::FittedClv,
    ) -> Result<(), StoreError> {
        self.s().save_clv_model(t, model).await
    }
}

impl Outbox for AppRole {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.s().claim_outbox(limit, lease, now).await
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        self.s().ack_outbox(ids).await
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.s().retry_outbox(id, at).await
    }
    async fn ack_outbox_for(&self, messages: &[(TenantId, MessageId)]) -> Result<(), StoreError> {
        self.s().ack_outbox_for(messages).await
    }
    async fn retry_outbox_for(
        &self,
        t: TenantId,
        id: MessageId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.s().retry_outbox_for(t, id, at).await
    }
}

impl rapport_core::ports::ConsentStore for AppRole {
    async fn consents(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Vec<rapport_core::privacy::ConsentEntry>, StoreError> {
        self.s().consents(t, id).await
    }
}

impl rapport_core::ports::ErasureStore for AppRole {
    async fn erasure(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<rapport_core::privacy::ErasureRecord>, StoreError> {
        self.s().erasure(t, id).await
    }
}

impl rapport_core::ports::MergeStore for AppRole {
    async fn merge_record(
        &self,
        t: TenantId,
        id: rapport_core::MergeId,
    ) -> Result<Option<rapport_core::MergeRecord>, StoreError> {
        self.s().merge_record(t, id).await
    }
    async fn merges_of(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<rapport_core::MergeRecord>, StoreError> {
        self.s().merges_of(t, c).await
    }
    async fn distinct_pairs(
        &self,
        t: TenantId,
    ) -> Result<Vec<rapport_core::DistinctPair>, StoreError> {
        self.s().distinct_pairs(t).await
    }
    async fn belongings(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<rapport_core::Belongings, StoreError> {
        self.s().belongings(t, c).await
    }
}

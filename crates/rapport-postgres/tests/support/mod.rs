//! A fresh store per test: its own schema `rapport_test_<pid>_<n>_<nanos>`, dropped when the
//! store is dropped, so tests run in parallel against one server.
//!
//! The server comes from `RAPPORT_POSTGRES_URL` (CI sets it). Unset, the local default
//! `postgres://postgres@127.0.0.1:5432/test` is tried; when that is not reachable either, the
//! test binary prints a notice and exits successfully (skipped) — unless
//! `RAPPORT_REQUIRE_POSTGRES=1` (CI sets it), under which an unreachable server fails the
//! tests, so CI can never pass with zero PostgreSQL coverage. With the URL set, an
//! unreachable server fails the tests too.
#![allow(dead_code)]

pub(crate) mod role;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{PostgresConfig, PostgresStore};

pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `RAPPORT_POSTGRES_URL`, when set and not empty.
fn configured() -> Option<String> {
    std::env::var("RAPPORT_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// True when `RAPPORT_REQUIRE_POSTGRES` is set to anything but `0` or empty: the tests must
/// not skip.
pub(crate) fn required() -> bool {
    std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The server URL.
pub(crate) fn url() -> String {
    configured().unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// A raw connection to the test server as its superuser, for what the store's API cannot do
/// (read the catalog, hold locks, fake a schema); its connection task runs on the caller's
/// runtime.
pub(crate) async fn raw_client() -> tokio_postgres::Client {
    raw_client_at(&url()).await
}

/// [`raw_client`] at another URL (another role of the same server).
pub(crate) async fn raw_client_at(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("raw connection: {e}"));
    tokio::spawn(conn);
    client
}

/// Runs `statements` (simple protocol, `;`-separated) on a raw connection of its own and
/// returns every row they return, each column as text (`""` for NULL).
pub(crate) fn raw_rows(statements: &str) -> Vec<Vec<String>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let client = raw_client().await;
        let mut out = Vec::new();
        for m in client.simple_query(statements).await.unwrap() {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                out.push(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("").to_owned())
                        .collect(),
                );
            }
        }
        out
    })
}

pub(crate) fn unique_schema() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "rapport_test_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A store in a fresh schema, dropped with it.
#[derive(Debug)]
pub(crate) struct Fresh(pub(crate) Option<PostgresStore>);

pub(crate) fn fresh() -> Fresh {
    fresh_with(|c| c)
}

/// As [`fresh`], with the tenant tables hash-partitioned by tenant into 4 partitions.
pub(crate) fn fresh_partitioned() -> Fresh {
    fresh_with(|c| c.partitioned(4))
}

/// As [`fresh`], with the config adjusted.
pub(crate) fn fresh_with(adjust: impl FnOnce(PostgresConfig) -> PostgresConfig) -> Fresh {
    let config = adjust(
        PostgresConfig::new(url())
            .with_schema(unique_schema())
            .with_pool_size(4),
    );
    match block_on(PostgresStore::connect(config, Utc::now())) {
        Ok(s) => Fresh(Some(s)),
        Err(e) if configured().is_none() && !required() => {
            // Straight to stderr: the harness captures `eprintln!` and `exit` would drop it.
            let _ = writeln!(
                std::io::stderr(),
                "rapport-postgres: skipping the PostgreSQL tests: RAPPORT_POSTGRES_URL is not set and {DEFAULT_URL} is not reachable ({e})"
            );
            std::process::exit(0);
        }
        Err(e) => panic!(
            "rapport-postgres: cannot open a store on {} (RAPPORT_POSTGRES_URL, required: {}): {e}",
            url(),
            required()
        ),
    }
}

impl Fresh {
    fn s(&self) -> &PostgresStore {
        self.0.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        // Dropped inside the kit's `block_on` too, where another `block_on` may not run: wait
        // on a thread of its own.
        if let Some(s) = self.0.take() {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    if let Err(e) = block_on(s.drop_schema()) {
                        eprintln!("could not drop test schema {}: {e}", s.schema());
                    }
                });
            });
        }
    }
}

impl Store for Fresh {
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
    async fn purchase_lines(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<Vec<rapport_core::LineItems>>, StoreError> {
        self.s().purchase_lines(t, id).await
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
impl Outbox for Fresh {
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

impl CaseStore for Fresh {
    async fn load_case(&self, t: TenantId, id: CaseId) -> Result<Option<Case>, StoreError> {
        self.s().load_case(t, id).await
    }
    async fn cases(&self, t: TenantId, q: CaseQuery) -> Result<Vec<Case>, StoreError> {
        self.s().cases(t, q).await
    }
}

impl AccountStore for Fresh {
    async fn load_account(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        self.s().load_account(t, id).await
    }
    async fn accounts(
        &self,
        t: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        self.s().accounts(t, after, limit).await
    }
    async fn subsidiaries(&self, t: TenantId, p: AccountId) -> Result<Vec<Account>, StoreError> {
        self.s().subsidiaries(t, p).await
    }
    async fn account_links(
        &self,
        t: TenantId,
        a: AccountId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        self.s().account_links(t, a).await
    }
    async fn account_activities(
        &self,
        t: TenantId,
        a: AccountId,
    ) -> Result<Vec<rapport_core::Activity>, StoreError> {
        self.s().account_activities(t, a).await
    }
    async fn customer_links(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        self.s().customer_links(t, c).await
    }
    async fn accounts_activities(
        &self,
        t: TenantId,
        a: &[AccountId],
    ) -> Result<Vec<Vec<rapport_core::Activity>>, StoreError> {
        self.s().accounts_activities(t, a).await
    }
    async fn contacts_by_role(
        &self,
        t: TenantId,
        a: &[AccountId],
    ) -> Result<std::collections::BTreeMap<rapport_core::AccountRole, usize>, StoreError> {
        self.s().contacts_by_role(t, a).await
    }
}

impl rapport_core::ports::ConsentStore for Fresh {
    async fn consents(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Vec<rapport_core::privacy::ConsentEntry>, StoreError> {
        self.s().consents(t, id).await
    }
}

impl rapport_core::ports::ErasureStore for Fresh {
    async fn erasure(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<rapport_core::privacy::ErasureRecord>, StoreError> {
        self.s().erasure(t, id).await
    }
}

impl rapport_core::ports::ActionStore for Fresh {
    async fn write_actions(
        &self,
        t: TenantId,
        w: &rapport_core::ports::DueActions,
    ) -> Result<rapport_core::ports::ActionLog, StoreError> {
        self.s().write_actions(t, w).await
    }
    async fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<rapport_core::automation::ScheduledAction>, StoreError> {
        self.s().pending_actions(t, customer).await
    }
    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<rapport_core::automation::ScheduledAction>, StoreError> {
        self.s().due_actions(t, now, limit).await
    }
    async fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<rapport_core::automation::ActionRecord>, StoreError> {
        self.s().action_log(t, customer, since, limit).await
    }
}

impl rapport_core::ports::MergeStore for Fresh {
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

impl LineItemStore for Fresh {
    async fn line_items(
        &self,
        t: TenantId,
        a: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        self.s().line_items(t, a).await
    }
    async fn customer_line_items(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.s().customer_line_items(t, c).await
    }
    async fn line_items_page(
        &self,
        t: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        self.s().line_items_page(t, after, limit).await
    }
}

impl rapport_core::ports::ActivityImport for Fresh {
    async fn import_activities(
        &self,
        t: TenantId,
        batch: Vec<rapport_core::ports::ImportActivity>,
        policy: &rapport_core::ports::ImportPolicy,
    ) -> Result<rapport_core::ports::ActivityImportReport, StoreError> {
        self.s().import_activities(t, batch, policy).await
    }
}

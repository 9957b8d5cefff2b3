//! A store running as an ordinary (non-superuser) role, as a production host runs it: the
//! schema is created by the test's superuser store (`owner`), then a fresh login role gets
//! the grants `docs/scaling.md` lists and a second store connects as that role. Row-level
//! security applies to it (it applies to no superuser), so the conformance kit run on it
//! proves the store works under the policies, and the raw queries of `tests/rls.rs` prove
//! what they hide.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use futures::executor::block_on;
use rapport_postgres::{PostgresConfig, PostgresStore};
use rapport_testkit::broken::{Broken, Hooks};

use super::{Fresh, fresh_with, on_runtime, url};

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

/// The grants a host gives its application role on the store's schema (no ownership, no
/// `CREATE`, no `BYPASSRLS`).
pub(crate) fn grants(schema: &str, role: &str) -> String {
    format!(
        "GRANT USAGE ON SCHEMA \"{schema}\" TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO {role};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO {role};"
    )
}

/// A store of the schema of `hooks.owner` (the superuser's store, which created it) running
/// as a fresh login role (`hooks.role`): the store itself ([`Broken`] forwards every port to
/// `inner`).
pub(crate) type AppRole = Broken<PostgresStore, Owner>;

/// The hooks of [`AppRole`]: none; what goes after the role's store. `Broken`'s fields and
/// these drop in order: the role's store, the owner's store and the schema (and the grants
/// on it), then the role.
#[derive(Debug)]
pub(crate) struct Owner {
    pub(crate) owner: Fresh,
    pub(crate) role: Role,
}

impl Hooks<PostgresStore> for Owner {}

/// A login role, dropped with it.
#[derive(Debug)]
pub(crate) struct Role(pub(crate) String);

impl Drop for Role {
    fn drop(&mut self) {
        super::clean_up(&format!("DROP ROLE IF EXISTS {}", self.0));
    }
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
    let schema = owner.inner.schema().to_owned();
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
    Broken::new(
        app,
        Owner {
            owner,
            role: Role(role),
        },
    )
}

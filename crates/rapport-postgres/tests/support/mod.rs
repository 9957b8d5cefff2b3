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

use chrono::Utc;
use futures::executor::block_on;
use rapport_postgres::{PostgresConfig, PostgresStore};
use rapport_testkit::broken::{Broken, Hooks};

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
    on_runtime(async {
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

/// A store in a fresh schema, dropped with it: the store itself ([`Broken`] forwards every
/// port to `inner`), the schema dropped by its hooks.
pub(crate) type Fresh = Broken<PostgresStore, DropsSchema>;

/// The hooks of [`Fresh`]: none; dropped, they drop the schema (`DROP SCHEMA … CASCADE`, as
/// [`PostgresStore::drop_schema`] does) on a superuser connection of their own. `Broken`'s
/// fields drop in order, so that runs after the store (`inner`) and its pool are dropped.
#[derive(Debug)]
pub(crate) struct DropsSchema(pub(crate) String);

impl Hooks<PostgresStore> for DropsSchema {}

impl Drop for DropsSchema {
    fn drop(&mut self) {
        let schema = &self.0;
        clean_up(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
    }
}

/// Runs `statements` as the superuser, for a `Drop`: on a thread and a runtime of its own
/// (drops run inside the kit's `block_on` and tokio's runtimes too, where another may not
/// start), and a failure is printed, not raised.
pub(crate) fn clean_up(statements: &str) {
    std::thread::scope(|scope| {
        scope.spawn(|| {
            on_runtime(async {
                let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client.batch_execute(statements).await
            })
            .unwrap_or_else(|e| eprintln!("clean-up `{statements}` failed: {e}"));
        });
    });
}

/// `store` as a [`Fresh`]: its schema is dropped with it.
pub(crate) fn owned(store: PostgresStore) -> Fresh {
    let schema = DropsSchema(store.schema().to_owned());
    Broken::new(store, schema)
}

/// Runs `f` on a current-thread runtime of its own.
pub(crate) fn on_runtime<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(f)
}

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
        Ok(s) => owned(s),
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

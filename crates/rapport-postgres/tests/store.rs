//! PostgreSQL specifics beyond the kit: reopening a schema, refusing a newer schema, clear
//! connection errors, and driver errors mapped by SQLSTATE (deadlocks and lock timeouts are
//! retryable `Unavailable`, a unique violation is `Backend` with the driver error kept).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{PostgresConfig, PostgresError, PostgresStore, latest_version};
use support::{fresh, url};

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + chrono::Duration::days(20_000)
}

fn create(store: &impl Store, t: TenantId, id: u128) -> Customer {
    let c = Customer::new(t, CustomerId::from_u128(id), Profile::default(), now());
    let mut cs = Changeset::new();
    cs.create(c.clone(), Stats::default());
    block_on(store.apply(t, &cs)).unwrap();
    c
}

/// A raw connection for what the store's API cannot do (hold locks, fake a future schema).
async fn raw() -> tokio_postgres::Client {
    support::raw_client().await
}

#[test]
fn reopening_keeps_the_data_and_migrates_once() {
    let store = fresh();
    let schema = store.inner.schema().to_owned();
    let t = TenantId::from_u128(1);
    let c = create(&store, t, 7);
    let again = block_on(PostgresStore::connect(
        PostgresConfig::new(url()).with_schema(schema),
        now(),
    ))
    .unwrap();
    assert_eq!(
        block_on(again.load(t, c.id())).unwrap().unwrap().customer,
        c
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let store = fresh();
    let schema = store.inner.schema().to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        raw()
            .await
            .execute(
                &format!(
                    "INSERT INTO \"{schema}\".schema_migrations (version, name, applied_at)
                     VALUES ($1, 'future', now())"
                ),
                &[&i32::try_from(latest_version() + 1).unwrap()],
            )
            .await
            .unwrap();
    });
    let err = block_on(PostgresStore::connect(
        PostgresConfig::new(url()).with_schema(schema),
        now(),
    ))
    .unwrap_err();
    assert!(
        matches!(err, PostgresError::SchemaTooNew { found, supported }
            if found == latest_version() + 1 && supported == latest_version()),
        "{err}"
    );
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let config = PostgresConfig::new("postgres://postgres@127.0.0.1:1/test");
    let err = block_on(PostgresStore::connect(config, now())).unwrap_err();
    assert!(matches!(err, PostgresError::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot connect to PostgreSQL at 127.0.0.1:1/test: error connecting to server: Connection refused (os error 111)"
    );
    let bad = PostgresConfig::new(url()).with_schema("Robert'); DROP TABLE students;--");
    assert!(matches!(
        block_on(PostgresStore::connect(bad, now())),
        Err(PostgresError::InvalidSchema(_))
    ));
}

#[test]
fn a_unique_violation_is_a_backend_error_with_the_driver_error_kept() {
    let store = fresh();
    let t = TenantId::from_u128(1);
    let c = create(&store, t, 1);
    let message = OutboxMessage::new(
        MessageId::from_u128(9),
        t,
        now(),
        DomainEvent::CustomerRegistered { customer: c.id() },
    );
    let mut cs = Changeset::new();
    cs.outbox.push(message.clone());
    block_on(store.apply(t, &cs)).unwrap();
    let err = block_on(store.apply(t, &cs)).unwrap_err();
    let StoreError::Backend { backend, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*backend, "postgres");
    let pg = source.downcast_ref::<tokio_postgres::Error>().unwrap();
    assert_eq!(
        pg.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    assert!(!err.is_retryable());
}

/// The store's transaction waits for a row another connection holds, then that connection
/// waits for a row the store holds: PostgreSQL aborts the store's transaction (it waited
/// first), and the store reports it as retryable, with nothing written.
#[test]
fn a_deadlock_is_retryable_and_leaves_nothing() {
    let fresh = fresh();
    let store = &fresh.inner;
    let schema = store.schema().to_owned();
    let t = TenantId::from_u128(1);
    let (a, b) = (create(store, t, 1), create(store, t, 2));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(async {
        let mut other = raw().await;
        let tx = other.transaction().await.unwrap();
        // The store's session (default 1 s) must be the one that detects the cycle and is
        // aborted; on a loaded machine this session could otherwise detect it first.
        tx.batch_execute("SET LOCAL deadlock_timeout = '60s'")
            .await
            .unwrap();
        let lock = format!(
            "UPDATE \"{schema}\".customers SET tier = tier WHERE tenant_id = $1 AND customer_id = $2"
        );
        tx.execute(&lock, &[t.as_uuid(), a.id().as_uuid()]).await.unwrap();
        // The store updates b, then waits for a.
        let mut cs = Changeset::new();
        cs.update(&b, b.next_version(), Stats::default());
        cs.update(&a, a.next_version(), Stats::default());
        let apply = store.apply(t, &cs);
        let waiting = async {
            let probe = raw().await;
            loop {
                // The store's statement waits on a lock (other tests' waits are elsewhere).
                let n: i64 = probe
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE wait_event_type = 'Lock' AND application_name = 'rapport'
                           AND strpos(query, $1) > 0",
                        &[&format!("\"{schema}\".customers")],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if n > 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            // Now take b: a cycle.
            tx.execute(&lock, &[t.as_uuid(), b.id().as_uuid()]).await
        };
        let (applied, other_result) = tokio::join!(apply, waiting);
        assert!(other_result.is_ok(), "{other_result:?}");
        tx.rollback().await.unwrap();
        applied.unwrap_err()
    });
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("40P01"), "{err}");
    let stored = block_on(store.load(t, b.id())).unwrap().unwrap();
    assert_eq!(
        stored.customer.version(),
        1,
        "the aborted update of b was kept"
    );
}

/// A lock held past the session's `lock_timeout` (set in the URL) is retryable too.
#[test]
fn a_lock_timeout_is_retryable() {
    let base = fresh();
    let schema = base.inner.schema().to_owned();
    let t = TenantId::from_u128(1);
    let a = create(&base, t, 1);
    let sep = if url().contains('?') { '&' } else { '?' };
    let impatient = block_on(PostgresStore::connect(
        PostgresConfig::new(format!("{}{sep}options=-c%20lock_timeout%3D50", url()))
            .with_schema(schema.clone()),
        now(),
    ))
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(async {
        let mut other = raw().await;
        let tx = other.transaction().await.unwrap();
        tx.execute(
            &format!(
                "SELECT 1 FROM \"{schema}\".customers WHERE tenant_id = $1 AND customer_id = $2 FOR UPDATE"
            ),
            &[t.as_uuid(), a.id().as_uuid()],
        )
        .await
        .unwrap();
        let mut cs = Changeset::new();
        cs.update(&a, a.next_version(), Stats::default());
        let r = impatient.apply(t, &cs).await;
        tx.rollback().await.unwrap();
        r.unwrap_err()
    });
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("55P03"), "{err}");
}

/// A tokio host: the store on the host's runtime (`connect_on`), driven from async code.
#[test]
fn a_tokio_host_can_lend_its_runtime() {
    let base = fresh();
    let schema = base.inner.schema().to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = PostgresStore::connect_on(
            tokio::runtime::Handle::current(),
            PostgresConfig::new(url()).with_schema(schema),
            now(),
        )
        .await
        .unwrap();
        let t = TenantId::from_u128(3);
        let c = Customer::new(t, CustomerId::from_u128(1), Profile::default(), now());
        let mut cs = Changeset::new();
        cs.create(c.clone(), Stats::default());
        store.apply(t, &cs).await.unwrap();
        assert_eq!(store.load(t, c.id()).await.unwrap().unwrap().customer, c);
        assert_eq!(store.scan(t, Page::first(10)).await.unwrap().len(), 1);
    });
}

/// A stored row that does not decode — a NULL where a value is required, a column of
/// another type (a hand-edited or damaged table) — is `StoreError::Corrupt` naming the table
/// and column, from every read, never a panic (`Row::get` panicked here before).
#[test]
fn a_row_of_the_wrong_type_or_null_is_corrupt_not_a_panic() {
    let fresh = fresh();
    let store = &fresh.inner;
    let schema = store.schema().to_owned();
    let t = TenantId::from_u128(1);
    let c = create(store, t, 1);
    let order = Activity::new(
        ActivityId::from_u128(10),
        c.id(),
        now(),
        Channel::Web,
        IdempotencyKey::new("order-1").unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new("1").unwrap(),
            amount: Money::new(rust_decimal::Decimal::from(25), Currency::EUR),
            margin: None,
        },
    )
    .unwrap();
    let mut cs = Changeset::new();
    cs.activities.push(order);
    cs.outbox.push(OutboxMessage::new(
        MessageId::from_u128(1),
        t,
        now(),
        DomainEvent::CustomerRegistered { customer: c.id() },
    ));
    block_on(store.apply(t, &cs)).unwrap();
    // Damage the tables before any read has prepared its statement.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        raw()
            .await
            .batch_execute(&format!(
                "SET search_path TO \"{schema}\";
                 ALTER TABLE customers ALTER COLUMN customer_json DROP NOT NULL;
                 UPDATE customers SET customer_json = NULL;
                 ALTER TABLE activities ALTER COLUMN activity_json TYPE bytea
                     USING convert_to(activity_json, 'UTF8');
                 ALTER TABLE outbox ALTER COLUMN attempts TYPE bigint;"
            ))
            .await
            .unwrap();
    });
    let corrupt = |r: Result<String, StoreError>, column: &str| match r {
        Err(StoreError::Corrupt { reason }) => {
            assert!(reason.starts_with(&format!("{column}: ")), "{reason}");
        }
        other => panic!("{column}: {other:?}"),
    };
    corrupt(
        block_on(store.load(t, c.id())).map(|r| format!("{r:?}")),
        "customers.customer_json",
    );
    corrupt(
        block_on(store.scan(t, Page::first(10))).map(|r| format!("{r:?}")),
        "customers.customer_json",
    );
    corrupt(
        block_on(store.activities(t, c.id(), TimeRange::all())).map(|r| format!("{r:?}")),
        "activities.activity_json",
    );
    corrupt(
        block_on(store.claim_outbox(10, Duration::from_secs(60), now())).map(|r| format!("{r:?}")),
        "outbox.attempts",
    );
}

//! `PostgresStore::apply_in`: a changeset applied inside the host's own transaction. The
//! host's commit keeps rapport's rows with its own; its rollback keeps nothing; a refusal
//! (conflict, duplicate key) leaves the host's transaction usable and its rows untouched.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use chrono::{DateTime, Utc};
use rapport_core::*;
use rapport_postgres::PostgresStore;
use support::fresh;

fn now() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + chrono::Duration::days(20_000)
}

fn customer(t: TenantId, id: u128) -> Customer {
    Customer::new(t, CustomerId::from_u128(id), Profile::default(), now())
}

fn purchase(c: CustomerId, key: &str) -> Activity {
    Activity::new(
        ActivityId::from_u128(99),
        c,
        now(),
        Channel::Web,
        IdempotencyKey::new(key).unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new("1").unwrap(),
            amount: Money::new(rust_decimal::Decimal::from(25), Currency::EUR),
            margin: None,
        },
    )
    .unwrap()
}

/// A create with its outbox message.
fn register(t: TenantId, c: &Customer) -> Changeset {
    let mut cs = Changeset::new();
    cs.create(c.clone(), Stats::default());
    cs.outbox.push(OutboxMessage::new(
        MessageId::from_u128(c.id().as_uuid().as_u128()),
        t,
        now(),
        DomainEvent::CustomerRegistered { customer: c.id() },
    ));
    cs
}

/// A host connection with a table of its own (in the test schema, dropped with it).
async fn host(store: &PostgresStore) -> tokio_postgres::Client {
    let client = support::raw_client().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{}\".host_orders (n int PRIMARY KEY)",
            store.schema()
        ))
        .await
        .unwrap();
    client
}

async fn host_rows(client: &tokio_postgres::Client, store: &PostgresStore) -> i64 {
    client
        .query_one(
            &format!("SELECT count(*) FROM \"{}\".host_orders", store.schema()),
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn insert_host_row(store: &PostgresStore) -> String {
    format!(
        "INSERT INTO \"{}\".host_orders (n) VALUES ($1)",
        store.schema()
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_host_commit_keeps_our_rows_with_its_own() {
    let fresh = fresh();
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let ann = customer(t, 1);
    rt().block_on(async {
        let mut client = host(store).await;
        let tx = client.transaction().await.unwrap();
        tx.execute(&insert_host_row(store), &[&1_i32])
            .await
            .unwrap();
        let applied = store.apply_in(&tx, t, &register(t, &ann)).await.unwrap();
        assert_eq!((applied.customers, applied.messages), (1, 1));
        // Not visible outside the host's transaction before its commit.
        assert_eq!(store.load(t, ann.id()).await.unwrap(), None);
        tx.commit().await.unwrap();
        assert_eq!(
            store.load(t, ann.id()).await.unwrap().unwrap().customer,
            ann
        );
        assert_eq!(host_rows(&client, store).await, 1);
        let claimed = store
            .claim_outbox(10, std::time::Duration::from_secs(60), now())
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    });
}

#[test]
fn the_host_rollback_keeps_nothing_of_ours() {
    let fresh = fresh();
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let ann = customer(t, 1);
    rt().block_on(async {
        let mut client = host(store).await;
        let tx = client.transaction().await.unwrap();
        tx.execute(&insert_host_row(store), &[&1_i32])
            .await
            .unwrap();
        let mut cs = register(t, &ann);
        cs.activities.push(purchase(ann.id(), "order-1"));
        store.apply_in(&tx, t, &cs).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(store.load(t, ann.id()).await.unwrap(), None);
        assert!(
            store
                .activities(t, ann.id(), TimeRange::default())
                .await
                .unwrap()
                .is_empty()
        );
        let claimed = store
            .claim_outbox(10, std::time::Duration::from_secs(60), now())
            .await
            .unwrap();
        assert!(claimed.is_empty());
        assert_eq!(host_rows(&client, store).await, 0);
        // The key is free again: a later apply stores it.
        assert!(!store.apply(t, &cs).await.unwrap().is_duplicate());
    });
}

#[test]
fn a_conflict_is_an_error_and_the_host_can_roll_back() {
    let fresh = fresh();
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let ann = customer(t, 1);
    rt().block_on(async {
        store.apply(t, &register(t, &ann)).await.unwrap();
        let mut client = host(store).await;
        let tx = client.transaction().await.unwrap();
        tx.execute(&insert_host_row(store), &[&1_i32])
            .await
            .unwrap();
        // Written against version 1 while the stored one is 2.
        let mut bump = Changeset::new();
        bump.update(&ann, ann.next_version(), Stats::default());
        store.apply(t, &bump).await.unwrap();
        let mut stale = Changeset::new();
        stale.update(&ann, ann.next_version(), Stats::default());
        stale.outbox.push(OutboxMessage::new(
            MessageId::from_u128(77),
            t,
            now(),
            DomainEvent::CustomerRegistered { customer: ann.id() },
        ));
        let err = store.apply_in(&tx, t, &stale).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: 1,
                    actual: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        // A create of a known id: AlreadyExists, never an upsert.
        let err = store
            .apply_in(&tx, t, &register(t, &ann))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
        // The host's transaction is still usable, with its own row in it.
        assert_eq!(
            tx.query_one(
                &format!("SELECT count(*) FROM \"{}\".host_orders", store.schema()),
                &[]
            )
            .await
            .unwrap()
            .get::<_, i64>(0),
            1
        );
        tx.rollback().await.unwrap();
        assert_eq!(host_rows(&client, store).await, 0);
        let stored = store.load(t, ann.id()).await.unwrap().unwrap();
        assert_eq!(stored.customer.version(), 2);
        // Only the first apply's message: nothing of the refused changesets.
        let claimed = store
            .claim_outbox(10, std::time::Duration::from_secs(60), now())
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    });
}

#[test]
fn a_known_key_is_a_duplicate_with_nothing_written_and_the_host_commits_its_own() {
    let fresh = fresh();
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let ann = customer(t, 1);
    rt().block_on(async {
        let mut first = register(t, &ann);
        first.activities.push(purchase(ann.id(), "order-1"));
        store.apply(t, &first).await.unwrap();
        let mut client = host(store).await;
        let tx = client.transaction().await.unwrap();
        tx.execute(&insert_host_row(store), &[&1_i32])
            .await
            .unwrap();
        let mut again = Changeset::new();
        again.update(&ann, ann.next_version(), Stats::default());
        again.activities.push(purchase(ann.id(), "order-1"));
        let applied = store.apply_in(&tx, t, &again).await.unwrap();
        assert_eq!(
            applied.duplicates,
            vec![IdempotencyKey::new("order-1").unwrap()]
        );
        tx.commit().await.unwrap();
        assert_eq!(host_rows(&client, store).await, 1);
        let stored = store.load(t, ann.id()).await.unwrap().unwrap();
        assert_eq!(stored.customer.version(), 1);
    });
}

#[test]
fn outside_a_transaction_it_is_refused_and_writes_nothing() {
    let fresh = fresh();
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let ann = customer(t, 1);
    rt().block_on(async {
        let client = host(store).await;
        let err = store
            .apply_in(&client, t, &register(t, &ann))
            .await
            .unwrap_err();
        let StoreError::Backend { source, .. } = &err else {
            panic!("{err:?}")
        };
        let pg = source.downcast_ref::<tokio_postgres::Error>().unwrap();
        assert_eq!(
            pg.code(),
            Some(&tokio_postgres::error::SqlState::NO_ACTIVE_SQL_TRANSACTION)
        );
        assert_eq!(store.load(t, ann.id()).await.unwrap(), None);
    });
}

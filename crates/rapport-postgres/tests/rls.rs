//! Row-level security (migration 3): a query through the store's role that forgets its
//! tenant filter still sees, changes and adds only the rows of the tenant the session names
//! in `rapport.tenant`; the outbox alone is visible across tenants, under `*` (the relay's
//! setting). And the store works under the policies: the whole conformance kit runs as an
//! ordinary role (row-level security never applies to a superuser, which the other tests
//! connect as).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use support::role::{AppRole, app_role, app_role_partitioned, connect};

rapport_testkit::store_contracts!(app_role; concurrent, privacy, merges, clv_models);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// Tenant `t`'s `n` customers, one purchase and one outbox message each, written by the
/// store running as the application role; and `n` more customers imported (the import's
/// `COPY` goes through staging under the policies).
fn book(app: &AppRole, t: TenantId, base: u128, n: u128) {
    for i in 0..n {
        let id = CustomerId::from_u128(base + i);
        let c = Customer::new(t, id, Profile::default(), now());
        let order = Activity::new(
            ActivityId::from_u128(base + i),
            id,
            now(),
            Channel::Web,
            IdempotencyKey::new(format!("order-{}", base + i)).unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("{}", base + i)).unwrap(),
                amount: Money::new(rust_decimal::Decimal::from(25), Currency::EUR),
                margin: None,
            },
        )
        .unwrap();
        let mut cs = Changeset::new();
        cs.create(c, Stats::default());
        cs.activities.push(order);
        cs.outbox.push(OutboxMessage::new(
            MessageId::from_u128(base + i),
            t,
            now(),
            DomainEvent::CustomerRegistered { customer: id },
        ));
        block_on(app.inner.apply(t, &cs)).unwrap();
    }
    let imported: Vec<(Customer, Stats)> = (0..n)
        .map(|i| {
            let id = CustomerId::from_u128(base + 1_000 + i);
            (
                Customer::new(t, id, Profile::default(), now()),
                Stats::default(),
            )
        })
        .collect();
    let r = block_on(app.inner.import_customers(t, &imported)).unwrap();
    assert_eq!(r.inserted, imported.len());
}

/// `SELECT tenant_id, count(*) … GROUP BY tenant_id` over `table` (no tenant filter), as
/// `client`'s session sees it.
async fn seen(
    client: &tokio_postgres::Client,
    schema: &str,
    table: &str,
) -> Vec<(uuid::Uuid, i64)> {
    client
        .query(
            &format!("SELECT tenant_id, count(*) FROM \"{schema}\".{table} GROUP BY 1 ORDER BY 1"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn name(client: &tokio_postgres::Client, tenant: &str) {
    client
        .execute("SELECT set_config('rapport.tenant', $1, false)", &[&tenant])
        .await
        .unwrap();
}

fn isolation(app: &AppRole, partitions: Option<u16>) {
    let (a, b) = (TenantId::from_u128(0xA), TenantId::from_u128(0xB));
    book(app, a, 100, 3);
    book(app, b, 200, 5);
    let schema = app.inner.schema().to_owned();
    let (ua, ub) = (*a.as_uuid(), *b.as_uuid());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The rows are there: the superuser (never subject to the policies) sees both.
        let su = connect(None).await;
        assert_eq!(seen(&su, &schema, "customers").await, vec![(ua, 6), (ub, 10)]);
        assert_eq!(seen(&su, &schema, "outbox").await, vec![(ua, 3), (ub, 5)]);

        let raw = connect(Some(&app.hooks.role.0)).await;
        // No tenant named: nothing at all.
        for table in ["customers", "activities", "outbox"] {
            assert!(seen(&raw, &schema, table).await.is_empty(), "{table}");
        }
        // Tenant A named: A's rows only, though the SQL has no tenant filter.
        name(&raw, &a.to_string()).await;
        assert_eq!(seen(&raw, &schema, "customers").await, vec![(ua, 6)]);
        assert_eq!(seen(&raw, &schema, "activities").await, vec![(ua, 3)]);
        assert_eq!(seen(&raw, &schema, "outbox").await, vec![(ua, 3)]);
        // Naming a partition directly does not get around the policies.
        if let Some(n) = partitions {
            let mut total = 0;
            for i in 0..n {
                for (t, c) in seen(&raw, &schema, &format!("customers_p{i}")).await {
                    assert_eq!(t, ua);
                    total += c;
                }
            }
            assert_eq!(total, 6);
        }
        // Writes: another tenant's rows cannot be added, changed or deleted.
        let err = raw
            .execute(
                &format!(
                    "INSERT INTO \"{schema}\".outbox (tenant_id, message_id, occurred_at, message_json)
                     VALUES ($1, $2, now(), '{{}}')"
                ),
                &[&ub, &uuid::Uuid::from_u128(999)],
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{err}"
        );
        let updated = raw
            .execute(
                &format!("UPDATE \"{schema}\".customers SET stage = 'erased' WHERE tenant_id = $1"),
                &[&ub],
            )
            .await
            .unwrap();
        assert_eq!(updated, 0);
        let deleted = raw
            .execute(&format!("DELETE FROM \"{schema}\".activities"), &[])
            .await
            .unwrap();
        assert_eq!(deleted, 3, "A's activities only");
        // `*` (the relay's setting): every tenant's outbox, no other table.
        name(&raw, "*").await;
        assert_eq!(seen(&raw, &schema, "outbox").await, vec![(ua, 3), (ub, 5)]);
        assert!(seen(&raw, &schema, "customers").await.is_empty());
        assert!(seen(&raw, &schema, "activities").await.is_empty());
        // B's activities survived A's unfiltered delete.
        assert_eq!(seen(&su, &schema, "activities").await, vec![(ub, 5)]);
    });
    // And the store still answers B's reads as before.
    let rec = block_on(app.inner.load(b, CustomerId::from_u128(200)))
        .unwrap()
        .unwrap();
    assert_eq!(rec.customer.stage(), Stage::Prospect);
    assert_eq!(
        block_on(app.inner.scan(b, Page::first(100))).unwrap().len(),
        10
    );
}

#[test]
fn a_raw_query_as_the_store_role_sees_only_the_named_tenant() {
    isolation(&app_role(), None);
}

#[test]
fn a_raw_query_as_the_store_role_sees_only_the_named_tenant_partitioned() {
    isolation(&app_role_partitioned(), Some(4));
}

/// Every tenant table (and every partition of one) has row-level security enabled and
/// forced, with the tenant policy.
#[test]
fn every_tenant_table_has_forced_row_level_security() {
    let app = app_role_partitioned();
    let schema = app.inner.schema().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let su = connect(None).await;
        let rows = su
            .query(
                "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                        (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid
                           AND p.polname = 'tenant_rows')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
                   AND c.relname <> 'schema_migrations'
                 ORDER BY 1",
                &[&schema],
            )
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            3 * 5 + 12,
            "3 tables, each a parent and 4 partitions; cases, accounts, account_links (migration 4); the consent ledger and the erasure records (5); the 2 automation tables (6); merges and distinct_pairs (7); account_activities (8); line_items (9); clv_models (10); none partitioned"
        );
        for r in &rows {
            let name: String = r.get(0);
            assert!(r.get::<_, bool>(1) && r.get::<_, bool>(2), "{name}");
            assert_eq!(r.get::<_, i64>(3), 1, "{name}");
        }
    });
}

/// Figures for `docs/reliability.md`: applies (one new customer each, 16 callers) and point
/// reads through the superuser's store (row-level security bypassed) and through the
/// application role's (policies evaluated), on one schema, alternated. Both send the
/// tenant setting; the difference is the policies. Run with `--ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand"]
fn rls_overhead() {
    let app = app_role();
    let owner = &app.hooks.owner.inner;
    let n = 4_000u128;
    let round = |store: &rapport_postgres::PostgresStore, base: u128| {
        let t = TenantId::from_u128(base);
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            for w in 0..16u128 {
                s.spawn(move || {
                    for i in (w..n).step_by(16) {
                        let c = Customer::new(
                            t,
                            CustomerId::from_u128(i + 1),
                            Profile::default(),
                            now(),
                        );
                        let mut cs = Changeset::new();
                        cs.create(c, Stats::default());
                        block_on(store.apply(t, &cs)).unwrap();
                    }
                });
            }
        });
        let writes = started.elapsed();
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            for w in 0..16u128 {
                s.spawn(move || {
                    for i in (w..n).step_by(16) {
                        assert!(
                            block_on(store.load(t, CustomerId::from_u128(i + 1)))
                                .unwrap()
                                .is_some()
                        );
                    }
                });
            }
        });
        (writes, started.elapsed())
    };
    let mut rows = Vec::new();
    for r in 0..3u128 {
        let (bw, br) = round(owner, 1_000 + r);
        let (aw, ar) = round(&app.inner, 2_000 + r);
        rows.push((bw, br, aw, ar));
    }
    for (bw, br, aw, ar) in rows {
        let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
        println!(
            "applies/s bypass {:.0} rls {:.0} (ratio {:.2}); loads/s bypass {:.0} rls {:.0} (ratio {:.2})",
            rate(bw),
            rate(aw),
            rate(aw) / rate(bw),
            rate(br),
            rate(ar),
            rate(ar) / rate(br)
        );
    }
}

/// With encryption, as the application role: asking for an erased customer's erasure deletes
/// again the keys of the customer and of the tombstone erased with it (the recursive query over
/// `merges` and `erasures` runs under the policies), e.g. keys left behind by a deletion that
/// failed before a restart; another tenant's customer keeps its key.
#[test]
fn erasing_again_deletes_the_keys_again_under_the_policies() {
    use rapport_core::ports::KeyStore;
    let rapport_testkit::broken::Broken { inner, hooks } = app_role();
    let keys: std::sync::Arc<dyn KeyStore> =
        std::sync::Arc::new(rapport_keys::MemoryKeyStore::new());
    let store = inner.with_keystore(keys.clone());
    {
        let svc = rapport::blocking::Service::new(&store);
        let (t, u) = (TenantId::from_u128(71), TenantId::from_u128(72));
        let person = |name: &str| Profile {
            display_name: Some(Pii::new(name.to_owned())),
            ..Profile::default()
        };
        let a = svc.register(t, person("Ann")).unwrap().customer.id();
        let b = svc.register(t, person("Ann L")).unwrap().customer.id();
        let other = svc.register(u, person("Ann")).unwrap().customer.id();
        svc.merge(
            t,
            rapport::MergeRequest::new(a, b, Actor::new("ops").unwrap()),
        )
        .unwrap();
        let record = svc.erase(t, a, "ticket-1", "gdpr-art17").unwrap();
        // Keys left behind (as after a deletion that failed, then a restart).
        for id in [a, b] {
            assert!(keys.data_key(t, id).unwrap().is_none());
            keys.create_data_key(t, id).unwrap();
        }
        assert_eq!(svc.erase(t, a, "ticket-2", "again").unwrap(), record);
        for id in [a, b] {
            assert!(
                keys.data_key(t, id).unwrap().is_none(),
                "{id}'s key is back"
            );
        }
        assert!(keys.data_key(u, other).unwrap().is_some());
    }
    drop(store);
    drop(hooks);
}

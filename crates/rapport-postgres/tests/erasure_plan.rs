//! An erasure deletes the customer's pending outbox messages by the `outbox_customer`
//! expression index (migration 11), not by reading and parsing the tenant's whole outbox: the
//! statement's expression is the indexed one word for word. Checked on a plain and on a
//! hash-partitioned outbox holding 20,000 messages of 2,000 customers, after `ANALYZE`.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::{Fresh, fresh, fresh_partitioned};

fn plan_of_drop_messages(f: &Fresh) -> String {
    let store = &f.inner;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&support::url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let s = store.schema();
        client
            .batch_execute(&format!(
                "INSERT INTO \"{s}\".outbox (tenant_id, message_id, occurred_at, message_json)
                 SELECT '00000000-0000-0000-0000-000000000001'::uuid, gen_random_uuid(), now(),
                        json_build_object('event', json_build_object(
                            'type', 'CustomerRegistered',
                            'customer', '00000000-0000-0000-0000-' || lpad((i % 2000)::text, 12, '0')
                        ))::text
                 FROM generate_series(1, 20000) AS i;
                 ANALYZE \"{s}\".outbox;"
            ))
            .await
            .unwrap();
        let sql = rapport_postgres::erasure_drop_messages_sql(s);
        let tenant = uuid::Uuid::from_u128(1);
        let customer = "00000000-0000-0000-0000-000000000007".to_owned();
        let rows = client
            .query(&format!("EXPLAIN (COSTS OFF) {sql}"), &[&tenant, &customer])
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        // The statement itself drops exactly that customer's ten messages.
        let dropped = client.execute(&sql, &[&tenant, &customer]).await.unwrap();
        assert_eq!(dropped, 10);
        plan.join("\n")
    })
}

#[test]
fn erasure_drops_outbox_messages_through_the_customer_index() {
    let plan = plan_of_drop_messages(&fresh());
    assert!(plan.contains("outbox_customer"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

#[test]
fn a_partitioned_outbox_has_the_index_on_its_partition() {
    let plan = plan_of_drop_messages(&fresh_partitioned());
    // The partition's index is named after the parent's: `outbox_p<i>_tenant_id_expr_idx`.
    assert!(
        plan.contains("Index Scan") || plan.contains("Bitmap Index Scan"),
        "{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

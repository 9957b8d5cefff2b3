//! The statements the store runs, with table names qualified by the configured schema once at
//! start-up. Only the (validated) schema name is pasted into SQL; every value is a bound
//! parameter.

/// Statement texts for one schema.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub(crate) load: String,
    pub(crate) find_by_email: String,
    pub(crate) find_by_phone: String,
    pub(crate) scan_first: String,
    pub(crate) scan_after: String,
    pub(crate) activities: String,
    pub(crate) existing_keys: String,
    pub(crate) insert_customer: String,
    pub(crate) create_customer: String,
    pub(crate) holder_email: String,
    pub(crate) count_customers: String,
    pub(crate) holder_phone: String,
    pub(crate) update_customer: String,
    pub(crate) version_of: String,
    pub(crate) insert_activity: String,
    pub(crate) insert_message: String,
    pub(crate) claim: String,
    pub(crate) ack: String,
    pub(crate) retry: String,
    pub(crate) ack_keyed: String,
    pub(crate) retry_keyed: String,
    pub(crate) load_for_update: String,
    pub(crate) import_stats: String,
    pub(crate) any_customer: String,
    pub(crate) any_activity: String,
    pub(crate) case: crate::case::CaseSql,
    pub(crate) account: crate::account::AccountSql,
    pub(crate) consents: crate::consent::ConsentSql,
    pub(crate) line_items: crate::line_items::LineSql,
    pub(crate) merges: std::sync::Arc<crate::merge::MergeSql>,
    pub(crate) strict: Strict,
}

/// The group commit's pipelined forms (migration 12): like `create_customer`,
/// `update_customer`, `existing_keys` and `insert_activity`, but every refusal is an error
/// (which aborts the transaction) instead of a statement that writes nothing. With them a
/// group's `COMMIT` can travel in the same pipeline as its statements: when one is refused,
/// the `COMMIT` finds the transaction aborted and rolls everything back.
#[derive(Debug, Clone)]
pub(crate) struct Strict {
    /// A taken id fails the primary key (no `ON CONFLICT`).
    pub(crate) create_customer: String,
    /// `update_customer`'s parameters; raises unless exactly one row was written.
    pub(crate) update_customer: String,
    /// Raises when any of the keys `$2` is stored for tenant `$1`.
    pub(crate) no_known_keys: String,
    /// A stored key fails its unique index (no `ON CONFLICT`).
    pub(crate) insert_activity: String,
}

/// Names the tenant whose rows the row-level security policies show (migration 3) for the
/// rest of the **session**: before a read, pipelined with it (a read runs outside any
/// transaction). Every read sets it, so a pooled connection never answers with the tenant
/// of its previous user.
pub(crate) const SET_TENANT: &str = "SELECT set_config('rapport.tenant', $1, false)";

/// As [`SET_TENANT`], until the end of the **transaction** (or back to the value before
/// the savepoint it ran under, when that is rolled back): the first statement of every
/// changeset and import.
pub(crate) const SET_TENANT_LOCAL: &str = "SELECT set_config('rapport.tenant', $1, true)";

/// The `rapport.tenant` value that shows every tenant's outbox rows (and nothing of the
/// other tables): the relay's.
pub(crate) const ALL_TENANTS: &str = "*";

impl Sql {
    pub(crate) fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        // The statements written in two forms (the usual one and the group commit's strict
        // one, which differ only around these texts).
        let insert_customer = format!(
            "INSERT INTO {s}.customers (tenant_id, customer_id, version, stage, tier,
                     merged_into, created_at, email, phone, orders, purchase_days, revenue,
                     last_purchase_day, first_purchase_day, customer_json, stats_json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        );
        let update_customer = format!(
            "UPDATE {s}.customers SET version = $3, stage = $4, tier = $5, merged_into = $6,
                 email = NULLIF($7, unclaimed_email), phone = NULLIF($8, unclaimed_phone),
                 orders = $9, purchase_days = $10, revenue = $11,
                 last_purchase_day = $12, first_purchase_day = $13, customer_json = $14,
                 stats_json = $15
             WHERE tenant_id = $1 AND customer_id = $2 AND version = $16
               AND stage NOT IN ('merged', 'erased')"
        );
        let insert_activity = format!(
            "INSERT INTO {s}.activities (tenant_id, idempotency_key, activity_id, customer_id,
                 at, kind, amount, activity_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        );
        Self {
            case: crate::case::CaseSql::new(&s),
            account: crate::account::AccountSql::new(&s),
            // One primary-key probe per key (`= ANY($2)` with a bound array would compare
            // every row of the tenant with every key).
            any_customer: format!(
                "SELECT EXISTS (SELECT 1 FROM unnest($2::uuid[]) AS k(id)
                 JOIN {s}.customers c ON c.tenant_id = $1 AND c.customer_id = k.id)"
            ),
            any_activity: format!(
                "SELECT EXISTS (SELECT 1 FROM unnest($2::text[]) AS k(key)
                 JOIN {s}.activities a ON a.tenant_id = $1 AND a.idempotency_key = k.key)"
            ),
            load: format!(
                "SELECT customer_json, stats_json FROM {s}.customers
                 WHERE tenant_id = $1 AND customer_id = $2"
            ),
            // The live customer holding the contact first, then any younger duplicates written
            // before the store enforced one customer per contact (migration 2).
            find_by_email: format!(
                "SELECT customer_id, 0 FROM {s}.customers WHERE tenant_id = $1 AND email = $2
                 UNION ALL
                 SELECT customer_id, 1 FROM {s}.customers WHERE tenant_id = $1 AND unclaimed_email = $2
                 ORDER BY 2, 1"
            ),
            find_by_phone: format!(
                "SELECT customer_id, 0 FROM {s}.customers WHERE tenant_id = $1 AND phone = $2
                 UNION ALL
                 SELECT customer_id, 1 FROM {s}.customers WHERE tenant_id = $1 AND unclaimed_phone = $2
                 ORDER BY 2, 1"
            ),
            count_customers: format!(
                "SELECT count(*) FROM unnest($2::uuid[]) AS k(id)
                 JOIN {s}.customers c ON c.tenant_id = $1 AND c.customer_id = k.id"
            ),
            holder_email: format!(
                "SELECT customer_id FROM {s}.customers
                 WHERE tenant_id = $1 AND email = $2 AND customer_id <> $3"
            ),
            holder_phone: format!(
                "SELECT customer_id FROM {s}.customers
                 WHERE tenant_id = $1 AND phone = $2 AND customer_id <> $3"
            ),
            scan_first: format!(
                "SELECT customer_json, stats_json FROM {s}.customers
                 WHERE tenant_id = $1 ORDER BY customer_id LIMIT $2"
            ),
            scan_after: format!(
                "SELECT customer_json, stats_json FROM {s}.customers
                 WHERE tenant_id = $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3"
            ),
            activities: format!(
                "SELECT activity_json FROM {s}.activities
                 WHERE tenant_id = $1 AND customer_id = $2
                   AND ($3::timestamptz IS NULL OR at >= $3)
                   AND ($4::timestamptz IS NULL OR at < $4)
                 ORDER BY at, idempotency_key"
            ),
            existing_keys: format!(
                "SELECT idempotency_key FROM {s}.activities
                 WHERE tenant_id = $1 AND idempotency_key = ANY($2)"
            ),
            insert_customer: format!("{insert_customer} ON CONFLICT DO NOTHING"),
            // A create through `apply`: a taken id writes nothing (`AlreadyExists`), a taken
            // contact fails the unique index (`ContactTaken`).
            create_customer: format!(
                "{insert_customer} ON CONFLICT (tenant_id, customer_id) DO NOTHING"
            ),
            update_customer: update_customer.clone(),
            version_of: format!(
                "SELECT version, stage FROM {s}.customers WHERE tenant_id = $1 AND customer_id = $2"
            ),
            insert_activity: format!("{insert_activity} ON CONFLICT DO NOTHING"),
            insert_message: format!(
                "INSERT INTO {s}.outbox (tenant_id, message_id, occurred_at, attempts, message_json)
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            claim: format!(
                "WITH picked AS (
                     SELECT tenant_id, message_id FROM {s}.outbox
                     WHERE available_at <= $1 ORDER BY seq LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE {s}.outbox o SET available_at = $3, attempts = o.attempts + 1
                 FROM picked
                 WHERE o.tenant_id = picked.tenant_id AND o.message_id = picked.message_id
                 RETURNING o.seq, o.attempts, o.message_json"
            ),
            // By id alone: the port's `ack_outbox` / `retry_outbox` (index `outbox_message`).
            // The relay uses the keyed forms below (the primary key).
            ack: format!("DELETE FROM {s}.outbox WHERE message_id = ANY($1)"),
            ack_keyed: format!(
                "DELETE FROM {s}.outbox o USING unnest($1::uuid[], $2::uuid[]) AS k(t, m)
                 WHERE o.tenant_id = k.t AND o.message_id = k.m"
            ),
            retry_keyed: format!(
                "UPDATE {s}.outbox SET available_at = $3 WHERE tenant_id = $1 AND message_id = $2"
            ),
            retry: format!("UPDATE {s}.outbox SET available_at = $2 WHERE message_id = $1"),
            load_for_update: format!(
                "SELECT customer_json, stats_json FROM {s}.customers
                 WHERE tenant_id = $1 AND customer_id = $2 FOR UPDATE"
            ),
            import_stats: format!(
                "UPDATE {s}.customers SET version = $3, orders = $4, purchase_days = $5,
                     revenue = $6, last_purchase_day = $7, first_purchase_day = $8,
                     customer_json = $9, stats_json = $10
                 WHERE tenant_id = $1 AND customer_id = $2"
            ),
            consents: crate::consent::ConsentSql::new(&s),
            line_items: crate::line_items::LineSql::new(&s),
            merges: std::sync::Arc::new(crate::merge::MergeSql::new(&s)),
            strict: Strict {
                create_customer: insert_customer,
                update_customer: format!(
                    "WITH written AS ({update_customer} RETURNING 1)
                     SELECT {s}.rapport_refuse_unless(
                         (SELECT count(*) FROM written) = 1, 'customer version')"
                ),
                no_known_keys: format!(
                    "SELECT {s}.rapport_refuse_unless(NOT EXISTS (
                         SELECT 1 FROM unnest($2::text[]) AS k(key)
                         JOIN {s}.activities a ON a.tenant_id = $1 AND a.idempotency_key = k.key),
                         'idempotency key')"
                ),
                insert_activity,
            },
        }
    }
}

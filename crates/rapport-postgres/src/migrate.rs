//! Schema migrations: numbered `.sql` files embedded in the crate, applied in one transaction
//! into `<schema>.schema_migrations`, under an advisory lock so that processes starting
//! together migrate once. A schema newer than this code is refused.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::config::Layout;
use crate::error::{PostgresError, db};

/// One schema migration (rapport-sql's: the SQL stores share their bookkeeping). Its SQL
/// has unqualified table names: run it with `search_path` set to the store's schema.
///
/// ```
/// use rapport_postgres::{MIGRATIONS, Migration, latest_version};
/// let first: &Migration = &MIGRATIONS[0];
/// assert_eq!((first.version, first.name), (1, "init"));
/// assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
/// assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(latest_version()));
/// ```
pub use rapport_sql::Migration;

/// Every migration this version of the crate knows, in order. Hosts that run their own
/// migration tool can take the SQL from here (run each with `SET LOCAL search_path TO <schema>`
/// and record it in `<schema>.schema_migrations (version integer PRIMARY KEY, name text,
/// applied_at timestamptz)`).
///
/// ```
/// assert!(rapport_postgres::MIGRATIONS[0].sql.contains("CREATE TABLE customers"));
/// ```
#[rustfmt::skip] // one line per migration
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "init", include_str!("../migrations/0001_init.sql")),
    Migration::new(2, "one_customer_per_contact", include_str!("../migrations/0002_one_customer_per_contact.sql")),
    Migration::new(3, "rls", include_str!("../migrations/0003_rls.sql")),
    Migration::new(4, "cases_and_accounts", include_str!("../migrations/0004_cases_and_accounts.sql")),
    Migration::new(5, "consent_ledger", include_str!("../migrations/0005_consent_ledger.sql")),
    Migration::new(6, "automation", include_str!("../migrations/0006_automation.sql")),
    Migration::new(7, "merges", include_str!("../migrations/0007_merges.sql")),
    Migration::new(8, "account_activities", include_str!("../migrations/0008_account_activities.sql")),
    Migration::new(9, "line_items", include_str!("../migrations/0009_line_items.sql")),
    Migration::new(10, "clv_models", include_str!("../migrations/0010_clv_models.sql")),
    Migration::new(11, "outbox_by_customer", include_str!("../migrations/0011_outbox_by_customer.sql")),
    Migration::new(12, "refusals_abort", include_str!("../migrations/0012_refusals_abort.sql")),
];

/// The schema version this code writes.
///
/// ```
/// assert_eq!(rapport_postgres::latest_version(), 12);
/// ```
#[must_use]
pub fn latest_version() -> u32 {
    rapport_sql::latest_version(MIGRATIONS)
}

/// The tables [`Layout::HashPartitioned`] partitions: those that grow with the tenants.
pub(crate) const PARTITIONED: &[&str] = &["customers", "activities", "outbox"];

/// A migration's SQL for `layout`: as written for [`Layout::Plain`]; for
/// [`Layout::HashPartitioned`], each `CREATE TABLE` of a [`PARTITIONED`] table gets
/// `PARTITION BY HASH (tenant_id)` and its partitions (`<table>_p<i>`, `MODULUS n,
/// REMAINDER i`). Indexes created on such a table afterwards are created on every partition
/// by PostgreSQL.
pub(crate) fn render(sql: &str, layout: Layout) -> Cow<'_, str> {
    let Layout::HashPartitioned { partitions } = layout else {
        return Cow::Borrowed(sql);
    };
    let mut out = sql.to_owned();
    for table in PARTITIONED {
        let head = format!("CREATE TABLE {table} (");
        let Some(start) = out.find(&head) else {
            continue;
        };
        let Some(close) = closing_paren(&out, start + head.len()) else {
            continue;
        };
        let Some(semi) = out[close..].find(';').map(|i| close + i) else {
            continue;
        };
        let mut parts = String::new();
        for i in 0..partitions {
            parts.push_str(&format!(
                "\nCREATE TABLE {table}_p{i} PARTITION OF {table} \
                 FOR VALUES WITH (MODULUS {partitions}, REMAINDER {i});"
            ));
        }
        out.insert_str(semi + 1, &parts);
        out.insert_str(close + 1, " PARTITION BY HASH (tenant_id)");
    }
    Cow::Owned(out)
}

/// The byte index of the `)` closing the `(` just before `from`, skipping `--` comments and
/// quoted text.
fn closing_paren(sql: &str, from: usize) -> Option<usize> {
    let bytes = sql.as_bytes();
    let (mut depth, mut i) = (1usize, from);
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            q @ (b'\'' | b'"') => {
                i = sql[i + 1..]
                    .find(q as char)
                    .map_or(bytes.len(), |n| i + 1 + n);
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The layout of an existing schema's tables (from the catalog): partitions of `customers`.
async fn found_layout(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
) -> Result<Layout, PostgresError> {
    let row = tx
        .query_one(
            "SELECT count(*) FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhparent
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = 'customers'",
            &[&schema],
        )
        .await
        .map_err(db)?;
    let n: i64 = crate::read::col(&row, "pg_inherits", 0)?;
    Ok(match u16::try_from(n) {
        Ok(0) => Layout::Plain,
        Ok(partitions) => Layout::HashPartitioned { partitions },
        Err(_) => Layout::HashPartitioned {
            partitions: u16::MAX,
        },
    })
}

/// Creates the schema if needed and applies the missing migrations in one transaction, a
/// new schema in `layout`, an existing one in the layout it has; returns the versions
/// applied and the layout.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: &str,
    now: DateTime<Utc>,
    layout: Layout,
) -> Result<(Vec<u32>, Layout), PostgresError> {
    let tx = client.transaction().await.map_err(db)?;
    // Two processes creating the same schema at once would collide on the catalog.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("rapport-migrate:{schema}")],
    )
    .await
    .map_err(db)?;
    // Created only when missing: an application role that was granted the use of an
    // existing schema (and no `CREATE` on the database or the schema) connects too.
    let row = tx
        .query_one(
            "SELECT to_regnamespace($1) IS NOT NULL,
                    to_regclass(format('%I.schema_migrations', $1::text)) IS NOT NULL",
            &[&schema],
        )
        .await
        .map_err(db)?;
    let has_schema: bool = crate::read::col(&row, "pg_namespace", 0)?;
    let has_table: bool = crate::read::col(&row, "pg_class", 1)?;
    let mut setup = String::new();
    if !has_schema {
        setup.push_str(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\";"));
    }
    setup.push_str(&format!("SET LOCAL search_path TO \"{schema}\";"));
    if !has_table {
        setup.push_str(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL
             );",
        );
    }
    tx.batch_execute(&setup).await.map_err(db)?;
    let row = tx
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .await
        .map_err(db)?;
    let current: Option<i32> = crate::read::col(&row, "schema_migrations", 0)?;
    let current = u32::try_from(current.unwrap_or(0)).unwrap_or(0);
    let pending =
        rapport_sql::pending(MIGRATIONS, current).map_err(|e| PostgresError::SchemaTooNew {
            found: e.found,
            supported: e.supported,
        })?;
    let layout = if current == 0 {
        layout
    } else {
        found_layout(&tx, schema).await?
    };
    let mut applied = Vec::new();
    for m in pending {
        tx.batch_execute(&render(m.sql, layout)).await.map_err(db)?;
        let version = i32::try_from(m.version).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &m.name, &now],
        )
        .await
        .map_err(db)?;
        applied.push(m.version);
    }
    tx.commit().await.map_err(db)?;
    Ok((applied, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_layout_runs_the_migration_as_written() {
        assert!(
            matches!(render(MIGRATIONS[0].sql, Layout::Plain), Cow::Borrowed(s) if s == MIGRATIONS[0].sql)
        );
    }

    #[test]
    fn the_partitioned_layout_partitions_the_tenant_tables_by_tenant() {
        let sql = render(MIGRATIONS[0].sql, Layout::HashPartitioned { partitions: 3 });
        for table in PARTITIONED {
            let head = format!("CREATE TABLE {table} (");
            let start = sql.find(&head).unwrap_or_else(|| panic!("{table}"));
            let close =
                closing_paren(&sql, start + head.len()).unwrap_or_else(|| panic!("{table}"));
            assert!(
                sql[close..].starts_with(") PARTITION BY HASH (tenant_id);"),
                "{table}"
            );
            for i in 0..3 {
                let part = format!(
                    "CREATE TABLE {table}_p{i} PARTITION OF {table} FOR VALUES WITH (MODULUS 3, REMAINDER {i});"
                );
                assert_eq!(sql.matches(&part).count(), 1, "{part}");
            }
            assert_eq!(sql.matches(&format!("PARTITION OF {table} ")).count(), 3);
        }
        // Nothing else changed: taking the added text out gives the migration back.
        let mut back = sql.replace(" PARTITION BY HASH (tenant_id)", "");
        for table in PARTITIONED {
            for i in 0..3 {
                back = back.replace(
                    &format!("\nCREATE TABLE {table}_p{i} PARTITION OF {table} FOR VALUES WITH (MODULUS 3, REMAINDER {i});"),
                    "",
                );
            }
        }
        assert_eq!(back, MIGRATIONS[0].sql);
    }

    #[test]
    fn parentheses_in_comments_and_quotes_do_not_count() {
        let sql = "CREATE TABLE t (a int -- (x\n, b text DEFAULT ')' );";
        assert_eq!(
            closing_paren(sql, "CREATE TABLE t (".len()),
            Some(sql.len() - 2)
        );
    }
}

//! The PostgreSQL [`Dialect`] of rapport-sql's segment compiler: `$n` placeholders with
//! explicit casts (PostgreSQL infers a parameter's type from its context, which would make
//! `integer_expr > $1` an `int4`), `TRUE` / `FALSE`, `date` day columns, exact `NUMERIC`
//! revenue, `jsonb_each` over the tag map, a regular expression for the expiry form and
//! `COLLATE "C"` for bytewise text order. The compiler itself is [`rapport_sql::segment`].

use chrono::NaiveDate;
use rapport_sql::{Dialect, LineItemsSql, MoneyColumn, Value};
use tokio_postgres::types::ToSql;

/// PostgreSQL's SQL, for the shared compilers, over the store's schema (the links table
/// `has_account_role` reads is qualified with it).
pub(crate) struct Postgres<'s> {
    /// The store's schema, unquoted.
    pub(crate) schema: &'s str,
}

impl Postgres<'_> {
    /// The roles of the row's customer over its active links (`Dialect::account_roles`); the
    /// outer table is `customers`.
    pub(crate) fn account_roles_sql(&self) -> String {
        format!(
            "(SELECT ',' || string_agg(r.role, ',') || ',' \
             FROM \"{}\".account_links AS l, \
             jsonb_array_elements_text(l.link_json::jsonb -> 'roles') AS r(role) \
             WHERE l.tenant_id = customers.tenant_id AND l.customer_id = customers.customer_id \
             AND (l.link_json::jsonb -> 'until') IS NULL)",
            self.schema
        )
    }
}

impl Dialect for Postgres<'_> {
    fn true_sql(&self) -> &'static str {
        "TRUE"
    }

    fn false_sql(&self) -> &'static str {
        "FALSE"
    }

    fn write_placeholder(&self, out: &mut String, n: usize, value: &Value) {
        out.push('$');
        out.push_str(&n.to_string());
        out.push_str(match value {
            Value::Integer(_) => "::bigint",
            Value::Real(_) => "::float8",
            Value::Numeric(_) => "::numeric",
            Value::Date(_) => "::date",
            Value::Time(_) => "::timestamptz",
            _ => "::text",
        });
    }

    fn day(&self, day: NaiveDate) -> Value {
        Value::Date(day)
    }

    /// The UTC day of `created_at`.
    fn created_day(&self) -> &'static str {
        "((created_at AT TIME ZONE 'UTC')::date)"
    }

    fn position(&self, haystack: &str, needle: &str) -> String {
        format!("strpos({haystack}, {needle})")
    }

    fn revenue(&self) -> MoneyColumn {
        MoneyColumn::Numeric("revenue")
    }

    fn tag_entries(&self) -> &'static str {
        "jsonb_each(CASE WHEN jsonb_typeof(customer_json::jsonb -> 'tags') = 'object' THEN customer_json::jsonb -> 'tags' END)"
    }

    fn tag_expiry(&self) -> &'static str {
        "(t.value ->> 'expires_at')"
    }

    fn starts_with_second(&self, text: &str) -> String {
        format!("{text} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}'")
    }

    fn bytewise(&self) -> &'static str {
        " COLLATE \"C\""
    }

    fn account_roles(&self) -> Option<String> {
        Some(self.account_roles_sql())
    }

    /// `line_items` (migration 9) read as `jsonb`; exact `numeric` unit prices.
    fn line_items(&self) -> Option<LineItemsSql> {
        Some(LineItemsSql {
            table: format!("\"{}\".line_items", self.schema),
            index_hint: String::new(),
            owner:
                "{l}.tenant_id = customers.tenant_id AND {l}.customer_id = customers.customer_id"
                    .into(),
            lines: "jsonb_array_elements({l}.lines_json::jsonb -> 'items') AS i(value)".into(),
            at: "{l}.at".into(),
            order: "({l}.lines_json::jsonb ->> 'order')".into(),
            refund: "(({l}.lines_json::jsonb ->> 'refund')::boolean)".into(),
            sku: "(i.value ->> 'sku')".into(),
            category: "(i.value ->> 'category')".into(),
            quantity: "((i.value ->> 'quantity')::bigint)".into(),
            unit_price: "((i.value -> 'unit_price' ->> 'amount')::numeric)".into(),
            exact_amounts: true,
            concat: "string_agg({x}, E'\\n')".into(),
        })
    }
}

/// A bound value as a driver parameter, of the type its placeholder's cast names.
pub(crate) fn param(v: &Value) -> &(dyn ToSql + Sync) {
    match v {
        Value::Integer(n) => n,
        Value::Real(x) => x,
        Value::Numeric(d) => d,
        Value::Date(d) => d,
        Value::Time(t) => t,
        Value::Text(s) => s,
        // A value kind added later: no placeholder cast names it, so it cannot be bound.
        _ => &None::<String>,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use rapport_core::Segment;
    use rapport_sql::segment::prefilter;

    use super::*;

    const PG: Postgres<'static> = Postgres { schema: "rapport" };

    fn where_of(text: &str) -> rapport_sql::Sql {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        prefilter(&PG, &Segment::parse(text).unwrap(), now).into_sql(&PG)
    }

    #[test]
    fn postgres_sql() {
        let c = where_of("not (orders > 1 or margin > 5)");
        assert_eq!(
            c.render(&PG, 4),
            "(NOT COALESCE((orders) > $4::bigint, FALSE))"
        );
        assert_eq!(c.params(), &[Value::Integer(1)]);
        assert_eq!(where_of("last_nps > 1").text(), "TRUE");
        assert_eq!(where_of("rfm.r > 1").text(), "FALSE");
        let c = where_of(
            r#"email_domain == "A.io" and revenue > 2.5 and days_since_first_purchase < 3"#,
        );
        assert_eq!(
            c.render(&PG, 1),
            "((stage IN ('merged', 'erased') OR COALESCE(lower(substr(COALESCE(email, unclaimed_email), \
             strpos(COALESCE(email, unclaimed_email), '@') + 1)) = $1::text, FALSE)) \
             AND COALESCE(revenue > $2::numeric, FALSE) \
             AND COALESCE((CASE WHEN first_purchase_day <= $3::date THEN $4::date - first_purchase_day END) < $5::bigint, FALSE))"
        );
    }

    #[test]
    fn line_item_predicates_are_exact_on_numeric() {
        let c = where_of(r#"category_spend("tea", 365) > 100"#).render(&PG, 1);
        assert!(
            c.starts_with("COALESCE((SELECT COALESCE(SUM((CASE WHEN ((l.lines_json::jsonb ->> 'refund')::boolean)"),
            "{c}"
        );
        assert!(c.contains("FROM \"rapport\".line_items AS l, jsonb_array_elements(l.lines_json::jsonb -> 'items') AS i(value)"), "{c}");
        assert!(
            c.contains("(i.value ->> 'category') = $1::text AND (CASE WHEN"),
            "{c}"
        );
        // The window's days as times: `< $2` (the next midnight), `>= $3`.
        assert!(c.contains(") < $2::timestamptz AND (CASE WHEN"), "{c}");
        assert!(c.contains(") >= $3::timestamptz)"), "{c}");
        assert!(c.ends_with(") > $4::numeric, FALSE)"), "{c}");
        let c = where_of(r#"not bought("x")"#).render(&PG, 1);
        assert!(
            c.starts_with("NOT COALESCE(EXISTS (SELECT 1 FROM \"rapport\".line_items"),
            "{c}"
        );
        assert!(
            c.contains("(i.value ->> 'sku') = $1::text GROUP BY (l.lines_json::jsonb ->> 'order')"),
            "{c}"
        );
    }

    #[test]
    fn the_expiry_form_is_a_regular_expression_compared_bytewise() {
        let c = where_of(r#"has_tag("a:b")"#).render(&PG, 1);
        assert!(
            c.contains("(t.value ->> 'expires_at') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'"),
            "{c}"
        );
        assert!(
            c.contains("substr((t.value ->> 'expires_at'), 1, 19) COLLATE \"C\" >= $2::text"),
            "{c}"
        );
    }
}

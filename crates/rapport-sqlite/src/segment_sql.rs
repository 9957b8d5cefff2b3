//! The SQLite [`Dialect`] of rapport-sql's segment compiler: `?` placeholders, `0` / `1`
//! booleans, days as day numbers (days since 1970-01-01), creation times as UTC microseconds,
//! revenue as its nearest `f64` (`revenue_num`), `json_each` over the tag map, `GLOB` for the
//! expiry form. The compiler itself is [`rapport_sql::segment`].

use chrono::NaiveDate;
use rapport_sql::{Dialect, LineItemsSql, MoneyColumn};
use rusqlite::types::Value;

use crate::codec::day_number;

/// SQLite's SQL, for the shared compilers.
pub(crate) struct Sqlite;

impl Dialect for Sqlite {
    fn true_sql(&self) -> &'static str {
        "1"
    }

    fn false_sql(&self) -> &'static str {
        "0"
    }

    fn write_placeholder(&self, out: &mut String, _n: usize, _value: &rapport_sql::Value) {
        out.push('?');
    }

    fn day(&self, day: NaiveDate) -> rapport_sql::Value {
        rapport_sql::Value::Integer(day_number(day))
    }

    /// The UTC day of `created_at_us`, floored (integer division truncates toward zero).
    fn created_day(&self) -> &'static str {
        "((created_at_us - (((created_at_us % 86400000000) + 86400000000) % 86400000000)) / 86400000000)"
    }

    fn position(&self, haystack: &str, needle: &str) -> String {
        format!("instr({haystack}, {needle})")
    }

    fn revenue(&self) -> MoneyColumn {
        MoneyColumn::NearestF64("revenue_num")
    }

    fn tag_entries(&self) -> &'static str {
        "json_each(customer_json, '$.tags')"
    }

    fn tag_expiry(&self) -> &'static str {
        "json_extract(t.value, '$.expires_at')"
    }

    fn starts_with_second(&self, text: &str) -> String {
        format!(
            "{text} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'"
        )
    }

    /// SQLite's default collation (`BINARY`) compares bytewise.
    fn bytewise(&self) -> &'static str {
        ""
    }

    fn account_roles(&self) -> Option<String> {
        Some(ACCOUNT_ROLES.to_owned())
    }

    /// `rapport_line_items` (migration 8) read with `json_each` / `json_extract`; times in
    /// UTC microseconds, unit prices as `REAL` (sums compare with a tolerance).
    fn line_items(&self) -> Option<LineItemsSql> {
        Some(line_items_sql())
    }
}

/// How SQLite reads line items (`Dialect::line_items`).
pub(crate) fn line_items_sql() -> LineItemsSql {
    LineItemsSql {
        table: "rapport_line_items".into(),
        // Without `ANALYZE` statistics the planner may search the primary key on the tenant
        // alone (every line list of the tenant per customer).
        index_hint: "INDEXED BY rapport_line_items_customer".into(),
        owner: "{l}.tenant_id = rapport_customers.tenant_id \
                AND {l}.customer_id = rapport_customers.customer_id"
            .into(),
        lines: "json_each({l}.lines_json, '$.items') AS i".into(),
        at: "{l}.at_us".into(),
        order: "json_extract({l}.lines_json, '$.order')".into(),
        refund: "json_extract({l}.lines_json, '$.refund')".into(),
        sku: "json_extract(i.value, '$.sku')".into(),
        category: "json_extract(i.value, '$.category')".into(),
        quantity: "json_extract(i.value, '$.quantity')".into(),
        unit_price: "CAST(json_extract(i.value, '$.unit_price.amount') AS REAL)".into(),
        exact_amounts: false,
        concat: "group_concat({x}, char(10))".into(),
    }
}

/// The roles of the row's customer over its active links (`Dialect::account_roles`).
pub(crate) const ACCOUNT_ROLES: &str = "(SELECT ',' || group_concat(r.value, ',') || ',' \
    FROM rapport_account_links AS l, json_each(l.link_json, '$.roles') AS r \
    WHERE l.tenant_id = rapport_customers.tenant_id AND l.customer_id = rapport_customers.customer_id \
    AND json_extract(l.link_json, '$.until') IS NULL)";

/// A bound value as rusqlite's (the compiler binds integers, floats and text here; decimals
/// go in as canonical text and dates as day numbers, as the store keeps them).
pub(crate) fn value(v: &rapport_sql::Value) -> Value {
    match v {
        rapport_sql::Value::Integer(n) => Value::Integer(*n),
        rapport_sql::Value::Real(x) => Value::Real(*x),
        rapport_sql::Value::Text(s) => Value::Text(s.clone()),
        rapport_sql::Value::Numeric(d) => Value::Text(d.to_string()),
        rapport_sql::Value::Date(d) => Value::Integer(day_number(*d)),
        rapport_sql::Value::Time(t) => Value::Integer(crate::codec::time_to_us(*t)),
        // A value kind added later: bound as its text.
        other => Value::Text(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use rapport_core::Segment;
    use rapport_sql::segment::{Cond, prefilter};

    use super::*;

    fn where_of(text: &str) -> rapport_sql::Sql {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        prefilter(&Sqlite, &Segment::parse(text).unwrap(), now).into_sql(&Sqlite)
    }

    #[test]
    fn sqlite_sql() {
        let c = where_of("not (orders > 1 or margin > 5)");
        assert_eq!(c.render(&Sqlite, 1), "(NOT COALESCE((orders) > ?, 0))");
        assert_eq!(
            c.params().iter().map(value).collect::<Vec<_>>(),
            [Value::Integer(1)]
        );
        assert_eq!(where_of("last_nps > 1").text(), "1");
        assert_eq!(where_of("rfm.r > 1").text(), "0");
        let c = where_of(r#"email_domain == "A.io" and revenue > 2.5"#);
        assert_eq!(
            c.render(&Sqlite, 1),
            "((stage IN ('merged', 'erased') OR COALESCE(lower(substr(COALESCE(email, unclaimed_email), instr(COALESCE(email, unclaimed_email), '@') + 1)) = ?, 0)) AND COALESCE(revenue_num >= ?, 0))"
        );
        assert_eq!(
            c.params().iter().map(value).collect::<Vec<_>>(),
            [Value::Text("a.io".into()), Value::Real(2.5)]
        );
    }

    #[test]
    fn line_item_predicates_read_the_line_items_table() {
        let c = where_of(r#"bought("puer")"#);
        assert_eq!(
            c.render(&Sqlite, 1),
            "COALESCE(EXISTS (SELECT 1 FROM rapport_line_items AS l INDEXED BY rapport_line_items_customer, json_each(l.lines_json, '$.items') AS i \
             WHERE l.tenant_id = rapport_customers.tenant_id AND l.customer_id = rapport_customers.customer_id \
             AND json_extract(i.value, '$.sku') = ? GROUP BY json_extract(l.lines_json, '$.order') \
             HAVING SUM(CASE WHEN json_extract(l.lines_json, '$.refund') THEN -(json_extract(i.value, '$.quantity')) \
             ELSE json_extract(i.value, '$.quantity') END) > 0), 0)"
        );
        assert_eq!(
            c.params().iter().map(value).collect::<Vec<_>>(),
            [Value::Text("puer".into())]
        );
        // Float amounts: `> 100` may hold where the sum is at least 100 minus the tolerance.
        let c = where_of(r#"category_spend("tea", 30) > 100"#);
        assert!(
            c.text().starts_with("COALESCE((SELECT COALESCE(SUM("),
            "{}",
            c.text()
        );
        assert!(
            c.text().contains(" >= (? - (1e-9 * (COALESCE(SUM(ABS("),
            "{}",
            c.text()
        );
        let us = crate::codec::time_to_us;
        assert_eq!(
            c.params().iter().map(value).collect::<Vec<_>>(),
            [
                Value::Real(100.0),
                Value::Real(100.0),
                Value::Text("tea".into()),
                // The UTC days 31 January .. 1 March: times in [1 February, 2 March).
                Value::Integer(us(Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap())),
                Value::Integer(us(Utc.with_ymd_and_hms(2026, 1, 31, 0, 0, 0).unwrap())),
            ]
        );
        // `!=` may always hold on floats; `not ==` likewise.
        assert_eq!(where_of(r#"category_spend("tea", 30) != 1"#).text(), "1");
    }

    #[test]
    fn today_is_a_day_number() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let c = prefilter(
            &Sqlite,
            &Segment::parse("days_since_first_purchase > 0").unwrap(),
            now,
        );
        let Cond::Sql(c) = c else {
            panic!("compiled to a constant")
        };
        assert_eq!(
            value(&c.params()[0]),
            Value::Integer(day_number(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()))
        );
        assert_eq!(value(&c.params()[0]), Value::Integer(20_513));
    }
}

//! Segment predicates compiled to a parameterised SQL **prefilter**.
//!
//! A port of rapport-sqlite's compiler to PostgreSQL (`$n` parameters with explicit casts,
//! `date` columns, `NUMERIC` revenue, `jsonb_each` over the tag map). Each node of the
//! [`Segment`] tree compiles to two SQL conditions over one `customers` row, both never
//! `NULL`:
//!
//! - `may_hold`: true for every row for which the node *may* hold — a superset of the rows
//!   where it holds;
//! - `may_fail`: true for every row for which the node *may not* hold — a superset of the rows
//!   where it does not.
//!
//! A leaf the columns answer exactly gives `may_hold = c` and `may_fail = NOT c`; a leaf they
//! cannot answer (no projection column: margin, rolling windows, complaints, NPS/CSAT,
//! `days_since(<type>)`, custom attributes) gives `TRUE` for both ("maybe"). Then
//! `not` swaps the two, `and` / `or` combine them as Kleene logic does, so a `not` over an
//! uncompilable subtree stays `TRUE` (never `NOT TRUE`), and the `WHERE` — the root's
//! `may_hold` — keeps every row the segment could match. The store then decodes the
//! candidates and re-checks each one exactly with [`Segment::matches`], so the answer equals
//! the in-memory evaluation whatever the prefilter lets through.
//!
//! Every literal is a bound parameter; the SQL text holds only column names, operators,
//! constant tier names from the code, and placeholders (`?` while building, numbered `$n` by
//! [`Sql::numbered`]).

use chrono::{DateTime, NaiveDate, Utc};
use rapport_core::segment::{CmpOp, Field, Literal};
use rapport_core::{Segment, Tag, Tier};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tokio_postgres::types::ToSql;

/// A bound value, with the cast its placeholder gets (PostgreSQL infers a parameter's type
/// from its context, which would make `integer_expr > $1` an `int4`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `bigint`.
    Integer(i64),
    /// `numeric`.
    Numeric(Decimal),
    /// `text`.
    Text(String),
    /// `date`.
    Date(NaiveDate),
}

impl Value {
    fn cast(&self) -> &'static str {
        match self {
            Value::Integer(_) => "::bigint",
            Value::Numeric(_) => "::numeric",
            Value::Text(_) => "::text",
            Value::Date(_) => "::date",
        }
    }

    /// The value as a driver parameter.
    pub(crate) fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Integer(v) => v,
            Value::Numeric(v) => v,
            Value::Text(v) => v,
            Value::Date(v) => v,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Numeric(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}

/// A piece of SQL: text and bound values, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    fn raw(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        let v = v.into();
        self.text.push('?');
        self.text.push_str(v.cast());
        self.params.push(v);
        self
    }

    fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }

    /// The SQL text, with `?` placeholders.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The SQL text with the placeholders numbered `$first`, `$first + 1`, ... (the text holds
    /// no other `?`: only column names, operators and constants from this module).
    pub(crate) fn numbered(&self, first: usize) -> String {
        let mut out = String::with_capacity(self.text.len() + 2 * self.params.len());
        let mut n = first;
        for c in self.text.chars() {
            if c == '?' {
                out.push('$');
                out.push_str(&n.to_string());
                n += 1;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The values of the placeholders, in order.
    pub(crate) fn params(&self) -> &[Value] {
        &self.params
    }
}

/// A two-valued condition: a constant, or SQL that is never `NULL`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// Holds for every row.
    True,
    /// Holds for no row.
    False,
    /// Holds where the SQL is true (a boolean, never `NULL`).
    Sql(Sql),
}

impl Cond {
    /// `COALESCE(<sql>, FALSE)`: a condition from SQL that may be `NULL` (`NULL` counts as
    /// false).
    fn coalesce(inner: Sql) -> Cond {
        let mut s = Sql::raw("COALESCE(");
        s.append(inner).push(", FALSE)");
        Cond::Sql(s)
    }

    fn exact(self) -> Node {
        let not = self.clone().not();
        Node {
            may_hold: self,
            may_fail: not,
        }
    }

    fn not(self) -> Cond {
        match self {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Sql(inner) => {
                let mut s = Sql::raw("NOT ");
                s.append(inner);
                Cond::Sql(s)
            }
        }
    }

    fn and(items: Vec<Cond>) -> Cond {
        Self::join(items, " AND ", Cond::True, Cond::False)
    }

    fn or(items: Vec<Cond>) -> Cond {
        Self::join(items, " OR ", Cond::False, Cond::True)
    }

    /// Joins with `op`, dropping `unit` operands and collapsing on `absorbing` ones.
    fn join(items: Vec<Cond>, op: &str, unit: Cond, absorbing: Cond) -> Cond {
        let mut parts = Vec::new();
        for c in items {
            match c {
                Cond::Sql(s) => parts.push(s),
                c if c == absorbing => return absorbing,
                _ => {}
            }
        }
        if parts.is_empty() {
            return unit;
        }
        let mut s = Sql::raw("(");
        for (i, p) in parts.into_iter().enumerate() {
            if i > 0 {
                s.push(op);
            }
            s.append(p);
        }
        s.push(")");
        Cond::Sql(s)
    }

    /// The condition as SQL (`TRUE` / `FALSE` for the constants).
    pub(crate) fn into_sql(self) -> Sql {
        match self {
            Cond::True => Sql::raw("TRUE"),
            Cond::False => Sql::raw("FALSE"),
            Cond::Sql(s) => s,
        }
    }
}

/// The two supersets of one node (see the module docs).
#[derive(Debug, Clone, PartialEq)]
struct Node {
    may_hold: Cond,
    may_fail: Cond,
}

impl Node {
    const MAYBE: Node = Node {
        may_hold: Cond::True,
        may_fail: Cond::True,
    };
    const NEVER: Node = Node {
        may_hold: Cond::False,
        may_fail: Cond::True,
    };
}

/// The prefilter of `segment` at `now`: a condition that holds for every row the segment may
/// match (and maybe more). [`Cond::False`] means no row can match.
pub(crate) fn prefilter(segment: &Segment, now: DateTime<Utc>) -> Cond {
    let ctx = Ctx::new(now);
    node(segment, &ctx).may_hold
}

struct Ctx {
    /// `now`'s UTC day.
    today: NaiveDate,
    /// `now` truncated to the second, as `YYYY-MM-DDTHH:MM:SS` (how stored tag expiries start),
    /// when its year has four digits.
    now_second: Option<String>,
}

impl Ctx {
    fn new(now: DateTime<Utc>) -> Self {
        let year = now.date_naive().format("%Y").to_string();
        let four_digits = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
        Self {
            today: now.date_naive(),
            now_second: four_digits.then(|| now.format("%Y-%m-%dT%H:%M:%S").to_string()),
        }
    }
}

fn node(s: &Segment, ctx: &Ctx) -> Node {
    match s {
        Segment::True => Cond::True.exact(),
        Segment::False => Cond::False.exact(),
        Segment::And(items) => {
            let (hold, fail): (Vec<Cond>, Vec<Cond>) = items
                .iter()
                .map(|i| {
                    let n = node(i, ctx);
                    (n.may_hold, n.may_fail)
                })
                .unzip();
            Node {
                may_hold: Cond::and(hold),
                may_fail: Cond::or(fail),
            }
        }
        Segment::Or(items) => {
            let (hold, fail): (Vec<Cond>, Vec<Cond>) = items
                .iter()
                .map(|i| {
                    let n = node(i, ctx);
                    (n.may_hold, n.may_fail)
                })
                .unzip();
            Node {
                may_hold: Cond::or(hold),
                may_fail: Cond::and(fail),
            }
        }
        Segment::Not(inner) => {
            let n = node(inner, ctx);
            Node {
                may_hold: n.may_fail,
                may_fail: n.may_hold,
            }
        }
        Segment::HasTag(tag) => has_tag(tag, ctx),
        Segment::Compare { field, op, value } => compare(field, *op, value, ctx),
    }
}

/// `has_tag` against the tag map in `customer_json` (`"tags": {"ns:name": {"expires_at": ..}}`).
/// Stored expiries are RFC 3339 UTC text; their first 19 characters (the second) order as
/// time does for four-digit years (compared bytewise, `COLLATE "C"`), which the regular
/// expression checks; any other form is "maybe".
fn has_tag(tag: &Tag, ctx: &Ctx) -> Node {
    let Some(now_second) = &ctx.now_second else {
        return Node::MAYBE;
    };
    const EXPIRY: &str = "(t.value ->> 'expires_at')";
    const SECOND_FORM: &str = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'";
    let exists = |tail: &dyn Fn(&mut Sql)| {
        let mut s = Sql::raw(
            "EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(customer_json::jsonb -> 'tags') = 'object' THEN customer_json::jsonb -> 'tags' END) AS t WHERE t.key = ",
        );
        s.bind(tag.to_string()).push(" AND ");
        tail(&mut s);
        s.push(")");
        s
    };
    // Unexpired, or maybe: no expiry, an expiry in another form, or one in this second or later.
    let may_hold = exists(&|s: &mut Sql| {
        s.push(&format!(
            "({EXPIRY} IS NULL OR NOT ({EXPIRY} ~ {SECOND_FORM}) OR substr({EXPIRY}, 1, 19) COLLATE \"C\" >= "
        ))
        .bind(now_second.clone())
        .push(")");
    });
    // Surely unexpired: no expiry, or one in a later second.
    let holds = exists(&|s: &mut Sql| {
        s.push(&format!(
            "({EXPIRY} IS NULL OR ({EXPIRY} ~ {SECOND_FORM} AND substr({EXPIRY}, 1, 19) COLLATE \"C\" > "
        ))
        .bind(now_second.clone())
        .push("))");
    });
    Node {
        may_hold: Cond::coalesce(may_hold),
        may_fail: Cond::coalesce(holds).not(),
    }
}

/// A comparison of an integer-valued field with a decimal literal, reduced to integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntCmp {
    /// The comparison has this result for every integer.
    Always(bool),
    /// `x op n`.
    Cmp(CmpOp, i64),
}

/// `x op v` for integer `x`, as an integer comparison (or a constant when `v` is out of
/// range or not whole).
fn int_cmp(op: CmpOp, v: Decimal) -> IntCmp {
    // An integer bound: `Err(true)` when it is above every i64, `Err(false)` below.
    let bound = |d: Decimal| d.to_i64().ok_or(d.is_sign_positive());
    let whole = v.fract().is_zero();
    match op {
        CmpOp::Eq | CmpOp::Ne => match (whole, bound(v)) {
            (true, Ok(n)) => IntCmp::Cmp(op, n),
            _ => IntCmp::Always(op == CmpOp::Ne),
        },
        // x > v  <=>  x > floor(v);   x <= v  <=>  x <= floor(v)
        CmpOp::Gt | CmpOp::Le => match bound(v.floor()) {
            Ok(n) => IntCmp::Cmp(op, n),
            Err(above) => IntCmp::Always((op == CmpOp::Le) == above),
        },
        // x >= v  <=>  x >= ceil(v);  x < v  <=>  x < ceil(v)
        CmpOp::Ge | CmpOp::Lt => match bound(v.ceil()) {
            Ok(n) => IntCmp::Cmp(op, n),
            Err(above) => IntCmp::Always((op == CmpOp::Lt) == above),
        },
    }
}

fn sql_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => " = ",
        CmpOp::Ne => " <> ",
        CmpOp::Lt => " < ",
        CmpOp::Le => " <= ",
        CmpOp::Gt => " > ",
        CmpOp::Ge => " >= ",
    }
}

/// `<expr> op value` for an integer-valued SQL expression (which may be `NULL`: missing).
/// `expr` is SQL text built from column names and bound values.
fn int_expr(expr: Sql, op: CmpOp, value: &Literal) -> Cond {
    let Literal::Number(v) = value else {
        return Cond::False;
    };
    let mut s = Sql::default();
    match int_cmp(op, *v) {
        IntCmp::Always(b) => {
            // Present (not NULL) is all it takes.
            s.push("(").append(expr).push(") IS NOT NULL");
            return if b { Cond::Sql(s) } else { Cond::False };
        }
        IntCmp::Cmp(op, n) => {
            s.push("(").append(expr).push(")").push(sql_op(op)).bind(n);
        }
    }
    Cond::coalesce(s)
}

/// `today - <date column>` in days where the day is on or before today (else `NULL`).
fn days_since(ctx: &Ctx, day: &str) -> Sql {
    let mut s = Sql::raw("CASE WHEN ");
    s.push(day)
        .push(" <= ")
        .bind(ctx.today)
        .push(" THEN ")
        .bind(ctx.today)
        .push(" - ")
        .push(day)
        .push(" END");
    s
}

/// The UTC day of `created_at`.
const CREATED_DAY: &str = "((created_at AT TIME ZONE 'UTC')::date)";

fn compare(field: &Field, op: CmpOp, value: &Literal, ctx: &Ctx) -> Node {
    match field {
        Field::HasEmail => presence("email", op, value),
        Field::HasPhone => presence("phone", op, value),
        Field::EmailDomain => match (op, value) {
            (CmpOp::Eq | CmpOp::Ne, Literal::Text(v)) => {
                // Stored emails are normalised (lower case, one '@'); compare ignoring ASCII
                // case on both sides, as `eq_ignore_ascii_case` does.
                let mut s = Sql::raw("lower(substr(email, strpos(email, '@') + 1))");
                s.push(sql_op(op)).bind(v.to_ascii_lowercase());
                Cond::coalesce(s).exact()
            }
            _ => Node::NEVER,
        },
        Field::Orders => int_expr(Sql::raw("orders"), op, value).exact(),
        Field::PurchaseDays => int_expr(Sql::raw("purchase_days"), op, value).exact(),
        Field::Revenue => match value {
            Literal::Number(v) => revenue(op, *v),
            _ => Node::NEVER,
        },
        Field::Tier => match value {
            Literal::Tier(t) => {
                let mut s = Sql::raw("(CASE tier");
                for (rank, tier) in Tier::ALL.iter().enumerate() {
                    s.push(" WHEN '")
                        .push(tier.as_str())
                        .push(&format!("' THEN {rank}"));
                }
                s.push(" END)").push(sql_op(op)).bind(tier_rank(*t));
                Cond::coalesce(s).exact()
            }
            _ => Node::NEVER,
        },
        Field::Stage => match (op, value) {
            (CmpOp::Eq | CmpOp::Ne, Literal::Stage(name)) => {
                let mut s = Sql::raw("stage");
                s.push(sql_op(op)).bind(name.as_str().to_owned());
                Cond::coalesce(s).exact()
            }
            _ => Node::NEVER,
        },
        // Not stored: `Store::query` evaluates without RFM scores or churn risk, so these
        // comparisons are false for every customer.
        Field::RfmR | Field::RfmF | Field::RfmM | Field::RfmTotal | Field::ChurnRisk => Node::NEVER,
        Field::DaysSinceFirstPurchase => {
            int_expr(days_since(ctx, "first_purchase_day"), op, value).exact()
        }
        Field::DaysSinceLastPurchase => {
            // Exact while the last purchase day is on or before today; after a purchase day
            // later than `now` the value is that of an earlier day: maybe.
            let known = int_expr(days_since(ctx, "last_purchase_day"), op, value);
            let mut later = Sql::raw("last_purchase_day > ");
            later.bind(ctx.today);
            let later = Cond::coalesce(later);
            Node {
                may_hold: Cond::or(vec![known.clone(), later]),
                may_fail: known.not(),
            }
        }
        Field::DaysSinceRegistered => int_expr(days_since(ctx, CREATED_DAY), op, value).exact(),
        // No projection column: maybe.
        Field::Attr(_)
        | Field::Margin
        | Field::Revenue30d
        | Field::Revenue90d
        | Field::Revenue365d
        | Field::Complaints
        | Field::Complaints90d
        | Field::LastNps
        | Field::LastCsat
        | Field::DaysSince(_) => Node::MAYBE,
    }
}

fn tier_rank(t: Tier) -> i64 {
    Tier::ALL
        .iter()
        .position(|x| *x == t)
        .map_or(0, |p| p as i64)
}

/// `has_email` / `has_phone`: the contact column is set exactly when the profile has one.
fn presence(column: &str, op: CmpOp, value: &Literal) -> Node {
    let Literal::Bool(v) = value else {
        return Node::NEVER;
    };
    let wants_present = match op {
        CmpOp::Eq => *v,
        CmpOp::Ne => !*v,
        _ => return Node::NEVER,
    };
    let mut s = Sql::raw(column);
    s.push(if wants_present {
        " IS NOT NULL"
    } else {
        " IS NULL"
    });
    Cond::Sql(s).exact()
}

/// `revenue op v` against the `revenue` column: the stats' revenue as `NUMERIC`, so the
/// comparison is exact.
fn revenue(op: CmpOp, v: Decimal) -> Node {
    let mut s = Sql::raw("revenue");
    s.push(sql_op(op)).bind(v);
    Cond::coalesce(s).exact()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn where_of(text: &str) -> Cond {
        prefilter(&Segment::parse(text).unwrap(), now())
    }

    #[test]
    fn literals_are_bound_never_pasted() {
        let c = where_of(
            r#"email_domain == "evil'); DROP TABLE x; --" or stage == silent or orders > 12345 or has_tag("a:b")"#,
        )
        .into_sql();
        assert!(!c.text().contains("evil"));
        assert!(!c.text().contains("12345"));
        assert!(!c.text().contains("silent"));
        assert!(!c.text().contains("a:b"));
        assert_eq!(c.text().matches('?').count(), c.params().len());
        let numbered = c.numbered(3);
        assert!(
            numbered.contains("$3::text") && !numbered.contains('?'),
            "{numbered}"
        );
    }

    #[test]
    fn not_over_an_uncompilable_leaf_is_true_not_false() {
        assert_eq!(where_of("not last_nps >= 9"), Cond::True);
        assert_eq!(where_of("not (orders > 1 and margin > 5)"), Cond::True);
        // `not (a or maybe)` still needs `not a`.
        let c = where_of("not (orders > 1 or margin > 5)").into_sql();
        assert_eq!(c.text(), "(NOT COALESCE((orders) > ?::bigint, FALSE))");
        assert_eq!(c.params(), &[Value::Integer(1)]);
    }

    #[test]
    fn rfm_and_churn_risk_are_never_in_the_context() {
        assert_eq!(where_of("rfm.total >= 3"), Cond::False);
        assert_eq!(where_of("not churn_risk > 0.5"), Cond::True);
    }

    #[test]
    fn integer_bounds() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(int_cmp(CmpOp::Gt, d("2.5")), IntCmp::Cmp(CmpOp::Gt, 2));
        assert_eq!(int_cmp(CmpOp::Ge, d("2.5")), IntCmp::Cmp(CmpOp::Ge, 3));
        assert_eq!(int_cmp(CmpOp::Lt, d("-2.5")), IntCmp::Cmp(CmpOp::Lt, -2));
        assert_eq!(int_cmp(CmpOp::Le, d("-2.5")), IntCmp::Cmp(CmpOp::Le, -3));
        assert_eq!(int_cmp(CmpOp::Eq, d("2.5")), IntCmp::Always(false));
        assert_eq!(int_cmp(CmpOp::Ne, d("2.5")), IntCmp::Always(true));
        assert_eq!(int_cmp(CmpOp::Eq, d("2.0")), IntCmp::Cmp(CmpOp::Eq, 2));
        let huge = Decimal::MAX;
        assert_eq!(int_cmp(CmpOp::Lt, huge), IntCmp::Always(true));
        assert_eq!(int_cmp(CmpOp::Gt, huge), IntCmp::Always(false));
        assert_eq!(int_cmp(CmpOp::Ge, -huge), IntCmp::Always(true));
        assert_eq!(int_cmp(CmpOp::Le, -huge), IntCmp::Always(false));
        assert_eq!(int_cmp(CmpOp::Ne, huge), IntCmp::Always(true));
    }

    #[test]
    fn today_is_the_utc_day() {
        assert_eq!(
            Ctx::new(now()).today,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
        assert_eq!(
            Ctx::new(now()).now_second.as_deref(),
            Some("2026-03-01T12:00:00")
        );
    }
}

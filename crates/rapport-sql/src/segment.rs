//! Segment predicates compiled to a parameterised SQL **prefilter**, for any [`Dialect`].
//!
//! Each node of the [`Segment`] tree compiles to two SQL conditions over one customer row,
//! both never `NULL`:
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
//! constant tier names from the code, and placeholders.
//!
//! # The customer row
//! The compiled conditions read these columns of the row (the names are the same in every
//! dialect; their SQL types are the dialect's):
//!
//! | column | holds |
//! | --- | --- |
//! | `email`, `phone` | the normalised contact a live customer claims, `NULL` when none and for tombstones |
//! | `unclaimed_email`, `unclaimed_phone` | a live customer's contact another one claimed first (books written before one customer per contact was enforced), else `NULL` |
//! | `orders`, `purchase_days` | the stats' counts (integers) |
//! | [`Dialect::revenue`] | the stats' revenue |
//! | `tier`, `stage` | `Tier::as_str`, `Stage::as_str` |
//! | `first_purchase_day`, `last_purchase_day` | [`Dialect::day`] values, `NULL` when none |
//! | `customer_json` | the customer's JSON, read by [`Dialect::tag_entries`] |
//! | [`Dialect::created_day`] | an expression over the creation time |
//! | [`Dialect::account_roles`] | an expression over the customer's account links (`has_account_role`) |
//!
//! A store whose query compiles `has_account_role(...)` selects the same
//! [`Dialect::account_roles`] expression beside the row and hands [`account_roles`] of it to
//! the re-check ([`SegmentContext::with_account_roles`](rapport_core::SegmentContext::with_account_roles)).

use chrono::{DateTime, NaiveDate, Utc};
use rapport_core::segment::{CmpOp, Field, Literal, PurchaseSummary};
use rapport_core::{AccountRole, AccountRoleSet, ProductCategory, Segment, Sku, Tag, Tier};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::codec::{CorruptRow, nearest_f64};
use crate::sql::{Dialect, MoneyColumn, Sql, Value};

/// A two-valued condition: a constant, or SQL that is never `NULL`.
///
/// ```
/// use rapport_sql::segment::{Cond, prefilter};
/// # use rapport_sql::{Dialect, MoneyColumn, Value};
/// # struct Toy;
/// # impl Dialect for Toy {
/// #   fn true_sql(&self) -> &'static str { "TRUE" }
/// #   fn false_sql(&self) -> &'static str { "FALSE" }
/// #   fn write_placeholder(&self, out: &mut String, _: usize, _: &Value) { out.push('?') }
/// #   fn day(&self, day: chrono::NaiveDate) -> Value { Value::Date(day) }
/// #   fn created_day(&self) -> &'static str { "created_day" }
/// #   fn position(&self, h: &str, n: &str) -> String { format!("strpos({h}, {n})") }
/// #   fn revenue(&self) -> MoneyColumn { MoneyColumn::Numeric("revenue") }
/// #   fn tag_entries(&self) -> &'static str { "tags" }
/// #   fn tag_expiry(&self) -> &'static str { "t.expires_at" }
/// #   fn starts_with_second(&self, t: &str) -> String { format!("{t} ~ '^'") }
/// #   fn bytewise(&self) -> &'static str { "" }
/// # }
/// let now = chrono::DateTime::UNIX_EPOCH;
/// // Not stored in any row: no customer can match.
/// assert_eq!(prefilter(&Toy, &"rfm.total >= 3".parse()?, now), Cond::False);
/// // Not a projection column: every row may match.
/// assert_eq!(prefilter(&Toy, &"last_nps >= 9".parse()?, now), Cond::True);
/// let Cond::Sql(sql) = prefilter(&Toy, &"orders > 1".parse()?, now) else { unreachable!() };
/// assert_eq!(sql.text(), "COALESCE((orders) > ?, FALSE)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Holds for every row.
    True,
    /// Holds for no row.
    False,
    /// Holds where the SQL is true (never `NULL`).
    Sql(Sql),
}

impl Cond {
    /// The condition as SQL ([`Dialect::true_sql`] / [`Dialect::false_sql`] for the
    /// constants).
    ///
    /// ```
    /// # use rapport_sql::{Dialect, MoneyColumn, Value};
    /// # struct Toy;
    /// # impl Dialect for Toy {
    /// #   fn true_sql(&self) -> &'static str { "1" }
    /// #   fn false_sql(&self) -> &'static str { "0" }
    /// #   fn write_placeholder(&self, out: &mut String, _: usize, _: &Value) { out.push('?') }
    /// #   fn day(&self, day: chrono::NaiveDate) -> Value { Value::Date(day) }
    /// #   fn created_day(&self) -> &'static str { "created_day" }
    /// #   fn position(&self, h: &str, n: &str) -> String { format!("instr({h}, {n})") }
    /// #   fn revenue(&self) -> MoneyColumn { MoneyColumn::Numeric("revenue") }
    /// #   fn tag_entries(&self) -> &'static str { "tags" }
    /// #   fn tag_expiry(&self) -> &'static str { "t.expires_at" }
    /// #   fn starts_with_second(&self, t: &str) -> String { format!("{t} GLOB '*'") }
    /// #   fn bytewise(&self) -> &'static str { "" }
    /// # }
    /// use rapport_sql::segment::Cond;
    /// assert_eq!(Cond::True.into_sql(&Toy).text(), "1");
    /// ```
    #[must_use]
    pub fn into_sql(self, dialect: &dyn Dialect) -> Sql {
        match self {
            Cond::True => Sql::raw(dialect.true_sql()),
            Cond::False => Sql::raw(dialect.false_sql()),
            Cond::Sql(s) => s,
        }
    }

    /// `COALESCE(<sql>, <false>)`: a condition from SQL that may be `NULL` (`NULL` counts as
    /// false).
    fn coalesce(inner: Sql, ctx: &Ctx<'_>) -> Cond {
        let mut s = Sql::raw("COALESCE(");
        s.append(inner)
            .push(", ")
            .push(ctx.dialect.false_sql())
            .push(")");
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

/// The prefilter of `segment` at `now` in `dialect`: a condition that holds for every row the
/// segment may match (and maybe more). [`Cond::False`] means no row can match. See the
/// [module docs](self) for the columns it reads, and [`Cond`] for an example.
#[must_use]
pub fn prefilter(dialect: &dyn Dialect, segment: &Segment, now: DateTime<Utc>) -> Cond {
    let ctx = Ctx::new(dialect, now);
    node(segment, &ctx).may_hold
}

/// [`prefilter`] for a store whose contact columns hold keyed blind indexes
/// ([`crate::seal::Sealer`]) when `blind_contacts`: presence (`has_email`, `has_phone`) is
/// still answered by the columns, the email's domain is not (a digest has none), so
/// `email_domain` becomes "maybe" and is decided on the opened record.
///
/// ```
/// use rapport_core::Segment;
/// use rapport_sql::segment::{Cond, prefilter_with};
/// # use rapport_sql::{Dialect, MoneyColumn, Value};
/// # struct Toy;
/// # impl Dialect for Toy {
/// #   fn true_sql(&self) -> &'static str { "TRUE" }
/// #   fn false_sql(&self) -> &'static str { "FALSE" }
/// #   fn write_placeholder(&self, out: &mut String, _: usize, _: &Value) { out.push('?') }
/// #   fn day(&self, day: chrono::NaiveDate) -> Value { Value::Date(day) }
/// #   fn created_day(&self) -> &'static str { "created_day" }
/// #   fn position(&self, h: &str, n: &str) -> String { format!("strpos({h}, {n})") }
/// #   fn revenue(&self) -> MoneyColumn { MoneyColumn::Numeric("revenue") }
/// #   fn tag_entries(&self) -> &'static str { "tags" }
/// #   fn tag_expiry(&self) -> &'static str { "t.expires_at" }
/// #   fn starts_with_second(&self, t: &str) -> String { format!("{t} ~ '^'") }
/// #   fn bytewise(&self) -> &'static str { "" }
/// # }
/// let s = Segment::parse(r#"email_domain == "example.com""#)?;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// assert!(matches!(prefilter_with(&Toy, &s, now, true), Cond::True));
/// assert!(matches!(prefilter_with(&Toy, &s, now, false), Cond::Sql(_)));
/// # Ok::<(), rapport_core::SegmentParseError>(())
/// ```
#[must_use]
pub fn prefilter_with(
    dialect: &dyn Dialect,
    segment: &Segment,
    now: DateTime<Utc>,
    blind_contacts: bool,
) -> Cond {
    let mut ctx = Ctx::new(dialect, now);
    ctx.blind_contacts = blind_contacts;
    node(segment, &ctx).may_hold
}

struct Ctx<'d> {
    dialect: &'d dyn Dialect,
    /// The time of the evaluation.
    now: DateTime<Utc>,
    /// `now`'s UTC day.
    today: NaiveDate,
    /// `now` truncated to the second, as `YYYY-MM-DDTHH:MM:SS` (how stored tag expiries start),
    /// when its year has four digits.
    now_second: Option<String>,
    /// The contact columns hold blind indexes, not contacts.
    blind_contacts: bool,
}

impl<'d> Ctx<'d> {
    fn new(dialect: &'d dyn Dialect, now: DateTime<Utc>) -> Self {
        let year = now.date_naive().format("%Y").to_string();
        let four_digits = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
        Self {
            dialect,
            now,
            today: now.date_naive(),
            now_second: four_digits.then(|| now.format("%Y-%m-%dT%H:%M:%S").to_string()),
            blind_contacts: false,
        }
    }
}

fn node(s: &Segment, ctx: &Ctx<'_>) -> Node {
    match s {
        Segment::True => Cond::True.exact(),
        Segment::False => Cond::False.exact(),
        Segment::And(items) => {
            let (hold, fail) = children(items, ctx);
            Node {
                may_hold: Cond::and(hold),
                may_fail: Cond::or(fail),
            }
        }
        Segment::Or(items) => {
            let (hold, fail) = children(items, ctx);
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
        Segment::HasAccountRole(role) => has_account_role(*role, ctx),
        Segment::Bought(sku) => bought(sku, ctx),
        // A node this compiler does not know yet: no narrowing; `Segment::matches` decides.
        _ => Node::MAYBE,
    }
}

/// The `may_hold` and the `may_fail` conditions of each child.
fn children(items: &[Segment], ctx: &Ctx<'_>) -> (Vec<Cond>, Vec<Cond>) {
    items
        .iter()
        .map(|i| {
            let n = node(i, ctx);
            (n.may_hold, n.may_fail)
        })
        .unzip()
}

/// `has_tag` against the tag map in `customer_json` (`"tags": {"ns:name": {"expires_at": ..}}`).
/// Stored expiries are RFC 3339 UTC text; their first 19 characters (the second) order as
/// time does for four-digit years (compared bytewise), which [`Dialect::starts_with_second`]
/// checks; any other form is "maybe".
fn has_tag(tag: &Tag, ctx: &Ctx<'_>) -> Node {
    let Some(now_second) = &ctx.now_second else {
        return Node::MAYBE;
    };
    let d = ctx.dialect;
    let expiry = d.tag_expiry();
    let second_form = d.starts_with_second(expiry);
    let bytewise = d.bytewise();
    let exists = |tail: &dyn Fn(&mut Sql)| {
        let mut s = Sql::raw(&format!(
            "EXISTS (SELECT 1 FROM {} AS t WHERE t.key = ",
            d.tag_entries()
        ));
        s.bind(tag.to_string()).push(" AND ");
        tail(&mut s);
        s.push(")");
        s
    };
    // Unexpired, or maybe: no expiry, an expiry in another form, or one in this second or later.
    let may_hold = exists(&|s: &mut Sql| {
        s.push(&format!(
            "({expiry} IS NULL OR NOT ({second_form}) OR substr({expiry}, 1, 19){bytewise} >= "
        ))
        .bind(now_second.clone())
        .push(")");
    });
    // Surely unexpired: no expiry, or one in a later second.
    let holds = exists(&|s: &mut Sql| {
        s.push(&format!(
            "({expiry} IS NULL OR ({second_form} AND substr({expiry}, 1, 19){bytewise} > "
        ))
        .bind(now_second.clone())
        .push("))");
    });
    Node {
        may_hold: Cond::coalesce(may_hold, ctx),
        may_fail: Cond::coalesce(holds, ctx).not(),
    }
}

/// `has_account_role(role)` against [`Dialect::account_roles`]: `,role,` inside the list
/// (`LIKE` with `_` escaped, as role names hold it). Exact; "maybe" for a dialect without it.
fn has_account_role(role: AccountRole, ctx: &Ctx<'_>) -> Node {
    let Some(roles) = ctx.dialect.account_roles() else {
        return Node::MAYBE;
    };
    let mut s = Sql::raw(&format!("{roles} LIKE "));
    s.bind(format!("%,{},%", role.as_str().replace('_', "\\_")))
        .push(" ESCAPE '\\'");
    Cond::coalesce(s, ctx).exact()
}

/// The roles in a [`Dialect::account_roles`] value as read back from a row (`NULL`: none;
/// unknown names are skipped).
///
/// ```
/// use rapport_core::AccountRole;
/// use rapport_sql::segment::account_roles;
/// let roles = account_roles(Some(",buyer,decision_maker,buyer,"));
/// assert_eq!(roles.iter().collect::<Vec<_>>(), [AccountRole::DecisionMaker, AccountRole::Buyer]);
/// assert!(account_roles(None).is_empty());
/// ```
#[must_use]
pub fn account_roles(text: Option<&str>) -> AccountRoleSet {
    text.map_or_else(AccountRoleSet::default, |t| {
        t.split(',').filter_map(|r| r.parse().ok()).collect()
    })
}

/// `bought(sku)`: some order of the customer holds more of the sku than its refund lines give
/// back (the recommender's `net_purchases`). Exact; "maybe" for a dialect without line items.
fn bought(sku: &Sku, ctx: &Ctx<'_>) -> Node {
    let Some(li) = ctx.dialect.line_items() else {
        return Node::MAYBE;
    };
    let mut s = Sql::raw(&format!(
        "EXISTS (SELECT 1 FROM {}, {} WHERE {} AND {} = ",
        li.from("l"),
        li.lines("l"),
        li.owner("l"),
        li.sku
    ));
    s.bind(sku.as_str().to_owned()).push(&format!(
        " GROUP BY {} HAVING SUM(CASE WHEN {} THEN -({q}) ELSE {q} END) > 0)",
        li.order("l"),
        li.refund("l"),
        q = li.quantity
    ));
    Cond::coalesce(s, ctx).exact()
}

/// `category_spend(category, days) op v`: the sum of the category's line totals (a refund's
/// negative) whose purchase — a refund's order's earliest purchase list, else the refund
/// itself — is on a UTC day `today - days < d <= today` (`today`: `now`'s day; refunds
/// whenever made), compared with `v`. Exact on
/// exact amounts; on float amounts each side is widened by a tolerance (1e-9 of the sum of
/// the absolute line totals and of `v`, plus 1e-9) that bounds the rounding of the sum, so
/// both stay supersets. "Maybe" for a dialect without line items.
fn category_spend(
    category: &ProductCategory,
    days: u32,
    op: CmpOp,
    v: Decimal,
    ctx: &Ctx<'_>,
) -> Node {
    let Some(li) = ctx.dialect.line_items() else {
        return Node::MAYBE;
    };
    // The window's UTC days `today - days < d <= today` as times: `[begin, end)`.
    let today = ctx.now.date_naive();
    let midnight = |d: chrono::NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = today.succ_opt().map(midnight);
    let begin = today
        .checked_sub_days(chrono::Days::new(u64::from(days)))
        .and_then(|d| d.succ_opt())
        .map(midnight);
    let total = format!("(({}) * ({}))", li.quantity, li.unit_price);
    let signed = format!(
        "(CASE WHEN {} THEN -{total} ELSE {total} END)",
        li.refund("l")
    );
    // When the line counts: its purchase's time.
    let counted_at = format!(
        "(CASE WHEN {refund} THEN COALESCE((SELECT MIN({p_at}) FROM {table} WHERE {owner} \
         AND NOT ({p_refund}) AND {p_order} = {l_order}), {l_at}) ELSE {l_at} END)",
        refund = li.refund("l"),
        p_at = li.at("p"),
        table = li.from("p"),
        owner = li.owner("p"),
        p_refund = li.refund("p"),
        p_order = li.order("p"),
        l_order = li.order("l"),
        l_at = li.at("l"),
    );
    // `FROM ... WHERE` of the category's counted lines.
    let from = |s: &mut Sql| {
        s.push(&format!(
            " FROM {}, {} WHERE {} AND {} = ",
            li.from("l"),
            li.lines("l"),
            li.owner("l"),
            li.category
        ))
        .bind(category.as_str().to_owned());
        if let Some(end) = end {
            s.push(&format!(" AND {counted_at} < "))
                .bind(Value::Time(end));
        }
        if let Some(begin) = begin {
            s.push(&format!(" AND {counted_at} >= "))
                .bind(Value::Time(begin));
        }
        s.push(")");
    };
    let sum = format!("COALESCE(SUM({signed}), 0)");
    if li.exact_amounts {
        let mut s = Sql::raw(&format!("(SELECT {sum}"));
        from(&mut s);
        s.push(sql_op(op)).bind(v);
        return Cond::coalesce(s, ctx).exact();
    }
    let Some(fv) = nearest_f64(v) else {
        return Node::MAYBE;
    };
    // `sum rel v ± tol`, or `|sum - v| <= tol`, computed in the one aggregate row.
    let side = |form: Option<(&str, &str)>| -> Cond {
        let Some((rel, sign)) = form else {
            return Cond::True;
        };
        let mut s = if rel == "near" {
            let mut s = Sql::raw(&format!("(SELECT ABS({sum} - "));
            s.bind(fv).push(") <= (");
            s
        } else {
            let mut s = Sql::raw(&format!("(SELECT {sum}{rel}("));
            s.bind(fv).push(&format!(" {sign} "));
            s
        };
        s.push(&format!("(1e-9 * (COALESCE(SUM(ABS({signed})), 0) + "))
            .bind(fv.abs())
            .push(") + 1e-9))");
        from(&mut s);
        Cond::coalesce(s, ctx)
    };
    let (hold, fail) = match op {
        CmpOp::Gt | CmpOp::Ge => (Some((" >= ", "-")), Some((" <= ", "+"))),
        CmpOp::Lt | CmpOp::Le => (Some((" <= ", "+")), Some((" >= ", "-"))),
        CmpOp::Eq => (Some(("near", "")), None),
        CmpOp::Ne => (None, Some(("near", ""))),
    };
    Node {
        may_hold: side(hold),
        may_fail: side(fail),
    }
}

/// The purchases of a customer from a [`LineItemsSql::lists_of_row`](crate::LineItemsSql::lists_of_row) value read back beside
/// its row (`None`: no line lists), each list's customer set to `customer` (the JSON's may
/// name a customer merged into it).
///
/// ```
/// use rapport_core::{CustomerId, Sku};
/// use rapport_sql::segment::purchase_summary;
/// let list = r#"{"activity":"00000000-0000-0000-0000-000000000001","customer":"00000000-0000-0000-0000-000000000009","order":"o1","at":"2026-01-01T00:00:00Z","refund":false,"items":[{"sku":"tea","quantity":1,"unit_price":{"amount":"2","currency":"USD"}}]}"#;
/// let p = purchase_summary(Some(list), CustomerId::from_u128(2)).unwrap();
/// assert!(p.bought(&Sku::new("tea").unwrap()));
/// assert!(purchase_summary(None, CustomerId::from_u128(2)).unwrap().skus().next().is_none());
/// ```
///
/// # Errors
/// [`CorruptRow`] (table `line_items`) for a list that does not decode.
pub fn purchase_summary(
    lists: Option<&str>,
    customer: rapport_core::CustomerId,
) -> Result<PurchaseSummary, CorruptRow> {
    let rows = lists
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut row: rapport_core::LineItems = crate::codec::from_json("line_items", l)?;
            row.customer = customer;
            Ok(row)
        })
        .collect::<Result<Vec<_>, CorruptRow>>()?;
    Ok(PurchaseSummary::from_line_items(&rows))
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
fn int_expr(expr: Sql, op: CmpOp, value: &Literal, ctx: &Ctx<'_>) -> Cond {
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
    Cond::coalesce(s, ctx)
}

/// `today - <day column>` in days where the day is on or before today (else `NULL`).
fn days_since(ctx: &Ctx<'_>, day: &str) -> Sql {
    let today = ctx.dialect.day(ctx.today);
    let mut s = Sql::raw("CASE WHEN ");
    s.push(day)
        .push(" <= ")
        .bind(today.clone())
        .push(" THEN ")
        .bind(today)
        .push(" - ")
        .push(day)
        .push(" END");
    s
}

fn compare(field: &Field, op: CmpOp, value: &Literal, ctx: &Ctx<'_>) -> Node {
    match field {
        Field::HasEmail => presence(EMAIL, op, value),
        Field::HasPhone => presence(PHONE, op, value),
        // A blind index has no domain: decided on the opened record.
        Field::EmailDomain if ctx.blind_contacts => Node::MAYBE,
        Field::EmailDomain => match (op, value) {
            (CmpOp::Eq | CmpOp::Ne, Literal::Text(v)) => {
                // Stored emails are normalised (lower case, one '@'); compare ignoring ASCII
                // case on both sides, as `eq_ignore_ascii_case` does.
                let at = ctx.dialect.position(EMAIL, "'@'");
                let mut s = Sql::raw(&format!("lower(substr({EMAIL}, {at} + 1))"));
                s.push(sql_op(op)).bind(v.to_ascii_lowercase());
                live_contact(Cond::coalesce(s, ctx))
            }
            _ => Node::NEVER,
        },
        Field::Orders => int_expr(Sql::raw("orders"), op, value, ctx).exact(),
        Field::PurchaseDays => int_expr(Sql::raw("purchase_days"), op, value, ctx).exact(),
        Field::Revenue => match value {
            Literal::Number(v) => revenue(op, *v, ctx),
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
                Cond::coalesce(s, ctx).exact()
            }
            _ => Node::NEVER,
        },
        Field::Stage => match (op, value) {
            (CmpOp::Eq | CmpOp::Ne, Literal::Stage(name)) => {
                let mut s = Sql::raw("stage");
                s.push(sql_op(op)).bind(name.as_str().to_owned());
                Cond::coalesce(s, ctx).exact()
            }
            _ => Node::NEVER,
        },
        // Not stored: `Store::query` evaluates without RFM scores or churn risk, so these
        // comparisons are false for every customer.
        Field::RfmR | Field::RfmF | Field::RfmM | Field::RfmTotal | Field::ChurnRisk => Node::NEVER,
        // No fitted model in a store's query (as `Record::matches`): never. The service
        // queries `Segment::without_clv_12m` and re-checks with the CLV.
        Field::Clv12m => Node::NEVER,
        Field::DaysSinceFirstPurchase => {
            int_expr(days_since(ctx, "first_purchase_day"), op, value, ctx).exact()
        }
        Field::DaysSinceLastPurchase => {
            // Exact while the last purchase day is on or before today; after a purchase day
            // later than `now` the value is that of an earlier day: maybe.
            let known = int_expr(days_since(ctx, "last_purchase_day"), op, value, ctx);
            let mut later = Sql::raw("last_purchase_day > ");
            later.bind(ctx.dialect.day(ctx.today));
            let later = Cond::coalesce(later, ctx);
            Node {
                may_hold: Cond::or(vec![known.clone(), later]),
                may_fail: known.not(),
            }
        }
        Field::DaysSinceRegistered => {
            int_expr(days_since(ctx, ctx.dialect.created_day()), op, value, ctx).exact()
        }
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
        Field::CategorySpend { category, days } => match value {
            Literal::Number(v) => category_spend(category, *days, op, *v, ctx),
            _ => Node::NEVER,
        },
        // A field this compiler does not know yet: no narrowing; `Segment::matches` decides.
        _ => Node::MAYBE,
    }
}

fn tier_rank(t: Tier) -> i64 {
    Tier::ALL
        .iter()
        .position(|x| *x == t)
        .map_or(0, |p| p as i64)
}

/// A live customer's email: the column it claims, or — for a younger duplicate written
/// before the store enforced one customer per contact — the one it could not claim.
const EMAIL: &str = "COALESCE(email, unclaimed_email)";
/// A live customer's phone, as [`EMAIL`].
const PHONE: &str = "COALESCE(phone, unclaimed_phone)";

/// A node on the contact columns, which hold a live customer's contacts exactly and nothing
/// for a tombstone (merged and erased customers release theirs): exact for live rows, and
/// every tombstone may hold or fail (its record is checked after decoding).
fn live_contact(exact: Cond) -> Node {
    let tombstone = Cond::Sql(Sql::raw("stage IN ('merged', 'erased')"));
    Node {
        may_hold: Cond::or(vec![tombstone.clone(), exact.clone()]),
        may_fail: Cond::or(vec![tombstone, exact.not()]),
    }
}

/// `has_email` / `has_phone` over a contact expression set exactly when a live customer's
/// profile has one.
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
    live_contact(Cond::Sql(s))
}

/// `revenue op v` against the dialect's revenue column: exact on a `NUMERIC` column; on a
/// column of the revenue rounded to the nearest `f64` each side is a superset, as rounding is
/// monotone (`a < b` gives `f(a) <= f(b)`).
fn revenue(op: CmpOp, v: Decimal, ctx: &Ctx<'_>) -> Node {
    let column = match ctx.dialect.revenue() {
        MoneyColumn::Numeric(column) => {
            let mut s = Sql::raw(column);
            s.push(sql_op(op)).bind(v);
            return Cond::coalesce(s, ctx).exact();
        }
        MoneyColumn::NearestF64(column) => column,
    };
    let Some(fv) = nearest_f64(v) else {
        return Node::MAYBE;
    };
    let cond = |rel: Option<&str>| match rel {
        None => Cond::True,
        Some(rel) => {
            let mut s = Sql::raw(column);
            s.push(rel).bind(fv);
            Cond::coalesce(s, ctx)
        }
    };
    // What f(revenue) may be when the comparison holds, and when it fails.
    let (hold, fail) = match op {
        CmpOp::Eq => (Some(" = "), None),
        CmpOp::Ne => (None, Some(" = ")),
        CmpOp::Lt | CmpOp::Le => (Some(" <= "), Some(" >= ")),
        CmpOp::Gt | CmpOp::Ge => (Some(" >= "), Some(" <= ")),
    };
    Node {
        may_hold: cond(hold),
        may_fail: cond(fail),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;
    use crate::Value;

    /// `?` placeholders, integer booleans, a float revenue column.
    struct Flat;

    impl Dialect for Flat {
        fn true_sql(&self) -> &'static str {
            "1"
        }
        fn false_sql(&self) -> &'static str {
            "0"
        }
        fn write_placeholder(&self, out: &mut String, _n: usize, _value: &Value) {
            out.push('?');
        }
        fn day(&self, day: NaiveDate) -> Value {
            Value::Integer((day - NaiveDate::default()).num_days())
        }
        fn created_day(&self) -> &'static str {
            "created_day"
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
            format!("{text} GLOB 'x'")
        }
        fn bytewise(&self) -> &'static str {
            ""
        }
    }

    /// `$n` placeholders, boolean constants, an exact revenue column.
    struct Typed;

    impl Dialect for Typed {
        fn true_sql(&self) -> &'static str {
            "TRUE"
        }
        fn false_sql(&self) -> &'static str {
            "FALSE"
        }
        fn write_placeholder(&self, out: &mut String, n: usize, _value: &Value) {
            out.push_str(&format!("${n}"));
        }
        fn day(&self, day: NaiveDate) -> Value {
            Value::Date(day)
        }
        fn created_day(&self) -> &'static str {
            "created_day"
        }
        fn position(&self, haystack: &str, needle: &str) -> String {
            format!("strpos({haystack}, {needle})")
        }
        fn revenue(&self) -> MoneyColumn {
            MoneyColumn::Numeric("revenue")
        }
        fn tag_entries(&self) -> &'static str {
            "jsonb_each(customer_json::jsonb -> 'tags')"
        }
        fn tag_expiry(&self) -> &'static str {
            "(t.value ->> 'expires_at')"
        }
        fn starts_with_second(&self, text: &str) -> String {
            format!("{text} ~ 'x'")
        }
        fn bytewise(&self) -> &'static str {
            " COLLATE \"C\""
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn where_of(d: &dyn Dialect, text: &str) -> Cond {
        prefilter(d, &Segment::parse(text).unwrap(), now())
    }

    #[test]
    fn literals_are_bound_never_pasted() {
        for d in [&Flat as &dyn Dialect, &Typed] {
            let c = where_of(
                d,
                r#"email_domain == "evil'); DROP TABLE x; --" or stage == silent or orders > 12345 or has_tag("a:b") or revenue > 77.5 or days_since_registered > 4321"#,
            )
            .into_sql(d);
            for literal in ["evil", "12345", "silent", "a:b", "77", "4321"] {
                assert!(!c.text().contains(literal), "{literal} in {}", c.text());
            }
            assert_eq!(c.text().matches('?').count(), c.params().len());
        }
        let c = where_of(&Typed, r#"has_tag("a:b") or orders > 3"#).into_sql(&Typed);
        let rendered = c.render(&Typed, 3);
        assert!(!rendered.contains('?'), "{rendered}");
        assert_eq!(rendered.matches('$').count(), c.params().len());
        let c = where_of(&Typed, "orders > 1 or stage == silent").into_sql(&Typed);
        assert_eq!(
            c.render(&Typed, 3),
            "(COALESCE((orders) > $3, FALSE) OR COALESCE(stage = $4, FALSE))"
        );
    }

    #[test]
    fn not_over_an_uncompilable_leaf_is_true_not_false() {
        for d in [&Flat as &dyn Dialect, &Typed] {
            assert_eq!(where_of(d, "not last_nps >= 9"), Cond::True);
            assert_eq!(where_of(d, "not (orders > 1 and margin > 5)"), Cond::True);
        }
        // `not (a or maybe)` still needs `not a`.
        let c = where_of(&Flat, "not (orders > 1 or margin > 5)").into_sql(&Flat);
        assert_eq!(c.text(), "(NOT COALESCE((orders) > ?, 0))");
        assert_eq!(c.params(), &[Value::Integer(1)]);
        let c = where_of(&Typed, "not (orders > 1 or margin > 5)").into_sql(&Typed);
        assert_eq!(c.text(), "(NOT COALESCE((orders) > ?, FALSE))");
    }

    #[test]
    fn rfm_and_churn_risk_are_never_in_the_context() {
        for d in [&Flat as &dyn Dialect, &Typed] {
            assert_eq!(where_of(d, "rfm.total >= 3"), Cond::False);
            assert_eq!(where_of(d, "not churn_risk > 0.5"), Cond::True);
            assert_eq!(
                where_of(d, "rfm.total >= 3").into_sql(d).text(),
                d.false_sql()
            );
        }
    }

    #[test]
    fn revenue_is_exact_on_numeric_and_a_superset_on_floats() {
        let c = where_of(&Typed, "revenue >= 10.5").into_sql(&Typed);
        assert_eq!(c.text(), "COALESCE(revenue >= ?, FALSE)");
        assert_eq!(c.params(), &[Value::Numeric(Decimal::new(105, 1))]);
        // `>=` may hold where the rounded value is `>=`, and `=` of a rounded value may hold.
        let c = where_of(&Flat, "revenue >= 10.5").into_sql(&Flat);
        assert_eq!(c.text(), "COALESCE(revenue_num >= ?, 0)");
        assert_eq!(c.params(), &[Value::Real(10.5)]);
        let c = where_of(&Flat, "not revenue == 10.5").into_sql(&Flat);
        assert_eq!(c.text(), "1");
    }

    #[test]
    fn days_bind_the_dialects_day() {
        let c = where_of(&Typed, "days_since_first_purchase > 3").into_sql(&Typed);
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(
            c.params(),
            &[Value::Date(today), Value::Date(today), Value::Integer(3)]
        );
        let c = where_of(&Flat, "days_since_registered > 3").into_sql(&Flat);
        assert!(
            c.text()
                .contains("CASE WHEN created_day <= ? THEN ? - created_day END")
        );
        assert_eq!(c.params()[0], Value::Integer(20_513));
    }

    #[test]
    fn has_tag_reads_the_dialects_tag_map() {
        let c = where_of(&Typed, r#"has_tag("vip:gold")"#).into_sql(&Typed);
        assert_eq!(
            c.text(),
            "COALESCE(EXISTS (SELECT 1 FROM jsonb_each(customer_json::jsonb -> 'tags') AS t \
             WHERE t.key = ? AND ((t.value ->> 'expires_at') IS NULL OR NOT ((t.value ->> 'expires_at') ~ 'x') \
             OR substr((t.value ->> 'expires_at'), 1, 19) COLLATE \"C\" >= ?)), FALSE)"
        );
        assert_eq!(
            c.params(),
            &[
                Value::Text("vip:gold".into()),
                Value::Text("2026-03-01T12:00:00".into())
            ]
        );
        // A year of five digits does not order as text: maybe.
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        let seg = Segment::parse(r#"has_tag("vip:gold")"#).unwrap();
        assert_eq!(prefilter(&Flat, &seg, far), Cond::True);
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
        let ctx = Ctx::new(&Flat, now());
        assert_eq!(ctx.today, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(ctx.now_second.as_deref(), Some("2026-03-01T12:00:00"));
    }
}

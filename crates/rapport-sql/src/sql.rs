//! A piece of SQL with its bound values, and the [`Dialect`] that renders it for one database.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// A bound value of a [`Sql`] piece. The SQL text never holds a literal: every value is a
/// parameter, converted to the driver's own type by the backend.
///
/// ```
/// use rapport_sql::Value;
/// assert_eq!(Value::from(3_i64), Value::Integer(3));
/// assert_eq!(Value::from("a:b".to_owned()), Value::Text("a:b".into()));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A 64-bit integer.
    Integer(i64),
    /// A double-precision float.
    Real(f64),
    /// An exact decimal (`NUMERIC`).
    Numeric(Decimal),
    /// Text.
    Text(String),
    /// A calendar day.
    Date(NaiveDate),
    /// An instant (line-item times; [`Dialect::line_items`] says how the column holds it).
    Time(DateTime<Utc>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
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

/// How a stored money amount is compared with a literal by the segment compiler.
///
/// ```
/// use rapport_sql::MoneyColumn;
/// let exact = MoneyColumn::Numeric("revenue");
/// assert_ne!(exact, MoneyColumn::NearestF64("revenue_num"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MoneyColumn {
    /// An exact decimal column: comparisons are exact (bound as [`Value::Numeric`]).
    Numeric(&'static str),
    /// A float column holding the amount rounded to the nearest `f64` (see
    /// [`crate::codec::nearest_f64`]): comparisons give supersets (bound as [`Value::Real`]).
    NearestF64(&'static str),
}

/// What differs between the SQL databases rapport stores into: placeholders, boolean
/// constants, day values, JSON access to the tag map, text functions and how money compares.
///
/// A backend implements it once (a unit struct); the shared compilers in this crate write
/// every predicate against it. The methods return SQL fragments from the code, never values.
///
/// ```
/// use rapport_sql::{Dialect, MoneyColumn, Sql, Value};
/// use chrono::NaiveDate;
///
/// /// A toy dialect: `?` placeholders, days as ISO text.
/// struct Toy;
/// impl Dialect for Toy {
///     fn true_sql(&self) -> &'static str { "1" }
///     fn false_sql(&self) -> &'static str { "0" }
///     fn write_placeholder(&self, out: &mut String, _n: usize, _value: &Value) { out.push('?') }
///     fn day(&self, day: NaiveDate) -> Value { Value::Text(day.to_string()) }
///     fn created_day(&self) -> &'static str { "created_day" }
///     fn position(&self, haystack: &str, needle: &str) -> String { format!("instr({haystack}, {needle})") }
///     fn revenue(&self) -> MoneyColumn { MoneyColumn::Numeric("revenue") }
///     fn tag_entries(&self) -> &'static str { "json_each(customer_json, '$.tags')" }
///     fn tag_expiry(&self) -> &'static str { "json_extract(t.value, '$.expires_at')" }
///     fn starts_with_second(&self, text: &str) -> String { format!("{text} GLOB '*'") }
///     fn bytewise(&self) -> &'static str { "" }
/// }
///
/// let mut s = Sql::raw("orders > ");
/// s.bind(3_i64);
/// assert_eq!(s.render(&Toy, 1), "orders > ?");
/// ```
pub trait Dialect {
    /// A condition that always holds (`TRUE`, or `1` where booleans are integers).
    fn true_sql(&self) -> &'static str;
    /// A condition that never holds (`FALSE`, or `0`).
    fn false_sql(&self) -> &'static str;
    /// Writes the placeholder of the `n`-th parameter (counting from the `first` given to
    /// [`Sql::render`]) holding `value`: `?`, or `$n` with a cast, ...
    fn write_placeholder(&self, out: &mut String, n: usize, value: &Value);
    /// A calendar day as the day columns (`first_purchase_day`, `last_purchase_day`) hold it,
    /// such that `day - day` in SQL is a number of days.
    fn day(&self, day: NaiveDate) -> Value;
    /// An expression over the customer row: the UTC day of its creation time, of the same kind
    /// as [`Dialect::day`] values.
    fn created_day(&self) -> &'static str;
    /// The 1-based position of `needle` in `haystack` (0 when absent), both SQL expressions.
    fn position(&self, haystack: &str, needle: &str) -> String;
    /// The customer row's revenue column and how it compares.
    fn revenue(&self) -> MoneyColumn;
    /// A table-valued expression over the customer row's `customer_json`: one row `(key,
    /// value)` per entry of its `tags` object (none when it has none).
    fn tag_entries(&self) -> &'static str;
    /// The expiry of a tag entry `t` of [`Dialect::tag_entries`] as text (`NULL` when none).
    fn tag_expiry(&self) -> &'static str;
    /// A condition: the text expression `text` starts with `YYYY-MM-DDTHH:MM:SS` (ASCII digits).
    fn starts_with_second(&self, text: &str) -> String;
    /// What follows a text expression so that it compares bytewise (`""` where it does by
    /// default, ` COLLATE "C"`, ...).
    fn bytewise(&self) -> &'static str;
    /// An expression over the customer row: the roles the customer holds over its active
    /// account links as text, each between commas (`,buyer,decision_maker,`; a role may
    /// repeat), `NULL` when it holds none. `None` (the default): the dialect cannot read links,
    /// and `has_account_role(...)` is decided on the decoded rows.
    fn account_roles(&self) -> Option<String> {
        None
    }
    /// How the customer's line items are read (`bought`, `category_spend`); `None` (the
    /// default): the dialect cannot read them, and those predicates are decided on the decoded
    /// rows.
    fn line_items(&self) -> Option<LineItemsSql> {
        None
    }
}

/// A piece of SQL: text with a `?` marker where each value goes, and the bound values in
/// order. [`Sql::render`] turns the markers into the dialect's placeholders.
///
/// ```
/// use rapport_sql::{Sql, Value};
/// let mut s = Sql::raw("orders");
/// s.push(" > ").bind(2_i64);
/// assert_eq!(s.text(), "orders > ?");
/// assert_eq!(s.params(), &[Value::Integer(2)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    /// SQL text from the code, with no parameters (it must hold no `?`).
    ///
    /// ```
    /// assert_eq!(rapport_sql::Sql::raw("TRUE").text(), "TRUE");
    /// ```
    #[must_use]
    pub fn raw(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text from the code (it must hold no `?`).
    ///
    /// ```
    /// let mut s = rapport_sql::Sql::raw("a");
    /// s.push(" AND b");
    /// assert_eq!(s.text(), "a AND b");
    /// ```
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `v`.
    ///
    /// ```
    /// let mut s = rapport_sql::Sql::raw("stage = ");
    /// s.bind("silent".to_owned());
    /// assert_eq!((s.text(), s.params().len()), ("stage = ?", 1));
    /// ```
    pub fn bind(&mut self, v: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.params.push(v.into());
        self
    }

    /// Appends another piece, its values after this one's.
    ///
    /// ```
    /// use rapport_sql::Sql;
    /// let mut a = Sql::raw("x = ");
    /// a.bind(1_i64);
    /// let mut b = Sql::raw(" AND y = ");
    /// b.bind(2_i64);
    /// a.append(b);
    /// assert_eq!((a.text(), a.params().len()), ("x = ? AND y = ?", 2));
    /// ```
    pub fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }

    /// The SQL text, with a `?` marker per value.
    ///
    /// ```
    /// assert_eq!(rapport_sql::Sql::raw("1").text(), "1");
    /// ```
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bound values, in order.
    ///
    /// ```
    /// assert!(rapport_sql::Sql::raw("1").params().is_empty());
    /// ```
    #[must_use]
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// The text with each `?` marker written as `dialect`'s placeholder, numbered from
    /// `first` (the text holds no other `?`: only column names, operators and constants from
    /// the code).
    ///
    /// ```
    /// # use rapport_sql::{Dialect, MoneyColumn, Sql, Value};
    /// # use chrono::NaiveDate;
    /// struct Numbered;
    /// impl Dialect for Numbered {
    ///     fn write_placeholder(&self, out: &mut String, n: usize, _: &Value) { out.push_str(&format!("${n}")) }
    /// #   fn true_sql(&self) -> &'static str { "TRUE" }
    /// #   fn false_sql(&self) -> &'static str { "FALSE" }
    /// #   fn day(&self, day: NaiveDate) -> Value { Value::Date(day) }
    /// #   fn created_day(&self) -> &'static str { "created_day" }
    /// #   fn position(&self, h: &str, n: &str) -> String { format!("strpos({h}, {n})") }
    /// #   fn revenue(&self) -> MoneyColumn { MoneyColumn::Numeric("revenue") }
    /// #   fn tag_entries(&self) -> &'static str { "tags" }
    /// #   fn tag_expiry(&self) -> &'static str { "t.expires_at" }
    /// #   fn starts_with_second(&self, t: &str) -> String { format!("{t} ~ '^'") }
    /// #   fn bytewise(&self) -> &'static str { "" }
    /// }
    /// let mut s = Sql::raw("a = ");
    /// s.bind(1_i64).push(" AND b = ").bind(2_i64);
    /// assert_eq!(s.render(&Numbered, 3), "a = $3 AND b = $4");
    /// ```
    #[must_use]
    pub fn render(&self, dialect: &dyn Dialect, first: usize) -> String {
        let mut out = String::with_capacity(self.text.len() + 8 * self.params.len());
        let mut values = self.params.iter();
        let mut n = first;
        for c in self.text.chars() {
            // Each marker is the next value (the pieces are built with one value a marker).
            if c == '?' {
                if let Some(value) = values.next() {
                    dialect.write_placeholder(&mut out, n, value);
                    n += 1;
                    continue;
                }
            }
            out.push(c);
        }
        out
    }
}

/// How a [`Dialect`] reads line items: the table of line lists (one row per purchase or
/// refund, its lines as JSON in `lines_json`, as the stores keep them) and expressions over a
/// list and one of its lines. Every `{l}` in a template names the list's table alias (`l`, or
/// another one in a nested query); the line's alias is always `i` (with a column `value`).
///
/// ```
/// use rapport_sql::LineItemsSql;
/// let li = LineItemsSql {
///     table: "rapport_line_items".into(),
///     index_hint: "INDEXED BY rapport_line_items_customer".into(),
///     owner: "{l}.tenant_id = c.tenant_id AND {l}.customer_id = c.customer_id".into(),
///     lines: "json_each({l}.lines_json, '$.items') AS i".into(),
///     at: "{l}.at_us".into(),
///     order: "json_extract({l}.lines_json, '$.order')".into(),
///     refund: "json_extract({l}.lines_json, '$.refund')".into(),
///     sku: "json_extract(i.value, '$.sku')".into(),
///     category: "json_extract(i.value, '$.category')".into(),
///     quantity: "json_extract(i.value, '$.quantity')".into(),
///     unit_price: "CAST(json_extract(i.value, '$.unit_price.amount') AS REAL)".into(),
///     exact_amounts: false,
///     concat: "group_concat({x}, char(10))".into(),
/// };
/// assert_eq!(li.at("p"), "p.at_us");
/// assert_eq!(li.from("p"), "rapport_line_items AS p INDEXED BY rapport_line_items_customer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItemsSql {
    /// The table of line lists (qualified as needed).
    pub table: String,
    /// What follows the table's alias to pick the index on (tenant, customer) where the
    /// planner would not (SQLite without `ANALYZE` statistics: `INDEXED BY ...`), or empty.
    pub index_hint: String,
    /// A condition: list `{l}` belongs to the customer row's customer (same tenant).
    pub owner: String,
    /// A FROM item over list `{l}`'s lines, aliased `i`.
    pub lines: String,
    /// List `{l}`'s time, comparable with [`Value::Time`] values.
    pub at: String,
    /// List `{l}`'s order id, as text.
    pub order: String,
    /// A condition: list `{l}` is a refund's.
    pub refund: String,
    /// Line `i`'s sku, as text.
    pub sku: String,
    /// Line `i`'s category, as text (`NULL` when none).
    pub category: String,
    /// Line `i`'s quantity, an integer.
    pub quantity: String,
    /// Line `i`'s unit price amount, a number.
    pub unit_price: String,
    /// True when [`LineItemsSql::unit_price`] is exact (`NUMERIC`); false when it is a float
    /// (sums then compare with a tolerance, as supersets).
    pub exact_amounts: bool,
    /// An aggregate joining the texts `{x}` with newlines (`NULL` over no rows).
    pub concat: String,
}

impl LineItemsSql {
    fn with(template: &str, alias: &str) -> String {
        template.replace("{l}", alias)
    }

    /// The table with alias `l` (and the index hint): a FROM item.
    #[must_use]
    pub fn from(&self, l: &str) -> String {
        if self.index_hint.is_empty() {
            format!("{} AS {l}", self.table)
        } else {
            format!("{} AS {l} {}", self.table, self.index_hint)
        }
    }

    /// [`LineItemsSql::owner`] for alias `l`.
    #[must_use]
    pub fn owner(&self, l: &str) -> String {
        Self::with(&self.owner, l)
    }

    /// [`LineItemsSql::lines`] for alias `l`.
    #[must_use]
    pub fn lines(&self, l: &str) -> String {
        Self::with(&self.lines, l)
    }

    /// [`LineItemsSql::at`] for alias `l`.
    #[must_use]
    pub fn at(&self, l: &str) -> String {
        Self::with(&self.at, l)
    }

    /// [`LineItemsSql::order`] for alias `l`.
    #[must_use]
    pub fn order(&self, l: &str) -> String {
        Self::with(&self.order, l)
    }

    /// [`LineItemsSql::refund`] for alias `l`.
    #[must_use]
    pub fn refund(&self, l: &str) -> String {
        Self::with(&self.refund, l)
    }

    /// An expression over the customer row: its line lists' JSON joined by newlines (`NULL`
    /// when it has none), which [`crate::segment::purchase_summary`] reads back for the
    /// re-check.
    #[must_use]
    pub fn lists_of_row(&self) -> String {
        format!(
            "(SELECT {} FROM {} WHERE {})",
            self.concat.replace("{x}", "l.lines_json"),
            self.from("l"),
            self.owner("l")
        )
    }
}

//! The data-only tree a segment predicate parses to. A store compiles it to SQL by walking it:
//! every leaf is a `Field op Literal` comparison or a tag test.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::activity::ActivityType;
use crate::model::customer::AttrKey;
use crate::model::id::ProductCategory;
use crate::model::lifecycle::Stage;
use crate::model::tag::Tag;
use crate::model::tier::Tier;

/// A predicate over a customer: its profile, stats, tags, tier, stage, RFM scores and churn
/// risk. Build one with [`Segment::parse`]; print it back with `Display`.
///
/// Comparisons on a value the customer does not have (no NPS answer yet, no RFM scores in the
/// context, a missing custom attribute, a custom attribute of another type) are **false**,
/// whatever the operator, `!=` included; `not` then makes them true. This is two-valued
/// logic: a SQL compiler must map a `NULL` comparison to `FALSE` (e.g. `COALESCE(..., FALSE)`)
/// before applying `NOT`.
///
/// The tree is exhaustive on purpose (no `#[non_exhaustive]` here or on [`Field`],
/// [`CmpOp`], [`Literal`]): a store that compiles it to SQL matches every variant, so a new one
/// breaks its build instead of falling through a wildcard arm.
///
/// The serialised form is externally tagged, with fields as their text names:
/// ```
/// use rapport_core::Segment;
/// let s = Segment::parse("tier >= gold and not has_tag(\"risk:fraud\")").unwrap();
/// let json = serde_json::to_string(&s).unwrap();
/// assert_eq!(
///     json,
///     r#"{"and":[{"compare":{"field":"tier","op":">=","value":{"tier":"gold"}}},{"not":{"has_tag":"risk:fraud"}}]}"#
/// );
/// assert_eq!(serde_json::from_str::<Segment>(&json).unwrap(), s);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Segment {
    /// Always holds (`true`).
    True,
    /// Never holds (`false`).
    False,
    /// Every operand holds (`a and b and c`; `all()` when empty, which holds).
    And(Vec<Segment>),
    /// At least one operand holds (`a or b or c`; `any()` when empty, which does not hold).
    Or(Vec<Segment>),
    /// The operand does not hold (`not a`).
    Not(Box<Segment>),
    /// `field op value`.
    Compare {
        /// What is compared.
        field: Field,
        /// How.
        op: CmpOp,
        /// With what.
        value: Literal,
    },
    /// The customer has this tag, unexpired (`has_tag("ns:name")`).
    HasTag(Tag),
    /// The customer's current consent for the purpose on the channel is granted
    /// (`consent("marketing", "email")`; the channel's own record, else the `any` channel's;
    /// `transactional` is granted unless withdrawn).
    Consent {
        /// The purpose.
        purpose: crate::model::consent::Purpose,
        /// The channel.
        channel: crate::model::consent::ContactChannel,
    },
    /// The customer holds this role in at least one account it is linked to, the link active
    /// (`has_account_role("decision_maker")`; read from [`SegmentContext::account_roles`]).
    ///
    /// [`SegmentContext::account_roles`]: super::SegmentContext::account_roles
    HasAccountRole(crate::model::account::AccountRole),
    /// The customer bought this sku, net of full refunds (`bought("sku-123")`): some order of
    /// its holds more of it than that order's refund lines give back — what the recommender
    /// counts as bought ([`net_purchases`](crate::ports::net_purchases)). Read from
    /// [`SegmentContext::purchases`]; false without them.
    ///
    /// [`SegmentContext::purchases`]: super::SegmentContext::purchases
    Bought(crate::model::id::Sku),
}

/// A comparison operator.
///
/// ```
/// use std::cmp::Ordering;
/// use rapport_core::segment::CmpOp;
/// assert_eq!(CmpOp::Ge.as_str(), ">=");
/// assert_eq!(CmpOp::Ne.to_string(), "!=");
/// assert!(CmpOp::Eq.is_equality() && !CmpOp::Lt.is_equality());
/// // `holds` reads an ordering of left against right: 3 >= 2, 2 <= 2.
/// assert!(CmpOp::Ge.holds(3.cmp(&2)));
/// assert!(CmpOp::Le.holds(Ordering::Equal));
/// assert!(!CmpOp::Gt.holds(Ordering::Equal));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl CmpOp {
    /// Every operator.
    ///
    /// ```
    /// use rapport_core::segment::CmpOp;
    /// let ordering_ops = CmpOp::ALL.iter().filter(|op| !op.is_equality()).count();
    /// assert_eq!(ordering_ops, 4);
    /// ```
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// The operator as written.
    ///
    /// ```
    /// use rapport_core::segment::CmpOp;
    /// assert_eq!(CmpOp::Ge.as_str(), ">=");
    /// assert_eq!(CmpOp::Ne.to_string(), "!=");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// True for `==` and `!=`, the operators every kind of value supports.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::CmpOp;
    /// assert!(CmpOp::Eq.is_equality() && !CmpOp::Lt.is_equality());
    /// assert!(Segment::parse("stage == silent").is_ok());
    /// assert!(Segment::parse("stage < silent").is_err()); // stages are not ordered
    /// ```
    #[must_use]
    pub fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    /// Applies the operator to an ordering of `left` against `right`.
    ///
    /// ```
    /// use rapport_core::segment::CmpOp;
    /// use rapport_core::Tier;
    /// assert!(CmpOp::Ge.holds(Tier::Gold.cmp(&Tier::Iron))); // gold >= iron
    /// assert!(!CmpOp::Lt.holds(5.cmp(&5)));
    /// ```
    #[must_use]
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage as named in a predicate. Unlike [`Stage`] it names `merged` without the
/// survivor, so it can be written and stored as a plain word.
///
/// ```
/// use rapport_core::segment::StageName;
/// use rapport_core::{CustomerId, Stage};
/// assert_eq!(StageName::of(Stage::Merged { into: CustomerId::from_u128(2) }), StageName::Merged);
/// assert_eq!(StageName::of(Stage::Silent).as_str(), Stage::Silent.as_str());
/// assert_eq!(StageName::from_name("churned"), Some(StageName::Churned));
/// assert_eq!(StageName::from_name("Churned"), None); // exact lower-case names only
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    /// [`Stage::Prospect`]
    Prospect,
    /// [`Stage::New`]
    New,
    /// [`Stage::Active`]
    Active,
    /// [`Stage::Silent`]
    Silent,
    /// [`Stage::Churned`]
    Churned,
    /// [`Stage::Merged`], into any customer.
    Merged,
    /// [`Stage::Erased`]
    Erased,
}

impl StageName {
    /// Every name.
    ///
    /// ```
    /// use rapport_core::Stage;
    /// use rapport_core::segment::StageName;
    /// assert_eq!(StageName::ALL.len(), Stage::LIVE.len() + 2); // and the two tombstones
    /// assert!(StageName::ALL.iter().all(|n| StageName::from_name(n.as_str()) == Some(*n)));
    /// ```
    pub const ALL: [StageName; 7] = [
        StageName::Prospect,
        StageName::New,
        StageName::Active,
        StageName::Silent,
        StageName::Churned,
        StageName::Merged,
        StageName::Erased,
    ];

    /// The name of a stage.
    ///
    /// ```
    /// use rapport_core::segment::StageName;
    /// use rapport_core::{CustomerId, Stage};
    /// assert_eq!(StageName::of(Stage::Active), StageName::Active);
    /// assert_eq!(StageName::of(Stage::Merged { into: CustomerId::from_u128(9) }), StageName::Merged);
    /// ```
    #[must_use]
    pub fn of(stage: Stage) -> StageName {
        match stage {
            Stage::Prospect => StageName::Prospect,
            Stage::New => StageName::New,
            Stage::Active => StageName::Active,
            Stage::Silent => StageName::Silent,
            Stage::Churned => StageName::Churned,
            Stage::Merged { .. } => StageName::Merged,
            Stage::Erased => StageName::Erased,
        }
    }

    /// The lower-case name, as [`Stage::as_str`].
    ///
    /// ```
    /// use rapport_core::segment::StageName;
    /// assert_eq!(StageName::Churned.as_str(), "churned");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Prospect => "prospect",
            StageName::New => "new",
            StageName::Active => "active",
            StageName::Silent => "silent",
            StageName::Churned => "churned",
            StageName::Merged => "merged",
            StageName::Erased => "erased",
        }
    }

    /// The name for `s`, if it is one.
    ///
    /// ```
    /// use rapport_core::segment::StageName;
    /// assert_eq!(StageName::from_name("erased"), Some(StageName::Erased));
    /// assert_eq!(StageName::from_name("lapsed"), None);
    /// ```
    #[must_use]
    pub fn from_name(s: &str) -> Option<StageName> {
        StageName::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value on the right of a comparison.
///
/// ```
/// use rapport_core::segment::{CmpOp, Field, Literal, Segment, ValueKind};
/// use rust_decimal::Decimal;
/// let Segment::Compare { value, .. } = Segment::parse("revenue_90d >= 99.50")? else { unreachable!() };
/// assert_eq!(value, Literal::Number(Decimal::new(9950, 2)));
/// assert_eq!(value.kind(), ValueKind::Number);
/// let Segment::Compare { value, .. } = Segment::parse(r#"email_domain == "example.com""#)? else { unreachable!() };
/// assert_eq!(value.kind(), ValueKind::Text);
/// # Ok::<(), rapport_core::SegmentParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Literal {
    /// An exact number: `12`, `-3.50`.
    Number(Decimal),
    /// Text in double quotes: `"example.com"`.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// A calendar date: `2026-01-31`.
    Date(NaiveDate),
    /// A tier name: `gold`.
    Tier(Tier),
    /// A stage name: `silent`.
    Stage(StageName),
}

impl Literal {
    /// The kind of value ([`ValueKind::describe`] says how error messages name it).
    ///
    /// ```
    /// use rapport_core::segment::{Literal, ValueKind};
    /// use rapport_core::Tier;
    /// assert_eq!(Literal::Tier(Tier::Gold).kind(), ValueKind::Tier);
    /// assert_eq!(Literal::Text("example.com".into()).kind().describe(), "a quoted string");
    /// ```
    #[must_use]
    pub fn kind(&self) -> ValueKind {
        match self {
            Literal::Number(_) => ValueKind::Number,
            Literal::Text(_) => ValueKind::Text,
            Literal::Bool(_) => ValueKind::Bool,
            Literal::Date(_) => ValueKind::Date,
            Literal::Tier(_) => ValueKind::Tier,
            Literal::Stage(_) => ValueKind::Stage,
        }
    }
}

/// The kinds of [`Literal`], used to say what a field takes.
///
/// ```
/// use rapport_core::segment::{Field, ValueKind};
/// assert_eq!(Field::Tier.kind(), Some(ValueKind::Tier));
/// assert!(ValueKind::Tier.is_ordered());
/// assert!(!ValueKind::Stage.is_ordered()); // stages compare with == and != only
/// assert_eq!(ValueKind::Date.describe(), "a date (YYYY-MM-DD)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValueKind {
    /// [`Literal::Number`]
    Number,
    /// [`Literal::Text`]
    Text,
    /// [`Literal::Bool`]
    Bool,
    /// [`Literal::Date`]
    Date,
    /// [`Literal::Tier`]
    Tier,
    /// [`Literal::Stage`]
    Stage,
}

impl ValueKind {
    /// How a message names the kind.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::ValueKind;
    /// assert_eq!(ValueKind::Number.describe(), "a number");
    /// let err = Segment::parse("orders > gold").unwrap_err();
    /// assert!(err.to_string().contains(ValueKind::Number.describe()));
    /// ```
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Number => "a number",
            ValueKind::Text => "a quoted string",
            ValueKind::Bool => "true or false",
            ValueKind::Date => "a date (YYYY-MM-DD)",
            ValueKind::Tier => "a tier (lead, iron, gold, platinum)",
            ValueKind::Stage => "a stage (prospect, new, active, silent, churned, merged, erased)",
        }
    }

    /// True when `<`, `<=`, `>`, `>=` apply to values of this kind.
    ///
    /// ```
    /// use rapport_core::segment::ValueKind;
    /// assert!(ValueKind::Date.is_ordered());
    /// assert!(!ValueKind::Text.is_ordered() && !ValueKind::Bool.is_ordered());
    /// ```
    #[must_use]
    pub fn is_ordered(self) -> bool {
        matches!(self, ValueKind::Number | ValueKind::Date | ValueKind::Tier)
    }
}

/// What a comparison reads. Each field has a text name (its `Display` and serialised form).
///
/// ```
/// use rapport_core::segment::{Field, ValueKind};
/// use rapport_core::{ActivityType, AttrKey};
/// assert_eq!(Field::from_name("revenue_30d"), Some(Field::Revenue30d));
/// assert_eq!(Field::from_name("attr.plan"), None); // not a fixed name; parse it instead
/// let plan: Field = "attr.plan".parse().unwrap();
/// assert_eq!(plan, Field::Attr(AttrKey::new("plan").unwrap()));
/// assert_eq!(plan.kind(), None); // takes a number, text, bool or date
/// let since: Field = "days_since(complaint)".parse().unwrap();
/// assert_eq!(since, Field::DaysSince(ActivityType::Complaint));
/// assert_eq!(since.kind(), Some(ValueKind::Number));
/// assert_eq!(since.to_string(), "days_since(complaint)");
/// assert!("revnue".parse::<Field>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Field {
    /// `has_email`: the profile has an email (bool).
    HasEmail,
    /// `has_phone`: the profile has a phone (bool).
    HasPhone,
    /// `email_domain`: the domain of the email, compared ignoring ASCII case (text; missing
    /// without an email).
    EmailDomain,
    /// `attr.<key>`: a custom attribute (number, text, bool or date; a date also matches a
    /// timestamp attribute's UTC day).
    Attr(AttrKey),
    /// `orders`: orders placed, refunded ones included.
    Orders,
    /// `purchase_days`: UTC days with a purchase not refunded in full.
    PurchaseDays,
    /// `revenue`: net revenue (0 before any purchase).
    Revenue,
    /// `margin`: net margin (0 before any purchase).
    Margin,
    /// `revenue_30d`: net revenue over the 30 UTC days ending today.
    Revenue30d,
    /// `revenue_90d`: over 90 days.
    Revenue90d,
    /// `revenue_365d`: over 365 days.
    Revenue365d,
    /// `complaints`: complaints ever.
    Complaints,
    /// `complaints_90d`: complaints in the 90 UTC days ending today.
    Complaints90d,
    /// `last_nps`: the latest NPS answer, 0–10 (missing before one).
    LastNps,
    /// `last_csat`: the latest CSAT answer, 1–5 (missing before one).
    LastCsat,
    /// `tier`: ordered `lead < iron < gold < platinum`.
    Tier,
    /// `stage`: `==` and `!=` only.
    Stage,
    /// `rfm.r`: recency score 1–5 (missing without scores in the context).
    RfmR,
    /// `rfm.f`: frequency score.
    RfmF,
    /// `rfm.m`: monetary score.
    RfmM,
    /// `rfm.total`: R + F + M, 3–15.
    RfmTotal,
    /// `churn_risk`: 0–1 from the context (missing when not given).
    ChurnRisk,
    /// `clv_12m`: the expected CLV of the next 12 months from the tenant's fitted model
    /// (missing without a fitted spend model; stores' queries have none, the service supplies
    /// it).
    Clv12m,
    /// `days_since_last_purchase`: whole UTC days since the last purchase day.
    DaysSinceLastPurchase,
    /// `days_since_first_purchase`: whole UTC days since the first purchase day.
    DaysSinceFirstPurchase,
    /// `days_since(<activity type>)`: whole UTC days since the latest activity of a type.
    DaysSince(ActivityType),
    /// `days_since_registered`: whole UTC days since the customer was created.
    DaysSinceRegistered,
    /// `category_spend("tea", DAYS)`: the customer's net spend on line items of the category
    /// over purchases of the `DAYS` UTC days ending with `now`'s day (the window of
    /// `revenue_365d`), in the customer's currency (a refund's lines subtract on the day of
    /// their order's purchase). Read from [`Stats`](crate::Stats) when they track the
    /// category ([`StatsPolicy`](crate::StatsPolicy)), else from
    /// [`SegmentContext::purchases`](super::SegmentContext::purchases); missing without
    /// either. `DAYS` is
    /// `1..=`[`MAX_SPEND_DAYS`].
    CategorySpend {
        /// The category.
        category: ProductCategory,
        /// The window, in days.
        days: u32,
    },
}

/// The longest `category_spend` window, in days (100 years).
///
/// ```
/// use rapport_core::Segment;
/// use rapport_core::segment::{MAX_SPEND_DAYS, ParseErrorKind};
/// assert!(Segment::parse(&format!("category_spend(\"tea\", {MAX_SPEND_DAYS}) > 0")).is_ok());
/// let err = Segment::parse(&format!("category_spend(\"tea\", {}) > 0", MAX_SPEND_DAYS + 1)).unwrap_err();
/// assert!(matches!(err.kind(), ParseErrorKind::InvalidDays { .. }));
/// ```
pub const MAX_SPEND_DAYS: u32 = 36_500;

/// The fields with a fixed name, and their names.
pub(crate) const NAMED_FIELDS: [(&str, Field); 25] = [
    ("has_email", Field::HasEmail),
    ("has_phone", Field::HasPhone),
    ("email_domain", Field::EmailDomain),
    ("orders", Field::Orders),
    ("purchase_days", Field::PurchaseDays),
    ("revenue", Field::Revenue),
    ("margin", Field::Margin),
    ("revenue_30d", Field::Revenue30d),
    ("revenue_90d", Field::Revenue90d),
    ("revenue_365d", Field::Revenue365d),
    ("complaints", Field::Complaints),
    ("complaints_90d", Field::Complaints90d),
    ("last_nps", Field::LastNps),
    ("last_csat", Field::LastCsat),
    ("tier", Field::Tier),
    ("stage", Field::Stage),
    ("rfm.r", Field::RfmR),
    ("rfm.f", Field::RfmF),
    ("rfm.m", Field::RfmM),
    ("rfm.total", Field::RfmTotal),
    ("churn_risk", Field::ChurnRisk),
    ("clv_12m", Field::Clv12m),
    ("days_since_last_purchase", Field::DaysSinceLastPurchase),
    ("days_since_first_purchase", Field::DaysSinceFirstPurchase),
    ("days_since_registered", Field::DaysSinceRegistered),
];

impl Field {
    /// The field with a fixed name (not `attr.<key>` or `days_since(<type>)`).
    ///
    /// ```
    /// use rapport_core::segment::Field;
    /// assert_eq!(Field::from_name("churn_risk"), Some(Field::ChurnRisk));
    /// assert_eq!(Field::from_name("days_since(visit)"), None); // parse it instead
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Field> {
        NAMED_FIELDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone())
    }

    /// The kind of value the field is compared with; `None` for `attr.<key>`, which takes a
    /// number, text, bool or date.
    ///
    /// ```
    /// use rapport_core::segment::{Field, ValueKind};
    /// assert_eq!(Field::HasEmail.kind(), Some(ValueKind::Bool));
    /// assert_eq!(Field::Stage.kind(), Some(ValueKind::Stage));
    /// assert_eq!("attr.plan".parse::<Field>().unwrap().kind(), None);
    /// ```
    #[must_use]
    pub fn kind(&self) -> Option<ValueKind> {
        Some(match self {
            Field::HasEmail | Field::HasPhone => ValueKind::Bool,
            Field::EmailDomain => ValueKind::Text,
            Field::Attr(_) => return None,
            Field::Tier => ValueKind::Tier,
            Field::Stage => ValueKind::Stage,
            _ => ValueKind::Number,
        })
    }

    /// Checks that `op value` can follow this field: the value's kind is the field's, and an
    /// ordering operator is only used on ordered kinds (numbers, dates, tiers).
    ///
    /// # Errors
    /// A message naming what was expected.
    ///
    /// ```
    /// use rapport_core::segment::{CmpOp, Field, FieldMismatch, Literal};
    /// use rapport_core::Tier;
    /// use rust_decimal::Decimal;
    /// assert_eq!(Field::Tier.check(CmpOp::Ge, &Literal::Tier(Tier::Gold)), Ok(()));
    /// assert_eq!(Field::Tier.check(CmpOp::Eq, &Literal::Number(Decimal::ONE)), Err(FieldMismatch::Value));
    /// assert_eq!(Field::HasEmail.check(CmpOp::Lt, &Literal::Bool(true)), Err(FieldMismatch::Operator));
    /// ```
    pub fn check(&self, op: CmpOp, value: &Literal) -> Result<(), FieldMismatch> {
        let kind = value.kind();
        let accepts = match self.kind() {
            Some(k) => k == kind,
            None => matches!(
                kind,
                ValueKind::Number | ValueKind::Text | ValueKind::Bool | ValueKind::Date
            ),
        };
        if !accepts {
            return Err(FieldMismatch::Value);
        }
        if !op.is_equality() && !kind.is_ordered() {
            return Err(FieldMismatch::Operator);
        }
        Ok(())
    }
}

/// Why a comparison does not type-check (see [`Field::check`] and [`Segment::check`]).
///
/// ```
/// use rapport_core::segment::{CmpOp, Field, FieldMismatch, Literal, Segment};
/// use rapport_core::segment::StageName;
/// // Built by hand: a stage compared with text, then a stage compared with `>`.
/// let s = Segment::Compare { field: Field::Stage, op: CmpOp::Eq, value: Literal::Text("new".into()) };
/// assert_eq!(s.check().unwrap_err().mismatch, FieldMismatch::Value);
/// let s = Segment::Compare { field: Field::Stage, op: CmpOp::Gt, value: Literal::Stage(StageName::New) };
/// assert_eq!(s.check().unwrap_err().mismatch, FieldMismatch::Operator);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldMismatch {
    /// The field takes another kind of value.
    Value,
    /// The operator does not apply to the value's kind (only `==` and `!=` do).
    Operator,
}

/// The first ill-typed comparison [`Segment::check`] found: which field, and what is wrong.
///
/// ```
/// use rapport_core::segment::{Field, FieldError, FieldMismatch, Segment};
/// let json = r#"{"compare":{"field":"has_email","op":">","value":{"bool":true}}}"#;
/// let s: Segment = serde_json::from_str(json).unwrap();
/// let e: FieldError = s.check().unwrap_err();
/// assert_eq!(e.to_string(), "has_email: the operator does not apply to its values");
/// assert_eq!((e.field, e.mismatch), (Field::HasEmail, FieldMismatch::Operator));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", match mismatch {
    FieldMismatch::Value => "compared with the wrong kind of value",
    FieldMismatch::Operator => "the operator does not apply to its values",
})]
#[non_exhaustive]
pub struct FieldError {
    /// The field compared.
    pub field: Field,
    /// What is wrong with the comparison.
    pub mismatch: FieldMismatch,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Attr(k) => write!(f, "attr.{k}"),
            Field::DaysSince(t) => write!(f, "days_since({})", t.as_str()),
            Field::CategorySpend { category, days } => {
                f.write_str("category_spend(")?;
                super::print::write_quoted(f, category.as_str())?;
                write!(f, ", {days})")
            }
            other => {
                let name = NAMED_FIELDS
                    .iter()
                    .find(|(_, g)| g == other)
                    .map_or("?", |(n, _)| n);
                f.write_str(name)
            }
        }
    }
}

/// A field name that is not one (from [`Field::from_str`]).
///
/// ```
/// use rapport_core::segment::{Field, UnknownField};
/// let err = "days_since(lunch)".parse::<Field>().unwrap_err();
/// assert_eq!(err, UnknownField("days_since(lunch)".into()));
/// assert_eq!(err.to_string(), "unknown segment field `days_since(lunch)`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown segment field `{0}`")]
pub struct UnknownField(pub String);

impl FromStr for Field {
    type Err = UnknownField;
    /// Reads a field's text name, e.g. `revenue_30d`, `attr.plan`, `days_since(complaint)`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || UnknownField(s.to_owned());
        if let Some(f) = Field::from_name(s) {
            return Ok(f);
        }
        if let Some(key) = s.strip_prefix("attr.") {
            return AttrKey::new(key).map(Field::Attr).map_err(|_| fail());
        }
        if let Some(t) = s
            .strip_prefix("days_since(")
            .and_then(|r| r.strip_suffix(')'))
        {
            return activity_type(t.trim())
                .map(Field::DaysSince)
                .ok_or_else(fail);
        }
        if s.starts_with("category_spend") {
            return super::parse::Parser::field_only(s).map_err(|_| fail());
        }
        Err(fail())
    }
}

impl TryFrom<String> for Field {
    type Error = UnknownField;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Field> for String {
    fn from(f: Field) -> String {
        f.to_string()
    }
}

/// The activity type with a snake-case name.
pub(crate) fn activity_type(name: &str) -> Option<ActivityType> {
    ActivityType::ALL.into_iter().find(|t| t.as_str() == name)
}

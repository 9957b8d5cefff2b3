//! Segments: predicates over a customer's profile, stats, tags, tier, stage, RFM scores and
//! churn risk, with a text form people write and a data-only tree ([`Segment`]) that code
//! evaluates ([`Segment::matches`]) and stores compile to parameterised SQL.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rapport_core::*;
//!
//! let seg = Segment::parse(
//!     r#"tier >= gold and has_tag("behavior:high-frequency") and days_since_last_purchase > 30"#,
//! )?;
//! // The text form prints back exactly, and reads back to the same tree.
//! assert_eq!(
//!     seg.to_string(),
//!     r#"tier >= gold and has_tag("behavior:high-frequency") and days_since_last_purchase > 30"#
//! );
//! assert_eq!(Segment::parse(&seg.to_string())?, seg);
//!
//! let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
//! let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
//! let stats = Stats::default();
//! assert!(!seg.matches(&SegmentContext::new(&customer, &stats, now)));
//! # Ok::<(), SegmentParseError>(())
//! ```
//!
//! The text form, in short (`docs/domain.md` has the whole guide):
//! - comparisons `field op value` with `== != < <= > >=`, and `field in (v1, v2)`;
//! - `has_tag("ns:name")`, `consent("purpose", "channel")`,
//!   `has_account_role("decision_maker")`, `bought("sku-123")`, `true`, `false`;
//! - `category_spend("tea", 365)` is a number field (net spend on the category over the last
//!   365 days) usable with every comparison operator;
//! - `not`, then `and`, then `or` (loosest); parentheses group;
//! - values: numbers (`12`, `-3.5`), `"text"` (escapes `\" \\ \n \r \t \u{..}`), `true` /
//!   `false`, dates `2026-01-31`, tier names (`gold`) and stage names (`silent`).

mod ast;
mod error;
mod eval;
mod parse;
mod print;
mod purchases;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

pub use ast::{
    CmpOp, Field, FieldError, FieldMismatch, Literal, MAX_SPEND_DAYS, Segment, StageName,
    UnknownField, ValueKind,
};
pub use error::{ParseErrorKind, SegmentParseError};
pub use parse::{MAX_DEPTH, MAX_LEN};
pub use purchases::PurchaseSummary;

pub(crate) use parse::Parser;

use crate::decide::rfm::RfmScores;
use crate::model::account::AccountRoleSet;
use crate::model::customer::Customer;
use crate::model::money::Currency;
use crate::model::stats::Stats;
use crate::model::tag::Tag;

/// What a segment is evaluated against: one customer, its stats, the population-level inputs
/// and `now`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
/// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let stats = Stats::default();
/// let ctx = SegmentContext::new(&customer, &stats, now)
///     .with_rfm(RfmScores::new(5, 4, 3))
///     .with_churn_risk(Some(0.8));
/// assert!(Segment::parse("rfm.total == 12 and churn_risk > 0.5")?.matches(&ctx));
/// # Ok::<(), SegmentParseError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SegmentContext<'a> {
    /// The customer.
    pub customer: &'a Customer,
    /// Its stats.
    pub stats: &'a Stats,
    /// Its RFM scores, when the population was ranked (`rfm.*` is false without them).
    pub rfm: Option<RfmScores>,
    /// Its churn risk in 0..=1, when computed (`churn_risk` is false without it).
    pub churn_risk: Option<f64>,
    /// Its expected CLV over the next 12 months from the tenant's fitted model, in the
    /// tenant's base currency (`clv_12m` is false without it).
    pub clv_12m: Option<f64>,
    /// The time of the evaluation.
    pub now: DateTime<Utc>,
    /// The tenant's base currency, when known ([`SegmentContext::with_currency`]): the money
    /// fields (`revenue*`, `margin`) of a customer who buys in another currency are then
    /// unknown, so every comparison on them is false (as for a missing NPS answer). `None`
    /// (a store's query) compares the customer's amounts as they are.
    pub currency: Option<Currency>,
    /// The roles the customer holds over its active account links
    /// ([`SegmentContext::with_account_roles`]); empty when not given, so
    /// `has_account_role(...)` is false.
    pub account_roles: AccountRoleSet,
    /// What the customer bought, from its line items
    /// ([`SegmentContext::with_purchases`]); `None` when not given, so `bought(...)` is false
    /// and `category_spend(...)` is missing (every comparison on it false).
    pub purchases: Option<&'a PurchaseSummary>,
}

impl<'a> SegmentContext<'a> {
    /// A context without RFM scores or churn risk.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let ctx = SegmentContext::new(&customer, &stats, now);
    /// assert!(Segment::parse("stage == prospect and orders == 0")?.matches(&ctx));
    /// assert!(!Segment::parse("churn_risk >= 0")?.matches(&ctx)); // no churn risk given
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn new(customer: &'a Customer, stats: &'a Stats, now: DateTime<Utc>) -> Self {
        Self {
            customer,
            stats,
            rfm: None,
            churn_risk: None,
            clv_12m: None,
            now,
            currency: None,
            account_roles: AccountRoleSet::default(),
            purchases: None,
        }
    }

    /// With RFM scores.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let ctx = SegmentContext::new(&customer, &stats, now).with_rfm(RfmScores::new(5, 1, 2));
    /// assert!(Segment::parse("rfm.r == 5 and rfm.total < 10")?.matches(&ctx));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn with_rfm(mut self, rfm: Option<RfmScores>) -> Self {
        self.rfm = rfm;
        self
    }

    /// With a churn risk.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let ctx = SegmentContext::new(&customer, &stats, now).with_churn_risk(Some(0.8));
    /// assert!(Segment::parse("churn_risk > 0.5")?.matches(&ctx));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn with_churn_risk(mut self, churn_risk: Option<f64>) -> Self {
        self.churn_risk = churn_risk;
        self
    }

    /// With the expected 12-month CLV from the tenant's fitted model.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let seg = Segment::parse("clv_12m > 500")?;
    /// assert!(!seg.matches(&SegmentContext::new(&customer, &stats, now))); // no model: false
    /// assert!(seg.matches(&SegmentContext::new(&customer, &stats, now).with_clv_12m(Some(612.5))));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn with_clv_12m(mut self, clv_12m: Option<f64>) -> Self {
        self.clv_12m = clv_12m;
        self
    }

    /// With the tenant's base currency: literals on money fields (`revenue_365d > 100`) are
    /// amounts in it, so they are not compared with a customer's amounts in another currency
    /// ([`evaluate`](crate::evaluate) sets the policy's [`currency`](crate::TierPolicy::currency)).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let buy = Activity::new(ActivityId::from_u128(3), customer.id(), now, Channel::Web,
    ///     IdempotencyKey::new("o1")?, ActivityKind::Purchase { order_id: OrderId::new("o1")?,
    ///     amount: Money::new(Decimal::from(500), Currency::CNY), margin: None })?;
    /// let stats = Stats::from_activities(&[buy])?;
    /// let rich = Segment::parse("revenue_365d > 100").unwrap();
    /// let in_usd = SegmentContext::new(&customer, &stats, now).with_currency(Some(Currency::USD));
    /// assert!(!rich.matches(&in_usd)); // 500 CNY is not compared with 100 USD
    /// let in_cny = SegmentContext::new(&customer, &stats, now).with_currency(Some(Currency::CNY));
    /// assert!(rich.matches(&in_cny));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn with_currency(mut self, currency: Option<Currency>) -> Self {
        self.currency = currency;
        self
    }

    /// With the roles the customer holds over its active account links (a store's query reads
    /// them from its links when [`Segment::uses_account_roles`]).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let boss = Segment::parse(r#"has_account_role("decision_maker")"#)?;
    /// assert!(!boss.matches(&SegmentContext::new(&customer, &stats, now))); // no roles given
    /// let roles: AccountRoleSet = [AccountRole::DecisionMaker].into_iter().collect();
    /// assert!(boss.matches(&SegmentContext::new(&customer, &stats, now).with_account_roles(roles)));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn with_account_roles(mut self, roles: AccountRoleSet) -> Self {
        self.account_roles = roles;
        self
    }
}

impl<'a> SegmentContext<'a> {
    /// With the customer's purchases from its line items (a store's query builds them when
    /// [`Segment::uses_line_items`]).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// use rapport_core::segment::PurchaseSummary;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let lines = LineItems { activity: ActivityId::from_u128(3), customer: customer.id(),
    ///     order: OrderId::new("o1")?, at: now, refund: false,
    ///     items: vec![LineItem::new(Sku::new("puer")?, 2, usd("60"), Some(ProductCategory::new("tea")?))?] };
    /// let bought = PurchaseSummary::from_line_items(&[lines]);
    /// let seg = Segment::parse(r#"bought("puer") and category_spend("tea", 365) > 100"#)?;
    /// assert!(!seg.matches(&SegmentContext::new(&customer, &stats, now))); // no items given
    /// assert!(seg.matches(&SegmentContext::new(&customer, &stats, now).with_purchases(&bought)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_purchases(mut self, purchases: &'a PurchaseSummary) -> Self {
        self.purchases = Some(purchases);
        self
    }
}

impl Segment {
    /// True when the predicate reads line items (`bought(...)`, `category_spend(...)`): a
    /// store then reads the customers' line items to evaluate it
    /// ([`SegmentContext::with_purchases`]).
    ///
    /// ```
    /// use rapport_core::Segment;
    /// assert!(Segment::parse(r#"orders > 1 and not bought("sku-1")"#)?.uses_line_items());
    /// assert!(Segment::parse(r#"category_spend("tea", 30) >= 10"#)?.uses_line_items());
    /// assert!(!Segment::parse("orders > 1")?.uses_line_items());
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn uses_line_items(&self) -> bool {
        let mut found = false;
        self.visit(&mut |s| {
            found |= matches!(
                s,
                Segment::Bought(_)
                    | Segment::Compare {
                        field: Field::CategorySpend { .. },
                        ..
                    }
            );
        });
        found
    }

    /// True when evaluating the predicate for a customer with these `stats` needs its line
    /// items: it reads `bought(...)`, or `category_spend(...)` of a category the stats do not
    /// track ([`Stats::track_categories`](crate::Stats::track_categories)).
    ///
    /// ```
    /// use rapport_core::*;
    /// let seg = Segment::parse(r#"category_spend("tea", 30) >= 10"#)?;
    /// let mut stats = Stats::default();
    /// assert!(seg.needs_line_items(&stats));
    /// stats.track_categories([ProductCategory::new("tea")?]);
    /// assert!(!seg.needs_line_items(&stats));
    /// assert!(Segment::parse(r#"bought("puer")"#)?.needs_line_items(&stats));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn needs_line_items(&self, stats: &crate::Stats) -> bool {
        self.reads_lines_beyond(&|c| stats.tracks_category(c))
    }

    /// True when the predicate reads `bought(...)`, or `category_spend(...)` of a category
    /// outside `tracked`: under a [`StatsPolicy`](crate::StatsPolicy) tracking `tracked`, the
    /// line items are needed to evaluate it.
    ///
    /// ```
    /// use rapport_core::*;
    /// let tea: std::collections::BTreeSet<_> = [ProductCategory::new("tea")?].into();
    /// assert!(!Segment::parse(r#"category_spend("tea", 30) >= 10"#)?.needs_line_items_beyond(&tea));
    /// assert!(Segment::parse(r#"category_spend("cups", 30) >= 10"#)?.needs_line_items_beyond(&tea));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn needs_line_items_beyond(
        &self,
        tracked: &std::collections::BTreeSet<crate::model::id::ProductCategory>,
    ) -> bool {
        self.reads_lines_beyond(&|c| tracked.contains(c))
    }

    fn reads_lines_beyond(
        &self,
        tracked: &dyn Fn(&crate::model::id::ProductCategory) -> bool,
    ) -> bool {
        let mut found = false;
        self.visit(&mut |s| {
            found |= match s {
                Segment::Bought(_) => true,
                Segment::Compare {
                    field: Field::CategorySpend { category, .. },
                    ..
                } => !tracked(category),
                _ => false,
            };
        });
        found
    }

    /// True when the predicate tests account roles (`has_account_role(...)`): a store then
    /// reads the customers' links to evaluate it ([`SegmentContext::with_account_roles`]).
    ///
    /// ```
    /// use rapport_core::Segment;
    /// assert!(Segment::parse(r#"orders > 1 and not has_account_role("buyer")"#)?.uses_account_roles());
    /// assert!(!Segment::parse("orders > 1")?.uses_account_roles());
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn uses_account_roles(&self) -> bool {
        let mut found = false;
        self.visit(&mut |s| found |= matches!(s, Segment::HasAccountRole(_)));
        found
    }

    /// Parses the text form.
    ///
    /// ```
    /// use rapport_core::segment::{CmpOp, Field, Literal, Segment};
    /// use rapport_core::Tier;
    ///
    /// let s = Segment::parse("tier >= gold or not (orders > 3 and stage in (silent, churned))")?;
    /// assert!(matches!(&s, Segment::Or(items) if items.len() == 2));
    /// assert_eq!(
    ///     Segment::parse("tier >= gold")?,
    ///     Segment::Compare { field: Field::Tier, op: CmpOp::Ge, value: Literal::Tier(Tier::Gold) }
    /// );
    ///
    /// let err = Segment::parse("revnue > 100").unwrap_err();
    /// assert_eq!(err.to_string(), "unknown field 'revnue' at column 1 (did you mean 'revenue'?)");
    /// let err = Segment::parse("orders > 1 and (stage == new").unwrap_err();
    /// assert_eq!(err.to_string(), "unclosed '(' opened at column 16");
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`SegmentParseError`] with the column of the problem and what was expected. Input longer
    /// than [`MAX_LEN`] bytes or nested deeper than [`MAX_DEPTH`] is rejected the same way.
    pub fn parse(text: &str) -> Result<Segment, SegmentParseError> {
        Parser::segment(text)
    }

    /// Calls `f` on this node and every node below it, parents before children.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// let s = Segment::parse("orders > 1 and not (stage == silent or true)")?;
    /// let mut nodes = 0;
    /// let mut first = None;
    /// s.visit(&mut |n| {
    ///     nodes += 1;
    ///     first.get_or_insert(n.to_string());
    /// });
    /// assert_eq!(nodes, 6); // and, orders > 1, not, or, stage == silent, true
    /// assert_eq!(first.as_deref(), Some("orders > 1 and not (stage == silent or true)"));
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    pub fn visit<'s>(&'s self, f: &mut impl FnMut(&'s Segment)) {
        f(self);
        match self {
            Segment::And(items) | Segment::Or(items) => {
                for item in items {
                    item.visit(f);
                }
            }
            Segment::Not(inner) => inner.visit(f),
            Segment::True
            | Segment::False
            | Segment::Compare { .. }
            | Segment::HasTag(_)
            | Segment::Consent { .. }
            | Segment::HasAccountRole(_)
            | Segment::Bought(_) => {}
        }
    }

    /// The fields the predicate compares, each once, in [`Field`] order (so a store can tell
    /// which columns it needs).
    ///
    /// ```
    /// use rapport_core::segment::{Field, Segment};
    /// let s = Segment::parse("revenue > 10 and (revenue < 99 or days_since(visit) < 7)").unwrap();
    /// let fields: Vec<Field> = s.fields().into_iter().collect();
    /// assert_eq!(fields, [Field::Revenue, Field::DaysSince(rapport_core::ActivityType::Visit)]);
    /// ```
    #[must_use]
    pub fn fields(&self) -> BTreeSet<Field> {
        let mut out = BTreeSet::new();
        self.visit(&mut |s| {
            if let Segment::Compare { field, .. } = s {
                out.insert(field.clone());
            }
        });
        out
    }

    /// The tags the predicate tests with `has_tag`, each once.
    ///
    /// ```
    /// use rapport_core::{Segment, Tag};
    /// let s = Segment::parse(r#"has_tag("value:vip") or (has_tag("risk:fraud") and not has_tag("value:vip"))"#)?;
    /// let tags: Vec<String> = s.tags().iter().map(Tag::to_string).collect();
    /// assert_eq!(tags, ["risk:fraud", "value:vip"]);
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn tags(&self) -> BTreeSet<Tag> {
        let mut out = BTreeSet::new();
        self.visit(&mut |s| {
            if let Segment::HasTag(t) = s {
                out.insert(t.clone());
            }
        });
        out
    }

    /// Checks that every comparison is well typed (what [`Segment::parse`] guarantees): a tree
    /// built by hand or deserialised may compare a field with the wrong kind of value, which
    /// evaluates to false and does not print to text that parses.
    ///
    /// # Errors
    /// The first ill-typed comparison, as a [`FieldError`].
    ///
    /// ```
    /// use rapport_core::segment::{CmpOp, Field, FieldMismatch, Literal, Segment};
    /// assert_eq!(Segment::parse("tier >= gold and orders > 2")?.check(), Ok(()));
    /// // A deserialised tree is not checked by the parser:
    /// let json = r#"{"compare":{"field":"has_email","op":">","value":{"bool":true}}}"#;
    /// let s: Segment = serde_json::from_str(json).unwrap();
    /// let e = s.check().unwrap_err();
    /// assert_eq!((e.field, e.mismatch), (Field::HasEmail, FieldMismatch::Operator));
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    pub fn check(&self) -> Result<(), FieldError> {
        let mut bad = None;
        self.visit(&mut |s| {
            if let Segment::Compare { field, op, value } = s {
                if bad.is_none() {
                    if let Err(m) = field.check(*op, value) {
                        bad = Some(FieldError {
                            field: field.clone(),
                            mismatch: m,
                        });
                    }
                }
            }
        });
        bad.map_or(Ok(()), Err)
    }

    /// `a and b`: both hold. With [`Segment::or`] and `!` (`not`) this builds trees in code.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// let vip = Segment::parse("tier >= gold")?;
    /// let quiet = Segment::parse("stage == silent")?.or(Segment::parse("stage == churned")?);
    /// let s = vip.and(!quiet);
    /// assert_eq!(s.to_string(), "tier >= gold and not (stage == silent or stage == churned)");
    /// assert_eq!(Segment::parse(&s.to_string())?, s);
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn and(self, other: Segment) -> Segment {
        Segment::And(vec![self, other])
    }

    /// `a or b`: either holds.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let now = DateTime::UNIX_EPOCH;
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let ctx = SegmentContext::new(&c, &stats, now);
    /// assert!(Segment::False.or(Segment::parse("stage == prospect")?).matches(&ctx));
    /// assert!(!Segment::False.or(Segment::False).matches(&ctx));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn or(self, other: Segment) -> Segment {
        Segment::Or(vec![self, other])
    }
}

impl std::ops::Not for Segment {
    type Output = Segment;
    /// `not a`.
    fn not(self) -> Segment {
        Segment::Not(Box::new(self))
    }
}

impl std::str::FromStr for Segment {
    type Err = SegmentParseError;
    /// As [`Segment::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Segment::parse(s)
    }
}

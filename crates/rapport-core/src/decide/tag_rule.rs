//! Tag rules: a segment predicate that adds a rule-sourced tag while it holds and removes it
//! when it stops holding. Rules never touch tags a person or an import added; any expired tag
//! is dropped.
//!
//! The text form is `when <segment> then tag <namespace:name> [for <duration>]`, with a
//! duration of a positive whole number and a unit `s`, `m`, `h`, `d` or `w` (`30d`, `12h`,
//! `2w`): the tag then expires that long after it was added, and is added again at the next
//! evaluation if the predicate still holds.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rapport_core::*;
//!
//! let rules = [
//!     TagRule::parse("when orders >= 1 then tag behavior:buyer")?,
//!     TagRule::parse("when stage == prospect then tag funnel:lead for 30d")?,
//! ];
//! let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
//! let mut customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
//! let stats = Stats::default();
//!
//! let outcome = evaluate_tag_rules(&rules, &SegmentContext::new(&customer, &stats, now));
//! assert_eq!(outcome.added.len(), 1);
//! assert_eq!(outcome.added[0].tag.as_str(), "funnel:lead");
//! assert_eq!(outcome.added[0].expires_at, Some(now + chrono::Duration::days(30)));
//! assert_eq!(outcome.added[0].reason.rule, "tag_rule:funnel:lead");
//!
//! outcome.apply_to(&mut customer.tags, now);
//! // Applied: evaluating again changes nothing.
//! assert!(evaluate_tag_rules(&rules, &SegmentContext::new(&customer, &stats, now)).is_empty());
//! # Ok::<(), SegmentParseError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::reason::Reason;
use crate::decide::segment::{ParseErrorKind, Parser, Segment, SegmentContext, SegmentParseError};
use crate::model::tag::{Tag, TagSet, TagSource};

/// The longest time-to-live a rule may give a tag: 100 years.
///
/// ```
/// use rapport_core::{TagRule, decide::tag_rule::MAX_TTL};
/// assert_eq!(MAX_TTL.num_days(), 36_525);
/// assert!(TagRule::parse("when orders > 0 then tag value:buyer for 36525d").is_ok());
/// assert!(TagRule::parse("when orders > 0 then tag value:buyer for 36526d").is_err());
/// ```
pub const MAX_TTL: Duration = Duration::days(36_525);

/// When `when` holds, the customer gets `tag` (sourced [`TagSource::Rule`], expiring after
/// `ttl` if set); when it stops holding, the rule-sourced tag is removed.
///
/// Serialised as its text form.
///
/// ```
/// use chrono::Duration;
/// use rapport_core::{Segment, Tag, TagRule};
/// let rule = TagRule::new(
///     Tag::new("behavior", "high-frequency")?,
///     Segment::parse("orders >= 10 and days_since_last_purchase <= 30")?,
///     Some(Duration::days(30)),
/// );
/// assert_eq!(rule.to_string(),
///     "when orders >= 10 and days_since_last_purchase <= 30 then tag behavior:high-frequency for 30d");
/// assert_eq!(TagRule::parse(&rule.to_string())?, rule);
/// assert_eq!(serde_json::to_value(&rule).unwrap(), serde_json::json!(rule.to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TagRule {
    /// The tag the rule maintains.
    pub tag: Tag,
    /// The predicate.
    pub when: Segment,
    /// How long an added tag lasts; whole seconds, positive and at most [`MAX_TTL`] (what
    /// [`TagRule::parse`] accepts; anything else does not print to text that parses).
    pub ttl: Option<Duration>,
}

impl TagRule {
    /// A rule.
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport_core::{Segment, Tag, TagRule};
    /// let rule = TagRule::new(Tag::new("funnel", "lead")?, Segment::parse("stage == prospect")?, None);
    /// assert_eq!(rule.to_string(), "when stage == prospect then tag funnel:lead");
    /// let trial = TagRule::new(Tag::new("promo", "trial")?, Segment::parse("orders == 1")?, Some(Duration::days(7)));
    /// assert_eq!(trial.ttl, Some(Duration::days(7)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(tag: Tag, when: Segment, ttl: Option<Duration>) -> Self {
        Self { tag, when, ttl }
    }

    /// Parses `when <segment> then tag <namespace:name> [for <duration>]`.
    ///
    /// ```
    /// use rapport_core::TagRule;
    /// let rule = TagRule::parse("when days_since(complaint) <= 7 then tag care:recent-complaint for 2w")?;
    /// assert_eq!(rule.tag.as_str(), "care:recent-complaint");
    /// assert_eq!(rule.ttl, Some(chrono::Duration::days(14)));
    /// assert_eq!(rule.to_string(), "when days_since(complaint) <= 7 then tag care:recent-complaint for 2w");
    ///
    /// let err = TagRule::parse("when orders > 1 then tag vip").unwrap_err();
    /// assert_eq!(err.column(), 26);
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`SegmentParseError`] with the column of the problem.
    pub fn parse(text: &str) -> Result<TagRule, SegmentParseError> {
        let mut p = Parser::new(text)?;
        p.expect_word("when", "'when' to start a tag rule")?;
        let when = p.expr()?;
        p.expect_word("then", "'and', 'or' or 'then'")?;
        p.expect_word("tag", "'tag' after 'then'")?;
        let (at, raw) = p.raw_word();
        if raw.is_empty() {
            return Err(SegmentParseError::new(
                p.column(at),
                ParseErrorKind::Expected {
                    expected: "a tag like ns:name after 'tag'".to_owned(),
                    found: "end of input".to_owned(),
                },
            ));
        }
        let tag = Tag::from_str(raw).map_err(|e| {
            let reason = match e {
                crate::error::DomainError::InvalidTag { reason, .. } => reason.to_owned(),
                other => other.to_string(),
            };
            SegmentParseError::new(
                p.column(at),
                ParseErrorKind::InvalidTag {
                    text: raw.to_owned(),
                    reason,
                },
            )
        })?;
        let mut ttl = None;
        if p.eat_word("for")? {
            let (at, raw) = p.raw_word();
            ttl = Some(parse_duration(raw).ok_or_else(|| {
                SegmentParseError::new(
                    p.column(at),
                    ParseErrorKind::InvalidDuration {
                        text: raw.to_owned(),
                    },
                )
            })?);
            p.expect_end("end of input")?;
        } else {
            p.expect_end("'for' or end of input")?;
        }
        Ok(TagRule { tag, when, ttl })
    }

    /// True when the predicate reads a population-level field (`rfm.r`, `rfm.f`, `rfm.m`,
    /// `rfm.total`): whether it holds depends on the other customers, known only after a
    /// [`rank`](crate::decide::rank::rank) step (a sweep), so evaluating one customer alone
    /// leaves its tag as it is (see [`evaluate_tag_rules_unranked`]).
    ///
    /// ```
    /// use rapport_core::TagRule;
    /// assert!(TagRule::parse("when rfm.r >= 4 then tag value:recent")?.reads_population());
    /// assert!(TagRule::parse("when not (orders > 3 and rfm.total < 6) then tag value:x")?.reads_population());
    /// assert!(!TagRule::parse("when orders >= 1 then tag behavior:buyer")?.reads_population());
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn reads_population(&self) -> bool {
        use crate::decide::segment::Field;
        self.when
            .fields()
            .iter()
            .any(|f| matches!(f, Field::RfmR | Field::RfmF | Field::RfmM | Field::RfmTotal))
    }

    /// True when the predicate tests account roles (`has_account_role(...)`): evaluating it
    /// needs the roles the customer holds over its active account links
    /// ([`EvalInputs::account_roles`](crate::EvalInputs::account_roles)), which the service
    /// reads only when a rule asks for them.
    ///
    /// ```
    /// use rapport_core::TagRule;
    /// assert!(TagRule::parse(r#"when has_account_role("decision_maker") then tag b2b:dm"#)?.uses_account_roles());
    /// assert!(!TagRule::parse("when orders >= 1 then tag behavior:buyer")?.uses_account_roles());
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn uses_account_roles(&self) -> bool {
        self.when.uses_account_roles()
    }

    fn reason(&self, now: DateTime<Utc>) -> Reason {
        Reason::new(format!("tag_rule:{}", self.tag), now).note(self.when.to_string())
    }
}

const UNITS: [(char, i64); 5] = [
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// `30d`, `12h`, `2w`, `90m`, `45s`: positive, at most [`MAX_TTL`].
fn parse_duration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let per = UNITS.iter().find(|(u, _)| *u == unit)?.1;
    let secs = n.checked_mul(per)?;
    let d = Duration::try_seconds(secs)?;
    (secs > 0 && d <= MAX_TTL).then_some(d)
}

fn write_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    let secs = d.num_seconds();
    let (unit, per) = UNITS
        .iter()
        .find(|(_, per)| secs % per == 0)
        .copied()
        .unwrap_or(('s', 1));
    write!(f, "{}{unit}", secs / per)
}

impl fmt::Display for TagRule {
    /// The text form, which [`TagRule::parse`] reads back to an equal rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "when {} then tag {}", self.when, self.tag)?;
        if let Some(ttl) = self.ttl {
            f.write_str(" for ")?;
            write_duration(f, ttl)?;
        }
        Ok(())
    }
}

impl FromStr for TagRule {
    type Err = SegmentParseError;
    /// As [`TagRule::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TagRule::parse(s)
    }
}

impl TryFrom<String> for TagRule {
    type Error = SegmentParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TagRule::parse(&s)
    }
}

impl From<TagRule> for String {
    fn from(r: TagRule) -> String {
        r.to_string()
    }
}

/// One tag to add or remove, with why.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let promo: Tag = "promo:spring".parse()?;
/// c.tags.insert(promo.clone(), TagSource::Manual, now - Duration::days(10), Some(now));
/// let out = evaluate_tag_rules(&[], &SegmentContext::new(&c, &Stats::default(), now));
/// let change: &TagChange = &out.removed[0];
/// assert_eq!(change, &promo); // a change compares equal to its tag
/// assert_eq!(change.expires_at, Some(now));
/// assert_eq!(change.reason.rule, "tag.expired");
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagChange {
    /// The tag.
    pub tag: Tag,
    /// For an addition, when the added tag expires; for a removal, the expiry the tag had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Why: rule `tag_rule:<tag>` with the predicate as the note, or `tag.expired`.
    pub reason: Reason,
}

/// What the tag rules decide for one customer: tags to add (as [`TagSource::Rule`]) and tags
/// to remove, each list sorted by tag.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let rules = [
///     TagRule::parse("when stage == prospect then tag funnel:lead")?,
///     TagRule::parse("when orders == 0 then tag behavior:browser")?,
/// ];
/// let out: TagRuleOutcome = evaluate_tag_rules(&rules, &SegmentContext::new(&c, &Stats::default(), now));
/// assert!(!out.is_empty());
/// let added: Vec<&str> = out.added.iter().map(|a| a.tag.as_str()).collect();
/// assert_eq!(added, ["behavior:browser", "funnel:lead"]); // sorted by tag
/// out.apply_to(&mut c.tags, now);
/// assert_eq!(c.tags.get(&"funnel:lead".parse()?).unwrap().source, TagSource::Rule);
/// assert!(TagRuleOutcome::default().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TagRuleOutcome {
    /// Tags to add.
    pub added: Vec<TagChange>,
    /// Tags to remove: rule-sourced tags whose rules stopped holding, and expired tags of any
    /// source.
    pub removed: Vec<TagChange>,
}

impl TagRuleOutcome {
    /// True when nothing changes.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let rules = [TagRule::parse("when stage == prospect then tag funnel:lead")?];
    /// let out = evaluate_tag_rules(&rules, &SegmentContext::new(&c, &Stats::default(), now));
    /// assert!(!out.is_empty());
    /// out.apply_to(&mut c.tags, now);
    /// assert!(evaluate_tag_rules(&rules, &SegmentContext::new(&c, &Stats::default(), now)).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Applies the outcome to a customer's tags at `now`: removals first, then additions (a
    /// tag that expired and is added again ends up added).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let rules = [TagRule::parse("when stage == prospect then tag funnel:lead")?];
    /// let out = evaluate_tag_rules(&rules, &SegmentContext::new(&c, &Stats::default(), now));
    /// out.apply_to(&mut c.tags, now);
    /// let lead: Tag = "funnel:lead".parse()?;
    /// assert!(c.tags.contains(&lead, now));
    /// assert_eq!(c.tags.get(&lead).unwrap().source, TagSource::Rule);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_to(&self, tags: &mut TagSet, now: DateTime<Utc>) {
        for c in &self.removed {
            tags.remove(&c.tag);
        }
        for c in &self.added {
            tags.insert(c.tag.clone(), TagSource::Rule, now, c.expires_at);
        }
    }
}

/// Decides which tags `rules` add to and remove from the customer in `ctx` at `ctx.now`.
///
/// - A rule whose predicate holds adds its tag when the customer lacks it (or it expired),
///   expiring `ttl` after `now`. Several rules for one tag act as one rule whose predicate
///   is their `or`; the first that holds gives the ttl and the reason.
/// - When no rule for a tag holds, the tag is removed if its source is [`TagSource::Rule`].
///   Manual and imported tags are never removed nor re-sourced by rules.
/// - Every tag whose expiry is at or before `now` is removed (reason `tag.expired`).
///
/// Nothing is allocated unless something changes.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
///
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
/// let mut customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let vip: Tag = "value:vip".parse()?;
/// let buyer: Tag = "behavior:buyer".parse()?;
/// customer.tags.insert(vip.clone(), TagSource::Manual, now, None);
/// customer.tags.insert(buyer.clone(), TagSource::Rule, now - Duration::days(9), None);
///
/// let rules = [
///     TagRule::parse("when orders >= 1 then tag behavior:buyer")?,
///     TagRule::parse("when orders >= 10 then tag value:vip")?,
/// ];
/// let outcome = evaluate_tag_rules(&rules, &SegmentContext::new(&customer, &Stats::default(), now));
/// // The rule tag goes; the manual one stays although its rule does not hold.
/// assert!(outcome.added.is_empty());
/// assert_eq!(outcome.removed.len(), 1);
/// assert_eq!(outcome.removed[0].tag, buyer);
/// assert_eq!(outcome.removed[0].reason.note.as_deref(), Some("orders >= 1"));
/// outcome.apply_to(&mut customer.tags, now);
/// assert!(customer.tags.contains(&vip, now) && !customer.tags.contains(&buyer, now));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn evaluate_tag_rules(rules: &[TagRule], ctx: &SegmentContext<'_>) -> TagRuleOutcome {
    tag_rules(rules, ctx, true)
}

/// [`evaluate_tag_rules`] for one customer evaluated alone, without a population ranking
/// (`Service::record`, `Service::evaluate`): a rule that
/// [reads the population](TagRule::reads_population) cannot be decided, so its tag is
/// neither added nor removed — it stays as the last ranked evaluation (a sweep) left it, and
/// the next sweep decides it again. Several rules for one tag still act as their `or`: when
/// one that reads no population field holds, the tag is added (as a sweep would add it).
/// Expired tags are removed as always.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
///
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
/// let mut customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let recent: Tag = "value:recent".parse()?;
/// customer.tags.insert(recent.clone(), TagSource::Rule, now, None); // from the last sweep
/// let rules = [
///     TagRule::parse("when rfm.r >= 4 then tag value:recent")?,
///     TagRule::parse("when not rfm.r >= 4 then tag value:lapsing")?,
/// ];
/// let stats = Stats::default();
/// let ctx = SegmentContext::new(&customer, &stats, now); // no RFM scores
/// // Without scores `rfm.r >= 4` is false: the plain evaluation drops the tag, adds the other.
/// let plain = evaluate_tag_rules(&rules, &ctx);
/// assert_eq!((plain.removed.len(), plain.added.len()), (1, 1));
/// // Unranked, both stay as the sweep left them.
/// assert!(evaluate_tag_rules_unranked(&rules, &ctx).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn evaluate_tag_rules_unranked(rules: &[TagRule], ctx: &SegmentContext<'_>) -> TagRuleOutcome {
    tag_rules(rules, ctx, false)
}

fn tag_rules(rules: &[TagRule], ctx: &SegmentContext<'_>, ranked: bool) -> TagRuleOutcome {
    let now = ctx.now;
    let tags = &ctx.customer.tags;
    let mut out = TagRuleOutcome::default();
    for (i, rule) in rules.iter().enumerate() {
        // Rules sharing a tag are decided together, at the first of them.
        if rules[..i].iter().any(|r| r.tag == rule.tag) {
            continue;
        }
        let same_tag = || rules[i..].iter().filter(|r| r.tag == rule.tag);
        // A rule on line items is decided only with the customer's purchases in the context.
        let decidable = |r: &TagRule| {
            (ranked || !r.reads_population())
                && (ctx.purchases.is_some() || !r.when.needs_line_items(ctx.stats))
        };
        let holding = same_tag().find(|r| decidable(r) && r.when.matches(ctx));
        // Unranked, a tag no decidable rule holds for is undecided when a population rule
        // could hold: it stays as it is.
        if holding.is_none() && !same_tag().all(decidable) {
            continue;
        }
        let live = tags.get(&rule.tag).filter(|info| !info.is_expired(now));
        match (holding, live) {
            (Some(r), None) => out.added.push(TagChange {
                tag: rule.tag.clone(),
                expires_at: r.ttl.and_then(|ttl| now.checked_add_signed(ttl)),
                reason: r.reason(now),
            }),
            (None, Some(info)) if info.source == TagSource::Rule => {
                let mut reason = rule.reason(now);
                if same_tag().nth(1).is_some() {
                    let all: Vec<String> = same_tag().map(|r| format!("({})", r.when)).collect();
                    reason.note = Some(all.join(" or "));
                }
                out.removed.push(TagChange {
                    tag: rule.tag.clone(),
                    expires_at: info.expires_at,
                    reason,
                });
            }
            _ => {}
        }
    }
    for (tag, info) in tags.iter() {
        if info.is_expired(now) {
            let mut reason = Reason::new("tag.expired", now);
            if let Some(at) = info.expires_at {
                reason = reason.measured("expires_at", at);
            }
            out.removed.push(TagChange {
                tag: tag.clone(),
                expires_at: info.expires_at,
                reason,
            });
        }
    }
    // Rules come in the host's order and expired tags in tag order: sort both by tag.
    out.added.sort_by(|a, b| a.tag.cmp(&b.tag));
    out.removed.sort_by(|a, b| a.tag.cmp(&b.tag));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_in_the_largest_exact_unit() {
        assert_eq!(parse_duration("30d"), Some(Duration::days(30)));
        assert_eq!(parse_duration("2w"), Some(Duration::days(14)));
        assert_eq!(parse_duration("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("-1d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(parse_duration("36526d"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
        struct D(Duration);
        impl fmt::Display for D {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_duration(f, self.0)
            }
        }
        assert_eq!(D(Duration::days(14)).to_string(), "2w");
        assert_eq!(D(Duration::hours(36)).to_string(), "36h");
        assert_eq!(D(Duration::seconds(61)).to_string(), "61s");
    }
}

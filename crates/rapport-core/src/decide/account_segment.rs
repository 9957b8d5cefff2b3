//! Segments over accounts: the people's predicate language ([`Segment`]) read over an
//! account's figures — its rolled-up [`Stats`] and its stored standing (tier, stage, churn
//! alert) — with every field written `account.<field>` (`account.tier >= gold and
//! account.revenue_365d > 10000`). Profile, tag and consent predicates have nothing to read
//! on an account: they never hold (`account.email` and the like are empty).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::segment::{ParseErrorKind, Segment, SegmentContext, SegmentParseError};
use crate::model::account::Account;
use crate::model::customer::{Customer, Profile};
use crate::model::id::CustomerId;
use crate::model::money::Currency;
use crate::model::stats::Stats;

/// The prefix of every account field in the text form.
pub const ACCOUNT_PREFIX: &str = "account.";

/// A predicate over accounts (see the module docs). Serialises as its text form.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
/// let big = AccountSegment::parse("account.tier >= gold and account.revenue_365d > 10000")?;
/// assert_eq!(big.to_string(), "account.tier >= gold and account.revenue_365d > 10000");
/// let mut acme = Account::new(AccountId::from_u128(1), TenantId::from_u128(1), AccountName::new("Acme")?, now);
/// acme.standing.tier.tier = Tier::Platinum;
/// assert!(!big.matches(&acme, &Stats::default(), now, None)); // no revenue yet
/// assert!(AccountSegment::parse("account.tier == platinum and account.orders == 0")?.matches(&acme, &Stats::default(), now, None));
/// // A field without the prefix is refused, with its column.
/// let err = AccountSegment::parse("account.tier >= gold and orders > 1").unwrap_err();
/// assert_eq!(err.column(), 26);
/// // Arguments of a call are values, not fields.
/// assert!(AccountSegment::parse("account.days_since(purchase) < 30").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSegment {
    text: String,
    segment: Segment,
}

impl AccountSegment {
    /// Parses the text form: a [`Segment`] whose fields are all written `account.<field>`.
    ///
    /// # Errors
    /// [`SegmentParseError`] with the column (in `text`) of the problem: a field without the
    /// `account.` prefix, or whatever [`Segment::parse`] refuses.
    pub fn parse(text: &str) -> Result<Self, SegmentParseError> {
        let (stripped, columns) = strip_prefix(text)?;
        let segment = Segment::parse(&stripped).map_err(|e| {
            // Report the column in the text as written.
            let i = e.column().saturating_sub(1);
            let column = columns.get(i).copied().unwrap_or(text.chars().count()) + 1;
            SegmentParseError::new(column, e.kind().clone())
        })?;
        Ok(Self {
            text: text.trim().to_owned(),
            segment,
        })
    }

    /// The predicate with the prefixes taken off (what it evaluates).
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    /// True when the account, with its (rolled-up) figures, is in the segment at `now`.
    /// `currency` is the base currency money literals are in (`None`: the figures' own).
    #[must_use]
    pub fn matches(
        &self,
        account: &Account,
        stats: &Stats,
        now: DateTime<Utc>,
        currency: Option<Currency>,
    ) -> bool {
        let mut subject = Customer::new(
            account.tenant(),
            CustomerId::from_uuid(*account.id().as_uuid()),
            Profile::default(),
            account.created_at(),
        );
        subject.tier = account.standing.tier.clone();
        subject.lifecycle = account.standing.lifecycle.clone();
        subject.churn_alert = account.standing.churn_alert;
        let ctx = SegmentContext::new(&subject, stats, now).with_currency(currency);
        self.segment.matches(&ctx)
    }
}

impl std::fmt::Display for AccountSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for AccountSegment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AccountSegment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AccountSegment::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Words of the language that are not fields (operators, literals, functions' names are
/// followed by `(`, and names after `==` are values).
const KEYWORDS: [&str; 5] = ["and", "or", "not", "true", "false"];

/// Takes `account.` off every field; returns the stripped text and, for each of its chars,
/// the char column in `text` it came from. A field without the prefix is an error.
fn strip_prefix(text: &str) -> Result<(String, Vec<usize>), SegmentParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut columns = Vec::new();
    let mut i = 0;
    let mut previous_word_is_op = false;
    let mut in_string = false;
    // For each open parenthesis: does it open a call's arguments?
    let mut parens: Vec<bool> = Vec::new();
    let mut last_was_call = false;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            if c == '"' {
                in_string = false;
            }
            out.push(c);
            columns.push(i);
            i += 1;
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let is_call = next == Some(&'(');
            let is_keyword = KEYWORDS.contains(&word.as_str());
            let is_value = previous_word_is_op || parens.last() == Some(&true);
            let (kept, offset) = match word.strip_prefix(ACCOUNT_PREFIX) {
                Some(rest) => (rest.to_owned(), ACCOUNT_PREFIX.len()),
                None if is_keyword || is_value || is_call => (word.clone(), 0),
                None => {
                    return Err(SegmentParseError::new(
                        start + 1,
                        ParseErrorKind::UnknownField {
                            suggestion: Some(format!("{ACCOUNT_PREFIX}{word}")),
                            name: word,
                        },
                    ));
                }
            };
            last_was_call = is_call;
            for (k, ch) in kept.chars().enumerate() {
                out.push(ch);
                columns.push(start + offset + k);
            }
            previous_word_is_op = false;
            continue;
        }
        if !c.is_whitespace() {
            previous_word_is_op = matches!(c, '=' | '<' | '>' | '!');
            match c {
                '(' => parens.push(last_was_call),
                ')' => {
                    parens.pop();
                }
                _ => {}
            }
            last_was_call = false;
        }
        out.push(c);
        columns.push(i);
        i += 1;
    }
    Ok((out, columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_come_off_fields_only() {
        let p = |t: &str| AccountSegment::parse(t).map(|s| s.segment().to_string());
        assert_eq!(
            p("not (account.orders > 1 or account.stage == silent)").unwrap(),
            Segment::parse("not (orders > 1 or stage == silent)")
                .unwrap()
                .to_string()
        );
        assert_eq!(
            p("account.days_since(complaint) < 30 and account.tier != lead").unwrap(),
            Segment::parse("days_since(complaint) < 30 and tier != lead")
                .unwrap()
                .to_string()
        );
        let e = AccountSegment::parse("(orders > 1)").unwrap_err();
        assert_eq!(e.column(), 2);
        // A parse error after a prefix points into the text as written.
        let e = AccountSegment::parse("account.tier >= 3").unwrap_err();
        assert_eq!(e.column(), 17);
    }
}

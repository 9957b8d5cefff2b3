//! Tags: namespaced labels (`behavior:high-frequency`) with a source and an optional expiry.
//! The source matters: tag rules only ever remove the tags they added themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Longest namespace or name.
pub const TAG_PART_MAX: usize = 64;

/// A validated tag `namespace:name`: each part 1–64 characters of lower-case ASCII letters,
/// digits, `-`, `_` and `.`, starting with a letter or digit.
///
/// ```
/// use rapport_core::Tag;
/// let t: Tag = "behavior:high-frequency".parse().unwrap();
/// assert_eq!(t.namespace(), "behavior");
/// assert_eq!(t.name(), "high-frequency");
/// assert!("no-namespace".parse::<Tag>().is_err());
/// assert!("Behavior:x".parse::<Tag>().is_err());
/// assert_eq!(Tag::new("value", "vip").unwrap().as_str(), "value:vip");
/// assert!(Tag::new("value", "").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag {
    text: String,
    colon: usize,
}

fn check_part(part: &str) -> Result<(), &'static str> {
    if part.is_empty() {
        return Err("namespace and name must not be empty");
    }
    if part.len() > TAG_PART_MAX {
        return Err("namespace and name are at most 64 characters");
    }
    let mut bytes = part.bytes();
    if !bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err("namespace and name start with a lower-case letter or digit");
    }
    if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)) {
        return Err("only lower-case letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}

impl Tag {
    /// Builds a tag from its two parts.
    ///
    /// # Errors
    /// [`DomainError::InvalidTag`] when either part breaks the syntax.
    ///
    /// ```
    /// use rapport_core::{DomainError, Tag};
    /// let t = Tag::new("rfm", "champion").unwrap();
    /// assert_eq!((t.namespace(), t.name()), ("rfm", "champion"));
    /// assert_eq!(t, "rfm:champion".parse().unwrap());
    /// assert!(matches!(Tag::new("rfm", "-x"), Err(DomainError::InvalidTag { .. })));
    /// ```
    pub fn new(namespace: &str, name: &str) -> Result<Self, DomainError> {
        format!("{namespace}:{name}").parse()
    }

    /// The namespace (before `:`).
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.text[..self.colon]
    }

    /// The name (after `:`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.text[self.colon + 1..]
    }

    /// The whole `namespace:name`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Tag {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &'static str| DomainError::InvalidTag {
            value: s.to_owned(),
            reason,
        };
        let Some(colon) = s.find(':') else {
            return Err(fail("expected `namespace:name`"));
        };
        let (ns, name) = (&s[..colon], &s[colon + 1..]);
        check_part(ns).map_err(fail)?;
        check_part(name).map_err(fail)?;
        Ok(Tag {
            text: s.to_owned(),
            colon,
        })
    }
}

impl TryFrom<String> for Tag {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Tag> for String {
    fn from(t: Tag) -> String {
        t.text
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.text)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Who put a tag on a customer. Only [`TagSource::Rule`] tags are removed by tag rules.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::{Tag, TagSet, TagSource};
/// let now = DateTime::UNIX_EPOCH;
/// let mut tags = TagSet::new();
/// let t: Tag = "import:crm-2019".parse().unwrap();
/// tags.insert(t.clone(), TagSource::Import, now, None);
/// assert_eq!(tags.get(&t).unwrap().source, TagSource::Import);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TagSource {
    /// A person, through the host app. Rules never remove it.
    Manual,
    /// A tag rule; the rule removes it when its predicate stops holding.
    Rule,
    /// A data import. Rules never remove it.
    Import,
}

/// What a [`TagSet`] keeps about one tag.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::{TagInfo, TagSource};
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let info = TagInfo { source: TagSource::Rule, added_at: now, expires_at: Some(now + Duration::days(30)) };
/// assert!(!info.is_expired(now + Duration::days(29)));
/// assert!(info.is_expired(now + Duration::days(30))); // the expiry is exclusive
/// let forever = TagInfo { expires_at: None, ..info };
/// assert!(!forever.is_expired(now + Duration::days(36_500)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// Who added it.
    pub source: TagSource,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// When it stops applying (exclusive), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl TagInfo {
    /// True when the tag has expired at `now`.
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// The tags of one customer; each tag at most once.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::{Tag, TagSet, TagSource};
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut tags = TagSet::new();
/// let vip: Tag = "value:vip".parse().unwrap();
/// assert!(tags.insert(vip.clone(), TagSource::Manual, now, None));
/// assert!(!tags.insert(vip.clone(), TagSource::Manual, now, None)); // already there
/// assert!(tags.contains(&vip, now));
/// assert_eq!(tags.get(&vip).unwrap().added_at, now);
///
/// // A tag with an expiry stops counting at that time and is dropped by `expire`.
/// let trial: Tag = "promo:trial".parse().unwrap();
/// let later = now + Duration::days(7);
/// tags.insert(trial.clone(), TagSource::Rule, now, Some(later));
/// assert_eq!(tags.len(), 2);
/// assert!(!tags.contains(&trial, later));
/// assert_eq!(tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["promo:trial", "value:vip"]);
/// assert_eq!(tags.expire(later), vec![trial]);
/// assert_eq!(tags.len(), 1);
///
/// assert_eq!(tags.remove(&vip).map(|i| i.source), Some(TagSource::Manual));
/// assert!(tags.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TagSet(BTreeMap<Tag, TagInfo>);

impl TagSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `tag`; returns false (and changes nothing) when it is already present and unexpired
    /// with the same source and expiry, or when a rule would take over a live manual or
    /// imported tag (which would let the rule remove it later: rules never remove those).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Tag, TagSet, TagSource};
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// assert!(tags.insert(vip.clone(), TagSource::Manual, now, None));
    /// assert!(!tags.insert(vip.clone(), TagSource::Rule, now, None), "a rule never takes a manual tag over");
    /// assert_eq!(tags.get(&vip).unwrap().source, TagSource::Manual);
    /// ```
    pub fn insert(
        &mut self,
        tag: Tag,
        source: TagSource,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> bool {
        if let Some(info) = self.0.get(&tag) {
            if !info.is_expired(now) && info.source == source && info.expires_at == expires_at {
                return false;
            }
            if !info.is_expired(now) && source == TagSource::Rule && info.source != TagSource::Rule
            {
                return false;
            }
        }
        self.0.insert(
            tag,
            TagInfo {
                source,
                added_at: now,
                expires_at,
            },
        );
        true
    }

    /// Removes `tag`; returns what it held.
    pub fn remove(&mut self, tag: &Tag) -> Option<TagInfo> {
        self.0.remove(tag)
    }

    /// True when `tag` is present and not expired at `now`.
    #[must_use]
    pub fn contains(&self, tag: &Tag, now: DateTime<Utc>) -> bool {
        self.0.get(tag).is_some_and(|i| !i.is_expired(now))
    }

    /// What the set keeps about `tag`.
    #[must_use]
    pub fn get(&self, tag: &Tag) -> Option<&TagInfo> {
        self.0.get(tag)
    }

    /// Drops the tags expired at `now` and returns them.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Tag> {
        let gone: Vec<Tag> = self
            .0
            .iter()
            .filter(|(_, i)| i.is_expired(now))
            .map(|(t, _)| t.clone())
            .collect();
        for t in &gone {
            self.0.remove(t);
        }
        gone
    }

    /// All tags with what the set keeps about them, in tag order.
    pub fn iter(&self) -> impl Iterator<Item = (&Tag, &TagInfo)> {
        self.0.iter()
    }

    /// Number of tags (expired ones included until [`TagSet::expire`] runs).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no tags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

//! Tags: namespaced labels (`behavior:high-frequency`) with a source and an optional expiry.
//! The source matters: tag rules only ever remove the tags they added themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Longest namespace or name.
///
/// ```
/// use rapport_core::{Tag, model::tag::TAG_PART_MAX};
/// assert!(Tag::new("value", &"a".repeat(TAG_PART_MAX)).is_ok());
/// assert!(Tag::new("value", &"a".repeat(TAG_PART_MAX + 1)).is_err());
/// ```
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
    ///
    /// ```
    /// let t: rapport_core::Tag = "behavior:high-frequency".parse().unwrap();
    /// assert_eq!(t.namespace(), "behavior");
    /// ```
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.text[..self.colon]
    }

    /// The name (after `:`).
    ///
    /// ```
    /// let t: rapport_core::Tag = "behavior:high-frequency".parse().unwrap();
    /// assert_eq!(t.name(), "high-frequency");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.text[self.colon + 1..]
    }

    /// The whole `namespace:name`.
    ///
    /// ```
    /// assert_eq!(rapport_core::Tag::new("rfm", "champion").unwrap().as_str(), "rfm:champion");
    /// ```
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
    /// True when the tag has expired at `now` (the expiry itself counts as expired).
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::{TagInfo, TagSource};
    /// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let end = now + Duration::days(7);
    /// let info = TagInfo { source: TagSource::Rule, added_at: now, expires_at: Some(end) };
    /// assert!(!info.is_expired(now));
    /// assert!(info.is_expired(end));
    /// ```
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
    ///
    /// ```
    /// assert!(rapport_core::TagSet::new().is_empty());
    /// ```
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

    /// Removes `tag` whatever its source; returns what it held.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// assert_eq!(tags.remove(&vip).map(|i| i.source), Some(TagSource::Manual));
    /// assert!(tags.remove(&vip).is_none());
    /// ```
    pub fn remove(&mut self, tag: &Tag) -> Option<TagInfo> {
        self.0.remove(tag)
    }

    /// True when `tag` is present and not expired at `now`.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// let trial: Tag = "promo:trial".parse().unwrap();
    /// tags.insert(trial.clone(), TagSource::Rule, now, Some(now + Duration::days(7)));
    /// assert!(tags.contains(&vip, now) && tags.contains(&trial, now));
    /// assert!(!tags.contains(&trial, now + Duration::days(7)));
    /// ```
    #[must_use]
    pub fn contains(&self, tag: &Tag, now: DateTime<Utc>) -> bool {
        self.0.get(tag).is_some_and(|i| !i.is_expired(now))
    }

    /// What the set keeps about `tag`, expired or not.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// let info = tags.get(&vip).unwrap();
    /// assert_eq!((info.source, info.added_at, info.expires_at), (TagSource::Manual, now, None));
    /// ```
    #[must_use]
    pub fn get(&self, tag: &Tag) -> Option<&TagInfo> {
        self.0.get(tag)
    }

    /// Drops the tags expired at `now` and returns them.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// let trial: Tag = "promo:trial".parse().unwrap();
    /// tags.insert(trial.clone(), TagSource::Rule, now, Some(now + Duration::days(7)));
    /// assert!(tags.expire(now).is_empty());
    /// assert_eq!(tags.expire(now + Duration::days(7)), vec![trial]);
    /// assert_eq!(tags.len(), 1);
    /// ```
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

    /// All tags with what the set keeps about them, in tag order (expired ones included).
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// tags.insert("behavior:browser".parse().unwrap(), TagSource::Rule, now, None);
    /// let names: Vec<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
    /// assert_eq!(names, ["behavior:browser", "value:vip"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&Tag, &TagInfo)> {
        self.0.iter()
    }

    /// Number of tags (expired ones included until [`TagSet::expire`] runs).
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// tags.insert("promo:trial".parse().unwrap(), TagSource::Rule, now, Some(now));
    /// assert_eq!(tags.len(), 2); // the expired trial still counts
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no tags.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::{Tag, TagSet, TagSource};
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let vip: Tag = "value:vip".parse().unwrap();
    /// let mut tags = TagSet::new();
    /// tags.insert(vip.clone(), TagSource::Manual, now, None);
    /// assert!(!tags.is_empty());
    /// tags.remove(&vip);
    /// assert!(tags.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

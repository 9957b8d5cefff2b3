//! The customer: profile, tags, tier, lifecycle stage, consents and a version for optimistic
//! concurrency. Personal fields are wrapped in [`Pii`] so `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::consent::Consents;
use crate::model::contact::{ContactKey, Email, Phone};
use crate::model::id::{CustomerId, TenantId};
use crate::model::lifecycle::{Lifecycle, Stage};
use crate::model::pii::Pii;
use crate::model::tag::TagSet;
use crate::model::tier::{Tier, TierState};

/// A key of a custom attribute: 1–64 characters of lower-case ASCII letters, digits and `_`,
/// starting with a letter (so it can be written in the segment text form as `attr.<key>`).
///
/// ```
/// use rapport_core::AttrKey;
/// assert_eq!(AttrKey::new("loyalty_card").unwrap().as_str(), "loyalty_card");
/// assert!(AttrKey::new("Loyalty Card").is_err());
/// assert!(AttrKey::new("2nd_card").is_err()); // must start with a letter
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttrKey(String);

impl AttrKey {
    /// Validates a key.
    ///
    /// ```
    /// use rapport_core::AttrKey;
    /// assert!(AttrKey::new("vip_since").is_ok());
    /// assert!(AttrKey::new("vip-since").is_err()); // only a-z, 0-9 and '_'
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming `attribute_key`.
    pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
        let s = s.into();
        let ok = (1..=64).contains(&s.len())
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(s))
        } else {
            Err(DomainError::InvalidText {
                field: "attribute_key",
                value: s,
                reason: "expected 1-64 of a-z, 0-9, '_' starting with a letter",
            })
        }
    }

    /// The key.
    ///
    /// ```
    /// assert_eq!(rapport_core::AttrKey::new("points").unwrap().as_str(), "points");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttrKey {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}
impl From<AttrKey> for String {
    fn from(k: AttrKey) -> String {
        k.0
    }
}
impl fmt::Debug for AttrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttrKey({})", self.0)
    }
}
impl fmt::Display for AttrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A typed custom attribute value.
///
/// ```
/// use rapport_core::{AttrValue, Attributes, AttrKey};
/// use rust_decimal::Decimal;
/// let mut attrs = Attributes::new();
/// attrs.insert(AttrKey::new("points").unwrap(), AttrValue::Number(Decimal::from(1200)));
/// attrs.insert(AttrKey::new("newsletter").unwrap(), AttrValue::Bool(true));
/// assert_eq!(attrs[&AttrKey::new("points").unwrap()], AttrValue::Number(Decimal::from(1200)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
#[non_exhaustive]
pub enum AttrValue {
    /// Text.
    Text(String),
    /// An exact number.
    Number(Decimal),
    /// Yes or no.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A point in time.
    Timestamp(DateTime<Utc>),
}

/// Custom attributes of a profile: host-defined fields with typed values, ordered by key.
///
/// ```
/// use rapport_core::{AttrKey, AttrValue, Attributes, Pii, Profile};
/// let mut attrs = Attributes::new();
/// attrs.insert(AttrKey::new("segment").unwrap(), AttrValue::Text("b2b".into()));
/// let p = Profile { attributes: Pii::new(attrs), ..Profile::default() };
/// assert_eq!(p.attributes.expose().len(), 1);
/// assert!(!format!("{p:?}").contains("b2b")); // attributes are personal data too
/// ```
pub type Attributes = BTreeMap<AttrKey, AttrValue>;

/// Who the customer is. Every personal field is [`Pii`].
///
/// ```
/// use rapport_core::{Email, Pii, Profile};
/// let p = Profile {
///     display_name: Some(Pii::new("Li Lei".into())),
///     email: Some(Pii::new(Email::parse("li@example.cn").unwrap())),
///     ..Profile::default()
/// };
/// let debug = format!("{p:?}");
/// assert!(!debug.contains("Li Lei") && !debug.contains("li@example.cn"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name to show (trimmed, non-empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Pii<String>>,
    /// Email, normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii<Email>>,
    /// Phone, E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii<Phone>>,
    /// Birth date (a blocking key for duplicate detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Pii<NaiveDate>>,
    /// Host-defined fields.
    #[serde(default, skip_serializing_if = "attributes_empty")]
    pub attributes: Pii<Attributes>,
}

fn attributes_empty(a: &Pii<Attributes>) -> bool {
    a.expose().is_empty()
}

impl Profile {
    /// Normalises a display name: trims it and collapses inner runs of whitespace.
    ///
    /// ```
    /// use rapport_core::Profile;
    /// assert_eq!(Profile::normalise_name("  Wang   Fang ").unwrap(), "Wang Fang");
    /// assert!(Profile::normalise_name("   ").is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidName`] (field `display_name`) when empty, longer than 200
    /// characters or containing control characters; the error keeps the reason, not the name.
    pub fn normalise_name(name: &str) -> Result<String, DomainError> {
        use unicode_normalization::UnicodeNormalization;
        let joined: String = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .nfc()
            .collect();
        let fail = |reason| DomainError::InvalidName {
            field: "display_name",
            reason,
        };
        if joined.is_empty() {
            return Err(fail("it is empty"));
        }
        if joined.chars().count() > 200 {
            return Err(fail("it is longer than 200 characters"));
        }
        if joined.chars().any(char::is_control) {
            return Err(fail("it contains a control character"));
        }
        Ok(joined)
    }

    /// The contact keys (normalised email, phone) this profile can be found by.
    ///
    /// ```
    /// use rapport_core::{ContactKey, Email, Phone, Pii, Profile};
    /// let p = Profile {
    ///     email: Some(Pii::new(Email::parse("Li@Example.cn").unwrap())),
    ///     phone: Some(Pii::new(Phone::from_e164("+8613800138000").unwrap())),
    ///     ..Profile::default()
    /// };
    /// let keys = p.contact_keys();
    /// assert_eq!(keys.len(), 2);
    /// assert_eq!(keys[0].as_str(), "li@example.cn");
    /// assert_eq!(keys[1].kind(), "phone");
    /// assert!(Profile::default().contact_keys().is_empty());
    /// ```
    #[must_use]
    pub fn contact_keys(&self) -> Vec<ContactKey> {
        let mut keys = Vec::new();
        if let Some(e) = &self.email {
            keys.push(ContactKey::Email(e.expose().clone()));
        }
        if let Some(p) = &self.phone {
            keys.push(ContactKey::Phone(p.expose().clone()));
        }
        keys
    }
}

/// A customer of a tenant.
///
/// Fields are private where an invariant guards them: the version only moves through
/// [`Customer::next_version`], tombstones only through the lifecycle rules.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// assert_eq!(c.version(), 1);
/// assert_eq!(c.stage(), Stage::Prospect);
/// assert_eq!(c.tier(), Tier::Lead);
/// assert_eq!((c.id(), c.tenant()), (CustomerId::from_u128(2), TenantId::from_u128(1)));
/// assert_eq!(c.created_at(), now);
/// assert!(c.is_live() && c.ensure_live().is_ok());
///
/// // A change is written back as the next version; a store reads it back with its version.
/// let next = c.next_version();
/// assert_eq!(next.version(), 2);
/// assert_eq!(next.clone().with_version(5).version(), 5);
///
/// // Tombstones refuse changes.
/// let mut erased = next;
/// erased.set_lifecycle(erased.lifecycle().erase(now)?)?;
/// assert!(!erased.is_live());
/// assert!(matches!(erased.ensure_live(), Err(DomainError::Tombstoned { state: "erased", .. })));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    id: CustomerId,
    tenant: TenantId,
    /// Who the customer is.
    pub profile: Profile,
    /// Labels.
    pub tags: TagSet,
    pub(crate) tier: TierState,
    pub(crate) lifecycle: Lifecycle,
    /// Consents.
    pub consents: Consents,
    /// Whether the churn risk was at or above the alert threshold at the last evaluation, so
    /// the next one can tell a rise across the threshold from a risk that was already high.
    /// (Only the side of the threshold is stored, not the score: a score moves every day and
    /// storing it would rewrite every customer on every sweep.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub churn_alert: bool,
    created_at: DateTime<Utc>,
    version: u64,
}

impl Customer {
    /// A new prospect at version 1, tier Lead, with no tags or consents.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!((c.stage(), c.tier(), c.version()), (Stage::Prospect, Tier::Lead, 1));
    /// assert!(c.tags.is_empty());
    /// ```
    #[must_use]
    pub fn new(tenant: TenantId, id: CustomerId, profile: Profile, now: DateTime<Utc>) -> Self {
        Self {
            id,
            tenant,
            profile,
            tags: TagSet::new(),
            tier: TierState::default(),
            lifecycle: Lifecycle {
                since: Some(now),
                ..Lifecycle::default()
            },
            consents: Consents::default(),
            churn_alert: false,
            created_at: now,
            version: 1,
        }
    }

    /// Its stage and lifecycle state (read only: change it with [`Customer::set_lifecycle`]).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!((c.lifecycle().stage, c.lifecycle().since), (Stage::Prospect, Some(now)));
    /// ```
    #[must_use]
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Its tier and downgrade state (read only: change it with [`Customer::set_tier_state`]).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.tier_state().tier, Tier::Lead);
    /// ```
    #[must_use]
    pub fn tier_state(&self) -> &TierState {
        &self.tier
    }

    /// Replaces the lifecycle state. A live customer may take any state (the transitions are
    /// checked by [`Lifecycle`]'s own methods, which is how callers should build `next`); a
    /// `Merged` or `Erased` customer is final: any change is refused, so nothing can un-erase or
    /// un-merge a customer by writing its fields.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let erased = c.lifecycle().erase(now)?;
    /// c.set_lifecycle(erased)?;
    /// assert_eq!(c.stage(), Stage::Erased);
    /// // Writing a live state back is refused.
    /// assert!(matches!(
    ///     c.set_lifecycle(Lifecycle::default()),
    ///     Err(DomainError::Tombstoned { state: "erased", .. })
    /// ));
    /// assert_eq!(c.stage(), Stage::Erased);
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::Tombstoned`] when the customer is merged or erased and `next` differs.
    pub fn set_lifecycle(&mut self, next: Lifecycle) -> Result<(), DomainError> {
        if next != self.lifecycle {
            self.ensure_live()?;
            self.lifecycle = next;
        }
        Ok(())
    }

    /// Replaces the tier state; refused on a `Merged` or `Erased` customer, like
    /// [`Customer::set_lifecycle`].
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// c.set_tier_state(TierState { tier: Tier::Gold, since: Some(now), ..TierState::default() })?;
    /// assert_eq!(c.tier(), Tier::Gold);
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::Tombstoned`] when the customer is merged or erased and `next` differs.
    pub fn set_tier_state(&mut self, next: TierState) -> Result<(), DomainError> {
        if next != self.tier {
            self.ensure_live()?;
            self.tier = next;
        }
        Ok(())
    }

    /// Its id.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.id(), CustomerId::from_u128(2));
    /// ```
    #[must_use]
    pub fn id(&self) -> CustomerId {
        self.id
    }

    /// Its tenant.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.tenant(), TenantId::from_u128(1));
    /// ```
    #[must_use]
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// When it was registered.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.created_at(), now);
    /// ```
    #[must_use]
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The version it was read at (1 for a new customer; each stored change adds one).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.version(), 1);
    /// assert_eq!(c.next_version().version(), 2);
    /// ```
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Current tier.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.tier(), Tier::Lead);
    /// ```
    #[must_use]
    pub fn tier(&self) -> Tier {
        self.tier.tier
    }

    /// Current stage.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.stage(), Stage::Prospect);
    /// ```
    #[must_use]
    pub fn stage(&self) -> Stage {
        self.lifecycle.stage
    }

    /// True unless merged or erased.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert!(c.is_live());
    /// let mut erased = c.next_version();
    /// erased.set_lifecycle(erased.lifecycle().erase(now)?)?;
    /// assert!(!erased.is_live());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.lifecycle.stage.is_live()
    }

    /// Fails with [`DomainError::Tombstoned`] when the customer is merged or erased.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert!(c.ensure_live().is_ok());
    /// let mut erased = c.next_version();
    /// erased.set_lifecycle(erased.lifecycle().erase(now)?)?;
    /// assert!(matches!(erased.ensure_live(), Err(DomainError::Tombstoned { state: "erased", .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As described.
    pub fn ensure_live(&self) -> Result<(), DomainError> {
        match self.lifecycle.stage {
            Stage::Merged { .. } => Err(DomainError::Tombstoned {
                customer: self.id,
                state: "merged",
            }),
            Stage::Erased => Err(DomainError::Tombstoned {
                customer: self.id,
                state: "erased",
            }),
            _ => Ok(()),
        }
    }

    /// The copy to write back after a change: the same customer at version + 1. A store
    /// accepts it only if the stored version is still [`Customer::version`] of `self`.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let mut next = c.next_version();
    /// next.churn_alert = true;
    /// assert_eq!((c.version(), next.version()), (1, 2));
    /// ```
    #[must_use]
    pub fn next_version(&self) -> Customer {
        let mut next = self.clone();
        next.version = self.version + 1;
        next
    }

    /// Rebuilds a customer read back from storage, with its stored version.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// assert_eq!(c.with_version(7).version(), 7);
    /// ```
    #[must_use]
    pub fn with_version(mut self, version: u64) -> Customer {
        self.version = version;
        self
    }
}

//! Tiers: rungs of the tenant's value ladder (the customer pyramid). This module holds the
//! tier a customer is on and the state the downgrade rule needs; ladders and decisions build
//! on it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::id::Actor;

/// A rung of the customer pyramid, ordered from the bottom: `Lead < Iron < Gold < Platinum`.
///
/// ```
/// use rapport_core::Tier;
/// assert!(Tier::Gold > Tier::Iron);
/// assert_eq!("platinum".parse::<Tier>().unwrap(), Tier::Platinum);
/// assert_eq!(Tier::Gold.to_string(), "gold");
/// assert_eq!(Tier::Iron.as_str(), "iron");
/// assert_eq!(Tier::Platinum.below(), Some(Tier::Gold));
/// assert_eq!(Tier::Lead.below(), None);
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The bottom: customers who cost more than they bring.
    #[default]
    Lead,
    /// Steady, moderate value.
    Iron,
    /// High value, less loyal or profitable than Platinum.
    Gold,
    /// The top: the most profitable, loyal customers.
    Platinum,
}

impl Tier {
    /// Every tier from the bottom up.
    ///
    /// ```
    /// use rapport_core::Tier;
    /// assert_eq!(Tier::ALL.first(), Some(&Tier::Lead));
    /// assert!(Tier::ALL.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: [Tier; 4] = [Tier::Lead, Tier::Iron, Tier::Gold, Tier::Platinum];

    /// The lower-case name.
    ///
    /// ```
    /// use rapport_core::Tier;
    /// assert_eq!(Tier::Platinum.as_str(), "platinum");
    /// assert_eq!(Tier::Platinum.as_str().parse::<Tier>().unwrap(), Tier::Platinum);
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Lead => "lead",
            Tier::Iron => "iron",
            Tier::Gold => "gold",
            Tier::Platinum => "platinum",
        }
    }

    /// The rung below, if any.
    ///
    /// ```
    /// use rapport_core::Tier;
    /// assert_eq!(Tier::Gold.below(), Some(Tier::Iron));
    /// assert_eq!(Tier::Lead.below(), None);
    /// ```
    #[must_use]
    pub fn below(self) -> Option<Tier> {
        match self {
            Tier::Lead => None,
            Tier::Iron => Some(Tier::Lead),
            Tier::Gold => Some(Tier::Iron),
            Tier::Platinum => Some(Tier::Gold),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DomainError::InvalidText {
                field: "tier",
                value: s.to_owned(),
                reason: "expected one of lead, iron, gold, platinum",
            })
    }
}

/// A tier set by hand, until a time. Build it with [`TierPin::new`]; while it is active
/// [`TierPolicy::decide`](crate::TierPolicy::decide) keeps the pinned tier whatever the metric says.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let pin = TierPin::new(Tier::Gold, Actor::new("li").unwrap(), "key account", now + Duration::days(90), now)?;
/// assert!(pin.is_active(now) && !pin.is_active(now + Duration::days(90)));
///
/// let state = TierState { pin: Some(pin), ..TierState::default() };
/// let p = TierPolicy::default();
/// let pinned = p.decide(&state, Some(Decimal::ZERO), None, now);
/// assert_eq!((pinned.to, pinned.reason.rule.as_ref()), (Tier::Gold, "tier.pin"));
/// // Once expired, the pin is dropped and the metric decides again.
/// let later = p.decide(&pinned.state, Some(Decimal::ZERO), None, now + Duration::days(200));
/// assert!(later.state.pin.is_none());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPin {
    /// The pinned tier.
    pub tier: Tier,
    /// Who pinned it.
    pub actor: Actor,
    /// Why.
    pub reason: String,
    /// When the pin stops applying (exclusive).
    pub until: DateTime<Utc>,
}

impl TierPin {
    /// A pin checked the way the lifecycle checks an override: a non-empty reason and an expiry
    /// after `now` (the reason is trimmed).
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::{Actor, Tier, TierPin};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let li = Actor::new("li").unwrap();
    /// assert!(TierPin::new(Tier::Gold, li.clone(), "key account", now + Duration::days(90), now).is_ok());
    /// assert!(TierPin::new(Tier::Gold, li.clone(), " ", now + Duration::days(90), now).is_err());
    /// assert!(TierPin::new(Tier::Gold, li, "late", now, now).is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for a blank reason (`tier_pin.reason`) or an expiry at or
    /// before `now` (`tier_pin.until`).
    pub fn new(
        tier: Tier,
        actor: Actor,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<TierPin, DomainError> {
        if reason.trim().is_empty() {
            return Err(DomainError::InvalidText {
                field: "tier_pin.reason",
                value: reason.to_owned(),
                reason: "a pin needs a reason",
            });
        }
        if until <= now {
            return Err(DomainError::InvalidText {
                field: "tier_pin.until",
                value: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                reason: "a pin needs an expiry after now",
            });
        }
        Ok(TierPin {
            tier,
            actor,
            reason: reason.trim().to_owned(),
            until,
        })
    }

    /// True while the pin applies (`now` before `until`).
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::{Actor, Tier, TierPin};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let until = now + Duration::days(90);
    /// let pin = TierPin::new(Tier::Gold, Actor::new("li").unwrap(), "key account", until, now).unwrap();
    /// assert!(pin.is_active(now));
    /// assert!(!pin.is_active(until)); // `until` is exclusive
    /// ```
    #[must_use]
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }
}

/// The tier a customer is on and what the downgrade rule remembers.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let iron = TierState { tier: Tier::Iron, since: Some(now), ..TierState::default() };
/// // 150 is below Iron's band (200 × 0.9 = 180): the grace period starts now.
/// let d = TierPolicy::default().decide(&iron, Some(Decimal::from(150)), None, now);
/// assert_eq!(d.state.tier, Tier::Iron);
/// assert_eq!(d.state.below_since, Some(now));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierState {
    /// Current tier.
    pub tier: Tier,
    /// When the customer entered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Since when the metric has been below the downgrade line (entry × (1 − hysteresis)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_since: Option<DateTime<Utc>>,
    /// A manual pin, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<TierPin>,
}

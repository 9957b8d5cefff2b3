//! Tiers: rungs of the tenant's value ladder (the customer pyramid). This module holds the
//! tier a customer is on and the state the downgrade rule needs; ladders and decisions build
//! on it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::text::Actor;

/// A rung of the customer pyramid, ordered from the bottom: `Lead < Iron < Gold < Platinum`.
///
/// ```
/// use rapport_core::Tier;
/// assert!(Tier::Gold > Tier::Iron);
/// assert_eq!("platinum".parse::<Tier>().unwrap(), Tier::Platinum);
/// assert_eq!(Tier::Gold.to_string(), "gold");
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
    pub const ALL: [Tier; 4] = [Tier::Lead, Tier::Iron, Tier::Gold, Tier::Platinum];

    /// The lower-case name.
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

/// A tier set by hand, until a time.
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

/// The tier a customer is on and what the downgrade rule remembers.
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

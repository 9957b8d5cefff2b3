//! Lifecycle stages: where a customer is in the relationship (prospect → new → active ⇄
//! silent → churned → won back), and the state kept with it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::id::CustomerId;
use crate::text::Actor;

/// A lifecycle stage. `Merged` and `Erased` are terminal tombstones.
///
/// ```
/// use rapport_core::{CustomerId, Stage};
/// assert!(Stage::Active.is_live());
/// assert!(!Stage::Merged { into: CustomerId::from_u128(2) }.is_live());
/// assert_eq!("silent".parse::<Stage>().unwrap(), Stage::Silent);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Known, never purchased.
    #[default]
    Prospect,
    /// One purchase day so far.
    New,
    /// Repeat purchaser, recent.
    Active,
    /// Activity dropped (沉默).
    Silent,
    /// Gone (流失): inferred from time, or observed (contract cancelled).
    Churned,
    /// Folded into another customer; reads resolve through `into`.
    Merged {
        /// The surviving customer.
        into: CustomerId,
    },
    /// Personal data erased on request.
    Erased,
}

impl Stage {
    /// The live stages, in funnel order.
    pub const LIVE: [Stage; 5] = [
        Stage::Prospect,
        Stage::New,
        Stage::Active,
        Stage::Silent,
        Stage::Churned,
    ];

    /// False for the tombstones `Merged` and `Erased`.
    #[must_use]
    pub fn is_live(self) -> bool {
        !matches!(self, Stage::Merged { .. } | Stage::Erased)
    }

    /// The lower-case name (`merged` without its target).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prospect => "prospect",
            Stage::New => "new",
            Stage::Active => "active",
            Stage::Silent => "silent",
            Stage::Churned => "churned",
            Stage::Merged { .. } => "merged",
            Stage::Erased => "erased",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = DomainError;
    /// Parses a live stage name (tombstones are not chosen by name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::LIVE
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DomainError::InvalidText {
                field: "stage",
                value: s.to_owned(),
                reason: "expected one of prospect, new, active, silent, churned",
            })
    }
}

/// A stage set by hand until a time, with who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageOverride {
    /// The chosen live stage.
    pub stage: Stage,
    /// Who chose it.
    pub actor: Actor,
    /// Why.
    pub reason: String,
    /// When the override stops applying (exclusive).
    pub until: DateTime<Utc>,
}

/// The stage a customer is in and what the state machine remembers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Current stage.
    pub stage: Stage,
    /// When the customer entered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// How many times the customer came back after Churned.
    #[serde(default)]
    pub win_backs: u32,
    /// When an observed churn (cancellation) happened; purchases after it are a win-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// A manual override, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<StageOverride>,
}

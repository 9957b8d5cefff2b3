//! Lifecycle stages: where a customer is in the relationship (prospect → new → active ⇄
//! silent → churned → won back), and the state kept with it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::error::DomainError as Error;
use crate::model::id::Actor;
use crate::model::id::CustomerId;

/// A lifecycle stage. `Merged` and `Erased` are terminal tombstones.
///
/// ```
/// use rapport_core::{CustomerId, Stage};
/// assert!(Stage::Active.is_live());
/// assert!(!Stage::Merged { into: CustomerId::from_u128(2) }.is_live());
/// assert_eq!("silent".parse::<Stage>().unwrap(), Stage::Silent);
/// assert_eq!(Stage::Merged { into: CustomerId::from_u128(2) }.as_str(), "merged");
/// assert!("erased".parse::<Stage>().is_err()); // tombstones are not chosen by name
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
    ///
    /// ```
    /// use rapport_core::Stage;
    /// assert_eq!(Stage::LIVE[0], Stage::Prospect);
    /// assert!(Stage::LIVE.iter().all(|s| s.is_live()));
    /// ```
    pub const LIVE: [Stage; 5] = [
        Stage::Prospect,
        Stage::New,
        Stage::Active,
        Stage::Silent,
        Stage::Churned,
    ];

    /// False for the tombstones `Merged` and `Erased`.
    ///
    /// ```
    /// use rapport_core::{CustomerId, Stage};
    /// assert!(Stage::Churned.is_live()); // a churned customer can still be won back
    /// assert!(!Stage::Erased.is_live());
    /// assert!(!Stage::Merged { into: CustomerId::from_u128(2) }.is_live());
    /// ```
    #[must_use]
    pub fn is_live(self) -> bool {
        !matches!(self, Stage::Merged { .. } | Stage::Erased)
    }

    /// The lower-case name (`merged` without its target).
    ///
    /// ```
    /// use rapport_core::{CustomerId, Stage};
    /// assert_eq!(Stage::Silent.as_str(), "silent");
    /// assert_eq!(Stage::Merged { into: CustomerId::from_u128(2) }.as_str(), "merged");
    /// ```
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

/// A stage set by hand until a time, with who and why (see [`Lifecycle::override_stage`]).
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let l = Lifecycle::default()
///     .override_stage(Stage::Active, Actor::new("li").unwrap(), "  key account ", now + Duration::days(30), now)
///     .unwrap();
/// let o: &StageOverride = l.manual.as_ref().unwrap();
/// assert_eq!((o.stage, o.reason.as_str()), (Stage::Active, "key account")); // reason trimmed
/// assert_eq!(o.until, now + Duration::days(30));
/// ```
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

/// The stage a customer is in and what the state machine remembers. Its tombstone
/// transitions ([`Lifecycle::merge_into`], [`Lifecycle::erase`]) and the observed churn
/// ([`Lifecycle::cancel`]) are only allowed from a live stage.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let at = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let live = Lifecycle { stage: Stage::Active, ..Lifecycle::default() };
///
/// let cancelled = live.cancel(at)?;
/// assert_eq!((cancelled.stage, cancelled.cancelled_at), (Stage::Churned, Some(at)));
///
/// let merged = live.merge_into(CustomerId::from_u128(9), at)?;
/// assert_eq!(merged.stage, Stage::Merged { into: CustomerId::from_u128(9) });
/// assert_eq!(merged.since, Some(at));
///
/// let erased = cancelled.erase(at)?;
/// assert_eq!(erased.stage, Stage::Erased);
/// // Tombstones are final.
/// assert!(matches!(erased.cancel(at), Err(DomainError::IllegalTransition { from: "erased", .. })));
/// assert!(merged.erase(at).is_err());
/// assert!(erased.merge_into(CustomerId::from_u128(9), at).is_err());
/// # Ok::<(), DomainError>(())
/// ```
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

fn illegal(from: Stage, to: &'static str, reason: &'static str) -> Error {
    Error::IllegalTransition {
        from: from.as_str(),
        to,
        reason,
    }
}

impl Lifecycle {
    /// An observed churn (contract ended) at `at`: the stage becomes Churned until a later
    /// purchase wins the customer back.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let churned = Lifecycle::default().cancel(now)?;
    /// assert_eq!((churned.stage, churned.cancelled_at), (Stage::Churned, Some(now)));
    /// let erased = Lifecycle::default().erase(now)?;
    /// assert!(matches!(erased.cancel(now), Err(DomainError::IllegalTransition { from: "erased", .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::IllegalTransition`] from Merged or Erased.
    pub fn cancel(&self, at: DateTime<Utc>) -> Result<Lifecycle, Error> {
        if !self.stage.is_live() {
            return Err(illegal(
                self.stage,
                "churned",
                "merged and erased customers are final",
            ));
        }
        Ok(Lifecycle {
            stage: Stage::Churned,
            since: Some(at),
            cancelled_at: Some(at),
            manual: None,
            ..self.clone()
        })
    }

    /// The customer was merged into `into`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let survivor = CustomerId::from_u128(2);
    /// let merged = Lifecycle::default().merge_into(survivor, now)?;
    /// assert_eq!(merged.stage, Stage::Merged { into: survivor });
    /// assert!(merged.merge_into(CustomerId::from_u128(3), now).is_err()); // final
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::IllegalTransition`] from Merged or Erased.
    pub fn merge_into(
        &self,
        into: crate::model::id::CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Lifecycle, Error> {
        if !self.stage.is_live() {
            return Err(illegal(
                self.stage,
                "merged",
                "merged and erased customers are final",
            ));
        }
        Ok(Lifecycle {
            stage: Stage::Merged { into },
            since: Some(at),
            manual: None,
            ..self.clone()
        })
    }

    /// The customer's personal data was erased.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let erased = Lifecycle::default().erase(now)?;
    /// assert_eq!((erased.stage, erased.since), (Stage::Erased, Some(now)));
    /// assert!(erased.erase(now).is_err()); // final
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::IllegalTransition`] from Merged or Erased.
    pub fn erase(&self, at: DateTime<Utc>) -> Result<Lifecycle, Error> {
        if !self.stage.is_live() {
            return Err(illegal(
                self.stage,
                "erased",
                "merged and erased customers are final",
            ));
        }
        Ok(Lifecycle {
            stage: Stage::Erased,
            since: Some(at),
            manual: None,
            ..self.clone()
        })
    }

    /// A `Merged` tombstone erased with the customer it was merged into: erasing a person
    /// reaches every record merged into them ([`crate::privacy::ErasurePlan::with_merged`]).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let tomb = Lifecycle::default().merge_into(CustomerId::from_u128(1), now)?;
    /// assert!(tomb.erase(now).is_err()); // a tombstone is not erased on its own…
    /// assert_eq!(tomb.erase_tombstone(now)?.stage, Stage::Erased); // …but with its survivor
    /// assert!(Lifecycle::default().erase_tombstone(now).is_err());
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::IllegalTransition`] from any stage but Merged.
    pub fn erase_tombstone(&self, at: DateTime<Utc>) -> Result<Lifecycle, Error> {
        if !matches!(self.stage, Stage::Merged { .. }) {
            return Err(illegal(
                self.stage,
                "erased",
                "only a merged tombstone is erased with the customer it was merged into",
            ));
        }
        Ok(Lifecycle {
            stage: Stage::Erased,
            since: Some(at),
            manual: None,
            ..self.clone()
        })
    }

    /// A person sets the stage by hand until `until`, with a reason.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let l = Lifecycle::default()
    ///     .override_stage(Stage::Active, Actor::new("li").unwrap(), "key account", now + Duration::days(30), now)
    ///     .unwrap();
    /// assert_eq!(l.stage, Stage::Active);
    /// assert!(Lifecycle::default().override_stage(Stage::Erased, Actor::new("li").unwrap(), "x", now + Duration::days(1), now).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::IllegalTransition`] from a tombstone or to a non-live stage, or without a
    /// reason or a future expiry.
    pub fn override_stage(
        &self,
        stage: Stage,
        actor: crate::model::id::Actor,
        reason: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Lifecycle, Error> {
        if !self.stage.is_live() {
            return Err(illegal(
                self.stage,
                stage.as_str(),
                "merged and erased customers are final",
            ));
        }
        if !stage.is_live() {
            return Err(illegal(
                self.stage,
                stage.as_str(),
                "an override chooses a live stage",
            ));
        }
        if reason.trim().is_empty() {
            return Err(illegal(
                self.stage,
                stage.as_str(),
                "an override needs a reason",
            ));
        }
        if until <= now {
            return Err(illegal(
                self.stage,
                stage.as_str(),
                "an override needs an expiry after now",
            ));
        }
        Ok(Lifecycle {
            stage,
            since: Some(now),
            manual: Some(StageOverride {
                stage,
                actor,
                reason: reason.trim().to_owned(),
                until,
            }),
            ..self.clone()
        })
    }
}

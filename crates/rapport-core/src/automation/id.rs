//! Deterministic action ids.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decide::sla::SlaKind;
use crate::error::DomainError;
use crate::model::id::{CaseId, CustomerId, MessageId};

use super::rule::RuleId;

/// The id of a scheduled action: derived, never random, from the rule and what triggered it,
/// so the same events give the same ids (a UUID of version 8, "custom", from a 128-bit
/// FNV-1a hash). It is also the id of the outbox message the action sends, so receivers
/// deduplicate a re-sent action on it.
///
/// ```
/// use rapport_core::automation::{ActionId, RuleId};
/// use rapport_core::MessageId;
/// let rule = RuleId::new("cart-reminder")?;
/// let a = ActionId::derive(&rule, MessageId::from_u128(1));
/// assert_eq!(a, ActionId::derive(&rule, MessageId::from_u128(1)));
/// assert_ne!(a, ActionId::derive(&rule, MessageId::from_u128(2)));
/// assert_eq!(a.to_string().as_bytes()[14], b'8'); // UUID version 8
/// # Ok::<(), rapport_core::automation::RuleError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(Uuid);

/// FNV-1a over 128 bits: stable across Rust versions and platforms (unlike std's hasher).
fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in parts {
        for b in *part {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    h
}

impl ActionId {
    /// The action a rule schedules for a trigger message.
    #[must_use]
    pub fn derive(rule: &RuleId, trigger: MessageId) -> Self {
        Self::from_hash(fnv1a_128(&[
            b"event",
            rule.as_str().as_bytes(),
            &trigger.to_bytes(),
        ]))
    }

    /// The action a schedule rule makes for a customer on a (local) day.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rapport_core::automation::{ActionId, RuleId};
    /// use rapport_core::CustomerId;
    /// let rule = RuleId::new("platinum-follow-up")?;
    /// let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    /// let a = ActionId::scheduled(&rule, CustomerId::from_u128(1), day);
    /// assert_ne!(a, ActionId::scheduled(&rule, CustomerId::from_u128(1), day.succ_opt().unwrap()));
    /// # Ok::<(), rapport_core::automation::RuleError>(())
    /// ```
    #[must_use]
    pub fn scheduled(rule: &RuleId, customer: CustomerId, day: NaiveDate) -> Self {
        Self::from_hash(fnv1a_128(&[
            b"schedule",
            rule.as_str().as_bytes(),
            &customer.to_bytes(),
            day.to_string().as_bytes(),
        ]))
    }

    /// The action a rule makes for one breached SLA clock of a case (so a breach found by
    /// many sweeps fires once).
    ///
    /// ```
    /// use rapport_core::automation::{ActionId, RuleId};
    /// use rapport_core::{CaseId, SlaKind};
    /// let rule = RuleId::new("escalate")?;
    /// let a = ActionId::breach(&rule, CaseId::from_u128(1), SlaKind::FirstResponse);
    /// assert_eq!(a, ActionId::breach(&rule, CaseId::from_u128(1), SlaKind::FirstResponse));
    /// assert_ne!(a, ActionId::breach(&rule, CaseId::from_u128(1), SlaKind::Resolution));
    /// # Ok::<(), rapport_core::automation::RuleError>(())
    /// ```
    #[must_use]
    pub fn breach(rule: &RuleId, case: CaseId, clock: SlaKind) -> Self {
        Self::from_hash(fnv1a_128(&[
            b"sla",
            rule.as_str().as_bytes(),
            &case.to_bytes(),
            clock.as_str().as_bytes(),
        ]))
    }

    fn from_hash(h: u128) -> Self {
        let mut bytes = h.to_be_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(Uuid::from_bytes(bytes))
    }

    /// Wraps a UUID (as read back from a store).
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id of the outbox message that sends this action (the same UUID).
    ///
    /// ```
    /// use rapport_core::automation::{ActionId, RuleId};
    /// use rapport_core::MessageId;
    /// let a = ActionId::derive(&RuleId::new("r")?, MessageId::from_u128(1));
    /// assert_eq!(a.message_id().as_uuid(), a.as_uuid());
    /// # Ok::<(), rapport_core::automation::RuleError>(())
    /// ```
    #[must_use]
    pub fn message_id(&self) -> MessageId {
        MessageId::from_uuid(self.0)
    }
}

impl fmt::Debug for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionId({})", self.0)
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for ActionId {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(Self)
            .map_err(|_| DomainError::InvalidId {
                field: "action",
                value: s.to_owned(),
            })
    }
}

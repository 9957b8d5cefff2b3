//! Domain events: what changed, as facts a host can react to. The service writes them as
//! [`OutboxMessage`]s in the same transaction as the change (transactional outbox), and a
//! relay delivers them through the notifier.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::automation::{ActionChannel, ActionId, RuleId};

use crate::model::activity::ActivityType;
use crate::model::consent::{ContactChannel, Purpose};
use crate::model::id::{ActivityId, CustomerId, MessageId, TenantId};
use crate::model::lifecycle::Stage;
use crate::model::tag::{Tag, TagSource};
use crate::model::tier::Tier;

/// Something that happened to a customer.
///
/// ```
/// use rapport_core::{CustomerId, DomainEvent, Tier};
/// let e = DomainEvent::TierChanged { customer: CustomerId::from_u128(1), from: Tier::Iron, to: Tier::Gold };
/// assert_eq!(e.name(), "tier_changed");
/// assert_eq!(e.customer(), CustomerId::from_u128(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum DomainEvent {
    /// A new customer was registered.
    CustomerRegistered {
        /// Who.
        customer: CustomerId,
    },
    /// The profile changed.
    ProfileUpdated {
        /// Who.
        customer: CustomerId,
    },
    /// An activity was recorded.
    ActivityRecorded {
        /// Who.
        customer: CustomerId,
        /// The activity.
        activity: ActivityId,
        /// Its kind.
        kind: ActivityType,
    },
    /// A tag was added.
    TagAdded {
        /// Who.
        customer: CustomerId,
        /// The tag.
        tag: Tag,
        /// Who added it.
        source: TagSource,
    },
    /// A tag was removed (by hand, by its rule, or because it expired).
    TagRemoved {
        /// Who.
        customer: CustomerId,
        /// The tag.
        tag: Tag,
    },
    /// The tier changed.
    TierChanged {
        /// Who.
        customer: CustomerId,
        /// Old tier.
        from: Tier,
        /// New tier.
        to: Tier,
    },
    /// The lifecycle stage changed.
    StageChanged {
        /// Who.
        customer: CustomerId,
        /// Old stage.
        from: Stage,
        /// New stage.
        to: Stage,
    },
    /// Churn risk crossed the policy's alert threshold upwards.
    ChurnRiskRaised {
        /// Who.
        customer: CustomerId,
        /// The new risk in [0, 1].
        risk: f64,
    },
    /// A consent was granted or withdrawn.
    ConsentChanged {
        /// Who.
        customer: CustomerId,
        /// Purpose.
        purpose: Purpose,
        /// Channel.
        channel: ContactChannel,
        /// Granted (true) or withdrawn.
        granted: bool,
    },
    /// A duplicate was merged into a survivor.
    Merged {
        /// The duplicate, now a tombstone.
        customer: CustomerId,
        /// The survivor.
        into: CustomerId,
    },
    /// Personal data was erased.
    Erased {
        /// Who.
        customer: CustomerId,
    },
    /// An automation rule's action passed its guards: the host sends the template on the
    /// channel (or hands the task to a person). The message id is the action id.
    ActionDue {
        /// Who.
        customer: CustomerId,
        /// The action (receivers deduplicate on it).
        action: ActionId,
        /// The rule that scheduled it.
        rule: RuleId,
        /// The host's template id.
        template: String,
        /// Where it goes.
        channel: ActionChannel,
        /// Why.
        purpose: Purpose,
        /// Template parameters from the rule.
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
}

/// Why an event happened, so a rule can tell a stage move caused by a refund from one caused
/// by a purchase or by time passing.
///
/// ```
/// use rapport_core::{ActivityId, ActivityType, EventCause};
/// let c = EventCause::Activity { activity: ActivityId::from_u128(1), kind: ActivityType::Refund };
/// assert_eq!(serde_json::to_value(&c).unwrap()["kind"], "refund");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
#[non_exhaustive]
pub enum EventCause {
    /// Recording this activity.
    Activity {
        /// The activity.
        activity: ActivityId,
        /// Its kind.
        kind: ActivityType,
    },
    /// Time passing (the sweep).
    Time,
}

impl DomainEvent {
    /// The customer the event is about.
    ///
    /// ```
    /// use rapport_core::{CustomerId, DomainEvent};
    /// let e = DomainEvent::Merged { customer: CustomerId::from_u128(3), into: CustomerId::from_u128(2) };
    /// assert_eq!(e.customer(), CustomerId::from_u128(3)); // the duplicate, not the survivor
    /// ```
    #[must_use]
    pub fn customer(&self) -> CustomerId {
        match self {
            DomainEvent::CustomerRegistered { customer }
            | DomainEvent::ProfileUpdated { customer }
            | DomainEvent::ActivityRecorded { customer, .. }
            | DomainEvent::TagAdded { customer, .. }
            | DomainEvent::TagRemoved { customer, .. }
            | DomainEvent::TierChanged { customer, .. }
            | DomainEvent::StageChanged { customer, .. }
            | DomainEvent::ChurnRiskRaised { customer, .. }
            | DomainEvent::ConsentChanged { customer, .. }
            | DomainEvent::Merged { customer, .. }
            | DomainEvent::Erased { customer }
            | DomainEvent::ActionDue { customer, .. } => *customer,
        }
    }

    /// The snake-case event name (its serde tag).
    ///
    /// ```
    /// use rapport_core::{CustomerId, DomainEvent};
    /// let e = DomainEvent::Erased { customer: CustomerId::from_u128(3) };
    /// assert_eq!(e.name(), "erased");
    /// assert_eq!(serde_json::to_value(&e).unwrap()["type"], e.name());
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::CustomerRegistered { .. } => "customer_registered",
            DomainEvent::ProfileUpdated { .. } => "profile_updated",
            DomainEvent::ActivityRecorded { .. } => "activity_recorded",
            DomainEvent::TagAdded { .. } => "tag_added",
            DomainEvent::TagRemoved { .. } => "tag_removed",
            DomainEvent::TierChanged { .. } => "tier_changed",
            DomainEvent::StageChanged { .. } => "stage_changed",
            DomainEvent::ChurnRiskRaised { .. } => "churn_risk_raised",
            DomainEvent::ConsentChanged { .. } => "consent_changed",
            DomainEvent::Merged { .. } => "merged",
            DomainEvent::Erased { .. } => "erased",
            DomainEvent::ActionDue { .. } => "action_due",
        }
    }
}

/// An event waiting in the outbox, with the unique id receivers deduplicate on.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let event = DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(7) };
/// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH, event);
/// assert_eq!(m.attempts, 0); // nothing delivered yet
/// assert_eq!(m.event.name(), "customer_registered");
/// let json = serde_json::to_value(&m).unwrap();
/// assert_eq!(json["event"]["type"], "customer_registered");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Unique id (receivers drop a second delivery with the same id).
    pub id: MessageId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    pub event: DomainEvent,
    /// Delivery attempts so far (0 when written).
    #[serde(default)]
    pub attempts: u32,
    /// What caused the event, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<EventCause>,
}

impl OutboxMessage {
    /// A fresh message for `event`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let event = DomainEvent::ProfileUpdated { customer: CustomerId::from_u128(7) };
    /// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH, event.clone());
    /// assert_eq!((m.attempts, &m.event), (0, &event));
    /// ```
    #[must_use]
    pub fn new(
        id: MessageId,
        tenant: TenantId,
        occurred_at: DateTime<Utc>,
        event: DomainEvent,
    ) -> Self {
        Self {
            id,
            tenant,
            occurred_at,
            event,
            attempts: 0,
            cause: None,
        }
    }

    /// The same message with its cause.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let event = DomainEvent::ProfileUpdated { customer: CustomerId::from_u128(7) };
    /// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH, event)
    ///     .with_cause(Some(EventCause::Time));
    /// assert_eq!(m.cause, Some(EventCause::Time));
    /// ```
    #[must_use]
    pub fn with_cause(mut self, cause: Option<EventCause>) -> Self {
        self.cause = cause;
        self
    }
}

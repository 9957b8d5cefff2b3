//! Rules: trigger, condition, delay, action.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::decide::segment::Segment;
use crate::decide::sla::{SlaBreach, SlaKind};
use crate::event::{DomainEvent, EventCause};
use crate::model::activity::ActivityType;
use crate::model::consent::{ContactChannel, Purpose};
use crate::model::lifecycle::Stage;
use crate::model::tag::Tag;
use crate::model::tier::Tier;

use super::text::DurationText;

/// A rule's name: 1–64 characters of `a-z`, `0-9`, `-`, `_` (it goes into action ids, logs
/// and file names, so it stays plain).
///
/// ```
/// use rapport_core::automation::RuleId;
/// assert_eq!(RuleId::new("vip-welcome")?.as_str(), "vip-welcome");
/// assert!(RuleId::new("VIP welcome").is_err());
/// # Ok::<(), rapport_core::automation::RuleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

impl RuleId {
    /// Checks and wraps a rule name.
    ///
    /// # Errors
    /// [`RuleError::BadId`] for an empty, too long or non-plain name.
    pub fn new(s: impl Into<String>) -> Result<Self, RuleError> {
        let s = s.into();
        let plain = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
        if s.is_empty() || s.len() > 64 || !s.bytes().all(plain) {
            return Err(RuleError::BadId { id: s });
        }
        Ok(Self(s))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleId {
    type Error = RuleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<RuleId> for String {
    fn from(r: RuleId) -> String {
        r.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rule set that cannot be used.
///
/// ```
/// use rapport_core::automation::RuleError;
/// let e = RuleError::Duplicate { id: "welcome".into() };
/// assert_eq!(e.to_string(), "rule `welcome` is defined twice");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A rule name that is not plain.
    #[error("rule id `{id}` must be 1-64 characters of a-z, 0-9, - and _")]
    BadId {
        /// The name.
        id: String,
    },
    /// Two rules with one name.
    #[error("rule `{id}` is defined twice")]
    Duplicate {
        /// The name.
        id: String,
    },
    /// A condition that names a field with the wrong kind of value.
    #[error("rule `{id}`: condition: {reason}")]
    Condition {
        /// The rule.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Another problem with one rule.
    #[error("rule `{id}`: {reason}")]
    Invalid {
        /// The rule.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// Which way a tier moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierDirection {
    /// Up the ladder.
    Up,
    /// Down the ladder.
    Down,
    /// Either way.
    #[default]
    Any,
}

/// What starts a rule.
///
/// ```
/// use rapport_core::automation::Trigger;
/// use rapport_core::ActivityType;
/// let t: Trigger = serde_json::from_str(r#"{"activity": "cart_abandoned"}"#).unwrap();
/// assert_eq!(t, Trigger::Activity(ActivityType::CartAbandoned));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Trigger {
    /// An activity of this kind was recorded.
    Activity(ActivityType),
    /// This tag was added.
    TagAdded(Tag),
    /// This tag was removed.
    TagRemoved(Tag),
    /// The tier moved in `direction`, to one of `to` (any rung when empty).
    TierChanged {
        /// Which way.
        #[serde(default)]
        direction: TierDirection,
        /// The rungs that count.
        #[serde(default)]
        to: Vec<Tier>,
    },
    /// The customer entered this stage.
    StageEntered(Stage),
    /// Churn risk crossed this threshold upwards (the event is the policy's alert).
    ChurnRiskAbove(f64),
    /// Every day at this local time (`HH:MM`), for every live customer the condition holds for.
    Schedule {
        /// Local time of day, `HH:MM`.
        at: String,
    },
    /// A case's SLA clock was breached — `first_response`, `resolution`, or either when
    /// `clock` is absent — found by the sweep's breach detection; once per case and clock.
    SlaBreached {
        /// Which clock (either when absent).
        #[serde(default)]
        clock: Option<SlaKind>,
    },
}

impl Trigger {
    /// Whether `event` fires this trigger (a schedule is fired by the sweep, not by events).
    ///
    /// ```
    /// use rapport_core::automation::{TierDirection, Trigger};
    /// use rapport_core::{CustomerId, DomainEvent, Tier};
    /// let vip = Trigger::TierChanged { direction: TierDirection::Up, to: vec![Tier::Gold, Tier::Platinum] };
    /// let c = CustomerId::from_u128(1);
    /// assert!(vip.fired_by(&DomainEvent::TierChanged { customer: c, from: Tier::Iron, to: Tier::Gold }));
    /// assert!(!vip.fired_by(&DomainEvent::TierChanged { customer: c, from: Tier::Platinum, to: Tier::Gold }));
    /// ```
    #[must_use]
    pub fn fired_by(&self, event: &DomainEvent) -> bool {
        match (self, event) {
            (Trigger::Activity(k), DomainEvent::ActivityRecorded { kind, .. }) => k == kind,
            (Trigger::TagAdded(t), DomainEvent::TagAdded { tag, .. })
            | (Trigger::TagRemoved(t), DomainEvent::TagRemoved { tag, .. }) => t == tag,
            (
                Trigger::TierChanged { direction, to },
                DomainEvent::TierChanged { from, to: new, .. },
            ) => {
                let way = match direction {
                    TierDirection::Up => new > from,
                    TierDirection::Down => new < from,
                    TierDirection::Any => new != from,
                };
                way && (to.is_empty() || to.contains(new))
            }
            (Trigger::StageEntered(s), DomainEvent::StageChanged { from, to, .. }) => {
                s == to && from != to
            }
            (Trigger::ChurnRiskAbove(th), DomainEvent::ChurnRiskRaised { risk, .. }) => risk >= th,
            _ => false,
        }
    }

    /// Whether an SLA breach fires this trigger.
    ///
    /// ```
    /// use chrono::Utc;
    /// use rapport_core::automation::Trigger;
    /// use rapport_core::*;
    /// let b = SlaBreach { case: CaseId::from_u128(1), customer: CustomerId::from_u128(2),
    ///     kind: SlaKind::Resolution, due: chrono::DateTime::UNIX_EPOCH };
    /// assert!(Trigger::SlaBreached { clock: None }.fired_by_breach(&b));
    /// assert!(!Trigger::SlaBreached { clock: Some(SlaKind::FirstResponse) }.fired_by_breach(&b));
    /// ```
    #[must_use]
    pub fn fired_by_breach(&self, breach: &SlaBreach) -> bool {
        matches!(self, Trigger::SlaBreached { clock } if clock.is_none_or(|k| k == breach.kind))
    }

    /// The local time of a schedule trigger.
    #[must_use]
    pub fn schedule_time(&self) -> Option<NaiveTime> {
        match self {
            Trigger::Schedule { at } => NaiveTime::parse_from_str(at, "%H:%M").ok(),
            _ => None,
        }
    }
}

/// Wait before acting; a named activity in the meantime cancels.
///
/// ```
/// use rapport_core::automation::Delay;
/// let d: Delay = serde_json::from_str(r#"{"after": "24h", "cancel_on": ["purchase"]}"#).unwrap();
/// assert_eq!(d.after.get(), chrono::Duration::hours(24));
/// assert!(!d.debounce);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// How long after the trigger.
    pub after: DurationText,
    /// Activities that cancel the waiting action (e.g. a purchase cancels a cart reminder).
    #[serde(default)]
    pub cancel_on: Vec<ActivityType>,
    /// Restart the wait on every new trigger (one action after the last of a burst).
    #[serde(default)]
    pub debounce: bool,
}

/// Where an action goes: a contact channel, or a task for a person in the host's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActionChannel {
    /// Email.
    Email,
    /// Text message.
    Sms,
    /// Phone call.
    Phone,
    /// App push notification.
    Push,
    /// Letter.
    Post,
    /// A task for a person (who to call, why, by when); needs no marketing consent but
    /// respects a withdrawal of contact by phone.
    Task,
}

impl ActionChannel {
    /// The consent channel the action is checked against (a task: phone).
    #[must_use]
    pub fn consent_channel(self) -> ContactChannel {
        match self {
            ActionChannel::Email => ContactChannel::Email,
            ActionChannel::Sms => ContactChannel::Sms,
            ActionChannel::Phone | ActionChannel::Task => ContactChannel::Phone,
            ActionChannel::Push => ContactChannel::Push,
            ActionChannel::Post => ContactChannel::Post,
        }
    }

    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ActionChannel::Email => "email",
            ActionChannel::Sms => "sms",
            ActionChannel::Phone => "phone",
            ActionChannel::Push => "push",
            ActionChannel::Post => "post",
            ActionChannel::Task => "task",
        }
    }
}

/// What a rule does: a message from a template on a channel, for a purpose.
///
/// ```
/// use rapport_core::automation::{Action, ActionChannel};
/// let a: Action = serde_json::from_str(r#"{"template": "win-back", "channel": "email", "purpose": "marketing", "params": {"coupon": "COMEBACK"}}"#).unwrap();
/// assert_eq!((a.channel, a.params["coupon"].as_str()), (ActionChannel::Email, "COMEBACK"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The host's template id.
    pub template: String,
    /// Where it goes.
    pub channel: ActionChannel,
    /// Why (consent and caps are per purpose).
    pub purpose: Purpose,
    /// Parameters for the template (never personal data: the host fills that in).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// One automation rule.
///
/// ```
/// use rapport_core::automation::Rule;
/// let json = r#"{
///   "id": "cart-reminder",
///   "trigger": {"activity": "cart_abandoned"},
///   "condition": "stage != churned",
///   "delay": {"after": "24h", "cancel_on": ["purchase"]},
///   "action": {"template": "cart-reminder", "channel": "email", "purpose": "marketing"}
/// }"#;
/// let rule: Rule = serde_json::from_str(json).unwrap();
/// assert_eq!(rule.condition.unwrap().to_string(), "stage != churned");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its name.
    pub id: RuleId,
    /// What starts it.
    pub trigger: Trigger,
    /// A segment predicate that must hold when the action is due (text form in files).
    #[serde(
        default,
        with = "condition_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub condition: Option<Segment>,
    /// An optional wait, cancelled by named activities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    /// What it does.
    pub action: Action,
    /// Ignore trigger events caused by these activities (e.g. `["refund"]`: a refund that
    /// moves a customer back to New does not send a second welcome).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless_caused_by: Vec<ActivityType>,
    /// This rule's cooldown per customer, instead of the policy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<DurationText>,
}

mod condition_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::decide::segment::Segment;

    pub(super) fn serialize<S: Serializer>(c: &Option<Segment>, s: S) -> Result<S::Ok, S::Error> {
        match c {
            Some(seg) => s.serialize_str(&seg.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Segment>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| Segment::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Rule {
    /// Whether an outbox message fires this rule: its trigger matches the event, and the
    /// event was not caused by an activity the rule ignores.
    #[must_use]
    pub fn fired_by(&self, event: &DomainEvent, cause: Option<&EventCause>) -> bool {
        if let Some(EventCause::Activity { kind, .. }) = cause {
            if self.unless_caused_by.contains(kind) {
                return false;
            }
        }
        self.trigger.fired_by(event)
    }

    /// Checks one rule.
    ///
    /// # Errors
    /// [`RuleError::Condition`] for a condition comparing a field with the wrong kind of value;
    /// [`RuleError::Invalid`] for a churn threshold outside [0, 1], a schedule time that is
    /// not `HH:MM`, an empty template, or a delay on a schedule rule.
    pub fn check(&self) -> Result<(), RuleError> {
        let invalid = |reason: &str| RuleError::Invalid {
            id: self.id.to_string(),
            reason: reason.to_owned(),
        };
        if let Some(c) = &self.condition {
            c.check().map_err(|e| RuleError::Condition {
                id: self.id.to_string(),
                reason: e.to_string(),
            })?;
        }
        match &self.trigger {
            Trigger::ChurnRiskAbove(th) if !(0.0..=1.0).contains(th) => {
                return Err(invalid("churn risk threshold must be in [0, 1]"));
            }
            Trigger::Schedule { .. } if self.trigger.schedule_time().is_none() => {
                return Err(invalid("schedule time must be HH:MM"));
            }
            Trigger::Schedule { .. } if self.delay.is_some() => {
                return Err(invalid("a schedule rule takes no delay"));
            }
            _ => {}
        }
        if self.action.template.trim().is_empty() {
            return Err(invalid("action template is empty"));
        }
        Ok(())
    }

    /// A one-line explanation for `rapport rules check`.
    ///
    /// ```
    /// use rapport_core::automation::Rule;
    /// let rule: Rule = serde_json::from_str(r#"{"id": "win-back", "trigger": {"stage_entered": "silent"},
    ///   "action": {"template": "win-back", "channel": "email", "purpose": "marketing"}}"#).unwrap();
    /// assert_eq!(rule.explain(), "win-back: when the stage becomes silent, send win-back by email (marketing)");
    /// ```
    #[must_use]
    pub fn explain(&self) -> String {
        let when = match &self.trigger {
            Trigger::Activity(k) => format!("when a {} is recorded", k.as_str()),
            Trigger::TagAdded(t) => format!("when tag {t} is added"),
            Trigger::TagRemoved(t) => format!("when tag {t} is removed"),
            Trigger::TierChanged { direction, to } => {
                let way = match direction {
                    TierDirection::Up => "moves up",
                    TierDirection::Down => "moves down",
                    TierDirection::Any => "changes",
                };
                if to.is_empty() {
                    format!("when the tier {way}")
                } else {
                    let rungs: Vec<&str> = to.iter().map(|t| t.as_str()).collect();
                    format!("when the tier {way} to {}", rungs.join(" or "))
                }
            }
            Trigger::StageEntered(s) => format!("when the stage becomes {}", stage_name(*s)),
            Trigger::ChurnRiskAbove(th) => format!("when churn risk rises above {th}"),
            Trigger::Schedule { at } => format!("every day at {at}"),
            Trigger::SlaBreached { clock } => format!(
                "when a case's {} SLA is breached",
                clock.map_or("first-response or resolution", |k| match k {
                    SlaKind::FirstResponse => "first-response",
                    SlaKind::Resolution => "resolution",
                })
            ),
        };
        let mut out = format!("{}: {when}", self.id);
        if !self.unless_caused_by.is_empty() {
            let kinds: Vec<&str> = self.unless_caused_by.iter().map(|k| k.as_str()).collect();
            out.push_str(&format!(" (unless caused by a {})", kinds.join(" or ")));
        }
        if let Some(c) = &self.condition {
            out.push_str(&format!(", if {c}"));
        }
        if let Some(d) = &self.delay {
            out.push_str(&format!(", after {}", d.after));
            if !d.cancel_on.is_empty() {
                let kinds: Vec<&str> = d.cancel_on.iter().map(|k| k.as_str()).collect();
                out.push_str(&format!(" unless a {} comes first", kinds.join(" or ")));
            }
            if d.debounce {
                out.push_str(" (restarted by each new trigger)");
            }
        }
        out.push_str(&format!(
            ", send {} by {} ({})",
            self.action.template,
            self.action.channel.as_str(),
            purpose_name(self.action.purpose)
        ));
        out
    }
}

fn stage_name(s: Stage) -> &'static str {
    crate::decide::segment::StageName::of(s).as_str()
}

fn purpose_name(p: Purpose) -> &'static str {
    p.as_str()
}

/// Checked rules with unique names.
///
/// ```
/// use rapport_core::automation::{Rule, RuleError, RuleSet};
/// let rule: Rule = serde_json::from_str(r#"{"id": "a", "trigger": {"activity": "visit"},
///   "action": {"template": "t", "channel": "email", "purpose": "marketing"}}"#).unwrap();
/// assert!(RuleSet::new(vec![rule.clone()]).is_ok());
/// assert_eq!(RuleSet::new(vec![rule.clone(), rule]).unwrap_err(), RuleError::Duplicate { id: "a".into() });
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Checks every rule and that names are unique.
    ///
    /// # Errors
    /// The first [`RuleError`].
    pub fn new(rules: Vec<Rule>) -> Result<Self, RuleError> {
        let mut seen = BTreeSet::new();
        for r in &rules {
            r.check()?;
            if !seen.insert(r.id.clone()) {
                return Err(RuleError::Duplicate {
                    id: r.id.to_string(),
                });
            }
        }
        Ok(Self { rules })
    }

    /// The rules, in file order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule named `id`.
    #[must_use]
    pub fn get(&self, id: &RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| &r.id == id)
    }

    /// True when a rule's condition tests account roles (`has_account_role(...)`): checking
    /// it then needs the roles the customer holds over its active account links
    /// ([`SegmentContext::with_account_roles`](crate::SegmentContext::with_account_roles)),
    /// which the service reads only in that case.
    ///
    /// ```
    /// use rapport_core::automation::RuleSet;
    /// let rule = |condition: &str| serde_json::from_value(serde_json::json!({"id": "dm-call",
    ///     "trigger": {"activity": "purchase"}, "condition": condition,
    ///     "action": {"template": "call", "channel": "email", "purpose": "service"}})).unwrap();
    /// assert!(RuleSet::new(vec![rule(r#"has_account_role("decision_maker")"#)])?.uses_account_roles());
    /// assert!(!RuleSet::new(vec![rule("orders >= 1")])?.uses_account_roles());
    /// # Ok::<(), rapport_core::automation::RuleError>(())
    /// ```
    #[must_use]
    pub fn uses_account_roles(&self) -> bool {
        self.rules.iter().any(|r| {
            r.condition
                .as_ref()
                .is_some_and(Segment::uses_account_roles)
        })
    }

    /// Whether there are no rules.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

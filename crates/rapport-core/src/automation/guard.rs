//! The guards at send time, in DOMAIN.md's order, and the action log.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::segment::SegmentContext;
use crate::event::{DomainEvent, OutboxMessage};
use crate::model::consent::Purpose;
use crate::model::customer::Customer;
use crate::model::id::{CustomerId, MessageId, TenantId};
use crate::ports::ConsentSource;

use super::id::ActionId;
use super::plan::{CancelReason, ScheduledAction};
use super::rule::{ActionChannel, Rule, RuleId};

/// Quiet hours in the tenant's local time: `[start, end)`, wrapping past midnight when
/// `start > end` (e.g. 21:00–08:00).
///
/// ```
/// use chrono::NaiveTime;
/// use rapport_core::automation::QuietHours;
/// let q = QuietHours::new(NaiveTime::from_hms_opt(21, 0, 0).unwrap(), NaiveTime::from_hms_opt(8, 0, 0).unwrap());
/// assert!(q.contains(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
/// assert!(!q.contains(NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// First quiet minute.
    pub start: NaiveTime,
    /// First minute after them.
    pub end: NaiveTime,
}

impl QuietHours {
    /// Quiet from `start` to `end`.
    #[must_use]
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }

    /// Whether a local time is quiet.
    #[must_use]
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// The guards' settings (DOMAIN.md's defaults: cooldown 7 d, at most 3 marketing actions per
/// customer and channel in a rolling 7 d, no quiet hours, UTC). `caps` overrides the cap for
/// some channels (e.g. one SMS a week).
///
/// ```
/// use rapport_core::automation::{ActionChannel, AutomationPolicy};
/// let mut p = AutomationPolicy::default();
/// assert_eq!((p.cooldown.num_days(), p.cap, p.cap_window.num_days()), (7, 3, 7));
/// p.caps.insert(ActionChannel::Sms, 1);
/// assert_eq!((p.cap_for(ActionChannel::Sms), p.cap_for(ActionChannel::Email)), (1, 3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationPolicy {
    /// Per (customer, rule): no second sent action within this time.
    pub cooldown: Duration,
    /// Per (customer, channel), marketing purposes only: at most this many sent actions...
    pub cap: u32,
    /// ...in this rolling window.
    pub cap_window: Duration,
    /// Caps for some channels instead of `cap`.
    pub caps: BTreeMap<ActionChannel, u32>,
    /// Actions due in quiet hours wait until their end.
    pub quiet_hours: Option<QuietHours>,
    /// The tenant's time zone (quiet hours and schedules are local times in it; a named zone
    /// follows daylight saving).
    pub zone: crate::TenantZone,
}

impl AutomationPolicy {
    /// The marketing cap on `channel`: its entry in `caps`, else `cap`.
    #[must_use]
    pub fn cap_for(&self, channel: ActionChannel) -> u32 {
        self.caps.get(&channel).copied().unwrap_or(self.cap)
    }
}

impl Default for AutomationPolicy {
    fn default() -> Self {
        Self {
            cooldown: Duration::days(7),
            cap: 3,
            cap_window: Duration::days(7),
            caps: BTreeMap::new(),
            quiet_hours: None,
            zone: crate::TenantZone::Utc,
        }
    }
}

/// The guard that stopped an action (the first one, in order), or why it was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum SuppressReason {
    /// The customer was merged or erased.
    NotLive,
    /// The rule's condition no longer held when the action was due.
    ConditionFailed,
    /// No consent for the purpose on the channel (for a task: contact by phone withdrawn).
    NoConsent,
    /// The rule already sent to this customer within its cooldown.
    Cooldown {
        /// When it last sent.
        last_sent: DateTime<Utc>,
    },
    /// The customer's marketing cap on the channel was reached.
    Cap {
        /// Sent in the window.
        sent: u32,
        /// The cap.
        cap: u32,
    },
    /// Cancelled before it was due.
    Cancelled {
        /// Why.
        by: CancelReason,
    },
    /// Its rule is no longer configured.
    RuleRemoved,
}

impl SuppressReason {
    /// A short label for tables and logs (`no_consent`, `cooldown`, …).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            SuppressReason::NotLive => "not_live",
            SuppressReason::ConditionFailed => "condition_failed",
            SuppressReason::NoConsent => "no_consent",
            SuppressReason::Cooldown { .. } => "cooldown",
            SuppressReason::Cap { .. } => "cap",
            SuppressReason::Cancelled {
                by: CancelReason::Superseded,
            } => "superseded",
            SuppressReason::Cancelled { .. } => "cancelled",
            SuppressReason::RuleRemoved => "rule_removed",
        }
    }
}

/// What the guards decided for a due action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it now.
    Send,
    /// Drop it, recording why.
    Suppress(SuppressReason),
    /// Quiet hours: due again at this time.
    Defer(DateTime<Utc>),
}

/// What became of an action.
///
/// ```
/// use rapport_core::automation::ActionOutcome;
/// let dead = ActionOutcome::DeadLettered { reason: "endpoint refused it with status 422".into() };
/// assert_eq!(serde_json::to_value(&dead)?["outcome"], "dead_lettered");
/// assert_eq!(dead.label(), "dead_lettered");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[non_exhaustive]
pub enum ActionOutcome {
    /// Written to the outbox for the notifier.
    Sent,
    /// Stopped by a guard or cancelled.
    Suppressed {
        /// Why.
        #[serde(flatten)]
        reason: SuppressReason,
    },
    /// It was sent, and its notifier gave up on it (a dead letter: the receiver refused it
    /// for good, e.g. a webhook's 4xx or 410). A re-drive sends it again.
    DeadLettered {
        /// The notifier's reason (a status, never a personal value).
        reason: String,
    },
}

impl ActionOutcome {
    /// A short label: `sent`, `suppressed`, `dead_lettered` (the `outcome` of the JSON form).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ActionOutcome::Sent => "sent",
            ActionOutcome::Suppressed { .. } => "suppressed",
            ActionOutcome::DeadLettered { .. } => "dead_lettered",
        }
    }
}

/// One line of the action log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action.
    pub id: ActionId,
    /// The tenant.
    pub tenant: TenantId,
    /// Who.
    pub customer: CustomerId,
    /// The rule.
    pub rule: RuleId,
    /// What triggered it.
    pub trigger: MessageId,
    /// Its channel (from the rule when decided).
    pub channel: ActionChannel,
    /// Its purpose.
    pub purpose: Purpose,
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// What became of it.
    pub outcome: ActionOutcome,
}

impl ActionRecord {
    /// The log line for `action` decided at `at`.
    #[must_use]
    pub fn new(
        action: &ScheduledAction,
        rule: &Rule,
        at: DateTime<Utc>,
        outcome: ActionOutcome,
    ) -> Self {
        Self {
            id: action.id,
            tenant: action.tenant,
            customer: action.customer,
            rule: action.rule.clone(),
            trigger: action.trigger,
            channel: rule.action.channel,
            purpose: rule.action.purpose,
            at,
            outcome,
        }
    }

    /// Whether the action was sent (and not dead-lettered since).
    #[must_use]
    pub fn is_sent(&self) -> bool {
        self.outcome == ActionOutcome::Sent
    }

    /// Whether the notifier dead-lettered the action.
    #[must_use]
    pub fn is_dead_lettered(&self) -> bool {
        matches!(self.outcome, ActionOutcome::DeadLettered { .. })
    }

    /// The outbox message that sends this logged action again (a re-drive): the same message
    /// id, time and event as when it was sent, with `rule`'s template, channel, purpose and
    /// parameters.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::automation::*;
    /// use rapport_core::*;
    /// let rule: Rule = serde_json::from_str(r#"{"id": "win-back", "trigger": {"stage_entered": "silent"},
    ///   "action": {"template": "win-back", "channel": "email", "purpose": "marketing"}}"#)?;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    /// let trigger = MessageId::from_u128(1);
    /// let action = ScheduledAction { id: ActionId::derive(&rule.id, trigger), tenant: TenantId::from_u128(1),
    ///     customer: CustomerId::from_u128(2), rule: rule.id.clone(), trigger, triggered_at: now, due: now };
    /// let line = ActionRecord::new(&action, &rule, now, ActionOutcome::Sent);
    /// assert_eq!(line.resend_message(&rule), ActionRecord::message(&action, &rule, now));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn resend_message(&self, rule: &Rule) -> OutboxMessage {
        action_due(self.id, self.tenant, self.customer, rule, self.at)
    }

    /// The outbox message that sends it (id = action id; cause: none).
    #[must_use]
    pub fn message(action: &ScheduledAction, rule: &Rule, at: DateTime<Utc>) -> OutboxMessage {
        action_due(action.id, action.tenant, action.customer, rule, at)
    }
}

/// The [`DomainEvent::ActionDue`] message of an action (id = the action id).
fn action_due(
    id: ActionId,
    tenant: TenantId,
    customer: CustomerId,
    rule: &Rule,
    at: DateTime<Utc>,
) -> OutboxMessage {
    let params: BTreeMap<String, String> = rule.action.params.clone();
    OutboxMessage::new(
        id.message_id(),
        tenant,
        at,
        DomainEvent::ActionDue {
            customer,
            action: id,
            rule: rule.id.clone(),
            template: rule.action.template.clone(),
            channel: rule.action.channel,
            purpose: rule.action.purpose,
            params,
        },
    )
}

/// The guards for a due action, in order: live → condition (checked again now) → consent →
/// cooldown → marketing cap → quiet hours. `sent` is the customer's log of sent actions (at
/// least the last `max(cooldown, cap_window)`); `ctx` is the segment context of the customer
/// at `now`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::automation::*;
/// use rapport_core::ports::CustomerConsents;
/// use rapport_core::*;
///
/// let rule: Rule = serde_json::from_str(r#"{"id": "win-back", "trigger": {"stage_entered": "silent"},
///   "action": {"template": "win-back", "channel": "email", "purpose": "marketing"}}"#).unwrap();
/// let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let mut ann = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let stats = Stats::default();
/// let action = ScheduledAction { id: ActionId::derive(&rule.id, MessageId::from_u128(1)), tenant: ann.tenant(),
///     customer: ann.id(), rule: rule.id.clone(), trigger: MessageId::from_u128(1), triggered_at: now, due: now };
/// let policy = AutomationPolicy::default();
/// let v = decide_due(&action, &rule, &SegmentContext::new(&ann, &stats, now), &CustomerConsents, &[], &policy, now);
/// assert_eq!(v, Verdict::Suppress(SuppressReason::NoConsent));
/// ann.consents.set(Purpose::Marketing, ContactChannel::Email, true, now, "signup");
/// let v = decide_due(&action, &rule, &SegmentContext::new(&ann, &stats, now), &CustomerConsents, &[], &policy, now);
/// assert_eq!(v, Verdict::Send);
/// ```
#[must_use]
pub fn decide_due(
    action: &ScheduledAction,
    rule: &Rule,
    ctx: &SegmentContext<'_>,
    consents: &impl ConsentSource,
    sent: &[ActionRecord],
    policy: &AutomationPolicy,
    now: DateTime<Utc>,
) -> Verdict {
    let customer: &Customer = ctx.customer;
    if !customer.is_live() {
        return Verdict::Suppress(SuppressReason::NotLive);
    }
    if rule.condition.as_ref().is_some_and(|c| !c.matches(ctx)) {
        return Verdict::Suppress(SuppressReason::ConditionFailed);
    }
    let channel = rule.action.channel;
    let allowed = if channel == ActionChannel::Task {
        // A task for a person needs no marketing consent; only a withdrawal of contact by
        // phone for the purpose stops it.
        !consents.withdrawn(customer, rule.action.purpose, channel.consent_channel())
    } else {
        consents.allows(customer, rule.action.purpose, channel.consent_channel())
    };
    if !allowed {
        return Verdict::Suppress(SuppressReason::NoConsent);
    }
    let mine = sent
        .iter()
        .filter(|r| r.is_sent() && r.customer == action.customer && r.tenant == action.tenant);
    let cooldown = rule.cooldown.map_or(policy.cooldown, |c| c.get());
    if let Some(last) = mine
        .clone()
        .filter(|r| r.rule == action.rule && r.id != action.id)
        .map(|r| r.at)
        .max()
    {
        if now < last + cooldown {
            return Verdict::Suppress(SuppressReason::Cooldown { last_sent: last });
        }
    }
    if rule.action.purpose == Purpose::Marketing && channel != ActionChannel::Task {
        let since = now - policy.cap_window;
        let count = mine
            .filter(|r| r.channel == channel && r.purpose == Purpose::Marketing && r.at > since)
            .count();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let cap = policy.cap_for(channel);
        if count >= cap {
            return Verdict::Suppress(SuppressReason::Cap { sent: count, cap });
        }
    }
    if let Some(q) = policy.quiet_hours {
        let local = policy.zone.to_local(now);
        if q.contains(local.time()) {
            let mut end = local.date().and_time(q.end);
            if end <= local {
                end += Duration::days(1);
            }
            // The end's own offset: quiet hours spanning a daylight-saving switch end at
            // their local end time, not a fixed number of hours later.
            return Verdict::Defer(policy.zone.to_utc(end).max(now));
        }
    }
    Verdict::Send
}

//! From events to scheduled actions: which to schedule, which pending ones to cancel.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::sla::SlaBreach;
use crate::event::{DomainEvent, OutboxMessage};
use crate::model::activity::ActivityType;
use crate::model::id::{CustomerId, MessageId, TenantId};

use super::id::ActionId;
use super::rule::{Rule, RuleId, RuleSet};

/// An action waiting until `due`.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::automation::{ActionId, RuleId, ScheduledAction};
/// use rapport_core::{CustomerId, MessageId, TenantId};
/// let rule = RuleId::new("r")?;
/// let a = ScheduledAction {
///     id: ActionId::derive(&rule, MessageId::from_u128(9)),
///     tenant: TenantId::from_u128(1), customer: CustomerId::from_u128(2), rule,
///     trigger: MessageId::from_u128(9), triggered_at: DateTime::UNIX_EPOCH, due: DateTime::UNIX_EPOCH,
/// };
/// assert!(a.is_due(DateTime::UNIX_EPOCH));
/// # Ok::<(), rapport_core::automation::RuleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledAction {
    /// Derived from the rule and the trigger.
    pub id: ActionId,
    /// The tenant.
    pub tenant: TenantId,
    /// Who.
    pub customer: CustomerId,
    /// The rule.
    pub rule: RuleId,
    /// The outbox message that triggered it (for a schedule rule: a derived id).
    pub trigger: MessageId,
    /// When the trigger happened.
    pub triggered_at: DateTime<Utc>,
    /// When it is due (later when deferred by quiet hours).
    pub due: DateTime<Utc>,
}

impl ScheduledAction {
    /// Whether it is due at `now`.
    #[must_use]
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.due <= now
    }
}

/// Why a pending action was cancelled before it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
#[non_exhaustive]
pub enum CancelReason {
    /// An activity the rule's delay names came first (a purchase cancels a cart reminder).
    Activity {
        /// Its kind.
        kind: ActivityType,
    },
    /// A new trigger restarted the wait (debounce).
    Superseded,
}

/// A pending action cancelled by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// The action.
    pub action: ScheduledAction,
    /// Why.
    pub reason: CancelReason,
}

/// What one event does to the automation state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Plan {
    /// New actions to store.
    pub schedule: Vec<ScheduledAction>,
    /// Pending actions to drop (recorded in the log with the reason).
    pub cancel: Vec<Cancelled>,
}

impl Plan {
    /// Whether the event changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.schedule.is_empty() && self.cancel.is_empty()
    }
}

/// The plan for one outbox message, given the customer's pending actions: cancellations by
/// the event's activity kind first, then the rules it fires. A rule with a pending action for
/// the customer schedules nothing more, unless it debounces (then the old one is superseded).
/// An [`DomainEvent::ActionDue`] never triggers rules (no loops).
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::automation::*;
/// use rapport_core::*;
///
/// let rules = RuleSet::new(vec![serde_json::from_str(r#"{"id": "cart-reminder",
///   "trigger": {"activity": "cart_abandoned"},
///   "delay": {"after": "24h", "cancel_on": ["purchase"]},
///   "action": {"template": "cart", "channel": "email", "purpose": "marketing"}}"#).unwrap()]).unwrap();
/// let (t, c) = (TenantId::from_u128(1), CustomerId::from_u128(2));
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
/// let event = |id, kind| OutboxMessage::new(MessageId::from_u128(id), t, at,
///     DomainEvent::ActivityRecorded { customer: c, activity: ActivityId::from_u128(id), kind });
///
/// let p = plan(&rules, &event(1, ActivityType::CartAbandoned), &[]);
/// assert_eq!(p.schedule[0].due, at + Duration::hours(24));
/// let p2 = plan(&rules, &event(2, ActivityType::Purchase), &p.schedule);
/// assert_eq!(p2.cancel[0].reason, CancelReason::Activity { kind: ActivityType::Purchase });
/// ```
pub fn plan(rules: &RuleSet, msg: &OutboxMessage, pending: &[ScheduledAction]) -> Plan {
    let mut out = Plan::default();
    if matches!(msg.event, DomainEvent::ActionDue { .. }) {
        return out;
    }
    let customer = msg.event.customer();
    let mine = |a: &&ScheduledAction| a.customer == customer && a.tenant == msg.tenant;
    if let DomainEvent::ActivityRecorded { kind, .. } = &msg.event {
        for a in pending.iter().filter(mine) {
            let cancels = rules
                .get(&a.rule)
                .and_then(|r| r.delay.as_ref())
                .is_some_and(|d| d.cancel_on.contains(kind));
            if cancels && a.triggered_at <= msg.occurred_at {
                out.cancel.push(Cancelled {
                    action: a.clone(),
                    reason: CancelReason::Activity { kind: *kind },
                });
            }
        }
    }
    for rule in rules.rules() {
        if !rule.fired_by(&msg.event, msg.cause.as_ref()) {
            continue;
        }
        let waiting: Vec<&ScheduledAction> = pending
            .iter()
            .filter(mine)
            .filter(|a| a.rule == rule.id)
            .filter(|a| !out.cancel.iter().any(|c| c.action.id == a.id))
            .collect();
        let debounce = rule.delay.as_ref().is_some_and(|d| d.debounce);
        if !waiting.is_empty() {
            if !debounce {
                continue;
            }
            for a in waiting {
                out.cancel.push(Cancelled {
                    action: a.clone(),
                    reason: CancelReason::Superseded,
                });
            }
        }
        out.schedule.push(scheduled(rule, msg, customer));
    }
    out
}

fn scheduled(rule: &Rule, msg: &OutboxMessage, customer: CustomerId) -> ScheduledAction {
    let wait = rule
        .delay
        .as_ref()
        .map_or(Duration::zero(), |d| d.after.get());
    ScheduledAction {
        id: ActionId::derive(&rule.id, msg.id),
        tenant: msg.tenant,
        customer,
        rule: rule.id.clone(),
        trigger: msg.id,
        triggered_at: msg.occurred_at,
        due: msg
            .occurred_at
            .checked_add_signed(wait)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    }
}

/// The latest occurrence of a schedule rule at or before `now` (in local time in `zone`,
/// daylight saving included): its local day and the UTC instant. `None` for a rule that is not
/// a schedule.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::automation::{Rule, schedule_occurrence};
/// let rule: Rule = serde_json::from_str(r#"{"id": "follow-up", "trigger": {"schedule": {"at": "09:00"}},
///   "action": {"template": "call", "channel": "task", "purpose": "transactional"}}"#).unwrap();
/// // 08:30 in UTC+8 on 2 March is before 09:00: the latest run was on 1 March.
/// let now = Utc.with_ymd_and_hms(2026, 3, 2, 0, 30, 0).unwrap();
/// let zone: rapport_core::TenantZone = "+08:00".parse().unwrap();
/// let (day, at) = schedule_occurrence(&rule, now, &zone).unwrap();
/// assert_eq!(day, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
/// assert_eq!(at, Utc.with_ymd_and_hms(2026, 3, 1, 1, 0, 0).unwrap());
/// ```
#[must_use]
pub fn schedule_occurrence(
    rule: &Rule,
    now: DateTime<Utc>,
    zone: &crate::TenantZone,
) -> Option<(NaiveDate, DateTime<Utc>)> {
    let time = rule.trigger.schedule_time()?;
    let local = zone.to_local(now);
    let mut day = local.date();
    if local.time() < time {
        day = day.pred_opt()?;
    }
    let at = zone.to_utc(day.and_time(time));
    Some((day, at))
}

impl ScheduledAction {
    /// The action `rule` makes for a breached SLA clock: triggered at the breach, due then
    /// (plus the rule's delay), its id from the rule, the case and the clock.
    ///
    /// ```
    /// use chrono::Utc;
    /// use rapport_core::automation::{ActionId, Rule, ScheduledAction};
    /// use rapport_core::*;
    /// let rule: Rule = serde_json::from_str(r#"{"id": "escalate", "trigger": {"sla_breached": {"clock": "first_response"}},
    ///   "action": {"template": "call-back", "channel": "task", "purpose": "transactional"}}"#).unwrap();
    /// let b = SlaBreach { case: CaseId::from_u128(1), customer: CustomerId::from_u128(2),
    ///     kind: SlaKind::FirstResponse, due: chrono::DateTime::UNIX_EPOCH };
    /// let a = ScheduledAction::for_breach(&rule, TenantId::from_u128(1), &b);
    /// assert_eq!((a.id, a.customer, a.due), (ActionId::breach(&rule.id, b.case, b.kind), b.customer, b.due));
    /// ```
    #[must_use]
    pub fn for_breach(rule: &Rule, tenant: TenantId, breach: &SlaBreach) -> Self {
        let id = ActionId::breach(&rule.id, breach.case, breach.kind);
        let delay = rule
            .delay
            .as_ref()
            .map_or(Duration::zero(), |d| d.after.get());
        Self {
            id,
            tenant,
            customer: breach.customer,
            rule: rule.id.clone(),
            trigger: id.message_id(),
            triggered_at: breach.due,
            due: breach.due.checked_add_signed(delay).unwrap_or(breach.due),
        }
    }

    /// The action a schedule rule makes for `customer` on local `day`, due `at` (see
    /// [`schedule_occurrence`]); its trigger id is its own id (no event triggered it).
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use rapport_core::automation::{ActionId, RuleId, ScheduledAction};
    /// use rapport_core::{CustomerId, TenantId};
    /// let rule = RuleId::new("follow-up")?;
    /// let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    /// let a = ScheduledAction::for_schedule(&rule, TenantId::from_u128(1), CustomerId::from_u128(2), day, at);
    /// assert_eq!(a.id, ActionId::scheduled(&rule, CustomerId::from_u128(2), day));
    /// # Ok::<(), rapport_core::automation::RuleError>(())
    /// ```
    #[must_use]
    pub fn for_schedule(
        rule: &RuleId,
        tenant: TenantId,
        customer: CustomerId,
        day: NaiveDate,
        at: DateTime<Utc>,
    ) -> Self {
        let id = ActionId::scheduled(rule, customer, day);
        Self {
            id,
            tenant,
            customer,
            rule: rule.clone(),
            trigger: id.message_id(),
            triggered_at: at,
            due: at,
        }
    }
}

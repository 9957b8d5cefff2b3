//! Automation: rules that act on what happens to a customer, guarded at send time.
//!
//! A [`Rule`] is a trigger (an activity, a tag, a tier or stage move, churn risk, a daily
//! schedule), an optional condition (a [`Segment`](crate::Segment) checked again when the
//! action is due), an optional delay that a named activity cancels (with debounce), and an
//! action (template, channel, purpose, parameters).
//!
//! The pure steps, each a function of its inputs (the service and the stores do the IO):
//! 1. [`plan`]: an outbox message (a domain event with its cause) and the customer's pending
//!    actions give the actions to schedule and the pending ones to cancel. Action ids are
//!    derived from the rule and the trigger ([`ActionId::derive`]), so a replay gives the same
//!    ids and a store can ignore a second scheduling.
//! 2. [`decide_due`]: when an action is due, the guards in order — the customer is live, the
//!    condition still holds, consent for (purpose, channel), the per-(customer, rule) cooldown,
//!    the per-(customer, channel) cap for marketing, quiet hours (deferred, not dropped) —
//!    give [`Verdict::Send`], [`Verdict::Suppress`] with the first guard that stopped it, or
//!    [`Verdict::Defer`].
//! 3. A sent action becomes a [`DomainEvent::ActionDue`](crate::DomainEvent::ActionDue)
//!    outbox message whose id is the action id (receivers deduplicate on it), and every
//!    outcome an [`ActionRecord`] in the action log.

mod guard;
mod id;
mod plan;
mod rule;
mod text;

pub use guard::{
    ActionOutcome, ActionRecord, AutomationPolicy, QuietHours, SuppressReason, Verdict, decide_due,
};
pub use id::ActionId;
pub use plan::{CancelReason, Cancelled, Plan, ScheduledAction, plan, schedule_occurrence};
pub use rule::{
    Action, ActionChannel, Delay, Rule, RuleError, RuleId, RuleSet, TierDirection, Trigger,
};
pub use text::DurationText;

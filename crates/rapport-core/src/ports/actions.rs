//! The automation port: scheduled actions and the action log.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::automation::{ActionId, ActionRecord, ScheduledAction};
use crate::event::OutboxMessage;
use crate::model::id::{CustomerId, TenantId};
use crate::ports::StoreError;

/// One atomic write of automation state: new scheduled actions, deferrals, decided actions
/// (their log lines; each removes the scheduled action of its id), the outbox messages of
/// the sent ones, dead letters, and re-drives.
///
/// ```
/// use rapport_core::ports::DueActions;
/// assert!(DueActions::default().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DueActions {
    /// Actions to schedule. One whose id is already scheduled or in the log is skipped, so a
    /// replayed event schedules nothing twice.
    pub schedule: Vec<ScheduledAction>,
    /// Scheduled actions due again later (quiet hours).
    pub defer: Vec<(ActionId, DateTime<Utc>)>,
    /// Decided or cancelled actions: the log lines (a second line for an id is ignored).
    pub log: Vec<ActionRecord>,
    /// The sent actions' outbox messages (id = action id; a second one is ignored).
    pub outbox: Vec<OutboxMessage>,
    /// Sent actions their notifier dead-lettered, with the reason: each `sent` log line
    /// becomes [`ActionOutcome::DeadLettered`](crate::automation::ActionOutcome::DeadLettered)
    /// (its time unchanged). A line in another state, or none, is left alone.
    pub dead_letters: Vec<(ActionId, String)>,
    /// Dead-lettered actions to send again: [`DomainEvent::ActionDue`](crate::DomainEvent::ActionDue)
    /// messages (id = action id, see [`ActionRecord::resend_message`]). Each dead-lettered line
    /// goes back to `sent` and its message is written to the outbox again, so receivers see the
    /// same `webhook-id`. A message whose action is not dead-lettered is ignored.
    pub redrive: Vec<OutboxMessage>,
}

impl DueActions {
    /// Whether there is nothing to write.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.schedule.is_empty()
            && self.defer.is_empty()
            && self.log.is_empty()
            && self.outbox.is_empty()
            && self.dead_letters.is_empty()
            && self.redrive.is_empty()
    }
}

/// What [`ActionStore::write_actions`] wrote.
///
/// ```
/// let w = rapport_core::ports::ActionLog::default();
/// assert_eq!((w.scheduled, w.skipped, w.logged, w.dead_lettered, w.redriven), (0, 0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionLog {
    /// New scheduled actions.
    pub scheduled: usize,
    /// Scheduled actions skipped because their id was known.
    pub skipped: usize,
    /// New log lines.
    pub logged: usize,
    /// Log lines turned `dead_lettered`.
    pub dead_lettered: usize,
    /// Dead-lettered lines sent again (their messages written to the outbox).
    pub redriven: usize,
}

/// The action a re-drive message sends (`None` for a message that is not an
/// [`DomainEvent::ActionDue`](crate::DomainEvent::ActionDue)): stores use it to find the
/// log line of each [`DueActions::redrive`] message.
///
/// ```
/// use rapport_core::ports::redriven_action;
/// use rapport_core::*;
/// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), chrono::DateTime::UNIX_EPOCH,
///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(2) });
/// assert_eq!(redriven_action(&m), None);
/// ```
#[must_use]
pub fn redriven_action(m: &OutboxMessage) -> Option<ActionId> {
    match &m.event {
        crate::DomainEvent::ActionDue { action, .. } if action.message_id() == m.id => {
            Some(*action)
        }
        _ => None,
    }
}

/// Where scheduled automation actions and the action log live, so a restart loses none.
/// Every key starts with the tenant; the outbox messages of sent actions commit in the same
/// transaction as their log lines (checked by `rapport-testkit`'s automation contracts).
pub trait ActionStore: Send + Sync {
    /// Writes `w` atomically (see [`DueActions`]).
    fn write_actions(
        &self,
        t: TenantId,
        w: &DueActions,
    ) -> impl Future<Output = Result<ActionLog, StoreError>> + Send;

    /// The customer's scheduled actions, by (due, id).
    fn pending_actions(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<ScheduledAction>, StoreError>> + Send;

    /// Up to `limit` scheduled actions due at `now`, by (due, id).
    fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ScheduledAction>, StoreError>> + Send;

    /// Log lines decided at or after `since`, for one customer or all, by (at, id), at most
    /// `limit`.
    fn action_log(
        &self,
        t: TenantId,
        customer: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ActionRecord>, StoreError>> + Send;
}

macro_rules! forward_actions {
    ($($wrapper:ty),*) => {$(
        impl<S: ActionStore + ?Sized> ActionStore for $wrapper {
            fn write_actions(&self, t: TenantId, w: &DueActions) -> impl Future<Output = Result<ActionLog, StoreError>> + Send {
                (**self).write_actions(t, w)
            }
            fn pending_actions(&self, t: TenantId, customer: CustomerId) -> impl Future<Output = Result<Vec<ScheduledAction>, StoreError>> + Send {
                (**self).pending_actions(t, customer)
            }
            fn due_actions(&self, t: TenantId, now: DateTime<Utc>, limit: u32) -> impl Future<Output = Result<Vec<ScheduledAction>, StoreError>> + Send {
                (**self).due_actions(t, now, limit)
            }
            fn action_log(&self, t: TenantId, customer: Option<CustomerId>, since: DateTime<Utc>, limit: u32) -> impl Future<Output = Result<Vec<ActionRecord>, StoreError>> + Send {
                (**self).action_log(t, customer, since, limit)
            }
        }
    )*};
}
forward_actions!(&S, Box<S>, Arc<S>);

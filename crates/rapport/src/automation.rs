//! Automation in the service: triggers recorded from the events the relay delivers
//! ([`AutomationNotifier`]), schedule rules, and the sweep that fires due actions through the
//! guards into the outbox ([`Service::fire_due_actions`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rapport_core::automation::{
    ActionId, ActionOutcome, ActionRecord, AutomationPolicy, RuleSet, ScheduledAction,
    SuppressReason, Trigger, Verdict, decide_due, plan, schedule_occurrence,
};
use rapport_core::ports::{ActionStore, ConsentSource, DueActions};
use rapport_core::{
    Notifier, NotifyError, OutboxMessage, Page, PurchaseSummary, Segment, SegmentContext, Store,
    StoreError, TenantId,
};

use crate::error::Error;
use crate::service::Service;

/// A notifier that records automation triggers before passing each message on: the rules an
/// event fires are planned against the customer's pending actions and written through the
/// [`ActionStore`] (new scheduled actions; cancelled ones logged). Planning is idempotent
/// (action ids come from the rule and the message id), so the relay's at-least-once delivery
/// schedules nothing twice. A failed write fails the delivery: the relay retries.
///
/// ```
/// use std::sync::Arc;
/// use futures::executor::block_on;
/// use rapport::{AutomationNotifier, NoopNotifier, RelayConfig, Service, relay_once};
/// use rapport::core::automation::RuleSet;
/// use rapport::core::ports::ActionStore;
/// use rapport::core::*;
/// use rapport_memory::MemoryStore;
///
/// let rules = RuleSet::new(vec![serde_json::from_str(r#"{"id": "welcome",
///   "trigger": {"stage_entered": "new"}, "delay": {"after": "1h"},
///   "action": {"template": "welcome", "channel": "email", "purpose": "transactional"}}"#)?])?;
/// let store = Arc::new(MemoryStore::new());
/// let svc = Service::new(store.clone());
/// let t = TenantId::from_u128(1);
/// let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// block_on(svc.record(t, rapport::NewActivity::purchase(ann.id(), "1", Money::new("20".parse()?, Currency::USD), svc.now())?))?;
/// let feed = AutomationNotifier::new(store.clone(), Arc::new(rules), NoopNotifier);
/// block_on(relay_once(&*store, &feed, &RelayConfig::default(), svc.now()))?;
/// let pending = block_on(store.pending_actions(t, ann.id()))?;
/// assert_eq!(pending.len(), 1); // the welcome, due in an hour
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AutomationNotifier<S, N> {
    store: Arc<S>,
    rules: Arc<RuleSet>,
    inner: N,
}

impl<S, N> AutomationNotifier<S, N> {
    /// Plans `rules` into `store`, then delivers through `inner`.
    pub fn new(store: Arc<S>, rules: Arc<RuleSet>, inner: N) -> Self {
        Self {
            store,
            rules,
            inner,
        }
    }
}

/// Plans the rules `msg` fires and writes the result.
///
/// # Errors
/// Store errors.
pub async fn record_triggers<S: ActionStore>(
    store: &S,
    rules: &RuleSet,
    msg: &OutboxMessage,
) -> Result<usize, StoreError> {
    if rules.is_empty() {
        return Ok(0);
    }
    let customer = msg.event.customer();
    let pending = store.pending_actions(msg.tenant, customer).await?;
    let p = plan(rules, msg, &pending);
    if p.is_empty() {
        return Ok(0);
    }
    let mut w = DueActions {
        schedule: p.schedule,
        ..DueActions::default()
    };
    for c in p.cancel {
        if let Some(rule) = rules.get(&c.action.rule) {
            let reason = SuppressReason::Cancelled { by: c.reason };
            w.log.push(ActionRecord::new(
                &c.action,
                rule,
                msg.occurred_at,
                ActionOutcome::Suppressed { reason },
            ));
        }
    }
    Ok(store.write_actions(msg.tenant, &w).await?.scheduled)
}

impl<S: ActionStore, N: Notifier> Notifier for AutomationNotifier<S, N> {
    /// Records the triggers, delivers through the inner notifier, and when that notifier
    /// dead-letters an action ([`NotifyError::DeadLettered`] for a
    /// [`DomainEvent::ActionDue`](rapport_core::DomainEvent::ActionDue)), marks its log line
    /// `dead_lettered` with the reason (a failed write fails the delivery: the relay retries).
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        record_triggers(&*self.store, &self.rules, msg)
            .await
            .map_err(|e| NotifyError::Failed {
                reason: format!("recording automation triggers failed: {e}"),
            })?;
        let delivered = self.inner.deliver(msg).await;
        if let (Err(NotifyError::DeadLettered { reason }), Some(action)) =
            (&delivered, rapport_core::ports::redriven_action(msg))
        {
            let w = DueActions {
                dead_letters: vec![(action, reason.clone())],
                ..DueActions::default()
            };
            self.store
                .write_actions(msg.tenant, &w)
                .await
                .map_err(|e| NotifyError::Failed {
                    reason: format!("recording a dead letter failed: {e}"),
                })?;
            tracing::warn!(tenant = %msg.tenant, action = %action, "action dead-lettered");
        }
        delivered
    }
}

/// What [`Service::redrive_action`] did.
///
/// ```
/// assert_ne!(rapport::Redrive::Queued, rapport::Redrive::NoSuchAction);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redrive {
    /// The action is `sent` again and its message is back in the outbox (same message id).
    Queued,
    /// No log line has that id in the tenant.
    NoSuchAction,
    /// The action is not dead-lettered (sent, suppressed, or re-driven already).
    NotDeadLettered,
    /// Its rule is no longer in the rule set, so its message cannot be rebuilt.
    RuleRemoved,
}

/// What [`Service::fire_due_actions`] did.
///
/// ```
/// let r = rapport::FireReport::default();
/// assert_eq!((r.sent, r.suppressed, r.deferred, r.scheduled), (0, 0, 0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FireReport {
    /// Actions scheduled by schedule rules in this sweep.
    pub scheduled: usize,
    /// Sent (written to the outbox).
    pub sent: usize,
    /// Suppressed, with their reasons in the action log.
    pub suppressed: usize,
    /// Deferred past quiet hours.
    pub deferred: usize,
    /// The log lines written, in order.
    pub records: Vec<ActionRecord>,
}

impl<S: Store + ActionStore, N: Notifier> Service<S, N> {
    /// Schedules today's occurrence of every schedule rule (at or before `now`, local time)
    /// for each live customer whose condition holds; an occurrence already scheduled or
    /// decided is skipped (ids derive from rule, customer and day).
    ///
    /// # Errors
    /// Store errors.
    pub async fn schedule_rules(
        &self,
        t: TenantId,
        rules: &RuleSet,
        policy: &AutomationPolicy,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let schedules: Vec<_> = rules
            .rules()
            .iter()
            .filter(|r| matches!(r.trigger, Trigger::Schedule { .. }))
            .filter_map(|r| schedule_occurrence(r, now, &policy.zone).map(|o| (r, o)))
            .collect();
        if schedules.is_empty() {
            return Ok(0);
        }
        let items = schedules
            .iter()
            .any(|(r, _)| r.condition.as_ref().is_some_and(Segment::uses_line_items));
        let mut scheduled = 0;
        // Account roles are read (once per page) only when a condition tests them.
        let roles_needed = schedules.iter().any(|(r, _)| {
            r.condition
                .as_ref()
                .is_some_and(rapport_core::Segment::uses_account_roles)
        });
        let mut page = Page::first(500);
        loop {
            let rows = self.store().scan(t, page).await?;
            let Some(last) = rows.last() else { break };
            page.after = Some(last.customer.id());
            let roles = if roles_needed {
                let ids: Vec<_> = rows.iter().map(|r| r.customer.id()).collect();
                self.store().account_roles(t, &ids).await?
            } else {
                Vec::new()
            };
            let mut w = DueActions::default();
            for (i, r) in rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.customer.is_live())
            {
                let held = roles.get(i).copied().unwrap_or_default();
                // Conditions on line items (`bought(...)`) read the customer's lines.
                let purchases = if items {
                    self.store()
                        .purchase_lines(t, r.customer.id())
                        .await?
                        .map(|l| PurchaseSummary::from_line_items(&l))
                } else {
                    None
                };
                for (rule, (day, at)) in &schedules {
                    let mut ctx = SegmentContext::new(&r.customer, &r.stats, now)
                        .with_currency(Some(self.policies().tier.currency))
                        .with_account_roles(held);
                    if let Some(p) = &purchases {
                        ctx = ctx.with_purchases(p);
                    }
                    if rule.condition.as_ref().is_none_or(|c| c.matches(&ctx)) {
                        w.schedule.push(ScheduledAction::for_schedule(
                            &rule.id,
                            t,
                            r.customer.id(),
                            *day,
                            *at,
                        ));
                    }
                }
            }
            if !w.is_empty() {
                scheduled += self.store().write_actions(t, &w).await?.scheduled;
            }
        }
        Ok(scheduled)
    }

    /// Fires the actions due at `now` (up to `limit`): each goes through the guards in order
    /// (live, condition, consent from `consents`, cooldown, marketing cap, quiet hours) and is
    /// sent — its [`DomainEvent::ActionDue`](rapport_core::DomainEvent::ActionDue) message
    /// written to the outbox with its log line, atomically —, suppressed with the first guard
    /// that stopped it, or deferred. Schedule rules are scheduled first
    /// ([`Service::schedule_rules`]).
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport::{Service, record_triggers};
    /// use rapport::core::automation::{AutomationPolicy, RuleSet};
    /// use rapport::core::ports::{ActionStore, CustomerConsents};
    /// use rapport::core::*;
    /// use rapport_memory::MemoryStore;
    ///
    /// let rules = RuleSet::new(vec![serde_json::from_str(r#"{"id": "cart-reminder",
    ///   "trigger": {"activity": "cart_abandoned"}, "delay": {"after": "24h", "cancel_on": ["purchase"]},
    ///   "action": {"template": "cart", "channel": "email", "purpose": "marketing"}}"#)?])?;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer;
    /// block_on(svc.record(t, rapport::NewActivity::cart_abandoned(ann.id(), None, svc.now())?))?;
    /// for m in block_on(svc.store().claim_outbox(10, std::time::Duration::ZERO, svc.now()))? {
    ///     block_on(record_triggers(svc.store(), &rules, &m))?;
    /// }
    /// let policy = AutomationPolicy::default();
    /// let later = svc.now() + chrono::Duration::hours(25);
    /// let r = block_on(svc.fire_due_actions(t, &rules, &policy, &CustomerConsents, later, 100))?;
    /// // No marketing consent: suppressed, and the reason is in the log.
    /// assert_eq!((r.sent, r.suppressed), (0, 1));
    /// assert_eq!(block_on(svc.store().action_log(t, None, svc.now(), 10))?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn fire_due_actions(
        &self,
        t: TenantId,
        rules: &RuleSet,
        policy: &AutomationPolicy,
        consents: &impl ConsentSource,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<FireReport, Error> {
        let mut report = FireReport {
            scheduled: self.schedule_rules(t, rules, policy, now).await?,
            ..FireReport::default()
        };
        let window = policy.cooldown.max(policy.cap_window).max(
            rules
                .rules()
                .iter()
                .filter_map(|r| r.cooldown.map(|c| c.get()))
                .max()
                .unwrap_or_default(),
        );
        for action in self.store().due_actions(t, now, limit).await? {
            let mut w = DueActions::default();
            let Some(rule) = rules.get(&action.rule) else {
                // The rule left the configuration: log it rather than act on an unknown rule.
                // The log line needs a channel and purpose: take them from nothing we have,
                // so the action is dropped with its reason under a placeholder rule shape.
                let line = removed_rule_record(&action, now);
                w.log.push(line.clone());
                self.store().write_actions(t, &w).await?;
                report.suppressed += 1;
                report.records.push(line);
                continue;
            };
            let record = self.store().load(t, action.customer).await?;
            let verdict = match &record {
                None => Verdict::Suppress(SuppressReason::NotLive),
                Some(r) => {
                    let since = now - window;
                    let sent: Vec<ActionRecord> = self
                        .store()
                        .action_log(t, Some(action.customer), since, u32::MAX)
                        .await?
                        .into_iter()
                        .filter(ActionRecord::is_sent)
                        .collect();
                    let purchases = if rule
                        .condition
                        .as_ref()
                        .is_some_and(Segment::uses_line_items)
                    {
                        self.store()
                            .purchase_lines(t, r.customer.id())
                            .await?
                            .map(|l| PurchaseSummary::from_line_items(&l))
                    } else {
                        None
                    };
                    let held = if rule
                        .condition
                        .as_ref()
                        .is_some_and(rapport_core::Segment::uses_account_roles)
                    {
                        let roles = self.store().account_roles(t, &[action.customer]).await?;
                        roles.first().copied().unwrap_or_default()
                    } else {
                        rapport_core::AccountRoleSet::default()
                    };
                    let mut ctx = SegmentContext::new(&r.customer, &r.stats, now)
                        .with_currency(Some(self.policies().tier.currency))
                        .with_account_roles(held);
                    if let Some(p) = &purchases {
                        ctx = ctx.with_purchases(p);
                    }
                    decide_due(&action, rule, &ctx, consents, &sent, policy, now)
                }
            };
            match verdict {
                Verdict::Send => {
                    let line = ActionRecord::new(&action, rule, now, ActionOutcome::Sent);
                    w.outbox.push(ActionRecord::message(&action, rule, now));
                    w.log.push(line.clone());
                    report.sent += 1;
                    report.records.push(line);
                }
                Verdict::Suppress(reason) => {
                    let line =
                        ActionRecord::new(&action, rule, now, ActionOutcome::Suppressed { reason });
                    w.log.push(line.clone());
                    report.suppressed += 1;
                    report.records.push(line);
                }
                Verdict::Defer(at) => {
                    w.defer.push((action.id, at));
                    report.deferred += 1;
                }
            }
            self.store().write_actions(t, &w).await?;
        }
        tracing::info!(
            tenant = %t,
            scheduled = report.scheduled,
            sent = report.sent,
            suppressed = report.suppressed,
            deferred = report.deferred,
            "fired due actions"
        );
        Ok(report)
    }
}

impl<S: Store + ActionStore, N: Notifier> Service<S, N> {
    /// The dead-lettered actions decided at or after `since` (at most `limit`, oldest first):
    /// sent actions whose notifier gave up on them, with its reason.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport::Service;
    /// use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = rapport::core::TenantId::from_u128(1);
    /// assert!(block_on(svc.dead_lettered_actions(t, chrono::DateTime::UNIX_EPOCH, 10))?.is_empty());
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn dead_lettered_actions(
        &self,
        t: TenantId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, Error> {
        let mut out: Vec<ActionRecord> = self
            .store()
            .action_log(t, None, since, u32::MAX)
            .await?
            .into_iter()
            .filter(ActionRecord::is_dead_lettered)
            .collect();
        out.truncate(limit as usize);
        Ok(out)
    }

    /// Sends a dead-lettered action again (looked up in the log since 1970): its log line goes back to `sent` and its message
    /// (the same id, time and event, rebuilt from `rules`) goes back to the outbox in one
    /// write, for the relay to deliver. Fix the receiver first (a webhook disabled by a 410
    /// needs [`enable`](https://docs.rs/rapport-notify) too).
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport::{Redrive, Service};
    /// use rapport::core::automation::{ActionId, RuleId, RuleSet};
    /// use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = rapport::core::TenantId::from_u128(1);
    /// let id = ActionId::derive(&RuleId::new("win-back")?, rapport::core::MessageId::from_u128(1));
    /// let rules = RuleSet::new(Vec::new())?;
    /// assert_eq!(block_on(svc.redrive_action(t, id, &rules))?, Redrive::NoSuchAction);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn redrive_action(
        &self,
        t: TenantId,
        id: ActionId,
        rules: &RuleSet,
    ) -> Result<Redrive, Error> {
        let line = self
            .store()
            .action_log(t, None, DateTime::UNIX_EPOCH, u32::MAX)
            .await?
            .into_iter()
            .find(|r| r.id == id);
        let Some(line) = line else {
            return Ok(Redrive::NoSuchAction);
        };
        if !line.is_dead_lettered() {
            return Ok(Redrive::NotDeadLettered);
        }
        let Some(rule) = rules.get(&line.rule) else {
            return Ok(Redrive::RuleRemoved);
        };
        let w = DueActions {
            redrive: vec![line.resend_message(rule)],
            ..DueActions::default()
        };
        let written = self.store().write_actions(t, &w).await?;
        tracing::info!(tenant = %t, action = %id, redriven = written.redriven, "re-drove an action");
        Ok(if written.redriven == 1 {
            Redrive::Queued
        } else {
            // Another process re-drove it between the read and the write.
            Redrive::NotDeadLettered
        })
    }
}

impl<S: Store + ActionStore + rapport_core::ports::CaseStore, N: Notifier> Service<S, N> {
    /// Schedules the actions of the rules triggered by SLA breaches
    /// ([`Trigger::SlaBreached`]): the breaches among open cases at `now`
    /// ([`Service::breached`]), each (rule, case, clock) once — a breach found again by a
    /// later sweep is skipped (ids derive from rule, case and clock). Returns how many were
    /// scheduled; [`Service::fire_due_actions`] then sends them through the guards.
    ///
    /// ```
    /// use futures::executor::block_on;
    /// use rapport::{OpenCase, Service};
    /// use rapport::core::automation::RuleSet;
    /// use rapport::core::*;
    /// use rapport_memory::MemoryStore;
    /// let rules = RuleSet::new(vec![serde_json::from_str(r#"{"id": "escalate",
    ///   "trigger": {"sla_breached": {"clock": "first_response"}},
    ///   "action": {"template": "call-back", "channel": "task", "purpose": "transactional"}}"#)?])?;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.open_case(t, OpenCase::new(ann, CaseCategory::new("outage")?, CaseSeverity::Urgent, Channel::Phone)))?;
    /// let later = svc.now() + chrono::Duration::hours(2); // urgent: first response within 1 h
    /// assert_eq!(block_on(svc.schedule_sla_breaches(t, &rules, later))?, 1);
    /// assert_eq!(block_on(svc.schedule_sla_breaches(t, &rules, later))?, 0); // once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn schedule_sla_breaches(
        &self,
        t: TenantId,
        rules: &RuleSet,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let on_breach: Vec<_> = rules
            .rules()
            .iter()
            .filter(|r| matches!(r.trigger, Trigger::SlaBreached { .. }))
            .collect();
        if on_breach.is_empty() {
            return Ok(0);
        }
        let mut w = DueActions::default();
        for b in self.breached(t, now).await? {
            for rule in on_breach.iter().filter(|r| r.trigger.fired_by_breach(&b)) {
                w.schedule.push(ScheduledAction::for_breach(rule, t, &b));
            }
        }
        if w.is_empty() {
            return Ok(0);
        }
        let scheduled = self.store().write_actions(t, &w).await?.scheduled;
        tracing::info!(tenant = %t, scheduled, "scheduled SLA-breach actions");
        Ok(scheduled)
    }
}

/// The log line of an action whose rule is gone (email/marketing as the conservative shape:
/// the line only records that nothing was sent).
fn removed_rule_record(a: &ScheduledAction, now: DateTime<Utc>) -> ActionRecord {
    ActionRecord {
        id: a.id,
        tenant: a.tenant,
        customer: a.customer,
        rule: a.rule.clone(),
        trigger: a.trigger,
        channel: rapport_core::automation::ActionChannel::Email,
        purpose: rapport_core::Purpose::Marketing,
        at: now,
        outcome: ActionOutcome::Suppressed {
            reason: SuppressReason::RuleRemoved,
        },
    }
}

//! Contracts for [`ActionStore`]: scheduled automation actions and the action log.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::automation::{
    ActionChannel, ActionId, ActionOutcome, ActionRecord, CancelReason, RuleId, ScheduledAction,
    SuppressReason,
};
use rapport_core::ports::{ActionStore, DueActions};
use rapport_core::*;

use crate::contracts::Outcome;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn err(e: StoreError) -> String {
    format!("store error: {e}")
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
        + Duration::microseconds(123_457)
}

fn action(
    t: TenantId,
    c: u128,
    rule: &str,
    trigger: u128,
    due_h: i64,
) -> Result<ScheduledAction, String> {
    let rule = RuleId::new(rule).map_err(|e| e.to_string())?;
    Ok(ScheduledAction {
        id: ActionId::derive(&rule, MessageId::from_u128(trigger)),
        tenant: t,
        customer: CustomerId::from_u128(c),
        rule,
        trigger: MessageId::from_u128(trigger),
        triggered_at: base(),
        due: base() + Duration::hours(due_h),
    })
}

fn record(a: &ScheduledAction, at: DateTime<Utc>, outcome: ActionOutcome) -> ActionRecord {
    ActionRecord {
        id: a.id,
        tenant: a.tenant,
        customer: a.customer,
        rule: a.rule.clone(),
        trigger: a.trigger,
        channel: ActionChannel::Email,
        purpose: Purpose::Marketing,
        at,
        outcome,
    }
}

fn sent_message(a: &ScheduledAction, at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage::new(
        a.id.message_id(),
        a.tenant,
        at,
        DomainEvent::ActionDue {
            customer: a.customer,
            action: a.id,
            rule: a.rule.clone(),
            template: "cart".into(),
            channel: ActionChannel::Email,
            purpose: Purpose::Marketing,
            params: [("coupon".to_owned(), "SAVE10".to_owned())].into(),
        },
    )
}

/// Scheduled actions round-trip, come back due in (due, id) order per tenant, are idempotent
/// by id (also once logged), defer, and leave when logged; a sent action's outbox message
/// commits with its log line, once; the log filters by customer and time; tenant B never sees
/// or changes tenant A's rows.
///
/// # Errors
/// A description of the first violation.
pub async fn actions_are_durable_and_atomic<S: Store + Outbox + ActionStore>(s: &S) -> Outcome {
    let (a, b) = (TenantId::from_u128(0xA), TenantId::from_u128(0xB));
    let x1 = action(a, 1, "cart-reminder", 1, 24)?;
    let x2 = action(a, 1, "visit-nudge", 2, 1)?;
    let x3 = action(a, 2, "cart-reminder", 3, 2)?;
    let y1 = action(b, 1, "cart-reminder", 4, 0)?;
    let w = DueActions {
        schedule: vec![x1.clone(), x2.clone(), x3.clone()],
        ..DueActions::default()
    };
    let r = s.write_actions(a, &w).await.map_err(err)?;
    ensure!(
        (r.scheduled, r.skipped) == (3, 0),
        "first scheduling wrote {r:?}"
    );
    let r = s.write_actions(a, &w).await.map_err(err)?;
    ensure!(
        (r.scheduled, r.skipped) == (0, 3),
        "a second scheduling of the same ids wrote {r:?}"
    );
    s.write_actions(
        b,
        &DueActions {
            schedule: vec![y1.clone()],
            ..DueActions::default()
        },
    )
    .await
    .map_err(err)?;

    let pending = s
        .pending_actions(a, CustomerId::from_u128(1))
        .await
        .map_err(err)?;
    ensure!(
        pending == vec![x2.clone(), x1.clone()],
        "pending for customer 1 by due: {pending:?}"
    );
    let due = s
        .due_actions(a, base() + Duration::hours(2), 10)
        .await
        .map_err(err)?;
    ensure!(due == vec![x2.clone(), x3.clone()], "due at +2h: {due:?}");
    let due = s
        .due_actions(a, base() + Duration::hours(48), 1)
        .await
        .map_err(err)?;
    ensure!(due == vec![x2.clone()], "limit 1: {due:?}");
    let due_b = s
        .due_actions(b, base() + Duration::hours(48), 10)
        .await
        .map_err(err)?;
    ensure!(due_b == vec![y1.clone()], "tenant B sees {due_b:?}");

    // Defer x3 past +2h; send x2 (log + outbox message, atomically); cancel x1.
    let sent_at = base() + Duration::hours(1);
    let w = DueActions {
        defer: vec![(x3.id, base() + Duration::hours(30))],
        log: vec![
            record(&x2, sent_at, ActionOutcome::Sent),
            record(
                &x1,
                sent_at,
                ActionOutcome::Suppressed {
                    reason: SuppressReason::Cancelled {
                        by: CancelReason::Activity {
                            kind: ActivityType::Purchase,
                        },
                    },
                },
            ),
        ],
        outbox: vec![sent_message(&x2, sent_at)],
        ..DueActions::default()
    };
    // Tenant B writing A's ids changes nothing of A's.
    s.write_actions(b, &w).await.map_err(err)?;
    let still = s
        .due_actions(a, base() + Duration::hours(48), 10)
        .await
        .map_err(err)?;
    ensure!(
        still.len() == 3,
        "tenant B's write touched tenant A's actions: {still:?}"
    );
    let r = s.write_actions(a, &w).await.map_err(err)?;
    ensure!(r.logged == 2, "two log lines expected, wrote {r:?}");
    let due = s
        .due_actions(a, base() + Duration::hours(2), 10)
        .await
        .map_err(err)?;
    ensure!(
        due.is_empty(),
        "after defer and logging, due at +2h: {due:?}"
    );
    let due = s
        .due_actions(a, base() + Duration::hours(30), 10)
        .await
        .map_err(err)?;
    ensure!(
        due.len() == 1 && due[0].id == x3.id && due[0].due == base() + Duration::hours(30),
        "deferred action: {due:?}"
    );

    let claimed = s
        .claim_outbox(100, std::time::Duration::from_secs(60), sent_at)
        .await
        .map_err(err)?;
    let mine: Vec<&OutboxMessage> = claimed
        .iter()
        .filter(|m| m.id == x2.id.message_id())
        .collect();
    ensure!(
        mine.len() == 1
            && mine[0]
                == &{
                    let mut m = sent_message(&x2, sent_at);
                    m.attempts = mine[0].attempts;
                    m
                },
        "the sent action's message with its log line: {claimed:?}"
    );
    s.ack_outbox_for(&[(a, x2.id.message_id())])
        .await
        .map_err(err)?;

    // Writing the same log again: nothing new, no second message; scheduling a logged id: skipped.
    let r = s.write_actions(a, &w).await.map_err(err)?;
    ensure!(
        r.logged == 0,
        "a repeated log line was written again: {r:?}"
    );
    let again = s
        .claim_outbox(
            100,
            std::time::Duration::from_secs(60),
            sent_at + Duration::hours(1),
        )
        .await
        .map_err(err)?;
    ensure!(
        !again.iter().any(|m| m.id == x2.id.message_id()),
        "a repeated write sent the action twice"
    );
    let r = s
        .write_actions(
            a,
            &DueActions {
                schedule: vec![x2.clone()],
                ..DueActions::default()
            },
        )
        .await
        .map_err(err)?;
    ensure!(r.skipped == 1, "a logged action was scheduled again: {r:?}");

    let log = s.action_log(a, None, base(), 10).await.map_err(err)?;
    ensure!(
        log.len() == 2 && log.iter().all(|r| r.at == sent_at),
        "log: {log:?}"
    );
    ensure!(
        log.iter()
            .any(|r| r == &record(&x2, sent_at, ActionOutcome::Sent)),
        "the sent line round-trips: {log:?}"
    );
    let later = s
        .action_log(a, None, sent_at + Duration::seconds(1), 10)
        .await
        .map_err(err)?;
    ensure!(later.is_empty(), "log since a later time: {later:?}");
    let other = s
        .action_log(a, Some(CustomerId::from_u128(2)), base(), 10)
        .await
        .map_err(err)?;
    ensure!(other.is_empty(), "log of customer 2: {other:?}");
    let log_b = s.action_log(b, None, base(), 10).await.map_err(err)?;
    ensure!(log_b.is_empty(), "tenant B's log shows {log_b:?}");
    Ok(())
}

/// The log line of action `id` in tenant `t`.
async fn line<S: ActionStore>(s: &S, t: TenantId, id: ActionId) -> Result<ActionRecord, String> {
    let log = s
        .action_log(t, None, DateTime::UNIX_EPOCH, 100)
        .await
        .map_err(err)?;
    log.into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| format!("no log line for {id}"))
}

/// Dead letters and re-drives: a `sent` line becomes `dead_lettered` with its reason (its
/// time unchanged; a line in another state is left alone); a re-drive turns a dead-lettered
/// line back to `sent` and writes its message to the outbox again with the same id, once, in
/// the same write; another tenant's dead letters and re-drives change nothing.
///
/// # Errors
/// A description of the first violation.
pub async fn dead_letters_are_recorded_and_redriven<S: Store + Outbox + ActionStore>(
    s: &S,
) -> Outcome {
    let (a, b) = (TenantId::from_u128(0xA), TenantId::from_u128(0xB));
    let sent = action(a, 1, "win-back", 11, 0)?;
    let cancelled = action(a, 1, "cart-reminder", 12, 5)?;
    let at = base() + Duration::minutes(5);
    let w = DueActions {
        schedule: vec![sent.clone(), cancelled.clone()],
        ..DueActions::default()
    };
    s.write_actions(a, &w).await.map_err(err)?;
    let cancel = ActionOutcome::Suppressed {
        reason: SuppressReason::Cancelled {
            by: CancelReason::Superseded,
        },
    };
    let w = DueActions {
        log: vec![
            record(&sent, at, ActionOutcome::Sent),
            record(&cancelled, at, cancel.clone()),
        ],
        outbox: vec![sent_message(&sent, at)],
        ..DueActions::default()
    };
    s.write_actions(a, &w).await.map_err(err)?;
    // The relay delivers the message and acknowledges it (the notifier dead-lettered it).
    let claimed = s
        .claim_outbox(100, std::time::Duration::from_secs(60), at)
        .await
        .map_err(err)?;
    ensure!(
        claimed.iter().any(|m| m.id == sent.id.message_id()),
        "the sent action's message: {claimed:?}"
    );
    s.ack_outbox_for(&[(a, sent.id.message_id())])
        .await
        .map_err(err)?;

    let reason = "endpoint refused it with status 422".to_owned();
    let dead = DueActions {
        dead_letters: vec![
            (sent.id, reason.clone()),
            (cancelled.id, "not sent".to_owned()),
        ],
        ..DueActions::default()
    };
    let r = s.write_actions(b, &dead).await.map_err(err)?;
    ensure!(
        r.dead_lettered == 0,
        "tenant B dead-lettered A's line: {r:?}"
    );
    ensure!(
        line(s, a, sent.id).await?.is_sent(),
        "tenant B's dead letter changed tenant A's line"
    );
    let r = s.write_actions(a, &dead).await.map_err(err)?;
    ensure!(
        r.dead_lettered == 1,
        "one sent line to dead-letter (the cancelled one stays): {r:?}"
    );
    let want = record(
        &sent,
        at,
        ActionOutcome::DeadLettered {
            reason: reason.clone(),
        },
    );
    let got = line(s, a, sent.id).await?;
    ensure!(got == want, "the dead-lettered line: {got:?}");
    let got = line(s, a, cancelled.id).await?;
    ensure!(
        got.outcome == cancel,
        "a cancelled line was dead-lettered: {got:?}"
    );
    let r = s
        .write_actions(
            a,
            &DueActions {
                dead_letters: vec![(sent.id, "another reason".to_owned())],
                ..DueActions::default()
            },
        )
        .await
        .map_err(err)?;
    ensure!(
        r.dead_lettered == 0 && line(s, a, sent.id).await? == want,
        "a second dead letter rewrote the line: {r:?}"
    );
    let empty = s
        .claim_outbox(100, std::time::Duration::from_secs(60), at)
        .await
        .map_err(err)?;
    ensure!(
        !empty.iter().any(|m| m.id == sent.id.message_id()),
        "a dead letter wrote a message: {empty:?}"
    );

    // Re-drive: B's changes nothing; A's puts the line back to sent and the message back once.
    let registered = OutboxMessage::new(
        MessageId::from_u128(77),
        a,
        at,
        DomainEvent::CustomerRegistered {
            customer: CustomerId::from_u128(1),
        },
    );
    let again = DueActions {
        redrive: vec![sent_message(&sent, at), registered],
        ..DueActions::default()
    };
    let r = s.write_actions(b, &again).await.map_err(err)?;
    ensure!(r.redriven == 0, "tenant B re-drove A's action: {r:?}");
    let r = s.write_actions(a, &again).await.map_err(err)?;
    ensure!(r.redriven == 1, "one re-drive expected: {r:?}");
    let got = line(s, a, sent.id).await?;
    ensure!(
        got == record(&sent, at, ActionOutcome::Sent),
        "the re-driven line: {got:?}"
    );
    let r = s.write_actions(a, &again).await.map_err(err)?;
    ensure!(r.redriven == 0, "a sent line was re-driven: {r:?}");
    let later = at + Duration::hours(1);
    let claimed = s
        .claim_outbox(100, std::time::Duration::from_secs(60), later)
        .await
        .map_err(err)?;
    let mine: Vec<&OutboxMessage> = claimed
        .iter()
        .filter(|m| m.id == sent.id.message_id())
        .collect();
    ensure!(
        mine.len() == 1
            && mine[0]
                == &{
                    let mut m = sent_message(&sent, at);
                    m.attempts = mine[0].attempts;
                    m
                },
        "the re-driven message, once, as first sent: {claimed:?}"
    );
    ensure!(
        !claimed.iter().any(|m| m.id == MessageId::from_u128(77)),
        "a re-drive of a message that sends no action was written: {claimed:?}"
    );
    let r = s
        .write_actions(
            b,
            &DueActions {
                redrive: vec![sent_message(&sent, at)],
                ..DueActions::default()
            },
        )
        .await
        .map_err(err)?;
    ensure!(r.redriven == 0, "tenant B: {r:?}");
    Ok(())
}

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

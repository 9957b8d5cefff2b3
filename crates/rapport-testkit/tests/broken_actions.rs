//! The automation contracts can fail: action stores that break one promise each fail exactly
//! the contract that holds it — a store that sends without the outbox message, one that
//! schedules a known id again, one that ignores dead letters, one that re-drives without
//! re-queueing the message — and pass the other.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport_core::automation::ScheduledAction;
use rapport_core::ports::{ActionLog, ActionStore, DueActions};
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::actions;
use rapport_testkit::broken::{Broken, Hooks};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Flaw {
    /// Log lines are written, the sent actions' outbox messages are dropped.
    DropsOutbox,
    /// A scheduled action whose id is known is written again (a replay schedules twice).
    SchedulesKnownIds,
    /// Dead letters are ignored: the line stays `sent`.
    IgnoresDeadLetters,
    /// A re-drive turns the line back to `sent` but never re-queues the message.
    RedrivesWithoutMessage,
}

/// The flaw, and the scheduled actions a store that schedules known ids again writes twice.
struct Hooked(Flaw, std::sync::Mutex<Vec<ScheduledAction>>);

type Flawed = Broken<MemoryStore, Hooked>;

fn flawed(flaw: Flaw) -> Flawed {
    Broken::new(
        MemoryStore::new(),
        Hooked(flaw, std::sync::Mutex::new(Vec::new())),
    )
}

impl Hooks<MemoryStore> for Hooked {
    async fn write_actions(
        this: &Flawed,
        t: TenantId,
        w: &DueActions,
    ) -> Result<ActionLog, StoreError> {
        let mut w = w.clone();
        match this.hooks.0 {
            Flaw::DropsOutbox => w.outbox.clear(),
            Flaw::IgnoresDeadLetters => w.dead_letters.clear(),
            Flaw::SchedulesKnownIds => {
                // Known ids come back as extra pending rows.
                let mut extra = this.hooks.1.lock().unwrap();
                extra.extend(w.schedule.iter().filter(|a| a.tenant == t).cloned());
            }
            Flaw::RedrivesWithoutMessage => {
                // Relabel through a dead-letter-free write, then drop the message.
                let mut log = ActionLog::default();
                for m in std::mem::take(&mut w.redrive) {
                    let once = DueActions {
                        redrive: vec![m.clone()],
                        ..DueActions::default()
                    };
                    log.redriven += this.inner.write_actions(t, &once).await?.redriven;
                    let _ = this.inner.ack_outbox_for(&[(t, m.id)]).await;
                }
                let rest = this.inner.write_actions(t, &w).await?;
                log.scheduled = rest.scheduled;
                log.skipped = rest.skipped;
                log.logged = rest.logged;
                log.dead_lettered = rest.dead_lettered;
                return Ok(log);
            }
        }
        this.inner.write_actions(t, &w).await
    }
    async fn pending_actions(
        this: &Flawed,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        let mut out = this.inner.pending_actions(t, customer).await?;
        if this.hooks.0 == Flaw::SchedulesKnownIds {
            let extra = this.hooks.1.lock().unwrap();
            // Every write after the first of an id shows up again.
            let mut seen = std::collections::BTreeSet::new();
            for a in extra
                .iter()
                .filter(|a| a.tenant == t && a.customer == customer)
            {
                if !seen.insert(a.id) {
                    out.push(a.clone());
                }
            }
            out.sort_by_key(|a| (a.due, a.id));
        }
        Ok(out)
    }
}

fn durable(flaw: Flaw) -> Result<(), String> {
    block_on(actions::actions_are_durable_and_atomic(&flawed(flaw)))
}

fn dead_letters(flaw: Flaw) -> Result<(), String> {
    block_on(actions::dead_letters_are_recorded_and_redriven(&flawed(
        flaw,
    )))
}

#[test]
fn the_memory_store_passes_both() {
    block_on(actions::actions_are_durable_and_atomic(&MemoryStore::new())).unwrap();
    block_on(actions::dead_letters_are_recorded_and_redriven(
        &MemoryStore::new(),
    ))
    .unwrap();
}

#[test]
fn a_store_that_drops_the_outbox_message_fails_the_atomicity_contract() {
    let e = durable(Flaw::DropsOutbox).unwrap_err();
    assert!(e.contains("the sent action's message"), "{e}");
}

#[test]
fn a_store_that_schedules_known_ids_again_fails_the_idempotence_contract() {
    let e = durable(Flaw::SchedulesKnownIds).unwrap_err();
    assert!(e.contains("pending for customer 1"), "{e}");
    dead_letters(Flaw::SchedulesKnownIds).unwrap();
}

#[test]
fn a_store_that_ignores_dead_letters_fails_the_dead_letter_contract() {
    let e = dead_letters(Flaw::IgnoresDeadLetters).unwrap_err();
    assert!(e.contains("one sent line to dead-letter"), "{e}");
    durable(Flaw::IgnoresDeadLetters).unwrap();
}

#[test]
fn a_store_that_redrives_without_the_message_fails_the_dead_letter_contract() {
    let e = dead_letters(Flaw::RedrivesWithoutMessage).unwrap_err();
    assert!(e.contains("the re-driven message, once"), "{e}");
    durable(Flaw::RedrivesWithoutMessage).unwrap();
}

//! Reliability figures on rapport-memory through the service (docs/reliability.md).
#![allow(clippy::unwrap_used, missing_docs)]

use rapport_memory::MemoryStore;
use rapport_testkit::reliability::{no_lost_updates, outbox_survives_failures};

#[test]
fn no_lost_updates_in_10000_conflicting_updates_from_8_threads() {
    let r = no_lost_updates(MemoryStore::new(), 8, 1_250).unwrap();
    assert_eq!(r.updates, 10_000);
    assert_eq!(r.counter, 10_000, "lost updates");
    assert_eq!(r.version, 10_001);
}

#[test]
fn outbox_delivers_every_event_despite_failures_and_relay_deaths() {
    let (run, store) = outbox_survives_failures(MemoryStore::new(), 10_000, 0.3, 3).unwrap();
    eprintln!("{run:?}");
    assert_eq!(
        run.delivered_unique, 10_000,
        "every event delivered at least once"
    );
    assert!(
        run.deliveries > run.delivered_unique,
        "deaths after delivery cause repeats"
    );
    assert!(
        run.relay_deaths >= 100,
        "only {} relay deaths",
        run.relay_deaths
    );
    assert_eq!(run.stuck, 0, "messages left behind");
    assert_eq!(store.pending_outbox().unwrap(), 0);
}

#[test]
fn every_storage_call_failing_once_leaves_nothing_half_applied() {
    let r = rapport_testkit::fault::every_call_fails_once(MemoryStore::new).unwrap();
    eprintln!("{r:?}");
    assert!(r.calls >= 30, "the workload makes {} calls", r.calls);
    assert_eq!(r.runs, 2 * r.calls);
    assert_eq!(
        r.typed_errors, r.runs,
        "every injected fault surfaced as a typed error"
    );
}

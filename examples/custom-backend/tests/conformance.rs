//! The JSON-file store passes the whole conformance kit.
#![allow(clippy::unwrap_used, missing_docs)]

use custom_backend::JsonFileStore;

fn fresh() -> JsonFileStore {
    // Each store gets its own directory under the target dir (kept small; cleaned by `cargo clean`).
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "json-store-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    JsonFileStore::open(dir).unwrap()
}

rapport_testkit::store_contracts!(fresh);

// Merges (the store keeps no consents, cases or accounts, so the kit's belongings contract is
// left out): merge and unmerge round trip, "not a duplicate" memory, atomicity under injected
// faults, and 100 opposite merges racing.
#[test]
fn merge_round_trip() {
    rapport_testkit::check(fresh, |s| async move {
        rapport_testkit::merge::merge_round_trip(&s).await
    });
}

#[test]
fn distinct_pairs_are_remembered() {
    rapport_testkit::check(fresh, |s| async move {
        rapport_testkit::merge::distinct_pairs_are_remembered(&s).await
    });
}

#[test]
fn merge_is_atomic_under_faults() {
    rapport_testkit::merge::merge_is_atomic_under_faults(fresh)
        .unwrap_or_else(|e| panic!("store contract violated: {e}"));
}

#[test]
fn merge_race_never_makes_a_cycle() {
    let r = rapport_testkit::merge::merge_race(fresh(), 100)
        .unwrap_or_else(|e| panic!("store contract violated: {e}"));
    assert_eq!(
        (r.won, r.refused),
        (100, 100),
        "store contract violated: {r:?}"
    );
}

/// The same store chosen at run time, as `Box<dyn DynMergeStore>`: it still merges.
#[test]
fn merges_through_the_boxed_twin() {
    use rapport_core::ports::DynMergeStore;
    let boxed = || -> Box<dyn DynMergeStore> { Box::new(fresh()) };
    rapport_testkit::check(boxed, |s| async move {
        rapport_testkit::merge::merge_round_trip(&s).await
    });
}

//! Recall and precision of the duplicate scan on the planted-duplicate generator
//! (`benches/support/planted.rs`), small enough for every test run: the bench measures the
//! same at 100k and 1M customers.
#![allow(clippy::unwrap_used)]

#[path = "../benches/support/planted.rs"]
mod planted;

use rapport_core::{DedupePolicy, duplicate_candidates};

#[test]
fn planted_duplicates_are_found_with_few_false_pairs() {
    for seed in [1, 7, 42] {
        let book = planted::book(20_000, seed);
        assert!(book.planted.len() > 400, "{}", book.planted.len());
        let found = duplicate_candidates(&book.customers, &DedupePolicy::default());
        let (recall, precision) = planted::recall_precision(&book.planted, &found);
        assert!(recall >= 0.95, "seed {seed}: recall {recall}");
        assert!(precision >= 0.95, "seed {seed}: precision {precision}");
    }
}

#[test]
fn without_the_fuzzy_keys_typos_behind_new_contacts_are_missed() {
    let book = planted::book(20_000, 3);
    let exact = DedupePolicy {
        block_on_name_part_birth_date: false,
        ..DedupePolicy::default()
    };
    let found = duplicate_candidates(&book.customers, &exact);
    let (recall, _) = planted::recall_precision(&book.planted, &found);
    assert!(recall < 0.9, "recall {recall}");
}

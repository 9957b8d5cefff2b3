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

/// One typo is one edit: allowing two admits many more distinct people who share a word of
/// their names and a birthday, at no gain in recall; the common-word check (opt-in) removes
/// more of them.
#[test]
fn one_edit_and_common_words_trade_little_recall_for_precision() {
    let book = planted::book(20_000, 11);
    let run = |policy: &DedupePolicy| {
        planted::recall_precision(
            &book.planted,
            &duplicate_candidates(&book.customers, policy),
        )
    };
    let (recall, precision) = run(&DedupePolicy::default());
    let two = DedupePolicy {
        max_typo_edits: 2,
        ..DedupePolicy::default()
    };
    let (recall_two, precision_two) = run(&two);
    assert_eq!(recall, recall_two, "one typo is one edit");
    assert!(precision > precision_two, "{precision} vs {precision_two}");
    let common = DedupePolicy {
        common_word_count: 5,
        ..DedupePolicy::default()
    };
    let (recall_c, precision_c) = run(&common);
    assert!(recall_c >= 0.95, "recall {recall_c}");
    assert!(precision_c >= precision, "{precision_c} vs {precision}");
}

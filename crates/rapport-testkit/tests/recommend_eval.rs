//! The time-split evaluation of docs/recommendations.md on a small generated book: item-to-item
//! cosine must beat the popularity baseline on the planted co-purchase structure. The figures
//! of the docs come from the `#[ignore]`d full-size run:
//! `cargo test -p rapport-testkit --release --test recommend_eval -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, missing_docs)]

use rapport_core::recommend::CosineParams;
use rapport_testkit::baskets::{BasketParams, evaluate_split, generate};

fn run(customers: u32) -> rapport_testkit::baskets::SplitEvaluation {
    let p = BasketParams {
        customers,
        ..BasketParams::default()
    };
    let purchases = generate(&p);
    let e = evaluate_split(&purchases, p.days * 8 / 10, CosineParams::default(), 10);
    println!(
        "{customers} customers, {} purchases, {} evaluated: cosine precision@10 {:.4} recall@10 {:.4}; popularity precision@10 {:.4} recall@10 {:.4}",
        purchases.len(),
        e.customers,
        e.cosine.precision,
        e.cosine.recall,
        e.popularity.precision,
        e.popularity.recall
    );
    e
}

#[test]
fn cosine_beats_popularity_on_planted_groups() {
    let e = run(3_000);
    assert!(e.customers > 500);
    assert!(e.cosine.precision > 1.5 * e.popularity.precision, "{e:?}");
    assert!(e.cosine.recall > 1.5 * e.popularity.recall, "{e:?}");
}

#[test]
#[ignore = "full-size run for docs/recommendations.md (about a second in release)"]
fn full_size_figures() {
    let e = run(20_000);
    assert!(e.cosine.precision > e.popularity.precision);
}

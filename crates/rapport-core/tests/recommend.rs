//! Item-to-item cosine against a brute-force computation written from DOMAIN.md's formula, on
//! small random baskets; determinism and the cold-start fallback.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rapport_core::recommend::{
    CosineParams, ItemModel, Popularity, Recommendation, recommend_with_fallback,
};
use rapport_core::{CustomerId, Sku};

fn sku(i: u8) -> Sku {
    Sku::new(format!("s{i}")).unwrap()
}

fn pairs(raw: &[(u8, u8)]) -> Vec<(CustomerId, Sku)> {
    raw.iter()
        .map(|(c, i)| (CustomerId::from_u128(u128::from(*c)), sku(*i)))
        .collect()
}

/// Buyers of each item.
fn buyers(raw: &[(u8, u8)]) -> BTreeMap<Sku, BTreeSet<u8>> {
    let mut out: BTreeMap<Sku, BTreeSet<u8>> = BTreeMap::new();
    for (c, i) in raw {
        out.entry(sku(*i)).or_default().insert(*c);
    }
    out
}

/// Every item's K nearest neighbours by brute force: all pairs, the formula, support filter,
/// best first with ties by sku.
fn brute_neighbours(raw: &[(u8, u8)], p: CosineParams) -> BTreeMap<Sku, Vec<(Sku, f64, u32)>> {
    let b = buyers(raw);
    b.iter()
        .map(|(i, ci)| {
            let mut row: Vec<(Sku, f64, u32)> = b
                .iter()
                .filter(|(j, _)| *j != i)
                .filter_map(|(j, cj)| {
                    let co = ci.intersection(cj).count() as u32;
                    (co >= p.min_support).then(|| {
                        let sim = f64::from(co) / ((ci.len() * cj.len()) as f64).sqrt();
                        (j.clone(), sim, co)
                    })
                })
                .collect();
            row.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            row.truncate(p.neighbours);
            (i.clone(), row)
        })
        .collect()
}

fn params() -> impl Strategy<Value = CosineParams> {
    (1u32..4, 1usize..6).prop_map(|(min_support, neighbours)| CosineParams {
        min_support,
        neighbours,
    })
}

fn baskets() -> impl Strategy<Value = Vec<(u8, u8)>> {
    prop::collection::vec((0u8..12, 0u8..8), 0..70)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_neighbours_equal_brute_force(raw in baskets(), p in params()) {
        let owned = pairs(&raw);
        let model = ItemModel::build(owned.iter().map(|(c, s)| (*c, s)), p);
        let brute = brute_neighbours(&raw, p);
        prop_assert_eq!(model.skus().len(), brute.len());
        for (i, row) in &brute {
            let got = model.neighbours(i);
            prop_assert_eq!(got.len(), row.len(), "item {}", i);
            for (g, (j, sim, co)) in got.iter().zip(row) {
                prop_assert_eq!(&g.sku, j);
                prop_assert_eq!(g.support, *co);
                prop_assert!((g.similarity - sim).abs() < 1e-12);
            }
        }
        // Any order of the purchases gives the same model.
        let reversed = ItemModel::build(owned.iter().rev().map(|(c, s)| (*c, s)), p);
        prop_assert_eq!(&reversed, &model);
    }

    #[test]
    fn prop_recommendations_equal_brute_force(
        raw in baskets(),
        p in params(),
        customer in 0u8..12,
        k in 1usize..6,
    ) {
        let owned = pairs(&raw);
        let model = ItemModel::build(owned.iter().map(|(c, s)| (*c, s)), p);
        let bought: BTreeSet<Sku> = raw.iter().filter(|(c, _)| *c == customer).map(|(_, i)| sku(*i)).collect();
        let bought_list: Vec<Sku> = bought.iter().cloned().collect();
        let got: Vec<Recommendation> = model.recommend(&bought_list, k, |_| false);
        let brute = brute_neighbours(&raw, p);
        let mut scores: BTreeMap<Sku, f64> = BTreeMap::new();
        for i in &bought {
            for (j, sim, _) in brute.get(i).into_iter().flatten() {
                if !bought.contains(j) {
                    *scores.entry(j.clone()).or_default() += sim;
                }
            }
        }
        let mut expected: Vec<(Sku, f64)> = scores.into_iter().collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        expected.truncate(k);
        prop_assert_eq!(got.len(), expected.len());
        for (g, (s, score)) in got.iter().zip(&expected) {
            // Sums may differ in the last bit by the order of addition: compare scores, and
            // the sku where the scores are clearly apart.
            prop_assert!((g.score - score).abs() < 1e-9, "{} vs {}", g.score, score);
            let tied = expected.iter().filter(|(_, x)| (x - score).abs() < 1e-9).count() > 1;
            if !tied {
                prop_assert_eq!(&g.sku, s);
            }
            prop_assert!(!bought.contains(&g.sku));
            // The explanation: bought items only, contributions summing to at most the score.
            prop_assert!(!g.because.is_empty() && g.because.len() <= 3);
            prop_assert!(g.because.iter().all(|(i, _)| bought.contains(i)));
            prop_assert!(g.because.iter().map(|(_, s)| s).sum::<f64>() <= g.score + 1e-9);
        }
    }
}

#[test]
fn repeatable_items_may_be_recommended_again_and_cold_start_uses_popularity() {
    // Tea and cups bought together by three customers.
    let raw = [
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (3, 0),
        (3, 1),
        (4, 2),
        (5, 2),
    ];
    let owned = pairs(&raw);
    let model = ItemModel::build(owned.iter().map(|(c, s)| (*c, s)), CosineParams::default());
    // s1 is bought already: not recommended, unless repeatable.
    assert!(model.recommend(&[sku(0), sku(1)], 5, |_| false).is_empty());
    let again = model.recommend(&[sku(0), sku(1)], 5, |s| *s == sku(1));
    assert_eq!(again[0].sku, sku(1));
    assert_eq!(again[0].because[0].0, sku(0));
    // s2 has no neighbour with support 3: nothing scores, popularity answers.
    let popular = Popularity::build(owned.iter().map(|(c, s)| (*c, s)));
    let (recs, cold) = recommend_with_fallback(&model, &popular, &[sku(2)], 2, |_| false);
    assert!(cold);
    let got: Vec<(String, f64)> = recs.iter().map(|r| (r.sku.to_string(), r.score)).collect();
    assert_eq!(got, [("s0".to_owned(), 3.0), ("s1".to_owned(), 3.0)]);
    let (warm, cold) = recommend_with_fallback(&model, &popular, &[sku(0)], 2, |_| false);
    assert!(!cold);
    assert_eq!(warm[0].sku, sku(1));
    assert!((warm[0].score - 1.0).abs() < 1e-12); // 3 / sqrt(3 × 3)
}

//! Cold start: the most-bought items among a group of customers (the customer's tier).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::id::{CustomerId, Sku};
use crate::recommend::cosine::{ItemModel, Recommendation};

/// Items ranked by how many distinct customers of a group bought them.
///
/// ```
/// use rapport_core::{CustomerId, Sku};
/// use rapport_core::recommend::Popularity;
/// let sku = |s: &str| Sku::new(s).unwrap();
/// let (a, b) = (sku("a"), sku("b"));
/// let p = Popularity::build([(CustomerId::from_u128(1), &b), (CustomerId::from_u128(2), &b),
///     (CustomerId::from_u128(2), &b), (CustomerId::from_u128(3), &a)]);
/// assert_eq!(p.top(5, &[]), vec![(sku("b"), 2), (sku("a"), 1)]);
/// assert_eq!(p.top(5, &[sku("b")]), vec![(sku("a"), 1)]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Popularity {
    /// Most bought first, ties by sku.
    ranked: Vec<(Sku, u32)>,
}

impl Popularity {
    /// Counts the distinct buyers of each item in `(customer, sku)` purchases.
    #[must_use]
    pub fn build<'a>(purchases: impl IntoIterator<Item = (CustomerId, &'a Sku)>) -> Self {
        let mut buyers: BTreeMap<&'a Sku, BTreeSet<CustomerId>> = BTreeMap::new();
        for (c, s) in purchases {
            buyers.entry(s).or_default().insert(c);
        }
        let mut ranked: Vec<(Sku, u32)> = buyers
            .into_iter()
            .map(|(s, c)| (s.clone(), c.len() as u32))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self { ranked }
    }

    /// The `k` most bought items not in `exclude`, with their buyer counts.
    #[must_use]
    pub fn top(&self, k: usize, exclude: &[Sku]) -> Vec<(Sku, u32)> {
        self.ranked
            .iter()
            .filter(|(s, _)| !exclude.contains(s))
            .take(k)
            .cloned()
            .collect()
    }
}

/// [`ItemModel::recommend`], or — when nothing scores (no purchases, or no bought item with a
/// neighbour) — the `k` most popular items of the customer's group not already bought, each
/// with its buyer count as score and no `because`. The flag says which.
///
/// ```
/// use rapport_core::{CustomerId, Sku};
/// use rapport_core::recommend::{CosineParams, ItemModel, Popularity, recommend_with_fallback};
/// let x = Sku::new("x").unwrap();
/// let model = ItemModel::build([(CustomerId::from_u128(1), &x)], CosineParams::default());
/// let popular = Popularity::build([(CustomerId::from_u128(1), &x)]);
/// let (recs, cold) = recommend_with_fallback(&model, &popular, &[], 3, |_| false);
/// assert!(cold);
/// assert_eq!(recs[0].sku, x);
/// ```
#[must_use]
pub fn recommend_with_fallback(
    model: &ItemModel,
    popular: &Popularity,
    bought: &[Sku],
    k: usize,
    repeatable: impl Fn(&Sku) -> bool,
) -> (Vec<Recommendation>, bool) {
    let recs = model.recommend(bought, k, repeatable);
    if !recs.is_empty() {
        return (recs, false);
    }
    let cold = popular
        .top(k, bought)
        .into_iter()
        .map(|(sku, n)| Recommendation {
            sku,
            score: f64::from(n),
            because: Vec::new(),
        })
        .collect();
    (cold, true)
}

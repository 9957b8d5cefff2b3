//! The item-item cosine model: built in one pass over (customer, sku) purchases, each item's K
//! most similar neighbours kept.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::id::{CustomerId, Sku};

/// The model's parameters. `Default` is DOMAIN.md's: `min_support` 3, `neighbours` 50.
///
/// ```
/// use rapport_core::recommend::CosineParams;
/// let p = CosineParams::default();
/// assert_eq!((p.min_support, p.neighbours), (3, 50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CosineParams {
    /// Two items are similar only when at least this many customers bought both (≥ 1).
    pub min_support: u32,
    /// How many neighbours each item keeps (K).
    pub neighbours: usize,
}

impl Default for CosineParams {
    fn default() -> Self {
        Self {
            min_support: 3,
            neighbours: 50,
        }
    }
}

/// An item similar to another: its similarity and how many customers bought both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The similar item.
    pub sku: Sku,
    /// `|C_i ∩ C_j| / sqrt(|C_i| · |C_j|)`.
    pub similarity: f64,
    /// `|C_i ∩ C_j|`.
    pub support: u32,
}

/// A recommended item with its score and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The item.
    pub sku: Sku,
    /// `Σ sim(i, sku)` over the items i the customer bought.
    pub score: f64,
    /// The bought items that contributed, largest contribution first (ties by sku), at most
    /// three: "because you bought X and Y".
    pub because: Vec<(Sku, f64)>,
}

/// Item-to-item cosine similarities: for every item, its K nearest neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemModel {
    params: CosineParams,
    /// Items in sku order; an item's index is its position.
    skus: Vec<Sku>,
    /// Customers who bought each item.
    buyers: Vec<u32>,
    /// Each item's neighbours: (item index, similarity, support), best first.
    neighbours: Vec<Vec<(u32, f64, u32)>>,
}

/// A candidate: item index, score, and (bought item index, similarity) contributions.
type Scored = (u32, f64, Vec<(u32, f64)>);

/// Orders candidates best first: higher value, then smaller sku.
fn best_first(skus: &[Sku], a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1)
        .then_with(|| skus[a.0 as usize].cmp(&skus[b.0 as usize]))
}

impl ItemModel {
    /// Builds the model from purchases as `(customer, sku)` pairs (net of full refunds; a
    /// customer buying an item twice counts once). Any order of the pairs gives the same model.
    #[must_use]
    pub fn build<'a>(
        purchases: impl IntoIterator<Item = (CustomerId, &'a Sku)>,
        params: CosineParams,
    ) -> Self {
        let pairs: Vec<(CustomerId, &'a Sku)> = purchases.into_iter().collect();
        // Items in sku order, found by a sort of the distinct skus (a map keyed by sku per
        // pair costs a string comparison per level).
        let mut distinct: Vec<&'a Sku> = pairs.iter().map(|(_, s)| *s).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let sku_index: HashMap<&'a Sku, u32> = distinct
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .collect();
        let skus: Vec<Sku> = distinct.iter().map(|s| (*s).clone()).collect();
        // Each customer's distinct items, and each item's buyers (customers as dense indices).
        let mut customer_index: HashMap<CustomerId, u32> = HashMap::new();
        let mut baskets: Vec<Vec<u32>> = Vec::new();
        for (c, s) in pairs {
            let next = baskets.len() as u32;
            let ci = *customer_index.entry(c).or_insert(next);
            if ci == next {
                baskets.push(Vec::new());
            }
            baskets[ci as usize].push(sku_index[s]);
        }
        let mut item_buyers: Vec<Vec<u32>> = vec![Vec::new(); skus.len()];
        for (ci, b) in baskets.iter_mut().enumerate() {
            b.sort_unstable();
            b.dedup();
            for i in b.iter() {
                item_buyers[*i as usize].push(ci as u32);
            }
        }
        let buyers: Vec<u32> = item_buyers.iter().map(|b| b.len() as u32).collect();
        // Co-purchase counts item by item, in a dense scratch row reset through its touched list.
        let mut counts = vec![0u32; skus.len()];
        let mut touched: Vec<u32> = Vec::new();
        let min_support = params.min_support.max(1);
        let neighbours = (0..skus.len())
            .map(|i| {
                for c in &item_buyers[i] {
                    for j in &baskets[*c as usize] {
                        if *j as usize != i {
                            if counts[*j as usize] == 0 {
                                touched.push(*j);
                            }
                            counts[*j as usize] += 1;
                        }
                    }
                }
                let mut row: Vec<(u32, f64, u32)> = touched
                    .iter()
                    .filter_map(|j| {
                        let co = counts[*j as usize];
                        (co >= min_support).then(|| {
                            let denom =
                                (f64::from(buyers[i]) * f64::from(buyers[*j as usize])).sqrt();
                            (*j, f64::from(co) / denom, co)
                        })
                    })
                    .collect();
                for j in touched.drain(..) {
                    counts[j as usize] = 0;
                }
                let cmp = |a: &(u32, f64, u32), b: &(u32, f64, u32)| {
                    best_first(&skus, (a.0, a.1), (b.0, b.1))
                };
                if row.len() > params.neighbours {
                    row.select_nth_unstable_by(params.neighbours, cmp);
                    row.truncate(params.neighbours);
                }
                row.sort_unstable_by(cmp);
                row
            })
            .collect();
        Self {
            params,
            skus,
            buyers,
            neighbours,
        }
    }

    /// The parameters it was built with.
    #[must_use]
    pub fn params(&self) -> CosineParams {
        self.params
    }

    /// Items known to the model, in sku order.
    #[must_use]
    pub fn skus(&self) -> &[Sku] {
        &self.skus
    }

    /// How many customers bought `sku` (0 when unknown).
    #[must_use]
    pub fn buyers(&self, sku: &Sku) -> u32 {
        self.index(sku).map_or(0, |i| self.buyers[i])
    }

    fn index(&self, sku: &Sku) -> Option<usize> {
        self.skus.binary_search(sku).ok()
    }

    /// The kept neighbours of `sku`, most similar first (ties by sku); empty when unknown.
    ///
    /// ```
    /// use rapport_core::{CustomerId, Sku};
    /// use rapport_core::recommend::{CosineParams, ItemModel};
    /// let sku = |s: &str| Sku::new(s).unwrap();
    /// let bought = [(1, sku("a")), (1, sku("b")), (2, sku("a")), (2, sku("b")), (2, sku("c"))];
    /// let params = CosineParams { min_support: 1, neighbours: 50 };
    /// let model = ItemModel::build(bought.iter().map(|(c, s)| (CustomerId::from_u128(*c), s)), params);
    /// let n = model.neighbours(&sku("a"));
    /// assert_eq!((n[0].sku.as_str(), n[0].support), ("b", 2)); // 2 / sqrt(2 × 2) = 1
    /// assert_eq!(n[1].sku.as_str(), "c");                      // 1 / sqrt(2 × 1)
    /// ```
    #[must_use]
    pub fn neighbours(&self, sku: &Sku) -> Vec<Neighbour> {
        self.index(sku).map_or_else(Vec::new, |i| {
            self.neighbours[i]
                .iter()
                .map(|(j, similarity, support)| Neighbour {
                    sku: self.skus[*j as usize].clone(),
                    similarity: *similarity,
                    support: *support,
                })
                .collect()
        })
    }

    /// The top `k` items for a customer who bought `bought`: `score(j) = Σ_{i ∈ bought}
    /// sim(i, j)` over the kept neighbours of each bought item, for items j not bought —
    /// unless `repeatable(j)` (a category bought again and again) —, best first, ties by sku.
    /// Empty when nothing scores (see [`recommend_with_fallback`](super::recommend_with_fallback)).
    #[must_use]
    pub fn recommend(
        &self,
        bought: &[Sku],
        k: usize,
        repeatable: impl Fn(&Sku) -> bool,
    ) -> Vec<Recommendation> {
        let mut own: Vec<usize> = bought.iter().filter_map(|s| self.index(s)).collect();
        own.sort_unstable();
        own.dedup();
        // Every (candidate, bought item, similarity) contribution, grouped by candidate by one
        // sort of a short vector (|bought| × K entries) rather than a map per call.
        let mut contributions: Vec<(u32, u32, f64)> = Vec::new();
        for i in &own {
            for (j, sim, _) in &self.neighbours[*i] {
                let j_sku = &self.skus[*j as usize];
                if own.binary_search(&(*j as usize)).is_ok() && !repeatable(j_sku) {
                    continue;
                }
                contributions.push((*j, *i as u32, *sim));
            }
        }
        // By candidate, then bought item: each score is summed in bought-item order, so it
        // does not depend on the order the contributions were found in.
        contributions.sort_unstable_by_key(|c| (c.0, c.1));
        let mut ranked: Vec<Scored> = Vec::new();
        let mut start = 0;
        while start < contributions.len() {
            let j = contributions[start].0;
            let mut end = start;
            let mut score = 0.0;
            while end < contributions.len() && contributions[end].0 == j {
                score += contributions[end].2;
                end += 1;
            }
            ranked.push((j, score, Vec::new()));
            start = end;
        }
        let cmp = |a: &Scored, b: &Scored| best_first(&self.skus, (a.0, a.1), (b.0, b.1));
        if ranked.len() > k && k > 0 {
            ranked.select_nth_unstable_by(k, cmp);
        }
        ranked.truncate(k);
        for r in &mut ranked {
            let from = contributions.partition_point(|c| c.0 < r.0);
            r.2 = contributions[from..]
                .iter()
                .take_while(|c| c.0 == r.0)
                .map(|c| (c.1, c.2))
                .collect();
        }
        ranked.sort_by(|a, b| best_first(&self.skus, (a.0, a.1), (b.0, b.1)));
        ranked.truncate(k);
        ranked
            .into_iter()
            .map(|(j, score, mut why)| {
                why.sort_by(|a, b| best_first(&self.skus, *a, *b));
                why.truncate(3);
                Recommendation {
                    sku: self.skus[j as usize].clone(),
                    score,
                    because: why
                        .into_iter()
                        .map(|(i, s)| (self.skus[i as usize].clone(), s))
                        .collect(),
                }
            })
            .collect()
    }
}

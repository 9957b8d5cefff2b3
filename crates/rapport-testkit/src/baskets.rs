//! Synthetic purchase baskets with planted co-purchase structure and popularity skew, and the
//! time-split evaluation of recommendations on them (precision@k and recall@k against a
//! popularity baseline). CDNOW has no items, so docs/recommendations.md reports these.
//!
//! The generator: `groups` item groups of `items_per_group` items each (sku `g007-i03`). Each
//! customer has one or two favourite groups, drawn with a Zipf skew over groups (group g with
//! weight `1 / (g + 1)^skew`), and places `orders` orders on days spread uniformly over `days`.
//! An order is, with probability `in_group`, an item of one of its favourite groups (uniform
//! within the group), else an item of the whole catalogue drawn with the same Zipf skew over
//! items: planted co-purchase groups plus popular items that everyone buys.
//!
//! ```
//! use rapport_testkit::baskets::{BasketParams, generate};
//! let p = BasketParams { customers: 200, ..BasketParams::default() };
//! let a = generate(&p);
//! assert_eq!(a, generate(&p)); // deterministic for a seed
//! assert!(a.iter().all(|x| x.day < p.days));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use rapport_core::recommend::{CosineParams, ItemModel, Popularity};
use rapport_core::{CustomerId, Sku};

use crate::generate::Rng;

/// The generator's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BasketParams {
    /// Customers.
    pub customers: u32,
    /// Item groups.
    pub groups: u32,
    /// Items per group.
    pub items_per_group: u32,
    /// Orders per customer: uniform in `orders.0..=orders.1`.
    pub orders: (u32, u32),
    /// Probability that an order comes from a favourite group.
    pub in_group: f64,
    /// Zipf exponent of the popularity skew.
    pub skew: f64,
    /// Days the orders are spread over.
    pub days: u32,
    /// Seed.
    pub seed: u64,
}

impl Default for BasketParams {
    fn default() -> Self {
        Self {
            customers: 20_000,
            groups: 100,
            items_per_group: 10,
            orders: (2, 12),
            in_group: 0.7,
            skew: 1.0,
            days: 365,
            seed: 19,
        }
    }
}

/// One generated purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The customer (dense index).
    pub customer: u32,
    /// Day since the start.
    pub day: u32,
    /// The item.
    pub sku: Sku,
}

/// A Zipf sampler over `n` ranks by inverse CDF on cumulative weights.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: u32, s: f64) -> Self {
        let mut acc = 0.0;
        Zipf(
            (0..n)
                .map(|r| {
                    acc += 1.0 / f64::from(r + 1).powf(s);
                    acc
                })
                .collect(),
        )
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        let total = self.0.last().copied().unwrap_or(0.0);
        let u = rng.unit() * total;
        self.0.partition_point(|c| *c <= u).min(self.0.len() - 1) as u32
    }
}

fn sku_of(group: u32, item: u32) -> Sku {
    Sku::new(format!("g{group:03}-i{item:02}")).unwrap_or_else(|_| unreachable!())
}

/// Generates the purchases (customer by customer, in day order for each).
#[must_use]
pub fn generate(p: &BasketParams) -> Vec<Purchase> {
    let mut rng = Rng::new(p.seed);
    let groups = Zipf::new(p.groups.max(1), p.skew);
    let items = Zipf::new((p.groups * p.items_per_group).max(1), p.skew);
    // The catalogue's popularity order is shuffled so popular items are spread over groups.
    let mut catalogue: Vec<(u32, u32)> = (0..p.groups)
        .flat_map(|g| (0..p.items_per_group).map(move |i| (g, i)))
        .collect();
    for i in (1..catalogue.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        catalogue.swap(i, j);
    }
    let mut out = Vec::new();
    for c in 0..p.customers {
        let favourites: Vec<u32> = (0..1 + rng.next_u64() % 2)
            .map(|_| groups.draw(&mut rng))
            .collect();
        let span = u64::from(p.orders.1.saturating_sub(p.orders.0)) + 1;
        let n = p.orders.0 + (rng.next_u64() % span) as u32;
        let mut orders: Vec<Purchase> = (0..n)
            .map(|_| {
                let (g, i) = if rng.unit() < p.in_group {
                    let g = favourites[(rng.next_u64() % favourites.len() as u64) as usize];
                    (
                        g,
                        (rng.next_u64() % u64::from(p.items_per_group.max(1))) as u32,
                    )
                } else {
                    catalogue[items.draw(&mut rng) as usize]
                };
                Purchase {
                    customer: c,
                    day: (rng.next_u64() % u64::from(p.days.max(1))) as u32,
                    sku: sku_of(g, i),
                }
            })
            .collect();
        orders.sort_by_key(|o| o.day);
        out.extend(orders);
    }
    out
}

/// Mean precision@k and recall@k over the evaluated customers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Mean of hits ÷ k.
    pub precision: f64,
    /// Mean of hits ÷ (items bought after the split and not before).
    pub recall: f64,
}

/// A time-split evaluation: the model trained on purchases before `split`, tested on the new
/// items each customer buys from `split` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitEvaluation {
    /// Customers with purchases on both sides of the split and a new item after it.
    pub customers: usize,
    /// Item-to-item cosine (cold start: popularity, as the recommender does).
    pub cosine: Accuracy,
    /// Baseline: the `k` most bought items of the training period not yet bought.
    pub popularity: Accuracy,
}

/// Trains on `purchases` before day `split`, recommends `k` items to each customer who bought
/// before and buys a new item after, and scores the lists against those new items.
#[must_use]
pub fn evaluate_split(
    purchases: &[Purchase],
    split: u32,
    params: CosineParams,
    k: usize,
) -> SplitEvaluation {
    let id = |c: u32| CustomerId::from_u128(u128::from(c) + 1);
    let train: Vec<&Purchase> = purchases.iter().filter(|p| p.day < split).collect();
    let model = ItemModel::build(train.iter().map(|p| (id(p.customer), &p.sku)), params);
    let popular = Popularity::build(train.iter().map(|p| (id(p.customer), &p.sku)));
    let mut before: BTreeMap<u32, BTreeSet<&Sku>> = BTreeMap::new();
    let mut after: BTreeMap<u32, BTreeSet<&Sku>> = BTreeMap::new();
    for p in purchases {
        let side = if p.day < split {
            &mut before
        } else {
            &mut after
        };
        side.entry(p.customer).or_default().insert(&p.sku);
    }
    let (mut n, mut cos, mut pop) = (0usize, (0.0, 0.0), (0.0, 0.0));
    for (c, had) in &before {
        let Some(new): Option<BTreeSet<&Sku>> =
            after.get(c).map(|a| a.difference(had).copied().collect())
        else {
            continue;
        };
        if new.is_empty() {
            continue;
        }
        n += 1;
        let bought: Vec<Sku> = had.iter().map(|s| (*s).clone()).collect();
        let (recs, _) =
            rapport_core::recommend::recommend_with_fallback(&model, &popular, &bought, k, |_| {
                false
            });
        let hits = recs.iter().filter(|r| new.contains(&r.sku)).count() as f64;
        cos.0 += hits / k as f64;
        cos.1 += hits / new.len() as f64;
        let base = popular.top(k, &bought);
        let hits = base.iter().filter(|(s, _)| new.contains(s)).count() as f64;
        pop.0 += hits / k as f64;
        pop.1 += hits / new.len() as f64;
    }
    let mean = |(p, r): (f64, f64)| Accuracy {
        precision: p / n.max(1) as f64,
        recall: r / n.max(1) as f64,
    };
    SplitEvaluation {
        customers: n,
        cosine: mean(cos),
        popularity: mean(pop),
    }
}

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

/// An item's kept neighbours: (item index, similarity, support), best first.
type Row = Vec<(u32, f64, u32)>;

/// A candidate: item index, score, and (bought item index, similarity) contributions.
type Scored = (u32, f64, Vec<(u32, f64)>);

/// Orders candidates best first: higher value, then smaller sku — the smaller item index, as
/// items are numbered in sku order (no string comparison).
fn best_first(a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

impl ItemModel {
    /// Builds the model from purchases as `(customer, sku)` pairs (net of full refunds; a
    /// customer buying an item twice counts once). Any order of the pairs gives the same model.
    ///
    /// One pass interns customers and skus as dense indices (a fast non-keyed hash; only the
    /// distinct skus are sorted), baskets and buyer lists are sorted vectors in one buffer
    /// each, and the items' rows are computed on every available core (each row depends on
    /// the purchases only, so the model is the same whatever the number of threads).
    #[must_use]
    pub fn build<'a>(
        purchases: impl IntoIterator<Item = (CustomerId, &'a Sku)>,
        params: CosineParams,
    ) -> Self {
        Self::build_on(purchases, params, None)
    }

    /// [`ItemModel::build`] on `threads` threads (`None`: every core when the work is large).
    fn build_on<'a>(
        purchases: impl IntoIterator<Item = (CustomerId, &'a Sku)>,
        params: CosineParams,
        threads: Option<usize>,
    ) -> Self {
        let mut iter = purchases.into_iter();
        let mut customers = Customers::default();
        // Skus are interned in two halves of each chunk of purchases, the second on another
        // thread, each half into its own table (local ids, the second's tagged); the tables
        // are merged into the sku order at the end.
        let mut halves: [SkuTable<'a>; 2] = [SkuTable::default(), SkuTable::default()];
        let two = threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }) > 1;
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(iter.size_hint().0);
        let mut chunk: Vec<(CustomerId, &'a Sku)> = Vec::with_capacity(INTERN_CHUNK);
        let mut second: Vec<u32> = Vec::new();
        loop {
            chunk.clear();
            chunk.extend(iter.by_ref().take(INTERN_CHUNK));
            if chunk.is_empty() {
                break;
            }
            let [front_table, back_table] = &mut halves;
            if two && chunk.len() == INTERN_CHUNK {
                let (front, back) = chunk.split_at(INTERN_CHUNK / 2);
                std::thread::scope(|s| {
                    let other = s.spawn(|| {
                        second.clear();
                        second.extend(back.iter().map(|(_, sku)| back_table.id(sku) | SECOND));
                    });
                    for (c, sku) in front {
                        pairs.push((customers.id(*c), front_table.id(sku)));
                    }
                    for (c, _) in back {
                        pairs.push((customers.id(*c), 0));
                    }
                    other
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e));
                });
                let from = pairs.len() - back.len();
                for (p, si) in pairs[from..].iter_mut().zip(&second) {
                    p.1 = *si;
                }
            } else {
                for (c, sku) in &chunk {
                    pairs.push((customers.id(*c), front_table.id(sku)));
                }
            }
        }
        drop(chunk);
        // Items in sku order: an item's index is its rank among the distinct skus.
        let [front_table, back_table] = halves;
        let mut all: Vec<(&'a Sku, u32)> = front_table
            .arrival
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .chain(
                back_table
                    .arrival
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (*s, i as u32 | SECOND)),
            )
            .collect();
        drop((front_table.ids, back_table.ids));
        all.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        let mut rank = [
            vec![0u32; front_table.arrival.len()],
            vec![0u32; back_table.arrival.len()],
        ];
        let mut skus: Vec<Sku> = Vec::new();
        for (s, local) in &all {
            if skus.last() != Some(*s) {
                skus.push((*s).clone());
            }
            let half = usize::from(local & SECOND != 0);
            rank[half][(local & !SECOND) as usize] = skus.len() as u32 - 1;
        }
        drop(all);
        for p in &mut pairs {
            let half = usize::from(p.1 & SECOND != 0);
            p.1 = rank[half][(p.1 & !SECOND) as usize];
        }
        drop(rank);
        let baskets = Csr::group(customers.ids.len(), &pairs, true);
        drop(customers);
        drop(pairs);
        // Each item's buyers, in customer order: the baskets transposed.
        let item_buyers = baskets.transpose(skus.len());
        let buyers: Vec<u32> = (0..skus.len())
            .map(|i| item_buyers.row(i).len() as u32)
            .collect();
        let ctx = RowContext {
            skus: &skus,
            baskets: &baskets,
            item_buyers: &item_buyers,
            buyers: &buyers,
            min_support: params.min_support.max(1),
            keep: params.neighbours,
        };
        let neighbours = ctx.all_rows(threads);
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
        let cmp = |a: &Scored, b: &Scored| best_first((a.0, a.1), (b.0, b.1));
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
        ranked.sort_by(|a, b| best_first((a.0, a.1), (b.0, b.1)));
        ranked.truncate(k);
        ranked
            .into_iter()
            .map(|(j, score, mut why)| {
                why.sort_by(|a, b| best_first(*a, *b));
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

/// Purchases interned per chunk (the sku tables split each chunk in two halves).
const INTERN_CHUNK: usize = 1 << 16;

/// The tag of a sku id from the second half's table.
const SECOND: u32 = 1 << 31;

/// Customers numbered densely in arrival order.
#[derive(Default)]
struct Customers {
    ids: FastMap<CustomerId, u32>,
    /// Purchases usually come grouped by customer (the stores page line items by customer,
    /// `net_purchases` sorts them): the previous pair's customer is looked up once.
    last: Option<(CustomerId, u32)>,
}

impl Customers {
    fn id(&mut self, c: CustomerId) -> u32 {
        match self.last {
            Some((lc, li)) if lc == c => li,
            _ => {
                let next = self.ids.len() as u32;
                let ci = *self.ids.entry(c).or_insert(next);
                self.last = Some((c, ci));
                ci
            }
        }
    }
}

/// Skus numbered densely in arrival order (a local numbering: the build merges two tables).
#[derive(Default)]
struct SkuTable<'a> {
    ids: FastMap<&'a Sku, u32>,
    arrival: Vec<&'a Sku>,
}

impl<'a> SkuTable<'a> {
    fn id(&mut self, s: &'a Sku) -> u32 {
        let next = self.arrival.len() as u32;
        *self.ids.entry(s).or_insert_with(|| {
            self.arrival.push(s);
            next
        })
    }
}

/// A fast non-keyed hash (FxHash's multiply-rotate, with a final mix) for interning skus and customer ids in
/// [`ItemModel::build`]: the keys are the tenant's own, not an attacker's choice per request,
/// and the map is dropped when the build ends.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // The multiply carries input bits only upwards: fold the high half into the low bits
        // the table indexes by (without it, ids that differ only in their high bytes —
        // `CustomerId::from_u128(n)` — all land in one bucket).
        // MurmurHash3's 64-bit finaliser.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        // The tail as one zero-padded word, with the length (a sku is a few bytes: one step,
        // not one per byte).
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.add(u64::from_le_bytes(w) ^ ((tail.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl FastHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// Rows of sorted `u32`s in one buffer (compressed sparse rows): row `r` is
/// `items[offsets[r]..offsets[r + 1]]`.
struct Csr {
    offsets: Vec<usize>,
    items: Vec<u32>,
}

impl Csr {
    /// Groups `(row, value)` pairs into `rows` rows, each row's values sorted (and without
    /// repeats when `dedup`), by a counting pass and a fill: no per-row allocation.
    fn group(rows: usize, pairs: &[(u32, u32)], dedup: bool) -> Self {
        let mut offsets = vec![0usize; rows + 1];
        for (r, _) in pairs {
            offsets[*r as usize + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut fill = offsets.clone();
        let mut items = vec![0u32; pairs.len()];
        for (r, v) in pairs {
            items[fill[*r as usize]] = *v;
            fill[*r as usize] += 1;
        }
        // Sort each row and, with `dedup`, compact it in place (rows only shrink).
        let mut write = 0;
        let mut start = 0;
        for r in 0..rows {
            let end = offsets[r + 1];
            let row = &mut items[start..end];
            row.sort_unstable();
            let mut last = None;
            let from = write;
            for k in start..end {
                let v = items[k];
                if dedup && last == Some(v) {
                    continue;
                }
                last = Some(v);
                items[write] = v;
                write += 1;
            }
            offsets[r] = from;
            start = end;
        }
        offsets[rows] = write;
        items.truncate(write);
        Self { offsets, items }
    }

    /// The transpose: row `v` lists the rows holding `v`, in row order (so sorted) — a
    /// counting pass and a fill over this matrix, no copy of the pairs. Every value must be
    /// below `columns`.
    fn transpose(&self, columns: usize) -> Self {
        let mut offsets = vec![0usize; columns + 1];
        for v in &self.items {
            offsets[*v as usize + 1] += 1;
        }
        for v in 0..columns {
            offsets[v + 1] += offsets[v];
        }
        let mut fill = offsets[..columns].to_vec();
        let mut items = vec![0u32; self.items.len()];
        for r in 0..self.len() {
            for v in self.row(r) {
                items[fill[*v as usize]] = r as u32;
                fill[*v as usize] += 1;
            }
        }
        Self { offsets, items }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn row(&self, r: usize) -> &[u32] {
        &self.items[self.offsets[r]..self.offsets[r + 1]]
    }
}

/// What computing an item's neighbour row needs (shared by the build's threads).
struct RowContext<'m> {
    skus: &'m [Sku],
    baskets: &'m Csr,
    item_buyers: &'m Csr,
    buyers: &'m [u32],
    min_support: u32,
    keep: usize,
}

/// Items handed to a build thread at a time.
const ROW_BLOCK: usize = 64;

/// Below this many co-purchase increments a build runs on one thread.
const PARALLEL_WORK: u64 = 2_000_000;

impl RowContext<'_> {
    /// Every item's row, on as many threads as the machine offers when the work is large.
    fn all_rows(&self, threads: Option<usize>) -> Vec<Row> {
        let n = self.skus.len();
        let threads = threads.unwrap_or_else(|| {
            let work: u64 = (0..self.baskets.len())
                .map(|c| (self.baskets.row(c).len() as u64).pow(2))
                .sum();
            if work < PARALLEL_WORK {
                1
            } else {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }
        });
        if threads <= 1 {
            let mut scratch = Scratch::new(n);
            return (0..n).map(|i| self.row(i, &mut scratch)).collect();
        }
        // Blocks of items taken from a shared counter, so a thread that drew popular items
        // does not hold the others back; each row lands at its item's index.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let parts: Vec<Vec<(usize, Row)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut scratch = Scratch::new(n);
                        let mut out = Vec::new();
                        loop {
                            let from =
                                next.fetch_add(ROW_BLOCK, std::sync::atomic::Ordering::Relaxed);
                            if from >= n {
                                break;
                            }
                            for i in from..(from + ROW_BLOCK).min(n) {
                                out.push((i, self.row(i, &mut scratch)));
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut rows: Vec<Row> = vec![Vec::new(); n];
        for (i, row) in parts.into_iter().flatten() {
            rows[i] = row;
        }
        rows
    }

    /// Item `i`'s kept neighbours: co-purchase counts over its buyers' baskets in a dense
    /// scratch row reset through its touched list, then the K best (ties by sku).
    fn row(&self, i: usize, scratch: &mut Scratch) -> Row {
        let Scratch {
            counts,
            touched,
            candidates,
            gathered,
        } = scratch;
        // The buyers' baskets are scattered over memory: copy them into one buffer first (a
        // loop of independent loads the processor overlaps), then count over that buffer —
        // counting straight from the baskets waits on one cache miss after another.
        gathered.clear();
        for c in self.item_buyers.row(i) {
            gathered.extend_from_slice(self.baskets.row(*c as usize));
        }
        // Without branches (the test "first time seen?" is a coin toss the processor keeps
        // mispredicting): every item is written at the end of the touched list, which grows
        // only when the item was new. The item itself is counted too, and passed over below.
        let mut seen = 0;
        for j in gathered.iter() {
            let count = &mut counts[*j as usize];
            touched[seen] = *j;
            seen += usize::from(*count == 0);
            *count += 1;
        }
        let bi = f64::from(self.buyers[i]);
        // Candidates in a reused buffer: only the K kept leave it, in a row of their size
        // (a row collected from every touched item would keep that capacity after the cut).
        candidates.clear();
        candidates.extend(touched[..seen].iter().filter_map(|j| {
            let co = counts[*j as usize];
            (*j as usize != i && co >= self.min_support).then(|| {
                let denom = (bi * f64::from(self.buyers[*j as usize])).sqrt();
                (*j, f64::from(co) / denom, co)
            })
        }));
        for j in &touched[..seen] {
            counts[*j as usize] = 0;
        }
        let cmp = |a: &(u32, f64, u32), b: &(u32, f64, u32)| best_first((a.0, a.1), (b.0, b.1));
        if candidates.len() > self.keep {
            candidates.select_nth_unstable_by(self.keep, cmp);
            candidates.truncate(self.keep);
        }
        candidates.sort_unstable_by(cmp);
        candidates.as_slice().to_vec()
    }
}

/// A build thread's dense co-purchase counts and the items it touched (room for every item
/// and the one written past the last).
struct Scratch {
    counts: Vec<u32>,
    touched: Vec<u32>,
    candidates: Vec<(u32, f64, u32)>,
    gathered: Vec<u32>,
}

impl Scratch {
    fn new(items: usize) -> Self {
        Self {
            counts: vec![0; items],
            touched: vec![0; items + 1],
            candidates: Vec::new(),
            gathered: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: ids that differ only in their high bytes (`CustomerId::from_u128(n)`, the
    /// bench's customers) all hashed to the same low bits, the bits a table indexes by, and
    /// the build of 1M customers crawled through one bucket.
    #[test]
    fn the_fast_hash_spreads_small_ids_over_the_low_bits() {
        use std::hash::BuildHasher;
        let build = std::hash::BuildHasherDefault::<FastHasher>::default();
        let low: std::collections::HashSet<u64> = (0..1024u128)
            .map(|n| build.hash_one(CustomerId::from_u128(n)) & 1023)
            .collect();
        assert!(low.len() > 500, "{} distinct of 1024", low.len());
    }

    /// Bounded memory: a kept row holds no more room than its K neighbours (a row collected
    /// from every co-purchased item kept that capacity after the cut: 1.25 GB at 9M line
    /// items instead of the model's 40 MB).
    #[test]
    fn kept_rows_hold_no_spare_room() {
        let skus: Vec<Sku> = (0..40)
            .filter_map(|i| Sku::new(format!("s{i:02}")).ok())
            .collect();
        // Every customer buys everything: each item co-occurs with the 39 others.
        let pairs: Vec<(CustomerId, &Sku)> = (0..5u128)
            .flat_map(|c| skus.iter().map(move |s| (CustomerId::from_u128(c), s)))
            .collect();
        let params = CosineParams {
            min_support: 1,
            neighbours: 3,
        };
        let model = ItemModel::build_on(pairs.iter().copied(), params, Some(1));
        for row in &model.neighbours {
            assert_eq!(row.len(), 3);
            assert!(row.capacity() <= 3, "capacity {}", row.capacity());
        }
    }

    /// The model does not depend on the number of threads that built it (rows are computed
    /// per item and placed at the item's index): one thread and three agree on a book with
    /// repeated pairs, popular items and items bought alone.
    #[test]
    fn threads_give_the_same_model() {
        let skus: Vec<Sku> = (0..300)
            .filter_map(|i| Sku::new(format!("s{i:03}")).ok())
            .collect();
        let mut pairs = Vec::new();
        let mut x: u64 = 19;
        // ~100k pairs: more than one 64k-pair interning chunk, so the two halves' sku tables
        // are merged across chunks.
        for c in 0..20_000u128 {
            for _ in 0..(1 + c % 9) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                // Skewed: low indices far more often.
                let r = (x >> 33) % 300;
                let i = (r * r / 300) as usize;
                pairs.push((CustomerId::from_u128(c), &skus[i]));
            }
        }
        for params in [
            CosineParams::default(),
            CosineParams {
                min_support: 1,
                neighbours: 7,
            },
        ] {
            let one = ItemModel::build_on(pairs.iter().copied(), params, Some(1));
            let three = ItemModel::build_on(pairs.iter().copied(), params, Some(3));
            assert_eq!(one, three);
            assert_eq!(one, ItemModel::build(pairs.iter().rev().copied(), params));
        }
    }
}

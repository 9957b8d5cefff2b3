//! The Rust side of `scripts/bench-vs-implicit`: reads `(customer, item)` pairs (little-endian
//! u32 pairs) written by the script, builds the item-item cosine model and recommends the top
//! 10 for the first `users` customers, printing timings as JSON and writing the top-10 lists
//! of every 100th of those customers for the agreement check.
//!
//! `cargo run --release -p rapport-core --example recs_vs_implicit -- PAIRS USERS K MIN_SUPPORT OUT`
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::io::Write;
use std::time::Instant;

use rapport_core::recommend::{CosineParams, ItemModel};
use rapport_core::{CustomerId, Sku};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let users: u32 = args[2].parse().unwrap();
    let k: usize = args[3].parse().unwrap();
    let min_support: u32 = args[4].parse().unwrap();
    let out = &args[5];
    let bytes = std::fs::read(path).expect("pairs file");
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let pairs: Vec<(u32, u32)> = words.chunks_exact(2).map(|w| (w[0], w[1])).collect();
    let n_items = pairs.iter().map(|p| p.1).max().map_or(0, |m| m + 1);
    // Zero-padded skus: sku order is item-number order.
    let skus: Vec<Sku> = (0..n_items)
        .map(|i| Sku::new(format!("s{i:06}")).unwrap())
        .collect();
    let params = CosineParams {
        min_support,
        neighbours: k,
    };
    let t = Instant::now();
    let model = ItemModel::build(
        pairs
            .iter()
            .map(|(c, i)| (CustomerId::from_u128(u128::from(*c)), &skus[*i as usize])),
        params,
    );
    let build_s = t.elapsed().as_secs_f64();
    // Each recommended customer's items, prepared outside the timing (as implicit's CSR rows).
    let mut bought: Vec<Vec<Sku>> = vec![Vec::new(); users as usize];
    for (c, i) in &pairs {
        if *c < users {
            bought[*c as usize].push(skus[*i as usize].clone());
        }
    }
    let t = Instant::now();
    let mut lists = Vec::with_capacity(bought.len());
    for b in &bought {
        lists.push(model.recommend(b, 10, |_| false));
    }
    let recommend_s = t.elapsed().as_secs_f64();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for (c, l) in lists.iter().enumerate().step_by(100) {
        let items: Vec<String> = l.iter().map(|r| r.sku.as_str()[1..].to_owned()).collect();
        let scores: Vec<String> = l.iter().map(|r| format!("{:.12}", r.score)).collect();
        writeln!(f, "{c}\t{}\t{}", items.join(","), scores.join(",")).unwrap();
    }
    println!(
        "{{\"pairs\": {}, \"items\": {}, \"build_s\": {build_s:.3}, \"recommend_s\": {recommend_s:.3}, \"users\": {users}}}",
        pairs.len(),
        n_items
    );
}

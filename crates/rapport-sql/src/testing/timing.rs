//! The line-item segment measurement both SQL stores run as an ignored test
//! (`segment_items_speed.rs`): a population with two single-line purchases per customer
//! (500 skus, three categories, dates over two years), then the time of a full paged `query`
//! for a few predicates on line items beside a baseline (`orders > 1`). A measurement, not a
//! test: it asserts nothing but that the store answers.

use std::time::{Duration as Elapsed, Instant};

use chrono::{DateTime, Duration, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rust_decimal::Decimal;

/// The predicates timed, the baseline first.
pub const PREDICATES: [&str; 5] = [
    "orders > 1",
    r#"bought("sku-42")"#,
    r#"bought("sku-42") and tier >= lead"#,
    r#"category_spend("tea", 365) > 60"#,
    r#"not bought("sku-42")"#,
];

/// The customers of the measurement from the environment (`RAPPORT_SEG_N`, default 20,000).
///
/// ```
/// assert!(rapport_sql::testing::timing::customers_from_env() > 0);
/// ```
#[must_use]
pub fn customers_from_env() -> u128 {
    std::env::var("RAPPORT_SEG_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20_000)
}

/// One predicate's figure: how many customers it selected and how long the paged query took.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The predicate as written.
    pub segment: &'static str,
    /// Customers selected.
    pub count: usize,
    /// Wall-clock time of the whole paged query.
    pub elapsed: Elapsed,
}

/// Loads `n` customers of tenant 1 (two purchases with one line each) into `store` at `now`,
/// in changesets of 1,000, then times every predicate of [`PREDICATES`]; prints the figures.
///
/// ```
/// use rapport_sql::testing::timing;
/// let store = rapport_memory::MemoryStore::new();
/// let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000);
/// let figures = timing::line_item_segments(&store, 30, now);
/// assert_eq!(figures.len(), timing::PREDICATES.len());
/// assert_eq!(figures[0].count, 30); // every customer has two orders
/// ```
///
/// # Panics
/// When the store refuses a write or a query (a measurement's setup must hold).
#[allow(clippy::unwrap_used, clippy::missing_panics_doc)]
pub fn line_item_segments<S: Store>(store: &S, n: u128, now: DateTime<Utc>) -> Vec<Timing> {
    let t = TenantId::from_u128(1);
    let usd = |c: i64| Money::new(Decimal::new(c, 2), Currency::USD);
    let cats = ["tea", "cups", "pots"];
    let started = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1_000) {
        let mut cs = Changeset::new();
        for &i in chunk {
            let c = CustomerId::from_u128(i + 1);
            let mut acts = Vec::new();
            let mut lists = Vec::new();
            for k in 0..2u128 {
                let days = i64::try_from((i * 7 + k * 131) % 700).unwrap();
                let sku = Sku::new(format!("sku-{}", (i * 3 + k * 17) % 500)).unwrap();
                let cat =
                    ProductCategory::new(cats[usize::try_from((i + k) % 3).unwrap()]).unwrap();
                let cents = 500 + i64::try_from(i % 97).unwrap() * 100;
                let line = LineItem::new(sku, 1, usd(cents), Some(cat)).unwrap();
                let key = format!("o-{i}-{k}");
                let a = Activity::new(
                    ActivityId::from_u128((i + 1) * 10 + k),
                    c,
                    now - Duration::days(days),
                    Channel::Web,
                    IdempotencyKey::new(key.clone()).unwrap(),
                    ActivityKind::Purchase {
                        order_id: OrderId::new(key).unwrap(),
                        amount: line.total().unwrap(),
                        margin: None,
                    },
                )
                .unwrap();
                lists.push(LineItems::of(&a, vec![line], false).unwrap());
                acts.push(a);
            }
            acts.sort_by_key(|a| a.at);
            let stats = Stats::from_activities(&acts).unwrap();
            cs.create(
                Customer::new(t, c, Profile::default(), now - Duration::days(800)),
                stats,
            );
            cs.activities.extend(acts);
            cs.line_items.extend(lists);
        }
        block_on(store.apply(t, &cs)).unwrap();
    }
    println!(
        "loaded {n} customers, {} line lists in {:?}",
        2 * n,
        started.elapsed()
    );
    PREDICATES
        .iter()
        .map(|text| {
            let seg = Segment::parse(text).unwrap();
            let started = Instant::now();
            let mut count = 0;
            let mut page = Page::first(1_000);
            loop {
                let rows = block_on(store.query(t, &seg, now, page)).unwrap();
                count += rows.len();
                if rows.len() < 1_000 {
                    break;
                }
                page.after = rows.last().map(|r| r.customer.id());
            }
            let elapsed = started.elapsed();
            println!("{text:45} {count:>7} customers in {elapsed:?}");
            Timing {
                segment: text,
                count,
                elapsed,
            }
        })
        .collect()
}

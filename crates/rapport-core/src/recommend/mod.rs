//! Item-to-item recommendations on co-purchases (Linden, Smith & York, 2003), as DOMAIN.md
//! "Products and recommendations" defines them: the cosine similarity of two items over the
//! customers who bought them, a minimum support, each item's K nearest neighbours, scores for a
//! customer summed over what it bought, each recommendation explained by the items behind it,
//! and the most popular items of the customer's tier when nothing scores. Pure and
//! deterministic: ties go to the smaller [`Sku`](crate::Sku).
//!
//! ```
//! use rapport_core::{CustomerId, Sku};
//! use rapport_core::recommend::{CosineParams, ItemModel};
//! let sku = |s: &str| Sku::new(s).unwrap();
//! let c = |n| CustomerId::from_u128(n);
//! // Tea and cups go together for three customers; a fourth buys tea alone.
//! let bought = [(c(1), sku("tea")), (c(1), sku("cup")), (c(2), sku("tea")), (c(2), sku("cup")),
//!               (c(3), sku("tea")), (c(3), sku("cup")), (c(4), sku("tea"))];
//! let model = ItemModel::build(bought.iter().map(|(c, s)| (*c, s)), CosineParams::default());
//! let recs = model.recommend(&[sku("tea")], 10, |_| false);
//! assert_eq!(recs[0].sku, sku("cup"));
//! assert!((recs[0].score - 3.0 / 12f64.sqrt()).abs() < 1e-12); // 3 / sqrt(4 × 3)
//! assert_eq!(recs[0].because[0].0, sku("tea"));
//! ```

pub mod cosine;
pub mod popular;

pub use cosine::{CosineParams, ItemModel, Neighbour, Recommendation};
pub use popular::{Popularity, recommend_with_fallback};

//! Customer lifetime value for **rapport**: the BG/NBD, Pareto/NBD and MBG/NBD purchase
//! models on (frequency, recency, T) summaries, BG/BB on discrete opportunities, and the
//! Gamma-Gamma spend model, fitted by maximum likelihood and reproducing the Python
//! `lifetimes` package; summaries from raw transactions with the same
//! rules; CLV as `lifetimes` computes it; historical, retention and DCF CLV; and CRV.
//!
//! Pure numerics: no IO, no clock, no randomness. `f64` inside the models, `Decimal` at the
//! money boundary.
//!
//! ```
//! use rapport_clv::{BgNbd, GammaGamma};
//! let rows = vec![(2.0, 30.43, 38.86), (1.0, 1.71, 38.86), (0.0, 0.0, 38.86), (0.0, 0.0, 38.86)];
//! let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
//! assert!(bg.p_alive(2.0, 30.43, 38.86) > bg.p_alive(1.0, 1.71, 38.86));
//! assert!(bg.log_likelihood(&rows).is_finite());
//! ```
#![forbid(unsafe_code)]

pub mod bgbb;
pub mod bgnbd;
pub mod count;
pub mod error;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod optimize;
pub mod pareto_nbd;
pub mod special;
pub mod summary;
pub mod value;

pub use bgbb::{BgBb, Opportunities};
pub use bgnbd::BgNbd;
pub use count::{CountModel, Fit};
pub use error::ClvError;
pub use gamma_gamma::GammaGamma;
pub use mbgnbd::MbgNbd;
pub use pareto_nbd::ParetoNbd;
pub use summary::{Period, Summary, summarize};
pub use value::{
    Referred, clv, crv, dcf_clv, discount_monthly, discounted_purchases, historical_clv,
    retention_clv,
};

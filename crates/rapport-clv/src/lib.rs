//! Customer lifetime value for **rapport**: probabilistic purchase and spend models fitted by
//! maximum likelihood, reproducing the Python `lifetimes` package (0.11.3) to 1e-6, and the
//! value formulas built on them.
//!
//! | model | for | type | fitted on |
//! |---|---|---|---|
//! | BG/NBD (Fader, Hardie & Lee 2005) | purchases in continuous time | [`BgNbd`] | `(frequency, recency, T)` rows |
//! | Pareto/NBD (Schmittlein, Morrison & Colombo 1987) | purchases in continuous time | [`ParetoNbd`] | `(frequency, recency, T)` rows |
//! | MBG/NBD (Batislam, Denizel & Filiztekin 2007) | purchases in continuous time, dropout possible at once | [`MbgNbd`] | `(frequency, recency, T)` rows |
//! | BG/BB (Fader, Hardie & Shang 2010) | transactions at discrete opportunities (a yearly gift) | [`BgBb`] | weighted [`Opportunities`] |
//! | Gamma-Gamma (Fader, Hardie & Lee 2005) | spend per transaction | [`GammaGamma`] | `(frequency, monetary_value)` rows |
//!
//! The three continuous-time models implement [`CountModel`] (expected purchases, P(alive),
//! likelihood); every `fit` returns a [`Fit`] (the model, its log-likelihood, customers and
//! rows skipped) or a typed [`ClvError`]. Around them:
//!
//! - [`summarize`]: the [`Summary`] of each customer (frequency, recency, T, monetary value)
//!   from `(customer, date, amount)` rows, with `lifetimes`' rules, by [`Period`];
//! - [`clv`]: `lifetimes`' CLV from a count model and Gamma-Gamma, with months, discount and
//!   period in [`ClvParams`]; [`discounted_purchases`] and [`discount_monthly`] for valuing
//!   many customers at once;
//! - [`historical_clv`], [`retention_value`] and [`dcf_value`]: the simple CLV forms, and
//!   [`referral_value`]: the customer referral value (CRV) of [`Referral`]s — all in
//!   `Decimal`, with their inputs validated.
//!
//! Pure numerics: no IO, no clock, no randomness. `f64` inside the models, `Decimal` at the
//! money boundary. docs/clv.md has the formulas and the validation against `lifetimes`.
//!
//! ```
//! use rapport_clv::{BgNbd, ClvParams, GammaGamma, Period, Summary, clv};
//! // (frequency, recency, T) of four customers observed for 38.86 weeks.
//! let rows = vec![(2.0, 30.43, 38.86), (1.0, 1.71, 38.86), (0.0, 0.0, 38.86), (0.0, 0.0, 38.86)];
//! // lifetimes' BG/NBD and Gamma-Gamma fits on the CDNOW customers, in weeks.
//! let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
//! let spend = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
//! assert!(bg.p_alive(2.0, 30.43, 38.86) > bg.p_alive(1.0, 1.71, 38.86));
//! assert!(bg.log_likelihood(&rows).is_finite());
//! // The next 12 months of CDNOW customer 1, discounted at 1 % a month.
//! let customer = Summary { frequency: 2.0, recency: 30.43, t: 38.86, monetary_value: 22.35 };
//! let value = clv(&bg, &spend, &customer, &ClvParams::new(Period::Week));
//! assert!((value - 36.278).abs() < 0.01);
//! ```
#![forbid(unsafe_code)]

pub mod bgbb;
pub mod bgnbd;
pub mod count;
mod dual;
pub mod error;
pub mod gamma_gamma;
pub mod mbgnbd;
pub mod money_value;
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
pub use money_value::{
    Referral, ReferralPeriod, ReferralValue, dcf_value, referral_value, retention_value,
};
pub use pareto_nbd::ParetoNbd;
pub use summary::{Period, Summary, summarize};
pub use value::{ClvParams, clv, discount_monthly, discounted_purchases, historical_clv};

//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), with
//! the likelihood and predictions exactly as the `lifetimes` package computes them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::ClvError;
use crate::optimize::minimize;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};

/// BG/NBD parameters: purchase rates Gamma(r, α), dropout probabilities Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma, in periods.
    pub alpha: f64,
    /// Beta shape a of the dropout probability.
    pub a: f64,
    /// Beta shape b of the dropout probability.
    pub b: f64,
}

/// A fitted model with its fit statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit<M> {
    /// The parameters.
    pub model: M,
    /// Total log-likelihood over the customers, on the unscaled data.
    pub log_likelihood: f64,
    /// Customers fitted.
    pub customers: usize,
    /// Rows skipped before fitting.
    pub skipped: usize,
    /// Optimiser iterations.
    pub iterations: usize,
}

pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), ClvError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ClvError::InvalidParameter { name, value })
    }
}

/// Groups identical rows, with counts: the likelihood of a million customers collapses to the
/// distinct `(frequency, recency, T)` triples.
pub(crate) fn group(rows: &[(f64, f64, f64)]) -> Vec<((f64, f64, f64), f64)> {
    let mut m: HashMap<(u64, u64, u64), f64> = HashMap::new();
    for (x, tx, t) in rows {
        *m.entry((x.to_bits(), tx.to_bits(), t.to_bits()))
            .or_insert(0.0) += 1.0;
    }
    let mut v: Vec<_> = m
        .into_iter()
        .map(|((x, tx, t), w)| {
            (
                (f64::from_bits(x), f64::from_bits(tx), f64::from_bits(t)),
                w,
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    v
}

impl BgNbd {
    /// Checked parameters.
    ///
    /// # Errors
    /// [`ClvError::InvalidParameter`] unless all are positive and finite.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, ClvError> {
        check_positive("r", r)?;
        check_positive("alpha", alpha)?;
        check_positive("a", a)?;
        check_positive("b", b)?;
        Ok(Self { r, alpha, a, b })
    }

    /// Log-likelihood of one customer with `x` repeat purchases, the last at `tx`, observed
    /// for `t` periods.
    #[must_use]
    pub fn log_likelihood_one(&self, x: f64, tx: f64, t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        let a4 = if x > 0.0 {
            a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + tx).ln()
        } else {
            f64::NEG_INFINITY
        };
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// Total log-likelihood of `(frequency, recency, T)` rows.
    #[must_use]
    pub fn log_likelihood(&self, rows: &[(f64, f64, f64)]) -> f64 {
        rows.iter()
            .map(|(x, tx, t)| self.log_likelihood_one(*x, *tx, *t))
            .sum()
    }

    /// Fits by maximum likelihood on `(frequency, recency, T)` rows (identical rows grouped).
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`], [`ClvError::Empty`], [`ClvError::NotConverged`].
    pub fn fit(rows: &[(f64, f64, f64)]) -> Result<Fit<BgNbd>, ClvError> {
        for (i, (x, tx, t)) in rows.iter().enumerate() {
            crate::summary::Summary {
                frequency: *x,
                recency: *tx,
                t: *t,
                monetary_value: 0.0,
            }
            .validate(i)?;
        }
        if rows.is_empty() {
            return Err(ClvError::Empty { skipped: 0 });
        }
        // As lifetimes does: scale time so the largest T is 10, fit on log-parameters.
        let max_t = rows.iter().map(|r| r.2).fold(0.0, f64::max);
        let scale = if max_t > 0.0 { 10.0 / max_t } else { 1.0 };
        let scaled: Vec<(f64, f64, f64)> = rows
            .iter()
            .map(|(x, tx, t)| (*x, tx * scale, t * scale))
            .collect();
        let groups = group(&scaled);
        let nll = |p: &[f64]| -> f64 {
            let m = BgNbd {
                r: p[0].exp(),
                alpha: p[1].exp(),
                a: p[2].exp(),
                b: p[3].exp(),
            };
            let ll: f64 = groups
                .iter()
                .map(|((x, tx, t), w)| w * m.log_likelihood_one(*x, *tx, *t))
                .sum();
            if ll.is_finite() { -ll } else { f64::INFINITY }
        };
        let min = minimize(&nll, &[0.0; 4], rows.len() as f64, 1e-6)?;
        let p = &min.x;
        let model = BgNbd::new(p[0].exp(), p[1].exp() / scale, p[2].exp(), p[3].exp())?;
        Ok(Fit {
            log_likelihood: model.log_likelihood(rows),
            model,
            customers: rows.len(),
            skipped: 0,
            iterations: min.iterations,
        })
    }

    /// Expected repeat purchases in the next `t` periods of a customer with history
    /// `(x, tx, big_t)`.
    #[must_use]
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let ca = r + x;
        let cb = b + x;
        let cc = a + b + x - 1.0;
        let z = t / (alpha + big_t + t);
        let mut ln_hyp = hyp2f1(ca, cb, cc, z).ln();
        if !ln_hyp.is_finite() {
            ln_hyp = hyp2f1(cc - ca, cc - cb, cc, z).ln() + (cc - ca - cb) * (1.0 - z).ln();
        }
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - (ln_hyp + (r + x) * ((alpha + big_t) / (alpha + t + big_t)).ln()).exp();
        let numerator = first * second;
        let denominator = if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((alpha + big_t) / (alpha + tx)).powf(r + x)
        } else {
            1.0
        };
        numerator / denominator
    }

    /// P(alive) of a customer with history `(x, tx, big_t)` (1 without repeat purchases).
    #[must_use]
    pub fn p_alive(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let Self { r, alpha, a, b } = *self;
        let log_div = (r + x) * ((alpha + big_t) / (alpha + tx)).ln() + (a / (b + x - 1.0)).ln();
        1.0 / (1.0 + log_div.exp())
    }

    /// Expected purchases of a new customer in `t` periods.
    #[must_use]
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t));
        (a + b - 1.0) / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)).powf(r))
    }
}

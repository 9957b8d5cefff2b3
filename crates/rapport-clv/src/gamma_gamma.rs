//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"), as `lifetimes`
//! computes it.

use serde::{Deserialize, Serialize};

use crate::count::{Fit, check_positive, group};
use crate::error::ClvError;
use crate::optimize::minimize;
use crate::special::ln_gamma;

/// Gamma-Gamma parameters p, q, v.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of the per-transaction spend.
    pub p: f64,
    /// Shape of the spend scale's gamma.
    pub q: f64,
    /// Scale of the spend scale's gamma.
    pub v: f64,
}

impl GammaGamma {
    /// Checked parameters.
    ///
    /// # Errors
    /// [`ClvError::InvalidParameter`].
    pub fn new(p: f64, q: f64, v: f64) -> Result<Self, ClvError> {
        check_positive("p", p)?;
        check_positive("q", q)?;
        check_positive("v", v)?;
        Ok(Self { p, q, v })
    }

    /// Log-likelihood of one repeat customer (`x` > 0 purchases of mean value `m` > 0).
    #[must_use]
    pub fn log_likelihood_one(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + (p * x) * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }

    /// Fits on `(frequency, monetary_value)` rows; rows without a repeat purchase or with
    /// no spend are skipped (and counted in [`Fit::skipped`]).
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`], [`ClvError::Empty`], [`ClvError::NotConverged`].
    pub fn fit(rows: &[(f64, f64)]) -> Result<Fit<GammaGamma>, ClvError> {
        let mut kept = Vec::new();
        for (i, (x, m)) in rows.iter().enumerate() {
            for (field, v) in [("frequency", *x), ("monetary_value", *m)] {
                if !v.is_finite() || v < 0.0 {
                    return Err(ClvError::InvalidRow {
                        row: i,
                        field,
                        reason: format!("{v} is not a finite number >= 0"),
                    });
                }
            }
            if *x > 0.0 && *m > 0.0 {
                kept.push((*x, *m));
            }
        }
        let skipped = rows.len() - kept.len();
        if kept.is_empty() {
            return Err(ClvError::Empty { skipped });
        }
        // Grouped (x, m) with ln m kept; sorted by x, so the terms of x alone are computed
        // once per distinct x.
        let groups: Vec<(f64, f64, f64, f64)> =
            group(&kept.iter().map(|(x, m)| (*x, *m, 0.0)).collect::<Vec<_>>())
                .into_iter()
                .map(|((x, m, _), w)| (x, m, m.ln(), w))
                .collect();
        let nll = |p: &[f64]| -> f64 {
            let (p, q, v) = (p[0].exp(), p[1].exp(), p[2].exp());
            let base = -ln_gamma(q) + q * v.ln();
            let mut last_x = f64::NAN;
            let mut x_terms = 0.0;
            let mut ll = 0.0;
            for (x, m, ln_m, w) in &groups {
                if *x != last_x {
                    last_x = *x;
                    x_terms = ln_gamma(p * x + q) - ln_gamma(p * x) + p * x * x.ln();
                }
                ll += w * (base + x_terms + (p * x - 1.0) * ln_m - (p * x + q) * (x * m + v).ln());
            }
            if ll.is_finite() { -ll } else { f64::INFINITY }
        };
        let min = minimize(&nll, &[0.0; 3], kept.len() as f64, 1e-6)?;
        let model = GammaGamma::new(min.x[0].exp(), min.x[1].exp(), min.x[2].exp())?;
        Ok(Fit {
            log_likelihood: kept
                .iter()
                .map(|(x, m)| model.log_likelihood_one(*x, *m))
                .sum(),
            model,
            customers: kept.len(),
            skipped,
            iterations: min.iterations,
        })
    }

    /// Expected average profit per transaction of a customer with `x` repeat purchases of mean
    /// value `m` (the population mean `v·p/(q−1)` when `x` = 0).
    #[must_use]
    pub fn conditional_expected_average_profit(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        let w = p * x / (p * x + q - 1.0);
        let population = v * p / (q - 1.0);
        (1.0 - w) * population + w * m
    }
}

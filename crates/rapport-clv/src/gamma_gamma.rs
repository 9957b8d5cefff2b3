//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"), as `lifetimes`
//! computes it.

use serde::{Deserialize, Serialize};

use crate::count::{Fit, check_positive, group};
use crate::error::ClvError;
use crate::optimize::minimize;
use crate::special::ln_gamma;

/// Gamma-Gamma parameters p, q, v.
///
/// ```
/// use rapport_clv::GammaGamma;
/// // lifetimes' fit on the CDNOW repeat customers.
/// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
/// let population = gg.v * gg.p / (gg.q - 1.0);
/// assert_eq!(gg.conditional_expected_average_profit(0.0, 0.0), population);
/// // A customer's own mean is shrunk towards the population mean, less so with more purchases.
/// let two = gg.conditional_expected_average_profit(2.0, 22.35);
/// let twenty = gg.conditional_expected_average_profit(20.0, 22.35);
/// assert!(population > two && two > twenty && twenty > 22.35);
/// assert!(gg.log_likelihood_one(2.0, 22.35).is_finite());
/// assert!(GammaGamma::new(6.2488, 0.0, 15.4477).is_err());
/// ```
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

    /// Log-likelihood of one repeat customer (`x` > 0 purchases of mean value `m` > 0): the
    /// density of the mean `m`.
    ///
    /// ```
    /// use rapport_clv::GammaGamma;
    /// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
    /// // A density over m: integrating it (crudely) over 0..2000 gives about 1.
    /// let h = 0.01;
    /// let mass: f64 = (1..200_000).map(|i| gg.log_likelihood_one(3.0, i as f64 * h).exp() * h).sum();
    /// assert!((mass - 1.0).abs() < 1e-2);
    /// ```
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
    ///
    /// ```
    /// use rapport_clv::GammaGamma;
    /// // (repeat purchases, mean value of those purchases) of 11 customers; the last has no repeat.
    /// let rows = [(1.0, 12.0), (1.0, 95.0), (2.0, 20.0), (2.0, 70.0), (3.0, 15.0), (3.0, 45.0),
    ///             (4.0, 30.0), (5.0, 22.0), (6.0, 60.0), (8.0, 18.0), (0.0, 0.0)];
    /// let fit = GammaGamma::fit(&rows).unwrap();
    /// assert_eq!((fit.customers, fit.skipped), (10, 1));
    /// let cdnow = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
    /// let ll = |m: &GammaGamma| rows[..10].iter().map(|(x, v)| m.log_likelihood_one(*x, *v)).sum::<f64>();
    /// assert!((fit.log_likelihood - ll(&fit.model)).abs() < 1e-9);
    /// assert!(fit.log_likelihood > ll(&cdnow));
    /// assert!(GammaGamma::fit(&[(1.0, -5.0)]).is_err());
    /// ```
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
    ///
    /// ```
    /// use rapport_clv::GammaGamma;
    /// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
    /// // lifetimes gives 24.6586 for CDNOW customer 1 (2 repeat purchases, mean 22.35).
    /// assert!((gg.conditional_expected_average_profit(2.0, 22.35) - 24.6586).abs() < 1e-3);
    /// ```
    #[must_use]
    pub fn conditional_expected_average_profit(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        let w = p * x / (p * x + q - 1.0);
        let population = v * p / (q - 1.0);
        (1.0 - w) * population + w * m
    }
}

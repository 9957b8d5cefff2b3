//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), with
//! the likelihood and predictions exactly as the `lifetimes` package computes them.

use serde::{Deserialize, Serialize};

use crate::count::{CountModel, Fit, FourParams, check_positive, fit_four};
use crate::error::ClvError;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};

/// BG/NBD parameters: purchase rates Gamma(r, α), dropout probabilities Beta(a, b).
///
/// ```
/// use rapport_clv::BgNbd;
/// // lifetimes' fit on the 2,357 CDNOW customers, in weeks; customer 1 bought twice more
/// // after the first purchase, the last time in week 30.43 of 38.86.
/// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// assert!((m.p_alive(2.0, 30.43, 38.86) - 0.7266).abs() < 1e-3);
/// assert!((m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86) - 1.2259).abs() < 1e-3);
/// assert_eq!(m.p_alive(0.0, 0.0, 38.86), 1.0); // BG/NBD: no repeat purchase, no dropout yet
/// // A new customer: nothing in no time, more over a longer horizon.
/// assert_eq!(m.expected_purchases(0.0), 0.0);
/// assert!(m.expected_purchases(52.0) > m.expected_purchases(39.0));
/// assert!(m.log_likelihood_one(2.0, 30.43, 38.86) < 0.0);
/// assert_eq!(m.log_likelihood(&[(2.0, 30.43, 38.86)]), m.log_likelihood_one(2.0, 30.43, 38.86));
/// assert!(BgNbd::new(0.2426, f64::NAN, 0.7929, 2.4258).is_err());
/// ```
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
        CountModel::log_likelihood(self, rows)
    }

    /// Fits by maximum likelihood on `(frequency, recency, T)` rows (identical rows grouped).
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`], [`ClvError::Empty`], [`ClvError::NotConverged`].
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
    /// let customers: Vec<(f64, f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let fit = BgNbd::fit(&customers).unwrap();
    /// assert_eq!(fit.customers, 91);
    /// // The maximum likelihood: better than, e.g., the CDNOW parameters on these customers.
    /// let cdnow = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
    /// assert!(fit.log_likelihood > cdnow.log_likelihood(&customers));
    /// // Weighted rows give the same fit.
    /// let weighted = BgNbd::fit_weighted(&rows, &weights).unwrap();
    /// assert!((weighted.model.r - fit.model.r).abs() < 1e-9 * fit.model.r);
    /// // Who bought recently is more likely alive than who stopped early.
    /// let m = fit.model;
    /// assert!(m.p_alive(2.0, 34.0, 38.0) > m.p_alive(2.0, 10.0, 38.0));
    /// ```
    pub fn fit(rows: &[(f64, f64, f64)]) -> Result<Fit<BgNbd>, ClvError> {
        fit_four(rows, None)
    }

    /// Fits on rows with weights (how many customers share each row, as `lifetimes`'
    /// `weights`); rows of weight 0 are skipped. [`Fit::customers`] is the sum of the weights.
    ///
    /// # Errors
    /// As [`BgNbd::fit`], and [`ClvError::InvalidRow`] for a negative weight or a weight count
    /// that differs from the row count.
    ///
    /// ```
    /// use rapport_clv::{BgNbd, ClvError};
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let fit = BgNbd::fit_weighted(&rows, &[60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0]).unwrap();
    /// assert_eq!(fit.customers, 91);
    /// let mut zero = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0, 0.0];
    /// let mut more = rows.to_vec();
    /// more.push((9.0, 37.5, 38.0));
    /// assert_eq!(BgNbd::fit_weighted(&more, &zero).unwrap().skipped, 1); // weight 0: skipped
    /// zero[8] = -1.0;
    /// assert!(matches!(BgNbd::fit_weighted(&more, &zero), Err(ClvError::InvalidRow { row: 8, field: "weights", .. })));
    /// assert!(BgNbd::fit_weighted(&rows, &[1.0]).is_err()); // one weight per row
    /// ```
    pub fn fit_weighted(rows: &[(f64, f64, f64)], weights: &[f64]) -> Result<Fit<BgNbd>, ClvError> {
        fit_four(rows, Some(weights))
    }

    /// Expected repeat purchases in the next `t` periods of a customer with history
    /// `(x, tx, big_t)`.
    #[must_use]
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
        self.numerator(t, x, big_t) / self.denominator(x, tx, big_t)
    }

    /// [`CountModel::conditional_expected_purchases_many`]: the hypergeometric part once per
    /// distinct `(x, T)` and horizon.
    #[must_use]
    pub fn conditional_expected_purchases_many(
        &self,
        histories: &[(f64, f64, f64)],
        horizons: &[f64],
    ) -> Vec<f64> {
        crate::count::many_by_parts(
            histories,
            horizons,
            |t, x, big_t| self.numerator(t, x, big_t),
            |x, tx, big_t| self.denominator(x, tx, big_t),
        )
    }

    /// The part of the conditional expectation that does not depend on `tx`.
    fn numerator(&self, t: f64, x: f64, big_t: f64) -> f64 {
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
        first * second
    }

    fn denominator(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        if x > 0.0 {
            1.0 + (a / (b + x - 1.0)) * ((alpha + big_t) / (alpha + tx)).powf(r + x)
        } else {
            1.0
        }
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

crate::count::delegate_count_model!(BgNbd, many);

impl FourParams for BgNbd {
    fn from_log(p: &[f64]) -> Self {
        BgNbd {
            r: p[0].exp(),
            alpha: p[1].exp(),
            a: p[2].exp(),
            b: p[3].exp(),
        }
    }
    fn unscale(&self, scale: f64) -> Result<Self, ClvError> {
        BgNbd::new(self.r, self.alpha / scale, self.a, self.b)
    }
    fn log_likelihood_groups(&self, groups: &[((f64, f64, f64), f64)]) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let base = -ln_gamma(r) + r * ln_alpha + ln_gamma(a + b) - ln_gamma(b);
        let mut last_x = f64::NAN;
        let (mut x_terms, mut ln_ab) = (0.0, 0.0);
        let mut total = 0.0;
        for ((x, tx, t), w) in groups {
            let x = *x;
            if x != last_x {
                last_x = x;
                x_terms = ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
                ln_ab = if x > 0.0 {
                    ln_a - (b + x - 1.0).ln()
                } else {
                    0.0
                };
            }
            let a3 = -(r + x) * (alpha + t).ln();
            let a4 = if x > 0.0 {
                ln_ab - (r + x) * (alpha + tx).ln()
            } else {
                f64::NEG_INFINITY
            };
            total += w * (base + x_terms + log_add_exp(a3, a4));
        }
        total
    }
}

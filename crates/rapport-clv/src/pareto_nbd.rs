//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), with the likelihood and
//! predictions of Fader & Hardie's note 009 exactly as the `lifetimes` package computes them.

use serde::{Deserialize, Serialize};

use crate::count::{Fit, FourParams, check_positive, fit_four};
use crate::error::ClvError;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};

/// Pareto/NBD parameters: purchase rates Gamma(r, α), dropout rates Gamma(s, β).
///
/// ```
/// use rapport_clv::{CountModel, ParetoNbd};
/// // lifetimes' fit on the 2,357 CDNOW customers, in weeks.
/// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap();
/// let p = m.p_alive(2.0, 30.43, 38.86);
/// assert!((p - 0.8691).abs() < 1e-3);
/// // lifetimes' predictions for the same customer over 39 weeks, and for a new customer.
/// assert!((m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86) - 1.4551).abs() < 1e-3);
/// assert!(m.expected_purchases(52.0) > m.expected_purchases(26.0));
/// assert!(m.log_likelihood_one(2.0, 30.43, 38.86) < 0.0);
/// assert!(ParetoNbd::new(0.5533, 10.5778, 0.0, 11.6669).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma, in periods.
    pub alpha: f64,
    /// Shape of the dropout-rate gamma.
    pub s: f64,
    /// Scale (rate) of the dropout-rate gamma, in periods.
    pub beta: f64,
}

impl ParetoNbd {
    /// The model with parameters r, α, s, β, each checked to be a positive finite number.
    ///
    /// ```
    /// use rapport_clv::{ClvError, ParetoNbd};
    /// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap();
    /// assert_eq!((m.s, m.beta), (0.6062, 11.6669));
    /// assert!(matches!(ParetoNbd::new(-0.5, 10.5778, 0.6062, 11.6669), Err(ClvError::InvalidParameter { .. })));
    /// ```
    ///
    /// # Errors
    /// [`ClvError::InvalidParameter`] unless all are positive and finite.
    pub fn new(r: f64, alpha: f64, s: f64, beta: f64) -> Result<Self, ClvError> {
        check_positive("r", r)?;
        check_positive("alpha", alpha)?;
        check_positive("s", s)?;
        check_positive("beta", beta)?;
        Ok(Self { r, alpha, s, beta })
    }

    /// Fits by maximum likelihood on `(frequency, recency, T)` rows (identical rows grouped).
    /// The surface is flat: different optimisers agree on the log-likelihood to 1e-6 but on
    /// the parameters only to about 1e-4 relative.
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`], [`ClvError::Empty`], [`ClvError::NotConverged`].
    ///
    /// ```
    /// use rapport_clv::{CountModel, ParetoNbd};
    /// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
    /// let customers: Vec<(f64, f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let fit = ParetoNbd::fit(&customers).unwrap();
    /// assert_eq!(fit.customers, 91);
    /// // The maximum likelihood: better than, e.g., the CDNOW parameters on these customers.
    /// assert!(fit.log_likelihood > ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap().log_likelihood(&customers));
    /// let m = fit.model;
    /// assert!(m.p_alive(2.0, 34.0, 38.0) > m.p_alive(2.0, 10.0, 38.0));
    /// ```
    pub fn fit(rows: &[(f64, f64, f64)]) -> Result<Fit<ParetoNbd>, ClvError> {
        fit_four(rows, None)
    }

    /// Fits on rows with weights (how many customers share each row, as `lifetimes`'
    /// `weights`); rows of weight 0 are skipped. [`Fit::customers`] is the sum of the weights.
    ///
    /// # Errors
    /// As [`ParetoNbd::fit`], and [`ClvError::InvalidRow`] for a negative weight or a weight count
    /// that differs from the row count.
    ///
    /// ```
    /// use rapport_clv::ParetoNbd;
    /// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
    /// let customers: Vec<(f64, f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let weighted = ParetoNbd::fit_weighted(&rows, &weights).unwrap();
    /// let plain = ParetoNbd::fit(&customers).unwrap();
    /// assert_eq!(weighted.customers, plain.customers);
    /// assert!((weighted.log_likelihood - plain.log_likelihood).abs() < 1e-6);
    /// ```
    pub fn fit_weighted(
        rows: &[(f64, f64, f64)],
        weights: &[f64],
    ) -> Result<Fit<ParetoNbd>, ClvError> {
        fit_four(rows, Some(weights))
    }

    /// ln A₀ of note 009, eqs. (19)–(20).
    fn log_a0(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        let (lo, hi, t) = if alpha < beta {
            (alpha, beta, r + x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let diff = hi - lo;
        let rsf = r + s + x;
        let p1 = hyp2f1(rsf, t, rsf + 1.0, diff / (hi + tx));
        let q1 = hi + tx;
        let p2 = hyp2f1(rsf, t, rsf + 1.0, diff / (hi + big_t));
        let q2 = hi + big_t;
        // ln(p1 q2^rsf − p2 q1^rsf) − rsf ln(q1 q2), the difference taken in log space.
        let u = p1.ln() + rsf * q2.ln();
        let v = p2.ln() + rsf * q1.ln();
        let m = u.max(v);
        let diff = (u - m).exp() - (v - m).exp();
        let ln_diff = if diff > 0.0 {
            m + diff.ln()
        } else if diff == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
        ln_diff - rsf * (q1 * q2).ln()
    }

    /// Log-likelihood of one customer (note 009, eq. 18).
    ///
    /// ```
    /// use rapport_clv::ParetoNbd;
    /// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// let ll = m.log_likelihood_one(2.0, 30.43, 38.86);
    /// assert!(ll < 0.0 && ll.is_finite());
    /// assert!(m.log_likelihood_one(0.0, 0.0, 38.86) > ll); // no repeat purchase is the likeliest history
    /// ```
    #[must_use]
    pub fn log_likelihood_one(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let a0 = self.log_a0(x, tx, big_t);
        let a2 = log_add_exp(
            -(r + x) * (alpha + big_t).ln() - s * (beta + big_t).ln(),
            s.ln() + a0 - (r + s + x).ln(),
        );
        a1 + a2
    }

    /// Expected repeat purchases in the next `t` periods (note 009, eq. 41).
    ///
    /// ```
    /// use rapport_clv::ParetoNbd;
    /// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// // lifetimes gives 1.4551 for CDNOW customer 1 over the next 39 weeks.
    /// assert!((m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86) - 1.4551).abs() < 1e-3);
    /// ```
    #[must_use]
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        let ll = self.log_likelihood_one(x, tx, big_t);
        let first = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + big_t).ln()
            - s * (beta + big_t).ln();
        let second = (r + x).ln() + (beta + big_t).ln() - (alpha + big_t).ln();
        let third = ((1.0 - ((beta + big_t) / (beta + big_t + t)).powf(s - 1.0)) / (s - 1.0)).ln();
        (first + second + third - ll).exp()
    }

    /// Probability that a customer with history `(x, tx, big_t)` is still alive at `big_t`
    /// (note 009, eqs. 36–37).
    ///
    /// ```
    /// use rapport_clv::ParetoNbd;
    /// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// assert!((m.p_alive(2.0, 30.43, 38.86) - 0.8691).abs() < 1e-3); // lifetimes' value
    /// assert!(m.p_alive(2.0, 5.0, 38.86) < 0.8691);
    /// ```
    #[must_use]
    pub fn p_alive(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        let a0 = self.log_a0(x, tx, big_t);
        1.0 / (1.0
            + (s.ln() - (r + s + x).ln()
                + (r + x) * (alpha + big_t).ln()
                + s * (beta + big_t).ln()
                + a0)
                .exp())
    }

    /// Expected purchases of a new customer in `t` periods (note 009, eq. 27).
    ///
    /// ```
    /// use rapport_clv::ParetoNbd;
    /// let m = ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// assert_eq!(m.expected_purchases(0.0), 0.0);
    /// assert!(m.expected_purchases(52.0) > m.expected_purchases(26.0));
    /// ```
    #[must_use]
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        r * beta / alpha / (s - 1.0) * (1.0 - (beta / (beta + t)).powf(s - 1.0))
    }
}

crate::count::delegate_count_model!(ParetoNbd);

impl FourParams for ParetoNbd {
    fn from_log(p: &[f64]) -> Self {
        ParetoNbd {
            r: p[0].exp(),
            alpha: p[1].exp(),
            s: p[2].exp(),
            beta: p[3].exp(),
        }
    }
    fn unscale(&self, scale: f64) -> Result<Self, ClvError> {
        ParetoNbd::new(self.r, self.alpha / scale, self.s, self.beta / scale)
    }
}

//! The MBG/NBD model (Batislam, Denizel & Filiztekin 2007): BG/NBD where a customer may also
//! drop out right after the first purchase, as the `lifetimes` package computes it.

use serde::{Deserialize, Serialize};

use crate::count::{Fit, FourParams, check_positive};
use crate::error::ClvError;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};

/// MBG/NBD parameters: purchase rates Gamma(r, α), dropout probabilities Beta(a, b).
///
/// ```
/// use rapport_clv::{CountModel, MbgNbd};
/// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
/// // Unlike BG/NBD, a customer without repeat purchases may already be gone.
/// assert!(m.p_alive(0.0, 0.0, 38.86) < 1.0);
/// assert!(m.conditional_expected_purchases(52.0, 2.0, 30.43, 38.86) > m.conditional_expected_purchases(52.0, 0.0, 0.0, 38.86));
/// assert!(m.expected_purchases(52.0) > m.expected_purchases(26.0));
/// assert!(m.log_likelihood_one(0.0, 0.0, 38.86) < 0.0);
/// assert!(MbgNbd::new(-1.0, 6.1830, 0.8914, 1.6140).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MbgNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (rate) of the purchase-rate gamma, in periods.
    pub alpha: f64,
    /// Beta shape a of the dropout probability.
    pub a: f64,
    /// Beta shape b of the dropout probability.
    pub b: f64,
}

impl MbgNbd {
    /// The model with parameters r, α, a, b, each checked to be a positive finite number.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// assert!(MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).is_ok());
    /// assert!(MbgNbd::new(0.5248, 6.1830, f64::NAN, 1.6140).is_err());
    /// ```
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

    /// Fits by maximum likelihood on `(frequency, recency, T)` rows (identical rows grouped).
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`], [`ClvError::Empty`], [`ClvError::NotConverged`].
    ///
    /// ```
    /// use rapport_clv::{CountModel, MbgNbd};
    /// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
    /// let customers: Vec<(f64, f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let fit = MbgNbd::fit(&customers).unwrap();
    /// assert_eq!(fit.customers, 91);
    /// // The maximum likelihood: better than, e.g., the CDNOW parameters on these customers.
    /// assert!(fit.log_likelihood > MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap().log_likelihood(&customers));
    /// let m = fit.model;
    /// assert!(m.p_alive(2.0, 34.0, 38.0) > m.p_alive(2.0, 10.0, 38.0));
    /// ```
    pub fn fit(rows: &[(f64, f64, f64)]) -> Result<Fit<MbgNbd>, ClvError> {
        crate::bgnbd::fit_newton(rows, None, true)
    }

    /// Fits on rows with weights (how many customers share each row, as `lifetimes`'
    /// `weights`); rows of weight 0 are skipped. [`Fit::customers`] is the sum of the weights.
    ///
    /// # Errors
    /// As [`MbgNbd::fit`], and [`ClvError::InvalidRow`] for a negative weight or a weight count
    /// that differs from the row count.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
    /// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
    ///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
    /// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
    /// let customers: Vec<(f64, f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let weighted = MbgNbd::fit_weighted(&rows, &weights).unwrap();
    /// let plain = MbgNbd::fit(&customers).unwrap();
    /// assert_eq!(weighted.customers, plain.customers);
    /// assert!((weighted.log_likelihood - plain.log_likelihood).abs() < 1e-6);
    /// ```
    pub fn fit_weighted(
        rows: &[(f64, f64, f64)],
        weights: &[f64],
    ) -> Result<Fit<MbgNbd>, ClvError> {
        crate::bgnbd::fit_newton(rows, Some(weights), true)
    }

    /// Log-likelihood of one customer with `x` repeat purchases, the last at `tx`, observed for
    /// `big_t` periods.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
    /// let rows = [(2.0, 30.43, 38.86), (0.0, 0.0, 38.86)];
    /// let sum: f64 = rows.iter().map(|&(x, tx, t)| m.log_likelihood_one(x, tx, t)).sum();
    /// assert!((rapport_clv::CountModel::log_likelihood(&m, &rows) - sum).abs() < 1e-12);
    /// assert!(m.log_likelihood_one(2.0, 30.43, 38.86) < 0.0);
    /// ```
    #[must_use]
    pub fn log_likelihood_one(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x + 1.0) - ln_gamma(b) - ln_gamma(a + b + x + 1.0);
        let a3 = -(r + x) * (alpha + big_t).ln();
        let a4 = a.ln() - (b + x).ln() + (r + x) * ((alpha + big_t).ln() - (alpha + tx).ln());
        a1 + a2 + a3 + log_add_exp(a4, 0.0)
    }

    /// Expected repeat purchases in the next `t` periods.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
    /// let recent = m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86);
    /// assert!(recent > m.conditional_expected_purchases(39.0, 2.0, 5.0, 38.86));
    /// assert!(recent < m.conditional_expected_purchases(52.0, 2.0, 30.43, 38.86));
    /// ```
    #[must_use]
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
        self.numerator(t, x, big_t) / self.denominator(x, tx, big_t)
    }

    /// [`crate::CountModel::conditional_expected_purchases_many`]: the hypergeometric part once per
    /// distinct `(x, T)` and horizon.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
    /// let all = m.conditional_expected_purchases_many(&[(2.0, 30.43, 38.86)], &[4.345, 52.0]);
    /// assert_eq!(all, [m.conditional_expected_purchases(4.345, 2.0, 30.43, 38.86),
    ///                  m.conditional_expected_purchases(52.0, 2.0, 30.43, 38.86)]);
    /// ```
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

    fn numerator(&self, t: f64, x: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r + x, b + x + 1.0, a + b + x, t / (alpha + big_t + t));
        let first = (a + b + x) / (a - 1.0);
        let second = 1.0 - hyp * ((alpha + big_t) / (alpha + t + big_t)).powf(r + x);
        first * second
    }

    fn denominator(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        1.0 + (a / (b + x)) * ((alpha + big_t) / (alpha + tx)).powf(r + x)
    }

    /// Probability that a customer with history `(x, tx, big_t)` is still alive at `big_t`
    /// (below 1 even without repeat purchases: MBG/NBD lets a customer drop out at once).
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
    /// assert!(m.p_alive(2.0, 30.43, 38.86) > m.p_alive(2.0, 5.0, 38.86));
    /// assert!(m.p_alive(0.0, 0.0, 38.86) < 1.0); // MBG/NBD: gone possible without repeat purchases
    /// ```
    #[must_use]
    pub fn p_alive(&self, x: f64, tx: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        1.0 / (1.0 + (a / (b + x)) * ((alpha + big_t) / (alpha + tx)).powf(r + x))
    }

    /// Expected purchases of a new customer in `t` periods.
    ///
    /// ```
    /// use rapport_clv::MbgNbd;
    /// let m = MbgNbd::new(0.5248, 6.1830, 0.8914, 1.6140).unwrap();
    /// assert!(m.expected_purchases(52.0) > m.expected_purchases(26.0));
    /// assert!(m.expected_purchases(0.0).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn expected_purchases(&self, t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let hyp = hyp2f1(r, b + 1.0, a + b, t / (alpha + t));
        b / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)).powf(r))
    }
}

crate::count::delegate_count_model!(MbgNbd, many);

impl FourParams for MbgNbd {
    fn from_log(p: &[f64]) -> Self {
        MbgNbd {
            r: p[0].exp(),
            alpha: p[1].exp(),
            a: p[2].exp(),
            b: p[3].exp(),
        }
    }
    fn unscale(&self, scale: f64) -> Result<Self, ClvError> {
        MbgNbd::new(self.r, self.alpha / scale, self.a, self.b)
    }
    fn log_likelihood_groups(&self, groups: &[((f64, f64, f64), f64)]) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let ln_a = a.ln();
        let base = -ln_gamma(r) + r * alpha.ln() + ln_gamma(a + b) - ln_gamma(b);
        let mut last_x = f64::NAN;
        let (mut x_terms, mut ln_ab) = (0.0, 0.0);
        let mut total = 0.0;
        for ((x, tx, t), w) in groups {
            let x = *x;
            if x != last_x {
                last_x = x;
                x_terms = ln_gamma(r + x) + ln_gamma(b + x + 1.0) - ln_gamma(a + b + x + 1.0);
                ln_ab = ln_a - (b + x).ln();
            }
            let ln_at = (alpha + t).ln();
            let a4 = ln_ab + (r + x) * (ln_at - (alpha + tx).ln());
            total += w * (base + x_terms - (r + x) * ln_at + log_add_exp(a4, 0.0));
        }
        total
    }
}

#[cfg(test)]
mod newton {
    use super::*;
    use crate::count::fit_four;
    use crate::count::testing::grouped_rows;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The analytic MBG/NBD gradient matches central differences of the likelihood, the
        /// Hessian central differences of the gradient, and the value the model's own
        /// likelihood.
        #[test]
        fn prop_analytic_derivatives_match_finite_differences(
            lp in proptest::collection::vec(-2.0f64..2.5, 4),
            groups in grouped_rows(),
            scale in 0.05f64..2.0,
        ) {
            crate::bgnbd::tests::check::<MbgNbd>(true, &lp, &groups, scale)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_206), ..ProptestConfig::with_cases(32) })]
        /// The Newton fit reaches at least the likelihood of the derivative-free optimiser.
        #[test]
        fn newton_fit_is_as_good_as_the_derivative_free_fit(
            rows in proptest::collection::vec((0u32..12, 0.0f64..1.0, 5u32..60, 1u32..30), 1..60),
        ) {
            let (rows, weights): (Vec<(f64, f64, f64)>, Vec<f64>) = rows
                .iter()
                .map(|(x, frac, t, w)| {
                    let t = f64::from(*t);
                    let tx = if *x == 0 { 0.0 } else { (frac * t).round() };
                    ((f64::from(*x), tx, t), f64::from(*w))
                })
                .unzip();
            let new = MbgNbd::fit_weighted(&rows, &weights);
            let old = fit_four::<MbgNbd>(&rows, Some(&weights));
            let sane = |m: &MbgNbd| [m.r, m.alpha, m.a, m.b].iter().all(|v| *v < 1e6);
            if let Ok(f) = &new {
                let m = f.model;
                prop_assert!([m.r, m.alpha, m.a, m.b, f.log_likelihood].iter().all(|v| v.is_finite()));
                let direct: f64 = rows.iter().zip(&weights).map(|(r, w)| w * m.log_likelihood_one(r.0, r.1, r.2)).sum();
                prop_assert!(!sane(&m) || (f.log_likelihood - direct).abs() < 1e-8 * (1.0 + direct.abs()), "{:?} direct {}", f, direct);
            }
            if let Some(o) = old.as_ref().ok().filter(|o| sane(&o.model)) {
                let n = new.as_ref().map_err(|e| TestCaseError::fail(format!("{e} where Nelder–Mead converged to {o:?}")))?;
                prop_assert!(n.log_likelihood >= o.log_likelihood - 1e-7 * (1.0 + o.log_likelihood.abs()),
                    "{:?} vs {:?}", n, o);
            }
        }
    }
}

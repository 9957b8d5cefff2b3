//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"), as `lifetimes`
//! computes it.

use serde::{Deserialize, Serialize};

use crate::count::{BitsMap, Fit, bits_map, check_positive, validate_weights};
use crate::error::ClvError;
use crate::optimize::minimize_newton;
use crate::special::{digamma, ln_gamma, trigamma};

/// Gamma-Gamma parameters p, q, v: a customer's spend per transaction is Gamma(p, ν) with
/// the scale ν ~ Gamma(q, v) across customers.
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
    /// The model with parameters p, q, v, each checked to be a positive finite number.
    ///
    /// ```
    /// use rapport_clv::{ClvError, GammaGamma};
    /// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap(); // lifetimes' CDNOW fit
    /// assert_eq!(gg.q, 3.7446);
    /// assert!(matches!(GammaGamma::new(6.2488, 3.7446, -1.0), Err(ClvError::InvalidParameter { .. })));
    /// ```
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
        fit_gg(rows, None)
    }

    /// Fits on `(frequency, monetary_value)` rows with weights (how many customers share each
    /// row), as [`BgNbd::fit_weighted`](crate::BgNbd::fit_weighted): a caller who already
    /// grouped its customers passes the distinct rows with their counts. Rows of weight 0,
    /// without a repeat purchase or without spend are skipped ([`Fit::skipped`] counts these
    /// rows); [`Fit::customers`] is the sum of the weights of the rows fitted.
    ///
    /// # Errors
    /// As [`GammaGamma::fit`], and [`ClvError::InvalidRow`] for a negative or non-finite
    /// weight or a weight count that differs from the row count.
    ///
    /// ```
    /// use rapport_clv::{ClvError, GammaGamma};
    /// let rows = [(1.0, 12.0), (1.0, 95.0), (2.0, 20.0), (2.0, 70.0), (3.0, 15.0), (3.0, 45.0),
    ///             (4.0, 30.0), (5.0, 22.0), (6.0, 60.0), (8.0, 18.0), (0.0, 0.0)];
    /// let weights = [3.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 40.0];
    /// let fit = GammaGamma::fit_weighted(&rows, &weights).unwrap();
    /// assert_eq!((fit.customers, fit.skipped), (14, 1));
    /// // The same as fitting every customer on its own row.
    /// let customers: Vec<(f64, f64)> = rows.iter().zip(weights)
    ///     .flat_map(|(r, w)| std::iter::repeat_n(*r, w as usize)).collect();
    /// let each = GammaGamma::fit(&customers).unwrap();
    /// assert!((fit.model.p - each.model.p).abs() < 1e-9 * each.model.p);
    /// assert!((fit.log_likelihood - each.log_likelihood).abs() < 1e-9);
    /// assert!(matches!(GammaGamma::fit_weighted(&rows, &[1.0]),
    ///     Err(ClvError::InvalidRow { field: "weights", .. })));
    /// assert!(GammaGamma::fit_weighted(&rows[..1], &[-1.0]).is_err());
    /// ```
    pub fn fit_weighted(rows: &[(f64, f64)], weights: &[f64]) -> Result<Fit<GammaGamma>, ClvError> {
        fit_gg(rows, Some(weights))
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

/// Distinct `(x, m)` rows of a Gamma-Gamma fit: by distinct `x`, the rows' `m` and weights,
/// and the sums that are linear in the parameters.
#[derive(Debug)]
struct Groups {
    /// (x, summed weight, ln x) per distinct x.
    xs: Vec<(f64, f64, f64)>,
    x_starts: Vec<usize>,
    /// (m, weight).
    rows: Vec<(f64, f64)>,
    total: f64,
    /// Σ w x ln m and Σ w ln m.
    sum_x_ln_m: f64,
    sum_ln_m: f64,
}

impl Groups {
    /// From distinct `(x, m)` (as bits, sorted) with their weights.
    fn new(groups: &[((u64, u64), f64)]) -> Self {
        let (mut xs, mut x_starts) = (Vec::<(f64, f64, f64)>::new(), Vec::new());
        let mut rows = Vec::with_capacity(groups.len());
        let (mut sum_x_ln_m, mut sum_ln_m) = (0.0, 0.0);
        for (i, &((x, m), w)) in groups.iter().enumerate() {
            let (x, m) = (f64::from_bits(x), f64::from_bits(m));
            if xs.last().map(|l| l.0) != Some(x) {
                xs.push((x, 0.0, x.ln()));
                x_starts.push(i);
            }
            if let Some(last) = xs.last_mut() {
                last.1 += w;
            }
            let ln_m = m.ln();
            sum_x_ln_m += w * x * ln_m;
            sum_ln_m += w * ln_m;
            rows.push((m, w));
        }
        x_starts.push(rows.len());
        Self {
            total: xs.iter().map(|x| x.1).sum(),
            xs,
            x_starts,
            rows,
            sum_x_ln_m,
            sum_ln_m,
        }
    }

    /// The log-likelihood at `ln(p, q, v)`, with gradient and Hessian (3×3, row-major) in
    /// the log-parameters.
    fn log_likelihood(&self, lp: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let (p, q, v) = (lp[0].exp(), lp[1].exp(), lp[2].exp());
        let w_all = self.total;
        let ln_v = v.ln();
        // −lnΓ(q) + q ln v per customer, and the sums linear in p.
        let mut ll = w_all * (-ln_gamma(q) + q * ln_v) + p * self.sum_x_ln_m - self.sum_ln_m;
        let mut g = [self.sum_x_ln_m, w_all * (-digamma(q) + ln_v), w_all * q / v];
        // Natural-parameter Hessian: pp, pq, pv, qq, qv, vv.
        let (mut hpp, mut hpq, mut hpv) = (0.0, 0.0, 0.0);
        let (mut hqq, mut hqv, mut hvv) = (-w_all * trigamma(q), w_all / v, -w_all * q / (v * v));
        for (j, &(x, wx, ln_x)) in self.xs.iter().enumerate() {
            let px = p * x;
            let pxq = px + q;
            // Terms of x alone: lnΓ(px+q) − lnΓ(px) + px ln x.
            ll += wx * (ln_gamma(pxq) - ln_gamma(px) + px * ln_x);
            let (dg_pxq, tg_pxq) = (digamma(pxq), trigamma(pxq));
            g[0] += wx * x * (dg_pxq - digamma(px) + ln_x);
            g[1] += wx * dg_pxq;
            hpp += wx * x * x * (tg_pxq - trigamma(px));
            hpq += wx * x * tg_pxq;
            hqq += wx * tg_pxq;
            // Per row: −(px+q) ln(xm+v).
            let (mut sl, mut si, mut si2) = (0.0, 0.0, 0.0);
            for &(m, w) in &self.rows[self.x_starts[j]..self.x_starts[j + 1]] {
                let d = x * m + v;
                let i = 1.0 / d;
                sl += w * d.ln();
                si += w * i;
                si2 += w * i * i;
            }
            ll -= pxq * sl;
            g[0] -= x * sl;
            g[1] -= sl;
            g[2] -= pxq * si;
            hpv -= x * si;
            hqv -= si;
            hvv += pxq * si2;
        }
        let nat = [p, q, v];
        let h = [[hpp, hpq, hpv], [hpq, hqq, hqv], [hpv, hqv, hvv]];
        for i in 0..3 {
            grad[i] = nat[i] * g[i];
            for k in 0..3 {
                hess[i * 3 + k] = nat[i] * nat[k] * h[i][k] + if i == k { grad[i] } else { 0.0 };
            }
        }
        ll
    }
}

fn fit_gg(rows: &[(f64, f64)], weights: Option<&[f64]>) -> Result<Fit<GammaGamma>, ClvError> {
    let ok = |v: f64| (0.0..f64::INFINITY).contains(&v);
    if !rows.iter().fold(true, |all, (x, m)| all & ok(*x) & ok(*m)) {
        for (i, (x, m)) in rows.iter().enumerate() {
            for (field, v) in [("frequency", *x), ("monetary_value", *m)] {
                if !ok(v) {
                    return Err(ClvError::InvalidRow {
                        row: i,
                        field,
                        reason: format!("{v} is not a finite number >= 0"),
                    });
                }
            }
        }
    }
    if let Some(w) = weights {
        validate_weights(rows.len(), w)?;
    }
    // Identical (x, m) rows grouped, in one pass.
    let mut map: BitsMap<(u64, u64)> = bits_map(rows.len());
    let mut skipped = 0;
    for (i, &(x, m)) in rows.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[i]);
        if x > 0.0 && m > 0.0 && w > 0.0 {
            *map.entry((x.to_bits(), m.to_bits())).or_insert(0.0) += w;
        } else {
            skipped += 1;
        }
    }
    if map.is_empty() {
        return Err(ClvError::Empty { skipped });
    }
    let mut groups: Vec<((u64, u64), f64)> = map.into_iter().collect();
    // Sorted (positive values order as their bits): sums independent of the row order.
    groups.sort_unstable_by_key(|g| g.0);
    let data = Groups::new(&groups);
    let nll = |p: &[f64], g: &mut [f64], h: &mut [f64]| -> f64 {
        let ll = data.log_likelihood(p, g, h);
        g.iter_mut().chain(h.iter_mut()).for_each(|v| *v = -*v);
        if ll.is_finite() { -ll } else { f64::INFINITY }
    };
    // Start at p = 1, q = 2 and v = the mean spend, where the model's mean spend v·p/(q−1)
    // is the data's: the scale of the money is then right from the start.
    let mean_m = data.rows.iter().map(|(m, w)| m * w).sum::<f64>() / data.total;
    let min = minimize_newton(&nll, &[0.0, 2f64.ln(), mean_m.ln()], data.total, 1e-6)?;
    let model = GammaGamma::new(min.x[0].exp(), min.x[1].exp(), min.x[2].exp())?;
    Ok(Fit {
        log_likelihood: -min.value,
        model,
        customers: data.total.round() as usize,
        skipped,
        iterations: min.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::testing::check_derivatives;
    use proptest::prelude::*;

    /// The analytic gradient and Hessian of [`Groups::log_likelihood`] against central
    /// differences, and its value against the model's own likelihood row by row (the
    /// count models' shared check).
    fn check(data: &Groups, lp: &[f64]) -> Result<(), TestCaseError> {
        let m = GammaGamma::new(lp[0].exp(), lp[1].exp(), lp[2].exp()).unwrap();
        let direct: f64 = data
            .xs
            .iter()
            .enumerate()
            .flat_map(|(j, (x, _, _))| {
                data.rows[data.x_starts[j]..data.x_starts[j + 1]]
                    .iter()
                    .map(move |(mv, w)| (*x, *mv, *w))
            })
            .map(|(x, mv, w)| w * m.log_likelihood_one(x, mv))
            .sum();
        check_derivatives(&|p, g, h| data.log_likelihood(p, g, h), lp, direct)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// The Newton fit reaches at least the likelihood of the derivative-free optimiser, and
        /// weights are the same as repeated rows.
        #[test]
        fn newton_fit_is_as_good_as_the_derivative_free_fit(
            rows in proptest::collection::vec((0u32..12, 0.0f64..300.0, 1u32..5), 1..40),
        ) {
            let (rows, weights): (Vec<(f64, f64)>, Vec<f64>) = rows
                .iter()
                .map(|(x, m, w)| ((f64::from(*x), (m * 100.0).round() / 100.0), f64::from(*w)))
                .unzip();
            let repeated: Vec<(f64, f64)> = rows
                .iter()
                .zip(&weights)
                .flat_map(|(r, w)| std::iter::repeat_n(*r, *w as usize))
                .collect();
            let new = GammaGamma::fit_weighted(&rows, &weights);
            let each = GammaGamma::fit(&repeated);
            prop_assert_eq!(new.is_ok(), each.is_ok());
            let kept: Vec<(f64, f64, f64)> = rows
                .iter()
                .zip(&weights)
                .filter(|(r, _)| r.0 > 0.0 && r.1 > 0.0)
                .map(|(r, w)| (r.0, r.1, *w))
                .collect();
            let nll = |p: &[f64]| {
                let m = GammaGamma { p: p[0].exp(), q: p[1].exp(), v: p[2].exp() };
                let ll: f64 = kept.iter().map(|(x, mv, w)| w * m.log_likelihood_one(*x, *mv)).sum();
                if ll.is_finite() { -ll } else { f64::INFINITY }
            };
            let total: f64 = kept.iter().map(|k| k.2).sum();
            let old = crate::optimize::minimize(&nll, &[0.0; 3], total, 1e-6);
            if let (Ok(n), Ok(e)) = (&new, &each) {
                prop_assert!([n.model.p, n.model.q, n.model.v, n.log_likelihood].iter().all(|v| v.is_finite()));
                prop_assert!((n.log_likelihood - e.log_likelihood).abs() < 1e-9 * (1.0 + e.log_likelihood.abs()));
                // (Where the likelihood is flat towards p → ∞, ln Γ(px + q) − ln Γ(px) loses digits.)
                prop_assert!((n.log_likelihood + nll(&[n.model.p.ln(), n.model.q.ln(), n.model.v.ln()])).abs()
                    < 1e-6 * (1.0 + n.log_likelihood.abs()), "{:?} {}", n, nll(&[n.model.p.ln(), n.model.q.ln(), n.model.v.ln()]));
            }
            // (Past 1e6 — p → ∞ where a few rows cannot pin it — the differences of ln Γ
            // in the likelihood lose the digits to compare.)
            let sane = |o: &&crate::optimize::Minimum| o.x.iter().all(|v| *v < 1e6f64.ln());
            if let (Some(o), false) = (old.as_ref().ok().filter(sane), kept.is_empty()) {
                let n = new.as_ref().map_err(|e| TestCaseError::fail(format!("{e} where Nelder–Mead converged to {o:?}")))?;
                prop_assert!(n.log_likelihood >= -o.value - 1e-7 * (1.0 + o.value.abs()), "{:?} vs {:?}", n, o);
            }
        }

        #[test]
        fn analytic_derivatives_match_finite_differences(
            lp in proptest::collection::vec(-2.0f64..3.0, 3),
            rows in proptest::collection::vec((1u32..12, 1.0f64..300.0, 1u32..5), 1..40),
        ) {
            let mut rows: Vec<((u64, u64), f64)> = rows
                .iter()
                .map(|(x, m, w)| ((f64::from(*x).to_bits(), m.to_bits()), f64::from(*w)))
                .collect();
            rows.sort_unstable_by_key(|g| g.0);
            rows.dedup_by_key(|g| g.0);
            let data = Groups::new(&rows);
            check(&data, &lp)?;
        }
    }
}

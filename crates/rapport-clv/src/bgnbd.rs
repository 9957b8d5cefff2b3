//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), with
//! the likelihood and predictions exactly as the `lifetimes` package computes them.

use serde::{Deserialize, Serialize};

use crate::count::{CountModel, Fit, FourParams, check_positive};
use crate::error::ClvError;
use crate::special::{digamma, hyp2f1, ln_gamma, log_add_exp, softplus_sigmoid, trigamma};

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
    /// The model with parameters r, α, a, b, each checked to be a positive finite number.
    ///
    /// ```
    /// use rapport_clv::{BgNbd, ClvError};
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
    /// assert_eq!(m.alpha, 4.4135);
    /// assert!(matches!(BgNbd::new(0.2426, 0.0, 0.7929, 2.4258), Err(ClvError::InvalidParameter { .. })));
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

    /// Log-likelihood of one customer with `x` repeat purchases, the last at `tx`, observed
    /// for `t` periods.
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// // Without repeat purchases the likelihood is P(no purchase in T) = (α / (α + T))^r.
    /// let no_repeat = (4.4135_f64 / (4.4135 + 38.86)).powf(0.2426);
    /// assert!((m.log_likelihood_one(0.0, 0.0, 38.86).exp() - no_repeat).abs() < 1e-12);
    /// ```
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
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// let rows = [(2.0, 30.43, 38.86), (0.0, 0.0, 38.86)];
    /// let sum = m.log_likelihood_one(2.0, 30.43, 38.86) + m.log_likelihood_one(0.0, 0.0, 38.86);
    /// assert!((m.log_likelihood(&rows) - sum).abs() < 1e-12);
    /// ```
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
        fit_fast(rows, None)
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
        fit_fast(rows, Some(weights))
    }

    /// Expected repeat purchases in the next `t` periods of a customer with history
    /// `(x, tx, big_t)`.
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// // lifetimes gives 1.2259 for CDNOW customer 1 over the next 39 weeks.
    /// assert!((m.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86) - 1.2259).abs() < 1e-3);
    /// // Someone whose last purchase was long ago is expected to buy less.
    /// assert!(m.conditional_expected_purchases(39.0, 2.0, 5.0, 38.86) < 1.2259);
    /// ```
    #[must_use]
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
        self.numerator(t, x, big_t) / self.denominator(x, tx, big_t)
    }

    /// [`CountModel::conditional_expected_purchases_many`]: the hypergeometric part once per
    /// distinct `(x, T)` and horizon.
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// let histories = [(2.0, 30.43, 38.86), (2.0, 5.0, 38.86)];
    /// let all = m.conditional_expected_purchases_many(&histories, &[4.345, 52.0]);
    /// assert_eq!(all.len(), 4); // history by history, each at every horizon
    /// assert_eq!(all[1], m.conditional_expected_purchases(52.0, 2.0, 30.43, 38.86));
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
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// assert!((m.p_alive(2.0, 30.43, 38.86) - 0.7266).abs() < 1e-3); // lifetimes' value
    /// assert!(m.p_alive(2.0, 5.0, 38.86) < 0.7266); // the same purchases, long ago
    /// assert_eq!(m.p_alive(0.0, 0.0, 38.86), 1.0);
    /// ```
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
    ///
    /// ```
    /// use rapport_clv::BgNbd;
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap(); // lifetimes' CDNOW fit, in weeks
    /// let year = m.expected_purchases(52.0);
    /// assert!(year > m.expected_purchases(26.0));
    /// // The same as a customer with no history at all.
    /// assert!((year - m.conditional_expected_purchases(52.0, 0.0, 0.0, 0.0)).abs() < 1e-9);
    /// ```
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

/// Distinct `(x, tx, T)` rows of a BG/NBD fit with time scaled, indexed into tables of their
/// distinct `x`, `tx` and `T` values, so that `ln(α + T)` and `ln(α + tx)` are computed once per
/// distinct value per evaluation and the terms of `x` alone once per distinct `x`.
#[derive(Debug)]
pub(crate) struct Groups {
    xs: Vec<f64>,
    /// Summed weight per distinct `x`.
    x_weights: Vec<f64>,
    /// Rows of each distinct `x`: `rows[x_starts[j]..x_starts[j + 1]]`.
    x_starts: Vec<usize>,
    tx_values: Vec<f64>,
    t_values: Vec<f64>,
    /// (index into `tx_values`, index into `t_values`, weight).
    rows: Vec<(u32, u32, f64)>,
    total: f64,
}

fn distinct(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_unstable_by(f64::total_cmp);
    v.dedup();
    v
}

fn index(values: &[f64], v: f64) -> u32 {
    // Every value is in the table (it was built from the same rows).
    values.binary_search_by(|p| p.total_cmp(&v)).unwrap_or(0) as u32
}

impl Groups {
    /// From rows grouped and sorted by `x` (as `group_weighted` returns them), time scaled.
    pub(crate) fn new(groups: &[((f64, f64, f64), f64)], scale: f64) -> Self {
        let tx_values = distinct(groups.iter().map(|g| g.0.1 * scale).collect());
        let t_values = distinct(groups.iter().map(|g| g.0.2 * scale).collect());
        let (mut xs, mut x_weights, mut x_starts) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows = Vec::with_capacity(groups.len());
        for (i, ((x, tx, t), w)) in groups.iter().enumerate() {
            if xs.last() != Some(x) {
                xs.push(*x);
                x_weights.push(0.0);
                x_starts.push(i);
            }
            if let Some(last) = x_weights.last_mut() {
                *last += w;
            }
            rows.push((
                index(&tx_values, tx * scale),
                index(&t_values, t * scale),
                *w,
            ));
        }
        x_starts.push(rows.len());
        let total = x_weights.iter().sum();
        Self {
            xs,
            x_weights,
            x_starts,
            tx_values,
            t_values,
            rows,
            total,
        }
    }

    /// The BG/NBD (`mbg` false) log-likelihood at log-parameters `p` = ln(r, α, a, b), with
    /// its gradient and Hessian (4×4, row-major) in the log-parameters; or the MBG/NBD one
    /// (`mbg` true): the BG/NBD's with the beta terms of `x + 1` instead of `x`, `ln(b + x)`
    /// instead of `ln(b + x − 1)`, and the dropout-at-once term for every `x` (0 included).
    pub(crate) fn log_likelihood_of(
        &self,
        mbg: bool,
        p: &[f64],
        grad: &mut [f64],
        hess: &mut [f64],
    ) -> f64 {
        let k = if mbg { 1.0 } else { 0.0 };
        let (r, alpha, a, b) = (p[0].exp(), p[1].exp(), p[2].exp(), p[3].exp());
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let table = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .map(|v| ((alpha + v).ln(), 1.0 / (alpha + v)))
                .collect()
        };
        let (tx_tab, t_tab) = (table(&self.tx_values), table(&self.t_values));
        let w_all = self.total;
        // Terms of the parameters alone.
        let mut ll = w_all * (-ln_gamma(r) + r * ln_alpha + ln_gamma(a + b) - ln_gamma(b));
        let (dg_r, dg_ab, dg_b) = (digamma(r), digamma(a + b), digamma(b));
        let (tg_r, tg_ab, tg_b) = (trigamma(r), trigamma(a + b), trigamma(b));
        // Natural-parameter gradient g = (r, α, a, b) and Hessian entries.
        let mut g = [
            w_all * (-dg_r + ln_alpha),
            w_all * r / alpha,
            w_all * dg_ab,
            w_all * (dg_ab - dg_b),
        ];
        let (mut hrr, mut hra, mut haa) =
            (-w_all * tg_r, w_all / alpha, -w_all * r / (alpha * alpha));
        let (mut hpp, mut hpq, mut hqq) = (w_all * tg_ab, w_all * tg_ab, w_all * (tg_ab - tg_b));
        let (mut hrp, mut hrq, mut hap, mut haq) = (0.0, 0.0, 0.0, 0.0);
        for (j, &x) in self.xs.iter().enumerate() {
            let wx = self.x_weights[j];
            let rx = r + x;
            // Terms of x alone.
            let (bxk, abxk) = (b + x + k, a + b + x + k);
            ll += wx * (ln_gamma(rx) + ln_gamma(bxk) - ln_gamma(abxk));
            let (dg_rx, dg_abx, dg_bx) = (digamma(rx), digamma(abxk), digamma(bxk));
            let (tg_rx, tg_abx, tg_bx) = (trigamma(rx), trigamma(abxk), trigamma(bxk));
            g[0] += wx * dg_rx;
            g[2] -= wx * dg_abx;
            g[3] += wx * (dg_bx - dg_abx);
            hrr += wx * tg_rx;
            hpp -= wx * tg_abx;
            hpq -= wx * tg_abx;
            hqq += wx * (tg_bx - tg_abx);
            let rows = &self.rows[self.x_starts[j]..self.x_starts[j + 1]];
            // Per row: A3 = −(r+x) ln(α+T); for x > 0 the likelihood adds e^A4 with
            // A4 = A3 + u, u = ln a − ln(b+x−1) − (r+x)(ln(α+tx) − ln(α+T)).
            let (mut v, mut gr, mut ga, mut h_rr, mut h_ra, mut h_aa) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            if x > 0.0 || mbg {
                let bx = b + x - 1.0 + k;
                let c = ln_a - bx.ln();
                // Sums over the rows of s = σ(u) and s(1−s), for the a and b derivatives.
                let (mut s1, mut s2, mut s2r, mut s2a) = (0.0, 0.0, 0.0, 0.0);
                for &(itx, it, w) in rows {
                    let (l3, i3) = t_tab[it as usize];
                    let (l4, i4) = tx_tab[itx as usize];
                    let dl = l4 - l3;
                    let u = c - rx * dl;
                    let (sp, s) = softplus_sigmoid(u);
                    let ss = s * (1.0 - s);
                    let (ur, ua) = (-dl, -rx * (i4 - i3));
                    let (ws, wss) = (w * s, w * ss);
                    v += w * (sp - rx * l3);
                    gr += -w * l3 + ws * ur;
                    ga += -w * rx * i3 + ws * ua;
                    h_rr += wss * ur * ur;
                    h_ra += -w * i3 - ws * (i4 - i3) + wss * ur * ua;
                    h_aa += w * rx * i3 * i3 + ws * rx * (i4 * i4 - i3 * i3) + wss * ua * ua;
                    s1 += ws;
                    s2 += wss;
                    s2r += wss * ur;
                    s2a += wss * ua;
                }
                // u depends on a through ln a, on b through −ln(b+x−1).
                let (up, uq) = (1.0 / a, -1.0 / bx);
                g[2] += s1 * up;
                g[3] += s1 * uq;
                hpp += s1 * (-up * up) + s2 * up * up;
                hqq += s1 * (uq * uq) + s2 * uq * uq;
                hpq += s2 * up * uq;
                hrp += s2r * up;
                hrq += s2r * uq;
                hap += s2a * up;
                haq += s2a * uq;
            } else {
                for &(_, it, w) in rows {
                    let (l3, i3) = t_tab[it as usize];
                    v -= w * rx * l3;
                    gr -= w * l3;
                    ga -= w * rx * i3;
                    h_ra -= w * i3;
                    h_aa += w * rx * i3 * i3;
                }
            }
            ll += v;
            g[0] += gr;
            g[1] += ga;
            hrr += h_rr;
            hra += h_ra;
            haa += h_aa;
        }
        // To the log-parameters: ∂/∂ln pᵢ = pᵢ ∂/∂pᵢ, ∂²/∂ln pᵢ∂ln pⱼ = pᵢ pⱼ ∂²/∂pᵢ∂pⱼ + δᵢⱼ pᵢ ∂/∂pᵢ.
        let nat = [r, alpha, a, b];
        let h = [
            [hrr, hra, hrp, hrq],
            [hra, haa, hap, haq],
            [hrp, hap, hpp, hpq],
            [hrq, haq, hpq, hqq],
        ];
        for i in 0..4 {
            grad[i] = nat[i] * g[i];
            for k in 0..4 {
                hess[i * 4 + k] = nat[i] * nat[k] * h[i][k] + if i == k { grad[i] } else { 0.0 };
            }
        }
        ll
    }
}

/// The BG/NBD fit: validated and grouped rows, damped Newton with the analytic derivatives on
/// the log-parameters (time scaled so the largest `T` is 10, as `lifetimes`).
fn fit_fast(rows: &[(f64, f64, f64)], weights: Option<&[f64]>) -> Result<Fit<BgNbd>, ClvError> {
    fit_newton(rows, weights, false)
}

/// The BG/NBD (`mbg` false) or MBG/NBD (`mbg` true) fit: damped Newton on the analytic
/// derivatives of [`Groups`] ([`crate::count::fit_newton`]).
pub(crate) fn fit_newton<M: FourParams>(
    rows: &[(f64, f64, f64)],
    weights: Option<&[f64]>,
    mbg: bool,
) -> Result<Fit<M>, ClvError> {
    crate::count::fit_newton(rows, weights, |groups, scale| {
        let data = Groups::new(groups, scale);
        move |p: &[f64], g: &mut [f64], h: &mut [f64]| data.log_likelihood_of(mbg, p, g, h)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::count::testing::{check_derivatives, grouped_rows};
    use proptest::prelude::*;

    /// The analytic derivatives of BG/NBD (`mbg` false) or MBG/NBD (`mbg` true) on `groups`
    /// at `lp`, checked against the model's own likelihood and finite differences.
    pub(crate) fn check<M: FourParams>(
        mbg: bool,
        lp: &[f64],
        groups: &[((f64, f64, f64), f64)],
        scale: f64,
    ) -> Result<(), TestCaseError> {
        let data = Groups::new(groups, scale);
        let m = M::from_log(lp);
        let direct: f64 = groups
            .iter()
            .map(|((x, tx, t), w)| w * m.log_likelihood_one(*x, tx * scale, t * scale))
            .sum();
        check_derivatives(&|p, g, h| data.log_likelihood_of(mbg, p, g, h), lp, direct)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The analytic gradient matches central differences of the likelihood, the Hessian
        /// central differences of the gradient, and the value the model's own likelihood.
        #[test]
        fn prop_analytic_derivatives_match_finite_differences(
            lp in proptest::collection::vec(-2.0f64..2.5, 4),
            groups in grouped_rows(),
            scale in 0.05f64..2.0,
        ) {
            check::<BgNbd>(false, &lp, &groups, scale)?;
        }
    }
}

#[cfg(test)]
mod against_nelder_mead {
    use super::*;
    use crate::count::fit_four;
    use proptest::prelude::*;

    /// Regression (found by CI's random seed on 2026-12-06): on two rows the Newton fit from
    /// the origin drifts to the a, b → ∞ limit (a ≈ 1.7e6, b ≈ 3.0e7) and stops at
    /// ln L = −597.134, while Nelder–Mead finds −596.953 near a → 0. A drifting fit now starts
    /// again from the derivative-free optimum and keeps the better one.
    #[test]
    fn two_rows_where_the_newton_fit_drifts_to_a_worse_limit() {
        let rows = [
            (7.0, (0.495_704_094_193_494_7_f64 * 10.0).round(), 10.0),
            (7.0, (0.909_528_172_794_289_1_f64 * 25.0).round(), 25.0),
        ];
        let weights = [18.0, 25.0];
        let new = BgNbd::fit_weighted(&rows, &weights).unwrap();
        let old = fit_four::<BgNbd>(&rows, Some(&weights)).unwrap();
        assert!(
            new.log_likelihood >= old.log_likelihood - 1e-7 * (1.0 + old.log_likelihood.abs()),
            "{new:?} vs {old:?}"
        );
    }

    proptest! {
        // A fixed seed keeps CI deterministic (a random one found the case above).
        #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_206), ..ProptestConfig::with_cases(32) })]
        /// The Newton fit reaches at least the likelihood of the derivative-free optimiser
        /// (Nelder–Mead, then finite-difference Newton), and never returns non-finite numbers.
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
            let new = BgNbd::fit_weighted(&rows, &weights);
            let old = fit_four::<BgNbd>(&rows, Some(&weights));
            // Where the data cannot pin the parameters (a handful of rows), both optimisers
            // may drift towards a limit (r, α → ∞: Poisson purchases; a, b → ∞: a fixed dropout
            // probability); past 1e6 the differences of ln Γ that make the likelihood lose the
            // digits these comparisons need.
            let sane = |m: &BgNbd| [m.r, m.alpha, m.a, m.b].iter().all(|v| *v < 1e6);
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

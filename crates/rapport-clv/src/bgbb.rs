//! The BG/BB model (Fader, Hardie & Shang 2010) for discrete transaction opportunities — a
//! yearly donation, an annual event, a weekly class — as the `lifetimes` package computes it.
//!
//! A history is `(frequency, recency, periods)`: the customer used `frequency` of the
//! `periods` opportunities after the first, the last of them at opportunity `recency`.
//! Rows carry a weight (how many customers share the pattern), as the paper's tables do.

use serde::{Deserialize, Serialize};

use crate::count::{Fit, check_positive};
use crate::error::ClvError;
use crate::optimize::minimize;
use crate::special::{ln_beta, ln_gamma, log_add_exp};

/// One BG/BB history; [`BgBb::fit`] takes them with weights.
///
/// ```
/// use rapport_clv::{ClvError, Opportunities};
/// let h = Opportunities::new(3, 5, 6).unwrap(); // 3 gifts in 6 years, the last in year 5
/// assert_eq!((h.frequency, h.recency, h.periods), (3, 5, 6));
/// assert!(Opportunities::new(0, 0, 6).is_ok()); // never again
/// assert!(matches!(Opportunities::new(4, 3, 6), Err(ClvError::InvalidRow { field: "frequency", .. })));
/// assert!(matches!(Opportunities::new(0, 2, 6), Err(ClvError::InvalidRow { field: "recency", .. })));
/// assert!(Opportunities::new(1, 7, 6).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opportunities {
    /// Opportunities used (repeat transactions), 0..=`recency`.
    pub frequency: u32,
    /// The opportunity of the last transaction (0 without one), 0..=`periods`.
    pub recency: u32,
    /// Opportunities observed after the first transaction (the paper's n).
    pub periods: u32,
}

impl Opportunities {
    /// A history after checking that it can happen: `frequency ≤ recency ≤ periods`, and
    /// `recency` 0 without a transaction.
    ///
    /// ```
    /// use rapport_clv::Opportunities;
    /// let h = Opportunities::new(2, 4, 6).unwrap(); // 2 repeat gifts in 6 years, the last in year 4
    /// assert_eq!(h.recency, 4);
    /// assert!(Opportunities::new(2, 7, 6).is_err()); // recency past the periods observed
    /// ```
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`] (`row` 0) when `frequency > recency`, `recency > periods`, or
    /// `recency > 0` without a transaction.
    pub fn new(frequency: u32, recency: u32, periods: u32) -> Result<Self, ClvError> {
        let o = Self {
            frequency,
            recency,
            periods,
        };
        o.validate(0)?;
        Ok(o)
    }

    fn validate(&self, row: usize) -> Result<(), ClvError> {
        let bad = |field, reason: String| Err(ClvError::InvalidRow { row, field, reason });
        if self.recency > self.periods {
            return bad(
                "recency",
                format!("{} is greater than periods {}", self.recency, self.periods),
            );
        }
        if self.frequency > self.recency {
            return bad(
                "frequency",
                format!(
                    "{} is greater than recency {}",
                    self.frequency, self.recency
                ),
            );
        }
        if self.frequency == 0 && self.recency > 0 {
            return bad(
                "recency",
                format!("{} without a transaction (frequency 0)", self.recency),
            );
        }
        Ok(())
    }
}

/// BG/BB parameters: transaction probabilities Beta(α, β), dropout probabilities Beta(γ, δ).
///
/// ```
/// use rapport_clv::{BgBb, Opportunities};
/// // Fader, Hardie & Shang (2010): 11,104 donors, 6 yearly opportunities.
/// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
/// let loyal = Opportunities::new(6, 6, 6).unwrap();
/// let lapsed = Opportunities::new(1, 1, 6).unwrap();
/// assert!(m.p_alive(0, &loyal) > m.p_alive(0, &lapsed));
/// assert!(m.conditional_expected_purchases(5, &loyal) > 3.0);
/// // Alive now is more likely than alive in five more years.
/// assert!(m.p_alive(5, &loyal) < m.p_alive(0, &loyal));
/// assert!(BgBb::new(1.204, 0.750, 0.657, f64::INFINITY).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgBb {
    /// Beta shape α of the transaction probability.
    pub alpha: f64,
    /// Beta shape β of the transaction probability.
    pub beta: f64,
    /// Beta shape γ of the dropout probability.
    pub gamma: f64,
    /// Beta shape δ of the dropout probability.
    pub delta: f64,
}

impl BgBb {
    /// The model with parameters α, β, γ, δ, each checked to be a positive finite number.
    ///
    /// ```
    /// use rapport_clv::BgBb;
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap(); // Fader, Hardie & Shang (2010)
    /// assert_eq!(m.delta, 2.783);
    /// assert!(BgBb::new(1.204, 0.0, 0.657, 2.783).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ClvError::InvalidParameter`] unless all are positive and finite.
    pub fn new(alpha: f64, beta: f64, gamma: f64, delta: f64) -> Result<Self, ClvError> {
        check_positive("alpha", alpha)?;
        check_positive("beta", beta)?;
        check_positive("gamma", gamma)?;
        check_positive("delta", delta)?;
        Ok(Self {
            alpha,
            beta,
            gamma,
            delta,
        })
    }

    /// Log-likelihood of one history (the paper's eq. 5; like `lifetimes`, the sum over the
    /// periods after the last transaction starts at 1e-15).
    ///
    /// ```
    /// use rapport_clv::{BgBb, Opportunities};
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
    /// // The probabilities of every possible history of 2 opportunities add up to 1.
    /// let all = [(0, 0), (1, 1), (1, 2), (2, 2)];
    /// let total: f64 = all.iter().map(|&(x, tx)| m.log_likelihood_one(&Opportunities::new(x, tx, 2).unwrap()).exp()).sum();
    /// assert!((total - 1.0).abs() < 1e-9);
    /// ```
    #[must_use]
    pub fn log_likelihood_one(&self, h: &Opportunities) -> f64 {
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, tx, n) = (
            f64::from(h.frequency),
            f64::from(h.recency),
            f64::from(h.periods),
        );
        let ab = ln_beta(alpha, beta);
        let gd = ln_beta(gamma, delta);
        let a = ln_beta(alpha + x, beta + n - x) - ab + ln_beta(gamma, delta + n) - gd;
        let mut b = 1e-15;
        for j in 0..h.periods.saturating_sub(h.recency) {
            let j = f64::from(j);
            b += (ln_beta(alpha + x, beta + tx - x + j) + ln_beta(gamma + 1.0, delta + tx + j))
                .exp();
        }
        log_add_exp(a, b.ln() - gd - ab)
    }

    /// Total log-likelihood of weighted histories.
    ///
    /// ```
    /// use rapport_clv::{BgBb, Opportunities};
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
    /// let h = Opportunities::new(2, 4, 6).unwrap();
    /// assert!((m.log_likelihood(&[(h, 3.0)]) - 3.0 * m.log_likelihood_one(&h)).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn log_likelihood(&self, rows: &[(Opportunities, f64)]) -> f64 {
        rows.iter()
            .map(|(h, w)| w * self.log_likelihood_one(h))
            .sum()
    }

    /// Fits by maximum likelihood on weighted histories (a weight is how many customers share
    /// the history; identical histories are grouped). Rows of weight 0 are skipped.
    ///
    /// # Errors
    /// [`ClvError::InvalidRow`] for an impossible history or a negative or non-finite weight,
    /// [`ClvError::Empty`], [`ClvError::NotConverged`].
    ///
    /// ```
    /// use rapport_clv::{BgBb, Opportunities};
    /// // Fader, Hardie & Shang (2010): 11,104 donors, 6 yearly opportunities after the first gift.
    /// let table = [(0, 0, 3464.0), (1, 1, 1091.0), (1, 2, 277.0), (1, 3, 129.0), (1, 4, 78.0),
    ///     (1, 5, 119.0), (1, 6, 129.0), (2, 2, 613.0), (2, 3, 255.0), (2, 4, 155.0), (2, 5, 173.0),
    ///     (2, 6, 234.0), (3, 3, 322.0), (3, 4, 181.0), (3, 5, 225.0), (3, 6, 357.0), (4, 4, 240.0),
    ///     (4, 5, 284.0), (4, 6, 512.0), (5, 5, 335.0), (5, 6, 728.0), (6, 6, 1203.0)];
    /// let rows: Vec<(Opportunities, f64)> = table.iter()
    ///     .map(|&(x, tx, w)| (Opportunities::new(x, tx, 6).unwrap(), w)).collect();
    /// let fit = BgBb::fit(&rows).unwrap();
    /// // The paper's estimates: α 1.204, β 0.750, γ 0.657, δ 2.783, LL −33,225.6.
    /// assert_eq!(fit.customers, 11_104);
    /// assert!((fit.model.alpha - 1.204).abs() < 1e-3 && (fit.model.delta - 2.783).abs() < 1e-3);
    /// assert!((fit.log_likelihood + 33_225.6).abs() < 0.1);
    /// ```
    pub fn fit(rows: &[(Opportunities, f64)]) -> Result<Fit<BgBb>, ClvError> {
        let mut groups: std::collections::BTreeMap<(u32, u32, u32), f64> = Default::default();
        let mut skipped = 0;
        for (i, (h, w)) in rows.iter().enumerate() {
            h.validate(i)?;
            if !w.is_finite() || *w < 0.0 {
                return Err(ClvError::InvalidRow {
                    row: i,
                    field: "weights",
                    reason: format!("{w} is not a finite number >= 0"),
                });
            }
            if *w == 0.0 {
                skipped += 1;
                continue;
            }
            *groups
                .entry((h.frequency, h.recency, h.periods))
                .or_insert(0.0) += w;
        }
        if groups.is_empty() {
            return Err(ClvError::Empty { skipped });
        }
        let groups: Vec<(Opportunities, f64)> = groups
            .into_iter()
            .map(|((frequency, recency, periods), w)| {
                (
                    Opportunities {
                        frequency,
                        recency,
                        periods,
                    },
                    w,
                )
            })
            .collect();
        let total: f64 = groups.iter().map(|g| g.1).sum();
        let nll = |p: &[f64]| -> f64 {
            let m = BgBb {
                alpha: p[0].exp(),
                beta: p[1].exp(),
                gamma: p[2].exp(),
                delta: p[3].exp(),
            };
            let ll = m.log_likelihood(&groups);
            if ll.is_finite() { -ll } else { f64::INFINITY }
        };
        let min = minimize(&nll, &[0.0; 4], total, 1e-6)?;
        let p = &min.x;
        let model = BgBb::new(p[0].exp(), p[1].exp(), p[2].exp(), p[3].exp())?;
        Ok(Fit {
            log_likelihood: model.log_likelihood(&groups),
            model,
            customers: total.round() as usize,
            skipped,
            iterations: min.iterations,
        })
    }

    /// Expected transactions in the next `m` opportunities (the paper's eq. 13).
    ///
    /// ```
    /// use rapport_clv::{BgBb, Opportunities};
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
    /// let h = Opportunities::new(4, 6, 6).unwrap();
    /// assert_eq!(m.conditional_expected_purchases(0, &h), 0.0);
    /// let five = m.conditional_expected_purchases(5, &h);
    /// assert!(five > m.conditional_expected_purchases(1, &h) && five < 5.0);
    /// ```
    #[must_use]
    pub fn conditional_expected_purchases(&self, m: u32, h: &Opportunities) -> f64 {
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, n, m) = (f64::from(h.frequency), f64::from(h.periods), f64::from(m));
        let p1 = 1.0 / self.log_likelihood_one(h).exp();
        let p2 = (ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta)).exp();
        let p3 = delta / (gamma - 1.0) * (ln_gamma(gamma + delta) - ln_gamma(1.0 + delta)).exp();
        let p4 = (ln_gamma(1.0 + delta + n) - ln_gamma(gamma + delta + n)).exp();
        let p5 = (ln_gamma(1.0 + delta + n + m) - ln_gamma(gamma + delta + n + m)).exp();
        p1 * p2 * p3 * (p4 - p5)
    }

    /// Probability that the customer is alive at opportunity `periods + m` (the paper's A10).
    ///
    /// ```
    /// use rapport_clv::{BgBb, Opportunities};
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
    /// let recent = Opportunities::new(3, 6, 6).unwrap();
    /// let early = Opportunities::new(3, 3, 6).unwrap();
    /// assert!((m.p_alive(0, &recent) - 1.0).abs() < 1e-9); // gave at the last opportunity
    /// assert!(m.p_alive(0, &early) < 0.5); // three years without a gift
    /// ```
    #[must_use]
    pub fn p_alive(&self, m: u32, h: &Opportunities) -> f64 {
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let (x, n, m) = (f64::from(h.frequency), f64::from(h.periods), f64::from(m));
        let p1 = ln_beta(alpha + x, beta + n - x) - ln_beta(alpha, beta);
        let p2 = ln_beta(gamma, delta + n + m) - ln_beta(gamma, delta);
        (p1 + p2).exp() / self.log_likelihood_one(h).exp()
    }

    /// P(X(n) = x): the probability that a new customer makes `x` transactions in the first
    /// `n` opportunities (the paper's eq. 7); 0 when `x > n`.
    ///
    /// ```
    /// use rapport_clv::BgBb;
    /// let m = BgBb::new(1.204, 0.750, 0.657, 2.783).unwrap();
    /// let total: f64 = (0..=6).map(|x| m.probability_of_purchases(x, 6)).sum();
    /// assert!((total - 1.0).abs() < 1e-9);
    /// assert_eq!(m.probability_of_purchases(7, 6), 0.0);
    /// ```
    #[must_use]
    pub fn probability_of_purchases(&self, x: u32, n: u32) -> f64 {
        if x > n {
            return 0.0;
        }
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let ln_choose =
            |n: f64, k: f64| ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0);
        let ab = ln_beta(alpha, beta);
        let gd = ln_beta(gamma, delta);
        let (xf, nf) = (f64::from(x), f64::from(n));
        let mut p = (ln_choose(nf, xf) + ln_beta(alpha + xf, beta + nf - xf) - ab
            + ln_beta(gamma, delta + nf)
            - gd)
            .exp();
        for i in x..n {
            let i = f64::from(i);
            p += (ln_choose(i, xf) + ln_beta(alpha + xf, beta + i - xf) - ab
                + ln_beta(gamma + 1.0, delta + i)
                - gd)
                .exp();
        }
        p
    }
}

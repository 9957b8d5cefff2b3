//! What the count models (BG/NBD, Pareto/NBD, MBG/NBD) share: the [`CountModel`] trait that
//! CLV is computed from, the [`Fit`] result, and the maximum-likelihood fit on
//! `(frequency, recency, T)` rows (validated, time scaled as `lifetimes` does, identical rows
//! grouped, log-parameters).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::ClvError;
#[cfg(test)]
use crate::optimize::minimize;
use crate::optimize::{minimize_newton, minimize_within};

/// A purchase-count model of continuous time: predictions for a customer with `x` repeat
/// purchases, the last at `tx`, observed for `big_t` periods.
///
/// ```
/// use rapport_clv::{BgNbd, CountModel, ParetoNbd};
/// let models: Vec<Box<dyn CountModel>> = vec![
///     Box::new(BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap()),
///     Box::new(ParetoNbd::new(0.5533, 10.5778, 0.6062, 11.6669).unwrap()),
/// ];
/// for m in &models {
///     let p = m.p_alive(2.0, 30.43, 38.86);
///     assert!(p > 0.0 && p < 1.0);
///     assert!(m.conditional_expected_purchases(52.0, 2.0, 30.43, 38.86) > 1.0);
///     // A new customer's expected purchases grow with the horizon.
///     assert!(m.expected_purchases(52.0) > m.expected_purchases(26.0));
///     // The total log-likelihood is the sum over the rows.
///     let rows = [(2.0, 30.43, 38.86), (0.0, 0.0, 38.86)];
///     let sum = m.log_likelihood_one(2.0, 30.43, 38.86) + m.log_likelihood_one(0.0, 0.0, 38.86);
///     assert!((m.log_likelihood(&rows) - sum).abs() < 1e-12);
/// }
/// ```
pub trait CountModel: std::fmt::Debug {
    /// Expected repeat purchases in the next `t` periods.
    fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64;
    /// Probability that the customer is still alive at `big_t`.
    fn p_alive(&self, x: f64, tx: f64, big_t: f64) -> f64;
    /// Expected purchases of a new customer in `t` periods.
    fn expected_purchases(&self, t: f64) -> f64;
    /// Log-likelihood of one customer's history.
    fn log_likelihood_one(&self, x: f64, tx: f64, big_t: f64) -> f64;
    /// Conditional expected purchases of each history (`(x, tx, T)`) at each horizon, row by
    /// row: `out[i * horizons.len() + j]` is history `i` at `horizons[j]`. What valuing many
    /// customers needs (CLV takes twelve monthly horizons); BG/NBD and MBG/NBD share the
    /// hypergeometric part between histories of equal `x` and `T`. Equal, to the last bit,
    /// to [`CountModel::conditional_expected_purchases`] one at a time.
    ///
    /// ```
    /// use rapport_clv::{BgNbd, CountModel};
    /// let m = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
    /// let histories = [(2.0, 30.0, 38.0), (2.0, 12.0, 38.0), (0.0, 0.0, 38.0)];
    /// let horizons = [4.345, 52.0];
    /// let all = m.conditional_expected_purchases_many(&histories, &horizons);
    /// assert_eq!(all.len(), 6);
    /// assert_eq!(all[3], m.conditional_expected_purchases(52.0, 2.0, 12.0, 38.0));
    /// ```
    fn conditional_expected_purchases_many(
        &self,
        histories: &[(f64, f64, f64)],
        horizons: &[f64],
    ) -> Vec<f64> {
        histories
            .iter()
            .flat_map(|&(x, tx, big_t)| {
                horizons
                    .iter()
                    .map(move |&t| self.conditional_expected_purchases(t, x, tx, big_t))
            })
            .collect()
    }
    /// Total log-likelihood of `(frequency, recency, T)` rows.
    fn log_likelihood(&self, rows: &[(f64, f64, f64)]) -> f64 {
        rows.iter()
            .map(|(x, tx, t)| self.log_likelihood_one(*x, *tx, *t))
            .sum()
    }
}

/// Implements [`CountModel`] for a model by delegating to its inherent methods of the same
/// names (which stay callable without importing the trait).
macro_rules! delegate_count_model {
    ($model:ty, many) => {
        $crate::count::delegate_count_model!($model, {
            fn conditional_expected_purchases_many(
                &self,
                histories: &[(f64, f64, f64)],
                horizons: &[f64],
            ) -> Vec<f64> {
                <$model>::conditional_expected_purchases_many(self, histories, horizons)
            }
        });
    };
    ($model:ty) => {
        $crate::count::delegate_count_model!($model, {});
    };
    ($model:ty, { $($extra:tt)* }) => {
        impl $crate::count::CountModel for $model {
            fn conditional_expected_purchases(&self, t: f64, x: f64, tx: f64, big_t: f64) -> f64 {
                <$model>::conditional_expected_purchases(self, t, x, tx, big_t)
            }
            fn p_alive(&self, x: f64, tx: f64, big_t: f64) -> f64 {
                <$model>::p_alive(self, x, tx, big_t)
            }
            fn expected_purchases(&self, t: f64) -> f64 {
                <$model>::expected_purchases(self, t)
            }
            fn log_likelihood_one(&self, x: f64, tx: f64, big_t: f64) -> f64 {
                <$model>::log_likelihood_one(self, x, tx, big_t)
            }
            $($extra)*
        }
    };
}
pub(crate) use delegate_count_model;

/// A fitted model with its fit statistics: what every `fit` and `fit_weighted` returns.
///
/// `#[non_exhaustive]`: more statistics may come; only the fits build it.
///
/// ```
/// use rapport_clv::{BgNbd, Fit};
/// // 91 customers observed for 38 weeks: (repeat purchases, week of the last one, T), and how many share each row.
/// let rows = [(0.0, 0.0, 38.0), (1.0, 4.0, 38.0), (1.0, 30.0, 38.0), (2.0, 10.0, 38.0),
///             (2.0, 34.0, 38.0), (3.0, 15.0, 38.0), (4.0, 36.0, 38.0), (7.0, 37.0, 38.0)];
/// let weights = [60.0, 10.0, 5.0, 5.0, 4.0, 3.0, 3.0, 1.0];
/// let fit: Fit<BgNbd> = BgNbd::fit_weighted(&rows, &weights).unwrap();
/// assert_eq!((fit.customers, fit.skipped), (91, 0));
/// // The log-likelihood is over the customers: each row counts as many times as its weight.
/// let total: f64 = rows.iter().zip(weights).map(|(r, w)| w * fit.model.log_likelihood_one(r.0, r.1, r.2)).sum();
/// assert!((fit.log_likelihood - total).abs() < 1e-6);
/// assert!(fit.iterations > 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fit<M> {
    /// The fitted model: its parameters at the maximum of the likelihood, on the data's time
    /// unit.
    pub model: M,
    /// Total log-likelihood over the customers (times their weights), on the unscaled data.
    pub log_likelihood: f64,
    /// Customers fitted (the sum of the weights where rows carry weights).
    pub customers: usize,
    /// Rows left out of the fit: rows of weight 0, and for Gamma-Gamma rows without a
    /// repeat purchase or without spend.
    pub skipped: usize,
    /// Iterations the optimiser made to reach the maximum.
    pub iterations: usize,
}

/// Conditional expectations of the form `numerator(t, x, T) / denominator(x, tx, T)` (BG/NBD,
/// MBG/NBD) for many histories: each numerator once per distinct `(x, T)` and horizon.
pub(crate) fn many_by_parts(
    histories: &[(f64, f64, f64)],
    horizons: &[f64],
    numerator: impl Fn(f64, f64, f64) -> f64,
    denominator: impl Fn(f64, f64, f64) -> f64,
) -> Vec<f64> {
    let h = horizons.len();
    let mut index: HashMap<(u64, u64), usize> = HashMap::new();
    let mut numerators: Vec<f64> = Vec::new();
    let mut out = Vec::with_capacity(histories.len() * h);
    for &(x, tx, big_t) in histories {
        let next = numerators.len();
        let at = *index.entry((x.to_bits(), big_t.to_bits())).or_insert(next);
        if at == next {
            numerators.extend(horizons.iter().map(|&t| numerator(t, x, big_t)));
        }
        let d = denominator(x, tx, big_t);
        out.extend(numerators[at..at + h].iter().map(|n| n / d));
    }
    out
}

pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), ClvError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ClvError::InvalidParameter { name, value })
    }
}

/// A hash map keyed by the bits of `f64`s, with a fixed-seed fast hasher (deterministic: no
/// randomness in this crate).
pub(crate) type BitsMap<K> = HashMap<K, f64, foldhash::fast::FixedState>;

/// A map from the bits of `f64` keys, with a fixed-seed fast hasher (deterministic: no
/// randomness in this crate), sized for up to `rows` keys (at most 2¹⁶ to start with).
pub(crate) fn bits_map<K>(rows: usize) -> BitsMap<K> {
    BitsMap::with_capacity_and_hasher(
        rows.clamp(16, 1 << 16),
        foldhash::fast::FixedState::with_seed(0x5EED),
    )
}

/// Groups identical rows, with counts (or summed weights), sorted: the likelihood of a
/// million customers collapses to the distinct triples. The values must be ≥ 0 (validated
/// rows), whose order is the order of their bits; `-0.0` counts as `0.0`.
pub(crate) fn group_weighted(
    rows: impl Iterator<Item = ((f64, f64, f64), f64)>,
) -> Vec<((f64, f64, f64), f64)> {
    let (low, high) = rows.size_hint();
    let mut m: BitsMap<(u64, u64, u64)> = bits_map(high.unwrap_or(low));
    for ((x, tx, t), w) in rows {
        *m.entry((
            (x + 0.0).to_bits(),
            (tx + 0.0).to_bits(),
            (t + 0.0).to_bits(),
        ))
        .or_insert(0.0) += w;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_unstable_by_key(|e| e.0);
    v.into_iter()
        .map(|((x, tx, t), w)| {
            (
                (f64::from_bits(x), f64::from_bits(tx), f64::from_bits(t)),
                w,
            )
        })
        .collect()
}

pub(crate) fn group(rows: &[(f64, f64, f64)]) -> Vec<((f64, f64, f64), f64)> {
    group_weighted(rows.iter().map(|r| (*r, 1.0)))
}

/// `Summary::validate` on every row, with a branch-free pass first (the errors, of the first
/// bad row, come from `Summary::validate`). Returns the largest `T`.
pub(crate) fn validate_rows(rows: &[(f64, f64, f64)]) -> Result<f64, ClvError> {
    let ok = |v: f64| (0.0..f64::INFINITY).contains(&v);
    let mut all_ok = true;
    let mut max_t: f64 = 0.0;
    for &(x, tx, t) in rows {
        all_ok &= ok(x) & ok(tx) & ok(t) & (tx <= t) & ((x != 0.0) | (tx <= 0.0));
        max_t = if t > max_t { t } else { max_t };
    }
    if !all_ok {
        for (i, (x, tx, t)) in rows.iter().enumerate() {
            crate::summary::Summary {
                frequency: *x,
                recency: *tx,
                t: *t,
                monetary_value: 0.0,
            }
            .validate(i)?;
        }
    }
    if rows.is_empty() {
        return Err(ClvError::Empty { skipped: 0 });
    }
    Ok(max_t)
}

/// Checks weights: one per row, finite and ≥ 0.
pub(crate) fn validate_weights(rows: usize, w: &[f64]) -> Result<(), ClvError> {
    if w.len() != rows {
        return Err(ClvError::InvalidRow {
            row: w.len().min(rows),
            field: "weights",
            reason: format!("{} weights for {} rows", w.len(), rows),
        });
    }
    if let Some((i, v)) = w
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(ClvError::InvalidRow {
            row: i,
            field: "weights",
            reason: format!("{v} is not a finite number >= 0"),
        });
    }
    Ok(())
}

/// Validated, grouped `(frequency, recency, T)` rows of a count-model fit.
pub(crate) struct Prepared {
    /// Distinct rows (sorted) with their summed weights, unscaled.
    pub(crate) groups: Vec<((f64, f64, f64), f64)>,
    /// Time scale: the largest `T` becomes 10.
    pub(crate) scale: f64,
    /// Sum of the weights.
    pub(crate) total: f64,
    /// Rows of weight 0.
    pub(crate) skipped: usize,
}

pub(crate) fn prepare(
    rows: &[(f64, f64, f64)],
    weights: Option<&[f64]>,
) -> Result<Prepared, ClvError> {
    let max_t = validate_rows(rows)?;
    let (groups, total, skipped) = match weights {
        Some(w) => {
            validate_weights(rows.len(), w)?;
            let total: f64 = w.iter().sum();
            if total <= 0.0 {
                return Err(ClvError::Empty {
                    skipped: rows.len(),
                });
            }
            let groups = group_weighted(
                rows.iter()
                    .zip(w)
                    .filter(|(_, w)| **w > 0.0)
                    .map(|(r, w)| (*r, *w)),
            );
            (groups, total, w.iter().filter(|w| **w == 0.0).count())
        }
        None => (group(rows), rows.len() as f64, 0),
    };
    let scale = if max_t > 0.0 { 10.0 / max_t } else { 1.0 };
    Ok(Prepared {
        groups,
        scale,
        total,
        skipped,
    })
}

/// A four-parameter count model fitted on log-parameters with time scaled so the largest `T`
/// is 10, as `lifetimes` does.
pub(crate) trait FourParams: CountModel + Sized {
    /// The model from parameters fitted on scaled time (no checks; the optimiser probes).
    fn from_log(p: &[f64]) -> Self;
    /// The fitted model back on the data's time unit.
    fn unscale(&self, scale: f64) -> Result<Self, ClvError>;
    /// Σ w · LL over grouped rows sorted by `x` (models override it to compute the terms
    /// that depend on `x` alone once per distinct `x`).
    fn log_likelihood_groups(&self, groups: &[((f64, f64, f64), f64)]) -> f64 {
        groups
            .iter()
            .map(|((x, tx, t), w)| w * self.log_likelihood_one(*x, *tx, *t))
            .sum()
    }
}

/// The derivative-free fit (Nelder–Mead, then finite-difference Newton): what the tests
/// compare the Newton fits with.
#[cfg(test)]
pub(crate) fn fit_four<M: FourParams>(
    rows: &[(f64, f64, f64)],
    weights: Option<&[f64]>,
) -> Result<Fit<M>, ClvError> {
    let Prepared {
        groups,
        scale,
        total,
        skipped,
    } = prepare(rows, weights)?;
    let scaled: Vec<((f64, f64, f64), f64)> = groups
        .iter()
        .map(|((x, tx, t), w)| ((*x, tx * scale, t * scale), *w))
        .collect();
    let nll = |p: &[f64]| -> f64 {
        let ll = M::from_log(p).log_likelihood_groups(&scaled);
        if ll.is_finite() { -ll } else { f64::INFINITY }
    };
    let min = minimize(&nll, &[0.0; 4], total, 1e-6)?;
    let model = M::from_log(&min.x).unscale(scale)?;
    let log_likelihood = model.log_likelihood_groups(&groups);
    Ok(Fit {
        log_likelihood,
        model,
        customers: total.round() as usize,
        skipped,
        iterations: min.iterations,
    })
}

/// A four-parameter fit by damped Newton on analytic derivatives: `likelihood(groups, scale)`
/// builds, from the grouped rows and the time scale (the largest `T` becomes 10, as
/// `lifetimes`), the log-likelihood at log-parameters with its gradient and Hessian (4×4,
/// row-major) in them. Started from the origin; restarted from the derivative-free optimum
/// when Newton fails or drifts, keeping the better of the two.
pub(crate) fn fit_newton<M, L>(
    rows: &[(f64, f64, f64)],
    weights: Option<&[f64]>,
    likelihood: impl FnOnce(&[((f64, f64, f64), f64)], f64) -> L,
) -> Result<Fit<M>, ClvError>
where
    M: FourParams,
    L: Fn(&[f64], &mut [f64], &mut [f64]) -> f64,
{
    let Prepared {
        groups,
        scale,
        total,
        skipped,
    } = prepare(rows, weights)?;
    let ll = likelihood(&groups, scale);
    let nll = |p: &[f64], g: &mut [f64], h: &mut [f64]| -> f64 {
        let v = ll(p, g, h);
        g.iter_mut().chain(h.iter_mut()).for_each(|v| *v = -*v);
        if v.is_finite() { -v } else { f64::INFINITY }
    };
    let newton = minimize_newton(&nll, &[0.0; 4], total, 1e-6);
    // Drifting towards a limit (a parameter past e^9 ≈ 8,100 on the scaled data): the
    // likelihood is nearly flat there and Newton may stop at a worse limit than the one
    // across the ridge (a two-row book reached a, b → ∞ while a → 0 is better). Start again
    // from the derivative-free optimum and keep the better of the two.
    let min = match newton {
        Ok(min) if min.x.iter().all(|v| v.abs() <= 9.0) => min,
        first => {
            // Nelder–Mead on plain `f64` values (its hundreds of evaluations need no
            // derivatives), then Newton from there; both valued by `nll`.
            let scaled: Vec<((f64, f64, f64), f64)> = groups
                .iter()
                .map(|((x, tx, t), w)| ((*x, tx * scale, t * scale), *w))
                .collect();
            let value = |p: &[f64]| {
                let ll = M::from_log(p).log_likelihood_groups(&scaled);
                if ll.is_finite() { -ll } else { f64::INFINITY }
            };
            // (At most 5,000 iterations: where Newton drifted, Nelder–Mead usually drifts
            // the same way; on the books where it helps it converges in a few hundred.)
            let second = minimize_within(&value, &[0.0; 4], total, 1e-6, 5_000).map(|nm| {
                minimize_newton(&nll, &nm.x, total, 1e-6).unwrap_or_else(|_| {
                    let value = nll(&nm.x, &mut [0.0; 4], &mut [0.0; 16]);
                    crate::optimize::Minimum { value, ..nm }
                })
            });
            match (first, second) {
                (Ok(a), Ok(b)) => {
                    if b.value < a.value {
                        b
                    } else {
                        a
                    }
                }
                (Ok(a), Err(_)) => a,
                (Err(_), Ok(b)) => b,
                (Err(e), Err(_)) => return Err(e),
            }
        }
    };
    let model = M::from_log(&min.x).unscale(scale)?;
    // The likelihood on the data's time unit: with α (β) and the times scaled by s, each
    // row's log-likelihood is the scaled one − x ln s.
    let sum_wx: f64 = groups.iter().map(|((x, _, _), w)| x * w).sum();
    Ok(Fit {
        log_likelihood: -min.value + scale.ln() * sum_wx,
        model,
        customers: total.round() as usize,
        skipped,
        iterations: min.iterations,
    })
}

/// What the derivative tests of the Newton fits share.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;

    /// Weighted `(x, tx, T)` rows, grouped and sorted as the fits group them: `x` < 15, `T`
    /// whole periods below 60, `tx` a whole period within `T` (0 without repeat purchases).
    pub(crate) fn grouped_rows() -> impl Strategy<Value = Vec<((f64, f64, f64), f64)>> {
        proptest::collection::vec((0u32..15, 0.0f64..1.0, 1u32..60, 1u32..4), 1..40).prop_map(
            |rows| {
                super::group_weighted(rows.iter().map(|(x, frac, t, w)| {
                    let t = f64::from(*t);
                    let tx = if *x == 0 { 0.0 } else { (frac * t).round() };
                    ((f64::from(*x), tx, t), f64::from(*w))
                }))
            },
        )
    }

    /// Checks a likelihood with analytic derivatives at log-parameters `lp` (any number of
    /// them: the count models have four, Gamma-Gamma three): its value equals `direct` (the
    /// model's own likelihood summed over the rows) to 1e-9 relative, its gradient central
    /// differences of the value, its Hessian (n×n, row-major) central differences of the
    /// gradient (each to 1e-5 relative).
    #[allow(clippy::type_complexity)] // value, gradient and Hessian: plainer spelt out
    pub(crate) fn check_derivatives(
        f: &dyn Fn(&[f64], &mut [f64], &mut [f64]) -> f64,
        lp: &[f64],
        direct: f64,
    ) -> Result<(), TestCaseError> {
        let n = lp.len();
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
        let v = f(lp, &mut g, &mut h);
        prop_assert!(
            (v - direct).abs() < 1e-9 * (1.0 + direct.abs()),
            "{} vs {}",
            v,
            direct
        );
        let value = |p: &[f64]| f(p, &mut vec![0.0; n], &mut vec![0.0; n * n]);
        let e = 1e-5;
        for i in 0..n {
            let (mut a, mut b) = (lp.to_vec(), lp.to_vec());
            a[i] += e;
            b[i] -= e;
            let fd = (value(&a) - value(&b)) / (2.0 * e);
            prop_assert!(
                (g[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                "∂{}: {} vs {}",
                i,
                g[i],
                fd
            );
            let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
            f(&a, &mut ga, &mut vec![0.0; n * n]);
            f(&b, &mut gb, &mut vec![0.0; n * n]);
            for k in 0..n {
                let fd = (ga[k] - gb[k]) / (2.0 * e);
                let an = h[i * n + k];
                prop_assert!(
                    (an - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "∂{}∂{}: {} vs {}",
                    i,
                    k,
                    an,
                    fd
                );
            }
        }
        Ok(())
    }
}

//! Minimisation of a smooth function of a few parameters. [`minimize`] needs only values:
//! Nelder–Mead to get close, then Newton steps with finite-difference gradient and Hessian to
//! reach a small gradient (the reference tolerances of 1e-4 relative on parameters need a
//! tight optimum). [`minimize_newton`] takes the analytic gradient and Hessian and runs
//! damped Newton (Levenberg–Marquardt) steps from the start: a handful of evaluations.

use crate::error::ClvError;

/// The minimum found by [`minimize`] or [`minimize_newton`]: where, the value there, and how
/// it was reached.
///
/// `#[non_exhaustive]`: only the optimisers build it.
///
/// ```
/// use rapport_clv::optimize::{Minimum, minimize};
/// let f = |p: &[f64]| (p[0] - 3.0).powi(2) + 1.0;
/// let m: Minimum = minimize(&f, &[0.0], 1.0, 1e-6).unwrap();
/// assert!((m.x[0] - 3.0).abs() < 1e-6);
/// assert!((m.value - 1.0).abs() < 1e-12);
/// assert!(m.gradient_norm < 1e-6 && m.iterations > 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Minimum {
    /// The parameters at the minimum.
    pub x: Vec<f64>,
    /// The function's value at `x`.
    pub value: f64,
    /// Iterations made: Nelder–Mead and Newton steps for [`minimize`], damped Newton steps
    /// for [`minimize_newton`].
    pub iterations: usize,
    /// The norm of the gradient at `x`; the minimum is accepted when it is below `tol` ×
    /// `scale`.
    pub gradient_norm: f64,
}

fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, x0: &[f64], max_iter: usize) -> (Vec<f64>, usize) {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += 0.5;
        simplex.push(p);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| f(p)).collect();
    let mut iters = 0;
    while iters < max_iter {
        iters += 1;
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
        simplex = order.iter().map(|i| simplex[*i].clone()).collect();
        values = order.iter().map(|i| values[*i]).collect();
        if (values[n] - values[0]).abs() <= 1e-9 * (1.0 + values[0].abs()) {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|p| p[j]).sum::<f64>() / n as f64)
            .collect();
        let towards = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|j| centroid[j] + t * (simplex[n][j] - centroid[j]))
                .collect()
        };
        let xr = towards(-1.0);
        let fr = f(&xr);
        if fr < values[0] {
            let xe = towards(-2.0);
            let fe = f(&xe);
            if fe < fr {
                simplex[n] = xe;
                values[n] = fe;
            } else {
                simplex[n] = xr;
                values[n] = fr;
            }
        } else if fr < values[n - 1] {
            simplex[n] = xr;
            values[n] = fr;
        } else {
            let xc = if fr < values[n] {
                towards(-0.5)
            } else {
                towards(0.5)
            };
            let fc = f(&xc);
            if fc < values[n].min(fr) {
                simplex[n] = xc;
                values[n] = fc;
            } else {
                for i in 1..=n {
                    simplex[i] = (0..n)
                        .map(|j| simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j]))
                        .collect();
                    values[i] = f(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|a, b| values[*a].total_cmp(&values[*b]))
        .unwrap_or(0);
    (simplex[best].clone(), iters)
}

fn gradient(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let mut a = x.to_vec();
            let mut b = x.to_vec();
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}

fn hessian(f: &dyn Fn(&[f64]) -> f64, x: &[f64], h: f64) -> Vec<Vec<f64>> {
    let n = x.len();
    let f0 = f(x);
    let mut hm = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in i..n {
            let at = |di: f64, dj: f64| {
                let mut p = x.to_vec();
                p[i] += di;
                p[j] += dj;
                f(&p)
            };
            let v = if i == j {
                (at(h, 0.0) - 2.0 * f0 + at(-h, 0.0)) / (h * h)
            } else {
                (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4.0 * h * h)
            };
            hm[i][j] = v;
            hm[j][i] = v;
        }
    }
    hm
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let k = a[row][col] / pivot_row[col];
            for (cell, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *cell -= k * p;
            }
            b[row] -= k * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Minimises `f` from `x0`. The result is accepted when the gradient norm, relative to
/// `scale` (e.g. the number of customers), is below `tol`.
///
/// # Errors
/// [`ClvError::NotConverged`] with the iterations and the last gradient norm.
///
/// ```
/// use rapport_clv::{ClvError, optimize::minimize};
/// // The Rosenbrock function: a curved valley with its minimum 0 at (1, 1).
/// let rosenbrock = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
/// let m = minimize(&rosenbrock, &[-1.2, 1.0], 1.0, 1e-6).unwrap();
/// assert!((m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4);
/// // Unbounded below: no small gradient is ever reached.
/// let slope = |p: &[f64]| -p[0];
/// assert!(matches!(minimize(&slope, &[0.0], 1.0, 1e-6), Err(ClvError::NotConverged { .. })));
/// ```
pub fn minimize(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    scale: f64,
    tol: f64,
) -> Result<Minimum, ClvError> {
    minimize_within(f, x0, scale, tol, 20_000)
}

/// [`minimize`] with at most `max_iter` Nelder–Mead iterations (a fallback that should not
/// spend long on a book that has no interior optimum).
pub(crate) fn minimize_within(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    scale: f64,
    tol: f64,
    max_iter: usize,
) -> Result<Minimum, ClvError> {
    let (mut x, mut iterations) = nelder_mead(f, x0, max_iter);
    let mut fx = f(&x);
    let mut g = gradient(f, &x, 1e-6);
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    for _ in 0..100 {
        if norm(&g) / scale.max(1.0) < tol * 1e-3 {
            break;
        }
        iterations += 1;
        let h = hessian(f, &x, 1e-4);
        let Some(step) = solve(h, g.iter().map(|v| -v).collect()) else {
            break;
        };
        // The decrease the quadratic model predicts; below the rounding noise of `f` another
        // step cannot improve anything (the finite-difference gradient is noise there).
        let predicted: f64 = -0.5 * g.iter().zip(&step).map(|(a, b)| a * b).sum::<f64>();
        if predicted.abs() <= 1e-13 * (1.0 + fx.abs()) {
            break;
        }
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let cand: Vec<f64> = x.iter().zip(&step).map(|(a, d)| a + t * d).collect();
            let fc = f(&cand);
            if fc.is_finite() && fc <= fx {
                x = cand;
                fx = fc;
                moved = true;
                break;
            }
            t *= 0.5;
        }
        g = gradient(f, &x, 1e-6);
        if !moved {
            break;
        }
    }
    let gradient_norm = norm(&g);
    if !fx.is_finite() || x.iter().any(|v| !v.is_finite()) || gradient_norm / scale.max(1.0) > tol {
        return Err(ClvError::NotConverged {
            iterations,
            gradient_norm,
        });
    }
    Ok(Minimum {
        x,
        value: fx,
        iterations,
        gradient_norm,
    })
}

/// The Cholesky factor of `h + shift·I` (`n`×`n`, row-major), `None` unless positive definite.
fn cholesky(h: &[f64], n: usize, shift: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = h[i * n + j] + if i == j { shift } else { 0.0 };
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 || s.is_infinite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `l lᵀ x = b` for the factor of [`cholesky`].
fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    x
}

/// Minimises `f` from `x0` with its analytic derivatives: `f(x, gradient, hessian)` returns
/// the value and fills the gradient (`n` entries) and the Hessian (`n`×`n`, row-major). Each
/// step solves `(H + λ·c·I) d = −g` (`c` the largest diagonal curvature, λ from 0.1) and is
/// at most 2 in any coordinate; λ is raised where `H + λ·c·I` is not positive definite or a
/// step fails to decrease `f` (a non-finite value counts as a failure), and divided by 10
/// after a success, so far from the minimum the steps turn towards the gradient and near it
/// they are plain Newton steps, converging quadratically. The result is accepted, as with
/// [`minimize`], when the gradient norm relative to `scale` is below `tol`.
///
/// # Errors
/// [`ClvError::NotConverged`] with the iterations and the last gradient norm (also when the
/// start is not finite).
///
/// ```
/// use rapport_clv::{ClvError, optimize::minimize_newton};
/// // The Rosenbrock function with its derivatives: minimum 0 at (1, 1).
/// let rosenbrock = |p: &[f64], g: &mut [f64], h: &mut [f64]| {
///     let (x, y) = (p[0], p[1]);
///     g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
///     g[1] = 200.0 * (y - x * x);
///     h.copy_from_slice(&[2.0 - 400.0 * (y - 3.0 * x * x), -400.0 * x, -400.0 * x, 200.0]);
///     (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
/// };
/// let m = minimize_newton(&rosenbrock, &[-1.2, 1.0], 1.0, 1e-6).unwrap();
/// assert!((m.x[0] - 1.0).abs() < 1e-9 && (m.x[1] - 1.0).abs() < 1e-9);
/// assert!(m.iterations < 100);
/// // Unbounded below: no small gradient is ever reached.
/// let slope = |p: &[f64], g: &mut [f64], h: &mut [f64]| {
///     g[0] = -1.0;
///     h[0] = 0.0;
///     -p[0]
/// };
/// assert!(matches!(minimize_newton(&slope, &[0.0], 1.0, 1e-6), Err(ClvError::NotConverged { .. })));
/// ```
#[allow(clippy::type_complexity)] // value, gradient and Hessian: plainer spelt out
pub fn minimize_newton(
    f: &dyn Fn(&[f64], &mut [f64], &mut [f64]) -> f64,
    x0: &[f64],
    scale: f64,
    tol: f64,
) -> Result<Minimum, ClvError> {
    let n = x0.len();
    let scale = scale.max(1.0);
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let finite =
        |v: f64, g: &[f64], h: &[f64]| v.is_finite() && g.iter().chain(h).all(|x| x.is_finite());
    let mut x = x0.to_vec();
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
    let (mut g2, mut h2) = (vec![0.0; n], vec![0.0; n * n]);
    let mut fx = f(&x, &mut g, &mut h);
    let mut iterations = 0;
    if !finite(fx, &g, &h) {
        return Err(ClvError::NotConverged {
            iterations,
            gradient_norm: f64::INFINITY,
        });
    }
    // λ relative to the largest curvature on the diagonal.
    let mut lambda: f64 = 0.1;
    while iterations < 200 && norm(&g) / scale >= tol * 1e-3 {
        iterations += 1;
        let h_scale = (0..n)
            .map(|i| h[i * n + i].abs())
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let mut moved = false;
        let mut at_noise_floor = false;
        for _ in 0..60 {
            let Some(l) = cholesky(&h, n, lambda * h_scale) else {
                lambda = (lambda * 10.0).max(1e-6);
                continue;
            };
            let mut step = cholesky_solve(&l, n, &g.iter().map(|v| -v).collect::<Vec<_>>());
            // At most a step of 2 in any coordinate (a factor e² on a log-parameter).
            let longest = step.iter().fold(0.0, |m: f64, d| m.max(d.abs()));
            if longest > 2.0 {
                step.iter_mut().for_each(|d| *d *= 2.0 / longest);
            }
            let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
            let noise = 1e-13 * (1.0 + fx.abs());
            if -slope <= noise * 1e-2 {
                // The predicted decrease is far below the rounding noise of `f`.
                at_noise_floor = true;
                break;
            }
            let cand: Vec<f64> = x.iter().zip(&step).map(|(a, d)| a + d).collect();
            let fc = f(&cand, &mut g2, &mut h2);
            let sufficient = fc <= fx + 1e-4 * slope;
            // Near the optimum the decrease drowns in rounding: accept a Newton step that
            // does not make `f` measurably worse.
            let within_noise = lambda == 0.0 && -slope <= 1e3 * noise && fc <= fx + noise;
            if finite(fc, &g2, &h2) && (sufficient || within_noise) {
                x = cand;
                fx = fc;
                std::mem::swap(&mut g, &mut g2);
                std::mem::swap(&mut h, &mut h2);
                lambda = if lambda <= 1e-5 { 0.0 } else { lambda * 0.1 };
                moved = true;
                break;
            }
            // A failed evaluation: a much shorter step next.
            lambda = (lambda * 10.0).max(1e-3);
        }
        if !moved || at_noise_floor {
            break;
        }
    }
    let gradient_norm = norm(&g);
    if !fx.is_finite() || x.iter().any(|v| !v.is_finite()) || gradient_norm / scale > tol {
        return Err(ClvError::NotConverged {
            iterations,
            gradient_norm,
        });
    }
    Ok(Minimum {
        x,
        value: fx,
        iterations,
        gradient_norm,
    })
}

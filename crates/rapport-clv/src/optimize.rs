//! Minimisation of a smooth function of a few parameters: Nelder–Mead to get close, then
//! Newton steps with finite-difference gradient and Hessian to reach a small gradient (the
//! reference tolerances of 1e-4 relative on parameters need a tight optimum).

use crate::error::ClvError;

/// The minimum found by [`minimize`].
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
pub struct Minimum {
    /// Where.
    pub x: Vec<f64>,
    /// The function value there.
    pub value: f64,
    /// Iterations (Nelder–Mead + Newton).
    pub iterations: usize,
    /// The gradient norm at the end.
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
    let (mut x, mut iterations) = nelder_mead(f, x0, 20_000);
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

//! Exact first and second derivatives by forward-mode automatic differentiation: [`D2`] carries
//! a value with its gradient and Hessian in four variables through the arithmetic, ln, exp and
//! ln Γ, so a likelihood written once over [`Real`] gives its value as `f64` and its
//! derivatives as `D2` (the Pareto/NBD fit's Newton steps: its likelihood runs through
//! ₂F₁, whose parameter derivatives have no closed form worth writing out).

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::special::{digamma, trigamma};

/// The numbers a likelihood is written over: `f64`, or [`D2`] for its derivatives.
pub(crate) trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// The value (what comparisons and branches look at).
    fn val(self) -> f64;
    /// A constant.
    fn cst(v: f64) -> Self;
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    fn ln_gamma(self) -> Self;
    /// `self` to the power `e`.
    fn pow(self, e: Self) -> Self;
    /// `f(self)` given `f`, `f′` and `f″` at `self.val()` (the chain rule to second order).
    fn chain(self, f: f64, d1: f64, d2: f64) -> Self;
    /// The largest magnitude of the value and its derivatives: what a series' stopping rule
    /// looks at (a term can be 0 with derivatives that are not).
    fn size(self) -> f64;
}

impl Real for f64 {
    fn val(self) -> f64 {
        self
    }
    fn cst(v: f64) -> Self {
        v
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_gamma(self) -> Self {
        crate::special::ln_gamma(self)
    }
    fn pow(self, e: Self) -> Self {
        self.powf(e)
    }
    fn chain(self, f: f64, _: f64, _: f64) -> Self {
        f
    }
    fn size(self) -> f64 {
        self.abs()
    }
}

/// Index of `(i, j)`, `i ≤ j`, in the packed upper triangle of a 4×4 symmetric matrix.
const fn tri(i: usize, j: usize) -> usize {
    // Rows 0..4 hold 4, 3, 2, 1 entries.
    i * 4 - i * (i + 1) / 2 + j
}

/// A value with its gradient and (packed, symmetric) Hessian in four variables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct D2 {
    pub(crate) v: f64,
    pub(crate) g: [f64; 4],
    /// Upper triangle, row by row: (0,0) (0,1) (0,2) (0,3) (1,1) (1,2) (1,3) (2,2) (2,3) (3,3).
    pub(crate) h: [f64; 10],
}

impl D2 {
    /// The variable `i` at `v`.
    pub(crate) fn var(i: usize, v: f64) -> Self {
        let mut g = [0.0; 4];
        g[i] = 1.0;
        Self { v, g, h: [0.0; 10] }
    }

    /// `e^(variable i)` at `p`: a parameter fitted on its logarithm.
    pub(crate) fn exp_var(i: usize, p: f64) -> Self {
        Self::var(i, p).exp()
    }

    fn chain_d2(self, f: f64, d1: f64, d2: f64) -> Self {
        let mut out = Self {
            v: f,
            g: self.g.map(|g| d1 * g),
            h: self.h.map(|h| d1 * h),
        };
        for i in 0..4 {
            for j in i..4 {
                out.h[tri(i, j)] += d2 * self.g[i] * self.g[j];
            }
        }
        out
    }

    /// The full 4×4 Hessian, row-major.
    pub(crate) fn hessian(&self, out: &mut [f64]) {
        for i in 0..4 {
            for j in 0..4 {
                out[i * 4 + j] = self.h[tri(i.min(j), i.max(j))];
            }
        }
    }
}

impl Add for D2 {
    type Output = Self;
    fn add(mut self, o: Self) -> Self {
        self.v += o.v;
        self.g.iter_mut().zip(o.g).for_each(|(a, b)| *a += b);
        self.h.iter_mut().zip(o.h).for_each(|(a, b)| *a += b);
        self
    }
}

impl Neg for D2 {
    type Output = Self;
    fn neg(self) -> Self {
        Self {
            v: -self.v,
            g: self.g.map(|g| -g),
            h: self.h.map(|h| -h),
        }
    }
}

impl Sub for D2 {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        self + -o
    }
}

impl Mul for D2 {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let mut out = Self {
            v: self.v * o.v,
            g: [0.0; 4],
            h: [0.0; 10],
        };
        for i in 0..4 {
            out.g[i] = self.v * o.g[i] + o.v * self.g[i];
            for j in i..4 {
                let k = tri(i, j);
                out.h[k] =
                    self.v * o.h[k] + o.v * self.h[k] + self.g[i] * o.g[j] + self.g[j] * o.g[i];
            }
        }
        out
    }
}

impl Div for D2 {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        self * o.chain_d2(inv, -inv * inv, 2.0 * inv * inv * inv)
    }
}

impl Add<f64> for D2 {
    type Output = Self;
    fn add(mut self, c: f64) -> Self {
        self.v += c;
        self
    }
}

impl Sub<f64> for D2 {
    type Output = Self;
    fn sub(mut self, c: f64) -> Self {
        self.v -= c;
        self
    }
}

impl Mul<f64> for D2 {
    type Output = Self;
    fn mul(self, c: f64) -> Self {
        Self {
            v: self.v * c,
            g: self.g.map(|g| g * c),
            h: self.h.map(|h| h * c),
        }
    }
}

impl Div<f64> for D2 {
    type Output = Self;
    fn div(self, c: f64) -> Self {
        self * (1.0 / c)
    }
}

impl Real for D2 {
    fn val(self) -> f64 {
        self.v
    }
    fn cst(v: f64) -> Self {
        Self {
            v,
            g: [0.0; 4],
            h: [0.0; 10],
        }
    }
    fn ln(self) -> Self {
        let inv = 1.0 / self.v;
        self.chain_d2(self.v.ln(), inv, -inv * inv)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain_d2(e, e, e)
    }
    fn ln_gamma(self) -> Self {
        self.chain_d2(
            crate::special::ln_gamma(self.v),
            digamma(self.v),
            trigamma(self.v),
        )
    }
    fn pow(self, e: Self) -> Self {
        (e * self.ln()).exp()
    }
    fn chain(self, f: f64, d1: f64, d2: f64) -> Self {
        self.chain_d2(f, d1, d2)
    }
    fn size(self) -> f64 {
        self.g
            .iter()
            .chain(&self.h)
            .fold(self.v.abs(), |m, x| m.max(x.abs()))
    }
}

/// ln(e^a + e^b) without overflow, over [`Real`] (as [`crate::special::log_add_exp`]).
pub(crate) fn log_add_exp<S: Real>(a: S, b: S) -> S {
    if a.val() == f64::NEG_INFINITY {
        return b;
    }
    if b.val() == f64::NEG_INFINITY {
        return a;
    }
    let m = if a.val() >= b.val() { a } else { b };
    m + ((a - m).exp() + (b - m).exp()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A function of four variables through every operation, over [`Real`].
    fn f<S: Real>(p: [S; 4]) -> S {
        let [a, b, c, d] = p;
        let q = (a * b + c.exp()) / (d + 3.0) - (a - 0.5) * 2.0;
        log_add_exp(q, (b * c).ln_gamma()) + (a + 1.0).pow(d) - -(c / 4.0)
    }

    proptest! {
        /// D2's gradient and Hessian equal central differences of the `f64` computation.
        #[test]
        fn prop_d2_derivatives_equal_finite_differences(p in proptest::collection::vec(0.2f64..3.0, 4)) {
            let at = |p: &[f64]| f([p[0], p[1], p[2], p[3]]);
            let d = f([0, 1, 2, 3].map(|i| D2::var(i, p[i])));
            prop_assert!((d.v - at(&p)).abs() < 1e-12 * (1.0 + d.v.abs()));
            let mut h = [0.0; 16];
            d.hessian(&mut h);
            let e = 1e-5;
            for i in 0..4 {
                let (mut up, mut down) = (p.clone(), p.clone());
                up[i] += e;
                down[i] -= e;
                let fd = (at(&up) - at(&down)) / (2.0 * e);
                prop_assert!((d.g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "∂{}: {} vs {}", i, d.g[i], fd);
                let gu = f([0, 1, 2, 3].map(|k| D2::var(k, up[k]))).g;
                let gd = f([0, 1, 2, 3].map(|k| D2::var(k, down[k]))).g;
                for k in 0..4 {
                    let fd = (gu[k] - gd[k]) / (2.0 * e);
                    prop_assert!((h[i * 4 + k] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "∂{}∂{}: {} vs {}", i, k, h[i * 4 + k], fd);
                }
            }
        }
    }
}

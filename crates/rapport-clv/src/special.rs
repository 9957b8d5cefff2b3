//! Special functions in log space: ln Γ, ln B, and the Gauss hypergeometric ₂F₁.

use crate::dual::Real;

/// ln Γ(x) for x > 0.
///
/// ```
/// use rapport_clv::special::ln_gamma;
/// assert!((ln_gamma(5.0) - 24.0_f64.ln()).abs() < 1e-12); // Γ(5) = 4!
/// assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
/// assert!(ln_gamma(200.0).is_finite()); // Γ(200) itself overflows an f64
/// ```
#[must_use]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ln B(a, b), the logarithm of the beta function, for a, b > 0.
///
/// ```
/// use rapport_clv::special::ln_beta;
/// assert!((ln_beta(2.0, 3.0) - (1.0_f64 / 12.0).ln()).abs() < 1e-12); // B(2, 3) = 1!·2!/4!
/// assert_eq!(ln_beta(1.5, 4.0), ln_beta(4.0, 1.5));
/// ```
#[must_use]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(e^a + e^b) without overflow.
///
/// ```
/// use rapport_clv::special::log_add_exp;
/// assert!((log_add_exp(1000.0, 1000.0) - (1000.0 + 2.0_f64.ln())).abs() < 1e-9);
/// assert!((log_add_exp(0.0, 1.0) - (1.0 + 1.0_f64.exp()).ln()).abs() < 1e-12);
/// assert_eq!(log_add_exp(f64::NEG_INFINITY, -3.0), -3.0); // ln(0 + e^-3)
/// ```
#[must_use]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its power series, summed until the terms stop
/// mattering; for z > 0.5 the Euler transformation
/// ₂F₁(a,b;c;z) = (1−z)^(c−a−b) ₂F₁(c−a, c−b; c; z) is used when it converges faster
/// (its terms shrink when c−a and c−b are small).
///
/// ```
/// use rapport_clv::special::hyp2f1;
/// // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
/// let z = 0.7_f64;
/// assert!((hyp2f1(1.0, 1.0, 2.0, z) - (-(1.0 - z).ln() / z)).abs() < 1e-13);
/// ```
#[must_use]
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    hyp2f1_real(a, b, c, z)
}

/// [`hyp2f1`] over [`Real`]: with [`crate::dual::D2`] arguments, its derivatives in them too.
pub(crate) fn hyp2f1_real<S: Real>(a: S, b: S, c: S, z: S) -> S {
    let (av, bv, cv) = (a.val(), b.val(), c.val());
    if z.val() > 0.5 && (cv - av).abs() + (cv - bv).abs() < av.abs() + bv.abs() {
        return (S::cst(1.0) - z).pow(c - a - b) * series(c - a, c - b, c, z);
    }
    series(a, b, c, z)
}

fn series<S: Real>(a: S, b: S, c: S, z: S) -> S {
    let mut term = S::cst(1.0);
    let mut sum = S::cst(1.0);
    for k in 0..200_000u32 {
        let kf = f64::from(k);
        term = term * (a + kf) * (b + kf) / ((c + kf) * (kf + 1.0)) * z;
        sum = sum + term;
        // Not before the z² term: at z = 0 the value stops at once, the second derivatives
        // in z do not.
        if k >= 1 && term.val().abs() <= 1e-17 * sum.val().abs() {
            break;
        }
    }
    sum
}

/// ψ(x), the digamma function (d/dx ln Γ), for x > 0: the recurrence ψ(x) = ψ(x+1) − 1/x up
/// to x ≥ 10, then the asymptotic series (error below 1e-15 relative there).
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    acc + x.ln() - 0.5 * inv - series
}

/// ψ′(x), the trigamma function, for x > 0 (recurrence up to x ≥ 10, then the asymptotic
/// series).
pub(crate) fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = 1.0
        + inv * 0.5
        + inv2
            * (1.0 / 6.0
                - inv2
                    * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 * (1.0 / 30.0 - inv2 * 5.0 / 66.0))));
    acc + inv * series
}

/// ln(1 + e^u) and the logistic σ(u) = e^u / (1 + e^u), without overflow.
pub(crate) fn softplus_sigmoid(u: f64) -> (f64, f64) {
    let e = (-u.abs()).exp();
    let sp = u.max(0.0) + e.ln_1p();
    let s = if u >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (sp, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_and_trigamma_match_differences_of_ln_gamma() {
        // ψ(1) = −γ, ψ′(1) = π²/6; and central differences elsewhere.
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-13);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-13);
        for x in [0.05, 0.3, 0.9, 2.5, 7.0, 11.0, 40.0, 300.0] {
            let h = 1e-5 * x;
            let d = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - d).abs() < 1e-6 * (1.0 + d.abs()), "ψ({x})");
            let t = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!((trigamma(x) - t).abs() < 1e-6 * (1.0 + t.abs()), "ψ′({x})");
        }
        // The recurrence across the switch point.
        assert!((digamma(10.5) - digamma(9.5) - 1.0 / 9.5).abs() < 1e-14);
        assert!((trigamma(9.5) - trigamma(10.5) - 1.0 / 90.25).abs() < 1e-14);
    }

    #[test]
    fn softplus_matches_log_add_exp() {
        for u in [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0] {
            let (sp, s) = softplus_sigmoid(u);
            assert!((sp - log_add_exp(0.0, u)).abs() <= 1e-15 * (1.0 + sp.abs()));
            assert!((s - 1.0 / (1.0 + (-u).exp())).abs() < 1e-15);
        }
    }
}

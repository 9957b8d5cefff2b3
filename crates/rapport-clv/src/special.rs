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

/// The most terms any series here sums. Where they are needed at all (₂F₁ at z within
/// 2/a of 1, for a = r + s + x of a customer with thousands of purchases) the sum is as good
/// as it gets in f64 long before; the bound keeps every evaluation finite in time.
const MAX_TERMS: u32 = 100_000;

fn series<S: Real>(a: S, b: S, c: S, z: S) -> S {
    let mut term = S::cst(1.0);
    let mut sum = S::cst(1.0);
    for k in 0..MAX_TERMS {
        let kf = f64::from(k);
        term = term * (a + kf) * (b + kf) / ((c + kf) * (kf + 1.0)) * z;
        sum = sum + term;
        // Not before the z² term: at z = 0 the value stops at once, the second derivatives
        // in z do not.
        if k >= 1 && term.size() <= 1e-17 * sum.size() {
            break;
        }
    }
    sum
}

/// ln ₂F₁(a, b; a + 1; z) for a > 0, b > 0 with a ≥ b − 1, and 0 ≤ z < 1, given also `w` =
/// 1 − z computed without cancellation: the Pareto/NBD likelihood's hypergeometric term (note
/// 009 eqs. 19–20: a = r + s + x, b = r + x or s + 1, z = (hi − lo)/(hi + τ), and
/// 1 − z = (lo + τ)/(hi + τ)).
///
/// The power series needs about 37/(1 − z) terms, without bound as z → 1 (α ≪ β or β ≪ α
/// with τ = 0: a fit running off towards a limit goes there), so it serves only z ≤ 1/2.
/// Above, with w₀ = min(1/2, 2/a):
/// - w ≥ w₀: the Pfaff transformation ₂F₁(a, b; a+1; z) = w^(−b) ₂F₁(b, 1; a+1; −z/w),
///   whose argument may be far below −1, by Gauss's continued fraction (convergent on the
///   whole negative axis; under 150 steps here for a ≥ b − 1);
/// - w < w₀ (z within 2/a of 1): with P(z) = ∫₀^z t^(a−1) (1−t)^(−b) dt = z^a/a · ₂F₁(a, b;
///   a+1; z), P(z) = P(1 − w₀) + ∫_w^(w₀) (1−v)^(a−1) v^(−b) dv: the first term as above at
///   1 − w₀, the second by expanding (1−v)^(a−1) = Σ (1−a)ₖ/k! vᵏ and integrating each power
///   exactly, ∫ v^(e−1) dv over [w, w₀] = w^e · L · (e^(eL) − 1)/(eL) with L = ln(w₀/w) and
///   e = k + 1 − b — finite as e crosses 0 (b an integer), where the classical 1 − z
///   connection formula has poles. Past k = 3 the terms shrink by at least 2/k (a > 4,
///   w₀ = 2/a) or 1/2 (a ≤ 4, w₀ = 1/2), and their alternating sum loses at most a factor
///   e⁴ to cancellation (a·v ≤ 2).
///
/// Every loop is bounded ([`MAX_TERMS`]); across the whole domain the value agrees with a
/// 30-digit evaluation to about 1e-15 relative (the regression tests below).
pub(crate) fn ln_hyp2f1_a1<S: Real>(a: S, b: S, z: S, w: S) -> S {
    let av = a.val();
    if w.val() >= 0.5 || z.val() <= 0.0 {
        return hyp2f1_real(a, b, a + 1.0, z).ln();
    }
    let w0 = (2.0 / av).min(0.5);
    if w.val() >= w0 {
        return ln_hyp2f1_pfaff(a, b, z, w);
    }
    let z0 = 1.0 - w0;
    // ln P(z₀).
    let ln_g0 = if w0 >= 0.5 {
        hyp2f1_real(a, b, a + 1.0, S::cst(z0)).ln()
    } else {
        ln_hyp2f1_pfaff(a, b, S::cst(z0), S::cst(w0))
    };
    let ln_p0 = a * z0.ln() - a.ln() + ln_g0;
    // ln ∫_w^w₀ (1−v)^(a−1) v^(−b) dv, its terms relative to the first.
    let ln_w = w.ln();
    let big_l = S::cst(w0.ln()) - ln_w;
    let ln_l = big_l.ln();
    let ln_i = |k: u32| {
        let e = S::cst(f64::from(k) + 1.0) - b;
        e * ln_w + ln_l + ln_exprel(e * big_l)
    };
    let ln_i0 = ln_i(0);
    let (mut prev, mut term, mut sum) = (ln_i0, S::cst(1.0), S::cst(1.0));
    for k in 1..MAX_TERMS {
        let kf = f64::from(k);
        let next = ln_i(k);
        // (1−a)ₖ/k! · Iₖ/I₀ from the previous term (no overflow of the binomials).
        term = term * (S::cst(kf) - a) / kf * (next - prev).exp();
        prev = next;
        sum = sum + term;
        if kf >= 3.0 && term.size() <= 1e-17 * sum.size() {
            break;
        }
    }
    let ln_p = crate::dual::log_add_exp(ln_p0, ln_i0 + sum.ln());
    a.ln() - a * z.ln() + ln_p
}

/// Most steps of the continued fraction of [`ln_hyp2f1_pfaff`] (it needs under 150 where it
/// is used; the bound keeps a NaN from looping).
const MAX_CF_STEPS: u32 = 5_000;

/// ln ₂F₁(a, b; a+1; z) = −b ln w + ln ₂F₁(b, 1; a+1; u), u = −z/w ≤ 0 (Pfaff), the last by
/// Gauss's continued fraction ₂F₁(b, 1; c+1; u) = 1/(1 − k₁u/(1 − k₂u/(1 − …))) with c = a,
/// k₂ₙ₊₁ = (b+n)(c+n)/((c+2n)(c+2n+1)), k₂ₙ = n(c−b+n)/((c+2n−1)(c+2n)), evaluated by the
/// modified Lentz method.
fn ln_hyp2f1_pfaff<S: Real>(a: S, b: S, z: S, w: S) -> S {
    const TINY: f64 = 1e-300;
    let u = -(z / w);
    let guard = |v: S| {
        if v.val().abs() < TINY {
            S::cst(TINY)
        } else {
            v
        }
    };
    // f = 1/(1 + a₁/(1 + a₂/(1 + …))) with aⱼ = −kⱼ u; Lentz on the denominator.
    let mut f = S::cst(1.0);
    let mut c = S::cst(1.0);
    let mut d = S::cst(0.0);
    for j in 1..MAX_CF_STEPS {
        let n = f64::from(j / 2);
        let k = if j % 2 == 1 {
            (b + n) * (a + n) / ((a + 2.0 * n) * (a + (2.0 * n + 1.0)))
        } else {
            (a - b + n) * n / ((a + (2.0 * n - 1.0)) * (a + 2.0 * n))
        };
        let aj = -(k * u);
        d = guard(aj * d + 1.0);
        c = guard(aj / c + 1.0);
        d = S::cst(1.0) / d;
        let delta = c * d;
        f = f * delta;
        if (delta - 1.0).size() <= f64::EPSILON {
            break;
        }
    }
    -(b * w.ln()) - f.ln()
}

/// ln((e^u − 1)/u) (0 at u = 0), with its first two derivatives, over [`Real`]: u/2 + h(u/2)
/// with h(y) = ln(sinh y / y), by its Taylor series near 0 and in closed form elsewhere.
fn ln_exprel<S: Real>(u: S) -> S {
    let y = 0.5 * u.val();
    let (h, h1, h2) = if y.abs() < 0.1 {
        let y2 = y * y;
        (
            y2 * (1.0 / 6.0 - y2 * (1.0 / 180.0 - y2 * (1.0 / 2835.0 - y2 / 37800.0))),
            y * (1.0 / 3.0
                - y2 * (1.0 / 45.0
                    - y2 * (2.0 / 945.0 - y2 * (1.0 / 4725.0 - y2 * 2.0 / 93555.0)))),
            1.0 / 3.0
                - y2 * (1.0 / 15.0 - y2 * (2.0 / 189.0 - y2 * (1.0 / 675.0 - y2 * 2.0 / 10395.0))),
        )
    } else {
        let ay = y.abs();
        let sinh = y.sinh();
        (
            ay + (-(-2.0 * ay).exp_m1()).ln() - std::f64::consts::LN_2 - ay.ln(),
            1.0 / y.tanh() - 1.0 / y,
            1.0 / (y * y) - 1.0 / (sinh * sinh),
        )
    };
    u.chain(y + h, 0.5 + 0.5 * h1, 0.25 * h2)
}

/// ψ(x), the digamma function (d/dx ln Γ), for x > 0: the recurrence ψ(x) = ψ(x+1) − 1/x up
/// to x ≥ 10, then the asymptotic series (error below 1e-15 relative there). NaN for x ≤ 0
/// or NaN (where the recurrence would not end: x + 1 = x for x ≤ −2⁵³).
pub(crate) fn digamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
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
/// series); NaN for x ≤ 0 or NaN, as [`digamma`].
pub(crate) fn trigamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
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

    /// ln ₂F₁(a, b; a+1; 1 − w) at 30 digits (mpmath 1.3), across the power series, the
    /// continued fraction and the expansion near 1 (b an integer, w down to 1e-12, a up to
    /// 10⁴).
    const LN_HYP2F1_A1: [(f64, f64, f64, f64); 17] = [
        (0.3, 0.1, 0.7, 0.007_655_016_729_239_126),
        (2.5, 3.0, 0.3, 2.535_275_051_701_323),
        (1.5, 1.0, 0.05, 1.360_863_293_861_589_5),
        (1.5, 1.0, 1e-09, 3.406_660_443_365_726),
        (3.0, 2.0, 1e-06, 14.914_098_215_230_024),
        (2.2, 1.2, 0.2, 1.168_437_804_497_194_1),
        (12.0, 11.0, 0.01, 46.231_807_026_179_28),
        (12.0, 1.5, 1e-07, 11.235_221_985_067_959),
        (40.0, 2.0, 0.001, 10.480_876_885_813_163),
        (40.0, 3.0, 0.04, 8.757_133_131_166_677),
        (1000.0, 3.4, 0.002, 20.244_127_242_022_6),
        (1000.0, 3.4, 0.00049, 24.069_762_166_638_697),
        (1000.0, 14.0, 0.02, 54.257_692_458_975_73),
        (990.0, 989.0, 0.0001, 9_099.818_309_555_215),
        (10000.0, 1.0, 1e-08, 11.366_064_259_953_407),
        (10000.0, 2.0, 0.3, 2.407_479_206_162_811),
        (5.0, 0.2, 1e-12, 0.489_612_226_409_640_2),
    ];

    #[test]
    fn ln_hyp2f1_a1_matches_30_digit_values_near_and_far_from_1() {
        for (a, b, w, want) in LN_HYP2F1_A1 {
            let got = ln_hyp2f1_a1(a, b, 1.0 - w, w);
            assert!(
                (got - want).abs() < 1e-13 * want.abs().max(1.0),
                "a {a} b {b} w {w}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn ln_hyp2f1_a1_derivatives_in_a_and_b_match_finite_differences() {
        use crate::dual::D2;
        for (a, b, w, _) in LN_HYP2F1_A1 {
            let f = |a: f64, b: f64| ln_hyp2f1_a1(a, b, 1.0 - w, w);
            let d = ln_hyp2f1_a1(D2::var(0, a), D2::var(1, b), D2::cst(1.0 - w), D2::cst(w));
            assert_eq!(d.v, f(a, b));
            let (ea, eb) = (1e-6 * a, 1e-6 * b);
            let da = (f(a + ea, b) - f(a - ea, b)) / (2.0 * ea);
            let db = (f(a, b + eb) - f(a, b - eb)) / (2.0 * eb);
            for (an, fd, what) in [(d.g[0], da, "∂a"), (d.g[1], db, "∂b")] {
                assert!(
                    (an - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{what} at a {a} b {b} w {w}: {an} vs {fd}"
                );
            }
            let (mut h, mut fd_h) = ([0.0; 16], [0.0; 2]);
            d.hessian(&mut h);
            let g = |a: f64, b: f64| {
                let d = ln_hyp2f1_a1(D2::var(0, a), D2::var(1, b), D2::cst(1.0 - w), D2::cst(w));
                [d.g[0], d.g[1]]
            };
            fd_h[0] = (g(a + ea, b)[0] - g(a - ea, b)[0]) / (2.0 * ea);
            fd_h[1] = (g(a, b + eb)[1] - g(a, b - eb)[1]) / (2.0 * eb);
            for (an, fd, what) in [(h[0], fd_h[0], "∂a∂a"), (h[5], fd_h[1], "∂b∂b")] {
                assert!(
                    (an - fd).abs() < 1e-4 * (1.0 + fd.abs()),
                    "{what} at a {a} b {b} w {w}: {an} vs {fd}"
                );
            }
        }
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

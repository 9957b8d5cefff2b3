//! Properties of the models, and fits that recover the parameters of simulated data.
#![allow(clippy::unwrap_used, missing_docs)]

use proptest::prelude::*;
use rapport_clv::*;

fn model() -> impl Strategy<Value = BgNbd> {
    (0.05f64..3.0, 0.5f64..50.0, 0.1f64..3.0, 0.5f64..8.0)
        .prop_map(|(r, al, a, b)| BgNbd::new(r, al, a, b).unwrap())
}

fn history() -> impl Strategy<Value = (f64, f64, f64)> {
    (0u32..30, 0.0f64..1.0, 1.0f64..100.0).prop_map(|(x, frac, t)| {
        let x = f64::from(x);
        let tx = if x == 0.0 {
            0.0
        } else {
            (frac * t * 100.0).round() / 100.0
        };
        (x, tx, t)
    })
}

proptest! {
    #[test]
    fn prop_p_alive_is_a_probability(m in model(), (x, tx, t) in history()) {
        let p = m.p_alive(x, tx, t);
        prop_assert!((0.0..=1.0).contains(&p), "{p}");
    }

    #[test]
    fn prop_expected_purchases_grow_with_the_horizon(m in model(), (x, tx, t) in history(), h in 0.5f64..100.0) {
        prop_assume!(m.a > 1.0);
        let a = m.conditional_expected_purchases(h, x, tx, t);
        let b = m.conditional_expected_purchases(h * 1.5, x, tx, t);
        prop_assert!(a.is_finite() && b.is_finite());
        prop_assert!(b >= a - 1e-12, "{a} then {b}");
        prop_assert!(m.expected_purchases(h * 1.5) >= m.expected_purchases(h) - 1e-12);
    }

    #[test]
    fn prop_clv_falls_as_the_discount_rate_rises(m in model(), (x, tx, t) in history(), d in 0.0f64..0.2) {
        prop_assume!(m.a > 1.0);
        let g = GammaGamma::new(6.0, 3.7, 15.0).unwrap();
        let low = clv(&m, &g, x, tx, t, 20.0, 12, d, Period::Week);
        let high = clv(&m, &g, x, tx, t, 20.0, 12, d + 0.05, Period::Week);
        prop_assert!(high <= low + 1e-9, "{low} then {high}");
    }
}

/// xorshift64* with gamma (Marsaglia–Tsang) and exponential draws.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.unit().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v > 0.0 && self.unit().ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        x / (x + self.gamma(b))
    }
}

/// Simulates BG/NBD customers observed for `t` periods: rate λ ~ Gamma(r, α), dropout
/// probability p ~ Beta(a, b) after each purchase.
fn simulate(m: &BgNbd, n: usize, t: f64, seed: u64) -> Vec<(f64, f64, f64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let lambda = rng.gamma(m.r) / m.alpha;
            let p = rng.beta(m.a, m.b);
            let (mut now, mut x, mut last) = (0.0, 0.0, 0.0);
            loop {
                now += -rng.unit().ln() / lambda;
                if now > t {
                    break;
                }
                x += 1.0;
                last = now;
                if rng.unit() < p {
                    break;
                }
            }
            (x, (last * 100.0).round() / 100.0, t)
        })
        .collect()
}

#[test]
fn fits_recover_simulated_parameters() {
    let truth = BgNbd::new(0.25, 4.0, 0.8, 2.5).unwrap();
    let rows = simulate(&truth, 20_000, 52.0, 7);
    let fit = BgNbd::fit(&rows).unwrap();
    for (name, got, want) in [
        ("r", fit.model.r, truth.r),
        ("alpha", fit.model.alpha, truth.alpha),
        ("a", fit.model.a, truth.a),
        ("b", fit.model.b, truth.b),
    ] {
        assert!(
            (got - want).abs() / want < 0.15,
            "{name}: fitted {got}, true {want}"
        );
    }
}

#[test]
fn bad_rows_are_typed_errors_naming_the_row() {
    let err = BgNbd::fit(&[(1.0, 5.0, 10.0), (2.0, 12.0, 10.0)]).unwrap_err();
    assert_eq!(err.to_string(), "row 1: recency 12 is greater than T 10");
    assert!(matches!(
        BgNbd::fit(&[(-1.0, 0.0, 1.0)]),
        Err(ClvError::InvalidRow {
            field: "frequency",
            ..
        })
    ));
    assert!(matches!(BgNbd::fit(&[]), Err(ClvError::Empty { .. })));
    assert!(matches!(
        GammaGamma::fit(&[(0.0, 0.0)]),
        Err(ClvError::Empty { skipped: 1 })
    ));
    assert!(BgNbd::new(0.0, 1.0, 1.0, 1.0).is_err());
}

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
            // Rounded to the cent, but never past T (a valid history).
            ((frac * t * 100.0).round() / 100.0).min(t)
        };
        (x, tx, t)
    })
}

fn pareto() -> impl Strategy<Value = ParetoNbd> {
    (0.05f64..3.0, 0.5f64..50.0, 0.1f64..3.0, 0.5f64..50.0)
        .prop_map(|(r, al, s, be)| ParetoNbd::new(r, al, s, be).unwrap())
}

fn mbg() -> impl Strategy<Value = MbgNbd> {
    (0.05f64..3.0, 0.5f64..50.0, 0.1f64..3.0, 0.5f64..8.0)
        .prop_map(|(r, al, a, b)| MbgNbd::new(r, al, a, b).unwrap())
}

/// Any of the three count models.
fn count_model() -> impl Strategy<Value = Box<dyn CountModel>> {
    prop_oneof![
        model().prop_map(|m| Box::new(m) as Box<dyn CountModel>),
        pareto().prop_map(|m| Box::new(m) as Box<dyn CountModel>),
        mbg().prop_map(|m| Box::new(m) as Box<dyn CountModel>),
    ]
}

fn bgbb() -> impl Strategy<Value = BgBb> {
    (0.1f64..5.0, 0.1f64..5.0, 0.1f64..5.0, 0.1f64..5.0)
        .prop_map(|(a, b, g, d)| BgBb::new(a, b, g, d).unwrap())
}

fn opportunities() -> impl Strategy<Value = Opportunities> {
    (1u32..30)
        .prop_flat_map(|n| (0..=n, Just(n)))
        .prop_flat_map(|(tx, n)| {
            let lo = u32::from(tx > 0);
            (lo..=tx).prop_map(move |x| Opportunities::new(x, tx, n).unwrap())
        })
}

proptest! {
    #[test]
    fn prop_many_histories_at_many_horizons_equal_one_at_a_time(
        m in count_model(),
        histories in prop::collection::vec(history(), 1..20),
        horizons in prop::collection::vec(0.0f64..120.0, 1..14),
    ) {
        // Repeat some histories' (x, T) with another tx, so shared parts are reused.
        let mut hs = histories.clone();
        hs.extend(histories.iter().map(|(x, tx, t)| (*x, if *x > 0.0 { tx / 2.0 } else { 0.0 }, *t)));
        let many = m.conditional_expected_purchases_many(&hs, &horizons);
        prop_assert_eq!(many.len(), hs.len() * horizons.len());
        for (i, (x, tx, t)) in hs.iter().enumerate() {
            for (j, h) in horizons.iter().enumerate() {
                let one = m.conditional_expected_purchases(*h, *x, *tx, *t);
                let got = many[i * horizons.len() + j];
                prop_assert!(got.to_bits() == one.to_bits() || (got.is_nan() && one.is_nan()), "{} vs {}", got, one);
            }
        }
    }

    #[test]
    fn prop_p_alive_is_a_probability(m in count_model(), (x, tx, t) in history()) {
        let p = m.p_alive(x, tx, t);
        prop_assert!((0.0..=1.0).contains(&p), "{p}");
    }

    #[test]
    fn prop_count_models_expected_purchases_grow_with_the_horizon(m in count_model(), (x, tx, t) in history(), h in 0.5f64..100.0) {
        let a = m.conditional_expected_purchases(h, x, tx, t);
        let b = m.conditional_expected_purchases(h * 1.5, x, tx, t);
        // Models with a dropout shape at or below 1 have an infinite mean; skip those.
        prop_assume!(a.is_finite() && b.is_finite() && a >= 0.0);
        prop_assert!(b >= a - 1e-9 * a.max(1.0), "{a} then {b}");
    }

    #[test]
    fn prop_bgbb_is_consistent(m in bgbb(), h in opportunities(), k in 1u32..20) {
        let p0 = m.p_alive(0, &h);
        let pk = m.p_alive(k, &h);
        prop_assert!((0.0..=1.0 + 1e-9).contains(&p0), "{p0}");
        prop_assert!(pk <= p0 + 1e-12, "alive later {pk} > now {p0}");
        let a = m.conditional_expected_purchases(k, &h);
        let b = m.conditional_expected_purchases(k + 1, &h);
        prop_assert!(a >= 0.0 && b >= a - 1e-12, "{a} then {b}");
        let total: f64 = (0..=h.periods).map(|x| m.probability_of_purchases(x, h.periods)).sum();
        prop_assert!((total - 1.0).abs() < 1e-9, "P(X(n) = x) sums to {total}");
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
    fn prop_clv_falls_as_the_discount_rate_rises(m in count_model(), (x, tx, t) in history(), d in 0.0f64..0.2) {
        let g = GammaGamma::new(6.0, 3.7, 15.0).unwrap();
        let customer = Summary { frequency: x, recency: tx, t, monetary_value: 20.0 };
        let weekly = ClvParams::new(Period::Week);
        let low = clv(m.as_ref(), &g, &customer, &weekly.with_discount(d));
        let high = clv(m.as_ref(), &g, &customer, &weekly.with_discount(d + 0.05));
        prop_assume!(low.is_finite() && high.is_finite());
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

/// Simulates Pareto/NBD customers: λ ~ Gamma(r, α), lifetime ~ Exp(μ) with μ ~ Gamma(s, β).
fn simulate_pareto(m: &ParetoNbd, n: usize, t: f64, seed: u64) -> Vec<(f64, f64, f64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let lambda = rng.gamma(m.r) / m.alpha;
            let mu = rng.gamma(m.s) / m.beta;
            let end = (-rng.unit().ln() / mu).min(t);
            let (mut now, mut x, mut last) = (0.0, 0.0, 0.0);
            loop {
                now += -rng.unit().ln() / lambda;
                if now > end {
                    break;
                }
                x += 1.0;
                last = now;
            }
            (x, (last * 10.0).round() / 10.0, t)
        })
        .collect()
}

/// Simulates MBG/NBD customers: as BG/NBD, but the dropout coin is also tossed at the start.
fn simulate_mbg(m: &MbgNbd, n: usize, t: f64, seed: u64) -> Vec<(f64, f64, f64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let lambda = rng.gamma(m.r) / m.alpha;
            let p = rng.beta(m.a, m.b);
            let (mut now, mut x, mut last) = (0.0, 0.0, 0.0);
            if rng.unit() >= p {
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
            }
            (x, (last * 10.0).round() / 10.0, t)
        })
        .collect()
}

/// Simulates BG/BB customers over `n` opportunities: at each, a living customer dies with
/// probability θ ~ Beta(γ, δ), else transacts with probability p ~ Beta(α, β).
fn simulate_bgbb(m: &BgBb, customers: usize, n: u32, seed: u64) -> Vec<(Opportunities, f64)> {
    let mut rng = Rng(seed | 1);
    (0..customers)
        .map(|_| {
            let p = rng.beta(m.alpha, m.beta);
            let theta = rng.beta(m.gamma, m.delta);
            let (mut x, mut tx) = (0, 0);
            for i in 1..=n {
                if rng.unit() < theta {
                    break;
                }
                if rng.unit() < p {
                    x += 1;
                    tx = i;
                }
            }
            (Opportunities::new(x, tx, n).unwrap(), 1.0)
        })
        .collect()
}

fn assert_recovered(what: &str, pairs: &[(&str, f64, f64)], tolerance: f64) {
    for (name, got, want) in pairs {
        assert!(
            (got - want).abs() / want < tolerance,
            "{what} {name}: fitted {got}, true {want}"
        );
    }
}

#[test]
fn pareto_mbg_and_bgbb_fits_recover_simulated_parameters() {
    let truth = ParetoNbd::new(0.55, 10.0, 0.6, 12.0).unwrap();
    let fit = ParetoNbd::fit(&simulate_pareto(&truth, 20_000, 52.0, 11))
        .unwrap()
        .model;
    assert_recovered(
        "Pareto/NBD",
        &[
            ("r", fit.r, truth.r),
            ("alpha", fit.alpha, truth.alpha),
            ("s", fit.s, truth.s),
            ("beta", fit.beta, truth.beta),
        ],
        0.25,
    );
    let truth = MbgNbd::new(0.5, 6.0, 0.9, 1.6).unwrap();
    let fit = MbgNbd::fit(&simulate_mbg(&truth, 20_000, 52.0, 13))
        .unwrap()
        .model;
    assert_recovered(
        "MBG/NBD",
        &[
            ("r", fit.r, truth.r),
            ("alpha", fit.alpha, truth.alpha),
            ("a", fit.a, truth.a),
            ("b", fit.b, truth.b),
        ],
        0.15,
    );
    let truth = BgBb::new(1.2, 0.75, 0.66, 2.8).unwrap();
    let fit = BgBb::fit(&simulate_bgbb(&truth, 20_000, 6, 17))
        .unwrap()
        .model;
    assert_recovered(
        "BG/BB",
        &[
            ("alpha", fit.alpha, truth.alpha),
            ("beta", fit.beta, truth.beta),
            ("gamma", fit.gamma, truth.gamma),
            ("delta", fit.delta, truth.delta),
        ],
        0.15,
    );
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
    assert_eq!(
        ParetoNbd::fit(&[(0.0, 5.0, 10.0)]).unwrap_err().to_string(),
        "row 0: recency 5 without a repeat purchase (frequency 0 means recency 0)"
    );
    assert!(matches!(
        GammaGamma::fit(&[(0.0, 0.0)]),
        Err(ClvError::Empty { skipped: 1 })
    ));
    assert!(BgNbd::new(0.0, 1.0, 1.0, 1.0).is_err());
}

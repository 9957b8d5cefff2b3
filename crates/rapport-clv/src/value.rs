//! Customer value: CLV as `lifetimes` computes it from a count model and Gamma-Gamma, the
//! simple historical, retention and DCF forms, and the customer referral value (CRV).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::count::CountModel;
use crate::gamma_gamma::GammaGamma;
use crate::summary::Period;

/// `lifetimes`' CLV: Σ_{i=1..months} m · (E[N(i·f)] − E[N((i−1)·f)]) / (1 + d)^i, with m
/// the Gamma-Gamma expected average profit, E[N(t)] the count model's conditional expected
/// purchases and f the periods per month.
///
/// ```
/// use rapport_clv::{BgNbd, GammaGamma, Period, clv};
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
/// let v = clv(&bg, &gg, 2.0, 30.43, 38.86, 22.35, 12, 0.01, Period::Week);
/// assert!((v - 36.278).abs() < 0.01);
/// ```
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn clv(
    count: &(impl CountModel + ?Sized),
    spend: &GammaGamma,
    x: f64,
    tx: f64,
    t: f64,
    monetary: f64,
    months: u32,
    discount: f64,
    period: Period,
) -> f64 {
    spend.conditional_expected_average_profit(x, monetary)
        * discounted_purchases(count, x, tx, t, months, discount, period)
}

/// The purchase part of [`clv`]: Σ_{i=1..months} (E[N(i·f)] − E[N((i−1)·f)]) / (1 + d)^i.
/// It depends on `(x, tx, t)` only, so a caller valuing many customers computes it once per
/// distinct history and multiplies by each customer's expected profit.
///
/// ```
/// use rapport_clv::{BgNbd, GammaGamma, Period, clv, discounted_purchases};
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
/// let d = discounted_purchases(&bg, 2.0, 30.43, 38.86, 12, 0.01, Period::Week);
/// let m = gg.conditional_expected_average_profit(2.0, 22.35);
/// assert_eq!(m * d, clv(&bg, &gg, 2.0, 30.43, 38.86, 22.35, 12, 0.01, Period::Week));
/// ```
#[must_use]
pub fn discounted_purchases(
    count: &(impl CountModel + ?Sized),
    x: f64,
    tx: f64,
    t: f64,
    months: u32,
    discount: f64,
    period: Period,
) -> f64 {
    let f = period.per_month();
    let expected: Vec<f64> = (1..=months)
        .map(|i| count.conditional_expected_purchases(f64::from(i) * f, x, tx, t))
        .collect();
    discount_monthly(&expected, discount)
}

/// The discounting of [`discounted_purchases`] on a curve already computed:
/// `expected[i]` is E[N((i + 1)·f)], the expected purchases by the end of month `i + 1`
/// (e.g. from [`CountModel::conditional_expected_purchases_many`] with monthly horizons).
///
/// ```
/// use rapport_clv::{BgNbd, CountModel, Period, discount_monthly, discounted_purchases};
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let months: Vec<f64> = (1..=12).map(|i| f64::from(i) * Period::Week.per_month()).collect();
/// let curve = bg.conditional_expected_purchases_many(&[(2.0, 30.43, 38.86)], &months);
/// assert_eq!(
///     discount_monthly(&curve, 0.01),
///     discounted_purchases(&bg, 2.0, 30.43, 38.86, 12, 0.01, Period::Week)
/// );
/// // Without discounting, the purchases of the year.
/// assert!((discount_monthly(&curve, 0.0) - curve[11]).abs() < 1e-12);
/// ```
#[must_use]
pub fn discount_monthly(expected: &[f64], discount: f64) -> f64 {
    let mut prev = 0.0;
    let mut total = 0.0;
    let mut factor = 1.0;
    for e in expected {
        factor *= 1.0 + discount;
        total += (e - prev) / factor;
        prev = *e;
    }
    total
}

/// Historical CLV: the margin earned to date.
///
/// ```
/// use rust_decimal::Decimal;
/// assert_eq!(rapport_clv::historical_clv(&[Decimal::from(30), Decimal::from(12)]), Decimal::from(42));
/// ```
#[must_use]
pub fn historical_clv(margins: &[Decimal]) -> Decimal {
    margins.iter().sum()
}

/// Retention-model CLV (Gupta & Lehmann): `m · r / (1 + d − r)` for margin per period `m`,
/// retention rate `r` and discount rate `d`.
///
/// ```
/// let v = rapport_clv::retention_clv(100.0, 0.8, 0.1);
/// assert!((v - 266.666_666_7).abs() < 1e-6);
/// ```
#[must_use]
pub fn retention_clv(margin: f64, retention: f64, discount: f64) -> f64 {
    margin * retention / (1.0 + discount - retention)
}

/// Finite-horizon DCF CLV: Σ_{t=0..T} m_t r^t / (1+d)^t − acquisition cost.
///
/// ```
/// let v = rapport_clv::dcf_clv(&[100.0, 100.0], 0.5, 0.0, 20.0);
/// assert!((v - 130.0).abs() < 1e-12);
/// ```
#[must_use]
pub fn dcf_clv(margins: &[f64], retention: f64, discount: f64, acquisition_cost: f64) -> f64 {
    margins
        .iter()
        .enumerate()
        .map(|(t, m)| m * retention.powi(t as i32) / (1.0 + discount).powi(t as i32))
        .sum::<f64>()
        - acquisition_cost
}

/// One referred customer's flows, per period 1..=T (index 0 is period 1).
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_clv::{Referred, crv};
/// // Would have joined anyway with probability 0.5: half of the flows count as incremental,
/// // the other half only saves the acquisition cost.
/// let y = Referred {
///     incremental: 0.5,
///     margin: vec![Decimal::from(100)],
///     reward: vec![Decimal::from(20)],
///     marketing: vec![Decimal::ZERO],
///     acquisition_saved: vec![Decimal::from(50)],
/// };
/// // (0.5 × (100 − 20 + 50) + 0.5 × 50) / 1.1 = 90 / 1.1
/// assert!((crv(&[y], 0.10) - 90.0 / 1.1).abs() < 1e-9);
/// assert_eq!(crv(&[], 0.10), 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Referred {
    /// Probability that the customer joined only because of the referral (1 = incremental).
    pub incremental: f64,
    /// Contribution margin A_t.
    pub margin: Vec<Decimal>,
    /// Referral reward paid a_t.
    pub reward: Vec<Decimal>,
    /// Marketing cost M_t.
    pub marketing: Vec<Decimal>,
    /// Acquisition cost saved ACQ_t (ACQ1 for the incremental part, ACQ2 otherwise).
    pub acquisition_saved: Vec<Decimal>,
}

/// Customer referral value (Kumar, Petersen & Leone): for each referred customer,
/// incremental part `p · Σ (A − a − M + ACQ1)/(1+r)^t` plus would-have-joined part
/// `(1 − p) · Σ ACQ2/(1+r)^t`.
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_clv::{Referred, crv};
/// // DOMAIN.md's worked check: 200.83.
/// let y = Referred {
///     incremental: 1.0,
///     margin: vec![Decimal::from(100), Decimal::from(100)],
///     reward: vec![Decimal::from(20), Decimal::ZERO],
///     marketing: vec![Decimal::ZERO, Decimal::ZERO],
///     acquisition_saved: vec![Decimal::from(50), Decimal::ZERO],
/// };
/// assert!((crv(&[y], 0.10) - 200.826_446).abs() < 1e-5);
/// ```
#[must_use]
pub fn crv(referred: &[Referred], rate: f64) -> f64 {
    let f = |d: Option<&Decimal>| d.and_then(ToPrimitive::to_f64).unwrap_or(0.0);
    referred
        .iter()
        .map(|y| {
            let n = y
                .margin
                .len()
                .max(y.reward.len())
                .max(y.marketing.len())
                .max(y.acquisition_saved.len());
            (0..n)
                .map(|i| {
                    let disc = (1.0 + rate).powi(i as i32 + 1);
                    let inc = f(y.margin.get(i)) - f(y.reward.get(i)) - f(y.marketing.get(i))
                        + f(y.acquisition_saved.get(i));
                    let would = f(y.acquisition_saved.get(i));
                    (y.incremental * inc + (1.0 - y.incremental) * would) / disc
                })
                .sum::<f64>()
        })
        .sum::<f64>()
        + 0.0 // an empty sum is -0.0; show it as 0
}

//! Money-valued formulas in `Decimal`, with their inputs validated: retention-model and DCF
//! CLV (Gupta & Lehmann) and the customer referral value (Kumar, Petersen & Leone).
//!
//! Every amount stays a `Decimal` from input to result, so a worked example is reproduced to
//! the cent (no binary rounding); divisions keep 28 significant digits, and the caller rounds
//! for display (`round_dp(2)`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::ClvError;

fn invalid(field: &'static str, reason: String) -> ClvError {
    ClvError::InvalidInput { field, reason }
}

/// Checks a discount rate: greater than −1 (so `1 + d > 0`).
fn check_discount(field: &'static str, d: Decimal) -> Result<Decimal, ClvError> {
    if d <= -Decimal::ONE {
        return Err(invalid(field, format!("{d} must be greater than -1")));
    }
    Ok(d)
}

/// Checks a probability or retention rate in `[0, 1]` (`[0, 1)` when `open`).
fn check_unit(field: &'static str, v: Decimal, open: bool) -> Result<Decimal, ClvError> {
    if v.is_sign_negative() && !v.is_zero() || v > Decimal::ONE || (open && v == Decimal::ONE) {
        let range = if open { "[0, 1)" } else { "[0, 1]" };
        return Err(invalid(field, format!("{v} must be in {range}")));
    }
    Ok(v)
}

/// Retention-model CLV (Gupta & Lehmann 2003): the value of a customer who brings margin `m`
/// each period and stays with probability `r` per period, discounted at `d` per period, over
/// an infinite horizon: `m · r / (1 + d − r)`.
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_clv::retention_value;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// // 100 a period, 80 % retention, 10 % discount: 100 × 0.8 / 0.3 = 266.67.
/// assert_eq!(retention_value(d("100"), d("0.8"), d("0.1"))?.round_dp(2), d("266.67"));
/// // Nobody stays: nothing after today.
/// assert_eq!(retention_value(d("100"), d("0"), d("0.1"))?, Decimal::ZERO);
/// assert!(retention_value(d("100"), d("1"), d("0.1")).is_err()); // r = 1 never ends
/// assert!(retention_value(d("100"), d("0.8"), d("-1")).is_err());
/// # Ok::<(), rapport_clv::ClvError>(())
/// ```
///
/// # Errors
/// [`ClvError::InvalidInput`] when `r` is outside `[0, 1)` or `d ≤ −1`, or when
/// `1 + d − r ≤ 0` (a negative discount that the retention outweighs: the sum diverges).
pub fn retention_value(
    margin: Decimal,
    retention: Decimal,
    discount: Decimal,
) -> Result<Decimal, ClvError> {
    let r = check_unit("retention", retention, true)?;
    let d = check_discount("discount", discount)?;
    let denominator = Decimal::ONE + d - r;
    if denominator <= Decimal::ZERO {
        return Err(invalid(
            "discount",
            format!("1 + {d} − {r} is not positive: the value diverges"),
        ));
    }
    margin
        .checked_mul(r)
        .and_then(|x| x.checked_div(denominator))
        .ok_or_else(|| invalid("margin", "overflowed".into()))
}

/// Finite-horizon DCF CLV (Gupta & Lehmann): `Σ_{t=0..T} m_t · r^t / (1 + d)^t − acquisition
/// cost`, with `margins[t]` the margin of period `t` (period 0 is now, undiscounted).
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_clv::dcf_value;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// // 100 now and 100 next period kept with probability 0.5, no discount, 20 to acquire.
/// assert_eq!(dcf_value(&[d("100"), d("100")], d("0.5"), d("0"), d("20"))?, d("130"));
/// // 3 periods of 50 at 90 % retention and 10 % discount: 50 + 40.91 + 33.47 = 124.38.
/// assert_eq!(dcf_value(&[d("50"); 3], d("0.9"), d("0.1"), Decimal::ZERO)?.round_dp(2), d("124.38"));
/// assert!(dcf_value(&[d("50")], d("1.2"), d("0.1"), Decimal::ZERO).is_err());
/// # Ok::<(), rapport_clv::ClvError>(())
/// ```
///
/// # Errors
/// [`ClvError::InvalidInput`] when `r` is outside `[0, 1]` or `d ≤ −1`.
pub fn dcf_value(
    margins: &[Decimal],
    retention: Decimal,
    discount: Decimal,
    acquisition_cost: Decimal,
) -> Result<Decimal, ClvError> {
    let r = check_unit("retention", retention, false)?;
    let d = check_discount("discount", discount)?;
    let step = r
        .checked_div(Decimal::ONE + d)
        .ok_or_else(|| invalid("discount", "overflowed".into()))?;
    let mut factor = Decimal::ONE;
    let mut total = Decimal::ZERO;
    for m in margins {
        total = m
            .checked_mul(factor)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| invalid("margins", "overflowed".into()))?;
        factor *= step;
    }
    Ok(total - acquisition_cost)
}

/// One period's flows of a referred customer (Kumar, Petersen & Leone's notation).
///
/// ```
/// use rapport_clv::ReferralPeriod;
/// use rust_decimal::Decimal;
/// let p = ReferralPeriod { margin: Decimal::from(100), ..ReferralPeriod::default() };
/// assert_eq!(p.reward, Decimal::ZERO);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralPeriod {
    /// `A_ty`: the referred customer's contribution margin in the period (actual, then
    /// predicted).
    pub margin: Decimal,
    /// `a_ty`: the referral reward paid for them in the period.
    pub reward: Decimal,
    /// `M_ty`: the marketing cost spent on them in the period.
    pub marketing: Decimal,
    /// `ACQ1_ty`: the acquisition cost saved, when they joined only because of the referral.
    pub saving_incremental: Decimal,
    /// `ACQ2_ty`: the acquisition cost saved, when they would have joined anyway.
    pub saving_would_join: Decimal,
}

/// A customer the referrer brought in: how likely they joined only because of the referral
/// (1 = incremental, 0 = would have joined anyway), and their flows in periods 1, 2, ….
///
/// ```
/// use rapport_clv::{Referral, ReferralPeriod};
/// use rust_decimal::Decimal;
/// // Margins known for two periods, then one predicted by the customer's CLV model.
/// let r = Referral::incremental(&[Decimal::from(40), Decimal::from(55)], &[Decimal::from(60)]);
/// assert_eq!(r.periods.len(), 3);
/// assert_eq!(r.periods[2].margin, Decimal::from(60));
/// assert_eq!(r.probability, Decimal::ONE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Probability that the customer joined only because of the referral, in `[0, 1]`.
    pub probability: Decimal,
    /// Flows in periods 1..=T (index 0 is period 1).
    pub periods: Vec<ReferralPeriod>,
}

impl Referral {
    /// An incremental referral with these margins: the actual ones to date, then the predicted
    /// ones (from the referred customer's CLV model); no rewards, costs or savings yet.
    #[must_use]
    pub fn incremental(actual: &[Decimal], predicted: &[Decimal]) -> Self {
        Self {
            probability: Decimal::ONE,
            periods: actual
                .iter()
                .chain(predicted)
                .map(|m| ReferralPeriod {
                    margin: *m,
                    ..ReferralPeriod::default()
                })
                .collect(),
        }
    }
}

/// A referrer's CRV with the part each referred customer contributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralValue {
    /// The CRV: the sum of `parts`.
    pub total: Decimal,
    /// Each referral's discounted value, in the order given.
    pub parts: Vec<Decimal>,
}

/// Customer referral value (Kumar, Petersen & Leone, HBR 2007; J. Marketing 2010) over the
/// referrals' periods at discount rate `rate` per period:
///
/// `CRV = Σ_y Σ_t [ p_y (A_ty − a_ty − M_ty + ACQ1_ty) + (1 − p_y) ACQ2_ty ] / (1 + r)^t`
///
/// ```
/// use rust_decimal::Decimal;
/// use rapport_clv::{Referral, ReferralPeriod, referral_value};
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// // DOMAIN.md's worked check: one incremental referral, margins 100 and 100 in periods 1–2,
/// // reward 20 and acquisition saving 50 in period 1, r = 10 %:
/// // (100 − 20 + 50)/1.1 + 100/1.21 = 118.18 + 82.64 = 200.83.
/// let y = Referral {
///     probability: Decimal::ONE,
///     periods: vec![
///         ReferralPeriod { margin: d("100"), reward: d("20"), saving_incremental: d("50"), ..Default::default() },
///         ReferralPeriod { margin: d("100"), ..Default::default() },
///     ],
/// };
/// let v = referral_value(&[y], d("0.10"))?;
/// assert_eq!(v.total.round_dp(2), d("200.83"));
/// assert_eq!(v.parts[0].round_dp(2), d("200.83"));
/// assert_eq!(referral_value(&[], d("0.10"))?.total, Decimal::ZERO);
/// # Ok::<(), rapport_clv::ClvError>(())
/// ```
///
/// # Errors
/// [`ClvError::InvalidInput`] when a probability is outside `[0, 1]` or `rate ≤ −1`.
pub fn referral_value(referrals: &[Referral], rate: Decimal) -> Result<ReferralValue, ClvError> {
    let rate = check_discount("rate", rate)?;
    let growth = Decimal::ONE + rate;
    let mut parts = Vec::with_capacity(referrals.len());
    for y in referrals {
        let p = check_unit("probability", y.probability, false)?;
        let q = Decimal::ONE - p;
        let mut factor = Decimal::ONE;
        let mut part = Decimal::ZERO;
        for f in &y.periods {
            factor = factor
                .checked_mul(growth)
                .ok_or_else(|| invalid("rate", "overflowed".into()))?;
            let incremental = f.margin - f.reward - f.marketing + f.saving_incremental;
            let flow = p * incremental + q * f.saving_would_join;
            part += flow / factor;
        }
        parts.push(part);
    }
    Ok(ReferralValue {
        total: parts.iter().sum(),
        parts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn cents() -> impl Strategy<Value = Decimal> {
        (0i64..1_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    fn period() -> impl Strategy<Value = ReferralPeriod> {
        (cents(), cents(), cents(), cents(), cents()).prop_map(|(a, b, c, d, e)| ReferralPeriod {
            margin: a,
            reward: b,
            marketing: c,
            saving_incremental: d,
            saving_would_join: e,
        })
    }

    fn rate() -> impl Strategy<Value = Decimal> {
        (0i64..500).prop_map(|bp| Decimal::new(bp, 3))
    }

    fn close(a: Decimal, b: Decimal) -> bool {
        (a - b).abs() < Decimal::new(1, 18)
    }

    proptest! {
        /// A referral with zero margin and zero savings is worth minus its rewards (and
        /// marketing): exactly at rate 0, discounted otherwise.
        #[test]
        fn prop_zero_margin_and_savings_is_minus_the_rewards(rewards in prop::collection::vec(cents(), 0..8), r in rate()) {
            let y = Referral {
                probability: Decimal::ONE,
                periods: rewards.iter().map(|a| ReferralPeriod { reward: *a, ..Default::default() }).collect(),
            };
            let at_zero = referral_value(std::slice::from_ref(&y), Decimal::ZERO).unwrap().total;
            prop_assert_eq!(at_zero, -rewards.iter().sum::<Decimal>());
            let discounted = referral_value(&[y], r).unwrap().total;
            let expected: Decimal = rewards.iter().enumerate().map(|(t, a)| {
                let mut f = Decimal::ONE;
                for _ in 0..=t { f *= Decimal::ONE + r; }
                -*a / f
            }).sum();
            prop_assert!(close(discounted, expected), "{} vs {}", discounted, expected);
            prop_assert!(discounted <= Decimal::ZERO);
        }

        /// CRV is linear (affine between the two cases) in the probability: the value at p is
        /// p × the incremental value + (1 − p) × the would-have-joined value.
        #[test]
        fn prop_crv_is_linear_in_the_probability(periods in prop::collection::vec(period(), 0..6), p in 0u32..=100, r in rate()) {
            let at = |prob: Decimal| referral_value(&[Referral { probability: prob, periods: periods.clone() }], r).unwrap().total;
            let p = Decimal::new(i64::from(p), 2);
            let (one, zero) = (at(Decimal::ONE), at(Decimal::ZERO));
            prop_assert!(close(at(p), p * one + (Decimal::ONE - p) * zero));
        }

        /// The total is the sum of the parts, and the order of referrals does not matter.
        #[test]
        fn prop_total_is_the_sum_of_the_parts(a in prop::collection::vec(period(), 0..4), b in prop::collection::vec(period(), 0..4), r in rate()) {
            let ya = Referral { probability: Decimal::ONE, periods: a };
            let yb = Referral { probability: Decimal::new(3, 1), periods: b };
            let both = referral_value(&[ya.clone(), yb.clone()], r).unwrap();
            let swapped = referral_value(&[yb, ya], r).unwrap();
            prop_assert_eq!(both.total, both.parts.iter().sum::<Decimal>());
            prop_assert!(close(both.total, swapped.total));
        }

        /// DCF over many periods approaches the retention model's infinite sum (period 0
        /// undiscounted: DCF = m + retention value).
        #[test]
        fn prop_dcf_tends_to_the_retention_value(m in 1i64..10_000, r in 0i64..90, d in 1i64..50) {
            let (m, r, d) = (Decimal::from(m), Decimal::new(r, 2), Decimal::new(d, 2));
            let long = dcf_value(&vec![m; 400], r, d, Decimal::ZERO).unwrap();
            let infinite = m + retention_value(m, r, d).unwrap();
            prop_assert!((long - infinite).abs() < Decimal::new(1, 6), "{} vs {}", long, infinite);
        }
    }

    #[test]
    fn inputs_are_validated() {
        let one = Decimal::ONE;
        let bad_p = Referral {
            probability: Decimal::new(11, 1),
            periods: vec![],
        };
        assert!(matches!(
            referral_value(&[bad_p], Decimal::ZERO),
            Err(ClvError::InvalidInput {
                field: "probability",
                ..
            })
        ));
        assert!(matches!(
            referral_value(&[], -one),
            Err(ClvError::InvalidInput { field: "rate", .. })
        ));
        assert!(matches!(
            retention_value(one, Decimal::new(-1, 1), Decimal::ZERO),
            Err(ClvError::InvalidInput {
                field: "retention",
                ..
            })
        ));
        // A negative discount the retention outweighs diverges.
        let e = retention_value(one, Decimal::new(6, 1), Decimal::new(-5, 1)).unwrap_err();
        assert!(e.to_string().contains("diverges"), "{e}");
        assert!(dcf_value(&[one], one, Decimal::ZERO, Decimal::ZERO).is_ok()); // r = 1 is fine for a finite horizon
        assert!(matches!(
            dcf_value(&[one], one, -one, Decimal::ZERO),
            Err(ClvError::InvalidInput {
                field: "discount",
                ..
            })
        ));
    }
}

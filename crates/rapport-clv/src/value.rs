//! Customer value: CLV as `lifetimes` computes it from a count model and Gamma-Gamma, the
//! historical form (the retention, DCF and referral values are in `money_value`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::count::CountModel;
use crate::gamma_gamma::GammaGamma;
use crate::summary::{Period, Summary};

/// How [`clv`] values the future: over how many months, at what discount rate per month, and
/// in which period the summaries count time. `Default` is `lifetimes`' default
/// (`customer_lifetime_value(..., time=12, discount_rate=0.01, freq="D")`): 12 months at 1 %
/// a month on summaries in days; [`ClvParams::new`] takes the period of the data, with the same
/// 12 months at 1 %.
///
/// `#[non_exhaustive]`: build it with [`ClvParams::new`] or `Default` and the `with_*` methods.
///
/// ```
/// use rapport_clv::{ClvParams, Period};
/// let d = ClvParams::default();
/// assert_eq!((d.months, d.discount, d.period), (12, 0.01, Period::Day));
/// let weekly = ClvParams::new(Period::Week);
/// assert_eq!(weekly, ClvParams::default().with_period(Period::Week));
/// let two_years = weekly.with_months(24).with_discount(0.02);
/// assert_eq!((two_years.months, two_years.discount), (24, 0.02));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClvParams {
    /// Months valued: CLV sums the profit of months 1..=`months` (lifetimes' `time`, 12).
    pub months: u32,
    /// Discount rate per month (lifetimes' `discount_rate`, 0.01 = 1 %).
    pub discount: f64,
    /// The period the summaries count time in: a month is [`Period::per_month`] of them.
    pub period: Period,
}

impl Default for ClvParams {
    fn default() -> Self {
        Self::new(Period::Day)
    }
}

impl ClvParams {
    /// 12 months at 1 % a month (`lifetimes`' defaults) on summaries counted in `period`.
    ///
    /// ```
    /// use rapport_clv::{ClvParams, Period};
    /// let p = ClvParams::new(Period::Week);
    /// assert_eq!((p.months, p.discount, p.period), (12, 0.01, Period::Week));
    /// ```
    #[must_use]
    pub const fn new(period: Period) -> Self {
        Self {
            months: 12,
            discount: 0.01,
            period,
        }
    }

    /// The same with `months` months valued.
    ///
    /// ```
    /// use rapport_clv::ClvParams;
    /// assert_eq!(ClvParams::default().with_months(36).months, 36);
    /// ```
    #[must_use]
    pub const fn with_months(mut self, months: u32) -> Self {
        self.months = months;
        self
    }

    /// The same with a discount rate of `discount` per month (0.01 = 1 %).
    ///
    /// ```
    /// use rapport_clv::ClvParams;
    /// assert_eq!(ClvParams::default().with_discount(0.0).discount, 0.0);
    /// ```
    #[must_use]
    pub const fn with_discount(mut self, discount: f64) -> Self {
        self.discount = discount;
        self
    }

    /// The same on summaries counted in `period`.
    ///
    /// ```
    /// use rapport_clv::{ClvParams, Period};
    /// assert_eq!(ClvParams::default().with_period(Period::Week).period, Period::Week);
    /// ```
    #[must_use]
    pub const fn with_period(mut self, period: Period) -> Self {
        self.period = period;
        self
    }

    /// The end of each month valued, in periods: `i · f` for `i` in 1..=`months`, `f` =
    /// [`Period::per_month`]. The horizons to pass to
    /// [`CountModel::conditional_expected_purchases_many`] for [`discount_monthly`].
    ///
    /// ```
    /// use rapport_clv::{ClvParams, Period};
    /// let h = ClvParams::new(Period::Day).with_months(3).month_ends();
    /// assert_eq!(h, [30.0, 60.0, 90.0]);
    /// ```
    #[must_use]
    pub fn month_ends(&self) -> Vec<f64> {
        let f = self.period.per_month();
        (1..=self.months).map(|i| f64::from(i) * f).collect()
    }
}

/// `lifetimes`' CLV of one customer: Σ_{i=1..months} m · (E[N(i·f)] − E[N((i−1)·f)]) /
/// (1 + d)^i, with m the Gamma-Gamma expected average profit of the customer's repeat
/// purchases, E[N(t)] the count model's conditional expected purchases and f the periods per
/// month. The customer is a [`Summary`] (frequency, recency, T and monetary value, as
/// [`summarize`](crate::summarize) returns them); months, discount and period come from
/// [`ClvParams`].
///
/// ```
/// use rapport_clv::{BgNbd, ClvParams, GammaGamma, Period, Summary, clv};
/// // lifetimes' CDNOW fits, in weeks, and CDNOW customer 1.
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
/// let customer = Summary { frequency: 2.0, recency: 30.43, t: 38.86, monetary_value: 22.35 };
/// let v = clv(&bg, &gg, &customer, &ClvParams::new(Period::Week));
/// assert!((v - 36.278).abs() < 0.01);
/// // Valued over two years instead of one: worth more.
/// assert!(clv(&bg, &gg, &customer, &ClvParams::new(Period::Week).with_months(24)) > v);
/// ```
#[must_use]
pub fn clv(
    count: &(impl CountModel + ?Sized),
    spend: &GammaGamma,
    customer: &Summary,
    params: &ClvParams,
) -> f64 {
    let Summary {
        frequency: x,
        recency: tx,
        t,
        monetary_value,
    } = *customer;
    spend.conditional_expected_average_profit(x, monetary_value)
        * discounted_purchases(count, x, tx, t, params)
}

/// The purchase part of [`clv`]: Σ_{i=1..months} (E[N(i·f)] − E[N((i−1)·f)]) / (1 + d)^i for
/// the history `(x, tx, t)`. It does not depend on the monetary value, so a caller valuing
/// many customers computes it once per distinct history and multiplies by each customer's
/// expected profit.
///
/// ```
/// use rapport_clv::{BgNbd, ClvParams, GammaGamma, Period, Summary, clv, discounted_purchases};
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
/// let weekly = ClvParams::new(Period::Week);
/// let d = discounted_purchases(&bg, 2.0, 30.43, 38.86, &weekly);
/// let m = gg.conditional_expected_average_profit(2.0, 22.35);
/// let customer = Summary { frequency: 2.0, recency: 30.43, t: 38.86, monetary_value: 22.35 };
/// assert_eq!(m * d, clv(&bg, &gg, &customer, &weekly));
/// ```
#[must_use]
pub fn discounted_purchases(
    count: &(impl CountModel + ?Sized),
    x: f64,
    tx: f64,
    t: f64,
    params: &ClvParams,
) -> f64 {
    let f = params.period.per_month();
    let expected: Vec<f64> = (1..=params.months)
        .map(|i| count.conditional_expected_purchases(f64::from(i) * f, x, tx, t))
        .collect();
    discount_monthly(&expected, params.discount)
}

/// The discounting of [`discounted_purchases`] on a curve already computed:
/// `expected[i]` is E[N((i + 1)·f)], the expected purchases by the end of month `i + 1`
/// (e.g. from [`CountModel::conditional_expected_purchases_many`] with monthly horizons).
///
/// ```
/// use rapport_clv::{BgNbd, ClvParams, CountModel, Period, discount_monthly, discounted_purchases};
/// let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
/// let weekly = ClvParams::new(Period::Week);
/// let curve = bg.conditional_expected_purchases_many(&[(2.0, 30.43, 38.86)], &weekly.month_ends());
/// assert_eq!(
///     discount_monthly(&curve, weekly.discount),
///     discounted_purchases(&bg, 2.0, 30.43, 38.86, &weekly)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BgNbd;

    #[test]
    fn clv_params_default_is_lifetimes_default_and_reads_partial_json() {
        let d = ClvParams::default();
        assert_eq!((d.months, d.discount, d.period), (12, 0.01, Period::Day));
        // Missing fields take the defaults.
        let p: ClvParams = serde_json::from_str(r#"{"months": 24, "period": "week"}"#).unwrap();
        assert_eq!(p, ClvParams::new(Period::Week).with_months(24));
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::json!({"months": 24, "discount": 0.01, "period": "week"})
        );
    }

    #[test]
    fn clv_is_the_discounted_sum_of_monthly_increments() {
        let bg = BgNbd::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
        let gg = GammaGamma::new(6.2488, 3.7446, 15.4477).unwrap();
        let c = Summary {
            frequency: 2.0,
            recency: 30.43,
            t: 38.86,
            monetary_value: 22.35,
        };
        let p = ClvParams::new(Period::Week)
            .with_months(3)
            .with_discount(0.1);
        let e = |m: f64| bg.conditional_expected_purchases(m * 4.345, 2.0, 30.43, 38.86);
        let by_hand = gg.conditional_expected_average_profit(2.0, 22.35)
            * (e(1.0) / 1.1
                + (e(2.0) - e(1.0)) / 1.1_f64.powi(2)
                + (e(3.0) - e(2.0)) / 1.1_f64.powi(3));
        let got = clv(&bg, &gg, &c, &p);
        assert!(
            (got - by_hand).abs() < 1e-12 * by_hand,
            "{got} vs {by_hand}"
        );
        assert_eq!(p.month_ends(), [4.345, 2.0 * 4.345, 3.0 * 4.345]);
        // No months, no value.
        assert_eq!(clv(&bg, &gg, &c, &p.with_months(0)), 0.0);
    }
}

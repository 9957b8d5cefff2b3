//! A tenant's fitted CLV model, as stored: which purchase model with which parameters, the
//! optional Gamma-Gamma spend model, the time unit the parameters are in and when it was
//! fitted. Plain data: the numerics live in `rapport-clv`; the service reads this to give
//! churn risk as 1 − P(alive) and the expected 12-month CLV (`clv_12m`) to segments and tier
//! ladders.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// The purchase-count model and its parameters (as `lifetimes` names them).
///
/// ```
/// use rapport_core::ClvModel;
/// let m = ClvModel::BgNbd { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258 };
/// assert_eq!(m.name(), "bg_nbd");
/// let json = serde_json::to_string(&m).unwrap();
/// assert_eq!(json, r#"{"model":"bg_nbd","r":0.2426,"alpha":4.4135,"a":0.7929,"b":2.4258}"#);
/// assert_eq!(serde_json::from_str::<ClvModel>(&json).unwrap(), m);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ClvModel {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    BgNbd {
        /// Shape of the purchase-rate gamma.
        r: f64,
        /// Scale of the purchase-rate gamma.
        alpha: f64,
        /// Dropout beta `a`.
        a: f64,
        /// Dropout beta `b`.
        b: f64,
    },
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd {
        /// Shape of the purchase-rate gamma.
        r: f64,
        /// Scale of the purchase-rate gamma.
        alpha: f64,
        /// Shape of the dropout-rate gamma.
        s: f64,
        /// Scale of the dropout-rate gamma.
        beta: f64,
    },
    /// MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    MbgNbd {
        /// Shape of the purchase-rate gamma.
        r: f64,
        /// Scale of the purchase-rate gamma.
        alpha: f64,
        /// Dropout beta `a`.
        a: f64,
        /// Dropout beta `b`.
        b: f64,
    },
}

impl ClvModel {
    /// The model's snake-case name (`bg_nbd`, `pareto_nbd`, `mbg_nbd`), as reasons print it.
    ///
    /// ```
    /// use rapport_core::ClvModel;
    /// assert_eq!(ClvModel::ParetoNbd { r: 1.0, alpha: 1.0, s: 1.0, beta: 1.0 }.name(), "pareto_nbd");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            ClvModel::BgNbd { .. } => "bg_nbd",
            ClvModel::ParetoNbd { .. } => "pareto_nbd",
            ClvModel::MbgNbd { .. } => "mbg_nbd",
        }
    }

    /// The four parameters in `lifetimes`' order.
    ///
    /// ```
    /// use rapport_core::ClvModel;
    /// let m = ClvModel::MbgNbd { r: 1.0, alpha: 2.0, a: 3.0, b: 4.0 };
    /// assert_eq!(m.params(), [1.0, 2.0, 3.0, 4.0]);
    /// ```
    #[must_use]
    pub fn params(&self) -> [f64; 4] {
        match *self {
            ClvModel::BgNbd { r, alpha, a, b } | ClvModel::MbgNbd { r, alpha, a, b } => {
                [r, alpha, a, b]
            }
            ClvModel::ParetoNbd { r, alpha, s, beta } => [r, alpha, s, beta],
        }
    }
}

/// Gamma-Gamma spend parameters `p`, `q`, `v`.
///
/// ```
/// use rapport_core::SpendModel;
/// let s = SpendModel { p: 6.25, q: 3.74, v: 15.44 };
/// assert_eq!(serde_json::to_value(s).unwrap()["q"], 3.74);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpendModel {
    /// Shape of the per-transaction spend gamma.
    pub p: f64,
    /// Shape of the gamma of the spend scale.
    pub q: f64,
    /// Scale of the gamma of the spend scale.
    pub v: f64,
}

/// The time unit a model's parameters are in: summaries (frequency, recency, T) count these.
///
/// ```
/// use rapport_core::ClvPeriod;
/// assert_eq!(ClvPeriod::default(), ClvPeriod::Day);
/// assert_eq!(serde_json::to_string(&ClvPeriod::Week).unwrap(), r#""week""#);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClvPeriod {
    /// Calendar days (the default, `lifetimes`' `freq="D"`).
    #[default]
    Day,
    /// Calendar weeks, Monday to Sunday.
    Week,
}

/// A tenant's fitted CLV model: what `Service::fit_clv` or `rapport clv fit --store` writes
/// through [`Store::save_clv_model`](crate::ports::Store::save_clv_model) and the service
/// reads back for its decisions.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let fitted = FittedClv {
///     model: ClvModel::BgNbd { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258 },
///     spend: Some(SpendModel { p: 6.2488, q: 3.7446, v: 15.4477 }),
///     period: ClvPeriod::Week,
///     monthly_discount: 0.01,
///     fitted_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
/// };
/// fitted.validate()?;
/// let json = serde_json::to_string(&fitted).unwrap();
/// assert_eq!(serde_json::from_str::<FittedClv>(&json).unwrap(), fitted);
/// let bad = FittedClv { model: ClvModel::BgNbd { r: -1.0, alpha: 1.0, a: 1.0, b: 1.0 }, ..fitted };
/// assert!(matches!(bad.validate(), Err(DomainError::InvalidPolicy { field: "clv_model.r", .. })));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FittedClv {
    /// The purchase-count model.
    pub model: ClvModel,
    /// The spend model; without it there is no `clv_12m`, only P(alive).
    pub spend: Option<SpendModel>,
    /// The time unit of the parameters.
    #[serde(default)]
    pub period: ClvPeriod,
    /// Discount rate per month for the CLV (`lifetimes`' default 0.01).
    pub monthly_discount: f64,
    /// When the model was fitted (the latest fit of a tenant wins).
    pub fitted_at: DateTime<Utc>,
}

impl FittedClv {
    /// Checks that every parameter is a finite number > 0 and the discount a finite number
    /// in `[0, 1)`.
    ///
    /// ```
    /// use rapport_core::*;
    /// let f = FittedClv {
    ///     model: ClvModel::ParetoNbd { r: 0.55, alpha: 10.58, s: 0.61, beta: 11.67 },
    ///     spend: None,
    ///     period: ClvPeriod::Week,
    ///     monthly_discount: f64::NAN,
    ///     fitted_at: chrono::DateTime::UNIX_EPOCH,
    /// };
    /// assert!(matches!(f.validate(), Err(DomainError::InvalidPolicy { field: "clv_model.monthly_discount", .. })));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming the parameter.
    pub fn validate(&self) -> Result<(), DomainError> {
        let names: [&'static str; 4] = match self.model {
            ClvModel::BgNbd { .. } | ClvModel::MbgNbd { .. } => [
                "clv_model.r",
                "clv_model.alpha",
                "clv_model.a",
                "clv_model.b",
            ],
            ClvModel::ParetoNbd { .. } => [
                "clv_model.r",
                "clv_model.alpha",
                "clv_model.s",
                "clv_model.beta",
            ],
        };
        let spend = self.spend.map(|s| {
            [
                ("clv_model.spend.p", s.p),
                ("clv_model.spend.q", s.q),
                ("clv_model.spend.v", s.v),
            ]
        });
        for (field, v) in names
            .into_iter()
            .zip(self.model.params())
            .chain(spend.into_iter().flatten())
        {
            if !(v.is_finite() && v > 0.0) {
                return Err(DomainError::InvalidPolicy {
                    field,
                    value: v.to_string(),
                    reason: "must be a finite number > 0",
                });
            }
        }
        let d = self.monthly_discount;
        if !(d.is_finite() && (0.0..1.0).contains(&d)) {
            return Err(DomainError::InvalidPolicy {
                field: "clv_model.monthly_discount",
                value: d.to_string(),
                reason: "must be a finite number in [0, 1)",
            });
        }
        Ok(())
    }
}

//! Errors of the CLV models.

/// What can go wrong fitting or predicting.
///
/// ```
/// use rapport_clv::{BgNbd, ClvError, GammaGamma};
/// let err = BgNbd::fit(&[(1.0, 5.0, 10.0), (2.0, 12.0, 10.0)]).unwrap_err();
/// assert!(matches!(err, ClvError::InvalidRow { row: 1, field: "recency", .. }));
/// assert_eq!(err.to_string(), "row 1: recency 12 is greater than T 10");
/// // Gamma-Gamma needs repeat customers with spend.
/// assert_eq!(GammaGamma::fit(&[(0.0, 0.0)]), Err(ClvError::Empty { skipped: 1 }));
/// assert!(matches!(BgNbd::new(0.0, 1.0, 1.0, 1.0), Err(ClvError::InvalidParameter { name: "r", .. })));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClvError {
    /// An input row breaks a rule (negative value, recency above T, ...).
    #[error("row {row}: {field} {reason}")]
    InvalidRow {
        /// 0-based index of the row in the input.
        row: usize,
        /// The field.
        field: &'static str,
        /// What is wrong, with the value.
        reason: String,
    },
    /// Nothing to fit.
    #[error("no rows to fit ({skipped} skipped)")]
    Empty {
        /// Rows skipped before fitting.
        skipped: usize,
    },
    /// The optimiser did not reach a small gradient.
    #[error(
        "the fit did not converge after {iterations} iterations (gradient norm {gradient_norm:e})"
    )]
    NotConverged {
        /// Iterations made.
        iterations: usize,
        /// The last gradient norm.
        gradient_norm: f64,
    },
    /// A parameter is not a positive finite number.
    #[error("parameter {name} = {value} must be a positive finite number")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
}

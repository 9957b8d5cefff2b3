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
        /// The field (column) at fault, e.g. `recency`.
        field: &'static str,
        /// What is wrong, with the value, e.g. `12 is greater than T 10`.
        reason: String,
    },
    /// Nothing to fit: no rows, or every row was skipped.
    #[error("no rows to fit ({skipped} skipped)")]
    Empty {
        /// Rows skipped before fitting (weight 0, or no repeat purchase for Gamma-Gamma).
        skipped: usize,
    },
    /// The optimiser did not reach a small gradient.
    #[error(
        "the fit did not converge after {iterations} iterations (gradient norm {gradient_norm:e})"
    )]
    NotConverged {
        /// Iterations the optimiser made.
        iterations: usize,
        /// The gradient norm at the last iterate, too large for the tolerance (infinite when
        /// the likelihood is not finite at the start).
        gradient_norm: f64,
    },
    /// A parameter is not a positive finite number.
    #[error("parameter {name} = {value} must be a positive finite number")]
    InvalidParameter {
        /// The parameter's name, e.g. `alpha`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// An input of a value formula is out of its range (a retention rate outside `[0, 1)`, a
    /// discount rate not above −1, a probability outside `[0, 1]`).
    #[error("{field} {reason}")]
    InvalidInput {
        /// The input, e.g. `retention`.
        field: &'static str,
        /// What is wrong, with the value.
        reason: String,
    },
}

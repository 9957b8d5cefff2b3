//! Metrics for the periodic review: pure functions over a tenant's customers, their stats and
//! feedback, each with the definition of DOMAIN.md "Metrics for periodic review" — churn and
//! win-back rates over a [`Period`], retention by monthly acquisition cohort, conversion of
//! prospects, the stage funnel and flows, tier distribution, CLV by tier, NPS, CSAT and revenue
//! per currency.
//!
//! Stages at a past date are recomputed from the purchase history with the lifecycle machine
//! ([`stage_at`](crate::stage_at)), never read from the stored stage, so a review of last
//! quarter gives the same figures whenever it is run.
//!
//! ```
//! use chrono::NaiveDate;
//! use rapport_core::metrics::{Period, Rate};
//! let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
//! let q1 = Period::new(d(1, 1), d(4, 1))?;
//! assert!(q1.contains(d(3, 31)) && !q1.contains(d(4, 1)));
//! assert_eq!(Rate { numerator: 1, denominator: 4 }.value(), Some(0.25));
//! # Ok::<(), rapport_core::DomainError>(())
//! ```

pub mod cohort;
pub mod conversion;
pub mod feedback;
pub mod period;
pub mod stages;
pub mod value;

pub use cohort::{CohortRetention, cohort_retention};
pub use conversion::conversion;
pub use feedback::{CsatScore, NpsScore, Response, csat, nps};
pub use period::{Period, Rate};
pub use stages::{StageCounts, StageFlow, StageReview, stage_on, stage_review};
pub use value::{
    TierClv, TierCounts, TierFlow, clv_by_tier, revenue_by_currency, tier_distribution,
    tier_movements,
};

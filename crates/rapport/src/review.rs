//! The periodic review through the service: the metrics of `rapport_core::metrics` over every
//! customer of a tenant and its survey answers, read through the `Store` port (so any backend
//! answers it).

use std::collections::BTreeMap;

use rapport_core::metrics::{
    self, CohortRetention, CsatScore, NpsScore, Period, Rate, Response, StageReview, TierCounts,
    TierFlow,
};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::error::Error;
use crate::service::Service;
use crate::store_ext::StoreExt;

/// Days a prospect has to make its first purchase to count as converted (DOMAIN.md).
pub const CONVERSION_DAYS: u32 = 30;

/// The review of a period: DOMAIN.md "Metrics for periodic review", each figure with its counts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Review {
    /// Churn and win-back rates, stage funnel (at the end) and flows.
    pub stages: StageReview,
    /// Prospects created in the period who bought within [`CONVERSION_DAYS`] days.
    pub conversion: Rate,
    /// Monthly acquisition cohorts over the purchase days before the period's end.
    pub cohorts: Vec<CohortRetention>,
    /// Net Promoter Score of the period's answers.
    pub nps: NpsScore,
    /// Customer satisfaction of the period's answers.
    pub csat: CsatScore,
    /// Live customers per current tier.
    pub tiers: TierCounts,
    /// Tier movements by the ladder's thresholds (`None` for ladders the stats cannot replay).
    pub tier_movements: Option<Vec<TierFlow>>,
    /// Net revenue per currency.
    pub revenue: BTreeMap<Currency, Decimal>,
}

impl<S: Store, N: Notifier> Service<S, N> {
    /// The review of `period` for tenant `t`: every customer is read once (`scan`), and the
    /// activities of those with survey answers (for NPS and CSAT). Stages at the period's ends
    /// are recomputed from the purchase histories with the service's lifecycle policy.
    ///
    /// ```
    /// use chrono::{NaiveDate, TimeZone, Utc};
    /// use futures::executor::block_on;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// use rapport::core::metrics::Period;
    /// use rapport_memory::MemoryStore;
    /// let at = Utc.with_ymd_and_hms(2026, 1, 10, 9, 0, 0).unwrap();
    /// let svc = rapport::Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(at));
    /// let t = TenantId::from_u128(1);
    /// let c = block_on(svc.register_new(t, Profile::default()))?;
    /// block_on(svc.record(t, NewActivity::feedback(c.id(), Feedback::Nps(Nps::new(10)?), at)?))?;
    /// let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    /// let r = block_on(svc.review(t, Period::new(d(1, 1), d(2, 1))?))?;
    /// assert_eq!(r.nps.value(), Some(100.0));
    /// assert_eq!((r.conversion.numerator, r.conversion.denominator), (0, 1)); // a prospect
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors; [`DomainError::Overflow`] when a revenue total overflows.
    #[tracing::instrument(name = "rapport.review", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn review(&self, t: TenantId, period: Period) -> Result<Review, Error> {
        let records = self.store().scan_all(t, 5_000).await?;
        let live: Vec<&Record> = records.iter().filter(|r| r.customer.is_live()).collect();
        let mut responses = Vec::new();
        for r in live
            .iter()
            .filter(|r| r.stats.count(ActivityType::Feedback) > 0)
        {
            let acts = self
                .store()
                .activities(t, r.customer.id(), TimeRange::all())
                .await?;
            responses.extend(acts.iter().filter_map(Response::from_activity));
        }
        let book = || live.iter().map(|r| (&r.customer, &r.stats));
        let policies = self.policies();
        Ok(Review {
            stages: metrics::stage_review(book(), &policies.lifecycle, period),
            conversion: metrics::conversion(book(), period, CONVERSION_DAYS),
            cohorts: metrics::cohort_retention(live.iter().map(|r| &r.stats), period.end()),
            nps: metrics::nps(responses.iter().copied(), period),
            csat: metrics::csat(responses.iter().copied(), period),
            tiers: metrics::tier_distribution(live.iter().map(|r| &r.customer)),
            tier_movements: metrics::tier_movements(book(), &policies.tier, period),
            revenue: metrics::revenue_by_currency(live.iter().map(|r| &r.stats))?,
        })
    }
}

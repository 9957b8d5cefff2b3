//! What-if and time travel: [`Service::simulate`] runs a proposed policy against the book
//! without writing; [`Service::as_of`] recomputes a customer at a past date from the activity
//! log.

use chrono::{DateTime, Utc};
use rapport_core::{
    AsOf, CustomerId, Notifier, Page, Policies, RankInput, Ranked, Simulation, Stats, Store,
    TenantId, TimeRange, decide_tier_and_stage, rank_values, ranked_inputs, ranking_for, replay,
};

use crate::error::Error;
use crate::service::Service;

/// Customers read per page by the whole-book operations.
const PAGE: u32 = 2_000;

impl<S: Store, N: Notifier> Service<S, N> {
    /// Evaluates every live customer at `now` under the service's policies and under
    /// `proposed`, and returns the counts per tier and stage under both and the customers who
    /// would move, with both reasons. Nothing is written.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use chrono::{TimeZone, Utc};
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let svc = Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(now));
    /// let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.record(t, NewActivity::purchase(id, "1", Money::new("1500".parse()?, Currency::USD), now)?))?;
    /// // Gold from 1,000 instead of 2,000.
    /// let mut proposed = Policies::default();
    /// proposed.tier.ladder.rungs = Rungs::Thresholds { entries: vec![
    ///     (Tier::Iron, 200.into()), (Tier::Gold, 1_000.into()), (Tier::Platinum, 10_000.into())] };
    /// let s = block_on(svc.simulate(t, &proposed, now))?;
    /// assert_eq!((s.current.tiers[&Tier::Iron], s.proposed.tiers[&Tier::Gold]), (1, 1));
    /// assert_eq!(s.moves[0].change, Change::Tier { from: Tier::Iron, to: Tier::Gold });
    /// assert_eq!(block_on(svc.customer(t, id))?.customer.tier(), Tier::Iron); // nothing written
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Domain`] for an invalid proposal; store errors.
    #[tracing::instrument(name = "rapport.simulate", level = "info", skip_all, fields(tenant = %t))]
    pub async fn simulate(
        &self,
        t: TenantId,
        proposed: &Policies,
        now: DateTime<Utc>,
    ) -> Result<Simulation, Error> {
        proposed.validate()?;
        let current = self.policies();
        // Pass 1, only when a policy compares customers with each other: compact rank inputs.
        let (mut ci, mut pi) = (Vec::new(), Vec::new());
        if current.needs_ranking() || proposed.needs_ranking() {
            self.each_page(t, |rows| {
                for r in rows.iter().filter(|r| r.customer.is_live()) {
                    let id = r.customer.id();
                    if current.needs_ranking() {
                        ci.push(RankInput::of(id, &r.stats, current, now, None));
                    }
                    if proposed.needs_ranking() {
                        pi.push(RankInput::of(id, &r.stats, proposed, now, None));
                    }
                }
                Ok(())
            })
            .await?;
        }
        let rc: Option<Vec<Ranked>> = ranking_for(&ci, current, now);
        let rp: Option<Vec<Ranked>> = ranking_for(&pi, proposed, now);
        drop((ci, pi));
        let same_lifecycle = current.lifecycle == proposed.lifecycle;
        let mut out = Simulation::default();
        self.each_page(t, |rows| {
            for r in rows.iter().filter(|r| r.customer.is_live()) {
                let id = r.customer.id();
                let a = decide_tier_and_stage(
                    &r.customer,
                    &r.stats,
                    current,
                    &ranked_inputs(rc.as_deref(), id, now),
                    None,
                )?;
                let b = decide_tier_and_stage(
                    &r.customer,
                    &r.stats,
                    proposed,
                    &ranked_inputs(rp.as_deref(), id, now),
                    same_lifecycle.then_some(&a.stage),
                )?;
                out.add(id, &a, &b);
            }
            Ok(())
        })
        .await?;
        tracing::info!(
            customers = out.current.total(),
            moves = out.moves.len(),
            "simulated"
        );
        Ok(out)
    }

    /// The customer `id` as at `at`: tier, stage, tags, RFM and churn risk, each with its
    /// reason, recomputed from the activities at or before `at` under the service's policies
    /// (see [`replay`]). RFM scores rank the customer among the book as it was at `at` (every
    /// customer's activities up to then), so this reads the whole book when the customer had
    /// purchased by then.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use chrono::{Duration, TimeZone, Utc};
    /// let t0 = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
    /// let svc = Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(t0));
    /// let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.record(t, NewActivity::purchase(id, "1", Money::new("300".parse()?, Currency::USD), t0)?))?;
    /// block_on(svc.record(t, NewActivity::purchase(id, "2", Money::new("2000".parse()?, Currency::USD), t0 + Duration::days(30))?))?;
    /// let feb = block_on(svc.as_of(t, id, t0 + Duration::days(22)))?;
    /// assert_eq!((feb.evaluation.tier.to, feb.evaluation.stage.to), (Tier::Iron, Stage::New));
    /// assert_eq!(feb.rfm, Some(RfmScores::new(1, 1, 1).unwrap())); // alone in the book
    /// let mar = block_on(svc.as_of(t, id, t0 + Duration::days(40)))?;
    /// assert_eq!((mar.evaluation.tier.to, mar.stats.orders()), (Tier::Gold, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; store and domain errors.
    #[tracing::instrument(name = "rapport.as_of", level = "debug", skip_all, fields(tenant = %t, customer = %id))]
    pub async fn as_of(
        &self,
        t: TenantId,
        id: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<AsOf, Error> {
        let rec = self.customer(t, id).await?;
        let upto = TimeRange {
            from: None,
            to: at.checked_add_signed(chrono::Duration::microseconds(1)),
        };
        let acts = self.store().activities(t, rec.customer.id(), upto).await?;
        let policies = self.policies();
        let had_purchase = acts
            .iter()
            .any(|a| a.kind.activity_type() == rapport_core::ActivityType::Purchase);
        // The roles of the customer's links as they are now (links are not replayed).
        let mut inputs = self.single_inputs(t, rec.customer.id(), at).await?;
        if had_purchase || policies.needs_ranking() {
            let book = self.book_at(t, at).await?;
            let ranked = rank_values(&book, policies, at);
            inputs = inputs.with_ranked(ranked.iter().find(|r| r.customer == rec.customer.id()));
        }
        Ok(replay(&rec.customer, &acts, policies, at, inputs)?)
    }

    /// Every live customer's rank inputs as at `at` (stats rebuilt from the log for those
    /// with activity after `at`).
    async fn book_at(&self, t: TenantId, at: DateTime<Utc>) -> Result<Vec<RankInput>, Error> {
        let policies = self.policies();
        let mut rows = Vec::new();
        self.each_page(t, |page| {
            rows.extend(page.into_iter().filter(|r| r.customer.is_live()));
            Ok(())
        })
        .await?;
        let upto = TimeRange {
            from: None,
            to: at.checked_add_signed(chrono::Duration::microseconds(1)),
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id = r.customer.id();
            let stats = if r.stats.last_activity_at().is_none_or(|l| l <= at) {
                r.stats
            } else {
                let acts = self.store().activities(t, id, upto).await?;
                Stats::from_activities(acts.iter())?
            };
            out.push(RankInput::of(id, &stats, policies, at, None));
        }
        Ok(out)
    }

    /// Calls `f` with each page of the tenant's customers, in id order.
    async fn each_page(
        &self,
        t: TenantId,
        mut f: impl FnMut(Vec<rapport_core::Record>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut page = Page::first(PAGE);
        loop {
            let rows = self.store().scan(t, page).await?;
            let Some(last) = rows.last() else { break };
            page.after = Some(last.customer.id());
            f(rows)?;
        }
        Ok(())
    }
}

//! Fitted CLV models in decisions: [`Service::fit_clv`] fits a count model (and Gamma-Gamma)
//! on the book's summaries and stores it; every evaluation then reads the tenant's model
//! (when the churn policy's `use_fitted_model` is on) for churn risk = 1 − P(alive), and
//! the expected 12-month CLV for `clv_12m` in segments and for CLV tier ladders.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rapport_clv::{
    BgNbd, ClvParams, CountModel, Fit, GammaGamma, MbgNbd, ParetoNbd, Period, Summary,
};
use rapport_core::{
    ClvModel, ClvPeriod, EvalInputs, Evaluation, FittedClv, Notifier, Page, Record, Segment,
    SegmentContext, SpendModel, Stats, Store, TenantId, TierMetric,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::service::Service;

/// Which purchase-count model [`Service::fit_clv`] fits.
///
/// ```
/// use rapport::ClvModelKind;
/// assert_eq!(ClvModelKind::default(), ClvModelKind::BgNbd);
/// assert_eq!(serde_json::to_string(&ClvModelKind::ParetoNbd).unwrap(), r#""pareto_nbd""#);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClvModelKind {
    /// BG/NBD.
    #[default]
    BgNbd,
    /// Pareto/NBD.
    ParetoNbd,
    /// MBG/NBD.
    MbgNbd,
}

/// How [`Service::fit_clv`] fits: the model, the time unit and the monthly discount stored
/// with it.
///
/// ```
/// use rapport::{ClvModelKind, FitClvOptions};
/// use rapport::core::ClvPeriod;
/// let o = FitClvOptions::default();
/// assert_eq!((o.model, o.period, o.monthly_discount), (ClvModelKind::BgNbd, ClvPeriod::Day, 0.01));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitClvOptions {
    /// The count model.
    pub model: ClvModelKind,
    /// The time unit of the summaries and parameters.
    pub period: ClvPeriod,
    /// Discount rate per month for `clv_12m` (`lifetimes`' 0.01).
    pub monthly_discount: f64,
}

impl Default for FitClvOptions {
    fn default() -> Self {
        Self {
            model: ClvModelKind::BgNbd,
            period: ClvPeriod::Day,
            monthly_discount: 0.01,
        }
    }
}

/// What [`Service::fit_clv`] fitted and stored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClvFit {
    /// The stored model.
    pub model: FittedClv,
    /// Customers with a purchase the count model was fitted on.
    pub customers: usize,
    /// Its log-likelihood.
    pub log_likelihood: f64,
}

#[derive(Debug, Clone, Copy)]
enum Count {
    Bg(BgNbd),
    Pareto(ParetoNbd),
    Mbg(MbgNbd),
}

impl Count {
    fn model(&self) -> &dyn CountModel {
        match self {
            Count::Bg(m) => m,
            Count::Pareto(m) => m,
            Count::Mbg(m) => m,
        }
    }
}

/// A fitted count model as the parameters a store keeps.
trait Stored {
    fn stored(&self) -> ClvModel;
}

impl Stored for BgNbd {
    fn stored(&self) -> ClvModel {
        ClvModel::BgNbd {
            r: self.r,
            alpha: self.alpha,
            a: self.a,
            b: self.b,
        }
    }
}

impl Stored for ParetoNbd {
    fn stored(&self) -> ClvModel {
        ClvModel::ParetoNbd {
            r: self.r,
            alpha: self.alpha,
            s: self.s,
            beta: self.beta,
        }
    }
}

impl Stored for MbgNbd {
    fn stored(&self) -> ClvModel {
        ClvModel::MbgNbd {
            r: self.r,
            alpha: self.alpha,
            a: self.a,
            b: self.b,
        }
    }
}

/// A fit's stored parameters, customers and log-likelihood.
fn stored<M: Stored>(
    fit: Result<Fit<M>, rapport_clv::ClvError>,
) -> Result<(ClvModel, usize, f64), Error> {
    let f = fit?;
    Ok((f.model.stored(), f.customers, f.log_likelihood))
}

/// Each tenant's stored model as a predictor (`None`: no model stored), read once: the
/// evaluations of a tenant would otherwise read the model from the store every time. A
/// generation counter, bumped by every invalidation, keeps a read that raced with a save from
/// caching the model the save replaced.
#[derive(Debug, Default)]
pub(crate) struct ModelCache(Mutex<Cached>);

/// The generation, and each tenant's model (`None`: no model stored).
type Cached = (u64, HashMap<TenantId, Option<Arc<Predictor>>>);

impl ModelCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        // A panic elsewhere cannot leave the map half-written: use it as it is.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached model, or the generation to [`ModelCache::put`] a fresh read with.
    fn get(&self, t: TenantId) -> Result<Option<Arc<Predictor>>, u64> {
        let g = self.lock();
        g.1.get(&t).cloned().ok_or(g.0)
    }

    /// Caches a read made at `generation`, unless something was invalidated since.
    fn put(&self, t: TenantId, generation: u64, model: Option<Arc<Predictor>>) {
        let mut g = self.lock();
        if g.0 == generation {
            g.1.insert(t, model);
        }
    }

    /// Drops the tenant's cached model.
    fn forget(&self, t: TenantId) {
        let mut g = self.lock();
        g.0 += 1;
        g.1.remove(&t);
    }

    /// Drops every cached model.
    pub(crate) fn clear(&self) {
        let mut g = self.lock();
        g.0 += 1;
        g.1.clear();
    }
}

/// A stored model ready to predict.
#[derive(Debug, Clone)]
pub(crate) struct Predictor {
    fitted: FittedClv,
    count: Count,
    spend: Option<GammaGamma>,
    params: ClvParams,
}

fn period(p: ClvPeriod) -> Period {
    match p {
        ClvPeriod::Day => Period::Day,
        ClvPeriod::Week => Period::Week,
    }
}

/// `lifetimes`' summary of a customer's purchase days on or before `now`'s UTC day, in
/// `period`s; the monetary value is the mean net revenue of the repeat periods. `None`
/// without a purchase.
pub(crate) fn summary(stats: &Stats, now: DateTime<Utc>, p: Period) -> Option<Summary> {
    let today = now.date_naive();
    let mut first = None;
    let mut last = i64::MIN;
    let mut periods = 0u32;
    let mut repeat_revenue = Decimal::ZERO;
    for d in stats
        .days()
        .iter()
        .filter(|d| d.is_purchase_day() && d.day <= today)
    {
        let i = p.index(d.day);
        if first.is_none() {
            first = Some(i);
        }
        if i != last {
            periods += 1;
            last = i;
        }
        if periods > 1 {
            repeat_revenue += d.net_revenue();
        }
    }
    let first = first?;
    let frequency = f64::from(periods - 1);
    let monetary_value = if periods > 1 {
        use rust_decimal::prelude::ToPrimitive;
        (repeat_revenue.to_f64().unwrap_or(0.0) / frequency).max(0.0)
    } else {
        0.0
    };
    Some(Summary {
        frequency,
        recency: (last - first) as f64,
        t: (p.index(today) - first) as f64,
        monetary_value,
    })
}

impl Predictor {
    pub(crate) fn new(fitted: FittedClv) -> Result<Self, Error> {
        fitted.validate()?;
        let count = match fitted.model {
            ClvModel::BgNbd { r, alpha, a, b } => Count::Bg(BgNbd::new(r, alpha, a, b)?),
            ClvModel::ParetoNbd { r, alpha, s, beta } => {
                Count::Pareto(ParetoNbd::new(r, alpha, s, beta)?)
            }
            ClvModel::MbgNbd { r, alpha, a, b } => Count::Mbg(MbgNbd::new(r, alpha, a, b)?),
        };
        let spend = fitted
            .spend
            .map(|s| GammaGamma::new(s.p, s.q, s.v))
            .transpose()?;
        let params = ClvParams::new(period(fitted.period)).with_discount(fitted.monthly_discount);
        Ok(Self {
            fitted,
            count,
            spend,
            params,
        })
    }

    /// P(alive) and the 12-month CLV (with a spend model) of a customer at `now`.
    pub(crate) fn predict(&self, stats: &Stats, now: DateTime<Utc>) -> (Option<f64>, Option<f64>) {
        let Some(s) = summary(stats, now, self.params.period) else {
            return (None, None);
        };
        let m = self.count.model();
        let p_alive = m.p_alive(s.frequency, s.recency, s.t);
        let clv = self
            .spend
            .map(|g| rapport_clv::clv(m, &g, &s, &self.params))
            .filter(|v| v.is_finite());
        (p_alive.is_finite().then_some(p_alive), clv)
    }

    /// The inputs with P(alive), and the CLV as the host metric of a CLV ladder (unless the
    /// caller gave one).
    pub(crate) fn inputs(
        &self,
        mut inputs: EvalInputs,
        stats: &Stats,
        metric: TierMetric,
    ) -> EvalInputs {
        let (p_alive, clv) = self.predict(stats, inputs.now);
        if inputs.p_alive.is_none() {
            inputs.p_alive = p_alive;
        }
        if metric == TierMetric::Clv && inputs.host_metric.is_none() {
            inputs.host_metric = clv.and_then(|v| Decimal::from_f64(v).map(|d| d.round_dp(2)));
        }
        inputs
    }

    /// Names the model in a churn reason that came from it.
    pub(crate) fn annotate(&self, e: &mut Evaluation) {
        if e.churn_risk.reason.rule == "churn.model" {
            let at = e.churn_risk.reason.at;
            let r = std::mem::replace(
                &mut e.churn_risk.reason,
                rapport_core::Reason::new("churn.model", at),
            );
            e.churn_risk.reason = r
                .factor("model", self.fitted.model.name())
                .factor("fitted_at", self.fitted.fitted_at);
        }
    }

    /// Whether the record is in the segment with `clv_12m` from this model (or none), and its
    /// purchases when the segment reads line items.
    pub(crate) fn matches(
        model: Option<&Predictor>,
        segment: &Segment,
        r: &Record,
        now: DateTime<Utc>,
        purchases: Option<&rapport_core::PurchaseSummary>,
    ) -> bool {
        let clv = model.and_then(|m| m.predict(&r.stats, now).1);
        let mut ctx = SegmentContext::new(&r.customer, &r.stats, now).with_clv_12m(clv);
        if let Some(p) = purchases {
            ctx = ctx.with_purchases(p);
        }
        segment.matches(&ctx)
    }
}

impl<S: Store, N: Notifier> Service<S, N> {
    /// The tenant's model as a predictor, when the churn policy uses fitted models and one
    /// is stored: read from the store once per tenant, then from the service's cache (which
    /// [`Service::save_clv_model`] and [`Service::fit_clv`] invalidate).
    pub(crate) async fn predictor(&self, t: TenantId) -> Result<Option<Arc<Predictor>>, Error> {
        if !self.policies().churn.use_fitted_model {
            return Ok(None);
        }
        let generation = match self.clv_models().get(t) {
            Ok(hit) => return Ok(hit),
            Err(generation) => generation,
        };
        let read = self
            .store()
            .clv_model(t)
            .await?
            .map(Predictor::new)
            .transpose()?
            .map(Arc::new);
        self.clv_models().put(t, generation, read.clone());
        Ok(read)
    }

    /// What evaluating `record` at `now` decides under the service's policies, with the
    /// tenant's fitted model when there is one (churn risk = 1 − P(alive), CLV ladders), without
    /// writing anything: a preview (the CLI's `customer` view at `--now`).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// use rapport::Service;
    /// use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let rec = block_on(svc.customer(t, id))?;
    /// let e = block_on(svc.decide(t, &rec, svc.now()))?;
    /// assert_eq!(e.churn_risk.reason.rule, "churn.rules"); // no model stored
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Tombstones ([`rapport_core::DomainError::Tombstoned`]), store errors.
    pub async fn decide(
        &self,
        t: TenantId,
        record: &Record,
        now: DateTime<Utc>,
    ) -> Result<Evaluation, Error> {
        let model = self.predictor(t).await?;
        let inputs = self.single_inputs(t, record.customer.id(), now).await?;
        let purchases = self
            .rule_lines_for(t, record.customer.id(), &record.stats)
            .await?
            .map(|l| rapport_core::segment::PurchaseSummary::from_line_items(&l));
        self.evaluate_with(
            &record.customer,
            &record.stats,
            &inputs,
            model.as_deref(),
            purchases.as_ref(),
        )
    }

    /// The tenant's stored CLV model, if any.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// use rapport::Service;
    /// use rapport::core::TenantId;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// assert!(block_on(svc.clv_model(TenantId::from_u128(1)))?.is_none());
    /// # Ok::<(), rapport::Error>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn clv_model(&self, t: TenantId) -> Result<Option<FittedClv>, Error> {
        Ok(self.store().clv_model(t).await?)
    }

    /// Stores a model fitted elsewhere (e.g. `rapport clv fit --store` from a CSV) as the
    /// tenant's model, after checking its parameters. The service's evaluations use it from
    /// the next call on (it keeps each tenant's model after the first read; a model saved
    /// through another service or process is seen by this one after
    /// [`Service::forget_clv_models`]).
    ///
    /// # Errors
    /// [`Error::Domain`] for a parameter that is not finite and > 0; store errors
    /// (`Unsupported` for a store that keeps no models).
    pub async fn save_clv_model(&self, t: TenantId, model: FittedClv) -> Result<(), Error> {
        model.validate()?;
        let saved = self.store().save_clv_model(t, &model).await;
        // Also after a failed save: the store may have kept it.
        self.clv_models().forget(t);
        Ok(saved?)
    }

    /// Fits a count model (and Gamma-Gamma on the repeat buyers' net revenue) on the
    /// summaries of the tenant's live customers with a purchase at the clock's now, and stores
    /// it as the tenant's model (`fitted_at` = now). From then on churn risk is 1 − P(alive)
    /// with the model named in its reason, and `clv_12m` is known to segments and CLV ladders.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use futures::executor::block_on;
    /// use rapport::{FitClvOptions, ManualClock, NewActivity, Service};
    /// use rapport::core::*;
    /// use rust_decimal::Decimal;
    /// let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    /// let clock = ManualClock::at(start);
    /// let svc = Service::new(rapport_memory::MemoryStore::new()).with_clock(clock.clone());
    /// let t = TenantId::from_u128(1);
    /// for i in 0..40i64 {
    ///     let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///     for k in 0..(i % 5) {
    ///         let at = start + Duration::days(k * (i % 7 + 3) + i % 4);
    ///         let amount = Money::new(Decimal::from(20 + i + k), Currency::USD);
    ///         block_on(svc.record(t, NewActivity::purchase(id, format!("o{i}-{k}"), amount, at)?))?;
    ///     }
    /// }
    /// clock.set(start + Duration::days(60));
    /// let fit = block_on(svc.fit_clv(t, FitClvOptions::default()))?;
    /// assert_eq!(fit.model.model.name(), "bg_nbd");
    /// assert_eq!(block_on(svc.clv_model(t))?, Some(fit.model));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Clv`] when the model cannot be fitted (e.g. no customer with a purchase);
    /// store errors.
    pub async fn fit_clv(&self, t: TenantId, options: FitClvOptions) -> Result<ClvFit, Error> {
        let now = self.now();
        let p = period(options.period);
        let mut rows = Vec::new();
        let mut spend = Vec::new();
        let mut page = Page::first(1_000);
        loop {
            let batch = self.store().scan(t, page).await?;
            let Some(last) = batch.last() else { break };
            page.after = Some(last.customer.id());
            let full = batch.len() >= page.limit as usize;
            for r in batch.iter().filter(|r| r.customer.is_live()) {
                if let Some(s) = summary(&r.stats, now, p) {
                    rows.push((s.frequency, s.recency, s.t));
                    spend.push((s.frequency, s.monetary_value));
                }
            }
            if !full {
                break;
            }
        }
        let (model, customers, log_likelihood) = match options.model {
            ClvModelKind::BgNbd => stored(BgNbd::fit(&rows)),
            ClvModelKind::ParetoNbd => stored(ParetoNbd::fit(&rows)),
            ClvModelKind::MbgNbd => stored(MbgNbd::fit(&rows)),
        }?;
        // Gamma-Gamma needs repeat buyers with spend; without enough of them there is no
        // spend model (P(alive) still works).
        let spend = GammaGamma::fit(&spend).ok().map(|f| SpendModel {
            p: f.model.p,
            q: f.model.q,
            v: f.model.v,
        });
        let fitted = FittedClv {
            model,
            spend,
            period: options.period,
            monthly_discount: options.monthly_discount,
            fitted_at: now,
        };
        self.save_clv_model(t, fitted).await?;
        Ok(ClvFit {
            model: fitted,
            customers,
            log_likelihood,
        })
    }
}

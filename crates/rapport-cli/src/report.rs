//! `rapport report`: the periodic review — tier pyramid, stage funnel, RFM segments, CLV,
//! churn risk, and the period metrics of `rapport_core::metrics` (churn, win-back and
//! conversion rates, stage flows, cohort retention, NPS, CSAT). Every figure here comes from
//! the core; this module gathers and shapes them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rapport_clv::{BgNbd, ClvParams, GammaGamma, Summary, clv};
use rapport_core::metrics::{self, CsatScore, NpsScore, Period, Rate, Response, StageFlow};
use rapport_core::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::json;

use crate::error::Result;

/// A customer row of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) customer: String,
    pub(crate) external_id: String,
    pub(crate) stage: String,
    pub(crate) tier: String,
    pub(crate) orders: u32,
    /// Net revenue with its currency (`250.00 USD`); `0.00` before any purchase.
    pub(crate) revenue: String,
    /// The same as money, for ordering (amounts compare only within one currency).
    #[serde(skip)]
    pub(crate) revenue_money: Option<Money>,
    /// In the report's base currency; `None` for customers buying in another one (the
    /// spend model is fitted on base-currency amounts only).
    pub(crate) clv_12m: Option<f64>,
    pub(crate) p_alive: Option<f64>,
    pub(crate) churn_risk: f64,
    pub(crate) crv: f64,
}

/// A monthly cohort: customers by month of first purchase and the share buying again k months
/// later.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Cohort {
    pub(crate) month: String,
    pub(crate) customers: usize,
    pub(crate) retention: Vec<f64>,
}

/// The fitted models, when the data allow a fit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Models {
    pub(crate) bgnbd: BgNbd,
    pub(crate) gamma_gamma: Option<GammaGamma>,
    pub(crate) period: &'static str,
    pub(crate) customers: usize,
    pub(crate) log_likelihood: f64,
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) now: DateTime<Utc>,
    pub(crate) customers: usize,
    pub(crate) stages: BTreeMap<&'static str, usize>,
    pub(crate) tiers: BTreeMap<&'static str, usize>,
    pub(crate) rfm_segments: BTreeMap<&'static str, usize>,
    pub(crate) win_backs: u64,
    pub(crate) purchasers: usize,
    /// The review period `[from, to)` of the period metrics.
    pub(crate) period: Period,
    /// Prospects created in the period who bought within `CONVERSION_DAYS` days.
    pub(crate) conversion_rate: Rate,
    /// New, Active or Silent at the start of the period, Churned at its end.
    pub(crate) churn_rate: Rate,
    /// Churned at the start, a purchase day in the period.
    pub(crate) win_back_rate: Rate,
    /// (stage at the start → stage at the end) counts.
    pub(crate) stage_flow: Vec<StageFlow>,
    /// (tier at the start → tier at the end) by the ladder's thresholds; `None` when the
    /// ladder is not one of 12-month revenue thresholds.
    pub(crate) tier_flow: Option<Vec<metrics::TierFlow>>,
    pub(crate) nps: NpsScore,
    pub(crate) csat: CsatScore,
    /// Net revenue summed per currency, exactly (never added across currencies).
    pub(crate) revenue: BTreeMap<Currency, Decimal>,
    /// The base currency of the CLV figures (the policies' currency).
    pub(crate) currency: Currency,
    pub(crate) models: Option<Models>,
    pub(crate) average_clv_by_tier: BTreeMap<&'static str, f64>,
    /// Customers with a CLV, total and average CLV per tier (base currency).
    pub(crate) clv_by_tier: Vec<metrics::TierClv>,
    pub(crate) top_clv: Vec<Row>,
    pub(crate) top_crv: Vec<Row>,
    pub(crate) churn_risk: Vec<Row>,
    pub(crate) cohorts: Vec<Cohort>,
    pub(crate) clv_distribution: Vec<(String, usize)>,
    /// The retention-model CLV of the book (Gupta & Lehmann), beside the probabilistic one.
    pub(crate) retention_clv: Option<RetentionClv>,
}

/// The book's retention-model CLV: `m · r / (1 + d − r)` per year, with `r` the share of last
/// year's purchasers (days 366–730 before now) who bought again in the 365 days to now, `m` the
/// mean 365-day net revenue (margin when margins were recorded) of this year's purchasers in
/// the base currency, `d` 10 % a year.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RetentionClv {
    pub(crate) retention: Decimal,
    pub(crate) annual_value: Decimal,
    pub(crate) discount: Decimal,
    pub(crate) clv: Decimal,
    pub(crate) previous_year_purchasers: usize,
}

/// [`RetentionClv`] of the live customers at `now` (`None` without last year's purchasers or
/// when everyone stayed: the infinite sum needs `r < 1`).
fn retention_clv(
    live: &[&Record],
    base: Currency,
    now: DateTime<Utc>,
) -> Result<Option<RetentionClv>> {
    let year_ago = now - chrono::Duration::days(365);
    let (mut previous, mut kept, mut values) = (0usize, 0usize, Vec::new());
    for r in live {
        let this_year = r.stats.window(now, 365);
        let last_year = r.stats.window(year_ago, 365);
        if last_year.purchase_days > 0 {
            previous += 1;
            kept += usize::from(this_year.purchase_days > 0);
        }
        if this_year.purchase_days > 0 && r.stats.currency() == Some(base) {
            values.push(if this_year.margin.is_zero() {
                this_year.revenue
            } else {
                this_year.margin
            });
        }
    }
    if previous == 0 || values.is_empty() {
        return Ok(None);
    }
    let retention = Decimal::from(kept as u64) / Decimal::from(previous as u64);
    let annual_value = values.iter().sum::<Decimal>() / Decimal::from(values.len() as u64);
    let discount = Decimal::new(10, 2);
    match rapport_clv::retention_value(annual_value, retention, discount) {
        Ok(clv) => Ok(Some(RetentionClv {
            retention: retention.round_dp(4).normalize(),
            annual_value: annual_value.round_dp(2),
            discount: discount.normalize(),
            clv: clv.round_dp(2),
            previous_year_purchasers: previous,
        })),
        Err(rapport_clv::ClvError::InvalidInput { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Days a prospect has to make its first purchase to count as converted (DOMAIN.md's default).
pub(crate) const CONVERSION_DAYS: u32 = 30;

/// What the report reads from the activity log besides the records.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Referrers → the customers they referred.
    pub(crate) referrals: BTreeMap<CustomerId, Vec<CustomerId>>,
    /// Survey answers (NPS and CSAT).
    pub(crate) responses: Vec<Response>,
}

fn external(c: &Customer) -> String {
    match AttrKey::new("external_id")
        .ok()
        .and_then(|k| c.profile.attributes.expose().get(&k).cloned())
    {
        Some(AttrValue::Text(s)) => s,
        _ => String::new(),
    }
}

/// Daily summary (frequency, recency, T, monetary value) of a customer's purchase days up to
/// `today`.
fn summary(stats: &Stats, today: NaiveDate) -> Option<Summary> {
    let days: Vec<&DayTotals> = stats
        .days()
        .iter()
        .filter(|d| d.is_purchase_day() && d.day <= today)
        .collect();
    let first = days.first()?.day;
    let last = days.last()?.day;
    let repeats: Vec<f64> = days[1..]
        .iter()
        .filter_map(|d| d.net_revenue().to_f64())
        .collect();
    let monetary = if repeats.is_empty() {
        0.0
    } else {
        repeats.iter().sum::<f64>() / repeats.len() as f64
    };
    Some(Summary {
        frequency: (days.len() - 1) as f64,
        recency: (last - first).num_days() as f64,
        t: (today - first).num_days() as f64,
        monetary_value: monetary,
    })
}

/// `250.00 USD`: the amount with at least two decimals, a zero never signed.
pub(crate) fn money_text(m: &Money) -> String {
    format!("{} {}", amount_text(m.amount), m.currency)
}

/// An exact amount with at least two decimals (`250` → `250.00`); zero is `0.00`, never
/// `-0.00`.
pub(crate) fn amount_text(v: Decimal) -> String {
    let mut v = if v.is_zero() { Decimal::ZERO } else { v };
    if v.scale() < 2 {
        v.rescale(2);
    }
    v.to_string()
}

/// Orders revenues for a tie-break: by currency, then by amount within a currency (amounts in
/// different currencies are never compared as numbers).
fn revenue_order(a: Option<Money>, b: Option<Money>) -> std::cmp::Ordering {
    let key = |m: Option<Money>| m.map(|m| (m.currency, m.amount));
    key(a).cmp(&key(b))
}

/// Builds the report from every record of the tenant, at `now`, with the period metrics over
/// `period`. `log` holds the referrals and survey answers read from the activities.
pub(crate) fn build(
    records: &[Record],
    log: &Log,
    policies: &Policies,
    now: DateTime<Utc>,
    period: Period,
) -> Result<Report> {
    let referrals = &log.referrals;
    let today = now.date_naive();
    let live: Vec<&Record> = records.iter().filter(|r| r.customer.is_live()).collect();
    // Stored stages and tiers: the book as the last evaluation left it.
    let mut stored = metrics::StageCounts::default();
    for r in &live {
        stored.add(r.customer.stage());
    }
    let stages: BTreeMap<&'static str, usize> = stored
        .iter()
        .map(|(s, n)| (s.as_str(), n as usize))
        .collect();
    let tiers: BTreeMap<&'static str, usize> =
        metrics::tier_distribution(live.iter().map(|r| &r.customer))
            .iter()
            .map(|(t, n)| (t.as_str(), n as usize))
            .collect();
    let win_backs = live
        .iter()
        .map(|r| u64::from(r.customer.lifecycle().win_backs))
        .sum();
    let ranked = rank(
        live.iter().map(|r| (r.customer.id(), &r.stats)),
        policies,
        now,
        |_| None,
    );
    let mut rfm_segments: BTreeMap<&'static str, usize> =
        RfmSegment::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in &ranked {
        if let Some(s) = r.rfm {
            *rfm_segments.entry(RfmSegment::of(s).as_str()).or_default() += 1;
        }
    }
    let summaries: Vec<Option<Summary>> = live.iter().map(|r| summary(&r.stats, today)).collect();
    // Spend is money: the Gamma-Gamma model and CLV are in the base currency, fitted on the
    // customers who buy in it (purchase counts — BG/NBD — have no unit and use everyone).
    let base = policies.currency();
    let in_base: Vec<bool> = live
        .iter()
        .map(|r| r.stats.currency().is_none_or(|c| c == base))
        .collect();
    let purchasers = summaries.iter().flatten().count();
    // Models: BG/NBD on daily summaries, Gamma-Gamma on repeat customers.
    let rows: Vec<(f64, f64, f64)> = summaries
        .iter()
        .flatten()
        .map(|s| (s.frequency, s.recency, s.t))
        .collect();
    let models = if rows.len() >= 20 {
        BgNbd::fit(&rows).ok().map(|fit| {
            let spend: Vec<(f64, f64)> = summaries
                .iter()
                .zip(&in_base)
                .filter(|(_, base)| **base)
                .filter_map(|(s, _)| s.as_ref())
                .map(|s| (s.frequency, s.monetary_value))
                .collect();
            Models {
                bgnbd: fit.model,
                gamma_gamma: GammaGamma::fit(&spend).ok().map(|f| f.model),
                period: "day",
                customers: fit.customers,
                log_likelihood: fit.log_likelihood,
            }
        })
    } else {
        None
    };
    // Referrals: each referrer's CRV is the sum of the CLV of the customers they brought in.
    let mut rows_out: Vec<Row> = Vec::new();
    let mut clv_by_id: BTreeMap<CustomerId, f64> = BTreeMap::new();
    for ((r, s), base) in live.iter().zip(&summaries).zip(&in_base) {
        let (clv_12m, p_alive) = match (&models, s) {
            // lifetimes' defaults: 12 months at 1 % a month, on daily summaries.
            (Some(m), Some(s)) => (
                m.gamma_gamma
                    .filter(|_| *base)
                    .map(|g| clv(&m.bgnbd, &g, s, &ClvParams::default())),
                Some(m.bgnbd.p_alive(s.frequency, s.recency, s.t)),
            ),
            _ => (None, None),
        };
        if let Some(v) = clv_12m {
            clv_by_id.insert(r.customer.id(), v);
        }
        let risk = policies
            .churn
            .assess(&r.stats, &policies.lifecycle, now, p_alive)
            .score;
        rows_out.push(Row {
            customer: r.customer.id().to_string(),
            external_id: external(&r.customer),
            stage: r.customer.stage().as_str().to_owned(),
            tier: r.customer.tier().as_str().to_owned(),
            orders: r.stats.orders(),
            revenue: r
                .stats
                .revenue()
                .map_or_else(|| "0.00".to_owned(), |m| money_text(&m)),
            revenue_money: r.stats.revenue(),
            clv_12m,
            p_alive,
            churn_risk: risk,
            crv: 0.0,
        });
    }
    // CRV (Kumar et al.): the value of the customers a customer referred. Without reward,
    // marketing-cost or acquisition-saving data, each referred customer counts as
    // incremental and contributes its 12-month CLV (already discounted), at rate 0 here.
    for (row, r) in rows_out.iter_mut().zip(&live) {
        let referred: Vec<rapport_clv::Referral> = referrals
            .get(&r.customer.id())
            .into_iter()
            .flatten()
            .filter_map(|id| clv_by_id.get(id))
            .map(|v| {
                let predicted = rust_decimal::Decimal::from_f64_retain(*v).unwrap_or_default();
                rapport_clv::Referral::incremental(&[], &[predicted])
            })
            .collect();
        row.crv = rapport_clv::referral_value(&referred, rust_decimal::Decimal::ZERO)?
            .total
            .round_dp(2)
            .to_string()
            .parse()
            .unwrap_or(0.0);
    }
    let clv_by_tier = metrics::clv_by_tier(
        live.iter()
            .zip(&rows_out)
            .filter_map(|(r, row)| Some((r.customer.tier(), row.clv_12m?))),
    );
    let average_clv_by_tier = clv_by_tier
        .iter()
        .map(|t| (t.tier.as_str(), t.average))
        .collect();
    let mut top_clv: Vec<Row> = rows_out
        .iter()
        .filter(|r| r.clv_12m.is_some())
        .cloned()
        .collect();
    top_clv.sort_by(|a, b| {
        b.clv_12m
            .unwrap_or(0.0)
            .total_cmp(&a.clv_12m.unwrap_or(0.0))
    });
    top_clv.truncate(10);
    let mut top_crv: Vec<Row> = rows_out.iter().filter(|r| r.crv > 0.0).cloned().collect();
    top_crv.sort_by(|a, b| b.crv.total_cmp(&a.crv));
    top_crv.truncate(10);
    let mut churn_risk: Vec<Row> = rows_out
        .iter()
        .filter(|r| matches!(r.stage.as_str(), "active" | "new" | "silent"))
        .cloned()
        .collect();
    churn_risk.sort_by(|a, b| {
        b.churn_risk
            .total_cmp(&a.churn_risk)
            .then_with(|| revenue_order(b.revenue_money, a.revenue_money))
    });
    churn_risk.truncate(10);
    // Monthly cohorts over the purchase days up to today.
    let cohorts = metrics::cohort_retention(
        live.iter().map(|r| &r.stats),
        today.succ_opt().unwrap_or(today),
    )
    .into_iter()
    .map(|c| Cohort {
        month: c.label(),
        customers: c.customers as usize,
        retention: c.retention(),
    })
    .collect();
    // CLV distribution in buckets.
    let edges = [0.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, f64::INFINITY];
    let clv_distribution = edges
        .windows(2)
        .map(|w| {
            let n = rows_out
                .iter()
                .filter_map(|r| r.clv_12m)
                .filter(|v| *v >= w[0] && *v < w[1])
                .count();
            let label = if w[1].is_infinite() {
                format!("{}+", w[0])
            } else {
                format!("{}–{}", w[0], w[1])
            };
            (label, n)
        })
        .collect();
    let book = || live.iter().map(|r| (&r.customer, &r.stats));
    let review = metrics::stage_review(book(), &policies.lifecycle, period);
    let revenue = metrics::revenue_by_currency(live.iter().map(|r| &r.stats))
        .map_err(|e| crate::error::fail!("{e}"))?;
    Ok(Report {
        now,
        customers: live.len(),
        win_backs,
        period,
        conversion_rate: metrics::conversion(book(), period, CONVERSION_DAYS),
        churn_rate: review.churn_rate,
        win_back_rate: review.win_back_rate,
        stage_flow: review.flows,
        tier_flow: metrics::tier_movements(book(), &policies.tier, period),
        nps: metrics::nps(log.responses.iter().copied(), period),
        csat: metrics::csat(log.responses.iter().copied(), period),
        revenue,
        currency: base,
        purchasers,
        stages,
        tiers,
        rfm_segments,
        models,
        average_clv_by_tier,
        clv_by_tier,
        top_clv,
        top_crv,
        churn_risk,
        cohorts,
        clv_distribution,
        retention_clv: retention_clv(&live, base, now)?,
    })
}

/// The JSON form: the documented keys first, then the rest.
pub(crate) fn to_json(r: &Report) -> serde_json::Value {
    json!({
        "customers": r.customers,
        "stages": r.stages,
        "tiers": r.tiers,
        "rfm_segments": r.rfm_segments,
        "win_backs": r.win_backs,
        "now": r.now.to_rfc3339(),
        "purchasers": r.purchasers,
        "period": {"from": r.period.start().to_string(), "to": r.period.end().to_string()},
        "churn_rate": r.churn_rate.value(),
        "win_back_rate": r.win_back_rate.value(),
        "conversion_rate": r.conversion_rate.value(),
        "nps": r.nps.value(),
        "csat": r.csat.value(),
        "cohort_retention": r
            .cohorts
            .iter()
            .map(|c| (c.month.clone(), json!(c.retention)))
            .collect::<serde_json::Map<_, _>>(),
        "stage_flow": r
            .stage_flow
            .iter()
            .map(|f| (f.label(), json!(f.customers)))
            .collect::<serde_json::Map<_, _>>(),
        "tier_flow": r.tier_flow.as_ref().map(|flows| {
            flows
                .iter()
                .map(|f| (f.label(), json!(f.customers)))
                .collect::<serde_json::Map<_, _>>()
        }),
        "counts": {
            "churn_rate": r.churn_rate,
            "win_back_rate": r.win_back_rate,
            "conversion_rate": r.conversion_rate,
            "conversion_days": CONVERSION_DAYS,
            "nps": r.nps,
            "csat": r.csat,
        },
        "revenue": r
            .revenue
            .iter()
            .map(|(c, v)| (c.to_string(), serde_json::Value::String(amount_text(*v))))
            .collect::<serde_json::Map<_, _>>(),
        "currency": r.currency.as_str(),
        "models": r.models,
        "average_clv_by_tier": r.average_clv_by_tier,
        "clv_by_tier": r
            .clv_by_tier
            .iter()
            .map(|t| {
                let v = json!({"customers": t.customers, "total": t.total, "average": t.average});
                (t.tier.as_str().to_owned(), v)
            })
            .collect::<serde_json::Map<_, _>>(),
        "top_clv": r.top_clv,
        "top_crv": r.top_crv,
        "churn_risk": r.churn_risk,
        "cohorts": r.cohorts,
        "clv_distribution": r.clv_distribution,
        "retention_clv": r.retention_clv.as_ref().map(|v| json!({
            "retention": v.retention.to_string(),
            "annual_value": amount_text(v.annual_value),
            "discount": v.discount.to_string(),
            "clv": amount_text(v.clv),
            "previous_year_purchasers": v.previous_year_purchasers,
        })),
    })
}

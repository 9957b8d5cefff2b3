//! `rapport simulate` (a proposed policy against the book, nothing written) and
//! `rapport customer KEY --as-of DATE` (the customer recomputed at a past date).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport::blocking::Service;
use rapport_core::{
    AsOf, AttrKey, AttrValue, Census, Customer, CustomerId, Move, Policies, RfmSegment, Simulation,
    TenantId,
};
use serde_json::{Value, json};

use crate::error::Result;
use crate::store::Db;

/// The `external_id` attribute the CLI keys imported customers by (empty when none).
pub(crate) fn external_id(c: &Customer) -> String {
    match AttrKey::new("external_id")
        .ok()
        .and_then(|key| c.profile.attributes.expose().get(&key).cloned())
    {
        Some(AttrValue::Text(s)) => s,
        _ => String::new(),
    }
}

fn census_json(c: &Census) -> Value {
    json!({
        "tiers": c.tiers.iter().map(|(t, n)| (t.as_str().to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "stages": c.stages,
    })
}

fn move_json(m: &Move, external: &HashMap<CustomerId, String>) -> Value {
    json!({
        "id": m.customer.to_string(),
        "external_id": external.get(&m.customer).cloned().unwrap_or_default(),
        "dimension": m.change.dimension(),
        "from": m.change.from(),
        "to": m.change.to(),
        "reason": m.proposed_reason.to_string(),
        "current_reason": m.current_reason.to_string(),
    })
}

/// The JSON of `rapport simulate --json`: `{"current": {"tiers", "stages"}, "proposed": {…},
/// "moves": [{"id", "external_id", "dimension", "from", "to", "reason", "current_reason"}],
/// "pending": [same: downgrades waiting for the grace period]}`.
pub(crate) fn simulation_json(s: &Simulation, external: &HashMap<CustomerId, String>) -> Value {
    json!({
        "current": census_json(&s.current),
        "proposed": census_json(&s.proposed),
        "moves": s.moves.iter().map(|m| move_json(m, external)).collect::<Vec<_>>(),
        "pending": s.pending.iter().map(|m| move_json(m, external)).collect::<Vec<_>>(),
    })
}

/// Runs the simulation of `proposed` against the service's (current) policies at `now` and
/// prints it.
pub(crate) fn simulate(
    svc: &Service<Db>,
    tenant: TenantId,
    proposed: &Policies,
    now: DateTime<Utc>,
    as_json: bool,
) -> Result<()> {
    let s = svc.simulate(tenant, proposed, now)?;
    // External ids of the movers only: one more scan, no per-customer reads.
    let movers: std::collections::HashSet<CustomerId> = s
        .moves
        .iter()
        .chain(&s.pending)
        .map(|m| m.customer)
        .collect();
    let mut external = HashMap::new();
    if !movers.is_empty() {
        for r in crate::all_records(svc.inner().store(), tenant)? {
            if movers.contains(&r.customer.id()) {
                external.insert(r.customer.id(), external_id(&r.customer));
            }
        }
    }
    let out = simulation_json(&s, &external);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "simulated at {} over {} customers: {} moves now, {} downgrades after the grace period",
        now.format("%Y-%m-%d"),
        s.current.total(),
        s.moves.len(),
        s.pending.len()
    );
    println!(
        "  {:<10} {:>10} {:>10} {:>8}",
        "tier", "current", "proposed", "change"
    );
    for (t, n) in s.current.tiers.iter().rev() {
        let p = s.proposed.tiers.get(t).copied().unwrap_or(0);
        println!(
            "  {:<10} {:>10} {:>10} {:>+8}",
            t.as_str(),
            n,
            p,
            p as i64 - *n as i64
        );
    }
    println!(
        "  {:<10} {:>10} {:>10} {:>8}",
        "stage", "current", "proposed", "change"
    );
    for st in rapport_core::Stage::LIVE.map(rapport_core::Stage::as_str) {
        let n = s.current.stages.get(st).copied().unwrap_or(0);
        let p = s.proposed.stages.get(st).copied().unwrap_or(0);
        println!(
            "  {:<10} {:>10} {:>10} {:>+8}",
            st,
            n,
            p,
            p as i64 - n as i64
        );
    }
    for m in out["moves"].as_array().into_iter().flatten().take(50) {
        println!(
            "  {} {}  {} {} -> {}  ({})",
            m["external_id"].as_str().unwrap_or(""),
            m["id"].as_str().unwrap_or(""),
            m["dimension"].as_str().unwrap_or(""),
            m["from"].as_str().unwrap_or(""),
            m["to"].as_str().unwrap_or(""),
            m["reason"].as_str().unwrap_or("")
        );
    }
    if s.moves.len() > 50 {
        println!(
            "  … and {} more (--json lists them all)",
            s.moves.len() - 50
        );
    }
    Ok(())
}

/// The JSON of `rapport customer KEY --as-of DATE --json`.
pub(crate) fn as_of_json(a: &AsOf) -> Value {
    let e = &a.evaluation;
    json!({
        "id": a.customer.id().to_string(),
        "as_of": a.at.to_rfc3339(),
        "tier": e.tier.to.as_str(),
        "tier_reason": e.tier.reason.to_string(),
        "stage": e.stage.to.as_str(),
        "stage_reason": e.stage.reason.to_string(),
        "churn_risk": e.churn_risk.score,
        "churn_reason": e.churn_risk.reason.to_string(),
        "tags": a.tags().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "rfm": a.rfm.map(|s| json!({"r": s.r, "f": s.f, "m": s.m, "segment": RfmSegment::of(s).as_str()})),
        "orders": a.stats.orders(),
        "revenue": a.stats.revenue().map(|m| m.to_string()),
        "win_backs": a.customer.lifecycle().win_backs,
    })
}

/// Prints the customer `id` as at `at`.
pub(crate) fn as_of(
    svc: &Service<Db>,
    tenant: TenantId,
    id: CustomerId,
    at: DateTime<Utc>,
    as_json: bool,
) -> Result<()> {
    let a = svc.as_of(tenant, id, at)?;
    let out = as_of_json(&a);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let e = &a.evaluation;
    println!(
        "customer {} as of {}",
        a.customer.id(),
        at.format("%Y-%m-%d")
    );
    println!("  tier:  {} ({})", e.tier.to, e.tier.reason);
    println!("  stage: {} ({})", e.stage.to, e.stage.reason);
    println!(
        "  churn risk: {:.2} ({})",
        e.churn_risk.score, e.churn_risk.reason
    );
    match a.rfm {
        Some(s) => println!(
            "  rfm: R{} F{} M{} ({})",
            s.r,
            s.f,
            s.m,
            RfmSegment::of(s).as_str()
        ),
        None => println!("  rfm: - (no purchase by then)"),
    }
    println!("  tags: {}", out["tags"]);
    println!(
        "  orders {}, revenue {}",
        a.stats.orders(),
        out["revenue"].as_str().unwrap_or("-")
    );
    Ok(())
}

//! Kit contract for time travel and policy simulation: both read the store through `scan` and
//! `activities` (with an exclusive upper time bound), so every backend must give the service
//! what the in-memory store gives it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::{ManualClock, NewActivity, Service};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::contracts::{Outcome, TA, TB};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// `as_of` at a past date sees exactly the activities at or before it (one at the very
/// instant included), `as_of(now)` equals the stored evaluation, and `simulate` counts only
/// the tenant's live customers, lists the movers and writes nothing.
///
/// ```
/// rapport_testkit::check(rapport_memory::MemoryStore::new, |s| async move {
///     rapport_testkit::contracts::time_travel_and_simulation(&s).await
/// });
/// ```
///
/// # Errors
/// A description of the first violation.
pub async fn time_travel_and_simulation<S: Store>(s: &S) -> Outcome {
    let e = |e: rapport::Error| e.to_string();
    let clock = ManualClock::at(t0());
    let svc = Service::new(s).with_clock(clock.clone());
    let usd = |n: i64| Money::new(Decimal::from(n), Currency::USD);
    let ann = svc
        .register(TA, Profile::default())
        .await
        .map_err(e)?
        .customer;
    let bob = svc
        .register(TA, Profile::default())
        .await
        .map_err(e)?
        .customer;
    let other = svc
        .register(TB, Profile::default())
        .await
        .map_err(e)?
        .customer;
    let buys = [
        (ann.id(), 0, 300),
        (bob.id(), 2, 150),
        (ann.id(), 20, 2_000),
        (other.id(), 21, 9_000),
    ];
    for (i, (who, day, amount)) in buys.into_iter().enumerate() {
        let at = t0() + Duration::days(day);
        clock.set(at);
        let t = if who == other.id() { TB } else { TA };
        let a = NewActivity::purchase(who, format!("SO-{i}"), usd(amount), at)
            .map_err(|e| e.to_string())?;
        svc.record(t, a).await.map_err(e)?;
    }
    // At the instant of ann's second purchase it counts; a microsecond before, it does not.
    let second = t0() + Duration::days(20);
    let at = svc.as_of(TA, ann.id(), second).await.map_err(e)?;
    let before = svc
        .as_of(TA, ann.id(), second - Duration::microseconds(1))
        .await
        .map_err(e)?;
    if (at.stats.orders(), before.stats.orders()) != (2, 1) {
        return Err(format!(
            "as_of saw {} and {} orders at and just before the second purchase; expected 2 and 1",
            at.stats.orders(),
            before.stats.orders()
        ));
    }
    if (before.evaluation.tier.to, at.evaluation.tier.to) != (Tier::Iron, Tier::Gold) {
        return Err(format!(
            "as_of tiers {:?} → {:?}; expected Iron → Gold",
            before.evaluation.tier.to, at.evaluation.tier.to
        ));
    }
    let now = t0() + Duration::days(40);
    let stored = svc.evaluate_at(TA, ann.id(), now).await.map_err(e)?;
    let then = svc.as_of(TA, ann.id(), now).await.map_err(e)?;
    if (then.evaluation.tier.to, then.evaluation.stage.to) != (stored.tier.to, stored.stage.to) {
        return Err(format!(
            "as_of(now) = {:?}/{:?}, the stored evaluation {:?}/{:?}",
            then.evaluation.tier.to, then.evaluation.stage.to, stored.tier.to, stored.stage.to
        ));
    }
    // Two purchasers in tenant A (B's customer is not ranked): ann has more purchase days and
    // revenue than bob, so F and M are 1 + floor(5 × 1/2) = 3.
    if then.rfm.map(|r| (r.f, r.m)) != Some((3, 3)) {
        return Err(format!(
            "as_of RFM {:?}; expected F 3, M 3 of two customers",
            then.rfm
        ));
    }
    let version = s
        .load(TA, bob.id())
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.customer.version());
    // Iron from 100 instead of 200: bob (150) moves up; ann (2,300) stays Gold.
    let mut proposed = Policies::default();
    proposed.tier.ladder.rungs = Rungs::Thresholds {
        entries: vec![
            (Tier::Iron, Decimal::from(100)),
            (Tier::Gold, Decimal::from(2_000)),
            (Tier::Platinum, Decimal::from(10_000)),
        ],
    };
    let sim = svc.simulate(TA, &proposed, now).await.map_err(e)?;
    if sim.current.total() != 2 || sim.proposed.total() != 2 {
        return Err(format!(
            "simulate counted {} and {} customers in tenant A; expected 2",
            sim.current.total(),
            sim.proposed.total()
        ));
    }
    let moved: Vec<(CustomerId, Change)> =
        sim.moves.iter().map(|m| (m.customer, m.change)).collect();
    let expected = vec![(
        bob.id(),
        Change::Tier {
            from: Tier::Lead,
            to: Tier::Iron,
        },
    )];
    if moved != expected {
        return Err(format!("simulate moves {moved:?}; expected {expected:?}"));
    }
    let after = s
        .load(TA, bob.id())
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.customer.version());
    if after != version {
        return Err("simulate wrote to the store".into());
    }
    Ok(())
}

fn fitted(model: ClvModel, at: DateTime<Utc>) -> FittedClv {
    FittedClv {
        model,
        spend: Some(SpendModel {
            p: 6.2488,
            q: 3.7446,
            v: 15.4477,
        }),
        period: ClvPeriod::Day,
        monthly_discount: 0.01,
        fitted_at: at,
    }
}

/// A tenant's fitted CLV model round-trips exactly (every parameter bit for bit), the latest
/// `fitted_at` wins (an older save changes nothing, an equal one replaces), tenants are
/// isolated, an invalid model is refused with `StoreError::Invalid`, and the service then
/// decides churn risk as 1 − P(alive) with the model named in the reason. For stores that
/// keep models (capability `clv_models` of [`store_contracts!`](crate::store_contracts)).
///
/// ```
/// rapport_testkit::check(rapport_memory::MemoryStore::new, |s| async move {
///     rapport_testkit::value::clv_models_are_kept(&s).await
/// });
/// ```
///
/// # Errors
/// A description of the first violation.
pub async fn clv_models_are_kept<S: Store>(s: &S) -> Outcome {
    let se = |e: StoreError| e.to_string();
    if s.clv_model(TA).await.map_err(se)?.is_some() {
        return Err("a fresh store has a CLV model".into());
    }
    let bg = ClvModel::BgNbd {
        r: 0.242_593_8,
        alpha: 30.894_5 + 1e-13,
        a: 0.792_9,
        b: 2.425_8,
    };
    let first = fitted(bg, t0());
    s.save_clv_model(TA, &first).await.map_err(se)?;
    let got = s.clv_model(TA).await.map_err(se)?;
    if got != Some(first) {
        return Err(format!("saved {first:?}, read back {got:?}"));
    }
    if s.clv_model(TB).await.map_err(se)?.is_some() {
        return Err("tenant B sees tenant A's CLV model".into());
    }
    let pareto = ClvModel::ParetoNbd {
        r: 0.553_4,
        alpha: 74.061_4,
        s: 0.606_1,
        beta: 81.593_4,
    };
    let older = fitted(pareto, t0() - Duration::days(1));
    s.save_clv_model(TA, &older).await.map_err(se)?;
    if s.clv_model(TA).await.map_err(se)? != Some(first) {
        return Err("an older model replaced the stored one".into());
    }
    let same_time = FittedClv {
        spend: None,
        ..fitted(pareto, t0())
    };
    s.save_clv_model(TA, &same_time).await.map_err(se)?;
    if s.clv_model(TA).await.map_err(se)? != Some(same_time) {
        return Err("a model fitted at the same time did not replace the stored one".into());
    }
    let bad = fitted(
        ClvModel::MbgNbd {
            r: f64::NAN,
            alpha: 1.0,
            a: 1.0,
            b: 1.0,
        },
        t0() + Duration::days(1),
    );
    match s.save_clv_model(TA, &bad).await {
        Err(StoreError::Invalid(_)) => {}
        other => return Err(format!("an invalid model was not refused: {other:?}")),
    }
    if s.clv_model(TA).await.map_err(se)? != Some(same_time) {
        return Err("a refused model changed the stored one".into());
    }
    // In decisions: churn risk = 1 − P(alive), the model named.
    let e = |e: rapport::Error| e.to_string();
    let clock = ManualClock::at(t0());
    let svc = Service::new(s).with_clock(clock.clone());
    let who = svc
        .register(TB, Profile::default())
        .await
        .map_err(e)?
        .customer
        .id();
    for (i, day) in [0i64, 10, 30].into_iter().enumerate() {
        let at = t0() + Duration::days(day);
        clock.set(at);
        let a = NewActivity::purchase(
            who,
            format!("clv-{i}"),
            Money::new(Decimal::from(50), Currency::USD),
            at,
        )
        .map_err(|e| e.to_string())?;
        svc.record(TB, a).await.map_err(e)?;
    }
    clock.set(t0() + Duration::days(60));
    svc.save_clv_model(TB, fitted(bg, t0())).await.map_err(e)?;
    let decided = svc.evaluate(TB, who).await.map_err(e)?;
    let why = decided.churn_risk.reason.to_string();
    if decided.churn_risk.reason.rule != "churn.model" || !why.contains("bg_nbd") {
        return Err(format!(
            "churn risk does not come from the fitted model: {why}"
        ));
    }
    if !(decided.churn_risk.score > 0.0 && decided.churn_risk.score < 1.0) {
        return Err(format!(
            "churn risk {} from the model is not in (0, 1)",
            decided.churn_risk.score
        ));
    }
    Ok(())
}

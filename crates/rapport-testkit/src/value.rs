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

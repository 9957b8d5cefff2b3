//! The review contract: `Service::review` over a store gives the figures DOMAIN.md's
//! definitions give on a planted book — so a store that loses activities, mixes tenants or
//! misreads stats shows up in the metrics.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rapport::{Error, NewActivity, Service};
use rapport_core::metrics::Period;
use rapport_core::*;
use rust_decimal::Decimal;

use crate::contracts::{Outcome, TA, TB};

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Five customers reviewed over January–February 2026 (stages with the default policy):
/// ann churned before and stays so; bob churned before and buys again (a win-back, Active);
/// cy Active at the start, Silent at the end; dee Silent at the start, Churned at the end; eve
/// registered in January, buys ten days later (a conversion, New). NPS: ann's latest answer 3
/// (her 9 came first), bob 10, cy 9, dee's 10 before the period; CSAT 5 and 2. A customer of
/// another tenant answers 0 in the period and must not count.
pub async fn review_matches_the_definitions<S: Store>(s: &S) -> Outcome {
    let e = |e: Error| e.to_string();
    let bad = |e: DomainError| e.to_string();
    // Registered on 10 January; activities recorded on 1 March.
    let signup = Service::new(s)
        .with_clock(crate::FixedClock::at(day(2026, 1, 10)))
        .with_ids(crate::SequentialIds::starting_at(0x2E71_0000));
    let svc = Service::new(s)
        .with_clock(crate::FixedClock::at(day(2026, 3, 1)))
        .with_ids(crate::SequentialIds::starting_at(0x2E72_0000));
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            signup
                .register_new(TA, Profile::default())
                .await
                .map_err(e)?
                .id(),
        );
    }
    let other = signup
        .register_new(TB, Profile::default())
        .await
        .map_err(e)?
        .id();
    let (ann, bob, cy, dee, eve) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    let usd = Money::new(Decimal::from(40), Currency::USD);
    let buys = [
        (ann, day(2025, 3, 1)),
        (ann, day(2025, 3, 20)),
        (bob, day(2025, 4, 1)),
        (bob, day(2026, 2, 1)),
        (cy, day(2025, 11, 1)),
        (cy, day(2025, 12, 1)),
        (dee, day(2025, 8, 1)),
        (eve, day(2026, 1, 20)),
    ];
    for (n, (who, at)) in buys.into_iter().enumerate() {
        let a = NewActivity::purchase(who, format!("R-{n}"), usd, at).map_err(bad)?;
        svc.record(TA, a).await.map_err(e)?;
    }
    let nps = |n: u8| Nps::new(n).map(Feedback::Nps);
    let csat = |n: u8| Csat::new(n).map(Feedback::Csat);
    let answers = [
        (TA, ann, nps(9), day(2026, 1, 5)),
        (TA, ann, nps(3), day(2026, 2, 10)),
        (TA, bob, nps(10), day(2026, 2, 1)),
        (TA, cy, nps(9), day(2026, 2, 15)),
        (TA, dee, nps(10), day(2025, 12, 15)),
        (TA, eve, csat(5), day(2026, 1, 25)),
        (TA, bob, csat(2), day(2026, 2, 2)),
        (TB, other, nps(0), day(2026, 1, 15)),
    ];
    for (t, who, f, at) in answers {
        let a = NewActivity::feedback(who, f.map_err(bad)?, at).map_err(bad)?;
        svc.record(t, a).await.map_err(e)?;
    }
    let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap_or_default();
    let period = Period::new(d(1, 1), d(3, 1)).map_err(bad)?;
    let r = svc.review(TA, period).await.map_err(e)?;
    let rate = |r: rapport_core::metrics::Rate| (r.numerator, r.denominator);
    let ensure = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("review: {what}: {r:?}"))
        }
    };
    ensure(
        rate(r.stages.churn_rate) == (1, 2),
        "churn rate (dee of cy, dee)",
    )?;
    ensure(
        rate(r.stages.win_back_rate) == (1, 2),
        "win-back rate (bob of ann, bob)",
    )?;
    ensure(rate(r.conversion) == (1, 1), "conversion (eve)")?;
    let flows: Vec<(String, u64)> = r
        .stages
        .flows
        .iter()
        .map(|f| (f.label(), f.customers))
        .collect();
    let expected = [
        ("none->new", 1),
        ("active->silent", 1),
        ("silent->churned", 1),
        ("churned->active", 1),
        ("churned->churned", 1),
    ]
    .map(|(l, n)| (l.to_owned(), n));
    ensure(flows == expected, "stage flows")?;
    ensure(
        (r.nps.promoters, r.nps.passives, r.nps.detractors) == (2, 0, 1),
        "NPS: latest answer per customer in the period, this tenant only",
    )?;
    ensure(
        (r.csat.satisfied, r.csat.responses) == (1, 2),
        "CSAT answers in the period",
    )?;
    ensure(r.tiers.total() == 5, "tier distribution")?;
    ensure(
        r.revenue.get(&Currency::USD) == Some(&Decimal::from(320)),
        "revenue",
    )?;
    let jan = r.cohorts.iter().find(|c| (c.year, c.month) == (2026, 1));
    ensure(
        jan.is_some_and(|c| c.customers == 1 && c.returning == [0]),
        "January cohort (eve)",
    )?;
    Ok(())
}

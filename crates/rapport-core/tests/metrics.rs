//! The review metrics against independent computations written from DOMAIN.md's definitions
//! ("Metrics for periodic review", "Lifecycle state machine"), on generated books.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::metrics::{self, Period, Response};
use rapport_core::*;
use rust_decimal::Decimal;

fn at(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap() + Duration::days(d)
}

fn date(d: i64) -> NaiveDate {
    at(d).date_naive()
}

/// A generated customer: creation day, purchases (day, refunded in full?), an observed
/// cancellation day, and whether it was merged away.
#[derive(Debug, Clone)]
struct Gen {
    created: i64,
    purchases: Vec<(i64, bool)>,
    cancelled: Option<i64>,
    merged: bool,
}

fn gen_customer() -> impl Strategy<Value = Gen> {
    (
        0i64..700,
        prop::collection::vec((0i64..800, prop::bool::weighted(0.1)), 0..8),
        prop::option::weighted(0.1, 0i64..800),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.5),
    )
        .prop_map(|(created, mut purchases, cancelled, merged, by_purchase)| {
            purchases.sort_unstable();
            // Half the customers are created by their first purchase, as an import does.
            let created = match (by_purchase, purchases.first()) {
                (true, Some((d, _))) => *d,
                _ => created,
            };
            Gen {
                created,
                purchases,
                cancelled,
                merged,
            }
        })
}

fn build(i: usize, g: &Gen) -> (Customer, Stats) {
    let id = CustomerId::from_u128(i as u128 + 1);
    let mut c = Customer::new(
        TenantId::from_u128(1),
        id,
        Profile::default(),
        at(g.created),
    );
    let mut lifecycle = c.lifecycle().clone();
    if let Some(d) = g.cancelled {
        lifecycle.cancelled_at = Some(at(d));
    }
    if g.merged {
        lifecycle.stage = Stage::Merged {
            into: CustomerId::from_u128(0),
        };
    }
    c.set_lifecycle(lifecycle).unwrap();
    let mut acts = Vec::new();
    for (n, (d, refunded)) in g.purchases.iter().enumerate() {
        let order = OrderId::new(format!("o{n}")).unwrap();
        let amount = Money::new(Decimal::from(10 + n as i64), Currency::USD);
        acts.push(
            Activity::new(
                ActivityId::from_u128(n as u128 * 2),
                id,
                at(*d),
                Channel::Web,
                IdempotencyKey::new(format!("p{n}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: order.clone(),
                    amount,
                    margin: None,
                },
            )
            .unwrap(),
        );
        if *refunded {
            acts.push(
                Activity::new(
                    ActivityId::from_u128(n as u128 * 2 + 1),
                    id,
                    at(*d + 3),
                    Channel::Web,
                    IdempotencyKey::new(format!("r{n}")).unwrap(),
                    ActivityKind::Refund {
                        order_id: order,
                        amount,
                        margin: None,
                        purchased_at: at(*d),
                        full: true,
                    },
                )
                .unwrap(),
            );
        }
    }
    (c, Stats::from_activities(&acts).unwrap())
}

/// Purchase days: days with a purchase not refunded in full.
fn purchase_days(g: &Gen) -> Vec<NaiveDate> {
    let set: BTreeSet<NaiveDate> = g
        .purchases
        .iter()
        .filter(|(_, refunded)| !refunded)
        .map(|(d, _)| date(*d))
        .collect();
    set.into_iter().collect()
}

/// DOMAIN.md's stage rules with the default policy, transcribed: the stage at the close of
/// `today` from the purchase days up to it and an observed cancellation.
fn naive_stage(days: &[NaiveDate], cancelled: Option<NaiveDate>, today: NaiveDate) -> Stage {
    let days: Vec<NaiveDate> = days.iter().copied().filter(|d| *d <= today).collect();
    let cancelled = cancelled.filter(|c| *c <= today);
    let Some(last) = days.last().copied() else {
        return if cancelled.is_some() {
            Stage::Churned
        } else {
            Stage::Prospect
        };
    };
    if cancelled.is_some_and(|c| last <= c) {
        return Stage::Churned;
    }
    let silent_after = if days.len() < 3 {
        60.0
    } else {
        let mut gaps: Vec<i64> = days.windows(2).map(|w| (w[1] - w[0]).num_days()).collect();
        gaps.sort_unstable();
        let n = gaps.len();
        let median = if n % 2 == 1 {
            gaps[n / 2] as f64
        } else {
            (gaps[n / 2 - 1] + gaps[n / 2]) as f64 / 2.0
        };
        (3.0 * median).max(30.0)
    };
    let churn_after = (2.0 * silent_after).max(180.0);
    let d = (today - last).num_days() as f64;
    if d > churn_after {
        Stage::Churned
    } else if days.len() == 1 {
        if d <= 90.0 { Stage::New } else { Stage::Silent }
    } else if d <= silent_after {
        Stage::Active
    } else {
        Stage::Silent
    }
}

/// The stage at the close of `day`, `None` when the customer is a tombstone or not yet in
/// the book.
fn naive_stage_on(g: &Gen, day: NaiveDate) -> Option<Stage> {
    let days = purchase_days(g);
    let in_book = date(g.created) <= day || days.first().is_some_and(|f| *f <= day);
    (!g.merged && in_book).then(|| naive_stage(&days, g.cancelled.map(date), day))
}

fn period() -> impl Strategy<Value = Period> {
    (1i64..800, 1i64..400).prop_map(|(s, len)| Period::new(date(s), date(s + len)).unwrap())
}

fn month(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_stage_review_matches_the_definitions(
        book in prop::collection::vec(gen_customer(), 0..40),
        period in period(),
    ) {
        let built: Vec<(Customer, Stats)> = book.iter().enumerate().map(|(i, g)| build(i, g)).collect();
        let r = metrics::stage_review(
            built.iter().map(|(c, s)| (c, s)),
            &LifecyclePolicy::default(),
            period,
        );
        let first_day = period.start().pred_opt().unwrap();
        let last_day = period.end().pred_opt().unwrap();
        let (mut churn_num, mut churn_den, mut wb_num, mut wb_den) = (0u64, 0u64, 0u64, 0u64);
        let mut funnel: BTreeMap<&str, u64> = BTreeMap::new();
        let mut flows: BTreeMap<String, u64> = BTreeMap::new();
        for g in &book {
            let Some(end) = naive_stage_on(g, last_day) else { continue };
            let start = naive_stage_on(g, first_day);
            *funnel.entry(end.as_str()).or_default() += 1;
            *flows.entry(format!("{}->{}", start.map_or("none", Stage::as_str), end)).or_default() += 1;
            if matches!(start, Some(Stage::New | Stage::Active | Stage::Silent)) {
                churn_den += 1;
                churn_num += u64::from(end == Stage::Churned);
            }
            if start == Some(Stage::Churned) {
                wb_den += 1;
                wb_num += u64::from(purchase_days(g).iter().any(|d| period.contains(*d)));
            }
        }
        prop_assert_eq!((r.churn_rate.numerator, r.churn_rate.denominator), (churn_num, churn_den));
        prop_assert_eq!((r.win_back_rate.numerator, r.win_back_rate.denominator), (wb_num, wb_den));
        let got_funnel: BTreeMap<&str, u64> =
            r.funnel.iter().filter(|(_, n)| *n > 0).map(|(s, n)| (s.as_str(), n)).collect();
        prop_assert_eq!(got_funnel, funnel);
        let got_flows: BTreeMap<String, u64> = r.flows.iter().map(|f| (f.label(), f.customers)).collect();
        prop_assert_eq!(got_flows, flows);
    }

    /// `stage_on` (the lifecycle machine, `stage_at`) gives the stages the review counts.
    #[test]
    fn prop_review_stages_equal_stage_at(
        book in prop::collection::vec(gen_customer(), 0..40),
        period in period(),
    ) {
        let policy = LifecyclePolicy::default();
        for (i, g) in book.iter().enumerate() {
            let (c, s) = build(i, g);
            for (t, day) in [
                (period.opening(), period.start().pred_opt().unwrap()),
                (period.closing(), period.end().pred_opt().unwrap()),
            ] {
                prop_assert_eq!(metrics::stage_on(&c, &s, &policy, t), naive_stage_on(g, day));
            }
            // One customer alone: the review's funnel is its stage at the end.
            let r = metrics::stage_review([(&c, &s)], &policy, period);
            let end = metrics::stage_on(&c, &s, &policy, period.closing());
            prop_assert_eq!(r.funnel.total(), u64::from(end.is_some()));
            if let Some(end) = end {
                prop_assert_eq!(r.funnel.get(end), 1);
            }
        }
    }

    #[test]
    fn prop_cohort_retention_matches_the_definition(
        book in prop::collection::vec(gen_customer(), 0..40),
        until in 1i64..900,
    ) {
        let built: Vec<(Customer, Stats)> = book.iter().enumerate().map(|(i, g)| build(i, g)).collect();
        let until = date(until);
        let got = metrics::cohort_retention(built.iter().map(|(_, s)| s), until);
        // Cohort month → members' sets of purchase months before `until`.
        let mut cohorts: BTreeMap<i64, Vec<BTreeSet<i64>>> = BTreeMap::new();
        for g in &book {
            let months: BTreeSet<i64> =
                purchase_days(g).into_iter().filter(|d| *d < until).map(month).collect();
            if let Some(first) = months.first().copied() {
                cohorts.entry(first).or_default().push(months);
            }
        }
        let horizon = month(until.pred_opt().unwrap());
        prop_assert_eq!(got.len(), cohorts.len());
        for (c, (first, members)) in got.iter().zip(&cohorts) {
            prop_assert_eq!(i64::from(c.year) * 12 + i64::from(c.month) - 1, *first);
            prop_assert_eq!(c.customers, members.len() as u64);
            let expected: Vec<u64> = (1..=horizon - first)
                .map(|k| members.iter().filter(|m| m.contains(&(first + k))).count() as u64)
                .collect();
            prop_assert_eq!(&c.returning, &expected);
            for (share, n) in c.retention().iter().zip(&expected) {
                prop_assert!((share - *n as f64 / members.len() as f64).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn prop_conversion_matches_the_definition(
        book in prop::collection::vec(gen_customer(), 0..40),
        period in period(),
        within in 0u32..60,
    ) {
        let built: Vec<(Customer, Stats)> = book.iter().enumerate().map(|(i, g)| build(i, g)).collect();
        let got = metrics::conversion(built.iter().map(|(c, s)| (c, s)), period, within);
        let (mut num, mut den) = (0, 0);
        for g in book.iter().filter(|g| !g.merged) {
            let created = date(g.created);
            let first = purchase_days(g).first().copied();
            if period.contains(created) && first.is_none_or(|f| f >= created) {
                den += 1;
                num += u64::from(first.is_some_and(|f| (f - created).num_days() <= i64::from(within)));
            }
        }
        prop_assert_eq!((got.numerator, got.denominator), (num, den));
    }

    #[test]
    fn prop_nps_and_csat_match_the_definitions(
        answers in prop::collection::vec((0u128..8, 0i64..100, 0u8..=10, prop::bool::ANY), 0..60),
        start in 0i64..60,
        len in 1i64..60,
    ) {
        let period = Period::new(date(start), date(start + len)).unwrap();
        let responses: Vec<Response> = answers
            .iter()
            .map(|(c, d, s, is_nps)| Response {
                customer: CustomerId::from_u128(*c),
                at: at(*d),
                feedback: if *is_nps {
                    Feedback::Nps(Nps::new(*s).unwrap())
                } else {
                    Feedback::Csat(Csat::new(1 + s % 5).unwrap())
                },
            })
            .collect();
        let got = metrics::nps(responses.iter().copied(), period);
        // Latest NPS answer per customer in the period (ties at one instant: the higher).
        let mut latest: BTreeMap<u128, (i64, u8)> = BTreeMap::new();
        for (c, d, s, is_nps) in &answers {
            if *is_nps && period.contains(date(*d)) {
                let e = latest.entry(*c).or_insert((*d, *s));
                if (*d, *s) > *e { *e = (*d, *s); }
            }
        }
        let n = latest.len() as f64;
        let promoters = latest.values().filter(|(_, s)| *s >= 9).count() as f64;
        let detractors = latest.values().filter(|(_, s)| *s <= 6).count() as f64;
        let expected = (n > 0.0).then(|| (promoters / n - detractors / n) * 100.0);
        prop_assert_eq!(got.respondents(), latest.len() as u64);
        match (got.value(), expected) {
            (Some(a), Some(b)) => prop_assert!((a - b).abs() < 1e-9, "{} vs {}", a, b),
            (a, b) => prop_assert_eq!(a, b),
        }
        // Order of the answers does not matter.
        prop_assert_eq!(metrics::nps(responses.iter().rev().copied(), period), got);
        let in_period: Vec<u8> = answers
            .iter()
            .filter(|(_, d, _, is_nps)| !is_nps && period.contains(date(*d)))
            .map(|(_, _, s, _)| 1 + s % 5)
            .collect();
        let c = metrics::csat(responses.iter().copied(), period);
        prop_assert_eq!(c.responses, in_period.len() as u64);
        prop_assert_eq!(c.satisfied, in_period.iter().filter(|s| **s >= 4).count() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Tier movements: the default pyramid (Platinum 10,000, Gold 2,000, Iron 200 USD) on the
    /// net revenue of the 365 days up to each end of the period, transcribed.
    #[test]
    fn prop_tier_movements_match_the_thresholds(
        book in prop::collection::vec(prop::collection::vec((0i64..800, 0i64..6_000), 0..6), 0..12),
        period in period(),
    ) {
        let built: Vec<(Customer, Stats)> = book
            .iter()
            .enumerate()
            .map(|(i, buys)| {
                let id = CustomerId::from_u128(i as u128 + 1);
                let acts: Vec<Activity> = buys.iter().enumerate().map(|(n, (d, usd))| {
                    Activity::new(ActivityId::from_u128(n as u128), id, at(*d), Channel::Web,
                        IdempotencyKey::new(format!("k{n}")).unwrap(),
                        ActivityKind::Purchase { order_id: OrderId::new(format!("o{n}")).unwrap(),
                            amount: Money::new(Decimal::from(*usd), Currency::USD), margin: None }).unwrap()
                }).collect();
                (Customer::new(TenantId::from_u128(1), id, Profile::default(), at(0)), Stats::from_activities(&acts).unwrap())
            })
            .collect();
        let got = metrics::tier_movements(built.iter().map(|(c, s)| (c, s)), &TierPolicy::default(), period).unwrap();
        let tier = |buys: &[(i64, i64)], day: NaiveDate| {
            let revenue: i64 = buys.iter()
                .filter(|(d, _)| date(*d) <= day && (day - date(*d)).num_days() < 365)
                .map(|(_, usd)| usd).sum();
            match revenue { r if r >= 10_000 => "platinum", r if r >= 2_000 => "gold", r if r >= 200 => "iron", _ => "lead" }
        };
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        let (first, last) = (period.start().pred_opt().unwrap(), period.end().pred_opt().unwrap());
        for buys in &book {
            *expected.entry(format!("{}->{}", tier(buys, first), tier(buys, last))).or_default() += 1;
        }
        let got: BTreeMap<String, u64> = got.iter().map(|f| (f.label(), f.customers)).collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn a_planted_book_gives_known_rates() {
    // Three customers, period = 2024 H2 (days 182..366 from 2024-01-01).
    let p = Period::new(date(182), date(366)).unwrap();
    let active_then_gone = Gen {
        created: 0,
        purchases: vec![(100, false), (120, false), (140, false)],
        cancelled: None,
        merged: false,
    };
    let churned_won_back = Gen {
        created: 0,
        purchases: vec![(0, false), (330, false)],
        cancelled: None,
        merged: false,
    };
    let loyal = Gen {
        created: 0,
        purchases: (0..36).map(|i| (i * 10, false)).collect(),
        cancelled: None,
        merged: false,
    };
    let book: Vec<(Customer, Stats)> = [active_then_gone, churned_won_back, loyal]
        .iter()
        .enumerate()
        .map(|(i, g)| build(i, g))
        .collect();
    let r = metrics::stage_review(
        book.iter().map(|(c, s)| (c, s)),
        &LifecyclePolicy::default(),
        p,
    );
    // Start of H2: the first is Active (last purchase day 140, 41 days before), the second
    // Churned (one purchase 181 days before, over the 180-day churn_after), the third Active.
    assert_eq!((r.churn_rate.numerator, r.churn_rate.denominator), (1, 2));
    assert_eq!(r.churn_rate.value(), Some(0.5));
    assert_eq!(
        (r.win_back_rate.numerator, r.win_back_rate.denominator),
        (1, 1)
    );
    assert_eq!(r.funnel.get(Stage::Active), 2);
    let labels: Vec<String> = r
        .flows
        .iter()
        .map(|f| format!("{}={}", f.label(), f.customers))
        .collect();
    assert_eq!(
        labels,
        ["active->active=1", "active->churned=1", "churned->active=1"]
    );
}

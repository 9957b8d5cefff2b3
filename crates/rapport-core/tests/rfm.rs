//! RFM: the quintile formula against a naive count, fixed breakpoints, the names and serde
//! forms of the ten segments, and scores from `rank` over real stats.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
}

fn day(ago: i64) -> NaiveDate {
    (now() - Duration::days(ago)).date_naive()
}

fn naive(values: &[Option<RfmValues>]) -> Vec<Option<RfmScores>> {
    let scored: Vec<&RfmValues> = values.iter().flatten().collect();
    let n = scored.len();
    let q = |worse: usize| (1 + 5 * worse / n) as u8;
    values
        .iter()
        .map(|v| {
            v.map(|v| {
                let r = scored
                    .iter()
                    .filter(|o| o.last_purchase < v.last_purchase)
                    .count();
                let f = scored.iter().filter(|o| o.frequency < v.frequency).count();
                let m = scored.iter().filter(|o| o.monetary < v.monetary).count();
                RfmScores::new(q(r), q(f), q(m)).unwrap()
            })
        })
        .collect()
}

fn values() -> impl Strategy<Value = Vec<Option<RfmValues>>> {
    prop::collection::vec(
        prop::option::weighted(
            0.9,
            (0i64..40, 1u32..8, 0i64..30, 0u32..3).prop_map(|(ago, f, m, scale)| RfmValues {
                last_purchase: day(ago),
                frequency: f,
                // Equal amounts at different scales (5, 5.0, 5.00) are ties.
                monetary: Decimal::new(m * 10i64.pow(scale), scale),
            }),
        ),
        0..120,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_quintiles_equal_the_formula_by_naive_count(v in values()) {
        prop_assert_eq!(rfm_scores(&v, &RfmPolicy::Quintiles, now()), naive(&v));
    }

    #[test]
    fn prop_ties_share_a_score_and_better_never_scores_lower(v in values()) {
        let s = rfm_scores(&v, &RfmPolicy::Quintiles, now());
        for (a, sa) in v.iter().zip(&s) {
            for (b, sb) in v.iter().zip(&s) {
                if let (Some(a), Some(sa), Some(b), Some(sb)) = (a, sa, b, sb) {
                    if a.monetary == b.monetary { prop_assert_eq!(sa.m, sb.m); }
                    if a.monetary < b.monetary { prop_assert!(sa.m <= sb.m); }
                    if a.last_purchase < b.last_purchase { prop_assert!(sa.r <= sb.r); }
                    if a.frequency < b.frequency { prop_assert!(sa.f <= sb.f); }
                }
            }
        }
    }
}

#[test]
fn quintiles_of_ten_distinct_customers_are_two_per_score() {
    let v: Vec<Option<RfmValues>> = (0..10)
        .map(|i| {
            Some(RfmValues {
                last_purchase: day(10 - i),
                frequency: i as u32 + 1,
                monetary: Decimal::from(i * 100),
            })
        })
        .collect();
    let s = rfm_scores(&v, &RfmPolicy::Quintiles, now());
    let r: Vec<u8> = s.iter().map(|s| s.unwrap().r).collect();
    assert_eq!(r, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert!(s.iter().all(|x| {
        let x = x.unwrap();
        x.r == x.f && x.f == x.m
    }));
}

#[test]
fn breakpoints_score_each_band() {
    let policy = RfmPolicy::Breakpoints {
        r: [30, 90, 180, 365],
        f: [2, 3, 5, 10],
        m: [
            Decimal::from(100),
            Decimal::from(500),
            Decimal::from(1_000),
            Decimal::from(5_000),
        ],
    };
    policy.validate().unwrap();
    let v = |ago, f, m| {
        Some(RfmValues {
            last_purchase: day(ago),
            frequency: f,
            monetary: Decimal::from(m),
        })
    };
    let got = rfm_scores(
        &[
            v(30, 1, 99),
            v(31, 2, 100),
            v(180, 4, 999),
            v(181, 5, 1_000),
            v(366, 10, 5_000),
            None,
        ],
        &policy,
        now(),
    );
    let want = [
        RfmScores::new(5, 1, 1),
        RfmScores::new(4, 2, 2),
        RfmScores::new(3, 3, 3),
        RfmScores::new(2, 4, 4),
        RfmScores::new(1, 5, 5),
        None,
    ];
    assert_eq!(got, want);
    let descending = RfmPolicy::Breakpoints {
        r: [90, 30, 180, 365],
        f: [2, 3, 5, 10],
        m: [Decimal::ONE; 4],
    };
    assert!(matches!(
        descending.validate(),
        Err(DomainError::InvalidPolicy {
            field: "rfm.breakpoints",
            ..
        })
    ));
}

#[test]
fn segments_have_the_display_names_and_snake_case_serde() {
    let want = [
        ("Champions", "champions"),
        ("Loyal Customers", "loyal_customers"),
        ("Potential Loyalists", "potential_loyalists"),
        ("New Customers", "new_customers"),
        ("Promising", "promising"),
        ("Need Attention", "need_attention"),
        ("About to Sleep", "about_to_sleep"),
        ("At Risk", "at_risk"),
        ("Can't Lose Them", "cant_lose_them"),
        ("Hibernating", "hibernating"),
    ];
    for (seg, (name, tag)) in RfmSegment::ALL.iter().zip(want) {
        assert_eq!(seg.as_str(), name);
        assert_eq!(seg.to_string(), name);
        assert_eq!(serde_json::to_string(seg).unwrap(), format!("\"{tag}\""));
        let back: RfmSegment = serde_json::from_str(&format!("\"{tag}\"")).unwrap();
        assert_eq!(back, *seg);
    }
    // Every segment is reached by some cell, and the monetary score never matters.
    for seg in RfmSegment::ALL {
        assert!(
            (1..=5)
                .flat_map(|r| (1..=5).map(move |f| (r, f)))
                .any(|(r, f)| RfmSegment::of(RfmScores::new(r, f, 1).unwrap()) == seg)
        );
    }
    for (r, f, m) in [(5, 5, 1), (5, 5, 5), (1, 1, 3)] {
        assert_eq!(
            RfmSegment::of(RfmScores::new(r, f, m).unwrap()),
            RfmSegment::of(RfmScores::new(r, f, 1).unwrap())
        );
    }
}

#[test]
fn rank_scores_customers_with_a_purchase_only() {
    let buy = |i: u128, ago: i64, amount: i64| {
        Activity::new(
            ActivityId::from_u128(i),
            CustomerId::from_u128(i),
            now() - Duration::days(ago),
            Channel::Store,
            IdempotencyKey::new(format!("k{i}")).unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("o{i}")).unwrap(),
                amount: Money::new(Decimal::from(amount), Currency::CNY),
                margin: None,
            },
        )
        .unwrap()
    };
    let pop: Vec<(CustomerId, Stats)> = vec![
        (
            CustomerId::from_u128(1),
            Stats::from_activities([&buy(1, 1, 500)]).unwrap(),
        ),
        (
            CustomerId::from_u128(2),
            Stats::from_activities([&buy(2, 100, 50)]).unwrap(),
        ),
        (CustomerId::from_u128(3), Stats::default()),
        // A purchase after `now` is not seen yet.
        (
            CustomerId::from_u128(4),
            Stats::from_activities([&buy(4, -3, 50)]).unwrap(),
        ),
    ];
    let ranked = rank(
        pop.iter().map(|(id, s)| (*id, s)),
        &Policies::default(),
        now(),
        |_| None,
    );
    assert_eq!(ranked.len(), 4);
    assert_eq!(ranked[0].customer, CustomerId::from_u128(1));
    assert_eq!(ranked[0].rfm, RfmScores::new(3, 1, 3));
    assert_eq!(ranked[1].rfm, RfmScores::new(1, 1, 1));
    assert_eq!(ranked[2].rfm, None);
    assert_eq!(ranked[3].rfm, None);
    assert!(ranked.iter().all(|r| r.share_tier.is_none()));
}

//! Lifecycle rules beyond the transition table: win-back counting against a direct
//! transcription (for any policy), long histories, `advance` reporting transitions, and
//! override expiry.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::win_backs;
use rapport_core::*;
use rust_decimal::Decimal;

fn at(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 15, 0, 0).unwrap() + Duration::days(d)
}

fn date(d: i64) -> NaiveDate {
    at(d).date_naive()
}

fn stats(days: &[i64]) -> Stats {
    let acts: Vec<Activity> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Activity::new(
                ActivityId::from_u128(i as u128),
                CustomerId::from_u128(1),
                at(*d),
                Channel::Store,
                IdempotencyKey::new(format!("k{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{i}")).unwrap(),
                    amount: Money::new(Decimal::from(20), Currency::EUR),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    Stats::from_activities(&acts).unwrap()
}

/// DOMAIN.md, transcribed: a purchase day after a gap longer than the `churn_after` of the
/// history before it is a win-back; so is a purchase after an observed cancellation.
fn naive_win_backs(days: &[NaiveDate], cancelled: Option<NaiveDate>, p: &LifecyclePolicy) -> u32 {
    let mut n = 0;
    for i in 1..days.len() {
        if (days[i] - days[i - 1]).num_days() as f64 > p.churn_after_days(&days[..i]) {
            n += 1;
        }
    }
    n + u32::from(cancelled.is_some_and(|c| days.iter().any(|d| *d > c)))
}

fn policy() -> impl Strategy<Value = LifecyclePolicy> {
    (
        0u32..200,
        1u32..60,
        1u32..5,
        0.5f64..4.0,
        0.5f64..3.0,
        1u32..90,
    )
        .prop_map(
            |(churn_min, min_days, min_purchase_days, k, factor, fixed)| LifecyclePolicy {
                churn_after_min_days: churn_min,
                churn_factor: factor,
                silent_after: if fixed % 3 == 0 {
                    SilentAfter::Fixed { days: fixed }
                } else {
                    SilentAfter::Adaptive {
                        min_days,
                        k,
                        fallback_days: fixed,
                        min_purchase_days,
                    }
                },
                ..LifecyclePolicy::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn prop_win_backs_equal_the_transcribed_rule(
        gaps in prop::collection::vec(1i64..400, 0..15),
        cancelled in prop::option::of(0i64..3_000),
        p in policy(),
    ) {
        let mut days = vec![date(0)];
        let mut d = 0;
        for g in gaps {
            d += g;
            days.push(date(d));
        }
        let c = cancelled.map(date);
        prop_assert_eq!(win_backs(&days, c, &p), naive_win_backs(&days, c, &p));
    }

    #[test]
    fn prop_stage_is_a_pure_function_of_history_policy_and_now(
        days in prop::collection::vec(0i64..700, 0..10),
        now in 0i64..900,
        p in policy(),
    ) {
        let s = stats(&days);
        let a = stage_at(&s, &Lifecycle::default(), &p, at(now), None);
        // Whatever stage was stored before, a live customer without overrides lands on the same
        // stage: it is recomputed, not stepped.
        for stored in Stage::LIVE {
            let state = Lifecycle { stage: stored, ..Lifecycle::default() };
            let b = stage_at(&s, &state, &p, at(now), None);
            prop_assert_eq!((b.to, b.win_backs), (a.to, a.win_backs));
            prop_assert_eq!(&b.reason, &a.reason);
        }
    }
}

#[test]
fn a_daily_buyer_over_years_is_cheap_to_decide() {
    // 3,000 purchase days: the win-back scan is linear, not one median per prefix.
    let days: Vec<i64> = (0..3_000).collect();
    let s = stats(&days);
    let d = stage_at(
        &s,
        &Lifecycle::default(),
        &LifecyclePolicy::default(),
        at(3_000),
        None,
    );
    assert_eq!(d.to, Stage::Active);
    assert_eq!(d.win_backs, 0);
}

#[test]
fn advance_reports_each_transition_once_and_counts_win_backs() {
    let p = LifecyclePolicy::default();
    let mut state = Lifecycle::default();
    let mut seen = Vec::new();
    // Purchases on days 0 and 20, then a return on day 400 (after Churned).
    for (now, buys) in [
        (0, vec![]),
        (0, vec![0]),
        (20, vec![0, 20]),
        (20, vec![0, 20]),
        (81, vec![0, 20]),
        (201, vec![0, 20]),
        (400, vec![0, 20, 400]),
    ] {
        let Advanced {
            lifecycle: next,
            decision: d,
        } = advance(&state, &stats(&buys), &p, at(now), None);
        if d.changed() {
            seen.push((d.from, d.to, now));
            assert_eq!(next.since, Some(at(now)));
        } else {
            assert_eq!(next.since, state.since, "no change keeps `since`");
        }
        state = next;
    }
    assert_eq!(
        seen,
        [
            (Stage::Prospect, Stage::New, 0),
            (Stage::New, Stage::Active, 20),
            (Stage::Active, Stage::Silent, 81),
            (Stage::Silent, Stage::Churned, 201),
            (Stage::Churned, Stage::Active, 400),
        ]
    );
    assert_eq!(state.win_backs, 1);
}

#[test]
fn an_override_holds_until_its_expiry_then_the_rules_resume() {
    let p = LifecyclePolicy::default();
    let s = stats(&[0, 20]);
    let Advanced {
        lifecycle: state, ..
    } = advance(&Lifecycle::default(), &s, &p, at(20), None);
    let state = state
        .override_stage(
            Stage::Churned,
            Actor::new("support").unwrap(),
            "asked to close the account",
            at(50),
            at(21),
        )
        .unwrap();
    let Advanced {
        lifecycle: held,
        decision: d,
    } = advance(&state, &s, &p, at(49), None);
    assert_eq!(
        (d.to, &*d.reason.rule),
        (Stage::Churned, "lifecycle.override")
    );
    assert!(d.reason.note.as_deref().unwrap().contains("support"));
    let Advanced {
        lifecycle: after,
        decision: d,
    } = advance(&held, &s, &p, at(50), None);
    assert_eq!((d.from, d.to), (Stage::Churned, Stage::Active));
    assert!(after.manual.is_none(), "an expired override is dropped");
    // Overrides need a live stage, a reason and a future expiry; tombstones refuse them.
    let actor = Actor::new("x").unwrap();
    for (stage, reason, until) in [
        (Stage::Erased, "r", at(60)),
        (Stage::Active, "  ", at(60)),
        (Stage::Active, "r", at(50)),
    ] {
        assert!(matches!(
            after.override_stage(stage, actor.clone(), reason, until, at(50)),
            Err(DomainError::IllegalTransition { .. })
        ));
    }
    let erased = after.erase(at(51)).unwrap();
    assert!(
        erased
            .override_stage(Stage::Active, actor, "r", at(60), at(52))
            .is_err()
    );
    assert!(erased.cancel(at(52)).is_err());
    assert!(erased.merge_into(CustomerId::from_u128(3), at(52)).is_err());
}

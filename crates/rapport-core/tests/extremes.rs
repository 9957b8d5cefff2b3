//! No public function that takes a policy value or a timestamp panics at the edges: policy
//! fields at their extremes (0, `u32::MAX`, NaN, ±∞, huge decimals) and timestamps anywhere in
//! years 1–9999. Each call either answers or returns a typed error; proptest turns a panic
//! into a failure with the shrunk input.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z as Unix seconds.
const FIRST: i64 = -62_135_596_800;
const LAST: i64 = 253_402_300_799;

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(FIRST),
        Just(LAST),
        FIRST..=LAST,
        // Near the ends, where windows and offsets fall off the calendar.
        FIRST..FIRST + 400 * 86_400,
        LAST - 400 * 86_400..=LAST,
    ]
    .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn days() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX / 2),
        0u32..4_000_000,
        any::<u32>()
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        -10.0..10.0f64,
        any::<f64>()
    ]
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::ZERO),
        Just(Decimal::new(1, 28)),
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn lifecycle_policy() -> impl Strategy<Value = LifecyclePolicy> {
    let silent = prop_oneof![
        days().prop_map(|days| SilentAfter::Fixed { days }),
        (days(), float(), days(), days()).prop_map(|(min_days, k, fallback_days, m)| {
            SilentAfter::Adaptive {
                min_days,
                k,
                fallback_days,
                min_purchase_days: m,
            }
        }),
    ];
    (days(), silent, days(), float(), float()).prop_map(|(new, silent, churn_min, factor, p)| {
        LifecyclePolicy {
            new_window_days: new,
            silent_after: silent,
            churn_after_min_days: churn_min,
            churn_factor: factor,
            p_alive_churned_below: p,
        }
    })
}

fn churn_policy() -> impl Strategy<Value = ChurnPolicy> {
    (float(), float(), float(), float(), days(), float()).prop_map(|(r, t, c, n, w, a)| {
        ChurnPolicy {
            recency_weight: r,
            trend_weight: t,
            complaint_weight: c,
            nps_weight: n,
            window_days: w,
            alert_threshold: a,
            use_fitted_model: true,
        }
    })
}

fn tier_policy() -> impl Strategy<Value = TierPolicy> {
    (decimal(), days(), any::<bool>()).prop_map(|(hysteresis, grace_days, rfm)| TierPolicy {
        ladder: if rfm {
            TierLadder::classic_pyramid()
        } else {
            TierLadder::customer_pyramid()
        },
        hysteresis,
        grace_days,
        currency: Currency::USD,
    })
}

/// Purchases, refunds, visits and complaints anywhere in the calendar.
fn history() -> impl Strategy<Value = Vec<Activity>> {
    prop::collection::vec((instant(), 0u8..4, 1i64..1_000_000), 0..12).prop_map(|items| {
        let customer = CustomerId::from_u128(1);
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, (at, kind, cents))| {
                let amount = Money::new(Decimal::new(cents, 2), Currency::USD);
                let order = OrderId::new(format!("o{i}")).ok()?;
                let kind = match kind {
                    0 => ActivityKind::Purchase {
                        order_id: order,
                        amount,
                        margin: None,
                    },
                    1 => ActivityKind::Refund {
                        order_id: order,
                        amount: Money::new(Decimal::new(cents / 3, 2), Currency::USD),
                        margin: None,
                        purchased_at: at,
                        full: false,
                    },
                    2 => ActivityKind::Visit { item: None },
                    _ => ActivityKind::Complaint {
                        severity: Severity::High,
                    },
                };
                Activity::new(
                    ActivityId::from_u128(i as u128 + 1),
                    customer,
                    at,
                    Channel::Web,
                    IdempotencyKey::new(format!("k{i}")).ok()?,
                    kind,
                )
                .ok()
            })
            .collect()
    })
}

/// Folds what folds: an activity the fold refuses (a refund above what was bought, say) is
/// skipped, as a store would have refused it.
fn fold(history: &[Activity]) -> Stats {
    let mut stats = Stats::default();
    for a in history {
        let _ = stats.apply(a);
    }
    stats
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn prop_stats_reads_never_panic(history in history(), now in instant(), window in days()) {
        let stats = fold(&history);
        let _ = stats.window(now, window);
        let _ = stats.complaints_within(now, window);
        let _ = (stats.rolling_30(now), stats.rolling_90(now), stats.rolling_365(now));
        let _ = (stats.days_since_last_purchase(now), stats.days_since_first_purchase(now));
        let _ = stats.purchase_days_until(now.date_naive()).count();
    }

    #[test]
    fn prop_lifecycle_never_panics(
        history in history(),
        policy in lifecycle_policy(),
        now in instant(),
        p_alive in prop::option::of(float()),
    ) {
        let stats = fold(&history);
        let _ = policy.validate();
        let days: Vec<_> = stats.purchase_days().collect();
        let _ = (policy.silent_after_days(&days), policy.churn_after_days(&days));
        let _ = median_gap(&days);
        let _ = win_backs(&days, None, &policy);
        let _ = stage_at(&stats, &Lifecycle::default(), &policy, now, p_alive);
        let next = advance(&Lifecycle::default(), &stats, &policy, now, p_alive);
        let _ = advance(&next.lifecycle, &stats, &policy, now, p_alive);
        let _ = Lifecycle::default().cancel(now).map(|l| l.erase(now));
    }

    #[test]
    fn prop_churn_risk_never_panics(
        history in history(),
        churn in churn_policy(),
        lifecycle in lifecycle_policy(),
        now in instant(),
        p_alive in prop::option::of(float()),
    ) {
        let stats = fold(&history);
        let _ = churn.validate();
        let _ = churn.assess(&stats, &lifecycle, now, p_alive);
    }

    #[test]
    fn prop_tiers_never_panic(
        policy in tier_policy(),
        value in prop::option::of(decimal()),
        since in prop::option::of(instant()),
        below_since in prop::option::of(instant()),
        now in instant(),
    ) {
        let _ = policy.validate();
        let state = TierState { tier: Tier::Gold, since, below_since, pin: None };
        let d = policy.decide(&state, value, None, now);
        let _ = policy.decide(&d.state, value, Some(Tier::Iron), now);
    }

    #[test]
    fn prop_evaluate_never_panics(
        history in history(),
        lifecycle in lifecycle_policy(),
        churn in churn_policy(),
        tier in tier_policy(),
        created in instant(),
        now in instant(),
        ttl_days in 0i64..=36_525,
    ) {
        let stats = fold(&history);
        let rule = format!("when orders > 0 then tag value:buyer for {ttl_days}d");
        let policies = Policies {
            lifecycle,
            churn,
            tier,
            tag_rules: TagRule::parse(&rule).into_iter().collect(),
            ..Policies::default()
        };
        let _ = policies.validate();
        let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), created);
        let _ = evaluate(&c, &stats, &policies, &EvalInputs::at(now));
    }

    #[test]
    fn prop_segments_never_panic(history in history(), now in instant(), n in any::<u32>()) {
        let stats = fold(&history);
        let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(1), Profile::default(), now);
        for text in [
            format!("days_since(purchase) > {n}"),
            format!("revenue_{n}d > 0"),
            format!("orders_{n}d >= 1"),
            format!("complaints_{n}d >= 1"),
            format!("age_days > {n}"),
        ] {
            if let Ok(seg) = Segment::parse(&text) {
                let ctx = SegmentContext::new(&c, &stats, now);
                let _ = seg.matches(&ctx);
            }
        }
    }

    #[test]
    fn prop_tag_expiry_never_panics(now in instant(), ttl_days in 0i64..=36_525) {
        let mut tags = TagSet::default();
        let tag: Tag = "value:buyer".parse().unwrap();
        let expires = now.checked_add_signed(Duration::days(ttl_days));
        let _ = tags.insert(tag.clone(), TagSource::Manual, now, expires);
        let _ = tags.contains(&tag, now);
        let _ = tags.expire(now);
    }
}

//! Evaluating segments: every field and operator against a built customer and its stats.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rapport_core::*;
use rust_decimal::Decimal;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    at(2026, 3, 1, 12)
}

fn activity(n: u128, when: DateTime<Utc>, kind: ActivityKind) -> Activity {
    Activity::new(
        ActivityId::from_u128(n),
        CustomerId::from_u128(7),
        when,
        Channel::Web,
        IdempotencyKey::new(format!("k{n}")).unwrap(),
        kind,
    )
    .unwrap()
}

fn purchase(n: u128, when: DateTime<Utc>, cents: i64, margin: Option<i64>) -> Activity {
    activity(
        n,
        when,
        ActivityKind::Purchase {
            order_id: OrderId::new(format!("o{n}")).unwrap(),
            amount: Money::new(Decimal::new(cents, 2), Currency::CNY),
            margin: margin.map(Decimal::from),
        },
    )
}

fn stats() -> Stats {
    Stats::from_activities(&[
        purchase(1, at(2025, 1, 15, 9), 100_000, None),
        purchase(2, at(2026, 1, 1, 9), 10_000, Some(30)),
        purchase(3, at(2026, 2, 20, 23), 5_000, Some(10)),
        activity(
            4,
            at(2025, 6, 1, 9),
            ActivityKind::Complaint {
                severity: Severity::Low,
            },
        ),
        activity(
            5,
            at(2026, 2, 25, 9),
            ActivityKind::Complaint {
                severity: Severity::High,
            },
        ),
        activity(
            6,
            at(2026, 2, 26, 9),
            ActivityKind::Feedback {
                feedback: Feedback::Nps(Nps::new(9).unwrap()),
            },
        ),
        activity(7, at(2026, 2, 28, 23), ActivityKind::Visit { item: None }),
    ])
    .unwrap()
}

fn attrs() -> Attributes {
    let mut a = Attributes::new();
    let k = |s: &str| AttrKey::new(s).unwrap();
    a.insert(k("plan"), AttrValue::Text("pro".into()));
    a.insert(k("seats"), AttrValue::Number(Decimal::from(12)));
    a.insert(k("vip"), AttrValue::Bool(true));
    a.insert(
        k("renewal"),
        AttrValue::Date(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()),
    );
    a.insert(k("last_login"), AttrValue::Timestamp(at(2026, 2, 27, 10)));
    a
}

fn customer() -> Customer {
    let profile = Profile {
        email: Some(Pii::new(Email::parse("Li@Example.cn").unwrap())),
        attributes: Pii::new(attrs()),
        ..Profile::default()
    };
    let mut c = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(7),
        profile,
        at(2024, 12, 1, 8),
    );
    c.set_tier_state(rapport_core::TierState {
        tier: Tier::Gold,
        ..c.tier_state().clone()
    })
    .unwrap();
    c.set_lifecycle(rapport_core::Lifecycle {
        stage: Stage::Active,
        ..c.lifecycle().clone()
    })
    .unwrap();
    let n = now();
    c.tags.insert(
        "value:vip".parse().unwrap(),
        TagSource::Manual,
        n - Duration::days(10),
        None,
    );
    c.tags.insert(
        "promo:spring".parse().unwrap(),
        TagSource::Rule,
        n - Duration::days(10),
        Some(n - Duration::hours(1)),
    );
    c.tags.insert(
        "promo:later".parse().unwrap(),
        TagSource::Rule,
        n - Duration::days(1),
        Some(n + Duration::days(1)),
    );
    c.tags.insert(
        "promo:edge".parse().unwrap(),
        TagSource::Rule,
        n - Duration::days(1),
        Some(n),
    );
    c
}

fn check(cases: &[(&str, bool)], ctx: &SegmentContext<'_>) {
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let seg = Segment::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        if seg.matches(ctx) != *expected {
            failures.push(format!("{text} should be {expected}"));
        }
        // `not` always flips the answer, missing values included.
        assert_eq!(
            Segment::Not(Box::new(seg.clone())).matches(ctx),
            !expected,
            "not {text}"
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn profile_fields() {
    let (c, s) = (customer(), stats());
    let ctx = SegmentContext::new(&c, &s, now());
    check(
        &[
            ("has_email == true", true),
            ("has_email != true", false),
            ("has_phone == false", true),
            ("has_phone == true", false),
            (r#"email_domain == "example.cn""#, true),
            (r#"email_domain == "EXAMPLE.cn""#, true),
            (r#"email_domain != "example.cn""#, false),
            (r#"email_domain == "example.com""#, false),
            (r#"email_domain != "example.com""#, true),
            (r#"attr.plan == "pro""#, true),
            (r#"attr.plan != "pro""#, false),
            (r#"attr.plan == "Pro""#, false),
            ("attr.seats == 12", true),
            ("attr.seats == 12.00", true),
            ("attr.seats > 11.99", true),
            ("attr.seats >= 13", false),
            ("attr.seats < 12", false),
            ("attr.seats <= 12", true),
            ("attr.seats != 12", false),
            ("attr.vip == true", true),
            ("attr.vip != true", false),
            ("attr.renewal > 2026-06-29", true),
            ("attr.renewal == 2026-06-30", true),
            ("attr.renewal < 2026-06-30", false),
            ("attr.last_login == 2026-02-27", true),
            ("attr.last_login >= 2026-02-28", false),
            // Type mismatch and missing attribute: false, even for `!=`.
            (r#"attr.seats == "12""#, false),
            (r#"attr.seats != "12""#, false),
            ("attr.plan > 3", false),
            ("attr.vip == 1", false),
            ("attr.missing == true", false),
            ("attr.missing != true", false),
        ],
        &ctx,
    );
}

#[test]
fn stats_fields() {
    let (c, s) = (customer(), stats());
    let ctx = SegmentContext::new(&c, &s, now());
    check(
        &[
            ("orders == 3", true),
            ("orders > 3", false),
            ("orders >= 3", true),
            ("purchase_days == 3", true),
            ("revenue == 1150", true),
            ("revenue == 1150.00", true),
            ("revenue > 1149.99", true),
            ("revenue < 1150", false),
            ("margin == 40", true),
            ("margin <= 39.5", false),
            ("revenue_30d == 50", true),
            ("revenue_90d == 150", true),
            ("revenue_365d == 150", true),
            ("revenue_365d >= 1000", false),
            ("complaints == 2", true),
            ("complaints_90d == 1", true),
            ("complaints_90d != 1", false),
            ("last_nps == 9", true),
            ("last_nps >= 9", true),
            ("last_nps <= 6", false),
            // No CSAT answer: every comparison is false.
            ("last_csat == 5", false),
            ("last_csat != 5", false),
            ("last_csat < 100", false),
        ],
        &ctx,
    );
}

#[test]
fn tier_stage_and_tags() {
    let (c, s) = (customer(), stats());
    let ctx = SegmentContext::new(&c, &s, now());
    check(
        &[
            ("tier == gold", true),
            ("tier != gold", false),
            ("tier >= gold", true),
            ("tier > gold", false),
            ("tier < platinum", true),
            ("tier <= iron", false),
            ("tier > lead", true),
            ("tier in (iron, gold)", true),
            ("stage == active", true),
            ("stage != active", false),
            ("stage == silent", false),
            ("stage in (silent, churned)", false),
            ("stage in (new, active)", true),
            (r#"has_tag("value:vip")"#, true),
            (r#"has_tag("promo:later")"#, true),
            // Expired at or before now: not there.
            (r#"has_tag("promo:spring")"#, false),
            (r#"has_tag("promo:edge")"#, false),
            (r#"has_tag("value:other")"#, false),
        ],
        &ctx,
    );
    let mut merged = c.clone();
    merged
        .set_lifecycle(rapport_core::Lifecycle {
            stage: Stage::Merged {
                into: CustomerId::from_u128(9),
            },
            ..merged.lifecycle().clone()
        })
        .unwrap();
    check(
        &[("stage == merged", true), ("stage == active", false)],
        &SegmentContext::new(&merged, &s, now()),
    );
}

#[test]
fn rfm_and_churn_risk_from_the_context() {
    let (c, s) = (customer(), stats());
    let with = SegmentContext::new(&c, &s, now())
        .with_rfm(RfmScores::new(4, 3, 5))
        .with_churn_risk(Some(0.35));
    check(
        &[
            ("rfm.r == 4", true),
            ("rfm.f == 3", true),
            ("rfm.m == 5", true),
            ("rfm.m < 5", false),
            ("rfm.total == 12", true),
            ("rfm.total >= 13", false),
            ("churn_risk > 0.3", true),
            ("churn_risk >= 0.35", true),
            ("churn_risk > 0.35", false),
            ("churn_risk < 0.5", true),
        ],
        &with,
    );
    let without = SegmentContext::new(&c, &s, now());
    check(
        &[
            ("rfm.r == 4", false),
            ("rfm.r != 4", false),
            ("rfm.total > 0", false),
            ("churn_risk >= 0", false),
            ("churn_risk != 1", false),
        ],
        &without,
    );
    let nan = SegmentContext::new(&c, &s, now()).with_churn_risk(Some(f64::NAN));
    check(
        &[("churn_risk >= 0", false), ("churn_risk != 0", false)],
        &nan,
    );
}

#[test]
fn time_fields_count_whole_utc_days() {
    let (c, s) = (customer(), stats());
    let ctx = SegmentContext::new(&c, &s, now());
    check(
        &[
            // Last purchase 2026-02-20 23:00, now 2026-03-01 12:00: nine UTC days.
            ("days_since_last_purchase == 9", true),
            ("days_since_last_purchase > 9", false),
            ("days_since_first_purchase == 410", true),
            ("days_since(purchase) == 9", true),
            ("days_since(visit) == 1", true),
            ("days_since(complaint) <= 7", true),
            ("days_since(feedback) == 3", true),
            ("days_since(referral) > 0", false),
            ("days_since(referral) != 0", false),
            ("days_since(refund) < 1000", false),
            ("days_since_registered == 455", true),
        ],
        &ctx,
    );
    // A customer with nothing: days are missing, counts and money are zero.
    let fresh = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(8),
        Profile::default(),
        now(),
    );
    let empty = Stats::default();
    check(
        &[
            ("days_since_last_purchase >= 0", false),
            ("days_since_first_purchase < 1", false),
            ("days_since(visit) >= 0", false),
            ("days_since_registered == 0", true),
            ("orders == 0", true),
            ("revenue == 0", true),
            ("revenue_30d == 0", true),
            ("has_email == false", true),
            (r#"email_domain != "x.cn""#, false),
            ("stage == prospect", true),
            ("tier == lead", true),
        ],
        &SegmentContext::new(&fresh, &empty, now()),
    );
    // Registered after `now` (clock skew in the host): missing, not negative.
    let later = SegmentContext::new(&fresh, &empty, now() - Duration::days(2));
    assert!(
        !Segment::parse("days_since_registered < 0")
            .unwrap()
            .matches(&later)
    );
    assert!(
        !Segment::parse("days_since_registered >= 0")
            .unwrap()
            .matches(&later)
    );
}

#[test]
fn connectives_combine_answers() {
    let (c, s) = (customer(), stats());
    let ctx = SegmentContext::new(&c, &s, now());
    check(
        &[
            ("true", true),
            ("false", false),
            ("all()", true),
            ("any()", false),
            ("all(false)", false),
            ("any(true)", true),
            ("tier >= gold and orders == 3", true),
            ("tier >= gold and orders == 4", false),
            ("tier > gold or orders == 3", true),
            ("tier > gold or orders == 4", false),
            ("orders == 4 and false or true", true),
            ("orders == 4 and (false or true)", false),
            ("not orders == 4 and orders == 3", true),
            ("not (orders == 4 or orders == 3)", false),
            (
                r#"tier >= gold and has_tag("value:vip") and days_since_last_purchase > 7"#,
                true,
            ),
        ],
        &ctx,
    );
}

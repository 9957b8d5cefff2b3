//! proptest strategies for the model types, shared by the integration tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

pub fn datetime() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 .. 2040-01-01, microsecond precision (what stores keep).
    (946_684_800_000_000i64..2_208_988_800_000_000i64)
        .prop_map(|us| Utc.timestamp_micros(us).single().unwrap())
}

pub fn date() -> impl Strategy<Value = NaiveDate> {
    datetime().prop_map(|d| d.date_naive())
}

pub fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
        // 28-digit extremes with every scale.
        (
            -9_999_999_999_999_999_999_999_999_999i128..=9_999_999_999_999_999_999_999_999_999i128,
            0u32..=28
        )
            .prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s)),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
    ]
}

/// Non-negative money-sized amounts that cannot overflow when a few thousand are summed.
pub fn amount() -> impl Strategy<Value = Decimal> {
    (0i64..10_000_000, 0u32..=2).prop_map(|(m, s)| Decimal::new(m, s))
}

pub fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["USD", "EUR", "CNY", "JPY", "GBP"]).prop_map(|c| c.parse().unwrap())
}

pub fn email() -> impl Strategy<Value = Email> {
    "[a-z0-9]{1,10}(\\.[a-z0-9_+-]{1,5})?@[a-z0-9]{1,10}\\.(com|cn|org|io)"
        .prop_map(|s| Email::parse(&s).unwrap())
}

pub fn phone() -> impl Strategy<Value = Phone> {
    prop::sample::select(vec![
        "+8613800138000",
        "+14155552671",
        "+442079460958",
        "+33142685300",
        "+8613912345678",
    ])
    .prop_map(|s| Phone::from_e164(s).unwrap())
}

pub fn tag() -> impl Strategy<Value = Tag> {
    "[a-z][a-z0-9-]{0,10}:[a-z0-9][a-z0-9_.-]{0,10}".prop_map(|s| s.parse().unwrap())
}

pub fn attr_value() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        ".{0,20}".prop_map(AttrValue::Text),
        decimal().prop_map(AttrValue::Number),
        any::<bool>().prop_map(AttrValue::Bool),
        date().prop_map(AttrValue::Date),
        datetime().prop_map(AttrValue::Timestamp),
    ]
}

pub fn profile() -> impl Strategy<Value = Profile> {
    (
        proptest::option::of("[\u{4e00}-\u{4e20}]{2,4}( [\u{4e00}-\u{4e20}]{1,3})?"),
        proptest::option::of(email()),
        proptest::option::of(phone()),
        proptest::option::of(date()),
        prop::collection::btree_map("[a-z][a-z0-9_]{0,10}", attr_value(), 0..4),
    )
        .prop_map(|(name, email, phone, birth, attrs)| Profile {
            display_name: name.map(Pii::new),
            email: email.map(Pii::new),
            phone: phone.map(Pii::new),
            birth_date: birth.map(Pii::new),
            attributes: Pii::new(
                attrs
                    .into_iter()
                    .map(|(k, v)| (AttrKey::new(k).unwrap(), v))
                    .collect(),
            ),
        })
}

pub fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

pub fn live_stage() -> impl Strategy<Value = Stage> {
    prop::sample::select(Stage::LIVE.to_vec())
}

pub fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        4 => live_stage(),
        1 => any::<u128>().prop_map(|n| Stage::Merged { into: CustomerId::from_u128(n) }),
        1 => Just(Stage::Erased),
    ]
}

pub fn actor() -> impl Strategy<Value = Actor> {
    "[a-z]{1,8}".prop_map(|s| Actor::new(s).unwrap())
}

pub fn customer() -> impl Strategy<Value = Customer> {
    (
        any::<u128>(),
        any::<u128>(),
        profile(),
        datetime(),
        prop::collection::vec(
            (
                tag(),
                prop::sample::select(vec![TagSource::Manual, TagSource::Rule, TagSource::Import]),
                proptest::option::of(datetime()),
            ),
            0..4,
        ),
        (
            tier(),
            proptest::option::of(datetime()),
            proptest::option::of((tier(), actor(), datetime())),
        ),
        (
            stage(),
            0u32..5,
            proptest::option::of((live_stage(), actor(), datetime())),
        ),
        1u64..1_000_000,
    )
        .prop_map(
            |(t, id, profile, now, tags, (tier, below, pin), (stage, wb, manual), v)| {
                let mut c = Customer::new(
                    TenantId::from_u128(t),
                    CustomerId::from_u128(id),
                    profile,
                    now,
                );
                for (tag, src, exp) in tags {
                    c.tags.insert(tag, src, now, exp);
                }
                c.set_tier_state(TierState {
                    tier,
                    since: Some(now),
                    below_since: below,
                    pin: pin.map(|(tier, actor, until)| TierPin {
                        tier,
                        actor,
                        reason: "vip by contract".into(),
                        until,
                    }),
                })
                .expect("a new customer is live");
                let mut lifecycle = c.lifecycle().clone();
                lifecycle.stage = stage;
                lifecycle.win_backs = wb;
                lifecycle.manual = manual.map(|(stage, actor, until)| StageOverride {
                    stage,
                    actor,
                    reason: "agreed on the phone".into(),
                    until,
                });
                c.set_lifecycle(lifecycle).expect("a new customer is live");
                c.consents.set(
                    Purpose::Marketing,
                    ContactChannel::Email,
                    v % 2 == 0,
                    now,
                    "form",
                );
                c.with_version(v)
            },
        )
}

pub fn channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

/// Activity kinds whose money is in `cur`.
pub fn kind(cur: Currency) -> impl Strategy<Value = ActivityKind> {
    let money = move || amount().prop_map(move |a| Money::new(a, cur));
    prop_oneof![
        4 => ("[0-9]{1,6}", money(), proptest::option::of((-1_000_000i64..1_000_000).prop_map(|m| Decimal::new(m, 2))))
            .prop_map(|(o, amount, margin)| ActivityKind::Purchase {
                order_id: OrderId::new(o).unwrap(),
                amount,
                margin,
            }),
        1 => ("[0-9]{1,6}", money(), datetime(), any::<bool>()).prop_map(|(o, amount, purchased_at, full)| {
            ActivityKind::Refund { order_id: OrderId::new(o).unwrap(), amount, margin: None, purchased_at, full }
        }),
        1 => proptest::option::of("[a-z0-9-]{1,12}").prop_map(|item| ActivityKind::Visit { item }),
        1 => proptest::option::of(money()).prop_map(|value| ActivityKind::CartAbandoned { value }),
        1 => prop::sample::select(vec![Severity::Low, Severity::Medium, Severity::High])
            .prop_map(|severity| ActivityKind::Complaint { severity }),
        1 => (0u8..=10).prop_map(|n| ActivityKind::Feedback { feedback: Feedback::Nps(Nps::new(n).unwrap()) }),
        1 => (1u8..=5).prop_map(|n| ActivityKind::Feedback { feedback: Feedback::Csat(Csat::new(n).unwrap()) }),
        1 => any::<u128>().prop_map(|n| ActivityKind::Referral { referred: CustomerId::from_u128(n) }),
        1 => Just(ActivityKind::Contact),
    ]
}

pub fn activity_in(cur: Currency, customer: CustomerId) -> impl Strategy<Value = Activity> {
    (
        any::<u128>(),
        datetime(),
        channel(),
        "[a-z0-9-]{1,20}",
        kind(cur),
    )
        .prop_map(move |(id, at, ch, key, kind)| {
            Activity::new(
                ActivityId::from_u128(id),
                customer,
                at,
                ch,
                IdempotencyKey::new(key).unwrap(),
                kind,
            )
            .unwrap()
        })
}

pub fn activity() -> impl Strategy<Value = Activity> {
    (currency(), any::<u128>()).prop_flat_map(|(cur, c)| activity_in(cur, CustomerId::from_u128(c)))
}

/// A history of one customer, all money in one currency, purchases within a few years so the
/// day table has collisions.
pub fn history() -> impl Strategy<Value = Vec<Activity>> {
    let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    currency().prop_flat_map(move |cur| {
        prop::collection::vec(
            (
                activity_in(cur, CustomerId::from_u128(1)),
                0i64..(3 * 365 * 24),
            ),
            0..60,
        )
        .prop_map(move |v| {
            v.into_iter()
                .map(|(mut a, hours)| {
                    a.at = base + Duration::hours(hours);
                    if let ActivityKind::Refund { purchased_at, .. } = &mut a.kind {
                        *purchased_at = base + Duration::hours(hours / 2);
                    }
                    a
                })
                .collect()
        })
    })
}

pub fn stats() -> impl Strategy<Value = Stats> {
    history().prop_map(|h| Stats::from_activities(&h).unwrap())
}

pub fn event() -> impl Strategy<Value = DomainEvent> {
    let c = || any::<u128>().prop_map(CustomerId::from_u128);
    prop_oneof![
        c().prop_map(|customer| DomainEvent::CustomerRegistered { customer }),
        c().prop_map(|customer| DomainEvent::ProfileUpdated { customer }),
        (
            c(),
            any::<u128>(),
            prop::sample::select(ActivityType::ALL.to_vec())
        )
            .prop_map(|(customer, a, kind)| {
                DomainEvent::ActivityRecorded {
                    customer,
                    activity: ActivityId::from_u128(a),
                    kind,
                }
            }),
        (c(), tag()).prop_map(|(customer, tag)| DomainEvent::TagAdded {
            customer,
            tag,
            source: TagSource::Rule
        }),
        (c(), tag()).prop_map(|(customer, tag)| DomainEvent::TagRemoved { customer, tag }),
        (c(), tier(), tier()).prop_map(|(customer, from, to)| DomainEvent::TierChanged {
            customer,
            from,
            to
        }),
        (c(), stage(), stage()).prop_map(|(customer, from, to)| DomainEvent::StageChanged {
            customer,
            from,
            to
        }),
        (c(), 0.0f64..=1.0)
            .prop_map(|(customer, risk)| DomainEvent::ChurnRiskRaised { customer, risk }),
        (c(), any::<bool>()).prop_map(|(customer, granted)| DomainEvent::ConsentChanged {
            customer,
            purpose: Purpose::Profiling,
            channel: ContactChannel::Any,
            granted
        }),
        (c(), c()).prop_map(|(customer, into)| DomainEvent::Merged { customer, into }),
        c().prop_map(|customer| DomainEvent::Erased { customer }),
    ]
}

pub fn outbox_message(tenant: TenantId) -> impl Strategy<Value = OutboxMessage> {
    (any::<u128>(), datetime(), event(), 0u32..10).prop_map(move |(id, at, event, attempts)| {
        let mut m = OutboxMessage::new(MessageId::from_u128(id), tenant, at, event);
        m.attempts = attempts;
        m
    })
}

pub fn changeset() -> impl Strategy<Value = Changeset> {
    (
        any::<u128>(),
        prop::collection::vec((customer(), stats(), any::<bool>()), 0..3),
        prop::collection::vec(activity(), 0..4),
    )
        .prop_flat_map(|(t, customers, activities)| {
            let tenant = TenantId::from_u128(t);
            (
                Just(tenant),
                Just(customers),
                Just(activities),
                prop::collection::vec(outbox_message(tenant), 0..4),
            )
        })
        .prop_map(|(_tenant, customers, activities, outbox)| {
            let mut cs = Changeset::new();
            for (c, s, create) in customers {
                if create {
                    cs.create(c.with_version(1), s);
                } else {
                    let next = c.next_version();
                    cs.update(&c, next, s);
                }
            }
            cs.activities = activities;
            cs.outbox = outbox;
            cs
        })
}

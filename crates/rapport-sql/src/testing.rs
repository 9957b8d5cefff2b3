//! The segment-query cases every SQL store's tests run (feature `testing`): random small
//! populations × random segments built from the AST, values drawn near the population's so
//! that comparisons go both ways, each query answered by the store under test (SQL prefilter
//! + exact re-check) and by a reference store (the in-memory one: scan + `Segment::matches`).
//!
//! A backend's `tests/segment_query.rs` is then a few lines:
//!
//! ```
//! # // The memory store against itself stands in for a SQL store here.
//! let (store, reference) = (rapport_memory::MemoryStore::new(), rapport_memory::MemoryStore::new());
//! rapport_sql::testing::query_equals_reference(&store, &reference, 4);
//! rapport_sql::testing::compiled_leaves_at_the_edges(&store, &reference, 4);
//! ```
//!
//! Each case writes a fresh tenant (numbered from 1 in each test binary), so one store serves
//! a whole run.
#![allow(clippy::unwrap_used)]

pub mod contacts;
pub mod scan;
pub mod timing;

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use futures::executor::block_on;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rapport_core::segment::{CmpOp, Field, Literal, StageName};
use rapport_core::*;
use rust_decimal::Decimal;

const TAGS: [&str; 3] = ["vip:gold", "promo:spring", "risk:fraud"];
const DOMAINS: [&str; 3] = ["example.com", "shop.example.org", "other.io"];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn fresh_tenant() -> TenantId {
    static N: AtomicU64 = AtomicU64::new(1);
    TenantId::from_u128(u128::from(N.fetch_add(1, Ordering::SeqCst)))
}

#[derive(Debug, Clone)]
enum Act {
    Purchase(i64),
    Refund(i64, bool),
    Complaint,
    Nps(u8),
    Csat(u8),
    Visit,
}

#[derive(Debug, Clone)]
struct Spec {
    email: Option<(usize, usize, bool)>,
    phone: bool,
    plan: Option<usize>,
    seats: Option<i64>,
    renewal: Option<i64>,
    tier: usize,
    stage: usize,
    created_hours_ago: i64,
    /// (tag, expiry relative to now in milliseconds, if any)
    tags: Vec<(usize, Option<i64>)>,
    /// (hours before now (negative: after), what)
    acts: Vec<(i64, Act)>,
    /// Account links: (account 0..ACCOUNTS, role bits over `AccountRole::ALL`, active); a
    /// second link to the same account replaces the first, as in a store.
    links: Vec<(usize, u8, bool)>,
}

/// The accounts each case's customers may be linked to.
const ACCOUNTS: usize = 3;

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => (1i64..20_000).prop_map(Act::Purchase),
        1 => ((1i64..20_000), any::<bool>()).prop_map(|(a, f)| Act::Refund(a, f)),
        1 => Just(Act::Complaint),
        1 => (0u8..=10).prop_map(Act::Nps),
        1 => (1u8..=5).prop_map(Act::Csat),
        1 => Just(Act::Visit),
    ]
}

fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        2 => Just(None),
        1 => (-1_500i64..1_500).prop_map(Some),              // within a second or so of now
        1 => (-200_000_000i64..200_000_000).prop_map(Some),  // days around now
        1 => Just(Some(0)),                                  // exactly now: expired
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            proptest::option::of((0..DOMAINS.len(), 0usize..1000, any::<bool>())),
            any::<bool>(),
            proptest::option::of(0usize..3),
            proptest::option::of(-5i64..50),
            proptest::option::of(-40i64..40),
        ),
        0usize..4,
        0usize..7,
        -30i64..3_000,
        prop::collection::vec((0..TAGS.len(), expiry()), 0..3),
        prop::collection::vec(
            (
                prop_oneof![2 => -72i64..0, 3 => 0i64..200, 3 => 0i64..2_500],
                act(),
            ),
            0..8,
        ),
        prop::collection::vec((0..ACCOUNTS, 1u8..32, prop::bool::weighted(0.75)), 0..3),
    )
        .prop_map(
            |(
                (email, phone, plan, seats, renewal),
                tier,
                stage,
                created_hours_ago,
                tags,
                acts,
                links,
            )| {
                Spec {
                    email,
                    phone,
                    plan,
                    seats,
                    renewal,
                    tier,
                    stage,
                    created_hours_ago,
                    tags,
                    acts,
                    links,
                }
            },
        )
}

/// The links of customer `i` as a store keeps them (the last link to an account wins).
fn links_of(i: usize, s: &Spec, now: DateTime<Utc>) -> Vec<AccountLink> {
    let customer = CustomerId::from_u128(i as u128 + 1);
    let mut by_account = std::collections::BTreeMap::new();
    for (a, bits, active) in &s.links {
        let account = AccountId::from_u128(*a as u128 + 1);
        let roles = AccountRole::ALL
            .into_iter()
            .enumerate()
            .filter(|(k, _)| bits & (1 << k) != 0)
            .map(|(_, r)| r);
        let mut l = AccountLink::new(account, customer, roles, now - Duration::days(30));
        if !active {
            l.until = Some(now - Duration::days(1));
        }
        by_account.insert(account, l);
    }
    by_account.into_values().collect()
}

fn build(t: TenantId, i: usize, s: &Spec, now: DateTime<Utc>) -> (Customer, Stats, Vec<Activity>) {
    let id = CustomerId::from_u128(i as u128 + 1);
    let mut profile = Profile::default();
    if let Some((d, n, upper)) = s.email {
        // Unique per customer (an email identifies one live customer); `n` varies the rest.
        let text = format!("u{n}x{i}@{}", DOMAINS[d]);
        let text = if upper {
            text.to_ascii_uppercase()
        } else {
            text
        };
        profile.email = Email::parse(&text).ok().map(Pii::new);
    }
    if s.phone {
        let number = format!("+1415555{:04}", 2000 + i % 8_000);
        profile.phone = Phone::from_e164(&number).ok().map(Pii::new);
    }
    let mut attrs = Attributes::new();
    if let Some(p) = s.plan {
        attrs.insert(
            AttrKey::new("plan").unwrap(),
            AttrValue::Text(["gold", "free", "Gold"][p].into()),
        );
    }
    if let Some(n) = s.seats {
        attrs.insert(AttrKey::new("seats").unwrap(), AttrValue::Number(n.into()));
    }
    if let Some(d) = s.renewal {
        attrs.insert(
            AttrKey::new("renewal").unwrap(),
            AttrValue::Date(now.date_naive() + Duration::days(d)),
        );
    }
    profile.attributes = Pii::new(attrs);
    let created = now - Duration::hours(s.created_hours_ago);
    let mut c = Customer::new(t, id, profile, created);
    c.set_tier_state(rapport_core::TierState {
        tier: Tier::ALL[s.tier],
        ..c.tier_state().clone()
    })
    .unwrap();
    c.set_lifecycle(rapport_core::Lifecycle {
        stage: match s.stage {
            0 => Stage::Prospect,
            1 => Stage::New,
            2 => Stage::Active,
            3 => Stage::Silent,
            4 => Stage::Churned,
            5 => Stage::Merged {
                into: CustomerId::from_u128(1),
            },
            _ => Stage::Erased,
        },
        ..c.lifecycle().clone()
    })
    .unwrap();
    for (tag, exp) in &s.tags {
        c.tags.insert(
            TAGS[*tag].parse().unwrap(),
            TagSource::Manual,
            created,
            exp.map(|ms| now + Duration::milliseconds(ms)),
        );
    }
    let mut acts: Vec<Activity> = Vec::new();
    for (k, (hours, a)) in s.acts.iter().enumerate() {
        let at = now - Duration::hours(*hours) - Duration::minutes(k as i64 * 7);
        let usd = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::USD);
        let order = |n: usize| OrderId::new(format!("o{i}-{n}")).unwrap();
        let kind = match a {
            Act::Purchase(cents) => ActivityKind::Purchase {
                order_id: order(k),
                amount: usd(*cents),
                margin: Some(Decimal::new(*cents / 3 - 2_000, 2)),
            },
            Act::Refund(cents, full) => ActivityKind::Refund {
                order_id: order(k.saturating_sub(1)),
                amount: usd(*cents),
                margin: None,
                purchased_at: at - Duration::hours(30),
                full: *full,
            },
            Act::Complaint => ActivityKind::Complaint {
                severity: Severity::Low,
            },
            Act::Nps(n) => ActivityKind::Feedback {
                feedback: Feedback::Nps(Nps::new(*n).unwrap()),
            },
            Act::Csat(n) => ActivityKind::Feedback {
                feedback: Feedback::Csat(Csat::new(*n).unwrap()),
            },
            Act::Visit => ActivityKind::Visit { item: None },
        };
        let key = IdempotencyKey::new(format!("k{i}-{k}")).unwrap();
        let id = ActivityId::from_u128((i as u128 + 1) * 1_000 + k as u128);
        acts.push(Activity::new(id, c.id(), at, Channel::Web, key, kind).unwrap());
    }
    acts.sort_by_key(|a| a.at);
    let mut stats = Stats::default();
    acts.retain(|a| stats.apply(a).is_ok());
    (c, stats, acts)
}

fn decimal_near() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        6 => (-10i64..120).prop_map(Decimal::from),
        4 => (-3i64..130, proptest::sample::select(vec![1i64, 5, 25, 999]))
            .prop_map(|(n, f)| Decimal::from(n) + Decimal::new(f, 3)),
        2 => (-2i64..30, 0u32..=2).prop_map(|(n, s)| Decimal::new(n * 10i64.pow(s), s)),
        3 => (-1_000i64..40_000, 0u32..=3).prop_map(|(m, s)| Decimal::new(m, s)),
        1 => prop_oneof![
            Just(Decimal::MAX),
            Just(Decimal::MIN),
            Just(Decimal::new(1, 28)),
            Just(Decimal::new(-1, 28)),
            (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        ],
    ]
}

fn compare_leaf() -> impl Strategy<Value = Segment> {
    let c = |(field, op, value)| Segment::Compare { field, op, value };
    let any_op = || proptest::sample::select(CmpOp::ALL.to_vec());
    let eq_op = || prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)];
    let mut numbers: Vec<Field> = [
        "orders",
        "purchase_days",
        "revenue",
        "margin",
        "revenue_30d",
        "revenue_90d",
        "revenue_365d",
        "complaints",
        "complaints_90d",
        "last_nps",
        "last_csat",
        "rfm.r",
        "rfm.f",
        "rfm.m",
        "rfm.total",
        "churn_risk",
        "days_since_last_purchase",
        "days_since_first_purchase",
        "days_since_registered",
        "attr.seats",
        "attr.plan",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    numbers.extend(ActivityType::ALL.map(Field::DaysSince));
    let domain = (0..DOMAINS.len() + 1, any::<bool>()).prop_map(|(d, upper)| {
        let d = DOMAINS.get(d).copied().unwrap_or("exämple.com");
        Literal::Text(if upper {
            d.to_ascii_uppercase()
        } else {
            d.to_owned()
        })
    });
    prop_oneof![
        1 => (
            prop_oneof![Just(Field::HasEmail), Just(Field::HasPhone)],
            any_op(),
            any::<bool>().prop_map(Literal::Bool)
        )
            .prop_map(c),
        1 => (Just(Field::EmailDomain), any_op(), domain).prop_map(c),
        4 => (
            // The fields the SQLite store compiles, more often.
            proptest::sample::select(vec![
                Field::Orders,
                Field::PurchaseDays,
                Field::Revenue,
                Field::DaysSinceLastPurchase,
                Field::DaysSinceFirstPurchase,
                Field::DaysSinceRegistered,
            ]),
            any_op(),
            decimal_near().prop_map(Literal::Number)
        )
            .prop_map(c),
        3 => (
            proptest::sample::select(numbers),
            any_op(),
            decimal_near().prop_map(Literal::Number)
        )
            .prop_map(c),
        2 => (
            Just(Field::Tier),
            any_op(),
            proptest::sample::select(Tier::ALL.to_vec()).prop_map(Literal::Tier)
        )
            .prop_map(c),
        2 => (
            Just(Field::Stage),
            any_op(),
            proptest::sample::select(StageName::ALL.to_vec()).prop_map(Literal::Stage)
        )
            .prop_map(c),
        1 => (
            Just(Field::Attr(AttrKey::new("plan").unwrap())),
            eq_op(),
            proptest::sample::select(vec!["gold", "free", "Gold", "x"])
                .prop_map(|s| Literal::Text(s.into()))
        )
            .prop_map(c),
        1 => (
            Just(Field::Attr(AttrKey::new("renewal").unwrap())),
            any_op(),
            (-40i64..40).prop_map(|d| Literal::Date(
                NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(d)
            ))
        )
            .prop_map(c),
        // Ill-typed comparisons (a hand-built tree): false in memory, so in SQL too.
        1 => (
            proptest::sample::select(vec![Field::Orders, Field::Tier, Field::Stage, Field::HasEmail]),
            any_op(),
            prop_oneof![
                Just(Literal::Text("x".into())),
                Just(Literal::Bool(true)),
                Just(Literal::Number(Decimal::ONE)),
                Just(Literal::Tier(Tier::Gold)),
            ]
        )
            .prop_map(c),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    let leaf = prop_oneof![
        6 => compare_leaf(),
        1 => Just(Segment::True),
        1 => Just(Segment::False),
        2 => (0..TAGS.len() + 1).prop_map(|i| Segment::HasTag(
            TAGS.get(i).copied().unwrap_or("nobody:none").parse().unwrap()
        )),
        2 => proptest::sample::select(AccountRole::ALL.to_vec()).prop_map(Segment::HasAccountRole),
    ];
    leaf.prop_recursive(5, 32, 4, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Segment::And),
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Segment::Or),
            2 => inner.prop_map(|s| Segment::Not(Box::new(s))),
        ]
    })
}

fn query_all<S: Store>(
    s: &S,
    t: TenantId,
    seg: &Segment,
    now: DateTime<Utc>,
    limit: u32,
) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut page = Page::first(limit);
    loop {
        let rows = block_on(s.query(t, seg, now, page)).unwrap();
        assert!(rows.len() <= limit as usize);
        let full = rows.len() == limit as usize;
        page.after = rows.last().map(|r| r.customer.id()).or(page.after);
        out.extend(rows);
        if !full {
            return out;
        }
    }
}

/// Writes the population to a fresh tenant of both stores and checks every segment.
fn check<S: Store, R: Store>(
    (store, reference): (&S, &R),
    specs: &[Spec],
    segments: &[Segment],
    now: DateTime<Utc>,
    limit: u32,
) -> Result<(), TestCaseError> {
    let t = fresh_tenant();
    let mut cs = Changeset::new();
    let mut roles = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let (c, stats, acts) = build(t, i, s, now);
        cs.create(c, stats);
        cs.activities.extend(acts);
        let links = links_of(i, s, now);
        roles.push(AccountRoleSet::of_links(&links));
        cs.account_links.extend(links);
    }
    if !cs.account_links.is_empty() {
        for a in 0..ACCOUNTS {
            let name = AccountName::new(format!("Account {a}")).unwrap();
            let account = Account::new(AccountId::from_u128(a as u128 + 1), t, name, base());
            cs.accounts.push(AccountWrite::Create {
                account: Box::new(account),
            });
        }
    }
    block_on(store.apply(t, &cs)).unwrap();
    block_on(reference.apply(t, &cs)).unwrap();
    let everything = query_all(reference, t, &Segment::True, now, 1_000);
    prop_assert_eq!(everything.len(), specs.len());
    // Both stores answer each customer's roles as its links give them.
    let ids: Vec<CustomerId> = everything.iter().map(|r| r.customer.id()).collect();
    prop_assert_eq!(&block_on(store.account_roles(t, &ids)).unwrap(), &roles);
    prop_assert_eq!(&block_on(reference.account_roles(t, &ids)).unwrap(), &roles);
    for seg in segments {
        let expected: Vec<&Record> = everything
            .iter()
            .zip(&roles)
            .filter(|(r, held)| {
                seg.matches(
                    &SegmentContext::new(&r.customer, &r.stats, now).with_account_roles(**held),
                )
            })
            .map(|(r, _)| r)
            .collect();
        let mem = query_all(reference, t, seg, now, limit);
        let sql = query_all(store, t, seg, now, limit);
        let sql_one_page = block_on(store.query(t, seg, now, Page::first(1_000))).unwrap();
        let ids = |v: &[Record]| v.iter().map(|r| r.customer.id()).collect::<Vec<_>>();
        prop_assert_eq!(ids(&sql), ids(&mem), "segment `{}` at {}", seg, now);
        prop_assert_eq!(
            &sql,
            &sql_one_page,
            "segment `{}`: paging changed the answer",
            seg
        );
        prop_assert_eq!(&sql, &mem);
        prop_assert_eq!(mem.iter().collect::<Vec<_>>(), expected);
    }
    Ok(())
}

fn now_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..(3 * 24 * 60), 0i64..60_000_000)
        .prop_map(|(m, us)| base() + Duration::minutes(m) + Duration::microseconds(us))
}

/// A compiled integer-valued field against a value at or just around a small integer.
fn sharp_leaf() -> impl Strategy<Value = Segment> {
    (
        proptest::sample::select(vec![
            Field::Orders,
            Field::PurchaseDays,
            Field::Revenue,
            Field::DaysSinceLastPurchase,
            Field::DaysSinceFirstPurchase,
            Field::DaysSinceRegistered,
        ]),
        proptest::sample::select(CmpOp::ALL.to_vec()),
        prop_oneof![0i64..10, 0i64..130],
        proptest::sample::select(vec![0i64, 1, 500, 999, -1, -500, -999]),
    )
        .prop_map(|(field, op, n, thousandths)| {
            let v = Decimal::from(n) + Decimal::new(thousandths, 3);
            Segment::Compare {
                field,
                op,
                value: Literal::Number(v),
            }
        })
}

/// Runs `cases` cases of `strategy`, panicking with proptest's report (the minimal failing
/// input) on the first failure.
fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config::with_cases(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// Random segment trees over every field kind on random populations: `store.query` (every
/// page size from 1 to 4, and one page) answers what `reference.query` answers, which is what
/// `Segment::matches` says of each record.
///
/// ```
/// let (store, reference) = (rapport_memory::MemoryStore::new(), rapport_memory::MemoryStore::new());
/// rapport_sql::testing::query_equals_reference(&store, &reference, 2);
/// ```
///
/// # Panics
/// On the first case where the answers differ (with the minimal failing case), or when a
/// store call fails.
pub fn query_equals_reference<S: Store, R: Store>(store: &S, reference: &R, cases: u32) {
    run(
        cases,
        (
            prop::collection::vec(spec(), 0..14),
            prop::collection::vec(segment(), 1..10),
            now_strategy(),
            1u32..5,
        ),
        |(specs, segments, now, limit)| check((store, reference), &specs, &segments, now, limit),
    );
}

/// Each compiled comparison (orders, purchase days, revenue, the three day counts) and its
/// negation against values at and just around small integers, where integer rounding and
/// money rounding could go wrong.
///
/// ```
/// let (store, reference) = (rapport_memory::MemoryStore::new(), rapport_memory::MemoryStore::new());
/// rapport_sql::testing::compiled_leaves_at_the_edges(&store, &reference, 2);
/// ```
///
/// # Panics
/// As [`query_equals_reference`].
pub fn compiled_leaves_at_the_edges<S: Store, R: Store>(store: &S, reference: &R, cases: u32) {
    run(
        cases,
        (
            prop::collection::vec(spec(), 1..14),
            prop::collection::vec(sharp_leaf(), 1..12),
            now_strategy(),
        ),
        |(specs, leaves, now)| {
            let segments: Vec<Segment> = leaves
                .into_iter()
                .flat_map(|l| [l.clone(), Segment::Not(Box::new(l))])
                .collect();
            check((store, reference), &specs, &segments, now, 1_000)
        },
    );
}

/// The population the SQL stores' sweep benchmarks load: `n` customers of `tenant` (ids 1 to
/// `n`) registered at `start`, each with 0 to 4 purchases (a xorshift sequence of the index:
/// the same data on every run and every backend) folded into its stats.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::TenantId;
/// let start = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
/// let rows: Vec<_> = rapport_sql::testing::sweep_population(TenantId::from_u128(1), 100, start).collect();
/// assert_eq!(rows.len(), 100);
/// assert_eq!(rows.iter().map(|(_, s)| u64::from(s.orders())).sum::<u64>(), 200);
/// ```
pub fn sweep_population(
    tenant: TenantId,
    n: usize,
    start: DateTime<Utc>,
) -> impl Iterator<Item = (Customer, Stats)> {
    (0..n).map(move |i| {
        let c = Customer::new(
            tenant,
            CustomerId::from_u128(i as u128 + 1),
            Profile::default(),
            start,
        );
        let mut s = Stats::default();
        let mut x = i as u64 * 2_654_435_761 + 1;
        for k in 0..(x % 5) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = Activity {
                id: ActivityId::from_u128(0),
                customer: c.id(),
                at: start + Duration::days(((x >> 8) % 300 + k * 13) as i64),
                channel: Channel::Web,
                idempotency_key: IdempotencyKey::new("k").unwrap(),
                kind: ActivityKind::Purchase {
                    order_id: OrderId::new("o").unwrap(),
                    amount: Money::new(Decimal::new((x % 50_000) as i64, 2), Currency::USD),
                    margin: None,
                },
            };
            s.apply(&a).unwrap();
        }
        (c, s)
    })
}

/// One fixed segment query: the segment's text and the customers (by the `u128` of their id,
/// 1 to 5 in [`case_population`]) it matches, in id order.
///
/// ```
/// let case = &rapport_sql::testing::SEGMENT_CASES[0];
/// assert_eq!((case.segment, case.expected), ("has_email == true", &[1, 3, 4][..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentCase {
    /// The segment, in the segment language.
    pub segment: &'static str,
    /// The ids of the customers it matches at [`case_now`], in order.
    pub expected: &'static [u128],
}

/// Every compiled column on both sides of its edges, the tag map with and without expiries,
/// and uncompilable leaves under `not`: the answers at [`case_now`] over
/// [`case_population`].
pub const SEGMENT_CASES: &[SegmentCase] = &[
    SegmentCase {
        segment: "has_email == true",
        expected: &[1, 3, 4],
    },
    SegmentCase {
        segment: "has_phone == true",
        expected: &[2],
    },
    SegmentCase {
        segment: "has_email != true",
        expected: &[2, 5],
    },
    SegmentCase {
        segment: r#"email_domain == "EXAMPLE.com""#,
        expected: &[1],
    },
    SegmentCase {
        segment: r#"email_domain != "example.com""#,
        expected: &[3, 4],
    },
    SegmentCase {
        segment: "orders >= 2",
        expected: &[1, 4],
    },
    SegmentCase {
        segment: "orders == 1",
        expected: &[2],
    },
    SegmentCase {
        segment: "orders > 0.5",
        expected: &[1, 2, 4],
    },
    SegmentCase {
        segment: "orders < 1.5",
        expected: &[2, 3, 5],
    },
    SegmentCase {
        segment: "orders == 1.5",
        expected: &[],
    },
    SegmentCase {
        segment: "purchase_days == 1",
        expected: &[2, 4],
    },
    SegmentCase {
        segment: "revenue > 30.5",
        expected: &[1, 2, 4],
    },
    SegmentCase {
        segment: "revenue > 30.51",
        expected: &[2, 4],
    },
    SegmentCase {
        segment: "revenue >= 30.51",
        expected: &[1, 2, 4],
    },
    SegmentCase {
        segment: "revenue == 30.510",
        expected: &[1],
    },
    SegmentCase {
        segment: "revenue <= 30.51",
        expected: &[1, 3, 5],
    },
    SegmentCase {
        segment: "revenue > 1000",
        expected: &[],
    },
    SegmentCase {
        segment: "tier >= gold",
        expected: &[1, 4],
    },
    SegmentCase {
        segment: "tier < iron",
        expected: &[3, 5],
    },
    SegmentCase {
        segment: "stage == silent",
        expected: &[2],
    },
    SegmentCase {
        segment: "stage != churned",
        expected: &[1, 2, 3, 5],
    },
    SegmentCase {
        segment: "days_since_last_purchase <= 7",
        expected: &[1],
    },
    SegmentCase {
        segment: "days_since_last_purchase > 7",
        expected: &[2, 4],
    },
    SegmentCase {
        segment: "days_since_first_purchase > 100",
        expected: &[2],
    },
    SegmentCase {
        segment: "days_since_registered >= 30",
        expected: &[1, 2, 4],
    },
    SegmentCase {
        segment: "days_since_registered < 30",
        expected: &[3, 5],
    },
    SegmentCase {
        segment: r#"has_tag("vip:gold")"#,
        expected: &[1],
    },
    SegmentCase {
        segment: r#"not has_tag("vip:gold")"#,
        expected: &[2, 3, 4, 5],
    },
    SegmentCase {
        segment: r#"has_tag("promo:spring")"#,
        expected: &[3],
    },
    SegmentCase {
        segment: "rfm.total >= 1",
        expected: &[],
    },
    SegmentCase {
        segment: "not rfm.total >= 1",
        expected: &[1, 2, 3, 4, 5],
    },
    SegmentCase {
        segment: "last_nps >= 0",
        expected: &[],
    },
    SegmentCase {
        segment: "not (orders > 1 or margin > 5)",
        expected: &[2, 3, 5],
    },
    SegmentCase {
        segment: r#"orders > 1 and (tier == platinum or has_tag("vip:gold"))"#,
        expected: &[1, 4],
    },
    SegmentCase {
        segment: r#"has_account_role("decision_maker")"#,
        expected: &[1, 3],
    },
    SegmentCase {
        segment: r#"has_account_role("buyer")"#,
        expected: &[1, 2],
    },
    SegmentCase {
        segment: r#"not has_account_role("decision_maker")"#,
        expected: &[2, 4, 5],
    },
    SegmentCase {
        segment: r#"has_account_role("billing")"#,
        expected: &[],
    },
    SegmentCase {
        segment: r#"has_account_role("user") and orders == 0"#,
        expected: &[3],
    },
    SegmentCase {
        segment: r#"has_account_role("buyer") or tier >= platinum"#,
        expected: &[1, 2, 4],
    },
];

/// The time [`SEGMENT_CASES`] are asked at: 2026-03-01 12:00 UTC.
///
/// ```
/// assert_eq!(rapport_sql::testing::case_now().to_rfc3339(), "2026-03-01T12:00:00+00:00");
/// ```
#[must_use]
pub fn case_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// The five customers of [`SEGMENT_CASES`] (ids 1 to 5), in one changeset for `tenant`:
///
/// | id | contacts | tier, stage | purchases | tags | registered |
/// | --- | --- | --- | --- | --- | --- |
/// | 1 | `ann@example.com` | gold, active | 10.00, 20.50, 0.01 on three days (10, 5, 1 days ago) | `vip:gold` | 30 days ago |
/// | 2 | a phone | iron, silent | 100.00, 200 days ago | `vip:gold` expired an hour ago | 400 days ago |
/// | 3 | `cy@shop.example.org` | lead, prospect | none | `promo:spring` until tomorrow | 2 days ago |
/// | 4 | `dee@other.io` | platinum, churned | 999.99 and 0.01 on one day, 60 days ago | `vip:gold` expiring at [`case_now`] | 100 days ago |
/// | 5 | none | lead, prospect | none | none | at [`case_now`] |
///
/// and two accounts: customer 1 is decision maker and buyer of account 1, 2 its buyer, 4 was
/// its decision maker (unlinked yesterday); 3 is decision maker and user of account 2.
///
/// ```
/// let cs = rapport_sql::testing::case_population(rapport_core::TenantId::from_u128(1));
/// assert_eq!((cs.customers.len(), cs.activities.len()), (5, 6));
/// ```
#[must_use]
pub fn case_population(tenant: TenantId) -> Changeset {
    let now = case_now();
    let day = |n: i64| now - Duration::days(n);
    let vip: Tag = "vip:gold".parse().unwrap();
    let mut cs = Changeset::new();
    let mut add = |n: u128,
                   email: Option<&str>,
                   (tier, stage): (Tier, Stage),
                   registered: DateTime<Utc>,
                   purchases: &[(i64, i64)],
                   tag: Option<(&Tag, Option<DateTime<Utc>>)>| {
        let mut profile = Profile::default();
        if n == 2 {
            profile.phone = Phone::from_e164("+14155552671").ok().map(Pii::new);
        }
        profile.email = email.and_then(|e| Email::parse(e).ok()).map(Pii::new);
        let mut c = Customer::new(tenant, CustomerId::from_u128(n), profile, registered);
        c.set_tier_state(rapport_core::TierState {
            tier,
            ..c.tier_state().clone()
        })
        .unwrap();
        c.set_lifecycle(rapport_core::Lifecycle {
            stage,
            ..c.lifecycle().clone()
        })
        .unwrap();
        if let Some((tag, expires)) = tag {
            c.tags
                .insert(tag.clone(), TagSource::Manual, registered, expires);
        }
        let mut stats = Stats::default();
        for (k, (days_ago, cents)) in purchases.iter().enumerate() {
            let a = Activity::new(
                ActivityId::from_u128(n * 100 + k as u128),
                c.id(),
                day(*days_ago),
                Channel::Web,
                IdempotencyKey::new(format!("case-{n}-{k}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("case-{n}-{k}")).unwrap(),
                    amount: Money::new(Decimal::new(*cents, 2), Currency::USD),
                    margin: None,
                },
            )
            .unwrap();
            stats.apply(&a).unwrap();
            cs.activities.push(a);
        }
        cs.create(c, stats);
    };
    add(
        1,
        Some("Ann@Example.com"),
        (Tier::Gold, Stage::Active),
        day(30),
        &[(10, 1_000), (5, 2_050), (1, 1)],
        Some((&vip, None)),
    );
    add(
        2,
        None,
        (Tier::Iron, Stage::Silent),
        day(400),
        &[(200, 10_000)],
        Some((&vip, Some(now - Duration::hours(1)))),
    );
    add(
        3,
        Some("cy@shop.example.org"),
        (Tier::Lead, Stage::Prospect),
        day(2),
        &[],
        Some((
            &"promo:spring".parse().unwrap(),
            Some(now + Duration::days(1)),
        )),
    );
    add(
        4,
        Some("dee@other.io"),
        (Tier::Platinum, Stage::Churned),
        day(100),
        &[(60, 99_999), (60, 1)],
        Some((&vip, Some(now))),
    );
    add(5, None, (Tier::Lead, Stage::Prospect), now, &[], None);
    let mut link = |account: u128, customer: u128, roles: &[AccountRole], until| {
        let mut l = AccountLink::new(
            AccountId::from_u128(account),
            CustomerId::from_u128(customer),
            roles.iter().copied(),
            day(300),
        );
        l.until = until;
        cs.account_links.push(l);
    };
    use AccountRole::{Buyer, DecisionMaker, User};
    link(1, 1, &[DecisionMaker, Buyer], None);
    link(1, 2, &[Buyer], None);
    link(1, 4, &[DecisionMaker], Some(day(1)));
    link(2, 3, &[DecisionMaker, User], None);
    for n in [1, 2] {
        let name = AccountName::new(format!("Account {n}")).unwrap();
        let account = Account::new(AccountId::from_u128(n), tenant, name, day(300));
        cs.accounts.push(AccountWrite::Create {
            account: Box::new(account),
        });
    }
    cs
}

/// Writes [`case_population`] to a fresh tenant of `store` and checks every one of
/// [`SEGMENT_CASES`] at [`case_now`], read in pages of 2 (so paging is crossed).
///
/// ```
/// rapport_sql::testing::segment_cases(&rapport_memory::MemoryStore::new());
/// ```
///
/// # Panics
/// On the first case whose answer differs (naming the segment), or when a store call fails.
pub fn segment_cases<S: Store>(store: &S) {
    let t = fresh_tenant();
    block_on(store.apply(t, &case_population(t))).unwrap();
    let now = case_now();
    for case in SEGMENT_CASES {
        let seg = Segment::parse(case.segment).unwrap();
        let got: Vec<u128> = query_all(store, t, &seg, now, 2)
            .iter()
            .map(|r| r.customer.id().as_uuid().as_u128())
            .collect();
        assert_eq!(got, case.expected, "segment `{}`", case.segment);
    }
}

/// Reads every customer of `tenant` through `Store::scan` in pages of `page_size` and counts
/// them: the baseline the sweep benchmarks compare a sweep with.
///
/// ```
/// use rapport_core::{Changeset, Store, TenantId};
/// let store = rapport_memory::MemoryStore::new();
/// let t = TenantId::from_u128(1);
/// let mut cs = Changeset::new();
/// for (c, s) in rapport_sql::testing::sweep_population(t, 5, chrono::DateTime::UNIX_EPOCH) {
///     cs.create(c, s);
/// }
/// futures::executor::block_on(store.apply(t, &cs))?;
/// assert_eq!(rapport_sql::testing::scan_pages(&store, t, 2), 5);
/// # Ok::<(), rapport_core::StoreError>(())
/// ```
///
/// # Panics
/// When a `scan` fails.
pub fn scan_pages<S: Store>(store: &S, tenant: TenantId, page_size: u32) -> usize {
    let mut page = Page::first(page_size);
    let mut n = 0;
    loop {
        let rows = block_on(store.scan(tenant, page)).unwrap();
        let Some(last) = rows.last() else { break };
        page.after = Some(last.customer.id());
        n += rows.len();
    }
    n
}

const SKUS: [&str; 5] = ["puer", "sencha", "cup", "pot", "tea \"gift\" set"];
const CATEGORIES: [&str; 3] = ["tea", "cups", "pots"];

/// One generated line: (sku, category (3: none), quantity, cents).
type LineSpec = (usize, usize, u32, i64);

fn line_spec() -> impl Strategy<Value = LineSpec> {
    (0..SKUS.len(), 0usize..4, 1u32..4, 1i64..5_000)
}

/// Line lists for the purchases and refunds of `acts` (one customer's): each purchase gets
/// lines drawn from `pool`; a full refund gives back its order's purchase lines, a partial one
/// the first of them (when the order has lines), else lines from `pool`.
fn lines_for(acts: &[Activity], pool: &[Vec<LineSpec>], salt: usize) -> Vec<LineItems> {
    let usd = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::USD);
    let mut by_order: std::collections::HashMap<OrderId, Vec<LineItem>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for (k, a) in acts.iter().enumerate() {
        let drawn = || -> Vec<LineItem> {
            if pool.is_empty() {
                return Vec::new();
            }
            pool[(salt * 7 + k) % pool.len()]
                .iter()
                .map(|(s, c, q, cents)| {
                    LineItem::new(
                        Sku::new(SKUS[*s]).unwrap(),
                        *q,
                        usd(*cents),
                        CATEGORIES
                            .get(*c)
                            .map(|c| ProductCategory::new(*c).unwrap()),
                    )
                    .unwrap()
                })
                .collect()
        };
        let items = match &a.kind {
            ActivityKind::Purchase { order_id, .. } => {
                let items = drawn();
                by_order.insert(order_id.clone(), items.clone());
                items
            }
            ActivityKind::Refund { order_id, full, .. } => match by_order.get(order_id) {
                Some(bought) if *full => bought.clone(),
                Some(bought) => bought.iter().take(1).cloned().collect(),
                None => drawn(),
            },
            _ => continue,
        };
        if !items.is_empty() {
            out.push(LineItems::of(a, items, true).unwrap());
        }
    }
    out
}

/// `bought(...)`, `category_spend(...)` against values near the generated totals, mixed with
/// other comparisons.
fn line_item_segment() -> impl Strategy<Value = Segment> {
    let spend = (
        0..CATEGORIES.len(),
        proptest::sample::select(vec![1u32, 2, 7, 30, 120, 36_500]),
        proptest::sample::select(CmpOp::ALL.to_vec()),
        prop_oneof![
            3 => (-5i64..200).prop_map(Decimal::from),
            2 => (-100i64..20_000).prop_map(|c| Decimal::new(c, 2)),
            1 => Just(Decimal::ZERO),
        ],
    )
        .prop_map(|(c, days, op, v)| Segment::Compare {
            field: Field::CategorySpend {
                category: ProductCategory::new(CATEGORIES[c]).unwrap(),
                days,
            },
            op,
            value: Literal::Number(v),
        });
    let leaf = prop_oneof![
        3 => (0..SKUS.len() + 1).prop_map(|s| Segment::Bought(
            Sku::new(SKUS.get(s).copied().unwrap_or("never")).unwrap()
        )),
        4 => spend,
        2 => compare_leaf(),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(Segment::And),
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(Segment::Or),
            2 => inner.prop_map(|s| Segment::Not(Box::new(s))),
        ]
    })
}

/// Segments on line items (`bought`, `category_spend`, mixed with the other predicates) over
/// random populations whose purchases and refunds carry random line lists: `store.query`
/// answers what `reference.query` answers, and both answer what [`Segment::matches`] says
/// with each customer's [`PurchaseSummary`] built directly from the lines written.
///
/// ```
/// let (store, reference) = (rapport_memory::MemoryStore::new(), rapport_memory::MemoryStore::new());
/// rapport_sql::testing::line_item_segments_equal_reference(&store, &reference, 2);
/// ```
///
/// # Panics
/// On the first case where the answers differ (with the minimal failing case), or when a
/// store call fails.
pub fn line_item_segments_equal_reference<S: Store, R: Store>(
    store: &S,
    reference: &R,
    cases: u32,
) {
    run(
        cases,
        (
            prop::collection::vec(spec(), 1..10),
            prop::collection::vec(prop::collection::vec(line_spec(), 1..4), 0..6),
            prop::collection::vec(line_item_segment(), 1..8),
            now_strategy(),
            1u32..4,
        ),
        |(specs, pool, segments, now, limit)| {
            let t = fresh_tenant();
            let mut cs = Changeset::new();
            let mut summaries = std::collections::HashMap::new();
            for (i, s) in specs.iter().enumerate() {
                let (c, stats, acts) = build(t, i, s, now);
                let lines = lines_for(&acts, &pool, i);
                summaries.insert(c.id(), PurchaseSummary::from_line_items(&lines));
                cs.create(c, stats);
                cs.activities.extend(acts);
                cs.line_items.extend(lines);
            }
            block_on(store.apply(t, &cs)).unwrap();
            block_on(reference.apply(t, &cs)).unwrap();
            let everything = query_all(reference, t, &Segment::True, now, 1_000);
            for seg in &segments {
                let expected: Vec<CustomerId> = everything
                    .iter()
                    .filter(|r| {
                        let p = &summaries[&r.customer.id()];
                        seg.matches(
                            &SegmentContext::new(&r.customer, &r.stats, now).with_purchases(p),
                        )
                    })
                    .map(|r| r.customer.id())
                    .collect();
                let ids = |v: Vec<Record>| v.iter().map(|r| r.customer.id()).collect::<Vec<_>>();
                let mem = ids(query_all(reference, t, seg, now, limit));
                let sql = ids(query_all(store, t, seg, now, limit));
                prop_assert_eq!(&mem, &expected, "reference: segment `{}` at {}", seg, now);
                prop_assert_eq!(&sql, &expected, "store: segment `{}` at {}", seg, now);
            }
            Ok(())
        },
    );
}

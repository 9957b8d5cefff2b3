//! Money has a currency: tier thresholds are amounts in the tenant's base currency, a
//! customer's amount in another currency is never compared with them (typed refusal in
//! [`TierPolicy::decide_money`], the tier kept by `evaluate`), reasons show the currency on
//! both sides, segment money literals are in the base currency, and policies stored before the
//! base currency existed read as USD.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn at(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap() + Duration::days(d)
}

fn customer(n: u128) -> Customer {
    Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(n),
        Profile::default(),
        at(0),
    )
}

/// Purchases `(day, cents)` of customer `n` in `currency`.
fn stats(n: u128, currency: Currency, list: &[(i64, i64)]) -> Stats {
    let acts: Vec<Activity> = list
        .iter()
        .enumerate()
        .map(|(i, (day, cents))| {
            Activity::new(
                ActivityId::from_u128(n * 1_000 + i as u128),
                CustomerId::from_u128(n),
                at(*day),
                Channel::Web,
                IdempotencyKey::new(format!("k{n}-{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}-{i}")).unwrap(),
                    amount: Money::new(Decimal::new(*cents, 2), currency),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    Stats::from_activities(&acts).unwrap()
}

fn money(cents: i64, c: Currency) -> Money {
    Money::new(Decimal::new(cents, 2), c)
}

/// The issue's case: 4,780.00 CNY of purchases in a tenant whose ladder is in USD. The old
/// code compared 4780 with the 2000 Gold entry and promoted the customer to Gold.
#[test]
fn a_cny_customer_is_not_promoted_by_a_usd_ladder() {
    let c = customer(1);
    let s = stats(1, Currency::CNY, &[(10, 478_000)]);
    let e = evaluate(&c, &s, &Policies::default(), &EvalInputs::at(at(20))).unwrap();
    assert_eq!((e.tier.from, e.tier.to), (Tier::Lead, Tier::Lead));
    assert_eq!(&e.tier.state, c.tier_state());
    assert!(
        !e.events
            .iter()
            .any(|ev| matches!(ev, DomainEvent::TierChanged { .. }))
    );
    assert_eq!(e.tier.reason.rule, "tier.currency_mismatch");
    assert_eq!(
        e.tier.reason.to_string(),
        "tier.currency_mismatch: revenue_365d = 4780.00 CNY against tier.currency = USD \
         at 2025-01-21T10:00:00Z (CNY is not compared with thresholds in USD (no conversion))"
    );
    // Nor demoted: a Gold customer who buys in CNY stays Gold, whatever the amount.
    let mut gold = c.clone();
    gold.set_tier_state(TierState {
        tier: Tier::Gold,
        since: Some(at(0)),
        ..TierState::default()
    })
    .unwrap();
    let small = stats(1, Currency::CNY, &[(10, 100)]);
    for day in [20, 100, 300] {
        let e = evaluate(
            &gold,
            &small,
            &Policies::default(),
            &EvalInputs::at(at(day)),
        )
        .unwrap();
        assert_eq!(e.tier.to, Tier::Gold);
        assert_eq!(&e.tier.state, gold.tier_state());
    }
    // Stage, churn risk and tags are still decided.
    let e = evaluate(&c, &s, &Policies::default(), &EvalInputs::at(at(20))).unwrap();
    assert_eq!(e.stage.to, Stage::New);
}

/// The typed refusal, and the same amount in the tenant's own currency.
#[test]
fn decide_money_refuses_another_currency_with_a_typed_error() {
    let p = TierPolicy::default();
    let err = p
        .decide_money(
            &TierState::default(),
            Some(money(478_000, Currency::CNY)),
            None,
            at(0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        DomainError::CurrencyMismatch {
            expected: Currency::USD,
            found: Currency::CNY
        }
    );
    assert_eq!(
        err.to_string(),
        "currency mismatch: expected USD, found CNY"
    );
    let yuan = Policies::default().with_currency(Currency::CNY);
    let c = customer(1);
    let s = stats(1, Currency::CNY, &[(10, 478_000)]);
    let e = evaluate(&c, &s, &yuan, &EvalInputs::at(at(20))).unwrap();
    assert_eq!(e.tier.to, Tier::Gold);
    assert_eq!(
        e.tier.reason.to_string(),
        "tier.upgrade: revenue_365d = 4780.00 CNY against gold.entry = 2000 CNY at 2025-01-21T10:00:00Z"
    );
}

/// An active pin still decides a customer in another currency (nothing is compared).
#[test]
fn a_pin_applies_whatever_the_currency() {
    let mut c = customer(1);
    c.set_tier_state(rapport_core::TierState {
        pin: Some(
            TierPin::new(
                Tier::Platinum,
                Actor::new("ops").unwrap(),
                "key account",
                at(100),
                at(0),
            )
            .unwrap(),
        ),
        ..c.tier_state().clone()
    })
    .unwrap();
    let s = stats(1, Currency::EUR, &[(10, 100)]);
    let e = evaluate(&c, &s, &Policies::default(), &EvalInputs::at(at(20))).unwrap();
    assert_eq!(
        (e.tier.to, e.tier.reason.rule.as_ref()),
        (Tier::Platinum, "tier.pin")
    );
}

fn money_of(v: &Value) -> Money {
    match v {
        Value::Money(m) => *m,
        other => panic!("not money: {other:?}"),
    }
}

/// Every tier reason on a money metric carries the currency on both sides: upgrade, stay,
/// grace and downgrade. The old code showed bare numbers (`… against gold.entry = 2000`).
#[test]
fn every_tier_reason_shows_the_currency_on_both_sides() {
    let p = TierPolicy {
        currency: Currency::EUR,
        ..TierPolicy::default()
    };
    let eur = |v: i64| Some(money(v * 100, Currency::EUR));
    let up = p
        .decide_money(&TierState::default(), eur(2_500), None, at(0))
        .unwrap();
    let stay = p.decide_money(&up.state, eur(1_900), None, at(1)).unwrap();
    let grace = p.decide_money(&up.state, eur(100), None, at(1)).unwrap();
    let down = p
        .decide_money(&grace.state, eur(100), None, at(40))
        .unwrap();
    let rules: Vec<&str> = [&up, &stay, &grace, &down]
        .iter()
        .map(|d| d.reason.rule.as_ref())
        .collect();
    assert_eq!(
        rules,
        ["tier.upgrade", "tier.stay", "tier.grace", "tier.downgrade"]
    );
    for d in [&up, &stay, &grace, &down] {
        let measured = money_of(&d.reason.measured.as_ref().unwrap().value);
        let threshold = money_of(&d.reason.threshold.as_ref().unwrap().value);
        assert_eq!(
            (measured.currency, threshold.currency),
            (Currency::EUR, Currency::EUR)
        );
        let text = d.reason.to_string();
        assert_eq!(text.matches(" EUR").count(), 2, "{text}");
    }
    assert_eq!(
        down.reason.to_string(),
        "tier.downgrade: revenue_365d = 100.00 EUR against gold.entry × (1 − hysteresis) = 1800 EUR \
         at 2025-02-10T10:00:00Z (days_below 39, grace_days 30)"
    );
    // A score ladder stays unitless.
    let rfm = TierPolicy {
        ladder: TierLadder {
            metric: TierMetric::RfmTotal,
            ..TierLadder::customer_pyramid()
        },
        ..p
    };
    let d = rfm.decide(&TierState::default(), Some(Decimal::from(250)), None, at(0));
    assert_eq!(
        d.reason.to_string(),
        "tier.upgrade: rfm_total = 250 against iron.entry = 200 at 2025-01-01T10:00:00Z"
    );
}

/// A share ladder ranks only amounts in the base currency: a customer with 1,000,000 CNY does
/// not take the one Platinum place of three USD-ladder customers (the old code ranked it first).
#[test]
fn a_share_ladder_does_not_rank_other_currencies_against_the_base() {
    let mut p = Policies::default();
    p.tier.ladder = TierLadder::vip_heavy(); // top 1 % Platinum: 1 of 3
    let a = stats(1, Currency::USD, &[(10, 10_000)]);
    let b = stats(2, Currency::USD, &[(10, 5_000)]);
    let c = stats(3, Currency::CNY, &[(10, 100_000_000)]);
    let ranked = rank(
        [
            (CustomerId::from_u128(1), &a),
            (CustomerId::from_u128(2), &b),
            (CustomerId::from_u128(3), &c),
        ],
        &p,
        at(20),
        |_| None,
    );
    assert_eq!(ranked[0].share_tier, Some(Tier::Platinum));
    assert_ne!(ranked[2].share_tier, Some(Tier::Platinum));
    // ... and evaluating the CNY customer with its share tier keeps its tier.
    let e = evaluate(
        &customer(3),
        &c,
        &p,
        &EvalInputs::at(at(20)).with_ranked(Some(&ranked[2])),
    )
    .unwrap();
    assert_eq!(
        (e.tier.to, e.tier.reason.rule.as_ref()),
        (Tier::Lead, "tier.currency_mismatch")
    );
}

/// A tag rule's money literal is an amount in the base currency: `revenue_365d > 100` does not
/// hold for 500 CNY in a USD tenant (the old code tagged it) and holds in a CNY tenant.
#[test]
fn tag_rule_money_literals_are_in_the_base_currency() {
    let rule = "when revenue_365d > 100 then tag value:big";
    let usd = Policies {
        tag_rules: vec![TagRule::parse(rule).unwrap()],
        ..Policies::default()
    };
    let cny = usd.clone().with_currency(Currency::CNY);
    let c = customer(1);
    let s = stats(1, Currency::CNY, &[(10, 50_000)]);
    let e = evaluate(&c, &s, &usd, &EvalInputs::at(at(20))).unwrap();
    assert!(e.tags_added.is_empty());
    let e = evaluate(&c, &s, &cny, &EvalInputs::at(at(20))).unwrap();
    assert_eq!(e.tags_added[0].tag.as_str(), "value:big");
    // Every money field is unknown across currencies; `not` of it holds, as for a missing NPS.
    let base = SegmentContext::new(&c, &s, at(20)).with_currency(Some(Currency::USD));
    for field in [
        "revenue",
        "margin",
        "revenue_30d",
        "revenue_90d",
        "revenue_365d",
    ] {
        for op in [">", ">=", "<", "<=", "==", "!="] {
            let seg = Segment::parse(&format!("{field} {op} 0")).unwrap();
            assert!(!seg.matches(&base), "{seg}");
        }
    }
    assert!(Segment::parse("not revenue > 100").unwrap().matches(&base));
    // No purchase yet: zero is zero in every currency.
    let empty = Stats::default();
    let ctx = SegmentContext::new(&c, &empty, at(20)).with_currency(Some(Currency::USD));
    assert!(Segment::parse("revenue == 0").unwrap().matches(&ctx));
}

/// A policy document stored before the base currency existed (exactly as the old code wrote
/// it) reads as USD with its thresholds unchanged; a new one round-trips its currency.
#[test]
fn policies_stored_without_a_currency_read_as_usd() {
    let old = r#"{"tag_rules":[],"tier":{"ladder":{"metric":"revenue365","rungs":{"kind":"thresholds","entries":[["gold","500"],["platinum","5000"]]}},"hysteresis":"0.10","grace_days":30}}"#;
    let p: Policies = serde_json::from_str(old).unwrap();
    assert_eq!(p.currency(), Currency::USD);
    assert_eq!(
        p.tier.entry_money(Tier::Gold),
        Some(Money::new(Decimal::from(500), Currency::USD))
    );
    let t: TierPolicy = serde_json::from_str(r#"{"grace_days":10}"#).unwrap();
    assert_eq!((t.currency, t.grace_days), (Currency::USD, 10));
    let yuan = Policies::default().with_currency(Currency::CNY);
    let json = serde_json::to_string(&yuan).unwrap();
    assert!(json.contains(r#""currency":"CNY""#), "{json}");
    assert_eq!(serde_json::from_str::<Policies>(&json).unwrap(), yuan);
    assert!(serde_json::from_str::<Policies>(r#"{"tier":{"currency":"US"}}"#).is_err());
}

/// A reason with money round-trips through JSON (the untagged value reads back as money).
#[test]
fn reasons_with_money_round_trip() {
    let e = evaluate(
        &customer(1),
        &stats(1, Currency::USD, &[(10, 478_000)]),
        &Policies::default(),
        &EvalInputs::at(at(20)),
    )
    .unwrap();
    let json = serde_json::to_string(&e.tier.reason).unwrap();
    assert!(
        json.contains(r#"{"amount":"4780.00","currency":"USD"}"#),
        "{json}"
    );
    assert_eq!(
        serde_json::from_str::<Reason>(&json).unwrap(),
        e.tier.reason
    );
}

const CURRENCIES: [Currency; 3] = [Currency::USD, Currency::EUR, Currency::CNY];

fn any_state() -> impl Strategy<Value = TierState> {
    (0usize..4, proptest::option::of(0i64..60)).prop_map(|(t, below)| TierState {
        tier: Tier::ALL[t],
        since: Some(at(0)),
        below_since: below.map(at),
        ..TierState::default()
    })
}

proptest! {
    /// For any amount, currency, base currency and state, `decide_money` never compares across
    /// currencies: in the base currency it is exactly the plain `Decimal` decision, in any
    /// other it is the typed refusal naming both.
    #[test]
    fn decide_money_never_compares_across_currencies(
        cents in prop_oneof![-1_000_000i64..2_000_000, any::<i64>()],
        c in 0usize..3, base in 0usize..3, state in any_state(), day in 0i64..120,
    ) {
        let p = TierPolicy { currency: CURRENCIES[base], ..TierPolicy::default() };
        let m = money(cents, CURRENCIES[c]);
        let got = p.decide_money(&state, Some(m), None, at(day));
        if c == base {
            prop_assert_eq!(got.unwrap(), p.decide(&state, Some(m.amount), None, at(day)));
        } else {
            prop_assert_eq!(got.unwrap_err(), DomainError::CurrencyMismatch {
                expected: CURRENCIES[base], found: CURRENCIES[c] });
        }
    }

    /// The same through `evaluate`: a customer in the base currency gets the plain decision on
    /// its 365-day revenue; one in another currency keeps its tier state exactly.
    #[test]
    fn evaluate_decides_tiers_only_in_the_base_currency(
        buys in proptest::collection::vec((0i64..400, 1i64..1_500_000), 1..6),
        c in 0usize..3, base in 0usize..3, state in any_state(), day in 0i64..500,
    ) {
        let policies = Policies::default().with_currency(CURRENCIES[base]);
        let s = stats(1, CURRENCIES[c], &buys);
        let mut cust = customer(1);
        cust.set_tier_state(state.clone()).unwrap();
        let now = at(day);
        let e = evaluate(&cust, &s, &policies, &EvalInputs::at(now)).unwrap();
        if c == base {
            let plain = policies.tier.decide(&state, Some(s.rolling_365(now).revenue), None, now);
            prop_assert_eq!(e.tier, plain);
        } else {
            prop_assert_eq!(&e.tier.state, &state);
            prop_assert_eq!(e.tier.reason.rule.as_ref(), "tier.currency_mismatch");
        }
    }
}

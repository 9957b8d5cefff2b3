//! `bought("sku")` and `category_spend("cat", DAYS)`: parsing (typed errors), printing, serde,
//! and evaluation against an independent computation over random line items with refunds.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::segment::{
    CmpOp, Field, Literal, MAX_SPEND_DAYS, ParseErrorKind, PurchaseSummary,
};
use rapport_core::*;
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

fn line(sku: &str, q: u32, cents: i64, cat: Option<&str>) -> LineItem {
    LineItem::new(
        Sku::new(sku).unwrap(),
        q,
        usd(cents),
        cat.map(|c| ProductCategory::new(c).unwrap()),
    )
    .unwrap()
}

fn list(id: u128, at: DateTime<Utc>, order: &str, refund: bool, items: Vec<LineItem>) -> LineItems {
    LineItems {
        activity: ActivityId::from_u128(id),
        customer: CustomerId::from_u128(7),
        order: OrderId::new(order).unwrap(),
        at,
        refund,
        items,
    }
}

#[test]
fn the_text_form_reads_and_prints_back() {
    let s = Segment::parse(r#"bought("sku-123") and category_spend("tea", 365) > 100"#).unwrap();
    assert_eq!(
        s,
        Segment::And(vec![
            Segment::Bought(Sku::new("sku-123").unwrap()),
            Segment::Compare {
                field: Field::CategorySpend {
                    category: ProductCategory::new("tea").unwrap(),
                    days: 365
                },
                op: CmpOp::Gt,
                value: Literal::Number(Decimal::from(100)),
            }
        ])
    );
    assert_eq!(
        s.to_string(),
        r#"bought("sku-123") and category_spend("tea", 365) > 100"#
    );
    // Spaces are free inside the call; quotes and backslashes are escaped when printed.
    let odd = Segment::parse(r#"category_spend( "a \"b\" \\" ,7 ) in (1, 2)"#).unwrap();
    assert_eq!(
        odd.to_string(),
        r#"category_spend("a \"b\" \\", 7) == 1 or category_spend("a \"b\" \\", 7) == 2"#
    );
    // The serialised form: the field by its text, like `days_since(...)`.
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(
        json,
        r#"{"and":[{"bought":"sku-123"},{"compare":{"field":"category_spend(\"tea\", 365)","op":">","value":{"number":"100"}}}]}"#
    );
    assert_eq!(serde_json::from_str::<Segment>(&json).unwrap(), s);
    let bad =
        r#"{"compare":{"field":"category_spend(\"tea\", 0)","op":">","value":{"number":"1"}}}"#;
    assert!(serde_json::from_str::<Segment>(bad).is_err());
    // Every operator applies; only numbers compare.
    for op in CmpOp::ALL {
        assert!(Segment::parse(&format!(r#"category_spend("tea", 30) {op} 5.5"#)).is_ok());
    }
    assert!(Segment::parse(r#"category_spend("tea", 30) > gold"#).is_err());
    assert_eq!(
        "category_spend(\"tea\", 30)"
            .parse::<Field>()
            .unwrap()
            .kind(),
        Some(segment::ValueKind::Number)
    );
}

#[test]
fn bad_input_gets_typed_errors_with_columns() {
    let kind = |s: &str| Segment::parse(s).unwrap_err().kind().clone();
    let col = |s: &str| Segment::parse(s).unwrap_err().column();
    for days in ["0", "-1", "36501", "1.5", "99999999999"] {
        let text = format!(r#"category_spend("tea", {days}) > 1"#);
        assert_eq!(
            kind(&text),
            ParseErrorKind::InvalidDays {
                text: days.to_owned(),
                max: MAX_SPEND_DAYS
            },
            "{text}"
        );
        assert_eq!(col(&text), 23);
    }
    assert!(Segment::parse(&format!(r#"category_spend("tea", {MAX_SPEND_DAYS}) > 1"#)).is_ok());
    assert!(matches!(
        kind(r#"bought("")"#),
        ParseErrorKind::InvalidSku { .. }
    ));
    assert!(matches!(
        kind(r#"bought(" x")"#),
        ParseErrorKind::InvalidSku { .. }
    ));
    assert!(matches!(
        kind(r#"category_spend("", 3) > 1"#),
        ParseErrorKind::InvalidCategory { .. }
    ));
    assert!(matches!(
        kind("bought(sku)"),
        ParseErrorKind::Expected { .. }
    ));
    assert!(matches!(kind(r#"bought("a""#), ParseErrorKind::Unclosed));
    assert!(matches!(
        kind(r#"category_spend("tea") > 1"#),
        ParseErrorKind::Expected { .. }
    ));
    assert!(matches!(
        kind(r#"category_spend("tea", 3"#),
        ParseErrorKind::Unclosed
    ));
    assert!(matches!(
        kind(r#"category_spend("tea", x) > 1"#),
        ParseErrorKind::Expected { .. }
    ));
    assert!(matches!(
        kind(r#"category_spend("tea", 3)"#),
        ParseErrorKind::Expected { .. }
    ));
    assert_eq!(
        Segment::parse("bougth(\"a\")").unwrap_err().to_string(),
        "unknown field 'bougth' at column 1 (did you mean 'bought'?)"
    );
}

#[test]
fn evaluation_reads_the_summary_and_is_false_without_it() {
    let c = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(7),
        Profile::default(),
        now(),
    );
    let stats = Stats::default();
    let rows = [
        list(
            1,
            now() - Duration::days(10),
            "o1",
            false,
            vec![
                line("puer", 2, 3000, Some("tea")),
                line("cup", 1, 500, None),
            ],
        ),
        list(
            2,
            now() - Duration::days(400),
            "o2",
            false,
            vec![line("sencha", 1, 2000, Some("tea"))],
        ),
        // A partial refund of o1 made later: counts at o1's time.
        list(
            3,
            now() - Duration::days(5),
            "o1",
            true,
            vec![line("puer", 1, 3000, Some("tea"))],
        ),
        // A full refund of o2's sencha: no longer bought.
        list(
            4,
            now() - Duration::days(1),
            "o2",
            true,
            vec![line("sencha", 1, 2000, Some("tea"))],
        ),
        // A purchase in the future of `now` is not counted.
        list(
            5,
            now() + Duration::days(1),
            "o3",
            false,
            vec![line("gyokuro", 1, 9900, Some("tea"))],
        ),
    ];
    let p = PurchaseSummary::from_line_items(&rows);
    let with = SegmentContext::new(&c, &stats, now()).with_purchases(&p);
    let without = SegmentContext::new(&c, &stats, now());
    let cases = [
        (r#"bought("puer")"#, true),
        (r#"bought("cup")"#, true),
        (r#"bought("sencha")"#, false),
        (r#"bought("gyokuro")"#, true), // bought is not windowed, as for the recommender
        (r#"bought("nothing")"#, false),
        (r#"category_spend("tea", 30) == 30"#, true),
        (r#"category_spend("tea", 10) == 0"#, true), // (now - 10 d, now] excludes o1
        (r#"category_spend("tea", 11) == 30"#, true),
        (r#"category_spend("tea", 365) == 30"#, true),
        (r#"category_spend("tea", 401) == 30"#, true), // o2 bought and refunded
        (r#"category_spend("cups", 401) == 0"#, true),
        (
            r#"category_spend("tea", 30) > 29.99 and category_spend("tea", 30) < 30.01"#,
            true,
        ),
        (r#"not bought("sencha")"#, true),
    ];
    for (text, want) in cases {
        let s = Segment::parse(text).unwrap();
        assert_eq!(s.matches(&with), want, "{text}");
        assert!(s.uses_line_items());
        // Without the summary: bought is false, every comparison on spend is false.
        if !text.starts_with("not") {
            assert!(!s.matches(&without), "{text} without items");
        }
    }
    // A base currency the customer does not buy in: spend is not compared.
    let buy = Activity::new(
        ActivityId::from_u128(9),
        c.id(),
        now() - Duration::days(10),
        Channel::Web,
        IdempotencyKey::new("o1").unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new("o1").unwrap(),
            amount: usd(6500),
            margin: None,
        },
    )
    .unwrap();
    let stats = Stats::from_activities(&[buy]).unwrap();
    let spend = Segment::parse(r#"category_spend("tea", 30) > 1"#).unwrap();
    let ctx = SegmentContext::new(&c, &stats, now()).with_purchases(&p);
    assert!(spend.matches(&ctx.with_currency(Some(Currency::USD))));
    assert!(!spend.matches(&ctx.with_currency(Some(Currency::EUR))));
}

/// One generated line list: (activity n, hours before now (negative: after), order number,
/// refund, lines as (sku, quantity, cents, category)).
type Gen = (i64, u8, bool, Vec<(u8, u32, i64, Option<u8>)>);

fn rows_of(spec: &[Gen]) -> Vec<LineItems> {
    spec.iter()
        .enumerate()
        .map(|(n, (hours, order, refund, lines))| {
            list(
                n as u128 + 1,
                now() - Duration::hours(*hours),
                &format!("o{order}"),
                *refund,
                lines
                    .iter()
                    .map(|(s, q, c, cat)| {
                        line(
                            &format!("s{s}"),
                            *q,
                            *c,
                            cat.map(|k| ["tea", "cups", "pots"][k as usize]),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `bought` and `category_spend` equal a direct computation from the definitions.
    #[test]
    fn prop_eval_matches_definition(
        lists in prop::collection::vec(
            (-200i64..24 * 800, 0u8..6, any::<bool>(),
             prop::collection::vec((0u8..5, 1u32..4, 0i64..10_000, prop::option::of(0u8..3)), 1..4)),
            0..12),
        days in prop_oneof![1u32..800, Just(MAX_SPEND_DAYS)],
        threshold in 0i64..30_000,
    ) {
        let rows = rows_of(&lists);
        let p = PurchaseSummary::from_line_items(&rows);
        let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(7), Profile::default(), now());
        let stats = Stats::default();
        let ctx = SegmentContext::new(&c, &stats, now()).with_purchases(&p);
        // bought: per (order, sku), purchased quantity > refunded quantity.
        let mut net: HashMap<(String, String), i64> = HashMap::new();
        for r in &rows {
            for l in &r.items {
                let q = i64::from(l.quantity);
                *net.entry((r.order.to_string(), l.sku.to_string())).or_default() += if r.refund { -q } else { q };
            }
        }
        for s in 0..5u8 {
            let sku = format!("s{s}");
            let want = net.iter().any(|((_, k), q)| *k == sku && *q > 0);
            let seg = Segment::parse(&format!(r#"bought("{sku}")"#)).unwrap();
            prop_assert_eq!(seg.matches(&ctx), want, "{}", sku);
        }
        // category_spend: purchases on the window's UTC days, their refunds (whenever made)
        // subtracted; the lifetime totals as of now: purchases and refunds made by now.
        let first_purchase = |order: &OrderId| rows.iter().filter(|r| !r.refund && &r.order == order).map(|r| r.at).min();
        let today = now().date_naive();
        for cat in ["tea", "cups", "pots"] {
            let mut want = Decimal::ZERO;
            let mut lifetime = Decimal::ZERO;
            for r in &rows {
                let when = if r.refund { first_purchase(&r.order).unwrap_or(r.at) } else { r.at };
                let age = (today - when.date_naive()).num_days();
                for l in r.items.iter().filter(|l| l.category.as_ref().is_some_and(|c| c.as_str() == cat)) {
                    let t = l.unit_price.amount * Decimal::from(l.quantity);
                    let t = if r.refund { -t } else { t };
                    if age >= 0 && age < i64::from(days) {
                        want += t;
                    }
                    if r.at <= now() && when <= now() {
                        lifetime += t;
                    }
                }
            }
            prop_assert_eq!(p.category_spend(&ProductCategory::new(cat).unwrap(), days, now()), want);
            let total = p.category_totals(now()).get(&ProductCategory::new(cat).unwrap()).copied();
            prop_assert_eq!(total.unwrap_or_default(), lifetime);
            let v = Decimal::new(threshold, 2);
            for op in CmpOp::ALL {
                let seg = Segment::parse(&format!(r#"category_spend("{cat}", {days}) {op} {v}"#)).unwrap();
                prop_assert_eq!(seg.matches(&ctx), op.holds(want.cmp(&v)), "{} {} {}", cat, op, v);
            }
        }
    }
}

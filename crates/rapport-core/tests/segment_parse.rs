//! The segment text form: precedence, error positions, limits, and the parse/print round trip.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use proptest::prelude::*;
use rapport_core::segment::{CmpOp, Field, Literal, MAX_DEPTH, MAX_LEN, ParseErrorKind, StageName};
use rapport_core::{ActivityType, AttrKey, Segment, TagRule, Tier};
use rust_decimal::Decimal;

fn p(s: &str) -> Segment {
    Segment::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn cmp(field: Field, op: CmpOp, value: Literal) -> Segment {
    Segment::Compare { field, op, value }
}

fn orders(op: CmpOp, n: i64) -> Segment {
    cmp(Field::Orders, op, Literal::Number(Decimal::from(n)))
}

fn err(s: &str) -> String {
    match Segment::parse(s) {
        Ok(seg) => panic!("{s:?} parsed as {seg:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_both() {
    let (a, b, c) = (
        orders(CmpOp::Eq, 1),
        orders(CmpOp::Eq, 2),
        orders(CmpOp::Eq, 3),
    );
    assert_eq!(
        p("orders == 1 or orders == 2 and orders == 3"),
        Segment::Or(vec![a.clone(), Segment::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        p("orders == 1 and orders == 2 or orders == 3"),
        Segment::Or(vec![Segment::And(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        p("not orders == 1 and orders == 2"),
        Segment::And(vec![Segment::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(
        p("(orders == 1 or orders == 2) and orders == 3"),
        Segment::And(vec![Segment::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        p("not (orders == 1 or orders == 2)"),
        Segment::Not(Box::new(Segment::Or(vec![a.clone(), b.clone()])))
    );
    assert_eq!(
        p("not not orders == 1"),
        Segment::Not(Box::new(Segment::Not(Box::new(a.clone()))))
    );
    // A chain is flat; explicit grouping is kept.
    assert_eq!(
        p("orders == 1 and orders == 2 and orders == 3"),
        Segment::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        p("orders == 1 and (orders == 2 and orders == 3)"),
        Segment::And(vec![a.clone(), Segment::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(p("((orders == 1))"), a);
    assert_eq!(p("  orders==1  "), a);
}

#[test]
fn printing_adds_only_the_parentheses_the_tree_needs() {
    for text in [
        "orders == 1 or orders == 2 and orders == 3",
        "(orders == 1 or orders == 2) and orders == 3",
        "orders == 1 and (orders == 2 and orders == 3)",
        "orders == 1 or (orders == 2 or orders == 3)",
        "not (orders == 1 and orders == 2)",
        "not not orders == 1",
        "all() and any() or all(orders == 1)",
        "any(orders == 1 or orders == 2)",
        "true and not false",
    ] {
        assert_eq!(p(text).to_string(), text);
    }
    assert_eq!(
        p("all(orders == 1, orders == 2)").to_string(),
        "orders == 1 and orders == 2"
    );
    assert_eq!(p("orders==1").to_string(), "orders == 1");
}

#[test]
fn every_field_and_value_kind_parses_and_prints() {
    let cases: [(&str, Segment); 16] = [
        (
            "has_email == true",
            cmp(Field::HasEmail, CmpOp::Eq, Literal::Bool(true)),
        ),
        (
            "has_phone != false",
            cmp(Field::HasPhone, CmpOp::Ne, Literal::Bool(false)),
        ),
        (
            r#"email_domain == "example.cn""#,
            cmp(
                Field::EmailDomain,
                CmpOp::Eq,
                Literal::Text("example.cn".into()),
            ),
        ),
        (
            "attr.birthday >= 2026-01-31",
            cmp(
                Field::Attr(AttrKey::new("birthday").unwrap()),
                CmpOp::Ge,
                Literal::Date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()),
            ),
        ),
        (
            "revenue_365d > -12.50",
            cmp(
                Field::Revenue365d,
                CmpOp::Gt,
                Literal::Number(Decimal::new(-1250, 2)),
            ),
        ),
        (
            "tier >= gold",
            cmp(Field::Tier, CmpOp::Ge, Literal::Tier(Tier::Gold)),
        ),
        (
            "stage != churned",
            cmp(Field::Stage, CmpOp::Ne, Literal::Stage(StageName::Churned)),
        ),
        (
            "rfm.total <= 9",
            cmp(Field::RfmTotal, CmpOp::Le, Literal::Number(9.into())),
        ),
        (
            "rfm.r < 2",
            cmp(Field::RfmR, CmpOp::Lt, Literal::Number(2.into())),
        ),
        (
            "churn_risk >= 0.7",
            cmp(
                Field::ChurnRisk,
                CmpOp::Ge,
                Literal::Number(Decimal::new(7, 1)),
            ),
        ),
        (
            "days_since(cart_abandoned) <= 1",
            cmp(
                Field::DaysSince(ActivityType::CartAbandoned),
                CmpOp::Le,
                Literal::Number(1.into()),
            ),
        ),
        (
            "days_since_registered > 30",
            cmp(
                Field::DaysSinceRegistered,
                CmpOp::Gt,
                Literal::Number(30.into()),
            ),
        ),
        (
            "last_nps <= 6",
            cmp(Field::LastNps, CmpOp::Le, Literal::Number(6.into())),
        ),
        (
            "complaints_90d >= 2",
            cmp(Field::Complaints90d, CmpOp::Ge, Literal::Number(2.into())),
        ),
        (
            r#"has_tag("behavior:high-frequency")"#,
            Segment::HasTag("behavior:high-frequency".parse().unwrap()),
        ),
        (
            r#"attr.note == "say \"hi\" \\ \u{1f600}\n""#,
            cmp(
                Field::Attr(AttrKey::new("note").unwrap()),
                CmpOp::Eq,
                Literal::Text("say \"hi\" \\ \u{1f600}\n".into()),
            ),
        ),
    ];
    for (text, seg) in cases {
        assert_eq!(p(text), seg, "{text}");
        assert_eq!(Segment::parse(&seg.to_string()).unwrap(), seg, "{text}");
    }
    // The escaped emoji prints raw.
    assert_eq!(
        p(r#"attr.note == "\u{1f600}""#).to_string(),
        "attr.note == \"\u{1f600}\""
    );
    assert_eq!(
        p("stage in (silent, churned)"),
        Segment::Or(vec![
            cmp(Field::Stage, CmpOp::Eq, Literal::Stage(StageName::Silent)),
            cmp(Field::Stage, CmpOp::Eq, Literal::Stage(StageName::Churned)),
        ])
    );
    assert_eq!(
        p("tier in (gold)"),
        cmp(Field::Tier, CmpOp::Eq, Literal::Tier(Tier::Gold))
    );
}

#[test]
fn every_named_field_reads_back_from_its_name() {
    for name in [
        "has_email",
        "has_phone",
        "email_domain",
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
        "tier",
        "stage",
        "rfm.r",
        "rfm.f",
        "rfm.m",
        "rfm.total",
        "churn_risk",
        "days_since_last_purchase",
        "days_since_first_purchase",
        "days_since_registered",
        "attr.plan",
        "days_since(purchase)",
        "days_since(contact)",
    ] {
        let f: Field = name.parse().unwrap();
        assert_eq!(f.to_string(), name);
    }
    for t in ActivityType::ALL {
        let f = Field::DaysSince(t);
        assert_eq!(f.to_string().parse::<Field>().unwrap(), f);
    }
}

#[test]
fn errors_name_what_was_expected_and_the_column() {
    let cases = [
        (
            "revenue >= ",
            "expected a value after '>=' at column 12, found end of input",
        ),
        (
            "revenue >= and",
            "expected a value after '>=' at column 12, found 'and'",
        ),
        (
            "revnue > 100",
            "unknown field 'revnue' at column 1 (did you mean 'revenue'?)",
        ),
        (
            "orders > 1 and frobnicate > 2",
            "unknown field 'frobnicate' at column 16",
        ),
        (
            "orders > 1 and (stage == new",
            "unclosed '(' opened at column 16",
        ),
        (
            "orders > 1 and (stage == new orders",
            "expected 'and', 'or' or ')' at column 30, found 'orders'",
        ),
        (
            "orders > 1 orders",
            "expected 'and', 'or' or end of input at column 12, found 'orders'",
        ),
        (
            "orders > 1 and",
            "expected a predicate after 'and' at column 15, found end of input",
        ),
        (") or true", "expected a predicate at column 1, found ')'"),
        ("", "expected a predicate at column 1, found end of input"),
        (
            "orders = 1",
            "expected '==' to compare at column 8, found '='",
        ),
        (
            "orders ! 1",
            "expected '!=' to compare, or 'not' at column 8, found '!'",
        ),
        (
            "orders 1",
            "expected an operator (== != < <= > >= or in) after 'orders' at column 8, found '1'",
        ),
        (
            "tier >= 5",
            "'tier' is compared with a tier (lead, iron, gold, platinum), found a number at column 9",
        ),
        (
            "revenue > gold",
            "'revenue' is compared with a number, found a tier (lead, iron, gold, platinum) at column 11",
        ),
        (
            "stage < silent",
            "operator '<' at column 7 does not apply to 'stage' with this value (use == or !=)",
        ),
        (
            r#"attr.plan > "x""#,
            "operator '>' at column 11 does not apply to 'attr.plan' with this value (use == or !=)",
        ),
        (
            "attr.plan == gold",
            "'attr.plan' is compared with a number, a quoted string, true or false, or a date, found a tier (lead, iron, gold, platinum) at column 14",
        ),
        (
            r#"has_tag("bad tag")"#,
            "invalid tag 'bad tag' at column 9: expected `namespace:name`",
        ),
        (
            r#"has_tag("vip")"#,
            "invalid tag 'vip' at column 9: expected `namespace:name`",
        ),
        (
            "has_tag(vip)",
            "expected a quoted tag like \"ns:name\" in has_tag(...) at column 9, found 'vip'",
        ),
        (
            r#"email_domain == "abc"#,
            "unterminated string starting at column 17",
        ),
        (
            r#"email_domain == "a\qb""#,
            "invalid escape '\\q' at column 19",
        ),
        (
            r#"email_domain == "\u{d800}""#,
            "invalid escape '\\u{d800}' at column 18",
        ),
        (
            "days_since(purchse) < 3",
            "unknown activity type 'purchse' at column 12 (expected one of purchase, refund, visit, cart_abandoned, complaint, feedback, referral, contact)",
        ),
        (
            "days_since(visit < 3",
            "expected ')' after the activity type at column 18, found '<'",
        ),
        (
            "attr.Plan == 1",
            "invalid attribute key 'Plan' at column 6: expected 1-64 of a-z, 0-9, '_' starting with a letter",
        ),
        (
            "revenue > 1e5",
            "expected a number at column 11, found '1e5'",
        ),
        (
            "attr.d == 2026-02-30",
            "invalid date '2026-02-30' at column 11",
        ),
        ("attr.d == 2026-2-3", "invalid date '2026-2-3' at column 11"),
        (
            "revenue > 99999999999999999999999999999999",
            "number '99999999999999999999999999999999' at column 11 does not fit a decimal (28 significant digits)",
        ),
        (
            "orders > 1 # comment",
            "expected a field, value, operator or parenthesis at column 12, found '#'",
        ),
        (
            "stage in (silent churned)",
            "expected ',' or ')' at column 18, found 'churned'",
        ),
        (
            "all(true, )",
            "expected a predicate after ',' at column 11, found ')'",
        ),
        // Columns count characters, not bytes.
        (
            r#"attr.name == "héllo wörld" and ordrs > 1"#,
            "unknown field 'ordrs' at column 32 (did you mean 'orders'?)",
        ),
        (
            "订单 > 1",
            "expected a field, value, operator or parenthesis at column 1, found '订'",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(err(input), message, "input {input:?}");
    }
}

#[test]
fn errors_are_typed() {
    let e = Segment::parse("orders > 1 and (stage == new").unwrap_err();
    assert_eq!(e.column(), 16);
    assert_eq!(e.kind(), &ParseErrorKind::Unclosed);
    let e = Segment::parse("revnue > 1").unwrap_err();
    assert!(matches!(
        e.kind(),
        ParseErrorKind::UnknownField { name, suggestion: Some(s) } if name == "revnue" && s == "revenue"
    ));
    let e = Segment::parse("tier >= 5").unwrap_err();
    assert!(matches!(e.kind(), ParseErrorKind::WrongValue { .. }));
    let _: &dyn std::error::Error = &e;
}

#[test]
fn nesting_and_length_are_limited_with_typed_errors() {
    let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(p(&ok), Segment::True);
    let deep = format!(
        "{}true{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let e = Segment::parse(&deep).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::TooDeep { max: MAX_DEPTH });
    assert_eq!(e.column(), MAX_DEPTH + 1);

    let nots = format!("{}true", "not ".repeat(100_000));
    assert!(matches!(
        Segment::parse(&nots[..MAX_LEN]).unwrap_err().kind(),
        ParseErrorKind::TooDeep { .. }
    ));
    let e = Segment::parse(&nots).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::TooLong { max: MAX_LEN });

    let mixed = format!("{}true{}", "not all(".repeat(40), ")".repeat(40));
    assert!(matches!(
        Segment::parse(&mixed).unwrap_err().kind(),
        ParseErrorKind::TooDeep { .. }
    ));
    // Long flat chains are fine: they do not recurse.
    let chain = vec!["orders > 1"; 3000].join(" or ");
    assert!(matches!(p(&chain), Segment::Or(v) if v.len() == 3000));
    assert_eq!(p(&chain).to_string(), chain);
}

#[test]
fn fields_and_tags_list_what_a_predicate_reads() {
    let s = p(
        r#"tier >= gold and (has_tag("a:b") or attr.plan == "pro") and not has_tag("a:b") and tier < platinum"#,
    );
    let fields: Vec<String> = s.fields().iter().map(ToString::to_string).collect();
    assert_eq!(fields, ["attr.plan", "tier"]);
    let tags: Vec<String> = s.tags().iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["a:b"]);
    let mut nodes = 0;
    s.visit(&mut |_| nodes += 1);
    assert_eq!(nodes, 8);
    assert!(s.check().is_ok());
    let bad = cmp(Field::Tier, CmpOp::Eq, Literal::Number(1.into()));
    assert!(bad.check().is_err());
}

#[test]
fn json_form_uses_field_names() {
    let s = p("days_since(visit) < 7 and attr.vip == true");
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["and"][0]["compare"]["field"], "days_since(visit)");
    assert_eq!(json["and"][1]["compare"]["field"], "attr.vip");
    assert_eq!(serde_json::from_value::<Segment>(json).unwrap(), s);
    assert!(
        serde_json::from_str::<Segment>(
            r#"{"compare":{"field":"nope","op":"==","value":{"bool":true}}}"#
        )
        .is_err()
    );
}

mod segment_strategy;
use segment_strategy::segment;

/// Words and symbols of the language, to build inputs that get past the first token.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "(",
        ")",
        ",",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "=",
        "!",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "all",
        "any",
        "has_tag",
        "\"a:b\"",
        "\"",
        "\\",
        "orders",
        "tier",
        "gold",
        "stage",
        "silent",
        "attr.x",
        "days_since",
        "purchase",
        "1",
        "-2.5",
        "2026-01-31",
        "\"x\\u{41}\"",
        "rfm.r",
        "then",
        "tag",
        "when",
        "a:b",
        "for",
        "30d",
        " ",
        "é",
        "\n",
    ];
    prop::collection::vec(proptest::sample::select(tokens), 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_parse_print_roundtrip(seg in segment()) {
        prop_assert!(seg.check().is_ok());
        let text = seg.to_string();
        let back = Segment::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &seg, "text {:?}", text);
        // The text is canonical: printing the parsed tree gives the same characters.
        prop_assert_eq!(back.to_string(), text);
        let json = serde_json::to_string(&seg).unwrap();
        prop_assert_eq!(serde_json::from_str::<Segment>(&json).unwrap(), seg);
    }

    #[test]
    fn prop_no_input_panics(s in prop_oneof![any::<String>(), token_soup()]) {
        for input in [s.as_str(), &format!("when {s} then tag a:b"), &format!("orders > 1 and {s}")] {
            if let Ok(seg) = Segment::parse(input) {
                prop_assert_eq!(Segment::parse(&seg.to_string()).unwrap(), seg);
            }
            if let Ok(rule) = TagRule::parse(input) {
                prop_assert_eq!(TagRule::parse(&rule.to_string()).unwrap(), rule);
            }
            if let Err(e) = Segment::parse(input) {
                // The column is inside the input (or just past its end).
                prop_assert!(e.column() >= 1 && e.column() <= input.chars().count() + 1);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}

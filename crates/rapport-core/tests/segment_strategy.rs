//! proptest strategies for segments, shared by the segment and tag-rule tests.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use chrono::NaiveDate;
use proptest::prelude::*;
use rapport_core::segment::MAX_SPEND_DAYS;
use rapport_core::segment::{CmpOp, Field, Literal, StageName};
use rapport_core::{ActivityType, AttrKey, ProductCategory, Segment, Sku, Tier};
use rust_decimal::Decimal;

pub fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
        (
            -79_228_162_514_264_337_593_543_950_335i128
                ..=79_228_162_514_264_337_593_543_950_335i128,
            0u32..=28
        )
            .prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s)),
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::ZERO),
    ]
}

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\a-z \\n\\t\\r\u{0}\u{7f}é中😀]{0,12}",
    ]
}

pub fn date() -> impl Strategy<Value = NaiveDate> {
    // Years 0000..=9999: the text form writes four-digit years.
    (0i32..=3_652_058).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d + 1).unwrap())
}

pub fn attr_key() -> impl Strategy<Value = AttrKey> {
    "[a-z][a-z0-9_]{0,12}".prop_map(|k| AttrKey::new(k).unwrap())
}

/// Skus and categories with quotes, backslashes, spaces inside and non-ASCII (escaped when
/// printed).
pub fn key_text() -> impl Strategy<Value = String> {
    "[a-z0-9\"\\\\é中][a-z0-9 ._:\"\\\\é中-]{0,10}[a-z0-9\"\\\\]?"
        .prop_filter("no trailing space", |s| !s.ends_with(' '))
}

pub fn sku() -> impl Strategy<Value = Sku> {
    key_text().prop_map(|s| Sku::new(s).unwrap())
}

pub fn category_spend() -> impl Strategy<Value = Field> {
    (
        key_text().prop_map(|s| ProductCategory::new(s).unwrap()),
        prop_oneof![1u32..=400, Just(MAX_SPEND_DAYS), 1..=MAX_SPEND_DAYS],
    )
        .prop_map(|(category, days)| Field::CategorySpend { category, days })
}

pub fn any_op() -> impl Strategy<Value = CmpOp> {
    proptest::sample::select(CmpOp::ALL.to_vec())
}

pub fn eq_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)]
}

pub fn number_field() -> impl Strategy<Value = Field> {
    let mut fields: Vec<Field> = [
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
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    fields.extend(ActivityType::ALL.map(Field::DaysSince));
    proptest::sample::select(fields)
}

pub fn compare() -> impl Strategy<Value = Segment> {
    let c = |(field, op, value)| Segment::Compare { field, op, value };
    prop_oneof![
        (
            prop_oneof![Just(Field::HasEmail), Just(Field::HasPhone)],
            eq_op(),
            any::<bool>().prop_map(Literal::Bool)
        )
            .prop_map(c),
        (
            Just(Field::EmailDomain),
            eq_op(),
            text().prop_map(Literal::Text)
        )
            .prop_map(c),
        (
            number_field(),
            any_op(),
            decimal().prop_map(Literal::Number)
        )
            .prop_map(c),
        (
            category_spend(),
            any_op(),
            decimal().prop_map(Literal::Number)
        )
            .prop_map(c),
        (
            Just(Field::Tier),
            any_op(),
            proptest::sample::select(Tier::ALL.to_vec()).prop_map(Literal::Tier)
        )
            .prop_map(c),
        (
            Just(Field::Stage),
            eq_op(),
            proptest::sample::select(StageName::ALL.to_vec()).prop_map(Literal::Stage)
        )
            .prop_map(c),
        (
            attr_key().prop_map(Field::Attr),
            any_op(),
            decimal().prop_map(Literal::Number)
        )
            .prop_map(c),
        (
            attr_key().prop_map(Field::Attr),
            any_op(),
            date().prop_map(Literal::Date)
        )
            .prop_map(c),
        (
            attr_key().prop_map(Field::Attr),
            eq_op(),
            text().prop_map(Literal::Text)
        )
            .prop_map(c),
        (
            attr_key().prop_map(Field::Attr),
            eq_op(),
            any::<bool>().prop_map(Literal::Bool)
        )
            .prop_map(c),
    ]
}

pub fn leaf() -> impl Strategy<Value = Segment> {
    prop_oneof![
        4 => compare(),
        1 => Just(Segment::True),
        1 => Just(Segment::False),
        1 => "[a-z0-9][a-z0-9._-]{0,8}:[a-z0-9][a-z0-9._-]{0,8}"
            .prop_map(|t| Segment::HasTag(t.parse().unwrap())),
        1 => sku().prop_map(Segment::Bought),
    ]
}

pub fn segment() -> impl Strategy<Value = Segment> {
    leaf().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Segment::And),
            prop::collection::vec(inner.clone(), 0..5).prop_map(Segment::Or),
            inner.prop_map(|s| Segment::Not(Box::new(s))),
        ]
    })
}

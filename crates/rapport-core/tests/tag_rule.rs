//! Tag rules: the text form, and what evaluating them adds and removes.
#![allow(clippy::unwrap_used)]

mod segment_strategy;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

fn rule(s: &str) -> TagRule {
    TagRule::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn customer() -> Customer {
    Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(2),
        Profile::default(),
        now() - Duration::days(100),
    )
}

/// Stats with `n` purchases on distinct days.
fn stats(n: u32) -> Stats {
    let acts: Vec<Activity> = (0..n)
        .map(|i| {
            Activity::new(
                ActivityId::from_u128(u128::from(i) + 1),
                CustomerId::from_u128(2),
                now() - Duration::days(i64::from(i) + 1),
                Channel::Store,
                IdempotencyKey::new(format!("k{i}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{i}")).unwrap(),
                    amount: Money::new(Decimal::from(100), Currency::EUR),
                    margin: None,
                },
            )
            .unwrap()
        })
        .collect();
    Stats::from_activities(&acts).unwrap()
}

fn eval(rules: &[TagRule], c: &Customer, s: &Stats) -> TagRuleOutcome {
    evaluate_tag_rules(rules, &SegmentContext::new(c, s, now()))
}

fn names(changes: &[TagChange]) -> Vec<&str> {
    changes.iter().map(|c| c.tag.as_str()).collect()
}

#[test]
fn text_form_reads_and_prints() {
    let r = rule("when orders >= 3 and tier >= gold then tag behavior:high-frequency for 30d");
    assert_eq!(r.tag, tag("behavior:high-frequency"));
    assert_eq!(r.ttl, Some(Duration::days(30)));
    assert_eq!(
        r.when,
        Segment::parse("orders >= 3 and tier >= gold").unwrap()
    );
    assert_eq!(
        r.to_string(),
        "when orders >= 3 and tier >= gold then tag behavior:high-frequency for 30d"
    );
    for (input, printed) in [
        ("when true then tag a:b", "when true then tag a:b"),
        (
            "when  orders>1   then tag a:b for 12h",
            "when orders > 1 then tag a:b for 12h",
        ),
        (
            "when orders > 1 then tag a:b for 14d",
            "when orders > 1 then tag a:b for 2w",
        ),
        (
            "when orders > 1 then tag a:b for 90m",
            "when orders > 1 then tag a:b for 90m",
        ),
        (
            "when orders > 1 then tag a:b for 3600s",
            "when orders > 1 then tag a:b for 1h",
        ),
        (
            "when (orders > 1 or stage == new) then tag a:b",
            "when orders > 1 or stage == new then tag a:b",
        ),
    ] {
        assert_eq!(rule(input).to_string(), printed);
    }
    // Serialised as its text.
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        "\"when orders >= 3 and tier >= gold then tag behavior:high-frequency for 30d\""
    );
    assert_eq!(serde_json::from_str::<TagRule>(&json).unwrap(), r);
    assert!(serde_json::from_str::<TagRule>("\"when then\"").is_err());
}

#[test]
fn errors_name_the_column() {
    let cases = [
        (
            "orders > 1 then tag a:b",
            "expected 'when' to start a tag rule at column 1, found 'orders'",
        ),
        (
            "when orders > 1 tag a:b",
            "expected 'and', 'or' or 'then' at column 17, found 'tag'",
        ),
        (
            "when orders > 1 then a:b",
            "expected 'tag' after 'then' at column 22, found 'a'",
        ),
        (
            "when orders > 1 then tag",
            "expected a tag like ns:name after 'tag' at column 25, found end of input",
        ),
        (
            "when orders > 1 then tag vip",
            "invalid tag 'vip' at column 26: expected `namespace:name`",
        ),
        (
            "when orders > 1 then tag a:b for 0d",
            "invalid duration '0d' at column 34: expected a positive whole number with a unit s, m, h, d or w (e.g. 30d)",
        ),
        (
            "when orders > 1 then tag a:b for 3y",
            "invalid duration '3y' at column 34: expected a positive whole number with a unit s, m, h, d or w (e.g. 30d)",
        ),
        (
            "when orders > 1 then tag a:b soon",
            "expected 'for' or end of input at column 30, found 'soon'",
        ),
        (
            "when orders > 1 then tag a:b for 3d extra",
            "expected end of input at column 37, found 'extra'",
        ),
        (
            "when orders > then tag a:b",
            "expected a value after '>' at column 15, found 'then'",
        ),
        (
            "when then tag a:b",
            "expected a predicate after 'when' at column 6, found 'then'",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(
            TagRule::parse(input).unwrap_err().to_string(),
            message,
            "{input}"
        );
    }
}

#[test]
fn adds_a_rule_tag_when_the_predicate_holds() {
    let rules = [
        rule("when orders >= 2 then tag behavior:repeat"),
        rule("when orders >= 5 then tag behavior:loyal"),
    ];
    let c = customer();
    let out = eval(&rules, &c, &stats(3));
    assert_eq!(names(&out.added), ["behavior:repeat"]);
    assert!(out.removed.is_empty());
    let change = &out.added[0];
    assert_eq!(change.expires_at, None);
    assert_eq!(change.reason.rule, "tag_rule:behavior:repeat");
    assert_eq!(change.reason.note.as_deref(), Some("orders >= 2"));
    assert_eq!(change.reason.at, now());

    let mut tags = c.tags.clone();
    out.apply_to(&mut tags, now());
    let info = tags.get(&tag("behavior:repeat")).unwrap();
    assert_eq!(info.source, TagSource::Rule);
    assert_eq!(info.added_at, now());
    assert_eq!(info.expires_at, None);
}

#[test]
fn ttl_sets_the_expiry() {
    let rules = [rule("when orders >= 1 then tag promo:welcome for 2w")];
    let mut c = customer();
    let out = eval(&rules, &c, &stats(1));
    assert_eq!(out.added[0].expires_at, Some(now() + Duration::days(14)));
    out.apply_to(&mut c.tags, now());
    assert_eq!(
        c.tags.get(&tag("promo:welcome")).unwrap().expires_at,
        Some(now() + Duration::days(14))
    );
    // Still holding before the expiry: nothing to do, the expiry is not pushed back.
    assert!(
        evaluate_tag_rules(
            &rules,
            &SegmentContext::new(&c, &stats(1), now() + Duration::days(13))
        )
        .is_empty()
    );
}

#[test]
fn removes_a_rule_tag_when_the_predicate_stops_holding() {
    let rules = [rule("when orders >= 2 then tag behavior:repeat")];
    let mut c = customer();
    c.tags.insert(
        tag("behavior:repeat"),
        TagSource::Rule,
        now() - Duration::days(5),
        None,
    );
    let out = eval(&rules, &c, &stats(1));
    assert!(out.added.is_empty());
    assert_eq!(names(&out.removed), ["behavior:repeat"]);
    assert_eq!(out.removed[0].reason.rule, "tag_rule:behavior:repeat");
    assert_eq!(out.removed[0].reason.note.as_deref(), Some("orders >= 2"));
    out.apply_to(&mut c.tags, now());
    assert!(c.tags.get(&tag("behavior:repeat")).is_none());
    // A rule-sourced tag without a rule for it stays.
    c.tags
        .insert(tag("behavior:other"), TagSource::Rule, now(), None);
    assert!(eval(&rules, &c, &stats(1)).is_empty());
}

#[test]
fn manual_and_imported_tags_are_never_removed_or_resourced() {
    let rules = [
        rule("when orders >= 2 then tag value:vip"),
        rule("when orders >= 2 then tag crm:legacy"),
    ];
    let mut c = customer();
    c.tags.insert(
        tag("value:vip"),
        TagSource::Manual,
        now() - Duration::days(5),
        None,
    );
    c.tags.insert(
        tag("crm:legacy"),
        TagSource::Import,
        now() - Duration::days(5),
        None,
    );
    // Predicate false: kept.
    assert!(eval(&rules, &c, &stats(1)).is_empty());
    // Predicate true: already there, still manual / imported.
    let out = eval(&rules, &c, &stats(3));
    assert!(out.is_empty(), "{out:?}");
    out.apply_to(&mut c.tags, now());
    assert_eq!(
        c.tags.get(&tag("value:vip")).unwrap().source,
        TagSource::Manual
    );
    assert_eq!(
        c.tags.get(&tag("crm:legacy")).unwrap().source,
        TagSource::Import
    );
}

#[test]
fn expired_tags_of_any_source_are_dropped_at_their_expiry() {
    let mut c = customer();
    let n = now();
    c.tags.insert(
        tag("m:expired"),
        TagSource::Manual,
        n - Duration::days(5),
        Some(n),
    );
    c.tags.insert(
        tag("i:expired"),
        TagSource::Import,
        n - Duration::days(5),
        Some(n - Duration::days(1)),
    );
    c.tags.insert(
        tag("r:expired"),
        TagSource::Rule,
        n - Duration::days(5),
        Some(n - Duration::seconds(1)),
    );
    c.tags.insert(
        tag("m:later"),
        TagSource::Manual,
        n - Duration::days(5),
        Some(n + Duration::seconds(1)),
    );
    let out = eval(&[], &c, &stats(0));
    assert!(out.added.is_empty());
    assert_eq!(names(&out.removed), ["i:expired", "m:expired", "r:expired"]);
    for change in &out.removed {
        assert_eq!(change.reason.rule, "tag.expired");
    }
    assert_eq!(out.removed[1].expires_at, Some(n));
    out.apply_to(&mut c.tags, n);
    assert_eq!(
        c.tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        ["m:later"]
    );
}

#[test]
fn an_expired_rule_tag_whose_rule_still_holds_is_added_again() {
    let rules = [rule("when orders >= 1 then tag promo:welcome for 7d")];
    let mut c = customer();
    c.tags.insert(
        tag("promo:welcome"),
        TagSource::Rule,
        now() - Duration::days(7),
        Some(now()),
    );
    let out = eval(&rules, &c, &stats(1));
    assert_eq!(names(&out.removed), ["promo:welcome"]);
    assert_eq!(out.removed[0].reason.rule, "tag.expired");
    assert_eq!(names(&out.added), ["promo:welcome"]);
    assert_eq!(out.added[0].expires_at, Some(now() + Duration::days(7)));
    out.apply_to(&mut c.tags, now());
    let info = c.tags.get(&tag("promo:welcome")).unwrap();
    assert_eq!(
        (info.added_at, info.expires_at),
        (now(), Some(now() + Duration::days(7)))
    );
    assert!(eval(&rules, &c, &stats(1)).is_empty());
    // An expired manual tag is replaced by a rule tag when the rule holds.
    c.tags.insert(
        tag("value:vip"),
        TagSource::Manual,
        now() - Duration::days(9),
        Some(now()),
    );
    let vip = [rule("when orders >= 1 then tag value:vip")];
    let out = eval(&vip, &c, &stats(1));
    assert_eq!(
        (names(&out.removed), names(&out.added)),
        (vec!["value:vip"], vec!["value:vip"])
    );
    out.apply_to(&mut c.tags, now());
    assert_eq!(
        c.tags.get(&tag("value:vip")).unwrap().source,
        TagSource::Rule
    );
}

#[test]
fn output_is_sorted_and_rules_for_one_tag_act_as_their_or() {
    let rules = [
        rule("when orders >= 1 then tag z:last"),
        rule("when orders >= 1 then tag a:first"),
        rule("when orders >= 10 then tag m:shared for 1d"),
        rule("when orders >= 1 then tag m:shared for 2d"),
    ];
    let mut c = customer();
    let out = eval(&rules, &c, &stats(2));
    assert_eq!(names(&out.added), ["a:first", "m:shared", "z:last"]);
    let shared = &out.added[1];
    assert_eq!(shared.expires_at, Some(now() + Duration::days(2)));
    assert_eq!(shared.reason.note.as_deref(), Some("orders >= 1"));
    let mut reversed = rules.clone();
    reversed.reverse();
    assert_eq!(
        names(&eval(&reversed, &c, &stats(2)).added),
        ["a:first", "m:shared", "z:last"]
    );

    out.apply_to(&mut c.tags, now());
    // Neither rule for m:shared holds: removed once, the note shows both predicates.
    let out = eval(&rules, &c, &stats(0));
    assert_eq!(names(&out.removed), ["a:first", "m:shared", "z:last"]);
    assert_eq!(
        out.removed[1].reason.note.as_deref(),
        Some("(orders >= 10) or (orders >= 1)")
    );
}

// ---- property tests ----

fn arb_rule() -> impl Strategy<Value = TagRule> {
    (
        segment_strategy::segment(),
        "[a-z0-9][a-z0-9._-]{0,8}:[a-z0-9][a-z0-9._-]{0,8}",
        prop::option::of(1i64..=36_525 * 86_400),
    )
        .prop_map(|(when, t, ttl)| {
            TagRule::new(t.parse().unwrap(), when, ttl.map(Duration::seconds))
        })
}

fn source() -> impl Strategy<Value = TagSource> {
    prop_oneof![
        Just(TagSource::Manual),
        Just(TagSource::Rule),
        Just(TagSource::Import)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_tag_rule_parse_print_roundtrip(r in arb_rule()) {
        let text = r.to_string();
        let back = TagRule::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.to_string(), text);
    }

    /// Evaluating, applying and evaluating again at the same `now` changes nothing, and the
    /// second outcome never removes a manual or imported tag that has not expired.
    #[test]
    fn prop_tag_rules_are_idempotent(
        thresholds in prop::collection::vec((0u32..4, 0usize..4, prop::option::of(1i64..100)), 0..6),
        existing in prop::collection::vec((0usize..4, source(), prop::option::of(-3i64..3)), 0..6),
        purchases in 0u32..4,
    ) {
        let pool = ["a:x", "b:y", "c:z", "d:w"];
        let rules: Vec<TagRule> = thresholds
            .iter()
            .map(|(n, t, ttl)| {
                rule(&format!("when orders >= {n} then tag {}{}", pool[*t], ttl.map(|h| format!(" for {h}h")).unwrap_or_default()))
            })
            .collect();
        let mut c = customer();
        for (t, src, exp) in &existing {
            c.tags.insert(tag(pool[*t]), *src, now() - Duration::days(30), exp.map(|h| now() + Duration::hours(h)));
        }
        let s = stats(purchases);
        let before = c.tags.clone();
        let out = eval(&rules, &c, &s);
        for change in &out.removed {
            let info = before.get(&change.tag).unwrap();
            prop_assert!(info.source == TagSource::Rule || info.is_expired(now()));
        }
        for change in &out.added {
            // Never added over a live tag.
            prop_assert!(!before.contains(&change.tag, now()));
        }
        out.apply_to(&mut c.tags, now());
        let again = eval(&rules, &c, &s);
        prop_assert!(again.is_empty(), "{:?}", again);
    }
}

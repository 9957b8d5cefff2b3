//! Personal data never leaks through formatting: from a generated corpus of names (Latin and
//! CJK), emails (valid and invalid) and phone numbers (valid and invalid), build every public
//! model type that can hold them — profiles, customers, contact keys, records, activities,
//! changesets, outbox events, evaluations, duplicate candidates, merge previews — and every
//! error the core returns for them (also through serde and [`StoreError`]); format each with
//! `{:?}` (and errors with `{}` too) and find none of the corpus in the output: not the raw
//! text, not its trimmed, lower-cased or normalised form, not an email's domain, not a phone's
//! digits or E.164 form.
//!
//! `Display` of [`Email`] and [`Phone`] is the one deliberate exception (a host needs the value
//! to send a message) and is not formatted here.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

/// One generated person: the raw text a host (or a CSV file) hands over. (Its `Debug` is the
/// test's own, to report a failing case.)
#[derive(Clone, Debug)]
struct Person {
    name: String,
    email: String,
    phone: String,
}

/// Latin names with stray whitespace, or CJK names (with an optional space between family
/// and given name).
fn name() -> impl Strategy<Value = String> {
    let latin = "[A-Z][a-z]{3,8}( {1,3}[A-Z][a-z]{3,8}){1,2}";
    let cjk = "[\u{4e00}-\u{9fa5}]{1,2} ?[\u{4e00}-\u{9fa5}]{2,3}";
    (prop_oneof![latin, cjk], " {0,2}", "[ \t]{0,2}").prop_map(|(n, a, b)| format!("{a}{n}{b}"))
}

/// Valid addresses in mixed case with surrounding whitespace, and invalid ones of every kind
/// the parser names (no `@`, no dot in the domain, a misplaced dot, a bad top-level domain, a
/// character outside the set, an empty domain, an over-long local part, a CJK local part).
fn email() -> impl Strategy<Value = String> {
    let valid = (
        "[a-z]{4,8}(\\.[a-z]{3,6})?@[a-z]{5,9}\\.(com|cn|org)",
        0..3u8,
        " {0,2}",
    )
        .prop_map(|(s, case, pad)| {
            let s = match case {
                0 => s,
                1 => s.to_uppercase(),
                _ => {
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                }
            };
            format!("{pad}{s}{pad}")
        });
    let invalid = prop_oneof![
        "[a-z]{5,8}\\.[a-z]{5,8}\\.(com|cn)",
        "[a-z]{5,8}\\.[a-z]{3,6}@[a-z]{6,9}",
        "[a-z]{4,8}\\.\\.[a-z]{3,6}@[a-z]{5,9}\\.com",
        "\\.[a-z]{6,8}@[a-z]{5,9}\\.com",
        "[a-z]{5,8}@[a-z]{5,9}\\.c0m",
        "[a-z]{4,8} [a-z]{4,8}@[a-z]{5,9}\\.com",
        "[a-z]{6,9}@",
        "@[a-z]{6,9}\\.com",
        "[a-z]{65,70}@[a-z]{5,9}\\.com",
        "[\u{4e00}-\u{9fa5}]{3,5}@[a-z]{5,9}\\.cn",
        "[a-z]{5,8}@[a-z]{5,9}\\.-[a-z]{3}\\.com",
    ];
    prop_oneof![valid, invalid]
}

/// Valid Chinese mobile and US numbers in the usual national and international spellings,
/// and invalid ones (letters, an unknown country code, too long, too short for the plan).
fn phone() -> impl Strategy<Value = String> {
    let cn = ("1(3[0-9]|5[0-35-9]|8[0-9])", "[0-9]{4}", "[0-9]{4}", 0..4u8).prop_map(
        |(a, b, c, style)| match style {
            0 => format!("{a}{b}{c}"),
            1 => format!("{a} {b} {c}"),
            2 => format!("+86 {a}-{b}-{c}"),
            _ => format!("0086{a}{b}{c}"),
        },
    );
    let us = (
        prop::sample::select(vec!["201", "212", "415", "646", "917"]),
        "[2-9][0-9]{2}",
        "[0-9]{4}",
        any::<bool>(),
    )
        .prop_map(|(a, e, n, intl)| {
            if intl {
                format!("+1 {a} {e} {n}")
            } else {
                format!("({a}) {e}-{n}")
            }
        });
    let invalid = prop_oneof![
        "[1-9][0-9]{2} ?[a-z]{3,6} ?[1-9][0-9]{3}",
        "\\+999 [1-9][0-9]{7}",
        "[1-9][0-9]{41,45}",
        "\\+86 [1-9][0-9]{4}",
        "[1-9][0-9]{3}#[0-9]{4}",
    ];
    prop_oneof![cn, us, invalid]
}

fn person() -> impl Strategy<Value = Person> {
    (name(), email(), phone()).prop_map(|(name, email, phone)| Person { name, email, phone })
}

/// Every form of the person's data that must not appear in any output.
fn needles(p: &Person, cn: Region) -> Vec<String> {
    let mut out = Vec::new();
    let name = p.name.trim();
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    out.extend([name.to_owned(), collapsed.clone(), collapsed.to_lowercase()]);
    let email = p.email.trim();
    out.extend([email.to_owned(), email.to_lowercase()]);
    if let Some((_, domain)) = email.rsplit_once('@') {
        if domain.len() >= 6 {
            out.extend([domain.to_owned(), domain.to_lowercase()]);
        }
    }
    let phone = p.phone.trim();
    out.push(phone.to_owned());
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 8 {
        out.push(digits);
    }
    if let Ok(ph) = Phone::parse(phone, cn) {
        out.push(ph.as_str().to_owned());
        out.push(ph.as_str()[1..].to_owned());
    }
    out.retain(|n| n.chars().count() >= 5);
    out.sort();
    out.dedup();
    out
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// Formats an error every way a host might log it.
fn error_forms(out: &mut Vec<String>, e: &DomainError) {
    out.push(format!("{e:?}"));
    out.push(format!("{e}"));
    out.push(format!("{e:#?}"));
    let store = StoreError::from(e.clone());
    out.push(format!("{store:?}"));
    out.push(format!("{store}"));
}

/// Builds every value the core makes from one person and formats it.
#[allow(clippy::too_many_lines)]
fn outputs(people: &[Person], cn: Region) -> Vec<String> {
    let mut out = Vec::new();
    let tenant = TenantId::from_u128(1);
    let mut customers = Vec::new();
    for (i, p) in people.iter().enumerate() {
        // Parsing: the value or the error, directly and through serde (as a store reading a
        // row back, or a host deserialising a request, would see it).
        let email = Email::parse(&p.email);
        match &email {
            Ok(e) => out.push(format!("{e:?}")),
            Err(e) => error_forms(&mut out, e),
        }
        let json = serde_json::to_string(&p.email).unwrap();
        if let Err(e) = serde_json::from_str::<Email>(&json) {
            out.push(format!("{e}"));
            out.push(format!("{e:?}"));
        }
        let phone = Phone::parse(&p.phone, cn);
        match &phone {
            Ok(ph) => out.push(format!("{ph:?}")),
            Err(e) => error_forms(&mut out, e),
        }
        if let Err(e) = Phone::from_e164(p.phone.trim()) {
            error_forms(&mut out, &e);
        }
        let json = serde_json::to_string(&p.phone).unwrap();
        if let Err(e) = serde_json::from_str::<Phone>(&json) {
            out.push(format!("{e}"));
            out.push(format!("{e:?}"));
        }
        let name = Profile::normalise_name(&p.name);
        for bad in [format!("{}\u{7}", p.name), p.name.repeat(201)] {
            error_forms(&mut out, &Profile::normalise_name(&bad).unwrap_err());
        }

        // The model.
        let profile = Profile {
            display_name: name.ok().map(Pii::new),
            email: email.ok().map(Pii::new),
            phone: phone.ok().map(Pii::new),
            birth_date: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).map(Pii::new),
            attributes: Pii::new(Attributes::new()),
        };
        out.push(format!("{profile:?}"));
        out.push(format!("{profile:#?}"));
        for key in profile.contact_keys() {
            out.push(format!("{key:?}"));
        }
        if let Some(e) = &profile.email {
            out.push(format!("{e:?}"));
            out.push(format!("{e}"));
        }
        let id = CustomerId::from_u128(100 + i as u128);
        let customer = Customer::new(tenant, id, profile, t0());
        out.push(format!("{customer:?}"));
        out.push(format!("{customer:#?}"));

        // A stored row whose email is the raw text: reading it back fails without echoing it.
        let mut row = serde_json::to_value(&customer).unwrap();
        row["profile"]["email"] = serde_json::Value::String(p.email.clone());
        row["profile"]["phone"] = serde_json::Value::String(p.phone.clone());
        if let Err(e) = serde_json::from_value::<Customer>(row) {
            out.push(format!("{e}"));
            out.push(format!("{e:?}"));
        }

        let purchase = Activity::new(
            ActivityId::from_u128(500 + i as u128),
            id,
            t0(),
            Channel::Store,
            IdempotencyKey::new(format!("pos-{i}")).unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("SO-{i}")).unwrap(),
                amount: Money::new(Decimal::new(29_900, 2), Currency::CNY),
                margin: None,
            },
        )
        .unwrap();
        let stats = Stats::from_activities([&purchase]).unwrap();
        let record = Record {
            customer: customer.clone(),
            stats: stats.clone(),
        };
        out.push(format!("{record:?}"));
        out.push(format!("{purchase:?}"));

        let evaluation = evaluate(
            &customer,
            &stats,
            &Policies::default(),
            &EvalInputs::at(t0()),
        );
        out.push(format!("{evaluation:?}"));

        let mut next = customer.next_version();
        next.profile.display_name = customer.profile.display_name.clone();
        let mut cs = Changeset::new();
        cs.create(customer.clone(), Stats::default());
        cs.update(&customer, next, stats);
        cs.activities.push(purchase);
        for (j, event) in [
            DomainEvent::CustomerRegistered { customer: id },
            DomainEvent::ProfileUpdated { customer: id },
            DomainEvent::Erased { customer: id },
        ]
        .into_iter()
        .enumerate()
        {
            cs.outbox.push(OutboxMessage::new(
                MessageId::from_u128(900 + j as u128),
                tenant,
                t0(),
                event,
            ));
        }
        out.push(format!("{cs:?}"));
        for w in &cs.customers {
            out.push(format!("{w:?}"));
        }
        if let Err(e) = cs.validate(tenant) {
            error_forms(&mut out, &e);
        }
        customers.push(customer);
    }

    // Quality: duplicates (each customer has a twin with the same contacts and name) and the
    // merge preview of every pair.
    let twins: Vec<Customer> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut twin = Customer::new(
                tenant,
                CustomerId::from_u128(10_000 + i as u128),
                c.profile.clone(),
                t0() + chrono::Duration::days(1),
            );
            twin.profile.attributes = Pii::new(Attributes::from([(
                AttrKey::new("source").unwrap(),
                AttrValue::Text("erp".into()),
            )]));
            twin
        })
        .collect();
    let all: Vec<&Customer> = customers.iter().chain(&twins).collect();
    let candidates = duplicate_candidates(all.iter().copied(), &DedupePolicy::default());
    out.push(format!("{candidates:?}"));
    for c in &candidates {
        for r in &c.reasons {
            out.push(format!("{r}"));
        }
    }
    for a in &all {
        for b in &all {
            match MergePlan::preview(a, b, &SurvivorshipPolicy::default()) {
                Ok(p) => {
                    out.push(format!("{p:?}"));
                    for f in &p.fields {
                        out.push(format!("{f:?} {}", f.field));
                    }
                }
                Err(e) => error_forms(&mut out, &e),
            }
        }
    }
    out
}

fn assert_no_leak(people: &[Person], cn: Region) -> Result<(), TestCaseError> {
    let needles: Vec<String> = people.iter().flat_map(|p| needles(p, cn)).collect();
    for text in outputs(people, cn) {
        for n in &needles {
            prop_assert!(!text.contains(n.as_str()), "`{}` leaked into: {}", n, text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_no_personal_value_reaches_debug_or_an_error(
        people in prop::collection::vec(person(), 1..4),
        region in prop::sample::select(vec!["CN", "US"]),
    ) {
        assert_no_leak(&people, region.parse().unwrap())?;
    }
}

/// The cases named in the issue, and every reason of every validator, spelled out.
#[test]
fn errors_keep_the_reason_and_the_field_but_not_the_value() {
    let cn: Region = "CN".parse().unwrap();
    let cases: Vec<(DomainError, &str, &str)> = vec![
        (
            Email::parse("alice.smith@example").unwrap_err(),
            "email",
            "email <redacted> is invalid: its domain has no dot",
        ),
        (
            Email::parse("wang..fang@example.cn").unwrap_err(),
            "email",
            "email <redacted> is invalid: its local part has a misplaced dot",
        ),
        (
            Phone::parse("138 0013 80ab", cn).unwrap_err(),
            "phone",
            "phone <redacted> is invalid: it has characters other than digits, spaces, + - ( ) . /",
        ),
        (
            Phone::from_e164("8613800138000").unwrap_err(),
            "phone",
            "phone <redacted> is invalid: it is not in E.164 form (+ and digits)",
        ),
        (
            Profile::normalise_name("Wang\u{7}Fang").unwrap_err(),
            "display_name",
            "display_name <redacted> is invalid: it contains a control character",
        ),
    ];
    for (err, field, message) in cases {
        assert_eq!(err.field(), Some(field));
        assert_eq!(err.to_string(), message);
        let debug = format!("{err:?}");
        for secret in ["alice", "wang", "Wang", "0013", "138"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
    let email = Email::parse("Alice.Smith@Example.com").unwrap();
    let phone = Phone::parse("138 0013 8000", cn).unwrap();
    assert_eq!(format!("{email:?}"), "Email(<redacted>)");
    assert_eq!(format!("{phone:?}"), "Phone(<redacted>)");
    // Display is the value, on purpose: a host needs it to send a message.
    assert_eq!(email.to_string(), "alice.smith@example.com");
    assert_eq!(phone.to_string(), "+8613800138000");
}

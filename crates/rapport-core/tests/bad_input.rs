//! Bad input gives a typed error naming the field and the value (redacted when it is personal
//! data: emails, phones, names), and no input panics.
#![allow(clippy::unwrap_used)]

mod strategies;

use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

#[test]
fn errors_name_field_and_value() {
    let cases: Vec<(Result<(), DomainError>, &str)> = vec![
        (
            Email::parse("a@").map(|_| ()),
            "email <redacted> is invalid: it has no domain",
        ),
        (
            Email::parse("ann").map(|_| ()),
            "email <redacted> is invalid: it has no `@`",
        ),
        (
            Email::parse("a..b@x.com").map(|_| ()),
            "email <redacted> is invalid: its local part has a misplaced dot",
        ),
        (
            Email::parse("a@x.c0m").map(|_| ()),
            "email <redacted> is invalid: its top-level domain is not alphabetic",
        ),
        (
            "x:".parse::<Tag>().map(|_| ()),
            "tag `x:` is invalid: namespace and name must not be empty",
        ),
        (
            "a b:c".parse::<Tag>().map(|_| ()),
            "tag `a b:c` is invalid: only lower-case letters, digits, '-', '_' and '.' are allowed",
        ),
        (
            "EURO".parse::<Currency>().map(|_| ()),
            "currency `EURO` is not an ISO 4217 currency code (three letters)",
        ),
        (Nps::new(11).map(|_| ()), "nps `11` is out of range 0..=10"),
        (Csat::new(6).map(|_| ()), "csat `6` is out of range 1..=5"),
        (
            "x".parse::<CustomerId>().map(|_| ()),
            "customer_id `x` is not a UUID",
        ),
        (
            IdempotencyKey::new(" k").map(|_| ()),
            "idempotency_key ` k` is invalid: it has leading or trailing whitespace",
        ),
        (
            "ZZ".parse::<Region>().map(|_| ()),
            "region `ZZ` is not an ISO 3166-1 alpha-2 code with a phone numbering plan",
        ),
        (
            "bronze".parse::<Tier>().map(|_| ()),
            "tier `bronze` is invalid: expected one of lead, iron, gold, platinum",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    let cn: Region = "CN".parse().unwrap();
    let err = Phone::parse("12ab", cn).unwrap_err();
    assert!(
        err == DomainError::InvalidPhone {
            reason: "it has characters other than digits, spaces, + - ( ) . /"
        },
        "{err}"
    );
    assert!(!err.to_string().contains("12ab"), "{err}");
    assert_eq!(err.field(), Some("phone"));
}

#[test]
fn currency_mix_is_a_typed_error() {
    let usd = Money::new(Decimal::ONE, Currency::USD);
    let eur = Money::new(Decimal::ONE, Currency::EUR);
    assert_eq!(
        usd.checked_add(&eur).unwrap_err(),
        DomainError::CurrencyMismatch {
            expected: Currency::USD,
            found: Currency::EUR
        }
    );
    assert!(Money::sum(Currency::USD, &[usd, eur]).is_err());
    let max = Money::new(Decimal::MAX, Currency::USD);
    assert_eq!(
        max.checked_add(&usd).unwrap_err(),
        DomainError::Overflow { field: "amount" }
    );
}

#[test]
fn negative_amounts_are_rejected_where_not_allowed() {
    let neg = Money::new(Decimal::new(-5, 1), Currency::USD);
    let kind = ActivityKind::Refund {
        order_id: OrderId::new("1").unwrap(),
        amount: neg,
        margin: None,
        purchased_at: chrono::DateTime::UNIX_EPOCH,
        full: false,
    };
    assert_eq!(
        kind.validate().unwrap_err().to_string(),
        "refund.amount `-0.5` is negative"
    );
    assert!(
        ActivityKind::CartAbandoned { value: Some(neg) }
            .validate()
            .is_err()
    );
    // A negative margin is allowed: an order can lose money.
    let ok = ActivityKind::Purchase {
        order_id: OrderId::new("1").unwrap(),
        amount: Money::new(Decimal::ONE, Currency::USD),
        margin: Some(Decimal::new(-3, 0)),
    };
    assert!(ok.validate().is_ok());
}

#[test]
fn phone_numbers_normalise_to_e164() {
    let cn: Region = "CN".parse().unwrap();
    let us: Region = "US".parse().unwrap();
    let gb: Region = "GB".parse().unwrap();
    assert_eq!(
        Phone::parse("(415) 555-2671", us).unwrap().as_str(),
        "+14155552671"
    );
    assert_eq!(
        Phone::parse("0044 20 7946 0958", cn).unwrap().as_str(),
        "+442079460958"
    );
    assert_eq!(
        Phone::parse("020 7946 0958", gb).unwrap().as_str(),
        "+442079460958"
    );
    assert_eq!(
        Phone::parse("13800138000", cn).unwrap().as_str(),
        "+8613800138000"
    );
    assert!(Phone::parse("+1 000", us).is_err());
    assert!(Phone::from_e164("8613800138000").is_err());
    assert!(
        Phone::from_e164("+86 138 0013 8000").is_err(),
        "not normalised"
    );
}

/// Regression (found by the `phone_parse` fuzz target): a German number the numbering plan
/// allows but with 16 digits in all was accepted as "E.164", which caps numbers at 15.
#[test]
fn phone_numbers_longer_than_e164_allows_are_rejected() {
    let de: Region = "DE".parse().unwrap();
    let err = Phone::parse("85871813858718", de).unwrap_err();
    assert_eq!(
        err,
        DomainError::InvalidPhone {
            reason: "it has more than the 15 digits E.164 allows"
        }
    );
    assert!(Phone::from_e164("+4985871813858718").is_err());
    // 15 digits in all is still E.164 (and short German numbers are valid too).
    assert_eq!(Phone::parse("089 550", de).unwrap().as_str(), "+4989550");
}

#[test]
fn emails_normalise() {
    assert_eq!(
        Email::parse(" X.Y+tag@Mail.Example.ORG ").unwrap().as_str(),
        "x.y+tag@mail.example.org"
    );
    assert_eq!(Email::parse("a@b.co").unwrap().domain(), "b.co");
    for bad in [
        "",
        "@x.com",
        "a@b",
        "a@-b.com",
        "a@b-.com",
        "a@@b.com",
        ".a@b.com",
        "a b@c.com",
        "a@b.c",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_no_string_makes_a_constructor_panic(s in ".{0,80}") {
        let cn: Region = "CN".parse().unwrap();
        let _ = Email::parse(&s);
        let _ = Phone::parse(&s, cn);
        let _ = Phone::from_e164(&s);
        let _ = s.parse::<Tag>();
        let _ = s.parse::<Currency>();
        let _ = s.parse::<Region>();
        let _ = s.parse::<CustomerId>();
        let _ = s.parse::<Tier>();
        let _ = s.parse::<Stage>();
        let _ = AttrKey::new(s.clone());
        let _ = IdempotencyKey::new(s.clone());
        let _ = OrderId::new(s.clone());
        let _ = Actor::new(s.clone());
        let _ = Profile::normalise_name(&s);
    }

    #[test]
    fn prop_no_phone_like_string_panics(s in "[0-9 +()./-]{0,40}", r in prop::sample::select(vec!["CN", "US", "GB", "DE", "JP", "IN", "BR"])) {
        let region: Region = r.parse().unwrap();
        if let Ok(p) = Phone::parse(&s, region) {
            // Whatever parses is E.164 and parses back to itself.
            prop_assert!(p.as_str().starts_with('+'));
            prop_assert!(p.as_str().len() <= 16, "more than 15 digits");
            prop_assert_eq!(Phone::from_e164(p.as_str()).unwrap(), p);
        }
    }

    #[test]
    fn prop_scores_accept_exactly_their_range(n in any::<u8>()) {
        prop_assert_eq!(Nps::new(n).is_ok(), n <= 10);
        prop_assert_eq!(Csat::new(n).is_ok(), (1..=5).contains(&n));
    }

    #[test]
    fn prop_valid_emails_are_idempotent(e in strategies::email()) {
        prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
        prop_assert_eq!(Email::parse(&e.as_str().to_uppercase()).unwrap(), e);
    }

    #[test]
    fn prop_tags_parse_back(t in strategies::tag()) {
        prop_assert_eq!(t.as_str().parse::<Tag>().unwrap(), t.clone());
        prop_assert_eq!(Tag::new(t.namespace(), t.name()).unwrap(), t);
    }
}

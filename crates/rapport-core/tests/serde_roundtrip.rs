//! Every model type survives a JSON round trip unchanged (values, Decimal scale, microseconds).
#![allow(clippy::unwrap_used)]

mod strategies;

use proptest::prelude::*;
use rapport_core::*;
use serde::{Serialize, de::DeserializeOwned};
use strategies::*;

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "json: {json}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_customer_roundtrips(c in customer()) { roundtrip(&c); }

    #[test]
    fn prop_activity_roundtrips(a in activity()) { roundtrip(&a); }

    #[test]
    fn prop_stats_roundtrip(s in stats()) { roundtrip(&s); }

    #[test]
    fn prop_changeset_roundtrips(cs in changeset()) { roundtrip(&cs); }

    #[test]
    fn prop_event_roundtrips(e in event()) { roundtrip(&e); }

    #[test]
    fn prop_money_roundtrips_with_scale(d in decimal(), cur in currency()) {
        let m = Money::new(d, cur);
        let json = serde_json::to_string(&m).unwrap();
        let back: Money = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, m);
        prop_assert_eq!(back.amount.scale(), d.scale());
        prop_assert_eq!(back.amount.to_string(), d.to_string());
    }

    #[test]
    fn prop_ids_tags_contacts_roundtrip(
        id in any::<u128>(), t in tag(), e in email(), p in phone(), cur in currency()
    ) {
        roundtrip(&TenantId::from_u128(id));
        roundtrip(&CustomerId::from_u128(id));
        roundtrip(&ActivityId::from_u128(id));
        roundtrip(&MessageId::from_u128(id));
        roundtrip(&t);
        roundtrip(&e);
        roundtrip(&p);
        roundtrip(&cur);
        roundtrip(&ContactKey::Email(e));
        roundtrip(&ContactKey::Phone(p));
    }

    #[test]
    fn prop_datetime_keeps_microseconds(at in datetime()) {
        let a = Stamped { at, value: Nps::new(3).unwrap() };
        roundtrip(&a);
    }
}

#[test]
fn invalid_values_are_rejected_when_deserialising() {
    assert!(serde_json::from_str::<Email>("\"not-an-email\"").is_err());
    assert!(serde_json::from_str::<Tag>("\"NoColon\"").is_err());
    assert!(serde_json::from_str::<Nps>("11").is_err());
    assert!(serde_json::from_str::<Csat>("0").is_err());
    assert!(serde_json::from_str::<Currency>("\"EURO\"").is_err());
    assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
    assert!(serde_json::from_str::<AttrKey>("\"Bad Key\"").is_err());
}

#[test]
fn wire_format_is_stable_and_readable() {
    let e = DomainEvent::TierChanged {
        customer: CustomerId::from_u128(1),
        from: Tier::Iron,
        to: Tier::Gold,
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"type":"tier_changed","customer":"00000000-0000-0000-0000-000000000001","from":"iron","to":"gold"}"#
    );
    let m = Money::new(rust_decimal::Decimal::new(1050, 2), Currency::EUR);
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        r#"{"amount":"10.50","currency":"EUR"}"#
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An activity kind reads the same whatever the order of its keys: the tag first (as
    /// written), last, or in sorted order (a `serde_json::Value` sorts them).
    #[test]
    fn prop_activity_kind_reads_in_any_key_order(k in kind(Currency::EUR)) {
        let value = serde_json::to_value(&k).unwrap();
        prop_assert_eq!(&serde_json::from_value::<ActivityKind>(value.clone()).unwrap(), &k);
        let fields = value.as_object().unwrap();
        let mut reversed = String::from("{");
        for (i, (key, v)) in fields.iter().filter(|(k, _)| *k != "kind").chain(fields.iter().filter(|(k, _)| *k == "kind")).enumerate() {
            if i > 0 {
                reversed.push(',');
            }
            reversed.push_str(&format!("{}:{}", serde_json::to_string(key).unwrap(), v));
        }
        reversed.push('}');
        prop_assert_eq!(&serde_json::from_str::<ActivityKind>(&reversed).unwrap(), &k, "{}", reversed);
    }
}

#[test]
fn activity_kind_reads_as_the_tagged_form_did() {
    let read = |s: &str| serde_json::from_str::<ActivityKind>(s).map_err(|e| e.to_string());
    assert_eq!(read(r#"{"kind":"contact"}"#), Ok(ActivityKind::Contact));
    assert_eq!(
        read(r#"{"kind":"visit","item":null}"#),
        Ok(ActivityKind::Visit { item: None })
    );
    // Fields a kind does not have are ignored, as before.
    assert_eq!(
        read(r#"{"item":"sku-1","kind":"visit","colour":"red"}"#),
        Ok(ActivityKind::Visit {
            item: Some("sku-1".into())
        })
    );
    let missing = read(r#"{"kind":"complaint"}"#).unwrap_err();
    assert!(missing.starts_with("missing field `severity`"), "{missing}");
    let missing = read(r#"{"kind":"purchase","order_id":"1"}"#).unwrap_err();
    assert!(missing.starts_with("missing field `amount`"), "{missing}");
    let unknown = read(r#"{"kind":"teleport"}"#).unwrap_err();
    assert!(
        unknown.starts_with("unknown variant `teleport`, expected one of `purchase`"),
        "{unknown}"
    );
    let no_tag = read(r#"{"item":"x"}"#).unwrap_err();
    assert!(no_tag.starts_with("missing field `kind`"), "{no_tag}");
    let twice = read(r#"{"kind":"visit","kind":"contact"}"#).unwrap_err();
    assert!(twice.starts_with("duplicate field `kind`"), "{twice}");
    assert!(read(r#"[]"#).is_err() && read(r#""visit""#).is_err());
}

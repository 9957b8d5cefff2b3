//! Privacy through the service on the reference store: the export document validates
//! against `docs/export.schema.json`, round-trips through serde, and after an erasure holds
//! none of the person's data; consent withdrawals are effective at once for segments.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use futures::executor::block_on;
use proptest::prelude::*;
use rapport::core::privacy::ExportDocument;
use rapport::core::*;
use rapport::{ConsentRequest, ManualClock, NewActivity, Service};
use rapport_memory::MemoryStore;
use serde_json::Value;

const T: TenantId = TenantId::from_u128(1);

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/export.schema.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A small JSON Schema checker for the keywords `docs/export.schema.json` uses: `type`,
/// `const`, `enum`, `required`, `properties`, `additionalProperties`, `items`, `$ref` into
/// `$defs` (the `uuid` and `time` definitions checked by parsing, not by regular expression).
fn check(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        match name {
            "uuid" => {
                if v.as_str()
                    .and_then(|s| s.parse::<uuid::Uuid>().ok())
                    .is_none()
                {
                    errors.push(format!("{path}: not a uuid"));
                }
            }
            "time" => {
                if v.as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .is_none()
                {
                    errors.push(format!("{path}: not an RFC 3339 time"));
                }
            }
            _ => check(root, &root["$defs"][name], v, path, errors),
        }
        return;
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{path}: {v} is not {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
        {
            errors.push(format!("{path}: {actual} is not {types:?}"));
            return;
        }
    }
    if let Value::Object(map) = v {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = r.as_str().unwrap();
            if !map.contains_key(key) {
                errors.push(format!("{path}: `{key}` missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in map {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, val, &format!("{path}.{k}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{path}: `{k}` not allowed")),
                    Some(s @ Value::Object(_)) => {
                        check(root, s, val, &format!("{path}.{k}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(root, s, item, &format!("{path}[{i}]"), errors);
        }
    }
}

fn errors(doc: &Value) -> Vec<String> {
    let root = schema();
    let mut out = Vec::new();
    check(&root, &root, doc, "$", &mut out);
    out
}

#[test]
fn the_checker_rejects_documents_that_break_the_schema() {
    let svc = Service::new(MemoryStore::new());
    let id = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    let doc = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
    assert_eq!(errors(&doc), Vec::<String>::new());
    for (pointer, bad) in [
        ("/schema_version", Value::from(1)),
        ("/history", Value::from("none")),
        ("/merges", Value::from(3)),
        ("/tenant", Value::from("not-a-uuid")),
        ("/generated_at", Value::from("yesterday")),
        ("/activities", Value::from("none")),
    ] {
        let mut broken = doc.clone();
        *broken.pointer_mut(pointer).unwrap() = bad;
        assert!(!errors(&broken).is_empty(), "{pointer} accepted");
    }
    let mut extra = doc.clone();
    extra["password"] = Value::from("x");
    assert!(!errors(&extra).is_empty());
    let mut missing = doc;
    missing.as_object_mut().unwrap().remove("consents");
    assert!(!errors(&missing).is_empty());
}

/// A person with personal data everywhere rapport keeps it.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    local: String,
    phone: u32,
    note: String,
    item: String,
    source: String,
}

fn person() -> impl Strategy<Value = Person> {
    (
        "[A-Z][a-z]{4,9} [A-Z][a-z]{4,9}",
        "[a-z]{6,12}",
        1_000_000u32..9_999_999,
        "[a-z]{8,14}",
        "[a-z]{8,14}",
        "[a-z]{8,14}",
    )
        .prop_map(|(name, local, phone, note, item, source)| Person {
            name,
            local,
            phone,
            note,
            item,
            source,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The export validates against its schema and reads back equal; after an erasure the
    /// export holds none of the person's data, keeps the purchase to the cent, and still
    /// validates.
    #[test]
    fn prop_export_round_trips_and_export_after_erase_holds_nothing_personal(p in person(), cents in 1i64..10_000_000) {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let svc = Service::new(MemoryStore::new()).with_clock(ManualClock::at(now));
        let mut attributes = Attributes::new();
        attributes.insert(AttrKey::new("note").unwrap(), AttrValue::Text(p.note.clone()));
        let profile = Profile {
            display_name: Some(Pii::new(p.name.clone())),
            email: Some(Pii::new(Email::parse(&format!("{}@example.com", p.local)).unwrap())),
            phone: Some(Pii::new(Phone::parse(&format!("+33 6 1{}", p.phone), "FR".parse().unwrap()).unwrap())),
            attributes: Pii::new(attributes),
            ..Profile::default()
        };
        let id = block_on(svc.register(T, profile)).unwrap().customer.id();
        let amount = Money::new(rust_decimal::Decimal::new(cents, 2), Currency::USD);
        block_on(svc.record(T, NewActivity::purchase(id, "o-1", amount, now - Duration::days(3)).unwrap())).unwrap();
        block_on(svc.record(T, NewActivity::visit(id, now - Duration::days(2)).unwrap().of_item(p.item.clone()))).unwrap();
        block_on(svc.grant(T, id, ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, p.source.clone()).evidence(p.source.clone()))).unwrap();

        let before = block_on(svc.export(T, id)).unwrap();
        let json = serde_json::to_value(&before).unwrap();
        prop_assert_eq!(errors(&json), Vec::<String>::new());
        let back: ExportDocument = serde_json::from_value(json.clone()).unwrap();
        prop_assert_eq!(&back, &before);
        let text = json.to_string();
        let secrets = [p.name.clone(), p.local.clone(), p.phone.to_string(), p.note.clone(), p.item.clone(), p.source.clone()];
        for s in &secrets {
            prop_assert!(text.contains(s.as_str()), "the export lacks {}", s);
        }

        block_on(svc.erase(T, id, "ticket-1", "gdpr-art17")).unwrap();
        let after = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
        prop_assert_eq!(errors(&after), Vec::<String>::new());
        let text = after.to_string();
        for s in &secrets {
            prop_assert!(!text.contains(s.as_str()), "the export after erasure still holds {}", s);
        }
        let revenue = amount.amount.to_string();
        prop_assert_eq!(after["stats"]["revenue"].as_str(), Some(revenue.as_str()));
        prop_assert_eq!(after["activities"].as_array().map(Vec::len), Some(2));
        prop_assert_eq!(after["erasure"]["reason"].as_str(), Some("gdpr-art17"));
    }
}

/// The export of a merge's survivor (and of its loser's id, which leads to it) lists the
/// merge with the person's own state before it and the other record by id only: the values
/// the merge dropped from the other record appear nowhere. The history holds the stage and
/// tier changes with reasons. Both validate against the schema.
#[test]
fn the_export_lists_merges_without_the_other_records_data_and_the_decision_history() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let svc = Service::new(MemoryStore::new()).with_clock(ManualClock::at(now));
    let profile = |name: &str, email: &str| Profile {
        display_name: Some(Pii::new(name.to_owned())),
        email: Some(Pii::new(Email::parse(email).unwrap())),
        ..Profile::default()
    };
    let ann = block_on(svc.register(T, profile("Ann Lee", "ann@example.com")))
        .unwrap()
        .customer
        .id();
    let other = block_on(svc.register(T, profile("Bo Stone", "bo@example.com")))
        .unwrap()
        .customer
        .id();
    let amount = Money::new(rust_decimal::Decimal::from(3_000), Currency::USD);
    block_on(svc.record(
        T,
        NewActivity::purchase(ann, "o-1", amount, now - Duration::days(3)).unwrap(),
    ))
    .unwrap();
    let merged = block_on(svc.merge(
        T,
        rapport::MergeRequest::new(ann, other, Actor::new("ops-7").unwrap()),
    ))
    .unwrap();
    let kept = merged.survivor.profile.clone();
    let doc = block_on(svc.export(T, other)).unwrap(); // the loser's id leads to the survivor
    assert_eq!(doc.customer.id(), ann);
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(errors(&json), Vec::<String>::new());
    let back: ExportDocument = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, doc);
    assert_eq!(doc.merges.len(), 1);
    let m = &doc.merges[0];
    assert_eq!((m.role, m.other), (privacy::MergeRole::Survivor, other));
    assert_eq!(m.id, merged.record.id);
    assert_eq!(m.before.id(), ann);
    let text = json.to_string();
    for (name, email) in [
        ("Ann Lee", "ann@example.com"),
        ("Bo Stone", "bo@example.com"),
    ] {
        let name_kept = kept.display_name.as_ref().map(|n| n.expose().as_str()) == Some(name);
        let email_kept = kept.email.as_ref().map(|e| e.expose().as_str()) == Some(email);
        if !name_kept && name == "Bo Stone" {
            assert!(!text.contains(name), "the dropped {name} is in the export");
        }
        if !email_kept && email.starts_with("bo@") {
            assert!(
                !text.contains(email),
                "the dropped {email} is in the export"
            );
        }
    }
    let stages: Vec<(&str, &str)> = doc
        .history
        .iter()
        .filter(|d| d.what == privacy::Decided::Stage)
        .map(|d| (d.from.as_str(), d.to.as_str()))
        .collect();
    assert_eq!(stages.first(), Some(&("prospect", "new")));
    assert!(doc.history.iter().all(|d| !d.reason.rule.is_empty()));
    assert!(doc.history.iter().any(|d| d.what == privacy::Decided::Tier));
}

#[test]
fn a_withdrawal_takes_the_customer_out_of_a_consent_segment_at_once() {
    let svc = Service::new(MemoryStore::new());
    let seg = Segment::parse(r#"consent("marketing", "email")"#).unwrap();
    let a = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    let b = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    for id in [a, b] {
        block_on(svc.grant(
            T,
            id,
            ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "form"),
        ))
        .unwrap();
    }
    assert_eq!(block_on(svc.find(T, &seg)).unwrap().len(), 2);
    block_on(svc.withdraw(
        T,
        a,
        ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "unsubscribe"),
    ))
    .unwrap();
    let left: Vec<CustomerId> = block_on(svc.find(T, &seg))
        .unwrap()
        .iter()
        .map(|r| r.customer.id())
        .collect();
    assert_eq!(left, vec![b]);
    // An earlier-dated grant imported afterwards does not undo the withdrawal.
    let old = svc.now() - Duration::days(30);
    block_on(svc.grant(
        T,
        a,
        ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "old-paper-form").at(old),
    ))
    .unwrap();
    assert_eq!(block_on(svc.find(T, &seg)).unwrap().len(), 1);
    assert_eq!(block_on(svc.consents(T, a)).unwrap().len(), 3);
    // Erasure drops the pending outbox messages of the customer.
    let pending = svc.store().pending_outbox().unwrap();
    block_on(svc.erase(T, b, "t", "r")).unwrap();
    assert!(svc.store().pending_outbox().unwrap() < pending);
}

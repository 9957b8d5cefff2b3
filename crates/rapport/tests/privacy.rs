//! Privacy through the service on the reference store: the export document validates
//! against `docs/export.schema.json` (with a JSON Schema validator), round-trips through
//! serde, and after an erasure holds none of the person's data; consent withdrawals are
//! effective at once for segments.
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

/// Validates `doc` against `docs/export.schema.json` with a JSON Schema (draft 2020-12)
/// validator, formats (`uuid`, `date-time`, `date`) asserted: `Ok`, or the instance
/// locations (JSON pointers) of every failed leaf check with its message.
fn check(doc: &Value) -> Result<(), Vec<String>> {
    fn leaves(e: &boon::ValidationError<'_, '_>, out: &mut Vec<String>) {
        if e.causes.is_empty() {
            out.push(format!("{}: {}", e.instance_location, e.kind));
        }
        for c in &e.causes {
            leaves(c, out);
        }
    }
    let url = privacy::EXPORT_SCHEMA;
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler.add_resource(url, schema()).unwrap();
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(url, &mut schemas).unwrap();
    schemas.validate(doc, index).map_err(|e| {
        let mut out = Vec::new();
        leaves(&e, &mut out);
        out
    })
}

/// Asserts that the validator refuses `doc` at `pointer` (some failed check is at it or under it).
fn refused_at(doc: &Value, pointer: &str, what: &str) {
    let errors = check(doc).expect_err(what);
    assert!(
        errors.iter().any(|e| e.starts_with(&format!("{pointer}:")) || e.starts_with(&format!("{pointer}/"))),
        "{what}: refused, but not at {pointer}: {errors:?}"
    );
}

#[test]
fn the_validator_rejects_documents_that_break_the_schema() {
    let (svc, id) = everything();
    let doc = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
    assert_eq!(check(&doc), Ok(()));
    let set = |pointer: &str, bad: Value| {
        let mut broken = doc.clone();
        *broken.pointer_mut(pointer).unwrap() = bad;
        broken
    };
    for (pointer, bad, what) in [
        ("/schema_version", Value::from(1), "another version"),
        ("/history", Value::from("none"), "a wrong type"),
        ("/merges", Value::from(3), "a wrong type"),
        ("/activities", Value::from("none"), "a wrong type"),
        ("/cases/0/csat", Value::from(6), "a CSAT answer above 5"),
        (
            "/cases/0/status",
            Value::from("lost"),
            "an unknown case status",
        ),
        (
            "/accounts/0/roles/0",
            Value::from("boss"),
            "an unknown account role",
        ),
        // Patterns and formats.
        (
            "/tenant",
            Value::from("not-a-uuid"),
            "an id that is no uuid",
        ),
        (
            "/tenant",
            Value::from("01A25198-37AB-7690-BB2A-CD8A0A7F06AF"),
            "an upper-case uuid",
        ),
        (
            "/generated_at",
            Value::from("yesterday"),
            "a time that is no time",
        ),
        (
            "/generated_at",
            Value::from("2026-02-30T09:00:00Z"),
            "a day that does not exist",
        ),
        (
            "/stats/revenue",
            Value::from("12,50"),
            "a decimal with a comma",
        ),
        (
            "/stats/currency",
            Value::from("usd"),
            "a lower-case currency",
        ),
        (
            "/customer/profile/phone",
            Value::from("06 12 34 56 78"),
            "a phone not in E.164",
        ),
        (
            "/consents/0/source",
            Value::from(" padded "),
            "a source with surrounding spaces",
        ),
        // Minimums, maximums and enumerations.
        ("/customer/version", Value::from(0), "version 0"),
        ("/stats/orders", Value::from(-1), "a negative count"),
        (
            "/activities/8/kind/feedback/nps",
            Value::from(11),
            "an NPS of 11",
        ),
        (
            "/customer/lifecycle/stage",
            Value::from("zombie"),
            "an unknown stage",
        ),
        (
            "/customer/tier/tier",
            Value::from("diamond"),
            "an unknown tier",
        ),
        (
            "/customer/tags/interest:tea/source",
            Value::from("guess"),
            "an unknown tag source",
        ),
        (
            "/history/0/to",
            Value::from("active"),
            "a stage as a tier change's value",
        ),
        (
            "/activities/0/kind/kind",
            Value::from("gift"),
            "an unknown kind of activity",
        ),
    ] {
        refused_at(&set(pointer, bad), pointer, what);
    }
    // Missing required fields.
    for (parent, field) in [
        ("", "consents"),
        ("/customer/tier", "tier"),
        ("/activities/0/kind", "amount"),
        ("/activities/2/kind", "purchased_at"),
        ("/consents/0", "recorded_at"),
        ("/customer/tags/interest:tea", "added_at"),
        ("/history/0/reason", "rule"),
        ("/merges/0/fields/0", "decision"),
    ] {
        let mut broken = doc.clone();
        let gone = broken
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(field);
        assert!(gone.is_some(), "{parent}/{field} is in the document");
        refused_at(&broken, parent, &format!("{parent} without {field}"));
    }
    // Properties the schema does not list.
    for parent in [
        "",
        "/customer",
        "/customer/profile",
        "/customer/tags/interest:tea",
        "/customer/tier/pin",
        "/stats",
        "/activities/0",
        "/activities/3/kind",
        "/history/0",
        "/history/0/reason/measured",
        "/consents/0",
        "/merges/0",
        "/merges/0/before/lifecycle/manual",
    ] {
        let mut broken = doc.clone();
        broken
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert("password".into(), Value::from("x"));
        refused_at(&broken, parent, &format!("an extra property in {parent}"));
    }
    // Tag names and attribute keys follow their syntax.
    let mut bad_tag = doc.clone();
    let tags = bad_tag
        .pointer_mut("/customer/tags")
        .unwrap()
        .as_object_mut()
        .unwrap();
    let info = tags.remove("interest:tea").unwrap();
    tags.insert("Interest Tea".into(), info);
    // The validator reports a property name's mismatch at the document's root.
    let errors = check(&bad_tag).expect_err("a tag name that is no `namespace:name`");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("'Interest Tea' does not match pattern")),
        "{errors:?}"
    );
}

/// Every part of a full export — each kind of activity, tags with and without expiry, pins,
/// overrides, consents of each state, merges, the history — validates, before and after an
/// erasure, and the erased export keeps the amounts but no personal text.
#[test]
fn a_full_export_validates_before_and_after_erasure() {
    let (svc, id) = everything();
    let doc = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
    assert_eq!(check(&doc), Ok(()));
    let kinds: Vec<&str> = doc["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 12);
    for k in [
        "purchase",
        "refund",
        "visit",
        "cart_abandoned",
        "complaint",
        "feedback",
        "referral",
        "contact",
    ] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert_eq!(doc["customer"]["tags"]["interest:tea"]["source"], "manual");
    assert!(doc["customer"]["tags"]["interest:tea"]["expires_at"].is_string());
    assert!(
        doc["customer"]["tags"]["segment:b2c"]
            .get("expires_at")
            .is_none()
    );
    let states: Vec<&str> = doc["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["granted", "withdrawn", "pending"]);
    assert_eq!(doc["merges"].as_array().map(Vec::len), Some(1));
    let links = doc["accounts"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links.iter().filter(|l| l.get("until").is_some()).count(), 1);
    assert_eq!(doc["cases"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["cases"][0]["status"], "resolved");
    assert_eq!(doc["cases"][0]["csat"], 4);
    assert_eq!(doc["cases"][0]["history"].as_array().map(Vec::len), Some(3));
    assert!(
        doc["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["what"] == "tier")
    );
    assert!(
        doc["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["what"] == "stage")
    );

    block_on(svc.erase(T, id, "ticket-1", "gdpr-art17")).unwrap();
    let after = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
    assert_eq!(check(&after), Ok(()));
    let text = after.to_string();
    for personal in [
        "Ann Lee",
        "ann@example.com",
        "+33612345678",
        "likes tea",
        "sku-42",
        "signup-form",
        "form-8812",
        "interest:tea",
    ] {
        assert!(
            !text.contains(personal),
            "{personal} is in the export after erasure"
        );
    }
    assert_eq!(after["stats"]["revenue"], "2519.99");
    assert_eq!(after["customer"]["lifecycle"]["stage"], "erased");
}

/// A customer with every part of the export filled: a full profile, tags with and without
/// expiry, every kind of activity, consents of every state, a tier pin, a stage override and a
/// merge. Returns the service and the customer's id.
fn everything() -> (Service<MemoryStore>, CustomerId) {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let svc = Service::new(MemoryStore::new()).with_clock(ManualClock::at(now));
    let mut attributes = Attributes::new();
    let mut attr = |k: &str, v: AttrValue| attributes.insert(AttrKey::new(k).unwrap(), v);
    attr("note", AttrValue::Text("likes tea".into()));
    attr(
        "size",
        AttrValue::Number(rust_decimal::Decimal::new(425, 1)),
    );
    attr("vip", AttrValue::Bool(true));
    attr("birthday", AttrValue::Date("1990-04-02".parse().unwrap()));
    attr("last_call", AttrValue::Timestamp(now - Duration::days(9)));
    let profile = |name: &str, email: &str| Profile {
        display_name: Some(Pii::new(name.to_owned())),
        email: Some(Pii::new(Email::parse(email).unwrap())),
        phone: Some(Pii::new(
            Phone::parse("+33 6 12 34 56 78", "FR".parse().unwrap()).unwrap(),
        )),
        attributes: Pii::new(attributes.clone()),
        ..Profile::default()
    };
    let id = block_on(svc.register(T, profile("Ann Lee", "ann@example.com")))
        .unwrap()
        .customer
        .id();
    let other = block_on(svc.register(
        T,
        Profile {
            display_name: Some(Pii::new("Ann B. Lee".into())),
            email: Some(Pii::new(Email::parse("ann.lee@example.org").unwrap())),
            ..Profile::default()
        },
    ))
    .unwrap()
    .customer
    .id();
    let usd = |cents| Money::new(rust_decimal::Decimal::new(cents, 2), Currency::USD);
    let day = |d| now - Duration::days(d);
    for a in [
        NewActivity::purchase(id, "o-1", usd(250_000), day(40))
            .unwrap()
            .with_margin(rust_decimal::Decimal::new(4_000, 2)),
        NewActivity::purchase(id, "o-2", usd(1_999), day(30))
            .unwrap()
            .via(Channel::Store),
        NewActivity::refund(id, "o-2", usd(1_999), day(29))
            .unwrap()
            .in_full(),
        NewActivity::visit(id, day(20)).unwrap().of_item("sku-42"),
        NewActivity::visit(id, day(19)).unwrap(),
        NewActivity::cart_abandoned(id, Some(usd(5_000)), day(18)).unwrap(),
        NewActivity::cart_abandoned(id, None, day(17)).unwrap(),
        NewActivity::complaint(id, Severity::High, day(16)).unwrap(),
        NewActivity::feedback(id, Feedback::Nps(Nps::new(9).unwrap()), day(15)).unwrap(),
        NewActivity::feedback(id, Feedback::Csat(Csat::new(4).unwrap()), day(14)).unwrap(),
        NewActivity::referral(id, other, day(13)).unwrap(),
        NewActivity::contact(id, day(12))
            .unwrap()
            .via(Channel::Chat),
    ] {
        block_on(svc.record(T, a)).unwrap();
    }
    block_on(svc.tag(
        T,
        id,
        Tag::new("interest", "tea").unwrap(),
        Some(now + Duration::days(30)),
    ))
    .unwrap();
    block_on(svc.tag(T, id, Tag::new("segment", "b2c").unwrap(), None)).unwrap();
    let req = |p, ch, src: &str| ConsentRequest::new(p, ch, src);
    block_on(svc.grant(
        T,
        id,
        req(Purpose::Marketing, ContactChannel::Email, "signup-form").evidence("form-8812"),
    ))
    .unwrap();
    block_on(svc.withdraw(
        T,
        id,
        req(Purpose::Marketing, ContactChannel::Sms, "reply-stop"),
    ))
    .unwrap();
    block_on(
        svc.request_consent(
            T,
            id,
            req(Purpose::Profiling, ContactChannel::Any, "settings")
                .basis(privacy::LegalBasis::LegitimateInterest),
        ),
    )
    .unwrap();
    let ops = Actor::new("ops-7").unwrap();
    block_on(svc.pin_tier(
        T,
        id,
        Tier::Platinum,
        ops.clone(),
        "key account",
        now + Duration::days(90),
    ))
    .unwrap();
    block_on(svc.override_stage(
        T,
        id,
        Stage::Active,
        ops.clone(),
        "in talks",
        now + Duration::days(10),
    ))
    .unwrap();
    block_on(svc.merge(T, rapport::MergeRequest::new(id, other, ops))).unwrap();
    // B2B: an ended link and a current one; a case worked to resolution with a CSAT answer.
    let acme = block_on(svc.create_account(T, AccountName::new("Acme").unwrap(), None)).unwrap();
    let beta = block_on(svc.create_account(T, AccountName::new("Beta").unwrap(), None)).unwrap();
    block_on(svc.link_contact(T, acme.id(), id, [AccountRole::Buyer].into(), false)).unwrap();
    block_on(svc.unlink_contact(T, acme.id(), id)).unwrap();
    let roles = [AccountRole::DecisionMaker, AccountRole::Billing].into();
    block_on(svc.link_contact(T, beta.id(), id, roles, true)).unwrap();
    let mut open = rapport::OpenCase::new(
        id,
        CaseCategory::new("billing/refund").unwrap(),
        CaseSeverity::Urgent,
        Channel::Email,
    );
    open.assignee = Some(Assignee::new("team-support-2").unwrap());
    let case = block_on(svc.open_case(T, open)).unwrap();
    let moved = rapport::CaseChange::Move(CaseStatus::InProgress);
    block_on(svc.update_case(T, case.id(), moved)).unwrap();
    let resolve = rapport::CaseChange::Resolve(Some(Csat::new(4).unwrap()));
    block_on(svc.update_case(T, case.id(), resolve)).unwrap();
    (svc, id)
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
    pin: String,
    why: String,
}

fn person() -> impl Strategy<Value = Person> {
    (
        "[A-Z][a-z]{4,9} [A-Z][a-z]{4,9}",
        "[a-z]{6,12}",
        1_000_000u32..9_999_999,
        "[a-z]{8,14}",
        "[a-z]{8,14}",
        "[a-z]{8,14}",
        "[a-z]{8,14}",
        "[a-z]{8,14}",
    )
        .prop_map(
            |(name, local, phone, note, item, source, pin, why)| Person {
                name,
                local,
                phone,
                note,
                item,
                source,
                pin,
                why,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The export validates against its schema and reads back equal; after an erasure the
    /// export holds none of the person's data (the reasons of a tier pin and a stage override
    /// included), keeps the purchase to the cent, and still validates.
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
        // An operator's reasons can name the person too.
        let ops = Actor::new("ops-7").unwrap();
        block_on(svc.pin_tier(T, id, Tier::Gold, ops.clone(), &format!("pin {}", p.pin), now + Duration::days(30))).unwrap();
        block_on(svc.override_stage(T, id, Stage::Active, ops, &format!("why {}", p.why), now + Duration::days(30))).unwrap();

        let before = block_on(svc.export(T, id)).unwrap();
        let json = serde_json::to_value(&before).unwrap();
        prop_assert_eq!(check(&json), Ok(()));
        let back: ExportDocument = serde_json::from_value(json.clone()).unwrap();
        prop_assert_eq!(&back, &before);
        let text = json.to_string();
        let secrets = [p.name.clone(), p.local.clone(), p.phone.to_string(), p.note.clone(), p.item.clone(), p.source.clone(), p.pin.clone(), p.why.clone()];
        for s in &secrets {
            prop_assert!(text.contains(s.as_str()), "the export lacks {}", s);
        }

        block_on(svc.erase(T, id, "ticket-1", "gdpr-art17")).unwrap();
        let after = serde_json::to_value(block_on(svc.export(T, id)).unwrap()).unwrap();
        prop_assert_eq!(check(&after), Ok(()));
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
    assert_eq!(check(&json), Ok(()));
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

/// Consent asked for by a merged id joins the survivor's ledger (the id is followed, as every
/// read follows it); confirming a pending request through the merged id works the same way.
#[test]
fn consent_through_a_merged_id_reaches_the_survivor() {
    let svc = Service::new(MemoryStore::new());
    let ann = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    let dup = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    block_on(svc.merge(
        T,
        rapport::MergeRequest::new(ann, dup, Actor::new("ops-7").unwrap()),
    ))
    .unwrap();
    let (p, ch) = (Purpose::Marketing, ContactChannel::Email);
    let e = block_on(svc.grant(T, dup, ConsentRequest::new(p, ch, "form"))).unwrap();
    assert_eq!(e.customer, ann);
    let survivor = block_on(svc.customer(T, ann)).unwrap().customer;
    assert!(survivor.consents.allows(p, ch));
    block_on(svc.request_consent(T, dup, ConsentRequest::new(Purpose::Profiling, ch, "form")))
        .unwrap();
    let c = block_on(svc.confirm(T, dup, Purpose::Profiling, ch, "link")).unwrap();
    assert_eq!(c.customer, ann);
    assert_eq!(block_on(svc.consents(T, ann)).unwrap().len(), 3);
    let ann_now = block_on(svc.customer(T, ann)).unwrap().customer;
    assert!(ann_now.consents.allows(Purpose::Profiling, ch));
}

/// The ledger read through a merged id is the survivor's: the loser's entries moved there with
/// the merge, and the merged id (or a chain of them) reads all of them; an unknown id has none.
#[test]
fn consents_of_a_merged_id_are_the_survivors_ledger() {
    let svc = Service::new(MemoryStore::new());
    let [ann, dup, old] = [0; 3].map(|_| {
        block_on(svc.register(T, Profile::default()))
            .unwrap()
            .customer
            .id()
    });
    let (p, ch) = (Purpose::Marketing, ContactChannel::Email);
    block_on(svc.grant(T, ann, ConsentRequest::new(p, ch, "form-ann"))).unwrap();
    block_on(svc.grant(
        T,
        dup,
        ConsentRequest::new(p, ContactChannel::Sms, "form-dup"),
    ))
    .unwrap();
    block_on(svc.withdraw(T, old, ConsentRequest::new(p, ch, "form-old"))).unwrap();
    let ops = Actor::new("ops-7").unwrap();
    // `old` into `dup`, then `dup` into `ann`: a chain.
    block_on(svc.merge(T, rapport::MergeRequest::new(dup, old, ops.clone()))).unwrap();
    block_on(svc.merge(T, rapport::MergeRequest::new(ann, dup, ops))).unwrap();
    let ledger = block_on(svc.consents(T, ann)).unwrap();
    assert_eq!(ledger.len(), 3);
    assert!(ledger.iter().all(|e| e.customer == ann));
    for id in [dup, old] {
        assert_eq!(block_on(svc.consents(T, id)).unwrap(), ledger, "{id}");
    }
    assert!(
        block_on(svc.consents(T, CustomerId::from_u128(99)))
            .unwrap()
            .is_empty()
    );
}

/// `sweep_with_retention` runs the retention policy and the sweep: the dry run counts the
/// customers due and erases none (the sweep evaluates everyone); the run erases them first,
/// so the sweep evaluates only the live customers left; a second run finds none due. The
/// blocking twin answers the same.
#[test]
fn the_librarys_sweep_applies_the_retention_policy() {
    let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap();
    let clock = ManualClock::at(t0);
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let stale: Vec<CustomerId> = (0..3)
        .map(|_| {
            block_on(svc.register(T, Profile::default()))
                .unwrap()
                .customer
                .id()
        })
        .collect();
    let active = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    let amount = Money::new(rust_decimal::Decimal::new(4_250, 2), Currency::USD);
    clock.advance(Duration::days(380));
    block_on(svc.record(
        T,
        NewActivity::purchase(active, "o-1", amount, svc.now()).unwrap(),
    ))
    .unwrap();
    let fresh = block_on(svc.register(T, Profile::default()))
        .unwrap()
        .customer
        .id();
    clock.advance(Duration::days(10));
    let now = svc.now();
    let policy = privacy::RetentionPolicy { inactive_days: 365 };

    let dry = block_on(svc.sweep_with_retention(T, now, 2, policy, true, |_| {})).unwrap();
    assert_eq!((dry.retention.due, dry.retention.erased), (3, 0));
    assert_eq!(dry.sweep.evaluated, 5, "the dry run erased nothing");
    for id in &stale {
        assert!(block_on(svc.customer(T, *id)).unwrap().customer.is_live());
    }

    let mut batches = 0;
    let run =
        block_on(svc.sweep_with_retention(T, now, 2, policy, false, |_| batches += 1)).unwrap();
    assert_eq!((run.retention.due, run.retention.erased), (3, 3));
    assert_eq!(
        run.sweep.evaluated, 2,
        "the erased customers were evaluated"
    );
    assert!(batches > 0);
    for id in &stale {
        let r = block_on(svc.customer(T, *id)).unwrap();
        assert_eq!(r.customer.stage(), Stage::Erased);
        let record = block_on(svc.erasure(T, *id)).unwrap().unwrap();
        assert_eq!(
            (record.reason.as_str(), record.requester.as_str()),
            ("retention", "retention-policy")
        );
    }
    for id in [active, fresh] {
        assert!(block_on(svc.customer(T, id)).unwrap().customer.is_live());
    }

    let blocking = rapport::blocking::Service::from_async(svc);
    let again = blocking
        .sweep_with_retention(T, now, 2, policy, false, |_| {})
        .unwrap();
    assert_eq!((again.retention.due, again.retention.erased), (0, 0));
    assert_eq!(again.sweep.evaluated, 2);
}

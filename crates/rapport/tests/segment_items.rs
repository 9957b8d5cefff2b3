//! Segments on line items through the service: `find` with `bought` / `category_spend`, a tag
//! rule on `bought(...)` decided when a purchase with lines is recorded, undone by a refund of
//! those lines, and decided by the sweep; a store without line items leaves such a tag alone.
#![allow(clippy::unwrap_used, missing_docs)]

use rapport::NewActivity;
use rapport::blocking::Service;
use rapport::core::*;
use rapport_memory::MemoryStore;

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

fn line(sku: &str, cat: &str, price: &str) -> LineItem {
    LineItem::new(
        Sku::new(sku).unwrap(),
        1,
        usd(price),
        Some(ProductCategory::new(cat).unwrap()),
    )
    .unwrap()
}

fn policies() -> Policies {
    Policies {
        tier: TierPolicy {
            currency: Currency::USD,
            ..TierPolicy::default()
        },
        tag_rules: vec![
            TagRule::parse(r#"when bought("puer") then tag taste:puer"#).unwrap(),
            TagRule::parse(r#"when category_spend("tea", 365) > 50 then tag value:tea-lover"#)
                .unwrap(),
        ],
        ..Policies::default()
    }
}

fn tags<S: Store>(svc: &Service<S>, t: TenantId, id: CustomerId) -> Vec<String> {
    let c = svc.customer(t, id).unwrap().customer;
    let mut v: Vec<String> = c
        .tags
        .iter()
        .filter(|(_, info)| !info.is_expired(svc.now()))
        .map(|(tag, _)| tag.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn tag_rules_and_find_read_line_items() {
    let svc = Service::new(MemoryStore::new())
        .with_policies(policies())
        .unwrap();
    let t = TenantId::from_u128(1);
    let ann = svc.register(t, Profile::default()).unwrap().customer.id();
    let bob = svc.register(t, Profile::default()).unwrap().customer.id();
    let now = svc.now();
    // Ann: puer 60 + sencha 20 in one order; Bob: a cup.
    let buy = NewActivity::purchase(ann, "a-1", usd("80"), now).unwrap();
    svc.record_with_lines(
        t,
        buy,
        vec![line("puer", "tea", "60"), line("sencha", "tea", "20")],
        false,
    )
    .unwrap();
    let buy = NewActivity::purchase(bob, "b-1", usd("9"), now).unwrap();
    svc.record_with_lines(t, buy, vec![line("cup", "cups", "9")], false)
        .unwrap();
    // The rules saw the lines written with the purchase.
    assert_eq!(tags(&svc, t, ann), ["taste:puer", "value:tea-lover"]);
    assert!(tags(&svc, t, bob).is_empty());
    let find = |text: &str| -> Vec<CustomerId> {
        svc.find(t, &Segment::parse(text).unwrap())
            .unwrap()
            .iter()
            .map(|r| r.customer.id())
            .collect()
    };
    assert_eq!(find(r#"bought("puer")"#), [ann]);
    assert_eq!(find(r#"bought("cup")"#), [bob]);
    assert_eq!(find(r#"category_spend("tea", 30) == 80"#), [ann]);
    // With `clv_12m` the service re-checks the store's candidates itself, lines included.
    assert_eq!(find(r#"bought("puer") and not clv_12m > 1000000"#), [ann]);
    // Ann returns the puer: no longer bought, spend 20; both rule tags go.
    let refund = NewActivity::refund(ann, "a-1", usd("60"), now).unwrap();
    svc.record_with_lines(t, refund, vec![line("puer", "tea", "60")], false)
        .unwrap();
    assert!(tags(&svc, t, ann).is_empty(), "{:?}", tags(&svc, t, ann));
    assert!(find(r#"bought("puer")"#).is_empty());
    assert_eq!(find(r#"category_spend("tea", 30) == 20"#), [ann]);
    // The sweep decides the same: nothing to change.
    let report = svc.sweep(t, now, 100, |_| {}).unwrap();
    assert_eq!(report.changed, 0);
}

#[test]
fn the_sweep_decides_rules_on_line_items() {
    // Lines recorded before the rule existed: the sweep under the new policies tags the buyer.
    let store = std::sync::Arc::new(MemoryStore::new());
    let t = TenantId::from_u128(2);
    let plain = Service::new(store.clone());
    let ann = plain.register(t, Profile::default()).unwrap().customer.id();
    let buy = NewActivity::purchase(ann, "a-1", usd("60"), plain.now()).unwrap();
    plain
        .record_with_lines(t, buy, vec![line("puer", "tea", "60")], false)
        .unwrap();
    let ruled = Service::new(store).with_policies(policies()).unwrap();
    assert!(tags(&ruled, t, ann).is_empty());
    let report = ruled.sweep(t, ruled.now(), 100, |_| {}).unwrap();
    assert_eq!(report.changed, 1);
    assert_eq!(tags(&ruled, t, ann), ["taste:puer", "value:tea-lover"]);
}

/// Consent for everyone.
struct Everyone;
impl rapport::core::ports::ConsentSource for Everyone {
    fn allows(&self, _: &Customer, _: Purpose, _: ContactChannel) -> bool {
        true
    }
    fn withdrawn(&self, _: &Customer, _: Purpose, _: ContactChannel) -> bool {
        false
    }
}

#[test]
fn automation_conditions_read_line_items() {
    use futures::executor::block_on;
    use rapport::core::automation::{AutomationPolicy, RuleSet};
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 2, 11, 0, 0).unwrap();
    let svc = rapport::Service::new(MemoryStore::new()).with_clock(rapport::ManualClock::at(at));
    let t = TenantId::from_u128(3);
    let mut ids = Vec::new();
    for (n, sku) in ["puer", "cup"].iter().enumerate() {
        let id = block_on(svc.register(t, Profile::default()))
            .unwrap()
            .customer
            .id();
        let buy = NewActivity::purchase(id, format!("o-{n}"), usd("9"), at).unwrap();
        block_on(svc.record_with_lines(t, buy, vec![line(sku, "tea", "9")], false)).unwrap();
        ids.push(id);
    }
    let rules = RuleSet::new(
        serde_json::from_str(
            r#"[{"id": "puer-news", "trigger": {"schedule": {"at": "10:00"}},
                 "condition": "bought(\"puer\")",
                 "action": {"template": "puer-news", "channel": "email", "purpose": "marketing"}}]"#,
        )
        .unwrap(),
    )
    .unwrap();
    let policy = AutomationPolicy::default();
    // Scheduled for the puer buyer only, and sent: the condition holds again when it fires.
    let r = block_on(svc.fire_due_actions(t, &rules, &policy, &Everyone, at, 100)).unwrap();
    assert_eq!(
        (r.scheduled, r.sent, r.suppressed),
        (1, 1, 0),
        "{:?}",
        r.records
    );
    assert_eq!(r.records[0].customer, ids[0]);
}

/// The policies above, with the stats keeping the spend on tea.
fn tracking_tea() -> Policies {
    let mut p = policies();
    p.stats
        .category_spend
        .insert(ProductCategory::new("tea").unwrap());
    p
}

fn tea() -> ProductCategory {
    ProductCategory::new("tea").unwrap()
}

#[test]
fn stats_keep_tracked_spend_through_records_refunds_merges_and_refolds() {
    let svc = Service::new(MemoryStore::new())
        .with_policies(tracking_tea())
        .unwrap();
    let t = TenantId::from_u128(3);
    let ann = svc.register(t, Profile::default()).unwrap().customer.id();
    let bob = svc.register(t, Profile::default()).unwrap().customer.id();
    let now = svc.now();
    let buy = NewActivity::purchase(ann, "a-1", usd("80"), now).unwrap();
    svc.record_with_lines(
        t,
        buy,
        vec![line("puer", "tea", "60"), line("cup", "cups", "20")],
        false,
    )
    .unwrap();
    let buy = NewActivity::purchase(bob, "b-1", usd("30"), now).unwrap();
    svc.record_with_lines(t, buy, vec![line("sencha", "tea", "30")], false)
        .unwrap();
    let spend = |id| {
        svc.customer(t, id)
            .unwrap()
            .stats
            .category_spend(&tea(), 365, now)
    };
    assert_eq!(spend(ann), Some("60".parse().unwrap()));
    assert_eq!(spend(bob), Some("30".parse().unwrap()));
    // Cups are not tracked: answered from the line items.
    let cups = ProductCategory::new("cups").unwrap();
    assert!(!svc.customer(t, ann).unwrap().stats.tracks_category(&cups));
    // Tag rules and find decide as they do from the line items.
    assert_eq!(tags(&svc, t, ann), ["taste:puer", "value:tea-lover"]);
    let find = |text: &str| -> Vec<CustomerId> {
        svc.find(t, &Segment::parse(text).unwrap())
            .unwrap()
            .iter()
            .map(|r| r.customer.id())
            .collect()
    };
    assert_eq!(find(r#"category_spend("tea", 30) == 60"#), [ann]);
    assert_eq!(find(r#"category_spend("cups", 30) == 20"#), [ann]);
    // A refund of the puer: subtracted on the purchase day, the tea-lover tag goes.
    let refund = NewActivity::refund(ann, "a-1", usd("60"), now).unwrap();
    svc.record_with_lines(t, refund, vec![line("puer", "tea", "60")], false)
        .unwrap();
    assert_eq!(spend(ann), Some("0".parse().unwrap()));
    assert!(tags(&svc, t, ann).is_empty());
    // A merge folds both histories with their lines; the undo gives each its own back.
    let m = svc
        .merge(
            t,
            rapport::MergeRequest::new(ann, bob, Actor::new("alice").unwrap()),
        )
        .unwrap();
    assert_eq!(
        m.stats.category_spend(&tea(), 365, now),
        Some("30".parse().unwrap())
    );
    assert_eq!(spend(ann), Some("30".parse().unwrap()));
    svc.unmerge(t, m.record.id).unwrap();
    assert_eq!(spend(ann), Some("0".parse().unwrap()));
    assert_eq!(spend(bob), Some("30".parse().unwrap()));
    // Nothing to re-fold: the stats are those of the whole history already.
    let before = svc.customer(t, ann).unwrap();
    let after = svc.refold_stats(t, ann).unwrap();
    assert_eq!(after.stats, before.stats);
    assert_eq!(after.customer.version(), before.customer.version());
}

#[test]
fn stats_folded_under_another_policy_fall_back_to_the_line_items_until_refolded() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let t = TenantId::from_u128(4);
    let plain = Service::new(store.clone());
    let ann = plain.register(t, Profile::default()).unwrap().customer.id();
    let buy = NewActivity::purchase(ann, "a-1", usd("60"), plain.now()).unwrap();
    plain
        .record_with_lines(t, buy, vec![line("puer", "tea", "60")], false)
        .unwrap();
    let svc = Service::new(store).with_policies(tracking_tea()).unwrap();
    let now = svc.now();
    // A later purchase: the stats cannot catch up alone, so they keep no tea spend.
    let buy = NewActivity::purchase(ann, "a-2", usd("10"), now).unwrap();
    svc.record_with_lines(t, buy, vec![line("sencha", "tea", "10")], false)
        .unwrap();
    assert!(!svc.customer(t, ann).unwrap().stats.tracks_category(&tea()));
    let find = |text: &str| -> Vec<CustomerId> {
        svc.find(t, &Segment::parse(text).unwrap())
            .unwrap()
            .iter()
            .map(|r| r.customer.id())
            .collect()
    };
    assert_eq!(find(r#"category_spend("tea", 30) == 70"#), [ann]);
    // The sweep reads the lines of such a customer and decides the tea rule.
    svc.sweep(t, now, 100, |_| {}).unwrap();
    assert_eq!(tags(&svc, t, ann), ["taste:puer", "value:tea-lover"]);
    let r = svc.refold_stats(t, ann).unwrap();
    assert_eq!(
        r.stats.category_spend(&tea(), 30, now),
        Some("70".parse().unwrap())
    );
    assert_eq!(find(r#"category_spend("tea", 30) == 70"#), [ann]);
}

/// A full refund recorded without lines gives back what is left of its order's lines: the
/// order no longer counts in `bought(...)`, `category_spend(...)` or the recommendation
/// model's purchases; a partial refund without lines gives nothing back.
#[test]
fn a_full_refund_without_lines_returns_the_orders_lines() {
    let svc = Service::new(MemoryStore::new())
        .with_policies(policies())
        .unwrap();
    let t = TenantId::from_u128(1);
    let ann = svc.register(t, Profile::default()).unwrap().customer.id();
    let now = svc.now();
    let mut two_puer = line("puer", "tea", "30");
    two_puer.quantity = 2;
    let buy = NewActivity::purchase(ann, "a-1", usd("80"), now).unwrap();
    svc.record_with_lines(t, buy, vec![two_puer, line("sencha", "tea", "20")], false)
        .unwrap();
    let find = |text: &str| -> usize { svc.find(t, &Segment::parse(text).unwrap()).unwrap().len() };
    assert_eq!(find(r#"bought("puer")"#), 1);
    // One puer given back with its line, then 10 back without lines: not the full order.
    let mut one_puer = line("puer", "tea", "30");
    one_puer.quantity = 1;
    let back =
        NewActivity::refund(ann, "a-1", usd("30"), now + chrono::Duration::seconds(1)).unwrap();
    svc.record_with_lines(t, back, vec![one_puer], false)
        .unwrap();
    let back =
        NewActivity::refund(ann, "a-1", usd("10"), now + chrono::Duration::seconds(2)).unwrap();
    svc.record(t, back).unwrap();
    assert_eq!(find(r#"bought("puer")"#), 1);
    assert_eq!(find(r#"bought("sencha")"#), 1);
    let lines = futures::executor::block_on(Store::purchase_lines(svc.store(), t, ann))
        .unwrap()
        .unwrap();
    assert_eq!(lines.iter().filter(|l| l.refund).count(), 1, "{lines:?}");
    // The rest (40) refunds the order in full: the puer and the sencha left come back.
    let back =
        NewActivity::refund(ann, "a-1", usd("40"), now + chrono::Duration::seconds(3)).unwrap();
    svc.record(t, back).unwrap();
    let lines = futures::executor::block_on(Store::purchase_lines(svc.store(), t, ann))
        .unwrap()
        .unwrap();
    let given_back: Vec<(String, u32)> = lines
        .iter()
        .rfind(|l| l.refund)
        .unwrap()
        .items
        .iter()
        .map(|l| (l.sku.to_string(), l.quantity))
        .collect();
    assert_eq!(
        given_back,
        [("puer".to_owned(), 1), ("sencha".to_owned(), 1)]
    );
    assert_eq!(find(r#"bought("puer")"#), 0);
    assert_eq!(find(r#"bought("sencha")"#), 0);
    assert_eq!(find(r#"category_spend("tea", 30) > 0"#), 0);
    assert!(svc.purchases(t).unwrap().pairs.is_empty());
    assert!(tags(&svc, t, ann).is_empty());
}

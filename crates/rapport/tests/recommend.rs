//! `Service::recommend` over line items recorded through the service: the same numbers as the
//! pure model built by hand, refunds netted out, cold start by tier.
#![allow(clippy::unwrap_used, missing_docs)]

use rapport::NewActivity;
use rapport::blocking::Service;
use rapport::core::recommend::{CosineParams, ItemModel};
use rapport::core::*;
use rapport_memory::MemoryStore;

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

fn line(sku: &str) -> LineItem {
    LineItem::new(Sku::new(sku).unwrap(), 1, usd("2.00"), None).unwrap()
}

#[test]
fn recommendations_follow_the_line_items() {
    let svc = Service::new(MemoryStore::new());
    let t = TenantId::from_u128(1);
    let baskets: [&[&str]; 5] = [
        &["tea", "cup"],
        &["tea", "cup"],
        &["tea", "cup", "kettle"],
        &["tea", "kettle"],
        &["tea"],
    ];
    let mut ids = Vec::new();
    for (n, b) in baskets.iter().enumerate() {
        let id = svc.register(t, Profile::default()).unwrap().customer.id();
        let amount = usd(&format!("{}.00", 2 * b.len()));
        let buy = NewActivity::purchase(id, format!("o-{n}"), amount, svc.now()).unwrap();
        svc.record_with_lines(t, buy, b.iter().map(|s| line(s)).collect(), false)
            .unwrap();
        ids.push(id);
    }
    let params = CosineParams {
        min_support: 1,
        neighbours: 50,
    };
    let r = svc.recommend_with(t, ids[4], 2, params).unwrap();
    assert!(!r.cold_start);
    // By hand: cup 3/sqrt(5·3) ≈ 0.775, kettle 2/sqrt(5·2) ≈ 0.632.
    assert_eq!(r.items[0].sku.as_str(), "cup");
    assert!((r.items[0].score - 3.0 / 15f64.sqrt()).abs() < 1e-12);
    assert_eq!(r.items[1].sku.as_str(), "kettle");
    assert!((r.items[1].score - 2.0 / 10f64.sqrt()).abs() < 1e-12);
    assert_eq!(r.items[0].because[0].0.as_str(), "tea");
    // The service's model is the pure model of the same pairs.
    let p = svc.purchases(t).unwrap();
    let model = ItemModel::build(p.pairs.iter().map(|(c, s)| (*c, s)), params);
    assert_eq!(
        model.recommend(&[Sku::new("tea").unwrap()], 2, |_| false),
        r.items
    );
    // A mismatched total is refused, with nothing written.
    let id = ids[4];
    let buy = NewActivity::purchase(id, "o-bad", usd("5.00"), svc.now()).unwrap();
    let err = svc
        .record_with_lines(t, buy.clone(), vec![line("cup")], false)
        .unwrap_err();
    assert!(err.to_string().contains("add up to"), "{err}");
    assert_eq!(svc.purchases(t).unwrap().pairs.len(), p.pairs.len());
    // Allowed when the host says so.
    svc.record_with_lines(t, buy, vec![line("cup")], true)
        .unwrap();
    assert!(
        svc.purchases(t)
            .unwrap()
            .pairs
            .contains(&(id, Sku::new("cup").unwrap()))
    );
}

#[test]
fn a_customer_with_nothing_bought_gets_the_tiers_favourites() {
    let svc = Service::new(MemoryStore::new());
    let t = TenantId::from_u128(1);
    for (n, sku) in ["a", "b", "b"].iter().enumerate() {
        let id = svc.register(t, Profile::default()).unwrap().customer.id();
        let buy = NewActivity::purchase(id, format!("o-{n}"), usd("2.00"), svc.now()).unwrap();
        svc.record_with_lines(t, buy, vec![line(sku)], false)
            .unwrap();
    }
    let newcomer = svc.register(t, Profile::default()).unwrap().customer.id();
    let r = svc.recommend(t, newcomer, 5).unwrap();
    assert!(r.cold_start);
    let top = svc.top_products_by_tier(t, 5).unwrap();
    // Every buyer is in one tier here; a newcomer in another tier gets that tier's list.
    let same_tier: Vec<_> = top
        .iter()
        .find(|(tier, _)| *tier == r.tier)
        .map(|(_, l)| l.iter().map(|(s, _)| s.clone()).collect())
        .unwrap_or_default();
    let got: Vec<Sku> = r.items.iter().map(|i| i.sku.clone()).collect();
    assert_eq!(got, same_tier);
    assert_eq!(top.iter().map(|(_, l)| l.len()).sum::<usize>(), 2);
}

//! Accounts' value through the service: attribution, roll-ups over a group, the sweep, and how
//! erasure and merge of a contact leave the account's figures.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use rapport::blocking::Service;
use rapport::core::*;
use rapport::{ManualClock, MergeRequest, NewActivity};
use rapport_memory::MemoryStore;

const T: TenantId = TenantId::from_u128(1);

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

fn svc() -> Service<MemoryStore> {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
    Service::new(MemoryStore::new()).with_clock(ManualClock::at(now))
}

#[test]
fn erasing_a_contact_keeps_the_accounts_aggregates_to_the_cent() {
    let svc = svc();
    let acme = svc
        .create_account(T, AccountName::new("Acme").unwrap(), None)
        .unwrap();
    let ann = svc.register(T, Profile::default()).unwrap().customer.id();
    let bob = svc.register(T, Profile::default()).unwrap().customer.id();
    let at = svc.now() - Duration::days(10);
    svc.record_for_account(
        T,
        acme.id(),
        NewActivity::purchase(ann, "SO-1", usd("1234.56"), at).unwrap(),
    )
    .unwrap();
    svc.record_for_account(
        T,
        acme.id(),
        NewActivity::purchase(bob, "SO-2", usd("0.44"), at).unwrap(),
    )
    .unwrap();
    let before = svc.account_view(T, acme.id()).unwrap();
    assert_eq!(before.stats.revenue(), Some(usd("1235.00")));

    svc.erase(T, ann, "ticket-1", "gdpr-art17").unwrap();
    let after = svc.account_view(T, acme.id()).unwrap();
    assert_eq!(after.stats, before.stats);
    assert_eq!(after.revenue_by_contact, before.revenue_by_contact);
    assert_eq!(after.evaluation.tier.to, before.evaluation.tier.to);
}

#[test]
fn a_merge_hands_attributed_purchases_and_links_to_the_survivor() {
    let svc = svc();
    let acme = svc
        .create_account(T, AccountName::new("Acme").unwrap(), None)
        .unwrap();
    let ann = svc.register(T, Profile::default()).unwrap().customer.id();
    let dup = svc.register(T, Profile::default()).unwrap().customer.id();
    svc.link_contact(T, acme.id(), dup, [AccountRole::Billing].into(), true)
        .unwrap();
    let at = svc.now() - Duration::days(3);
    svc.record_for_account(
        T,
        acme.id(),
        NewActivity::purchase(dup, "SO-9", usd("700"), at).unwrap(),
    )
    .unwrap();
    svc.merge(T, MergeRequest::new(ann, dup, Actor::new("test").unwrap()))
        .unwrap();

    let view = svc.account_view(T, acme.id()).unwrap();
    assert_eq!(view.stats.revenue(), Some(usd("700")));
    assert_eq!(view.revenue_by_contact.get(&ann), Some(&usd("700")));
    assert!(!view.revenue_by_contact.contains_key(&dup));
    assert_eq!(view.rollup.contacts, 1);
    assert_eq!(view.rollup.by_role.get(&AccountRole::Billing), Some(&1));
    let links = svc.account_contacts(T, acme.id()).unwrap();
    assert!(
        links
            .iter()
            .any(|l| l.customer == ann && l.primary && l.is_active())
    );
}

#[test]
fn a_parents_figures_include_its_subsidiaries_and_the_sweep_writes_standings() {
    let svc = svc();
    let group = svc
        .create_account(T, AccountName::new("Group").unwrap(), None)
        .unwrap();
    let east = svc
        .create_account(T, AccountName::new("East").unwrap(), Some(group.id()))
        .unwrap();
    let west = svc
        .create_account(T, AccountName::new("West").unwrap(), Some(group.id()))
        .unwrap();
    let deep = svc
        .create_account(T, AccountName::new("Deep").unwrap(), Some(east.id()))
        .unwrap();
    let ann = svc.register(T, Profile::default()).unwrap().customer.id();
    let now = svc.now();
    for (i, (acct, amount, days)) in [
        (east.id(), "1500", 200),
        (deep.id(), "600", 100),
        (west.id(), "90", 20),
        (group.id(), "10", 5),
    ]
    .into_iter()
    .enumerate()
    {
        let order = format!("SO-{i}");
        svc.record_for_account(
            T,
            acct,
            NewActivity::purchase(ann, &order, usd(amount), now - Duration::days(days)).unwrap(),
        )
        .unwrap();
    }
    let g = svc.account_view(T, group.id()).unwrap();
    assert_eq!(g.stats.revenue(), Some(usd("10")));
    assert_eq!(g.group_stats.revenue(), Some(usd("2200")));
    assert_eq!(g.group_stats.orders(), 4);
    assert_eq!(g.evaluation.tier.to, Tier::Gold); // 2,200 in the last 365 days
    assert_eq!(
        svc.account_view(T, east.id())
            .unwrap()
            .group_stats
            .revenue(),
        Some(usd("2100"))
    );

    let s = svc.sweep_accounts(T, now).unwrap();
    assert_eq!((s.accounts, s.changed), (4, 4));
    assert_eq!(svc.account(T, group.id()).unwrap().tier(), Tier::Gold);
    assert_eq!(svc.account(T, group.id()).unwrap().stage(), Stage::Active);
    assert_eq!(svc.account(T, deep.id()).unwrap().tier(), Tier::Iron);
    assert_eq!(svc.account(T, west.id()).unwrap().tier(), Tier::Lead);
    // A later sweep with nothing new: no write.
    assert_eq!(svc.sweep_accounts(T, now).unwrap().changed, 0);
    // 500 days on, with no purchase since, the group has churned and fallen back a rung (after
    // the grace period) — decided by the same machine as for people.
    let later = now + Duration::days(500); // churn_after: 2 × (3 × the 80-day median gap)
    svc.sweep_accounts(T, later).unwrap();
    svc.sweep_accounts(T, later + Duration::days(40)).unwrap();
    let g = svc.account(T, group.id()).unwrap();
    assert_eq!(g.stage(), Stage::Churned);
    assert_eq!(g.tier(), Tier::Iron);
}

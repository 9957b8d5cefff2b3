//! The use cases of `Service` over rapport-memory, with a fixed clock and sequential ids:
//! each one's decision, what it stored, and its typed errors.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::*;
use rapport::{Error, IdSource, ManualClock, NewActivity, Service};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;
use std::sync::atomic::{AtomicU64, Ordering};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// Ids 1, 2, 3, … so the assertions can name them.
struct SequentialIds(AtomicU64);

impl IdSource for SequentialIds {
    fn next(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(self.0.fetch_add(1, Ordering::SeqCst).into())
    }
}

fn service() -> (Service<MemoryStore>, ManualClock) {
    let clock = ManualClock::at(t0());
    // The shop sells in euros: its tier thresholds are amounts in EUR.
    let svc = Service::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_ids(SequentialIds(AtomicU64::new(1)))
        .with_policies(Policies::default().with_currency(Currency::EUR))
        .unwrap();
    (svc, clock)
}

const SHOP: TenantId = TenantId::from_u128(7);

fn profile(email: &str) -> Profile {
    Profile {
        email: Some(Pii::new(Email::parse(email).unwrap())),
        ..Profile::default()
    }
}

fn purchase(customer: CustomerId, key: &str, at: DateTime<Utc>, amount: i64) -> NewActivity {
    NewActivity {
        customer,
        at,
        channel: Channel::Web,
        idempotency_key: IdempotencyKey::new(key).unwrap(),
        kind: ActivityKind::Purchase {
            order_id: OrderId::new(format!("o-{key}")).unwrap(),
            amount: Money::new(Decimal::new(amount, 0), Currency::EUR),
            margin: None,
        },
    }
}

#[test]
fn register_dedupes_by_normalised_email() {
    let (svc, _) = service();
    let a = block_on(svc.register(SHOP, profile("Li.Na@Example.com"))).unwrap();
    assert!(a.created);
    let b = block_on(svc.register(SHOP, profile("li.na@example.COM"))).unwrap();
    assert!(!b.created);
    assert_eq!(a.customer.id(), b.customer.id());
    // Another tenant is another world.
    let c = block_on(svc.register(TenantId::from_u128(8), profile("li.na@example.com"))).unwrap();
    assert!(c.created);
    assert_ne!(c.customer.id(), a.customer.id());
    assert_eq!(
        svc.store().pending_outbox().unwrap(),
        2,
        "one CustomerRegistered each"
    );
}

#[test]
fn recording_is_idempotent_and_moves_tier_and_stage() {
    let (svc, _) = service();
    let id = block_on(svc.register(SHOP, profile("a@b.co")))
        .unwrap()
        .customer
        .id();
    let first =
        block_on(svc.record(SHOP, purchase(id, "k1", t0() - Duration::days(20), 1500))).unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.customer.stage(), Stage::New);
    let again =
        block_on(svc.record(SHOP, purchase(id, "k1", t0() - Duration::days(20), 1500))).unwrap();
    assert!(again.duplicate && again.evaluation.is_none());
    let second =
        block_on(svc.record(SHOP, purchase(id, "k2", t0() - Duration::days(2), 1000))).unwrap();
    assert_eq!(second.customer.stage(), Stage::Active);
    assert_eq!(
        second.customer.tier(),
        Tier::Gold,
        "2,500 of revenue in 365 days"
    );
    let e = second.evaluation.unwrap();
    assert!(
        e.events
            .iter()
            .any(|ev| matches!(ev, DomainEvent::TierChanged { .. }))
    );
    let r = block_on(svc.customer(SHOP, id)).unwrap();
    assert_eq!(
        r.customer.version(),
        3,
        "created, then two recorded purchases (the duplicate wrote nothing)"
    );
    assert_eq!(
        block_on(svc.timeline(SHOP, id, TimeRange::all()))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn unknown_customers_and_bad_amounts_are_typed_errors() {
    let (svc, _) = service();
    let missing = CustomerId::from_u128(999);
    assert!(matches!(
        block_on(svc.record(SHOP, purchase(missing, "k", t0(), 5))),
        Err(Error::NotFound(id)) if id == missing
    ));
    let id = block_on(svc.register(SHOP, profile("x@y.co")))
        .unwrap()
        .customer
        .id();
    assert!(matches!(
        block_on(svc.record(SHOP, purchase(id, "neg", t0(), -5))),
        Err(Error::Domain(_))
    ));
    let r = block_on(svc.customer(SHOP, id)).unwrap();
    assert_eq!(r.customer.version(), 1, "nothing written");
}

#[test]
fn tags_pins_and_overrides() {
    let (svc, clock) = service();
    let id = block_on(svc.register(SHOP, profile("p@q.co")))
        .unwrap()
        .customer
        .id();
    let vip = Tag::new("value", "vip").unwrap();
    let c = block_on(svc.tag(SHOP, id, vip.clone(), None)).unwrap();
    assert!(c.tags.contains(&vip, t0()));
    let c = block_on(svc.untag(SHOP, id, &vip)).unwrap();
    assert!(!c.tags.contains(&vip, t0()));

    let li = Actor::new("li").unwrap();
    // A pin needs a reason and an expiry after now.
    assert!(matches!(
        block_on(svc.pin_tier(
            SHOP,
            id,
            Tier::Platinum,
            li.clone(),
            "  ",
            t0() + Duration::days(30)
        )),
        Err(Error::Domain(DomainError::InvalidText { .. }))
    ));
    assert!(matches!(
        block_on(svc.pin_tier(SHOP, id, Tier::Platinum, li.clone(), "key account", t0())),
        Err(Error::Domain(DomainError::InvalidText { .. }))
    ));
    let e = block_on(svc.pin_tier(
        SHOP,
        id,
        Tier::Platinum,
        li.clone(),
        "key account",
        t0() + Duration::days(30),
    ))
    .unwrap();
    assert_eq!(e.tier.to, Tier::Platinum);
    assert_eq!(
        block_on(svc.customer(SHOP, id)).unwrap().customer.tier(),
        Tier::Platinum
    );
    // After the pin expires the rules resume from the pinned tier: no revenue, so a
    // downgrade of one rung once the grace period has passed.
    clock.advance(Duration::days(31));
    block_on(svc.evaluate(SHOP, id)).unwrap();
    clock.advance(Duration::days(31));
    let after = block_on(svc.evaluate(SHOP, id)).unwrap().tier.to;
    assert!(after < Tier::Platinum, "the pin no longer holds: {after:?}");

    let before = block_on(svc.customer(SHOP, id)).unwrap().customer.stage();
    assert_eq!(before, Stage::Prospect);
    let e = block_on(svc.override_stage(
        SHOP,
        id,
        Stage::Active,
        li.clone(),
        "pilot",
        svc.now() + Duration::days(10),
    ))
    .unwrap();
    assert_eq!((e.stage.from, e.stage.to), (Stage::Prospect, Stage::Active));
    assert!(
        e.events.iter().any(|ev| matches!(
            ev,
            DomainEvent::StageChanged {
                from: Stage::Prospect,
                to: Stage::Active,
                ..
            }
        )),
        "an override is a stage change like any other: {:?}",
        e.events
    );
    assert_eq!(
        block_on(svc.customer(SHOP, id)).unwrap().customer.stage(),
        Stage::Active
    );
    assert!(matches!(
        block_on(svc.override_stage(
            SHOP,
            id,
            Stage::Erased,
            li,
            "no",
            svc.now() + Duration::days(10)
        )),
        Err(Error::Domain(DomainError::IllegalTransition { .. }))
    ));
}

#[test]
fn update_profile_writes_only_real_changes() {
    let (svc, _) = service();
    let id = block_on(svc.register(SHOP, profile("n@m.co")))
        .unwrap()
        .customer
        .id();
    let c = block_on(svc.update_profile(SHOP, id, |p| {
        p.display_name = Some(Pii::new(Profile::normalise_name(" Ma  Li ")?));
        Ok(())
    }))
    .unwrap();
    assert_eq!(c.version(), 2);
    assert_eq!(c.profile.display_name.as_ref().unwrap().expose(), "Ma Li");
    // An edit that changes nothing writes nothing; an edit that fails writes nothing.
    assert_eq!(
        block_on(svc.update_profile(SHOP, id, |_| Ok(())))
            .unwrap()
            .version(),
        2
    );
    assert!(
        block_on(svc.update_profile(SHOP, id, |p| {
            p.display_name = Some(Pii::new(Profile::normalise_name("   ")?));
            Ok(())
        }))
        .is_err()
    );
    assert_eq!(
        block_on(svc.customer(SHOP, id)).unwrap().customer.version(),
        2
    );
}

#[test]
fn names_are_normalised_on_every_write_and_reported() {
    let (svc, _) = service();
    let named = |name: &str, email: &str| Profile {
        display_name: Some(Pii::new(name.to_owned())),
        ..profile(email)
    };
    // Register: trimmed, whitespace collapsed, NFC (a decomposed é composed), case kept.
    let r = block_on(svc.register(SHOP, named("  Jose\u{301}   DA Silva\t", "jd@s.co"))).unwrap();
    assert!(r.created);
    assert_eq!(r.normalised, [MergeField::DisplayName]);
    assert_eq!(
        r.customer.profile.display_name.as_ref().unwrap().expose(),
        "Jos\u{e9} DA Silva"
    );
    // The same person spelled with other spaces is nothing new; a normal name is not reported.
    let again = block_on(svc.register(SHOP, named("José DA  Silva", "jd@s.co"))).unwrap();
    assert!(!again.created && again.differs.is_empty());
    assert_eq!(again.normalised, [MergeField::DisplayName]);
    let plain = block_on(svc.register(SHOP, named("Ann Lee", "al@s.co"))).unwrap();
    assert!(plain.normalised.is_empty());
    let bo = block_on(svc.register_new(SHOP, named("  Bo \n Li", "bo@s.co"))).unwrap();
    assert_eq!(bo.profile.display_name.as_ref().unwrap().expose(), "Bo Li");
    // Register-or-update compares and writes the normal form.
    let upd = block_on(svc.register_or_update(
        SHOP,
        named(" Ann  Li ", "al@s.co"),
        &SurvivorshipPolicy::default(),
    ))
    .unwrap();
    assert_eq!(upd.updated, [MergeField::DisplayName]);
    assert_eq!(
        upd.customer.profile.display_name.as_ref().unwrap().expose(),
        "Ann Li"
    );
    // Update: an edit's raw name is stored normal; a name with a control character is refused
    // with a typed error and nothing is written.
    let id = upd.customer.id();
    let c = block_on(svc.update_profile(SHOP, id, |p| {
        p.display_name = Some(Pii::new("  Ann   Lee ".into()));
        Ok(())
    }))
    .unwrap();
    assert_eq!(c.profile.display_name.as_ref().unwrap().expose(), "Ann Lee");
    assert!(matches!(
        block_on(svc.update_profile(SHOP, id, |p| {
            p.display_name = Some(Pii::new("Ann\u{7}Lee".into()));
            Ok(())
        })),
        Err(Error::Domain(DomainError::InvalidName { .. }))
    ));
    assert!(matches!(
        block_on(svc.register(SHOP, named("\u{7}", "x@s.co"))),
        Err(Error::Domain(DomainError::InvalidName { .. }))
    ));
    assert_eq!(block_on(svc.customer(SHOP, id)).unwrap().customer, c);
}

#[test]
fn sweep_reports_progress_and_settles() {
    let (svc, clock) = service();
    for i in 0..25 {
        let id = block_on(svc.register(SHOP, profile(&format!("c{i}@shop.co"))))
            .unwrap()
            .customer
            .id();
        for k in 0..(i % 4) {
            block_on(svc.record(
                SHOP,
                purchase(
                    id,
                    &format!("{i}-{k}"),
                    t0() - Duration::days(10 * i64::from(k) + 1),
                    100 * i64::from(i),
                ),
            ))
            .unwrap();
        }
    }
    clock.advance(Duration::days(400));
    let mut calls = Vec::new();
    let report = block_on(svc.sweep(SHOP, svc.now(), 10, |p| calls.push(p))).unwrap();
    assert_eq!(report.total, 25);
    assert_eq!(report.evaluated, 25);
    assert_eq!(calls.len(), 3, "batches of 10: 10, 20, 25");
    assert_eq!(calls.last().unwrap().evaluated, 25);
    assert!(
        report.changed > 0,
        "400 days later, buyers went silent or churned"
    );
    // Nothing left to change at the same now.
    let again = block_on(svc.sweep(SHOP, svc.now(), 10, |_| {})).unwrap();
    assert_eq!(again.changed, 0);
}

#[test]
fn a_share_ladder_sweep_ranks_first_and_knows_the_total() {
    let (svc, clock) = service();
    let mut policies = Policies::default().with_currency(Currency::EUR);
    policies.tier.ladder = TierLadder::classic_pyramid();
    let svc = svc.with_policies(policies).unwrap();
    for i in 0..20 {
        let id = block_on(svc.register(SHOP, profile(&format!("s{i}@shop.co"))))
            .unwrap()
            .customer
            .id();
        block_on(svc.record(
            SHOP,
            purchase(
                id,
                &format!("s{i}"),
                t0() - Duration::days(3),
                10 + i64::from(i),
            ),
        ))
        .unwrap();
    }
    clock.advance(Duration::days(1));
    let mut first_total = None;
    let report = block_on(svc.sweep(SHOP, svc.now(), 5, |p| {
        first_total.get_or_insert(p.total);
    }))
    .unwrap();
    assert_eq!(
        first_total,
        Some(20),
        "the ranking pass counted everyone before the first batch"
    );
    assert_eq!(report.evaluated, 20);
    // classic_pyramid: top 20 % Platinum — the four biggest spenders.
    let mut platinum = Vec::new();
    let mut page = Page::first(100);
    page.after = None;
    for r in block_on(svc.store().scan(SHOP, page)).unwrap() {
        if r.customer.tier() == Tier::Platinum {
            platinum.push(r.stats.revenue());
        }
    }
    assert_eq!(platinum.len(), 4, "{platinum:?}");
    assert!(
        platinum
            .iter()
            .all(|v| v.unwrap().amount >= Decimal::from(26))
    );
}

/// Money has a currency, through the service: in a euro shop, 4,780 CNY of purchases are
/// recorded (stage and stats move) but not compared with the EUR ladder — the tier stays Lead,
/// no `tier_changed` event, and the reason names both currencies. The same amount in EUR makes
/// Gold. (Before the change both made Gold: 4780 was compared with 2000 as bare numbers.)
#[test]
fn a_purchase_in_another_currency_does_not_move_the_tier() {
    let (svc, _) = service();
    let cny = block_on(svc.register(SHOP, profile("cny@b.co")))
        .unwrap()
        .customer
        .id();
    let a = NewActivity::purchase(
        cny,
        "CN-1",
        Money::new(Decimal::new(478_000, 2), Currency::CNY),
        t0() - Duration::days(3),
    )
    .unwrap();
    let r = block_on(svc.record(SHOP, a)).unwrap();
    assert_eq!(
        (r.customer.tier(), r.customer.stage()),
        (Tier::Lead, Stage::New)
    );
    let e = r.evaluation.unwrap();
    assert_eq!(e.tier.reason.rule, "tier.currency_mismatch");
    let text = e.tier.reason.to_string();
    assert!(
        text.starts_with(
            "tier.currency_mismatch: revenue_365d = 4780.00 CNY against tier.currency = EUR"
        ),
        "{text}"
    );
    assert!(!e.events.iter().any(|ev| ev.name() == "tier_changed"));
    let eur = block_on(svc.register(SHOP, profile("eur@b.co")))
        .unwrap()
        .customer
        .id();
    let r =
        block_on(svc.record(SHOP, purchase(eur, "EU-1", t0() - Duration::days(3), 4780))).unwrap();
    assert_eq!(r.customer.tier(), Tier::Gold);
    let text = r.evaluation.unwrap().tier.reason.to_string();
    assert!(
        text.starts_with("tier.upgrade: revenue_365d = 4780 EUR against gold.entry = 2000 EUR"),
        "{text}"
    );
}

//! The seed automation scenarios end to end on the memory store: events go through the relay
//! into `AutomationNotifier`, due actions go through the guards into the outbox.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::core::automation::{ActionOutcome, AutomationPolicy, RuleSet, SuppressReason};
use rapport::core::ports::{ActionStore, ConsentSource};
use rapport::core::*;
use rapport::{AutomationNotifier, ManualClock, NewActivity, RelayConfig, Service, relay_once};
use rapport_memory::MemoryStore;

const RULES: &str = r#"[
  {"id": "cart-reminder", "trigger": {"activity": "cart_abandoned"},
   "delay": {"after": "24h", "cancel_on": ["purchase"]},
   "action": {"template": "cart-reminder", "channel": "email", "purpose": "marketing"}},
  {"id": "win-back", "trigger": {"stage_entered": "silent"},
   "action": {"template": "win-back-offer", "channel": "email", "purpose": "marketing"}},
  {"id": "vip-welcome", "trigger": {"tier_changed": {"direction": "up", "to": ["gold", "platinum"]}},
   "unless_caused_by": ["refund"],
   "action": {"template": "vip-welcome", "channel": "email", "purpose": "transactional"}},
  {"id": "welcome", "trigger": {"stage_entered": "new"}, "unless_caused_by": ["refund"],
   "action": {"template": "welcome", "channel": "email", "purpose": "transactional"}},
  {"id": "referral-invite", "trigger": {"schedule": {"at": "10:00"}}, "condition": "tier >= gold",
   "action": {"template": "referral-invite", "channel": "email", "purpose": "marketing"}}
]"#;

/// Consent for everyone except the customers listed.
struct AllBut(Mutex<Vec<CustomerId>>);
impl ConsentSource for AllBut {
    fn allows(&self, c: &Customer, _: Purpose, _: ContactChannel) -> bool {
        !self.0.lock().unwrap().contains(&c.id())
    }
    fn withdrawn(&self, c: &Customer, p: Purpose, ch: ContactChannel) -> bool {
        !self.allows(c, p, ch)
    }
}

/// Records every delivered message.
#[derive(Default)]
struct Inbox(Mutex<Vec<OutboxMessage>>);
impl Notifier for Inbox {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(m.clone());
        Ok(())
    }
}

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

struct Rig {
    store: Arc<MemoryStore>,
    svc: Service<Arc<MemoryStore>>,
    clock: ManualClock,
    rules: Arc<RuleSet>,
    inbox: Arc<Inbox>,
    t: TenantId,
}

impl Rig {
    fn new() -> Self {
        let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let clock = ManualClock::at(start);
        let store = Arc::new(MemoryStore::new());
        let svc = Service::new(store.clone()).with_clock(clock.clone());
        Self {
            store,
            svc,
            clock,
            rules: Arc::new(RuleSet::new(serde_json::from_str(RULES).unwrap()).unwrap()),
            inbox: Arc::new(Inbox::default()),
            t: TenantId::from_u128(1),
        }
    }

    /// Relays every event (recording triggers), then fires what is due, then relays again.
    async fn tick(&self, consents: &AllBut) -> rapport::FireReport {
        let feed =
            AutomationNotifier::new(self.store.clone(), self.rules.clone(), self.inbox.clone());
        let config = RelayConfig::default();
        while relay_once(&*self.store, &feed, &config, self.svc.now())
            .await
            .unwrap()
            .claimed
            > 0
        {}
        let r = self
            .svc
            .fire_due_actions(
                self.t,
                &self.rules,
                &AutomationPolicy::default(),
                consents,
                self.svc.now(),
                1_000,
            )
            .await
            .unwrap();
        while relay_once(&*self.store, &feed, &config, self.svc.now())
            .await
            .unwrap()
            .claimed
            > 0
        {}
        r
    }

    fn sent(&self) -> Vec<(CustomerId, String)> {
        self.inbox
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| match &m.event {
                DomainEvent::ActionDue {
                    customer, template, ..
                } => Some((*customer, template.clone())),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn the_seed_scenarios_end_to_end() {
    let rig = Rig::new();
    let t = rig.t;
    let consents = AllBut(Mutex::new(Vec::new()));
    let ann = rig
        .svc
        .register(t, Profile::default())
        .await
        .unwrap()
        .customer
        .id();
    let bob = rig
        .svc
        .register(t, Profile::default())
        .await
        .unwrap()
        .customer
        .id();
    let cy = rig
        .svc
        .register(t, Profile::default())
        .await
        .unwrap()
        .customer
        .id();

    // Ann abandons a cart and buys within the day: no reminder. Bob abandons and does not buy.
    let now = rig.svc.now();
    rig.svc
        .record(t, NewActivity::cart_abandoned(ann, None, now).unwrap())
        .await
        .unwrap();
    rig.svc
        .record(t, NewActivity::cart_abandoned(bob, None, now).unwrap())
        .await
        .unwrap();
    rig.tick(&consents).await;
    rig.clock.advance(Duration::hours(3));
    rig.svc
        .record(
            t,
            NewActivity::purchase(ann, "a1", usd("50"), rig.svc.now()).unwrap(),
        )
        .await
        .unwrap();
    rig.tick(&consents).await;
    assert_eq!(rig.sent(), [(ann, "welcome".to_owned())]);

    // Cy's first purchase is big: welcome and VIP welcome (Gold).
    rig.svc
        .record(
            t,
            NewActivity::purchase(cy, "c1", usd("2500"), rig.svc.now()).unwrap(),
        )
        .await
        .unwrap();
    rig.tick(&consents).await;
    rig.clock.advance(Duration::hours(22));
    let r = rig.tick(&consents).await;
    assert_eq!(r.sent, 1, "{r:?}"); // Bob's reminder, 24 h after the cart
    let sent = rig.sent();
    assert!(sent.contains(&(cy, "vip-welcome".to_owned())));
    assert!(sent.contains(&(bob, "cart-reminder".to_owned())));
    assert!(!sent.contains(&(ann, "cart-reminder".to_owned())));

    // Cy's order is refunded in full: Cy moves back (Prospect) and down a tier; a second
    // purchase later must not send a second VIP welcome within the cooldown, nor does the
    // refund's stage move fire anything.
    let before = rig.sent().len();
    rig.svc
        .record(
            t,
            NewActivity::refund(cy, "c1", usd("2500"), rig.svc.now()).unwrap(),
        )
        .await
        .unwrap();
    rig.tick(&consents).await;
    assert_eq!(
        rig.sent().len(),
        before,
        "a refund-caused move sent {:?}",
        &rig.sent()[before..]
    );
    let moved_by_refund = rig.inbox.0.lock().unwrap().iter().any(|m| {
        matches!(m.event, DomainEvent::StageChanged { customer, .. } if customer == cy)
            && matches!(
                m.cause,
                Some(EventCause::Activity {
                    kind: ActivityType::Refund,
                    ..
                })
            )
    });
    assert!(
        moved_by_refund,
        "the stage move carries the refund as its cause"
    );

    // The referral invitation: a daily 10:00 schedule for Gold and up; no one is Gold now.
    rig.clock.advance(Duration::hours(1));
    let r = rig.tick(&consents).await;
    assert_eq!(r.scheduled, 0);

    // Months pass: Ann (one purchase) goes Silent in the sweep: win-back, unless consent is gone.
    consents.0.lock().unwrap().push(bob);
    rig.clock.advance(Duration::days(100));
    rig.svc.sweep(t, rig.svc.now(), 100, |_| {}).await.unwrap();
    rig.tick(&consents).await;
    assert!(rig.sent().contains(&(ann, "win-back-offer".to_owned())));
    let log = rig
        .store
        .action_log(t, None, DateTime::<Utc>::MIN_UTC, 1_000)
        .await
        .unwrap();
    let cancelled = log
        .iter()
        .find(|r| r.customer == ann && r.rule.as_str() == "cart-reminder")
        .unwrap();
    assert_eq!(
        cancelled.outcome,
        ActionOutcome::Suppressed {
            reason: SuppressReason::Cancelled {
                by: rapport::core::automation::CancelReason::Activity {
                    kind: ActivityType::Purchase
                }
            }
        }
    );
    // Every sent action is logged once and was delivered once.
    let sent_lines = log.iter().filter(|r| r.is_sent()).count();
    assert_eq!(sent_lines, rig.sent().len());
}

#[tokio::test]
async fn replaying_the_relay_schedules_nothing_twice() {
    let rig = Rig::new();
    let t = rig.t;
    let bob = rig
        .svc
        .register(t, Profile::default())
        .await
        .unwrap()
        .customer
        .id();
    rig.svc
        .record(
            t,
            NewActivity::cart_abandoned(bob, None, rig.svc.now()).unwrap(),
        )
        .await
        .unwrap();
    // Claim with a zero lease (so the messages stay), record triggers twice, as a relay that
    // died before its ack would.
    for _ in 0..2 {
        for m in rig
            .store
            .claim_outbox(10, std::time::Duration::ZERO, rig.svc.now())
            .await
            .unwrap()
        {
            rapport::record_triggers(&*rig.store, &rig.rules, &m)
                .await
                .unwrap();
        }
    }
    assert_eq!(rig.store.pending_actions(t, bob).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_sla_breach_fires_its_rule_once_per_case_and_clock() {
    let rig = Rig::new();
    let t = rig.t;
    let rules = RuleSet::new(
        serde_json::from_str(
            r#"[
  {"id": "escalate-response", "trigger": {"sla_breached": {"clock": "first_response"}},
   "action": {"template": "call-back-now", "channel": "task", "purpose": "transactional"}},
  {"id": "apologise", "trigger": {"sla_breached": {"clock": "resolution"}},
   "delay": {"after": "1h"},
   "action": {"template": "apology", "channel": "email", "purpose": "transactional"}}
]"#,
        )
        .unwrap(),
    )
    .unwrap();
    let consents = AllBut(Mutex::new(Vec::new()));
    let ann = rig
        .svc
        .register(t, Profile::default())
        .await
        .unwrap()
        .customer
        .id();
    let case = rig
        .svc
        .open_case(
            t,
            rapport::OpenCase::new(
                ann,
                CaseCategory::new("outage").unwrap(),
                CaseSeverity::Urgent,
                Channel::Phone,
            ),
        )
        .await
        .unwrap();
    let policy = AutomationPolicy::default();
    // Within the first-response target: nothing.
    rig.clock.advance(Duration::minutes(30));
    assert_eq!(
        rig.svc
            .schedule_sla_breaches(t, &rules, rig.svc.now())
            .await
            .unwrap(),
        0
    );
    // Two hours in, the first response is late: the escalation task, once.
    rig.clock.advance(Duration::minutes(90));
    let now = rig.svc.now();
    assert_eq!(
        rig.svc.schedule_sla_breaches(t, &rules, now).await.unwrap(),
        1
    );
    assert_eq!(
        rig.svc.schedule_sla_breaches(t, &rules, now).await.unwrap(),
        0
    );
    let r = rig
        .svc
        .fire_due_actions(t, &rules, &policy, &consents, now, 100)
        .await
        .unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    assert_eq!(r.records[0].rule.as_str(), "escalate-response");
    // Later sweeps find the same breach: nothing new; the resolution breach (urgent: 8 h)
    // schedules the apology an hour after it.
    rig.clock.advance(Duration::hours(8));
    let now = rig.svc.now();
    assert_eq!(
        rig.svc.schedule_sla_breaches(t, &rules, now).await.unwrap(),
        1
    );
    let pending = rig.store.pending_actions(t, ann).await.unwrap();
    let breach = rig
        .svc
        .breached(t, now)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.case == case.id() && b.kind == SlaKind::Resolution)
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].due, breach.due + Duration::hours(1));
    let r = rig
        .svc
        .fire_due_actions(t, &rules, &policy, &consents, now + Duration::hours(2), 100)
        .await
        .unwrap();
    assert_eq!((r.sent, r.scheduled), (1, 0), "{r:?}");
    let log = rig
        .store
        .action_log(t, None, DateTime::<Utc>::UNIX_EPOCH, 100)
        .await
        .unwrap();
    let rules_sent: Vec<&str> = log
        .iter()
        .filter(|l| l.is_sent())
        .map(|l| l.rule.as_str())
        .collect();
    assert_eq!(rules_sent, ["escalate-response", "apologise"]);
}

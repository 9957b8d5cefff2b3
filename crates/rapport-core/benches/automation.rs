//! Rule evaluation per event — planning an event against five rules (and the customer's
//! pending actions), then the guards of the action it schedules — beside a baseline in the
//! same run: the rule's segment predicate alone on the same customer.
//!
//! Run: `cargo bench -p rapport-core --bench automation`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::automation::*;
use rapport_core::ports::CustomerConsents;
use rapport_core::*;

const EVENTS: usize = 10_000;

const RULES: &str = r#"[
  {"id": "cart-reminder", "trigger": {"activity": "cart_abandoned"}, "condition": "tier >= iron and days_since_last_purchase > 30",
   "delay": {"after": "24h", "cancel_on": ["purchase"]},
   "action": {"template": "cart", "channel": "email", "purpose": "marketing"}},
  {"id": "browse", "trigger": {"activity": "visit"}, "condition": "tier >= iron and days_since_last_purchase > 30",
   "action": {"template": "browse", "channel": "email", "purpose": "marketing"}},
  {"id": "win-back", "trigger": {"stage_entered": "silent"},
   "action": {"template": "win-back", "channel": "email", "purpose": "marketing"}},
  {"id": "vip", "trigger": {"tier_changed": {"direction": "up", "to": ["gold", "platinum"]}},
   "action": {"template": "vip", "channel": "email", "purpose": "transactional"}},
  {"id": "complaint", "trigger": {"activity": "complaint"},
   "action": {"template": "call", "channel": "task", "purpose": "transactional"}}
]"#;

fn bench(c: &mut Criterion) {
    let rules = RuleSet::new(serde_json::from_str(RULES).unwrap()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let t = TenantId::from_u128(1);
    let mut ann = Customer::new(
        t,
        CustomerId::from_u128(2),
        Profile::default(),
        now - Duration::days(400),
    );
    ann.consents.set(
        Purpose::Marketing,
        ContactChannel::Email,
        true,
        now,
        "signup",
    );
    let purchase = Activity::new(
        ActivityId::from_u128(1),
        ann.id(),
        now - Duration::days(60),
        Channel::Web,
        IdempotencyKey::new("p-1").unwrap(),
        ActivityKind::Purchase {
            order_id: OrderId::new("1").unwrap(),
            amount: Money::new(300.into(), Currency::USD),
            margin: None,
        },
    )
    .unwrap();
    let stats = Stats::from_activities([&purchase]).unwrap();
    let kinds = [
        ActivityType::Visit,
        ActivityType::CartAbandoned,
        ActivityType::Purchase,
        ActivityType::Complaint,
    ];
    let events: Vec<OutboxMessage> = (0..EVENTS)
        .map(|i| {
            OutboxMessage::new(
                MessageId::from_u128(i as u128 + 10),
                t,
                now,
                DomainEvent::ActivityRecorded {
                    customer: ann.id(),
                    activity: ActivityId::from_u128(i as u128),
                    kind: kinds[i % 4],
                },
            )
        })
        .collect();
    let policy = AutomationPolicy::default();
    let condition = rules.rules()[0].condition.clone().unwrap();

    let mut g = c.benchmark_group("automation");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("baseline: segment predicate alone", |b| {
        b.iter(|| {
            let mut n = 0;
            for _ in &events {
                let ctx = SegmentContext::new(&ann, &stats, now);
                n += usize::from(condition.matches(black_box(&ctx)));
            }
            n
        });
    });
    g.bench_function("rules: plan + guards", |b| {
        b.iter(|| {
            let mut sent = 0;
            for e in &events {
                let p = plan(&rules, black_box(e), &[]);
                for a in &p.schedule {
                    let rule = rules.get(&a.rule).unwrap();
                    let ctx = SegmentContext::new(&ann, &stats, now);
                    if decide_due(a, rule, &ctx, &CustomerConsents, &[], &policy, now)
                        == Verdict::Send
                    {
                        sent += 1;
                    }
                }
            }
            sent
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

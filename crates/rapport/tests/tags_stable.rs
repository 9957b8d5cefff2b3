//! A customer's tags and tier do not change when nothing about them changed: what a sweep
//! decided from the population ranking (RFM scores, a share ladder) is not undone by a
//! single-customer `evaluate`, `evaluate_at` or a `record` that moves no RFM value, and a
//! second sweep at the same `now` changes nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use proptest::prelude::*;
use rapport::core::*;
use rapport::{ManualClock, NewActivity, Service};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap()
}

fn policies(ladder: u8) -> Policies {
    let rules = [
        // Population rules, one negated (true without scores), one sharing its tag with a
        // rule on the customer's own stats.
        "when rfm.r >= 4 then tag value:recent",
        "when not rfm.m >= 3 then tag value:small",
        "when rfm.total >= 10 then tag value:core",
        "when orders >= 3 then tag value:core",
        "when rfm.f >= 2 and orders >= 1 then tag value:repeat for 30d",
        // A rule on the customer alone.
        "when orders >= 1 then tag behavior:buyer",
    ];
    let tier = match ladder {
        0 => TierLadder::vip_heavy(),
        1 => TierLadder::classic_pyramid(),
        _ => TierLadder {
            metric: TierMetric::RfmTotal,
            ..TierLadder::customer_pyramid()
        },
    };
    Policies {
        tag_rules: rules.iter().map(|r| TagRule::parse(r).unwrap()).collect(),
        tier: TierPolicy {
            ladder: tier,
            currency: Currency::EUR, // the purchases below are in EUR
            ..TierPolicy::default()
        },
        ..Policies::default()
    }
}

/// Tags (with source and expiry) and tier state of every customer, in id order.
fn snapshot(svc: &Service<MemoryStore>, t: TenantId, ids: &[CustomerId]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            let c = block_on(svc.customer(t, *id)).unwrap().customer;
            format!("{id} {:?} {:?}", c.tags, c.tier_state())
        })
        .collect()
}

/// Tag and tier events written since the last call (claims the outbox).
fn tag_events(svc: &Service<MemoryStore>) -> Vec<DomainEvent> {
    let claimed = block_on(svc.store().claim_outbox(
        100_000,
        StdDuration::from_secs(86_400),
        now(),
    ))
    .unwrap();
    claimed
        .into_iter()
        .map(|m| m.event)
        .filter(|e| {
            matches!(
                e,
                DomainEvent::TagAdded { .. }
                    | DomainEvent::TagRemoved { .. }
                    | DomainEvent::TierChanged { .. }
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Evaluate,
    EvaluateAt,
    /// A visit: a record that moves none of the customer's RFM values.
    Visit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Evaluate), Just(Op::EvaluateAt), Just(Op::Visit)]
}

/// Per customer: purchases as (days before `now`, amount).
fn population() -> impl Strategy<Value = Vec<Vec<(i64, u32)>>> {
    prop::collection::vec(prop::collection::vec((0i64..400, 1u32..3_000), 0..5), 3..25)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_single_customer_evaluation_keeps_what_the_sweep_decided(
        pop in population(),
        ladder in 0u8..3,
        batch in 1u32..8,
        ops in prop::collection::vec((any::<prop::sample::Index>(), op()), 1..20),
    ) {
        let svc = Service::new(MemoryStore::new())
            .with_clock(ManualClock::at(now()))
            .with_policies(policies(ladder))
            .unwrap();
        let t = TenantId::from_u128(1);
        let mut ids = Vec::new();
        for (i, purchases) in pop.iter().enumerate() {
            let id = block_on(svc.register(t, Profile::default())).unwrap().customer.id();
            for (j, (days, amount)) in purchases.iter().enumerate() {
                let a = NewActivity::purchase(
                    id,
                    format!("{i}-{j}"),
                    Money::new(Decimal::from(*amount), Currency::EUR),
                    now() - Duration::days(*days) - Duration::seconds(j as i64),
                )
                .unwrap();
                block_on(svc.record(t, a)).unwrap();
            }
            ids.push(id);
        }
        ids.sort();
        block_on(svc.sweep(t, now(), batch, |_| {})).unwrap();
        let swept = snapshot(&svc, t, &ids);
        tag_events(&svc); // drain what the sweep wrote

        for (k, (which, op)) in ops.iter().enumerate() {
            let id = ids[which.index(ids.len())];
            match op {
                Op::Evaluate => {
                    block_on(svc.evaluate(t, id)).unwrap();
                }
                Op::EvaluateAt => {
                    block_on(svc.evaluate_at(t, id, now())).unwrap();
                }
                Op::Visit => {
                    let at = now() - Duration::seconds(k as i64 + 1);
                    block_on(svc.record(t, NewActivity::visit(id, at).unwrap())).unwrap();
                }
            }
            prop_assert_eq!(&snapshot(&svc, t, &ids), &swept, "after {:?} of {}", op, id);
        }
        let events = tag_events(&svc);
        prop_assert!(events.is_empty(), "tag or tier events: {:?}", events);

        // A second sweep at the same `now` finds nothing to change.
        let again = block_on(svc.sweep(t, now(), batch, |_| {})).unwrap();
        prop_assert_eq!(&snapshot(&svc, t, &ids), &swept);
        prop_assert_eq!(again.changed, 0, "{:?}", again);
        let events = tag_events(&svc);
        prop_assert!(events.is_empty(), "tag or tier events: {:?}", events);
    }
}

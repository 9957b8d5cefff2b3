//! Automation invariants over random event streams for one customer: no action without
//! consent, cooldowns and caps never exceeded, a purchase inside the delay cancels the
//! reminder, replay (also across a restart through serde) gives identical actions.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::automation::*;
use rapport_core::ports::CustomerConsents;
use rapport_core::*;

const RULES: &str = r#"[
  {"id": "cart-reminder", "trigger": {"activity": "cart_abandoned"},
   "delay": {"after": "24h", "cancel_on": ["purchase"]},
   "action": {"template": "cart", "channel": "email", "purpose": "marketing"}},
  {"id": "visit-nudge", "trigger": {"activity": "visit"},
   "action": {"template": "nudge", "channel": "email", "purpose": "marketing"}, "cooldown": "1d"},
  {"id": "browse-push", "trigger": {"activity": "visit"},
   "delay": {"after": "1h", "debounce": true, "cancel_on": ["purchase"]},
   "action": {"template": "browse", "channel": "push", "purpose": "marketing"}, "cooldown": "2d"},
  {"id": "complaint-call", "trigger": {"activity": "complaint"},
   "action": {"template": "call-back", "channel": "task", "purpose": "transactional"}}
]"#;

fn rules() -> RuleSet {
    RuleSet::new(serde_json::from_str(RULES).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Act(ActivityType),
    Consent(ContactChannel, Purpose, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop_oneof![
            Just(ActivityType::Visit),
            Just(ActivityType::CartAbandoned),
            Just(ActivityType::Purchase),
            Just(ActivityType::Complaint),
        ].prop_map(Step::Act),
        1 => (
            prop_oneof![Just(ContactChannel::Email), Just(ContactChannel::Push), Just(ContactChannel::Phone)],
            prop_oneof![Just(Purpose::Marketing), Just(Purpose::Transactional)],
            any::<bool>(),
        ).prop_map(|(c, p, g)| Step::Consent(c, p, g)),
    ]
}

/// (minutes since the previous event, what happened)
fn stream() -> impl Strategy<Value = Vec<(i64, Step)>> {
    prop::collection::vec((1i64..3 * 24 * 60, step()), 1..60)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// The automation state a store would hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct State {
    pending: Vec<ScheduledAction>,
    log: Vec<ActionRecord>,
    sent: Vec<OutboxMessage>,
}

struct World {
    rules: RuleSet,
    policy: AutomationPolicy,
    customer: Customer,
    stats: Stats,
    state: State,
}

impl World {
    fn new(policy: AutomationPolicy) -> Self {
        let customer = Customer::new(
            TenantId::from_u128(1),
            CustomerId::from_u128(2),
            Profile::default(),
            start(),
        );
        Self {
            rules: rules(),
            policy,
            customer,
            stats: Stats::default(),
            state: State {
                pending: Vec::new(),
                log: Vec::new(),
                sent: Vec::new(),
            },
        }
    }

    /// Fires every action due at or before `until`, each at its due time.
    fn fire_until(&mut self, until: DateTime<Utc>) {
        loop {
            self.state.pending.sort_by_key(|a| (a.due, a.id));
            let Some(pos) = self.state.pending.iter().position(|a| a.due <= until) else {
                return;
            };
            let action = self.state.pending[pos].clone();
            let now = action.due;
            let rule = self.rules.get(&action.rule).unwrap().clone();
            let ctx = SegmentContext::new(&self.customer, &self.stats, now);
            let sent: Vec<ActionRecord> = self
                .state
                .log
                .iter()
                .filter(|r| r.is_sent())
                .cloned()
                .collect();
            match decide_due(
                &action,
                &rule,
                &ctx,
                &CustomerConsents,
                &sent,
                &self.policy,
                now,
            ) {
                Verdict::Defer(at) => {
                    assert!(at > now);
                    self.state.pending[pos].due = at;
                }
                Verdict::Send => {
                    self.state.pending.remove(pos);
                    self.state.log.push(ActionRecord::new(
                        &action,
                        &rule,
                        now,
                        ActionOutcome::Sent,
                    ));
                    self.state
                        .sent
                        .push(ActionRecord::message(&action, &rule, now));
                }
                Verdict::Suppress(reason) => {
                    self.state.pending.remove(pos);
                    self.state.log.push(ActionRecord::new(
                        &action,
                        &rule,
                        now,
                        ActionOutcome::Suppressed { reason },
                    ));
                }
            }
        }
    }

    fn apply(&mut self, n: u128, at: DateTime<Utc>, step: &Step) {
        self.fire_until(at);
        match step {
            Step::Consent(channel, purpose, granted) => {
                self.customer
                    .consents
                    .set(*purpose, *channel, *granted, at, "test");
            }
            Step::Act(kind) => {
                let msg = OutboxMessage::new(
                    MessageId::from_u128(n),
                    self.customer.tenant(),
                    at,
                    DomainEvent::ActivityRecorded {
                        customer: self.customer.id(),
                        activity: ActivityId::from_u128(n),
                        kind: *kind,
                    },
                );
                let p = plan(&self.rules, &msg, &self.state.pending);
                for c in p.cancel {
                    let rule = self.rules.get(&c.action.rule).unwrap().clone();
                    self.state.pending.retain(|a| a.id != c.action.id);
                    self.state.log.push(ActionRecord::new(
                        &c.action,
                        &rule,
                        at,
                        ActionOutcome::Suppressed {
                            reason: SuppressReason::Cancelled { by: c.reason },
                        },
                    ));
                }
                for a in p.schedule {
                    let known = self.state.pending.iter().any(|x| x.id == a.id)
                        || self.state.log.iter().any(|r| r.id == a.id);
                    if !known {
                        self.state.pending.push(a);
                    }
                }
            }
        }
    }
}

fn timeline(steps: &[(i64, Step)]) -> Vec<(u128, DateTime<Utc>, Step)> {
    let mut at = start();
    steps
        .iter()
        .enumerate()
        .map(|(i, (gap, s))| {
            at += Duration::minutes(*gap);
            (i as u128 + 1, at, s.clone())
        })
        .collect()
}

fn run(policy: AutomationPolicy, steps: &[(i64, Step)]) -> World {
    let mut w = World::new(policy);
    for (n, at, s) in timeline(steps) {
        w.apply(n, at, &s);
    }
    w.fire_until(DateTime::<Utc>::MAX_UTC - Duration::days(30));
    w
}

fn policy(quiet: bool) -> AutomationPolicy {
    AutomationPolicy {
        quiet_hours: quiet.then(|| {
            QuietHours::new(
                NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            )
        }),
        zone: if quiet {
            rapport_core::TenantZone::Offset(8 * 60)
        } else {
            rapport_core::TenantZone::Utc
        },
        ..AutomationPolicy::default()
    }
}

/// The consent in force just before `at`, replayed independently from the stream.
fn consent_before(
    steps: &[(i64, Step)],
    at: DateTime<Utc>,
    purpose: Purpose,
    channel: ContactChannel,
) -> Option<bool> {
    timeline(steps)
        .into_iter()
        .filter(|(_, t, _)| *t < at)
        .filter_map(|(_, _, s)| match s {
            Step::Consent(c, p, g) if c == channel && p == purpose => Some(g),
            _ => None,
        })
        .next_back()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn prop_no_action_without_consent(steps in stream(), quiet in any::<bool>()) {
        let w = run(policy(quiet), &steps);
        for r in w.state.log.iter().filter(|r| r.is_sent()) {
            let channel = match r.channel {
                ActionChannel::Email => ContactChannel::Email,
                ActionChannel::Push => ContactChannel::Push,
                _ => ContactChannel::Phone,
            };
            let state = consent_before(&steps, r.at, r.purpose, channel);
            if r.channel == ActionChannel::Task {
                prop_assert_ne!(state, Some(false), "a task after contact by phone was withdrawn");
            } else {
                prop_assert_eq!(state, Some(true), "sent {:?} without consent", r);
            }
        }
    }

    #[test]
    fn prop_cooldowns_and_caps_are_never_exceeded(steps in stream(), quiet in any::<bool>()) {
        let p = policy(quiet);
        let w = run(p.clone(), &steps);
        let sent: Vec<&ActionRecord> = w.state.log.iter().filter(|r| r.is_sent()).collect();
        let mut by_rule: BTreeMap<&RuleId, Vec<DateTime<Utc>>> = BTreeMap::new();
        for r in &sent {
            by_rule.entry(&r.rule).or_default().push(r.at);
        }
        for (rule, times) in by_rule {
            let cooldown = w.rules.get(rule).unwrap().cooldown.map_or(p.cooldown, |c| c.get());
            for pair in times.windows(2) {
                prop_assert!(pair[1] - pair[0] >= cooldown, "{rule} sent twice within its cooldown");
            }
        }
        for r in &sent {
            if r.purpose != Purpose::Marketing { continue; }
            let in_window = sent.iter().filter(|s| s.channel == r.channel && s.purpose == Purpose::Marketing && s.at > r.at - p.cap_window && s.at <= r.at).count();
            prop_assert!(in_window <= p.cap as usize, "{} marketing {:?} actions in 7 days", in_window, r.channel);
        }
    }

    #[test]
    fn prop_a_purchase_inside_the_delay_cancels_the_reminder(steps in stream()) {
        let w = run(policy(false), &steps);
        let tl = timeline(&steps);
        for (n, at, s) in &tl {
            if !matches!(s, Step::Act(ActivityType::CartAbandoned)) { continue; }
            let bought = tl.iter().any(|(_, p, s)| matches!(s, Step::Act(ActivityType::Purchase)) && p > at && *p < *at + Duration::hours(24));
            if bought {
                let trigger = MessageId::from_u128(*n);
                prop_assert!(!w.state.log.iter().any(|r| r.trigger == trigger && r.is_sent()), "reminder sent despite a purchase");
            }
        }
    }

    #[test]
    fn prop_replay_gives_identical_actions(steps in stream(), quiet in any::<bool>(), cut in 0usize..60) {
        let a = run(policy(quiet), &steps);
        let b = run(policy(quiet), &steps);
        prop_assert_eq!(&a.state, &b.state);
        // A restart half-way: the state goes through serde (a store) and the run goes on.
        let mut w = World::new(policy(quiet));
        let tl = timeline(&steps);
        let cut = cut.min(tl.len());
        for (n, at, s) in &tl[..cut] { w.apply(*n, *at, s); }
        let saved = serde_json::to_string(&w.state).unwrap();
        let mut restarted = World::new(policy(quiet));
        restarted.customer = w.customer.clone();
        restarted.state = serde_json::from_str(&saved).unwrap();
        for (n, at, s) in &tl[cut..] { restarted.apply(*n, *at, s); }
        restarted.fire_until(DateTime::<Utc>::MAX_UTC - Duration::days(30));
        prop_assert_eq!(&restarted.state, &a.state);
        // Ids come from the rule and the trigger alone.
        for r in &a.state.log {
            prop_assert_eq!(r.id, ActionId::derive(&r.rule, r.trigger));
        }
        for m in &a.state.sent {
            prop_assert!(a.state.log.iter().any(|r| r.id.message_id() == m.id && r.is_sent()));
        }
    }
}

#[test]
fn the_four_seed_rules_parse_and_explain() {
    let seeds = r#"[
      {"id": "browse-reminder", "trigger": {"activity": "visit"}, "delay": {"after": "24h", "cancel_on": ["purchase"]},
       "action": {"template": "browse-reminder", "channel": "email", "purpose": "marketing"}},
      {"id": "win-back", "trigger": {"stage_entered": "silent"},
       "action": {"template": "win-back-offer", "channel": "email", "purpose": "marketing", "params": {"coupon": "COMEBACK15"}}},
      {"id": "vip-welcome", "trigger": {"tier_changed": {"direction": "up", "to": ["gold", "platinum"]}}, "unless_caused_by": ["refund"],
       "action": {"template": "vip-welcome", "channel": "email", "purpose": "transactional"}},
      {"id": "referral-invite", "trigger": {"schedule": {"at": "10:00"}}, "condition": "has_tag(\"value:top-crv\")",
       "action": {"template": "referral-invite", "channel": "email", "purpose": "marketing"}}
    ]"#;
    let set = RuleSet::new(serde_json::from_str(seeds).unwrap()).unwrap();
    let lines: Vec<String> = set.rules().iter().map(Rule::explain).collect();
    assert_eq!(
        lines[0],
        "browse-reminder: when a visit is recorded, after 1d unless a purchase comes first, send browse-reminder by email (marketing)"
    );
    assert_eq!(
        lines[2],
        "vip-welcome: when the tier moves up to gold or platinum (unless caused by a refund), send vip-welcome by email (transactional)"
    );
    assert_eq!(
        lines[3],
        "referral-invite: every day at 10:00, if has_tag(\"value:top-crv\"), send referral-invite by email (marketing)"
    );
}

#[test]
fn a_refund_caused_stage_move_does_not_fire_a_rule_that_ignores_refunds() {
    let set = RuleSet::new(serde_json::from_str(r#"[{"id": "welcome", "trigger": {"stage_entered": "new"}, "unless_caused_by": ["refund"],
       "action": {"template": "welcome", "channel": "email", "purpose": "transactional"}}]"#).unwrap()).unwrap();
    let c = CustomerId::from_u128(2);
    let moved = DomainEvent::StageChanged {
        customer: c,
        from: Stage::Active,
        to: Stage::New,
    };
    let by = |kind| {
        Some(EventCause::Activity {
            activity: ActivityId::from_u128(1),
            kind,
        })
    };
    let msg = OutboxMessage::new(
        MessageId::from_u128(1),
        TenantId::from_u128(1),
        start(),
        moved,
    );
    assert!(plan(&set, &msg.clone().with_cause(by(ActivityType::Refund)), &[]).is_empty());
    assert_eq!(
        plan(&set, &msg.with_cause(by(ActivityType::Purchase)), &[])
            .schedule
            .len(),
        1
    );
}

#[test]
fn quiet_hours_defer_to_their_end_in_local_time() {
    let set = rules();
    let rule = set.get(&RuleId::new("visit-nudge").unwrap()).unwrap();
    let mut ann = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(2),
        Profile::default(),
        start(),
    );
    ann.consents.set(
        Purpose::Marketing,
        ContactChannel::Email,
        true,
        start(),
        "signup",
    );
    let stats = Stats::default();
    // 14:30 UTC = 22:30 in UTC+8: quiet until 08:00 local = 00:00 UTC the next day.
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 14, 30, 0).unwrap();
    let action = ScheduledAction {
        id: ActionId::derive(&rule.id, MessageId::from_u128(1)),
        tenant: ann.tenant(),
        customer: ann.id(),
        rule: rule.id.clone(),
        trigger: MessageId::from_u128(1),
        triggered_at: now,
        due: now,
    };
    let v = decide_due(
        &action,
        rule,
        &SegmentContext::new(&ann, &stats, now),
        &CustomerConsents,
        &[],
        &policy(true),
        now,
    );
    assert_eq!(
        v,
        Verdict::Defer(Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap())
    );
}

/// Quiet hours in a named zone follow daylight saving: 22:00–07:00 in Berlin ends at 06:00
/// UTC in winter, 05:00 UTC in summer, and on the night the clocks go forward the deferral
/// ends at 07:00 local time (05:00 UTC), not 9 h 30 min after 22:30 at the old offset.
#[test]
fn quiet_hours_follow_daylight_saving_in_a_named_zone() {
    use chrono::TimeZone;
    use rapport_core::automation::{ActionId, Rule, ScheduledAction, Verdict, decide_due};
    use rapport_core::ports::CustomerConsents;
    use rapport_core::{
        ContactChannel, Customer, CustomerId, MessageId, Profile, Purpose, SegmentContext, Stats,
        TenantZone,
    };
    let rule: Rule = serde_json::from_str(
        r#"{"id": "win-back", "trigger": {"stage_entered": "silent"},
            "action": {"template": "win-back", "channel": "email", "purpose": "marketing"}}"#,
    )
    .unwrap();
    let policy = AutomationPolicy {
        quiet_hours: Some(QuietHours::new(
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        )),
        zone: "Europe/Berlin".parse::<TenantZone>().unwrap(),
        ..AutomationPolicy::default()
    };
    let utc = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
    let due_at = |now: DateTime<Utc>| {
        let mut ann = Customer::new(
            rapport_core::TenantId::from_u128(1),
            CustomerId::from_u128(2),
            Profile::default(),
            now,
        );
        ann.consents.set(
            Purpose::Marketing,
            ContactChannel::Email,
            true,
            now,
            "signup",
        );
        let stats = Stats::default();
        let action = ScheduledAction {
            id: ActionId::derive(&rule.id, MessageId::from_u128(1)),
            tenant: ann.tenant(),
            customer: ann.id(),
            rule: rule.id.clone(),
            trigger: MessageId::from_u128(1),
            triggered_at: now,
            due: now,
        };
        decide_due(
            &action,
            &rule,
            &SegmentContext::new(&ann, &stats, now),
            &CustomerConsents,
            &[],
            &policy,
            now,
        )
    };
    // Winter (UTC+1): 22:30 local → 07:00 local = 06:00 UTC.
    assert_eq!(
        due_at(utc(2026, 1, 10, 21, 30)),
        Verdict::Defer(utc(2026, 1, 11, 6, 0))
    );
    // Summer (UTC+2): 22:30 local → 05:00 UTC.
    assert_eq!(
        due_at(utc(2026, 7, 10, 20, 30)),
        Verdict::Defer(utc(2026, 7, 11, 5, 0))
    );
    // The night of 28→29 March 2026 (clocks forward at 02:00): 22:30 CET → 07:00 CEST.
    assert_eq!(
        due_at(utc(2026, 3, 28, 21, 30)),
        Verdict::Defer(utc(2026, 3, 29, 5, 0))
    );
    // 21:30 local in summer is not quiet.
    assert_eq!(due_at(utc(2026, 7, 10, 19, 30)), Verdict::Send);
    // A 09:00 schedule runs at 08:00 UTC in winter and 07:00 UTC in summer.
    let schedule: Rule = serde_json::from_str(
        r#"{"id": "follow-up", "trigger": {"schedule": {"at": "09:00"}},
            "action": {"template": "call", "channel": "task", "purpose": "transactional"}}"#,
    )
    .unwrap();
    let at = |now| {
        rapport_core::automation::schedule_occurrence(&schedule, now, &policy.zone)
            .unwrap()
            .1
    };
    assert_eq!(at(utc(2026, 1, 10, 12, 0)), utc(2026, 1, 10, 8, 0));
    assert_eq!(at(utc(2026, 7, 10, 12, 0)), utc(2026, 7, 10, 7, 0));
}

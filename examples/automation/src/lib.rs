//! The four seed automation scenarios end to end on SQLite:
//!
//! 1. browsed but did not buy → a reminder 24 h later, cancelled by a purchase;
//! 2. entered Silent → a win-back offer;
//! 3. upgraded to a high tier → a VIP welcome;
//! 4. high CRV → a referral invitation (a daily schedule over a host-computed tag).
//!
//! Events reach the rules through the relay ([`AutomationNotifier`] wrapping the
//! [`WebhookNotifier`]); due actions pass the guards in [`Service::fire_due_actions`] and go
//! out through the same relay as Standard Webhooks requests to a [`receiver::Receiver`]
//! (axum, on a loopback port) that verifies every signature. The story runs on a
//! [`ManualClock`] so a day passes in a moment; the webhook timestamps are real time.

pub mod receiver;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::core::automation::{ActionOutcome, ActionRecord, AutomationPolicy, Rule, RuleSet};
use rapport::core::ports::{ActionStore, CustomerConsents};
use rapport::core::*;
use rapport::{
    AutomationNotifier, ConsentRequest, ManualClock, NewActivity, RelayConfig, Service, relay_once,
};
use rapport_notify::{SeededJitter, WebhookConfig, WebhookNotifier, WebhookSecret};
use rapport_sqlite::{SqliteConfig, SqliteStore};
use serde::Deserialize;

/// The rules file of the example (`rules.toml`, the `[[rules]]` format of `rapport.toml`).
pub const RULES: &str = include_str!("../rules.toml");

/// The signing secret the notifier and the receiver share (an example value: a host keeps its
/// own in `rapport.toml`'s `[webhook]` section, or a secret store).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Parses a rules file in the `[[rules]]` format.
///
/// ```
/// let rules = automation::parse_rules(automation::RULES)?;
/// assert_eq!(rules.rules().len(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// TOML or rule errors (a bad condition, a duplicate id, …).
pub fn parse_rules(text: &str) -> Result<RuleSet, Box<dyn std::error::Error>> {
    #[derive(Deserialize)]
    struct File {
        rules: Vec<Rule>,
    }
    let file: File = toml::from_str(text)?;
    Ok(RuleSet::new(file.rules)?)
}

/// One action the receiver got: who (the example's name for the customer), which template,
/// and the `webhook-id` (= the action id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The customer's name in the story.
    pub customer: &'static str,
    /// The template to send.
    pub template: String,
    /// The Standard Webhooks message id.
    pub webhook_id: String,
}

/// What the run came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The actions the receiver accepted, in order.
    pub actions: Vec<Received>,
    /// Every verified message (domain events and actions), first deliveries only.
    pub messages: usize,
    /// Requests the receiver refused (bad signature, old timestamp): 0 in a healthy run.
    pub refused: usize,
    /// The action log at the end (sent, suppressed with reasons, cancelled).
    pub log: Vec<(&'static str, ActionRecord)>,
}

/// The four customers of the story.
struct Cast {
    names: BTreeMap<CustomerId, &'static str>,
}

impl Cast {
    fn name(&self, id: CustomerId) -> &'static str {
        self.names.get(&id).copied().unwrap_or("someone")
    }
}

type Store = Arc<SqliteStore>;
type Feed = AutomationNotifier<SqliteStore, WebhookNotifier>;

struct Rig {
    store: Store,
    svc: Service<Store>,
    clock: ManualClock,
    rules: Arc<RuleSet>,
    feed: Feed,
    t: TenantId,
}

impl Rig {
    /// Relays every event (recording triggers, posting each to the receiver), fires what is
    /// due, and relays the actions.
    async fn tick(&self) -> Result<rapport::FireReport, rapport::Error> {
        self.relay_all().await?;
        let report = self
            .svc
            .fire_due_actions(
                self.t,
                &self.rules,
                &AutomationPolicy::default(),
                &CustomerConsents,
                self.svc.now(),
                1_000,
            )
            .await?;
        self.relay_all().await?;
        Ok(report)
    }

    async fn relay_all(&self) -> Result<(), rapport::Error> {
        let config = RelayConfig::default();
        loop {
            let r = relay_once(&*self.store, &self.feed, &config, self.svc.now()).await?;
            if r.claimed == 0 || r.delivered + r.dead_lettered == 0 {
                return Ok(());
            }
        }
    }
}

fn usd(amount: i64) -> Money {
    Money::new(rust_decimal::Decimal::from(amount), Currency::USD)
}

/// Runs the story on a SQLite database at `db`, posting to a receiver on a free loopback
/// port; `say` gets a line per step.
///
/// # Errors
/// Store, webhook set-up or receiver errors.
pub async fn run(
    db: &Path,
    mut say: impl FnMut(String),
) -> Result<Outcome, Box<dyn std::error::Error>> {
    // Monday 2 March 2026, 09:00 UTC.
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single();
    let start: DateTime<Utc> = start.ok_or("start time")?;
    let clock = ManualClock::at(start);
    let store = Arc::new(SqliteStore::open(db, SqliteConfig::default(), start)?);
    let svc = Service::new(store.clone()).with_clock(clock.clone());
    let rules = Arc::new(parse_rules(RULES)?);
    for r in rules.rules() {
        say(format!("rule  {}", r.explain()));
    }

    // The receiver, on a free loopback port; the notifier posts to it.
    let receiver = receiver::Receiver::from_whsec(SECRET).ok_or("secret")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = receiver
        .serve(([127, 0, 0, 1], 0).into(), async {
            let _ = stopped.await;
        })
        .await?;
    let secret: WebhookSecret = SECRET.parse()?;
    let config = WebhookConfig::new(format!("http://{addr}/hooks"), secret).with_timeouts(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(2),
    );
    let hook = WebhookNotifier::new(config, SeededJitter::new(17))?;
    say(format!("receiver listening on http://{addr}/hooks"));

    let t = TenantId::from_u128(1);
    let rig = Rig {
        feed: AutomationNotifier::new(store.clone(), rules.clone(), hook),
        store,
        svc,
        clock,
        rules,
        t,
    };
    let svc = &rig.svc;

    // The cast: everyone agreed to marketing email at sign-up.
    let mut names = BTreeMap::new();
    let mut ids = Vec::new();
    for name in ["Ann", "Bob", "Cy", "Dee"] {
        let id = svc.register(t, Profile::default()).await?.customer.id();
        let consent = ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "signup-form");
        svc.grant(t, id, consent).await?;
        names.insert(id, name);
        ids.push(id);
    }
    let cast = Cast { names };
    let [ann, bob, cy, dee] = ids[..] else {
        return Err("four customers".into());
    };

    // Dee bought before and brings friends: the host's CRV job tags the top referrers.
    svc.record(t, NewActivity::purchase(dee, "d1", usd(300), svc.now())?)
        .await?;
    svc.tag(t, dee, Tag::new("value", "top-crv")?, None).await?;
    say("09:00  Dee is tagged value:top-crv by the host's CRV job".into());

    // 1. Ann and Bob browse; Ann buys three hours later, Bob does not.
    svc.record(t, NewActivity::visit(ann, svc.now())?).await?;
    svc.record(t, NewActivity::visit(bob, svc.now())?).await?;
    say("09:00  Ann and Bob browse the shop: reminders wait 24 h".into());
    // 4. The first sweep fires the daily schedule's latest occurrence for Dee.
    let r = rig.tick().await?;
    say(format!(
        "09:00  sweep: {} sent (Dee's referral invitation), {} suppressed",
        r.sent, r.suppressed
    ));
    rig.clock.advance(Duration::hours(3));
    svc.record(t, NewActivity::purchase(ann, "a1", usd(40), svc.now())?)
        .await?;
    say("12:00  Ann buys: her reminder is cancelled".into());

    // 3. Cy's first order is big: Gold.
    svc.record(t, NewActivity::purchase(cy, "c1", usd(2_500), svc.now())?)
        .await?;
    say("12:00  Cy orders for $2,500 and moves up to Gold".into());
    let r = rig.tick().await?;
    say(format!(
        "12:00  sweep: {} sent (Cy's VIP welcome), {} suppressed (today's invitation for Dee: cooldown)",
        r.sent, r.suppressed
    ));

    // A day later: Bob's reminder is due; Dee's next invitation is held by the cooldown.
    rig.clock.advance(Duration::hours(22));
    let r = rig.tick().await?;
    say(format!(
        "next day 10:00  sweep: {} sent (Bob's reminder), {} suppressed (cooldown)",
        r.sent, r.suppressed
    ));

    // 2. Months pass without purchases: the lifecycle sweep moves buyers to Silent.
    rig.clock.advance(Duration::days(100));
    let swept = svc.sweep(t, svc.now(), 500, |_| {}).await?;
    let r = rig.tick().await?;
    say(format!(
        "100 days later  lifecycle sweep: {} changed (buyers went Silent); automation: {} sent, {} suppressed",
        swept.changed, r.sent, r.suppressed
    ));

    // Shut the receiver down and collect.
    let _ = stop.send(());
    server.await??;
    let accepted = receiver.accepted();
    let mut actions = Vec::new();
    for (webhook_id, m) in &accepted {
        if let DomainEvent::ActionDue {
            customer, template, ..
        } = &m.event
        {
            let who = cast.name(*customer);
            say(format!(
                "received  {template} for {who} (webhook-id {webhook_id})"
            ));
            actions.push(Received {
                customer: who,
                template: template.clone(),
                webhook_id: webhook_id.clone(),
            });
        }
    }
    let log = rig
        .store
        .action_log(t, None, DateTime::<Utc>::MIN_UTC, 1_000)
        .await?;
    for r in &log {
        let outcome = match r.outcome {
            ActionOutcome::Sent => "sent".to_owned(),
            ActionOutcome::Suppressed { reason } => format!("suppressed ({})", reason.label()),
            _ => "other".to_owned(),
        };
        say(format!(
            "log  {}  {:<16} {:<4} {outcome}",
            r.at.format("%Y-%m-%d %H:%M"),
            r.rule,
            cast.name(r.customer)
        ));
    }
    Ok(Outcome {
        actions,
        messages: accepted.len(),
        refused: receiver.refused().len(),
        log: log
            .into_iter()
            .map(|r| (cast.name(r.customer), r))
            .collect(),
    })
}

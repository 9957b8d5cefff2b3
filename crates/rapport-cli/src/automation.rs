//! `rapport rules check`, `rapport sweep --rules`, `rapport actions`: automation rules from a
//! TOML file (`[[rules]]` and `[webhook]`, the same sections as `rapport.toml`).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rapport::blocking::Service;
use rapport::core::automation::{
    ActionId, ActionOutcome, ActionRecord, AutomationPolicy, Rule, RuleSet, ScheduledAction,
};
use rapport::core::ports::{ActionLog, ActionStore, CustomerConsents, DueActions};
use rapport::{AutomationNotifier, Redrive, RelayConfig, relay_once};
use rapport_core::*;
use rapport_notify::{LogNotifier, WebhookConfig, WebhookNotifier};

use crate::config::Config;
use crate::error::{Result, fail};
use crate::store::Db;

/// The checked rules and the webhook configuration of a file.
pub(crate) struct Automation {
    pub(crate) rules: RuleSet,
    pub(crate) webhook: Option<WebhookConfig>,
}

/// Reads and checks a rules file: a TOML file in `rapport.toml`'s format, of which this reads
/// the `[[rules]]` and `[webhook]` sections (others, like `[policy]`, are left to their
/// readers). A file without rules is an empty rule set.
pub(crate) fn load(path: &Path) -> Result<Automation> {
    let config = Config::load(path)?;
    Ok(from_config(&config)?.unwrap_or(Automation {
        rules: RuleSet::new(Vec::new()).map_err(|e| fail!("{}: {e}", path.display()))?,
        webhook: None,
    }))
}

/// The automation of a configuration (`rapport.toml` beside the database, or `--config`):
/// `None` when it has no `[[rules]]`. Errors name the file, line and key.
pub(crate) fn from_config(config: &Config) -> Result<Option<Automation>> {
    let Some(rules) = config.section::<Vec<Rule>>("rules")? else {
        return Ok(None);
    };
    let webhook = config.section::<WebhookConfig>("webhook")?;
    let name = config
        .path()
        .map_or_else(|| "rapport.toml".into(), |p| p.display().to_string());
    let rules = RuleSet::new(rules).map_err(|e| fail!("{name}: {e}"))?;
    Ok(Some(Automation { rules, webhook }))
}

/// `rapport rules check <file>`: one explanation per rule, then the webhook.
pub(crate) fn check(path: &Path, json: bool) -> Result<()> {
    let a = load(path)?;
    if json {
        let rules: Vec<serde_json::Value> = a
            .rules
            .rules()
            .iter()
            .map(|r| serde_json::json!({"id": r.id, "explain": r.explain(), "rule": r}))
            .collect();
        let webhook = a.webhook.as_ref().map(|w| {
            serde_json::json!({"url": w.url, "timeout_s": w.timeout.as_secs_f64(),
                "connect_timeout_s": w.connect_timeout.as_secs_f64(), "attempts": w.attempts})
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"rules": rules, "webhook": webhook}))?
        );
        return Ok(());
    }
    for r in a.rules.rules() {
        println!("{}", r.explain());
    }
    match &a.webhook {
        Some(w) => println!(
            "webhook: POST {} (timeout {} s, connect {} s, {} attempts per delivery, Standard Webhooks signatures)",
            w.url,
            w.timeout.as_secs_f64(),
            w.connect_timeout.as_secs_f64(),
            w.attempts
        ),
        None => println!("webhook: none (actions are written to the log)"),
    }
    println!("{} rules ok", a.rules.rules().len());
    Ok(())
}

/// What `sweep --rules` did after the sweep.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct AutomationRun {
    scheduled: usize,
    sent: usize,
    suppressed: usize,
    deferred: usize,
    delivered: usize,
    failed: usize,
    dead_lettered: usize,
}

/// Relays the events (recording triggers), fires the due actions, relays them.
pub(crate) fn run(
    svc: &Service<Db>,
    t: TenantId,
    now: DateTime<Utc>,
    a: Automation,
) -> Result<AutomationRun> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail!("cannot start the runtime: {e}"))?;
    let rules = Arc::new(a.rules);
    rt.block_on(async {
        let store = svc.store();
        match a.webhook {
            Some(config) => {
                let hook = WebhookNotifier::with_clock_jitter(config)
                    .map_err(|e| fail!("webhook: {e}"))?;
                let out = relay_fire_relay(svc, store, t, now, &rules, &hook).await?;
                Ok(out)
            }
            None => relay_fire_relay(svc, store, t, now, &rules, &LogNotifier).await,
        }
    })
}

async fn relay_fire_relay<N: Notifier>(
    svc: &Service<Db>,
    store: &Db,
    t: TenantId,
    now: DateTime<Utc>,
    rules: &Arc<RuleSet>,
    notifier: &N,
) -> Result<AutomationRun> {
    let feed = AutomationNotifier::new(Arc::new(store), Arc::clone(rules), notifier);
    let mut out = AutomationRun::default();
    relay_all(store, &feed, now, &mut out).await?;
    let fired = svc
        .inner()
        .fire_due_actions(
            t,
            rules,
            &AutomationPolicy::default(),
            &CustomerConsents,
            now,
            100_000,
        )
        .await?;
    out.scheduled = fired.scheduled;
    out.sent = fired.sent;
    out.suppressed = fired.suppressed;
    out.deferred = fired.deferred;
    relay_all(store, &feed, now, &mut out).await?;
    Ok(out)
}

/// Relay rounds until nothing is claimable at `now` (failed messages wait for their back-off,
/// so the loop ends).
async fn relay_all<N: Notifier>(
    store: &Db,
    n: &N,
    now: DateTime<Utc>,
    out: &mut AutomationRun,
) -> Result<()> {
    let config = RelayConfig::default();
    for _ in 0..10_000 {
        let r = relay_once(store, n, &config, now).await?;
        out.delivered += r.delivered;
        out.failed += r.failed;
        out.dead_lettered += r.dead_lettered;
        if r.claimed == 0 {
            break;
        }
    }
    Ok(())
}

/// `rapport actions`: the action log through the service (all lines, or only the
/// dead-lettered ones).
pub(crate) fn list(
    svc: &Service<Db>,
    t: TenantId,
    since: DateTime<Utc>,
    limit: u32,
    dead_letters: bool,
    json: bool,
) -> Result<()> {
    let log = if dead_letters {
        svc.dead_lettered_actions(t, since, limit)?
    } else {
        futures::executor::block_on(svc.store().action_log(t, None, since, limit))?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&log)?);
        return Ok(());
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "at", "id", "customer", "rule", "channel", "purpose", "outcome", "reason",
    ]);
    for r in &log {
        let (outcome, reason) = describe(r);
        table.add_row([
            r.at.to_rfc3339(),
            r.id.to_string(),
            r.customer.to_string(),
            r.rule.to_string(),
            r.channel.as_str().to_owned(),
            serde_json::to_value(r.purpose)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            outcome.to_owned(),
            reason,
        ]);
    }
    println!("{table}");
    println!("{} actions", log.len());
    Ok(())
}

fn describe(r: &ActionRecord) -> (&'static str, String) {
    match &r.outcome {
        ActionOutcome::Sent => ("sent", String::new()),
        ActionOutcome::Suppressed { reason } => ("suppressed", reason.label().to_owned()),
        ActionOutcome::DeadLettered { reason } => ("dead-lettered", reason.clone()),
        _ => ("other", String::new()),
    }
}

/// What `rapport actions redrive` did.
#[derive(Debug, serde::Serialize)]
pub(crate) struct RedriveRun {
    action: String,
    /// `queued`, `no_such_action`, `not_dead_lettered`, `rule_removed`.
    redrive: &'static str,
    delivered: usize,
    failed: usize,
    dead_lettered: usize,
}

/// `rapport actions redrive <id>`: re-queues a dead-lettered action, then relays the outbox
/// through the webhook (or the log).
pub(crate) fn redrive(
    svc: &Service<Db>,
    t: TenantId,
    id: ActionId,
    now: DateTime<Utc>,
    a: Automation,
) -> Result<RedriveRun> {
    let outcome = svc.redrive_action(t, id, &a.rules)?;
    let mut out = RedriveRun {
        action: id.to_string(),
        redrive: match outcome {
            Redrive::Queued => "queued",
            Redrive::NoSuchAction => "no_such_action",
            Redrive::NotDeadLettered => "not_dead_lettered",
            Redrive::RuleRemoved => "rule_removed",
            _ => "other",
        },
        delivered: 0,
        failed: 0,
        dead_lettered: 0,
    };
    if outcome != Redrive::Queued {
        return Ok(out);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail!("cannot start the runtime: {e}"))?;
    let rules = Arc::new(a.rules);
    let mut run = AutomationRun::default();
    rt.block_on(async {
        let store = svc.store();
        match a.webhook {
            Some(config) => {
                let hook = WebhookNotifier::with_clock_jitter(config)
                    .map_err(|e| fail!("webhook: {e}"))?;
                let feed = AutomationNotifier::new(Arc::new(store), Arc::clone(&rules), hook);
                relay_all(store, &feed, now, &mut run).await
            }
            None => {
                let feed =
                    AutomationNotifier::new(Arc::new(store), Arc::clone(&rules), LogNotifier);
                relay_all(store, &feed, now, &mut run).await
            }
        }
    })?;
    out.delivered = run.delivered;
    out.failed = run.failed;
    out.dead_lettered = run.dead_lettered;
    Ok(out)
}

impl ActionStore for Db {
    async fn write_actions(
        &self,
        t: TenantId,
        w: &DueActions,
    ) -> std::result::Result<ActionLog, StoreError> {
        match self {
            Db::Sqlite(s) => s.write_actions(t, w).await,
            Db::Postgres(s) => s.write_actions(t, w).await,
        }
    }
    async fn pending_actions(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> std::result::Result<Vec<ScheduledAction>, StoreError> {
        match self {
            Db::Sqlite(s) => s.pending_actions(t, c).await,
            Db::Postgres(s) => s.pending_actions(t, c).await,
        }
    }
    async fn due_actions(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> std::result::Result<Vec<ScheduledAction>, StoreError> {
        match self {
            Db::Sqlite(s) => s.due_actions(t, now, limit).await,
            Db::Postgres(s) => s.due_actions(t, now, limit).await,
        }
    }
    async fn action_log(
        &self,
        t: TenantId,
        c: Option<CustomerId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> std::result::Result<Vec<ActionRecord>, StoreError> {
        match self {
            Db::Sqlite(s) => s.action_log(t, c, since, limit).await,
            Db::Postgres(s) => s.action_log(t, c, since, limit).await,
        }
    }
}

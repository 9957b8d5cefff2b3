//! `rapport rules check`, `rapport sweep --rules`, `rapport actions`: automation rules from a
//! TOML file (`[[rules]]` and `[webhook]`, the same sections as `rapport.toml`).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rapport::blocking::Service;
use std::collections::BTreeMap;

use chrono::NaiveTime;
use rapport::core::automation::{
    ActionChannel, ActionId, ActionOutcome, ActionRecord, AutomationPolicy, DurationText,
    QuietHours, Rule, RuleSet, ScheduledAction,
};
use rapport::core::ports::{ActionLog, ActionStore, CustomerConsents, DueActions};
use rapport::{AutomationNotifier, Redrive, RelayConfig, relay_once};
use rapport_core::*;
use rapport_notify::{LogNotifier, WebhookConfig, WebhookNotifier};

use crate::config::Config;
use crate::error::{Result, fail};
use crate::store::Db;

/// The checked rules, the webhook configuration and the guard settings of a file.
pub(crate) struct Automation {
    pub(crate) rules: RuleSet,
    pub(crate) webhook: Option<WebhookConfig>,
    /// The `[automation]` section; `None` when the file has none.
    pub(crate) policy: Option<AutomationPolicy>,
}

impl Automation {
    /// Takes the guard settings of `config` when this file had none of its own.
    pub(crate) fn or_policy_of(mut self, config: &Config) -> Result<Self> {
        if self.policy.is_none() {
            self.policy = policy_of(config)?;
        }
        Ok(self)
    }

    fn guards(&self) -> AutomationPolicy {
        self.policy.clone().unwrap_or_default()
    }
}

/// The `[automation]` section of `rapport.toml`: the guards' settings (docs/automation.md).
///
/// ```toml
/// [automation]
/// cooldown = "7d"            # per (customer, rule)
/// cap = 3                    # marketing actions per (customer, channel) ...
/// cap_window = "7d"          # ... in this rolling window
/// caps = { sms = 1 }         # per-channel caps instead of `cap`
/// quiet_hours = "21:00-08:00"  # local time; actions due then wait until the end
/// time_zone = "Asia/Shanghai"  # the tenant's zone: IANA name (daylight saving followed),
///                            # "+08:00" or "UTC" (`utc_offset = "+08:00"` is read the same)
/// ```
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardSection {
    cooldown: Option<DurationText>,
    cap: Option<u32>,
    cap_window: Option<DurationText>,
    #[serde(default)]
    caps: BTreeMap<ActionChannel, u32>,
    quiet_hours: Option<String>,
    time_zone: Option<String>,
    utc_offset: Option<String>,
}

/// `HH:MM-HH:MM` → quiet hours.
fn quiet_hours(text: &str) -> std::result::Result<QuietHours, String> {
    let bad = || format!("quiet_hours `{text}`: expected HH:MM-HH:MM, e.g. 21:00-08:00");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
    let (start, end) = (time(a)?, time(b)?);
    if start == end {
        return Err(format!("quiet_hours `{text}`: start and end are the same"));
    }
    Ok(QuietHours::new(start, end))
}

impl GuardSection {
    fn policy(self) -> std::result::Result<AutomationPolicy, String> {
        let d = AutomationPolicy::default();
        let cap_window = self.cap_window.map_or(d.cap_window, DurationText::get);
        if cap_window <= chrono::Duration::zero() {
            return Err("cap_window must be longer than 0".into());
        }
        Ok(AutomationPolicy {
            cooldown: self.cooldown.map_or(d.cooldown, DurationText::get),
            cap: self.cap.unwrap_or(d.cap),
            cap_window,
            caps: self.caps,
            quiet_hours: self.quiet_hours.as_deref().map(quiet_hours).transpose()?,
            zone: match (self.time_zone, self.utc_offset) {
                (Some(_), Some(_)) => {
                    return Err("time_zone and utc_offset both given: keep one".into());
                }
                (Some(z), None) | (None, Some(z)) => z
                    .parse::<rapport_core::TenantZone>()
                    .map_err(|e| e.to_string())?,
                (None, None) => rapport_core::TenantZone::Utc,
            },
        })
    }
}

/// The guard settings of a configuration's `[automation]` section (`None` without one).
pub(crate) fn policy_of(config: &Config) -> Result<Option<AutomationPolicy>> {
    let Some(section) = config.section::<GuardSection>("automation")? else {
        return Ok(None);
    };
    let name = config
        .path()
        .map_or_else(|| "rapport.toml".into(), |p| p.display().to_string());
    section
        .policy()
        .map(Some)
        .map_err(|e| fail!("{name}: [automation]: {e}"))
}

/// One line on the guards, for `rules check`.
fn explain_guards(p: &AutomationPolicy) -> String {
    let dur = |d: chrono::Duration| DurationText::new(d).to_string();
    let mut caps = String::new();
    for (ch, n) in &p.caps {
        caps.push_str(&format!(", {} {n}", ch.as_str()));
    }
    let quiet = p.quiet_hours.map_or_else(
        || "no quiet hours".to_owned(),
        |q| {
            format!(
                "quiet hours {}-{} local (deferred, not dropped)",
                q.start.format("%H:%M"),
                q.end.format("%H:%M")
            )
        },
    );
    format!(
        "guards: cooldown {} per customer and rule; marketing cap {} per customer and channel per {}{caps}; {quiet}; time zone {}",
        dur(p.cooldown),
        p.cap,
        dur(p.cap_window),
        p.zone
    )
}

/// Reads and checks a rules file: a TOML file in `rapport.toml`'s format, of which this reads
/// the `[[rules]]` and `[webhook]` sections (others, like `[policy]`, are left to their
/// readers). A file without rules is an empty rule set.
pub(crate) fn load(path: &Path) -> Result<Automation> {
    let config = Config::load(path)?;
    Ok(from_config(&config)?.unwrap_or(Automation {
        rules: RuleSet::new(Vec::new()).map_err(|e| fail!("{}: {e}", path.display()))?,
        webhook: None,
        policy: policy_of(&config)?,
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
    let policy = policy_of(config)?;
    Ok(Some(Automation {
        rules,
        webhook,
        policy,
    }))
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
            serde_json::to_string_pretty(
                &serde_json::json!({"rules": rules, "webhook": webhook, "guards": explain_guards(&a.guards())})
            )?
        );
        return Ok(());
    }
    for r in a.rules.rules() {
        println!("{}", r.explain());
    }
    println!("{}", explain_guards(&a.guards()));
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
    let policy = a.guards();
    let rules = Arc::new(a.rules);
    rt.block_on(async {
        let store = svc.store();
        match a.webhook {
            Some(config) => {
                let hook = WebhookNotifier::with_clock_jitter(config)
                    .map_err(|e| fail!("webhook: {e}"))?;
                let out = relay_fire_relay(svc, store, t, now, &rules, &policy, &hook).await?;
                Ok(out)
            }
            None => relay_fire_relay(svc, store, t, now, &rules, &policy, &LogNotifier).await,
        }
    })
}

async fn relay_fire_relay<N: Notifier>(
    svc: &Service<Db>,
    store: &Db,
    t: TenantId,
    now: DateTime<Utc>,
    rules: &Arc<RuleSet>,
    policy: &AutomationPolicy,
    notifier: &N,
) -> Result<AutomationRun> {
    let feed = AutomationNotifier::new(Arc::new(store), Arc::clone(rules), notifier);
    let mut out = AutomationRun::default();
    relay_all(store, &feed, now, &mut out).await?;
    // SLA-breach rules: the breaches among open cases at `now`, each scheduled once.
    let breaches = svc.inner().schedule_sla_breaches(t, rules, now).await?;
    let fired = svc
        .inner()
        .fire_due_actions(t, rules, policy, &CustomerConsents, now, 100_000)
        .await?;
    out.scheduled = fired.scheduled + breaches;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;

    use super::*;

    fn policy(text: &str) -> Result<Option<AutomationPolicy>> {
        policy_of(&Config::parse(text.to_owned(), Some(PathBuf::from("rapport.toml"))).unwrap())
    }

    #[test]
    fn the_documented_defaults_are_the_guard_defaults() {
        let text = include_str!("../../../docs/rapport.default.toml");
        assert_eq!(policy(text).unwrap(), Some(AutomationPolicy::default()));
        assert_eq!(policy("").unwrap(), None);
        assert_eq!(
            policy("[automation]\n").unwrap(),
            Some(AutomationPolicy::default())
        );
    }

    #[test]
    fn guard_settings_are_read() {
        let p = policy(
            "[automation]\ncooldown = \"3d\"\ncap = 2\ncap_window = \"14d\"\ncaps = { sms = 1, push = 5 }\nquiet_hours = \"21:30-08:00\"\nutc_offset = \"-05:30\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.cooldown, chrono::Duration::days(3));
        assert_eq!((p.cap, p.cap_window), (2, chrono::Duration::days(14)));
        assert_eq!(
            (
                p.cap_for(ActionChannel::Sms),
                p.cap_for(ActionChannel::Push),
                p.cap_for(ActionChannel::Email)
            ),
            (1, 5, 2)
        );
        let q = p.quiet_hours.unwrap();
        assert_eq!(
            (
                q.start.format("%H:%M").to_string(),
                q.end.format("%H:%M").to_string()
            ),
            ("21:30".into(), "08:00".into())
        );
        assert_eq!(p.zone, rapport_core::TenantZone::Offset(-330));
        assert_eq!(
            explain_guards(&p),
            "guards: cooldown 3d per customer and rule; marketing cap 2 per customer and channel per 14d, sms 1, push 5; quiet hours 21:30-08:00 local (deferred, not dropped); time zone -05:30"
        );
    }

    #[test]
    fn bad_guard_settings_name_the_key() {
        for (text, want) in [
            (
                "[automation]\nquiet_hours = \"21-8\"\n",
                "quiet_hours `21-8`",
            ),
            ("[automation]\nquiet_hours = \"08:00-08:00\"\n", "the same"),
            (
                "[automation]\nutc_offset = \"+25:00\"\n",
                "time_zone `+25:00`",
            ),
            (
                "[automation]\ntime_zone = \"Mars/Olympus\"\n",
                "time_zone `Mars/Olympus`",
            ),
            (
                "[automation]\ntime_zone = \"UTC\"\nutc_offset = \"+01:00\"\n",
                "both given",
            ),
            ("[automation]\ncap_window = \"0d\"\n", "cap_window"),
            ("[automation]\ncaps = { fax = 1 }\n", "fax"),
            ("[automation]\ncooldwn = \"1d\"\n", "cooldwn"),
        ] {
            let e = policy(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}

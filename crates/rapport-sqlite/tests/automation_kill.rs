//! Kill the process mid-relay: nothing is lost. The test re-runs its own binary as a child
//! that relays slowly (recording triggers for the automation rules, then "delivering" by
//! appending the message id to a file), kills it part-way, reopens the database and relays
//! the rest: every message is delivered at least once, and every trigger's action is
//! scheduled exactly once.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::automation::RuleSet;
use rapport::core::ports::ActionStore;
use rapport::core::*;
use rapport::{AutomationNotifier, NewActivity, RelayConfig, Service, relay_once};
use rapport_sqlite::{SqliteConfig, SqliteStore};

const RULES: &str = r#"[{"id": "cart-reminder", "trigger": {"activity": "cart_abandoned"},
  "delay": {"after": "24h", "cancel_on": ["purchase"]},
  "action": {"template": "cart", "channel": "email", "purpose": "marketing"}}]"#;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, SqliteConfig::default(), now()).unwrap()
}

/// Appends each delivered message id to a file, slowly, flushing each line.
struct FileInbox(PathBuf, Duration);
impl Notifier for FileInbox {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), NotifyError> {
        std::thread::sleep(self.1);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .unwrap();
        writeln!(f, "{}", m.id).unwrap();
        f.sync_all().unwrap();
        Ok(())
    }
}

fn relay_all(store: &Arc<SqliteStore>, inbox: &Path, pause: Duration, at: chrono::DateTime<Utc>) {
    let rules = Arc::new(RuleSet::new(serde_json::from_str(RULES).unwrap()).unwrap());
    let feed =
        AutomationNotifier::new(Arc::clone(store), rules, FileInbox(inbox.to_owned(), pause));
    let config = RelayConfig {
        batch: 5,
        lease: Duration::from_secs(30),
        ..RelayConfig::default()
    };
    while block_on(relay_once(&**store, &feed, &config, at))
        .unwrap()
        .claimed
        > 0
    {}
}

/// The child: relays slowly until killed.
#[test]
#[ignore = "run by relay_survives_a_kill as its child process"]
fn child_relay() {
    let (Ok(db), Ok(inbox)) = (
        std::env::var("RAPPORT_KILL_DB"),
        std::env::var("RAPPORT_KILL_INBOX"),
    ) else {
        return;
    };
    let store = Arc::new(open(Path::new(&db)));
    relay_all(&store, Path::new(&inbox), Duration::from_millis(15), now());
}

#[test]
fn relay_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let inbox = dir.path().join("inbox.txt");
    let n = 120;
    {
        let store = Arc::new(open(&db));
        let svc = Service::new(Arc::clone(&store));
        let t = TenantId::from_u128(1);
        for _ in 0..n / 2 {
            let c = block_on(svc.register(t, Profile::default()))
                .unwrap()
                .customer;
            block_on(svc.record(t, NewActivity::cart_abandoned(c.id(), None, now()).unwrap()))
                .unwrap();
        }
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_relay",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RAPPORT_KILL_DB", &db)
        .env("RAPPORT_KILL_INBOX", &inbox)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once it has delivered some, but far from all: however long the child takes to
    // start (no deadline), unless it ended by itself.
    loop {
        let done = std::fs::read_to_string(&inbox)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if done >= 20 || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = std::fs::read_to_string(&inbox)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(
        before > 0 && before < n,
        "the child delivered {before} of {n} before the kill"
    );

    // Reopen; relay after the leases expired.
    let store = Arc::new(open(&db));
    relay_all(
        &store,
        &inbox,
        Duration::ZERO,
        now() + chrono::Duration::minutes(5),
    );
    let text = std::fs::read_to_string(&inbox).unwrap();
    let delivered: BTreeSet<&str> = text.lines().collect();
    assert_eq!(delivered.len(), n, "every message at least once");
    let t = TenantId::from_u128(1);
    let due =
        block_on(store.due_actions(t, Utc::now() + chrono::Duration::days(2), 1_000)).unwrap();
    assert_eq!(
        due.len(),
        n / 2,
        "one reminder per abandoned cart, none lost, none twice"
    );
}

//! Crash test: a child process runs a 1,000-operation workload and is killed with SIGKILL at
//! random points; after reopening, every acknowledged change is there, no changeset is
//! partial, outbox rows exist exactly when their change does, and re-running the import adds
//! no duplicates.
//!
//! The test re-runs its own binary as the child (`RAPPORT_CRASH_DB` set). Number of kills:
//! `RAPPORT_CRASH_KILLS` (default 200; `RAPPORT_CRASH_KILLS=10000 cargo test --release -p
//! rapport-sqlite --test crash -- --nocapture` for the long run).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::ports::{ActivityImport, ImportPolicy};
use rapport_core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

const OPS: u128 = 1_000;
const T: TenantId = TenantId::from_u128(1);

fn load(
    s: &SqliteStore,
    t: TenantId,
    id: CustomerId,
) -> Result<Option<(Customer, Stats)>, StoreError> {
    block_on(Store::load(s, t, id)).map(|o| o.map(|r| (r.customer, r.stats)))
}

fn scan(
    s: &SqliteStore,
    t: TenantId,
    after: Option<CustomerId>,
    limit: u32,
) -> Result<Vec<(Customer, Stats)>, StoreError> {
    block_on(Store::scan(s, t, Page { after, limit }))
        .map(|v| v.into_iter().map(|r| (r.customer, r.stats)).collect())
}

fn acts(
    s: &SqliteStore,
    t: TenantId,
    id: CustomerId,
    _from: Option<()>,
    _to: Option<()>,
) -> Result<Vec<Activity>, StoreError> {
    block_on(Store::activities(s, t, id, TimeRange::all()))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn key(i: u128) -> IdempotencyKey {
    IdempotencyKey::new(format!("op-{i}")).unwrap()
}

/// Operation `i`: create customer `i` with one purchase and one outbox message, in one
/// changeset; every 10th operation also updates customer `i - 5` (two customers at once).
fn changeset(store: &SqliteStore, i: u128) -> Changeset {
    let id = CustomerId::from_u128(i);
    let c = Customer::new(T, id, Profile::default(), now());
    let a = Activity::new(
        ActivityId::from_u128(i),
        id,
        now(),
        Channel::Web,
        key(i),
        ActivityKind::Purchase {
            order_id: OrderId::new(format!("o{i}")).unwrap(),
            amount: Money::new(Decimal::new(i as i64, 2), Currency::USD),
            margin: None,
        },
    )
    .unwrap();
    let stats = Stats::from_activities([&a]).unwrap();
    let mut cs = Changeset::new();
    cs.create(c, stats);
    cs.activities.push(a);
    cs.outbox.push(OutboxMessage::new(
        MessageId::from_u128(i),
        T,
        now(),
        DomainEvent::CustomerRegistered { customer: id },
    ));
    if i % 10 == 0 && i > 5 {
        if let Some((old, st)) = load(store, T, CustomerId::from_u128(i - 5)).unwrap() {
            cs.update(&old, old.next_version(), st);
        }
    }
    cs
}

fn child(db: &str) {
    let store = SqliteStore::open(db, SqliteConfig::default(), now()).unwrap();
    let out = std::io::stdout();
    let mut out = out.lock();
    for i in 1..=OPS {
        // After a crash the op may already be stored: a re-run reports it as a duplicate.
        let cs = changeset(&store, i);
        match block_on(store.apply(T, &cs)) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => panic!("op {i}: {e}"),
        }
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn crash_child_entry() {
    // Runs only as the child process.
    if let Ok(db) = std::env::var("RAPPORT_CRASH_DB") {
        child(&db);
    }
}

fn check(db: &std::path::Path, acked: u128) {
    let store = SqliteStore::open(db, SqliteConfig::default(), now()).unwrap();
    let all = scan(&store, T, None, 10_000).unwrap();
    let present: std::collections::BTreeSet<u128> = all
        .iter()
        .map(|(c, _)| c.id().as_uuid().as_u128())
        .collect();
    for i in 1..=acked {
        assert!(present.contains(&i), "acknowledged op {i} lost");
    }
    // Every stored customer has its activity and its outbox message; nothing else exists.
    let raw = rusqlite::Connection::open(db).unwrap();
    let mut stmt = raw
        .prepare("SELECT message_id FROM rapport_outbox")
        .unwrap();
    let msg_ids: std::collections::BTreeSet<u128> = stmt
        .query_map([], |r| r.get::<_, [u8; 16]>(0))
        .unwrap()
        .map(|b| u128::from_be_bytes(b.unwrap()))
        .collect();
    assert_eq!(
        msg_ids, present,
        "outbox rows exactly for the stored changes"
    );
    for (c, st) in &all {
        let acts = acts(&store, T, c.id(), None, None).unwrap();
        assert_eq!(acts.len(), 1, "customer {} has its one activity", c.id());
        assert_eq!(st.orders(), 1);
    }
    // Re-running the import of the first ops adds nothing.
    let before = all.len();
    let replay: Vec<Activity> = (1..=acked.min(50))
        .flat_map(|i| changeset(&store, i).activities)
        .collect();
    let replay = replay.into_iter().map(Into::into).collect();
    let r = block_on(store.import_activities(T, replay, &ImportPolicy::default())).unwrap();
    assert_eq!(r.inserted, 0);
    assert_eq!(scan(&store, T, None, 10_000).unwrap().len(), before);
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_change() {
    if std::env::var("RAPPORT_CRASH_DB").is_ok() {
        return;
    }
    let want_kills: usize = std::env::var("RAPPORT_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let exe = std::env::current_exe().unwrap();
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    let mut kills = 0;
    let mut run = 0;
    while kills < want_kills {
        run += 1;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        // Several crashes on the same file: the child resumes where the last one stopped.
        let mut acked = 0u128;
        for _ in 0..3 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let kill_after = (rng % (OPS as u64 + 50)) as u128; // sometimes never: runs to the end
            let mut child = Command::new(&exe)
                .args([
                    "--exact",
                    "crash_child_entry",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("RAPPORT_CRASH_DB", &db)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut seen = 0u128;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    seen = n.trim().parse().unwrap();
                    acked = acked.max(seen);
                    if seen >= kill_after {
                        child.kill().unwrap(); // SIGKILL
                        kills += 1;
                        break;
                    }
                }
            }
            let _ = child.wait();
            check(&db, acked);
            if seen >= OPS {
                break;
            }
        }
        if run % 50 == 0 {
            eprintln!("run {run}: acked {acked}");
        }
    }
    eprintln!("{run} runs, {kills} SIGKILLs, no acknowledged change lost");
    assert!(kills >= want_kills);
}

//! `rapport rules check`, `rapport sweep --rules` (webhook to a loopback receiver) and
//! `rapport actions` end to end on SQLite.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use support::{import_transactions, rapport, stdout_ok as ok};

/// What the receiver saw: (headers, body) per request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A minimal HTTP/1.1 receiver: records (headers, body) and answers 204.
fn receiver() -> (String, Seen) {
    receiver_refusing(Arc::new(AtomicBool::new(false)))
}

/// The same, answering 422 to actions (`action_due` bodies) while `refuse` is set.
fn receiver_refusing(refuse: Arc<AtomicBool>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut headers = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    headers.push_str(&line);
                }
                if headers.is_empty() {
                    break;
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                let answer: &[u8] =
                    if refuse.load(Ordering::SeqCst) && body.contains("\"action_due\"") {
                        b"HTTP/1.1 422 Unprocessable Entity\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        b"HTTP/1.1 204 No Content\r\n\r\n"
                    };
                out.lock().unwrap().push((headers, body));
                if stream.write_all(answer).is_err() {
                    break;
                }
            }
        }
    });
    (url, seen)
}

const RULES: &str = r#"
[[rules]]
id = "vip-call"
trigger = { tier_changed = { direction = "up", to = ["gold", "platinum"] } }
unless_caused_by = ["refund"]
action = { template = "call-new-vip", channel = "task", purpose = "transactional", params = { within = "3d" } }

[[rules]]
id = "win-back"
trigger = { stage_entered = "silent" }
action = { template = "win-back-offer", channel = "email", purpose = "marketing" }
"#;

#[test]
fn rules_check_explains_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), RULES).unwrap();
    let text = ok(&rapport(dir.path(), &["rules", "check", "rules.toml"]));
    assert!(text.contains("vip-call: when the tier moves up to gold or platinum (unless caused by a refund), send call-new-vip by task (transactional)"), "{text}");
    assert!(text.contains("2 rules ok"), "{text}");
    std::fs::write(
        dir.path().join("bad.toml"),
        format!(
            "{RULES}{}",
            &RULES[RULES.find("[[rules]]\nid = \"win-back\"").unwrap()..]
        ),
    )
    .unwrap();
    let bad = rapport(dir.path(), &["rules", "check", "bad.toml"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("rule `win-back` is defined twice"));
}

#[test]
fn sweep_with_rules_sends_through_the_webhook_and_logs_actions() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver();
    std::fs::write(
        dir.path().join("rapport.toml"),
        format!("{RULES}\n[webhook]\nurl = \"{url}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\ntimeout = 5\n"),
    )
    .unwrap();
    import_transactions(
        dir.path(),
        "tx.csv",
        "customer_id,date,amount\nann,2026-01-05,2500.00\nbob,2026-01-05,20.00\n",
        "2026-01-06",
    );
    let out = ok(&rapport(
        dir.path(),
        &["sweep", "--now", "2026-01-06", "--rules", "rapport.toml"],
    ));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["automation"]["sent"], 1, "{json}");
    assert_eq!(json["automation"]["failed"], 0, "{json}");
    let got = seen.lock().unwrap().clone();
    let action = got
        .iter()
        .find(|(_, b)| b.contains("\"action_due\""))
        .expect("the task reached the receiver");
    assert!(
        action.1.contains("call-new-vip")
            && action
                .0
                .to_ascii_lowercase()
                .contains("webhook-signature: v1,")
    );
    // Every event went out too (the import's tier and stage changes), each once.
    let ids: Vec<&str> = got
        .iter()
        .filter_map(|(h, _)| {
            h.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("webhook-id:"))
        })
        .collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len());

    // Months later both are Silent: win-back offers, but nobody gave marketing consent.
    ok(&rapport(
        dir.path(),
        &["sweep", "--now", "2026-05-01", "--rules", "rapport.toml"],
    ));
    let log: serde_json::Value =
        serde_json::from_str(&ok(&rapport(dir.path(), &["actions", "--json"]))).unwrap();
    let lines = log.as_array().unwrap();
    let outcomes: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["rule"].as_str().unwrap().to_owned(),
                l["outcome"]["reason"].as_str().unwrap_or("sent").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|(r, o)| r == "vip-call" && o == "sent")
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|(r, o)| r == "win-back" && o == "no_consent")
            .count(),
        2,
        "{outcomes:?}"
    );
    let table = ok(&rapport(dir.path(), &["actions"]));
    assert!(
        table.contains("no_consent") && table.contains("3 actions"),
        "{table}"
    );
}

#[test]
fn a_refused_action_is_dead_lettered_listed_and_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let refuse = Arc::new(AtomicBool::new(true));
    let (url, seen) = receiver_refusing(Arc::clone(&refuse));
    std::fs::write(
        dir.path().join("rapport.toml"),
        format!("{RULES}\n[webhook]\nurl = \"{url}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\ntimeout = 5\n"),
    )
    .unwrap();
    import_transactions(
        dir.path(),
        "tx.csv",
        "customer_id,date,amount\nann,2026-01-05,2500.00\n",
        "2026-01-06",
    );
    // The receiver refuses the task (422): a dead letter, in the log with the reason.
    let out = ok(&rapport(dir.path(), &["sweep", "--now", "2026-01-06"]));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["automation"]["sent"], 1, "{json}");
    assert_eq!(json["automation"]["dead_lettered"], 1, "{json}");
    let dead: serde_json::Value = serde_json::from_str(&ok(&rapport(
        dir.path(),
        &["actions", "--dead-letters", "--json"],
    )))
    .unwrap();
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["outcome"]["outcome"], "dead_lettered");
    assert!(
        dead[0]["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("422"),
        "{dead:?}"
    );
    let id = dead[0]["id"].as_str().unwrap().to_owned();
    let table = ok(&rapport(dir.path(), &["actions"]));
    assert!(
        table.contains("dead-lettered") && table.contains(&id),
        "{table}"
    );

    // The receiver is fixed: the re-drive sends the same webhook-id again, and it arrives.
    refuse.store(false, Ordering::SeqCst);
    let out = ok(&rapport(dir.path(), &["actions", "redrive", &id]));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["redrive"], "queued", "{json}");
    assert_eq!(json["delivered"], 1, "{json}");
    assert_eq!(json["dead_lettered"], 0, "{json}");
    let tries = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(h, b)| {
            b.contains("\"action_due\"")
                && h.to_ascii_lowercase()
                    .contains(&format!("webhook-id: {id}"))
        })
        .count();
    assert_eq!(
        tries, 2,
        "refused once, delivered once, under one webhook-id"
    );
    let dead: serde_json::Value = serde_json::from_str(&ok(&rapport(
        dir.path(),
        &["actions", "--dead-letters", "--json"],
    )))
    .unwrap();
    assert!(dead.as_array().unwrap().is_empty(), "{dead}");
    let again = ok(&rapport(dir.path(), &["actions", "redrive", &id]));
    assert!(again.contains("not_dead_lettered"), "{again}");
    let bad = rapport(dir.path(), &["actions", "redrive", "nope"]);
    assert!(!bad.status.success());
}

#[test]
fn guard_settings_in_rapport_toml_reach_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver();
    let write = |guards: &str| {
        std::fs::write(
            dir.path().join("rapport.toml"),
            format!("{RULES}\n[webhook]\nurl = \"{url}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\ntimeout = 5\n\n[automation]\n{guards}"),
        )
        .unwrap();
    };
    // Quiet from 22:00 to 06:00 UTC: the sweep at the end of 6 January (23:59) defers the task.
    write("quiet_hours = \"22:00-06:00\"\n");
    let check = ok(&rapport(dir.path(), &["rules", "check", "rapport.toml"]));
    assert!(
        check.contains("quiet hours 22:00-06:00 local") && check.contains("time zone UTC"),
        "{check}"
    );
    import_transactions(
        dir.path(),
        "tx.csv",
        "customer_id,date,amount\nann,2026-01-05,2500.00\n",
        "2026-01-06",
    );
    let out = ok(&rapport(dir.path(), &["sweep", "--now", "2026-01-06"]));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&json["automation"]["sent"], &json["automation"]["deferred"]),
        (&serde_json::json!(0), &serde_json::json!(1)),
        "{json}"
    );
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(_, b)| b.contains("\"action_due\""))
    );
    // A day later, again at 23:59 UTC: still quiet there, but the tenant is at UTC+08:00,
    // where it is 07:59, after the quiet hours: the deferred task goes out.
    write("quiet_hours = \"22:00-06:00\"\nutc_offset = \"+08:00\"\n");
    let out = ok(&rapport(dir.path(), &["sweep", "--now", "2026-01-07"]));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["automation"]["sent"], 1, "{json}");
    // A bad setting stops the sweep with the file and key.
    write("time_zone = \"Mars/Olympus\"\n");
    let bad = rapport(dir.path(), &["sweep", "--now", "2026-01-06"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("time_zone `Mars/Olympus`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

//! `rapport` with its logs on (`RUST_LOG=debug`, `-vv`): a full run over a generated customer
//! book logs spans and events from the service and the SQLite store to stderr, and none of the
//! book's names, emails, phones or attributes; without the flags stderr stays empty.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `rapport --db sqlite://book.db <args…>` in `dir`, with `RUST_LOG` set as given.
fn rapport(dir: &Path, rust_log: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rapport"));
    cmd.current_dir(dir)
        .args(["--db", "sqlite://book.db"])
        .args(args);
    match rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rapport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Person {
    name: String,
    email: String,
    phone: String,
    e164: String,
    city: String,
}

fn corpus(n: usize) -> Vec<Person> {
    const FIRST: [&str; 6] = [
        "Wilhelmina",
        "Bartholomew",
        "Anastasia",
        "Maximilian",
        "Genevieve",
        "Cornelius",
    ];
    const LAST: [&str; 5] = [
        "Quackenbush",
        "Featherstone",
        "Oyelaran",
        "Zhivago",
        "Lindqvist",
    ];
    (0..n)
        .map(|i| {
            let (first, last) = (FIRST[i % FIRST.len()], LAST[i % LAST.len()]);
            Person {
                name: format!("{first} {last}"),
                email: format!("{first}.{last}{i}@Mailbox-Example.org"),
                phone: format!("(202) 555-01{i:02}"),
                e164: format!("+120255501{i:02}"),
                city: format!("Xanadu-{last}-{i}"),
            }
        })
        .collect()
}

#[test]
fn a_full_run_with_debug_logs_leaks_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let people = corpus(60);
    let mut customers = String::from("customer_id,email,phone,name,city\n");
    let mut tx = String::from("customer_id,date,amount\n");
    for (i, p) in people.iter().enumerate() {
        customers.push_str(&format!(
            "K{i},{},{},{},{}\n",
            p.email, p.phone, p.name, p.city
        ));
        for k in 0..=(i % 4) {
            tx.push_str(&format!("K{i},2025-0{}-1{k},{}.50\n", 1 + k, 20 + 13 * i));
        }
    }
    std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
    std::fs::write(dir.path().join("tx.csv"), tx).unwrap();

    let debug = Some("debug");
    let mut logs = String::new();
    let mut run = |rust_log: Option<&str>, args: &[&str]| {
        let o = rapport(dir.path(), rust_log, args);
        logs.push_str(&String::from_utf8(o.stderr).unwrap());
        String::from_utf8(o.stdout).unwrap()
    };
    let imported = run(
        debug,
        &[
            "import",
            "customers",
            "customers.csv",
            "--attr-cols",
            "city",
            "--quiet",
        ],
    );
    assert!(imported.contains("\"customers_new\":60"), "{imported}");
    run(debug, &["import", "transactions", "tx.csv", "--quiet"]);
    run(debug, &["sweep", "--now", "2026-01-01"]);
    run(debug, &["report", "--now", "2026-01-01", "--json"]);
    // Lookups by external id and by email, and one showing the profile on stdout (asked for):
    // stderr still holds none of it.
    run(debug, &["customer", "K7", "--json"]);
    let shown = run(debug, &["customer", &people[3].email, "--show-pii"]);
    assert!(shown.contains(&people[3].email.to_lowercase()), "{shown}");
    run(debug, &["segment", "orders >= 2", "--json"]);
    // `-vv` without RUST_LOG: debug logs too.
    let vv = rapport(dir.path(), None, &["-vv", "sweep", "--now", "2026-02-01"]);
    let vv = String::from_utf8(vv.stderr).unwrap();
    assert!(vv.contains("DEBUG") && vv.contains("rapport.sweep"), "{vv}");
    logs.push_str(&vv);

    // The logs are there, from the service and the store, with ids and counts.
    for needle in [
        "rapport_sqlite.import_customers_iter",
        "rapport_sqlite.import_activities",
        "inserted=60",
        "rapport.evaluate",
        "rapport_sqlite.apply",
        "outcome=\"applied\"",
        "duration_us=",
        "rapport.sweep",
        "sweep batch",
        "evaluated=60",
    ] {
        assert!(logs.contains(needle), "no `{needle}` in the logs:\n{logs}");
    }
    // None of the book's personal data, in any spelling.
    let mut checked = 0;
    for p in &people {
        let digits: String = p.phone.chars().filter(char::is_ascii_digit).collect();
        for s in [
            p.name.clone(),
            p.name.to_lowercase(),
            p.email.clone(),
            p.email.to_lowercase(),
            p.phone.clone(),
            p.e164.clone(),
            digits,
            p.city.clone(),
        ] {
            assert!(!logs.contains(&s), "`{s}` leaked into the logs");
            checked += 1;
        }
        for part in p.name.split(' ') {
            assert!(!logs.contains(part), "`{part}` leaked into the logs");
            checked += 1;
        }
    }
    eprintln!(
        "{checked} forbidden strings, {} log lines, {} bytes",
        logs.lines().count(),
        logs.len()
    );

    // Without RUST_LOG or -v: warnings only, so a normal run writes nothing to stderr.
    let quiet = rapport(dir.path(), None, &["sweep", "--now", "2026-03-01"]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}

//! `rapport duplicates`, `not-duplicate`, `merge [--dry-run]` and `unmerge` end to end, on
//! SQLite and PostgreSQL (issue #15).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use futures::executor::block_on;
use rapport_core::*;
use uuid::Uuid;

/// The CLI's namespace for tenant and customer ids (`crates/rapport-cli/src/store.rs`).
const NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_2c3e_9b4d_4e5f_8a7b_1c2d_3e4f_5a6b);

fn tenant() -> TenantId {
    TenantId::from_uuid(Uuid::new_v5(&NAMESPACE, b"tenant:default"))
}

fn customer_id(external: &str) -> CustomerId {
    CustomerId::from_uuid(Uuid::new_v5(
        tenant().as_uuid(),
        format!("customer:{external}").as_bytes(),
    ))
}

fn rapport(dir: &Path, db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir)
        .args(["--db", db])
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Two records of Ann Lee (same name and birth date, different emails) and Bob, each with a
/// purchase, written through the library as a host would.
fn seed<S: Store>(store: S) {
    let t = tenant();
    let now = chrono::Utc::now();
    let born = chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap();
    let mut cs = Changeset::new();
    for (ext, name, email, born) in [
        ("C1", "Ann Lee", "ann@example.com", Some(born)),
        ("C2", "Ann Lee", "ann.lee@example.org", Some(born)),
        ("C3", "Bob Stone", "bob@example.com", None),
    ] {
        let mut attrs = Attributes::new();
        attrs.insert(
            AttrKey::new("external_id").unwrap(),
            AttrValue::Text(ext.into()),
        );
        let profile = Profile {
            display_name: Some(Pii::new(name.into())),
            email: Some(Pii::new(Email::parse(email).unwrap())),
            birth_date: born.map(Pii::new),
            attributes: Pii::new(attrs),
            ..Profile::default()
        };
        cs.create(
            Customer::new(t, customer_id(ext), profile, now),
            Stats::default(),
        );
    }
    block_on(store.apply(t, &cs)).unwrap();
    let svc = rapport::Service::new(store);
    for (ext, order) in [("C1", "SO-1"), ("C2", "SO-2"), ("C3", "SO-3")] {
        let usd = Money::new(rust_decimal::Decimal::from(120), Currency::USD);
        let a = rapport::NewActivity::purchase(customer_id(ext), order, usd, now).unwrap();
        block_on(svc.record(t, a)).unwrap();
    }
}

fn run_on(dir: &Path, db: &str) {
    let pairs = json(&rapport(dir, db, &["duplicates", "--json"]));
    let pairs = pairs["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    let mut ext = [
        pairs[0]["a"]["external_id"].as_str().unwrap(),
        pairs[0]["b"]["external_id"].as_str().unwrap(),
    ];
    ext.sort_unstable();
    assert_eq!(ext, ["C1", "C2"]);
    assert!(pairs[0]["score"].as_f64().unwrap() >= 0.7);
    let evidence = pairs[0]["evidence"].to_string();
    assert!(evidence.contains("same name and birth date"), "{evidence}");
    assert!(
        !evidence.contains("Ann"),
        "evidence shows no personal data: {evidence}"
    );

    // The table form names the pair.
    let table = rapport(dir, db, &["duplicates"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("1 candidate pairs"));

    // A dry run shows the field-by-field outcome and writes nothing.
    let dry = json(&rapport(
        dir,
        db,
        &["merge", "C1", "C2", "--dry-run", "--json"],
    ));
    assert!(dry["merge_id"].is_null());
    let fields = dry["fields"].as_array().unwrap();
    let email = fields.iter().find(|f| f["field"] == "email").unwrap();
    assert_eq!(email["decision"], "survivor_on_tie", "{email}"); // same creation time
    let name = fields
        .iter()
        .find(|f| f["field"] == "display_name")
        .unwrap();
    assert_eq!(name["source"], "both");
    let c2 = json(&rapport(dir, db, &["customer", "C2", "--json"]));
    assert_eq!(
        c2["id"],
        customer_id("C2").to_string(),
        "a dry run wrote nothing"
    );

    // The merge: C2 reads through to C1, which holds both purchases.
    let merged = json(&rapport(dir, db, &["merge", "C1", "C2", "--json"]));
    let merge_id = merged["merge_id"].as_str().unwrap().to_owned();
    assert_eq!(merged["moved_activities"], 1);
    let c2 = json(&rapport(dir, db, &["customer", "C2", "--json"]));
    assert_eq!(c2["id"], customer_id("C1").to_string());
    assert_eq!(c2["orders"], 2);
    assert!(
        json(&rapport(dir, db, &["duplicates", "--json"]))["pairs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Merging the other way now: refused, typed, exit 2.
    let again = rapport(dir, db, &["merge", "C2", "C1"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("merged and cannot change"));

    // The unmerge gives C2 back with its purchase; a second one is refused.
    let undo = rapport(dir, db, &["unmerge", &merge_id]);
    assert!(
        undo.status.success(),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    let c2 = json(&rapport(dir, db, &["customer", "C2", "--json"]));
    assert_eq!(
        (c2["id"].as_str(), c2["orders"].as_u64()),
        (Some(customer_id("C2").to_string().as_str()), Some(1))
    );
    let twice = rapport(dir, db, &["unmerge", &merge_id]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("cannot unmerge"));
    let unknown = rapport(dir, db, &["unmerge", &Uuid::from_u128(1).to_string()]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no merge"));

    // Not a duplicate: the pair is not proposed again.
    let marked = rapport(dir, db, &["not-duplicate", "C1", "ann.lee@example.org"]);
    assert!(
        marked.status.success(),
        "{}",
        String::from_utf8_lossy(&marked.stderr)
    );
    assert!(
        json(&rapport(dir, db, &["duplicates", "--json"]))["pairs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn duplicates_merge_unmerge_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    {
        let store = rapport_sqlite::SqliteStore::open(
            &path,
            rapport_sqlite::SqliteConfig::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        seed(&store);
    }
    run_on(dir.path(), &format!("sqlite://{}", path.display()));
}

#[test]
fn duplicates_merge_unmerge_on_postgres() {
    let url = std::env::var("RAPPORT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let require =
        std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| !v.is_empty() && v != "0");
    let schema = format!("rapport_cli_quality_{}", std::process::id());
    let config = rapport_postgres::PostgresConfig::new(url.clone()).with_schema(schema.clone());
    let store = match block_on(rapport_postgres::PostgresStore::connect(
        config,
        chrono::Utc::now(),
    )) {
        Ok(s) => s,
        Err(e) if !require => {
            eprintln!("skipping PostgreSQL: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    seed(&store);
    let dir = tempfile::tempdir().unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    run_on(dir.path(), &format!("{url}{sep}schema={schema}"));
    block_on(store.drop_schema()).unwrap();
}

/// `duplicates --auto-merge --threshold X` merges the pairs at or above X (actor
/// `auto-merge`), and `[merge] auto_merge = true` in the configuration does the same; off by
/// default; `unmerge` takes an auto-merge back.
#[test]
fn auto_merge_is_opt_in_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    {
        let store = rapport_sqlite::SqliteStore::open(
            &path,
            rapport_sqlite::SqliteConfig::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        seed(&store);
    }
    let db = format!("sqlite://{}", path.display());
    let plain = json(&rapport(dir.path(), &db, &["duplicates", "--json"]));
    assert!(
        plain.get("merged").is_none(),
        "merged without opting in: {plain}"
    );
    assert_eq!(plain["pairs"].as_array().unwrap().len(), 1);
    // Above every score: nothing merged.
    let high = json(&rapport(
        dir.path(),
        &db,
        &["duplicates", "--json", "--auto-merge", "--threshold", "1"],
    ));
    assert_eq!(high["merged"].as_array().unwrap().len(), 0, "{high}");
    let score = plain["pairs"][0]["score"].as_f64().unwrap();
    let at = format!("{}", (score - 0.01).max(0.0));
    let done = json(&rapport(
        dir.path(),
        &db,
        &["duplicates", "--json", "--auto-merge", "--threshold", &at],
    ));
    let merged = done["merged"].as_array().unwrap();
    assert_eq!(merged.len(), 1, "{done}");
    assert!(done["pairs"].as_array().unwrap().is_empty(), "{done}");
    let pair = [customer_id("C1").to_string(), customer_id("C2").to_string()];
    assert!(pair.contains(&merged[0]["survivor"].as_str().unwrap().to_owned()));
    assert!(pair.contains(&merged[0]["loser"].as_str().unwrap().to_owned()));
    // Undo it, then let the configuration opt in.
    let id = merged[0]["merge_id"].as_str().unwrap().to_owned();
    let o = rapport(dir.path(), &db, &["unmerge", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let config = dir.path().join("auto.toml");
    std::fs::write(
        &config,
        format!("[merge]\nauto_merge = true\nthreshold = {at}\n"),
    )
    .unwrap();
    let conf = config.display().to_string();
    let again = json(&rapport(
        dir.path(),
        &db,
        &["--config", &conf, "duplicates", "--json"],
    ));
    assert_eq!(again["merged"].as_array().unwrap().len(), 1, "{again}");
    // A misspelt key is refused, naming it.
    std::fs::write(&config, "[merge]\nauto_merg = true\n").unwrap();
    let bad = rapport(dir.path(), &db, &["--config", &conf, "duplicates"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("auto_merg"));
}

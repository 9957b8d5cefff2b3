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

/// Ann Lee twice: C1 registered a day earlier from the ERP (`source = erp`), C2 from the web
/// shop, with another spelling of the name, another email and another phone; same birthday.
fn seed_sources(path: &Path) {
    let store = rapport_sqlite::SqliteStore::open(
        path,
        rapport_sqlite::SqliteConfig::default(),
        chrono::Utc::now(),
    )
    .unwrap();
    let t = tenant();
    let now = chrono::Utc::now();
    let born = chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap();
    let mut cs = Changeset::new();
    for (ext, name, email, phone, source, at) in [
        (
            "C1",
            "Ann Lee",
            "ann@example.com",
            "+14155550100",
            "erp",
            now - chrono::Duration::days(1),
        ),
        (
            "C2",
            "Ann B. Lee",
            "ann.lee@example.org",
            "+14155550101",
            "web",
            now,
        ),
    ] {
        let mut attrs = Attributes::new();
        for (k, v) in [("external_id", ext), ("source", source)] {
            attrs.insert(AttrKey::new(k).unwrap(), AttrValue::Text(v.into()));
        }
        let profile = Profile {
            display_name: Some(Pii::new(name.into())),
            email: Some(Pii::new(Email::parse(email).unwrap())),
            phone: Some(Pii::new(Phone::from_e164(phone).unwrap())),
            birth_date: Some(Pii::new(born)),
            attributes: Pii::new(attrs),
        };
        cs.create(
            Customer::new(t, customer_id(ext), profile, at),
            Stats::default(),
        );
    }
    block_on(store.apply(t, &cs)).unwrap();
}

/// `(source, decision)` of `field` in a `merge --json` answer.
fn outcome(doc: &serde_json::Value, field: &str) -> (String, String) {
    let f = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no {field} in {doc}"));
    (
        f["source"].as_str().unwrap().to_owned(),
        f["decision"].as_str().unwrap().to_owned(),
    )
}

fn pair(source: &str, decision: &str) -> (String, String) {
    (source.to_owned(), decision.to_owned())
}

fn failure(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `merge --survivorship …`, `--ranking`, `--keep-survivor`/`--keep-loser` and the same in
/// rapport.toml's `[merge]` choose the survivorship per field; the merge written follows the
/// preview.
#[test]
fn merge_survivorship_is_chosen_by_flags_and_config_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    seed_sources(&path);
    let db = format!("sqlite://{}", path.display());
    let dry = |extra: &[&str]| {
        let mut args = vec!["merge", "C1", "C2", "--dry-run", "--json"];
        args.extend_from_slice(extra);
        json(&rapport(dir.path(), &db, &args))
    };

    // Default: the most recent record (C2, the loser) wins every conflict.
    let d = dry(&[]);
    assert_eq!(d["survivorship"]["type"], "most_recent");
    assert_eq!(outcome(&d, "display_name"), pair("loser", "most_recent"));
    assert_eq!(outcome(&d, "phone"), pair("loser", "most_recent"));
    assert_eq!(outcome(&d, "birth_date"), pair("both", "equal"));

    // The most trusted source: the ERP record (C1, the survivor) wins.
    let d = dry(&["--survivorship", "most-trusted", "--ranking", "erp,web"]);
    assert_eq!(d["survivorship"]["type"], "most_trusted");
    assert_eq!(
        d["survivorship"]["ranking"],
        serde_json::json!(["erp", "web"])
    );
    assert_eq!(
        outcome(&d, "display_name"),
        pair("survivor", "most_trusted")
    );
    assert_eq!(outcome(&d, "email"), pair("survivor", "most_trusted"));
    // A ranking alone means most-trusted; the web first makes C2 win.
    let d = dry(&["--ranking", "web,erp", "--source-attribute", "source"]);
    assert_eq!(outcome(&d, "display_name"), pair("loser", "most_trusted"));

    // Per field: keep the survivor's phone and the loser's... nothing else; the rule decides
    // the rest.
    let d = dry(&["--keep-survivor", "phone,attr.source"]);
    assert_eq!(outcome(&d, "phone"), pair("survivor", "host"));
    assert_eq!(outcome(&d, "attr.source"), pair("survivor", "host"));
    assert_eq!(outcome(&d, "email"), pair("loser", "most_recent"));
    let d = dry(&[
        "--survivorship",
        "most-trusted",
        "--ranking",
        "erp,web",
        "--keep-loser",
        "email",
    ]);
    assert_eq!(outcome(&d, "email"), pair("loser", "host"));
    assert_eq!(
        outcome(&d, "display_name"),
        pair("survivor", "most_trusted")
    );

    // Mistakes are refused before anything is read, naming what is wrong.
    let err = |extra: &[&str]| {
        let mut args = vec!["merge", "C1", "C2", "--dry-run"];
        args.extend_from_slice(extra);
        failure(&rapport(dir.path(), &db, &args))
    };
    assert!(err(&["--keep-survivor", "nickname"]).contains("unknown field `nickname`"));
    assert!(err(&["--keep-survivor", "phone", "--keep-loser", "phone"]).contains("both"));
    assert!(err(&["--survivorship", "most-trusted"]).contains("ranking"));
    assert!(err(&["--survivorship", "most-recent", "--ranking", "erp"]).contains("most-trusted"));

    // rapport.toml's [merge] section sets the same; flags win over it.
    let config = dir.path().join("rapport.toml");
    std::fs::write(
        &config,
        "[merge]\nsurvivorship = \"most_trusted\"\nranking = [\"erp\", \"web\"]\nkeep_loser = [\"phone\"]\n",
    )
    .unwrap();
    let d = dry(&[]);
    assert_eq!(
        outcome(&d, "display_name"),
        pair("survivor", "most_trusted")
    );
    assert_eq!(outcome(&d, "phone"), pair("loser", "host"));
    let d = dry(&["--survivorship", "most-recent", "--keep-survivor", "phone"]);
    assert_eq!(outcome(&d, "display_name"), pair("loser", "most_recent"));
    assert_eq!(outcome(&d, "phone"), pair("survivor", "host"));
    std::fs::write(&config, "[merge]\nkeep_loser = [\"shoe_size\"]\n").unwrap();
    assert!(err(&[]).contains("shoe_size"));
    std::fs::write(&config, "[merge]\nsurvivorship = \"oldest\"\n").unwrap();
    assert!(err(&[]).contains("oldest"));

    // The merge written follows the chosen policy (the file's: the ERP's name, C2's phone).
    std::fs::write(
        &config,
        "[merge]\nranking = [\"erp\", \"web\"]\nkeep_loser = [\"phone\"]\n",
    )
    .unwrap();
    let merged = json(&rapport(dir.path(), &db, &["merge", "C1", "C2", "--json"]));
    assert_eq!(
        outcome(&merged, "display_name"),
        pair("survivor", "most_trusted")
    );
    let c1 = json(&rapport(
        dir.path(),
        &db,
        &["customer", "C1", "--json", "--show-pii"],
    ));
    assert_eq!(c1["profile"]["display_name"], "Ann Lee");
    assert_eq!(c1["profile"]["email"], "ann@example.com");
    assert_eq!(c1["profile"]["phone"], "+14155550101");
    // And unmerge gives both back as they were.
    let id = merged["merge_id"].as_str().unwrap().to_owned();
    let o = rapport(dir.path(), &db, &["unmerge", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c1 = json(&rapport(
        dir.path(),
        &db,
        &["customer", "C1", "--json", "--show-pii"],
    ));
    assert_eq!(c1["profile"]["phone"], "+14155550100");
}

/// `rapport register`: a new customer; a known contact reports the fields that differ and
/// writes nothing; `--update` lets the survivorship rule decide them and prints what changed.
#[test]
fn register_reports_differences_and_updates_by_survivorship_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    seed_sources(&path);
    let db = format!("sqlite://{}", path.display());
    let run = |args: &[&str]| {
        let mut all = vec!["register", "--json"];
        all.extend_from_slice(args);
        json(&rapport(dir.path(), &db, &all))
    };
    let show = |key: &str| {
        json(&rapport(
            dir.path(),
            &db,
            &["customer", key, "--json", "--show-pii"],
        ))["profile"]
            .clone()
    };

    // New: named by its external id, as an import would.
    let new = run(&[
        "--name",
        "  Bo   Chen ",
        "--email",
        "Bo@Example.com",
        "--phone",
        "(415) 555-0199",
        "--birth-date",
        "1985-02-03",
        "--attr",
        "source=pos",
        "--external-id",
        "N1",
    ]);
    assert_eq!(new["created"], true);
    assert_eq!(new["id"], customer_id("N1").to_string());
    let bo = show("N1");
    assert_eq!(bo["display_name"], "Bo Chen"); // normalised on write
    assert_eq!(bo["email"], "bo@example.com");
    assert_eq!(bo["phone"], "+14155550199");
    assert_eq!(bo["attributes"]["external_id"]["value"], "N1");

    // Known by email: the differing fields are named, nothing is written.
    let known = run(&[
        "--name",
        "Bo Chan",
        "--email",
        "bo@example.com",
        "--phone",
        "+14155550198",
        "--external-id",
        "N2",
    ]);
    assert_eq!(known["created"], false);
    assert_eq!(known["id"], customer_id("N1").to_string());
    assert_eq!(
        known["differs"],
        serde_json::json!(["display_name", "phone"])
    );
    assert_eq!(known["updated"], serde_json::json!([]));
    assert_eq!(show("N1")["display_name"], "Bo Chen");
    let text = rapport(
        dir.path(),
        &db,
        &["register", "--email", "bo@example.com", "--name", "Bo Chan"],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("differs: display_name"), "{text}");
    assert!(!text.contains("Chan"), "no personal data printed: {text}");

    // --update: the registration is the newer record; the name is kept by choice.
    let up = run(&[
        "--name",
        "Bo Chan",
        "--email",
        "bo@example.com",
        "--phone",
        "+14155550198",
        "--update",
        "--keep-existing",
        "name",
    ]);
    assert_eq!(up["differs"], serde_json::json!(["display_name", "phone"]));
    assert_eq!(up["updated"], serde_json::json!(["phone"]));
    let bo = show("N1");
    assert_eq!(
        (bo["display_name"].as_str(), bo["phone"].as_str()),
        (Some("Bo Chen"), Some("+14155550198"))
    );
    // The most trusted source keeps the POS record's name against a web registration.
    let web = run(&[
        "--name",
        "Bo Chan",
        "--email",
        "bo@example.com",
        "--attr",
        "source=web",
        "--update",
        "--ranking",
        "pos,web",
    ]);
    assert_eq!(web["updated"], serde_json::json!([]), "{web}");
    assert_eq!(show("N1")["display_name"], "Bo Chen");
    // By default the registration's values are taken.
    let plain = run(&["--name", "Bo Chan", "--email", "bo@example.com", "--update"]);
    assert_eq!(plain["updated"], serde_json::json!(["display_name"]));
    assert_eq!(show("N1")["display_name"], "Bo Chan");

    // Refused: rule flags without --update, an external id taken by someone else, a phone
    // another customer holds.
    let refuse = |args: &[&str]| {
        let mut all = vec!["register"];
        all.extend_from_slice(args);
        failure(&rapport(dir.path(), &db, &all))
    };
    assert!(refuse(&["--email", "bo@example.com", "--keep-existing", "name"]).contains("--update"));
    assert!(
        refuse(&["--email", "new@example.com", "--external-id", "C1"]).contains("external id `C1`")
    );
    let taken = refuse(&[
        "--email",
        "bo@example.com",
        "--phone",
        "+14155550100",
        "--update",
    ]);
    assert!(taken.contains("phone"), "{taken}");
    assert!(!taken.contains("4155550100"), "no personal data: {taken}");
    assert!(refuse(&["--phone", "call me"]).contains("phone `call me` is invalid"));
}

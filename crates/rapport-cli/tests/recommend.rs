//! `rapport recommend` end to end on SQLite: line items recorded through the library, the
//! command's JSON equals the service's answer.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

use rapport::NewActivity;
use rapport::core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use uuid::Uuid;

/// The CLI's tenant id of a tenant name (`store::tenant`).
fn tenant(name: &str) -> TenantId {
    let ns = Uuid::from_u128(0x6a1f_2c3e_9b4d_4e5f_8a7b_1c2d_3e4f_5a6b);
    TenantId::from_uuid(Uuid::new_v5(&ns, format!("tenant:{name}").as_bytes()))
}

fn usd(s: &str) -> Money {
    Money::new(s.parse().unwrap(), Currency::USD)
}

/// A service over the CLI's default database in `dir` (`rapport.db`).
fn service(dir: &std::path::Path) -> rapport::blocking::Service<SqliteStore> {
    let db = dir.join("rapport.db");
    let store = SqliteStore::open(&db, SqliteConfig::default(), chrono::Utc::now()).unwrap();
    rapport::blocking::Service::new(store)
}

/// Runs `rapport ARGS` in `dir`, which must succeed, and parses its JSON output.
fn rapport_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn recommend_prints_the_services_recommendations() {
    let dir = tempfile::tempdir().unwrap();
    let t = tenant("default");
    let (last, expected) = {
        let svc = service(dir.path());
        let baskets: [&[&str]; 4] = [&["tea", "cup"], &["tea", "cup"], &["tea", "pot"], &["tea"]];
        let mut last = None;
        for (n, b) in baskets.iter().enumerate() {
            let id = svc.register(t, Profile::default()).unwrap().customer.id();
            let lines: Vec<LineItem> = b
                .iter()
                .map(|s| LineItem::new(Sku::new(*s).unwrap(), 1, usd("3.00"), None).unwrap())
                .collect();
            let amount = usd(&format!("{}.00", 3 * b.len()));
            let buy = NewActivity::purchase(id, format!("o-{n}"), amount, svc.now()).unwrap();
            svc.record_with_lines(t, buy, lines, false).unwrap();
            last = Some(id);
        }
        let last = last.unwrap();
        let params = rapport::core::recommend::CosineParams {
            min_support: 1,
            neighbours: 50,
        };
        (last, svc.recommend_with(t, last, 10, params).unwrap())
    };
    let v = rapport_json(
        dir.path(),
        &[
            "recommend",
            &last.to_string(),
            "--min-support",
            "1",
            "--json",
        ],
    );
    let skus: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, vec!["cup", "pot"]);
    assert_eq!(
        skus,
        expected
            .items
            .iter()
            .map(|i| i.sku.as_str())
            .collect::<Vec<_>>()
    );
    // cup: 2 / sqrt(4 · 2).
    let score = v["items"][0]["score"].as_f64().unwrap();
    assert!((score - 2.0 / 8f64.sqrt()).abs() < 1e-12);
    assert_eq!(v["items"][0]["because"][0]["sku"], "tea");
    assert_eq!(v["cold_start"], false);
}

/// `--repeatable tea`: an item of a repeatable category is recommended again to a customer
/// who bought it; without the flag it is not (and nothing else is left).
#[test]
fn recommend_repeats_the_named_categories() {
    let dir = tempfile::tempdir().unwrap();
    let t = tenant("default");
    let first = {
        let svc = service(dir.path());
        let tea = Some(ProductCategory::new("tea").unwrap());
        let mut ids = Vec::new();
        for n in 0..3 {
            let id = svc.register(t, Profile::default()).unwrap().customer.id();
            let lines = vec![
                LineItem::new(Sku::new("puer").unwrap(), 1, usd("3.00"), tea.clone()).unwrap(),
                LineItem::new(Sku::new("cup").unwrap(), 1, usd("3.00"), None).unwrap(),
            ];
            let buy = NewActivity::purchase(id, format!("o-{n}"), usd("6.00"), svc.now()).unwrap();
            svc.record_with_lines(t, buy, lines, false).unwrap();
            ids.push(id);
        }
        ids[0]
    };
    let id = first.to_string();
    let plain = rapport_json(dir.path(), &["recommend", &id, "--json"]);
    assert_eq!(plain["items"].as_array().unwrap().len(), 0);
    let again = rapport_json(
        dir.path(),
        &["recommend", &id, "--json", "--repeatable", "tea,coffee"],
    );
    assert_eq!(again["items"][0]["sku"], "puer");
    assert_eq!(again["items"][0]["because"][0]["sku"], "cup");
    assert_eq!(again["items"].as_array().unwrap().len(), 1);
    assert_eq!(again["cold_start"], false);
    // The same from the `[recommend]` section of rapport.toml beside the database.
    std::fs::write(
        dir.path().join("rapport.toml"),
        "[recommend]\nrepeatable = [\"tea\"]\n",
    )
    .unwrap();
    let from_file = rapport_json(dir.path(), &["recommend", &id, "--json"]);
    assert_eq!(from_file["items"], again["items"]);
}

/// `rapport segment` with `bought(...)` and `category_spend(...)` on line items recorded
/// through the library: the command selects the buyers, net of a returned item.
#[test]
fn segment_selects_by_line_items() {
    let dir = tempfile::tempdir().unwrap();
    let t = tenant("default");
    let ids = {
        let svc = service(dir.path());
        let cat = |c: &str| Some(ProductCategory::new(c).unwrap());
        let baskets: [&[(&str, &str, &str)]; 3] = [
            &[("sku-1", "tea", "60.00"), ("cup", "cups", "9.00")],
            &[("sku-1", "tea", "30.00")],
            &[("cup", "cups", "9.00")],
        ];
        let mut ids = Vec::new();
        for (n, b) in baskets.iter().enumerate() {
            let id = svc.register(t, Profile::default()).unwrap().customer.id();
            let lines: Vec<LineItem> = b
                .iter()
                .map(|(s, c, p)| LineItem::new(Sku::new(*s).unwrap(), 1, usd(p), cat(c)).unwrap())
                .collect();
            let amount: rust_decimal::Decimal = lines.iter().map(|l| l.unit_price.amount).sum();
            let amount = Money::new(amount, Currency::USD);
            let buy = NewActivity::purchase(id, format!("o-{n}"), amount, svc.now()).unwrap();
            svc.record_with_lines(t, buy, lines, false).unwrap();
            ids.push(id);
        }
        // The second customer returns the tea.
        let refund = NewActivity::refund(ids[1], "o-1", usd("30.00"), svc.now()).unwrap();
        let back =
            vec![LineItem::new(Sku::new("sku-1").unwrap(), 1, usd("30.00"), cat("tea")).unwrap()];
        svc.record_with_lines(t, refund, back, false).unwrap();
        ids
    };
    let run = |predicate: &str| -> Vec<String> {
        let v = rapport_json(dir.path(), &["segment", predicate, "--json"]);
        let mut got: Vec<String> = v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["customer"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        got
    };
    let want = |n: &[usize]| -> Vec<String> {
        let mut v: Vec<String> = n.iter().map(|i| ids[*i].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(run(r#"bought("sku-1")"#), want(&[0]));
    assert_eq!(run(r#"bought("cup")"#), want(&[0, 2]));
    assert_eq!(run(r#"category_spend("tea", 365) > 50"#), want(&[0]));
    assert_eq!(run(r#"category_spend("tea", 365) == 0"#), want(&[1, 2]));
    // A bad window is a typed parse error naming the column.
    let out = Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir.path())
        .args(["segment", r#"category_spend("tea", 0) > 1"#])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid number of days '0' at column 23"),
        "{err}"
    );
}

//! `rapport import transactions` with line items, on real files: item columns (the rows of one
//! order grouped into one purchase with its lines) and a separate lines file keyed by order
//! id; totals checked with the line number, `--allow-line-mismatch`, idempotent re-runs.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use futures::executor::block_on;
use rapport::core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use uuid::Uuid;

/// The CLI's tenant id of a tenant name (`store::tenant`).
fn tenant(name: &str) -> TenantId {
    let ns = Uuid::from_u128(0x6a1f_2c3e_9b4d_4e5f_8a7b_1c2d_3e4f_5a6b);
    TenantId::from_uuid(Uuid::new_v5(&ns, format!("tenant:{name}").as_bytes()))
}

fn rapport(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `rapport import transactions tx.csv --now 2026-02-01` with `extra` flags.
fn import(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import", "transactions", "tx.csv", "--now", "2026-02-01"];
    args.extend_from_slice(extra);
    rapport(dir, &args)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A stored line list: order, refund, and (sku, quantity, unit price, category) per line.
type Stored = (String, bool, Vec<(String, u32, String, Option<String>)>);

/// Every stored line list of the default tenant: (order, refund, [(sku, quantity, price,
/// category)]) in activity order, sorted for comparison.
fn stored(dir: &Path) -> Vec<Stored> {
    let store = SqliteStore::open(
        dir.join("rapport.db"),
        SqliteConfig::default(),
        chrono::Utc::now(),
    )
    .unwrap();
    let page = block_on(store.line_items_page(tenant("default"), None, 1_000)).unwrap();
    let mut out: Vec<_> = page
        .into_iter()
        .map(|l| {
            (
                l.order.to_string(),
                l.refund,
                l.items
                    .iter()
                    .map(|i| {
                        (
                            i.sku.to_string(),
                            i.quantity,
                            i.unit_price.amount.to_string(),
                            i.category.as_ref().map(ToString::to_string),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

const ITEMS: &str = "\
customer_id,date,order_id,type,amount,sku,quantity,unit_price,category
C1,2026-01-05,o-1,purchase,13.00,tea-puer,2,4.50,tea
C1,2026-01-05,o-1,purchase,13.00,cup,1,4.00,
C2,2026-01-06,o-2,purchase,9.00,tea-puer,2,4.50,tea
C1,2026-01-10,o-3,purchase,5.00,pot,1,5.00,ware
C1,2026-01-12,o-1,refund,4.00,cup,1,4.00,
";

#[test]
fn item_columns_group_rows_into_orders_and_a_rerun_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tx.csv"), ITEMS).unwrap();
    let args = ["--sku-col", "sku", "--quiet"];
    let v = json(&import(dir.path(), &args));
    assert_eq!(v["imported"]["customers_new"], 2, "{v}");
    assert_eq!(v["imported"]["purchases_new"], 3, "{v}");
    assert_eq!(v["imported"]["refunds_new"], 1, "{v}");
    assert_eq!(v["imported"]["lines_new"], 5, "{v}");
    assert_eq!(v["skipped_rows"], 0);
    let lines = stored(dir.path());
    let usd = |s: &str| s.to_owned();
    assert_eq!(
        lines,
        vec![
            (
                "o-1".into(),
                false,
                vec![
                    ("tea-puer".into(), 2, usd("4.50"), Some("tea".into())),
                    ("cup".into(), 1, usd("4.00"), None)
                ]
            ),
            (
                "o-1".into(),
                true,
                vec![("cup".into(), 1, usd("4.00"), None)]
            ),
            (
                "o-2".into(),
                false,
                vec![("tea-puer".into(), 2, usd("4.50"), Some("tea".into()))]
            ),
            (
                "o-3".into(),
                false,
                vec![("pot".into(), 1, usd("5.00"), Some("ware".into()))]
            ),
        ]
    );
    // The refund of the cup nets it out of what C1 bought: tea-puer and pot are left.
    let v = json(&rapport(
        dir.path(),
        &["recommend", "C2", "--min-support", "1", "--json"],
    ));
    let skus: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["pot"], "{v}");

    // The report's "top products by tier" is the library's, in JSON, text and HTML.
    let report = json(&rapport(
        dir.path(),
        &[
            "report",
            "--json",
            "--now",
            "2026-02-01",
            "--html",
            "r.html",
        ],
    ));
    let expected = {
        let store = SqliteStore::open(
            dir.path().join("rapport.db"),
            SqliteConfig::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        let svc = rapport::blocking::Service::new(store);
        svc.top_products_by_tier(tenant("default"), 5).unwrap()
    };
    assert!(!expected.is_empty());
    for (tier, items) in &expected {
        let shown: Vec<(String, u64)> = report["top_products_by_tier"][tier.as_str()]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["sku"].as_str().unwrap().to_owned(),
                    p["buyers"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = items
            .iter()
            .map(|(s, n)| (s.as_str().to_owned(), u64::from(*n)))
            .collect();
        assert_eq!(shown, want, "{tier:?}");
    }
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<section id=\"top-products\">"));
    let text = rapport(dir.path(), &["report", "--now", "2026-02-01"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Top products by tier"));

    let again = json(&import(dir.path(), &args));
    assert_eq!(again["imported"]["purchases_new"], 0, "{again}");
    assert_eq!(again["imported"]["purchases_skipped"], 3, "{again}");
    assert_eq!(again["imported"]["refunds_new"], 0, "{again}");
    assert_eq!(again["imported"]["lines_new"], 0, "{again}");
    assert_eq!(stored(dir.path()), lines, "a re-run writes no lines");
}

#[test]
fn a_total_mismatch_names_its_line_and_writes_nothing_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = "\
customer_id,date,order_id,amount,sku,quantity,unit_price
C1,2026-01-05,o-1,9.00,tea,2,4.50
C2,2026-01-06,o-2,10.00,tea,1,4.50
C2,2026-01-06,o-2,10.00,cup,1,4.50
";
    std::fs::write(dir.path().join("tx.csv"), file).unwrap();
    let mut args = vec!["--sku-col", "sku", "--quiet"];
    let o = import(dir.path(), &args);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("line 3, column `amount`")
            && e.contains("add up to 9.00 USD, not the order's 10.00 USD")
            && e.contains("--allow-line-mismatch"),
        "{e}"
    );
    assert!(stored(dir.path()).is_empty(), "nothing written");
    // Skipped: the other order is imported.
    args.push("--skip-bad");
    let v = json(&import(dir.path(), &args));
    assert_eq!(v["imported"]["purchases_new"], 1, "{v}");
    assert_eq!(v["skipped_rows"], 1, "{v}");
    // Allowed: both, the lines as they are.
    args.pop();
    args.push("--allow-line-mismatch");
    let v = json(&import(dir.path(), &args));
    assert_eq!(v["imported"]["purchases_new"], 1, "{v}");
    assert_eq!(v["imported"]["purchases_skipped"], 1, "{v}");
    assert_eq!(v["imported"]["lines_new"], 2, "{v}");
    assert_eq!(stored(dir.path()).len(), 2);
}

#[test]
fn the_rows_of_an_order_carry_one_date_and_one_amount() {
    let dir = tempfile::tempdir().unwrap();
    let file = "\
customer_id,date,order_id,amount,sku,quantity,unit_price
C1,2026-01-05,o-1,9.00,tea,1,4.50
C1,2026-01-05,o-1,9.50,cup,1,4.50
";
    std::fs::write(dir.path().join("tx.csv"), file).unwrap();
    let o = import(dir.path(), &["--sku-col", "sku"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("line 3, column `amount`") && e.contains("line 2"),
        "{e}"
    );
    // A bad item cell is named with its line and column.
    let file = "customer_id,date,order_id,amount,sku,quantity,unit_price\nC1,2026-01-05,o-1,9.00,tea,two,4.50\n";
    std::fs::write(dir.path().join("tx.csv"), file).unwrap();
    let o = import(dir.path(), &["--sku-col", "sku"]);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("line 2, column `quantity`"),
        "{e}"
    );
}

#[test]
fn a_lines_file_keyed_by_order_id() {
    let dir = tempfile::tempdir().unwrap();
    let tx = "\
customer_id,date,order_id,amount
C1,2026-01-05,o-1,13.00
C2,2026-01-06,o-2,9.00
C2,2026-01-07,o-3,2.00
";
    let lines = "\
order_id,sku,quantity,unit_price,category
o-1,tea-puer,2,4.50,tea
o-2,tea-puer,2,4.50,tea
o-1,cup,1,4.00,
";
    std::fs::write(dir.path().join("tx.csv"), tx).unwrap();
    std::fs::write(dir.path().join("lines.csv"), lines).unwrap();
    let args = ["--lines", "lines.csv", "--quiet"];
    let v = json(&import(dir.path(), &args));
    assert_eq!(v["imported"]["purchases_new"], 3, "{v}");
    assert_eq!(v["imported"]["lines_new"], 3, "{v}");
    let stored_lines = stored(dir.path());
    assert_eq!(stored_lines.len(), 2, "o-3 has no lines");
    assert_eq!(stored_lines[0].2.len(), 2);
    let again = json(&import(dir.path(), &args));
    assert_eq!(again["imported"]["lines_new"], 0, "{again}");
    assert_eq!(stored(dir.path()), stored_lines);

    // A line of an order the transactions file does not have: the lines file's line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tx.csv"), tx).unwrap();
    std::fs::write(
        dir.path().join("lines.csv"),
        format!("{lines}o-9,cup,1,4.00,\n"),
    )
    .unwrap();
    let o = import(dir.path(), &args);
    let e = stderr(&o);
    assert!(
        !o.status.success()
            && e.contains("lines.csv: line 5, column `order_id`")
            && e.contains("`o-9` is not a purchase"),
        "{e}"
    );
    assert!(stored(dir.path()).is_empty());
}

/// A full refund without lines imported by `import activities` (in bulk) gives back what is
/// left of its order's lines, as `Service::record` does: the refund of what the cup's
/// refund left of o-1 returns the two tea-puer.
#[test]
fn a_full_refund_without_lines_from_import_activities_gives_back_the_orders_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tx.csv"), ITEMS).unwrap();
    json(&import(dir.path(), &["--sku-col", "sku", "--quiet"]));
    std::fs::write(
        dir.path().join("acts.csv"),
        "customer_id,date,kind,amount,order_id\nC1,2026-01-20,refund,9.00,o-1\n",
    )
    .unwrap();
    let args = [
        "import",
        "activities",
        "acts.csv",
        "--now",
        "2026-02-01",
        "--quiet",
    ];
    let v = json(&rapport(dir.path(), &args));
    assert_eq!(v["imported"]["activities_new"], 1, "{v}");
    assert_eq!(v["imported"]["lines_new"], 1, "{v}");
    let back: Vec<Stored> = stored(dir.path())
        .into_iter()
        .filter(|(order, refund, _)| order == "o-1" && *refund)
        .collect();
    assert_eq!(
        back,
        vec![
            (
                "o-1".into(),
                true,
                vec![("cup".into(), 1, "4.00".into(), None)]
            ),
            (
                "o-1".into(),
                true,
                vec![("tea-puer".into(), 2, "4.50".into(), Some("tea".into()))]
            ),
        ]
    );
    // C1 bought nothing of o-1 any more: tea-puer has no co-buyer left, so C2 (who bought
    // it) gets the cold-start list, not "pot because you bought tea-puer".
    let rec = json(&rapport(
        dir.path(),
        &["recommend", "C2", "--min-support", "1", "--json"],
    ));
    assert_eq!(rec["cold_start"], true, "{rec}");
    let again = json(&rapport(dir.path(), &args));
    assert_eq!(again["imported"]["activities_skipped"], 1, "{again}");
    assert_eq!(again["imported"]["lines_new"], 0, "{again}");
}

/// A lined import of a few thousand orders goes in bulk: each customer's row is written once
/// per import batch (its version steps once, then once more for the evaluation), not once per
/// order as recording each order through the service did.
#[test]
fn a_lined_import_of_thousands_of_orders_goes_in_bulk() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv =
        String::from("customer_id,date,order_id,type,amount,sku,quantity,unit_price,category\n");
    for n in 0..3_000 {
        let c = if n % 2 == 0 { "C1" } else { "C2" };
        let day = 1 + n % 28;
        csv.push_str(&format!(
            "{c},2025-06-{day:02},o-{n},purchase,7.00,tea-{},1,4.00,tea\n",
            n % 7
        ));
        csv.push_str(&format!(
            "{c},2025-06-{day:02},o-{n},purchase,7.00,cup-{},1,3.00,cups\n",
            n % 5
        ));
    }
    std::fs::write(dir.path().join("tx.csv"), csv).unwrap();
    let v = json(&import(dir.path(), &["--sku-col", "sku", "--quiet"]));
    assert_eq!(v["imported"]["purchases_new"], 3_000, "{v}");
    assert_eq!(v["imported"]["lines_new"], 6_000, "{v}");
    let store = SqliteStore::open(
        dir.path().join("rapport.db"),
        SqliteConfig::default(),
        chrono::Utc::now(),
    )
    .unwrap();
    let t = tenant("default");
    for name in ["C1", "C2"] {
        let id = CustomerId::from_uuid(Uuid::new_v5(
            t.as_uuid(),
            format!("customer:{name}").as_bytes(),
        ));
        let r = block_on(store.load(t, id)).unwrap().unwrap();
        assert_eq!(r.stats.orders(), 1_500);
        assert!(
            r.customer.version() <= 3,
            "version {}",
            r.customer.version()
        );
        assert_eq!(
            block_on(store.customer_line_items(t, id)).unwrap().len(),
            1_500
        );
    }
}

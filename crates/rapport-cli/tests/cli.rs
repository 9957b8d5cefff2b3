//! The `rapport` binary end to end: the demo (twice: same report), report JSON, the CLV
//! commands against the lifetimes reference, and errors that name the line and column.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{json_ok as json, rapport};

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/clv")
        .join(name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn demo_runs_with_no_setup_and_twice_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let first = rapport(dir.path(), &["demo", "--html", "report.html"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    for part in [
        "tier (pyramid)",
        "stage (funnel)",
        "RFM segment",
        "BG/NBD (per day)",
        "Top customers by 12-month CLV",
        "Highest churn risk",
        "Monthly cohort retention",
    ] {
        assert!(text.contains(part), "missing {part}");
    }
    assert!(text.contains("2357 customers"), "{text}");
    assert!(dir.path().join("rapport-demo.db").exists());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for id in [
        "tier-pyramid",
        "stage-funnel",
        "cohort-heatmap",
        "clv-distribution",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "html lacks {id}");
    }
    assert_eq!(html.matches("<svg").count(), 4);
    let second = rapport(dir.path(), &["demo"]);
    assert!(second.status.success());
    assert_eq!(
        stdout(&second),
        text,
        "the second run gives the same report"
    );
    assert!(stderr(&second).contains("0 new purchases (6919 already there)"));

    // Report JSON over the demo database.
    let json = rapport(
        dir.path(),
        &[
            "--db",
            "sqlite://rapport-demo.db",
            "report",
            "--now",
            "1998-06-30",
            "--json",
        ],
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["customers"], 2357);
    let stages: Vec<&String> = v["stages"].as_object().unwrap().keys().collect();
    assert_eq!(stages.len(), 5);
    for s in ["prospect", "new", "active", "silent", "churned"] {
        assert!(v["stages"][s].is_u64(), "stage {s}");
    }
    for t in ["platinum", "gold", "iron", "lead"] {
        assert!(v["tiers"][t].is_u64(), "tier {t}");
    }
    let total: u64 = v["stages"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(total, 2357);
    assert_eq!(v["rfm_segments"].as_object().unwrap().len(), 10);
    assert!(v["win_backs"].as_u64().unwrap() > 0);
    // The daily BG/NBD fit equals lifetimes' on the same data.
    assert!((v["models"]["bgnbd"]["r"].as_f64().unwrap() - 0.253_561_043_599).abs() < 1e-4);

    let one = rapport(
        dir.path(),
        &[
            "--db",
            "sqlite://rapport-demo.db",
            "customer",
            "00004",
            "--now",
            "1998-06-30",
            "--json",
        ],
    );
    assert!(one.status.success(), "{}", stderr(&one));
    let c: serde_json::Value = serde_json::from_str(&stdout(&one)).unwrap();
    assert_eq!(c["orders"], 4);
    assert!(
        c["stage_reason"]
            .as_str()
            .unwrap()
            .starts_with("lifecycle.")
    );
    let missing = rapport(
        dir.path(),
        &["--db", "sqlite://rapport-demo.db", "customer", "no-such"],
    );
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no customer `no-such`"));
}

#[test]
fn clv_fit_reproduces_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "fit",
            "--model",
            "bgnbd",
            "--input",
            reference("cdnow_customers_summary.csv").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "bgnbd");
    assert_eq!(v["customers"], 2357);
    assert!((v["params"]["r"].as_f64().unwrap() / 0.242_592_928_279_821_7 - 1.0).abs() < 1e-4);
    assert!((v["log_likelihood"].as_f64().unwrap() + 9582.4256).abs() < 1e-3);
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "fit",
            "--model",
            "gamma-gamma",
            "--input",
            reference("cdnow_customers_summary_with_transactions.csv")
                .to_str()
                .unwrap(),
            "--frequency-col",
            "x",
            "--monetary-col",
            "zbar",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!((v["params"]["p"].as_f64().unwrap() / 6.248_802_496 - 1.0).abs() < 1e-4);
    assert_eq!(
        (v["customers"].as_u64(), v["skipped"].as_u64()),
        (Some(946), Some(1411))
    );
}

#[test]
fn clv_summarize_equals_lifetimes_weekly_and_predict_matches() {
    let dir = tempfile::tempdir().unwrap();
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "summarize",
            "--input",
            reference("cdnow_sample_transactions.csv").to_str().unwrap(),
            "--customer-col",
            "customer_id",
            "--date-col",
            "date",
            "--amount-col",
            "amount",
            "--period",
            "week",
            "--observation-end",
            "1998-06-30",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = stdout(&o);
    let theirs = std::fs::read_to_string(reference("cdnow_sample_rfm_weekly.csv")).unwrap();
    assert_eq!(ours.lines().count(), theirs.lines().count());
    for (a, b) in ours.lines().zip(theirs.lines()).skip(1) {
        let a: Vec<&str> = a.split(',').collect();
        let b: Vec<&str> = b.split(',').collect();
        assert_eq!(a[..4], b[..4], "{a:?} vs {b:?}");
        let (ma, mb): (f64, f64) = (a[4].parse().unwrap(), b[4].parse().unwrap());
        assert!((ma - mb).abs() < 0.005);
    }
    std::fs::write(dir.path().join("weekly.csv"), &ours).unwrap();
    let params = r#"{"r": 0.27530759031853913, "alpha": 7.0498361125673314, "a": 0.6018820364121382, "b": 2.7081716735699484}"#;
    let spend =
        r#"{"params": {"p": 4.784997901983546, "q": 3.882100158657294, "v": 22.653201353731493}}"#;
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "predict",
            "--model",
            "bgnbd",
            "--params",
            params,
            "--spend-params",
            spend,
            "--input",
            "weekly.csv",
            "--horizon",
            "52",
            "--period",
            "week",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("00004,"))
        .unwrap()
        .to_owned();
    let f: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    assert!((f[0] / 1.198_214_299_177_432 - 1.0).abs() < 1e-6, "{line}");
    assert!((f[1] / 0.666_234_431_035_374_5 - 1.0).abs() < 1e-6);
    assert!((f[3] / 29.401_552_861_838_084 - 1.0).abs() < 1e-6);
}

#[test]
fn bad_csv_is_reported_with_line_and_column_and_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        std::fs::write(dir.path().join(name), body).unwrap();
        name.to_owned()
    };
    let cases = [
        (
            write("a.csv", "frequency,recency,T\n1,2,3\nx,2,3\n"),
            "line 3, column `frequency`: `x` is not a number",
        ),
        (
            write("b.csv", "frequency,recency,T\n1,5,3\n"),
            "line 2, column `recency`: recency 5 is greater than T 3",
        ),
        (
            write("c.csv", "frequency,recency,T\n1,-2,3\n"),
            "line 2, column `recency`: -2 is negative",
        ),
        (
            write("d.csv", "frequency,T\n1,3\n"),
            "column `recency` not found",
        ),
    ];
    for (file, msg) in cases {
        let o = rapport(
            dir.path(),
            &["clv", "fit", "--model", "bgnbd", "--input", &file],
        );
        assert!(!o.status.success());
        assert!(stdout(&o).is_empty(), "stdout must stay empty");
        let err = stderr(&o);
        assert!(err.contains(msg), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains("panicked"));
    }
    // Import: a bad row stops the import (nothing written) unless --skip-bad lists it.
    let tx = write(
        "tx.csv",
        "customer_id,date,amount\nA,2026-01-01,10.50\nB,2026-13-01,3\nC,2026-01-02,-4\n",
    );
    let o = rapport(
        dir.path(),
        &[
            "--db",
            "sqlite://t.db",
            "import",
            "transactions",
            &tx,
            "--quiet",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("line 3, column `date`"),
        "{}",
        stderr(&o)
    );
    let report = rapport(dir.path(), &["--db", "sqlite://t.db", "report", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&report)).unwrap();
    assert_eq!(
        v["customers"], 0,
        "nothing of the failed import was written"
    );
    let o = rapport(
        dir.path(),
        &[
            "--db",
            "sqlite://t.db",
            "import",
            "transactions",
            &tx,
            "--quiet",
            "--skip-bad",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("skipped line 3")
            && err.contains("skipped line 4, column `amount`: amount -4 is negative"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["imported"]["purchases_new"], 1);
    // An unreachable PostgreSQL server: one clear line, no panic.
    let o = rapport(dir.path(), &["--db", "postgres://x", "report"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("cannot connect to PostgreSQL at x:5432"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// `--db postgres://…?schema=…`: the same import gives the same report as SQLite, a re-run
/// adds nothing, and the demo prints the same report on both. Against `RAPPORT_POSTGRES_URL` (CI sets it); without it the local default is
/// tried and the test is skipped with a notice when no server answers.
#[test]
fn postgres_import_and_report_match_sqlite() {
    let url = std::env::var("RAPPORT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("rapport_cli_test_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg = format!("{url}{sep}schema={schema}");
    let dir = tempfile::tempdir().unwrap();
    let tx = dir.path().join("tx.csv");
    std::fs::write(
        &tx,
        "customer_id,date,amount\nA,2026-01-01,10.50\nA,2026-01-15,4.25\nB,2026-01-02,99.99\nC,2026-01-03,0.01\n",
    )
    .unwrap();
    let tx = tx.to_str().unwrap();
    let import = |db: &str| {
        rapport(
            dir.path(),
            &[
                "--db",
                db,
                "import",
                "transactions",
                tx,
                "--quiet",
                "--now",
                "2026-02-01",
            ],
        )
    };
    let first = import(&pg);
    if !first.status.success()
        && std::env::var_os("RAPPORT_POSTGRES_URL").is_none()
        && std::env::var_os("RAPPORT_REQUIRE_POSTGRES").is_none_or(|v| v.is_empty() || v == "0")
        && stderr(&first).contains("cannot connect")
    {
        eprintln!("skipping: no PostgreSQL server ({})", stderr(&first).trim());
        return;
    }
    let drop_schema = || {
        let config = rapport_postgres::PostgresConfig::new(url.clone()).with_schema(schema.clone());
        let store = futures::executor::block_on(rapport_postgres::PostgresStore::connect(
            config,
            chrono::Utc::now(),
        ))
        .unwrap();
        futures::executor::block_on(store.drop_schema()).unwrap();
    };
    let result = std::panic::catch_unwind(|| {
        assert!(first.status.success(), "{}", stderr(&first));
        let v: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
        assert_eq!(v["imported"]["customers_new"], 3);
        assert_eq!(v["imported"]["purchases_new"], 4);
        let again = import(&pg);
        let v: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
        assert_eq!(v["imported"]["purchases_new"], 0, "a re-run adds nothing");
        assert_eq!(v["imported"]["purchases_skipped"], 4);
        assert!(import("sqlite://same.db").status.success());
        let report = |db: &str| {
            let o = rapport(
                dir.path(),
                &["--db", db, "report", "--json", "--now", "2026-02-01"],
            );
            assert!(o.status.success(), "{}", stderr(&o));
            serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
        };
        let (on_pg, on_sqlite) = (report(&pg), report("sqlite://same.db"));
        assert_eq!(on_pg["customers"], 3);
        assert_eq!(on_pg, on_sqlite);
        // A file whose line 150 is bad writes nothing on PostgreSQL either.
        let mut bad = String::from("customer_id,date,amount\n");
        for line in 2..=201 {
            let id = if line == 150 {
                "y".repeat(200)
            } else {
                format!("P{line}")
            };
            bad.push_str(&format!("{id},2026-01-05,10\n"));
        }
        let bad_file = dir.path().join("bad.csv");
        std::fs::write(&bad_file, bad).unwrap();
        let o = rapport(
            dir.path(),
            &[
                "--db",
                &pg,
                "import",
                "transactions",
                bad_file.to_str().unwrap(),
                "--quiet",
                "--now",
                "2026-02-01",
            ],
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("line 150, column `customer_id`"),
            "{}",
            stderr(&o)
        );
        assert_eq!(
            report(&pg),
            on_pg,
            "nothing of the failed import is written"
        );
        // The whole demo (CDNOW import, sweep, CLV fits, report) in another tenant of the same
        // schema prints the same report as on SQLite.
        let demo = |db: &str| {
            let o = rapport(dir.path(), &["--db", db, "--tenant", "cdnow", "demo"]);
            assert!(o.status.success(), "{}", stderr(&o));
            stdout(&o)
        };
        assert_eq!(demo(&pg), demo("sqlite://demo.db"));
    });
    drop_schema();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A script appended to the report before Chromium loads it: once the page is laid out, it
/// writes what Chromium rendered (the text of each KPI, the on-screen box of every bar, the
/// heatmap cells, the text of every table cell) as JSON into `<pre id="measured">`, which
/// `--dump-dom` prints.
const PROBE: &str = r#"<script>
addEventListener('load', () => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
  const bars = id => [...document.querySelectorAll('#' + id + ' rect')].map(box);
  const out = {
    kpis: [...document.querySelectorAll('.kpi')].map(k => [k.querySelector('b').innerText, box(k)]),
    tiers: bars('tier-pyramid'),
    stages: bars('stage-funnel'),
    heat: document.querySelectorAll('#cohort-heatmap rect').length,
    rows: [...document.querySelectorAll('#top-clv tr')].map(r => [...r.cells].map(c => c.innerText)),
    flow: [...document.querySelectorAll('#stage-flow tr')].map(r => [...r.cells].map(c => c.innerText)),
    viewport: [innerWidth, innerHeight],
  };
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.append(pre);
});
</script>"#;

/// The HTML report of the CDNOW demo, rendered by headless Chromium, shows the report's
/// numbers: the four KPIs read (as laid out on screen) the customers (2,357, the CDNOW
/// cohort), conversion, churn rate and win-backs of `rapport report --json`; each bar of the
/// tier pyramid and the stage funnel is as wide, relative to the widest, as its count is
/// relative to the largest, and the funnel's bars share one centre; the heatmap has one cell per
/// cohort month; the table's rows are the top customers by CLV with their stage, tier, orders
/// and revenue. Skipped (with a message) where Chromium is not installed, unless
/// `RAPPORT_REQUIRE_CHROMIUM` is set, as `.ci/run` does after installing Debian's `chromium`.
#[test]
fn html_report_renders_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("RAPPORT_REQUIRE_CHROMIUM").is_none(),
            "Chromium is required but not installed"
        );
        eprintln!("skipped: no chromium on this machine");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let o = rapport(dir.path(), &["demo", "--html", "report.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rapport(
        dir.path(),
        &[
            "--db",
            "sqlite://rapport-demo.db",
            "report",
            "--json",
            "--now",
            "1998-06-30",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("</body>"));
    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replacen("</body>", &format!("{PROBE}</body>"), 1),
    )
    .unwrap();
    let profile = dir.path().join("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,1800",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", probed.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let measured = dom
        .split_once(r#"<pre id="measured">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| json.replace("&quot;", "\"").replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("the probe did not run; DOM: {dom}"));
    let m: serde_json::Value = serde_json::from_str(&measured).unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let boxes = |key: &str| -> Vec<[f64; 4]> {
        m[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| [num(&b[0]), num(&b[1]), num(&b[2]), num(&b[3])])
            .collect()
    };

    // The KPIs, as rendered, are the report's numbers, side by side on one line.
    assert_eq!(report["customers"], 2357, "the CDNOW cohort");
    // A rate is null when nobody could be counted (no prospect created in the period).
    let pct = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "n/a".to_owned(), |x| format!("{:.1} %", x * 100.0))
    };
    let kpis: Vec<String> = m["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k[0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kpis,
        [
            report["customers"].to_string(),
            pct(&report["conversion_rate"]),
            pct(&report["churn_rate"]),
            report["win_backs"].to_string(),
            // Revenue per currency, with its unit (one currency in the CDNOW book).
            format!("{} USD", report["revenue"]["USD"].as_str().unwrap()),
        ]
    );
    let kpi_boxes: Vec<[f64; 4]> = m["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| [num(&k[1][0]), num(&k[1][1]), num(&k[1][2]), num(&k[1][3])])
        .collect();
    for pair in kpi_boxes.windows(2) {
        assert_eq!(pair[0][1], pair[1][1], "KPIs on one line: {kpi_boxes:?}");
        assert!(
            pair[0][0] + pair[0][2] <= pair[1][0],
            "KPIs left to right: {kpi_boxes:?}"
        );
    }
    let viewport = num(&m["viewport"][0]);
    assert!(
        kpi_boxes
            .iter()
            .all(|b| b[2] > 0.0 && b[0] + b[2] <= viewport)
    );

    // Each bar's rendered width is its count's share of the largest count (to half a pixel),
    // in the order of the labels; the widest bar is drawn (not collapsed).
    let check_bars = |key: &str, labels: &[&str], counts: &serde_json::Value, centred: bool| {
        let bars = boxes(key);
        let counts: Vec<f64> = labels.iter().map(|l| num(&counts[*l])).collect();
        assert_eq!(bars.len(), labels.len(), "{key}: one bar per label");
        let widest = bars.iter().map(|b| b[2]).fold(0.0, f64::max);
        let largest = counts.iter().copied().fold(0.0, f64::max);
        assert!(widest > 300.0, "{key}: widest bar {widest} px");
        for ((bar, count), label) in bars.iter().zip(&counts).zip(labels) {
            let expected = widest * count / largest;
            assert!(
                (bar[2] - expected).abs() <= 0.5,
                "{key}: bar {label} is {} px wide for {count} (expected {expected:.1}); bars {bars:?}",
                bar[2]
            );
        }
        for pair in bars.windows(2) {
            assert!(pair[0][1] < pair[1][1], "{key}: bars top to bottom");
            if centred {
                let centre = |b: &[f64; 4]| b[0] + b[2] / 2.0;
                assert!(
                    (centre(&pair[0]) - centre(&pair[1])).abs() <= 0.5,
                    "{key}: {bars:?}"
                );
            }
        }
    };
    check_bars(
        "tiers",
        &["platinum", "gold", "iron", "lead"],
        &report["tiers"],
        true,
    );
    check_bars(
        "stages",
        &["prospect", "new", "active", "silent", "churned"],
        &report["stages"],
        true,
    );

    // One heatmap cell per cohort and month shown (at most 18 months).
    let cohorts = report["cohorts"].as_array().unwrap();
    let months = cohorts
        .iter()
        .map(|c| c["retention"].as_array().unwrap().len())
        .max()
        .unwrap_or(0)
        .min(18);
    let cells: usize = cohorts
        .iter()
        .map(|c| c["retention"].as_array().unwrap().len().min(months))
        .sum();
    assert!(cells > 0);
    assert_eq!(m["heat"], cells);

    // The stage-flow table: a header row, then one row per stage at the start, each naming it.
    let flow = m["flow"].as_array().unwrap();
    assert!(flow.len() > 1, "{flow:?}");
    for row in &flow[1..] {
        let from = row[0].as_str().unwrap();
        assert!(
            ["prospect", "new", "active", "silent", "churned"].contains(&from),
            "{row:?}"
        );
    }

    // The table: a header and the top customers by CLV, in order, with their figures.
    let rows = m["rows"].as_array().unwrap();
    let top = report["top_clv"].as_array().unwrap();
    assert_eq!(rows.len(), top.len() + 1);
    assert_eq!(rows[0][0], "customer");
    for (row, c) in rows[1..].iter().zip(top) {
        assert_eq!(row[0], c["external_id"]);
        assert_eq!(row[1], c["stage"]);
        assert_eq!(row[2], c["tier"]);
        assert_eq!(row[3].as_str().unwrap(), c["orders"].to_string());
        // Revenue with its unit (`250.00 USD`), as the JSON report gives it.
        assert_eq!(row[4], c["revenue"]);
    }
}

#[test]
fn clv_fit_and_predict_with_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = reference("cdnow_customers_summary.csv");
    let fit = |model: &str, input: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "clv",
            "fit",
            "--model",
            model,
            "--input",
            input.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = rapport(dir.path(), &args);
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()
    };
    let rel = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() / want - 1.0).abs();
    // Pareto/NBD: lifetimes' parameters within 1e-2, its log-likelihood or higher.
    let p = fit("pareto-nbd", &cohort, &[]);
    assert_eq!(p["model"], "pareto-nbd");
    assert!(
        rel(&p["params"]["s"], 0.606_171_446_287_227_7) < 1e-2,
        "{p}"
    );
    assert!(p["log_likelihood"].as_f64().unwrap() >= -9_594.973_929_910_23 - 1e-3);
    // MBG/NBD and BG/BB against extra_reference.json (scripts/clv-reference.py).
    let m = fit("mbgnbd", &cohort, &[]);
    assert!(rel(&m["params"]["b"], 1.614_000_025_671_838) < 1e-4, "{m}");
    let b = fit(
        "bgbb",
        &reference("donations.csv"),
        &["--weights-col", "weights"],
    );
    assert_eq!(b["customers"], 11_104);
    assert!(
        rel(&b["params"]["delta"], 2.783_441_982_887_471) < 1e-4,
        "{b}"
    );
    // Predictions with the Pareto/NBD fit just printed.
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "predict",
            "--model",
            "pareto-nbd",
            "--params",
            &p.to_string(),
            "--input",
            cohort.to_str().unwrap(),
            "--horizon",
            "52",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Vec<String> = stdout(&o)
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(first[0], "1");
    let e: f64 = first[1].parse().unwrap();
    assert!(
        (e / 1.850_817_155_609_162_6 - 1.0).abs() < 1e-3,
        "{first:?}"
    );
    // BG/BB predictions: whole opportunities.
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "predict",
            "--model",
            "bgbb",
            "--params",
            &b.to_string(),
            "--input",
            reference("donations.csv").to_str().unwrap(),
            "--horizon",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 23);
    // A history BG/BB cannot have is reported with its line.
    std::fs::write(
        dir.path().join("bad.csv"),
        "frequency,recency,periods\n1,1,6\n3,2,6\n",
    )
    .unwrap();
    let o = rapport(
        dir.path(),
        &["clv", "fit", "--model", "bgbb", "--input", "bad.csv"],
    );
    assert!(!o.status.success());
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("line 3, column `frequency`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn import_customers_is_idempotent_checks_rows_and_feeds_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        std::fs::write(dir.path().join(name), body).unwrap();
        name.to_owned()
    };
    let db = ["--db", "sqlite://c.db"];
    let run = |args: &[&str]| {
        let mut all = db.to_vec();
        all.extend_from_slice(args);
        rapport(dir.path(), &all)
    };
    let customers = write(
        "customers.csv",
        "customer_id,email,phone,name,city\nC1,Ann@Example.com,+1 202 555 0101,  Ann   Lee ,Boston\nC2,bob@example.com,,Bob,Paris\n",
    );
    let o = run(&[
        "import",
        "customers",
        &customers,
        "--attr-cols",
        "city",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["imported"]["customers_new"], 2);
    // Again: nothing new.
    let o = run(&["import", "customers", &customers, "--quiet"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (
            v["imported"]["customers_new"].as_u64(),
            v["imported"]["customers_existing"].as_u64()
        ),
        (Some(0), Some(2))
    );
    // A bad email stops the import with its line and column; nothing is written.
    let bad = write(
        "bad.csv",
        "customer_id,email\nC3,carol@example.com\nC4,not-an-email\n",
    );
    let o = run(&["import", "customers", &bad, "--quiet"]);
    assert!(!o.status.success());
    assert!(stdout(&o).is_empty());
    // The user handed the cell over, so it is shown back next to its line; the library's own
    // error keeps it out (`email <redacted> is invalid: …`), the CLI puts it back.
    assert!(
        stderr(&o)
            .contains("line 3, column `email`: email `not-an-email` is invalid: it has no `@`"),
        "{}",
        stderr(&o)
    );
    assert!(
        !run(&["customer", "C3"]).status.success(),
        "C3 must not have been written"
    );
    // A contact that belongs to another customer, and a repeated id, are bad rows too.
    let dup = write(
        "dup.csv",
        "customer_id,email\nC5,ANN@example.com\nC6,dave@example.com\nC6,eve@example.com\n",
    );
    let o = run(&["import", "customers", &dup, "--skip-bad", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["imported"]["customers_new"], 1, "only C6 (first row)");
    assert_eq!(v["skipped_rows"], 2);
    let err = stderr(&o);
    assert!(
        err.contains("line 4, column `customer_id`: `C6` repeats line 3"),
        "{err}"
    );
    assert!(
        err.contains("line 2: the email or phone already belongs to customer"),
        "{err}"
    );
    // Transactions for C1 attach to the imported customer; the profile stays redacted.
    let tx = write("tx.csv", "customer_id,date,amount\nC1,2026-01-05,250.00\n");
    assert!(
        run(&["import", "transactions", &tx, "--quiet"])
            .status
            .success()
    );
    let o = run(&["customer", "C1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        !out.contains("Example.com") && !out.contains("ann@"),
        "PII redacted: {out}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["orders"], 1, "{v}");
    // The same customer by email (any case).
    let o = run(&["customer", "ann@EXAMPLE.com", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let by_email: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(by_email["id"], v["id"]);
    assert_eq!(v["revenue"], "250.00 USD");
}

#[test]
fn clv_run_fits_both_models_and_predicts_as_fit_then_predict_do() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = reference("cdnow_customers_summary_with_transactions.csv");
    let cols = [
        "--frequency-col",
        "x",
        "--recency-col",
        "t_x",
        "--monetary-col",
        "zbar",
    ];
    let input = cohort.to_str().unwrap();
    let fits = dir.path().join("fits.json");
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "run",
            "--input",
            input,
            "--horizon",
            "52",
            "--fit-output",
            fits.to_str().unwrap(),
            "--timings",
        ]
        .iter()
        .chain(&cols)
        .copied()
        .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let timings: serde_json::Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(timings["customers"], 2357);
    assert!(timings["total"].as_f64().unwrap() > 0.0);
    let fits: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fits).unwrap()).unwrap();
    // The same optimum as `clv fit` on the ungrouped rows: lifetimes' CDNOW parameters.
    let rel = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() / want - 1.0).abs();
    let bg = &fits["purchases"];
    assert_eq!(
        (bg["model"].as_str(), bg["customers"].as_u64()),
        (Some("bgnbd"), Some(2357))
    );
    assert!(rel(&bg["params"]["r"], 0.242_593_8) < 1e-4, "{bg}");
    assert!(rel(&bg["params"]["b"], 2.425_9) < 1e-3, "{bg}");
    let gg = &fits["spend"];
    assert_eq!(
        gg["customers"].as_u64().unwrap() + gg["skipped"].as_u64().unwrap(),
        2357
    );
    let g = rapport(
        dir.path(),
        &["clv", "fit", "--model", "gamma-gamma", "--input", input]
            .iter()
            .chain(&cols)
            .copied()
            .collect::<Vec<_>>(),
    );
    let alone: serde_json::Value = serde_json::from_str(&stdout(&g)).unwrap();
    for k in ["p", "q", "v"] {
        assert!(
            rel(&gg["params"][k], alone["params"][k].as_f64().unwrap()) < 1e-6,
            "{gg} vs {alone}"
        );
    }
    assert_eq!(gg["skipped"], alone["skipped"]);
    // `predict` with the parameters `run` fitted prints the same bytes.
    let o2 = rapport(
        dir.path(),
        &[
            "clv",
            "predict",
            "--model",
            "bgnbd",
            "--params",
            &bg.to_string(),
            "--spend-params",
            &gg.to_string(),
            "--input",
            input,
            "--horizon",
            "52",
        ]
        .iter()
        .chain(&cols)
        .copied()
        .collect::<Vec<_>>(),
    );
    assert!(o2.status.success(), "{}", stderr(&o2));
    assert!(stdout(&o) == stdout(&o2), "run and predict differ");
    assert_eq!(stdout(&o).lines().count(), 2358);
    // Models without a continuous-time count are refused with one line.
    let o = rapport(
        dir.path(),
        &[
            "clv",
            "run",
            "--model",
            "bgbb",
            "--input",
            input,
            "--horizon",
            "5",
        ],
    );
    assert!(!o.status.success() && stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("bgnbd, pareto-nbd or mbgnbd"),
        "{}",
        stderr(&o)
    );
}

/// Runs `rapport --db sqlite://<dir>/<db> <args…>` in `dir`.
fn on(dir: &Path, db: &str, args: &[&str]) -> Output {
    let url = format!("sqlite://{db}");
    let mut all = vec!["--db", url.as_str()];
    all.extend_from_slice(args);
    rapport(dir, &all)
}

/// A new user's first import: ISO 8601 dates and RFC 3339 timestamps read without a flag;
/// `%Y%m%d` only when asked, with a hint naming the flag.
#[test]
fn import_reads_iso_dates_and_rfc3339_timestamps_by_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tx.csv"),
        "customer_id,date,amount\nA,2024-01-05,10.00\nA,2024-01-06T10:30:00Z,20.00\nB,2024-01-07 23:30:00-02:00,5.00\n",
    )
    .unwrap();
    let o = on(
        dir.path(),
        "a.db",
        &[
            "import",
            "transactions",
            "tx.csv",
            "--quiet",
            "--now",
            "2024-02-01",
        ],
    );
    let v = json(&o);
    assert_eq!(v["imported"]["purchases_new"], 3, "{v}");
    assert_eq!(v["imported"]["customers_new"], 2, "{v}");
    // A date is noon UTC; a timestamp keeps its instant, converted to UTC.
    let at = |c: &str| -> Vec<String> {
        let v = json(&on(dir.path(), "a.db", &["customer", c, "--json"]));
        v["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["at"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        at("A"),
        ["2024-01-05T12:00:00+00:00", "2024-01-06T10:30:00+00:00"]
    );
    assert_eq!(at("B"), ["2024-01-08T01:30:00+00:00"]);

    // Compact dates: refused by default with the line and the flag to use, read with it.
    std::fs::write(
        dir.path().join("compact.csv"),
        "customer_id,date,amount\nC,20240105,10\n",
    )
    .unwrap();
    let o = on(
        dir.path(),
        "b.db",
        &[
            "import",
            "transactions",
            "compact.csv",
            "--quiet",
            "--now",
            "2024-02-01",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("line 2, column `date`: `20240105` is not an ISO 8601 date")
            && err.contains("--date-format %Y%m%d"),
        "{err}"
    );
    let o = on(
        dir.path(),
        "b.db",
        &[
            "import",
            "transactions",
            "compact.csv",
            "--quiet",
            "--now",
            "2024-02-01",
            "--date-format",
            "%Y%m%d",
        ],
    );
    assert_eq!(json(&o)["imported"]["purchases_new"], 1);
    // The same purchase written the other way is the same purchase (same idempotency key).
    std::fs::write(
        dir.path().join("iso.csv"),
        "customer_id,date,amount\nC,2024-01-05,10\n",
    )
    .unwrap();
    let o = on(
        dir.path(),
        "b.db",
        &[
            "import",
            "transactions",
            "iso.csv",
            "--quiet",
            "--now",
            "2024-02-01",
        ],
    );
    let v = json(&o);
    assert_eq!(
        (
            v["imported"]["purchases_new"].as_u64(),
            v["imported"]["purchases_skipped"].as_u64()
        ),
        (Some(0), Some(1))
    );
}

/// A purchase after the import's now plus the tolerance (default 1 day) is a bad row, named by
/// its line; nothing is written unless `--skip-bad`.
#[test]
fn import_refuses_purchases_later_than_now_plus_the_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tx.csv"),
        "customer_id,date,amount\nA,2024-01-05,10\nB,2999-01-01,99\nC,2024-01-06,5\n",
    )
    .unwrap();
    let import = |db: &str, file: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "transactions",
            file,
            "--quiet",
            "--now",
            "2024-02-01",
        ];
        args.extend_from_slice(extra);
        on(dir.path(), db, &args)
    };
    let o = import("a.db", "tx.csv", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("line 3, column `date`: 2999-01-01T12:00:00+00:00 is later than the import's now (2024-02-01T23:59:59+00:00) plus 1 day"),
        "{err}"
    );
    let report = json(&on(dir.path(), "a.db", &["report", "--json"]));
    assert_eq!(report["customers"], 0, "nothing written");
    let o = import("a.db", "tx.csv", &["--skip-bad"]);
    let v = json(&o);
    assert_eq!(v["imported"]["purchases_new"], 2);
    assert_eq!(v["skipped_rows"], 1);
    assert!(stderr(&o).contains("skipped line 3, column `date`"));
    assert!(!on(dir.path(), "a.db", &["customer", "B"]).status.success());

    // The edge: now is 2024-02-01T23:59:59Z; a day later is accepted, a second more is not,
    // unless the tolerance is widened.
    std::fs::write(
        dir.path().join("edge.csv"),
        "customer_id,date,amount\nD,2024-02-02T23:59:59Z,1\nE,2024-02-03T00:00:00Z,1\n",
    )
    .unwrap();
    let o = import("b.db", "edge.csv", &["--skip-bad"]);
    assert_eq!(json(&o)["imported"]["purchases_new"], 1);
    assert!(
        stderr(&o).contains("skipped line 3, column `date`"),
        "{}",
        stderr(&o)
    );
    let o = import("c.db", "edge.csv", &["--future-tolerance-days", "2"]);
    assert_eq!(json(&o)["imported"]["purchases_new"], 2);
}

/// The imported customers are evaluated at the import's now: no `prospect` with purchases,
/// no sweep needed; the output says how many were evaluated.
#[test]
fn import_evaluates_the_imported_customers_at_its_now() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tx.csv"),
        "customer_id,date,amount\nA,2024-01-05,10\nA,2024-01-20,2500\nB,2024-01-25,5\nC,2023-01-02,7\n",
    )
    .unwrap();
    let o = on(
        dir.path(),
        "a.db",
        &[
            "import",
            "transactions",
            "tx.csv",
            "--quiet",
            "--now",
            "2024-02-01",
        ],
    );
    let v = json(&o);
    assert_eq!(v["evaluated"]["customers"], 3, "{v}");
    assert_eq!(v["evaluated"]["at"], "2024-02-01T23:59:59Z");
    assert!(
        stderr(&o).contains("evaluated the 3 imported customers at 2024-02-01T23:59:59+00:00"),
        "{}",
        stderr(&o)
    );
    let stored = |c: &str| {
        let v = json(&on(
            dir.path(),
            "a.db",
            &["customer", c, "--json", "--now", "2024-02-01"],
        ));
        (
            v["stage"].as_str().unwrap().to_owned(),
            v["tier"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(stored("A"), ("active".to_owned(), "gold".to_owned()));
    assert_eq!(stored("B"), ("new".to_owned(), "lead".to_owned()));
    assert_eq!(stored("C"), ("churned".to_owned(), "lead".to_owned()));
    let seg = json(&on(
        dir.path(),
        "a.db",
        &[
            "segment",
            "stage == prospect",
            "--json",
            "--now",
            "2024-02-01",
        ],
    ));
    assert_eq!(seg["customers"], 0, "{seg}");
    let r = json(&on(
        dir.path(),
        "a.db",
        &["report", "--json", "--now", "2024-02-01"],
    ));
    assert_eq!(r["stages"]["prospect"], 0, "{r}");
    assert_eq!(
        (
            r["stages"]["active"].as_u64(),
            r["stages"]["new"].as_u64(),
            r["stages"]["churned"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // A sweep at the same now finds nothing left to do.
    let s = json(&on(dir.path(), "a.db", &["sweep", "--now", "2024-02-01"]));
    assert_eq!(
        (s["evaluated"].as_u64(), s["changed"].as_u64()),
        (Some(3), Some(0))
    );
}

/// An empty book: revenue 0.00, never -0.00 (an empty `f64` sum was -0.0); in JSON no
/// currency has a total yet.
#[test]
fn an_empty_book_reports_zero_revenue_not_negative_zero() {
    let dir = tempfile::tempdir().unwrap();
    let text = on(dir.path(), "e.db", &["report", "--now", "2024-02-01"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(out.contains("revenue 0.00\n"), "{out}");
    assert!(!out.contains("-0.00"), "{out}");
    let o = on(
        dir.path(),
        "e.db",
        &["report", "--json", "--now", "2024-02-01"],
    );
    assert!(o.status.success());
    assert_eq!(json(&o)["revenue"], serde_json::json!({}));
    assert!(!stdout(&o).contains("-0.0"), "{}", stdout(&o));
    // A zero amount written `-0.00` is stored and shown as zero.
    std::fs::write(
        dir.path().join("tx.csv"),
        "customer_id,date,amount\nA,2024-01-05,-0.00\n",
    )
    .unwrap();
    let o = on(
        dir.path(),
        "e.db",
        &[
            "import",
            "transactions",
            "tx.csv",
            "--quiet",
            "--now",
            "2024-02-01",
        ],
    );
    assert_eq!(json(&o)["imported"]["purchases_new"], 1);
    let c = json(&on(dir.path(), "e.db", &["customer", "A", "--json"]));
    let revenue = c["revenue"].as_str().unwrap();
    assert!(
        revenue.ends_with(" USD") && !revenue.starts_with('-'),
        "{revenue}"
    );
    let out = stdout(&on(dir.path(), "e.db", &["report", "--now", "2024-02-01"]));
    assert!(!out.contains("-0.00"), "{out}");
    assert!(out.contains("revenue 0.00 USD\n"), "{out}");
    let o = on(
        dir.path(),
        "e.db",
        &["report", "--json", "--now", "2024-02-01"],
    );
    assert_eq!(json(&o)["revenue"], serde_json::json!({"USD": "0.00"}));
}

/// Money has a currency in the CLI: a book selling in USD and CNY reports one exact total per
/// currency (the old report added 250.50 and 4780 into one `f64` "revenue 5030.50"), each row
/// shows its currency, and the CNY customer is not put on the USD ladder (its 4,780 would have
/// made Gold) until the book's base currency is CNY.
#[test]
fn a_book_in_two_currencies_reports_two_totals() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("usd.csv"),
        "customer_id,date,amount\nA,2024-01-05,100.50\nB,2024-01-10,150\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cny.csv"),
        "customer_id,date,amount\nC,2024-01-07,4780\n",
    )
    .unwrap();
    let import = |file: &str, currency: &str| {
        let o = on(
            dir.path(),
            "m.db",
            &[
                "import",
                "transactions",
                file,
                "--currency",
                currency,
                "--quiet",
                "--now",
                "2024-02-01",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    };
    import("usd.csv", "USD");
    import("cny.csv", "CNY");
    let o = on(
        dir.path(),
        "m.db",
        &["report", "--json", "--now", "2024-02-01"],
    );
    let r = json(&o);
    assert_eq!(
        r["revenue"],
        serde_json::json!({"CNY": "4780.00", "USD": "250.50"})
    );
    assert_eq!(r["currency"], "USD");
    assert_eq!(r["tiers"]["gold"], 0, "{}", r["tiers"]);
    let rows: Vec<&str> = r["churn_risk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["revenue"].as_str().unwrap())
        .collect();
    assert!(
        rows.contains(&"4780.00 CNY") && rows.contains(&"100.50 USD"),
        "{rows:?}"
    );
    let text = stdout(&on(dir.path(), "m.db", &["report", "--now", "2024-02-01"]));
    assert!(text.contains("revenue 4780.00 CNY, 250.50 USD\n"), "{text}");
    let c = json(&on(
        dir.path(),
        "m.db",
        &["customer", "C", "--json", "--now", "2024-02-01"],
    ));
    assert_eq!(c["tier"], "lead");
    let reason = c["tier_reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "tier.currency_mismatch: revenue_365d = 4780 CNY against tier.currency = USD"
        ),
        "{reason}"
    );
    // With CNY as the base currency the same customer is Gold (and A, B are not compared).
    let s = json(&on(
        dir.path(),
        "m.db",
        &["sweep", "--base-currency", "CNY", "--now", "2024-02-01"],
    ));
    assert_eq!(s["evaluated"], 3);
    let c = json(&on(
        dir.path(),
        "m.db",
        &[
            "customer",
            "C",
            "--json",
            "--base-currency",
            "cny",
            "--now",
            "2024-02-01",
        ],
    ));
    assert_eq!(
        (c["tier"].as_str(), c["tier_at_now"].as_str()),
        (Some("gold"), Some("gold"))
    );
    let reason = c["tier_reason"].as_str().unwrap();
    assert!(
        reason.contains("revenue_365d = 4780 CNY against gold.entry = 2000 CNY"),
        "{reason}"
    );
    let bad = on(dir.path(), "m.db", &["report", "--base-currency", "yuan"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--base-currency `yuan`"),
        "{}",
        stderr(&bad)
    );
}

/// A file of 200 rows whose line 150 has an over-long customer id: the import stops naming
/// line 150 and writes nothing (every record is built before the first write); `--skip-bad`
/// imports the other 199. The same for a customers file.
#[test]
fn a_bad_row_150_writes_nothing_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let mut tx = String::from("customer_id,date,amount\n");
    let mut customers = String::from("customer_id,email\n");
    for line in 2..=201 {
        let id = if line == 150 {
            long.clone()
        } else {
            format!("C{line}")
        };
        tx.push_str(&format!("{id},2024-01-05,10\n"));
        customers.push_str(&format!("{id},c{line}@example.com\n"));
    }
    std::fs::write(dir.path().join("tx.csv"), tx).unwrap();
    std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
    let args = ["--quiet", "--now", "2024-02-01"];
    let o = on(
        dir.path(),
        "a.db",
        &[&["import", "transactions", "tx.csv"][..], &args].concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "line 150, column `customer_id`: the customer id is 300 characters long; at most 160"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let r = json(&on(dir.path(), "a.db", &["report", "--json"]));
    assert_eq!(r["customers"], 0, "nothing of the failed import is written");
    let o = on(
        dir.path(),
        "a.db",
        &[
            &["import", "transactions", "tx.csv", "--skip-bad"][..],
            &args,
        ]
        .concat(),
    );
    let v = json(&o);
    assert_eq!(v["imported"]["purchases_new"], 199);
    assert_eq!(v["skipped_rows"], 1);

    let o = on(
        dir.path(),
        "b.db",
        &["import", "customers", "customers.csv", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("line 150, column `customer_id`: the customer id is 300 characters long"),
        "{}",
        stderr(&o)
    );
    let r = json(&on(dir.path(), "b.db", &["report", "--json"]));
    assert_eq!(r["customers"], 0, "nothing of the failed import is written");
}

/// The issue's scenario, as a new user would run it: eight `rapport import customers`
/// processes at once, on files holding the same 300 people under different external ids.
/// Before the store enforced one live customer per email or phone this left 323 customers on
/// SQLite and 1,770 on PostgreSQL; now exactly 300, and every row a process could not write is
/// named with its line.
#[test]
fn eight_concurrent_customer_imports_leave_one_customer_per_contact() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = (0..8)
        .map(|p| {
            let mut body = String::from("customer_id,email,phone\n");
            for i in 0..300 {
                let email = if i % 3 == 0 {
                    String::new()
                } else {
                    format!("p{i}@example.com")
                };
                let phone = if i % 3 == 0 || i % 2 == 0 {
                    format!("+86138{:08}", 100_000 + i)
                } else {
                    String::new()
                };
                body.push_str(&format!("I{p}-{i},{email},{phone}\n"));
            }
            let name = format!("people{p}.csv");
            std::fs::write(dir.path().join(&name), body).unwrap();
            name
        })
        .collect();
    let (url, schema, pg) = postgres_schema("rapport_cli_race");
    let require_pg = postgres_required();
    for db in ["sqlite://race.db".to_owned(), pg] {
        // Create the schema first (so the eight processes do not all migrate at once).
        let first = rapport(dir.path(), &["--db", &db, "report", "--json"]);
        if db.starts_with("postgres") && !first.status.success() && !require_pg {
            eprintln!("skipping PostgreSQL: {}", stderr(&first).trim());
            continue;
        }
        assert!(first.status.success(), "{}", stderr(&first));
        let children: Vec<_> = files
            .iter()
            .map(|f| {
                Command::new(env!("CARGO_BIN_EXE_rapport"))
                    .current_dir(dir.path())
                    .args([
                        "--db",
                        &db,
                        "import",
                        "customers",
                        f,
                        "--skip-bad",
                        "--quiet",
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut created = 0;
        let mut named = 0;
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{db}: {}", stderr(&o));
            let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            created += v["imported"]["customers_new"].as_u64().unwrap();
            named += stderr(&o)
                .lines()
                .filter(|l| l.starts_with("skipped line "))
                .count();
        }
        let report = rapport(dir.path(), &["--db", &db, "report", "--json"]);
        assert!(report.status.success(), "{}", stderr(&report));
        let v: serde_json::Value = serde_json::from_str(&stdout(&report)).unwrap();
        assert_eq!((v["customers"].as_u64(), created), (Some(300), 300), "{db}");
        assert_eq!(
            named,
            7 * 300,
            "{db}: every row not written is named with its line"
        );
        if db.starts_with("postgres") {
            drop_postgres_schema(&url, &schema);
        }
    }
}

/// The test server's URL, a schema unique to this process (`<prefix>_<pid>`), and the URL
/// naming it, as the CLI's `--db` takes it.
fn postgres_schema(prefix: &str) -> (String, String, String) {
    let url = std::env::var("RAPPORT_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("{prefix}_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg = format!("{url}{sep}schema={schema}");
    (url, schema, pg)
}

/// True under `RAPPORT_REQUIRE_POSTGRES` (CI): a missing server fails the test.
fn postgres_required() -> bool {
    std::env::var("RAPPORT_REQUIRE_POSTGRES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Drops a test schema of the server at `url`.
fn drop_postgres_schema(url: &str, schema: &str) {
    let config =
        rapport_postgres::PostgresConfig::new(url.to_owned()).with_schema(schema.to_owned());
    let store = futures::executor::block_on(rapport_postgres::PostgresStore::connect(
        config,
        chrono::Utc::now(),
    ))
    .unwrap();
    futures::executor::block_on(store.drop_schema()).unwrap();
}

/// Racing refund imports (issue #14): eight `rapport import transactions` processes at once,
/// each refunding 30.00 of the same forty 50.00 orders (at different times, so as different
/// refunds, not duplicates). Each file alone is valid; together they would refund 240.00 of
/// each order. The refunds are recorded through the service with the customer's version, so
/// exactly one refund per order lands and the other 280 rows are named with their lines. (The
/// bulk path they took before checked the orders, then wrote without a version, so nothing
/// stopped all eight refunds of an order.)
#[test]
fn eight_concurrent_refund_imports_never_exceed_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut purchases = String::from("customer_id,date,amount,order_id,type\n");
    for i in 0..40 {
        purchases.push_str(&format!("C{i},2024-01-05,50.00,SO-{i},purchase\n"));
    }
    std::fs::write(dir.path().join("purchases.csv"), purchases).unwrap();
    let files: Vec<String> = (0..8)
        .map(|p| {
            let mut body = String::from("customer_id,date,amount,order_id,type\n");
            for i in 0..40 {
                body.push_str(&format!("C{i},2024-01-{:02},30.00,SO-{i},refund\n", 10 + p));
            }
            let name = format!("refunds{p}.csv");
            std::fs::write(dir.path().join(&name), body).unwrap();
            name
        })
        .collect();
    let (url, schema, pg) = postgres_schema("rapport_cli_refund_race");
    let require_pg = postgres_required();
    for db in ["sqlite://refund-race.db".to_owned(), pg] {
        let args = |file: &str| {
            vec![
                "--db".to_owned(),
                db.clone(),
                "import".into(),
                "transactions".into(),
                file.into(),
                "--skip-bad".into(),
                "--quiet".into(),
                "--now".into(),
                "2024-03-01".into(),
            ]
        };
        let first = Command::new(env!("CARGO_BIN_EXE_rapport"))
            .current_dir(dir.path())
            .args(args("purchases.csv"))
            .output()
            .unwrap();
        if db.starts_with("postgres") && !first.status.success() && !require_pg {
            eprintln!("skipping PostgreSQL: {}", stderr(&first).trim());
            continue;
        }
        assert!(first.status.success(), "{}", stderr(&first));
        let children: Vec<_> = files
            .iter()
            .map(|f| {
                Command::new(env!("CARGO_BIN_EXE_rapport"))
                    .current_dir(dir.path())
                    .args(args(f))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let (mut recorded, mut named) = (0, 0);
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{db}: {}", stderr(&o));
            let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            recorded += v["imported"]["refunds_new"].as_u64().unwrap();
            named += stderr(&o)
                .lines()
                .filter(|l| l.starts_with("skipped line ") && l.contains("exceeds what is left"))
                .count();
        }
        assert_eq!((recorded, named), (40, 7 * 40), "{db}");
        let report = rapport(
            dir.path(),
            &["--db", &db, "report", "--json", "--now", "2024-03-01"],
        );
        assert!(report.status.success(), "{}", stderr(&report));
        let v: serde_json::Value = serde_json::from_str(&stdout(&report)).unwrap();
        assert_eq!(v["revenue"]["USD"], "800.00", "{db}: {v}");
        if db.starts_with("postgres") {
            drop_postgres_schema(&url, &schema);
        }
    }
}

/// Refunds name their order (issue #14): with `order_id` and `type` columns a refund row must
/// name an order of the same customer, in the file (a purchase and its refund in one file) or
/// already stored, for at most what is left of it; otherwise it is a bad row with its line:
/// exit 2 and nothing written, or listed and left out with `--skip-bad`. A re-run skips the
/// refunds already stored instead of checking them again.
#[test]
fn import_checks_refund_rows_against_their_orders() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
    let import = |db: &str, file: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "transactions",
            file,
            "--quiet",
            "--now",
            "2024-03-01",
        ];
        args.extend_from_slice(extra);
        on(dir.path(), db, &args)
    };
    let revenue = |db: &str, c: &str| -> String {
        json(&on(dir.path(), db, &["customer", c, "--json"]))["revenue"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Line 4 refunds 500.00 of a 50.00 order; line 5 an order never bought; line 6 names A's
    // order for B (another customer's); line 7 has no order.
    write(
        "bad.csv",
        "customer_id,date,amount,order_id,type\n\
         A,2024-01-05,50.00,SO-1,purchase\n\
         A,2024-01-07,30.00,SO-1,refund\n\
         A,2024-01-08,500.00,SO-1,refund\n\
         A,2024-01-08,1.00,SO-404,refund\n\
         B,2024-01-09,1.00,SO-1,refund\n\
         B,2024-01-09,1.00,,refund\n\
         B,2024-01-10,20.00,SO-2,\n",
    );
    let o = import("bad.db", "bad.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("line 7, column `order_id`: a refund must name its order"),
        "{err}"
    );
    // Nothing written: the first bad row stopped the import before any write.
    let o = on(dir.path(), "bad.db", &["customer", "A", "--json"]);
    assert!(!o.status.success(), "A was written: {}", stdout(&o));

    write(
        "bad2.csv",
        "customer_id,date,amount,order_id,type\n\
         A,2024-01-05,50.00,SO-1,purchase\n\
         A,2024-01-07,30.00,SO-1,refund\n\
         A,2024-01-08,20.01,SO-1,refund\n",
    );
    let o = import("bad2.db", "bad2.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "line 4, column `amount`: refund of 20.01 USD exceeds what is left of order `SO-1`: 20.00 USD"
        ),
        "{}",
        stderr(&o)
    );
    assert!(
        !on(dir.path(), "bad2.db", &["customer", "A", "--json"])
            .status
            .success()
    );

    // --skip-bad: the bad refunds are listed by line and left out; the rest is imported.
    let o = import("skip.db", "bad.csv", &["--skip-bad"]);
    let err = stderr(&o);
    for (line, what) in [
        (
            4,
            "refund of 500.00 USD exceeds what is left of order `SO-1`: 20.00 USD",
        ),
        (5, "order `SO-404` was not recorded for this customer"),
        (6, "order `SO-1` was not recorded for this customer"),
        (7, "a refund must name its order"),
    ] {
        assert!(
            err.contains(&format!("line {line}")) && err.contains(what),
            "{line}: {err}"
        );
    }
    let v = json(&o);
    assert_eq!(v["skipped_rows"], 4, "{v}");
    assert_eq!(v["imported"]["purchases_new"], 2, "{v}");
    assert_eq!(v["imported"]["refunds_new"], 1, "{v}");
    assert_eq!(revenue("skip.db", "A"), "20.00 USD");
    assert_eq!(revenue("skip.db", "B"), "20.00 USD");

    // A later file refunds a stored order: checked against what the store left (20.00).
    write(
        "later.csv",
        "customer_id,date,amount,order_id,type\n\
         A,2024-02-01,20.00,SO-1,refund\n",
    );
    let v = json(&import("skip.db", "later.csv", &[]));
    assert_eq!(v["imported"]["refunds_new"], 1, "{v}");
    assert_eq!(revenue("skip.db", "A"), "0.00 USD");
    // Re-running it: a duplicate, skipped, not a new refund of an empty order.
    let v = json(&import("skip.db", "later.csv", &[]));
    assert_eq!(
        (
            v["imported"]["refunds_new"].as_u64(),
            v["imported"]["refunds_skipped"].as_u64()
        ),
        (Some(0), Some(1)),
        "{v}"
    );
    // One cent more on the emptied order is refused.
    write(
        "more.csv",
        "customer_id,date,amount,order_id,type\n\
         A,2024-02-02,0.01,SO-1,refund\n",
    );
    let o = import("skip.db", "more.csv", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 2, column `amount`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(revenue("skip.db", "A"), "0.00 USD");
    // The refund counts against the order's day (5 January), not its own.
    let v = json(&on(dir.path(), "skip.db", &["customer", "A", "--json"]));
    let refunds: Vec<&serde_json::Value> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"]["kind"] == "refund")
        .collect();
    assert_eq!(refunds.len(), 2, "{v}");
    for r in refunds {
        assert_eq!(r["kind"]["purchased_at"], "2024-01-05T12:00:00Z", "{v}");
    }
    // A refund dated before its order was placed is a bad row, named by its date column.
    write(
        "early.csv",
        "customer_id,date,amount,order_id,type\n\
         C,2024-01-20,40.00,SO-7,purchase\n\
         C,2024-01-19,10.00,SO-7,refund\n",
    );
    let o = import("early.db", "early.csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "line 3, column `date`: refund at 2024-01-19T12:00:00Z is earlier than order `SO-7`, placed at 2024-01-20T12:00:00Z"
        ),
        "{}",
        stderr(&o)
    );
}

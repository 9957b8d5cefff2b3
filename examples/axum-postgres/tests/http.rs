//! The web service started on a loopback port and driven with a real HTTP client: on SQLite
//! always, on PostgreSQL when `RAPPORT_POSTGRES_URL` is set (in a fresh schema, dropped after).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use axum_postgres::Backend;
use chrono::{SecondsFormat, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const TENANT: &str = "00000000-0000-0000-0000-000000000001";
const OTHER_TENANT: &str = "00000000-0000-0000-0000-000000000002";

/// A running server: its base URL, the trigger of its graceful shutdown, and its task.
struct Running {
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(backend: &Backend) -> Running {
    let store = backend.open().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(store.serve(listener, async {
        stopped.await.ok();
    }));
    Running { base, stop, task }
}

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// The whole API, as a client sees it.
async fn drive(base: &str) {
    let http = Client::new();
    let url = |path: &str| format!("{base}/tenants/{TENANT}{path}");

    // Register: 201, the email normalised, decisions with reasons.
    let (status, ann) = send(http.post(url("/customers")).json(&json!({
        "email": "Ann@Example.com",
        "name": "  Ann   Lee ",
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    assert_eq!(ann["email"], "ann@example.com");
    assert_eq!(ann["name"], "Ann Lee");
    assert_eq!(ann["stage"]["value"], "prospect");
    assert_eq!(ann["tier"]["value"], "lead");
    assert!(
        ann["stage"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("lifecycle."),
        "{ann}"
    );
    assert_eq!(ann["version"], 1);
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    // The same email again: the same customer, 200.
    let (status, again) = send(
        http.post(url("/customers"))
            .json(&json!({ "email": "ann@example.com" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], ann_id.as_str());

    // A purchase three days ago: gold, with the measured revenue in the reason.
    let purchase = json!({
        "kind": "purchase",
        "order_id": "1001",
        "amount": "2499.00",
        "currency": "USD",
        "at": iso(Utc::now() - chrono::Duration::days(3)),
        "channel": "store",
    });
    let (status, rec) = send(
        http.post(url(&format!("/customers/{ann_id}/activities")))
            .json(&purchase),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["duplicate"], false);
    assert_eq!(rec["decisions"]["tier"]["from"], "lead");
    assert_eq!(rec["decisions"]["tier"]["to"], "gold");
    let why = rec["decisions"]["tier"]["reason"].as_str().unwrap();
    assert!(
        why.contains("revenue_365d = 2499.00 USD against gold.entry = 2000 USD"),
        "{why}"
    );
    assert_eq!(rec["decisions"]["stage"]["to"], "new");
    assert_eq!(rec["customer"]["orders"], 1);
    assert_eq!(rec["customer"]["revenue"], "2499.00 USD");
    let events = rec["decisions"]["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e == "tier_changed"), "{events:?}");
    // The same order again: 200, a duplicate, nothing decided.
    let (status, dup) = send(
        http.post(url(&format!("/customers/{ann_id}/activities")))
            .json(&purchase),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dup["duplicate"], true);
    assert_eq!(dup["decisions"], Value::Null);
    assert_eq!(dup["customer"]["orders"], 1);

    // The customer view: stored decisions and why.
    let (status, view) = send(http.get(url(&format!("/customers/{ann_id}")))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["tier"]["value"], "gold");
    assert_eq!(view["tier"]["now"], "gold");
    assert_eq!(view["stage"]["value"], "new");
    assert!(
        view["tier"]["reason"].as_str().unwrap().contains("gold"),
        "{view}"
    );
    assert!(view["tier"]["detail"].is_object());
    assert!(view["churn_risk"]["score"].as_f64().unwrap() >= 0.0);
    assert_eq!(view["version"], 2);

    // A second customer with a visit and a complaint.
    let (status, bob) = send(http.post(url("/customers")).json(&json!({
        "phone": "+1 415 555 0100",
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    assert_eq!(bob["phone"], "+14155550100");
    let bob_id = bob["id"].as_str().unwrap().to_owned();
    for body in [
        json!({ "kind": "visit", "item": "sku-9" }),
        json!({ "kind": "complaint", "severity": "high", "channel": "phone" }),
    ] {
        let (status, r) = send(
            http.post(url(&format!("/customers/{bob_id}/activities")))
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }

    // Segments, read page by page on the server.
    let (status, gold) = send(
        http.get(url("/segments"))
            .query(&[("q", "tier >= gold and orders >= 1")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{gold}");
    assert_eq!(gold["count"], 1);
    assert_eq!(gold["customers"], json!([ann_id]));
    let (_, everyone) = send(
        http.get(url("/segments"))
            .query(&[("q", "stage != merged"), ("limit", "1")]),
    )
    .await;
    assert_eq!(
        (everyone["count"].as_u64(), everyone["complete"].as_bool()),
        (Some(1), Some(false))
    );
    let (status, bad) = send(http.get(url("/segments")).query(&[("q", "tier >= ")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"], "bad_request");
    let (status, _) = send(http.get(url("/segments"))).await; // no q
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The sweep, 400 days on: both churned or silent; ann's move comes with its reason.
    let at = iso(Utc::now() + chrono::Duration::days(400));
    let (status, swept) = send(http.post(url("/sweep")).query(&[("at", at.as_str())])).await;
    assert_eq!(status, StatusCode::OK, "{swept}");
    assert_eq!(swept["evaluated"], 2);
    let changes = swept["changes"].as_array().unwrap();
    let ann_change = changes
        .iter()
        .find(|c| c["customer"] == ann_id.as_str())
        .unwrap();
    assert_eq!(ann_change["stage"]["from"], "new");
    assert_eq!(ann_change["stage"]["to"], "churned");
    assert!(
        ann_change["stage"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("lifecycle.")
    );
    assert_eq!(swept["changed"].as_u64().unwrap() as usize, changes.len());
    let (_, view) = send(http.get(url(&format!("/customers/{ann_id}")))).await;
    assert_eq!(view["stage"]["value"], "churned");

    // Typed errors.
    let nobody = "00000000-0000-0000-0000-0000000000ff";
    let (status, e) = send(http.get(url(&format!("/customers/{nobody}")))).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = send(
        http.post(url(&format!("/customers/{nobody}/activities")))
            .json(&json!({ "kind": "contact" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Tenants do not see each other's customers.
    let (status, _) =
        send(http.get(format!("{base}/tenants/{OTHER_TENANT}/customers/{ann_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = send(http.get(url("/customers/not-a-uuid"))).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, e) = send(
        http.post(url("/customers"))
            .json(&json!({ "email": "not an email" })),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    // The message says what is wrong without echoing the personal data.
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("has no `@`"), "{e}");
    assert!(!message.contains("not an email"), "{e}");
    let activities = url(&format!("/customers/{ann_id}/activities"));
    for (body, want) in [
        (
            json!({ "kind": "purchase", "order_id": "2", "amount": "abc", "currency": "USD" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "kind": "purchase", "order_id": "2", "amount": "-5", "currency": "USD" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "kind": "purchase", "order_id": "2", "amount": "5", "currency": "XYZ" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "kind": "purchase", "order_id": " ", "amount": "5", "currency": "USD" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({ "kind": "teleport" }), StatusCode::BAD_REQUEST),
        (
            json!({ "kind": "purchase", "order_id": "2" }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, e) = send(http.post(&activities).json(&body)).await;
        assert_eq!(status, want, "{body} → {e}");
        assert!(e["message"].is_string(), "{e}");
    }
    let (status, _) = send(
        http.post(&activities)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A purchase in another currency than the customer's first: a domain rule, 422.
    let (status, e) = send(http.post(&activities).json(&json!({
        "kind": "purchase", "order_id": "3", "amount": "5", "currency": "EUR",
    })))
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")),
        "{e}"
    );
}

/// Stops the server gracefully and checks that it is gone.
async fn stop(running: Running) {
    let base = running.base.clone();
    running.stop.send(()).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(10), running.task).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    assert!(Client::new().get(format!("{base}/")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite {
        path: dir.path().join("crm.db"),
    };
    let running = start(&backend).await;
    drive(&running.base).await;
    stop(running).await;
    // The data outlives the server: a restart on the same file sees ann.
    let running = start(&backend).await;
    let (status, found) = send(
        Client::new()
            .get(format!("{}/tenants/{TENANT}/segments", running.base))
            .query(&[("q", "email_domain == \"example.com\"")]),
    )
    .await;
    assert_eq!((status, found["count"].as_u64()), (StatusCode::OK, Some(1)));
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_on_postgres() {
    let Ok(url) = std::env::var("RAPPORT_POSTGRES_URL") else {
        // CI sets RAPPORT_REQUIRE_POSTGRES=1 (and the URL): it must never skip there.
        assert!(
            std::env::var_os("RAPPORT_REQUIRE_POSTGRES").is_none_or(|v| v.is_empty() || v == "0"),
            "RAPPORT_REQUIRE_POSTGRES is set but RAPPORT_POSTGRES_URL is not"
        );
        eprintln!("RAPPORT_POSTGRES_URL is not set: skipping the PostgreSQL run");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("axum_example_{}_{nanos}", std::process::id());
    let backend = Backend::Postgres {
        url,
        schema: schema.clone(),
    };
    let running = start(&backend).await;
    drive(&running.base).await;
    stop(running).await;
    match backend.open().await.unwrap() {
        axum_postgres::Opened::Postgres(store) => store.drop_schema().await.unwrap(),
        other => panic!("not PostgreSQL: {other:?}"),
    }
}

/// The binary: prints its address, serves, and stops on SIGTERM after finishing.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_axum-postgres"))
        .env("BIND", "127.0.0.1:0")
        .env("RAPPORT_SQLITE_PATH", dir.path().join("bin.db"))
        .env_remove("DATABASE_URL")
        .env_remove("RAPPORT_POSTGRES_URL")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.to_owned());
            break;
        }
    }
    let base = base.unwrap();
    let (status, _) = send(
        Client::new()
            .post(format!("{base}/tenants/{TENANT}/customers"))
            .json(&json!({ "email": "cy@example.com" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let pid = child.id().unwrap().to_string();
    // The shell's `kill` builtin: no dependency on a signals crate or a kill binary.
    let killed = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let rest = lines.next_line().await.unwrap();
    assert_eq!(rest.as_deref(), Some("stopped"));
}

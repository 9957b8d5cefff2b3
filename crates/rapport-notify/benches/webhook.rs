//! Webhook delivery against a bare HTTP client, side by side, to one loopback receiver.
//!
//! - `bare_reqwest`: a `reqwest::Client` (the client crate `WebhookNotifier` uses) posting the
//!   very bodies the notifier posts, with a content type and nothing else;
//! - `webhook_notifier`: `WebhookNotifier::deliver` — serialise the message, sign it
//!   (HMAC-SHA256), post with the three Standard Webhooks headers, read the status.
//!
//! The receiver is an axum handler that answers 204 (no verification: the sender is what is
//! measured). Both share one tokio runtime and keep-alive connections.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::{CustomerId, DomainEvent, MessageId, Notifier, OutboxMessage, TenantId};
use rapport_notify::{SeededJitter, WebhookConfig, WebhookNotifier};

fn message(n: u128) -> OutboxMessage {
    OutboxMessage::new(
        MessageId::from_u128(n),
        TenantId::from_u128(1),
        Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
        DomainEvent::CustomerRegistered {
            customer: CustomerId::from_u128(n),
        },
    )
}

/// The body the notifier posts for `m` (the same shape, so both sides send the same bytes).
fn body(m: &OutboxMessage) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": m.event.name(),
        "timestamp": m.occurred_at,
        "data": m,
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/hooks", post(|| async { StatusCode::NO_CONTENT }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let url = format!("http://{addr}/hooks");
    let config = WebhookConfig::new(
        url.clone(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap(),
    )
    .with_timeouts(Duration::from_secs(5), Duration::from_secs(5));
    let hook = WebhookNotifier::new(config, SeededJitter::new(1)).unwrap();
    let bare = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let messages: Vec<OutboxMessage> = (1..=64).map(message).collect();
    let bodies: Vec<Vec<u8>> = messages.iter().map(body).collect();

    let mut g = c.benchmark_group("webhook_delivery");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("bare_reqwest", |b| {
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let status = rt.block_on(async {
                bare.post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[i].clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
            assert!(status.is_success());
            black_box(status)
        });
    });
    let mut i = 0usize;
    g.bench_function("webhook_notifier", |b| {
        b.iter(|| {
            i = (i + 1) % messages.len();
            rt.block_on(hook.deliver(&messages[i])).unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The webhook notifier against real HTTP receivers on loopback ports. The receivers verify
//! signatures with a verifier written here from the Standard Webhooks specification's text
//! (HMAC-SHA256 built from SHA-256 per RFC 2104, not the crate's signer).

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use rapport::core::*;
use rapport::{RelayConfig, Service, relay_once};
use rapport_memory::MemoryStore;
use rapport_notify::{Backoff, DeadLetterReason, SeededJitter, WebhookConfig, WebhookNotifier};
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// HMAC (RFC 2104) over SHA-256: H((K ^ opad) || H((K ^ ipad) || m)), 64-byte blocks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

/// The spec's verification: strip `whsec_`, base64-decode the key; signed content is
/// `{webhook-id}.{webhook-timestamp}.{body}`; `webhook-signature` is a space-delimited list
/// of `version,signature`, valid when any `v1` entry equals the base64 HMAC (compared in
/// constant time); the timestamp must be within 5 minutes of now.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<String, &'static str> {
    let key = B64
        .decode(secret.strip_prefix("whsec_").ok_or("secret prefix")?)
        .map_err(|_| "secret base64")?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or("missing header")
    };
    let id = header("webhook-id")?;
    let ts = header("webhook-timestamp")?;
    let sigs = header("webhook-signature")?;
    let ts_num: i64 = ts.parse().map_err(|_| "timestamp")?;
    if (Utc::now().timestamp() - ts_num).abs() > 300 {
        return Err("timestamp outside tolerance");
    }
    let mut content = Vec::new();
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(ts.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    let expected = B64.encode(hmac_sha256(&key, &content));
    let ok = sigs.split(' ').any(|entry| match entry.split_once(',') {
        Some(("v1", sig)) => {
            sig.len() == expected.len()
                && sig
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }
        _ => false,
    });
    if ok {
        Ok(id.to_owned())
    } else {
        Err("bad signature")
    }
}

#[test]
fn the_verifier_knows_the_spec_vector_and_rejects_tampering() {
    let mut h = HeaderMap::new();
    h.insert(
        "webhook-id",
        "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap(),
    );
    let now = Utc::now().timestamp().to_string();
    h.insert("webhook-timestamp", now.parse().unwrap());
    let body = br#"{"test": 2432232314}"#;
    let mut content = format!("msg_p5jXN8AQM9LWM0D4loKWxJek.{now}.").into_bytes();
    content.extend_from_slice(body);
    let key = B64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let sig = format!("v1,{}", B64.encode(hmac_sha256(&key, &content)));
    h.insert(
        "webhook-signature",
        format!("v1a,junk {sig}").parse().unwrap(),
    );
    assert!(verify(SECRET, &h, body).is_ok());
    assert_eq!(
        verify(SECRET, &h, br#"{"test": 2432232315}"#),
        Err("bad signature")
    );
    // The spec's published vector (timestamp 1614265330) — only outside the tolerance check.
    let spec = hmac_sha256(
        &key,
        br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#,
    );
    assert_eq!(
        B64.encode(spec),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    h.insert("webhook-timestamp", "1614265330".parse().unwrap());
    assert_eq!(verify(SECRET, &h, body), Err("timestamp outside tolerance"));
}

/// What a receiver does with a request that verified.
#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    Status(u16),
    Sleep(Duration),
    /// Fails 30 %: half of those before recording (lost), half after (recorded, answered 500,
    /// so the sender retries: a duplicate).
    Flaky,
}

struct Receiver {
    behaviour: Mutex<Behaviour>,
    requests: AtomicUsize,
    bad_signatures: AtomicUsize,
    received: Mutex<Vec<String>>,
    rng: Mutex<u64>,
}

impl Receiver {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour: Mutex::new(behaviour),
            requests: AtomicUsize::new(0),
            bad_signatures: AtomicUsize::new(0),
            received: Mutex::new(Vec::new()),
            rng: Mutex::new(0x5eed),
        })
    }

    fn roll(&self) -> f64 {
        let mut s = self.rng.lock().unwrap();
        // xorshift64*
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(id) = verify(SECRET, &headers, &body) else {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    };
    let behaviour = *r.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Ok => {}
        Behaviour::Status(code) => return StatusCode::from_u16(code).unwrap(),
        Behaviour::Sleep(d) => tokio::time::sleep(d).await,
        Behaviour::Flaky => {
            let x = r.roll();
            if x < 0.15 {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            if x < 0.30 {
                r.received.lock().unwrap().push(id);
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
    }
    r.received.lock().unwrap().push(id);
    StatusCode::NO_CONTENT
}

/// A running server; `stop` shuts it down gracefully and waits.
struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(addr: SocketAddr, r: Arc<Receiver>) -> (Server, SocketAddr) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hooks", post(hook)).with_state(r);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (Server { stop, task }, addr)
}

impl Server {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

fn notifier(addr: SocketAddr, attempts: u32) -> WebhookNotifier {
    let config = WebhookConfig::new(format!("http://{addr}/hooks"), SECRET.parse().unwrap())
        .with_timeouts(Duration::from_millis(500), Duration::from_millis(500))
        .with_retries(
            attempts,
            Backoff {
                initial: Duration::from_millis(2),
                max: Duration::from_millis(20),
            },
        );
    WebhookNotifier::new(config, SeededJitter::new(9)).unwrap()
}

fn message(n: u128) -> OutboxMessage {
    OutboxMessage::new(
        MessageId::from_u128(n),
        TenantId::from_u128(1),
        Utc::now(),
        DomainEvent::CustomerRegistered {
            customer: CustomerId::from_u128(n),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_signed_and_carries_the_message() {
    let r = Receiver::new(Behaviour::Ok);
    let (server, addr) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let hook = notifier(addr, 1);
    hook.deliver(&message(7)).await.unwrap();
    assert_eq!(r.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(
        *r.received.lock().unwrap(),
        [MessageId::from_u128(7).to_string()]
    );
    // A receiver with another secret refuses it: the signature really depends on the key.
    let other = WebhookConfig::new(
        format!("http://{addr}/hooks"),
        "whsec_c2VjcmV0LW9mLWFub3RoZXItc2VuZGVy".parse().unwrap(),
    );
    let forged = WebhookNotifier::new(other, SeededJitter::new(1)).unwrap();
    let err = forged.deliver(&message(8)).await.unwrap_err();
    assert!(matches!(err, NotifyError::DeadLettered { .. }), "{err}"); // 401 is a 4xx
    assert_eq!(r.bad_signatures.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_decide_retry_dead_letter_and_disable() {
    let r = Receiver::new(Behaviour::Status(500));
    let (server, addr) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let hook = notifier(addr, 3);

    // 5xx: retried in the call (3 requests), then handed back to the relay.
    let err = hook.deliver(&message(1)).await.unwrap_err();
    assert!(matches!(err, NotifyError::Failed { .. }), "{err}");
    assert_eq!(r.requests.load(Ordering::SeqCst), 3);

    // Another 4xx: one request, dead-lettered.
    *r.behaviour.lock().unwrap() = Behaviour::Status(422);
    let err = hook.deliver(&message(2)).await.unwrap_err();
    assert!(matches!(err, NotifyError::DeadLettered { .. }), "{err}");
    assert_eq!(r.requests.load(Ordering::SeqCst), 4);

    // 429 is "later", not "never".
    *r.behaviour.lock().unwrap() = Behaviour::Status(429);
    assert!(matches!(
        hook.deliver(&message(3)).await,
        Err(NotifyError::Failed { .. })
    ));
    assert_eq!(r.requests.load(Ordering::SeqCst), 7);

    // 410: dead letter, endpoint disabled; the next message is set aside without a request.
    *r.behaviour.lock().unwrap() = Behaviour::Status(410);
    assert!(matches!(
        hook.deliver(&message(4)).await,
        Err(NotifyError::DeadLettered { .. })
    ));
    assert!(!hook.is_enabled());
    assert!(matches!(
        hook.deliver(&message(5)).await,
        Err(NotifyError::DeadLettered { .. })
    ));
    assert_eq!(r.requests.load(Ordering::SeqCst), 8);
    let reasons: Vec<(MessageId, DeadLetterReason)> = hook
        .dead_letters()
        .iter()
        .map(|d| (d.message.id, d.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                MessageId::from_u128(2),
                DeadLetterReason::Refused { status: 422 }
            ),
            (MessageId::from_u128(4), DeadLetterReason::Gone),
            (MessageId::from_u128(5), DeadLetterReason::Disabled),
        ]
    );

    // The owner fixes the endpoint: enable and re-drive; every dead letter arrives once.
    *r.behaviour.lock().unwrap() = Behaviour::Ok;
    hook.enable();
    assert_eq!(hook.redrive_all().await, 3);
    assert!(hook.dead_letters().is_empty());
    let got: BTreeSet<String> = r.received.lock().unwrap().iter().cloned().collect();
    let want: BTreeSet<String> = [2u128, 4, 5]
        .iter()
        .map(|n| MessageId::from_u128(*n).to_string())
        .collect();
    assert_eq!(got, want);
    assert!(hook.redrive(MessageId::from_u128(2)).await.is_err()); // no longer a dead letter
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_is_retried() {
    let r = Receiver::new(Behaviour::Sleep(Duration::from_secs(2)));
    let (server, addr) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let hook = notifier(addr, 2);
    // Each attempt gave up before the receiver answered (it would answer 200 after its 2 s):
    // the order of events, not a bound on the wall time.
    let err = hook.deliver(&message(1)).await.unwrap_err();
    assert_eq!(err.to_string(), "delivery failed: timed out");
    assert_eq!(r.requests.load(Ordering::SeqCst), 2);
    server.stop().await;
}

/// The relay over a memory store's outbox, a receiver failing 30 % of requests and restarted
/// twice: every message arrives at least once, and exactly once after dedupe by webhook-id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_restarting_receiver_gets_everything_at_least_once() {
    let r = Receiver::new(Behaviour::Flaky);
    let (mut server, addr) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let svc = Service::new(MemoryStore::new());
    let t = TenantId::from_u128(1);
    let mut expected = BTreeSet::new();
    for _ in 0..60 {
        svc.register(t, Profile::default()).await.unwrap();
    }
    // The ids the outbox holds (claimed once with a zero lease, so they stay claimable).
    for m in svc
        .store()
        .claim_outbox(1_000, Duration::ZERO, svc.now())
        .await
        .unwrap()
    {
        expected.insert(m.id.to_string());
    }
    assert_eq!(expected.len(), 60);

    let hook = notifier(addr, 2);
    let config = RelayConfig {
        batch: 10,
        ..RelayConfig::default()
    };
    // Relay time runs ahead an hour a round, so every back-off has passed by the next one.
    let mut now = svc.now() + chrono::Duration::minutes(1);
    let mut restarts = 0;
    let mut failed_rounds = 0;
    for round in 0..200 {
        if round == 2 || round == 5 {
            server.stop().await;
            restarts += 1;
            // While it is down, deliveries fail and go back to the outbox.
            let down = relay_once(svc.store(), &hook, &config, now).await.unwrap();
            assert_eq!(down.delivered, 0);
            failed_rounds += usize::from(down.failed > 0);
            now += chrono::Duration::hours(1);
            server = serve(addr, r.clone()).await.0;
        }
        let report = relay_once(svc.store(), &hook, &config, now).await.unwrap();
        now += chrono::Duration::hours(1);
        if report.claimed == 0 {
            break;
        }
    }
    server.stop().await;
    assert_eq!(restarts, 2);
    assert!(failed_rounds >= 1);
    assert!(hook.dead_letters().is_empty());
    assert_eq!(r.bad_signatures.load(Ordering::SeqCst), 0);

    let received = r.received.lock().unwrap().clone();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &received {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let unique: BTreeSet<String> = counts.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(unique, expected, "every message at least once");
    assert!(
        received.len() > unique.len(),
        "the receiver saw retried duplicates ({} requests recorded)",
        received.len()
    );
    // Dedupe by webhook-id: exactly one per message.
    assert_eq!(unique.len(), 60);
    assert!(r.requests.load(Ordering::SeqCst) > 60);
}

//! The example runs end to end on SQLite: the receiver verifies every request and gets
//! exactly the actions the four seed scenarios call for, once each.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;

use automation::receiver::{Receiver, Refusal, TOLERANCE_SECS, verify};
use axum::http::HeaderMap;
use base64::Engine as _;
use rapport::core::ActivityType;
use rapport::core::automation::{ActionOutcome, CancelReason, SuppressReason};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_seed_scenarios_reach_the_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let out = automation::run(&dir.path().join("example.db"), |l| lines.push(l))
        .await
        .unwrap();
    assert_eq!(out.refused, 0, "{lines:#?}");
    let mut got: Vec<(&str, &str)> = out
        .actions
        .iter()
        .map(|a| (a.customer, a.template.as_str()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ("Ann", "win-back-offer"),  // 2. entered Silent
            ("Bob", "browse-reminder"), // 1. browsed, did not buy
            ("Cy", "vip-welcome"),      // 3. up to Gold
            ("Cy", "win-back-offer"),   // 2.
            ("Dee", "referral-invite"), // 4. top CRV, first day
            ("Dee", "referral-invite"), // 4. again after the cooldown
            ("Dee", "win-back-offer"),  // 2.
        ],
        "{lines:#?}"
    );
    // One webhook-id per action: the receiver saw no duplicate ids among the actions.
    let ids: BTreeSet<&str> = out.actions.iter().map(|a| a.webhook_id.as_str()).collect();
    assert_eq!(ids.len(), out.actions.len());
    // The domain events went to the receiver too (registrations, purchases, moves, ...).
    assert!(out.messages > out.actions.len() + 10, "{}", out.messages);

    // Ann's reminder was cancelled by her purchase; Dee's second-day invitations were held
    // by the cooldown; everything that was sent is in the log as sent.
    let ann_cancelled = out.log.iter().any(|(who, r)| {
        *who == "Ann"
            && r.rule.as_str() == "browse-reminder"
            && r.outcome
                == ActionOutcome::Suppressed {
                    reason: SuppressReason::Cancelled {
                        by: CancelReason::Activity {
                            kind: ActivityType::Purchase,
                        },
                    },
                }
    });
    assert!(ann_cancelled, "{lines:#?}");
    let cooldowns = out
        .log
        .iter()
        .filter(|(who, r)| {
            *who == "Dee"
                && matches!(
                    r.outcome,
                    ActionOutcome::Suppressed {
                        reason: SuppressReason::Cooldown { .. }
                    }
                )
        })
        .count();
    assert_eq!(cooldowns, 2);
    let sent = out.log.iter().filter(|(_, r)| r.is_sent()).count();
    assert_eq!(sent, out.actions.len());
}

const KEY: &[u8] = b"an example key of thirty-two by";

fn signed(id: &str, ts: i64, body: &[u8]) -> HeaderMap {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(KEY).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut h = HeaderMap::new();
    h.insert("webhook-id", id.parse().unwrap());
    h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
    h.insert(
        "webhook-signature",
        format!("v1a,ignored v1,{sig}").parse().unwrap(),
    );
    h
}

#[test]
fn the_receiver_verifies_as_the_specification_says() {
    let now = 1_800_000_000;
    let h = signed("msg_1", now, b"{}");
    assert_eq!(verify(KEY, &h, b"{}", now).unwrap(), "msg_1");
    // Another body, another key, an old or future timestamp, a missing header: refused.
    assert_eq!(verify(KEY, &h, b"{ }", now), Err(Refusal::BadSignature));
    assert_eq!(
        verify(b"another key", &h, b"{}", now),
        Err(Refusal::BadSignature)
    );
    assert_eq!(
        verify(KEY, &h, b"{}", now + TOLERANCE_SECS + 1),
        Err(Refusal::Timestamp)
    );
    assert_eq!(
        verify(KEY, &h, b"{}", now - TOLERANCE_SECS - 1),
        Err(Refusal::Timestamp)
    );
    let mut no_id = h.clone();
    no_id.remove("webhook-id");
    assert_eq!(verify(KEY, &no_id, b"{}", now), Err(Refusal::MissingHeader));
    // The id is signed: the same signature under another id fails.
    let mut other_id = h;
    other_id.insert("webhook-id", "msg_2".parse().unwrap());
    assert_eq!(
        verify(KEY, &other_id, b"{}", now),
        Err(Refusal::BadSignature)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_request_is_refused_over_http() {
    let r = Receiver::new(KEY.to_vec());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = r
        .serve(([127, 0, 0, 1], 0).into(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let body = br#"{"type":"customer_registered"}"#;
    let mut headers = signed("msg_9", chrono::Utc::now().timestamp(), body);
    headers.insert("webhook-id", "msg_forged".parse().unwrap());
    let status = client
        .post(format!("http://{addr}/hooks"))
        .headers(headers)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);
    assert_eq!(r.refused(), [Refusal::BadSignature]);
    assert!(r.accepted().is_empty());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

//! Deliveries against real loopback receivers (hyper servers on 127.0.0.1), through the real
//! transport: signatures verified the way `docs/webhooks.md` tells receivers to, retries timed,
//! and the `failed` end state reached.

use super::*;
use crate::alerts::{Changes, FindingBrief, Grading, Outcome, ScanRef};
use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use middlebrick_model::{CheckId, Grade, Redactor, Severity};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

const SECRET: &str = "whsec_test_0123456789";

/// What a receiver saw: the instant, the headers it cares about, the raw body, and whether
/// the signature verified.
#[derive(Debug, Clone)]
struct Hit {
    at: Instant,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    verified: bool,
}

/// A receiver that answers the n-th request with `script[n]` (the last entry from then on),
/// verifying each signature with [`SECRET`] before answering.
struct Receiver {
    url: Url,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn receiver(script: Vec<(u16, Option<String>)>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let seen = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    let script = script.clone();
                    async move {
                        let headers: HashMap<String, String> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().into()))
                            .collect();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        let header = |k: &str| headers.get(k).cloned().unwrap_or_default();
                        let verified = verify(
                            &Secret::new(SECRET),
                            &header("x-middlebrick-timestamp"),
                            &header("x-middlebrick-signature"),
                            &body,
                            now_ms() / 1000,
                            DEFAULT_TOLERANCE,
                        )
                        .is_ok();
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(Hit {
                                at: Instant::now(),
                                headers,
                                body,
                                verified,
                            });
                            seen.len() - 1
                        };
                        let (status, location) = script[n.min(script.len() - 1)].clone();
                        let status = if verified { status } else { 401 };
                        let mut resp = Response::builder().status(status);
                        if let Some(l) = location {
                            resp = resp.header("location", l);
                        }
                        Ok::<_, Infallible>(resp.body(Full::new(Bytes::from("ok"))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver {
        url: Url::parse(&format!("http://{addr}/hooks/T0/B0/path-secret")).unwrap(),
        hits,
    }
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// The store a service would implement, in memory: claims are exclusive until saved.
#[derive(Default)]
struct MemStore {
    rows: Mutex<Vec<Delivery>>,
    endpoints: Mutex<HashMap<String, Endpoint>>,
    claimed: Mutex<HashSet<String>>,
}

#[async_trait]
impl DeliveryStore for MemStore {
    type Error = Infallible;

    async fn insert(&self, deliveries: &[Delivery]) -> Result<(), Infallible> {
        self.rows.lock().unwrap().extend_from_slice(deliveries);
        Ok(())
    }

    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Due>, Infallible> {
        let rows = self.rows.lock().unwrap();
        let endpoints = self.endpoints.lock().unwrap();
        let mut claimed = self.claimed.lock().unwrap();
        let mut out = Vec::new();
        for d in rows.iter() {
            let due = d.status == DeliveryStatus::Pending
                && d.next_attempt_at_ms.is_some_and(|t| t <= now_ms)
                && !claimed.contains(&d.id);
            if due && out.len() < limit {
                claimed.insert(d.id.clone());
                out.push(Due {
                    delivery: d.clone(),
                    endpoint: endpoints[&d.webhook_id].clone(),
                });
            }
        }
        Ok(out)
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), Infallible> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.iter_mut().find(|r| r.id == delivery.id).unwrap();
        *row = delivery.clone();
        self.claimed.lock().unwrap().remove(&delivery.id);
        Ok(())
    }
}

impl MemStore {
    fn with_endpoint(url: &Url, secret: &str) -> MemStore {
        let store = MemStore::default();
        store.endpoints.lock().unwrap().insert(
            "w1".into(),
            Endpoint {
                url: url.clone(),
                secret: Secret::new(secret),
            },
        );
        store
    }

    fn only(&self) -> Delivery {
        let rows = self.rows.lock().unwrap();
        assert_eq!(rows.len(), 1);
        rows[0].clone()
    }
}

fn scan() -> ScanRef {
    ScanRef {
        target_id: "t1".into(),
        target_name: "shop".into(),
        target_url: "http://127.0.0.1:9/api?token=abc".into(),
        scan_id: "s2".into(),
    }
}

fn bad_news() -> Outcome {
    Outcome::Completed {
        before: Some(Grading {
            score: 95,
            grade: Grade::A,
        }),
        after: Grading {
            score: 95,
            grade: Grade::A,
        },
        changes: Changes {
            new: vec![FindingBrief {
                id: "fp1".into(),
                check: CheckId::AuthzBola,
                severity: Severity::Critical,
                title: "Another user's order is readable".into(),
                location: "GET /orders/{id}".into(),
                parameter: Some("id".into()),
            }],
            ..Changes::default()
        },
    }
}

async fn queue_one(store: &MemStore) -> Delivery {
    let hooks = [Webhook {
        id: "w1".into(),
        format: PayloadFormat::Json,
        rules: Default::default(),
        enabled: true,
    }];
    let queued = enqueue(store, &hooks, &scan(), &bad_news(), &Redactor::new())
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    queued[0].clone()
}

fn fast(max_attempts: u32, base_ms: u64, cap_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(base_ms),
        max_delay: Duration::from_millis(cap_ms),
        timeout: Duration::from_secs(2),
    }
}

/// Runs delivery rounds every 5 ms until the delivery settles (or 10 s pass).
async fn settle(store: &MemStore, policy: &RetryPolicy) -> Delivery {
    let start = Instant::now();
    loop {
        deliver_due(store, &HttpSender, policy, 10).await.unwrap();
        let d = store.only();
        if d.status != DeliveryStatus::Pending || start.elapsed() > Duration::from_secs(10) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_real_receiver_verifies_the_signature_and_reads_the_payload() {
    let rx = receiver(vec![(204, None)]).await;
    let store = MemStore::with_endpoint(&rx.url, SECRET);
    let queued = queue_one(&store).await;
    let round = deliver_due(&store, &HttpSender, &RetryPolicy::default(), 10)
        .await
        .unwrap();
    assert_eq!(round.delivered, 1);
    let d = store.only();
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert_eq!((d.attempts, d.last_status), (1, Some(204)));
    assert_eq!((d.last_error, d.next_attempt_at_ms), (None, None));
    let hits = rx.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].verified, "the receiver's verification passed");
    assert_eq!(hits[0].headers["x-middlebrick-event"], "scan.new_findings");
    assert_eq!(hits[0].headers["x-middlebrick-delivery"], queued.id);
    assert_eq!(hits[0].headers["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&hits[0].body).unwrap();
    assert_eq!(body["delivery_id"], queued.id.as_str());
    assert_eq!(body["findings"][0]["id"], "fp1");
    assert_eq!(body["target"]["url"], "http://127.0.0.1:9/api");
    assert_eq!(hits[0].body, queued.body.as_bytes(), "sent byte for byte");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_retried() {
    let rx = receiver(vec![(204, None)]).await;
    let store = MemStore::with_endpoint(&rx.url, "not-the-receivers-secret");
    queue_one(&store).await;
    deliver_due(&store, &HttpSender, &RetryPolicy::default(), 10)
        .await
        .unwrap();
    let d = store.only();
    assert!(!rx.hits()[0].verified);
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.last_status, Some(401));
    assert_eq!(d.last_error.as_deref(), Some("HTTP 401"));
    let wait = d.next_attempt_at_ms.unwrap() - d.last_attempt_at_ms.unwrap();
    assert!((15_000..=31_000).contains(&wait), "first wait {wait} ms");
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_same_delivery_a_third_time() {
    let rx = receiver(vec![(500, None), (503, None), (200, None)]).await;
    let store = MemStore::with_endpoint(&rx.url, SECRET);
    let queued = queue_one(&store).await;
    let policy = fast(5, 60, 1000);
    let d = settle(&store, &policy).await;
    assert_eq!(d.status, DeliveryStatus::Delivered);
    assert_eq!((d.attempts, d.last_status), (3, Some(200)));
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    for h in &hits {
        assert!(h.verified, "every attempt is signed afresh and verifies");
        assert_eq!(h.headers["x-middlebrick-delivery"], queued.id);
        assert_eq!(h.body, queued.body.as_bytes());
    }
    // Waits of at least half of 60 ms, then half of 120 ms (equal jitter).
    let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(30), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(60), "{gaps:?}");
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_failed_after_the_last_attempt() {
    let rx = receiver(vec![(503, None)]).await;
    let store = MemStore::with_endpoint(&rx.url, SECRET);
    queue_one(&store).await;
    let policy = fast(4, 40, 100);
    let start = Instant::now();
    let d = settle(&store, &policy).await;
    let took = start.elapsed();
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.attempts, 4);
    assert_eq!(rx.hits().len(), 4, "no attempt after the last");
    assert_eq!(d.last_status, Some(503));
    assert_eq!(d.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(d.next_attempt_at_ms, None);
    // Waits of 40, 80 and 100 (capped) ms at most, each at least half: 110..=220 ms in all.
    assert!(took >= Duration::from_millis(110), "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "back-off is bounded: {took:?}"
    );
    // Nothing more happens once failed.
    deliver_due(&store, &HttpSender, &policy, 10).await.unwrap();
    assert_eq!(rx.hits().len(), 4);
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let elsewhere = receiver(vec![(200, None)]).await;
    let rx = receiver(vec![(302, Some(elsewhere.url.to_string()))]).await;
    let store = MemStore::with_endpoint(&rx.url, SECRET);
    queue_one(&store).await;
    deliver_due(&store, &HttpSender, &RetryPolicy::default(), 10)
        .await
        .unwrap();
    let d = store.only();
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.last_status, Some(302));
    assert!(
        elsewhere.hits().is_empty(),
        "the signed body went nowhere else"
    );
}

#[tokio::test]
async fn an_unreachable_receiver_is_recorded_without_its_secret_path() {
    // Bind then drop, so the port is closed.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!(
        "http://127.0.0.1:{port}/services/T1/B2/xyzzy-secret"
    ))
    .unwrap();
    let store = MemStore::with_endpoint(&url, SECRET);
    queue_one(&store).await;
    deliver_due(&store, &HttpSender, &fast(3, 10, 10), 10)
        .await
        .unwrap();
    let d = store.only();
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!((d.attempts, d.last_status), (1, None));
    let err = d.last_error.unwrap();
    assert!(!err.is_empty() && !err.contains("xyzzy-secret"), "{err}");
}

#[tokio::test]
async fn disabled_webhooks_and_quiet_outcomes_queue_nothing() {
    let store = MemStore::default();
    let hooks = [
        Webhook {
            id: "off".into(),
            format: PayloadFormat::Json,
            rules: Default::default(),
            enabled: false,
        },
        Webhook {
            id: "on".into(),
            format: PayloadFormat::Slack,
            rules: Default::default(),
            enabled: true,
        },
    ];
    let quiet = Outcome::Completed {
        before: None,
        after: Grading {
            score: 100,
            grade: Grade::A,
        },
        changes: Changes::default(),
    };
    let none = enqueue(&store, &hooks, &scan(), &quiet, &Redactor::new())
        .await
        .unwrap();
    assert!(none.is_empty());
    let some = enqueue(&store, &hooks, &scan(), &bad_news(), &Redactor::new())
        .await
        .unwrap();
    assert_eq!(some.len(), 1);
    assert_eq!(some[0].webhook_id, "on");
    let slack: serde_json::Value = serde_json::from_str(&some[0].body).unwrap();
    assert!(slack["text"].as_str().unwrap().contains("1 new finding"));
    assert_eq!(store.rows.lock().unwrap().len(), 1);
}

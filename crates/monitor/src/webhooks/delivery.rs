//! Deliveries: one alert to one webhook, retried with exponential back-off and jitter until a
//! 2xx answer (`delivered`) or the last attempt (`failed`, kept and shown with its attempts,
//! last status and last error: a webhook that silently stops is worse than none).
//!
//! The body is rendered once, when the delivery is queued, and stored; each attempt signs it
//! afresh with the time of that attempt, so retries keep their delivery id (receivers dedupe
//! on it) and still pass a receiver's replay window.
//!
//! Requests go out through the scanner's own transport (`middlebrick-http`), not a second HTTP
//! client: one client to keep patched, and its scope is pinned to the webhook's origin with
//! redirects off, so a webhook that answers 3xx cannot bounce the signed body to another host
//! (a 3xx counts as a failed attempt). The architecture keeps `reqwest` out of every crate but
//! `http`, and this needs no exception to it.

use super::payload::{render, PayloadFormat};
use super::{sign, Secret, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::alerts::{evaluate, AlertRules, EventKind, Outcome, ScanRef};
use async_trait::async_trait;
use middlebrick_http::{Outgoing, Transport, TransportConfig};
use middlebrick_model::{Method, Redactor, RequestBody};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// A webhook as alerting needs it: which events, in which format. Its URL and secret are only
/// read when sending ([`Endpoint`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    #[serde(default)]
    pub format: PayloadFormat,
    #[serde(default)]
    pub rules: AlertRules,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Where and with what key a delivery is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: Url,
    pub secret: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt (`next_attempt_at_ms`).
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One event for one webhook, and how sending it went. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Random, sent as [`DELIVERY_HEADER`] and in the body; the same on every attempt.
    pub id: String,
    pub webhook_id: String,
    pub target_id: String,
    pub scan_id: String,
    pub event: EventKind,
    /// The rendered, redacted body, sent byte for byte on every attempt.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<u16>,
    /// Why the last attempt failed (`HTTP 500`, `connection refused`, …); never the URL.
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub last_attempt_at_ms: Option<i64>,
    /// When the next attempt is due; none once delivered or failed.
    pub next_attempt_at_ms: Option<i64>,
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; the last failure makes the delivery `failed`.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub base: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
    /// Time for one attempt, connecting included.
    pub timeout: Duration,
}

/// 8 attempts within about an hour: waits of 30 s, 1, 2, 4, 8, 16, 32 minutes, each between
/// half and all of that, for jitter (documented in `docs/webhooks.md`).
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The longest wait after `failures` failed attempts (1 or more): `base * 2^(failures-1)`,
    /// capped at `max_delay`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait after `failures` failures for a jitter draw `unit` in `[0, 1)`: between half
    /// the ceiling and all of it ("equal jitter"), so deliveries that failed together (one
    /// receiver down) do not all come back in the same second, and none waits less than half.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A uniform draw in `[0, 1)` from the OS random source; the midpoint should it fail.
fn jitter() -> f64 {
    getrandom::u64()
        .map(|x| (x >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}

fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what an id needs: fall back to the clock.
        bytes[..16].copy_from_slice(&(now_ms() as u128 ^ 0x5bd1_e995).to_le_bytes());
    }
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Why an attempt got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Sends one signed POST and returns the answer's status. A seam so the retry logic is the
/// same whatever sends; [`HttpSender`] is the real one.
#[async_trait]
pub trait Sender: Send + Sync {
    async fn post(
        &self,
        url: &Url,
        headers: Vec<(String, String)>,
        body: &str,
        timeout: Duration,
    ) -> Result<u16, SendError>;
}

/// POSTs through a `middlebrick-http` transport scoped to the webhook's origin: one attempt, no
/// redirects, no transport-level retries (the delivery's schedule is the retry), 4 KiB of the
/// answer read at most.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpSender;

#[async_trait]
impl Sender for HttpSender {
    async fn post(
        &self,
        url: &Url,
        headers: Vec<(String, String)>,
        body: &str,
        timeout: Duration,
    ) -> Result<u16, SendError> {
        let mut cfg = TransportConfig::new(url.clone());
        cfg.concurrency = 1;
        cfg.rate_per_host = None;
        cfg.connect_timeout = timeout;
        cfg.request_timeout = timeout;
        cfg.max_response_bytes = 4096;
        cfg.max_redirects = 0;
        cfg.budget = Some(1);
        cfg.max_duration = None;
        cfg.breaker_threshold = 0;
        cfg.max_retries = 0;
        let transport = Transport::new(cfg).map_err(|e| SendError(e.to_string()))?;
        let req = Outgoing {
            method: Method::Post,
            url: url.clone(),
            headers,
            credentials: Vec::new(),
            body: Some(RequestBody::Raw {
                content_type: "application/json".into(),
                body: body.to_string(),
            }),
            identity: "webhook".into(),
            follow_redirects: false,
            retry_throttled: false,
        };
        let ex = transport
            .send(req)
            .await
            .map_err(|e| SendError(e.to_string()))?;
        match (ex.status(), ex.error) {
            (Some(status), _) => Ok(status),
            (None, Some(e)) => Err(SendError(e)),
            (None, None) => Err(SendError("no answer".into())),
        }
    }
}

/// A pending delivery claimed for an attempt, with where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub delivery: Delivery,
    pub endpoint: Endpoint,
}

/// What the service's store provides for deliveries.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Stores new deliveries (status `pending`, due now).
    async fn insert(&self, deliveries: &[Delivery]) -> Result<(), Self::Error>;
    /// Claims up to `limit` `pending` deliveries whose `next_attempt_at_ms <= now_ms`, oldest
    /// due first, each with its webhook's URL and secret. A claimed delivery must not be
    /// handed to another caller (another service process) until [`save`](Self::save)d or a
    /// lease of a few minutes runs out, so one attempt is never sent twice at once.
    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Due>, Self::Error>;
    /// Writes back a delivery after an attempt (and releases its claim).
    async fn save(&self, delivery: &Delivery) -> Result<(), Self::Error>;
}

/// Queues what `outcome` means for each enabled webhook of the scanned target: one delivery
/// per event its rules ask for, rendered and redacted now. Returns what it queued.
pub async fn enqueue<S: DeliveryStore + ?Sized>(
    store: &S,
    webhooks: &[Webhook],
    scan: &ScanRef,
    outcome: &Outcome,
    redactor: &Redactor,
) -> Result<Vec<Delivery>, S::Error> {
    let now = now_ms();
    let created_at = rfc3339(now);
    let mut queued = Vec::new();
    for hook in webhooks.iter().filter(|h| h.enabled) {
        for event in evaluate(&hook.rules, scan, outcome) {
            let id = random_id("dlv_");
            queued.push(Delivery {
                body: render(&event, hook.format, &id, &created_at, redactor),
                id,
                webhook_id: hook.id.clone(),
                target_id: scan.target_id.clone(),
                scan_id: scan.scan_id.clone(),
                event: event.kind,
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_status: None,
                last_error: None,
                created_at_ms: now,
                last_attempt_at_ms: None,
                next_attempt_at_ms: Some(now),
            });
        }
    }
    if !queued.is_empty() {
        store.insert(&queued).await?;
    }
    Ok(queued)
}

/// Sends one attempt of `due` and records how it went in `due.delivery`.
pub async fn attempt(due: &mut Due, sender: &dyn Sender, policy: &RetryPolicy) {
    let d = &mut due.delivery;
    let started = now_ms();
    let timestamp = started.div_euclid(1000);
    let headers = vec![
        (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
        (
            SIGNATURE_HEADER.to_string(),
            sign(&due.endpoint.secret, timestamp, d.body.as_bytes()),
        ),
        (EVENT_HEADER.to_string(), d.event.as_str().to_string()),
        (DELIVERY_HEADER.to_string(), d.id.clone()),
    ];
    let result = sender
        .post(&due.endpoint.url, headers, &d.body, policy.timeout)
        .await;
    d.attempts += 1;
    d.last_attempt_at_ms = Some(started);
    let error = match result {
        Ok(status) => {
            d.last_status = Some(status);
            if (200..300).contains(&status) {
                None
            } else {
                Some(format!("HTTP {status}"))
            }
        }
        Err(e) => {
            d.last_status = None;
            // The URL can be the secret (chat webhooks put their key in the path).
            let origin = due.endpoint.url.origin().ascii_serialization();
            Some(e.0.replace(due.endpoint.url.as_str(), &origin))
        }
    };
    match error {
        None => {
            d.status = DeliveryStatus::Delivered;
            d.last_error = None;
            d.next_attempt_at_ms = None;
        }
        Some(e) if d.attempts >= policy.max_attempts => {
            d.status = DeliveryStatus::Failed;
            d.last_error = Some(e);
            d.next_attempt_at_ms = None;
        }
        Some(e) => {
            d.status = DeliveryStatus::Pending;
            d.last_error = Some(e);
            let wait = policy.delay(d.attempts, jitter());
            d.next_attempt_at_ms = Some(now_ms() + wait.as_millis() as i64);
        }
    }
}

/// What one round of [`deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub attempted: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Claims the deliveries due now and makes one attempt of each. The service calls it on a
/// timer (every few seconds); the waits between attempts live in the stored
/// `next_attempt_at_ms`, so a restart loses no retry.
pub async fn deliver_due<S: DeliveryStore + ?Sized>(
    store: &S,
    sender: &dyn Sender,
    policy: &RetryPolicy,
    limit: usize,
) -> Result<DeliveryRound, S::Error> {
    let mut round = DeliveryRound::default();
    for mut due in store.claim_due(now_ms(), limit).await? {
        attempt(&mut due, sender, policy).await;
        round.attempted += 1;
        match due.delivery.status {
            DeliveryStatus::Delivered => round.delivered += 1,
            DeliveryStatus::Pending => round.retrying += 1,
            DeliveryStatus::Failed => round.failed += 1,
        }
        store.save(&due.delivery).await?;
    }
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_the_base_and_stops_at_the_cap() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(p.ceiling(1000), p.max_delay, "no overflow on absurd counts");
    }

    #[test]
    fn jitter_keeps_each_wait_between_half_and_all_of_the_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(3, 0.0), Duration::from_secs(60));
        assert_eq!(p.delay(3, 1.0), Duration::from_secs(120));
        for _ in 0..200 {
            let d = p.delay(2, jitter());
            assert!(d >= Duration::from_secs(30) && d <= Duration::from_secs(60));
        }
        // Draws differ, so deliveries that failed together spread out.
        let draws: std::collections::HashSet<u64> = (0..20).map(|_| jitter().to_bits()).collect();
        assert!(draws.len() > 15);
    }

    #[test]
    fn statuses_serialise_as_documented_and_webhooks_default_sensibly() {
        assert_eq!(
            serde_json::to_string(&DeliveryStatus::Failed).unwrap(),
            "\"failed\""
        );
        let w: Webhook = serde_json::from_str(r#"{"id":"w1"}"#).unwrap();
        assert!(w.enabled);
        assert_eq!(w.format, PayloadFormat::Json);
        assert_eq!(w.rules, AlertRules::default());
    }

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        assert_eq!(rfc3339(1_790_000_000_123), "2026-09-21T14:13:20Z");
        assert!(random_id("dlv_").starts_with("dlv_") && random_id("").len() == 32);
        assert_ne!(random_id(""), random_id(""));
    }
}

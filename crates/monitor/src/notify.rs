//! Alerts wired to the service: after a scan's result is written, what changed since the
//! target's previous completed scan (`middlebrick_core::diff`, the one rule for "new" and
//! "fixed") becomes an [`Outcome`], and each webhook of the target gets the deliveries its
//! rules ask for; a loop in every process that holds the service key sends what is due.
//!
//! The store holds rows; [`StoreDeliveries`] is the `webhooks::DeliveryStore` over it, which
//! opens each webhook's sealed signing secret only at the moment of sending.

use crate::alerts::{AlertRules, Changes, EventKind, Outcome, ScanRef};
use crate::queue::db;
use crate::seal::Sealer;
use crate::webhooks::{
    deliver_due, enqueue, Delivery, DeliveryStatus, DeliveryStore, Due, Endpoint, HttpSender,
    PayloadFormat, RetryPolicy, Secret, Webhook,
};
use async_trait::async_trait;
use middlebrick_model::{Redactor, Report};
use middlebrick_store::service::{DeliveryRecord, ServiceStore, Target, WebhookRecord};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a process holds a delivery it claimed: longer than one attempt's timeout.
const CLAIM_LEASE_MS: i64 = 120_000;
/// Deliveries attempted per round of the loop.
const PER_ROUND: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

/// The deliveries table as `webhooks::deliver_due` and `webhooks::enqueue` see it.
#[derive(Debug, Clone)]
pub struct StoreDeliveries {
    pub store: Arc<ServiceStore>,
    pub sealer: Sealer,
}

fn record(d: &Delivery) -> DeliveryRecord {
    DeliveryRecord {
        id: d.id.clone(),
        webhook_id: d.webhook_id.clone(),
        target_id: d.target_id.clone(),
        scan_id: d.scan_id.clone(),
        event: d.event.as_str().to_string(),
        body: d.body.clone(),
        status: d.status.as_str().to_string(),
        attempts: i64::from(d.attempts),
        last_status: d.last_status.map(i64::from),
        last_error: d.last_error.clone(),
        created_at: d.created_at_ms,
        last_attempt_at: d.last_attempt_at_ms,
        next_attempt_at: d.next_attempt_at_ms,
    }
}

/// A stored row back as a delivery; `None` for a row this version cannot read.
pub fn delivery(r: &DeliveryRecord) -> Option<Delivery> {
    let event: EventKind = serde_json::from_value(serde_json::json!(r.event)).ok()?;
    let status: DeliveryStatus = serde_json::from_value(serde_json::json!(r.status)).ok()?;
    Some(Delivery {
        id: r.id.clone(),
        webhook_id: r.webhook_id.clone(),
        target_id: r.target_id.clone(),
        scan_id: r.scan_id.clone(),
        event,
        body: r.body.clone(),
        status,
        attempts: u32::try_from(r.attempts).unwrap_or(0),
        last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.last_error.clone(),
        created_at_ms: r.created_at,
        last_attempt_at_ms: r.last_attempt_at,
        next_attempt_at_ms: r.next_attempt_at,
    })
}

/// A stored webhook as the alert rules read it.
pub fn webhook(w: &WebhookRecord) -> Webhook {
    Webhook {
        id: w.id.clone(),
        format: serde_json::from_value(serde_json::json!(w.format)).unwrap_or_default(),
        // Rules were validated when the webhook was created.
        rules: serde_json::from_str(&w.rules_json).unwrap_or_else(|_| AlertRules::default()),
        enabled: true,
    }
}

#[async_trait]
impl DeliveryStore for StoreDeliveries {
    type Error = NotifyError;

    async fn insert(&self, deliveries: &[Delivery]) -> Result<(), NotifyError> {
        let rows: Vec<DeliveryRecord> = deliveries.iter().map(record).collect();
        db(&self.store, move |s| s.insert_deliveries(&rows))
            .await
            .map(|_| ())
            .map_err(NotifyError)
    }

    async fn claim_due(&self, now_ms: i64, limit: usize) -> Result<Vec<Due>, NotifyError> {
        let rows = db(&self.store, move |s| {
            s.claim_deliveries(now_ms, CLAIM_LEASE_MS, limit as i64)
        })
        .await
        .map_err(NotifyError)?;
        let mut due = Vec::new();
        for r in rows {
            let opened = self.sealer.open_text(&r.secret_sealed);
            let url = url::Url::parse(&r.url);
            match (delivery(&r.delivery), opened, url) {
                (Some(delivery), Ok(secret), Ok(url)) => due.push(Due {
                    delivery,
                    endpoint: Endpoint {
                        url,
                        secret: Secret::new(secret),
                    },
                }),
                // Another process (with the key that sealed it) takes it when the claim ends.
                (_, Err(e), _) => tracing::warn!(delivery = %r.delivery.id, "not sent here: {e}"),
                _ => tracing::warn!(delivery = %r.delivery.id, "unreadable delivery row"),
            }
        }
        Ok(due)
    }

    async fn save(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let row = record(delivery);
        db(&self.store, move |s| s.save_delivery(&row))
            .await
            .map_err(NotifyError)
    }
}

/// How a scan ended, as the worker knows it.
#[derive(Debug)]
pub enum Finished {
    Completed(Box<Report>, Arc<Redactor>),
    Failed(String),
}

/// Queues the alerts of a scan whose result was just written: diffed against the target's
/// previous completed scan, evaluated against each webhook's rules. Returns how many
/// deliveries were queued.
pub async fn scan_finished(
    deliveries: &StoreDeliveries,
    target: &Target,
    scan_id: &str,
    finished: Finished,
) -> Result<usize, String> {
    let tid = target.id.clone();
    let hooks: Vec<Webhook> = db(&deliveries.store, move |s| s.webhooks_for_target(&tid))
        .await?
        .iter()
        .map(webhook)
        .collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let scan = ScanRef {
        target_id: target.id.clone(),
        target_name: target.name.clone(),
        target_url: target.url.clone(),
        scan_id: scan_id.to_string(),
    };
    let (outcome, redactor) = match finished {
        Finished::Failed(error) => (Outcome::Failed { error }, Arc::new(Redactor::new())),
        Finished::Completed(report, redactor) => {
            let previous = previous_report(&deliveries.store, scan_id).await?;
            let changes = match &previous {
                Some(old) => Changes::from_diff(&middlebrick_core::diff::compare(old, &report)),
                None => Changes::first_scan(&report),
            };
            (
                Outcome::completed(previous.as_ref(), &report, changes),
                redactor,
            )
        }
    };
    let queued = enqueue(deliveries, &hooks, &scan, &outcome, &redactor)
        .await
        .map_err(|e| e.to_string())?;
    Ok(queued.len())
}

/// The report of the completed scan of the same target just before `scan_id`.
pub async fn previous_report(
    store: &Arc<ServiceStore>,
    scan_id: &str,
) -> Result<Option<Report>, String> {
    let id = scan_id.to_string();
    let text = db(store, move |s| match s.previous_completed(&id)? {
        Some(p) => s.job_report(&p),
        None => Ok(None),
    })
    .await?;
    match text {
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Sends due deliveries every `every` until `stop`. Only a process that holds the service
/// key runs it (the signing secrets are sealed under it).
pub async fn deliverer(deliveries: StoreDeliveries, every: Duration, stop: CancellationToken) {
    let policy = RetryPolicy::default();
    while !stop.is_cancelled() {
        match deliver_due(&deliveries, &HttpSender, &policy, PER_ROUND).await {
            Ok(r) if r.attempted > 0 => tracing::info!(
                attempted = r.attempted,
                delivered = r.delivered,
                retrying = r.retrying,
                failed = r.failed,
                "webhook deliveries"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("webhook deliveries: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// The format names the API accepts, as stored.
pub fn format_name(f: PayloadFormat) -> &'static str {
    match f {
        PayloadFormat::Json => "json",
        PayloadFormat::Slack => "slack",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_survives_the_row_round_trip() {
        let d = Delivery {
            id: "dlv_1".into(),
            webhook_id: "w".into(),
            target_id: "t".into(),
            scan_id: "s".into(),
            event: EventKind::GradeDropped,
            body: "{}".into(),
            status: DeliveryStatus::Pending,
            attempts: 3,
            last_status: Some(503),
            last_error: Some("HTTP 503".into()),
            created_at_ms: 1,
            last_attempt_at_ms: Some(2),
            next_attempt_at_ms: Some(3),
        };
        let r = record(&d);
        assert_eq!(
            (r.event.as_str(), r.status.as_str()),
            ("scan.grade_dropped", "pending")
        );
        assert_eq!(delivery(&r), Some(d));
        let mut bad = r.clone();
        bad.event = "scan.unknown".into();
        assert_eq!(delivery(&bad), None);
    }

    #[test]
    fn stored_webhooks_read_their_rules_and_format() {
        let w = WebhookRecord {
            id: "w".into(),
            target_id: None,
            url: "http://127.0.0.1:9/".into(),
            secret_sealed: String::new(),
            rules_json: r#"{"new_findings_at_or_above":"high"}"#.into(),
            format: "slack".into(),
            created_at: 0,
        };
        let h = webhook(&w);
        assert_eq!(h.format, PayloadFormat::Slack);
        assert_eq!(
            h.rules.new_findings_at_or_above,
            Some(middlebrick_model::Severity::High)
        );
        assert_eq!(format_name(h.format), "slack");
    }
}

//! Alert deliveries: each webhook call, its state, attempts, last answer and next attempt, so
//! a receiver that stopped answering is seen, not guessed at.

use super::{page, status_badge, Site};
use crate::webhooks::{Delivery, DeliveryStatus};
use maud::html;
use url::Url;

/// A delivery with the names the page shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub delivery: Delivery,
    /// [`webhook_label`] of the webhook's URL: never the whole URL.
    pub webhook: String,
    pub target_name: String,
    /// Attempts the retry policy allows, to show `3 of 8`.
    pub max_attempts: u32,
}

/// How a webhook is named on pages: its origin only. A chat webhook's key is its path, and a
/// query can hold a token.
pub fn webhook_label(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "–".into())
}

/// The deliveries page, rows in the order given (the service sends the newest first).
pub fn deliveries_page(site: &Site, rows: &[DeliveryRow]) -> String {
    let failed = rows
        .iter()
        .filter(|r| r.delivery.status == DeliveryStatus::Failed)
        .count();
    let body = html! {
        h1 { "Alert deliveries" }
        @if failed > 0 {
            p.warn { (failed) " deliver" @if failed == 1 { "y" } @else { "ies" }
                " failed after every attempt: check the receiver." }
        }
        @if rows.is_empty() {
            p.muted { "No alerts sent yet." }
        } @else {
            table {
                thead { tr {
                    th { "Created" } th { "Event" } th { "Target" } th { "Webhook" }
                    th { "Status" } th { "Attempts" } th { "Last answer" } th { "Next attempt" }
                } }
                tbody {
                    @for r in rows {
                        @let d = &r.delivery;
                        tr {
                            td { (when(Some(d.created_at_ms))) }
                            td { code { (d.event.as_str()) } }
                            td { a href=(site.scan(&d.scan_id)) { (r.target_name) } }
                            td { (r.webhook) }
                            td { (status_badge(d.status.as_str())) }
                            td.n { (d.attempts) " of " (r.max_attempts) }
                            td {
                                @if let Some(s) = d.last_status { "HTTP " (s) }
                                @if let Some(e) = &d.last_error {
                                    @if d.last_status.is_none() { (e) }
                                }
                                @if d.last_status.is_none() && d.last_error.is_none() { "–" }
                            }
                            td { (when(d.next_attempt_at_ms)) }
                        }
                    }
                }
            }
        }
    };
    page(site, "Alert deliveries", body)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_inert, XSS};
    use super::*;
    use crate::alerts::EventKind;

    fn delivery(status: DeliveryStatus, attempts: u32) -> Delivery {
        Delivery {
            id: "dlv_1".into(),
            webhook_id: "w1".into(),
            target_id: "t1".into(),
            scan_id: "s2".into(),
            event: EventKind::NewFindings,
            body: "{\"secret-ish\":\"body\"}".into(),
            status,
            attempts,
            last_status: None,
            last_error: None,
            created_at_ms: 1_790_000_000_000,
            last_attempt_at_ms: None,
            next_attempt_at_ms: None,
        }
    }

    fn row(d: Delivery) -> DeliveryRow {
        DeliveryRow {
            delivery: d,
            webhook: webhook_label(
                &Url::parse("https://hooks.chat.example/services/T1/B2/key-abc?x=1").unwrap(),
            ),
            target_name: "shop".into(),
            max_attempts: 8,
        }
    }

    #[test]
    fn each_delivery_shows_status_attempts_last_answer_and_next_attempt() {
        let mut failed = delivery(DeliveryStatus::Failed, 8);
        failed.last_status = Some(503);
        failed.last_error = Some("HTTP 503".into());
        let mut pending = delivery(DeliveryStatus::Pending, 2);
        pending.last_error = Some("connection refused".into());
        pending.next_attempt_at_ms = Some(1_790_000_060_000);
        let ok = delivery(DeliveryStatus::Delivered, 1);
        let page = deliveries_page(&Site::default(), &[row(failed), row(pending), row(ok)]);
        assert_inert(&page);
        for want in [
            "1 delivery failed after every attempt",
            "status-failed",
            "status-pending",
            "status-delivered",
            "8 of 8",
            "2 of 8",
            "HTTP 503",
            "connection refused",
            "2026-09-21T14:14:20Z",
            "<code>scan.new_findings</code>",
            "https://hooks.chat.example",
            "href=\"/dashboard/scans/s2\"",
        ] {
            assert!(page.contains(want), "missing {want:?}");
        }
        assert!(
            !page.contains("key-abc") && !page.contains("x=1"),
            "webhook path hidden"
        );
        assert!(!page.contains("secret-ish"), "bodies are not shown");
    }

    #[test]
    fn hostile_names_and_errors_are_escaped_and_empty_says_so() {
        let mut d = delivery(DeliveryStatus::Pending, 1);
        d.last_error = Some(XSS.into());
        d.scan_id = XSS.into();
        let mut r = row(d);
        r.target_name = XSS.into();
        let page = deliveries_page(&Site::default(), &[r]);
        assert_inert(&page);
        let empty = deliveries_page(&Site::default(), &[]);
        assert!(empty.contains("No alerts sent yet."));
        assert!(!empty.contains("failed after every attempt"));
    }
}

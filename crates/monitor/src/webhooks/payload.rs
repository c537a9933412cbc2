//! The body a webhook receives, as documented in `docs/webhooks.md`: our JSON (schema
//! [`SCHEMA`]) or a Slack-compatible message (`{"text": …, "blocks": […]}`).
//!
//! What goes in is chosen so nothing secret can: finding summaries (check, severity, title,
//! location, parameter name) but never descriptions, evidence or bodies; the target's URL
//! without user-info, query or fragment (tokens live there); a failed scan's error capped.
//! The rendered body then passes the service's [`Redactor`] as a last guard, as every report
//! format does.

use crate::alerts::{Change, Event, EventKind, Grading};
use middlebrick_model::Redactor;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

/// The `schema` field of every JSON payload; a breaking change gets a new one.
pub const SCHEMA: &str = "middlebrick.webhook.v1";
/// Findings listed in one payload; `findings_total` says how many there were.
pub const MAX_FINDINGS: usize = 50;
/// Characters of a failed scan's error kept.
const MAX_ERROR: usize = 500;

/// How a webhook wants its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// Our JSON payload, signed.
    #[default]
    Json,
    /// A Slack incoming-webhook message (also accepted by Mattermost and others), signed too.
    Slack,
}

/// A URL as it may be shown or sent: scheme, host, port and path. User-info, query and fragment
/// are dropped, since credentials and tokens live there (a Slack webhook's secret is its path,
/// so webhook URLs themselves are shown by origin only: see `dashboard`).
pub fn display_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        _ => "(not a URL)".to_string(),
    }
}

fn grading(g: Option<Grading>) -> Value {
    g.map(|g| json!({"score": g.score, "grade": g.grade.as_str()}))
        .unwrap_or(Value::Null)
}

fn cap(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

fn json_body(event: &Event, delivery_id: &str, created_at: &str) -> Value {
    let findings: Vec<Value> = event
        .findings
        .iter()
        .take(MAX_FINDINGS)
        .map(|(change, f)| {
            let mut v = json!({
                "change": change,
                "id": f.id,
                "check": f.check,
                "severity": f.severity,
                "title": f.title,
                "location": f.location,
            });
            if let Some(p) = &f.parameter {
                v["parameter"] = json!(p);
            }
            v
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "type": event.kind.as_str(),
        "delivery_id": delivery_id,
        "created_at": created_at,
        "target": {
            "id": event.scan.target_id,
            "name": event.scan.target_name,
            "url": display_url(&event.scan.target_url),
        },
        "scan": {
            "id": event.scan.scan_id,
            "status": if event.kind == EventKind::ScanFailed { "failed" } else { "completed" },
        },
        "grade": { "before": grading(event.before), "after": grading(event.after) },
        "findings": findings,
        "findings_total": event.findings.len(),
        "error": event.error.as_deref().map(|e| cap(e, MAX_ERROR)),
    })
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters; everything else is text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn headline(event: &Event) -> String {
    let name = slack_escape(&event.scan.target_name);
    let grade = |g: Option<Grading>| {
        g.map(|g| format!("{} ({})", g.grade.as_str(), g.score))
            .unwrap_or_else(|| "none".into())
    };
    match event.kind {
        EventKind::NewFindings => {
            let regressed = event
                .findings
                .iter()
                .filter(|(c, _)| *c == Change::Regressed)
                .count();
            let n = event.findings.len();
            let mut line = format!("*{name}*: {n} new finding{}", if n == 1 { "" } else { "s" });
            if regressed > 0 {
                line.push_str(&format!(" ({regressed} regressed)"));
            }
            line
        }
        EventKind::GradeDropped => format!(
            "*{name}*: grade dropped from {} to {}",
            grade(event.before),
            grade(event.after)
        ),
        EventKind::ScanFailed => format!(
            "*{name}*: scan failed: {}",
            slack_escape(&cap(event.error.as_deref().unwrap_or("unknown error"), 200))
        ),
        EventKind::FixedFindings => format!(
            "*{name}*: {} finding{} fixed",
            event.findings.len(),
            if event.findings.len() == 1 { "" } else { "s" }
        ),
    }
}

fn slack_body(event: &Event) -> Value {
    let head = headline(event);
    let mut lines: Vec<String> = event
        .findings
        .iter()
        .take(10)
        .map(|(change, f)| {
            let tag = match change {
                Change::Regressed => " (regressed)",
                _ => "",
            };
            format!(
                "• `{}` {} — {} `{}`{tag}",
                f.severity.as_str(),
                slack_escape(&f.title),
                f.check.as_str(),
                slack_escape(&f.location)
            )
        })
        .collect();
    if event.findings.len() > 10 {
        lines.push(format!("…and {} more", event.findings.len() - 10));
    }
    let context = format!(
        "{} · scan {}",
        slack_escape(&display_url(&event.scan.target_url)),
        slack_escape(&event.scan.scan_id)
    );
    let mut blocks = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": head}})];
    if !lines.is_empty() {
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({ "text": head, "blocks": blocks })
}

/// The body for `event` in `format`, redacted by `redactor` after rendering.
pub fn render(
    event: &Event,
    format: PayloadFormat,
    delivery_id: &str,
    created_at: &str,
    redactor: &Redactor,
) -> String {
    let body = match format {
        PayloadFormat::Json => json_body(event, delivery_id, created_at),
        PayloadFormat::Slack => slack_body(event),
    };
    redactor.redact(&body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{FindingBrief, ScanRef};
    use middlebrick_model::{CheckId, Grade, Severity};

    fn event(kind: EventKind, n: usize) -> Event {
        let findings = (0..n)
            .map(|i| {
                (
                    if i == 0 {
                        Change::Regressed
                    } else {
                        Change::New
                    },
                    FindingBrief {
                        id: format!("fp{i}"),
                        check: CheckId::AuthzBola,
                        severity: Severity::High,
                        title: "Object <b>readable</b> by another user".into(),
                        location: "GET /orders/{id}".into(),
                        parameter: Some("id".into()),
                    },
                )
            })
            .collect();
        Event {
            kind,
            scan: ScanRef {
                target_id: "t1".into(),
                target_name: "shop & <co>".into(),
                target_url: "https://bob:pw@api.example.test:8443/v1?api_key=abc#x".into(),
                scan_id: "s9".into(),
            },
            before: Some(Grading {
                score: 91,
                grade: Grade::A,
            }),
            after: Some(Grading {
                score: 72,
                grade: Grade::C,
            }),
            findings,
            error: None,
        }
    }

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        assert_eq!(
            display_url("https://bob:pw@api.example.test:8443/v1?api_key=abc#x"),
            "https://api.example.test:8443/v1"
        );
        assert_eq!(display_url("not a url"), "(not a URL)");
    }

    #[test]
    fn json_payload_has_the_documented_fields_and_no_secrets() {
        let body = render(
            &event(EventKind::NewFindings, 2),
            PayloadFormat::Json,
            "d1",
            "2026-12-01T10:00:00Z",
            &Redactor::new(),
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["type"], "scan.new_findings");
        assert_eq!(v["delivery_id"], "d1");
        assert_eq!(v["created_at"], "2026-12-01T10:00:00Z");
        assert_eq!(v["target"]["name"], "shop & <co>");
        assert_eq!(v["target"]["url"], "https://api.example.test:8443/v1");
        assert_eq!(v["scan"]["id"], "s9");
        assert_eq!(v["scan"]["status"], "completed");
        assert_eq!(v["grade"]["before"], json!({"score": 91, "grade": "A"}));
        assert_eq!(v["grade"]["after"], json!({"score": 72, "grade": "C"}));
        assert_eq!(v["findings_total"], 2);
        assert_eq!(v["findings"][0]["change"], "regressed");
        assert_eq!(v["findings"][1]["change"], "new");
        assert_eq!(v["findings"][0]["check"], "authz.bola");
        assert_eq!(v["findings"][0]["severity"], "high");
        assert_eq!(v["findings"][0]["parameter"], "id");
        assert_eq!(v["error"], Value::Null);
        for leak in ["bob", ":pw", "api_key", "abc"] {
            assert!(!body.contains(leak), "payload leaks {leak}: {body}");
        }
    }

    #[test]
    fn long_lists_are_capped_with_the_total_and_failures_carry_the_error() {
        let body = render(
            &event(EventKind::NewFindings, MAX_FINDINGS + 7),
            PayloadFormat::Json,
            "d",
            "t",
            &Redactor::new(),
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["findings"].as_array().unwrap().len(), MAX_FINDINGS);
        assert_eq!(v["findings_total"], MAX_FINDINGS + 7);

        let mut failed = event(EventKind::ScanFailed, 0);
        failed.before = None;
        failed.after = None;
        failed.error = Some(format!("connection refused {}", "x".repeat(2000)));
        let v: Value = serde_json::from_str(&render(
            &failed,
            PayloadFormat::Json,
            "d",
            "t",
            &Redactor::new(),
        ))
        .unwrap();
        assert_eq!(v["scan"]["status"], "failed");
        assert_eq!(v["grade"]["after"], Value::Null);
        let err = v["error"].as_str().unwrap();
        assert!(err.starts_with("connection refused") && err.chars().count() == MAX_ERROR + 1);
    }

    #[test]
    fn the_redactor_removes_known_secrets_from_any_field() {
        let mut e = event(EventKind::ScanFailed, 0);
        e.error = Some("sign-in as alice with tok-9f8e7d failed".into());
        let redactor = Redactor::new();
        redactor.add("tok-9f8e7d");
        for format in [PayloadFormat::Json, PayloadFormat::Slack] {
            let body = render(&e, format, "d", "t", &redactor);
            assert!(!body.contains("tok-9f8e7d"), "{body}");
            assert!(body.contains(middlebrick_model::REDACTED));
        }
    }

    #[test]
    fn slack_messages_have_text_and_blocks_and_escape_control_characters() {
        let body = render(
            &event(EventKind::NewFindings, 12),
            PayloadFormat::Slack,
            "d",
            "t",
            &Redactor::new(),
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert_eq!(
            text,
            "*shop &amp; &lt;co&gt;*: 12 new findings (1 regressed)"
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        let list = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(list.contains("Object &lt;b&gt;readable&lt;/b&gt; by another user"));
        assert!(list.contains("(regressed)") && list.ends_with("…and 2 more"));
        let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert_eq!(context, "https://api.example.test:8443/v1 · scan s9");

        let drop = render(
            &event(EventKind::GradeDropped, 0),
            PayloadFormat::Slack,
            "d",
            "t",
            &Redactor::new(),
        );
        let v: Value = serde_json::from_str(&drop).unwrap();
        assert_eq!(
            v["text"],
            "*shop &amp; &lt;co&gt;*: grade dropped from A (91) to C (72)"
        );
        assert_eq!(v["blocks"].as_array().unwrap().len(), 2);
    }
}

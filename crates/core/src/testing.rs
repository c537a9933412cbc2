//! Reports for unit tests, built from JSON so they hold no more than the report format says.

use middlebrick_model::Report;
use serde_json::json;

/// A finding of `check` (`GET /path`, or API-wide when `op` is none) with fingerprint `id`.
pub fn finding(
    id: &str,
    check: &str,
    severity: &str,
    op: Option<(&str, &str)>,
) -> serde_json::Value {
    json!({
        "id": id, "check": check, "title": format!("{check} title"), "severity": severity,
        "confidence": "firm", "cwe": [], "owasp": [],
        "method": op.map(|o| o.0), "path": op.map(|o| o.1),
        "description": "observed", "evidence": {"exchanges": []}, "remediation": "fix it",
    })
}

/// A complete scan of `target` whose checks ran on every operation named in `ran` (check,
/// operations), with these findings.
pub fn report(
    target: &str,
    ran: &[(&str, &[&str])],
    findings: Vec<serde_json::Value>,
    incomplete: bool,
) -> Report {
    let checks: Vec<_> = ran
        .iter()
        .map(|(c, ops)| json!({"check": c, "ran": true, "operations": ops}))
        .collect();
    serde_json::from_value(json!({
        "schema_version": "1.2",
        "tool": {"name": "middlebrick", "version": "0.1.0"},
        "target": target, "mode": "safe", "started_at": "2026-01-02T03:04:05Z",
        "duration_ms": 1, "requests_sent": 1, "score": 80, "grade": "B",
        "coverage": {"spec": "openapi-3.0", "source": "openapi.json", "operations": 2,
                     "operations_reached": 2, "partial": false, "checks": checks},
        "identities": [], "findings": findings, "diagnostics": [], "incomplete": incomplete,
    }))
    .expect("a report as the format describes it")
}

//! A small report for tests: two findings on a graded scan that ran to the end.

use middlebrick_model::{
    CheckId, Confidence, Evidence, Finding, Method, Report, Severity, REPORT_SCHEMA_VERSION,
};

pub fn finding(id: &str, severity: Severity) -> Finding {
    Finding {
        id: id.into(),
        check: CheckId::AuthzBola,
        title: format!("finding {id}"),
        severity,
        confidence: Confidence::Confirmed,
        cwe: vec![639],
        owasp: vec![],
        method: Some(Method::Get),
        path: Some("/orders/{id}".into()),
        graphql_operation: None,
        parameter: Some("id".into()),
        description: "Another user's order was returned.".into(),
        evidence: Evidence::default(),
        remediation: "Check the owner.".into(),
    }
}

pub fn report() -> Report {
    let mut r: Report = serde_json::from_value(serde_json::json!({
        "schema_version": REPORT_SCHEMA_VERSION, "tool": {"name": "middlebrick", "version": "0"},
        "target": "http://127.0.0.1:8000/", "mode": "safe",
        "started_at": "2026-12-01T10:00:00Z", "duration_ms": 1000, "requests_sent": 10,
        "score": 40, "grade": "F",
        "coverage": {"spec": "openapi-3.0", "source": "openapi.json", "operations": 1,
                     "operations_reached": 1, "partial": false},
        "identities": [], "findings": [], "diagnostics": []
    }))
    .expect("a valid report");
    r.findings = vec![
        finding("low", Severity::Low),
        finding("crit", Severity::Critical),
    ];
    r
}

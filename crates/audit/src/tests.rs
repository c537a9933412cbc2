use super::*;
use middlebrick_model::{CheckId, Severity};

fn load(json: &str) -> Inventory {
    middlebrick_spec::load_bytes(json.as_bytes(), "test.json").expect("spec loads")
}

fn ids(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {}", f.check, f.location()))
        .collect()
}

const RISKY: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "servers": [{"url": "http://api.example.test/v1"}, {"url": "http://127.0.0.1:8000"}],
  "components": {"securitySchemes": {
    "key": {"type": "apiKey", "in": "query", "name": "api_key"},
    "bearer": {"type": "http", "scheme": "bearer"},
    "unused": {"type": "http", "scheme": "basic"}
  }},
  "paths": {
    "/items": {
      "get": {"security": [{"key": []}],
              "parameters": [{"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}],
              "responses": {"200": {"description": "ok"}, "429": {"description": "slow down"}}},
      "post": {"security": [],
               "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                   "name": {"type": "string"}, "code": {"type": "string", "maxLength": 8},
                   "when": {"type": "string", "format": "date"}, "tags": {"type": "array", "maxItems": 5, "items": {"type": "string", "enum": ["a"]}}}}}}},
               "responses": {"201": {"description": "ok"}}}
    },
    "/open": {"get": {"parameters": [{"name": "access_token", "in": "query", "schema": {"type": "string", "maxLength": 64}}],
                      "responses": {"200": {"description": "ok"}}}},
    "/me": {"get": {"security": [{"bearer": []}], "responses": {"200": {"description": "ok"}, "429": {"description": "x"}}}}
  }
}"#;

#[test]
fn every_audit_id_has_complete_metadata() {
    for id in CheckId::AUDIT {
        let r = rule(*id).unwrap_or_else(|| panic!("{id} has no rule"));
        assert!(id.as_str().starts_with("audit."));
        assert!(!r.cwe.is_empty() && !r.owasp.is_empty());
        assert!(r.description.len() > 40 && r.remediation.len() > 40);
    }
    assert_eq!(RULES.len(), CheckId::AUDIT.len());
}

#[test]
fn a_risky_spec_raises_each_rule_where_it_applies() {
    let findings = audit(&load(RISKY));
    let got = ids(&findings);
    for want in [
        "audit.no-security POST /items",
        "audit.no-security GET /open",
        "audit.unused-security-scheme (API-wide)",
        "audit.credential-in-query (API-wide)",
        "audit.credential-in-query GET /open",
        "audit.plain-http-server (API-wide)",
        "audit.unbounded-array GET /items",
        "audit.unbounded-string POST /items",
        "audit.no-rate-limit-response POST /items",
        "audit.no-rate-limit-response GET /open",
    ] {
        assert!(got.iter().any(|g| g == want), "missing {want} in {got:#?}");
    }
    // Bounded fields and loopback servers are not flagged; GET /me is clean.
    assert!(!got.iter().any(|g| g.ends_with("GET /me")), "{got:#?}");
    assert_eq!(
        got.iter()
            .filter(|g| g.starts_with("audit.plain-http-server"))
            .count(),
        1
    );
    let strings = findings
        .iter()
        .find(|f| f.check == CheckId::AuditUnboundedString)
        .unwrap();
    assert!(
        strings.description.contains("`body.name`"),
        "{}",
        strings.description
    );
    assert!(!strings.description.contains("code") && !strings.description.contains("when"));
    let public_write = findings
        .iter()
        .find(|f| f.check == CheckId::AuditNoSecurity && f.path.as_deref() == Some("/items"))
        .unwrap();
    assert_eq!(public_write.severity, Severity::Low);
    let unused = findings
        .iter()
        .find(|f| f.check == CheckId::AuditUnusedScheme)
        .unwrap();
    assert_eq!(unused.parameter.as_deref(), Some("unused"));
    assert!(findings.iter().all(|f| f.evidence.exchanges.is_empty()));
}

#[test]
fn fingerprints_are_stable_and_distinct() {
    let a = audit(&load(RISKY));
    let b = audit(&load(RISKY));
    assert_eq!(a, b);
    let unique: std::collections::HashSet<_> = a.iter().map(|f| &f.id).collect();
    assert_eq!(unique.len(), a.len(), "two findings share a fingerprint");
}

#[test]
fn a_careful_spec_is_clean() {
    let spec = r#"{
      "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
      "servers": [{"url": "https://api.example.test"}],
      "security": [{"bearer": []}],
      "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
      "paths": {"/items": {"get": {
        "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 50}}],
        "responses": {"200": {"description": "ok"}, "429": {"description": "slow down"}}}}}
    }"#;
    assert_eq!(ids(&audit(&load(spec))), Vec::<String>::new());
}

#[test]
fn no_429_anywhere_is_one_api_wide_finding() {
    let spec = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
      "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/b": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let got = ids(&audit(&load(spec)));
    assert_eq!(
        got.iter()
            .filter(|g| g.starts_with("audit.no-rate-limit-response"))
            .collect::<Vec<_>>(),
        ["audit.no-rate-limit-response (API-wide)"]
    );
}

#[test]
fn swagger_2_plain_http_scheme_and_query_key() {
    let spec = r#"{"swagger": "2.0", "info": {"title": "t", "version": "1"},
      "host": "api.example.test", "schemes": ["http"], "basePath": "/v1",
      "securityDefinitions": {"k": {"type": "apiKey", "in": "query", "name": "key"}},
      "security": [{"k": []}],
      "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let got = ids(&audit(&load(spec)));
    assert!(
        got.contains(&"audit.plain-http-server (API-wide)".to_string()),
        "{got:#?}"
    );
    assert!(
        got.contains(&"audit.credential-in-query (API-wide)".to_string()),
        "{got:#?}"
    );
    assert!(
        !got.iter().any(|g| g.starts_with("audit.no-security")),
        "{got:#?}"
    );
}

#[test]
fn several_versions_in_servers_or_paths_is_one_api_wide_finding() {
    let servers = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "2"},
      "servers": [{"url": "https://api.example.test/v2"}, {"url": "https://api.example.test/v1"}],
      "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let findings = audit(&load(servers));
    let f = findings
        .iter()
        .find(|f| f.check == CheckId::AuditSeveralVersions)
        .expect("several versions in servers");
    assert!(f.description.contains("`v2`, `v1`"), "{}", f.description);
    let paths = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "2"},
      "paths": {"/v1/a": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/v2/a": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/v2/b": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let got = ids(&audit(&load(paths)));
    assert_eq!(
        got.iter()
            .filter(|g| g.starts_with("audit.several-versions"))
            .count(),
        1,
        "{got:#?}"
    );
    // One version, in a server and the paths alike, or words that only start with `v`.
    let one = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "2"},
      "servers": [{"url": "https://v3.example.test/v2"}, {"url": "http://127.0.0.1/v2"}],
      "paths": {"/videos": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/v2/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let got = ids(&audit(&load(one)));
    assert!(
        !got.iter().any(|g| g.starts_with("audit.several-versions")),
        "{got:#?}"
    );
}

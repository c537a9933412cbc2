use super::*;
use middlebrick_engine::SpecSource;

fn request_json() -> &'static str {
    r#"{
        "url": "http://127.0.0.1:8000",
        "spec": {"text": "openapi: 3.0.3"},
        "mode": "active",
        "checks": ["authz.bola"],
        "identities": [
            {"name": "alice", "username": "alice", "password": {"env": "ALICE_PW"},
             "login": "POST /auth/login"},
            {"name": "bot", "headers": {"X-Api-Key": {"env": "BOT_KEY"}}}
        ],
        "limits": {"budget": 300, "concurrency": 2}
    }"#
}

fn env(var: &str) -> Option<String> {
    match var {
        "ALICE_PW" => Some("canary-pass-1".into()),
        "BOT_KEY" => Some("canary-key-2".into()),
        _ => None,
    }
}

#[test]
fn a_request_round_trips_through_json_and_names_its_secrets_only() {
    let r: ScanRequest = serde_json::from_str(request_json()).unwrap();
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<ScanRequest>(&text).unwrap(), r);
    assert!(text.contains("ALICE_PW") && !text.contains("canary"));
    assert!(r.inline_secrets().is_empty());
    let minimal = serde_json::to_string(&ScanRequest::new("http://h")).unwrap();
    assert_eq!(minimal, r#"{"url":"http://h"}"#);
}

#[test]
fn a_request_resolves_with_its_secrets_read_from_the_environment() {
    let r: ScanRequest = serde_json::from_str(request_json()).unwrap();
    let cfg = r.resolve_with(&env).unwrap();
    assert_eq!(cfg.mode, Mode::Active);
    assert_eq!(cfg.transport.budget, Some(300));
    assert_eq!(cfg.transport.concurrency, 2);
    assert_eq!(cfg.only_checks.len(), 1);
    assert!(matches!(cfg.spec, SpecSource::Text { ref text, .. } if text == "openapi: 3.0.3"));
    let alice = &cfg.identities[0];
    assert_eq!(alice.login.as_ref().unwrap().password, "canary-pass-1");
    assert_eq!(
        cfg.identities[1].headers,
        vec![("X-Api-Key".to_string(), "canary-key-2".to_string())]
    );
    assert_eq!(cfg.callback, Default::default());
    let err = r.resolve_with(&|_| None).unwrap_err().to_string();
    assert!(err.contains("ALICE_PW is not set"), "{err}");
}

#[test]
fn inline_secrets_are_listed_and_local_specs_refused() {
    let mut r = ScanRequest::new("http://127.0.0.1:8000");
    r.identities.push(IdentityRequest {
        name: "ci".into(),
        headers: BTreeMap::from([("Authorization".into(), Secret::Value("Bearer x".into()))]),
        ..IdentityRequest::default()
    });
    assert_eq!(r.inline_secrets(), ["identity ci: header Authorization"]);
    assert!(r.resolve_with(&env).is_ok());
    for bad in ["/etc/passwd", "file:///etc/passwd", "openapi.json"] {
        r.spec = Some(SpecInput::Url(bad.into()));
        assert!(r.resolve_with(&env).is_err(), "{bad}");
    }
    let unknown = r#"{"url": "http://h", "config": "/etc/middlebrick.toml"}"#;
    assert!(serde_json::from_str::<ScanRequest>(unknown).is_err());
}

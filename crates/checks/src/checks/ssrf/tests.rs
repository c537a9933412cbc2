use super::*;
use crate::fake::FakeProbe;
use crate::probe::Probe;
use crate::similarity::response;
use middlebrick_model::{
    Inventory, Method, Mode, ParamLocation, Parameter, RequestBody, RequestBodySpec, RequestSpec,
    Schema, SchemaType, SpecVersion,
};
use std::sync::Arc;

const JSON: &str = "application/json";

fn string_param(name: &str, format: Option<&str>) -> Parameter {
    let mut schema = Schema::of_type(SchemaType::String);
    schema.format = format.map(str::to_string);
    Parameter {
        name: name.into(),
        location: ParamLocation::Query,
        required: true,
        schema: Arc::new(schema),
        example: None,
    }
}

/// `GET /preview?page=…` with `page` declared `format: uri` (no URL word in the name).
fn preview_op() -> Operation {
    let mut op = Operation::new(Method::Get, "/preview");
    op.parameters.push(string_param("page", Some("uri")));
    op
}

/// `POST /imports` with a JSON body `{"source": …, "title": …}`, nothing declared URL-ish.
fn import_op() -> Operation {
    let mut body = Schema::of_type(SchemaType::Object);
    body.properties.insert(
        "source".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    body.properties.insert(
        "title".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    let mut op = Operation::new(Method::Post, "/imports");
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: [(JSON.to_string(), Arc::new(body))].into_iter().collect(),
    });
    op
}

async fn run_with(probe: &dyn Probe, op: &Operation) -> Outcome {
    let inv = Inventory::empty(SpecVersion::OpenApi30);
    Ssrf.run(&RunCtx {
        probe,
        inventory: &inv,
        op: Some(op),
    })
    .await
}

fn query_value(r: &RequestSpec, name: &str) -> Option<String> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn body_value(r: &RequestSpec, name: &str) -> Option<String> {
    match &r.body {
        Some(RequestBody::Json(Value::Object(m))) => {
            m.get(name).and_then(|v| v.as_str()).map(str::to_string)
        }
        _ => None,
    }
}

/// A fetching target: its own port answers with the page's size, a closed port fails.
fn fetch_answer(url: &str) -> middlebrick_model::ResponseRecord {
    if url.contains(":5000") {
        response(200, JSON, r#"{"title":"Shop","bytes":812}"#)
    } else {
        response(
            502,
            JSON,
            &format!(r#"{{"error":"fetch_failed","url":"{url}"}}"#),
        )
    }
}

fn ports() -> Option<LoopbackPorts> {
    Some(LoopbackPorts {
        open: 5000,
        closed: 41234,
    })
}

#[tokio::test]
async fn a_callback_carrying_the_inputs_token_is_confirmed_proof() {
    let mut probe = FakeProbe::new()
        .on(|_| true, response(200, JSON, r#"{"ok":true}"#))
        .fetches(|r| query_value(r, "page").is_some());
    probe.callback_base = Some("http://127.0.0.1:7/cb".into());
    probe.loopback = ports();
    let out = run_with(&probe, &preview_op()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.check, CheckId::InjectionSsrf);
    assert_eq!(f.confidence, Confidence::Confirmed);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.parameter.as_deref(), Some("page"));
    assert!(f.description.contains("tok0x"), "{}", f.description);
    assert!(f.description.contains("`format: uri`"));
    assert!(f.evidence.notes.iter().any(|n| n.contains("GET /cb/tok0x")));
    // The callback proved it: no loopback probes were needed.
    assert_eq!(probe.sent_count(), 1);
    let sent = probe.sent.lock().unwrap();
    assert_eq!(
        query_value(&sent[0], "page").as_deref(),
        Some("http://127.0.0.1:7/cb/tok0x")
    );
}

#[tokio::test]
async fn own_port_against_closed_port_is_firm_when_it_repeats() {
    let mut probe = FakeProbe::new().on_dynamic(|r| Some(fetch_answer(&body_value(r, "source")?)));
    probe.mode = Mode::Active;
    // A harvested answer showed `source` holding a URL: that is what makes it a URL input.
    probe.observed = vec![crate::fake::exchange_for(
        &RequestSpec::new(Method::Get, "/imports/1"),
        Some(response(
            200,
            JSON,
            r#"{"id":1,"source":"https://example.test/a.csv"}"#,
        )),
    )];
    probe.loopback = ports();
    let out = run_with(&probe, &import_op()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.confidence, Confidence::Firm);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.parameter.as_deref(), Some("source"));
    assert_eq!(f.evidence.exchanges.len(), 4);
    assert!(f.description.contains("answers carry URLs under that name"));
    let sent = probe.sent.lock().unwrap();
    let values: Vec<_> = sent
        .iter()
        .filter_map(|r| body_value(r, "source"))
        .collect();
    assert_eq!(
        values,
        [
            "http://127.0.0.1:5000/",
            "http://127.0.0.1:41234/",
            "http://127.0.0.1:5000/",
            "http://127.0.0.1:41234/"
        ]
    );
    // `title` is not a URL input and was never touched.
    assert!(sent.iter().all(|r| body_value(r, "title").is_none()));
}

#[tokio::test]
async fn a_refusal_that_echoes_the_address_is_silent_after_one_pair() {
    // The secure shape: every loopback address refused the same way, the address echoed.
    let mut probe = FakeProbe::new().on_dynamic(|r| {
        let url = query_value(r, "page")?;
        Some(response(
            422,
            JSON,
            &format!(r#"{{"error":"host_not_allowed","url":"{url}","request_id":"9f8e7d6c5b4a"}}"#),
        ))
    });
    probe.loopback = ports();
    probe.callback_base = Some("http://127.0.0.1:7/cb".into());
    let out = run_with(&probe, &preview_op()).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    // The callback, then one pair that agreed: nothing more.
    assert_eq!(probe.sent_count(), 3);
}

#[tokio::test]
async fn answers_that_flip_between_repeats_are_noise() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let mut probe = FakeProbe::new().on_dynamic(move |_| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // A flaky upstream: status depends on the call's parity, not the address.
        Some(if n.is_multiple_of(3) {
            response(200, JSON, r#"{"ok":true}"#)
        } else {
            response(503, JSON, r#"{"busy":true}"#)
        })
    });
    probe.loopback = ports();
    let out = run_with(&probe, &preview_op()).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[tokio::test]
async fn writes_wait_for_active_mode_and_passive_sends_nothing() {
    let mut probe = FakeProbe::new().on(|_| true, response(201, JSON, "{}"));
    probe.loopback = ports();
    probe.observed = vec![crate::fake::exchange_for(
        &RequestSpec::new(Method::Get, "/imports/1"),
        Some(response(
            200,
            JSON,
            r#"{"source":"https://example.test/a"}"#,
        )),
    )];
    let out = run_with(&probe, &import_op()).await;
    assert!(out.findings.is_empty());
    assert_eq!(probe.sent_count(), 0, "safe mode sends no POST");
    assert!(Ssrf.plan(&preview_op(), plan_ctx(Mode::Passive)).is_empty());
    assert!(Ssrf.plan(&import_op(), plan_ctx(Mode::Safe)).is_empty());
}

fn plan_ctx(mode: Mode) -> PlanCtx {
    PlanCtx {
        mode,
        identities: 1,
    }
}

#[tokio::test]
async fn host_inputs_get_host_and_port_and_no_callback() {
    let mut op = Operation::new(Method::Get, "/check");
    op.parameters.push(string_param("target_host", None));
    let mut probe = FakeProbe::new().on_dynamic(|r| {
        let h = query_value(r, "target_host")?;
        Some(if h.ends_with(":5000") {
            response(200, JSON, r#"{"reachable":true}"#)
        } else {
            response(200, JSON, r#"{"reachable":false}"#)
        })
    });
    probe.loopback = ports();
    probe.callback_base = Some("http://127.0.0.1:7/cb".into());
    let out = run_with(&probe, &op).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let sent = probe.sent.lock().unwrap();
    assert_eq!(
        query_value(&sent[0], "target_host").as_deref(),
        Some("127.0.0.1:5000")
    );
    assert_eq!(
        sent.len(),
        4,
        "a host cannot carry a token: no callback probe"
    );
}

#[tokio::test]
async fn a_collector_gets_one_request_and_a_diagnostic_names_the_token() {
    let mut probe = FakeProbe::new().on(|_| true, response(200, JSON, r#"{"ok":true}"#));
    probe.collector_base = Some("https://collector.example.net/c".into());
    let out = run_with(&probe, &preview_op()).await;
    assert!(out.findings.is_empty());
    let sent = probe.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        query_value(&sent[0], "page").as_deref(),
        Some("https://collector.example.net/c/tok0x")
    );
    assert_eq!(out.diagnostics.len(), 1);
    assert!(out.diagnostics[0].message.contains("tok0x"));
}

#[test]
fn inputs_are_found_by_format_example_and_name_but_not_by_type_alone() {
    let probe = FakeProbe::new();
    let keys = Default::default();
    let mut op = Operation::new(Method::Get, "/x");
    op.parameters.push(string_param("q", None));
    op.parameters.push(string_param("callbackUrl", None));
    op.parameters.push(string_param("page", Some("uri")));
    let mut with_example = string_param("next", None);
    with_example.example = Some(Value::String("https://example.test/feed".into()));
    op.parameters.push(with_example);
    let mut number = string_param("url_count", None);
    number.schema = Arc::new(Schema::of_type(SchemaType::Integer));
    op.parameters.push(number);
    let names: Vec<_> = candidates::candidates(&op, &probe, &keys, &[])
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["callbackUrl", "page", "next"]);
}

#[test]
fn masks_hide_addresses_ids_and_timestamps_but_not_words() {
    let a = mask_volatile(r#"{"id":17,"at":"2026-01-02T10:00:00Z","rid":"a1b2c3d4e5"}"#);
    let b = mask_volatile(r#"{"id":18,"at":"2026-01-02T10:00:01Z","rid":"ffee0011aa"}"#);
    assert_eq!(a, b);
    assert_ne!(
        mask_volatile(r#"{"error":"unreachable"}"#),
        mask_volatile(r#"{"error":"upstream_status"}"#)
    );
}

#[test]
fn the_plan_names_declared_inputs_and_looks_at_text_inputs_once() {
    assert_eq!(Ssrf.plan(&preview_op(), plan_ctx(Mode::Safe)).len(), 1);
    assert_eq!(
        Ssrf.plan(&import_op(), plan_ctx(Mode::Active))[0].purpose,
        "URL probes, only if answers show an input holds URLs"
    );
    let mut ids_only = Operation::new(Method::Get, "/orders/{id}");
    let mut id = string_param("id", None);
    id.schema = Arc::new(Schema::of_type(SchemaType::Integer));
    ids_only.parameters.push(id);
    assert!(Ssrf.plan(&ids_only, plan_ctx(Mode::Safe)).is_empty());
}

/// `POST /profile/picture/import {"source": …}`, documented as answering 200 only: it replaces
/// the caller's picture with what the URL serves.
fn picture_import_op() -> Operation {
    let mut op = import_op();
    op.path = "/profile/picture/import".into();
    op.responses = ["200", "400"]
        .iter()
        .map(|s| middlebrick_model::ResponseSpec {
            status: (*s).to_string(),
            media_type: None,
            schema: None,
        })
        .collect();
    op
}

#[tokio::test]
async fn a_post_that_changes_the_callers_own_state_goes_as_a_registered_account_in_active_mode() {
    let harvested = || {
        vec![crate::fake::exchange_for(
            &RequestSpec::new(Method::Get, "/imports/1"),
            Some(response(
                200,
                JSON,
                r#"{"source":"https://example.test/a.csv"}"#,
            )),
        )]
    };
    // Registration refused: the operation is left untested, and nothing reaches it.
    let mut probe = FakeProbe::new()
        .identity("alice", &[])
        .on(|r| r.path == "/fake-register", response(403, JSON, "{}"))
        .on_dynamic(|r| Some(fetch_answer(&body_value(r, "source")?)));
    probe.mode = Mode::Active;
    probe.observed = harvested();
    probe.loopback = ports();
    let out = run_with(&probe, &picture_import_op()).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(
        out.diagnostics.iter().any(|d| d.code == "ssrf.untested"),
        "{:?}",
        out.diagnostics
    );
    assert!(probe
        .sent
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.path == "/fake-register"));
    // Registration works: every probe goes as the scan's own account, none as alice.
    let mut probe = FakeProbe::new()
        .identity("alice", &[])
        .on(|r| r.path == "/fake-register", response(201, JSON, "{}"))
        .on_dynamic(|r| Some(fetch_answer(&body_value(r, "source")?)));
    probe.mode = Mode::Active;
    probe.observed = harvested();
    probe.loopback = ports();
    let out = run_with(&probe, &picture_import_op()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let probes: Vec<RequestSpec> = probe
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/profile/picture/import")
        .cloned()
        .collect();
    assert!(!probes.is_empty());
    assert!(probes.iter().all(|r| r.identity == "own-1"), "{probes:?}");
    // A creation (`POST /imports`, nothing documented) still goes as alice.
    let mut probe = FakeProbe::new()
        .identity("alice", &[])
        .on_dynamic(|r| Some(fetch_answer(&body_value(r, "source")?)));
    probe.mode = Mode::Active;
    probe.observed = harvested();
    probe.loopback = ports();
    let out = run_with(&probe, &import_op()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert!(probe
        .sent
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.identity == "alice"));
}

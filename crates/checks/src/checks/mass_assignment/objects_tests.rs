//! Mass assignment on creates and updates against scripted APIs, both ways.

use super::*;
use crate::fake::FakeProbe;
use crate::similarity::response;
use middlebrick_model::{Parameter, RequestBody, RequestBodySpec, RequestSpec, SpecVersion};
use serde_json::json;
use std::sync::Mutex;

fn text() -> Arc<Schema> {
    Arc::new(Schema::of_type(SchemaType::String))
}

/// `POST /things` takes `name`; `GET /things/{thing_id}` answers `id`, `user_id`, `name`,
/// `status` (enum, `readOnly` when `read_only`), `created_at`; `PATCH /things/{thing_id}`
/// takes `name`.
fn inventory(read_only: bool) -> Inventory {
    let id = Parameter {
        name: "thing_id".into(),
        location: ParamLocation::Path,
        required: true,
        schema: Arc::new(Schema::of_type(SchemaType::Integer)),
        example: None,
    };
    let mut body = Schema::of_type(SchemaType::Object);
    body.properties.insert("name".into(), text());
    let body = RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    };
    let mut status = Schema::of_type(SchemaType::String);
    status.enum_values = vec![json!("placed"), json!("shipped")];
    status.read_only = read_only;
    let mut record = Schema::of_type(SchemaType::Object);
    for k in ["id", "user_id", "name"] {
        record.properties.insert(k.into(), text());
    }
    record.properties.insert("status".into(), Arc::new(status));
    let mut at = Schema::of_type(SchemaType::String);
    at.format = Some("date-time".into());
    record.properties.insert("created_at".into(), Arc::new(at));
    let mut create = Operation::new(Method::Post, "/things");
    create.request_body = Some(body.clone());
    let mut read = Operation::new(Method::Get, "/things/{thing_id}");
    read.parameters.push(id.clone());
    read.responses.push(middlebrick_model::ResponseSpec {
        status: "200".into(),
        media_type: None,
        schema: Some(Arc::new(record)),
    });
    let mut patch = Operation::new(Method::Patch, "/things/{thing_id}");
    patch.parameters.push(id);
    patch.request_body = Some(body);
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![create, read, patch];
    inv
}

fn sets_status(r: &RequestSpec) -> Option<String> {
    match &r.body {
        Some(RequestBody::Json(v)) => v.get("status").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

/// A fake API that keeps its objects; `create` / `update` say whether those take `status` from
/// the body (the secure twin ignores it).
fn api(create: bool, update: bool) -> FakeProbe {
    seeded(create, update, 0)
}

/// [`api`] with `seed` objects already stored (ids 1..=seed).
fn seeded(create: bool, update: bool, seed: usize) -> FakeProbe {
    let store: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec!["placed".into(); seed]));
    let mut p = FakeProbe::new().identity("alice", &[]).on_dynamic(move |r| {
        let mut s = store.lock().unwrap();
        let record = |id: usize, status: &str| {
            format!(
                r#"{{"id":{id},"user_id":1,"name":"n","status":"{status}","created_at":"2026-12-07T07:00:00Z"}}"#
            )
        };
        match (r.method, r.path.as_str()) {
            (Method::Post, "/things") => {
                let status = sets_status(r).filter(|_| create).unwrap_or("placed".into());
                s.push(status.clone());
                Some(response(201, "application/json", &record(s.len(), &status)))
            }
            (m, p) if p.starts_with("/things/") => {
                let i: usize = p["/things/".len()..].parse().ok().filter(|i| *i <= s.len())?;
                if m == Method::Patch && update {
                    if let Some(v) = sets_status(r) {
                        s[i - 1] = v;
                    }
                }
                Some(response(200, "application/json", &record(i, &s[i - 1])))
            }
            _ => None,
        }
    });
    p.mode = middlebrick_model::Mode::Active;
    p
}

async fn findings(p: &FakeProbe, inv: &Inventory) -> Vec<Finding> {
    judge(&RunCtx {
        probe: p,
        inventory: inv,
        op: None,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_read_only_status_that_sticks_on_create_and_update_is_confirmed() {
    let inv = inventory(true);
    let out = findings(&api(true, true), &inv).await;
    let ops: Vec<String> = out.iter().map(|f| f.location()).collect();
    assert_eq!(ops, vec!["POST /things", "PATCH /things/{thing_id}"]);
    assert!(out.iter().all(|f| f.confidence == Confidence::Confirmed
        && f.severity == Severity::High
        && f.description.contains("\"shipped\"")));
}

#[tokio::test]
async fn an_undocumented_status_that_sticks_is_firm_and_medium() {
    let inv = inventory(false);
    let out = findings(&api(false, true), &inv).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].location(), "PATCH /things/{thing_id}");
    assert_eq!(out[0].confidence, Confidence::Firm);
    assert_eq!(out[0].severity, Severity::Medium);
}

#[tokio::test]
async fn ignored_properties_are_silent() {
    let inv = inventory(true);
    assert!(findings(&api(false, false), &inv).await.is_empty());
}

#[tokio::test]
async fn disposable_mode_updates_an_owned_object_never_the_identitys_own_account() {
    let mut inv = inventory(true);
    inv.operations.remove(0); // no create: only objects the identity already has
    let mut p = seeded(false, true, 2);
    p.mode = middlebrick_model::Mode::Disposable;
    p.identities[0].own.id = Some(json!(1));
    p.known = vec![
        ("thing_id".into(), json!(1), vec!["alice".into()]),
        ("thing_id".into(), json!(2), vec!["alice".into()]),
    ];
    let out = findings(&p, &inv).await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].location(), "PATCH /things/{thing_id}");
    assert!(out[0].description.contains("alice's own object"));
    let sent = p.sent.lock().unwrap();
    assert!(sent.iter().all(|r| r.path != "/things/1"));
    assert!(sent
        .iter()
        .any(|r| r.method == Method::Patch && r.path == "/things/2"));
}

#[test]
fn references_timestamps_and_taken_properties_are_not_privileged() {
    let inv = inventory(false);
    let record = json!({"id": 3, "user_id": 1, "name": "n", "status": "placed",
        "created_at": "2026-12-07T07:00:00Z", "tags": ["a"], "pinned": false});
    let read_schema = inv.operations[1].success_schema().map(record_schema);
    let got = privileged(
        &inv.operations[0],
        read_schema.as_deref(),
        record.as_object().unwrap(),
        &[],
    );
    let names: Vec<&str> = got.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(names, vec!["status", "pinned"]);
    assert_eq!(got[0].1, json!("shipped"));
    assert_eq!(got[1].1, json!(true));
    // Money the server computes is left to `design.client-controlled-values`.
    let got = privileged(
        &inv.operations[0],
        read_schema.as_deref(),
        record.as_object().unwrap(),
        &["status".to_string()],
    );
    assert_eq!(got.len(), 1);
}

#[test]
fn a_free_form_body_names_nothing() {
    let mut inv = inventory(false);
    inv.operations[0].request_body = None;
    let record = json!({"status": "placed"});
    assert!(privileged(&inv.operations[0], None, record.as_object().unwrap(), &[]).is_empty());
}

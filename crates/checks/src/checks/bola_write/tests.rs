//! `authz.bola-write` against scripted APIs: each shape both ways.

use super::*;
use crate::fake::FakeProbe;
use crate::similarity::response;
use middlebrick_model::{Parameter, RequestBodySpec, RequestSpec, Schema, SchemaType, SpecVersion};
use std::sync::{Arc, Mutex};

fn inventory() -> Inventory {
    let id = Parameter {
        name: "note_id".into(),
        location: ParamLocation::Path,
        required: true,
        schema: Arc::new(Schema::of_type(SchemaType::Integer)),
        example: None,
    };
    let mut body = Schema::of_type(SchemaType::Object);
    body.properties.insert(
        "title".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    let body = RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    };
    let mut create = Operation::new(Method::Post, "/notes");
    create.request_body = Some(body.clone());
    let mut patch = Operation::new(Method::Patch, "/notes/{note_id}");
    patch.parameters.push(id.clone());
    patch.request_body = Some(body);
    let mut read = Operation::new(Method::Get, "/notes/{note_id}");
    read.parameters.push(id);
    let mut delete = Operation::new(Method::Delete, "/notes/{note_id}");
    delete.parameters = read.parameters.clone();
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![create, patch, read, delete];
    inv
}

async fn run_on(p: &FakeProbe, inv: &Inventory, op: usize) -> Outcome {
    BolaWrite
        .run(&RunCtx {
            probe: p,
            inventory: inv,
            op: Some(&inv.operations[op]),
        })
        .await
}

/// A notes API whose note 41 any signed-in caller may delete (`vulnerable`) or only its
/// owner.
fn deletable(vulnerable: bool) -> FakeProbe {
    deletable_by(move |who| who == "alice" || (vulnerable && who != ANONYMOUS))
}

fn deletable_by(may: impl Fn(&str) -> bool + Send + Sync + 'static) -> FakeProbe {
    let exists = Arc::new(Mutex::new(true));
    let (e1, e2) = (exists.clone(), exists);
    FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .on(
            |r: &RequestSpec| r.method == Method::Post,
            response(201, "application/json", r#"{"id":41,"title":"mine"}"#),
        )
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Delete).then(|| {
                if may(&r.identity) {
                    *e1.lock().unwrap() = false;
                    response(204, "application/json", "")
                } else {
                    response(404, "application/json", r#"{"error":"not_found"}"#)
                }
            })
        })
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Get).then(|| match *e2.lock().unwrap() {
                true => response(200, "application/json", r#"{"id":41,"title":"mine"}"#),
                false => response(404, "application/json", r#"{"error":"not_found"}"#),
            })
        })
}

#[tokio::test]
async fn another_identitys_delete_that_the_owner_sees_is_confirmed() {
    let inv = inventory();
    let out = run_on(&deletable(true), &inv, 3).await;
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.evidence.exchanges[2].identity, "bob");
    assert_eq!(f.evidence.exchanges[3].status(), Some(404));
    assert!(f.description.contains("`bob` deleted") && f.description.contains("`alice`"));
    assert!(run_on(&deletable(false), &inv, 3).await.findings.is_empty());
}

#[tokio::test]
async fn a_delete_without_credentials_is_missing_authentication_not_bola() {
    let inv = inventory();
    let out = run_on(&deletable_by(|_| true), &inv, 3).await;
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.check, CheckId::AuthMissingAuthentication);
    assert_eq!(f.cwe, vec![306]);
    assert_eq!(f.evidence.exchanges[2].identity, ANONYMOUS);
}

#[tokio::test]
async fn nothing_is_created_for_a_delete_the_scan_may_not_send() {
    let inv = inventory();
    let mut p = deletable(true);
    p.forbidden = vec![Method::Delete];
    assert!(run_on(&p, &inv, 3).await.findings.is_empty());
    assert_eq!(p.sent_count(), 0);
}

#[tokio::test]
async fn an_object_named_in_the_query_is_updated_the_same_way() {
    // `PUT /notes?note_id=41`: the object is named by an id-like query parameter.
    let mut inv = inventory();
    for op in inv.operations.iter_mut() {
        op.path = "/notes".into();
        for p in op.parameters.iter_mut() {
            p.location = ParamLocation::Query;
        }
    }
    inv.operations[1].method = Method::Put;
    let out = run_on(&api(true), &inv, 1).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let attack = &out.findings[0].evidence.exchanges[1];
    assert!(
        attack.request.url.contains("note_id=41"),
        "{}",
        attack.request.url
    );
    assert!(run_on(&api(false), &inv, 1).await.findings.is_empty());
}

/// Cards under `/users/{username}/cards`: a POST adds to the path's user (`vulnerable`) or
/// refuses another caller's path; a GET lists the path's user's cards. With `shared`, every
/// card is listed to everyone.
fn cards(vulnerable: bool, shared: bool) -> (Inventory, FakeProbe) {
    let user = Parameter {
        name: "username".into(),
        location: ParamLocation::Path,
        required: true,
        schema: Arc::new(Schema::of_type(SchemaType::String)),
        example: None,
    };
    let mut body = Schema::of_type(SchemaType::Object);
    body.properties.insert(
        "nickname".into(),
        Arc::new(Schema::of_type(SchemaType::String)),
    );
    let mut add = Operation::new(Method::Post, "/users/{username}/cards");
    add.parameters.push(user.clone());
    add.request_body = Some(RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    });
    let mut list = Operation::new(Method::Get, "/users/{username}/cards");
    list.parameters.push(user);
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![add, list];
    let stored: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (s1, s2) = (stored.clone(), stored);
    let owner = |r: &RequestSpec| r.path.split('/').nth(2).unwrap_or("").to_string();
    let p = FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Post).then(|| {
                let who = owner(r);
                if !vulnerable && who != r.identity {
                    return response(403, "application/json", "{}");
                }
                if let Some(middlebrick_model::RequestBody::Json(v)) = &r.body {
                    let nick = v["nickname"].as_str().unwrap_or("").to_string();
                    s1.lock().unwrap().push((who, nick));
                }
                response(201, "application/json", r#"{"id":5}"#)
            })
        })
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Get).then(|| {
                let who = owner(r);
                let names: Vec<String> = s2
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(o, _)| shared || *o == who)
                    .map(|(_, n)| n.clone())
                    .collect();
                response(
                    200,
                    "application/json",
                    &serde_json::json!(names).to_string(),
                )
            })
        });
    (inv, p)
}

#[tokio::test]
async fn adding_to_another_identitys_collection_is_confirmed() {
    let (inv, p) = cards(true, false);
    let out = run_on(&p, &inv, 0).await;
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.parameter.as_deref(), Some("username"));
    assert_eq!(f.evidence.exchanges[0].identity, "bob");
    assert!(f.evidence.exchanges[0]
        .request
        .url
        .contains("/users/alice/cards"));
    let (inv, p) = cards(false, false);
    assert!(run_on(&p, &inv, 0).await.findings.is_empty());
}

#[tokio::test]
async fn a_list_every_identity_shares_is_nobodys_collection() {
    let (inv, p) = cards(true, true);
    assert!(run_on(&p, &inv, 0).await.findings.is_empty());
}

/// A notes API that applies any update (`vulnerable`) or only the owner's.
fn api(vulnerable: bool) -> FakeProbe {
    let title = Arc::new(Mutex::new(String::from("mine")));
    let (t1, t2) = (title.clone(), title.clone());
    FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .on(
            |r: &RequestSpec| r.method == Method::Post,
            response(201, "application/json", r#"{"id":41,"title":"mine"}"#),
        )
        .on(
            move |r: &RequestSpec| {
                let update = matches!(r.method, Method::Patch | Method::Put);
                let signed_in = r.identity != ANONYMOUS;
                if update && ((vulnerable && signed_in) || r.identity == "alice") {
                    if let Some(middlebrick_model::RequestBody::Json(v)) = &r.body {
                        *t1.lock().unwrap() = v["title"].as_str().unwrap_or("").to_string();
                    }
                }
                update
            },
            response(200, "application/json", "{}"),
        )
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Get).then(|| {
                response(
                    200,
                    "application/json",
                    &format!(r#"{{"id":41,"title":"{}"}}"#, t2.lock().unwrap()),
                )
            })
        })
}

#[tokio::test]
async fn another_identitys_change_visible_to_the_owner_is_confirmed() {
    let inv = inventory();
    let p = api(true);
    let out = BolaWrite
        .run(&RunCtx {
            probe: &p,
            inventory: &inv,
            op: Some(&inv.operations[1]),
        })
        .await;
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].evidence.exchanges[1].identity, "bob");
}

#[test]
fn the_object_is_the_parameter_the_path_ends_with_in_any_listing_order() {
    // FastAPI lists a router prefix's `{user_id}` after the route's own `{card_id}`.
    let mut op = Operation::new(Method::Put, "/users/{user_id}/cards/{card_id}");
    for name in ["card_id", "user_id"] {
        op.parameters.push(Parameter {
            name: name.into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
    }
    assert_eq!(
        object_ref(&op),
        Some((ParamLocation::Path, "card_id".to_string()))
    );
}

#[tokio::test]
async fn the_attacker_sends_the_owners_own_path() {
    // The collection lives under the owner's name: `/users/{username}/notes/{note_id}`.
    let mut inv = inventory();
    let user = Parameter {
        name: "username".into(),
        location: ParamLocation::Path,
        required: true,
        schema: Arc::new(Schema::of_type(SchemaType::String)),
        example: None,
    };
    for op in inv.operations.iter_mut() {
        op.path = format!("/users/{{username}}{}", op.path);
        op.parameters.insert(0, user.clone());
    }
    let p = api(true);
    let out = BolaWrite
        .run(&RunCtx {
            probe: &p,
            inventory: &inv,
            op: Some(&inv.operations[1]),
        })
        .await;
    assert_eq!(out.findings.len(), 1);
    let attack = &out.findings[0].evidence.exchanges[1];
    assert_eq!(attack.identity, "bob");
    assert!(
        attack.request.url.contains("/users/alice/notes/41"),
        "{}",
        attack.request.url
    );
}

#[tokio::test]
async fn refused_updates_are_silent() {
    let inv = inventory();
    let p = api(false);
    let out = BolaWrite
        .run(&RunCtx {
            probe: &p,
            inventory: &inv,
            op: Some(&inv.operations[1]),
        })
        .await;
    assert!(out.findings.is_empty());
}

/// Notes whose update body may name one of the owner's pets (`pet_id`): the API links a pet
/// only when it is the note owner's (7 is alice's, 9 bob's) and lets any signed-in caller
/// update (`vulnerable`) or only alice.
fn notes_with_pets(vulnerable: bool) -> (Inventory, FakeProbe) {
    let mut inv = inventory();
    let mut body = Schema::of_type(SchemaType::Object);
    for k in ["title", "pet_id"] {
        body.properties
            .insert(k.into(), Arc::new(Schema::of_type(SchemaType::String)));
    }
    inv.operations[1].request_body = Some(RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    });
    let title = Arc::new(Mutex::new(String::from("mine")));
    let (t1, t2) = (title.clone(), title);
    let p = FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .own_body_value("alice", "pet_id", serde_json::json!(7))
        .own_body_value("bob", "pet_id", serde_json::json!(9))
        .on(
            |r: &RequestSpec| r.method == Method::Post,
            response(201, "application/json", r#"{"id":41,"title":"mine"}"#),
        )
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Patch).then(|| {
                let allowed = r.identity == "alice" || (vulnerable && r.identity != ANONYMOUS);
                let Some(middlebrick_model::RequestBody::Json(v)) = &r.body else {
                    return response(400, "application/json", "{}");
                };
                if !allowed || v.get("pet_id").is_some_and(|p| p != 7) {
                    return response(404, "application/json", r#"{"error":"not_found"}"#);
                }
                *t1.lock().unwrap() = v["title"].as_str().unwrap_or("").to_string();
                response(200, "application/json", "{}")
            })
        })
        .on_dynamic(move |r: &RequestSpec| {
            (r.method == Method::Get).then(|| {
                let body = serde_json::json!({"id": 41, "title": *t2.lock().unwrap()});
                response(200, "application/json", &body.to_string())
            })
        });
    (inv, p)
}

#[tokio::test]
async fn the_update_carries_the_owners_references_not_the_attackers() {
    // Regression: B's update used a body built for B, whose own pet in `pet_id` the API
    // rightly refused to attach to A's note, so a vulnerable update went unseen.
    let (inv, p) = notes_with_pets(true);
    let out = run_on(&p, &inv, 1).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let attack = &out.findings[0].evidence.exchanges[1];
    assert_eq!(attack.identity, "bob");
    let sent = attack.request.body.as_ref().map(|b| b.text.clone());
    assert!(
        sent.as_deref().is_some_and(|b| b.contains("Number(7)")),
        "A's own pet: {sent:?}"
    );
    let (inv, p) = notes_with_pets(false);
    assert!(run_on(&p, &inv, 1).await.findings.is_empty());
}

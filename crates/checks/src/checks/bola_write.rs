//! `authz.bola-write`: one identity changes, deletes or adds to another identity's objects.
//!
//! Active mode only, and only on objects the scanner created: identity A is the owner, B the
//! other identity, and every finding is an effect A sees in its own read afterwards.
//! - PUT/PATCH on an object named by the path's last parameter or an id-like query parameter:
//!   A creates it through the collection's POST, B sends A's own update with one plain text
//!   property set to a unique marker, A's read shows the marker. Four requests.
//! - DELETE (only with `--allow-delete`): A creates and reads the object, B sends A's delete,
//!   A's read answers 404/410. Four requests.
//! - POST whose request names its owner, in the path (`/users/{user_id}/cards`), the query or a
//!   body property (`"user_id": 7`): the engine fills those with each identity's own values, so
//!   A's and B's requests differ there. B sends A's request with a marker; A's list shows it and
//!   B's own list does not (a list every caller shares is no one's). Four requests
//!   ([`insert`]).
//!
//! - A write-only password change on an account's path (`PUT /users/{id}/password`, no current
//!   password asked): B sets the password of an account the scan registered, which then signs
//!   in with it ([`password`]). Six requests.
//!
//! B always sends exactly A's request (path, query and, for inserts, body): only who asks
//! differs, so a refusal is the API's authorization and nothing else.

mod insert;
mod password;

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{
    collection_of, created_id, id_params, nonce, plain_text_field, replayed_as,
};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Finding, Inventory, Method, Operation,
    Owasp, ParamLocation, Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct BolaWrite;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzBolaWrite,
    title: "Another user's object can be changed by passing its id",
    description: "In active mode, creates an object as identity A and has identity B update it, \
        delete it (with --allow-delete) or add to A's collection with A's own reference (path, \
        query or body). Fires when A's own read afterwards shows B's change.",
    cwe: &[639],
    owasp: &[Owasp::Api1],
    severity: Severity::Critical,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Scope every create, update and delete by owner in the statement itself \
            (`UPDATE … WHERE id = $1 AND user_id = $2`) and answer 404 when no row matched; \
            never load by id alone and then write, and take the owner of a new object from the \
            session, never from the path or the body.",
        variants: &[
            (Tech::Flask, "fetch the object with an owner-scoped helper before changing it, and \
                abort(404) when it is not the current user's; set `user_id` from `g.user`, not \
                from `request.json` or the URL."),
            (Tech::FastApi, "resolve the object through an owner-checking dependency shared by the \
                GET, PUT, PATCH and DELETE routes of the resource, and compare a `{user_id}` path \
                parameter with the current user before writing."),
            (Tech::Psycopg, "`cur.execute(\"UPDATE notes SET title = %s WHERE id = %s AND user_id = %s\", …)` and check `cur.rowcount`."),
            (Tech::Asyncpg, "`await conn.execute(\"UPDATE notes SET title = $1 WHERE id = $2 AND user_id = $3\", …)` and check the `UPDATE n` status."),
            (Tech::SqlAlchemy, "`update(Note).where(Note.id == id, Note.user_id == user.id)` and check `rowcount`."),
            (Tech::CockroachDb, "`UPSERT`/`INSERT … ON CONFLICT` must carry the same owner condition, or it overwrites another user's row."),
        ],
    },
};

#[async_trait]
impl Check for BolaWrite {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        // Sign-in, registration, reset and sign-out act on credentials, not on objects.
        if ctx.identities < 2 || crate::authflow::role(op).is_some() {
            return Vec::new();
        }
        let step = |method, purpose| Planned {
            method,
            identity: "*",
            purpose,
        };
        match op.method {
            _ if password::applies(op) => vec![
                step(
                    Method::Post,
                    "the scan registers an account and signs it in",
                ),
                step(Method::Get, "the account reads itself (its id)"),
                step(
                    op.method,
                    "identity B sets the account's password through its path",
                ),
            ],
            Method::Patch | Method::Put if object_ref(op).is_some() => vec![
                step(Method::Post, "identity A creates an object"),
                step(op.method, "identity B updates A's object"),
                step(Method::Get, "identity A reads it back"),
            ],
            Method::Delete if object_ref(op).is_some() => vec![
                step(Method::Post, "identity A creates an object"),
                step(Method::Get, "identity A reads it, before and after"),
                step(Method::Delete, "identity B deletes A's object"),
            ],
            Method::Post if insert::may_name_owner(op) => vec![
                step(
                    Method::Post,
                    "identity B adds to A's collection with A's reference",
                ),
                step(Method::Get, "A's list and B's list"),
            ],
            _ => Vec::new(),
        }
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        let Some(pair) = Pair::of(ctx).filter(|_| crate::authflow::role(op).is_none()) else {
            return Outcome::none();
        };
        if password::applies(op) {
            return match password::judge(ctx, op, &pair).await {
                Ok(Ok(found)) => found.map(Outcome::finding).unwrap_or_default(),
                Ok(Err(skipped)) => Outcome {
                    findings: Vec::new(),
                    diagnostics: vec![skipped],
                },
                Err(_) => Outcome::none(),
            };
        }
        let judged = match op.method {
            Method::Patch | Method::Put => judge_update(ctx, op, &pair).await,
            Method::Delete => judge_delete(ctx, op, &pair).await,
            Method::Post => insert::judge(ctx, op, &pair).await,
            _ => Ok(None),
        };
        judged
            .ok()
            .flatten()
            .map(Outcome::finding)
            .unwrap_or_default()
    }
}

/// The owner (A) and the other identity (B): the first two regular identities.
struct Pair {
    a: IdentityInfo,
    b: IdentityInfo,
}

impl Pair {
    fn of(ctx: &RunCtx<'_>) -> Option<Pair> {
        let mut ids = ctx.probe.identities().into_iter().filter(|i| !i.admin);
        Some(Pair {
            a: ids.next()?,
            b: ids.next()?,
        })
    }
}

/// Where an operation names the object it acts on: the path's last parameter when the path
/// ends with one (`/notes/{note_id}`), else an id-like query parameter (`/notes?note_id=`).
fn object_ref(op: &Operation) -> Option<(ParamLocation, String)> {
    if let Some(collection) = collection_of(&op.path) {
        // The parameter the path ends with, whatever order the spec lists parameters in.
        let last = op.path[collection.len()..].trim_matches(|c| c == '/' || c == '{' || c == '}');
        return op
            .params_in(ParamLocation::Path)
            .find(|p| p.name == last)
            .map(|p| (ParamLocation::Path, p.name.clone()));
    }
    id_params(op)
        .into_iter()
        .find(|(l, _)| *l == ParamLocation::Query)
}

/// The object an update or delete acts on, created by A for the purpose, and how to read it.
struct Created<'a> {
    read: &'a Operation,
    at: (ParamLocation, String),
    id: Value,
    exchange: Exchange,
}

impl Created<'_> {
    fn overrides(&self) -> Overrides {
        Overrides::param(self.at.0, &self.at.1, self.id.clone())
    }

    fn id_text(&self) -> String {
        match &self.id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

fn find<'a>(inv: &'a Inventory, method: Method, path: &str) -> Option<&'a Operation> {
    inv.operations
        .iter()
        .find(|o| o.method == method && o.path == path)
}

/// A creates an object through the POST of `op`'s collection (the path without its last
/// parameter, or the same path when the object is named in the query); `None` when there is
/// no such POST, no read of the object, or the answer gives no id.
async fn create_as_owner<'a>(
    ctx: &RunCtx<'a>,
    op: &Operation,
    owner: &str,
) -> Result<Option<Created<'a>>, ProbeError> {
    let Some(at) = object_ref(op) else {
        return Ok(None);
    };
    let collection = match at.0 {
        ParamLocation::Path => collection_of(&op.path),
        _ => Some(op.path.as_str()),
    };
    let (Some(create), Some(read)) = (
        collection.and_then(|c| find(ctx.inventory, Method::Post, c)),
        find(ctx.inventory, Method::Get, &op.path),
    ) else {
        return Ok(None);
    };
    let exchange = ctx
        .probe
        .send(ctx.probe.request(create, owner, &Overrides::none()))
        .await?;
    let Some(id) = exchange.success_json().and_then(|j| created_id(&j, &at.1)) else {
        return Ok(None);
    };
    Ok(Some(Created {
        read,
        at,
        id,
        exchange,
    }))
}

/// A plain text property the update may set: from its body schema, else from the resource's
/// read schema when the body is free-form.
fn writable_text(op: &Operation, read: &Operation) -> Option<String> {
    let body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next());
    body.and_then(|b| plain_text_field(b))
        .or_else(|| read.success_schema().and_then(|s| plain_text_field(s)))
}

/// The finding for a change `actor` made to A's object: without credentials it is missing
/// authentication (CWE-306, reported under that check's id), by another identity it is BOLA.
/// One class per operation: an anonymous caller who can do it makes the BOLA moot.
fn classified(
    op: &Operation,
    actor: &str,
    obj: &Created<'_>,
    what: &str,
    exchanges: Vec<Exchange>,
    note: &str,
) -> Option<Finding> {
    let evidence = Evidence::new(exchanges).note(note);
    if actor == ANONYMOUS {
        let meta = crate::by_id(CheckId::AuthMissingAuthentication)?.meta();
        let description = format!(
            "A caller without any credentials {what}; `{}` is meant for signed-in users, yet it \
             changes state for anyone.",
            op.key()
        );
        return Some(meta.finding(
            Some(op),
            "",
            Severity::Critical,
            Confidence::Confirmed,
            description,
            evidence,
        ));
    }
    let description = format!(
        "Identity `{actor}` {what}. Any user can change or delete other users' objects \
         (`{}`).",
        op.key()
    );
    Some(META.finding(
        Some(op),
        &obj.at.1,
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    ))
}

async fn judge_update(
    ctx: &RunCtx<'_>,
    op: &Operation,
    pair: &Pair,
) -> Result<Option<Finding>, ProbeError> {
    let (a, b) = (&pair.a.name, &pair.b.name);
    if object_ref(op).is_none() {
        return Ok(None);
    }
    let Some(read) = find(ctx.inventory, Method::Get, &op.path) else {
        return Ok(None);
    };
    let Some(field) = writable_text(op, read) else {
        return Ok(None);
    };
    let Some(obj) = create_as_owner(ctx, op, a).await? else {
        return Ok(None);
    };
    for actor in [ANONYMOUS, b.as_str()] {
        let marker = format!("mb-bola-{}", nonce());
        let mut change = obj.overrides();
        change
            .body
            .push((vec![field.clone()], Some(Value::String(marker.clone()))));
        // The actor sends A's own request for it: only who asks differs.
        let as_a = ctx.probe.request(op, a, &change);
        let attack = ctx
            .probe
            .send(replayed_as(ctx.probe, op, actor, &change, &as_a))
            .await?;
        let check = ctx
            .probe
            .send(ctx.probe.request(obj.read, a, &obj.overrides()))
            .await?;
        let changed = check
            .response
            .as_ref()
            .is_some_and(|r| r.is_success() && r.body.text.contains(&marker));
        if !changed {
            continue;
        }
        let what = format!(
            "changed `{field}` of an object that identity `{a}` created (`{}` = `{}`) through \
             `{}` (HTTP {}); `{a}`'s own read afterwards shows the new value",
            obj.at.1,
            obj.id_text(),
            op.key(),
            attack.status().unwrap_or(0),
        );
        let exchanges = vec![obj.exchange.clone(), attack, check];
        return Ok(classified(
            op,
            actor,
            &obj,
            &what,
            exchanges,
            "first: A creates; second: the other caller updates A's object; third: A reads it back",
        ));
    }
    Ok(None)
}

/// Statuses that say an object is gone.
fn gone(ex: &Exchange) -> bool {
    matches!(ex.status(), Some(404 | 410))
}

async fn judge_delete(
    ctx: &RunCtx<'_>,
    op: &Operation,
    pair: &Pair,
) -> Result<Option<Finding>, ProbeError> {
    // Nothing is created for a delete the scan may not send.
    if !ctx.probe.method_allowed(Method::Delete) {
        return Ok(None);
    }
    let (a, b) = (&pair.a.name, &pair.b.name);
    let Some(obj) = create_as_owner(ctx, op, a).await? else {
        return Ok(None);
    };
    let before = ctx
        .probe
        .send(ctx.probe.request(obj.read, a, &obj.overrides()))
        .await?;
    if !before.response.as_ref().is_some_and(|r| r.is_success()) {
        return Ok(None);
    }
    for actor in [ANONYMOUS, b.as_str()] {
        let as_a = ctx.probe.request(op, a, &obj.overrides());
        let attack = ctx
            .probe
            .send(replayed_as(ctx.probe, op, actor, &obj.overrides(), &as_a))
            .await?;
        let after = ctx
            .probe
            .send(ctx.probe.request(obj.read, a, &obj.overrides()))
            .await?;
        if !gone(&after) {
            // Still there (or the read failed otherwise): the next actor tries.
            if after.response.as_ref().is_some_and(|r| r.is_success()) {
                continue;
            }
            return Ok(None);
        }
        let what = format!(
            "deleted an object that identity `{a}` created (`{}` = `{}`) through `{}` (HTTP {}): \
             `{a}`'s own read answered HTTP {} before and HTTP {} after",
            obj.at.1,
            obj.id_text(),
            op.key(),
            attack.status().unwrap_or(0),
            before.status().unwrap_or(0),
            after.status().unwrap_or(0),
        );
        let exchanges = vec![obj.exchange.clone(), before, attack, after];
        return Ok(classified(
            op,
            actor,
            &obj,
            &what,
            exchanges,
            "first: A creates; second: A reads it; third: the other caller deletes A's object; \
             fourth: A's read finds it gone",
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        Parameter, RequestBodySpec, RequestSpec, Schema, SchemaType, SpecVersion,
    };
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
}

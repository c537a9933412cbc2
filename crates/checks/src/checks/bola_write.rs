//! `authz.bola-write`: one identity changes another identity's object.
//!
//! Active mode only, and only on objects the scanner created: identity A creates an object
//! through the collection's POST, identity B updates it through this PATCH/PUT (one string
//! property set to a unique marker), and A reads it back. The finding needs A's own read to
//! show B's marker: the change really happened to A's object. The object is the scanner's, so
//! nothing anyone else owns is touched. Budget: four requests per update operation.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{collection_of, created_id, nonce, plain_text_field, replayed_as};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Inventory, Method, Operation, Owasp, ParamLocation,
    Remediation, Severity, Tech,
};
use serde_json::Value;

#[derive(Debug)]
pub struct BolaWrite;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzBolaWrite,
    title: "Another user's object can be changed by passing its id",
    description: "In active mode, creates an object as identity A, updates it as identity B, and \
        reads it back as A. Fires when A's read shows B's change.",
    cwe: &[639],
    owasp: &[Owasp::Api1],
    severity: Severity::Critical,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Scope every update and delete by owner in the statement itself \
            (`UPDATE … WHERE id = $1 AND user_id = $2`) and answer 404 when no row matched; \
            never load by id alone and then write.",
        variants: &[
            (Tech::Flask, "fetch the object with an owner-scoped helper before changing it, and \
                abort(404) when it is not the current user's."),
            (Tech::FastApi, "resolve the object through an owner-checking dependency shared by the \
                GET, PATCH and DELETE routes of the resource."),
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
        let update = matches!(op.method, Method::Patch | Method::Put);
        if !update || ctx.identities < 2 || collection_of(&op.path).is_none() {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "identity A creates an object",
            },
            Planned {
                method: op.method,
                identity: "*",
                purpose: "identity B updates A's object",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "identity A reads it back",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
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

fn find<'a>(inv: &'a Inventory, method: Method, path: &str) -> Option<&'a Operation> {
    inv.operations
        .iter()
        .find(|o| o.method == method && o.path == path)
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let ids: Vec<IdentityInfo> = ctx
        .probe
        .identities()
        .into_iter()
        .filter(|i| !i.admin)
        .take(2)
        .collect();
    let (Some(a), Some(b)) = (ids.first(), ids.get(1)) else {
        return Ok(Outcome::none());
    };
    let Some(collection) = collection_of(&op.path) else {
        return Ok(Outcome::none());
    };
    let (Some(create), Some(read)) = (
        find(ctx.inventory, Method::Post, collection),
        find(ctx.inventory, Method::Get, &op.path),
    ) else {
        return Ok(Outcome::none());
    };
    let Some(param) = op
        .params_in(ParamLocation::Path)
        .last()
        .map(|p| p.name.clone())
    else {
        return Ok(Outcome::none());
    };
    let Some(field) = writable_text(op, read) else {
        return Ok(Outcome::none());
    };
    let created = ctx
        .probe
        .send(ctx.probe.request(create, &a.name, &Overrides::none()))
        .await?;
    let Some(id) = created.success_json().and_then(|j| created_id(&j, &param)) else {
        return Ok(Outcome::none());
    };
    let marker = format!("mb-bola-{}", nonce());
    let mut change = Overrides::param(ParamLocation::Path, &param, id.clone());
    change
        .body
        .push((vec![field.clone()], Some(Value::String(marker.clone()))));
    // B sends A's own request for it, with B's credentials: only who asks differs.
    let as_a = ctx.probe.request(op, &a.name, &change);
    let attack = ctx
        .probe
        .send(replayed_as(ctx.probe, op, &b.name, &change, &as_a))
        .await?;
    let check = ctx
        .probe
        .send(ctx.probe.request(
            read,
            &a.name,
            &Overrides::param(ParamLocation::Path, &param, id.clone()),
        ))
        .await?;
    let changed = check
        .response
        .as_ref()
        .is_some_and(|r| r.is_success() && r.body.text.contains(&marker));
    if !changed {
        return Ok(Outcome::none());
    }
    let id_text = match &id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let description = format!(
        "Identity `{b}` changed `{field}` of an object that identity `{a}` created (`{param}` = \
         `{id_text}`) through `{}` (HTTP {}); `{a}`'s own read afterwards shows `{b}`'s value. \
         Any user can overwrite other users' objects.",
        op.key(),
        attack.status().unwrap_or(0),
        a = a.name,
        b = b.name,
    );
    let evidence = Evidence::new(vec![created, attack, check])
        .note("first: A creates; second: B updates A's object; third: A reads it back");
    Ok(Outcome::finding(META.finding(
        Some(op),
        &param,
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    )))
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
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![create, patch, read];
        inv
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
                    if r.method == Method::Patch && (vulnerable || r.identity == "alice") {
                        if let Some(middlebrick_model::RequestBody::Json(v)) = &r.body {
                            *t1.lock().unwrap() = v["title"].as_str().unwrap_or("").to_string();
                        }
                    }
                    r.method == Method::Patch
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

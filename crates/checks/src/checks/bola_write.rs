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
//! B always sends exactly A's request (path, query and body): only who asks differs, so a
//! refusal is the API's authorization and nothing else.

mod insert;
mod password;

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{
    collection_of, created_id, id_params, nonce, plain_text_field, replayed_as, replayed_whole_as,
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
    description: "In active mode, creates an object as identity A and has identity B send A's \
        own request (path, query and body) to update it, delete it (with --allow-delete) or add \
        to A's collection with A's own reference. Fires when A's own read afterwards shows B's \
        change.",
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
        // The actor sends A's own request for it, body included: only who asks differs. A
        // body built for the actor would carry the actor's own references (its own pet's id in
        // an optional `petId`), which an API rightly refuses to attach to A's object.
        let as_a = ctx.probe.request(op, a, &change);
        let attack = ctx
            .probe
            .send(replayed_whole_as(ctx.probe, op, actor, &as_a))
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
mod tests;

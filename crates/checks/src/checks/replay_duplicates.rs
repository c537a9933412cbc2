//! `design.replay-duplicates`: a create operation that documents an idempotency key but
//! performs a retried request twice.
//!
//! Active mode only, and only on objects the scanner creates. The spec has to give a reason to
//! expect one effect: the operation documents an `Idempotency-Key` header (or a close variant).
//! Without one, two POSTs making two objects is what POST means, and nothing is judged. The
//! scanner's own identity sends the same request (same body, same fresh key) twice; the finding
//! needs two successful answers naming two different ids, and, when the collection can be
//! listed, both ids in the caller's own list afterwards: the objects are counted, not guessed.
//! An action on an object (`POST /orders/{id}/pay`) whose first request meets the object in its
//! final state (409, or a 400/422 saying "already paid") moves to the next candidate object or
//! a fresh one from the spec's producer (`stateful.rs`, at most three objects).
//! Budget: three requests per operation, plus two per further candidate (one to make it).

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{created_id, nonce};
use crate::probe::{Overrides, ProbeError};
use crate::stateful::{is_state_conflict, Candidates};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, ParamLocation,
    Remediation, RequestSpec, Severity, Tech,
};
use serde_json::Value;

#[derive(Debug)]
pub struct ReplayDuplicates;

static META: CheckMeta = CheckMeta {
    id: CheckId::DesignReplayDuplicates,
    title: "A retried request is performed twice despite its idempotency key",
    description: "In active mode, sends the same create request twice with the same documented \
        idempotency key as the scanner's own identity. Fires when both succeed with two different \
        object ids and the caller's list shows both objects.",
    cwe: &[837, 294],
    owasp: &[Owasp::Api6],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Store the idempotency key with the result of the first request, under a unique \
            constraint on (account, key), in the same transaction as the effect; a repeat with the \
            same key returns the stored result instead of acting again.",
        variants: &[
            (
                Tech::Flask,
                "read `request.headers[\"Idempotency-Key\"]`, insert it with the new row \
                in one transaction, and on a unique violation return the row stored for that key.",
            ),
            (
                Tech::FastApi,
                "take the key as `Header(alias=\"Idempotency-Key\")` and resolve the \
                duplicate in the handler's transaction, returning the first result.",
            ),
            (
                Tech::Psycopg,
                "`INSERT … (user_id, idempotency_key, …) VALUES (…) ON CONFLICT \
                (user_id, idempotency_key) DO NOTHING RETURNING id`; when no row comes back, \
                `SELECT` the stored one.",
            ),
            (
                Tech::Asyncpg,
                "the same `ON CONFLICT … DO NOTHING RETURNING id` with `$n` \
                parameters, then `fetchrow` the stored row when it returned nothing.",
            ),
            (
                Tech::SqlAlchemy,
                "`UniqueConstraint(\"user_id\", \"idempotency_key\")` on the model; \
                catch `IntegrityError`, roll back and load the existing row.",
            ),
            (
                Tech::CockroachDb,
                "keep the unique index and retry the transaction on SQLSTATE \
                `40001` instead of surfacing it; a retried transaction sees the first one's row.",
            ),
        ],
    },
};

/// Header names that promise idempotent retries.
const KEY_HEADERS: &[&str] = &["idempotency-key", "x-idempotency-key", "idempotency_key"];

fn key_header(op: &Operation) -> Option<String> {
    op.params_in(ParamLocation::Header)
        .find(|p| KEY_HEADERS.contains(&p.name.to_ascii_lowercase().as_str()))
        .map(|p| p.name.clone())
}

#[async_trait]
impl Check for ReplayDuplicates {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if op.method != Method::Post || ctx.identities == 0 || key_header(op).is_none() {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "the same request twice with one idempotency key",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "list the caller's objects to count them",
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

fn id_of(ex: &Exchange) -> Option<Value> {
    ex.success_json().and_then(|j| created_id(&j, "id"))
}

/// True when `body` holds an object whose `id` is `id`.
fn lists(body: &Value, id: &Value) -> bool {
    match body {
        Value::Array(items) => items.iter().any(|i| lists(i, id)),
        Value::Object(map) => map.get("id") == Some(id) || map.values().any(|v| lists(v, id)),
        _ => false,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first request with a fresh key. An action on an object (`POST /orders/{id}/pay`) that
/// meets the object in the wrong state (already paid) is tried on the next candidate object
/// (`stateful::Candidates`); returns the key, the first exchange and the request to repeat.
async fn first_use(
    ctx: &RunCtx<'_>,
    op: &Operation,
    header: &str,
    me: &str,
) -> Result<Option<(String, Exchange, RequestSpec)>, ProbeError> {
    let object = op
        .params_in(ParamLocation::Path)
        .last()
        .map(|p| p.name.clone());
    let mut candidates = Candidates::new();
    let mut last = None;
    loop {
        let key = format!("mb-replay-{}", nonce());
        let mut ov = Overrides::param(ParamLocation::Header, header, Value::String(key.clone()));
        if let Some(param) = &object {
            match candidates.next(ctx, op, param, me).await? {
                Some(v) => ov
                    .params
                    .push((ParamLocation::Path, param.clone(), Some(v))),
                // Nothing else to try: the last attempt stands.
                None if last.is_some() => return Ok(last),
                None => {}
            }
        }
        let req = ctx.probe.request(op, me, &ov);
        let first = ctx.probe.send(req.clone()).await?;
        let conflict = is_state_conflict(&first);
        last = Some((key, first, req));
        if object.is_none() || !conflict || candidates.exhausted() {
            return Ok(last);
        }
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some(header) = key_header(op) else {
        return Ok(Outcome::none());
    };
    let Some(me) = ctx.probe.identities().into_iter().find(|i| !i.admin) else {
        return Ok(Outcome::none());
    };
    let Some((key, first, req)) = first_use(ctx, op, &header, &me.name).await? else {
        return Ok(Outcome::none());
    };
    let second = ctx.probe.send(req).await?;
    let (Some(a), Some(b)) = (id_of(&first), id_of(&second)) else {
        return Ok(Outcome::none());
    };
    if a == b {
        return Ok(Outcome::none());
    }
    let mut exchanges = vec![first, second];
    let list = ctx
        .inventory
        .operations
        .iter()
        .find(|o| o.method == Method::Get && o.path == op.path);
    let mut confidence = Confidence::Firm;
    if let Some(list) = list {
        let read = ctx
            .probe
            .send(ctx.probe.request(list, &me.name, &Overrides::none()))
            .await?;
        let body = read.success_json();
        let counted = body.is_some_and(|j| lists(&j, &a) && lists(&j, &b));
        exchanges.push(read);
        if !counted {
            return Ok(Outcome::none());
        }
        confidence = Confidence::Confirmed;
    }
    let description = format!(
        "Two identical requests to `{}` carrying the same `{header}: {key}` both succeeded and \
         created two objects (ids `{}` and `{}`): a retried request is performed twice. The \
         operation documents an idempotency key but ignores it.",
        op.key(),
        text(&a),
        text(&b),
    );
    let evidence = Evidence::new(exchanges)
        .note("first and second: the same request and key; third: the caller's list shows both");
    Ok(Outcome::finding(META.finding(
        Some(op),
        &header,
        Severity::High,
        confidence,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Parameter, Schema, SchemaType, SpecVersion};
    use std::sync::{Arc, Mutex};

    fn inventory() -> Inventory {
        let mut create = Operation::new(Method::Post, "/transfers");
        create.parameters.push(Parameter {
            name: "Idempotency-Key".into(),
            location: ParamLocation::Header,
            required: false,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        let list = Operation::new(Method::Get, "/transfers");
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![create, list];
        inv
    }

    fn key(r: &RequestSpec) -> String {
        r.headers
            .iter()
            .find(|(k, _)| k == "Idempotency-Key")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// A transfers API that honours the key (`vulnerable == false`) or ignores it.
    fn api(vulnerable: bool) -> FakeProbe {
        let rows: Arc<Mutex<Vec<(u32, String)>>> = Arc::default();
        FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r: &RequestSpec| {
                let mut rows = rows.lock().unwrap();
                if r.method == Method::Get {
                    let items: Vec<String> = rows
                        .iter()
                        .map(|(id, _)| format!(r#"{{"id":{id}}}"#))
                        .collect();
                    return Some(response(
                        200,
                        "application/json",
                        &format!("[{}]", items.join(",")),
                    ));
                }
                let k = key(r);
                let existing = rows.iter().find(|(_, rk)| *rk == k && !vulnerable).cloned();
                let id = match existing {
                    Some((id, _)) => id,
                    None => {
                        let id = rows.len() as u32 + 1;
                        rows.push((id, k));
                        id
                    }
                };
                Some(response(
                    201,
                    "application/json",
                    &format!(r#"{{"id":{id}}}"#),
                ))
            })
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        ReplayDuplicates
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: Some(&inv.operations[0]),
            })
            .await
    }

    #[tokio::test]
    async fn an_ignored_key_that_creates_two_objects_is_confirmed() {
        let out = run(&api(true)).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert!(out.findings[0].description.contains("two objects"));
    }

    #[tokio::test]
    async fn an_honoured_key_is_silent() {
        let p = api(false);
        assert!(run(&p).await.findings.is_empty());
        assert_eq!(p.sent_count(), 2);
    }

    #[test]
    fn only_operations_documenting_a_key_are_planned() {
        let ctx = PlanCtx {
            mode: middlebrick_model::Mode::Active,
            identities: 1,
        };
        assert!(!ReplayDuplicates
            .plan(&inventory().operations[0], ctx)
            .is_empty());
        assert!(ReplayDuplicates
            .plan(&Operation::new(Method::Post, "/transfers"), ctx)
            .is_empty());
    }

    #[tokio::test]
    async fn an_object_already_in_its_final_state_gives_way_to_the_next_candidate() {
        let mut pay = inventory().operations.remove(0);
        pay.path = "/orders/{order_id}/pay".into();
        pay.parameters.push(Parameter {
            name: "order_id".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![pay];
        let made: Arc<Mutex<u32>> = Arc::default();
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r: &RequestSpec| r.path == "/orders/1/pay",
                response(
                    422,
                    "application/json",
                    r#"{"detail":"order already paid"}"#,
                ),
            )
            .on_dynamic(move |_| {
                let mut n = made.lock().unwrap();
                *n += 1;
                Some(response(
                    201,
                    "application/json",
                    &format!(r#"{{"id":{n}}}"#),
                ))
            });
        for v in [1, 2] {
            p.known.push((
                "order_id".into(),
                serde_json::json!(v),
                vec!["alice".into()],
            ));
        }
        let out = ReplayDuplicates
            .run(&RunCtx {
                probe: &p,
                inventory: &inv,
                op: Some(&inv.operations[0]),
            })
            .await;
        assert_eq!(out.findings.len(), 1);
        let paths: Vec<String> = p
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(
            paths,
            vec!["/orders/1/pay", "/orders/2/pay", "/orders/2/pay"]
        );
    }
}

//! `llm.sensitive-disclosure`: a chat operation tells one identity about another identity's
//! object, which the API itself refuses to show it.
//!
//! Ownership comes from the warm-up, as for `authz.bola`: an id of a read operation that only
//! identity A saw. A reads the object (its answer and A's own identifying values are the canary
//! facts: values that B's own read of the same operation does not carry), and B reads it
//! directly, which must not return A's data (else it is plain BOLA, reported by its own check).
//! Then B asks the chat operation about the object by its noun and id ("What are the details of
//! order 12?"), and, as the control, about an id nobody has. A finding needs a canary fact in
//! B's answer that is in neither B's prompt nor the control's answer.
//!
//! Budget: per chat operation at most [`MAX_OBJECTS`] objects (one per direction of the first
//! two identities), each two direct reads and two completions.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::llm::{self, excerpt, mentions, noun, Chat, Session};
use crate::ownership::{id_params, replayed_as};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use crate::similarity::{has_substance, same_data};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Finding, Method, Operation, Owasp, ParamLocation,
    Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct SensitiveDisclosure;

/// Objects tried per chat operation.
const MAX_OBJECTS: usize = 2;
/// Completions per chat operation.
pub const CAP: usize = 2 * MAX_OBJECTS;
/// The shortest value of A's object that counts as a canary fact.
const MIN_FACT: usize = 6;

static META: CheckMeta = CheckMeta {
    id: CheckId::LlmSensitiveDisclosure,
    title: "LLM endpoint reveals another user's data",
    description: "In active mode, takes an object only identity A saw in the warm-up, checks that \
        identity B cannot read it through the API, then has B ask each chat or completion \
        operation about it by noun and id, and about an id nobody has as the control. Fires \
        when B's answer carries a fact from A's own read of the object (or A's e-mail or \
        username) that neither B's prompt nor the control answer holds.",
    cwe: &[200, 639],
    owasp: &[Owasp::Llm02, Owasp::Api1],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Give the model's tools and retrieval the caller's rights, not the \
            application's: every lookup a tool makes is scoped to the signed-in user in the \
            query itself (`WHERE id = $1 AND user_id = $2`), and data the caller may not read \
            never enters the prompt or the context.",
        variants: &[
            (Tech::Flask, "pass `g.user` into every tool function and filter by it in the SQL; \
                never let a tool call `Order.query.get(id)` on an id taken from the completion."),
            (Tech::FastApi, "hand tools the `current_user` from the route's dependency and \
                scope their queries by it; build retrieval context only from the caller's own \
                records."),
            (Tech::Psycopg, "`cur.execute(\"SELECT … FROM orders WHERE id = %s AND user_id = %s\", (order_id, user_id))` inside the tool."),
            (Tech::Asyncpg, "`await conn.fetchrow(\"SELECT … FROM orders WHERE id = $1 AND user_id = $2\", order_id, user_id)` inside the tool."),
        ],
    },
};

#[async_trait]
impl Check for SensitiveDisclosure {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        llm::each_chat(ctx, |chat| judge(ctx, chat)).await
    }
}

/// An object of A's only: (read operation, parameter, value), one per read operation.
fn objects_of<'i>(
    ctx: &RunCtx<'i>,
    a: &IdentityInfo,
    b: &IdentityInfo,
) -> Vec<(&'i Operation, String, Value)> {
    let mut out = Vec::new();
    for op in ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && o.params_in(ParamLocation::Path).count() == 1)
    {
        let Some((ParamLocation::Path, param)) = id_params(op).into_iter().next() else {
            continue;
        };
        let only_a = ctx
            .probe
            .known_values(op, &param)
            .into_iter()
            .find(|(_, who)| {
                who.contains(&a.name)
                    && !who.contains(&b.name)
                    && !who.iter().any(|w| w == ANONYMOUS)
            });
        if let Some((v, _)) = only_a {
            out.push((op, param, v));
        }
    }
    out
}

/// String values of an answer, at any depth.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Facts only A's read shows: its string values (and A's identifying values) that B's own read
/// of the same operation does not carry and that are not B's own.
fn canaries(a: &IdentityInfo, b: &IdentityInfo, owner: &Value, b_own: &str) -> Vec<String> {
    // A's own identifying values first: they are the plainest proof whose data it is.
    let mut values = a.markers.clone();
    strings(owner, &mut values);
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let fact = v.chars().count() >= MIN_FACT && v.chars().any(char::is_alphabetic);
        if fact
            && !out.contains(&v)
            && !mentions(b_own, &v)
            && !b.markers.iter().any(|m| mentions(m, &v))
        {
            out.push(v);
        }
    }
    out
}

async fn judge(ctx: &RunCtx<'_>, chat: Chat<'_>) -> Result<Option<Finding>, ProbeError> {
    let ids: Vec<IdentityInfo> = ctx
        .probe
        .identities()
        .into_iter()
        .filter(|i| !i.admin)
        .take(2)
        .collect();
    if ids.len() < 2 {
        return Ok(None);
    }
    let mut s = Session::new(ctx, &chat, CAP);
    let mut tried = 0;
    for (a, b) in [(&ids[0], &ids[1]), (&ids[1], &ids[0])] {
        for (op, param, value) in objects_of(ctx, a, b) {
            if tried == MAX_OBJECTS {
                return Ok(None);
            }
            let Some(noun) = noun(op, &param) else {
                continue;
            };
            tried += 1;
            if let Some(f) =
                try_object(ctx, &chat, &mut s, (a, b), op, &param, &value, &noun).await?
            {
                return Ok(Some(f));
            }
            break;
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
async fn try_object(
    ctx: &RunCtx<'_>,
    chat: &Chat<'_>,
    s: &mut Session<'_, '_>,
    (a, b): (&IdentityInfo, &IdentityInfo),
    op: &Operation,
    param: &str,
    value: &Value,
    noun: &str,
) -> Result<Option<Finding>, ProbeError> {
    let set = Overrides::param(ParamLocation::Path, param, value.clone());
    let owner_req = ctx.probe.request(op, &a.name, &set);
    let direct_req = replayed_as(ctx.probe, op, &b.name, &set, &owner_req);
    let owner = ctx.probe.send(owner_req).await?;
    let Some(owner_resp) = owner
        .response
        .as_ref()
        .filter(|r| r.is_success() && has_substance(r))
    else {
        return Ok(None);
    };
    let direct = ctx.probe.send(direct_req).await?;
    if direct
        .response
        .as_ref()
        .is_some_and(|r| r.is_success() && same_data(r, owner_resp))
    {
        return Ok(None);
    }
    let b_own = ctx
        .probe
        .baseline(op, &b.name)
        .await?
        .response
        .map(|r| r.body.text)
        .unwrap_or_default();
    // What anonymous callers were shown (a catalogue's product names) is nobody's private fact.
    let public: Vec<String> = ctx
        .probe
        .observed()
        .into_iter()
        .filter(|e| e.identity == ANONYMOUS)
        .filter_map(|e| e.response.map(|r| r.body.text))
        .collect();
    let facts: Vec<String> = canaries(a, b, &owner_resp.json().unwrap_or(Value::Null), &b_own)
        .into_iter()
        .filter(|f| !public.iter().any(|p| mentions(p, f)))
        .collect();
    if facts.is_empty() {
        return Ok(None);
    }
    let shown = middlebrick_model::scalar_text(value).unwrap_or_default();
    let nobody = if value.is_number() {
        "987654321".to_string()
    } else {
        llm::token()
    };
    let ask = |id: &str| format!("What are the details of {noun} {id}?");
    let Some(control) = s
        .ask(&b.name, &ask(&nobody), None)
        .await?
        .filter(|r| r.is_chat())
    else {
        return Ok(None);
    };
    let Some(probe) = s.ask(&b.name, &ask(&shown), None).await? else {
        return Ok(None);
    };
    let leaked: Vec<&String> = facts
        .iter()
        .filter(|f| {
            mentions(probe.text(), f) && !mentions(&probe.prompt, f) && !mentions(control.text(), f)
        })
        .collect();
    let Some(first) = leaked.first() else {
        return Ok(None);
    };
    let description = format!(
        "`{}`, asked by `{}` about {noun} {shown} (an object of `{}`'s that `{}` cannot read \
         through `{}`), answered with `{}`'s data: \"{}\"{}. Asked the same about an id nobody \
         has, it said nothing of the kind. The model's tools or context read data with more rights \
         than the caller has.",
        chat.op.key(),
        b.name,
        a.name,
        b.name,
        op.key(),
        a.name,
        excerpt(first, 60),
        if leaked.len() > 1 {
            format!(" and {} more of its values", leaked.len() - 1)
        } else {
            String::new()
        }
    );
    let evidence = Evidence::new(vec![owner, direct, control.exchange, probe.exchange]).note(
        "the owner's read; the other identity's direct read (refused); its question about an \
         id nobody has (control); its question about the owner's object",
    );
    Ok(Some(META.finding(
        Some(chat.op),
        "",
        META.severity,
        Confidence::Confirmed,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::llm::tests::{chat_op, inventory, openai, user_text};
    use middlebrick_model::{Mode, Parameter, RequestSpec, ResponseRecord, Schema};
    use std::sync::Arc;

    fn read_op() -> Operation {
        let mut op = Operation::new(Method::Get, "/api/orders/{order_id}");
        op.parameters.push(Parameter {
            name: "order_id".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(middlebrick_model::SchemaType::Integer)),
            example: None,
        });
        op
    }

    fn json(status: u16, body: &str) -> ResponseRecord {
        crate::similarity::response(status, "application/json", body)
    }

    async fn run(answer: fn(&RequestSpec) -> String) -> (Outcome, usize) {
        let inv = inventory(vec![read_op(), chat_op(None)]);
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob", "bob@example.com"])
            .on(
                |r: &RequestSpec| r.path == "/api/orders/7" && r.identity == "alice",
                json(
                    200,
                    r#"{"id":7,"status":"placed","note":"ring the blue door"}"#,
                ),
            )
            .on(
                |r: &RequestSpec| r.path == "/api/orders/7",
                json(404, r#"{"detail":"No such order"}"#),
            )
            .on(
                |r: &RequestSpec| r.path.starts_with("/api/orders/"),
                json(200, r#"{"id":9,"status":"placed","note":"leave at gate"}"#),
            )
            .on_dynamic(move |req| Some(openai(&answer(req), 9)));
        probe.mode = Mode::Active;
        probe.known.push((
            "order_id".into(),
            serde_json::json!(7),
            vec!["alice".into()],
        ));
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: None,
        };
        let out = SensitiveDisclosure.run(&ctx).await;
        (out, probe.sent_count())
    }

    #[tokio::test]
    async fn fires_when_the_chat_tells_bob_about_alices_order() {
        let (out, _) = run(|req| {
            if user_text(req).contains(" 7?") {
                "Order 7 for alice (alice@example.com): ring the blue door.".into()
            } else {
                "I couldn't find that order.".into()
            }
        })
        .await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
    }

    #[tokio::test]
    async fn an_answer_scoped_to_the_caller_is_silent() {
        let (out, _) = run(|_| "I couldn't find that order among your orders.".into()).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn a_fact_the_control_answer_also_carries_is_no_disclosure() {
        // The bot names the same courier note whatever is asked: not A's private fact.
        let (out, _) = run(|_| "All orders: ring the blue door.".into()).await;
        assert!(out.findings.is_empty());
    }

    #[test]
    fn nouns_come_from_the_parameter_or_the_collection() {
        assert_eq!(noun(&read_op(), "order_id").as_deref(), Some("order"));
        let bare = Operation::new(Method::Get, "/invoices/{id}");
        assert_eq!(noun(&bare, "id").as_deref(), Some("invoice"));
    }
}

//! `llm.sensitive-disclosure`: a chat operation tells one identity about another identity's
//! object, which the API itself refuses to show it.
//!
//! Ownership comes from the warm-up, as for `authz.bola`: an id of a read operation that only
//! identity A saw. A reads the object (its answer and A's own identifying values are the canary
//! facts: values that B's own read of the same operation does not carry), and B reads it
//! directly, which must not return A's data (else it is plain BOLA, reported by its own check).
//! A's identifying values are those learnt at sign-in and those its current-user read shows now
//! (and B's does not): other checks may have changed A's e-mail since.
//! Then A asks the chat operation about its own object by noun and id ("What are the details of
//! order 12?"): the positive control, showing the chat can look that kind of object up at all
//! (an assistant that knows orders says nothing about notes). Only then B asks the same, and, as
//! the negative control, about an id nobody has. A finding needs a canary fact in B's answer
//! that is in neither B's prompt nor the control's answer.
//!
//! Budget: per chat operation at most [`MAX_OBJECTS`] objects asked about by B (one per
//! direction of the first two identities), each two completions, and at most [`OWNER_ASKS`]
//! owner's questions; to find them, at most [`MAX_EXAMINED`] objects per direction are examined
//! with two direct reads each, plus the current-user read as A and as B per direction. An object
//! B can read anyway (plain BOLA) or of a kind the chat showed its owner nothing about is passed
//! over for the next.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::llm::{self, excerpt, mentions, noun, Chat, Session};
use crate::ownership::{id_params, replayed_as, self_read};
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

/// Objects the chat is asked about per chat operation.
const MAX_OBJECTS: usize = 2;
/// Objects examined per direction (two direct reads each) to find one to ask about.
const MAX_EXAMINED: usize = 4;
/// Owner's questions (the positive control) per chat operation.
const OWNER_ASKS: usize = 4;
/// Completions per chat operation.
pub const CAP: usize = 2 * MAX_OBJECTS + OWNER_ASKS;
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

/// Facts only A's read shows: its string values (and A's identifying values, as learnt at
/// sign-in and as A's account reads now) that B's own read of the same operation does not
/// carry and that are not B's own.
fn canaries(
    a: &IdentityInfo,
    b: &IdentityInfo,
    a_now: &[String],
    owner: &Value,
    b_own: &str,
) -> Vec<String> {
    // A's own identifying values first: they are the plainest proof whose data it is.
    let mut values = a.markers.clone();
    values.extend(a_now.iter().cloned());
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

/// A's account as it reads now (the API's current-user read, as A and as B): the string
/// values of A's record that B's does not carry. Other checks may have changed A's e-mail or
/// name since sign-in, and the chat tells what the database holds now. Empty without such a
/// read.
async fn current_identity(
    ctx: &RunCtx<'_>,
    a: &IdentityInfo,
    b: &IdentityInfo,
) -> Result<Vec<String>, ProbeError> {
    let Some(op) = self_read(ctx.inventory) else {
        return Ok(Vec::new());
    };
    let read = |who: &str| ctx.probe.request(op, who, &Overrides::none());
    let mine = ctx.probe.send(read(&a.name)).await?;
    let theirs = ctx.probe.send(read(&b.name)).await?;
    let (Some(mine), Some(theirs)) = (mine.success_json(), theirs.response) else {
        return Ok(Vec::new());
    };
    let mut values = Vec::new();
    strings(&mine, &mut values);
    values.retain(|v| !mentions(&theirs.body.text, v));
    Ok(values)
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
    // Kinds of object the chat told their own owner nothing about: not asked about again.
    let mut unknown: Vec<String> = Vec::new();
    for (a, b) in [(&ids[0], &ids[1]), (&ids[1], &ids[0])] {
        let mut examined = 0;
        let objects = objects_of(ctx, a, b);
        let a_now = if objects.is_empty() {
            Vec::new()
        } else {
            current_identity(ctx, a, b).await?
        };
        for (op, param, value) in objects {
            if tried == MAX_OBJECTS {
                return Ok(None);
            }
            if examined == MAX_EXAMINED {
                break;
            }
            let Some(noun) = noun(op, &param).filter(|n| !unknown.contains(n)) else {
                continue;
            };
            examined += 1;
            let who = (a, b, a_now.as_slice());
            match try_object(ctx, &chat, &mut s, who, op, &param, &value, &noun).await? {
                Tried::Leaked(f) => return Ok(Some(*f)),
                // B was asked and the chat kept A's data to itself: this direction is done.
                Tried::Kept => {
                    tried += 1;
                    break;
                }
                Tried::Unknown => unknown.push(noun),
                // Plain BOLA, no fact only A's read shows, or the owner's question not asked (the
                // cap): the next object may serve.
                Tried::Passed => {}
            }
        }
    }
    Ok(None)
}

/// What asking about one object came to.
enum Tried {
    Leaked(Box<Finding>),
    /// B asked; nothing of A's in the answer.
    Kept,
    /// The owner asked about its own object and the chat showed none of its facts.
    Unknown,
    /// B was not asked.
    Passed,
}

#[allow(clippy::too_many_arguments)]
async fn try_object(
    ctx: &RunCtx<'_>,
    chat: &Chat<'_>,
    s: &mut Session<'_, '_>,
    (a, b, a_now): (&IdentityInfo, &IdentityInfo, &[String]),
    op: &Operation,
    param: &str,
    value: &Value,
    noun: &str,
) -> Result<Tried, ProbeError> {
    let set = Overrides::param(ParamLocation::Path, param, value.clone());
    let owner_req = ctx.probe.request(op, &a.name, &set);
    let direct_req = replayed_as(ctx.probe, op, &b.name, &set, &owner_req);
    let owner = ctx.probe.send(owner_req).await?;
    let Some(owner_resp) = owner
        .response
        .as_ref()
        .filter(|r| r.is_success() && has_substance(r))
    else {
        return Ok(Tried::Passed);
    };
    let direct = ctx.probe.send(direct_req).await?;
    if direct
        .response
        .as_ref()
        .is_some_and(|r| r.is_success() && same_data(r, owner_resp))
    {
        return Ok(Tried::Passed);
    }
    let b_own = ctx
        .probe
        .baseline(op, &b.name)
        .await?
        .response
        .map(|r| r.body.text)
        .unwrap_or_default();
    // What anonymous callers were shown (a catalogue's product names) is nobody's private fact;
    // A's own identifying values stay facts even when an endpoint without authentication
    // showed them (that is its own finding, and says nothing of what the chat may tell B).
    let public: Vec<String> = ctx
        .probe
        .observed()
        .into_iter()
        .filter(|e| e.identity == ANONYMOUS)
        .filter_map(|e| e.response.map(|r| r.body.text))
        .collect();
    let owner_json = owner_resp.json().unwrap_or(Value::Null);
    let facts: Vec<String> = canaries(a, b, a_now, &owner_json, &b_own)
        .into_iter()
        .filter(|f| {
            a.markers.contains(f) || a_now.contains(f) || !public.iter().any(|p| mentions(p, f))
        })
        .collect();
    if facts.is_empty() {
        return Ok(Tried::Passed);
    }
    let shown = middlebrick_model::scalar_text(value).unwrap_or_default();
    let nobody = if value.is_number() {
        "987654321".to_string()
    } else {
        llm::token()
    };
    let ask = |id: &str| format!("What are the details of {noun} {id}?");
    let Some(own) = s
        .ask(&a.name, &ask(&shown), None)
        .await?
        .filter(|r| r.is_chat())
    else {
        return Ok(Tried::Passed);
    };
    if !facts
        .iter()
        .any(|f| mentions(own.text(), f) && !mentions(&own.prompt, f))
    {
        return Ok(Tried::Unknown);
    }
    let Some(control) = s
        .ask(&b.name, &ask(&nobody), None)
        .await?
        .filter(|r| r.is_chat())
    else {
        return Ok(Tried::Kept);
    };
    let Some(probe) = s.ask(&b.name, &ask(&shown), None).await? else {
        return Ok(Tried::Kept);
    };
    let leaked: Vec<&String> = facts
        .iter()
        .filter(|f| {
            mentions(probe.text(), f) && !mentions(&probe.prompt, f) && !mentions(control.text(), f)
        })
        .collect();
    let Some(first) = leaked.first() else {
        return Ok(Tried::Kept);
    };
    let description = format!(
        "`{}`, asked by `{}` about {noun} {shown} (an object of `{}`'s that `{}` cannot read \
         through `{}`), answered with `{}`'s data: \"{}\"{}. Asked the same about an id nobody \
         has, it said nothing of the kind; `{}` itself, asking about its own object, was told its \
         facts too (the chat can look such objects up). \
         The model's tools or context read data with more rights than the caller has.",
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
        },
        a.name,
    );
    let evidence = Evidence::new(vec![
        owner,
        direct,
        own.exchange,
        control.exchange,
        probe.exchange,
    ])
    .note(
        "the owner's read; the other identity's direct read (refused); the owner's question \
         about its object; the other identity's question about an id nobody has (control); its \
         question about the owner's object",
    );
    Ok(Tried::Leaked(Box::new(META.finding(
        Some(chat.op),
        "",
        META.severity,
        Confidence::Confirmed,
        description,
        evidence,
    ))))
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

    /// The chat's answer to `req`: `leak` when asked about order 7, a refusal otherwise.
    fn about_order_7<'a>(req: &RequestSpec, leak: &'a str) -> &'a str {
        if user_text(req).contains(" 7?") {
            leak
        } else {
            "I couldn't find that order."
        }
    }

    async fn run(answer: fn(&RequestSpec) -> String) -> (Outcome, usize) {
        run_seen(answer, None).await
    }

    /// [`run`] after an anonymous caller was shown `public`.
    async fn run_seen(
        answer: fn(&RequestSpec) -> String,
        public: Option<&str>,
    ) -> (Outcome, usize) {
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
        if let Some(body) = public {
            let anonymous = RequestSpec::new(Method::Get, "/api/admin/users");
            probe
                .observed
                .push(crate::fake::exchange_for(&anonymous, Some(json(200, body))));
        }
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: None,
        };
        let out = SensitiveDisclosure.run(&ctx).await;
        (out, probe.sent_count())
    }

    #[tokio::test]
    async fn the_owners_identifying_values_stay_facts_when_an_open_endpoint_showed_them() {
        // An endpoint without authentication listed alice's e-mail and the order's note: the
        // note is no longer only alice's to know, her e-mail in bob's answer still is.
        let (out, _) = run_seen(
            |req| {
                about_order_7(
                    req,
                    "Order 7 for alice (alice@example.com): ring the blue door.",
                )
                .into()
            },
            Some(r#"[{"email":"alice@example.com","note":"ring the blue door"}]"#),
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("alice@example.com"));
    }

    #[tokio::test]
    async fn fires_when_the_chat_tells_bob_about_alices_order() {
        let (out, _) = run(|req| {
            about_order_7(
                req,
                "Order 7 for alice (alice@example.com): ring the blue door.",
            )
            .into()
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

    /// Alice has two objects: one at `first` (`/api/{collection}/{param}`, answering `body`,
    /// to bob too when `bob_reads`), then order 7. The chat tells anyone about order 7 and
    /// nothing about anything else. The outcome and the requests sent.
    async fn first_then_order(
        first: &'static str,
        param: &str,
        bob_reads: bool,
        body: &'static str,
    ) -> (Outcome, Vec<RequestSpec>) {
        let mut op = Operation::new(Method::Get, first);
        op.parameters = read_op().parameters;
        op.parameters[0].name = param.into();
        let inv = inventory(vec![op, read_op(), chat_op(None)]);
        let object = first.replace(&format!("{{{param}}}"), "3");
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob", "bob@example.com"])
            .on(
                move |r: &RequestSpec| r.path == object && (bob_reads || r.identity == "alice"),
                json(200, body),
            )
            .on(
                |r: &RequestSpec| r.path == "/api/orders/7" && r.identity == "alice",
                json(
                    200,
                    r#"{"id":7,"status":"placed","note":"ring the blue door"}"#,
                ),
            )
            .on(
                |r: &RequestSpec| r.path.starts_with("/api/"),
                json(404, r#"{"detail":"Not found"}"#),
            )
            .on_dynamic(|req| {
                Some(openai(
                    about_order_7(req, "Order 7 for alice: ring the blue door."),
                    9,
                ))
            });
        probe.mode = Mode::Active;
        for (param, id) in [(param, 3), ("order_id", 7)] {
            probe
                .known
                .push((param.into(), serde_json::json!(id), vec!["alice".into()]));
        }
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: None,
        };
        let out = SensitiveDisclosure.run(&ctx).await;
        let sent = probe.sent.lock().unwrap().clone();
        (out, sent)
    }

    #[tokio::test]
    async fn an_object_bob_reads_anyway_is_passed_over_for_the_next() {
        // The first read operation (addresses) is plain BOLA: bob reads alice's address, so the
        // chat is not asked about it; the order after it is.
        let (out, _) = first_then_order(
            "/api/addresses/{address_id}",
            "address_id",
            true,
            r#"{"id":3,"street":"Harbour Lane 5"}"#,
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("order 7"));
    }

    #[tokio::test]
    async fn a_kind_the_chat_tells_its_owner_nothing_about_is_passed_over_for_the_next() {
        // The assistant looks orders up but not notes: alice asking about her own note is told
        // nothing, so bob is not asked about it (which would use up the direction); the order
        // after it is asked about, and leaks.
        let (out, sent) = first_then_order(
            "/api/notes/{note_id}",
            "note_id",
            false,
            r#"{"id":3,"text":"call the plumber"}"#,
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("order 7"));
        assert!(!sent
            .iter()
            .any(|r| r.identity == "bob" && user_text(r).contains("note 3")));
    }

    #[tokio::test]
    async fn the_owners_account_is_read_as_it_is_now() {
        // Another check changed alice's e-mail after sign-in: the chat tells bob the new one,
        // which only alice's current-user read shows (her order itself holds no text of hers).
        let inv = inventory(vec![
            read_op(),
            Operation::new(Method::Get, "/api/users/me"),
            chat_op(None),
        ]);
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice", "alice@example.com"])
            .identity("bob", &["bob", "bob@example.com"])
            .on(
                |r: &RequestSpec| r.path == "/api/users/me" && r.identity == "alice",
                json(200, r#"{"username":"alice","email":"alice@example.org"}"#),
            )
            .on(
                |r: &RequestSpec| r.path == "/api/users/me",
                json(200, r#"{"username":"bob","email":"bob@example.com"}"#),
            )
            .on(
                |r: &RequestSpec| r.path == "/api/orders/7" && r.identity == "alice",
                json(200, r#"{"id":7,"status":"placed"}"#),
            )
            .on(
                |r: &RequestSpec| r.path.starts_with("/api/orders/"),
                json(404, r#"{"detail":"No such order"}"#),
            )
            .on_dynamic(|req| {
                Some(openai(
                    about_order_7(req, "Order 7 for alice (alice@example.org)."),
                    9,
                ))
            });
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
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("alice@example.org"));
    }

    #[test]
    fn nouns_come_from_the_parameter_or_the_collection() {
        assert_eq!(noun(&read_op(), "order_id").as_deref(), Some("order"));
        let bare = Operation::new(Method::Get, "/invoices/{id}");
        assert_eq!(noun(&bare, "id").as_deref(), Some("invoice"));
    }
}

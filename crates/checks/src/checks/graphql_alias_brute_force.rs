//! `graphql.alias-brute-force`: one HTTP request carries many sign-in attempts, as aliases of
//! a sign-in mutation or as a batch of operations, so limits counted per request never see
//! them (CWE-307).
//!
//! Active mode, after every other check (like `auth.login-throttling`: a burst of failures
//! can trip a limiter the other checks would then meet). The sign-in mutation is a GraphQL
//! mutation whose arguments (or one input object's fields) take an account name and a
//! password, read with `checks::authflow`'s names, and no other required argument. Every
//! attempt names one made-up account (`authflow::nonexistent_username`), never a configured
//! identity's, so nobody is locked out; each carries a different wrong password.
//!
//! 1. The control: the mutation once, as one alias. It must be *executed*: `data` holds the
//!    alias (a payload, or `null` with an error on that path) and nothing says "slow down".
//!    A validation error (no `data`) or a 429 ends the check.
//! 2. The same mutation [`K`] times as aliases in one document: a finding when every alias is
//!    executed and its result is the control's (the same failure, once the echoed username is
//!    set aside), nothing says "slow down" and no error outside the aliases' paths (an alias
//!    or cost limit) came with it.
//! 3. When the endpoint answers batches, [`K`] single-alias operations as one JSON array: a
//!    finding when the answer is an array of [`K`] results that each say what the control
//!    said.
//!
//! Budget per sign-in mutation: three requests carrying at most 1 + 2 × [`K`] attempts.

use super::graphql_common::{string_literal, GqlAnswer};
use crate::authflow::{
    body_wrapper, is_changing_password_name, is_throttled, nonexistent_username, normalized_body,
    password_property, username_property, wrong_password,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Finding, GraphqlKind, GraphqlOperation,
    Method, Operation, Owasp, Remediation, RequestBody, RequestSpec, Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct GraphqlAliasBruteForce;

/// Attempts carried by one request.
pub const K: usize = 20;

static META: CheckMeta = CheckMeta {
    id: CheckId::GraphqlAliasBruteForce,
    title: "Many sign-in attempts in one GraphQL request (aliases or batching)",
    description: "In active mode, for each GraphQL sign-in mutation, sends one wrong password \
        for a made-up account, then 20 wrong passwords in one request as aliases of the \
        mutation, and, when the endpoint takes batches, as an array of 20 operations. Fires \
        when every one of the 20 is executed and answered like the single attempt, with no \
        alias, batch or rate limit: per-request throttling counts 20 guesses as one.",
    cwe: &[307],
    owasp: &[Owasp::Api4, Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Count sign-in attempts per account and per client inside the resolver (or \
            the service it calls), not per HTTP request, so every alias and every operation of \
            a batch is one attempt. Cap aliases per document and operations per batch (or turn \
            batching off), and reject documents that call the sign-in mutation more than once.",
        variants: &[
            (
                Tech::Flask,
                "Graphene: keep a failure counter per username (Redis `INCR` + `EXPIRE`) checked \
                at the top of the sign-in mutation's `mutate`, raising a `GraphQLError` once \
                exceeded; add a validation rule that refuses more than one field on the sign-in \
                mutation, and leave `batch=False` on `GraphQLView`. Ariadne: the same check in \
                the resolver.",
            ),
            (
                Tech::FastApi,
                "Strawberry: `strawberry.Schema(..., extensions=[MaxAliasesLimiter(\
                max_alias_count=1)])` or a validation rule of your own for the sign-in field, \
                leave batching off in the schema's configuration (or cap its operations), and \
                count failures per username in the resolver before verifying the password.",
            ),
        ],
    },
};

#[async_trait]
impl Check for GraphqlAliasBruteForce {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn not_applicable(&self, inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
        super::graphql_common::no_endpoint(inventory)
    }

    fn order(&self) -> RunOrder {
        RunOrder::Last
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if credentials(op).is_none() {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Post,
            identity: ANONYMOUS,
            purpose: "one wrong password, then 20 in one request as aliases and as a batch",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut out = Outcome::none();
        for op in &ctx.inventory.operations {
            let Some(creds) = credentials(op) else {
                continue;
            };
            let batching = ctx
                .inventory
                .graphql
                .iter()
                .any(|ep| ep.path == op.path && ep.batching);
            match judge(ctx, op, &creds, batching).await {
                Ok(found) => out.findings.extend(found),
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => {}
            }
        }
        out
    }
}

/// Where a sign-in mutation takes its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Credentials {
    /// The input-object argument holding them, when they are not arguments themselves.
    wrapper: Option<String>,
    username: String,
    password: String,
}

/// The credentials of a GraphQL sign-in mutation: a username and a password argument (or
/// input field), no new or old password, and no other required argument.
fn credentials(op: &Operation) -> Option<Credentials> {
    let g = op
        .graphql
        .as_ref()
        .filter(|g| g.kind == GraphqlKind::Mutation)?;
    let username = username_property(op)?;
    let password = password_property(op)?;
    let props = crate::authflow::body_properties(op);
    if props.iter().any(|(k, _)| is_changing_password_name(k)) {
        return None;
    }
    let wrapper = body_wrapper(op);
    let others_required = g.arguments.iter().any(|a| {
        a.type_ref.ends_with('!')
            && Some(&a.name) != wrapper.as_ref()
            && a.name != username
            && a.name != password
    });
    (!others_required).then_some(Credentials {
        wrapper,
        username,
        password,
    })
}

/// `aN: field(username: "…", password: "…") selection`.
fn attempt(g: &GraphqlOperation, c: &Credentials, alias: &str, user: &str, pass: &str) -> String {
    let pairs = format!(
        "{}: {}, {}: {}",
        c.username,
        string_literal(user),
        c.password,
        string_literal(pass)
    );
    let args = match &c.wrapper {
        Some(w) => format!("{w}: {{{pairs}}}"),
        None => pairs,
    };
    let sel = if g.selection.is_empty() {
        String::new()
    } else {
        format!(" {}", g.selection)
    };
    format!("{alias}: {}({args}){sel}", g.field)
}

fn post(op: &Operation, body: Value) -> RequestSpec {
    let mut req = RequestSpec::new(Method::Post, op.path.clone()).as_identity(ANONYMOUS);
    req.body = Some(RequestBody::Json(body));
    req.operation = Some(op.key());
    req
}

/// What one alias's attempt came to, with volatile values set aside; `None` when it was not
/// executed (no `data` holding it, or `null` without an error on its path).
fn outcome_of(result: &Value, alias: &str, volatile: &[&str]) -> Option<String> {
    let answer = GqlAnswer::read(result)?;
    let data = answer.data.as_ref()?.as_object()?;
    let value = data.get(alias)?;
    let errors: Vec<String> = result
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.pointer("/path/0").and_then(Value::as_str) == Some(alias))
        .map(|e| e.get("message").map_or(e.to_string(), Value::to_string))
        .collect();
    if value.is_null() && errors.is_empty() {
        return None;
    }
    Some(normalized_body(
        &format!("{value} {}", errors.join(" | ")),
        volatile,
    ))
}

/// Errors of an answer that belong to no alias (an alias, depth or cost limit).
fn stray_errors(result: &Value, aliases: &[String]) -> usize {
    result
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            !e.pointer("/path/0")
                .and_then(Value::as_str)
                .is_some_and(|p| aliases.iter().any(|a| a == p))
        })
        .count()
}

fn json_of(ex: &Exchange) -> Option<Value> {
    ex.response.as_ref()?.json()
}

async fn judge(
    ctx: &RunCtx<'_>,
    op: &Operation,
    c: &Credentials,
    batching: bool,
) -> Result<Vec<Finding>, ProbeError> {
    let g = op.graphql.as_ref().expect("a GraphQL mutation");
    let user = nonexistent_username(Some(op));
    let passwords: Vec<String> = (0..K).map(|_| wrong_password()).collect();
    let mut volatile: Vec<&str> = passwords.iter().map(String::as_str).collect();
    volatile.push(&user);
    let single = format!(
        "mutation {{ {} }}",
        attempt(g, c, "a0", &user, &passwords[0])
    );
    let control = ctx.probe.send(post(op, json!({ "query": single }))).await?;
    let Some(expected) = json_of(&control)
        .filter(|_| !is_throttled(&control))
        .and_then(|j| outcome_of(&j, "a0", &volatile))
    else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let aliases: Vec<String> = (0..K).map(|i| format!("a{i}")).collect();
    let doc = format!(
        "mutation {{ {} }}",
        aliases
            .iter()
            .zip(&passwords)
            .map(|(a, p)| attempt(g, c, a, &user, p))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let many = ctx.probe.send(post(op, json!({ "query": doc }))).await?;
    let all_alike = json_of(&many).is_some_and(|j| {
        stray_errors(&j, &aliases) == 0
            && aliases
                .iter()
                .all(|a| outcome_of(&j, a, &volatile).as_ref() == Some(&expected))
    });
    if all_alike && !is_throttled(&many) {
        found.push(finding(op, "aliases", control.clone(), many));
    }
    if batching {
        let batch: Vec<Value> = passwords
            .iter()
            .map(
                |p| json!({ "query": format!("mutation {{ {} }}", attempt(g, c, "a0", &user, p)) }),
            )
            .collect();
        let ex = ctx.probe.send(post(op, Value::Array(batch))).await?;
        let all_alike = json_of(&ex)
            .and_then(|j| j.as_array().cloned())
            .is_some_and(|rs| {
                rs.len() == K
                    && rs.iter().all(|r| {
                        stray_errors(r, &aliases[..1]) == 0
                            && outcome_of(r, "a0", &volatile).as_ref() == Some(&expected)
                    })
            });
        if all_alike && !is_throttled(&ex) {
            found.push(finding(op, "batch", control, ex));
        }
    }
    Ok(found)
}

fn finding(op: &Operation, how: &str, control: Exchange, many: Exchange) -> Finding {
    let g = op
        .graphql
        .as_ref()
        .map_or(String::new(), GraphqlOperation::label);
    let carrier = if how == "aliases" {
        format!("{K} aliases of the mutation in one document")
    } else {
        format!("a batch of {K} operations in one JSON array")
    };
    let description = format!(
        "`{g}` on `{}` executed {carrier}, one HTTP request, as {K} separate sign-in attempts: \
         each answered exactly like a single wrong password, with no alias, batch or rate \
         limit. A limiter that counts requests sees one where an attacker tries {K} passwords \
         (brute force, credential stuffing). The account named does not exist; no user was \
         locked out.",
        op.path
    );
    let evidence = Evidence::new(vec![control, many]).note(format!(
        "one wrong password (the control), then {carrier}; every result equals the control's"
    ));
    META.finding(
        Some(op),
        how,
        META.severity,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        GraphqlArgument, GraphqlEndpoint, Inventory, Mode, RequestBodySpec, Schema, SchemaType,
        SpecVersion,
    };
    use std::sync::Arc;

    fn login() -> Operation {
        let mut body = Schema::of_type(SchemaType::Object);
        for p in ["username", "password"] {
            body.properties
                .insert(p.into(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        let mut op = Operation::new(Method::Post, "/graphql");
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        op.graphql = Some(GraphqlOperation {
            kind: GraphqlKind::Mutation,
            field: "login".into(),
            arguments: ["username", "password"]
                .iter()
                .map(|n| GraphqlArgument {
                    name: n.to_string(),
                    type_ref: "String!".into(),
                })
                .collect(),
            selection: "{ ok token message }".into(),
            returns: "LoginResult".into(),
        });
        op
    }

    fn doc_of(v: &Value) -> String {
        v["query"].as_str().unwrap_or("").to_string()
    }

    /// Aliases in a document.
    fn aliases_in(doc: &str) -> Vec<String> {
        doc.split_whitespace()
            .filter(|w| {
                w.starts_with('a') && w.ends_with(':') && w[1..w.len() - 1].parse::<u32>().is_ok()
            })
            .map(|w| w.trim_end_matches(':').to_string())
            .collect()
    }

    /// A server that runs every alias: each a failed sign-in.
    fn executed(doc: &str) -> Value {
        let data: serde_json::Map<String, Value> = aliases_in(doc)
            .into_iter()
            .map(|a| {
                (
                    a,
                    json!({"ok": false, "token": null, "message": "Invalid credentials"}),
                )
            })
            .collect();
        json!({ "data": data })
    }

    fn server(limit: Option<usize>) -> FakeProbe {
        let mut probe = FakeProbe::new().on_dynamic(move |r| {
            let body = match &r.body {
                Some(RequestBody::Json(Value::Array(ops))) => match limit {
                    Some(_) => json!({"errors": [{"message": "Batching is not enabled"}]}),
                    None => Value::Array(ops.iter().map(|o| executed(&doc_of(o))).collect()),
                },
                Some(RequestBody::Json(v)) => {
                    let doc = doc_of(v);
                    match limit {
                        Some(max) if aliases_in(&doc).len() > max => json!({"data": null,
                            "errors": [{"message": format!("{} aliases found. Allowed: {max}", aliases_in(&doc).len())}]}),
                        _ => executed(&doc),
                    }
                }
                _ => return None,
            };
            Some(response(200, "application/json", &body.to_string()))
        });
        probe.mode = Mode::Active;
        probe
    }

    async fn run(probe: &FakeProbe, batching: bool) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(login());
        inv.graphql.push(GraphqlEndpoint {
            path: "/graphql".into(),
            batching,
            ..GraphqlEndpoint::default()
        });
        GraphqlAliasBruteForce
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[test]
    fn a_sign_in_mutation_is_recognised_by_its_arguments() {
        let c = credentials(&login()).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("username", "password")
        );
        let mut query = login();
        query.graphql.as_mut().unwrap().kind = GraphqlKind::Query;
        assert!(credentials(&query).is_none());
        let d = attempt(query.graphql.as_ref().unwrap(), &c, "a3", "u\"x", "p");
        assert_eq!(
            d,
            r#"a3: login(username: "u\"x", password: "p") { ok token message }"#
        );
    }

    #[tokio::test]
    async fn twenty_aliases_and_a_batch_executed_as_attempts_are_two_findings() {
        let probe = server(None);
        let out = run(&probe, true).await;
        let hows: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.parameter.clone().unwrap())
            .collect();
        assert_eq!(hows, vec!["aliases", "batch"]);
        assert_eq!(probe.sent_count(), 3);
        // Never a configured identity's name: a made-up account every time.
        for r in probe.sent.lock().unwrap().iter() {
            assert!(format!("{:?}", r.body).contains("mb-nx-"));
            assert_eq!(r.identity, ANONYMOUS);
        }
    }

    #[tokio::test]
    async fn an_alias_limit_is_silent() {
        let probe = server(Some(1));
        assert!(run(&probe, true).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 3);
    }

    #[tokio::test]
    async fn fewer_results_than_attempts_are_silent() {
        // The server runs only the first alias of a document.
        let mut probe = FakeProbe::new().on_dynamic(|r| {
            let Some(RequestBody::Json(v)) = &r.body else {
                return None;
            };
            let first = aliases_in(&doc_of(v))
                .into_iter()
                .take(1)
                .collect::<Vec<_>>();
            Some(response(
                200,
                "application/json",
                &executed(
                    &first
                        .iter()
                        .map(|a| format!("{a}: x"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
                .to_string(),
            ))
        });
        probe.mode = Mode::Active;
        assert!(run(&probe, false).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_control_refused_in_validation_ends_the_check() {
        let mut probe = FakeProbe::new().on(
            |_| true,
            response(
                200,
                "application/json",
                r#"{"errors":[{"message":"Unknown argument 'username' on field 'Mutation.login'."}]}"#,
            ),
        );
        probe.mode = Mode::Active;
        assert!(run(&probe, true).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 1);
    }
}

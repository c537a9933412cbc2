//! `graphql.csrf`: a GraphQL endpoint runs mutations sent the way another site can make a
//! signed-in browser send them: a form post (`application/x-www-form-urlencoded`), a
//! `text/plain` body, or a GET link, with the session cookie and nothing else (CWE-352).
//!
//! JSON POSTs need a CORS preflight that a careful server refuses; these three do not, so a
//! GraphQL server that accepts them has no CSRF defence unless it checks a token or the
//! `Origin`. Active mode, as the first ordinary identity whose session is a cookie
//! (`browser::cookie_identity`; bearer-only APIs cannot be forged). Candidates: the endpoint's
//! mutations that take no password and are not named for a session (sign-in, sign-out,
//! registration), fewest required arguments first, at most [`CANDIDATES`]. Each is sent with
//! the engine's valid variables, forged (`browser::forged`: cookie only, a foreign `Origin`,
//! no token header) as a form, then as `text/plain`, then as GET, stopping at the first that
//! is executed: data with the mutation's field not `null`, no error. The same request with
//! no credentials at all must then be refused (an error, or the field `null`): the cookie is
//! what authorised it. A mutation the ledger refuses is skipped, and GET (which the ledger
//! does not judge as a write) is only sent for a mutation whose POST the ledger let through.
//! The session cookie's `SameSite` sets the severity, as in the other CSRF checks.
//!
//! Budget: at most four requests per candidate; one finding per endpoint.

use super::graphql_common::{operations_on, GqlAnswer};
use crate::browser::{cookie_identity, cross_site, forged, is_session_path, ATTACKER_ORIGIN};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Finding, GraphqlEndpoint,
    GraphqlKind, Method, Operation, Owasp, Remediation, RequestBody, RequestSpec, Severity, Tech,
};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct GraphqlCsrf;

/// Mutations tried per endpoint.
pub const CANDIDATES: usize = 4;

static META: CheckMeta = CheckMeta {
    id: CheckId::GraphqlCsrf,
    title: "GraphQL mutation accepted from another site (form, text/plain or GET)",
    description: "In active mode, as an identity whose session is a cookie, sends a mutation \
        the ledger allows as another site could make the browser send it: a form post, a \
        text/plain body, then a GET, each with the session cookie only, a foreign Origin and no \
        token. Fires when the mutation is executed (its field answered with data, no error) \
        and the same request without the cookie is refused; the cookie's SameSite sets the \
        severity.",
    cwe: &[352],
    owasp: &[Owasp::Api2, Owasp::Api8],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Accept GraphQL operations only as `application/json` POSTs (which need a \
            CORS preflight), never run a mutation received by GET, and for cookie sessions \
            require an anti-CSRF token in a custom header or an allowed `Origin`. Mark the \
            session cookie `SameSite=Lax` or `Strict`, or authenticate the API with an \
            `Authorization` header that no other site can make a browser send.",
        variants: &[
            (
                Tech::Flask,
                "Graphene's Flask view (`graphql-server`) accepts form bodies and GET: wrap \
                `GraphQLView.as_view(...)` in a view that refuses any content type but \
                `application/json` and any method but POST for cookie sessions, or protect it \
                with Flask-WTF's `CSRFProtect` and send the token in `X-CSRFToken`; Ariadne: \
                refuse non-JSON requests in the view before calling `graphql_sync`.",
            ),
            (
                Tech::FastApi,
                "Strawberry: `GraphQLRouter(schema, allow_queries_via_get=False)` keeps \
                operations off GET (mutations are never run by GET in current releases); add \
                a dependency on the router that refuses requests whose `Content-Type` is not \
                `application/json` and whose `Origin` is not yours, and set the session cookie \
                with `samesite=\"lax\"`.",
            ),
        ],
    },
};

#[async_trait]
impl Check for GraphqlCsrf {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn not_applicable(&self, inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
        super::graphql_common::no_endpoint(inventory)
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if !candidate(op) || ctx.identities == 0 {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "the mutation as a form or text/plain post, session cookie only",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "the mutation as a GET link, session cookie only",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(identity) = cookie_identity(ctx.probe.identities()) else {
            return Outcome::none();
        };
        let mut out = Outcome::none();
        'endpoints: for ep in &ctx.inventory.graphql {
            let mut ops: Vec<&Operation> = operations_on(ctx.inventory, ep)
                .filter(|o| candidate(o))
                .collect();
            ops.sort_by_key(|o| required_args(o));
            for op in ops.into_iter().take(CANDIDATES) {
                match judge(ctx, ep, op, &identity).await {
                    Ok(Some(f)) => {
                        out.findings.push(f);
                        continue 'endpoints;
                    }
                    Ok(None) | Err(ProbeError::Refused(_)) => {}
                    Err(ProbeError::Stopped(_)) => break 'endpoints,
                }
            }
        }
        out
    }
}

/// A mutation that may be forged: no password, not named for a session.
fn candidate(op: &Operation) -> bool {
    let Some(g) = op.graphql.as_ref() else {
        return false;
    };
    g.kind == GraphqlKind::Mutation
        && crate::authflow::password_property(op).is_none()
        && !is_session_path(&format!("/{}", g.field))
}

fn required_args(op: &Operation) -> usize {
    op.graphql.as_ref().map_or(0, |g| {
        g.arguments
            .iter()
            .filter(|a| a.type_ref.ends_with('!'))
            .count()
    })
}

/// How a forged mutation travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Form,
    TextPlain,
    Get,
}

impl Carrier {
    fn name(self) -> &'static str {
        match self {
            Carrier::Form => "application/x-www-form-urlencoded",
            Carrier::TextPlain => "text/plain",
            Carrier::Get => "GET",
        }
    }
}

/// The variables the engine would send with `op` as `identity` (its valid request).
fn variables(ctx: &RunCtx<'_>, op: &Operation, identity: &str) -> Value {
    let valid = ctx.probe.request(op, identity, &Overrides::none());
    match valid.body {
        Some(RequestBody::Json(Value::Object(mut m))) => match m.remove("variables") {
            Some(v) => v,
            None if m.contains_key("query") => json!({}),
            None => Value::Object(m),
        },
        _ => json!({}),
    }
}

/// The forged request carrying `op`'s document and `vars` as `carrier`.
fn carried(
    op: &Operation,
    doc: &str,
    vars: &Value,
    carrier: Carrier,
    identity: &str,
) -> RequestSpec {
    let method = if carrier == Carrier::Get {
        Method::Get
    } else {
        Method::Post
    };
    let mut req = RequestSpec::new(method, op.path.clone()).as_identity(identity);
    let vars_text = vars.to_string();
    match carrier {
        Carrier::Form => {
            req.body = Some(RequestBody::Form(vec![
                ("query".into(), doc.to_string()),
                ("variables".into(), vars_text),
            ]));
        }
        Carrier::TextPlain => {
            req.body = Some(RequestBody::Raw {
                content_type: "text/plain".into(),
                body: json!({ "query": doc, "variables": vars }).to_string(),
            });
        }
        Carrier::Get => {
            req.query = vec![
                ("query".into(), doc.to_string()),
                ("variables".into(), vars_text),
            ];
        }
    }
    req.operation = Some(op.key());
    forged(req, true)
}

/// The mutation ran: its field answered with data and no error.
fn executed(ex: &Exchange, field: &str) -> bool {
    GqlAnswer::of(ex).is_some_and(|a| a.answered() && a.field(field).is_some())
}

async fn judge(
    ctx: &RunCtx<'_>,
    ep: &GraphqlEndpoint,
    op: &Operation,
    identity: &IdentityInfo,
) -> Result<Option<Finding>, ProbeError> {
    let g = op.graphql.as_ref().expect("a GraphQL mutation");
    let doc = g.document();
    let vars = variables(ctx, op, &identity.name);
    let mut gate_passed = false;
    for carrier in [Carrier::Form, Carrier::TextPlain, Carrier::Get] {
        if carrier == Carrier::Get && !gate_passed {
            break;
        }
        let req = carried(op, &doc, &vars, carrier, &identity.name);
        let attack = match ctx.probe.send(req.clone()).await {
            Ok(ex) => ex,
            Err(ProbeError::Refused(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        gate_passed = true;
        if !executed(&attack, &g.field) {
            continue;
        }
        let mut bare = req;
        bare.credentials = CredentialUse::None;
        let control = ctx.probe.send(bare).await?;
        if executed(&control, &g.field) {
            // Anyone may run it: the cookie is not what authorised it.
            return Ok(None);
        }
        return Ok(Some(finding(ep, op, identity, carrier, attack, control)));
    }
    Ok(None)
}

fn finding(
    ep: &GraphqlEndpoint,
    op: &Operation,
    identity: &IdentityInfo,
    carrier: Carrier,
    attack: Exchange,
    control: Exchange,
) -> Finding {
    let label = op.graphql.as_ref().map_or(String::new(), |g| g.label());
    let method = if carrier == Carrier::Get {
        Method::Get
    } else {
        Method::Post
    };
    let (cross, why) = cross_site(identity);
    let severity = cross.severity(method, META.severity);
    let how = match carrier {
        Carrier::Get => "as a GET request (a link or an image on any page)".to_string(),
        c => format!("as a `{}` POST (a plain HTML form)", c.name()),
    };
    let description = format!(
        "`{label}` on `{}` was executed when sent {how} with only `{}`'s session cookie, \
         `Origin: {ATTACKER_ORIGIN}` and no anti-CSRF token (HTTP {}), while the same request \
         without the cookie was refused. Neither needs a CORS preflight, so a page on another \
         site can make a signed-in victim's browser run this mutation. {why}.",
        ep.path,
        identity.name,
        attack.status().unwrap_or(0),
    );
    let evidence = Evidence::new(vec![attack, control])
        .note("the forged mutation with the session cookie only, then the same without the cookie");
    META.finding(
        Some(op),
        carrier.name(),
        severity,
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
        GraphqlArgument, GraphqlOperation, Inventory, Mode, RequestBodySpec, Schema, SchemaType,
        SpecVersion,
    };
    use std::sync::Arc;

    fn mutation(field: &str, arg: &str) -> Operation {
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties
            .insert(arg.into(), Arc::new(Schema::of_type(SchemaType::String)));
        let mut op = Operation::new(Method::Post, "/graphql");
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        op.graphql = Some(GraphqlOperation {
            kind: GraphqlKind::Mutation,
            field: field.into(),
            arguments: vec![GraphqlArgument {
                name: arg.into(),
                type_ref: "String!".into(),
            }],
            selection: "{ id displayName }".into(),
            returns: "Profile".into(),
        });
        op
    }

    fn cookie_user(same_site: Option<&str>) -> FakeProbe {
        let mut probe = FakeProbe::new().identity("alice", &["alice"]);
        probe.identities[0].session_cookies = vec!["session".into()];
        probe.identities[0].cookie_same_site =
            vec![("session".into(), same_site.map(str::to_string))];
        probe.mode = Mode::Active;
        probe
    }

    const DONE: &str = r#"{"data":{"updateProfile":{"id":"1","displayName":"x"}}}"#;
    const DENIED: &str = r#"{"data":{"updateProfile":null},"errors":[{"message":"Not authenticated","path":["updateProfile"]}]}"#;

    async fn run(probe: &FakeProbe, ops: Vec<Operation>) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = ops;
        inv.graphql.push(GraphqlEndpoint {
            path: "/graphql".into(),
            ..GraphqlEndpoint::default()
        });
        GraphqlCsrf
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    fn is_form(r: &RequestSpec) -> bool {
        matches!(r.body, Some(RequestBody::Form(_)))
    }

    #[tokio::test]
    async fn a_form_post_with_the_cookie_alone_is_reported_with_the_cookieless_control() {
        let probe = cookie_user(None)
            .on(
                |r| is_form(r) && r.credentials == CredentialUse::CookiesOnly,
                response(200, "application/json", DONE),
            )
            .on(|_| true, response(200, "application/json", DENIED));
        let out = run(
            &probe,
            vec![
                mutation("updateProfile", "displayName"),
                mutation("login", "username"),
            ],
        )
        .await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.parameter.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let sent = probe.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert!(sent[0]
            .headers
            .iter()
            .any(|(k, v)| k == "Origin" && v == ATTACKER_ORIGIN));
        assert_eq!(sent[1].credentials, CredentialUse::None);
    }

    #[tokio::test]
    async fn a_lax_cookie_lowers_a_post_to_low_and_get_is_tried_last() {
        let probe = cookie_user(Some("Lax"))
            .on(
                |r| r.method == Method::Get && r.credentials == CredentialUse::CookiesOnly,
                response(200, "application/json", DONE),
            )
            .on(
                |_| true,
                response(415, "text/plain", "Unsupported Media Type"),
            );
        let out = run(&probe, vec![mutation("updateProfile", "displayName")]).await;
        assert_eq!(out.findings.len(), 1);
        // A GET travels with a Lax cookie on a top-level navigation: full severity.
        assert_eq!(out.findings[0].severity, Severity::Medium);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("GET"));
    }

    #[tokio::test]
    async fn json_only_servers_and_public_mutations_are_silent() {
        let probe = cookie_user(None).on(|_| true, response(415, "text/plain", "no"));
        assert!(run(&probe, vec![mutation("updateProfile", "displayName")])
            .await
            .findings
            .is_empty());
        // Executed with and without the cookie: not a cookie's doing.
        let probe = cookie_user(None).on(|_| true, response(200, "application/json", DONE));
        assert!(run(&probe, vec![mutation("updateProfile", "displayName")])
            .await
            .findings
            .is_empty());
    }

    #[tokio::test]
    async fn bearer_identities_are_never_judged() {
        let mut probe = FakeProbe::new()
            .identity("alice", &[])
            .on(|_| true, response(200, "application/json", DONE));
        probe.mode = Mode::Active;
        assert!(run(&probe, vec![mutation("updateProfile", "displayName")])
            .await
            .findings
            .is_empty());
        assert_eq!(probe.sent_count(), 0);
    }

    #[test]
    fn session_mutations_are_not_candidates() {
        assert!(candidate(&mutation("updateProfile", "displayName")));
        assert!(!candidate(&mutation("signIn", "username")));
        assert!(!candidate(&mutation("changePassword", "password")));
    }
}

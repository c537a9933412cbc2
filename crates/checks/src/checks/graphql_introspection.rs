//! `graphql.introspection`: a GraphQL endpoint hands its schema to callers, by introspection
//! or, with introspection off, by field suggestions ("Did you mean …").
//!
//! Per endpoint of `Inventory.graphql`:
//! - the introspection query [`INTROSPECTION`] anonymously. It is proven when the answer is
//!   data, no error, and self-consistent: a non-empty `types` list that contains the type
//!   `queryType` names. Low.
//! - Refused to the anonymous caller, the same as the first signed-in identity: answered there,
//!   it is an info finding whose evidence is the pair (refused anonymously, answered signed in).
//! - Refused to everyone who tried, a known root query field misspelt by one letter, sent
//!   anonymously: proven when an error answer names the real field in a suggestion that the
//!   request did not contain. Low.
//!
//! Type names that look sensitive (`Admin…`, `…Secret`) are listed as information only; a
//! name alone never raises the severity. Budget per endpoint: at most three requests.

use super::graphql_common::{endpoint_operation, query_request, GqlAnswer};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Finding, GraphqlEndpoint, GraphqlKind,
    Method, Operation, Owasp, Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct GraphqlIntrospection;

/// The smallest introspection query that proves the schema is readable.
pub const INTROSPECTION: &str = "{__schema{queryType{name} types{name}}}";

/// Words in type names worth pointing out (information only).
const SENSITIVE_WORDS: &[&str] = &[
    "admin",
    "internal",
    "secret",
    "password",
    "token",
    "credential",
    "debug",
    "private",
    "payment",
    "card",
    "apikey",
];

static META: CheckMeta = CheckMeta {
    id: CheckId::GraphqlIntrospection,
    title: "GraphQL schema readable by introspection or field suggestions",
    description: "Sends the introspection query `{__schema{queryType{name} types{name}}}` to \
        each GraphQL endpoint anonymously (then as a signed-in identity when refused). Fires \
        when the answer is the schema (data, no error, the query type among the types); info \
        when only signed-in callers get it. With introspection refused, sends a known root \
        field misspelt by one letter and fires when the error suggests the real name (\"Did \
        you mean …\"), which lets anyone rebuild the schema.",
    cwe: &[200],
    owasp: &[Owasp::Api8],
    severity: Severity::Low,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Turn introspection off in production (or allow it only to your own \
            developers' credentials), and turn field suggestions off with it: a server that \
            refuses `__schema` but answers typos with \"Did you mean …\" still reveals every \
            field name. Publish the schema to the clients that need it through your build, not \
            through the live endpoint.",
        variants: &[
            (
                Tech::Flask,
                "Graphene 3: pass `validation_rules=[DisableIntrospection]` (from \
                `graphene.validation`) to the view (`GraphQLView.as_view(\"graphql\", \
                schema=schema, validation_rules=[...])`) or to `schema.execute`, and strip \
                \"Did you mean\" from error messages in the view's error formatting; Ariadne: \
                `GraphQL(schema, introspection=False)` and an `error_formatter` that drops the \
                suggestions.",
            ),
            (
                Tech::FastApi,
                "Strawberry: `strawberry.Schema(query=Query, extensions=[AddValidationRules(\
                [NoSchemaIntrospectionCustomRule])])` (the rule from `graphql.validation`) and \
                `GraphQLRouter(schema, graphql_ide=None)`; remove \
                suggestions with a `MaskErrors` extension or by overriding `process_errors`. \
                Ariadne on ASGI: `GraphQL(schema, introspection=False)`.",
            ),
        ],
    },
};

#[async_trait]
impl Check for GraphqlIntrospection {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn not_applicable(&self, inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
        super::graphql_common::no_endpoint(inventory)
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if op.graphql.is_none() {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Post,
            identity: ANONYMOUS,
            purpose: "the introspection query, then a misspelt field when refused",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut out = Outcome::none();
        for ep in &ctx.inventory.graphql {
            match judge(ctx, ep).await {
                Ok(found) => out.findings.extend(found),
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => {}
            }
        }
        out
    }
}

/// The type names of an introspection answer when it is the schema: data, no error, a
/// non-empty `types` list naming the query type.
fn schema_types(ex: &Exchange) -> Option<Vec<String>> {
    let answer = GqlAnswer::of(ex).filter(GqlAnswer::answered)?;
    let schema = answer.field("__schema")?;
    let root = schema.pointer("/queryType/name")?.as_str()?;
    let types: Vec<String> = schema
        .get("types")?
        .as_array()?
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    types.iter().any(|t| t == root).then_some(types)
}

async fn judge(ctx: &RunCtx<'_>, ep: &GraphqlEndpoint) -> Result<Vec<Finding>, ProbeError> {
    let send = |who: &str, doc: &str| {
        let req = query_request(ctx.probe, ctx.inventory, ep, None, doc, who);
        ctx.probe.send(req)
    };
    let anonymous = send(ANONYMOUS, INTROSPECTION).await?;
    if let Some(types) = schema_types(&anonymous) {
        return Ok(vec![introspection_finding(ep, None, anonymous, &types)]);
    }
    let mut found = Vec::new();
    if let Some(who) = ctx.probe.identities().into_iter().next() {
        let signed = send(&who.name, INTROSPECTION).await?;
        if let Some(types) = schema_types(&signed) {
            found.push(introspection_finding(
                ep,
                Some((&who.name, anonymous.clone())),
                signed,
                &types,
            ));
        }
    }
    if let Some(f) = suggestions(ctx, ep, anonymous).await? {
        found.push(f);
    }
    Ok(found)
}

fn sensitive_names(types: &[String]) -> Vec<&str> {
    types
        .iter()
        .filter(|t| !t.starts_with("__"))
        .filter(|t| {
            let lower = t.to_ascii_lowercase();
            SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
        })
        .map(String::as_str)
        .take(8)
        .collect()
}

/// The finding for a readable schema; `signed_only` carries the identity and the anonymous
/// refusal when only signed-in callers could read it.
fn introspection_finding(
    ep: &GraphqlEndpoint,
    signed_only: Option<(&str, Exchange)>,
    answer: Exchange,
    types: &[String],
) -> Finding {
    let own: Vec<&String> = types.iter().filter(|t| !t.starts_with("__")).collect();
    let sensitive = sensitive_names(types);
    let mut description = match &signed_only {
        None => format!(
            "`{}` answers the introspection query to an anonymous caller with its schema \
             ({} types of its own): anyone can list every query, mutation, argument and type, \
             including operations the client never calls.",
            ep.path,
            own.len()
        ),
        Some((who, _)) => format!(
            "`{}` refuses the introspection query to an anonymous caller but answers it to \
             `{who}` with its schema ({} types of its own): any signed-in user can list every \
             operation, including ones meant for other roles.",
            ep.path,
            own.len()
        ),
    };
    if !sensitive.is_empty() {
        description.push_str(&format!(
            " For information, types whose names suggest sensitive data: {}.",
            sensitive.join(", ")
        ));
    }
    let (severity, confidence, exchanges) = match signed_only {
        None => (Severity::Low, Confidence::Confirmed, vec![answer]),
        Some((_, refused)) => (Severity::Info, Confidence::Confirmed, vec![refused, answer]),
    };
    let discriminator = if severity == Severity::Low {
        "introspection"
    } else {
        "introspection-signed-in"
    };
    let evidence = Evidence::new(exchanges).note(format!(
        "the answer lists {} types, the query type among them",
        types.len()
    ));
    META.finding(
        Some(&endpoint_operation(ep)),
        discriminator,
        severity,
        confidence,
        description,
        evidence,
    )
}

/// A root query field name the scan knows for `ep`.
fn known_field(ctx: &RunCtx<'_>, ep: &GraphqlEndpoint) -> Option<String> {
    let from_types = ep
        .types
        .get(&ep.query_type)
        .and_then(|fields| fields.iter().find(|f| f.name.len() >= 4))
        .map(|f| f.name.clone());
    from_types.or_else(|| {
        super::graphql_common::operations_on(ctx.inventory, ep)
            .filter_map(|o| o.graphql.as_ref())
            .find(|g| g.kind == GraphqlKind::Query && g.field.len() >= 4)
            .map(|g| g.field.clone())
    })
}

/// `name` with one letter appended: one edit away from the real field, which is what servers'
/// suggestion rules (graphql-core, graphql-js) suggest.
fn misspelt(name: &str) -> String {
    format!("{name}z")
}

/// With introspection refused: a misspelt known field answered with a suggestion naming the
/// real one.
async fn suggestions(
    ctx: &RunCtx<'_>,
    ep: &GraphqlEndpoint,
    refused: Exchange,
) -> Result<Option<Finding>, ProbeError> {
    let Some(field) = known_field(ctx, ep) else {
        return Ok(None);
    };
    let wrong = misspelt(&field);
    let doc = format!("{{{wrong}}}");
    let req = query_request(ctx.probe, ctx.inventory, ep, None, &doc, ANONYMOUS);
    let ex = ctx.probe.send(req).await?;
    let Some(answer) = GqlAnswer::of(&ex) else {
        return Ok(None);
    };
    let quoted = [
        format!("'{field}'"),
        format!("\"{field}\""),
        format!("`{field}`"),
    ];
    let suggested = answer.errors.iter().any(|m| {
        m.to_ascii_lowercase().contains("did you mean") && quoted.iter().any(|q| m.contains(q))
    });
    if !suggested || answer.data.is_some() {
        return Ok(None);
    }
    let description = format!(
        "`{}` refuses introspection, but answers a misspelt field (`{wrong}`) with a \
         suggestion naming the real one (`{field}`): by sending guesses and reading the \
         suggestions, anyone can rebuild the schema introspection was meant to hide.",
        ep.path
    );
    let evidence = Evidence::new(vec![refused, ex])
        .note("the introspection query refused, then the misspelt field and its suggestion");
    Ok(Some(META.finding(
        Some(&endpoint_operation(ep)),
        "suggestions",
        Severity::Low,
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
    use middlebrick_model::{GraphqlField, Inventory, RequestBody, RequestSpec, SpecVersion};

    fn endpoint() -> GraphqlEndpoint {
        let mut ep = GraphqlEndpoint {
            path: "/graphql".into(),
            query_type: "Query".into(),
            ..GraphqlEndpoint::default()
        };
        ep.types.insert(
            "Query".into(),
            vec![GraphqlField {
                name: "products".into(),
                type_name: "Product".into(),
                list: true,
                required_args: false,
            }],
        );
        ep
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.graphql.push(endpoint());
        inv
    }

    fn doc(r: &RequestSpec) -> String {
        match &r.body {
            Some(RequestBody::Json(v)) => v["query"].as_str().unwrap_or("").to_string(),
            _ => String::new(),
        }
    }

    const SCHEMA: &str = r#"{"data":{"__schema":{"queryType":{"name":"Query"},"types":[{"name":"Query"},{"name":"Product"},{"name":"AdminAuditLog"},{"name":"String"},{"name":"__Type"}]}}}"#;
    const REFUSED: &str = r#"{"data":null,"errors":[{"message":"GraphQL introspection has been disabled, but the requested query contained the field '__schema'."}]}"#;

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = inventory();
        GraphqlIntrospection
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn an_anonymous_schema_is_low_and_names_sensitive_types_as_information() {
        let probe = FakeProbe::new().on(
            |r| doc(r).contains("__schema"),
            response(200, "application/json", SCHEMA),
        );
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.severity, Severity::Low);
        assert!(f.description.contains("AdminAuditLog"), "{}", f.description);
        assert_eq!(f.evidence.exchanges.len(), 1);
        assert_eq!(probe.sent_count(), 1);
    }

    #[tokio::test]
    async fn a_schema_for_signed_in_callers_only_is_info_with_the_refusal_as_evidence() {
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(
                |r| r.identity == "alice" && doc(r).contains("__schema"),
                response(200, "application/json", SCHEMA),
            )
            .on(|_| true, response(200, "application/json", REFUSED));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].severity, Severity::Info);
        assert_eq!(out.findings[0].evidence.exchanges.len(), 2);
    }

    #[tokio::test]
    async fn suggestions_with_introspection_off_are_reported() {
        let probe = FakeProbe::new()
            .on(
                |r| doc(r) == "{productsz}",
                response(
                    200,
                    "application/json",
                    r#"{"data":null,"errors":[{"message":"Cannot query field 'productsz' on type 'Query'. Did you mean 'products'?"}]}"#,
                ),
            )
            .on(|_| true, response(200, "application/json", REFUSED));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("suggestions"));
        assert!(probe.sent_count() <= 3);
    }

    #[tokio::test]
    async fn introspection_and_suggestions_off_are_silent() {
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(
                |r| doc(r) == "{productsz}",
                response(
                    200,
                    "application/json",
                    r#"{"data":null,"errors":[{"message":"Cannot query field 'productsz' on type 'Query'."}]}"#,
                ),
            )
            .on(|_| true, response(200, "application/json", REFUSED));
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 3);
    }

    #[tokio::test]
    async fn a_catch_all_answer_that_is_not_the_schema_is_silent() {
        // The types do not include the query type the answer itself names.
        let probe = FakeProbe::new().on(
            |_| true,
            response(
                200,
                "application/json",
                r#"{"data":{"__schema":{"queryType":{"name":"Query"},"types":[]}}}"#,
            ),
        );
        assert!(run(&probe).await.findings.is_empty());
    }

    #[test]
    fn the_misspelling_keeps_the_name_as_a_prefix() {
        assert_eq!(misspelt("orders"), "ordersz");
    }
}

//! `graphql.console`: an in-browser GraphQL console (GraphiQL, GraphQL Playground, Altair) is
//! served to anonymous callers.
//!
//! Candidates: the console paths discovery saw for each endpoint, and the endpoint itself
//! (servers such as Strawberry and Graphene serve GraphiQL there to browsers). Each is asked
//! for anonymously with `Accept: text/html`. It is proven when the answer is a 2xx HTML page
//! carrying a console's own markers ([`SIGNATURES`]) AND differs from what random paths under
//! the same prefix get (`unlisted::NotFound`, learnt once per prefix), which must not carry the
//! markers themselves: a catch-all single-page app that answers every path with the same page
//! never fires. Budget: one request per candidate plus two per prefix.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::ProbeError;
use crate::unlisted::{from_origin, join, NotFound};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    RequestSpec, Severity, Tech, ANONYMOUS,
};
use std::collections::HashMap;

#[derive(Debug)]
pub struct GraphqlConsole;

/// Lower-cased texts that the consoles' pages carry (script names, globals, element ids).
const SIGNATURES: &[(&str, &str)] = &[
    ("graphiql", "GraphiQL"),
    ("graphql-playground", "GraphQL Playground"),
    ("graphqlplayground", "GraphQL Playground"),
    ("altair-graphql", "Altair"),
    ("altairgraphql", "Altair"),
    ("altair-static", "Altair"),
    ("apollo-sandbox", "Apollo Sandbox"),
    ("embeddable-sandbox", "Apollo Sandbox"),
];

static META: CheckMeta = CheckMeta {
    id: CheckId::GraphqlConsole,
    title: "GraphQL console served in production",
    description: "Asks each GraphQL endpoint and each console path discovery saw for an HTML \
        page, anonymously. Fires when a page carries a GraphiQL, GraphQL Playground, Altair or \
        Apollo Sandbox console and differs from what random paths under the same prefix get \
        (which must not carry it), so a catch-all single-page app never fires.",
    cwe: &[489, 200],
    owasp: &[Owasp::Api8],
    severity: Severity::Low,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Serve interactive GraphQL consoles only in development builds: turn the IDE \
            off in production configuration, and if a console is needed there, put it behind \
            your own authentication on a separate route. A console makes exploring the schema \
            and crafting queries easy for anyone who finds it.",
        variants: &[
            (
                Tech::Flask,
                "Graphene (`graphql-server`'s Flask view): `GraphQLView.as_view(\"graphql\", \
                schema=schema, graphiql=app.debug)`; Ariadne: \
                `GraphQL(schema, explorer=ExplorerPlayground() if app.debug else None)` (or \
                no explorer at all) in the view that serves GET.",
            ),
            (
                Tech::FastApi,
                "Strawberry: `GraphQLRouter(schema, graphql_ide=None)` in production (older \
                releases: `graphiql=False`); Ariadne's ASGI app: `GraphQL(schema, \
                explorer=None)`; remove any `/playground` or `/altair` route you mounted \
                yourself.",
            ),
        ],
    },
};

#[async_trait]
impl Check for GraphqlConsole {
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
            method: Method::Get,
            identity: ANONYMOUS,
            purpose: "the console page, and random paths for the not-found baseline",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut out = Outcome::none();
        let mut candidates: Vec<String> = Vec::new();
        for ep in &ctx.inventory.graphql {
            for p in ep.consoles.iter().chain(std::iter::once(&ep.path)) {
                if !candidates.contains(p) {
                    candidates.push(p.clone());
                }
            }
        }
        let base = ctx.probe.api_base_path();
        let mut baselines: HashMap<String, Option<NotFound>> = HashMap::new();
        for path in candidates {
            match judge(ctx, &base, &path, &mut baselines).await {
                Ok(Some(f)) => out.findings.push(f),
                Ok(None) => {}
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => {}
            }
        }
        out
    }
}

/// The console a page carries, by its markers.
fn console_in(ex: &Exchange) -> Option<&'static str> {
    let resp = ex.response.as_ref()?;
    let html = resp.media_type().is_some_and(|m| m.contains("html"));
    if !resp.is_success() || !html {
        return None;
    }
    let lower = resp.body.text.to_ascii_lowercase();
    SIGNATURES
        .iter()
        .find(|(marker, _)| lower.contains(marker))
        .map(|(_, name)| *name)
}

/// The origin path's parent (`/api/graphiql` → `/api`; `/graphql` → ``).
fn parent(origin: &str) -> String {
    origin
        .trim_end_matches('/')
        .rsplit_once('/')
        .map_or(String::new(), |(p, _)| p.to_string())
}

async fn judge(
    ctx: &RunCtx<'_>,
    base: &str,
    path: &str,
    baselines: &mut HashMap<String, Option<NotFound>>,
) -> Result<Option<middlebrick_model::Finding>, ProbeError> {
    let origin = join(base, path);
    let req = RequestSpec::new(Method::Get, from_origin(base, &origin))
        .as_identity(ANONYMOUS)
        .header("Accept", "text/html");
    let page = ctx.probe.send(req).await?;
    let Some(console) = console_in(&page) else {
        return Ok(None);
    };
    let prefix = parent(&origin);
    if !baselines.contains_key(&prefix) {
        let learnt = NotFound::learn(ctx.probe, base, &prefix).await?;
        baselines.insert(prefix.clone(), learnt);
    }
    let Some(Some(not_found)) = baselines.get(&prefix) else {
        return Ok(None);
    };
    let random_has_it = not_found.exchanges.iter().any(|e| console_in(e).is_some());
    if random_has_it || !not_found.answered_for_real(&page) {
        return Ok(None);
    }
    let description = format!(
        "`GET {path}` serves a {console} page to an anonymous caller, while random paths \
         under the same prefix do not: an interactive console for exploring the schema and \
         sending queries is live."
    );
    let mut exchanges = vec![page];
    exchanges.extend(not_found.exchanges.iter().take(1).cloned());
    let evidence = Evidence::new(exchanges)
        .note("the console page, then a random path's answer under the same prefix");
    let op = Operation::new(Method::Get, path.to_string());
    Ok(Some(META.finding(
        Some(&op),
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
    use crate::similarity::response;
    use middlebrick_model::{GraphqlEndpoint, Inventory, SpecVersion};

    const GRAPHIQL: &str = r#"<!DOCTYPE html><html><head><title>Strawberry GraphiQL</title><link rel="stylesheet" href="https://unpkg.com/graphiql/graphiql.min.css"/></head><body><div id="graphiql">Loading...</div><script src="https://unpkg.com/graphiql/graphiql.min.js"></script></body></html>"#;

    async fn run(probe: &FakeProbe, consoles: &[&str]) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.graphql.push(GraphqlEndpoint {
            path: "/graphql".into(),
            consoles: consoles.iter().map(|c| c.to_string()).collect(),
            ..GraphqlEndpoint::default()
        });
        GraphqlConsole
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn a_graphiql_page_that_random_paths_do_not_get_is_reported() {
        let probe = FakeProbe::new()
            .on(
                |r| r.path == "/graphql",
                response(200, "text/html; charset=utf-8", GRAPHIQL),
            )
            .on(
                |_| true,
                response(404, "application/json", r#"{"detail":"Not Found"}"#),
            );
        let out = run(&probe, &[]).await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].description.contains("GraphiQL"));
        assert_eq!(out.findings[0].path.as_deref(), Some("/graphql"));
        assert_eq!(probe.sent_count(), 3);
    }

    #[tokio::test]
    async fn a_catch_all_spa_carrying_the_marker_everywhere_is_silent() {
        let probe = FakeProbe::new().on(|_| true, response(200, "text/html", GRAPHIQL));
        assert!(run(&probe, &["/playground"]).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_json_answer_or_a_page_without_a_console_is_silent() {
        let probe = FakeProbe::new()
            .on(
                |r| r.path == "/graphql",
                response(
                    200,
                    "application/json",
                    r#"{"errors":[{"message":"Must provide query string."}]}"#,
                ),
            )
            .on(
                |r| r.path == "/playground",
                response(200, "text/html", "<html><body>Welcome</body></html>"),
            )
            .on(|_| true, response(404, "text/html", "not found"));
        assert!(run(&probe, &["/playground"]).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 2, "no baseline without a console page");
    }

    #[test]
    fn the_parent_of_an_origin_path() {
        assert_eq!(parent("/api/graphiql"), "/api");
        assert_eq!(parent("/graphql"), "");
    }
}

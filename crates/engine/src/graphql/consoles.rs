//! In-browser GraphQL consoles (GraphiQL, GraphQL Playground, Altair, Apollo's sandbox),
//! recognised by what their page loads, never by a path answering 200: a single-page app's
//! catch-all answers every path with the same shell.

use super::Who;
use middlebrick_http::Transport;
use middlebrick_model::{GraphqlEndpoint, Method};
use url::Url;

/// Pages consoles are commonly served at besides the endpoint itself.
const CONSOLE_PATHS: &[&str] = &["/graphiql", "/playground", "/altair", "/console"];

/// Marks of a console page, lower-cased: the libraries' script, style and element names.
const MARKERS: &[&str] = &[
    "graphiql.min.js",
    "graphiql.css",
    "graphiql.min.css",
    "id=\"graphiql\"",
    "graphiql.createfetcher",
    "reactdom.render(react.createelement(graphiql",
    "graphql-playground",
    "graphqlplayground.init",
    "altair-static",
    "altairgraphql.init",
    "embeddable-sandbox",
    "apollo-server-landing-page",
];

/// True when `body` is an HTML page that loads a GraphQL console.
pub(crate) fn is_console(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    let html = lower.trim_start().starts_with("<!doctype html") || lower.contains("<html");
    html && MARKERS.iter().any(|m| lower.contains(m))
}

/// Looks for consoles on each endpoint (a browser GET) and at the common console paths, within
/// `budget` requests, and files each under the endpoint its page names (else the first).
pub(super) async fn find(
    t: &Transport,
    base: &Url,
    found: &mut [(GraphqlEndpoint, Url, bool)],
    budget: u64,
) {
    if found.is_empty() {
        return;
    }
    let mut pages: Vec<String> = found.iter().map(|(ep, _, _)| ep.path.clone()).collect();
    for p in CONSOLE_PATHS {
        if !pages.iter().any(|x| x == p) {
            pages.push(p.to_string());
        }
    }
    let start = t.requests_sent();
    for path in pages {
        if t.requests_sent() - start >= budget {
            break;
        }
        let url = super::endpoint_url(base, &path);
        let mut out = Who::anonymous().outgoing(Method::Get, url, None);
        out.headers = vec![("Accept".into(), "text/html".into())];
        out.follow_redirects = true;
        let Ok(ex) = t.send(out).await else { break };
        let Some(resp) = ex.response.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        if !is_console(&resp.body.text) {
            continue;
        }
        let named = found
            .iter()
            .position(|(ep, _, _)| ep.path == path || names_endpoint(&resp.body.text, &ep.path));
        let (ep, _, _) = &mut found[named.unwrap_or(0)];
        if !ep.consoles.contains(&path) {
            ep.consoles.push(path);
        }
    }
}

/// The page sends its queries to `path` (`fetch("/graphql"`, `endpoint: '/api/graphql'`).
fn names_endpoint(body: &str, path: &str) -> bool {
    ['"', '\'', '`']
        .iter()
        .any(|q| body.contains(&format!("{q}{path}{q}")))
}

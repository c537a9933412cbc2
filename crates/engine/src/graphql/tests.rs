//! Discovery and schema reading against a small real GraphQL server on loopback (raw HTTP on a
//! tokio listener): introspection open, open only to a signed-in caller, or off with
//! graphql-core's validation errors; and a single-page app that answers 200 to everything.

use super::*;
use middlebrick_http::TransportConfig;
use middlebrick_model::{GraphqlKind, SpecVersion};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Open,
    SignedInOnly,
    Closed,
    Spa,
}

const TOKEN: &str = "Bearer good-token";

fn schema() -> Value {
    let t = |kind: &str, name: &str| json!({"kind": kind, "name": name, "ofType": null});
    json!({"data": {"__schema": {
    "queryType": {"name": "Query"}, "mutationType": {"name": "Mutation"}, "subscriptionType": null,
    "types": [
        {"kind": "OBJECT", "name": "Query", "fields": [
            {"name": "me", "args": [], "type": t("OBJECT", "User")},
            {"name": "user", "args": [{"name": "id", "defaultValue": null,
                "type": {"kind": "NON_NULL", "name": null, "ofType": t("SCALAR", "ID")}}],
             "type": t("OBJECT", "User")}]},
        {"kind": "OBJECT", "name": "Mutation", "fields": [
            {"name": "rename", "args": [{"name": "name", "defaultValue": null, "type": t("SCALAR", "String")}],
             "type": t("OBJECT", "User")}]},
        {"kind": "OBJECT", "name": "User", "fields": [
            {"name": "id", "args": [], "type": t("SCALAR", "ID")},
            {"name": "name", "args": [], "type": t("SCALAR", "String")}]}
    ]}}})
}

/// Validation errors the way graphql-core words them, for a schema whose query type has `me:
/// User` and whose `User` has `id` and `name`; the sentinel and unknown names are refused.
fn validation_errors(doc: &str) -> Value {
    let tokens: Vec<&str> = doc.split_whitespace().collect();
    let (on, words): (&str, Vec<&str>) = match tokens.get(2) {
        Some(&"me") if tokens.get(3) == Some(&"{") => ("User", tokens[4..].to_vec()),
        _ => ("Query", tokens[2..].to_vec()),
    };
    let known: &[&str] = if on == "User" {
        &["id", "name"]
    } else {
        &["me"]
    };
    let mut errors = Vec::new();
    for w in words.into_iter().filter(|w| *w != "}") {
        if known.contains(&w) {
            if w == "me" {
                errors.push(json!({"message": "Field 'me' of type 'User' must have a selection of subfields. Did you mean 'me { ... }'?"}));
            }
        } else if w == "mo" || w == "ne" {
            errors.push(json!({"message": format!("Cannot query field '{w}' on type '{on}'. Did you mean 'me'?")}));
        } else {
            errors.push(json!({"message": format!("Cannot query field '{w}' on type '{on}'.")}));
        }
    }
    if doc.starts_with("mutation") {
        return json!({"data": null, "errors": [{"message": "Schema is not configured to execute mutation operation."}]});
    }
    json!({"data": null, "errors": errors})
}

fn answer(kind: Server, head: &str, body: &str) -> (&'static str, &'static str, String) {
    let request_line = head.lines().next().unwrap_or("");
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let url = Url::parse(&format!("http://h{target}")).unwrap();
    let html = "text/html";
    let json_ct = "application/json";
    if kind == Server::Spa {
        return ("200 OK", html, "<html><body>shell</body></html>".into());
    }
    let authorised = head
        .to_ascii_lowercase()
        .contains(&TOKEN.to_ascii_lowercase());
    let post = request_line.starts_with("POST");
    let doc: Option<String> = if post {
        if head
            .to_ascii_lowercase()
            .contains("content-type: application/graphql")
        {
            Some(body.to_string())
        } else {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Array(items)) => {
                    let out: Vec<Value> = items
                        .iter()
                        .map(|_| json!({"data": {"__typename": "Query"}}))
                        .collect();
                    return ("200 OK", json_ct, Value::Array(out).to_string());
                }
                Ok(v) => v["query"].as_str().map(str::to_string),
                Err(_) => None,
            }
        }
    } else {
        url.query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
    };
    match (url.path(), doc) {
        ("/graphiql", None) if !post => (
            "200 OK",
            html,
            r#"<!DOCTYPE html><html><head><link href="https://unpkg.com/graphiql/graphiql.min.css" rel="stylesheet"/></head><body><div id="graphiql"></div><script>const fetcher = GraphiQL.createFetcher({ url: "/graphql" });</script></body></html>"#.into(),
        ),
        ("/graphql", Some(doc)) if doc == TYPENAME_QUERY => (
            "200 OK",
            json_ct,
            json!({"data": {"__typename": "Query"}}).to_string(),
        ),
        ("/graphql", Some(doc)) if doc.contains("__schema") => {
            if kind == Server::Open || (kind == Server::SignedInOnly && authorised) {
                ("200 OK", json_ct, schema().to_string())
            } else {
                (
                    "200 OK",
                    json_ct,
                    json!({"data": null, "errors": [{"message": "GraphQL introspection has been disabled"}]}).to_string(),
                )
            }
        }
        ("/graphql", Some(doc)) => ("200 OK", json_ct, validation_errors(&doc).to_string()),
        ("/graphql", None) => ("400 Bad Request", json_ct, r#"{"errors":[{"message":"Must provide query string."}]}"#.into()),
        _ => ("404 Not Found", json_ct, r#"{"detail":"Not Found"}"#.into()),
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                return (head, body);
            }
        }
    }
    (String::from_utf8_lossy(&buf).to_string(), String::new())
}

async fn server(kind: Server) -> (Url, Arc<AtomicUsize>) {
    let (url, hits, _) = server_counting_posts(kind).await;
    (url, hits)
}

/// [`server`], and how many of the requests were POSTs.
async fn server_counting_posts(kind: Server) -> (Url, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let post_counter = posts.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let post_counter = post_counter.clone();
            tokio::spawn(async move {
                let (head, body) = read_request(&mut sock).await;
                if head.starts_with("POST ") {
                    post_counter.fetch_add(1, Ordering::SeqCst);
                }
                let (status, ct, text) = answer(kind, &head, &body);
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (Url::parse(&format!("http://{addr}")).unwrap(), hits, posts)
}

fn transport(target: &Url) -> Transport {
    let mut cfg = TransportConfig::new(target.clone());
    cfg.rate_per_host = None;
    Transport::new(cfg).unwrap()
}

fn keys(inv: &Inventory) -> Vec<String> {
    inv.operations.iter().map(Operation::key).collect()
}

#[tokio::test]
async fn an_open_endpoint_is_confirmed_described_and_introspected_anonymously() {
    let (target, _) = server(Server::Open).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let (pending, notes) = discover(&t, &target, &mut inv, None, true, true).await;
    assert!(pending.is_empty());
    assert_eq!(inv.graphql.len(), 1);
    let ep = &inv.graphql[0];
    assert_eq!(ep.path, "/graphql");
    assert_eq!(ep.query_type, "Query");
    assert!(ep.get_queries && ep.batching && ep.graphql_content_type);
    assert_eq!(ep.introspected_as.as_deref(), Some(ANONYMOUS));
    assert!(!ep.from_suggestions);
    assert_eq!(ep.consoles, vec!["/graphiql"]);
    assert!(ep.types.contains_key("User"));
    assert_eq!(
        keys(&inv),
        vec![
            "POST /graphql query me",
            "POST /graphql query user",
            "POST /graphql mutation rename"
        ]
    );
    assert!(
        notes[0].message.contains("2 queries, 1 mutations"),
        "{}",
        notes[0].message
    );
    let sent = t.requests_sent();
    eprintln!("FIGURES open endpoint: {sent} requests");
    assert!(sent <= LOCATE_BUDGET + 4, "{sent}");
}

#[tokio::test]
async fn passive_discovery_confirms_and_introspects_over_get_only() {
    let (target, _) = server(Server::Open).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let (pending, _) = discover(&t, &target, &mut inv, None, false, false).await;
    assert!(pending.is_empty());
    let ep = &inv.graphql[0];
    assert!(ep.get_queries && !ep.batching && !ep.graphql_content_type);
    assert_eq!(inv.operations.len(), 3);
}

#[tokio::test]
async fn a_schema_refused_to_anonymous_callers_is_read_as_a_signed_in_identity() {
    let (target, _) = server(Server::SignedInOnly).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let (pending, notes) = discover(&t, &target, &mut inv, None, true, true).await;
    assert_eq!(pending.len(), 1);
    assert!(notes.is_empty());
    assert!(inv.operations.is_empty());
    let alice = Who {
        name: "alice".into(),
        headers: vec![("Authorization".into(), TOKEN.into())],
        query: Vec::new(),
    };
    let notes = read_pending(&t, &mut inv, pending, &[alice], true).await;
    assert_eq!(inv.graphql[0].introspected_as.as_deref(), Some("alice"));
    assert_eq!(inv.operations.len(), 3);
    assert!(
        notes[0].message.contains("as identity `alice`"),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn a_schema_with_introspection_off_is_rebuilt_from_suggestions() {
    let (target, _) = server(Server::Closed).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let (pending, _) = discover(&t, &target, &mut inv, None, true, true).await;
    let before = t.requests_sent();
    let notes = read_pending(&t, &mut inv, pending, &[], true).await;
    let spent = t.requests_sent() - before;
    eprintln!("FIGURES rebuild: {spent} requests");
    assert!(spent as usize <= SUGGESTION_BUDGET + 1);
    let ep = &inv.graphql[0];
    assert!(ep.from_suggestions && ep.introspected_as.is_none());
    assert_eq!(keys(&inv), vec!["POST /graphql query me"]);
    let me = inv.operations[0].graphql.as_ref().unwrap();
    assert_eq!(me.kind, GraphqlKind::Query);
    assert_eq!(me.selection, "{ id name }");
    assert_eq!(notes[0].code, "graphql.rebuilt");
    assert!(
        notes[0].message.starts_with(
            "GraphQL schema at /graphql rebuilt from field suggestions: 1 queries, 0 mutations; introspection is disabled"
        ),
        "{}",
        notes[0].message
    );
}

#[tokio::test]
async fn a_catch_all_page_is_no_graphql_endpoint_and_costs_at_most_the_budget() {
    let (target, hits) = server(Server::Spa).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let (pending, notes) = discover(&t, &target, &mut inv, None, true, true).await;
    assert!(pending.is_empty() && notes.is_empty() && inv.graphql.is_empty());
    let sent = hits.load(Ordering::SeqCst) as u64;
    eprintln!("FIGURES catch-all: {sent} requests");
    assert!(sent <= LOCATE_BUDGET, "{sent}");
}

#[tokio::test]
async fn safe_mode_posts_only_to_an_endpoint_get_confirmed() {
    // A catch-all answers everything: GET confirms nothing, so safe mode POSTs nothing.
    let (target, _, posts) = server_counting_posts(Server::Spa).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    discover(&t, &target, &mut inv, None, true, false).await;
    assert!(inv.graphql.is_empty());
    assert_eq!(
        posts.load(Ordering::SeqCst),
        0,
        "no POST to an unconfirmed path"
    );
    // A real endpoint: confirmed over GET, then POSTed queries (reads) are fine.
    let (target, _, posts) = server_counting_posts(Server::Open).await;
    let t = transport(&target);
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    discover(&t, &target, &mut inv, None, true, false).await;
    assert_eq!(inv.graphql.len(), 1);
    assert!(posts.load(Ordering::SeqCst) > 0);
}

#[test]
fn endpoints_named_in_a_spec_or_linked_from_a_page_are_candidates() {
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![
        Operation::new(Method::Post, "/api/graphql"),
        Operation::new(Method::Get, "/items/{id}"),
        Operation::new(Method::Post, "/v2/gql/"),
        Operation::new(Method::Post, "/graphqlish/other"),
    ];
    assert_eq!(named_in_inventory(&inv), vec!["/api/graphql", "/v2/gql"]);
    let base = Url::parse("http://h:1/app").unwrap();
    let page = Exchange {
        identity: ANONYMOUS.into(),
        request: middlebrick_model::RequestRecord {
            method: Method::Get,
            url: "http://h:1/app/".into(),
            headers: Vec::new(),
            body: None,
        },
        response: Some(middlebrick_model::ResponseRecord {
            status: 200,
            headers: Vec::new(),
            body: middlebrick_model::BodyRecord {
                text: r#"<a href="/app/data/graphql">api</a><a href="http://other:2/graphql">x</a><a href="/app/about">a</a>"#.into(),
                size: 0,
                truncated: false,
            },
            graphql_field: None,
        }),
        redirects: Vec::new(),
        error: None,
        elapsed_ms: 1,
    };
    assert_eq!(linked_in_page(Some(&page), &base), vec!["/data/graphql"]);
}

#[test]
fn console_pages_are_recognised_by_what_they_load() {
    assert!(consoles::is_console(
        r#"<!DOCTYPE html><html><script src="//cdn.jsdelivr.net/npm/graphql-playground-react/build/static/js/middleware.js"></script></html>"#
    ));
    assert!(consoles::is_console(
        "<html><body><script>AltairGraphQL.init({endpointURL: '/graphql'})</script></body></html>"
    ));
    assert!(!consoles::is_console(
        "<html><body>Our GraphQL API docs</body></html>"
    ));
    assert!(!consoles::is_console(r#"{"graphiql.min.js": true}"#));
}

//! Finding the operations when no spec was given: the well-known places where frameworks
//! publish their description (FastAPI `/openapi.json`, Flasgger `/apispec_1.json`, Spring
//! `/v3/api-docs`, …), the spec URL inside Swagger UI and ReDoc pages or the spec they carry
//! inline (in the page or its set-up script, as swagger-ui-express does), the spec beside a
//! versioned API mount (`/api/v2/openapi.json`), and failing all of these, a
//! bounded crawl of links found in answers plus a short list of common API paths. A crawl's
//! coverage is partial and the report says so.

use middlebrick_http::{Outgoing, Transport};
use middlebrick_model::{
    Diagnostic, Exchange, Inventory, Method, Operation, SpecVersion, ANONYMOUS,
};
use middlebrick_spec::discover::{
    inline_spec, looks_like_spec, script_srcs, spec_urls_in_html, WELL_KNOWN_SPEC_PATHS,
};
use std::collections::{HashSet, VecDeque};
use url::Url;

/// Pages that often embed Swagger UI or ReDoc.
const DOC_PAGES: &[&str] = &[
    "/docs",
    "/apidocs/",
    "/swagger-ui/",
    "/swagger-ui.html",
    "/redoc",
    "/api/docs",
    "/",
];

/// Version prefixes APIs are mounted under, whose own spec a spec-first framework (connexion,
/// many generators) serves beside the operations rather than at the root; tried last, with the
/// three most common file names only.
const API_PREFIXES: &[&str] = &["/api", "/api/v1", "/api/v2", "/api/v3", "/v1", "/v2", "/v3"];
const PREFIXED_SPEC_NAMES: &[&str] = &["/openapi.json", "/swagger.json", "/openapi.yaml"];

/// The spec under each API prefix, below the target's path; the well-known list already holds
/// some of these, which [`find_spec`] does not ask twice.
fn prefixed_candidates(target: &Url) -> Vec<Url> {
    let base = target.path().trim_end_matches('/').to_string();
    let mut out = Vec::new();
    for prefix in API_PREFIXES {
        for name in PREFIXED_SPEC_NAMES {
            let mut u = target.clone();
            u.set_path(&format!("{base}{prefix}{name}"));
            u.set_query(None);
            out.push(u);
        }
    }
    out
}

/// Where a crawl starts besides the target itself.
const COMMON_PATHS: &[&str] = &[
    "/api",
    "/api/v1",
    "/api/v2",
    "/v1",
    "/v2",
    "/health",
    "/healthz",
    "/status",
    "/version",
    "/api/health",
    "/api/status",
    "/users",
    "/api/users",
    "/me",
    "/api/me",
    "/items",
    "/api/items",
    "/products",
    "/api/products",
    "/orders",
    "/api/orders",
    "/accounts",
    "/api/accounts",
];

pub fn get(url: Url) -> Outgoing {
    Outgoing {
        method: Method::Get,
        url,
        headers: vec![(
            "Accept".into(),
            "application/json, application/yaml, text/html;q=0.5, */*;q=0.1".into(),
        )],
        credentials: Vec::new(),
        body: None,
        identity: ANONYMOUS.into(),
        follow_redirects: true,
        retry_throttled: true,
    }
}

/// Candidate spec URLs: the target itself, well-known paths under the target's path and under
/// the origin root, without duplicates, in that order.
fn candidates(target: &Url) -> Vec<Url> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |u: Url, out: &mut Vec<Url>| {
        if seen.insert(u.to_string()) {
            out.push(u);
        }
    };
    let prefix = target.path().trim_end_matches('/').to_string();
    if !prefix.is_empty() {
        push(target.clone(), &mut out);
    }
    for base in [prefix.as_str(), ""] {
        for p in WELL_KNOWN_SPEC_PATHS {
            let mut u = target.clone();
            u.set_path(&format!("{base}{p}"));
            u.set_query(None);
            push(u, &mut out);
        }
        if prefix.is_empty() {
            break;
        }
    }
    out
}

/// The spec found on the target, with the URL it came from and the exchanges tried.
pub async fn find_spec(
    spec_transport: &Transport,
    target: &Url,
) -> (Option<(Inventory, String)>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let first = candidates(target);
    for url in &first {
        let Ok(ex) = spec_transport.send(get(url.clone())).await else {
            break;
        };
        if let Some(inv) = as_spec(&ex, url, &mut diagnostics) {
            return (Some((inv, url.to_string())), diagnostics);
        }
    }
    for url in doc_pages(target) {
        let Ok(ex) = spec_transport.send(get(url.clone())).await else {
            break;
        };
        let Some(resp) = ex.response.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        // Relative links resolve against where the page was served after redirects
        // (`/docs` -> `/docs/`).
        let page = Url::parse(&ex.request.url).unwrap_or(url);
        if let Some(found) =
            spec_from_page(spec_transport, &page, &resp.body.text, &mut diagnostics).await
        {
            return (Some(found), diagnostics);
        }
    }
    for url in prefixed_candidates(target) {
        if first.contains(&url) {
            continue;
        }
        let Ok(ex) = spec_transport.send(get(url.clone())).await else {
            break;
        };
        if let Some(inv) = as_spec(&ex, &url, &mut diagnostics) {
            return (Some((inv, url.to_string())), diagnostics);
        }
    }
    (None, diagnostics)
}

/// The documentation pages to read, under the target's path first, then at the origin root.
fn doc_pages(target: &Url) -> Vec<Url> {
    let prefix = target.path().trim_end_matches('/').to_string();
    let mut out: Vec<Url> = Vec::new();
    for base in [prefix.as_str(), ""] {
        for page in DOC_PAGES {
            let mut u = target.clone();
            u.set_path(&format!("{base}{page}"));
            u.set_query(None);
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

/// Scripts of a documentation page that may set Swagger UI up with an inline spec; library
/// bundles are skipped.
const MAX_SET_UP_SCRIPTS: usize = 2;

/// The spec a documentation page names (a URL), writes inline, or hands to a set-up script of
/// its own that writes it inline (swagger-ui-express's `swagger-ui-init.js`).
async fn spec_from_page(
    t: &Transport,
    page: &Url,
    html: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Inventory, String)> {
    for found in spec_urls_in_html(html) {
        let Ok(spec_url) = page.join(&found) else {
            continue;
        };
        if !t.in_scope(&spec_url) {
            diagnostics.push(Diagnostic::warning(
                "discovery.out-of-scope-spec",
                format!(
                    "{page} points to a spec at {spec_url}, outside the scan's scope; not fetched"
                ),
            ));
            continue;
        }
        if let Ok(ex) = t.send(get(spec_url.clone())).await {
            if let Some(inv) = as_spec(&ex, &spec_url, diagnostics) {
                return Some((inv, spec_url.to_string()));
            }
        }
    }
    if let Some(found) = inline(html, page, diagnostics) {
        return Some(found);
    }
    let scripts = script_srcs(html)
        .into_iter()
        .filter_map(|src| page.join(&src).ok())
        .filter(|u| t.in_scope(u))
        .filter(|u| {
            let name = u
                .path()
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            name.contains("init") && !name.contains("bundle")
        })
        .take(MAX_SET_UP_SCRIPTS);
    for script in scripts {
        let Ok(ex) = t.send(get(script.clone())).await else {
            break;
        };
        if let Some(resp) = ex.response.as_ref().filter(|r| r.is_success()) {
            if let Some(found) = inline(&resp.body.text, &script, diagnostics) {
                return Some(found);
            }
        }
    }
    None
}

fn inline(text: &str, at: &Url, diagnostics: &mut Vec<Diagnostic>) -> Option<(Inventory, String)> {
    let spec = inline_spec(text)?;
    match middlebrick_spec::load_bytes(spec.as_bytes(), at.as_str()) {
        Ok(inv) => Some((inv, at.to_string())),
        Err(e) => {
            diagnostics.push(Diagnostic::warning(
                "discovery.unusable-spec",
                format!("{at} writes an API description inline that could not be used: {e}"),
            ));
            None
        }
    }
}

fn as_spec(ex: &Exchange, url: &Url, diagnostics: &mut Vec<Diagnostic>) -> Option<Inventory> {
    let resp = ex.response.as_ref().filter(|r| r.is_success())?;
    if resp.body.truncated || !looks_like_spec(resp.body.text.as_bytes()) {
        return None;
    }
    match middlebrick_spec::load_bytes(resp.body.text.as_bytes(), url.as_str()) {
        Ok(inv) => Some(inv),
        Err(e) => {
            diagnostics.push(Diagnostic::warning(
                "discovery.unusable-spec",
                format!("{url} looks like an API description but could not be used: {e}"),
            ));
            None
        }
    }
}

/// Crawls from the target and the common paths, following links in answers, and turns every
/// path that answered (2xx, 401, 403, 405) into a GET operation. Links whose path is named
/// for a state change are left alone.
pub async fn crawl(transport: &Transport, target: &Url, limit: usize) -> Inventory {
    let mut inv = Inventory::empty(SpecVersion::Crawled);
    let mut queue: VecDeque<Url> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut enqueue = |u: Url, queue: &mut VecDeque<Url>| {
        let key = u.path().trim_end_matches('/').to_string();
        if seen.insert(key) {
            queue.push_back(u);
        }
    };
    enqueue(target.clone(), &mut queue);
    let prefix = target.path().trim_end_matches('/').to_string();
    for p in COMMON_PATHS {
        let mut u = target.clone();
        u.set_path(&format!("{prefix}{p}"));
        enqueue(u, &mut queue);
    }
    let mut fetched = 0;
    while let Some(url) = queue.pop_front() {
        if fetched >= limit {
            break;
        }
        fetched += 1;
        let Ok(ex) = transport.send(get(url.clone())).await else {
            break;
        };
        let Some(resp) = ex.response.as_ref() else {
            continue;
        };
        if matches!(resp.status, 200..=299 | 401 | 403 | 405) {
            let path = url.path().to_string();
            let rel = path
                .strip_prefix(&prefix)
                .filter(|p| p.starts_with('/'))
                .unwrap_or(&path);
            let mut op = Operation::new(Method::Get, rel.to_string());
            op.source = Some(format!("crawl:{url}"));
            inv.operations.push(op);
        }
        if resp.is_success() {
            for link in links_in(&resp.body.text) {
                if let Ok(u) = url.join(&link) {
                    // A link named for a state change (`/admin/reset`, `/logout`) is never
                    // followed: a crawl only reads (`model::danger`).
                    if transport.in_scope(&u)
                        && u.path().starts_with(&prefix)
                        && !middlebrick_model::danger::path_signals_state_change(u.path())
                    {
                        let mut u = u;
                        u.set_query(None);
                        u.set_fragment(None);
                        enqueue(u, &mut queue);
                    }
                }
            }
        }
    }
    inv.diagnostics.push(Diagnostic::warning(
        "discovery.crawled",
        format!(
            "no OpenAPI description was found; {} operations were found by crawling {} pages, so coverage is partial",
            inv.operations.len(),
            fetched
        ),
    ).hint("pass --spec with the API's OpenAPI description for full coverage"));
    inv
}

/// Paths and same-site URLs in a JSON or HTML answer: JSON strings that look like paths or
/// URLs, and `href`/`src` attributes.
pub(crate) fn links_in(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        collect_json_links(&v, &mut out, &mut 2_000);
    } else {
        for attr in ["href=\"", "src=\"", "href='", "src='"] {
            let quote = attr.chars().last().unwrap_or('"');
            for part in body.split(attr).skip(1) {
                if let Some(link) = part.split(quote).next() {
                    if link.starts_with('/') || link.starts_with("http") {
                        out.push(link.to_string());
                    }
                }
            }
        }
    }
    out.truncate(200);
    out
}

fn collect_json_links(v: &serde_json::Value, out: &mut Vec<String>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match v {
        serde_json::Value::String(s) => {
            let path_like =
                s.starts_with('/') && !s.starts_with("//") && !s.contains(' ') && s.len() < 200;
            let url_like =
                (s.starts_with("http://") || s.starts_with("https://")) && !s.contains(' ');
            if path_like || url_like {
                out.push(s.clone());
            }
        }
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|i| collect_json_links(i, out, budget)),
        serde_json::Value::Object(map) => map
            .values()
            .for_each(|i| collect_json_links(i, out, budget)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_target_prefix_and_root_without_duplicates() {
        let c = candidates(&Url::parse("http://127.0.0.1:5000/api").unwrap());
        assert_eq!(c[0].as_str(), "http://127.0.0.1:5000/api");
        assert!(c
            .iter()
            .any(|u| u.as_str() == "http://127.0.0.1:5000/api/openapi.json"));
        assert!(c
            .iter()
            .any(|u| u.as_str() == "http://127.0.0.1:5000/openapi.json"));
        let unique: HashSet<_> = c.iter().map(|u| u.to_string()).collect();
        assert_eq!(unique.len(), c.len());
    }

    #[test]
    fn documentation_pages_are_read_under_the_target_path_then_at_the_root() {
        let pages = doc_pages(&Url::parse("http://h:1/authz1").unwrap());
        assert_eq!(pages[0].as_str(), "http://h:1/authz1/docs");
        assert!(pages.iter().any(|u| u.as_str() == "http://h:1/docs"));
        let root = doc_pages(&Url::parse("http://h:1").unwrap());
        assert_eq!(root.len(), DOC_PAGES.len());
    }

    #[test]
    fn specs_beside_versioned_apis_are_tried_after_the_well_known_places() {
        let target = Url::parse("http://127.0.0.1:5000").unwrap();
        let c = prefixed_candidates(&target);
        assert!(c
            .iter()
            .any(|u| u.as_str() == "http://127.0.0.1:5000/api/v2/openapi.json"));
        assert_eq!(c.len(), API_PREFIXES.len() * PREFIXED_SPEC_NAMES.len());
        // Some are well-known already; find_spec skips those.
        let well_known = candidates(&target);
        assert!(c.iter().any(|u| well_known.contains(u)));
    }

    #[test]
    fn links_come_from_json_strings_and_html_attributes() {
        let json = r#"{"links": {"self": "/api/orders/1", "next": "http://h/api/orders?page=2"}, "note": "a / b"}"#;
        assert_eq!(
            links_in(json),
            vec!["/api/orders/1", "http://h/api/orders?page=2"]
        );
        let html =
            r#"<a href="/docs">d</a><script src='/static/x.js'></script><a href="mailto:x">"#;
        assert_eq!(links_in(html), vec!["/docs", "/static/x.js"]);
    }
}

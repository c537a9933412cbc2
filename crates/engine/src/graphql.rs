//! GraphQL endpoints in scope: found, confirmed, and their schema read into the inventory so
//! the plan covers each query and mutation like any other operation.
//!
//! Two passes, because a schema may be readable only when signed in and sign-in comes after
//! discovery. [`discover`] (discovery, anonymous) finds candidate paths (paths of the spec
//! named like GraphQL or taking `application/graphql`, links of the target's page, then a short
//! list of common mounts), confirms each by a differential no catch-all page passes
//! (`{__typename}` answered with `{"data":{"__typename":"Query"}}`, never a 200 alone), records
//! how the endpoint may be called (GET, `application/graphql`, batches) and its consoles, and
//! introspects anonymously. [`read_pending`] (after sign-in) introspects the endpoints that
//! refused anonymous callers as each signed-in identity, and where all are refused rebuilds
//! what it can from validation errors ("Did you mean …"), saying the schema is partial.
//!
//! Budget: at most [`LOCATE_BUDGET`] requests to find endpoints and consoles, four more per
//! endpoint found (GET, `application/graphql`, a batch, introspection), one introspection per
//! identity, and at most [`SUGGESTION_BUDGET`] documents for a rebuild. Candidates are tried
//! over GET first; safe mode POSTs only to an endpoint GET confirmed, and passive mode sends no
//! POST at all: endpoints are confirmed and read over GET, and no mutation document is sent.

use middlebrick_http::{Outgoing, Transport};
use middlebrick_model::{Diagnostic, Exchange, GraphqlEndpoint, Inventory, Method, RequestBody};
use middlebrick_model::{Operation, ANONYMOUS};
use middlebrick_spec::graphql::{
    parse_introspection, typename_of, GraphqlSchema, Rebuild, INTROSPECTION_QUERY, TYPENAME_QUERY,
};
use serde_json::{json, Value};
use url::Url;

mod consoles;
#[cfg(test)]
mod tests;

/// Where GraphQL servers are commonly mounted, under the API's base, most common first.
const COMMON_ENDPOINTS: &[&str] = &[
    "/graphql",
    "/api/graphql",
    "/graphql/v1",
    "/v1/graphql",
    "/api/v1/graphql",
    "/gql",
    "/query",
    "/graphiql",
];
/// Requests spent finding endpoints and consoles.
pub const LOCATE_BUDGET: u64 = 20;
/// Documents a rebuild from suggestions may send per endpoint.
pub const SUGGESTION_BUDGET: usize = 40;

/// Who a request goes as: anonymous, or an identity's credential headers and query pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Who {
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
}

impl Who {
    pub fn anonymous() -> Self {
        Who {
            name: ANONYMOUS.into(),
            ..Who::default()
        }
    }

    /// An identity's credentials as every request of the scan carries them.
    pub fn of(identity: &crate::identity::Identity) -> Self {
        Who {
            name: identity.name.clone(),
            headers: identity.credentials_taking((true, true)),
            query: identity.query_credentials(),
        }
    }

    fn outgoing(&self, method: Method, mut url: Url, body: Option<RequestBody>) -> Outgoing {
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        Outgoing {
            method,
            url,
            headers: vec![("Accept".into(), "application/json".into())],
            credentials: self.headers.clone(),
            body,
            identity: self.name.clone(),
            follow_redirects: false,
            retry_throttled: true,
        }
    }
}

/// An endpoint confirmed in discovery whose schema is still to be read.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Index into `Inventory::graphql`.
    index: usize,
    url: Url,
    /// POSTed JSON is answered (else only GET is).
    post: bool,
}

/// `base` + `path`, without a query.
fn endpoint_url(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    u.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Sends one document (POSTed JSON, or GET `?query=`) and reads the answer as JSON.
async fn ask(t: &Transport, url: &Url, post: bool, document: &str, who: &Who) -> Option<Value> {
    let out = if post {
        who.outgoing(
            Method::Post,
            url.clone(),
            Some(RequestBody::Json(json!({ "query": document }))),
        )
    } else {
        let mut u = url.clone();
        u.query_pairs_mut().append_pair("query", document);
        who.outgoing(Method::Get, u, None)
    };
    let ex = t.send(out).await.ok()?;
    ex.response.as_ref()?.json()
}

fn typename_in(ex: &Exchange) -> Option<String> {
    let v = ex.response.as_ref()?.json()?;
    typename_of(&v).map(str::to_string)
}

/// Confirms `url` as a GraphQL endpoint. GET `?query={__typename}` first: a read on any
/// server. A POSTed `{__typename}` follows only once GET confirmed the endpoint (a query to a
/// GraphQL server is a read), or, when `probe_post` (active modes), where GET confirmed nothing
/// but found something (not a 404): an unconfirmed POST to an unknown path may change state,
/// which safe mode never risks. Returns the query type's name, whether GET is answered and
/// whether POST is.
async fn confirm(
    t: &Transport,
    url: &Url,
    allow_post: bool,
    probe_post: bool,
) -> Option<(String, bool, bool)> {
    let who = Who::anonymous();
    let post = || async {
        let body = RequestBody::Json(json!({ "query": TYPENAME_QUERY }));
        t.send(who.outgoing(Method::Post, url.clone(), Some(body)))
            .await
            .ok()
    };
    let mut u = url.clone();
    u.query_pairs_mut().append_pair("query", TYPENAME_QUERY);
    let got = t.send(who.outgoing(Method::Get, u, None)).await.ok()?;
    if let Some(name) = typename_in(&got) {
        let posts = allow_post && post().await.is_some_and(|ex| typename_in(&ex).is_some());
        return Some((name, true, posts));
    }
    if !(allow_post && probe_post) || got.status().is_none_or(|s| s == 404) {
        return None;
    }
    let ex = post().await?;
    typename_in(&ex).map(|n| (n, false, true))
}

/// Paths of the inventory that name a GraphQL endpoint (`…/graphql`, `…/gql`) or take an
/// `application/graphql` body.
fn named_in_inventory(inv: &Inventory) -> Vec<String> {
    inv.operations
        .iter()
        .filter(|o| o.graphql.is_none() && !o.path.contains('{'))
        .filter(|o| {
            let last = o
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            last.ends_with("graphql")
                || last.ends_with("gql")
                || o.request_body
                    .as_ref()
                    .is_some_and(|b| b.content.keys().any(|k| k == "application/graphql"))
        })
        .map(|o| o.path.trim_end_matches('/').to_string())
        .collect()
}

/// Links of an HTML or JSON page that point under `base` to a path named like GraphQL.
fn linked_in_page(page: Option<&Exchange>, base: &Url) -> Vec<String> {
    let Some(resp) = page.and_then(|p| p.response.as_ref()) else {
        return Vec::new();
    };
    let Ok(at) = Url::parse(page.map(|p| p.request.url.as_str()).unwrap_or_default()) else {
        return Vec::new();
    };
    let prefix = base.path().trim_end_matches('/');
    crate::discover::links_in(&resp.body.text)
        .into_iter()
        .filter_map(|l| at.join(&l).ok())
        .filter(|u| u.origin() == base.origin())
        .filter_map(|u| {
            let rel = u
                .path()
                .strip_prefix(prefix)?
                .trim_end_matches('/')
                .to_string();
            let lower = rel.to_ascii_lowercase();
            (rel.starts_with('/') && (lower.ends_with("graphql") || lower.ends_with("gql")))
                .then_some(rel)
        })
        .collect()
}

/// Discovery's pass: finds and confirms endpoints, records what they accept and where their
/// consoles are, introspects anonymously, and appends the schemas read to `inv`. Returns the
/// endpoints whose schema is still unread and what the user should know.
pub async fn discover(
    t: &Transport,
    target: &Url,
    inv: &mut Inventory,
    page: Option<&Exchange>,
    allow_post: bool,
    probe_post: bool,
) -> (Vec<Pending>, Vec<Diagnostic>) {
    let base = crate::base::probe_base(target, &inv.base_path);
    let start = t.requests_sent();
    let spent = |t: &Transport| t.requests_sent() - start;
    let explicit: Vec<String> = named_in_inventory(inv)
        .into_iter()
        .chain(linked_in_page(page, &base))
        .collect();
    let mut tried: Vec<String> = Vec::new();
    let mut found: Vec<(GraphqlEndpoint, Url, bool)> = Vec::new();
    for (i, path) in explicit
        .iter()
        .map(String::as_str)
        .chain(COMMON_ENDPOINTS.iter().copied())
        .enumerate()
    {
        let common = i >= explicit.len();
        if tried.iter().any(|p| p == path)
            || spent(t) + 2 > LOCATE_BUDGET
            || (common && !found.is_empty())
        {
            continue;
        }
        tried.push(path.to_string());
        let url = endpoint_url(&base, path);
        if !t.in_scope(&url) {
            continue;
        }
        if let Some((query_type, get, post)) = confirm(t, &url, allow_post, probe_post).await {
            let ep = GraphqlEndpoint {
                path: path.to_string(),
                get_queries: get,
                query_type,
                ..GraphqlEndpoint::default()
            };
            found.push((ep, url, post));
        }
    }
    let budget_left = LOCATE_BUDGET.saturating_sub(spent(t));
    consoles::find(t, &base, &mut found, budget_left).await;
    let mut pending = Vec::new();
    let mut diagnostics = Vec::new();
    for (mut ep, url, post) in found {
        accepted_forms(t, &url, post, &mut ep).await;
        let index = inv.graphql.len();
        match introspect(t, &url, post, &Who::anonymous(), &ep.path).await {
            Some(schema) => {
                diagnostics.push(introspected_note(&ep.path, &schema, ANONYMOUS));
                ep.introspected_as = Some(ANONYMOUS.into());
                add_schema(inv, &mut ep, schema);
            }
            None => pending.push(Pending { index, url, post }),
        }
        inv.graphql.push(ep);
    }
    (pending, diagnostics)
}

/// `application/graphql` and batches, each tried with `{__typename}` (two requests at most;
/// only when POST is allowed and answered; whether GET is answered is known from [`confirm`]).
async fn accepted_forms(t: &Transport, url: &Url, post: bool, ep: &mut GraphqlEndpoint) {
    let who = Who::anonymous();
    if post {
        let raw = RequestBody::Raw {
            content_type: "application/graphql".into(),
            body: TYPENAME_QUERY.into(),
        };
        if let Ok(ex) = t
            .send(who.outgoing(Method::Post, url.clone(), Some(raw)))
            .await
        {
            ep.graphql_content_type = typename_in(&ex).is_some();
        }
        let batch = RequestBody::Json(json!([
            { "query": TYPENAME_QUERY },
            { "query": TYPENAME_QUERY }
        ]));
        if let Ok(ex) = t
            .send(who.outgoing(Method::Post, url.clone(), Some(batch)))
            .await
        {
            ep.batching = ex
                .response
                .as_ref()
                .and_then(|r| r.json())
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|a| a.len() == 2 && a.iter().all(|x| typename_of(x).is_some()));
        }
    }
}

/// The schema by introspection as `who`, or `None` when refused or unreadable.
async fn introspect(
    t: &Transport,
    url: &Url,
    post: bool,
    who: &Who,
    path: &str,
) -> Option<GraphqlSchema> {
    let answer = ask(t, url, post, INTROSPECTION_QUERY, who).await?;
    parse_introspection(&answer, path).ok()
}

fn introspected_note(path: &str, s: &GraphqlSchema, who: &str) -> Diagnostic {
    let as_whom = if who == ANONYMOUS {
        "anonymously".to_string()
    } else {
        format!("as identity `{who}` (anonymous callers were refused)")
    };
    Diagnostic::info(
        "graphql.schema",
        format!(
            "GraphQL endpoint at {path}: schema read by introspection {as_whom}: {} queries, {} \
             mutations, {} types{}",
            s.info.queries,
            s.info.mutations,
            s.info.types,
            match s.info.subscriptions_ignored {
                0 => String::new(),
                n => format!("; {n} subscriptions left out"),
            }
        ),
    )
}

/// Appends a schema's operations (those not already in the inventory) and types.
fn add_schema(inv: &mut Inventory, ep: &mut GraphqlEndpoint, schema: GraphqlSchema) {
    ep.query_type = schema.query_type;
    ep.mutation_type = schema.mutation_type;
    ep.types = schema.types;
    ep.from_suggestions = !schema.info.complete;
    let keys: std::collections::HashSet<String> =
        inv.operations.iter().map(Operation::key).collect();
    inv.operations.extend(
        schema
            .operations
            .into_iter()
            .filter(|o| !keys.contains(&o.key())),
    );
}

/// The second pass, after sign-in: each pending endpoint is introspected as each identity in
/// turn; when all are refused, its schema is rebuilt from suggestions as the first identity
/// (anonymously when there is none).
pub(crate) async fn read_pending(
    t: &Transport,
    inv: &mut Inventory,
    pending: Vec<Pending>,
    identities: &[Who],
    allow_post: bool,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for p in pending {
        let Some(mut ep) = inv.graphql.get(p.index).cloned() else {
            continue;
        };
        let mut read = None;
        for who in identities {
            if let Some(schema) = introspect(t, &p.url, p.post, who, &ep.path).await {
                read = Some((schema, who.name.clone()));
                break;
            }
        }
        match read {
            Some((schema, name)) => {
                diagnostics.push(introspected_note(&ep.path, &schema, &name));
                ep.introspected_as = Some(name);
                add_schema(inv, &mut ep, schema);
            }
            None => {
                let who = identities.first().cloned().unwrap_or_else(Who::anonymous);
                let schema = rebuild(t, &p, &ep, &who, allow_post).await;
                diagnostics.push(rebuilt_note(&ep.path, &schema));
                if !schema.operations.is_empty() {
                    add_schema(inv, &mut ep, schema);
                }
            }
        }
        inv.graphql[p.index] = ep;
    }
    diagnostics
}

async fn rebuild(
    t: &Transport,
    p: &Pending,
    ep: &GraphqlEndpoint,
    who: &Who,
    allow_post: bool,
) -> GraphqlSchema {
    // Mutation documents go by POST only; each fails validation by construction, so none runs.
    let mut r = Rebuild::new(&ep.query_type, allow_post && p.post);
    while r.sent() < SUGGESTION_BUDGET {
        let Some(probe) = r.next_probe() else { break };
        match ask(t, &p.url, p.post, &probe.document, who).await {
            Some(answer) => r.absorb(&probe, &answer),
            None => break,
        }
    }
    r.finish(&ep.path)
}

fn rebuilt_note(path: &str, s: &GraphqlSchema) -> Diagnostic {
    if s.operations.is_empty() {
        return Diagnostic::warning(
            "graphql.no-schema",
            format!(
                "GraphQL endpoint at {path}: introspection is disabled and its errors suggest no \
                 field names, so none of its operations is scanned"
            ),
        )
        .hint("give the scan the schema's operations in an OpenAPI description, or scan a build with introspection on");
    }
    Diagnostic::warning(
        "graphql.rebuilt",
        format!(
            "GraphQL schema at {path} rebuilt from field suggestions: {} queries, {} mutations; \
             introspection is disabled, so operations the server never suggested are not scanned",
            s.info.queries, s.info.mutations
        ),
    )
}

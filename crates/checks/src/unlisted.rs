//! Paths the spec does not list: how to reach them and how to tell a real answer from "not
//! found". Shared by the inventory checks.
//!
//! A route is only called live when its answer differs from what paths that cannot exist get
//! under the same prefix, learnt first with random paths (feroxbuster's wildcard detection).
//! Servers with a catch-all (an SPA's `index.html` for every path, a gateway's `200 {}`)
//! answer the random paths the same way as the candidates, so they yield nothing; a prefix
//! whose random paths get different statuses is too noisy to judge and is skipped.
//!
//! Paths here are origin paths (`/api/v1/items`). Requests are joined to the API's base, so
//! [`from_origin`] climbs out of the base with `..` segments, which the transport's URL parser
//! resolves before the request leaves (the scope is the origin, never a path).

use crate::ownership::nonce;
use crate::probe::{Probe, ProbeError};
use crate::similarity::same_data;
use middlebrick_model::{Exchange, Method, RequestSpec, ResponseRecord, ANONYMOUS};

/// Random paths sent per prefix to learn its "not found".
pub const RANDOM_PATHS: usize = 2;

/// The request path (relative to the API base `base_path`) that reaches `origin_path`.
pub fn from_origin(base_path: &str, origin_path: &str) -> String {
    let depth = base_path.split('/').filter(|s| !s.is_empty()).count();
    format!("{}{}", "/..".repeat(depth), origin_path)
}

/// `prefix` + `rest` with exactly one `/` between them (`""` + `/x` is `/x`).
pub fn join(prefix: &str, rest: &str) -> String {
    format!(
        "{}/{}",
        prefix.trim_end_matches('/'),
        rest.trim_start_matches('/')
    )
}

/// What the random paths under one prefix got.
#[derive(Debug, Clone)]
pub struct NotFound {
    pub exchanges: Vec<Exchange>,
}

/// A GET of `origin_path` as `identity`, sent from the API base.
pub async fn get(
    probe: &dyn Probe,
    base_path: &str,
    origin_path: &str,
    identity: &str,
) -> Result<Exchange, ProbeError> {
    let req =
        RequestSpec::new(Method::Get, from_origin(base_path, origin_path)).as_identity(identity);
    probe.send(req).await
}

impl NotFound {
    /// Learns "not found" under `prefix` (an origin path) with [`RANDOM_PATHS`] anonymous GETs:
    /// one random segment, and two nested. `None` when the prefix answers them inconsistently
    /// (different statuses, or no answer), which makes any judgement there noise.
    pub async fn learn(
        probe: &dyn Probe,
        base_path: &str,
        prefix: &str,
    ) -> Result<Option<NotFound>, ProbeError> {
        let mut exchanges = Vec::with_capacity(RANDOM_PATHS);
        for depth in 1..=RANDOM_PATHS {
            let random: Vec<String> = (0..depth).map(|_| format!("mb{}", nonce())).collect();
            let path = join(prefix, &random.join("/"));
            exchanges.push(get(probe, base_path, &path, ANONYMOUS).await?);
        }
        let statuses: Vec<Option<u16>> = exchanges.iter().map(Exchange::status).collect();
        if statuses.iter().any(Option::is_none) || statuses.windows(2).any(|w| w[0] != w[1]) {
            return Ok(None);
        }
        Ok(Some(NotFound { exchanges }))
    }

    /// Whether `ex` answered with content that the random paths did not get: a 2xx that is
    /// neither the same status and body as a random path (its own path taken out, since
    /// frameworks echo it) nor the same data.
    pub fn answered_for_real(&self, ex: &Exchange) -> bool {
        let Some(resp) = ex.response.as_ref() else {
            return false;
        };
        if !resp.is_success() || resp.body.text.trim().is_empty() {
            return false;
        }
        !self.exchanges.iter().any(|nf| {
            nf.response
                .as_ref()
                .is_some_and(|r| r.status == resp.status && alike(nf, r, ex, resp))
        })
    }
}

/// Same body once each request's own path is taken out, the same data, or (for non-JSON
/// bodies such as an SPA page that embeds the path in a few places) the same media type and
/// lengths within 5 %.
fn alike(a_ex: &Exchange, a: &ResponseRecord, b_ex: &Exchange, b: &ResponseRecord) -> bool {
    let a_text = without_path(a_ex, &a.body.text);
    let b_text = without_path(b_ex, &b.body.text);
    if a_text == b_text || same_data(a, b) {
        return true;
    }
    let both_json = a.json().is_some() && b.json().is_some();
    let (la, lb) = (a_text.len(), b_text.len());
    !both_json && a.media_type() == b.media_type() && la.abs_diff(lb) * 20 <= la.max(lb)
}

/// The body with the request's path, and each of its segments of four characters or more,
/// taken out.
fn without_path(ex: &Exchange, body: &str) -> String {
    let path = url_path(&ex.request.url);
    let mut out = body.replace(path, "");
    for seg in path.split('/').filter(|s| s.len() >= 4) {
        out = out.replace(seg, "");
    }
    out
}

/// The path of an absolute URL (`http://h:1/a/b?q` → `/a/b`).
pub fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let from = rest.find('/').unwrap_or(rest.len());
    rest[from..].split(['?', '#']).next().unwrap_or("")
}

/// The first static segment at least half of the documented paths start with (`api`).
pub fn shared_segment(inv: &middlebrick_model::Inventory) -> Option<String> {
    let firsts: Vec<&str> = inv
        .operations
        .iter()
        .filter_map(|o| o.path.split('/').find(|s| !s.is_empty()))
        .filter(|s| !s.starts_with('{'))
        .collect();
    let best = firsts
        .iter()
        .max_by_key(|f| firsts.iter().filter(|g| g == f).count())?;
    let count = firsts.iter().filter(|g| *g == best).count();
    (count * 2 >= inv.operations.len()).then(|| best.to_string())
}

/// Whether the origin path `path` is one of the spec's operations (under `base_path`), for any
/// method: a `{param}` template segment matches any one segment.
pub fn documented(inv: &middlebrick_model::Inventory, base_path: &str, path: &str) -> bool {
    let want: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    inv.operations.iter().any(|o| {
        let full = join(base_path, &o.path);
        let template: Vec<&str> = full.split('/').filter(|s| !s.is_empty()).collect();
        template.len() == want.len()
            && template
                .iter()
                .zip(&want)
                .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::exchange_for;
    use crate::similarity::response;

    #[test]
    fn origin_paths_climb_out_of_the_base() {
        assert_eq!(from_origin("", "/metrics"), "/metrics");
        assert_eq!(from_origin("/api/v2", "/api/v1/x"), "/../../api/v1/x");
        assert_eq!(join("", "/x"), "/x");
        assert_eq!(join("/api/", "x"), "/api/x");
        assert_eq!(url_path("http://h:1/a/b?q=1"), "/a/b");
    }

    fn ex(path: &str, status: u16, media: &str, body: &str) -> Exchange {
        exchange_for(
            &RequestSpec::new(Method::Get, path),
            Some(response(status, media, body)),
        )
    }

    #[test]
    fn a_catch_all_page_is_not_an_answer_and_a_distinct_one_is() {
        let page =
            |p: &str| format!("<html><body><div id=app data-path=\"{p}\"></div></body></html>");
        let nf = NotFound {
            exchanges: vec![
                ex("/mbaaaa", 200, "text/html", &page("/mbaaaa")),
                ex("/mbbbbb/mbcccc", 200, "text/html", &page("/mbbbbb/mbcccc")),
            ],
        };
        assert!(!nf.answered_for_real(&ex("/metrics", 200, "text/html", &page("/metrics"))));
        assert!(nf.answered_for_real(&ex(
            "/metrics",
            200,
            "text/plain",
            "# TYPE http_requests_total counter\nhttp_requests_total 12\n"
        )));
        let json_nf = NotFound {
            exchanges: vec![ex(
                "/mbaaaa",
                404,
                "application/json",
                r#"{"error":"not found"}"#,
            )],
        };
        assert!(!json_nf.answered_for_real(&ex("/admin", 401, "application/json", "{}")));
        assert!(json_nf.answered_for_real(&ex(
            "/debug",
            200,
            "application/json",
            r#"{"config":{"db":"x"},"env":"prod"}"#
        )));
    }

    #[test]
    fn documented_paths_match_templates() {
        let mut inv =
            middlebrick_model::Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations.push(middlebrick_model::Operation::new(
            Method::Get,
            "/items/{id}",
        ));
        assert!(documented(&inv, "/api", "/api/items/debug"));
        assert!(!documented(&inv, "/api", "/api/debug"));
    }
}

//! `inventory.undocumented-route`: a route the spec does not list (a debug page, metrics, an
//! internal or admin endpoint, a framework console) answers anonymous callers with content.
//!
//! Method: under at most [`MAX_PREFIXES`] prefixes (the origin root, the API's base, and the
//! first segment most documented paths share, `/api`), learn what "not found" looks like with
//! random paths ([`crate::unlisted::NotFound`]), then GET each of a fixed list of common
//! undocumented routes ([`ROUTES`]) that no documented template matches. A route is reported
//! when its answer is a 2xx that the random paths did not get, and a second GET gives the same
//! verdict. Nothing is judged by the route's name alone: the name only chooses where to look.
//! A server whose random paths answer like real ones (a catch-all) gives nothing, and a prefix
//! whose random paths get different statuses is skipped. Login pages are never reported.
//!
//! Budget: per prefix [`crate::unlisted::RANDOM_PATHS`] random GETs plus one GET per route, and
//! one more GET per hit: at most 3 × (2 + 15) + hits, all anonymous GETs.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::ProbeError;
use crate::similarity::{has_substance, looks_like_login_page};
use crate::unlisted::{documented, get, join, shared_segment, NotFound};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Operation, Owasp, Remediation, Severity,
    Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct UndocumentedRoute;

/// Prefixes examined at most.
const MAX_PREFIXES: usize = 3;

/// Routes that frameworks, libraries and habits leave outside the spec, relative to a prefix.
const ROUTES: &[&str] = &[
    "metrics",
    "debug",
    "debug/vars",
    "debug/pprof",
    "internal",
    "internal/metrics",
    "internal/config",
    "internal/status",
    "admin",
    "config",
    "env",
    "actuator",
    "actuator/env",
    "server-status",
    "console",
];

static META: CheckMeta = CheckMeta {
    id: CheckId::InventoryUndocumentedRoute,
    title: "Undocumented route answers",
    description: "Learns what paths that cannot exist get (random paths under the root, the \
        API's base and its shared prefix), then asks for common undocumented routes (metrics, \
        debug, internal, admin, config, actuator, server-status, console) that the spec does \
        not list. Fires when a route answers an anonymous caller with a 2xx that the random \
        paths did not get, twice; a catch-all server gives nothing.",
    cwe: &[1059, 200],
    owasp: &[Owasp::Api9],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Keep an inventory of every route the deployment serves and compare it with \
            the published description: remove debug, metrics and internal routes from \
            production builds, or serve them on a separate port or network that clients cannot \
            reach, behind authentication.",
        variants: &[
            (
                Tech::Flask,
                "register debug and internal blueprints only when `app.debug` is off in \
                development (`if app.config[\"ENABLE_INTERNAL\"]: app.register_blueprint(...)`), \
                list `app.url_map` in a test and fail on routes missing from the spec, and \
                expose Prometheus metrics on a separate port (`prometheus_client.start_http_server`).",
            ),
            (
                Tech::FastApi,
                "include internal routers only in development (`if settings.debug: \
                app.include_router(internal.router)`), never hide a live route with \
                `include_in_schema=False` as a substitute for removing or protecting it, and \
                compare `app.routes` with `app.openapi()` in a test.",
            ),
        ],
    },
};

#[async_trait]
impl Check for UndocumentedRoute {
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
        if !ctx.probe.mode().allows(META.kind) || ctx.inventory.operations.is_empty() {
            return Outcome::none();
        }
        let base = ctx.probe.api_base_path();
        let mut out = Outcome::none();
        for prefix in prefixes(ctx, &base) {
            match examine(ctx, &base, &prefix, &mut out).await {
                Ok(()) => {}
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => continue,
            }
        }
        out
    }
}

/// The origin root, the API's base, and the first segment most documented paths share: each
/// once, in that order.
fn prefixes(ctx: &RunCtx<'_>, base: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let base = base.trim_end_matches('/').to_string();
    if !base.is_empty() {
        out.push(base.clone());
    }
    if let Some(first) = shared_segment(ctx.inventory) {
        let p = join(&base, &first);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.truncate(MAX_PREFIXES);
    out
}

async fn examine(
    ctx: &RunCtx<'_>,
    base: &str,
    prefix: &str,
    out: &mut Outcome,
) -> Result<(), ProbeError> {
    let Some(not_found) = NotFound::learn(ctx.probe, base, prefix).await? else {
        return Ok(());
    };
    for route in ROUTES {
        let path = join(prefix, route);
        if documented(ctx.inventory, base, &path) {
            continue;
        }
        let first = get(ctx.probe, base, &path, ANONYMOUS).await?;
        if !serves_content(&not_found, &first) {
            continue;
        }
        let again = get(ctx.probe, base, &path, ANONYMOUS).await?;
        if !serves_content(&not_found, &again) {
            continue;
        }
        out.findings.push(finding(&path, &not_found, first, again));
    }
    Ok(())
}

fn serves_content(nf: &NotFound, ex: &Exchange) -> bool {
    nf.answered_for_real(ex)
        && ex
            .response
            .as_ref()
            .is_some_and(|r| !looks_like_login_page(r))
}

fn finding(
    path: &str,
    nf: &NotFound,
    first: Exchange,
    again: Exchange,
) -> middlebrick_model::Finding {
    let resp = first
        .response
        .as_ref()
        .expect("judged answers have a response");
    let media = resp
        .media_type()
        .unwrap_or_else(|| "no content type".into());
    let html = media.contains("html");
    // An HTML page may be a harmless landing page; data or text from a debug route is not.
    let (severity, what) = if !html && has_substance(resp) {
        (Severity::Medium, "data")
    } else {
        (Severity::Low, "a page")
    };
    let nf_status = nf.exchanges[0].status().unwrap_or(0);
    let description = format!(
        "`GET {path}` is not in the spec, yet it answered an anonymous caller {} with {what} \
         ({media}, {} bytes) twice, while random paths there got {nf_status}. An undocumented route is \
         outside every review of the API and often outside its access control.",
        resp.status,
        resp.body.size.max(resp.body.text.len() as u64),
    );
    let mut exchanges = nf.exchanges.clone();
    exchanges.push(first);
    exchanges.push(again);
    let evidence = Evidence::new(exchanges)
        .note("random paths under the same prefix (not found), then the route, twice");
    META.finding(
        None,
        path,
        severity,
        Confidence::Firm,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Method, SpecVersion};

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        for p in ["/api/items", "/api/items/{id}", "/api/orders", "/health"] {
            inv.operations.push(Operation::new(Method::Get, p));
        }
        inv
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = inventory();
        UndocumentedRoute
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    fn not_found() -> middlebrick_model::ResponseRecord {
        response(404, "application/json", r#"{"error":"not_found"}"#)
    }

    #[tokio::test]
    async fn a_live_metrics_route_under_the_shared_prefix_is_reported() {
        let probe = FakeProbe::new()
            .on(
                |r| r.path == "/api/internal/metrics",
                response(
                    200,
                    "application/json",
                    r#"{"requests":1200,"db_pool":{"size":10},"uptime":3600}"#,
                ),
            )
            .on(|_| true, not_found());
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        let f = &out.findings[0];
        assert_eq!(f.parameter.as_deref(), Some("/api/internal/metrics"));
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.evidence.exchanges.len(), 4);
        let sent = probe.sent_count();
        assert!(sent <= 2 * (2 + ROUTES.len()) + 1, "{sent} requests");
    }

    #[tokio::test]
    async fn a_catch_all_server_gives_nothing() {
        let page = "<html><body><div id=app></div><script src=/app.js></script></body></html>";
        let probe = FakeProbe::new().on(|_| true, response(200, "text/html", page));
        assert!(run(&probe).await.findings.is_empty());
        let probe = FakeProbe::new().on(|_| true, response(200, "application/json", "{}"));
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn protected_routes_and_login_pages_are_not_reported() {
        let login = "<html><form><input type=\"password\" name=p></form>".repeat(3);
        let probe = FakeProbe::new()
            .on(|r| r.path == "/admin", response(200, "text/html", &login))
            .on(
                |r| r.path == "/api/admin",
                response(401, "application/json", r#"{"error":"unauthorized"}"#),
            )
            .on(|_| true, not_found());
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn noisy_prefixes_are_skipped_and_documented_routes_never_probed() {
        let flip = std::sync::atomic::AtomicUsize::new(0);
        let probe = FakeProbe::new().on_dynamic(move |_| {
            let n = flip.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(if n.is_multiple_of(2) {
                response(200, "application/json", r#"{"a":1,"b":2}"#)
            } else {
                not_found()
            })
        });
        assert!(run(&probe).await.findings.is_empty());
        let mut inv = inventory();
        inv.operations
            .push(Operation::new(Method::Get, "/api/metrics"));
        let probe = FakeProbe::new().on(|_| true, not_found());
        UndocumentedRoute
            .run(&RunCtx {
                probe: &probe,
                inventory: &inv,
                op: None,
            })
            .await;
        assert!(!probe
            .sent
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.path == "/api/metrics"));
    }
}

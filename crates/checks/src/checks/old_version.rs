//! `inventory.old-version`: documented operations also answer under an older version prefix
//! the spec does not list (`/api/v1/orders` beside the documented `/api/v2/orders`, or
//! `/api/v1/orders` beside an unversioned `/api/orders`). An old version that is still live
//! keeps the flaws the current one fixed, outside every review of the published API.
//!
//! Method: the version is the path segment `v<N>` of the documented path (base included);
//! the older prefixes are `v<N-1>` … `v1` (at most [`MAX_OLDER`]), or `v1` after the first
//! segment most paths share when the spec has no version. Under each older prefix, "not found"
//! is learnt with random paths first; then up to [`MAX_OPS`] documented GETs whose valid
//! request answered with data are sent again with the older prefix, as the same identity.
//! Fires when the old path answers a 2xx that random paths do not get and that carries the
//! same data as the documented answer. When the documented operation refuses anonymous
//! callers, the old path is also asked anonymously: the same data there raises the finding
//! to high (the old version lacks the authentication the current one has).
//!
//! Budget: per older prefix 2 random GETs; per operation one GET without optional filters
//! when the shared baseline held no data, the old path, and on an answer the documented
//! request again and at most one anonymous GET: at most 2 × (2 + 4 × 4) = 36 requests.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::{Overrides, ProbeError};
use crate::similarity::{has_substance, is_error_envelope, same_data};
use crate::unlisted::{documented, from_origin, shared_segment, url_path, NotFound};
use async_trait::async_trait;
use middlebrick_model::envelope::records;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, ParamLocation,
    Remediation, RequestSpec, ResponseRecord, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct OldVersion;

/// Older versions tried at most.
const MAX_OLDER: usize = 2;
/// Documented operations tried under each older version at most.
const MAX_OPS: usize = 4;

static META: CheckMeta = CheckMeta {
    id: CheckId::InventoryOldVersion,
    title: "Older API version still live",
    description: "Sends documented reads again under an older version prefix the spec does \
        not list (`v1` beside `v2`, or `v1` beside an unversioned path), after learning what \
        random paths under that prefix get. Fires when the old path answers with the same data \
        as the documented operation; high when it does so without the credentials the \
        documented operation requires.",
    cwe: &[1059],
    owasp: &[Owasp::Api9],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Retire old API versions on a published schedule: when a version is \
            replaced, remove its routes (or answer 410 Gone) rather than leaving them mounted, \
            and keep every version that must stay live in the published description with the \
            same authentication and fixes as the current one.",
        variants: &[
            (
                Tech::Flask,
                "remove the old version's blueprint from `create_app` (`app.register_blueprint(v1, \
                url_prefix=\"/api/v1\")`), or register a catch-all on that prefix that answers \
                410; a test over `app.url_map` catches forgotten prefixes.",
            ),
            (
                Tech::FastApi,
                "drop the old router's `app.include_router(v1_router, prefix=\"/api/v1\")`; \
                hiding it with `include_in_schema=False` leaves it live. While it must stay, \
                give it the same dependencies (`dependencies=[Depends(current_user)]`).",
            ),
        ],
    },
};

#[async_trait]
impl Check for OldVersion {
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
        if !ctx.probe.mode().allows(META.kind) {
            return Outcome::none();
        }
        let base = ctx.probe.api_base_path();
        let mut out = Outcome::none();
        match examine(ctx, &base, &mut out).await {
            Ok(()) | Err(ProbeError::Refused(_)) | Err(ProbeError::Stopped(_)) => {}
        }
        out
    }
}

/// Where the version sits in a documented origin path and which older ones to try: `(index of
/// the version segment, older versions)` with an existing `v<N>`, or `(index to insert at,
/// ["v1"])` when `shared` (the first segment most paths share) starts the path unversioned.
fn older_versions(origin_path: &str, shared: Option<&str>) -> Option<(usize, bool, Vec<String>)> {
    let segs: Vec<&str> = origin_path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some((i, n)) = segs.iter().enumerate().find_map(|(i, s)| {
        s.strip_prefix('v')
            .and_then(|d| d.parse::<u32>().ok())
            .map(|n| (i, n))
    }) {
        let older: Vec<String> = (1..n)
            .rev()
            .take(MAX_OLDER)
            .map(|k| format!("v{k}"))
            .collect();
        return (!older.is_empty()).then_some((i, true, older));
    }
    let shared = shared?;
    (segs.first() == Some(&shared)).then(|| (1, false, vec!["v1".to_string()]))
}

/// The origin path with the version segment at `index` replaced (or a segment inserted).
fn with_version(origin_path: &str, index: usize, replace: bool, version: &str) -> String {
    let mut segs: Vec<&str> = origin_path.split('/').filter(|s| !s.is_empty()).collect();
    if replace {
        segs[index] = version;
    } else {
        segs.insert(index, version);
    }
    format!("/{}", segs.join("/"))
}

/// The identity whose answers are compared: the first signed-in one, else anonymous.
fn reader(ctx: &RunCtx<'_>) -> String {
    ctx.probe
        .identities()
        .first()
        .map_or_else(|| ANONYMOUS.to_string(), |i| i.name.clone())
}

/// A documented read that answered with data, with its answer and the filled origin path.
struct Read<'a> {
    op: &'a Operation,
    /// The request that answered with data: the valid request, or it without its optional
    /// query filters when the filters left nothing.
    req: RequestSpec,
    origin_path: String,
}

fn useful(ex: &Exchange) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.is_success() && has_substance(r) && !is_error_envelope(r))
}

async fn documented_reads<'a>(ctx: &RunCtx<'a>, who: &str) -> Result<Vec<Read<'a>>, ProbeError> {
    let mut gets: Vec<&Operation> = ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && !middlebrick_model::danger::is_dangerous_read(o))
        .collect();
    // Collections first: their answer is data without choosing an id.
    gets.sort_by_key(|o| o.path.contains('{'));
    let mut out = Vec::new();
    for op in gets {
        if out.len() == MAX_OPS {
            break;
        }
        let mut req = ctx.probe.request(op, who, &Overrides::none());
        let mut answer = ctx.probe.baseline(op, who).await?;
        let optional: Vec<_> = op
            .params_in(ParamLocation::Query)
            .filter(|p| !p.required)
            .map(|p| (ParamLocation::Query, p.name.clone(), None))
            .collect();
        if !useful(&answer) && !optional.is_empty() {
            let unfiltered = Overrides {
                params: optional,
                body: Vec::new(),
            };
            req = ctx.probe.request(op, who, &unfiltered);
            answer = ctx.probe.send(req.clone()).await?;
        }
        if !useful(&answer) {
            continue;
        }
        let origin_path = url_path(&answer.request.url).to_string();
        out.push(Read {
            op,
            req,
            origin_path,
        });
    }
    Ok(out)
}

async fn examine(ctx: &RunCtx<'_>, base: &str, out: &mut Outcome) -> Result<(), ProbeError> {
    let who = reader(ctx);
    // Where an unversioned API would put a version: after the base's first segment, else after
    // the first segment most paths share (`/api` → `/api/v1`).
    let shared_first = match base.split('/').find(|x| !x.is_empty()) {
        Some(first) => Some(first.to_string()),
        None => shared_segment(ctx.inventory),
    };
    let reads = documented_reads(ctx, &who).await?;
    let mut learnt: Vec<(String, Option<NotFound>)> = Vec::new();
    for read in &reads {
        let Some((index, replace, older)) =
            older_versions(&read.origin_path, shared_first.as_deref())
        else {
            continue;
        };
        for version in older {
            let old_path = with_version(&read.origin_path, index, replace, &version);
            if documented(ctx.inventory, base, &old_path) {
                continue;
            }
            let prefix = old_path
                .split('/')
                .take(index + 2)
                .collect::<Vec<_>>()
                .join("/");
            let nf = match learnt.iter().find(|(p, _)| *p == prefix) {
                Some((_, nf)) => nf.clone(),
                None => {
                    let nf = NotFound::learn(ctx.probe, base, &prefix).await?;
                    learnt.push((prefix.clone(), nf.clone()));
                    nf
                }
            };
            let Some(nf) = nf else { continue };
            if let Some(f) = judge(ctx, base, read, &old_path, &who, &nf).await? {
                out.findings.push(f);
                break;
            }
        }
    }
    Ok(())
}

/// The old path sent as the documented request was (same identity, query and headers).
/// The read's request with the old path, as `who`.
async fn send_old(
    ctx: &RunCtx<'_>,
    base: &str,
    read: &Read<'_>,
    old_path: &str,
    who: &str,
) -> Result<Exchange, ProbeError> {
    let mut req = read.req.clone().as_identity(who);
    req.path = from_origin(base, old_path);
    req.operation = None;
    ctx.probe.send(req).await
}

/// The old path answered for real with what the documented one answers: the same data, or
/// the same objects (the same ids, in the same order, with mostly the same fields), since an
/// old version often serialises a field differently (a timestamp's zone, say).
fn same_answer(nf: &NotFound, documented: &Exchange, old: &Exchange) -> bool {
    match (documented.response.as_ref(), old.response.as_ref()) {
        (Some(d), Some(o)) => nf.answered_for_real(old) && (same_data(d, o) || same_objects(d, o)),
        _ => false,
    }
}

fn same_objects(a: &ResponseRecord, b: &ResponseRecord) -> bool {
    let (Some(x), Some(y)) = (a.json(), b.json()) else {
        return false;
    };
    let (rx, ry) = (records(&x), records(&y));
    if rx.is_empty() || rx.len() != ry.len() {
        return false;
    }
    let ids = |rs: &[&serde_json::Map<String, serde_json::Value>]| {
        rs.iter()
            .map(|r| {
                r.get("id")
                    .filter(|v| v.is_number() || v.is_string())
                    .cloned()
            })
            .collect::<Option<Vec<_>>>()
    };
    let (Some(ix), Some(iy)) = (ids(&rx), ids(&ry)) else {
        return false;
    };
    let shared = rx[0].keys().filter(|k| ry[0].contains_key(*k)).count();
    ix == iy && shared * 10 >= rx[0].len().max(ry[0].len()) * 8
}

async fn judge(
    ctx: &RunCtx<'_>,
    base: &str,
    read: &Read<'_>,
    old_path: &str,
    who: &str,
    nf: &NotFound,
) -> Result<Option<middlebrick_model::Finding>, ProbeError> {
    let old = send_old(ctx, base, read, old_path, who).await?;
    if !nf.answered_for_real(&old) {
        return Ok(None);
    }
    // The documented request again, right after: the data may have changed since the warm-up.
    let fresh = ctx.probe.send(read.req.clone()).await?;
    if !same_answer(nf, &fresh, &old) {
        return Ok(None);
    }
    let mut exchanges = nf.exchanges.clone();
    exchanges.extend([fresh.clone(), old]);
    let mut severity = META.severity;
    let mut tail = String::new();
    if who != ANONYMOUS {
        let anon_documented = ctx.probe.baseline(read.op, ANONYMOUS).await?;
        let refused = anon_documented
            .status()
            .is_some_and(|s| matches!(s, 401 | 403));
        if refused {
            let anon_old = send_old(ctx, base, read, old_path, ANONYMOUS).await?;
            if same_answer(nf, &fresh, &anon_old) {
                severity = Severity::High;
                tail = " It also answered an anonymous caller with that data, while the \
                        documented operation refuses anonymous callers: the old version lacks \
                        its authentication."
                    .to_string();
                exchanges.extend([anon_documented, anon_old]);
            }
        }
    }
    let description = format!(
        "`GET {old_path}` is not in the spec, yet it answers like the documented `{}` (`GET \
         {}`) with the same data, while random paths under the same prefix are not found: an \
         older version of the operation is still live.{tail}",
        read.op.key(),
        read.origin_path,
    );
    let evidence = Evidence::new(exchanges).note(
        "random paths under the old prefix, the documented request, the same request under \
         the old prefix (then both anonymously, when the documented one refuses them)",
    );
    Ok(Some(META.finding(
        Some(read.op),
        old_path_template(read, old_path).as_str(),
        severity,
        Confidence::Firm,
        description,
        evidence,
    )))
}

/// The old path with the documented template's parameters put back, so the fingerprint does
/// not change with the id the scan happened to use.
fn old_path_template(read: &Read<'_>, old_path: &str) -> String {
    let filled: Vec<&str> = read.origin_path.split('/').collect();
    let template: Vec<&str> = read.op.path.split('/').collect();
    let old: Vec<&str> = old_path.split('/').collect();
    let offset_t = filled.len().saturating_sub(template.len());
    let offset_o = old.len().saturating_sub(template.len());
    let mut segs: Vec<String> = old.iter().map(|s| s.to_string()).collect();
    for (i, t) in template.iter().enumerate() {
        if t.starts_with('{') && filled.get(offset_t + i).is_some() {
            if let Some(s) = segs.get_mut(offset_o + i) {
                *s = t.to_string();
            }
        }
    }
    segs.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, SpecVersion};

    #[test]
    fn older_versions_are_derived_from_the_path() {
        assert_eq!(
            older_versions("/api/v3/items", None),
            Some((1, true, vec!["v2".to_string(), "v1".to_string()]))
        );
        assert_eq!(older_versions("/api/v1/items", None), None);
        assert_eq!(
            older_versions("/api/items", Some("api")),
            Some((1, false, vec!["v1".to_string()]))
        );
        assert_eq!(older_versions("/health", Some("api")), None);
        assert_eq!(with_version("/api/items", 1, false, "v1"), "/api/v1/items");
        assert_eq!(
            with_version("/api/v2/items", 1, true, "v1"),
            "/api/v1/items"
        );
    }

    const ITEMS: &str = r#"[{"id":1,"name":"mug","price":8.5},{"id":2,"name":"pen","price":2}]"#;

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        for p in ["/api/items", "/api/orders", "/health"] {
            inv.operations.push(Operation::new(Method::Get, p));
        }
        inv
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = inventory();
        OldVersion
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    fn nf() -> middlebrick_model::ResponseRecord {
        response(404, "application/json", r#"{"error":"not_found"}"#)
    }

    #[tokio::test]
    async fn a_live_v1_copy_is_reported_and_high_without_authentication() {
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(
                |r| r.path == "/api/items" || r.path == "/api/v1/items",
                response(200, "application/json", ITEMS),
            )
            .on(
                |r| r.path == "/api/orders" && r.identity == ANONYMOUS,
                response(401, "application/json", r#"{"error":"unauthorized"}"#),
            )
            .on(
                |r| r.path == "/api/orders" || r.path == "/api/v1/orders",
                response(200, "application/json", r#"[{"id":7,"total":12.5}]"#),
            )
            .on(|_| true, nf());
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 2, "{:?}", out.findings);
        let orders = out
            .findings
            .iter()
            .find(|f| f.path.as_deref() == Some("/api/orders"))
            .unwrap();
        assert_eq!(orders.severity, Severity::High);
        assert_eq!(orders.parameter.as_deref(), Some("/api/v1/orders"));
        assert!(probe.sent_count() <= 36);
    }

    #[test]
    fn the_same_objects_serialised_differently_are_the_same_answer() {
        let a = response(
            200,
            "application/json",
            r#"{"items":[{"id":5,"at":"2026-01-01T00:00:00Z"},{"id":6,"at":"2026-01-02T00:00:00Z"}]}"#,
        );
        let b = response(
            200,
            "application/json",
            r#"{"items":[{"id":5,"at":"2026-01-01T00:00:00+00:00"},{"id":6,"at":"2026-01-02T00:00:00+00:00"}]}"#,
        );
        let c = response(
            200,
            "application/json",
            r#"{"items":[{"id":7,"at":"x"},{"id":8,"at":"y"}]}"#,
        );
        assert!(same_objects(&a, &b));
        assert!(!same_objects(&a, &c));
    }

    #[tokio::test]
    async fn a_different_answer_or_a_catch_all_is_not_an_old_version() {
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(
                |r| r.path == "/api/items",
                response(200, "application/json", ITEMS),
            )
            .on(
                |r| r.path == "/api/v1/items",
                response(
                    200,
                    "application/json",
                    r#"{"message":"welcome","links":["a","b"]}"#,
                ),
            )
            .on(|_| true, nf());
        assert!(run(&probe).await.findings.is_empty());
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(|_| true, response(200, "application/json", ITEMS));
        assert!(run(&probe).await.findings.is_empty());
    }
}

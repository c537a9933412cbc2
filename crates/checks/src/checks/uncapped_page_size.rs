//! `availability.uncapped-page-size`: a list operation's page-size parameter (`limit`,
//! `per_page`, `page_size`, `size`, …) is honoured far above its documented maximum, so one
//! request can make the server read and serialise the whole collection.
//!
//! Method: on a GET whose answer is a list, with an integer query parameter named for a page
//! size (or one with a declared `maximum` whose name says limit/size/per), the cap is the
//! declared `maximum`, else [`SANE_CAP`]. The valid request (the shared baseline) must answer
//! with a list; the same request with the parameter at three times the cap follows. Fires when
//! that answer holds more items than the cap: the number of items is the proof, never the
//! status alone. A refusal (4xx) or at most the cap is silent. When the collection may simply
//! be too small to tell (at most the cap came back), active mode adds the missing items
//! through the collection's own creation operation (`POST` on the same path), at most
//! [`MAX_CREATE`], as the same identity, then asks once more; otherwise nothing is reported and
//! a diagnostic says why.
//!
//! Budget: 1 GET (plus the shared baseline), and in active mode at most [`MAX_CREATE`] POSTs
//! and one more GET, per operation.

use crate::authflow::{is_sign_out, password_property};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::names::normalize_name;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Diagnostic, Evidence, Exchange, Method, Mode, Operation, Owasp,
    ParamLocation, Parameter, Remediation, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::json;

#[derive(Debug)]
pub struct UncappedPageSize;

/// The cap assumed when the spec declares no maximum.
const SANE_CAP: u64 = 100;
/// Objects created at most per operation to make the collection larger than the cap.
const MAX_CREATE: u64 = 8;

/// Page-size parameter names, normalised (`per_page` → `perpage`).
const PAGE_NAMES: &[&str] = &[
    "limit",
    "perpage",
    "pagesize",
    "size",
    "count",
    "maxresults",
    "maxitems",
    "pagelimit",
    "take",
    "top",
    "first",
    "rows",
    "numresults",
];

static META: CheckMeta = CheckMeta {
    id: CheckId::AvailabilityUncappedPageSize,
    title: "Page size not capped",
    description: "On list operations with a page-size parameter (`limit`, `per_page`, \
        `page_size`, `size`, …), asks for three times the documented maximum (100 when none is \
        documented). Fires when the answer holds more items than that maximum. When the \
        collection holds too few items to tell, active mode first adds the missing ones through \
        the collection's own POST (at most 8).",
    cwe: &[770, 400],
    owasp: &[Owasp::Api4],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Enforce the page size on the server: clamp it to a maximum (or answer 400 \
            above it), declare that `maximum` in the description, and paginate with a cursor so \
            no request reads an unbounded number of rows.",
        variants: &[
            (
                Tech::Flask,
                "read the parameter through one helper that bounds it: `per_page = \
                min(max(request.args.get(\"per_page\", 20, type=int), 1), 100)`, and pass only \
                that value to `LIMIT`.",
            ),
            (
                Tech::FastApi,
                "declare the bound on the parameter so FastAPI validates it: `per_page: \
                Annotated[int, Query(ge=1, le=100)] = 20`; `json_schema_extra={\"maximum\": …}` \
                only documents a bound without enforcing it.",
            ),
        ],
    },
};

#[async_trait]
impl Check for UncappedPageSize {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if op.method != Method::Get || page_param(op).is_none() {
            return Vec::new();
        }
        let mut plan = vec![Planned {
            method: Method::Get,
            identity: "*",
            purpose: "the list with the page size above its maximum",
        }];
        if ctx.mode >= Mode::Active {
            plan.push(Planned {
                method: Method::Post,
                identity: "*",
                purpose: "items of its own to make the list longer than the maximum",
            });
        }
        plan
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        let Some((param, cap)) = page_param(op) else {
            return Outcome::none();
        };
        judge(ctx, op, param, cap).await.unwrap_or_default()
    }
}

/// The page-size parameter and its cap (declared maximum, else [`SANE_CAP`]).
fn page_param(op: &Operation) -> Option<(&Parameter, u64)> {
    op.params_in(ParamLocation::Query).find_map(|p| {
        let numeric = matches!(
            p.schema.ty,
            None | Some(SchemaType::Integer) | Some(SchemaType::Number)
        );
        let name = normalize_name(&p.name);
        let named = PAGE_NAMES.contains(&name.as_str());
        let bounded_like =
            p.schema.maximum.is_some() && ["limit", "size", "per"].iter().any(|w| name.contains(w));
        if !numeric || !(named || bounded_like) {
            return None;
        }
        let cap = p
            .schema
            .maximum
            .filter(|m| *m >= 1.0 && *m < 1e9)
            .map_or(SANE_CAP, |m| m.floor() as u64);
        Some((p, cap))
    })
}

/// How many items a list answer holds (inside its wrappers); `None` when it is not a list.
fn items(ex: &Exchange) -> Option<u64> {
    let json = ex.success_json()?;
    match middlebrick_model::envelope::unwrap_envelope(&json) {
        serde_json::Value::Array(a) => Some(a.len() as u64),
        _ => None,
    }
}

/// The identity that reads the list: the first whose valid request answers with a list.
async fn reader(
    ctx: &RunCtx<'_>,
    op: &Operation,
) -> Result<Option<(String, Exchange)>, ProbeError> {
    let mut who: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
    who.push(ANONYMOUS.to_string());
    for name in who {
        let ex = ctx.probe.baseline(op, &name).await?;
        if items(&ex).is_some() {
            return Ok(Some((name, ex)));
        }
    }
    Ok(None)
}

async fn ask(
    ctx: &RunCtx<'_>,
    op: &Operation,
    who: &str,
    param: &Parameter,
    size: u64,
) -> Result<Exchange, ProbeError> {
    let o = Overrides::param(ParamLocation::Query, &param.name, json!(size));
    ctx.probe.send(ctx.probe.request(op, who, &o)).await
}

async fn judge(
    ctx: &RunCtx<'_>,
    op: &Operation,
    param: &Parameter,
    cap: u64,
) -> Result<Outcome, ProbeError> {
    let Some((who, baseline)) = reader(ctx, op).await? else {
        return Ok(Outcome::none());
    };
    let big = cap * 3;
    let first = ask(ctx, op, &who, param, big).await?;
    let Some(n) = items(&first) else {
        return Ok(Outcome::none());
    };
    if n > cap {
        return Ok(Outcome::finding(finding(
            op,
            param,
            cap,
            big,
            n,
            vec![baseline, first],
            0,
        )));
    }
    let need = cap + 1 - n;
    let Some(make) = creator(ctx, op).filter(|_| ctx.probe.mode() >= Mode::Active) else {
        return Ok(too_few(
            op,
            param,
            cap,
            n,
            "no creation operation may be used in this mode",
        ));
    };
    if need > MAX_CREATE {
        return Ok(too_few(
            op,
            param,
            cap,
            n,
            "more items would be needed than the check makes",
        ));
    }
    let mut made = 0;
    for _ in 0..need {
        let ex = ctx
            .probe
            .send(ctx.probe.request(make, &who, &Overrides::none()))
            .await?;
        if !ex.response.as_ref().is_some_and(|r| r.is_success()) {
            break;
        }
        made += 1;
    }
    if made < need {
        return Ok(too_few(op, param, cap, n, "making items of its own failed"));
    }
    let second = ask(ctx, op, &who, param, big).await?;
    match items(&second) {
        Some(m) if m > cap => Ok(Outcome::finding(finding(
            op,
            param,
            cap,
            big,
            m,
            vec![baseline, first, second],
            made,
        ))),
        _ => Ok(Outcome::none()),
    }
}

/// `POST` on the list's own path: the operation that adds to the collection (never sign-in,
/// registration or sign-out).
fn creator<'a>(ctx: &RunCtx<'a>, op: &Operation) -> Option<&'a Operation> {
    ctx.inventory.operations.iter().find(|o| {
        o.method == Method::Post
            && o.path == op.path
            && password_property(o).is_none()
            && !is_sign_out(o)
            && ctx.probe.method_allowed(Method::Post)
    })
}

fn too_few(op: &Operation, param: &Parameter, cap: u64, n: u64, why: &str) -> Outcome {
    Outcome {
        findings: Vec::new(),
        diagnostics: vec![Diagnostic::info(
            "availability.page-size-unproven",
            format!(
                "{}: `{}` above its maximum {cap} returned {n} items, too few to tell a cap from \
                 a short list ({why})",
                op.key(),
                param.name
            ),
        )],
    }
}

fn finding(
    op: &Operation,
    param: &Parameter,
    cap: u64,
    big: u64,
    n: u64,
    exchanges: Vec<Exchange>,
    made: u64,
) -> middlebrick_model::Finding {
    let declared = if param.schema.maximum.is_some() {
        format!("the documented maximum of {cap}")
    } else {
        format!("{cap}, which the spec leaves unbounded")
    };
    let made_note = if made > 0 {
        format!(" (after the scan added {made} items of its own to the list)")
    } else {
        String::new()
    };
    let description = format!(
        "`{}={big}` returned {n} items{made_note}, more than {declared}: the page size is not \
         capped, so one request can make the server read and serialise as many rows as the \
         caller asks for.",
        param.name
    );
    let evidence = Evidence::new(exchanges).note(
        "the valid request (default page), then the page size above its maximum; the item \
         count is the proof",
    );
    META.finding(
        Some(op),
        &param.name,
        META.severity,
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
    use middlebrick_model::{Inventory, Schema, SpecVersion};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn list_op(max: Option<f64>) -> Operation {
        let mut op = Operation::new(Method::Get, "/bookmarks");
        let schema = Schema {
            ty: Some(SchemaType::Integer),
            maximum: max,
            ..Schema::default()
        };
        op.parameters.push(Parameter {
            name: "per_page".into(),
            location: ParamLocation::Query,
            required: false,
            schema: Arc::new(schema),
            example: None,
        });
        op
    }

    fn page(n: u64) -> String {
        let items: Vec<String> = (1..=n).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        format!(r#"{{"items":[{}],"page":1}}"#, items.join(","))
    }

    /// A list holding `start` items, plus one per successful POST, answered up to `per_page`
    /// items, or up to `clamp` when set.
    fn shop(start: u64, clamp: Option<u64>, mode: Mode) -> (FakeProbe, Arc<AtomicU64>) {
        let total = Arc::new(AtomicU64::new(start));
        let t = total.clone();
        let mut probe = FakeProbe::new()
            .identity("alice", &[])
            .on_dynamic(move |r| {
                if r.method == Method::Post {
                    t.fetch_add(1, Ordering::SeqCst);
                    return Some(response(201, "application/json", r#"{"id":99}"#));
                }
                let asked: u64 = r
                    .query
                    .iter()
                    .find(|(k, _)| k == "per_page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(3);
                let shown = asked
                    .min(t.load(Ordering::SeqCst))
                    .min(clamp.unwrap_or(u64::MAX));
                Some(response(200, "application/json", &page(shown)))
            });
        probe.mode = mode;
        (probe, total)
    }

    async fn run(probe: &FakeProbe, op: Operation, with_post: bool) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(op.clone());
        if with_post {
            inv.operations
                .push(Operation::new(Method::Post, "/bookmarks"));
        }
        UncappedPageSize
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn a_long_list_beyond_the_maximum_is_reported_without_creating_anything() {
        let (probe, total) = shop(40, None, Mode::Safe);
        let out = run(&probe, list_op(Some(5.0)), true).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("per_page"));
        assert_eq!(total.load(Ordering::SeqCst), 40);
        assert_eq!(probe.sent_count(), 2);
    }

    #[tokio::test]
    async fn a_short_list_is_filled_in_active_mode_and_then_proven() {
        let (probe, total) = shop(2, None, Mode::Active);
        let out = run(&probe, list_op(Some(5.0)), true).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert_eq!(total.load(Ordering::SeqCst), 6, "exactly cap + 1 items");
    }

    #[tokio::test]
    async fn a_clamped_list_is_silent_even_after_filling() {
        let (probe, _) = shop(2, Some(5), Mode::Active);
        let out = run(&probe, list_op(Some(5.0)), true).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn a_short_list_in_safe_mode_or_beyond_the_budget_is_a_diagnostic() {
        let (probe, total) = shop(2, None, Mode::Safe);
        let out = run(&probe, list_op(Some(5.0)), true).await;
        assert!(out.findings.is_empty());
        assert_eq!(out.diagnostics.len(), 1);
        assert_eq!(total.load(Ordering::SeqCst), 2);
        let (probe, total) = shop(2, None, Mode::Active);
        let out = run(&probe, list_op(None), true).await;
        assert!(
            out.findings.is_empty(),
            "100 is beyond what the check makes"
        );
        assert_eq!(total.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refusal_is_silent() {
        let probe = FakeProbe::new()
            .identity("alice", &[])
            .on(
                |r| r.query.iter().any(|(k, v)| k == "per_page" && v == "15"),
                response(400, "application/json", r#"{"error":"per_page at most 5"}"#),
            )
            .on(|_| true, response(200, "application/json", &page(3)));
        assert!(run(&probe, list_op(Some(5.0)), false)
            .await
            .findings
            .is_empty());
    }
}

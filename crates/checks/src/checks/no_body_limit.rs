//! `availability.no-body-limit`: the API accepts a request body of several megabytes where a
//! normal one is accepted, so nothing stops a client from making the server read, parse and
//! hold arbitrarily large bodies.
//!
//! Method: on an operation that creates objects in a collection (a `POST` with a JSON object
//! body on a path that also has a `GET`; never sign-in, registration or sign-out), in a mode
//! that lets the scan create objects: the valid request first (the control, which must be
//! accepted), then the same body with one extra property holding [`PADDING`] bytes of text, a
//! property no schema declares, so the object stored is no larger than the control's. Fires
//! when that is accepted too (2xx). A 413, 400 or 422 is a limit; no answer, a 502–504 or an
//! outage the transport noticed is strain: the check stops there (issue 13's health rules) and
//! says so. The cap is a server-wide setting, so one finding per scan.
//!
//! Budget: at most [`MAX_OPS`] operations, two POSTs each; stops at the first finding.

use crate::authflow::{is_registration, is_sign_out, password_property};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Diagnostic, Evidence, Exchange, Method, Operation, Owasp,
    Remediation, RequestBody, RequestSpec, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct NoBodyLimit;

/// Bytes of padding in the oversized body: above the common defaults (1 MiB at nginx and
/// Werkzeug's recommended `MAX_CONTENT_LENGTH`, 2.5 MiB in Django), far below memory trouble.
pub const PADDING: usize = 4 * 1024 * 1024;
/// Operations tried at most.
const MAX_OPS: usize = 2;
/// The extra property that carries the padding.
const PAD_KEY: &str = "middlebrick_padding";

static META: CheckMeta = CheckMeta {
    id: CheckId::AvailabilityNoBodyLimit,
    title: "No maximum request body size",
    description: "Sends an operation that creates objects its valid JSON body, then the same \
        body with one undeclared property holding 4 MiB of text. Fires when both are accepted \
        (2xx); a 413/400/422 is a limit, and no answer or a gateway error stops the check.",
    cwe: &[770, 400],
    owasp: &[Owasp::Api4],
    severity: Severity::Low,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Cap request bodies before they are read: a maximum body size at the reverse \
            proxy (`client_max_body_size 1m;` in nginx) and in the application server, answering \
            413, plus `maxLength`/`maxItems` on the schema's fields.",
        variants: &[
            (
                Tech::Flask,
                "set `app.config[\"MAX_CONTENT_LENGTH\"] = 1024 * 1024`: Werkzeug then answers \
                413 before the body is parsed.",
            ),
            (
                Tech::FastApi,
                "Starlette has no body limit of its own: reject large bodies in a middleware \
                that checks `Content-Length` (and counts streamed bytes) and answers 413, or set \
                the limit at the proxy in front of uvicorn.",
            ),
        ],
    },
};

#[async_trait]
impl Check for NoBodyLimit {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    /// After every other check: a large body is the last thing a fragile target should meet.
    fn order(&self) -> RunOrder {
        RunOrder::Last
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        if !ctx.probe.mode().allows(META.kind) || !ctx.probe.method_allowed(Method::Post) {
            return Outcome::none();
        }
        let who = ctx
            .probe
            .identities()
            .first()
            .map_or_else(|| ANONYMOUS.to_string(), |i| i.name.clone());
        let mut out = Outcome::none();
        for op in creators(ctx).into_iter().take(MAX_OPS) {
            match try_op(ctx, op, &who).await {
                Ok(Verdict::Accepted(f)) => {
                    out.findings.push(*f);
                    break;
                }
                Ok(Verdict::Limited) => {}
                Ok(Verdict::Strain(why)) => {
                    out.diagnostics.push(Diagnostic::info(
                        "availability.body-limit-stopped",
                        format!("{}: stopped at the first sign of strain ({why})", op.key()),
                    ));
                    break;
                }
                Err(_) => break,
            }
        }
        out
    }
}

/// Operations that add to a collection with a JSON object body.
fn creators<'a>(ctx: &RunCtx<'a>) -> Vec<&'a Operation> {
    let inv = ctx.inventory;
    inv.operations
        .iter()
        .filter(|o| o.method == Method::Post)
        .filter(|o| {
            inv.operations
                .iter()
                .any(|g| g.method == Method::Get && g.path == o.path)
        })
        .filter(|o| {
            o.request_body
                .as_ref()
                .is_some_and(|b| b.content.keys().any(|m| m.contains("json")))
        })
        .filter(|o| password_property(o).is_none() && !is_sign_out(o) && !is_registration(o))
        .collect()
}

enum Verdict {
    Accepted(Box<middlebrick_model::Finding>),
    Limited,
    Strain(String),
}

fn strained(ex: &Exchange) -> Option<String> {
    match ex.status() {
        None => Some(ex.error.clone().unwrap_or_else(|| "no answer".into())),
        Some(s @ 502..=504) => Some(format!("HTTP {s}")),
        _ => None,
    }
}

fn padded(mut req: RequestSpec) -> Option<RequestSpec> {
    let Some(RequestBody::Json(serde_json::Value::Object(map))) = req.body.as_mut() else {
        return None;
    };
    map.insert(
        PAD_KEY.into(),
        serde_json::Value::String("a".repeat(PADDING)),
    );
    Some(req)
}

async fn try_op(ctx: &RunCtx<'_>, op: &Operation, who: &str) -> Result<Verdict, ProbeError> {
    let req = ctx.probe.request(op, who, &Overrides::none());
    let Some(big) = padded(req.clone()) else {
        return Ok(Verdict::Limited);
    };
    let outages = ctx.probe.outages().len();
    let control = ctx.probe.send(req).await?;
    if let Some(why) = strained(&control) {
        return Ok(Verdict::Strain(why));
    }
    if !control.response.as_ref().is_some_and(|r| r.is_success()) {
        return Ok(Verdict::Limited);
    }
    let oversized = ctx.probe.send(big).await?;
    if let Some(why) = strained(&oversized) {
        return Ok(Verdict::Strain(why));
    }
    if ctx.probe.outages().len() > outages {
        return Ok(Verdict::Strain("the target stopped answering".into()));
    }
    let status = oversized.status().unwrap_or(0);
    if !oversized.is_success() {
        return Ok(Verdict::Limited);
    }
    let description = format!(
        "{} accepted a {} MiB JSON body with {status}, as it accepted the valid {}-byte one: \
         the API sets no maximum request size, so any client can make it read and parse bodies \
         as large as it likes.",
        op.key(),
        PADDING / (1024 * 1024),
        control
            .request
            .body
            .as_ref()
            .map_or(0, |b| b.size.max(b.text.len() as u64)),
    );
    let evidence = Evidence::new(vec![control, oversized])
        .note("the valid body, then the same body with one undeclared property of 4 MiB");
    Ok(Verdict::Accepted(Box::new(META.finding(
        Some(op),
        "",
        META.severity,
        Confidence::Confirmed,
        description,
        evidence,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Mode, RequestBodySpec, Schema, SpecVersion};
    use std::sync::Arc;

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(Operation::new(Method::Get, "/notes"));
        let mut post = Operation::new(Method::Post, "/notes");
        post.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(Schema::default()))]
                .into_iter()
                .collect(),
        });
        inv.operations.push(post);
        inv
    }

    fn is_big(r: &RequestSpec) -> bool {
        matches!(&r.body, Some(RequestBody::Json(v)) if v.get(PAD_KEY).is_some())
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = inventory();
        NoBodyLimit
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    fn probe(big: Option<middlebrick_model::ResponseRecord>) -> FakeProbe {
        let mut p = FakeProbe::new().identity("alice", &[]);
        if let Some(b) = big {
            p = p.on(is_big, b);
        }
        p = p.on(|_| true, response(201, "application/json", r#"{"id":5}"#));
        p.mode = Mode::Active;
        p
    }

    #[tokio::test]
    async fn an_accepted_oversized_body_is_reported() {
        let p = probe(None);
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].path.as_deref(), Some("/notes"));
        assert_eq!(p.sent_count(), 2);
    }

    #[tokio::test]
    async fn a_413_is_a_limit_and_safe_mode_sends_nothing() {
        let p = probe(Some(response(413, "text/html", "Request Entity Too Large")));
        assert!(run(&p).await.findings.is_empty());
        let mut p = probe(None);
        p.mode = Mode::Safe;
        assert!(run(&p).await.findings.is_empty());
        assert_eq!(p.sent_count(), 0);
    }

    #[tokio::test]
    async fn a_gateway_error_is_strain_and_stops() {
        let p = probe(Some(response(502, "text/html", "Bad Gateway")));
        let out = run(&p).await;
        assert!(out.findings.is_empty());
        assert_eq!(out.diagnostics.len(), 1);
    }
}

//! `csrf.cookie-state-change`: a state-changing operation accepts the session cookie alone, from
//! a foreign `Origin`, with no anti-CSRF token.
//!
//! Active mode, on operations that declare authentication (public ones and sign-in/sign-out are
//! left alone), as the first ordinary identity whose session is a cookie; bearer-only identities
//! are never judged, since no other site can make a browser send a token. The forged request is
//! the valid request with only the cookie, `Origin: https://attacker.evil.test` and no token
//! header. It counts only when its effect is seen: the scanner's own object (created for the
//! purpose) or the identity's own settings read back changed, or a create's new object can be
//! read back. Accepting a foreign `Origin` is part of what this check proves, so "Origin and
//! Referer not checked" is one finding with it, not a second one.
//!
//! DELETE is not judged: the engine sends it only with `--allow-delete`, and this check would
//! have to create the object first to learn that. Budget: four requests per operation.

use crate::browser::{cookie_identity, cross_site, forged, is_session_path, prepare};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, Severity, Tech,
};

#[derive(Debug)]
pub struct CsrfCookieStateChange;

static META: CheckMeta = CheckMeta {
    id: CheckId::CsrfCookieStateChange,
    title: "State change accepted from another site with the session cookie alone",
    description: "In active mode, sends a state-changing operation the way a page on another site \
        could make a signed-in browser send it (session cookie only, a foreign Origin, no token) \
        against an object the scanner created, and reads the state back. Fires when the change \
        took effect; the session cookie's SameSite attribute sets the severity.",
    cwe: &[352],
    owasp: &[Owasp::Api8, Owasp::Api2],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Require proof that a cookie-authenticated write comes from your own pages: a \
            synchronizer or double-submit token sent in a custom header (`X-CSRF-Token`) and \
            compared in constant time with the one bound to the session, and an `Origin` \
            allowlist that refuses other origins. Mark the session cookie `SameSite=Lax` (or \
            `Strict`) and `HttpOnly`. APIs used only by scripts can drop the cookie and accept \
            only an `Authorization` header, which no other site can make a browser send.",
        variants: &[
            (
                Tech::Flask,
                "enable Flask-WTF's `CSRFProtect(app)` (send the token from \
                `generate_csrf()` in an `X-CSRFToken` header), or compare a double-submit cookie \
                with a header in a `before_request` hook for every POST/PUT/PATCH/DELETE that is \
                authenticated by the session; set `SESSION_COOKIE_SAMESITE=\"Lax\"` and check \
                `request.origin` against an allowlist.",
            ),
            (
                Tech::FastApi,
                "add a dependency or middleware that, for unsafe methods authenticated \
                by the cookie, requires an `X-CSRF-Token` header equal to a double-submit cookie \
                (`secrets.compare_digest`) and an allowed `Origin`; set the cookie with \
                `response.set_cookie(..., httponly=True, samesite=\"lax\")`.",
            ),
        ],
    },
};

/// Methods a forged request may use here (DELETE needs `--allow-delete`; see the module doc).
fn judged(op: &Operation) -> bool {
    matches!(op.method, Method::Post | Method::Put | Method::Patch)
        && op.declares_auth()
        && !op.declares_public()
        && !is_session_path(&op.path)
}

#[async_trait]
impl Check for CsrfCookieStateChange {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if !judged(op) || ctx.identities == 0 {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "create the object to act on, when the path names one",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "read the state before",
            },
            Planned {
                method: op.method,
                identity: "*",
                purpose: "the forged request: session cookie only, foreign Origin, no token",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "read the state after",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some(identity) = cookie_identity(ctx.probe.identities()) else {
        return Ok(Outcome::none());
    };
    let Some(prepared) = prepare(ctx, op, &identity.name).await? else {
        return Ok(Outcome::none());
    };
    let req = forged(
        ctx.probe.request(op, &identity.name, &prepared.overrides),
        true,
    );
    let attack = ctx.probe.send(req).await?;
    let Some(effect) = prepared.effect(ctx, op, &identity.name, &attack).await? else {
        return Ok(Outcome::none());
    };
    let (cross, why) = cross_site(&identity);
    let severity = cross.severity(op.method, META.severity);
    let confidence = if effect.observed {
        Confidence::Confirmed
    } else {
        Confidence::Firm
    };
    let description = format!(
        "`{}` sent with only `{}`'s session cookie, `Origin: {}` and no anti-CSRF token was \
         accepted (HTTP {}) and took effect: {}. An attacker's page can make a signed-in \
         victim's browser send this request and change the victim's data without their \
         knowledge. Note: {}.",
        op.key(),
        identity.name,
        crate::browser::ATTACKER_ORIGIN,
        attack.status().unwrap_or(0),
        effect.what,
        why
    );
    let mut exchanges = prepared.setup.clone();
    let at = exchanges.len();
    exchanges.push(attack);
    exchanges.extend(effect.exchanges);
    let evidence = Evidence::new(exchanges).note(format!(
        "exchange {} is the forged request (cookie only, foreign Origin); the ones before it \
         prepare the scanner's own object, the ones after read the state back (and put the \
         identity's own settings back)",
        at + 1
    ));
    Ok(Outcome::finding(META.finding(
        Some(op),
        "",
        severity,
        confidence,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        CredentialUse, Inventory, Mode, ParamLocation, Parameter, RequestSpec, Schema, SchemaType,
        SecurityRequirement, SpecVersion,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const JSON: &str = "application/json";

    fn secured(mut op: Operation) -> Operation {
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        op
    }

    fn with_id(mut op: Operation) -> Operation {
        op.parameters.push(Parameter {
            name: "order_id".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
        op
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations
            .push(secured(Operation::new(Method::Post, "/orders")));
        inv.operations.push(secured(with_id(Operation::new(
            Method::Get,
            "/orders/{order_id}",
        ))));
        inv.operations.push(secured(with_id(Operation::new(
            Method::Post,
            "/orders/{order_id}/cancel",
        ))));
        inv
    }

    fn cookie_probe(same_site: Option<&str>, csrf_defended: bool) -> FakeProbe {
        let cancelled = Arc::new(AtomicBool::new(false));
        let c = cancelled.clone();
        let mut probe = FakeProbe::new()
            .on(
                |r: &RequestSpec| r.method == Method::Post && r.path == "/orders",
                response(201, JSON, r#"{"id":7,"status":"placed","total":3.5}"#),
            )
            .on_dynamic(move |r: &RequestSpec| {
                if r.method == Method::Post && r.path == "/orders/7/cancel" {
                    let cookie_only = r.credentials == CredentialUse::CookiesOnly;
                    if csrf_defended && cookie_only {
                        return Some(response(403, JSON, r#"{"error":"csrf"}"#));
                    }
                    c.store(true, Ordering::SeqCst);
                    return Some(response(200, JSON, r#"{"id":7,"status":"cancelled"}"#));
                }
                if r.method == Method::Get && r.path == "/orders/7" {
                    let status = if c.load(Ordering::SeqCst) {
                        "cancelled"
                    } else {
                        "placed"
                    };
                    return Some(response(
                        200,
                        JSON,
                        &format!(r#"{{"id":7,"status":"{status}","total":3.5}}"#),
                    ));
                }
                None
            });
        probe.mode = Mode::Active;
        probe.identities.push(crate::probe::IdentityInfo {
            name: "alice".into(),
            session_cookies: vec!["session".into()],
            cookie_same_site: vec![("session".into(), same_site.map(str::to_string))],
            token_header: Some("Authorization".into()),
            markers: vec!["alice".into()],
            own: Default::default(),
            admin: false,
        });
        probe
    }

    async fn run(probe: &FakeProbe, path: &str) -> Outcome {
        let inv = inventory();
        let op = inv
            .operations
            .iter()
            .find(|o| o.path == path)
            .unwrap()
            .clone();
        CsrfCookieStateChange
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn forged_cancel_of_the_scanners_own_order_is_found() {
        let probe = cookie_probe(None, false);
        let out = run(&probe, "/orders/{order_id}/cancel").await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        let f = &out.findings[0];
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert!(f.description.contains("status"), "{}", f.description);
        let sent = probe.sent.lock().unwrap();
        let forged = sent.iter().find(|r| r.path == "/orders/7/cancel").unwrap();
        assert_eq!(forged.credentials, CredentialUse::CookiesOnly);
        assert!(forged.headers.iter().any(|(k, _)| k == "Origin"));
    }

    #[tokio::test]
    async fn lax_cookie_lowers_severity_instead_of_hiding() {
        let out = run(
            &cookie_probe(Some("Lax"), false),
            "/orders/{order_id}/cancel",
        )
        .await;
        assert_eq!(out.findings[0].severity, Severity::Low);
    }

    #[tokio::test]
    async fn a_token_check_that_refuses_the_forged_request_is_silent() {
        let out = run(&cookie_probe(None, true), "/orders/{order_id}/cancel").await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn bearer_only_identities_are_never_judged() {
        let probe = FakeProbe::new().identity("alice", &["alice"]);
        let out = run(&probe, "/orders/{order_id}/cancel").await;
        assert!(out.findings.is_empty());
        assert_eq!(probe.sent_count(), 0);
    }

    #[test]
    fn public_and_session_operations_are_not_planned() {
        let ctx = PlanCtx {
            mode: Mode::Active,
            identities: 1,
        };
        let login = secured(Operation::new(Method::Post, "/api/auth/login"));
        assert!(CsrfCookieStateChange.plan(&login, ctx).is_empty());
        let public = Operation::new(Method::Post, "/orders");
        assert!(CsrfCookieStateChange.plan(&public, ctx).is_empty());
        let read = secured(Operation::new(Method::Get, "/orders"));
        assert!(CsrfCookieStateChange.plan(&read, ctx).is_empty());
    }
}

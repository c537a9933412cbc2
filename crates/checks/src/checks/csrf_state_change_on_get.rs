//! `csrf.state-change-on-get`: a GET changes state.
//!
//! GET is safe by definition (RFC 9110 §9.2.1), so browsers send it cross-site with cookies
//! (`SameSite=Lax` included: a link, a redirect, a top-level navigation), link prefetchers and
//! crawlers follow it, and no CSRF defence covers it. Candidates are operations on an object
//! whose last path segment names an action (`/orders/{id}/cancel`, `/approve`, `/unsubscribe`):
//! a GET the spec documents, or a POST the spec documents whose path may also answer GET (Flask's
//! `methods=["GET", "POST"]`). Active mode only: the scanner creates the object, reads it, sends
//! the GET the way a cross-site link would (session cookie only), and reads it again. The
//! finding needs a property to have changed. Budget: four requests per candidate.

use crate::browser::{cookie_identity, cross_site, forged, prepare, CrossSite};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Method, Operation, Owasp, Remediation,
    Severity, Tech,
};

#[derive(Debug)]
pub struct CsrfStateChangeOnGet;

static META: CheckMeta = CheckMeta {
    id: CheckId::CsrfStateChangeOnGet,
    title: "GET request changes state",
    description: "In active mode, on an object the scanner created, sends GET to an action path \
        (`/cancel`, `/approve`, `/unsubscribe`, documented as GET or as POST) with only the \
        session cookie, and reads the object before and after. Fires when a property changed.",
    cwe: &[650, 352],
    owasp: &[Owasp::Api8],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Never change state on GET: route actions to POST (or PUT/PATCH/DELETE) only, \
            answer 405 to GET on them, and protect the unsafe method with an anti-CSRF token or \
            an Origin allowlist. A link in an e-mail (one-click unsubscribe) should open a page \
            that asks for confirmation and POSTs.",
        variants: &[
            (
                Tech::Flask,
                "declare the route with `methods=[\"POST\"]` only (never `[\"GET\", \"POST\"]` \
                for an action) and protect it with Flask-WTF's `CSRFProtect`.",
            ),
            (
                Tech::FastApi,
                "use `@router.post(...)` for actions instead of `@router.get(...)` or \
                `api_route(methods=[\"GET\", \"POST\"])`, behind the CSRF-token dependency.",
            ),
        ],
    },
};

const ACTIONS: &[&str] = &[
    "cancel",
    "delete",
    "remove",
    "destroy",
    "purge",
    "approve",
    "reject",
    "accept",
    "decline",
    "confirm",
    "activate",
    "deactivate",
    "enable",
    "disable",
    "archive",
    "unarchive",
    "subscribe",
    "unsubscribe",
    "revoke",
    "void",
    "refund",
    "close",
    "reopen",
    "publish",
    "unpublish",
    "reset",
    "block",
    "unblock",
    "complete",
    "ship",
    "pay",
    "checkout",
    "restore",
    "lock",
    "unlock",
    "transfer",
    "follow",
    "unfollow",
];

/// True when the path's last segment is an action on an object named earlier in the path.
fn action_path(path: &str) -> bool {
    let Some((head, last)) = path.rsplit_once('/') else {
        return false;
    };
    head.ends_with('}')
        && ACTIONS.contains(&last.to_ascii_lowercase().replace(['-', '_'], "").as_str())
}

#[async_trait]
impl Check for CsrfStateChangeOnGet {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        let candidate = matches!(op.method, Method::Get | Method::Post)
            && action_path(&op.path)
            && !op.declares_public()
            && !op.request_body.as_ref().is_some_and(|b| b.required);
        if !candidate || ctx.identities == 0 {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "create the object to act on",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "read it, GET the action with the session cookie only, read it again",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        // A POST whose path the spec also documents as GET is judged on that GET's own run.
        let documented_get = ctx
            .inventory
            .operations
            .iter()
            .any(|o| o.method == Method::Get && o.path == op.path);
        if op.method == Method::Post && documented_get {
            return Outcome::none();
        }
        judge(ctx, op).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let identities = ctx.probe.identities();
    let cookie = cookie_identity(identities.clone());
    let Some(identity) = cookie
        .clone()
        .or_else(|| identities.into_iter().find(|i| !i.admin))
    else {
        return Ok(Outcome::none());
    };
    let mut get = op.clone();
    get.method = Method::Get;
    get.request_body = None;
    let Some(prepared) = prepare(ctx, &get, &identity.name).await? else {
        return Ok(Outcome::none());
    };
    let mut req = ctx.probe.request(&get, &identity.name, &prepared.overrides);
    req.body = None;
    if cookie.is_some() {
        req = forged(req, false);
    } else {
        req.credentials = CredentialUse::All;
    }
    let attack = ctx.probe.send(req).await?;
    let Some(effect) = prepared.effect(ctx, &get, &identity.name, &attack).await? else {
        return Ok(Outcome::none());
    };
    let (severity, how) = match &cookie {
        Some(c) => {
            let (cross, why) = cross_site(c);
            let severity = cross.severity(Method::Get, META.severity);
            let how = if cross == CrossSite::NotSent {
                format!("Only a same-site page can trigger it with the victim's session ({why})")
            } else {
                format!(
                    "An attacker's page (a link, an image, a redirect) can make a signed-in \
                     victim's browser send it with the session cookie ({why})"
                )
            };
            (severity, how)
        }
        None => (
            Severity::Low,
            "The identity has no cookie session, so other sites cannot trigger it with the \
             victim's credentials, but caches, link prefetchers and crawlers that follow GET \
             links can"
                .to_string(),
        ),
    };
    let documented = if op.method == Method::Get {
        "documented as GET"
    } else {
        "documented as POST but also answering GET"
    };
    let description = format!(
        "`GET {}` ({documented}) sent as `{}` with the session cookie only changed the \
         scanner's own object: {}. {how}.",
        op.path, identity.name, effect.what
    );
    let mut exchanges = prepared.setup.clone();
    exchanges.push(attack);
    exchanges.extend(effect.exchanges);
    let evidence =
        Evidence::new(exchanges).note("create the object, read it, the GET, read it again");
    Ok(Outcome::finding(META.finding(
        Some(&get),
        "",
        severity,
        Confidence::Confirmed,
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
        Inventory, Mode, ParamLocation, Parameter, RequestSpec, Schema, SchemaType, SpecVersion,
    };
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const JSON: &str = "application/json";

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

    fn probe(get_cancels: bool) -> FakeProbe {
        let cancelled = Arc::new(AtomicBool::new(false));
        let c = cancelled.clone();
        let mut probe = FakeProbe::new()
            .on(
                |r: &RequestSpec| r.method == Method::Post && r.path == "/orders",
                response(201, JSON, r#"{"id":9,"status":"placed"}"#),
            )
            .on_dynamic(move |r: &RequestSpec| {
                if r.path == "/orders/9/cancel" {
                    if r.method == Method::Get && !get_cancels {
                        return Some(response(405, JSON, r#"{"error":"method_not_allowed"}"#));
                    }
                    c.store(true, Ordering::SeqCst);
                    return Some(response(200, JSON, r#"{"id":9,"status":"cancelled"}"#));
                }
                if r.path == "/orders/9" {
                    let s = if c.load(Ordering::SeqCst) {
                        "cancelled"
                    } else {
                        "placed"
                    };
                    return Some(response(
                        200,
                        JSON,
                        &format!(r#"{{"id":9,"status":"{s}"}}"#),
                    ));
                }
                None
            });
        probe.mode = Mode::Active;
        probe.identities.push(crate::probe::IdentityInfo {
            name: "alice".into(),
            session_cookies: vec!["session".into()],
            cookie_same_site: vec![("session".into(), Some("Lax".into()))],
            token_header: None,
            markers: vec![],
            own: Default::default(),
            admin: false,
        });
        probe
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(Operation::new(Method::Post, "/orders"));
        inv.operations
            .push(with_id(Operation::new(Method::Get, "/orders/{order_id}")));
        let cancel = with_id(Operation::new(Method::Post, "/orders/{order_id}/cancel"));
        inv.operations.push(cancel.clone());
        CsrfStateChangeOnGet
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&cancel),
            })
            .await
    }

    #[tokio::test]
    async fn a_post_action_that_also_cancels_on_get_is_found_as_get() {
        let out = run(&probe(true)).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        let f = &out.findings[0];
        assert_eq!(f.method, Some(Method::Get));
        assert_eq!(
            f.severity,
            Severity::High,
            "Lax cookies go with top-level GETs"
        );
        assert!(
            f.description.contains("`status` changed"),
            "{}",
            f.description
        );
    }

    #[tokio::test]
    async fn a_get_refused_with_405_is_silent() {
        assert!(run(&probe(false)).await.findings.is_empty());
    }

    #[test]
    fn only_actions_on_objects_are_candidates() {
        assert!(action_path("/orders/{order_id}/cancel"));
        assert!(action_path("/a/{id}/Un-Subscribe"));
        assert!(!action_path("/orders/{order_id}"));
        assert!(!action_path("/orders/cancel"));
    }
}

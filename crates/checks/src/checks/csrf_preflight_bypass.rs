//! `csrf.preflight-bypass`: a JSON operation also accepts a body a cross-site form can send.
//!
//! A browser sends `application/x-www-form-urlencoded`, `multipart/form-data` and `text/plain`
//! POSTs to any site without a CORS preflight, so an API whose only CSRF defence is "we only
//! take JSON" (which does need a preflight) is open once it also parses those. Active mode, on
//! POST operations that declare authentication and a JSON body, as the first ordinary identity
//! whose session is a cookie: the valid body is sent form-encoded (when it is flat) and then as
//! `text/plain` JSON, with only the cookie and a foreign `Origin`, against the scanner's own
//! object; it counts only when the change is read back. Budget: five requests per operation.

use crate::browser::{
    cookie_identity, cross_site, forged, is_session_path, prepare, simple_bodies,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, RequestBody,
    Severity, Tech,
};

#[derive(Debug)]
pub struct CsrfPreflightBypass;

static META: CheckMeta = CheckMeta {
    id: CheckId::CsrfPreflightBypass,
    title: "JSON operation also accepts bodies that need no CORS preflight",
    description: "In active mode, sends a JSON operation's valid body form-encoded and as \
        text/plain, with only the session cookie and a foreign Origin, against an object the \
        scanner created. Fires when the change took effect: a cross-site HTML form can then \
        make the same change.",
    cwe: &[352],
    owasp: &[Owasp::Api8],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Parse a JSON operation's body only when `Content-Type` is `application/json` and \
            answer 415 otherwise; never fall back to form fields or parse JSON out of \
            `text/plain`. Do not rely on this alone: also require an anti-CSRF token or an \
            allowed `Origin` on every cookie-authenticated write.",
        variants: &[
            (Tech::Flask, "use `request.get_json()` (without `force=True`) and reject the request when \
                `request.is_json` is false, instead of falling back to `request.form`; add \
                Flask-WTF's `CSRFProtect` for session-authenticated routes."),
            (Tech::FastApi, "declare bodies as Pydantic models (never `Request.body()` parsed by hand), \
                and add a middleware that answers 415 to unsafe requests whose `Content-Type` is not \
                `application/json`, next to the double-submit token check."),
        ],
    },
};

fn json_body(op: &Operation) -> bool {
    op.request_body.as_ref().is_some_and(|b| {
        b.content.keys().any(|m| m.contains("json"))
            && !b.content.keys().any(|m| {
                m.contains("form") || m.starts_with("text/") || m.starts_with("multipart/")
            })
    })
}

#[async_trait]
impl Check for CsrfPreflightBypass {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        let judged = op.method == Method::Post
            && json_body(op)
            && op.declares_auth()
            && !op.declares_public()
            && !is_session_path(&op.path);
        if !judged || ctx.identities == 0 {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "read the state before",
            },
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "the body form-encoded, then as text/plain: cookie only, foreign Origin",
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
    let valid = ctx.probe.request(op, &identity.name, &Overrides::none());
    let Some(RequestBody::Json(_)) = valid.body else {
        return Ok(Outcome::none());
    };
    let Some(prepared) = prepare(ctx, op, &identity.name).await? else {
        return Ok(Outcome::none());
    };
    let base = ctx.probe.request(op, &identity.name, &prepared.overrides);
    let Some(RequestBody::Json(json)) = base.body.clone() else {
        return Ok(Outcome::none());
    };
    let mut tried = Vec::new();
    for body in simple_bodies(&json) {
        let kind = body.content_type().to_string();
        let mut req = forged(base.clone(), true);
        req.body = Some(body);
        let attack = ctx.probe.send(req).await?;
        let accepted = attack.response.as_ref().is_some_and(|r| r.is_success());
        tried.push(attack);
        if !accepted {
            continue;
        }
        let attack = tried.last().expect("just pushed");
        let Some(effect) = prepared.effect(ctx, op, &identity.name, attack).await? else {
            return Ok(Outcome::none());
        };
        let (cross, why) = cross_site(&identity);
        let description = format!(
            "`{}` documents a JSON body, yet the same body sent as `{kind}` with only `{}`'s \
             session cookie and a foreign `Origin` was accepted (HTTP {}) and took effect: {}. \
             Such a request needs no CORS preflight, so an attacker's page can make a \
             signed-in victim's browser submit it with a plain HTML form. Note: {}.",
            op.key(),
            identity.name,
            attack.status().unwrap_or(0),
            effect.what,
            why
        );
        let mut exchanges = prepared.setup.clone();
        exchanges.extend(tried);
        exchanges.extend(effect.exchanges);
        let evidence = Evidence::new(exchanges).note(
            "the setup (scanner's own object, state before), the forged simple request(s), \
             then the state read back",
        );
        let confidence = if effect.observed {
            Confidence::Confirmed
        } else {
            Confidence::Firm
        };
        return Ok(Outcome::finding(META.finding(
            Some(op),
            "",
            cross.severity(Method::Post, META.severity),
            confidence,
            description,
            evidence,
        )));
    }
    Ok(Outcome::none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{
        Inventory, Mode, RequestBodySpec, RequestSpec, Schema, SchemaType, SecurityRequirement,
        SpecVersion,
    };
    use std::sync::{Arc, Mutex};

    const JSON: &str = "application/json";

    fn prefs_post() -> Operation {
        let mut op = Operation::new(Method::Post, "/preferences");
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        let mut s = Schema::of_type(SchemaType::Object);
        s.properties.insert(
            "delivery_note".into(),
            Arc::new(Schema::of_type(SchemaType::String)),
        );
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [(JSON.to_string(), Arc::new(s))].into_iter().collect(),
        });
        op
    }

    fn probe(accepts_form: bool) -> FakeProbe {
        let note = Arc::new(Mutex::new("ring twice".to_string()));
        let n = note.clone();
        let mut probe = FakeProbe::new().on_dynamic(move |r: &RequestSpec| {
            if r.path != "/preferences" {
                return None;
            }
            if r.method == Method::Post {
                return match &r.body {
                    Some(RequestBody::Form(pairs)) if accepts_form => {
                        *n.lock().unwrap() = pairs[0].1.clone();
                        Some(response(200, JSON, "{}"))
                    }
                    Some(RequestBody::Json(v)) => {
                        *n.lock().unwrap() = v["delivery_note"].as_str().unwrap_or("").into();
                        Some(response(200, JSON, "{}"))
                    }
                    _ => Some(response(415, JSON, r#"{"error":"unsupported_media_type"}"#)),
                };
            }
            let body = format!(
                r#"{{"newsletter":true,"delivery_note":"{}"}}"#,
                n.lock().unwrap()
            );
            Some(response(200, JSON, &body))
        });
        probe.mode = Mode::Active;
        probe.identities.push(crate::probe::IdentityInfo {
            name: "alice".into(),
            session_cookies: vec!["session".into()],
            cookie_same_site: vec![("session".into(), None)],
            token_header: None,
            markers: vec![],
            own: Default::default(),
            admin: false,
        });
        probe
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(prefs_post());
        inv.operations
            .push(Operation::new(Method::Get, "/preferences"));
        let op = prefs_post();
        CsrfPreflightBypass
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn form_body_accepted_and_read_back_is_found_and_put_back() {
        let probe = probe(true);
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0]
            .description
            .contains("application/x-www-form-urlencoded"));
        let sent = probe.sent.lock().unwrap();
        let last = sent.last().unwrap();
        assert!(
            matches!(&last.body, Some(RequestBody::Json(v)) if v["delivery_note"] == "ring twice"),
            "the identity's own setting is put back: {last:?}"
        );
    }

    #[tokio::test]
    async fn json_only_operations_are_silent() {
        assert!(run(&probe(false)).await.findings.is_empty());
    }
}

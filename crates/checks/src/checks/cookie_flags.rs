//! `auth.cookie-flags`: a cookie that authenticates on its own is set without `Secure`,
//! `HttpOnly` or a `SameSite` that protects it.
//!
//! The cookies judged are the ones sign-in answers set: the exchange that signed each identity
//! in, and one fresh sign-in (`Probe::sign_in_fresh`) through every other sign-in operation
//! the inventory has (sign-in POSTs are allowed in safe mode for configured identities). A
//! cookie counts only when it authenticates by itself: a protected read (a GET that answers an
//! anonymous caller 401/403 and an identity 2xx) sent anonymously with only that cookie gets a
//! 2xx. A script-readable double-submit CSRF cookie, a preference or a load-balancer cookie
//! never fires, whatever its flags. One finding per cookie name, API-wide, listing every
//! missing flag; `SameSite=None` without `Secure` counts as missing (browsers drop it).
//!
//! Budget: one sign-in per sign-in operation identities do not already use, and for each
//! cookie lacking a flag up to three cookie-only reads; the protected reads' baselines are the
//! shared ones.

use crate::authflow::{sign_in_operations, sign_in_refused};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use crate::probe::ProbeError;
use crate::session::{
    cookie_authenticates, password_identity, protected_reads, set_cookies, url_path, ProtectedRead,
    SetCookie,
};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Operation, Owasp, Remediation, Severity,
    Tech,
};

#[derive(Debug)]
pub struct CookieFlags;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthCookieFlags,
    title: "Session cookie without Secure, HttpOnly or SameSite",
    description: "Reads the Set-Cookie headers of the API's sign-in answers and, for each cookie \
        that authenticates on its own (a protected read succeeds with only that cookie and fails \
        without it), reports the missing Secure, HttpOnly and SameSite attributes, once per \
        cookie name.",
    cwe: &[614, 1004, 1275],
    owasp: &[Owasp::Api2, Owasp::Api8],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Set every cookie that carries a session or a token with `Secure` (sent over \
            HTTPS only), `HttpOnly` (unreadable by scripts, so an XSS cannot steal it) and \
            `SameSite=Lax` or `Strict` (not sent on cross-site requests); `SameSite=None` is only \
            valid together with `Secure`. Prefer the `__Host-` name prefix, which makes browsers \
            enforce `Secure`, `Path=/` and no `Domain`. Serve the API over HTTPS only.",
        variants: &[
            (
                Tech::Flask,
                "for Flask's session set `SESSION_COOKIE_SECURE = True`, \
                `SESSION_COOKIE_HTTPONLY = True` and `SESSION_COOKIE_SAMESITE = \"Lax\"` in the \
                app config; for cookies you set yourself call `response.set_cookie(name, value, \
                secure=True, httponly=True, samesite=\"Lax\")`.",
            ),
            (
                Tech::FastApi,
                "call `response.set_cookie(key=name, value=value, secure=True, \
                httponly=True, samesite=\"lax\")`; with Starlette's `SessionMiddleware` pass \
                `https_only=True, same_site=\"lax\"`.",
            ),
        ],
    },
};

/// One cookie a sign-in set, with the answer that set it.
#[derive(Debug, Clone)]
struct Seen {
    cookie: SetCookie,
    sign_in: Exchange,
}

/// The sign-in answers to read cookies from: each identity's own, then one fresh sign-in
/// through every other sign-in operation.
async fn sign_in_answers(ctx: &RunCtx<'_>) -> Vec<Exchange> {
    let probe = ctx.probe;
    let mut out: Vec<Exchange> = probe
        .identities()
        .iter()
        .filter_map(|i| probe.sign_in_exchange(&i.name))
        .collect();
    let used: Vec<String> = out
        .iter()
        .map(|e| url_path(&e.request.url).to_string())
        .collect();
    let configured = probe.sign_in_operation();
    let Some(identity) = password_identity(probe) else {
        return out;
    };
    for op in sign_in_operations(ctx.inventory) {
        let same = configured
            .as_ref()
            .is_some_and(|(m, p)| *m == op.method && *p == op.path)
            || used.iter().any(|u| u.ends_with(&op.path));
        if same {
            continue;
        }
        match probe.sign_in_fresh(Some(op), &identity, &[]).await {
            Ok(ex) if !sign_in_refused(&ex) => out.push(ex),
            Ok(_) | Err(ProbeError::Refused(_)) => {}
            Err(ProbeError::Stopped(_)) => break,
        }
    }
    out
}

#[async_trait]
impl Check for CookieFlags {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    /// Its sign-ins must come before other checks' malformed sign-ins can trip a limiter keyed
    /// on the scanner's address.
    fn order(&self) -> RunOrder {
        RunOrder::First
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        judge(ctx).await.unwrap_or_default()
    }
}

async fn judge(ctx: &RunCtx<'_>) -> Result<Outcome, ProbeError> {
    let mut seen: Vec<Seen> = Vec::new();
    for ex in sign_in_answers(ctx).await {
        for cookie in set_cookies(&ex) {
            match seen.iter_mut().find(|s| s.cookie.name == cookie.name) {
                // The same name set with weaker attributes elsewhere: judge the weakest.
                Some(s) if cookie.missing_flags().len() > s.cookie.missing_flags().len() => {
                    *s = Seen {
                        cookie,
                        sign_in: ex.clone(),
                    }
                }
                Some(_) => {}
                None => seen.push(Seen {
                    cookie,
                    sign_in: ex.clone(),
                }),
            }
        }
    }
    seen.retain(|s| !s.cookie.missing_flags().is_empty());
    if seen.is_empty() {
        return Ok(Outcome::none());
    }
    let names: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
    let reads = protected_reads(ctx.probe, ctx.inventory, &names, 3).await?;
    let mut outcome = Outcome::none();
    for s in seen {
        let Some((i, alone)) =
            cookie_authenticates(ctx.probe, &reads, &s.cookie.name, &s.cookie.value).await?
        else {
            continue;
        };
        outcome.findings.push(finding(&s, &reads[i], alone));
    }
    Ok(outcome)
}

fn finding(s: &Seen, read: &ProtectedRead, alone: Exchange) -> middlebrick_model::Finding {
    let missing = s.cookie.missing_flags();
    let severity = if missing.iter().any(|m| *m == "Secure" || *m == "HttpOnly") {
        Severity::Medium
    } else {
        Severity::Low
    };
    let sign_in_op = format!(
        "{} {}",
        s.sign_in.request.method,
        url_path(&s.sign_in.request.url)
    );
    let mut why = Vec::new();
    if !s.cookie.http_only {
        why.push("without HttpOnly any script on a page of the site (one XSS) can read it");
    }
    if !s.cookie.secure {
        why.push("without Secure the browser also sends it over plain HTTP, where anyone on the network path can copy it");
    }
    if missing.iter().any(|m| m.starts_with("SameSite")) {
        why.push("without a SameSite of Lax or Strict browsers may attach it to requests other sites start (CSRF)");
    }
    let mut description = format!(
        "The cookie `{}`, set by the sign-in answer of `{sign_in_op}`, authenticates on its own: \
         `{}` sent with only this cookie answered HTTP {}, and HTTP {} without credentials. It is \
         set without {}: {}.",
        s.cookie.name,
        read.op.key(),
        alone.status().unwrap_or(0),
        read.anonymous.status().unwrap_or(0),
        missing.join(", "),
        why.join("; ")
    );
    if !s.cookie.secure && s.sign_in.request.url.starts_with("http://") {
        description.push_str(
            " The scan reached the API over plain HTTP, so the missing Secure attribute is \
             reported all the same: the cookie travels in clear the moment the app is served \
             over HTTP anywhere.",
        );
    }
    let evidence = Evidence::new(vec![s.sign_in.clone(), alone, read.anonymous.clone()]).note(
        "first: the sign-in answer and its Set-Cookie; second: the protected read with only \
         that cookie; third: the same read without credentials",
    );
    META.finding(
        None,
        &s.cookie.name,
        severity,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::authflow::tests::op_with;
    use crate::fake::{exchange_for, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Method};
    use middlebrick_model::{RequestSpec, ResponseRecord, SecurityRequirement, SpecVersion};

    const JSON: &str = "application/json";

    pub(crate) fn with_cookie(mut r: ResponseRecord, set_cookie: &str) -> ResponseRecord {
        r.headers.push(("set-cookie".into(), set_cookie.into()));
        r
    }

    pub(crate) fn secured(mut op: Operation) -> Operation {
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        op
    }

    /// The inventory of the session-check tests: a token sign-in, a cookie sign-in, a
    /// profile, a session endpoint and a sign-out.
    pub(crate) fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(op_with(
            Method::Post,
            "/fake-login",
            JSON,
            &["username", "password"],
        ));
        inv.operations.push(op_with(
            Method::Post,
            "/auth/session",
            JSON,
            &["username", "password"],
        ));
        inv.operations
            .push(Operation::new(Method::Get, "/auth/session"));
        inv.operations
            .push(secured(Operation::new(Method::Get, "/users/me")));
        inv.operations
            .push(Operation::new(Method::Post, "/auth/logout"));
        inv
    }

    /// A cookie in the request (`cookies` or a `Cookie` header).
    pub(crate) fn cookie_in(r: &RequestSpec, name: &str) -> Option<String> {
        let from_header = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|p| p.trim().split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()));
        r.cookies
            .iter()
            .cloned()
            .chain(from_header)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// alice signs in by token (her answer sets an HttpOnly `session` cookie with `token_attrs`);
    /// the cookie sign-in sets `sid` with `sid_attrs`. `/users/me` accepts a bearer token for
    /// alice, `session=s1` and `sid=` any value the sign-in gave, and a `csrf` cookie never.
    fn probe(token_attrs: &str, sid_attrs: &str) -> FakeProbe {
        let sid = format!("sid=abc123{sid_attrs}");
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r: &RequestSpec| r.method == Method::Post && r.path == "/auth/session",
                with_cookie(
                    with_cookie(response(200, JSON, r#"{"username":"alice"}"#), &sid),
                    "csrf=t0k; Path=/",
                ),
            )
            .on_dynamic(|r: &RequestSpec| {
                (r.path == "/users/me").then(|| {
                    let ok = r.identity == "alice"
                        || cookie_in(r, "session").as_deref() == Some("s1")
                        || cookie_in(r, "sid").as_deref() == Some("abc123");
                    if ok {
                        response(200, JSON, r#"{"id":1,"username":"alice"}"#)
                    } else {
                        response(401, JSON, r#"{"detail":"not authenticated"}"#)
                    }
                })
            });
        p.usernames.push(("alice".into(), "alice".into()));
        let sign_in = exchange_for(
            &RequestSpec::new(Method::Post, "/fake-login"),
            Some(with_cookie(
                response(200, JSON, r#"{"access_token":"x.y.z"}"#),
                &format!("session=s1{token_attrs}"),
            )),
        );
        p.sign_ins.push(("alice".into(), sign_in));
        p
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        CookieFlags
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn authenticating_cookies_without_flags_are_reported_once_each() {
        let p = probe("; HttpOnly; Path=/; SameSite=Lax", "; Path=/");
        let out = run(&p).await;
        let names: Vec<_> = out.findings.iter().map(|f| f.parameter.clone()).collect();
        assert_eq!(
            names,
            vec![Some("session".into()), Some("sid".into())],
            "{out:?}"
        );
        let session = &out.findings[0];
        assert_eq!(session.severity, Severity::Medium);
        assert!(
            session.description.contains("Secure") && !session.description.contains("HttpOnly,")
        );
        assert!(
            session.description.contains("plain HTTP"),
            "{}",
            session.description
        );
        assert!(session.method.is_none() && session.path.is_none());
        let sid = &out.findings[1];
        assert!(
            sid.description.contains("Secure, HttpOnly, SameSite"),
            "{}",
            sid.description
        );
        // the csrf cookie lacks every flag but authenticates nothing
        assert!(out
            .findings
            .iter()
            .all(|f| f.parameter.as_deref() != Some("csrf")));
    }

    #[tokio::test]
    async fn only_samesite_missing_is_low() {
        let p = probe("; HttpOnly; Secure", "; HttpOnly; Secure; SameSite=None");
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert_eq!(out.findings[0].parameter.as_deref(), Some("session"));
        assert_eq!(out.findings[0].severity, Severity::Low);
    }

    #[tokio::test]
    async fn well_flagged_cookies_are_silent() {
        let p = probe(
            "; HttpOnly; Secure; SameSite=Lax; Path=/",
            "; HttpOnly; Secure; SameSite=Strict; Path=/",
        );
        assert!(run(&p).await.findings.is_empty());
    }
}

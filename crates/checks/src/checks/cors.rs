//! `cors.misconfiguration`: the API's CORS policy lets other sites read its answers.
//!
//! Once per scan, on one authenticated GET operation whose answer the scan already has (the
//! shared baseline), sent the way a page on another site would (session cookie only when the
//! identity has one), with crafted `Origin`s: an arbitrary one carrying a random label, `null`,
//! and when those are refused the suffix and prefix tricks that defeat careless allowlists
//! (`<target-host>.evil.test`, `evil<target-host>`); then one preflight asking for DELETE and
//! an invented header. A problem is reported only when the answer grants exactly the origin
//! that was sent (or `*`), so a fixed allowlisted origin never counts. Severity follows what a
//! browser would let the attacker read: credentials allowed on an API whose session is a cookie
//! is high; the same without a cookie session, or without credentials, is low. Budget: at most
//! five requests per scan.

use crate::browser::forged;
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::ownership::nonce;
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use crate::similarity::{has_substance, is_error_envelope};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Method, Operation, Owasp,
    ParamLocation, Remediation, RequestSpec, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct Cors;

static META: CheckMeta = CheckMeta {
    id: CheckId::CorsMisconfiguration,
    title: "CORS policy lets other origins read the API's answers",
    description: "Sends an authenticated read with crafted Origin headers (an arbitrary origin, \
        `null`, the target host as a prefix or suffix of another domain) and one preflight. \
        Fires when the answer allows exactly the origin sent (or `*` with credentials), or the \
        preflight allows any method and header; reported once per problem.",
    cwe: &[942, 346],
    owasp: &[Owasp::Api8],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Allow only the exact origins of your own front ends (scheme, host and port \
            compared as whole strings, never by prefix, suffix or an unanchored pattern), never \
            reflect the request's `Origin`, never allow `null`, send \
            `Access-Control-Allow-Credentials: true` only to those origins, list the methods and \
            headers you really use in preflight answers, and add `Vary: Origin`.",
        variants: &[
            (Tech::Flask, "configure Flask-CORS with `CORS(app, origins=[\"https://shop.example\"], \
                supports_credentials=True)` (or an `after_request` hook that compares \
                `request.origin` with a set) instead of echoing `request.headers[\"Origin\"]`."),
            (Tech::FastApi, "use `CORSMiddleware(allow_origins=[\"https://shop.example\"], \
                allow_credentials=True, allow_methods=[\"GET\", \"POST\"], allow_headers=[...])`; \
                `allow_origins=[\"*\"]` or `allow_origin_regex=\".*\"` with `allow_credentials=True` \
                makes Starlette reflect every origin."),
        ],
    },
};

#[async_trait]
impl Check for Cors {
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
        judge(ctx).await.unwrap_or_default()
    }
}

/// Who the crafted requests are sent as, and how.
struct Caller {
    name: String,
    cookies: bool,
}

fn caller(identities: Vec<IdentityInfo>) -> Caller {
    let pick = identities
        .iter()
        .filter(|i| !i.admin)
        .find(|i| !i.session_cookies.is_empty())
        .or_else(|| identities.iter().find(|i| !i.admin));
    match pick {
        Some(i) => Caller {
            name: i.name.clone(),
            cookies: !i.session_cookies.is_empty(),
        },
        None => Caller {
            name: ANONYMOUS.to_string(),
            cookies: false,
        },
    }
}

/// The read to send the origins with: an authenticated GET without path parameters whose
/// baseline succeeded (prefer those), else any such GET.
async fn target(ctx: &RunCtx<'_>, who: &str) -> Result<Option<(Operation, Exchange)>, ProbeError> {
    let mut gets: Vec<&Operation> = ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && o.params_in(ParamLocation::Path).next().is_none())
        .collect();
    gets.sort_by_key(|o| !o.declares_auth());
    for op in gets.into_iter().take(6) {
        let ex = ctx.probe.baseline(op, who).await?;
        if ex.response.as_ref().is_some_and(|r| r.is_success()) {
            return Ok(Some((op.clone(), ex)));
        }
    }
    Ok(None)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some((scheme.to_string(), authority.to_string()))
}

struct Grant {
    origin: String,
    allowed: bool,
    credentials: bool,
    exchange: Exchange,
}

async fn try_origin(
    ctx: &RunCtx<'_>,
    op: &Operation,
    who: &Caller,
    origin: &str,
) -> Result<Grant, ProbeError> {
    let mut req = ctx.probe.request(op, &who.name, &Overrides::none());
    if who.cookies {
        req = forged(req, false);
    } else if who.name != ANONYMOUS {
        req.credentials = CredentialUse::All;
    }
    req.headers.push(("Origin".into(), origin.to_string()));
    let ex = ctx.probe.send(req).await?;
    let (allowed, credentials) = match ex.response.as_ref() {
        Some(r) => {
            let acao = r.header("access-control-allow-origin").unwrap_or("").trim();
            let acac = r
                .header("access-control-allow-credentials")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            (acao == origin || (acao == "*" && acac), acac)
        }
        None => (false, false),
    };
    Ok(Grant {
        origin: origin.to_string(),
        allowed,
        credentials,
        exchange: ex,
    })
}

async fn judge(ctx: &RunCtx<'_>) -> Result<Outcome, ProbeError> {
    let who = caller(ctx.probe.identities());
    let Some((op, baseline)) = target(ctx, &who.name).await? else {
        return Ok(Outcome::none());
    };
    let Some((scheme, host)) = origin_of(&baseline.request.url) else {
        return Ok(Outcome::none());
    };
    let hostname = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let mut out = Outcome::none();
    let arbitrary = format!("https://mb-{}.evil.test", nonce());
    let first = try_origin(ctx, &op, &who, &arbitrary).await?;
    let mut grants = Vec::new();
    if first.allowed {
        grants.push(("any-origin", "any origin", first));
    } else {
        for (key, what, origin) in [
            (
                "null-origin",
                "the `null` origin (sandboxed iframes, `data:` pages)",
                "null".to_string(),
            ),
            (
                "host-suffix",
                "an attacker domain that starts with the API's host",
                format!("{scheme}://{hostname}.evil.test"),
            ),
            (
                "host-prefix",
                "an attacker domain that ends with the API's host",
                format!("{scheme}://evil{host}"),
            ),
        ] {
            let g = try_origin(ctx, &op, &who, &origin).await?;
            if g.allowed {
                grants.push((key, what, g));
            }
        }
    }
    for (key, what, g) in grants {
        out.findings.push(grant_finding(&op, &who, key, what, g));
    }
    if let Some(f) = preflight(ctx, &who, &op).await? {
        out.findings.push(f);
    }
    Ok(out)
}

fn grant_finding(
    op: &Operation,
    who: &Caller,
    key: &str,
    what: &str,
    g: Grant,
) -> middlebrick_model::Finding {
    let resp = g.exchange.response.as_ref();
    let readable =
        resp.is_some_and(|r| r.is_success() && has_substance(r) && !is_error_envelope(r));
    let (severity, consequence) = match (g.credentials, who.cookies) {
        (true, true) => (
            Severity::High,
            format!(
                "An attacker's page on such an origin can call `{}` with a signed-in victim's \
                 session cookie and read the answer, and so read or act on the victim's data",
                op.key()
            ),
        ),
        (true, false) => (
            Severity::Low,
            "Credentials are allowed, but the API's sessions are not cookies, so a page on such \
             an origin reads only what an anonymous caller gets; any cookie-based session added \
             later would be exposed"
                .to_string(),
        ),
        (false, _) => (
            Severity::Low,
            "Credentials are not allowed, so a page on such an origin reads only what any \
             caller without credentials could read"
                .to_string(),
        ),
    };
    let wildcard = resp
        .and_then(|r| r.header("access-control-allow-origin"))
        .is_some_and(|v| v.trim() == "*");
    let granted = if wildcard {
        "`Access-Control-Allow-Origin: *`".to_string()
    } else {
        format!("`Access-Control-Allow-Origin: {}`", g.origin)
    };
    let description = format!(
        "A request to `{}` with `Origin: {}` ({what}) was answered with {granted}{}. {consequence}.",
        op.key(),
        g.origin,
        if g.credentials {
            " and `Access-Control-Allow-Credentials: true`"
        } else {
            ""
        }
    );
    let confidence = if readable && g.credentials && who.cookies {
        Confidence::Confirmed
    } else {
        Confidence::Firm
    };
    META.finding(
        None,
        key,
        severity,
        confidence,
        description,
        Evidence::new(vec![g.exchange])
            .note("the crafted Origin and the CORS headers granted to it"),
    )
}

/// A preflight from an arbitrary origin asking for DELETE and an invented header.
async fn preflight(
    ctx: &RunCtx<'_>,
    who: &Caller,
    read: &Operation,
) -> Result<Option<middlebrick_model::Finding>, ProbeError> {
    let unsafe_op = ctx
        .inventory
        .operations
        .iter()
        .find(|o| !o.method.is_safe() && o.declares_auth())
        .unwrap_or(read);
    let path = ctx
        .probe
        .request(unsafe_op, ANONYMOUS, &Overrides::none())
        .path;
    let origin = format!("https://mb-{}.evil.test", nonce());
    let mut req = RequestSpec::new(Method::Options, path)
        .header("Origin", origin.clone())
        .header("Access-Control-Request-Method", "DELETE")
        .header("Access-Control-Request-Headers", "x-mb-probe, content-type");
    req.operation = Some(format!("OPTIONS {}", unsafe_op.path));
    let ex = ctx.probe.send(req).await?;
    let Some(r) = ex.response.as_ref() else {
        return Ok(None);
    };
    let has = |name: &str, wanted: &str| {
        r.header(name).is_some_and(|v| {
            v.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .any(|s| s == "*" || s == wanted)
        })
    };
    let acao = r.header("access-control-allow-origin").unwrap_or("").trim();
    let any_origin = acao == origin || acao == "*";
    if !(r.status < 400
        && any_origin
        && has("access-control-allow-methods", "delete")
        && has("access-control-allow-headers", "x-mb-probe"))
    {
        return Ok(None);
    }
    let credentials = r
        .header("access-control-allow-credentials")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let severity = if credentials && who.cookies {
        Severity::Medium
    } else {
        Severity::Low
    };
    let description = format!(
        "A preflight for `{}` from the arbitrary origin `{origin}` asking for DELETE and the \
         invented header `X-Mb-Probe` was granted{}. An attacker's page can send any method \
         with any header and JSON body to the API{}.",
        unsafe_op.path,
        if credentials { " with credentials" } else { "" },
        if credentials && who.cookies {
            " with the victim's session cookie, so JSON-only CSRF defences do not hold"
        } else {
            ""
        }
    );
    Ok(Some(META.finding(
        None,
        "preflight-any",
        severity,
        Confidence::Firm,
        description,
        Evidence::new(vec![ex]).note("the preflight and what it granted"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, ResponseRecord, SecurityRequirement, SpecVersion};

    const ME: &str = r#"{"id":1,"username":"alice","email":"a@example.test"}"#;

    fn me_op() -> Operation {
        let mut op = Operation::new(Method::Get, "/users/me");
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        op
    }

    fn with_headers(mut r: ResponseRecord, h: &[(&str, &str)]) -> ResponseRecord {
        r.headers
            .extend(h.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        r
    }

    /// A policy as a function from the request's Origin to the CORS headers it grants.
    fn probe(policy: fn(&str) -> Vec<(&'static str, String)>) -> FakeProbe {
        let mut probe = FakeProbe::new().on_dynamic(move |r: &RequestSpec| {
            let origin = r
                .headers
                .iter()
                .find(|(k, _)| k == "Origin")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let granted = policy(&origin);
            let h: Vec<(&str, &str)> = granted.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let base = if r.method == Method::Options {
                response(200, "text/plain", "")
            } else {
                response(200, "application/json", ME)
            };
            let mut extra = h.clone();
            if r.method == Method::Options && !granted.is_empty() {
                extra.push((
                    "Access-Control-Allow-Methods",
                    "GET, POST, PUT, PATCH, DELETE",
                ));
                extra.push(("Access-Control-Allow-Headers", "x-mb-probe, content-type"));
            }
            Some(with_headers(base, &extra))
        });
        probe.identities.push(IdentityInfo {
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
        inv.operations.push(me_op());
        Cors.run(&RunCtx {
            probe,
            inventory: &inv,
            op: None,
        })
        .await
    }

    #[tokio::test]
    async fn reflected_origin_with_credentials_and_cookies_is_high_once() {
        let out = run(&probe(|o| {
            vec![
                ("Access-Control-Allow-Origin", o.to_string()),
                ("Access-Control-Allow-Credentials", "true".to_string()),
            ]
        }))
        .await;
        let keys: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.parameter.clone().unwrap())
            .collect();
        assert_eq!(keys, vec!["any-origin", "preflight-any"], "{out:?}");
        assert_eq!(out.findings[0].severity, Severity::High);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert_eq!(out.findings[0].method, None);
    }

    #[tokio::test]
    async fn suffix_trick_is_found_when_arbitrary_origins_are_refused() {
        let out = run(&probe(|o| {
            if o.starts_with("http://127.0.0.1") {
                vec![
                    ("Access-Control-Allow-Origin", o.to_string()),
                    ("Access-Control-Allow-Credentials", "true".to_string()),
                ]
            } else {
                vec![]
            }
        }))
        .await;
        let keys: Vec<_> = out
            .findings
            .iter()
            .map(|f| f.parameter.clone().unwrap())
            .collect();
        assert_eq!(keys, vec!["host-suffix"], "{out:?}");
    }

    #[tokio::test]
    async fn one_allowed_origin_is_silent() {
        let out = run(&probe(|o| {
            if o == "https://shop.example.test" {
                vec![("Access-Control-Allow-Origin", o.to_string())]
            } else {
                vec![]
            }
        }))
        .await;
        assert!(out.findings.is_empty(), "{out:?}");
    }

    #[test]
    fn origins_are_scheme_and_authority() {
        assert_eq!(
            origin_of("http://127.0.0.1:8081/api/x?y=1"),
            Some(("http".into(), "127.0.0.1:8081".into()))
        );
    }
}

//! `auth.credentials-in-url`: the API takes a credential in the URL, or Basic credentials over
//! plain HTTP (CWE-598, CWE-319).
//!
//! Runs once per scan. Three independent parts:
//! - **Passwords in a sign-in's query string** (`credentials_in_url_sign_in.rs`): a sign-in
//!   that takes the password as a query parameter and signs a configured identity in with it,
//!   while refusing a wrong one.
//! - **Query credentials** (safe-active, GET only). A signed-in identity whose token travels in a
//!   header is needed. Up to [`MAX_OPERATIONS`] protected GET operations are used: ones whose
//!   anonymous baseline is 401/403 and whose baseline as the identity is a 2xx with data,
//!   operations that declare a credential-like query parameter (`token`, `api_key`, `jwt`,
//!   `session`…) first, then the caller's own profile, then the rest in spec order. On each, the
//!   declared credential-like names and the conventional `access_token` and `token` are tried: the
//!   same request with no credentials at all (`CredentialUse::None`) and the identity's token in
//!   that query parameter. A name counts when that answer is a 2xx with the identity's data while
//!   the same request with a made-up value in the parameter is still refused (401/403): the token,
//!   not the parameter, opened it. A declared parameter alone proves nothing (`middlebrick audit`
//!   reports the spec) and is never reported here.
//! - **Basic over plain HTTP** (no request). When the target is `http://` on a host that is not
//!   loopback, and an identity's requests carried `Authorization: Basic` (confirmed) or an
//!   operation requires an HTTP `basic` scheme the spec declares (firm): every request sends a
//!   reusable password in clear text.
//!   Loopback targets (`localhost`, `127.0.0.0/8`, `::1`) never fire.
//!
//! Budget: up to 4 baseline pairs (shared with other checks), then per operation and name one
//! request, and one more (the made-up value) when it is accepted: about 10 in the worst case.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::ownership::{nonce, self_read};
use crate::probe::{IdentityInfo, Overrides, Probe, ProbeError};
use crate::similarity::{has_substance, is_error_envelope, markers_in, same_data};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Finding, Inventory, Method,
    Operation, Owasp, ParamLocation, Remediation, ResponseRecord, SecuritySchemeKind, Severity,
    Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct CredentialsInUrl;

/// Protected operations the query credential is tried on.
pub const MAX_OPERATIONS: usize = 2;
/// Baselines looked at while choosing them.
const MAX_CANDIDATES: usize = 4;
/// Query names tried on every chosen operation, declared or not.
const CONVENTIONAL: &[&str] = &["access_token", "token"];
/// Normalised query parameter names that carry a token (what a bearer token is tried in).
const TOKEN_NAMES: &[&str] = &[
    "token",
    "accesstoken",
    "authtoken",
    "idtoken",
    "apikey",
    "apitoken",
    "key",
    "jwt",
    "session",
    "sessionid",
    "sid",
    "auth",
    "authorization",
    "bearer",
];

pub(super) static META: CheckMeta = CheckMeta {
    id: CheckId::AuthCredentialsInUrl,
    title: "Credentials accepted in the URL",
    description: "Sends a protected GET with no credentials and a signed-in identity's token in a \
        query parameter (declared credential-like names, `access_token`, `token`); fires when it \
        is served while a made-up value is refused. Also reports Basic authentication to a \
        non-loopback host over plain HTTP.",
    cwe: &[598, 319],
    owasp: &[Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Accept credentials only in the `Authorization` header or a `Secure; HttpOnly` \
            cookie, never in the query string: URLs end up in server and proxy logs, browser \
            history and `Referer` headers. Where a link must authorise a download, issue a \
            short-lived single-purpose signed URL instead of the session token. Serve the API \
            over HTTPS only (redirect or refuse plain HTTP, send HSTS), above all when clients \
            send Basic credentials.",
        variants: &[
            (
                Tech::Flask,
                "read the token from `request.headers.get(\"Authorization\")` only, drop any \
                `request.args.get(\"access_token\")` fallback from the token loader (with \
                Flask-JWT-Extended keep `JWT_TOKEN_LOCATION = [\"headers\"]`, not \"query_string\"), \
                and behind TLS termination set `PREFERRED_URL_SCHEME = \"https\"` with \
                `ProxyFix(app.wsgi_app, x_proto=1)` and `SESSION_COOKIE_SECURE = True`.",
            ),
            (
                Tech::FastApi,
                "use `OAuth2PasswordBearer` / `HTTPBearer` (header only) as the credential \
                dependency and remove any `Query(None)` token parameter or `request.query_params` \
                fallback; for `HTTPBasic`, serve only over HTTPS (`HTTPSRedirectMiddleware`, \
                uvicorn `--ssl-keyfile/--ssl-certfile` or a TLS proxy with \
                `--forwarded-allow-ips` set to it).",
            ),
        ],
    },
};

#[async_trait]
impl Check for CredentialsInUrl {
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
        let mut outcome = Outcome::none();
        outcome
            .findings
            .extend(basic_over_http(ctx.probe, ctx.inventory));
        if let Ok(found) = query_credentials(ctx.probe, ctx.inventory).await {
            outcome.findings.extend(found);
        }
        if let Ok(found) =
            super::credentials_in_url_sign_in::password_in_query(ctx.probe, ctx.inventory).await
        {
            outcome.findings.extend(found);
        }
        outcome
    }
}

/// The token-like query parameters `op` declares.
fn declared_token_params(op: &Operation) -> Vec<String> {
    op.params_in(ParamLocation::Query)
        .filter(|p| {
            let n = crate::authflow::norm(&p.name);
            TOKEN_NAMES.contains(&n.as_str())
                || n.ends_with("token")
                || n.ends_with("apikey")
                || n.ends_with("sessionid")
        })
        .map(|p| p.name.clone())
        .collect()
}

/// GET operations to try, best first: declared token parameters, the own profile, the rest
/// that are not public by declaration.
fn candidates(inv: &Inventory) -> Vec<&Operation> {
    let gets = || {
        inv.operations
            .iter()
            .filter(|o| o.method == Method::Get && !o.declares_public())
    };
    let mut out: Vec<&Operation> = gets()
        .filter(|o| !declared_token_params(o).is_empty())
        .collect();
    out.extend(self_read(inv));
    out.extend(gets().filter(|o| o.declares_auth()));
    out.extend(gets());
    let mut seen = Vec::new();
    out.retain(|o| {
        let key = o.key();
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    out.truncate(MAX_CANDIDATES);
    out
}

/// The identity whose token travels in a header, with the token.
fn token_identity(probe: &dyn Probe) -> Option<(IdentityInfo, String)> {
    probe.identities().into_iter().find_map(|i| {
        i.token_header.as_ref()?;
        let token = probe.token_of(&i.name)?;
        Some((i, token))
    })
}

/// The identity's request for `op` with no credentials attached and `value` in query `name`.
fn with_query(
    probe: &dyn Probe,
    op: &Operation,
    identity: &str,
    name: &str,
    value: &str,
) -> middlebrick_model::RequestSpec {
    let mut req = probe.request(op, identity, &Overrides::none());
    req.credentials = CredentialUse::None;
    req.headers.retain(|(k, _)| {
        !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case("cookie")
    });
    req.cookies.clear();
    req.query.retain(|(k, _)| k != name);
    req.query.push((name.to_string(), value.to_string()));
    req
}

/// True when `resp` carries the identity's data: the same data as its own answer, or values
/// that identify the account.
fn carries_identity_data(resp: &ResponseRecord, own: &ResponseRecord, who: &IdentityInfo) -> bool {
    resp.is_success()
        && !is_error_envelope(resp)
        && has_substance(resp)
        && (same_data(own, resp) || !markers_in(resp, &who.markers).is_empty())
}

async fn query_credentials(probe: &dyn Probe, inv: &Inventory) -> Result<Vec<Finding>, ProbeError> {
    let Some((who, token)) = token_identity(probe) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<Finding> = Vec::new();
    let mut proven: Vec<String> = Vec::new();
    let mut used = 0;
    for op in candidates(inv) {
        if used == MAX_OPERATIONS {
            break;
        }
        let own = probe.baseline(op, &who.name).await?;
        let Some(own_resp) = own
            .response
            .as_ref()
            .filter(|r| r.is_success() && has_substance(r))
        else {
            continue;
        };
        let anonymous = probe.baseline(op, ANONYMOUS).await?;
        if !matches!(anonymous.status(), Some(401 | 403)) {
            continue;
        }
        used += 1;
        let mut names = declared_token_params(op);
        for c in CONVENTIONAL {
            if !names.iter().any(|n| n == c) {
                names.push(c.to_string());
            }
        }
        for name in names {
            if proven.contains(&name) {
                continue;
            }
            let sent = probe
                .send(with_query(probe, op, &who.name, &name, &token))
                .await?;
            if !sent
                .response
                .as_ref()
                .is_some_and(|r| carries_identity_data(r, own_resp, &who))
            {
                continue;
            }
            let junk = format!("mb-invalid-{}", nonce());
            let control = probe
                .send(with_query(probe, op, &who.name, &name, &junk))
                .await?;
            if !matches!(control.status(), Some(401 | 403)) {
                continue;
            }
            proven.push(name.clone());
            found.push(query_finding(
                op,
                &name,
                &who.name,
                sent,
                control,
                anonymous.clone(),
            ));
        }
    }
    Ok(found)
}

fn query_finding(
    op: &Operation,
    name: &str,
    identity: &str,
    sent: Exchange,
    control: Exchange,
    anonymous: Exchange,
) -> Finding {
    let description = format!(
        "The API accepts a session token in the `{name}` query parameter: `{}` with no \
         credentials but `{identity}`'s token in `?{name}=` answered HTTP {} with `{identity}`'s \
         data, while the same request with a made-up value answered HTTP {} and without \
         credentials HTTP {}. Tokens in URLs are written to access logs, proxy logs, browser \
         history and `Referer` headers, where anyone who reads them can replay them.",
        op.key(),
        sent.status().unwrap_or(0),
        control.status().unwrap_or(0),
        anonymous.status().unwrap_or(0),
    );
    let evidence = Evidence::new(vec![sent, control, anonymous]).note(format!(
        "first: no credentials, the token in `{name}`; second: a made-up value in `{name}`; \
         third: no credentials at all"
    ));
    META.finding(
        None,
        name,
        Severity::Medium,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

/// The host of an absolute URL, without port, userinfo or IPv6 brackets, lower-cased.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    Some(host.to_ascii_lowercase())
}

/// True for `localhost`, `*.localhost`, `127.0.0.0/8` and `::1`.
pub fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    false
}

fn is_plain_remote(url: &str) -> bool {
    url.to_ascii_lowercase().starts_with("http://")
        && host_of(url).is_some_and(|h| !is_loopback(&h))
}

fn sends_basic(ex: &Exchange) -> bool {
    ex.identity != ANONYMOUS
        && ex.request.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("authorization")
                && v.trim_start()
                    .get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
        })
}

/// Basic credentials sent, or declared, to a plain-HTTP non-loopback target.
fn basic_over_http(probe: &dyn Probe, inv: &Inventory) -> Option<Finding> {
    let observed = probe.observed();
    let plain: Vec<&Exchange> = observed
        .iter()
        .filter(|e| is_plain_remote(&e.request.url))
        .collect();
    let first = *plain.first()?;
    if let Some(ex) = plain.iter().find(|e| sends_basic(e)) {
        let description = format!(
            "The identity `{}` authenticates with `Authorization: Basic` and the API is served \
             over plain HTTP to a non-loopback host: every request carries the account's \
             username and password, base64-encoded (not encrypted), readable and reusable by \
             anyone on the network path.",
            ex.identity
        );
        let evidence = Evidence::new(vec![(*ex).clone()])
            .note("the request went to an http:// URL with an Authorization: Basic header");
        return Some(META.finding(
            None,
            "basic-over-http",
            Severity::High,
            Confidence::Confirmed,
            description,
            evidence,
        ));
    }
    // A scheme no operation requires is an unused declaration (`middlebrick audit`), not a
    // way in.
    let used = |name: &str| {
        inv.operations.iter().any(|o| {
            o.security
                .iter()
                .flatten()
                .any(|r| r.schemes.iter().any(|(n, _)| n == name))
        })
    };
    let declared = inv.security_schemes.iter().find_map(|(key, s)| {
        let basic = matches!(&s.kind, SecuritySchemeKind::Http { scheme }
            if scheme.eq_ignore_ascii_case("basic"));
        (basic && used(key)).then_some(s)
    })?;
    let description = format!(
        "The spec declares HTTP Basic authentication (`{}`) and the API is served over plain \
         HTTP to a non-loopback host: clients following the spec send their username and \
         password, base64-encoded (not encrypted), with every request.",
        declared.name
    );
    let evidence = Evidence::new(vec![first.clone()])
        .note("an exchange of this scan with the target over http://");
    Some(META.finding(
        None,
        "basic-over-http",
        Severity::Medium,
        Confidence::Firm,
        description,
        evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{exchange_for, FakeProbe};
    use crate::similarity::response;
    use middlebrick_model::{RequestSpec, SecurityRequirement, SecurityScheme, SpecVersion};

    const JSON: &str = "application/json";
    const PROFILE: &str = r#"{"id":1,"username":"alice","email":"alice@example.com"}"#;
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

    fn inventory() -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        let mut me = Operation::new(Method::Get, "/api/users/me");
        me.security = Some(vec![SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        inv.operations
            .push(Operation::new(Method::Get, "/api/products"));
        inv.operations.push(me);
        inv
    }

    fn query(r: &RequestSpec, name: &str) -> Option<String> {
        r.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// `/api/users/me` serves alice with her credentials, and without them when
    /// `accepts(query)` holds; `/api/products` is public.
    fn api(accepts: impl Fn(&RequestSpec) -> bool + Send + Sync + 'static) -> FakeProbe {
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r| r.path == "/api/products",
                response(200, JSON, r#"[{"id":1,"name":"mug"}]"#),
            )
            .on_dynamic(move |r| {
                if r.path != "/api/users/me" {
                    return None;
                }
                let signed_in = r.identity == "alice" && r.credentials == CredentialUse::All;
                Some(if signed_in || accepts(r) {
                    response(200, JSON, PROFILE)
                } else {
                    response(401, JSON, r#"{"detail":"Not authenticated"}"#)
                })
            });
        probe.identities[0].token_header = Some("Authorization".into());
        probe.tokens.push(("alice".into(), TOKEN.into()));
        probe
    }

    async fn run(probe: &FakeProbe, inv: &Inventory) -> Outcome {
        CredentialsInUrl
            .run(&RunCtx {
                probe,
                inventory: inv,
                op: None,
            })
            .await
    }

    #[tokio::test]
    async fn a_token_accepted_in_access_token_fires_for_that_name_only() {
        let probe = api(|r| query(r, "access_token").as_deref() == Some(TOKEN));
        let out = run(&probe, &inventory()).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        let f = &out.findings[0];
        assert_eq!(f.parameter.as_deref(), Some("access_token"));
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert!(f.path.is_none());
        assert_eq!(f.evidence.exchanges[0].status(), Some(200));
        assert_eq!(f.evidence.exchanges[1].status(), Some(401));
        let sent = probe.sent.lock().unwrap();
        assert!(sent
            .iter()
            .filter(|r| query(r, "access_token").is_some())
            .all(|r| r.credentials == CredentialUse::None));
    }

    #[tokio::test]
    async fn query_tokens_ignored_is_silent() {
        let probe = api(|_| false);
        assert!(run(&probe, &inventory()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_parameter_that_opens_the_door_whatever_its_value_is_not_a_credential() {
        let probe = api(|r| query(r, "token").is_some());
        assert!(run(&probe, &inventory()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_declared_token_parameter_is_tried_by_its_own_name() {
        let mut inv = inventory();
        inv.operations[1]
            .parameters
            .push(middlebrick_model::Parameter {
                name: "api_key".into(),
                location: ParamLocation::Query,
                required: false,
                schema: std::sync::Arc::new(middlebrick_model::Schema::default()),
                example: None,
            });
        let probe = api(|r| query(r, "api_key").as_deref() == Some(TOKEN));
        let out = run(&probe, &inv).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("api_key"));
    }

    #[tokio::test]
    async fn no_token_identity_sends_nothing() {
        let mut probe = api(|_| true);
        probe.tokens.clear();
        assert!(run(&probe, &inventory()).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 0);
    }

    fn observed(url: &str, basic: bool) -> Exchange {
        let mut req = RequestSpec::new(Method::Get, "/api/users/me").as_identity("alice");
        if basic {
            req.headers
                .push(("Authorization".into(), "Basic YWxpY2U6cHc=".into()));
        }
        let mut ex = exchange_for(&req, Some(response(200, JSON, PROFILE)));
        ex.request.url = url.into();
        ex
    }

    fn basic_scheme(inv: &mut Inventory) {
        inv.security_schemes.insert(
            "basicAuth".into(),
            SecurityScheme {
                name: "basicAuth".into(),
                kind: SecuritySchemeKind::Http {
                    scheme: "basic".into(),
                },
            },
        );
    }

    #[tokio::test]
    async fn basic_credentials_over_plain_http_to_a_remote_host_fire() {
        let mut probe = FakeProbe::new();
        probe.observed = vec![observed("http://api.example.com:8080/api/users/me", true)];
        let out = run(&probe, &Inventory::empty(SpecVersion::OpenApi30)).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
        assert_eq!(
            out.findings[0].parameter.as_deref(),
            Some("basic-over-http")
        );
        assert_eq!(probe.sent_count(), 0);

        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        basic_scheme(&mut inv);
        probe.observed = vec![observed("http://10.0.0.5/api/users/me", false)];
        // Declared but required by no operation: nothing.
        assert!(run(&probe, &inv).await.findings.is_empty());
        let mut me = Operation::new(Method::Get, "/api/users/me");
        me.security = Some(vec![SecurityRequirement {
            schemes: vec![("basicAuth".into(), vec![])],
        }]);
        inv.operations.push(me);
        let out = run(&probe, &inv).await;
        assert_eq!(out.findings[0].confidence, Confidence::Firm);
    }

    #[tokio::test]
    async fn basic_credentials_to_loopback_or_over_https_are_silent() {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        basic_scheme(&mut inv);
        for url in [
            "http://127.0.0.1:5000/api/users/me",
            "http://localhost/api/users/me",
            "http://[::1]:8000/api/users/me",
            "https://api.example.com/api/users/me",
        ] {
            let mut probe = FakeProbe::new();
            probe.observed = vec![observed(url, true)];
            assert!(run(&probe, &inv).await.findings.is_empty(), "{url}");
        }
        // Plain HTTP to a remote host, but no Basic anywhere.
        let mut probe = FakeProbe::new();
        probe.observed = vec![observed("http://api.example.com/x", false)];
        let out = run(&probe, &Inventory::empty(SpecVersion::OpenApi30)).await;
        assert!(out.findings.is_empty());
    }

    #[test]
    fn hosts_are_parsed_and_loopback_recognised() {
        assert_eq!(
            host_of("http://u:p@Example.COM:80/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_of("http://[::1]:8000/").as_deref(), Some("::1"));
        assert!(is_loopback("127.0.0.2") && is_loopback("app.localhost"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("example.com"));
    }
}

//! Sending an issued token the way the spec's security schemes say, and which operations take
//! the token and which the session cookie.
//!
//! `http` bearer (and OAuth 2, OpenID Connect) means `Authorization: Bearer`; an API key in a
//! header named X means `X: <token>`; in the query, `?name=<token>`; in a cookie, a cookie.
//! Swagger 2 has no bearer scheme, so specs declare `Authorization` as an API-key header and
//! leave the prefix unsaid (`Bearer`, Django REST's `Token`, `JWT`, or none): that prefix is
//! confirmed by trying, on one operation that declares security, against its anonymous answer.

use super::SignInEnv;
use middlebrick_checks::authflow::normalized_body;
use middlebrick_checks::ownership::is_self_path;
use middlebrick_model::{
    Diagnostic, Exchange, Inventory, Method, Operation, ParamLocation, SecuritySchemeKind,
    ANONYMOUS,
};
use middlebrick_synth::{synthesize, IdPool, Overrides};

/// How a token travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A header, its value `prefix token` (or the bare token without a prefix).
    Header {
        name: String,
        prefix: Option<String>,
    },
    Query(String),
    Cookie(String),
}

impl Delivery {
    /// The header value for `token`, for a header delivery.
    pub fn header_value(&self, token: &str) -> Option<(String, String)> {
        match self {
            Delivery::Header { name, prefix } => Some((
                name.clone(),
                prefix
                    .as_ref()
                    .map_or_else(|| token.to_string(), |p| format!("{p} {token}")),
            )),
            _ => None,
        }
    }
}

/// The prefixes tried on an `Authorization` API key whose prefix the spec does not say.
const PREFIXES: &[&str] = &["Bearer", "Token", "JWT"];

/// How the spec says to send a token the sign-in issued, and whether the prefix needs
/// confirming; `scheme` is the answer's own `token_type`, `header` the answer header the token
/// came in (when not in the body). Without any scheme in the spec, a token that came in a
/// header of its own (`X-Auth-Token`) goes back in it, any other as `Authorization: Bearer`.
pub fn token_delivery(
    inv: &Inventory,
    scheme: Option<&str>,
    header: Option<&str>,
) -> (Delivery, bool) {
    if let Some(name) = header.filter(|h| !h.eq_ignore_ascii_case("authorization")) {
        if inv.security_schemes.is_empty() {
            let name = name.to_string();
            return (Delivery::Header { name, prefix: None }, false);
        }
    }
    let answer_scheme = scheme
        .filter(|s| !s.eq_ignore_ascii_case("bearer"))
        .map(str::to_string);
    let bearer = || Delivery::Header {
        name: "Authorization".into(),
        prefix: Some(answer_scheme.clone().unwrap_or_else(|| "Bearer".into())),
    };
    let kinds: Vec<&SecuritySchemeKind> = inv.security_schemes.values().map(|s| &s.kind).collect();
    let bearer_like = kinds.iter().any(|k| match k {
        SecuritySchemeKind::Http { scheme } => !scheme.eq_ignore_ascii_case("basic"),
        SecuritySchemeKind::OAuth2 { .. } | SecuritySchemeKind::OpenIdConnect { .. } => true,
        _ => false,
    });
    if bearer_like {
        return (bearer(), false);
    }
    let key = |want: ParamLocation| {
        kinds.iter().find_map(|k| match k {
            SecuritySchemeKind::ApiKey { name, location } if *location == want => {
                Some(name.clone())
            }
            _ => None,
        })
    };
    match (
        key(ParamLocation::Header),
        key(ParamLocation::Query),
        key(ParamLocation::Cookie),
    ) {
        (Some(name), _, _) if name.eq_ignore_ascii_case("authorization") => (bearer(), true),
        (Some(name), _, _) => (Delivery::Header { name, prefix: None }, false),
        (None, Some(name), _) => (Delivery::Query(name), false),
        (None, None, Some(name)) => (Delivery::Cookie(name), false),
        _ => (bearer(), false),
    }
}

/// Which of a signed-in identity's credentials `op` takes, by its declared security:
/// `(token, session cookie)`. Both when the operation declares nothing, is public, or names a
/// scheme of neither kind, as before this was read.
pub fn credential_use(inv: &Inventory, op: Option<&Operation>) -> (bool, bool) {
    let Some(reqs) = op.and_then(|o| o.security.as_ref()) else {
        return (true, true);
    };
    let (mut token, mut cookie) = (false, false);
    for (name, _) in reqs.iter().flat_map(|r| r.schemes.iter()) {
        match inv.security_schemes.get(name).map(|s| &s.kind) {
            Some(SecuritySchemeKind::ApiKey {
                location: ParamLocation::Cookie,
                ..
            }) => cookie = true,
            Some(
                SecuritySchemeKind::ApiKey { .. }
                | SecuritySchemeKind::Http { .. }
                | SecuritySchemeKind::OAuth2 { .. }
                | SecuritySchemeKind::OpenIdConnect { .. },
            ) => token = true,
            _ => return (true, true),
        }
    }
    if token || cookie {
        (token, cookie)
    } else {
        (true, true)
    }
}

/// The operation a token form is tried on: a GET that declares security, the caller's own
/// record first (any account may read it, where an admin listing refuses a plain user),
/// then without path parameters, shortest path first.
fn trial_operation(inv: &Inventory) -> Option<&Operation> {
    inv.operations
        .iter()
        .filter(|o| o.method == Method::Get && o.declares_auth())
        .min_by_key(|o| (!is_self_path(&o.path), o.path.contains('{'), o.path.len()))
}

/// True when an answer to the token shows it was taken: not 401/403, and not what an anonymous
/// caller gets.
fn taken(anonymous: &Exchange, with: &Exchange) -> bool {
    let (Some(a), Some(w)) = (&anonymous.response, &with.response) else {
        return false;
    };
    !matches!(w.status, 401 | 403)
        && (a.status != w.status
            || normalized_body(&a.body.text, &[]) != normalized_body(&w.body.text, &[]))
}

/// The prefix `header` takes the token with (`None`: the bare token), found by sending one
/// operation that declares security anonymously and with `Bearer`, `Token`, `JWT` and the bare
/// token (the answer's own scheme first), keeping the first form taken: at most five requests
/// per identity per scan (signing in again after a 401 does not try again), none once a form
/// was taken (the [`super::SignInMemo`] keeps it). `default` when nothing is taken.
pub async fn confirm_prefix(
    env: &SignInEnv<'_>,
    header: &str,
    token: &str,
    identity: &str,
    default: Option<String>,
) -> Option<String> {
    if let Some(known) = env.memo.prefix(header) {
        return known;
    }
    if !env.memo.first_try(identity) {
        return default;
    }
    let Some(op) = trial_operation(env.inventory) else {
        return default;
    };
    let spec = synthesize(op, &IdPool::default(), ANONYMOUS, &Overrides::none());
    let send = |credentials: Vec<(String, String)>| {
        let spec = &spec;
        async move {
            let mut out =
                middlebrick_http::Outgoing::from_spec(env.base, spec, credentials).ok()?;
            out.identity = identity.to_string();
            env.transport.send(out).await.ok()
        }
    };
    let Some(anonymous) = send(Vec::new()).await else {
        return default;
    };
    let mut candidates: Vec<Option<String>> = default.iter().cloned().map(Some).collect();
    for p in PREFIXES {
        if default.as_deref() != Some(*p) {
            candidates.push(Some(p.to_string()));
        }
    }
    candidates.push(None);
    for prefix in candidates.into_iter().take(4) {
        let value = prefix
            .as_ref()
            .map_or_else(|| token.to_string(), |p| format!("{p} {token}"));
        let Some(with) = send(vec![(header.to_string(), value)]).await else {
            continue;
        };
        if taken(&anonymous, &with) {
            let form = prefix
                .as_ref()
                .map_or_else(|| "<token>".into(), |p| format!("{p} <token>"));
            env.memo.note(Diagnostic::info(
                "identity.token-form",
                format!(
                    "the spec declares `{header}` as an API-key header without a prefix; `{header}: {form}` was taken on {} (HTTP {}, anonymous HTTP {})",
                    op.key(),
                    with.status().unwrap_or(0),
                    anonymous.status().unwrap_or(0)
                ),
            ));
            env.memo.set_prefix(header, prefix.clone());
            return prefix;
        }
    }
    env.memo.note(Diagnostic::info(
        "identity.token-form",
        format!(
            "no form of the token (`Bearer`, `Token`, `JWT`, bare) in `{header}` was taken on {}; sending `{}`",
            op.key(),
            default.as_deref().unwrap_or("<token>")
        ),
    ));
    // Not remembered: another identity (another role) may get through where this one did not.
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{SecurityRequirement, SecurityScheme, SpecVersion};

    fn with_scheme(name: &str, kind: SecuritySchemeKind) -> Inventory {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.security_schemes.insert(
            name.into(),
            SecurityScheme {
                name: name.into(),
                kind,
            },
        );
        inv
    }

    fn api_key(name: &str, location: ParamLocation) -> SecuritySchemeKind {
        SecuritySchemeKind::ApiKey {
            name: name.into(),
            location,
        }
    }

    #[test]
    fn tokens_go_where_the_scheme_says() {
        let bearer = with_scheme(
            "b",
            SecuritySchemeKind::Http {
                scheme: "bearer".into(),
            },
        );
        let (d, confirm) = token_delivery(&bearer, None, None);
        assert_eq!(
            d.header_value("t").unwrap(),
            ("Authorization".into(), "Bearer t".into())
        );
        assert!(!confirm);
        let (d, _) = token_delivery(
            &with_scheme("k", api_key("X-Api-Key", ParamLocation::Header)),
            None,
            None,
        );
        assert_eq!(
            d.header_value("t").unwrap(),
            ("X-Api-Key".into(), "t".into())
        );
        let (d, _) = token_delivery(
            &with_scheme("k", api_key("api_key", ParamLocation::Query)),
            None,
            None,
        );
        assert_eq!(d, Delivery::Query("api_key".into()));
        let (d, _) = token_delivery(
            &with_scheme("k", api_key("token", ParamLocation::Cookie)),
            None,
            None,
        );
        assert_eq!(d, Delivery::Cookie("token".into()));
        let (d, confirm) = token_delivery(
            &with_scheme("k", api_key("Authorization", ParamLocation::Header)),
            None,
            None,
        );
        assert_eq!(d.header_value("t").unwrap().1, "Bearer t");
        assert!(
            confirm,
            "an Authorization API key's prefix is confirmed by trying"
        );
        let (d, _) = token_delivery(
            &Inventory::empty(SpecVersion::OpenApi30),
            Some("Token"),
            None,
        );
        assert_eq!(d.header_value("t").unwrap().1, "Token t");
        let (d, _) = token_delivery(
            &Inventory::empty(SpecVersion::OpenApi30),
            None,
            Some("X-Auth-Token"),
        );
        assert_eq!(
            d.header_value("t").unwrap(),
            ("X-Auth-Token".into(), "t".into())
        );
    }

    #[test]
    fn each_operation_takes_the_credential_its_scheme_names() {
        let mut inv = with_scheme(
            "bearer",
            SecuritySchemeKind::Http {
                scheme: "bearer".into(),
            },
        );
        inv.security_schemes.insert(
            "cookie".into(),
            SecurityScheme {
                name: "cookie".into(),
                kind: api_key("session", ParamLocation::Cookie),
            },
        );
        let secured = |scheme: &str| {
            let mut op = Operation::new(Method::Get, "/x");
            op.security = Some(vec![SecurityRequirement {
                schemes: vec![(scheme.into(), vec![])],
            }]);
            op
        };
        assert_eq!(
            credential_use(&inv, Some(&secured("bearer"))),
            (true, false)
        );
        assert_eq!(
            credential_use(&inv, Some(&secured("cookie"))),
            (false, true)
        );
        assert_eq!(
            credential_use(&inv, Some(&secured("unknown"))),
            (true, true)
        );
        assert_eq!(
            credential_use(&inv, Some(&Operation::new(Method::Get, "/y"))),
            (true, true)
        );
        assert_eq!(credential_use(&inv, None), (true, true));
        let mut public = secured("bearer");
        public.security = Some(vec![]);
        assert_eq!(credential_use(&inv, Some(&public)), (true, true));
    }

    #[test]
    fn a_token_form_is_taken_when_the_answer_is_no_refusal_and_not_the_anonymous_one() {
        use crate::signin::tests::exchange;
        let anonymous = exchange(200, r#"{"items":[]}"#);
        assert!(!taken(&anonymous, &exchange(401, "{}")));
        assert!(!taken(&anonymous, &exchange(200, r#"{"items":[]}"#)));
        assert!(taken(&anonymous, &exchange(200, r#"{"items":[{"id":1}]}"#)));
        assert!(taken(&exchange(401, "{}"), &exchange(200, "{}")));
    }
}

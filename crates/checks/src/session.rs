//! What the session checks share (`cookie_flags`, `session_fixation`, `logout_ineffective`,
//! `weak_recovery`, `password_storage`): Set-Cookie parsing, protected reads and cookie-only
//! requests, the identity to sign in again, masking a value a check itself knows, and mapping
//! a recorded URL to its operation.

use crate::authflow::path_words;
use crate::ownership::is_self_path;
use crate::probe::{Overrides, Probe, ProbeError};
use crate::similarity::{is_error_envelope, looks_like_login_page};
use middlebrick_model::{
    CredentialUse, Exchange, Inventory, Method, Operation, ParamLocation, Redactor,
    SecuritySchemeKind, ANONYMOUS,
};

/// One `Set-Cookie` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    pub name: String,
    pub value: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<String>,
    /// The header deletes the cookie (empty value, `Max-Age<=0`, an `Expires` in a past year).
    pub removal: bool,
}

impl SetCookie {
    /// The attributes a session cookie should have and this one lacks.
    pub fn missing_flags(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.secure {
            out.push("Secure");
        }
        if !self.http_only {
            out.push("HttpOnly");
        }
        match self
            .same_site
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("lax" | "strict") => {}
            Some("none") if self.secure => {}
            Some("none") => out.push("SameSite (None without Secure)"),
            _ => out.push("SameSite"),
        }
        out
    }
}

fn current_year() -> i64 {
    1970 + crate::jwt::now() / 31_556_952
}

/// Parses one `Set-Cookie` value; `None` when it has no `name=`.
pub(crate) fn parse_set_cookie(header: &str) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = value.trim().trim_matches('"').to_string();
    let mut c = SetCookie {
        name: name.to_string(),
        removal: value.is_empty(),
        value,
        secure: false,
        http_only: false,
        same_site: None,
    };
    for attr in parts {
        let (k, v) = attr
            .split_once('=')
            .map_or((attr.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match k.to_ascii_lowercase().as_str() {
            "secure" => c.secure = true,
            "httponly" => c.http_only = true,
            "samesite" => c.same_site = Some(v.to_string()),
            "max-age" if v.parse::<i64>().is_ok_and(|n| n <= 0) => c.removal = true,
            "expires" => {
                let year = v
                    .split(|ch: char| !ch.is_ascii_digit())
                    .find(|w| w.len() == 4)
                    .and_then(|w| w.parse::<i64>().ok());
                if year.is_some_and(|y| y < current_year()) {
                    c.removal = true;
                }
            }
            _ => {}
        }
    }
    Some(c)
}

/// The cookies an answer sets (deletions left out).
pub(crate) fn set_cookies(ex: &Exchange) -> Vec<SetCookie> {
    ex.response
        .as_ref()
        .map(|r| {
            r.headers_named("set-cookie")
                .filter_map(parse_set_cookie)
                .filter(|c| !c.removal)
                .collect()
        })
        .unwrap_or_default()
}

/// A GET that refuses anonymous callers (401/403) and serves a signed-in identity (2xx): what
/// a credential is tried on to learn whether it authenticates.
#[derive(Debug, Clone)]
pub(crate) struct ProtectedRead {
    pub op: Operation,
    pub anonymous: Exchange,
}

/// Up to `max` protected reads, the caller's own profile first, judged by the shared
/// baselines of anonymous and of `identities`. Only operations without path parameters are
/// used, so a request carries no id that belongs to somebody else.
pub(crate) async fn protected_reads(
    probe: &dyn Probe,
    inv: &Inventory,
    identities: &[String],
    max: usize,
) -> Result<Vec<ProtectedRead>, ProbeError> {
    let mut candidates: Vec<&Operation> = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && !o.path.contains('{') && !o.declares_public())
        .collect();
    // An operation whose declared security takes a cookie first: an API that accepts a token
    // on some operations and a session cookie on others is judged where the cookie applies.
    candidates.sort_by_key(|o| {
        (
            !takes_cookie(inv, o),
            !is_self_path(&o.path),
            !o.declares_auth(),
            o.path.len(),
        )
    });
    let mut out = Vec::new();
    for op in candidates.into_iter().take(8) {
        let anonymous = probe.baseline(op, ANONYMOUS).await?;
        if !matches!(anonymous.status(), Some(401 | 403)) {
            continue;
        }
        for name in identities {
            if probe
                .baseline(op, name)
                .await?
                .response
                .is_some_and(|r| r.is_success())
            {
                out.push(ProtectedRead {
                    op: op.clone(),
                    anonymous: anonymous.clone(),
                });
                break;
            }
        }
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}

/// True when `op`'s declared security names an API key carried in a cookie.
pub(crate) fn takes_cookie(inv: &Inventory, op: &Operation) -> bool {
    op.security.iter().flatten().any(|r| {
        r.schemes.iter().any(|(name, _)| {
            inv.security_schemes.get(name).is_some_and(|s| {
                matches!(
                    &s.kind,
                    SecuritySchemeKind::ApiKey {
                        location: ParamLocation::Cookie,
                        ..
                    }
                )
            })
        })
    })
}

/// True when an answer to a protected read is the data, not a refusal or a login page.
pub(crate) fn accepted(ex: &Exchange) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.is_success() && !looks_like_login_page(r) && !is_error_envelope(r))
}

/// Sends `read` with no credentials but `cookies`.
pub(crate) async fn read_with_cookies(
    probe: &dyn Probe,
    read: &ProtectedRead,
    cookies: &[(String, String)],
) -> Result<Exchange, ProbeError> {
    let mut req = probe.request(&read.op, ANONYMOUS, &Overrides::none());
    req.credentials = CredentialUse::None;
    req.headers.retain(|(k, _)| {
        !k.eq_ignore_ascii_case("cookie") && !k.eq_ignore_ascii_case("authorization")
    });
    req.cookies = cookies.to_vec();
    probe.send(req).await
}

/// The first protected read that `name=value` alone gets through, with its answer.
pub(crate) async fn cookie_authenticates(
    probe: &dyn Probe,
    reads: &[ProtectedRead],
    name: &str,
    value: &str,
) -> Result<Option<(usize, Exchange)>, ProbeError> {
    for (i, read) in reads.iter().enumerate() {
        let ex = read_with_cookies(probe, read, &[(name.to_string(), value.to_string())]).await?;
        if accepted(&ex) {
            return Ok(Some((i, ex)));
        }
    }
    Ok(None)
}

/// The identity checks sign in again or fork: an ordinary (non-admin first) configured
/// identity that signs in by password.
pub(crate) fn password_identity(probe: &dyn Probe) -> Option<String> {
    let mut ids = probe.identities();
    ids.sort_by_key(|i| i.admin);
    ids.into_iter()
        .find(|i| probe.username_of(&i.name).is_some())
        .map(|i| i.name)
}

/// Replaces `secret` by [`REDACTED`] everywhere in a recorded exchange: for values a check
/// chose or learnt itself (a planted session id that became a live session, a password it set)
/// that the engine's redactor does not know.
pub(crate) fn mask(mut ex: Exchange, secret: &str) -> Exchange {
    let redactor = Redactor::new();
    redactor.add(secret);
    redactor.redact_exchange(&mut ex);
    ex
}

/// The path of a recorded URL (no scheme, host or query).
pub(crate) fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

/// The inventory operation a recorded request was for: same method, and the URL's path ends
/// with the template (any base path before it); the longest template wins.
pub(crate) fn op_for_url<'a>(
    inv: &'a Inventory,
    method: Method,
    url: &str,
) -> Option<&'a Operation> {
    let segs: Vec<&str> = url_path(url).split('/').filter(|s| !s.is_empty()).collect();
    inv.operations
        .iter()
        .filter(|o| o.method == method)
        .filter(|o| {
            let t: Vec<&str> = o.path.split('/').filter(|s| !s.is_empty()).collect();
            t.len() <= segs.len()
                && t.iter()
                    .rev()
                    .zip(segs.iter().rev())
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
        })
        .max_by_key(|o| {
            let segs = o.path.split('/').filter(|s| !s.is_empty());
            let literal = segs.clone().filter(|s| !s.starts_with('{')).count();
            (segs.count(), literal)
        })
}

/// True when the request path names a session (`/session`, `/sessions`).
pub(crate) fn is_session_word_path(path: &str) -> bool {
    path_words(path)
        .iter()
        .any(|w| w == "session" || w == "sessions")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::cookie_flags::tests::inventory;

    #[test]
    fn set_cookie_parsing_reads_flags_and_deletions() {
        let c = parse_set_cookie("sid=\"v1\"; Secure; HTTPOnly; SameSite=Lax; Path=/").unwrap();
        assert_eq!((c.name.as_str(), c.value.as_str()), ("sid", "v1"));
        assert!(c.missing_flags().is_empty() && !c.removal);
        let none = parse_set_cookie("a=1; SameSite=None").unwrap();
        assert!(none
            .missing_flags()
            .contains(&"SameSite (None without Secure)"));
        for gone in [
            "sid=; Path=/",
            "sid=x; Max-Age=0",
            "sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            assert!(parse_set_cookie(gone).unwrap().removal, "{gone}");
        }
        assert!(parse_set_cookie("garbage").is_none());
    }

    #[test]
    fn a_cookie_scheme_is_read_from_the_operations_security() {
        use middlebrick_model::{SecurityRequirement, SecurityScheme};
        let mut inv = inventory();
        inv.security_schemes.insert(
            "sid".into(),
            SecurityScheme {
                name: "sid".into(),
                kind: SecuritySchemeKind::ApiKey {
                    name: "sid".into(),
                    location: ParamLocation::Cookie,
                },
            },
        );
        let mut op = Operation::new(Method::Get, "/cart");
        assert!(!takes_cookie(&inv, &op));
        op.security = Some(vec![SecurityRequirement {
            schemes: vec![("sid".into(), vec![])],
        }]);
        assert!(takes_cookie(&inv, &op));
    }

    #[test]
    fn urls_map_to_templates() {
        let mut inv = inventory();
        let mut item = Operation::new(Method::Get, "/users/{id}");
        item.security = None;
        inv.operations.push(item);
        let op = op_for_url(&inv, Method::Get, "http://h:1/api/users/7?x=1").unwrap();
        assert_eq!(op.path, "/users/{id}");
        let op = op_for_url(&inv, Method::Get, "http://h:1/api/users/me").unwrap();
        assert_eq!(op.path, "/users/me");
        assert!(op_for_url(&inv, Method::Get, "http://h:1/nothing").is_none());
    }
}

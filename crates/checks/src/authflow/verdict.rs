//! Did this sign-in work? The one answer the engine (signing identities in) and the
//! authentication checks (throttling, recovery, password policy, fixation) share.
//!
//! Status alone does not say: many APIs answer a wrong password with `200 {"status": "fail"}`,
//! and some set a session cookie on every answer. So a sign-in works when its answer is not a
//! refusal (4xx/5xx, a failure envelope), carries a credential (a token anywhere in the body
//! or in a header, or a session cookie), and, when the answer to a wrong password is known,
//! differs from it in what matters: a token the wrong password did not get, other cookies,
//! another status, another shape of body.

use super::answers::normalized_body;
use super::norm;
use crate::jwt::Jwt;
use middlebrick_model::{Exchange, ResponseRecord};
use serde_json::Value;
use std::collections::BTreeSet;

/// How deep the token search reads nested objects, and how many values it looks at at most.
const MAX_DEPTH: usize = 6;
const MAX_NODES: usize = 2_000;

/// Normalised key names that hold the token an API issues.
const TOKEN_KEYS: &[&str] = &[
    "accesstoken",
    "token",
    "jwt",
    "idtoken",
    "authtoken",
    "sessiontoken",
    "bearer",
    "apikey",
    "authorization",
];
/// Normalised header names that carry an issued token.
const TOKEN_HEADERS: &[&str] = &[
    "authorization",
    "xauthtoken",
    "xaccesstoken",
    "accesstoken",
    "xtoken",
    "token",
    "xapikey",
];
/// Values of a `status`-like member that say the attempt failed.
const FAILURE_WORDS: &[&str] = &[
    "fail",
    "failed",
    "failure",
    "error",
    "denied",
    "invalid",
    "unauthorized",
    "unauthorised",
    "forbidden",
    "ko",
    "rejected",
];

/// A token an answer carries, and how it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    /// The token without any scheme.
    pub value: String,
    /// The scheme the answer names for it (`token_type`, or the word before it in a header).
    pub scheme: Option<String>,
    /// Where it was: `body` or the header's name.
    pub source: String,
}

/// What a sign-in's answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInVerdict {
    SignedIn,
    /// No answer at all (the transport's error).
    NoAnswer(String),
    /// 404 or 405: the operation is not there (or not for that method), whatever the password.
    NotFound(u16),
    /// A refusal: an error status, a failure envelope, or the same answer a wrong password gets.
    Refused(String),
    /// A success answer with no token and no session cookie.
    NoCredential,
}

/// A key that names a token, not a refresh, CSRF or reset token and not its type or lifetime.
fn token_key(key: &str) -> bool {
    let n = norm(key);
    let other = [
        "refresh", "csrf", "xsrf", "reset", "type", "expire", "verify", "confirm",
    ];
    (TOKEN_KEYS.contains(&n.as_str()) || n.ends_with("token"))
        && !other.iter().any(|o| n.contains(o))
}

fn is_jwt(value: &str) -> bool {
    value.len() >= 16 && Jwt::parse(value).is_some()
}

/// An opaque token looks like one: long enough, no spaces.
fn token_like(value: &str) -> bool {
    value.len() >= 8 && !value.contains(char::is_whitespace)
}

/// The token in a JSON answer and its `token_type` when given: the configured dotted `field`,
/// else, breadth-first to six levels, a JWT under a token-like key, then any value under a
/// token-like key, then a JWT under any key (never under a refresh-token key).
pub fn find_token_in_json(json: &Value, field: Option<&str>) -> Option<(String, Option<String>)> {
    let scheme = json
        .get("token_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(path) = field {
        let mut cur = json;
        for part in path.split('.') {
            cur = cur.get(part)?;
        }
        return cur.as_str().map(|s| (s.to_string(), scheme));
    }
    // (rank, order): lower rank wins, then the shallower and earlier one.
    let mut best: Option<(u8, usize, String)> = None;
    let mut level = vec![json];
    let mut seen = 0usize;
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for v in level {
            let Value::Object(map) = v else { continue };
            for (k, v) in map {
                seen += 1;
                if seen > MAX_NODES {
                    break;
                }
                match v {
                    Value::String(s) => {
                        let rank = match (token_key(k), is_jwt(s)) {
                            (true, true) => 0,
                            (true, false) if token_like(s) => 1,
                            (false, true) if !norm(k).contains("refresh") => 2,
                            _ => continue,
                        };
                        if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
                            best = Some((rank, seen, s.clone()));
                        }
                    }
                    Value::Object(_) => next.push(v),
                    _ => {}
                }
            }
        }
        if best.as_ref().is_some_and(|(r, _, _)| *r == 0) {
            break;
        }
        level = next;
    }
    best.map(|(_, _, s)| (s, scheme))
}

/// The token an answer carries: in its JSON body (see [`find_token_in_json`]), else in a
/// token header (`Authorization`, `X-Auth-Token`, …) or any header whose value is a JWT.
pub fn find_token(resp: &ResponseRecord, field: Option<&str>) -> Option<FoundToken> {
    if let Some((value, scheme)) = resp.json().and_then(|j| find_token_in_json(&j, field)) {
        return Some(FoundToken {
            value,
            scheme,
            source: "body".into(),
        });
    }
    for (name, raw) in &resp.headers {
        let n = norm(name);
        if n == "setcookie" {
            continue;
        }
        let (scheme, value) = match raw.trim().split_once(' ') {
            Some((s, v)) if !v.contains(' ') => (Some(s.to_string()), v.trim()),
            _ => (None, raw.trim()),
        };
        let named = TOKEN_HEADERS.contains(&n.as_str()) && token_like(value);
        if named || is_jwt(value) {
            return Some(FoundToken {
                value: value.to_string(),
                scheme,
                source: name.clone(),
            });
        }
    }
    None
}

/// The cookies an answer sets with a value (deletions left out), as `(name, value)`.
pub fn session_cookies(resp: &ResponseRecord) -> Vec<(String, String)> {
    resp.headers_named("set-cookie")
        .filter_map(|v| {
            let first = v.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            let (k, v) = (k.trim(), v.trim().trim_matches('"'));
            let removed =
                v.is_empty() || v.eq_ignore_ascii_case("deleted") || v.eq_ignore_ascii_case("null");
            (!k.is_empty() && !removed).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// True when a JSON answer says the attempt failed whatever its status: `"status": "fail"`
/// (or `error`, `denied`…), `"success": false`, or a non-empty `error`/`errors` member with no
/// token beside it; read at the top level and inside one wrapper object.
pub fn is_failure_envelope(resp: &ResponseRecord) -> bool {
    let Some(Value::Object(map)) = resp.json() else {
        return false;
    };
    let says_failed = |m: &serde_json::Map<String, Value>| {
        m.iter().any(|(k, v)| {
            let k = norm(k);
            let word = v.as_str().map(norm);
            match k.as_str() {
                "success" | "ok" | "authenticated" | "loggedin" | "valid" => {
                    *v == Value::Bool(false)
                }
                "status" | "result" | "outcome" | "state" => {
                    word.is_some_and(|w| FAILURE_WORDS.contains(&w.as_str()))
                }
                "error" | "errors" | "errormessage" => match v {
                    Value::Null | Value::Bool(false) => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                },
                _ => false,
            }
        })
    };
    let inner_failed = map.values().any(|v| match v {
        Value::Object(inner) => says_failed(inner),
        _ => false,
    });
    (says_failed(&map) || inner_failed) && find_token(resp, None).is_none()
}

/// The JSON shape of a body (its key paths, bounded), or its normalised text when not JSON.
fn shape(resp: &ResponseRecord) -> BTreeSet<String> {
    fn keys(v: &Value, prefix: &str, out: &mut BTreeSet<String>, depth: usize) {
        if depth > MAX_DEPTH || out.len() > MAX_NODES {
            return;
        }
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                let p = format!("{prefix}/{k}");
                out.insert(p.clone());
                keys(v, &p, out, depth + 1);
            }),
            Value::Array(a) => a
                .iter()
                .take(1)
                .for_each(|v| keys(v, prefix, out, depth + 1)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    match resp.json() {
        Some(v) => keys(&v, "", &mut out, 0),
        None => {
            out.insert(normalized_body(&resp.body.text, &[]));
        }
    }
    out
}

/// True when the right password's answer says the same as the wrong one's: one status, one
/// shape of body, the same cookie names, the same redirect target, and no token the wrong
/// password did not get.
fn same_as_wrong(right: &ResponseRecord, wrong: &ResponseRecord) -> bool {
    let names = |r: &ResponseRecord| -> BTreeSet<String> {
        session_cookies(r).into_iter().map(|(k, _)| k).collect()
    };
    let token_right = find_token(right, None).is_some();
    let token_wrong = find_token(wrong, None).is_some();
    right.status == wrong.status
        && token_right == token_wrong
        && !token_right
        && names(right) == names(wrong)
        && right.header("location") == wrong.header("location")
        && shape(right) == shape(wrong)
}

/// True when a sign-in answer is a refusal: no answer, an error status, or a failure envelope.
/// Weaker than "not [`signed_in`]": an answer that sets no new credential is not a refusal
/// (a server that keeps a session id planted before the sign-in sends none).
pub fn sign_in_refused(ex: &Exchange) -> bool {
    ex.response
        .as_ref()
        .is_none_or(|r| r.status >= 400 || r.status < 200 || is_failure_envelope(r))
}

/// What the answer `right` to the right password says, compared with the answer `wrong` to a
/// wrong password when there is one; `token_field` is where the configuration says the token
/// is (a dotted path in the JSON body).
pub fn judge_sign_in(
    right: &Exchange,
    wrong: Option<&Exchange>,
    token_field: Option<&str>,
) -> SignInVerdict {
    let Some(r) = right.response.as_ref() else {
        return SignInVerdict::NoAnswer(right.error.clone().unwrap_or_default());
    };
    if matches!(r.status, 404 | 405) {
        return SignInVerdict::NotFound(r.status);
    }
    if r.status >= 400 || r.status < 200 {
        return SignInVerdict::Refused(format!("HTTP {}", r.status));
    }
    if is_failure_envelope(r) {
        return SignInVerdict::Refused(format!(
            "HTTP {} with a body that says the sign-in failed",
            r.status
        ));
    }
    if find_token(r, token_field).is_none() && session_cookies(r).is_empty() {
        return SignInVerdict::NoCredential;
    }
    if let Some(w) = wrong.and_then(|w| w.response.as_ref()) {
        if same_as_wrong(r, w) {
            return SignInVerdict::Refused(format!(
                "HTTP {} with the same answer a wrong password gets",
                r.status
            ));
        }
    }
    SignInVerdict::SignedIn
}

/// True when `right` signed in (see [`judge_sign_in`]).
pub fn signed_in(right: &Exchange, wrong: Option<&Exchange>) -> bool {
    judge_sign_in(right, wrong, None) == SignInVerdict::SignedIn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::response;
    use middlebrick_model::{Method, RequestSpec};
    use serde_json::json;

    const JSON: &str = "application/json";
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

    fn ex(status: u16, body: &str, headers: &[(&str, &str)]) -> Exchange {
        let mut r = response(status, JSON, body);
        for (k, v) in headers {
            r.headers.push((k.to_string(), v.to_string()));
        }
        crate::fake::exchange_for(&RequestSpec::new(Method::Post, "/login"), Some(r))
    }

    #[test]
    fn tokens_are_found_nested_under_any_jwt_key_and_in_headers() {
        let j = json!({"data": {"user": {"id": 1, "profile": {"token": JWT}}}});
        assert_eq!(find_token_in_json(&j, None).unwrap().0, JWT);
        let j = json!({"refresh_token": JWT, "result": {"credential": JWT}});
        assert_eq!(find_token_in_json(&j, None).unwrap().0, JWT);
        let j = json!({"refresh_token": "r-123456789", "accessToken": "opaque-123456"});
        assert_eq!(find_token_in_json(&j, None).unwrap().0, "opaque-123456");
        let j = json!({"refresh_token": "r-123456789", "token_type": "bearer"});
        assert!(find_token_in_json(&j, None).is_none());
        let j = json!({"result": {"jwt": "abc.def.ghi"}});
        assert_eq!(
            find_token_in_json(&j, Some("result.jwt")).unwrap().0,
            "abc.def.ghi"
        );
        let h = ex(200, "{}", &[("X-Auth-Token", "opaque-abcdef12")]);
        let found = find_token(h.response.as_ref().unwrap(), None).unwrap();
        assert_eq!(
            (found.value.as_str(), found.source.as_str()),
            ("opaque-abcdef12", "X-Auth-Token")
        );
        let h = ex(200, "{}", &[("Authorization", &format!("Bearer {JWT}"))]);
        let found = find_token(h.response.as_ref().unwrap(), None).unwrap();
        assert_eq!(found.value, JWT);
        assert_eq!(found.scheme.as_deref(), Some("Bearer"));
        let h = ex(200, "{}", &[("X-Request-Id", "abcdef-123456")]);
        assert!(find_token(h.response.as_ref().unwrap(), None).is_none());
    }

    #[test]
    fn a_200_failure_envelope_is_a_refusal() {
        for body in [
            r#"{"status":"fail","message":"Invalid credentials"}"#,
            r#"{"success":false}"#,
            r#"{"error":"bad password"}"#,
            r#"{"data":{"status":"error"}}"#,
        ] {
            let e = ex(200, body, &[("Set-Cookie", "sid=abc123; Path=/")]);
            assert!(
                matches!(judge_sign_in(&e, None, None), SignInVerdict::Refused(_)),
                "{body}"
            );
            assert!(sign_in_refused(&e));
        }
        let ok = ex(
            200,
            &format!(r#"{{"status":"success","token":"{JWT}"}}"#),
            &[],
        );
        assert_eq!(judge_sign_in(&ok, None, None), SignInVerdict::SignedIn);
        let errors_null = ex(200, &format!(r#"{{"error":null,"token":"{JWT}"}}"#), &[]);
        assert!(signed_in(&errors_null, None));
    }

    #[test]
    fn success_is_judged_by_difference_from_a_wrong_password() {
        let cookie = [("Set-Cookie", "session=abc123; HttpOnly")];
        let right = ex(200, r#"{"message":"hello"}"#, &cookie);
        let wrong = ex(200, r#"{"message":"nope"}"#, &cookie);
        assert!(matches!(
            judge_sign_in(&right, Some(&wrong), None),
            SignInVerdict::Refused(_)
        ));
        let welcome = ex(200, r#"{"message":"hello","user":{"id":1}}"#, &cookie);
        assert!(signed_in(&welcome, Some(&wrong)), "another shape of body");
        let with_token = ex(200, &format!(r#"{{"token":"{JWT}"}}"#), &[]);
        let wrong_token = ex(200, r#"{"token":null}"#, &[]);
        assert!(signed_in(&with_token, Some(&wrong_token)));
        let refused = ex(401, r#"{"detail":"bad"}"#, &[]);
        assert!(signed_in(&right, Some(&refused)));
    }

    #[test]
    fn missing_operations_and_missing_credentials_are_named() {
        assert_eq!(
            judge_sign_in(&ex(404, "{}", &[]), None, None),
            SignInVerdict::NotFound(404)
        );
        assert_eq!(
            judge_sign_in(&ex(405, "", &[]), None, None),
            SignInVerdict::NotFound(405)
        );
        assert_eq!(
            judge_sign_in(&ex(200, r#"{"ok":true}"#, &[]), None, None),
            SignInVerdict::NoCredential
        );
        let deleted = ex(200, "{}", &[("Set-Cookie", "sid=; Max-Age=0")]);
        assert_eq!(
            judge_sign_in(&deleted, None, None),
            SignInVerdict::NoCredential
        );
        assert!(!sign_in_refused(&ex(200, "{}", &[])));
    }
}

//! Reading the answers of authentication operations: is this a refusal, a "slow down", the
//! same answer as before once volatile values are set aside; and the made-up credentials the
//! checks send.

use super::{is_email_property, username_property};
use middlebrick_model::{Exchange, Operation};
use regex::Regex;
use std::sync::OnceLock;

/// A username for an account that does not exist, shaped like what `op` takes: an address at
/// `example.com` when the account property is an e-mail, else `mb-nx-<random>`.
pub fn nonexistent_username(op: Option<&Operation>) -> String {
    let tag = crate::ownership::nonce();
    let email = op.is_some_and(|o| username_property(o).is_some_and(|p| is_email_property(o, &p)));
    if email {
        format!("mb-nx-{tag}@example.com")
    } else {
        format!("mb-nx-{tag}")
    }
}

/// A wrong password that passes any length or class rule, so that a refusal is about the
/// password being wrong, not malformed.
pub fn wrong_password() -> String {
    format!("Mb-wrong-{}-9x!", crate::ownership::nonce())
}

/// True when an answer says "slow down": HTTP 429, or a `Retry-After` header on any answer.
pub fn is_throttled(ex: &Exchange) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.status == 429 || r.header("retry-after").is_some())
}

/// True for the answer a sign-in gives a wrong password when it is working: 400, 401 or 403.
/// Other refusals (404, 422, 409) may be a broken or misaddressed operation as much as an
/// authentication failure; callers prove the operation works before they accept those.
pub fn is_plain_failure(status: u16) -> bool {
    matches!(status, 400 | 401 | 403)
}

/// True for a 4xx that may be how this API refuses credentials, once the operation is shown to
/// work: not "slow down", not a transport-level refusal (method, size, media type).
pub fn is_possible_failure(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 405 | 408 | 413 | 414 | 415 | 429 | 431)
}

/// An answer's body with what changes on every call replaced, so two answers that say the
/// same thing compare equal: each of `volatile` (the usernames sent, which many APIs echo),
/// UUIDs, timestamps, long tokens and long numbers (request ids, epoch times, durations).
pub fn normalized_body(text: &str, volatile: &[&str]) -> String {
    static RES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
                "<time>",
            ),
            (
                r"(?i)\b(mon|tue|wed|thu|fri|sat|sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} gmt",
                "<time>",
            ),
            (
                r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "<uuid>",
            ),
            (r"\d+\.\d+", "<n>"),
            (r"\d{5,}", "<n>"),
        ]
        .into_iter()
        .map(|(p, r)| (Regex::new(p).expect("normalisation pattern compiles"), r))
        .collect()
    });
    let mut out = text.trim().to_string();
    let mut volatile: Vec<&str> = volatile.iter().copied().filter(|v| !v.is_empty()).collect();
    volatile.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in volatile {
        out = out.replace(v, "<user>");
    }
    for (re, with) in res {
        out = re.replace_all(&out, *with).into_owned();
    }
    // Long tokens (session ids, request ids, hashes) have a digit somewhere; long words do not.
    static TOKEN: OnceLock<Regex> = OnceLock::new();
    let token = TOKEN.get_or_init(|| Regex::new(r"[A-Za-z0-9_\-\.=+/]{20,}").expect("compiles"));
    token
        .replace_all(&out, |c: &regex::Captures<'_>| {
            if c[0].chars().any(|ch| ch.is_ascii_digit()) {
                "<token>".to_string()
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
}

/// True when two answers say the same: one status and the same body once normalised
/// ([`normalized_body`]).
pub fn same_answer(a: &Exchange, b: &Exchange, volatile: &[&str]) -> bool {
    match (&a.response, &b.response) {
        (Some(x), Some(y)) => {
            x.status == y.status
                && normalized_body(&x.body.text, volatile)
                    == normalized_body(&y.body.text, volatile)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authflow::tests::op_with;
    use middlebrick_model::Method;

    const JSON: &str = "application/json";

    #[test]
    fn made_up_credentials_fit_the_operation() {
        let email = op_with(Method::Post, "/login", JSON, &["email", "password"]);
        assert!(nonexistent_username(Some(&email)).ends_with("@example.com"));
        assert!(nonexistent_username(None).starts_with("mb-nx-"));
        assert!(wrong_password().len() >= 12);
    }

    #[test]
    fn normalising_drops_what_changes_between_calls_only() {
        let a = r#"{"detail":"No account for mb-nx-1a2b3c","at":"2024-05-01T10:00:01.123Z","request_id":"5f0c2a9e-1b2c-4d3e-8f90-a1b2c3d4e5f6","took":0.0123}"#;
        let b = r#"{"detail":"No account for mb-nx-9f8e7d","at":"2024-05-01T10:00:02.456Z","request_id":"0e1d2c3b-4a59-4867-9a8b-7c6d5e4f3a21","took":0.0456}"#;
        assert_eq!(
            normalized_body(a, &["mb-nx-1a2b3c"]),
            normalized_body(b, &["mb-nx-9f8e7d"])
        );
        let other = r#"{"detail":"Incorrect password","at":"2024-05-01T10:00:02Z"}"#;
        assert_ne!(
            normalized_body(a, &["mb-nx-1a2b3c"]),
            normalized_body(other, &[])
        );
        assert_ne!(
            normalized_body(r#"{"attempts_left":4}"#, &[]),
            normalized_body(r#"{"attempts_left":3}"#, &[])
        );
    }

    #[test]
    fn answers_are_classified_by_status_and_retry_after() {
        assert!(is_plain_failure(401) && !is_plain_failure(404));
        assert!(is_possible_failure(404) && is_possible_failure(422));
        assert!(!is_possible_failure(429) && !is_possible_failure(500));
        let mut ex = crate::fake::exchange_for(
            &middlebrick_model::RequestSpec::new(Method::Post, "/login"),
            Some(crate::similarity::response(401, JSON, "{}")),
        );
        assert!(!is_throttled(&ex));
        if let Some(r) = ex.response.as_mut() {
            r.headers.push(("Retry-After".into(), "30".into()));
        }
        assert!(is_throttled(&ex));
    }
}

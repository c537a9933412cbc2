//! `auth.login-throttling`: a sign-in answers a burst of wrong passwords without ever slowing the
//! caller down (CWE-307).
//!
//! Active mode only, on every operation [`crate::authflow::is_sign_in`] recognises. Sends [`BURST`]
//! wrong passwords, one after another, for one random username that does not exist
//! (`mb-nx-<random>`, never a real account, so no user is locked out). The finding needs all of:
//! - the first answer is a normal authentication failure: a 4xx (not 429), or a 2xx whose body
//!   is a failure envelope (`{"status": "fail"}`), once a configured identity has signed in
//!   through the same operation (it works, so that answer is how it refuses credentials); with no identity that signs in by password, a 400, 401 or 403 from an
//!   operation that does not declare authentication. A 5xx, a 404 on a dead route or a 2xx ends
//!   the check silently;
//! - no answer is 429 or carries `Retry-After`;
//! - every answer is the first one again (same status, same body once volatile values are
//!   normalised): a lockout or a "n attempts left" countdown changes it;
//! - the last answers are not markedly slower than the first ones ([`grows`]): a growing delay is
//!   throttling too.
//!
//! The burst stops at the first sign of throttling. Budget per sign-in operation: 12 attempts, plus
//! one successful sign-in as a configured identity.

use crate::authflow::{
    is_failure_envelope, is_plain_failure, is_possible_failure, is_sign_in, is_throttled,
    nonexistent_username, same_answer, signed_in, wrong_password,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder};
use crate::probe::{Probe, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct LoginThrottling;

/// How many wrong passwords one burst sends: twice what a sensible limiter allows.
pub const BURST: usize = 12;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthLoginThrottling,
    title: "Sign-in without brute-force throttling",
    description: "In active mode, sends 12 wrong passwords for one non-existent username to each \
        sign-in operation. Fires when the operation refuses them normally and never answers 429, \
        never sends Retry-After, never changes its answer (lockout) and never slows down.",
    cwe: &[307],
    owasp: &[Owasp::Api2, Owasp::Api4],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Limit failed sign-ins per account name, checked before the password is verified \
            and counted for unknown names exactly as for known ones: after a handful of failures \
            in a window answer 429 with `Retry-After` (or delay each answer more), and clear the \
            count on success. Add a per-client-address limit too, taking the address from the \
            proxy header only as far as your own trusted proxies set it. Offer MFA, and alert on \
            bursts across many accounts (credential stuffing).",
        variants: &[
            (
                Tech::Flask,
                "Flask-Limiter: `limiter = Limiter(get_remote_address, app=app)` and on the \
                sign-in view `@limiter.limit(\"5 per minute\", key_func=lambda: \
                (request.get_json(silent=True) or request.form).get(\"username\", \"\"))` \
                stacked with a per-address `@limiter.limit(\"20 per minute\")`; set \
                `RATELIMIT_HEADERS_ENABLED = True` so 429s carry `Retry-After`, use a shared \
                storage (`RATELIMIT_STORAGE_URI = \"redis://…\"`) when running several workers, \
                and wrap the app in `ProxyFix(app.wsgi_app, x_for=1)` with the real number of \
                proxies.",
            ),
            (
                Tech::FastApi,
                "slowapi: `limiter = Limiter(key_func=get_remote_address)`, \
                `app.state.limiter = limiter`, `app.add_exception_handler(RateLimitExceeded, \
                _rate_limit_exceeded_handler)` and `@limiter.limit(\"5/minute\")` on the token \
                route (it must take `request: Request`); for the per-username limit keep a \
                counter (Redis `INCR` + `EXPIRE`, or a table) checked before `verify_password` and \
                raise `HTTPException(429, headers={\"Retry-After\": str(seconds)})`. Run uvicorn \
                with `--forwarded-allow-ips` set to your proxy's address, never `*`.",
            ),
            (
                Tech::PostgreSql,
                "keep failures in a table `(username, failed_at)` indexed on both, \
                `SELECT count(*) … WHERE username = $1 AND failed_at > now() - interval '1 minute'` \
                before verifying, and `DELETE` the rows on success.",
            ),
        ],
    },
};

#[async_trait]
impl Check for LoginThrottling {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    /// A burst can trip a limiter keyed on the scanner's address, which would spoil the sign-ins
    /// other checks still need.
    fn order(&self) -> RunOrder {
        RunOrder::Last
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if !is_sign_in(op) {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Post,
            identity: ANONYMOUS,
            purpose: "12 wrong passwords for one non-existent username",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx.probe, op).await.unwrap_or_default()
    }
}

/// True when the first answer is how this operation refuses credentials. A refusal proves
/// little by itself (an operation that needs a prior session, a CSRF token or another field
/// refuses everything), so when a configured identity signs in by password it must sign in
/// through `op` (2xx): the operation is alive, callable anonymously and understands the body
/// the engine builds, and then any 4xx but a "slow down" is its refusal. With no such identity,
/// only a plain 400/401/403 from an operation that does not declare authentication counts.
pub(crate) async fn refuses_normally(
    probe: &dyn Probe,
    op: &Operation,
    first: &Exchange,
) -> Result<bool, ProbeError> {
    let Some(status) = first.status() else {
        return Ok(false);
    };
    // A 2xx is a refusal only when its body says so (`{"status": "fail"}`), and only once a
    // right password through the same operation is seen to answer otherwise (below).
    let envelope =
        (200..300).contains(&status) && first.response.as_ref().is_some_and(is_failure_envelope);
    if is_throttled(first) || !(is_possible_failure(status) || envelope) {
        return Ok(false);
    }
    let identity = probe
        .identities()
        .into_iter()
        .find(|i| probe.username_of(&i.name).is_some());
    if let Some(identity) = identity {
        match probe.sign_in_fresh(Some(op), &identity.name, &[]).await {
            Ok(ex) => return Ok(signed_in(&ex, Some(first))),
            Err(ProbeError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(!envelope && is_plain_failure(status) && !op.declares_auth())
}

/// True when answer times grow: the median of the last three is at least twice the median of
/// the first three and at least 250 ms more (smaller changes are network noise).
pub fn grows(elapsed_ms: &[u64]) -> bool {
    if elapsed_ms.len() < 6 {
        return false;
    }
    let median = |xs: &[u64]| {
        let mut v = xs.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let first = median(&elapsed_ms[..3]);
    let last = median(&elapsed_ms[elapsed_ms.len() - 3..]);
    last >= first.saturating_mul(2) && last.saturating_sub(first) >= 250
}

async fn judge(probe: &dyn Probe, op: &Operation) -> Result<Outcome, ProbeError> {
    let username = nonexistent_username(Some(op));
    let password = wrong_password();
    let first = probe
        .sign_in_attempt(Some(op), &username, &password, &[])
        .await?;
    if !refuses_normally(probe, op, &first).await? {
        return Ok(Outcome::none());
    }
    let mut answers = vec![first];
    while answers.len() < BURST {
        let ex = probe
            .sign_in_attempt(Some(op), &username, &password, &[])
            .await?;
        let slowed = is_throttled(&ex) || !same_answer(&answers[0], &ex, &[&username]);
        answers.push(ex);
        if slowed {
            return Ok(Outcome::none());
        }
    }
    let times: Vec<u64> = answers.iter().map(|e| e.elapsed_ms).collect();
    if grows(&times) {
        return Ok(Outcome::none());
    }
    let status = answers[0].status().unwrap_or(0);
    let last = answers.pop().expect("a full burst");
    let first = answers.swap_remove(0);
    let description = format!(
        "`{}` answered {BURST} wrong passwords for one username, sent back to back, with the same \
         HTTP {status} every time: no 429, no `Retry-After`, no lockout answer and no growing \
         delay. Nothing slows down guessing passwords for an account (brute force, credential \
         stuffing).",
        op.key()
    );
    let evidence = Evidence::new(vec![first, last]).note(format!(
        "first and last of {BURST} attempts with a wrong password for a non-existent username; \
         all {BURST} answered HTTP {status}; answer times in ms: {times:?}"
    ));
    Ok(Outcome::finding(META.finding(
        Some(op),
        "",
        Severity::Medium,
        Confidence::Firm,
        description,
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authflow::tests::op_with;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Mode, ResponseRecord, SpecVersion};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const JSON: &str = "application/json";

    fn login() -> Operation {
        op_with(
            Method::Post,
            "/api/auth/login",
            JSON,
            &["username", "password"],
        )
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = login();
        LoginThrottling
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    /// A sign-in that answers `answer(n)` to the n-th attempt (1-based).
    fn sign_in(answer: impl Fn(usize) -> ResponseRecord + Send + Sync + 'static) -> FakeProbe {
        let n = Arc::new(AtomicUsize::new(0));
        FakeProbe::new().on_dynamic(move |r| {
            (r.path == "/api/auth/login").then(|| answer(n.fetch_add(1, Ordering::SeqCst) + 1))
        })
    }

    fn unauthorized() -> ResponseRecord {
        response(401, JSON, r#"{"detail":"Invalid username or password"}"#)
    }

    #[tokio::test]
    async fn fires_when_every_wrong_password_gets_the_same_refusal() {
        let probe = sign_in(|_| unauthorized());
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(probe.sent_count(), BURST);
        let f = &out.findings[0];
        assert_eq!(f.evidence.exchanges.len(), 2);
        assert_eq!(f.path.as_deref(), Some("/api/auth/login"));
        // Only made-up usernames, one for the whole burst.
        let sent = probe.sent.lock().unwrap();
        let users: std::collections::HashSet<String> = sent
            .iter()
            .map(|r| match &r.body {
                Some(middlebrick_model::RequestBody::Json(v)) => v["username"].to_string(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(users.len(), 1);
        assert!(users.iter().next().unwrap().contains("mb-nx-"));
    }

    #[tokio::test]
    async fn a_limiter_from_the_sixth_attempt_is_silent_and_stops_the_burst() {
        let probe = sign_in(|n| {
            if n > 5 {
                let mut r = response(429, JSON, r#"{"detail":"Too many attempts"}"#);
                r.headers.push(("Retry-After".into(), "60".into()));
                r
            } else {
                unauthorized()
            }
        });
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 6);
    }

    #[tokio::test]
    async fn retry_after_or_a_lockout_answer_is_throttling() {
        let probe = sign_in(|n| {
            let mut r = unauthorized();
            if n > 3 {
                r.headers.push(("Retry-After".into(), "5".into()));
            }
            r
        });
        assert!(run(&probe).await.findings.is_empty());
        let probe = sign_in(|n| {
            if n > 4 {
                response(403, JSON, r#"{"detail":"Account locked"}"#)
            } else {
                unauthorized()
            }
        });
        assert!(run(&probe).await.findings.is_empty());
        let probe = sign_in(|n| {
            response(
                401,
                JSON,
                &format!(r#"{{"detail":"wrong","attempts_left":{}}}"#, 10 - n.min(10)),
            )
        });
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_broken_operation_is_silent() {
        for status in [500, 502, 405] {
            let probe = sign_in(move |_| response(status, JSON, r#"{"detail":"boom"}"#));
            assert!(run(&probe).await.findings.is_empty(), "{status}");
            assert_eq!(probe.sent_count(), 1);
        }
        // A 404 with nobody to prove the route works: silent after one attempt.
        let probe = sign_in(|_| response(404, "text/html", "<h1>Not Found</h1>"));
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 1);
    }

    #[tokio::test]
    async fn a_404_refusal_counts_once_an_identity_signs_in_through_the_operation() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r| {
                if r.path != "/api/auth/login" {
                    return None;
                }
                let fresh = matches!(&r.body, Some(middlebrick_model::RequestBody::Json(v))
                    if v["password"] == "<fresh>");
                n.fetch_add(1, Ordering::SeqCst);
                Some(if fresh {
                    response(200, JSON, r#"{"access_token":"tok-0123456789"}"#)
                } else {
                    response(404, JSON, r#"{"detail":"No account with that username"}"#)
                })
            });
        probe.usernames.push(("alice".into(), "alice".into()));
        assert_eq!(run(&probe).await.findings.len(), 1);
        assert_eq!(probe.sent_count(), BURST + 1);
    }

    /// A sign-in that answers 200 to everything, `{"status": "fail"}` to a wrong password and a
    /// token to the right one.
    fn envelope_sign_in(identity: bool) -> FakeProbe {
        let mut probe = FakeProbe::new().on_dynamic(move |r| {
            if r.path != "/api/auth/login" {
                return None;
            }
            let fresh = matches!(&r.body, Some(middlebrick_model::RequestBody::Json(v))
                if v["password"] == "<fresh>");
            Some(if fresh {
                response(
                    200,
                    JSON,
                    r#"{"status":"success","data":{"token":"tok-0123456789"}}"#,
                )
            } else {
                response(
                    200,
                    JSON,
                    r#"{"status":"fail","message":"invalid credentials"}"#,
                )
            })
        });
        if identity {
            probe = probe.identity("alice", &["alice"]);
            probe.usernames.push(("alice".into(), "alice".into()));
        }
        probe
    }

    #[tokio::test]
    async fn a_200_failure_envelope_is_a_refusal_once_the_right_password_answers_otherwise() {
        let probe = envelope_sign_in(true);
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(probe.sent_count(), BURST + 1);
        // Without an identity to show what success looks like, a 200 proves nothing.
        let probe = envelope_sign_in(false);
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 1);
    }

    #[tokio::test]
    async fn refusals_from_an_operation_the_identity_cannot_sign_in_through_are_silent() {
        // Everything is refused, the identity's own credentials too (a prior session, a CSRF
        // token or another field is missing): the refusals say nothing about passwords.
        let mut probe = sign_in(|_| response(403, JSON, r#"{"detail":"CSRF token missing"}"#))
            .identity("alice", &["alice"]);
        probe.usernames.push(("alice".into(), "alice".into()));
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 2);
    }

    #[tokio::test]
    async fn without_an_identity_an_operation_declaring_authentication_is_silent() {
        let mut op = login();
        op.security = Some(vec![middlebrick_model::SecurityRequirement {
            schemes: vec![("bearer".into(), vec![])],
        }]);
        let probe = sign_in(|_| unauthorized());
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let out = LoginThrottling
            .run(&RunCtx {
                probe: &probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await;
        assert!(out.findings.is_empty());
    }

    #[test]
    fn growing_delay_needs_a_clear_trend() {
        assert!(grows(&[40, 50, 45, 60, 200, 400, 800, 1600, 1700, 1800]));
        assert!(!grows(&[40, 50, 45, 60, 80, 70, 90, 60, 95, 100]));
        // Twice as slow but within noise.
        assert!(!grows(&[10, 12, 11, 15, 20, 25, 30, 30, 30, 30]));
        assert!(!grows(&[10, 20]));
    }

    #[test]
    fn plans_only_sign_ins_and_only_in_active_mode() {
        let ctx = PlanCtx {
            mode: Mode::Active,
            identities: 0,
        };
        assert_eq!(LoginThrottling.plan(&login(), ctx).len(), 1);
        let register = op_with(
            Method::Post,
            "/api/auth/register",
            JSON,
            &["username", "password"],
        );
        assert!(LoginThrottling.plan(&register, ctx).is_empty());
        assert!(!Mode::Safe.allows(META.kind) && Mode::Active.allows(META.kind));
    }
}

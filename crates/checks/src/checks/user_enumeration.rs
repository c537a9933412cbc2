//! `auth.user-enumeration`: a sign-in or password-reset request answers differently for an account
//! that exists and for one that does not (CWE-204).
//!
//! Active mode only, on the operations [`crate::authflow::is_sign_in`] and
//! [`crate::authflow::is_reset_request`] recognise. Two usernames are compared, each sent twice,
//! alternating (existing, made-up, existing, made-up):
//! - sign-in: a configured identity's username (else a scan-owned account's) with a wrong password,
//!   at most two wrong attempts against a real account, against a random non-existent username with
//!   the same wrong password;
//! - reset request: only a scan-owned account ([`crate::Probe::own_account`]), never a configured
//!   identity's (a reset request may e-mail a real person), against a non-existent name or address.
//!
//! The finding needs the two answers of each side to agree with each other, and the sides to
//! differ: in status, or in body once volatile values (timestamps, UUIDs, request ids, the
//! usernames themselves) are normalised away. Any 429, `Retry-After` or 5xx, or a wrong password
//! that signs in, ends the check silently. When the answers are the same both ways, their times
//! are judged (`user_enumeration_timing.rs`: two rounds of interleaved attempts with a scan-owned
//! account, Mann–Whitney U, a stated false-alarm rate). Budget per operation: 4 requests, then at
//! most 64 for the timing rounds, plus a registration and a profile read (reset requests asking
//! for an e-mail) when a scan-owned account is needed.

use crate::authflow::{
    is_email_property, is_reset_request, is_sign_in, is_throttled, nonexistent_username, norm,
    same_answer, username_property, wrong_password,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::{nonce, self_read};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[path = "user_enumeration_timing.rs"]
mod timing_trials;
use timing_trials::Attempt;

#[derive(Debug)]
pub struct UserEnumeration;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthUserEnumeration,
    title: "Account existence disclosed by sign-in or password-reset answers",
    description: "In active mode, sends a sign-in with a wrong password (or a password-reset \
        request for a scan-owned account) for an existing and for a non-existent username, twice \
        each. Fires when the answers for each side agree and the two sides differ in status or \
        in body once volatile values are normalised, or, when they are the same, when two rounds \
        of interleaved attempts with a scan-owned account differ in answer time (Mann-Whitney U, \
        p < 0.001 each).",
    cwe: &[204, 208],
    owasp: &[Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Give one answer whether or not the account exists: the same status, the same \
            body and the same headers for an unknown username as for a wrong password (\"Invalid \
            username or password\"), and for a reset request always \"If the account exists, a \
            message was sent\" with 202. Do the same work on both paths (verify against a dummy \
            hash when the user is unknown) so answer times match, and throttle both.",
        variants: &[
            (
                Tech::Flask,
                "in the sign-in view look the user up, then always call \
                `check_password_hash(user.password_hash if user else DUMMY_HASH, password)` and \
                `abort(401)` with one message for both failures; the reset view returns \
                `(jsonify(detail=...), 202)` before branching on whether the user exists and \
                sends the e-mail from a background task.",
            ),
            (
                Tech::FastApi,
                "raise the same `HTTPException(status_code=401, detail=\"Incorrect username or \
                password\", headers={\"WWW-Authenticate\": \"Bearer\"})` for both failures after \
                verifying against a dummy hash when the user is missing; the reset route returns \
                202 with a fixed body and queues the e-mail with `BackgroundTasks`.",
            ),
        ],
    },
};

#[async_trait]
impl Check for UserEnumeration {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        let purpose = if is_sign_in(op) {
            "a wrong password for an existing and a non-existent username, twice each"
        } else if is_reset_request(op) {
            "a reset request for a scan-owned and a non-existent account, twice each"
        } else {
            return Vec::new();
        };
        vec![Planned {
            method: Method::Post,
            identity: ANONYMOUS,
            purpose,
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        let answers = if is_sign_in(op) {
            sign_in_answers(ctx, op).await
        } else if is_reset_request(op) {
            reset_answers(ctx, op).await
        } else {
            return Outcome::none();
        };
        let Ok(Some(a)) = answers else {
            return Outcome::none();
        };
        if let Some(found) = judge(op, &a) {
            return found;
        }
        timing(ctx, op, a).await.unwrap_or_else(|_| Outcome::none())
    }
}

/// The same answers both ways: whether their times differ (`user_enumeration_timing.rs`), with
/// a scan-owned account as the existing side.
async fn timing(ctx: &RunCtx<'_>, op: &Operation, a: Answers) -> Result<Outcome, ProbeError> {
    let (how, existing) = match a.reset_property {
        Some(property) => (Attempt::Reset(property), a.existing),
        None => {
            let own = ctx.probe.own_account().await?;
            (Attempt::SignIn(wrong_password()), own.username)
        }
    };
    let made_up = || made_up_like(&existing, op);
    timing_trials::trial(ctx, &META, op, how, a.kind, &existing, &made_up).await
}

/// The four answers, in the order sent (existing, made-up, existing, made-up), and the two
/// usernames.
struct Answers {
    kind: &'static str,
    /// The reset request's account property (`None`: a sign-in).
    reset_property: Option<String>,
    existing: String,
    made_up: String,
    exchanges: Vec<Exchange>,
}

/// A made-up account name shaped like `existing` (same e-mail domain).
fn made_up_like(existing: &str, op: &Operation) -> String {
    match existing.rsplit_once('@') {
        Some((_, domain)) => format!("mb-nx-{}@{domain}", nonce()),
        None => nonexistent_username(Some(op)),
    }
}

async fn sign_in_answers(ctx: &RunCtx<'_>, op: &Operation) -> Result<Option<Answers>, ProbeError> {
    let configured = ctx
        .probe
        .identities()
        .iter()
        .find_map(|i| ctx.probe.username_of(&i.name));
    let existing = match configured {
        Some(u) => u,
        None => ctx.probe.own_account().await?.username,
    };
    let made_up = made_up_like(&existing, op);
    let password = wrong_password();
    let mut exchanges = Vec::new();
    for _ in 0..2 {
        for user in [&existing, &made_up] {
            let mut ex = ctx
                .probe
                .sign_in_attempt(Some(op), user, &password, &[])
                .await?;
            if ex.response.is_none() {
                // No answer at all (a connection closed under the request) says nothing about
                // the account; a failed sign-in is tried once more.
                ex = ctx
                    .probe
                    .sign_in_attempt(Some(op), user, &password, &[])
                    .await?;
            }
            if is_throttled(&ex) {
                return Ok(None);
            }
            exchanges.push(ex);
        }
    }
    // A wrong password that signs in is another problem; the comparison means nothing then.
    if exchanges
        .iter()
        .any(|e| e.response.as_ref().is_some_and(|r| r.is_success()))
    {
        return Ok(None);
    }
    Ok(Some(Answers {
        kind: "sign-in with a wrong password",
        reset_property: None,
        existing,
        made_up,
        exchanges,
    }))
}

/// The scan-owned account's value for the reset request's account property: its username,
/// or for an e-mail property its address (the username when it is one, else the `email` of
/// its own profile).
async fn own_value(
    ctx: &RunCtx<'_>,
    email: bool,
    identity: &str,
    username: &str,
) -> Result<Option<String>, ProbeError> {
    if !email || username.contains('@') {
        return Ok(Some(username.to_string()));
    }
    let Some(profile) = self_read(ctx.inventory) else {
        return Ok(None);
    };
    let ex = ctx.probe.baseline(profile, identity).await?;
    let found = ex.success_json().and_then(|v| match v {
        Value::Object(map) => map.into_iter().find_map(|(k, v)| match v {
            Value::String(s) if norm(&k).contains("email") && s.contains('@') => Some(s),
            _ => None,
        }),
        _ => None,
    });
    Ok(found)
}

async fn reset_answers(ctx: &RunCtx<'_>, op: &Operation) -> Result<Option<Answers>, ProbeError> {
    let Some(property) = username_property(op) else {
        return Ok(None);
    };
    let email = is_email_property(op, &property);
    let own = ctx.probe.own_account().await?;
    let Some(existing) = own_value(ctx, email, &own.identity, &own.username).await? else {
        return Ok(None);
    };
    let made_up = made_up_like(&existing, op);
    let mut exchanges = Vec::new();
    for _ in 0..2 {
        for value in [&existing, &made_up] {
            let overrides = Overrides::body_field(vec![property.clone()], json!(value));
            let ex = ctx
                .probe
                .send(ctx.probe.request(op, ANONYMOUS, &overrides))
                .await?;
            if is_throttled(&ex) {
                return Ok(None);
            }
            exchanges.push(ex);
        }
    }
    Ok(Some(Answers {
        kind: "password-reset request",
        reset_property: Some(property),
        existing,
        made_up,
        exchanges,
    }))
}

/// The key paths of a JSON answer (`/detail`, `/user/id`, `/items[]/sku`), bounded.
fn key_paths(ex: &Exchange) -> Option<BTreeSet<String>> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        if out.len() >= 500 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = format!("{prefix}/{k}");
                    out.insert(path.clone());
                    walk(v, &path, out);
                }
            }
            Value::Array(items) => {
                for v in items.iter().take(20) {
                    walk(v, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let json = ex.response.as_ref()?.json()?;
    let mut out = BTreeSet::new();
    walk(&json, "", &mut out);
    Some(out)
}

/// How the answers for an existing (`e1`, `e2`) and a made-up account (`n1`, `n2`) differ,
/// when each side agrees with itself: in status (each side's two statuses equal), else in
/// the body once normalised, else in which JSON fields the body has (values such as a fresh
/// reset code may change between tries; the fields do not).
fn difference([e1, n1, e2, n2]: [&Exchange; 4], volatile: &[&str]) -> Option<String> {
    let (es, ns) = (e1.status()?, n1.status()?);
    if e2.status()? != es || n2.status()? != ns {
        return None;
    }
    if es != ns {
        return Some(format!(
            "HTTP {es} for the existing account, HTTP {ns} for the non-existent one"
        ));
    }
    if same_answer(e1, e2, volatile) && same_answer(n1, n2, volatile) {
        return (!same_answer(e1, n1, volatile)).then(|| {
            format!(
                "the same HTTP {es} but a different body (after removing timestamps, ids and \
                 the usernames themselves)"
            )
        });
    }
    let (ke, kn) = (key_paths(e1)?, key_paths(n1)?);
    if key_paths(e2)? != ke || key_paths(n2)? != kn || ke == kn {
        return None;
    }
    let only: Vec<&str> = ke
        .symmetric_difference(&kn)
        .map(String::as_str)
        .take(5)
        .collect();
    Some(format!(
        "the same HTTP {es} but bodies with different fields ({})",
        only.join(", ")
    ))
}

fn judge(op: &Operation, a: &Answers) -> Option<Outcome> {
    let volatile = [a.existing.as_str(), a.made_up.as_str()];
    let [e1, n1, e2, n2] = <[Exchange; 4]>::try_from(a.exchanges.clone()).ok()?;
    if [&e1, &n1, &e2, &n2]
        .iter()
        .any(|e| e.status().is_none_or(|s| s >= 500))
    {
        return Some(Outcome::none());
    }
    let what = difference([&e1, &n1, &e2, &n2], &volatile)?;
    let description = format!(
        "`{}` tells whether an account exists: a {} answers {what}, the same way on both of two \
         tries. An attacker can test a list of names or addresses and then aim password \
         guessing or phishing at the accounts that exist.",
        op.key(),
        a.kind
    );
    let evidence = Evidence::new(vec![e1, n1]).note(
        "first: an existing account; second: a non-existent one (each was sent twice and both \
         answers of a side agreed)",
    );
    Some(Outcome::finding(META.finding(
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
    use middlebrick_model::{Inventory, RequestBody, RequestSpec, ResponseRecord, SpecVersion};

    const JSON: &str = "application/json";

    fn login() -> Operation {
        op_with(
            Method::Post,
            "/api/auth/login",
            JSON,
            &["username", "password"],
        )
    }

    fn reset() -> Operation {
        op_with(
            Method::Post,
            "/api/auth/password-reset",
            JSON,
            &["username"],
        )
    }

    async fn run(probe: &FakeProbe, op: &Operation) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        UserEnumeration
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(op),
            })
            .await
    }

    fn body_field(r: &RequestSpec, key: &str) -> String {
        match &r.body {
            Some(RequestBody::Json(v)) => v[key].as_str().unwrap_or("").to_string(),
            _ => String::new(),
        }
    }

    /// A sign-in at `/api/auth/login` knowing only `alice`, answering with `known` or `unknown`.
    fn sign_in(known: ResponseRecord, unknown: ResponseRecord) -> FakeProbe {
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r| {
                (r.path == "/api/auth/login").then(|| {
                    if body_field(r, "username") == "alice" {
                        known.clone()
                    } else {
                        unknown.clone()
                    }
                })
            });
        probe.usernames.push(("alice".into(), "alice".into()));
        probe
    }

    #[tokio::test]
    async fn different_statuses_for_known_and_unknown_names_fire() {
        let probe = sign_in(
            response(401, JSON, r#"{"detail":"Incorrect password"}"#),
            response(404, JSON, r#"{"detail":"No account with that username"}"#),
        );
        let out = run(&probe, &login()).await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].description.contains("HTTP 401"));
        let sent = probe.sent.lock().unwrap();
        assert_eq!(sent.len(), 4);
        let real = sent
            .iter()
            .filter(|r| body_field(r, "username") == "alice")
            .count();
        assert_eq!(
            real, 2,
            "at most two wrong passwords against a real account"
        );
    }

    #[tokio::test]
    async fn a_sign_in_attempt_without_an_answer_is_tried_once_more() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r| {
                if r.path != "/api/auth/login" {
                    return None;
                }
                // The first attempt's connection is lost: no answer at all.
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    return None;
                }
                Some(if body_field(r, "username") == "alice" {
                    response(401, JSON, r#"{"detail":"Incorrect password"}"#)
                } else {
                    response(404, JSON, r#"{"detail":"No account with that username"}"#)
                })
            });
        probe.usernames.push(("alice".into(), "alice".into()));
        let out = run(&probe, &login()).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert_eq!(
            probe.sent.lock().unwrap().len(),
            5,
            "four attempts and one resent"
        );
    }

    #[tokio::test]
    async fn same_status_but_a_different_message_fires() {
        let probe = sign_in(
            response(401, JSON, r#"{"detail":"Wrong password for alice"}"#),
            response(401, JSON, r#"{"detail":"Unknown user"}"#),
        );
        assert_eq!(run(&probe, &login()).await.findings.len(), 1);
    }

    #[tokio::test]
    async fn one_answer_for_both_is_silent_even_with_volatile_values() {
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(|r| {
                (r.path == "/api/auth/login").then(|| {
                    response(
                        401,
                        JSON,
                        &format!(
                            r#"{{"detail":"Invalid username or password","user":"{}","request_id":"{}"}}"#,
                            body_field(r, "username"),
                            nonce()
                        ),
                    )
                })
            });
        let mut probe = probe;
        probe.usernames.push(("alice".into(), "alice".into()));
        assert!(run(&probe, &login()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn throttled_or_broken_answers_are_silent() {
        let mut limited = response(429, JSON, r#"{"detail":"slow down"}"#);
        limited.headers.push(("Retry-After".into(), "60".into()));
        let probe = sign_in(limited, response(401, JSON, r#"{"detail":"nope"}"#));
        assert!(run(&probe, &login()).await.findings.is_empty());
        let probe = sign_in(
            response(500, JSON, r#"{"detail":"boom"}"#),
            response(401, JSON, r#"{"detail":"nope"}"#),
        );
        assert!(run(&probe, &login()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn answers_that_change_between_tries_are_not_a_difference() {
        // A counter whose value changes between the known user's tries: same fields on both
        // sides, bodies that disagree within a side: no verdict.
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r| {
                (r.path == "/api/auth/login").then(|| {
                    if body_field(r, "username") == "alice" {
                        let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        response(
                            401,
                            JSON,
                            &format!(r#"{{"detail":"wrong","failures":{k}}}"#),
                        )
                    } else {
                        response(401, JSON, r#"{"detail":"wrong","failures":0}"#)
                    }
                })
            });
        probe.usernames.push(("alice".into(), "alice".into()));
        assert!(run(&probe, &login()).await.findings.is_empty());
    }

    /// A reset request that knows only scan-owned accounts (`mb-own-<n>`).
    fn reset_api(known: ResponseRecord, unknown: ResponseRecord) -> FakeProbe {
        let mut probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r| r.path == "/fake-register",
                response(201, JSON, r#"{"id":9}"#),
            )
            .on_dynamic(move |r| {
                (r.path == "/api/auth/password-reset").then(|| {
                    if body_field(r, "username").starts_with("mb-own-")
                        || body_field(r, "username") == "alice"
                    {
                        known.clone()
                    } else {
                        unknown.clone()
                    }
                })
            });
        probe.usernames.push(("alice".into(), "alice".into()));
        probe
    }

    #[tokio::test]
    async fn a_reset_request_that_reveals_accounts_fires_using_only_a_scan_owned_account() {
        let probe = reset_api(
            response(
                200,
                JSON,
                r#"{"detail":"Reset code sent","reset_code":"1234"}"#,
            ),
            response(404, JSON, r#"{"detail":"No account with that username"}"#),
        );
        let out = run(&probe, &reset()).await;
        assert_eq!(out.findings.len(), 1);
        let sent = probe.sent.lock().unwrap();
        assert!(sent
            .iter()
            .filter(|r| r.path == "/api/auth/password-reset")
            .all(|r| body_field(r, "username") != "alice"));
    }

    #[tokio::test]
    async fn a_fresh_code_in_every_answer_does_not_hide_the_difference() {
        // Same status for both, but only the existing account's answer carries a code, new
        // on every try: the fields differ consistently.
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1000));
        let mut probe = FakeProbe::new()
            .on(
                |r| r.path == "/fake-register",
                response(201, JSON, r#"{"id":9}"#),
            )
            .on_dynamic(move |r| {
                (r.path == "/api/auth/password-reset").then(|| {
                    if body_field(r, "username").starts_with("mb-own-") {
                        let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        response(200, JSON, &format!(r#"{{"detail":"sent","code":"{k}"}}"#))
                    } else {
                        response(200, JSON, r#"{"detail":"sent"}"#)
                    }
                })
            });
        probe.mode = middlebrick_model::Mode::Active;
        let out = run(&probe, &reset()).await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].description.contains("/code"));
    }

    #[tokio::test]
    async fn a_uniform_reset_answer_is_silent() {
        let same = response(
            202,
            JSON,
            r#"{"detail":"If the account exists, a link was sent."}"#,
        );
        let probe = reset_api(same.clone(), same);
        assert!(run(&probe, &reset()).await.findings.is_empty());
    }

    #[test]
    fn plans_sign_ins_and_reset_requests_only() {
        let ctx = PlanCtx {
            mode: middlebrick_model::Mode::Active,
            identities: 1,
        };
        assert_eq!(UserEnumeration.plan(&login(), ctx).len(), 1);
        assert_eq!(UserEnumeration.plan(&reset(), ctx).len(), 1);
        let confirm = op_with(
            Method::Post,
            "/api/auth/password-reset/confirm",
            JSON,
            &["username", "code", "new_password"],
        );
        assert!(UserEnumeration.plan(&confirm, ctx).is_empty());
    }
}

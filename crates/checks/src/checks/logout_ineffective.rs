//! `auth.logout-ineffective`: the credentials of a session still work after the API's own
//! sign-out operation ended it.
//!
//! Never signs out an identity's own session: the identity is signed in once more as a separate
//! session (`Probe::fork_session`; in active mode without a password identity, a scan-owned
//! account) and only that session is ended. The check confirms a protected read (anonymous
//! 401/403) works for the session, sends the sign-out operation as it and requires a 2xx/3xx
//! answer, then sends the same read with the session's original credentials (the engine does not
//! apply the sign-out's Set-Cookie): all of them, the header token alone and the cookies alone,
//! so the finding names which survive. A 2xx for any of them fires, one finding per sign-out
//! operation.
//!
//! Budget: one sign-in (the separate session), up to three reads before, the sign-out, three
//! reads after (eight requests), plus the shared baselines of the candidate reads.

use crate::authflow::is_sign_out;
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::nonce;
use crate::probe::{Overrides, ProbeError};
use crate::session::{accepted, password_identity, protected_reads, ProtectedRead};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Method, Mode, Operation,
    Owasp, Remediation, Severity, Tech,
};

#[derive(Debug)]
pub struct LogoutIneffective;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthLogoutIneffective,
    title: "Session still valid after sign-out",
    description: "Opens a separate session for an identity, ends it with the API's sign-out \
        operation, and fires when the session's token or cookies still read a protected \
        operation afterwards.",
    cwe: &[613],
    owasp: &[Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Make sign-out end the session on the server, not only in the client: delete \
            the server-side session row, or for stateless tokens put the token's `jti` on a \
            denylist (kept until the token's `exp`) that every request checks; keep access \
            tokens short-lived so a denylist stays small. Expiring the cookie in the answer is \
            not enough: a copied cookie or token keeps working.",
        variants: &[
            (
                Tech::Flask,
                "in the sign-out route `session.clear()` and delete the server-side \
                session row (Flask's default cookie session cannot be revoked: store a random id \
                in it that must exist in a session table); for JWTs insert the `jti` into a \
                `revoked_tokens` table and reject it in the token loader (Flask-JWT-Extended: \
                `@jwt.token_in_blocklist_loader`).",
            ),
            (
                Tech::FastApi,
                "in the sign-out route delete the session row and \
                `response.delete_cookie(...)`; for JWTs store the `jti` in a denylist table (or \
                Redis with a TTL equal to the remaining lifetime) and make the `get_current_user` \
                dependency reject revoked `jti`s.",
            ),
        ],
    },
};

#[async_trait]
impl Check for LogoutIneffective {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if !is_sign_out(op) {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "sign in again as a separate session",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "a protected read as that session, before and after",
            },
            Planned {
                method: op.method,
                identity: "*",
                purpose: "sign that session out",
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

/// The identity to fork: a configured one that signs in by password, else (active mode) an
/// account the scan registers.
async fn base_identity(ctx: &RunCtx<'_>) -> Result<Option<String>, ProbeError> {
    if let Some(name) = password_identity(ctx.probe) {
        return Ok(Some(name));
    }
    if ctx.probe.mode() < Mode::Active {
        return Ok(None);
    }
    match ctx.probe.own_account().await {
        Ok(own) => Ok(Some(own.identity)),
        Err(ProbeError::Refused(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read_as(
    ctx: &RunCtx<'_>,
    read: &ProtectedRead,
    who: &str,
    credentials: CredentialUse,
) -> Result<Exchange, ProbeError> {
    let mut req = ctx.probe.request(&read.op, who, &Overrides::none());
    req.credentials = credentials;
    ctx.probe.send(req).await
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some(base) = base_identity(ctx).await? else {
        return Ok(Outcome::none());
    };
    let reads = protected_reads(ctx.probe, ctx.inventory, std::slice::from_ref(&base), 3).await?;
    if reads.is_empty() {
        return Ok(Outcome::none());
    }
    let fork = format!("{base}~logout-{}", nonce());
    match ctx.probe.fork_session(&base, &fork).await {
        Ok(ex) if ex.status().is_some_and(|s| (200..400).contains(&s)) => {}
        Ok(_) | Err(ProbeError::Refused(_)) => return Ok(Outcome::none()),
        Err(e) => return Err(e),
    }
    let mut working = None;
    for read in &reads {
        let before = read_as(ctx, read, &fork, CredentialUse::All).await?;
        if accepted(&before) {
            working = Some((read, before));
            break;
        }
    }
    let Some((read, before)) = working else {
        return Ok(Outcome::none());
    };
    let sign_out = ctx
        .probe
        .send(ctx.probe.request(op, &fork, &Overrides::none()))
        .await?;
    if !sign_out.status().is_some_and(|s| (200..400).contains(&s)) || sign_out.graphql_refused() {
        return Ok(Outcome::none());
    }
    let mut survivors = Vec::new();
    for (use_, what) in [
        (CredentialUse::All, "all of its credentials together"),
        (CredentialUse::HeadersOnly, "the header token alone"),
        (CredentialUse::CookiesOnly, "the cookies alone"),
    ] {
        let after = read_as(ctx, read, &fork, use_).await?;
        if accepted(&after) {
            survivors.push((what, after));
        }
    }
    if survivors.is_empty() {
        return Ok(Outcome::none());
    }
    Ok(Outcome::finding(finding(
        op, &base, read, before, sign_out, survivors,
    )))
}

fn finding(
    op: &Operation,
    base: &str,
    read: &ProtectedRead,
    before: Exchange,
    sign_out: Exchange,
    survivors: Vec<(&str, Exchange)>,
) -> middlebrick_model::Finding {
    let token = survivors.iter().any(|(w, _)| w.contains("token"));
    let cookies = survivors.iter().any(|(w, _)| w.contains("cookies"));
    let which = match (token, cookies) {
        (true, true) => "both the header token and the cookies still work",
        (true, false) => "the header token still works",
        (false, true) => "the cookies still work",
        (false, false) => "the credentials together still work",
    };
    let names: Vec<&str> = survivors.iter().map(|(w, _)| *w).collect();
    let description = format!(
        "A separate session of `{base}` read `{}` (HTTP {}), was signed out through `{}` (HTTP \
         {}), and afterwards {which}: the same read succeeded with {}. Anonymous callers get \
         HTTP {}. A token or cookie copied before sign-out (a shared computer, a leaked log, a \
         stolen cookie) keeps working until it expires by itself.",
        read.op.key(),
        before.status().unwrap_or(0),
        op.key(),
        sign_out.status().unwrap_or(0),
        names.join(", "),
        read.anonymous.status().unwrap_or(0),
    );
    let mut exchanges = vec![before, sign_out];
    exchanges.extend(survivors.into_iter().map(|(_, ex)| ex));
    let evidence = Evidence::new(exchanges).note(
        "first: the protected read before sign-out; second: the sign-out; then the same read \
         afterwards with the session's original credentials (all, or one kind alone)",
    );
    META.finding(
        Some(op),
        "",
        Severity::Medium,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::cookie_flags::tests::inventory;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::RequestSpec;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    const JSON: &str = "application/json";

    /// alice's profile; forks (`alice~logout-…`) carry a token and a cookie. After the fork
    /// signs out, `token_revoked` and `cookie_revoked` decide what still works.
    fn probe(token_revoked: bool, cookie_revoked: bool) -> FakeProbe {
        let out = Arc::new(AtomicBool::new(false));
        let o = out.clone();
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r: &RequestSpec| r.path == "/fake-sign-in",
                response(200, JSON, r#"{"access_token":"tok-0123456789"}"#),
            )
            .on_dynamic(move |r: &RequestSpec| {
                let fork = r.identity.starts_with("alice~logout-");
                match (r.method, r.path.as_str()) {
                    (Method::Post, "/auth/logout") => {
                        o.store(fork, Ordering::SeqCst);
                        Some(response(204, JSON, ""))
                    }
                    (Method::Get, "/users/me") => {
                        let signed_out = o.load(Ordering::SeqCst);
                        let token = matches!(
                            r.credentials,
                            CredentialUse::All | CredentialUse::HeadersOnly
                        ) && !(signed_out && token_revoked);
                        let cookie = matches!(
                            r.credentials,
                            CredentialUse::All | CredentialUse::CookiesOnly
                        ) && !(signed_out && cookie_revoked);
                        let ok = r.identity == "alice" || (fork && (token || cookie));
                        Some(if ok {
                            response(200, JSON, r#"{"id":1,"username":"alice"}"#)
                        } else {
                            response(401, JSON, r#"{"detail":"not authenticated"}"#)
                        })
                    }
                    _ => None,
                }
            });
        p.usernames.push(("alice".into(), "alice".into()));
        p.mode = Mode::Active;
        p
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        let op = inv.operations[4].clone();
        assert_eq!(op.key(), "POST /auth/logout");
        LogoutIneffective
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn credentials_that_survive_sign_out_are_named() {
        let out = run(&probe(false, false)).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0]
            .description
            .contains("both the header token and the cookies"));
        let out = run(&probe(true, false)).await;
        let d = &out.findings[0].description;
        assert!(
            d.contains("the cookies still work") && !d.contains("header token alone"),
            "{d}"
        );
    }

    #[tokio::test]
    async fn revoking_sign_out_is_silent_and_alice_is_never_signed_out() {
        let p = probe(true, true);
        assert!(run(&p).await.findings.is_empty());
        let sent = p.sent.lock().unwrap();
        let outs: Vec<_> = sent.iter().filter(|r| r.path == "/auth/logout").collect();
        assert_eq!(outs.len(), 1);
        assert!(outs[0].identity.starts_with("alice~logout-"));
    }

    #[tokio::test]
    async fn without_a_password_identity_or_active_mode_nothing_is_sent() {
        let mut p = probe(false, false);
        p.usernames.clear();
        p.mode = Mode::Safe;
        assert!(run(&p).await.findings.is_empty());
        assert_eq!(p.sent_count(), 0);
    }
}

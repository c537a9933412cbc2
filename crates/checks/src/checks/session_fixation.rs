//! `auth.session-fixation`: a session id a visitor holds before signing in becomes, unchanged,
//! the signed-in session.
//!
//! Per sign-in operation whose answer sets a cookie that authenticates on its own (see
//! `cookie_flags`). The pre-sign-in id is, first choice, one the API itself hands an anonymous
//! visitor: a GET whose anonymous answer sets that cookie (the sign-in's own path first, then
//! paths naming a session, then other reads), fetched fresh so no other check has touched it;
//! when no read issues one, an attacker-chosen random value (does the server adopt an id it
//! never issued?). The identity then signs in once more through the operation carrying
//! `Cookie: <name>=<pre-sign-in id>`. It fires only when both hold: the sign-in answer sets no
//! new value for the cookie (or the same one), and the pre-sign-in id, refused by a protected
//! read before the sign-in, is accepted by it afterwards. A server that rotates the id is
//! silent.
//!
//! Budget: at most one sign-in to learn the cookies the operation sets, up to three
//! cookie-only reads to find one that authenticates, one anonymous GET for a fresh id, one
//! control read, the sign-in with the planted id and one read after it (nine requests), plus
//! the shared baselines of the candidate reads.

use crate::authflow::{is_sign_in, sign_in_refused};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder};
use crate::ownership::nonce;
use crate::probe::{Overrides, ProbeError};
use crate::session::{
    accepted, cookie_authenticates, is_session_word_path, password_identity, protected_reads,
    read_with_cookies, set_cookies, ProtectedRead,
};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, CredentialUse, Evidence, Exchange, Method, Operation, Owasp,
    Remediation, Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct SessionFixation;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthSessionFixation,
    title: "Session id not renewed at sign-in (session fixation)",
    description: "Obtains a session id as an anonymous visitor (or plants a made-up one), signs \
        an identity in carrying it, and fires when the sign-in issues no new id and the old id, \
        refused before, now authenticates on its own.",
    cwe: &[384],
    owasp: &[Owasp::Api2],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Issue a new session id whenever the privilege level changes, above all at \
            sign-in: create a fresh random id, move what the anonymous session held into it, \
            delete the old session on the server and send the new id in Set-Cookie. Never adopt \
            a session id the server did not issue itself.",
        variants: &[
            (
                Tech::Flask,
                "at sign-in call `session.clear()` before storing the user in it; with a \
                server-side session store (Flask-Session, your own table) delete the old row and \
                set a new random id (`secrets.token_urlsafe(32)`) with `response.set_cookie(..., \
                secure=True, httponly=True, samesite=\"Lax\")`; Flask-Login's `login_user` does \
                not regenerate a server-side id by itself.",
            ),
            (
                Tech::FastApi,
                "in the sign-in route delete the row of the incoming session cookie, insert \
                a new one with `secrets.token_urlsafe(32)` and `response.set_cookie(key=..., \
                value=new_id, secure=True, httponly=True, samesite=\"lax\")`; with Starlette's \
                `SessionMiddleware` call `request.session.clear()` before writing the user id.",
            ),
        ],
    },
};

#[async_trait]
impl Check for SessionFixation {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    /// Its sign-in must come before other checks' malformed sign-ins can trip a limiter keyed on
    /// the scanner's address.
    fn order(&self) -> RunOrder {
        RunOrder::First
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if !is_sign_in(op) {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Get,
                identity: ANONYMOUS,
                purpose: "obtain a session id as an anonymous visitor",
            },
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "sign in again carrying that session id",
            },
            Planned {
                method: Method::Get,
                identity: ANONYMOUS,
                purpose: "the old session id alone on a protected read, before and after",
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

/// A session cookie this sign-in sets and a protected read it authenticates.
struct SessionCookie {
    name: String,
    read: ProtectedRead,
}

/// The pre-sign-in id, and the anonymous answer that issued it (`None`: the scanner made it up).
struct Planted {
    value: String,
    by: Option<Exchange>,
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some(identity) = password_identity(ctx.probe) else {
        return Ok(Outcome::none());
    };
    let Some(session) = session_cookie(ctx, op, &identity).await? else {
        return Ok(Outcome::none());
    };
    let planted = match issued(ctx, op, &session.name).await? {
        Some((by, value)) => Planted {
            value,
            by: Some(by),
        },
        None => Planted {
            value: format!("mb{}{}{}", nonce(), nonce(), nonce()),
            by: None,
        },
    };
    let pair = vec![(session.name.clone(), planted.value.clone())];
    let before = read_with_cookies(ctx.probe, &session.read, &pair).await?;
    if !matches!(before.status(), Some(401 | 403)) {
        return Ok(Outcome::none());
    }
    let header = (
        "Cookie".to_string(),
        format!("{}={}", session.name, planted.value),
    );
    let signed_in = ctx
        .probe
        .sign_in_fresh(Some(op), &identity, &[header])
        .await?;
    // Not "signed in" in the engine's sense: a server that keeps the planted id sends no new
    // credential, which is the flaw itself.
    if sign_in_refused(&signed_in) {
        return Ok(Outcome::none());
    }
    let renewed = set_cookies(&signed_in)
        .into_iter()
        .any(|c| c.name == session.name && c.value != planted.value);
    if renewed {
        return Ok(Outcome::none());
    }
    let after = read_with_cookies(ctx.probe, &session.read, &pair).await?;
    if !accepted(&after) {
        return Ok(Outcome::none());
    }
    Ok(Outcome::finding(finding(
        op, &identity, &session, planted, before, signed_in, after,
    )))
}

/// The first cookie this operation's sign-in answer sets that authenticates alone.
async fn session_cookie(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
) -> Result<Option<SessionCookie>, ProbeError> {
    let own = ctx
        .probe
        .sign_in_operation()
        .is_some_and(|(m, p)| m == op.method && p == op.path);
    let known = own
        .then(|| ctx.probe.sign_in_exchange(identity))
        .flatten()
        .filter(|ex| !set_cookies(ex).is_empty());
    let learn = match known {
        Some(ex) => ex,
        None => ctx.probe.sign_in_fresh(Some(op), identity, &[]).await?,
    };
    let cookies = set_cookies(&learn);
    if cookies.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
    let reads = protected_reads(ctx.probe, ctx.inventory, &names, 3).await?;
    for c in cookies {
        if let Some((i, _)) = cookie_authenticates(ctx.probe, &reads, &c.name, &c.value).await? {
            return Ok(Some(SessionCookie {
                name: c.name,
                read: reads[i].clone(),
            }));
        }
    }
    Ok(None)
}

/// A fresh value of cookie `name` that a GET hands an anonymous visitor, with that answer.
async fn issued(
    ctx: &RunCtx<'_>,
    sign_in: &Operation,
    name: &str,
) -> Result<Option<(Exchange, String)>, ProbeError> {
    let mut candidates: Vec<&Operation> = ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && !o.path.contains('{'))
        .collect();
    candidates.sort_by_key(|o| {
        (
            o.path != sign_in.path,
            !is_session_word_path(&o.path),
            o.path.len(),
        )
    });
    for op in candidates.into_iter().take(6) {
        let base = ctx.probe.baseline(op, ANONYMOUS).await?;
        if !set_cookies(&base).iter().any(|c| c.name == name) {
            continue;
        }
        // A fresh id: the baseline's may have been used by another check since.
        let mut req = ctx.probe.request(op, ANONYMOUS, &Overrides::none());
        req.credentials = CredentialUse::None;
        let fresh = ctx.probe.send(req).await?;
        if let Some(c) = set_cookies(&fresh).into_iter().find(|c| c.name == name) {
            return Ok(Some((fresh, c.value)));
        }
    }
    Ok(None)
}

fn finding(
    op: &Operation,
    identity: &str,
    session: &SessionCookie,
    planted: Planted,
    before: Exchange,
    signed_in: Exchange,
    after: Exchange,
) -> middlebrick_model::Finding {
    let name = &session.name;
    let read = session.read.op.key();
    let origin = match &planted.by {
        Some(by) => format!(
            "`{} {}` handed an anonymous visitor the session cookie `{name}`",
            by.request.method,
            crate::session::url_path(&by.request.url)
        ),
        None => format!(
            "the scanner made up a value for the session cookie `{name}` (the server never \
             issued it)"
        ),
    };
    let kept = if set_cookies(&signed_in).iter().any(|c| c.name == *name) {
        "set the same value again"
    } else {
        "set no new value for it"
    };
    let description = format!(
        "{origin}; that value alone was refused by `{read}` (HTTP {}). `{identity}` then signed \
         in through `{}` carrying it; the answer (HTTP {}) {kept}, and afterwards the \
         pre-sign-in value alone read `{read}` (HTTP {}). An attacker who plants a session id in \
         a victim's browser (a cookie set from a sibling subdomain, a crafted link) is signed in \
         as the victim as soon as the victim signs in.",
        before.status().unwrap_or(0),
        op.key(),
        signed_in.status().unwrap_or(0),
        after.status().unwrap_or(0),
    );
    // The planted id is now a live session of the identity: never in the report.
    let mut exchanges = Vec::new();
    exchanges.extend(planted.by);
    let first = exchanges.len() + 1;
    exchanges.extend([before, signed_in, after]);
    let exchanges = exchanges
        .into_iter()
        .map(|ex| crate::session::mask(ex, &planted.value))
        .collect();
    let evidence = Evidence::new(exchanges).note(format!(
        "exchange {first}: the pre-sign-in id alone, refused; {}: the sign-in carrying it; {}: \
         the same id alone afterwards, accepted",
        first + 1,
        first + 2
    ));
    META.finding(
        Some(op),
        name,
        Severity::High,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::cookie_flags::tests::{cookie_in, inventory, with_cookie};
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::RequestSpec;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const JSON: &str = "application/json";

    /// A server-side session store: `GET /auth/session` gives anonymous visitors a new `sid`;
    /// `POST /auth/session` signs alice in, on the incoming `sid` when `fixate` and it exists,
    /// else on a new one; `adopt` makes it accept ids it never issued.
    fn probe(fixate: bool, adopt: bool, issue_on_get: bool) -> FakeProbe {
        let store: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
        let counter = Arc::new(Mutex::new(0));
        let new_sid = move |store: &Mutex<HashMap<String, bool>>, authed: bool| {
            let mut n = counter.lock().unwrap();
            *n += 1;
            let sid = format!("sid{n:04}xyz");
            store.lock().unwrap().insert(sid.clone(), authed);
            sid
        };
        let mut p =
            FakeProbe::new()
                .identity("alice", &["alice"])
                .on_dynamic(move |r: &RequestSpec| {
                    let incoming = cookie_in(r, "sid");
                    match (r.method, r.path.as_str()) {
                        (Method::Get, "/auth/session") if issue_on_get => {
                            let sid = new_sid(&store, false);
                            Some(with_cookie(
                                response(200, JSON, r#"{"authenticated":false}"#),
                                &format!("sid={sid}; Path=/"),
                            ))
                        }
                        (Method::Post, "/auth/session") => {
                            let ok = r
                                .body
                                .as_ref()
                                .is_some_and(|b| format!("{b:?}").contains("alice"));
                            if !ok {
                                return Some(response(401, JSON, r#"{"detail":"bad"}"#));
                            }
                            let known = incoming
                                .as_ref()
                                .is_some_and(|s| store.lock().unwrap().contains_key(s));
                            match incoming {
                                Some(s) if fixate && (known || adopt) => {
                                    store.lock().unwrap().insert(s, true);
                                    Some(response(200, JSON, r#"{"username":"alice"}"#))
                                }
                                _ => {
                                    let sid = new_sid(&store, true);
                                    Some(with_cookie(
                                        response(200, JSON, r#"{"username":"alice"}"#),
                                        &format!("sid={sid}; HttpOnly; Path=/"),
                                    ))
                                }
                            }
                        }
                        (Method::Get, "/users/me") => {
                            let ok = r.identity == "alice"
                                || incoming.is_some_and(|s| {
                                    store.lock().unwrap().get(&s).copied().unwrap_or(false)
                                });
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
        p
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        let op = inv.operations[1].clone();
        assert_eq!(op.key(), "POST /auth/session");
        SessionFixation
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    #[tokio::test]
    async fn an_issued_anonymous_id_that_becomes_the_session_is_fixation() {
        let p = probe(true, false, true);
        let out = run(&p).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        let f = &out.findings[0];
        assert_eq!(f.parameter.as_deref(), Some("sid"));
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert!(
            f.description.contains("GET /auth/session"),
            "{}",
            f.description
        );
        assert_eq!(f.evidence.exchanges.len(), 4);
        let planted = p
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == Method::Post)
            .find_map(|r| cookie_in(r, "sid"))
            .unwrap_or_default();
        let text = serde_json::to_string(&f.evidence).unwrap();
        assert!(planted.len() > 4 && !text.contains(&planted), "{text}");
    }

    #[tokio::test]
    async fn a_server_that_rotates_the_id_is_silent() {
        assert!(run(&probe(false, false, true)).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_made_up_id_counts_only_when_the_server_adopts_it() {
        let out = run(&probe(true, true, false)).await;
        assert_eq!(out.findings.len(), 1, "{out:?}");
        assert!(out.findings[0].description.contains("made up"));
        assert!(run(&probe(true, false, false)).await.findings.is_empty());
    }

    #[test]
    fn only_sign_ins_are_planned() {
        let inv = inventory();
        let ctx = PlanCtx {
            mode: middlebrick_model::Mode::Safe,
            identities: 1,
        };
        assert!(!SessionFixation.plan(&inv.operations[1], ctx).is_empty());
        assert!(SessionFixation.plan(&inv.operations[4], ctx).is_empty());
    }
}

//! `auth.throttle-bypass`: a sign-in limiter that trusts the client's own claim of its address
//! (CWE-348, CWE-307).
//!
//! Active mode only, on every operation [`crate::authflow::is_sign_in`] recognises, and only where
//! throttling exists: up to [`BURST`] wrong passwords for one random non-existent username must
//! first earn a 429. Then, for the same username and password, each of `X-Forwarded-For`,
//! `X-Real-IP` and `Forwarded: for=` is tried with a fresh random address, each attempt followed at
//! once by a control without the header. A header bypasses the limiter when its attempt gets the
//! operation's normal refusal again (the first answer's status; a plain 400/401/403 when the very
//! first attempt was already 429 because another check had just throttled this address) while the
//! control right after is still 429; the pair is repeated with another address before it counts, so
//! a window that happens to expire, or a token bucket that happens to refill, is not mistaken for a
//! bypass. Keeping the username fixed is what makes it the header that matters: a limiter keyed on
//! the username ignores the header and stays at 429.
//!
//! Budget per sign-in operation: at most 12 attempts to reach the 429, then per header one attempt
//! when it does not bypass, four when it does: 12 + 4 + 4 + 4 = 24 at the very worst, usually about
//! 6 + 4 + 4 + 4 = 18.

use crate::authflow::{
    is_plain_failure, is_sign_in, is_throttled, nonexistent_username, wrong_password,
};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder};
use crate::checks::login_throttling::{refuses_normally, BURST};
use crate::ownership::nonce;
use crate::probe::{Probe, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    Severity, Tech, ANONYMOUS,
};

#[derive(Debug)]
pub struct ThrottleBypass;

/// The headers tried, in the order proxies usually set them.
const HEADERS: &[&str] = &["X-Forwarded-For", "X-Real-IP", "Forwarded"];

/// How `header` carries the client address `ip`.
fn header_value(header: &str, ip: &str) -> String {
    if header == "Forwarded" {
        format!("for={ip}")
    } else {
        ip.to_string()
    }
}

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthThrottleBypass,
    title: "Sign-in throttling bypassed with a spoofed client address header",
    description: "In active mode, once a sign-in operation answers 429 to wrong passwords for one \
        username, retries with a fresh address in X-Forwarded-For, X-Real-IP or Forwarded. Fires \
        when that attempt is refused normally again while an attempt without the header right \
        after is still 429, twice.",
    cwe: &[348, 307],
    owasp: &[Owasp::Api2],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Never key a limiter on a client-supplied header. Take the client address from \
            the connection, or from the forwarding header only as far as your own proxies wrote \
            it (count trusted hops from the right, never take the leftmost entry), and key \
            sign-in limits on the account name as well, so that changing address does not give \
            a fresh allowance for the same account.",
        variants: &[
            (
                Tech::Flask,
                "wrap the app in `werkzeug.middleware.proxy_fix.ProxyFix(app.wsgi_app, x_for=1)` \
                with `x_for` equal to the number of proxies in front of it (0 when there are \
                none) and key limits on `request.remote_addr` (Flask-Limiter's \
                `get_remote_address`), never on `request.headers[\"X-Forwarded-For\"]`; add a \
                per-username limit with `key_func` reading the submitted username.",
            ),
            (
                Tech::FastApi,
                "run uvicorn with `--proxy-headers --forwarded-allow-ips=<your proxy's address>` \
                (never `*`) and key slowapi on `get_remote_address` (it reads `request.client.host`), \
                not on a header read in the route; add a per-username counter checked before \
                the password is verified.",
            ),
        ],
    },
};

#[async_trait]
impl Check for ThrottleBypass {
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
        vec![
            Planned {
                method: Method::Post,
                identity: ANONYMOUS,
                purpose: "wrong passwords until the limiter answers 429",
            },
            Planned {
                method: Method::Post,
                identity: ANONYMOUS,
                purpose: "the same attempt with a spoofed client address header, then without",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx.probe, op).await.unwrap_or_default()
    }
}

/// A random address from the documentation ranges (RFC 5737), new on every call.
fn random_address() -> String {
    let n = u64::from_str_radix(&nonce(), 16).unwrap_or(7);
    let prefix = if n & 1 == 0 {
        "203.0.113"
    } else {
        "198.51.100"
    };
    format!("{prefix}.{}", 1 + (n >> 1) % 254)
}

struct Attempt<'a> {
    probe: &'a dyn Probe,
    op: &'a Operation,
    username: String,
    password: String,
}

impl Attempt<'_> {
    async fn send(&self, headers: &[(String, String)]) -> Result<Exchange, ProbeError> {
        self.probe
            .sign_in_attempt(Some(self.op), &self.username, &self.password, headers)
            .await
    }

    /// One header attempt and its control: `Some` when the header got the normal refusal
    /// (`refusal` when known, else a 400/401/403) and the control a 429.
    async fn pair(
        &self,
        header: &str,
        value: String,
        refusal: Option<u16>,
    ) -> Result<Option<(Exchange, Exchange)>, ProbeError> {
        let with = self.send(&[(header.to_string(), value)]).await?;
        let normal = match (with.status(), refusal) {
            (Some(s), Some(r)) => s == r,
            (Some(s), None) => is_plain_failure(s),
            (None, _) => false,
        };
        if is_throttled(&with) || !normal {
            return Ok(None);
        }
        let without = self.send(&[]).await?;
        Ok((without.status() == Some(429)).then_some((with, without)))
    }
}

/// Wrong passwords until the limiter answers 429: that answer and the operation's normal
/// refusal status. An operation that is already throttled on the first attempt (another check
/// just sent a burst from this address) has no known refusal yet: the header attempts must then
/// get a plain 400/401/403.
async fn throttle(attempt: &Attempt<'_>) -> Result<Option<(Exchange, Option<u16>)>, ProbeError> {
    let first = attempt.send(&[]).await?;
    if first.status() == Some(429) {
        return Ok(Some((first, None)));
    }
    if !refuses_normally(attempt.probe, attempt.op, &first).await? {
        return Ok(None);
    }
    let refusal = first.status();
    for _ in 1..BURST {
        let ex = attempt.send(&[]).await?;
        if ex.status() == Some(429) {
            return Ok(Some((ex, refusal)));
        }
    }
    Ok(None)
}

async fn judge(probe: &dyn Probe, op: &Operation) -> Result<Outcome, ProbeError> {
    let attempt = Attempt {
        probe,
        op,
        username: nonexistent_username(Some(op)),
        password: wrong_password(),
    };
    let Some((throttled, refusal)) = throttle(&attempt).await? else {
        return Ok(Outcome::none());
    };
    let mut bypassed: Vec<(&str, Exchange, Exchange)> = Vec::new();
    for header in HEADERS {
        let Some((with, without)) = attempt
            .pair(header, header_value(header, &random_address()), refusal)
            .await?
        else {
            continue;
        };
        if attempt
            .pair(
                header,
                header_value(header, &random_address()),
                with.status(),
            )
            .await?
            .is_some()
        {
            bypassed.push((header, with, without));
        }
    }
    let Some((header, with, without)) = bypassed.first().cloned() else {
        return Ok(Outcome::none());
    };
    let names: Vec<&str> = bypassed.iter().map(|(h, _, _)| *h).collect();
    let refusal = with.status().unwrap_or(0);
    let description = format!(
        "`{}` throttles wrong passwords (HTTP 429 after a few attempts for one username), but an \
         attempt for the same username with a made-up client address in {} was refused \
         normally again (HTTP {refusal}) while the same attempt without the header right after \
         was still 429, twice with two different addresses. The limiter keys on an address the \
         client chooses: an attacker sends a new one with every guess and is never slowed down.",
        op.key(),
        if names.len() == 1 {
            format!("`{header}`")
        } else {
            format!("any of `{}`", names.join("`, `"))
        },
    );
    let evidence = Evidence::new(vec![throttled, with, without]).note(format!(
        "first: the limiter's 429; second: the same attempt with `{header}` set to a fresh \
         address (HTTP {refusal}); third: the same attempt without it (429). Headers that \
         bypassed: {}",
        names.join(", ")
    ));
    Ok(Outcome::finding(META.finding(
        Some(op),
        header,
        Severity::High,
        Confidence::Confirmed,
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
    use middlebrick_model::{Inventory, RequestSpec, ResponseRecord, SpecVersion};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const JSON: &str = "application/json";

    fn login() -> Operation {
        op_with(
            Method::Post,
            "/api/auth/session",
            "application/x-www-form-urlencoded",
            &["username", "password"],
        )
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = login();
        ThrottleBypass
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(&op),
            })
            .await
    }

    fn too_many() -> ResponseRecord {
        let mut r = response(429, JSON, r#"{"detail":"Too many attempts"}"#);
        r.headers.push(("Retry-After".into(), "60".into()));
        r
    }

    /// A sign-in limiter allowing 5 failures per key, the key computed from the request.
    fn limited(key: impl Fn(&RequestSpec) -> String + Send + Sync + 'static) -> FakeProbe {
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        FakeProbe::new().on_dynamic(move |r| {
            if r.path != "/api/auth/session" {
                return None;
            }
            let mut c = counts.lock().unwrap();
            let n = c.entry(key(r)).or_default();
            *n += 1;
            Some(if *n > 5 {
                too_many()
            } else {
                response(401, JSON, r#"{"detail":"Invalid credentials"}"#)
            })
        })
    }

    fn header(r: &RequestSpec, name: &str) -> Option<String> {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// First X-Forwarded-For entry, else X-Real-IP, else Forwarded's for=, else the peer.
    fn client_address(r: &RequestSpec) -> String {
        header(r, "x-forwarded-for")
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .or_else(|| header(r, "x-real-ip"))
            .or_else(|| header(r, "forwarded").map(|v| v.replace("for=", "")))
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    fn username(r: &RequestSpec) -> String {
        match &r.body {
            Some(middlebrick_model::RequestBody::Json(v)) => v["username"].to_string(),
            _ => String::new(),
        }
    }

    #[tokio::test]
    async fn fires_when_a_limiter_keys_on_the_forwarded_address() {
        let probe = limited(client_address);
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.parameter.as_deref(), Some("X-Forwarded-For"));
        assert!(f.description.contains("X-Real-IP") && f.description.contains("Forwarded"));
        assert_eq!(f.evidence.exchanges[2].status(), Some(429));
        assert!(probe.sent_count() <= 24, "{}", probe.sent_count());
    }

    #[tokio::test]
    async fn only_the_header_the_limiter_trusts_is_named() {
        let probe = limited(|r| header(r, "x-real-ip").unwrap_or_else(|| "peer".into()));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("X-Real-IP"));
        assert!(!out.findings[0].description.contains("X-Forwarded-For"));
    }

    #[tokio::test]
    async fn an_address_already_throttled_by_an_earlier_burst_is_still_judged() {
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        counts.lock().unwrap().insert("127.0.0.1".into(), 6);
        let probe = FakeProbe::new().on_dynamic(move |r| {
            let mut c = counts.lock().unwrap();
            let n = c.entry(client_address(r)).or_default();
            *n += 1;
            Some(if *n > 5 {
                too_many()
            } else {
                response(401, JSON, r#"{"detail":"Invalid credentials"}"#)
            })
        });
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].evidence.exchanges[1].status(), Some(401));
        // Already throttled, and the header only ever brings another 429 or a 5xx: silent.
        let probe = FakeProbe::new().on_dynamic(|r| {
            Some(if r.headers.is_empty() {
                too_many()
            } else {
                response(502, JSON, r#"{"detail":"bad gateway"}"#)
            })
        });
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn a_limiter_keyed_on_the_username_is_silent() {
        let probe = limited(username);
        assert!(run(&probe).await.findings.is_empty());
        // 6 to reach the 429, then one attempt per header.
        assert_eq!(probe.sent_count(), 9);
    }

    #[tokio::test]
    async fn no_throttling_at_all_is_left_to_login_throttling() {
        let probe = FakeProbe::new().on_dynamic(|r| {
            (r.path == "/api/auth/session")
                .then(|| response(401, JSON, r#"{"detail":"Invalid credentials"}"#))
        });
        assert!(run(&probe).await.findings.is_empty());
        assert_eq!(probe.sent_count(), BURST);
    }

    #[tokio::test]
    async fn a_bucket_that_refills_once_is_not_a_bypass() {
        // 429 from the 6th attempt on, except the 7th (a refill that happens to land on the
        // first header attempt): the confirming pair sees 429 again.
        let n = Arc::new(Mutex::new(0usize));
        let probe = FakeProbe::new().on_dynamic(move |r| {
            if r.path != "/api/auth/session" {
                return None;
            }
            let mut n = n.lock().unwrap();
            *n += 1;
            Some(if *n > 5 && *n != 7 {
                too_many()
            } else {
                response(401, JSON, r#"{"detail":"Invalid credentials"}"#)
            })
        });
        assert!(run(&probe).await.findings.is_empty());
    }

    #[test]
    fn addresses_are_fresh_documentation_addresses() {
        let a: Vec<String> = (0..5).map(|_| random_address()).collect();
        assert!(a
            .iter()
            .all(|x| x.starts_with("203.0.113.") || x.starts_with("198.51.100.")));
        let unique: std::collections::HashSet<_> = a.iter().collect();
        assert!(unique.len() >= 3);
    }
}

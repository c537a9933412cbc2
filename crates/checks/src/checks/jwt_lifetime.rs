//! `auth.jwt-lifetime`: tokens that live too long or never expire (CWE-613).
//!
//! Reads the claims of a signed-in identity's JWT (no request): no `exp`, or `exp − iat` (without `iat`, the sign-in answer's `Date` stands for it)
//! beyond 24 hours (`--jwt-max-lifetime` sets another limit), is reported on the sign-in
//! operation that issued it. When the signing key
//! is guessable (see `auth.jwt-weak-secret`), also forges the same token already expired and
//! reports when an operation that rejects anonymous callers still accepts it. Budget: no
//! request, or one per candidate operation once a key was found.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::checks::jwt_weak_secret::crack;
use crate::jwt::{encode, jwt_identity, now, try_forged};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Method, Operation, Owasp, Remediation, Severity, Tech,
};
use serde_json::json;

#[derive(Debug)]
pub struct JwtLifetime;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtLifetime,
    title: "JWT without expiry or with an excessive lifetime",
    description: "Reads a signed-in identity's JWT claims: fires when `exp` is missing or lies more \
        than 24 hours (configurable: `--jwt-max-lifetime`) after `iat`; with a guessable key, also when an expired token is accepted.",
    cwe: &[613],
    owasp: &[Owasp::Api2],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Issue access tokens with an `exp` of minutes to an hour, verify `exp` on every \
            request, and use refresh tokens (revocable, rotated) for long sessions.",
        variants: &[
            (Tech::Flask, "set `exp` to `now + 3600` (or `JWT_ACCESS_TOKEN_EXPIRES = timedelta(hours=1)` \
                with Flask-JWT-Extended) and decode with `options={\"require\": [\"exp\"]}`."),
            (Tech::FastApi, "use `ACCESS_TOKEN_EXPIRE_MINUTES = 30` as in FastAPI's security tutorial \
                and decode with `options={\"require\": [\"exp\", \"sub\"]}`; never `verify_exp: False`."),
        ],
    },
};

fn human(secs: i64) -> String {
    if secs >= 86_400 {
        format!("{} days", secs / 86_400)
    } else {
        format!("{} hours", secs / 3600)
    }
}

#[async_trait]
impl Check for JwtLifetime {
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
        let Some((identity, _, jwt)) = jwt_identity(ctx.probe) else {
            return Outcome::none();
        };
        let mut outcome = Outcome::none();
        let sign_in = ctx.probe.sign_in_exchange(&identity);
        let sign_in_op = ctx.probe.sign_in_operation().map(|(m, p)| {
            ctx.inventory
                .operations
                .iter()
                .find(|o| o.method == m && o.path == p)
                .cloned()
                .unwrap_or_else(|| Operation::new(Method::Post, p))
        });
        let limit = ctx.probe.settings().jwt_max_lifetime_secs;
        let (iat, exp) = (jwt.claim_i64("iat"), jwt.claim_i64("exp"));
        // Without `iat`, the token was issued when the sign-in answered: its Date header.
        let iat = iat.or_else(|| sign_in.as_ref().and_then(answered_at));
        let too_long = match (iat, exp) {
            (_, None) => Some("carries no `exp` claim: it never expires".to_string()),
            (Some(i), Some(e)) if e - i > limit => Some(format!(
                "is valid for {} (`exp` − `iat` = {} s; the limit is {} s)",
                human(e - i),
                e - i,
                limit
            )),
            _ => None,
        };
        if let (Some(why), Some(ex)) = (too_long, sign_in) {
            let description = format!(
                "The access token the API issues at sign-in {why}. A token that leaks (logs, a \
                 shared device, a proxy) stays usable for that long."
            );
            let evidence = Evidence::new(vec![ex]).note(format!(
                "the token's claims: iat = {}, exp = {}",
                iat.map_or("absent".into(), |v| v.to_string()),
                exp.map_or("absent".into(), |v| v.to_string())
            ));
            outcome.findings.push(META.finding(
                sign_in_op.as_ref(),
                "lifetime",
                if exp.is_none() {
                    Severity::High
                } else {
                    Severity::Medium
                },
                Confidence::Confirmed,
                description,
                evidence,
            ));
        }
        // An expired token can only be forged with the key.
        let url = ctx.probe.sign_in_exchange(&identity).map(|e| e.request.url);
        let host = url
            .as_deref()
            .and_then(|u| u.split("://").nth(1))
            .and_then(|r| r.split(['/', ':']).next());
        if let Some((key, _)) = crack(&jwt, ctx.inventory, host) {
            let mut claims = jwt.claims.clone();
            let t = now();
            claims.insert("iat".into(), json!(t - 7200));
            claims.insert("exp".into(), json!(t - 3600));
            let forged = encode(&jwt.header, &claims, Some(key.as_bytes()));
            if let Ok(Some(a)) = try_forged(ctx.probe, ctx.inventory, &identity, &forged).await {
                let description = format!(
                    "`{}` accepted a token that expired an hour ago (forged with the guessable \
                     signing key): `exp` is not verified, so a token never stops working.",
                    a.op.key()
                );
                let evidence = Evidence::new(vec![a.forged, a.genuine, a.anonymous]).note(
                    "first: the expired token; second: the genuine token; third: no credentials",
                );
                outcome.findings.push(META.finding(
                    Some(a.op),
                    "expired",
                    Severity::High,
                    Confidence::Confirmed,
                    description,
                    evidence,
                ));
            }
        }
        outcome
    }
}

/// When the server answered, from its `Date` header, in seconds since the epoch.
fn answered_at(ex: &middlebrick_model::Exchange) -> Option<i64> {
    let date = ex.response.as_ref()?.header("date")?;
    let at = httpdate::parse_http_date(date).ok()?;
    let secs = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::exchange_for;
    use crate::jwt::testing::{api_with, run_api_check, token_with};
    use crate::jwt::Jwt;
    use middlebrick_model::RequestSpec;

    fn with_sign_in(mut p: crate::fake::FakeProbe) -> crate::fake::FakeProbe {
        let ex = exchange_for(&RequestSpec::new(Method::Post, "/fake-login"), None);
        p.sign_ins.push(("alice".into(), ex));
        p
    }

    #[tokio::test]
    async fn thirty_day_token_is_reported_on_sign_in() {
        let t = token_with(
            json!({"sub":"1","iat":0,"exp":30 * 86_400}),
            b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
        );
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(t, |_| false))).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].location(), "POST /fake-login");
        assert!(out.findings[0].description.contains("30 days"));
    }

    #[tokio::test]
    async fn the_limit_is_the_scans_setting() {
        let t = || {
            token_with(
                json!({"sub":"1","iat":0,"exp":2 * 3600}),
                b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
            )
        };
        let mut strict = with_sign_in(api_with(t(), |_| false));
        strict.settings.jwt_max_lifetime_secs = 3600;
        let out = run_api_check(&JwtLifetime, &strict).await;
        assert_eq!(out.findings.len(), 1, "2 h is over a 1 h limit");
        assert!(out.findings[0].description.contains("the limit is 3600 s"));
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(t(), |_| false))).await;
        assert!(out.findings.is_empty(), "2 h is within the default 24 h");
    }

    #[tokio::test]
    async fn without_iat_the_lifetime_runs_from_the_sign_in_answers_date() {
        // Sun, 06 Dec 2026 00:00:00 GMT is 1_796_515_200.
        let issued = 1_796_515_200;
        let week = token_with(
            json!({"sub":"1","exp": issued + 7 * 86_400}),
            b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
        );
        let mut p = api_with(week, |_| false);
        let answer = middlebrick_model::ResponseRecord {
            status: 200,
            headers: vec![("date".into(), "Sun, 06 Dec 2026 00:00:00 GMT".into())],
            body: middlebrick_model::BodyRecord {
                text: "{}".into(),
                size: 2,
                truncated: false,
            },
            graphql_field: None,
        };
        let ex = exchange_for(&RequestSpec::new(Method::Post, "/fake-login"), Some(answer));
        p.sign_ins.push(("alice".into(), ex));
        let out = run_api_check(&JwtLifetime, &p).await;
        assert_eq!(out.findings.len(), 1);
        assert!(
            out.findings[0].description.contains("7 days"),
            "{}",
            out.findings[0].description
        );
        // Without a Date header nothing is known of the lifetime: no finding.
        let hour = token_with(
            json!({"sub":"1","exp": issued + 7 * 86_400}),
            b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
        );
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(hour, |_| false))).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn one_hour_token_is_silent() {
        let t = token_with(
            json!({"sub":"1","iat":0,"exp":3600}),
            b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
        );
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(t, |_| true))).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn expired_token_accepted_with_a_guessable_key() {
        let t = token_with(json!({"sub":"1","iat":0,"exp":3600}), b"dev");
        let accept = |j: &Jwt| j.signed_with(b"dev");
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(t, accept))).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("expired"));
        let t = token_with(json!({"sub":"1","iat":0,"exp":3600}), b"dev");
        let accept = |j: &Jwt| j.signed_with(b"dev") && j.claim_i64("exp").unwrap() > now();
        let out = run_api_check(&JwtLifetime, &with_sign_in(api_with(t, accept))).await;
        assert!(out.findings.is_empty());
    }
}

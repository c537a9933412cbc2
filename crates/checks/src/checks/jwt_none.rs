//! `auth.jwt-none`: a token whose header says `alg: none` and whose signature is empty is
//! accepted (CWE-347).
//!
//! Takes a signed-in identity's JWT, rewrites `alg` to each spelling of `none` (`none`,
//! `None`, `NONE`, `nOnE`) with the claims unchanged and an empty signature, and sends it as
//! the only credential to an operation that rejects anonymous callers (see `crate::jwt`).
//! Budget: at most 4 requests per candidate operation, once per scan.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::jwt::{jwt_identity, none_variant, try_forged};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Operation, Owasp, Remediation, Severity, Tech,
};

#[derive(Debug)]
pub struct JwtNone;

const SPELLINGS: &[&str] = &["none", "None", "NONE", "nOnE"];

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtNone,
    title: "Unsigned JWT accepted (alg none)",
    description: "Rewrites a signed-in identity's JWT to `alg: none` with an empty signature (every \
        spelling) and sends it alone to an operation that rejects anonymous callers; fires when the \
        unsigned token gets the genuine token's data.",
    cwe: &[347],
    owasp: &[Owasp::Api2],
    severity: Severity::Critical,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Verify every token with an explicit allowlist of algorithms that contains only \
            the one the API issues, and never accept `none`. Read the algorithm from your \
            configuration, not from the token's header.",
        variants: &[
            (Tech::Flask, "decode with `jwt.decode(token, key, algorithms=[\"HS256\"])` (PyJWT) and \
                never branch on `jwt.get_unverified_header(token)[\"alg\"]`; with Flask-JWT-Extended \
                keep `JWT_ALGORITHM` fixed."),
            (Tech::FastApi, "in the `get_current_user` dependency call `jwt.decode(token, SECRET_KEY, \
                algorithms=[ALGORITHM])` with one pinned algorithm; do not pass `options={\"verify_signature\": False}`."),
        ],
    },
};

#[async_trait]
impl Check for JwtNone {
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
        for spelling in SPELLINGS {
            let forged = none_variant(&jwt, spelling);
            match try_forged(ctx.probe, ctx.inventory, &identity, &forged).await {
                Ok(Some(a)) => {
                    let description = format!(
                        "`{}` accepted a token with `alg: {spelling}` and no signature: the \
                         identity's claims, unsigned, got the same answer as its genuine token, \
                         while anonymous callers get HTTP {}. Anyone can mint a token for any \
                         user by editing the claims.",
                        a.op.key(),
                        a.anonymous.status().unwrap_or(0)
                    );
                    let evidence = Evidence::new(vec![a.forged, a.genuine, a.anonymous]).note(
                        "first: the unsigned token; second: the genuine token; third: no credentials",
                    );
                    return Outcome::finding(META.finding(
                        Some(a.op),
                        "",
                        Severity::Critical,
                        Confidence::Confirmed,
                        description,
                        evidence,
                    ));
                }
                Ok(None) => continue,
                Err(_) => break,
            }
        }
        Outcome::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testing::{api, run_api_check, token};

    #[tokio::test]
    async fn unsigned_token_with_the_genuine_data_is_confirmed() {
        let out = run_api_check(&JwtNone, &api(|j| j.alg().eq_ignore_ascii_case("none"))).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].location(), "GET /api/users/me");
        assert!(!out.findings[0].description.contains(&token()));
    }

    #[tokio::test]
    async fn rejected_unsigned_token_is_silent() {
        let p = api(|_| false);
        assert!(run_api_check(&JwtNone, &p).await.findings.is_empty());
        // per spelling: two baselines (the engine shares them; the fake does not), the try
        // and a fresh genuine answer to compare it with
        assert_eq!(p.sent_count(), 4 * SPELLINGS.len());
    }
}

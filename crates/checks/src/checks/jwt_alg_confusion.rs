//! `auth.jwt-alg-confusion`: an API that signs its tokens with a private key (RS*, ES*, PS*)
//! also accepts an HS256 token whose HMAC secret is its *public* key (CWE-347, CWE-327).
//!
//! A verifier that takes "the key" and the algorithm the token names computes an HMAC with the
//! public key's PEM when the token says HS256; that key is published, so anyone can sign.
//! Method: the public keys the API serves (a JWKS or PEM among the answers the scan has seen,
//! else `GET /.well-known/jwks.json` under the API's base: one anonymous request), the key whose
//! `kid` the token names first; for each, the PEM spellings a verifier may hold
//! (`crate::jwk`), each signing the identity's claims with fresh `iat`/`exp` under
//! `alg: HS256`, sent alone to an operation that refuses anonymous callers
//! (`crate::jwt::try_forged`). Proof: the forged token gets the genuine token's answer, while the
//! same token signed with a random key is refused there. Budget: at most one discovery
//! request, then two requests per spelling and candidate operation (the forged token and a fresh
//! genuine answer), at most 4 spellings for each of 3 keys, and one control.
//!
//! Not covered: `jku`/`x5u` headers. Proving that a target fetches keys from a URL in the token
//! needs a key set served from a host the attacker controls, and the scan sends nothing outside
//! its scope; a key set under the target's own host would prove nothing.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::jwk::{from_jwks, pem_blocks, PublicKey};
use crate::jwt::{encode, jwt_identity, now, send_token, try_forged, Jwt};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Operation, Owasp, Remediation,
    RequestSpec, Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug)]
pub struct JwtAlgConfusion;

/// Where an API's key set usually lives (RFC 8615 well-known location used by OpenID providers).
const WELL_KNOWN_JWKS: &str = "/.well-known/jwks.json";
const MAX_KEYS: usize = 3;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtAlgConfusion,
    title: "JWT algorithm confusion: HS256 signed with the public key accepted",
    description: "For an API that signs tokens with a private key (RS/ES/PS), re-signs a signed-in \
        identity's claims with HS256 using the public key the API publishes (its JWKS or a PEM) as \
        the HMAC secret, and fires when that token gets the genuine token's answer while the same \
        token signed with a random key is refused.",
    cwe: &[347, 327],
    owasp: &[Owasp::Api2],
    severity: Severity::Critical,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Pin the algorithm when verifying: pass the one algorithm the API issues \
            (`RS256`) to the verifier and never let the token's `alg` header choose it; keep \
            asymmetric and symmetric keys in separate key objects so a public key can never be \
            used as an HMAC secret; upgrade JWT libraries that accept a key without an algorithm list.",
        variants: &[
            (Tech::Flask, "verify with `jwt.decode(token, public_key, algorithms=[\"RS256\"])` \
                (PyJWT 2 refuses PEM keys as HMAC secrets); remove any hand-written HMAC path."),
            (Tech::FastApi, "verify in one dependency with `jwt.decode(token, public_key, \
                algorithms=[\"RS256\"])`, the key loaded as a key object, not as text."),
        ],
    },
};

fn asymmetric(alg: &str) -> bool {
    matches!(alg.get(..2), Some("RS" | "ES" | "PS"))
}

fn keys_in(ex: &Exchange) -> Vec<PublicKey> {
    let Some(r) = ex.response.as_ref().filter(|r| r.is_success()) else {
        return Vec::new();
    };
    match r.json() {
        Some(doc) if doc.get("keys").is_some() => from_jwks(&doc),
        _ => pem_blocks(&r.body.text),
    }
}

/// The keys the API publishes and the exchange that served them.
async fn published_keys(ctx: &RunCtx<'_>) -> Option<(Vec<PublicKey>, Exchange)> {
    let seen = ctx.probe.observed().into_iter().find_map(|ex| {
        let keys = keys_in(&ex);
        (!keys.is_empty()).then_some((keys, ex))
    });
    if seen.is_some() {
        return seen;
    }
    let ex = ctx
        .probe
        .send(RequestSpec::new(Method::Get, WELL_KNOWN_JWKS).as_identity(ANONYMOUS))
        .await
        .ok()?;
    let keys = keys_in(&ex);
    (!keys.is_empty()).then_some((keys, ex))
}

/// The token's key first (its `kid`), then the others, at most [`MAX_KEYS`].
fn ordered(mut keys: Vec<PublicKey>, jwt: &Jwt) -> Vec<PublicKey> {
    let kid = jwt.header.get("kid").and_then(Value::as_str);
    keys.sort_by_key(|k| kid.is_none() || k.kid.as_deref() != kid);
    keys.truncate(MAX_KEYS);
    keys
}

fn hs256(jwt: &Jwt, claims: &Map<String, Value>, secret: &[u8]) -> String {
    let mut header = jwt.header.clone();
    header.insert("alg".into(), json!("HS256"));
    encode(&header, claims, Some(secret))
}

#[async_trait]
impl Check for JwtAlgConfusion {
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
        if !asymmetric(jwt.alg()) {
            return Outcome::none();
        }
        let Some((keys, served)) = published_keys(ctx).await else {
            return Outcome::none();
        };
        let mut claims = jwt.claims.clone();
        let t = now();
        claims.insert("iat".into(), json!(t));
        if claims.contains_key("exp") {
            claims.insert("exp".into(), json!(t + 600));
        }
        for key in ordered(keys, &jwt) {
            for secret in key.hmac_secrets() {
                let forged = hs256(&jwt, &claims, &secret);
                let Ok(Some(a)) = try_forged(ctx.probe, ctx.inventory, &identity, &forged).await
                else {
                    continue;
                };
                // The control: the same header and claims under a key nobody publishes.
                let random = Sha256::digest(format!("{token}{t}control").as_bytes());
                let control_token = hs256(&jwt, &claims, &random);
                let Ok(control) = send_token(ctx.probe, a.op, &identity, &control_token).await
                else {
                    return Outcome::none();
                };
                if control.response.as_ref().is_none_or(|r| r.is_success()) {
                    // Any HS256 signature passes: auth.jwt-signature's finding, not this one.
                    return Outcome::none();
                }
                return Outcome::finding(finding(&jwt, &key, a, control, served));
            }
        }
        Outcome::none()
    }
}

fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url)
}

fn finding(
    jwt: &Jwt,
    key: &PublicKey,
    a: crate::jwt::Accepted<'_>,
    control: Exchange,
    served: Exchange,
) -> middlebrick_model::Finding {
    let kid = key
        .kid
        .as_deref()
        .map(|k| format!(" (`kid` {k})"))
        .unwrap_or_default();
    let description = format!(
        "The API signs its tokens with {} and publishes the public key at `{}`{kid}. A token for \
         the same subject re-signed with HS256, the HMAC secret being that public key's PEM, got \
         the same answer from `{}` as the genuine token, while the same token signed with a \
         random key was refused (HTTP {}) and anonymous callers get HTTP {}. The verifier lets \
         the token choose the algorithm, so anyone who reads the published key can sign tokens \
         for any user or role.",
        jwt.alg(),
        path_of(&served.request.url),
        a.op.key(),
        control.status().unwrap_or(0),
        a.anonymous.status().unwrap_or(0)
    );
    let evidence = Evidence::new(vec![a.forged, a.genuine, control, a.anonymous, served]).note(
        "first: HS256 signed with the published public key; second: the genuine token; third: \
         the same HS256 token under a random key; fourth: no credentials; fifth: where the key \
         was published",
    );
    META.finding(
        Some(a.op),
        "",
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::jwt::testing::{api_with, run_api_check};
    use crate::similarity::response;
    use serde_json::json;

    const N: &str = "zxHxc4wZTgmfLgxPaVIdBLn0b7QK0ZOzwEIg3SmdsaTK7W9T-ojVBMXtcNEtz6Ne980HLOIKZOzhVSvmTroGX2kv19qoDoWws4_ePKRIUPEZjmgPXhYeFoXBD3x6086Zwoe30GQZz_b4MEgaFvAKMS7ckP9OEg3LZc0efqDNk-k";
    const SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDPEfFzjBlOCZ8uDE9pUh0EufRv\ntArRk7PAQiDdKZ2xpMrtb1P6iNUExe1w0S3Po173zQcs4gpk7OFVK+ZOugZfaS/X\n2qgOhbCzj948pEhQ8RmOaA9eFh4WhcEPfHrTzpnCh7fQZBnP9vgwSBoW8AoxLtyQ\n/04SDctlzR5+oM2T6QIDAQAB\n-----END PUBLIC KEY-----\n";

    /// An RS256-looking token (its signature is never checked by these fakes' RS path).
    fn rs_token() -> String {
        let h = json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
        let c = json!({"sub": "1", "iat": 100, "exp": 3700});
        let unsigned = encode(h.as_object().unwrap(), c.as_object().unwrap(), None);
        format!("{unsigned}c2lnbmF0dXJl")
    }

    fn with_jwks(p: FakeProbe) -> FakeProbe {
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": N, "e": "AQAB"}]});
        p.on(
            |r: &RequestSpec| r.path == WELL_KNOWN_JWKS,
            response(200, "application/json", &jwks.to_string()),
        )
    }

    #[tokio::test]
    async fn hs256_under_the_published_key_accepted_is_confirmed() {
        let p = with_jwks(api_with(rs_token(), |j| {
            j.alg() == "HS256" && j.signed_with(SPKI_PEM.as_bytes())
        }));
        let out = run_api_check(&JwtAlgConfusion, &p).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
        let f = &out.findings[0];
        assert_eq!(f.confidence, Confidence::Confirmed);
        assert!(f.description.contains(WELL_KNOWN_JWKS) && f.description.contains("k1"));
        assert_eq!(f.evidence.exchanges.len(), 5);
        assert_eq!(f.evidence.exchanges[2].status(), Some(401));
    }

    #[tokio::test]
    async fn a_pinned_algorithm_is_silent() {
        let p = with_jwks(api_with(rs_token(), |j| j.alg() == "RS256"));
        assert!(run_api_check(&JwtAlgConfusion, &p)
            .await
            .findings
            .is_empty());
    }

    #[tokio::test]
    async fn any_hs256_token_accepted_is_left_to_the_signature_check() {
        let p = with_jwks(api_with(rs_token(), |j| j.alg() == "HS256"));
        assert!(run_api_check(&JwtAlgConfusion, &p)
            .await
            .findings
            .is_empty());
    }

    #[tokio::test]
    async fn no_published_key_or_an_hmac_token_sends_nothing_more() {
        let p = api_with(rs_token(), |_| true);
        assert!(run_api_check(&JwtAlgConfusion, &p)
            .await
            .findings
            .is_empty());
        assert_eq!(
            p.sent_count(),
            1,
            "only the well-known key set is asked for"
        );
        let hs = with_jwks(crate::jwt::testing::api(|_| true));
        assert!(run_api_check(&JwtAlgConfusion, &hs)
            .await
            .findings
            .is_empty());
        assert_eq!(hs.sent_count(), 0);
    }
}

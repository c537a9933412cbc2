//! `auth.jwt-weak-secret`: the HMAC key that signs the API's tokens is guessable
//! (CWE-798, CWE-521).
//!
//! Cracks a signed-in identity's HS256/384/512 token offline (no requests, `crate::jwt_crack`):
//! the bundled list of known weak secrets (`jwt_secrets.txt`) in their usual spellings,
//! candidates derived from the target (its host, the spec's title with the usual `-secret`
//! suffixes), then every decimal key of up to six digits. When a key signs the
//! token, proves it: a token for the same subject with fresh `iat`/`exp`, signed with that key,
//! is sent alone to an operation that rejects anonymous callers. Budget: one request per
//! candidate operation, only after a key was found.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::jwt::{encode, jwt_identity, now, try_forged, Jwt};
use crate::jwt_crack::{self, Target};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Inventory, Operation, Owasp, Remediation, Severity,
    Tech,
};
use serde_json::json;

#[derive(Debug)]
pub struct JwtWeakSecret;

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthJwtWeakSecret,
    title: "JWT signed with a guessable secret",
    description: "Cracks a signed-in identity's HMAC-signed JWT offline against common and default \
        secrets, names derived from the target and every decimal key of up to six digits; when a \
        key matches, forges a token for the same subject and fires when the API accepts it.",
    cwe: &[798, 521],
    owasp: &[Owasp::Api2],
    severity: Severity::Critical,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Sign tokens with a random key of at least 256 bits from a secret store, never a \
            default, an example value or a word; rotate it now (every issued token must be \
            considered forgeable), or move to an asymmetric algorithm (RS256/EdDSA).",
        variants: &[
            (Tech::Flask, "generate the key once with `python -c \"import secrets; print(secrets.token_hex(32))\"`, \
                load it with `app.config[\"SECRET_KEY\"] = os.environ[\"SECRET_KEY\"]` and fail at start-up \
                when it is missing rather than falling back to `\"dev\"`."),
            (Tech::FastApi, "read the key with pydantic-settings (`secret_key: SecretStr` without a \
                default) so the app refuses to start without one; never copy the tutorial's key."),
        ],
    },
};

/// Candidates derived from the target: its host and the spec's title.
fn derived(inv: &Inventory, host: Option<&str>) -> Vec<String> {
    let mut bases: Vec<String> = Vec::new();
    if let Some(h) = host {
        bases.push(h.to_string());
        if let Some(first) = h.split('.').next() {
            bases.push(first.to_string());
        }
    }
    if let Some(title) = &inv.title {
        let words: Vec<String> = title
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        for sep in ["-", "_", "", " "] {
            bases.push(words.join(sep));
        }
        bases.extend(words);
    }
    let mut out = Vec::new();
    for b in bases.iter().filter(|b| !b.is_empty()) {
        for suffix in [
            "",
            "-secret",
            "_secret",
            "secret",
            "-secret-key",
            "_secret_key",
            "-key",
            "-jwt-secret",
        ] {
            out.push(format!("{b}{suffix}"));
        }
    }
    out
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    authority
        .rsplit_once(':')
        .map_or(Some(authority), |(h, _)| Some(h))
}

/// The key that signed `jwt` (offline, see `crate::jwt_crack`), and where it came from.
pub(crate) fn crack(
    jwt: &Jwt,
    inv: &Inventory,
    host: Option<&str>,
) -> Option<(String, &'static str)> {
    let target = Target::new(jwt)?;
    jwt_crack::crack(&target, &derived(inv, host)).map(|(k, s)| (k, s.describe()))
}

/// A key shown in a report: its length and alphabet, never any of its characters (a prefix
/// of a six-digit key is a third of it).
fn masked(key: &str) -> String {
    let kind = if key.bytes().all(|b| b.is_ascii_digit()) {
        "decimal digits"
    } else {
        "characters"
    };
    format!("of {} {kind}", key.chars().count())
}

#[async_trait]
impl Check for JwtWeakSecret {
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
        let url = ctx
            .probe
            .sign_in_exchange(&identity)
            .map(|e| e.request.url)
            .or_else(|| ctx.probe.observed().first().map(|e| e.request.url.clone()));
        let Some((key, source)) = crack(&jwt, ctx.inventory, url.as_deref().and_then(host_of))
        else {
            return Outcome::none();
        };
        let mut claims = jwt.claims.clone();
        let t = now();
        claims.insert("iat".into(), json!(t));
        if claims.contains_key("exp") {
            claims.insert("exp".into(), json!(t + 600));
        }
        let forged = encode(&jwt.header, &claims, Some(key.as_bytes()));
        let Ok(Some(a)) = try_forged(ctx.probe, ctx.inventory, &identity, &forged).await else {
            return Outcome::none();
        };
        let description = format!(
            "The API signs its tokens ({}) with the key {}, found offline in {source}. A token \
             for the same subject with fresh `iat`/`exp`, signed with that key, got the same answer \
             from `{}` as the genuine token, while anonymous callers get HTTP {}. Anyone who \
             guesses the key can sign tokens for any user or role.",
            jwt.alg(),
            masked(&key),
            a.op.key(),
            a.anonymous.status().unwrap_or(0)
        );
        let evidence = Evidence::new(vec![a.forged, a.genuine, a.anonymous]).note(
            "first: a token forged with the guessed key; second: the genuine token; third: no credentials",
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
    use crate::jwt::testing::{api, api_with, run_api_check, token_with};
    use middlebrick_model::SpecVersion;

    #[tokio::test]
    async fn default_key_is_cracked_and_a_forged_token_accepted() {
        let out = run_api_check(&JwtWeakSecret, &api(|j| j.signed_with(b"dev"))).await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0]
            .description
            .contains("the key of 3 characters"));
        assert!(!out.findings[0].description.contains("`de"));
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
    }

    #[tokio::test]
    async fn title_derived_key_is_cracked() {
        let t = token_with(json!({"sub":"1","exp":3700}), b"shop-api-secret");
        let out = run_api_check(
            &JwtWeakSecret,
            &api_with(t, |j| j.signed_with(b"shop-api-secret")),
        )
        .await;
        assert_eq!(out.findings.len(), 1);
    }

    #[tokio::test]
    async fn six_digit_numeric_key_is_cracked_and_not_shown() {
        let t = token_with(json!({"sub":"1","exp":3700}), b"604713");
        let out = run_api_check(&JwtWeakSecret, &api_with(t, |j| j.signed_with(b"604713"))).await;
        assert_eq!(out.findings.len(), 1);
        let d = &out.findings[0].description;
        assert!(
            d.contains("of 6 decimal digits") && d.contains("six digits"),
            "{d}"
        );
        assert!(!d.contains("60"), "{d}");
    }

    #[tokio::test]
    async fn random_key_is_silent_and_sends_nothing() {
        let t = token_with(
            json!({"sub":"1","exp":3700}),
            b"k8Qz1w9V3nT7yR2pL5sX0cF4hJ6mB8dA",
        );
        let p = api_with(t, |_| true);
        assert!(run_api_check(&JwtWeakSecret, &p).await.findings.is_empty());
        assert_eq!(p.sent_count(), 0);
    }

    #[test]
    fn hosts_and_titles_give_candidates() {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.title = Some("Acme Orders".into());
        let c = derived(&inv, host_of("https://api.acme.test:8443/v1"));
        assert!(c.contains(&"acme-orders-secret".to_string()));
        assert!(c.contains(&"api.acme.test".to_string()));
    }
}

//! JSON Web Tokens seen from outside: decoding, HMAC signing with a guessed key, the forged
//! variants the JWT checks send, and the differential test that says a forged token was
//! accepted (issue 3).
//!
//! A forged token counts as accepted only on an operation that rejects anonymous callers
//! (401/403) and answers the genuine token with data: the forged answer must succeed and carry
//! the same data as the genuine one (or, for token-issuing operations such as refresh, the same
//! keys). The genuine token is a secret: it appears only inside redacted exchanges.

use crate::ownership::self_read;
use crate::probe::{Probe, ProbeError};
use crate::similarity::{has_substance, same_data};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use middlebrick_model::{
    CredentialUse, Exchange, Inventory, Method, Operation, ResponseRecord, ANONYMOUS,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A decoded JWT: header and claims as JSON, the signing input and the raw signature.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn json_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl Jwt {
    pub fn parse(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Jwt {
            header: json_part(h)?,
            claims: json_part(c)?,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?,
        })
    }

    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// True when `key` produces this token's signature (HS256/384/512 only).
    pub fn signed_with(&self, key: &[u8]) -> bool {
        hmac(self.alg(), key, self.signing_input.as_bytes()).is_some_and(|m| m == self.signature)
    }
}

/// HMAC (RFC 2104) over SHA-256/384/512, by JWT algorithm name.
pub fn hmac(alg: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match alg {
        "HS256" => Some(hmac_with::<Sha256>(64, key, data)),
        "HS384" => Some(hmac_with::<Sha384>(128, key, data)),
        "HS512" => Some(hmac_with::<Sha512>(128, key, data)),
        _ => None,
    }
}

fn hmac_with<D: Digest>(block: usize, key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block {
        D::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let inner_key: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut inner = D::new();
    inner.update(&inner_key);
    inner.update(data);
    let mut outer = D::new();
    outer.update(&outer_key);
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

/// A token with this header and claims, signed with `key` (HMAC) or unsigned (`key` `None`).
pub fn encode(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: Option<&[u8]>,
) -> String {
    let h = b64(&serde_json::to_vec(header).unwrap_or_default());
    let c = b64(&serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let sig = key
        .and_then(|k| hmac(alg, k, input.as_bytes()))
        .map(|m| b64(&m))
        .unwrap_or_default();
    format!("{input}.{sig}")
}

/// The token with its `alg` set to `spelling` and an empty signature.
pub fn none_variant(jwt: &Jwt, spelling: &str) -> String {
    let mut header = jwt.header.clone();
    header.insert("alg".into(), Value::String(spelling.into()));
    encode(&header, &jwt.claims, None)
}

/// The token with one bit of its signature flipped (first byte), everything else kept.
pub fn altered_signature(token: &str) -> Option<String> {
    let (input, sig) = token.rsplit_once('.')?;
    let mut bytes = URL_SAFE_NO_PAD.decode(sig.trim_end_matches('=')).ok()?;
    *bytes.first_mut()? ^= 0x01;
    Some(format!("{input}.{}", b64(&bytes)))
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The first signed-in identity whose token is a JWT, with that token.
pub fn jwt_identity(probe: &dyn Probe) -> Option<(String, String, Jwt)> {
    probe.identities().into_iter().find_map(|i| {
        let token = probe.token_of(&i.name)?;
        let jwt = Jwt::parse(&token)?;
        Some((i.name, token, jwt))
    })
}

/// Operations a token is tried on, best first: the caller's own profile, then token refresh.
pub fn candidate_operations(inv: &Inventory) -> Vec<&Operation> {
    let mut out: Vec<&Operation> = self_read(inv).into_iter().collect();
    out.extend(inv.operations.iter().filter(|o| {
        o.method == Method::Post
            && !o.path.contains('{')
            && o.path.to_ascii_lowercase().ends_with("refresh")
    }));
    out
}

/// What a forged token was accepted by: the operation and the three exchanges (genuine token,
/// anonymous, forged).
#[derive(Debug)]
pub struct Accepted<'a> {
    pub op: &'a Operation,
    pub genuine: Exchange,
    pub anonymous: Exchange,
    pub forged: Exchange,
}

fn same_shape(a: &ResponseRecord, b: &ResponseRecord) -> bool {
    match (a.json(), b.json()) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => x.len() >= 2 && x.keys().eq(y.keys()),
        _ => false,
    }
}

/// Sends `token` as the only credential to `op`, in the header `identity` sends its own in.
pub async fn send_token(
    probe: &dyn Probe,
    op: &Operation,
    identity: &str,
    token: &str,
) -> Result<Exchange, ProbeError> {
    let mut req = probe.request(op, ANONYMOUS, &Default::default());
    req.credentials = CredentialUse::None;
    let (name, value) = probe.token_header_for(identity, token);
    req.headers.retain(|(k, _)| {
        !k.eq_ignore_ascii_case("authorization") && !k.eq_ignore_ascii_case(&name)
    });
    req.headers.push((name, value));
    probe.send(req).await
}

/// Sends `forged` as the bearer token (no other credential) to each candidate operation that
/// rejects anonymous callers and serves `identity` data; returns the first that accepts it.
pub async fn try_forged<'a>(
    probe: &dyn Probe,
    inv: &'a Inventory,
    identity: &str,
    forged: &str,
) -> Result<Option<Accepted<'a>>, ProbeError> {
    for op in candidate_operations(inv) {
        let genuine = probe.baseline(op, identity).await?;
        let Some(g) = genuine.response.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        if !has_substance(g) {
            continue;
        }
        let anonymous = probe.baseline(op, ANONYMOUS).await?;
        if !matches!(anonymous.status(), Some(401 | 403)) {
            continue;
        }
        let sent = send_token(probe, op, identity, forged).await?;
        // The baseline may be old: other checks change the profile during a scan, so the
        // forged answer is compared with the genuine token's answer of now.
        let genuine = probe
            .send(probe.request(op, identity, &Default::default()))
            .await?;
        let Some(g) = genuine.response.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        let ok = sent
            .response
            .as_ref()
            .filter(|r| r.is_success())
            .is_some_and(|f| same_data(g, f) || (op.method == Method::Post && same_shape(g, f)));
        if ok {
            return Ok(Some(Accepted {
                op,
                genuine,
                anonymous,
                forged: sent,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        let mac = hmac("HS256", b"Jefe", b"what do ya want for nothing?").unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn encode_parse_and_verify_round_trip() {
        let t = encode(
            &obj(json!({"alg":"HS256","typ":"JWT"})),
            &obj(json!({"sub":"1","exp":10})),
            Some(b"k3y"),
        );
        let jwt = Jwt::parse(&t).unwrap();
        assert!(jwt.signed_with(b"k3y"));
        assert!(!jwt.signed_with(b"other"));
        assert_eq!(jwt.claim_i64("exp"), Some(10));
        let none = Jwt::parse(&none_variant(&jwt, "none")).unwrap();
        assert_eq!(none.alg(), "none");
        assert!(none.signature.is_empty());
        let altered = altered_signature(&t).unwrap();
        assert_ne!(altered, t);
        assert!(!Jwt::parse(&altered).unwrap().signed_with(b"k3y"));
    }
}

/// A fake API for JWT check tests: alice's genuine token (signed with `dev`) reads her
/// profile; a bearer token the `accept` rule likes gets the same answer, anything else 401.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::check::{Check, Outcome, RunCtx};
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{RequestSpec, SpecVersion};

    pub fn token_with(claims: Value, key: &[u8]) -> String {
        let h = serde_json::json!({"alg":"HS256","typ":"JWT"});
        encode(
            h.as_object().unwrap(),
            claims.as_object().unwrap(),
            Some(key),
        )
    }

    pub fn token() -> String {
        token_with(
            serde_json::json!({"sub":"1","username":"alice","iat":100,"exp":3700}),
            b"dev",
        )
    }

    fn bearer(r: &RequestSpec) -> Option<Jwt> {
        let v = r
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")?
            .1
            .clone();
        Jwt::parse(v.strip_prefix("Bearer ")?)
    }

    pub fn api_with(
        token: String,
        accept: impl Fn(&Jwt) -> bool + Send + Sync + 'static,
    ) -> FakeProbe {
        let mut p = FakeProbe::new()
            .identity("alice", &["alice"])
            .on(
                |r: &RequestSpec| r.identity == "alice",
                response(200, "application/json", r#"{"id":1,"username":"alice"}"#),
            )
            .on_dynamic(move |r| {
                Some(if bearer(r).is_some_and(|j| accept(&j)) {
                    response(200, "application/json", r#"{"id":1,"username":"alice"}"#)
                } else {
                    response(401, "application/json", r#"{"error":"unauthorized"}"#)
                })
            });
        p.tokens.push(("alice".into(), token));
        p
    }

    pub fn api(accept: impl Fn(&Jwt) -> bool + Send + Sync + 'static) -> FakeProbe {
        api_with(token(), accept)
    }

    pub async fn run_api_check(check: &dyn Check, p: &FakeProbe) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.title = Some("Shop API".into());
        inv.operations = vec![
            Operation::new(Method::Post, "/fake-login"),
            Operation::new(Method::Get, "/api/users/me"),
        ];
        check
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
    }
}

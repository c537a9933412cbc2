//! Identities: static credentials, or a username and password signed in through the API's own
//! sign-in operation (see [`crate::signin`] for finding it, sending it and judging the answer),
//! and the session that sign-in opens: the token, sent the way the spec's security scheme
//! says, and the cookies. A failed sign-in names the step that failed, and the scan goes on
//! without that identity.

use crate::config::{IdentityConfig, LoginConfig};
use crate::signin::{self, Delivery, SignInEnv};
use base64::Engine as _;
use middlebrick_checks::authflow;
use middlebrick_model::{Diagnostic, Exchange};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name-value pairs: headers or query parameters.
type Pairs = Vec<(String, String)>;

/// Re-signing in more often than this after a 401 would hammer a broken sign-in.
const RELOGIN_MIN_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
struct Session {
    /// How the token travels (a header, a query parameter, a cookie), as the spec says.
    delivery: Option<Delivery>,
    cookies: Vec<(String, String)>,
    /// The `SameSite` attribute of each cookie set at sign-in (`None`: not given).
    same_site: Vec<(String, Option<String>)>,
    signed_in_at: Option<Instant>,
    /// The token's `exp` claim (seconds since the epoch) when the token is a JWT that has one.
    expires_at: Option<i64>,
    /// The token as issued (without its scheme), for checks that forge variants of it.
    token: Option<String>,
    /// The sign-in exchange (its Set-Cookie headers carry the cookie attributes).
    exchange: Option<Exchange>,
}

#[derive(Debug)]
pub struct Identity {
    pub name: String,
    pub admin: bool,
    config: IdentityConfig,
    session: Mutex<Session>,
    markers: Mutex<Vec<String>>,
}

impl Identity {
    pub fn new(config: IdentityConfig) -> Self {
        let mut markers = Vec::new();
        if let Some(l) = &config.login {
            markers.push(l.username.clone());
        }
        Identity {
            name: config.name.clone(),
            admin: config.admin,
            session: Mutex::new(Session::default()),
            markers: Mutex::new(markers),
            config,
        }
    }

    pub fn markers(&self) -> Vec<String> {
        self.markers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Names of the cookies that carry this identity's session (configured or from sign-in).
    pub fn session_cookie_names(&self) -> Vec<String> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        self.config
            .cookies
            .iter()
            .chain(session.cookies.iter())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The `SameSite` attribute of each session cookie set at sign-in, by name (`None` when the
    /// Set-Cookie carried none). Configured cookies are not listed: their attributes are unknown.
    pub fn session_cookie_same_site(&self) -> Vec<(String, Option<String>)> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        session.same_site.clone()
    }

    /// The header that carries this identity's token, when it has one.
    pub fn token_header_name(&self) -> Option<String> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let header = match &session.delivery {
            Some(Delivery::Header { name, .. }) => Some(name.clone()),
            _ => None,
        };
        header.or_else(|| self.config.headers.first().map(|(k, _)| k.clone()))
    }

    /// The header that would carry `token` the way this identity sends its own, when it sends
    /// a signed-in token in a header.
    pub fn token_header_for(&self, token: &str) -> Option<(String, String)> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        session.delivery.as_ref()?.header_value(token)
    }

    /// The token this identity sends, without its scheme.
    pub fn token(&self) -> Option<String> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        session.token.clone().or_else(|| {
            self.config.headers.first().map(|(_, v)| {
                v.split_once(' ')
                    .map_or(v.as_str(), |(_, t)| t)
                    .trim()
                    .to_string()
            })
        })
    }

    /// The exchange that signed this identity in.
    pub fn sign_in_exchange(&self) -> Option<Exchange> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        session.exchange.clone()
    }

    /// The username this identity signs in with.
    pub fn username(&self) -> Option<String> {
        self.config.login.as_ref().map(|l| l.username.clone())
    }

    /// How this identity signs in, when it does so by password (a secret: never report it).
    pub fn login(&self) -> Option<&LoginConfig> {
        self.config.login.as_ref()
    }

    /// The configuration this identity was made from, under another name: a second session of
    /// the same account.
    pub fn config_named(&self, name: &str) -> IdentityConfig {
        IdentityConfig {
            name: name.to_string(),
            ..self.config.clone()
        }
    }

    pub fn can_sign_in(&self) -> bool {
        self.config.login.is_some()
    }

    /// Headers that carry this identity's credentials (static headers, the token, and one
    /// Cookie header with static and session cookies) for an operation that takes `(token, session cookie)` (see
    /// [`signin::credential_use`]): the sign-in's token or cookies are left off where the
    /// operation's scheme does not take them; configured headers and cookies always go.
    pub fn credentials_taking(&self, takes: (bool, bool)) -> Vec<(String, String)> {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // Only an identity holding both narrows: one credential is sent wherever it is.
        let both = session.token.is_some() && !session.cookies.is_empty();
        let (token_ok, cookie_ok) = if both { takes } else { (true, true) };
        let mut out = self.config.headers.clone();
        let mut cookies: Vec<(String, String)> = self.config.cookies.clone();
        if let (Some(delivery), Some(token)) = (&session.delivery, &session.token) {
            match delivery {
                Delivery::Header { .. } if token_ok => out.extend(delivery.header_value(token)),
                // A token the spec takes as a cookie goes where cookies go.
                Delivery::Cookie(name) if cookie_ok => cookies.push((name.clone(), token.clone())),
                _ => {}
            }
        }
        if cookie_ok {
            cookies.extend(session.cookies.iter().cloned());
        }
        if !cookies.is_empty() {
            let joined: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(("Cookie".into(), joined.join("; ")));
        }
        out
    }

    /// Query parameters that carry the token, when the spec takes it as an API key in the
    /// query (`?api_key=…`).
    pub fn query_credentials(&self) -> Vec<(String, String)> {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        match (&session.delivery, &session.token) {
            (Some(Delivery::Query(name)), Some(token)) => vec![(name.clone(), token.clone())],
            _ => Vec::new(),
        }
    }

    /// The credential headers and query parameters `req` carries as this identity. An
    /// ordinary request carries the credential its operation's declared scheme takes (token
    /// or cookie, [`signin::credential_use`]); a check that asks for the cookies or the
    /// headers alone gets them whatever the spec says: whether they work alone is what it
    /// is testing.
    pub fn attach(
        &self,
        req: &middlebrick_model::RequestSpec,
        inv: &middlebrick_model::Inventory,
    ) -> (Pairs, Pairs) {
        use middlebrick_model::CredentialUse;
        let op = req
            .operation
            .as_deref()
            .and_then(|k| inv.operations.iter().find(|o| o.key() == k));
        let takes = match req.credentials {
            CredentialUse::All => signin::credential_use(inv, op),
            _ => (true, true),
        };
        let query = match req.credentials {
            CredentialUse::All | CredentialUse::HeadersOnly => self.query_credentials(),
            _ => Vec::new(),
        };
        (
            narrow(self.credentials_taking(takes), req.credentials),
            query,
        )
    }

    /// True when the token is a JWT that expires within `margin`: the engine signs in again
    /// before sending rather than collect a 401 (and a wrong answer) first.
    pub fn expires_within(&self, margin: Duration) -> bool {
        let Some(exp) = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expires_at
        else {
            return false;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        exp - now <= margin.as_secs() as i64
    }

    /// True when a re-sign-in after a 401 is due (it signs in by password and did not just do so).
    pub fn relogin_due(&self) -> bool {
        self.can_sign_in()
            && self
                .session
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .signed_in_at
                .is_none_or(|t| t.elapsed() >= RELOGIN_MIN_INTERVAL)
    }

    /// Signs in; on failure returns a diagnostic that names the failed step.
    pub async fn sign_in(&self, env: &SignInEnv<'_>) -> Result<Exchange, Diagnostic> {
        let Some(login) = &self.config.login else {
            return Err(self.fail(
                "identity has no username and password to sign in with",
                "identity.no-login",
            ));
        };
        let ex = signin::sign_in(env, login, &self.name).await.map_err(|e| {
            let d = self.fail(&e.message, e.code);
            match e.hint {
                Some(h) => d.hint(h),
                None => d,
            }
        })?;
        let Some(resp) = ex.response.as_ref() else {
            return Err(self.fail("no answer", "identity.sign-in-failed"));
        };
        let mut session = Session {
            signed_in_at: Some(Instant::now()),
            exchange: Some(ex.clone()),
            ..Session::default()
        };
        if let Some(found) = authflow::find_token(resp, login.token_field.as_deref()) {
            env.redactor.add(&found.value);
            let header = (found.source != "body").then_some(found.source.as_str());
            let (mut delivery, confirm) =
                signin::token_delivery(env.inventory, found.scheme.as_deref(), header);
            if let (true, Delivery::Header { name, prefix }) = (confirm, &mut delivery) {
                *prefix = signin::confirm_prefix(
                    env,
                    &name.clone(),
                    &found.value,
                    &self.name,
                    prefix.clone(),
                )
                .await;
            }
            session.expires_at =
                jwt_claims(&found.value).and_then(|c| c.get("exp").and_then(Value::as_i64));
            self.learn_markers_from_jwt(&found.value);
            session.token = Some(found.value);
            session.delivery = Some(delivery);
        }
        let cookies = authflow::session_cookies(resp);
        for (_, v) in &cookies {
            env.redactor.add(v);
        }
        session.same_site = resp
            .headers_named("set-cookie")
            .filter_map(|v| Some((parse_set_cookie(v)?.0, same_site_of(v))))
            .collect();
        session.cookies = cookies;
        if let Some(j) = resp.json() {
            self.learn_markers_from_json(&j);
        }
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = session;
        Ok(ex)
    }

    fn fail(&self, message: &str, code: &str) -> Diagnostic {
        Diagnostic::error(
            code,
            format!("identity `{}` could not sign in: {message}", self.name),
        )
    }

    fn learn_markers_from_jwt(&self, token: &str) {
        if let Some(claims) = jwt_claims(token) {
            self.add_markers(
                &claims,
                &[
                    "sub",
                    "username",
                    "email",
                    "user_id",
                    "uid",
                    "preferred_username",
                ],
            );
        }
    }

    fn learn_markers_from_json(&self, json: &Value) {
        let Value::Object(map) = json else { return };
        self.add_markers(map, &["username", "email", "user_id"]);
        for key in ["user", "account", "profile"] {
            if let Some(Value::Object(inner)) = map.get(key) {
                self.add_markers(inner, &["id", "username", "email", "user_id"]);
            }
        }
    }

    fn add_markers(&self, map: &Map<String, Value>, keys: &[&str]) {
        let mut markers = self.markers.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            let value = match map.get(*key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            // Short values (a user id of 1) are kept: owner-key matches use them, and
            // whole-value matches elsewhere skip values under three characters.
            if !value.is_empty() && !markers.contains(&value) {
                markers.push(value);
            }
        }
    }
}

/// The claims of a JWT, unverified (the scanner reads its own token).
fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

pub(crate) fn parse_set_cookie(value: &str) -> Option<(String, String)> {
    let first = value.split(';').next()?;
    let (k, v) = first.split_once('=')?;
    let (k, v) = (k.trim(), v.trim());
    // A cookie being deleted (empty value) carries no session.
    (!k.is_empty() && !v.is_empty()).then(|| (k.to_string(), v.to_string()))
}

/// The `SameSite` attribute of a Set-Cookie value, as written (`Lax`, `Strict`, `None`).
fn same_site_of(value: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|attr| {
        let (k, v) = attr.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("samesite")
            .then(|| v.trim().to_string())
    })
}

/// Keeps the credential headers that `using` asks for.
pub fn narrow(
    all: Vec<(String, String)>,
    using: middlebrick_model::CredentialUse,
) -> Vec<(String, String)> {
    use middlebrick_model::CredentialUse;
    let is_cookie = |k: &str| k.eq_ignore_ascii_case("cookie");
    match using {
        CredentialUse::All => all,
        CredentialUse::CookiesOnly => all.into_iter().filter(|(k, _)| is_cookie(k)).collect(),
        CredentialUse::HeadersOnly => all.into_iter().filter(|(k, _)| !is_cookie(k)).collect(),
        CredentialUse::None => Vec::new(),
    }
}

/// All identities of a scan, anonymous excluded.
#[derive(Debug, Default)]
pub struct Identities {
    pub list: Vec<Arc<Identity>>,
}

impl Identities {
    pub fn get(&self, name: &str) -> Option<&Arc<Identity>> {
        self.list.iter().find(|i| i.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> LoginConfig {
        LoginConfig {
            username: "alice".into(),
            password: "pw-123456".into(),
            ..LoginConfig::default()
        }
    }

    #[test]
    fn cookies_are_parsed_with_their_same_site() {
        assert_eq!(
            parse_set_cookie("session=abc123; HttpOnly; Path=/"),
            Some(("session".into(), "abc123".into()))
        );
        assert_eq!(parse_set_cookie("session=; Max-Age=0"), None);
        assert_eq!(
            same_site_of("session=abc; HttpOnly; SameSite=Lax; Path=/"),
            Some("Lax".into())
        );
        assert_eq!(same_site_of("session=abc; HttpOnly; Path=/"), None);
    }

    #[test]
    fn each_operation_gets_the_credential_its_scheme_takes() {
        use middlebrick_model::{
            CredentialUse, Inventory, Method, Operation, ParamLocation, RequestSpec,
            SecurityRequirement, SecurityScheme, SecuritySchemeKind, SpecVersion,
        };
        let id = Identity::new(IdentityConfig {
            name: "alice".into(),
            headers: vec![],
            cookies: vec![],
            login: Some(login()),
            admin: false,
        });
        {
            let mut s = id.session.lock().unwrap();
            s.token = Some("tok-0123456789".into());
            s.delivery = Some(Delivery::Header {
                name: "Authorization".into(),
                prefix: Some("Token".into()),
            });
            s.cookies = vec![("session".into(), "c00kie-value".into())];
        }
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        for (name, kind) in [
            (
                "bearer",
                SecuritySchemeKind::Http {
                    scheme: "bearer".into(),
                },
            ),
            (
                "cookie",
                SecuritySchemeKind::ApiKey {
                    name: "session".into(),
                    location: ParamLocation::Cookie,
                },
            ),
        ] {
            inv.security_schemes.insert(
                name.into(),
                SecurityScheme {
                    name: name.into(),
                    kind,
                },
            );
            let mut op = Operation::new(Method::Get, format!("/{name}"));
            op.security = Some(vec![SecurityRequirement {
                schemes: vec![(name.into(), vec![])],
            }]);
            inv.operations.push(op);
        }
        inv.operations.push(Operation::new(Method::Get, "/open"));
        let names = |path: &str, using: CredentialUse| -> Vec<String> {
            let mut req = RequestSpec::new(Method::Get, path);
            req.operation = Some(format!("GET {path}"));
            req.credentials = using;
            id.attach(&req, &inv)
                .0
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect()
        };
        assert_eq!(
            names("/bearer", CredentialUse::All),
            vec!["Authorization: Token tok-0123456789"]
        );
        assert_eq!(
            names("/cookie", CredentialUse::All),
            vec!["Cookie: session=c00kie-value"]
        );
        assert_eq!(
            names("/open", CredentialUse::All).len(),
            2,
            "undeclared: both"
        );
        assert_eq!(
            names("/bearer", CredentialUse::CookiesOnly),
            vec!["Cookie: session=c00kie-value"],
            "a check asking for the cookie alone gets it"
        );
    }

    #[test]
    fn jwt_claims_become_markers() {
        let id = Identity::new(IdentityConfig {
            name: "alice".into(),
            headers: vec![],
            cookies: vec![],
            login: Some(login()),
            admin: false,
        });
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"user-42","email":"a@example.test"}"#);
        id.learn_markers_from_jwt(&format!("h.{claims}.s"));
        assert_eq!(id.markers(), vec!["alice", "user-42", "a@example.test"]);
    }

    #[test]
    fn a_token_about_to_expire_is_due_for_refresh() {
        let id = Identity::new(IdentityConfig {
            name: "alice".into(),
            headers: vec![],
            cookies: vec![],
            login: Some(login()),
            admin: false,
        });
        assert!(!id.expires_within(Duration::from_secs(30)), "no token yet");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let token = |exp: i64| {
            let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!(r#"{{"sub":"1","exp":{exp}}}"#));
            format!("h.{claims}.s")
        };
        let set = |t: &str| {
            let mut s = id.session.lock().unwrap();
            s.expires_at = jwt_claims(t).and_then(|c| c.get("exp").and_then(Value::as_i64));
        };
        set(&token(now + 10));
        assert!(id.expires_within(Duration::from_secs(30)));
        set(&token(now + 3600));
        assert!(!id.expires_within(Duration::from_secs(30)));
        set("not-a-jwt");
        assert!(!id.expires_within(Duration::from_secs(30)));
    }
}

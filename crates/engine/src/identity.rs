//! Identities: static credentials, or a username and password signed in through the API's own
//! sign-in operation, with the token taken from the JSON answer or the session from Set-Cookie.
//!
//! The sign-in operation is the one named in the configuration, else the OAuth 2 password
//! flow's token URL from the spec, else a POST whose path reads like sign-in (`login`,
//! `signin`, `token`, `session`, `auth`) and whose body has a password property. A failed
//! sign-in names the step that failed, and the scan goes on without that identity.

use crate::config::{IdentityConfig, LoginConfig};
use base64::Engine as _;
use middlebrick_http::{Outgoing, Transport};
use middlebrick_model::{
    Diagnostic, Exchange, Inventory, Method, Operation, Redactor, RequestBody, RequestSpec,
    SchemaType, SecuritySchemeKind, ANONYMOUS,
};
use middlebrick_synth::value_for_schema;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Re-signing in more often than this after a 401 would hammer a broken sign-in.
const RELOGIN_MIN_INTERVAL: Duration = Duration::from_secs(5);

const TOKEN_KEYS: &[&str] = &[
    "access_token",
    "accesstoken",
    "token",
    "jwt",
    "id_token",
    "idtoken",
    "auth_token",
    "authtoken",
    "session_token",
    "sessiontoken",
    "bearer",
];
const USERNAME_KEYS: &[&str] = &[
    "username",
    "user_name",
    "login",
    "user",
    "email",
    "name",
    "userid",
    "user_id",
];
const PASSWORD_KEYS: &[&str] = &["password", "passwd", "pass", "pwd", "secret"];

#[derive(Debug, Default, Clone)]
struct Session {
    /// `(header name, value)` for a token (`Authorization: Bearer …` or an API-key header).
    token_header: Option<(String, String)>,
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
        session
            .token_header
            .as_ref()
            .map(|(k, _)| k.clone())
            .or_else(|| self.config.headers.first().map(|(k, _)| k.clone()))
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

    /// Headers that carry this identity's credentials: static headers, the token, and one
    /// Cookie header with static and session cookies.
    pub fn credentials(&self) -> Vec<(String, String)> {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = self.config.headers.clone();
        if let Some(t) = session.token_header {
            out.push(t);
        }
        let cookies: Vec<String> = self
            .config
            .cookies
            .iter()
            .chain(session.cookies.iter())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            out.push(("Cookie".into(), cookies.join("; ")));
        }
        out
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
    pub async fn sign_in(
        &self,
        transport: &Transport,
        base: &Url,
        inventory: &Inventory,
        redactor: &Redactor,
    ) -> Result<Exchange, Diagnostic> {
        let Some(login) = &self.config.login else {
            return Err(self.fail(
                "identity has no username and password to sign in with",
                "identity.no-login",
            ));
        };
        let (ex, path) = send_sign_in(transport, base, inventory, login, &self.name, &[], true)
            .await
            .map_err(|e| {
                let d = self.fail(&e.message, e.code);
                match e.hint {
                    Some(h) => d.hint(h),
                    None => d,
                }
            })?;
        let plan_path = path;
        let Some(resp) = ex.response.as_ref() else {
            return Err(self.fail(
                &format!(
                    "step 2/3 (send the sign-in request to {plan_path}): {}",
                    ex.error.clone().unwrap_or_default()
                ),
                "identity.sign-in-failed",
            ));
        };
        if resp.status >= 400 {
            return Err(self.fail(
                &format!("step 3/3 (read the answer): POST {} answered HTTP {}; are the username and password right?", plan_path, resp.status),
                "identity.sign-in-failed",
            ));
        }
        let json = resp.json();
        let token = json
            .as_ref()
            .and_then(|j| find_token(j, login.token_field.as_deref()));
        let cookies: Vec<(String, String)> = resp
            .headers_named("set-cookie")
            .filter_map(parse_set_cookie)
            .collect();
        if token.is_none() && cookies.is_empty() {
            return Err(self.fail(
                &format!("step 3/3 (read the answer): POST {} answered HTTP {} with neither a token in the JSON body nor a Set-Cookie", plan_path, resp.status),
                "identity.sign-in-failed",
            )
            .hint("set `token_field` in the identity's config if the token is under another name"));
        }
        let mut session = Session {
            signed_in_at: Some(Instant::now()),
            ..Session::default()
        };
        session.exchange = Some(ex.clone());
        if let Some((token, scheme)) = token {
            redactor.add(&token);
            session.token = Some(token.clone());
            session.expires_at =
                jwt_claims(&token).and_then(|c| c.get("exp").and_then(Value::as_i64));
            let (header, value) = token_header(inventory, &token, scheme.as_deref());
            session.token_header = Some((header, value));
            self.learn_markers_from_jwt(&token);
        }
        for (_, v) in &cookies {
            redactor.add(v);
        }
        session.same_site = resp
            .headers_named("set-cookie")
            .filter_map(|v| Some((parse_set_cookie(v)?.0, same_site_of(v))))
            .collect();
        session.cookies = cookies;
        if let Some(j) = &json {
            self.learn_markers_from_json(j);
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

/// Why a sign-in request could not be sent, naming the step.
#[derive(Debug)]
pub struct SignInError {
    pub message: String,
    pub code: &'static str,
    pub hint: Option<&'static str>,
}

/// The sign-in operation's method and path, as found for `login` (or any credentials).
pub fn sign_in_operation(inv: &Inventory, login: Option<&LoginConfig>) -> Option<(Method, String)> {
    let fallback = LoginConfig {
        username: String::new(),
        password: String::new(),
        operation: None,
        token_field: None,
        username_field: None,
        password_field: None,
    };
    find_sign_in(inv, login.unwrap_or(&fallback)).map(|p| (Method::Post, p.path))
}

/// Sends one sign-in request with `login`'s credentials and extra headers, without following
/// redirects; returns the exchange and the sign-in path. Keeps no session. `retry_throttled`
/// off keeps a 429 as the answer (throttling checks observe it) instead of waiting it out.
pub async fn send_sign_in(
    transport: &Transport,
    base: &Url,
    inventory: &Inventory,
    login: &LoginConfig,
    identity: &str,
    headers: &[(String, String)],
    retry_throttled: bool,
) -> Result<(Exchange, String), SignInError> {
    let plan = find_sign_in(inventory, login).ok_or(SignInError {
        message: "step 1/3 (find the sign-in operation): the spec has no OAuth 2 token URL and no POST operation that looks like sign-in".into(),
        code: "identity.sign-in-not-found",
        hint: Some("name it in the config: `login = \"POST /path/to/login\"`"),
    })?;
    let mut spec = RequestSpec::new(Method::Post, plan.path.clone());
    spec.body = Some(plan.body(login));
    spec.headers = headers.to_vec();
    spec.operation = Some(format!("POST {}", plan.path));
    let failed = |e: String| SignInError {
        message: format!("step 2/3 (send the sign-in request to {}): {e}", plan.path),
        code: "identity.sign-in-failed",
        hint: None,
    };
    let mut out =
        Outgoing::from_spec(base, &spec, Vec::new()).map_err(|e| failed(e.to_string()))?;
    out.identity = identity.to_string();
    out.follow_redirects = false;
    out.retry_throttled = retry_throttled;
    let ex = transport
        .send(out)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((ex, plan.path))
}

/// Where and how to sign in.
#[derive(Debug)]
struct SignInPlan {
    path: String,
    form: bool,
    oauth2: bool,
    username_field: String,
    password_field: String,
    other_fields: Map<String, Value>,
}

impl SignInPlan {
    fn body(&self, login: &LoginConfig) -> RequestBody {
        let mut fields = self.other_fields.clone();
        fields.insert(
            self.username_field.clone(),
            Value::String(login.username.clone()),
        );
        fields.insert(
            self.password_field.clone(),
            Value::String(login.password.clone()),
        );
        if self.oauth2 {
            fields.insert("grant_type".into(), Value::String("password".into()));
        }
        if self.form {
            RequestBody::Form(
                fields
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect(),
            )
        } else {
            RequestBody::Json(Value::Object(fields))
        }
    }
}

fn find_sign_in(inv: &Inventory, login: &LoginConfig) -> Option<SignInPlan> {
    let named = |ops: &[Operation]| -> Option<Operation> {
        let (method, path) = login.operation.as_ref()?;
        ops.iter()
            .find(|o| o.method == *method && o.path == *path)
            .cloned()
            .or_else(|| Some(Operation::new(*method, path.clone())))
    };
    if let Some(op) = named(&inv.operations) {
        return Some(plan_for(&op, login, false, &inv.base_path));
    }
    for scheme in inv.security_schemes.values() {
        if let SecuritySchemeKind::OAuth2 {
            token_url: Some(url),
            ..
        } = &scheme.kind
        {
            let path = Url::parse(url)
                .map(|u| u.path().to_string())
                .unwrap_or_else(|_| url.clone());
            let path = strip_base(&path, &inv.base_path);
            let op = inv
                .operations
                .iter()
                .find(|o| o.method == Method::Post && o.path == path)
                .cloned()
                .unwrap_or_else(|| Operation::new(Method::Post, path.clone()));
            let mut plan = plan_for(&op, login, true, &inv.base_path);
            plan.form = true;
            return Some(plan);
        }
    }
    inv.operations
        .iter()
        .filter(|o| o.method == Method::Post && looks_like_sign_in(&o.path))
        .filter(|o| body_fields(o).iter().any(|(k, _)| is_key(k, PASSWORD_KEYS)))
        .min_by_key(|o| o.path.len())
        .map(|o| plan_for(o, login, false, &inv.base_path))
}

fn strip_base(path: &str, base: &str) -> String {
    if !base.is_empty() {
        if let Some(rest) = path.strip_prefix(base) {
            return rest.to_string();
        }
    }
    path.to_string()
}

fn looks_like_sign_in(path: &str) -> bool {
    let last = path
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    let last = last.replace(['-', '_'], "");
    !path.contains('{')
        && matches!(
            last.as_str(),
            "login"
                | "signin"
                | "logon"
                | "token"
                | "tokens"
                | "session"
                | "sessions"
                | "auth"
                | "authenticate"
                | "jwt"
        )
}

/// True when `key`, lower-cased with `-` read as `_`, is one of `list`.
pub(crate) fn is_key(key: &str, list: &[&str]) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    list.iter().any(|c| *c == k)
}

fn body_fields(op: &Operation) -> Vec<(String, Arc<middlebrick_model::Schema>)> {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| {
            s.properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn plan_for(op: &Operation, login: &LoginConfig, oauth2: bool, _base: &str) -> SignInPlan {
    let form = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.keys().next())
        .is_some_and(|m| m.contains("form"));
    let fields = body_fields(op);
    let username_field = login.username_field.clone().unwrap_or_else(|| {
        USERNAME_KEYS
            .iter()
            .find_map(|c| {
                fields
                    .iter()
                    .find(|(k, _)| is_key(k, &[c]))
                    .map(|(k, _)| k.clone())
            })
            .unwrap_or_else(|| "username".into())
    });
    let password_field = login.password_field.clone().unwrap_or_else(|| {
        fields
            .iter()
            .find(|(k, _)| is_key(k, PASSWORD_KEYS))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "password".into())
    });
    let required: Vec<String> = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| s.required.clone())
        .unwrap_or_default();
    let mut other_fields = Map::new();
    for (k, schema) in &fields {
        if *k == username_field
            || *k == password_field
            || !required.contains(k)
            || k == "grant_type"
        {
            continue;
        }
        if schema.effective_type() == Some(SchemaType::Object) && schema.properties.is_empty() {
            continue;
        }
        other_fields.insert(k.clone(), value_for_schema(schema));
    }
    SignInPlan {
        path: op.path.clone(),
        form: form || oauth2,
        oauth2,
        username_field,
        password_field,
        other_fields,
    }
}

/// The token in a sign-in answer and its `token_type` when given: the configured field, else
/// the first token-like key, breadth-first to depth 3.
pub(crate) fn find_token(json: &Value, field: Option<&str>) -> Option<(String, Option<String>)> {
    let scheme = json
        .get("token_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(path) = field {
        let mut cur = json;
        for part in path.split('.') {
            cur = cur.get(part)?;
        }
        return cur.as_str().map(|s| (s.to_string(), scheme));
    }
    let mut level = vec![json];
    for _ in 0..3 {
        let mut next = Vec::new();
        for v in level {
            if let Value::Object(map) = v {
                for (k, v) in map {
                    if let Value::String(s) = v {
                        if is_key(k, TOKEN_KEYS) && s.len() >= 8 {
                            return Some((s.clone(), scheme));
                        }
                    }
                    if v.is_object() {
                        next.push(v);
                    }
                }
            }
        }
        level = next;
    }
    None
}

/// `Authorization: Bearer …` unless the spec's only token scheme is an API key in a header.
fn token_header(inv: &Inventory, token: &str, scheme: Option<&str>) -> (String, String) {
    let bearer_like = inv.security_schemes.values().any(|s| {
        matches!(
            &s.kind,
            SecuritySchemeKind::Http { .. }
                | SecuritySchemeKind::OAuth2 { .. }
                | SecuritySchemeKind::OpenIdConnect { .. }
        )
    });
    if !bearer_like {
        if let Some(name) = inv.security_schemes.values().find_map(|s| match &s.kind {
            SecuritySchemeKind::ApiKey {
                name,
                location: middlebrick_model::ParamLocation::Header,
            } => Some(name.clone()),
            _ => None,
        }) {
            // Swagger 2.0 has no bearer scheme, so specs declare `Authorization` as an API-key
            // header; its value still carries the scheme.
            if !name.eq_ignore_ascii_case("authorization") {
                return (name, token.to_string());
            }
        }
    }
    let scheme = match scheme {
        Some(s) if !s.eq_ignore_ascii_case("bearer") => s.to_string(),
        _ => "Bearer".to_string(),
    };
    ("Authorization".into(), format!("{scheme} {token}"))
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

    /// The credential headers for a request as `name`, narrowed to what `using` asks for.
    pub fn credentials_for(
        &self,
        name: &str,
        using: middlebrick_model::CredentialUse,
    ) -> Option<Vec<(String, String)>> {
        if name == ANONYMOUS {
            return Some(Vec::new());
        }
        Some(narrow(self.get(name)?.credentials(), using))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{RequestBodySpec, Schema, SpecVersion};

    fn login() -> LoginConfig {
        LoginConfig {
            username: "alice".into(),
            password: "pw-123456".into(),
            operation: None,
            token_field: None,
            username_field: None,
            password_field: None,
        }
    }

    fn post(path: &str, media: &str, props: &[&str]) -> Operation {
        let mut op = Operation::new(Method::Post, path);
        let mut s = Schema::of_type(SchemaType::Object);
        for p in props {
            s.properties
                .insert(p.to_string(), Arc::new(Schema::of_type(SchemaType::String)));
            s.required.push(p.to_string());
        }
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [(media.to_string(), Arc::new(s))].into_iter().collect(),
        });
        op
    }

    #[test]
    fn sign_in_is_found_by_path_and_password_property() {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations.push(post(
            "/api/auth/register",
            "application/json",
            &["username", "password", "email"],
        ));
        inv.operations.push(post(
            "/api/auth/login",
            "application/json",
            &["email", "password"],
        ));
        let plan = find_sign_in(&inv, &login()).expect("found");
        assert_eq!(plan.path, "/api/auth/login");
        assert_eq!(plan.username_field, "email");
        match plan.body(&login()) {
            RequestBody::Json(v) => {
                assert_eq!(v["email"], "alice");
                assert_eq!(v["password"], "pw-123456");
            }
            other => panic!("json expected, got {other:?}"),
        }
    }

    #[test]
    fn oauth2_password_flow_uses_a_form_with_grant_type() {
        let mut inv = Inventory::empty(SpecVersion::OpenApi31);
        inv.security_schemes.insert(
            "OAuth2PasswordBearer".into(),
            middlebrick_model::SecurityScheme {
                name: "OAuth2PasswordBearer".into(),
                kind: SecuritySchemeKind::OAuth2 {
                    token_url: Some("/api/auth/token".into()),
                    scopes: vec![],
                },
            },
        );
        let plan = find_sign_in(&inv, &login()).expect("found");
        assert_eq!(plan.path, "/api/auth/token");
        match plan.body(&login()) {
            RequestBody::Form(f) => assert!(f.contains(&("grant_type".into(), "password".into()))),
            other => panic!("form expected, got {other:?}"),
        }
    }

    #[test]
    fn tokens_are_found_nested_and_cookies_parsed() {
        let j = serde_json::json!({"data": {"user": {"id": 1}, "accessToken": "eyJhbGciOi.x.y"}});
        assert_eq!(find_token(&j, None).unwrap().0, "eyJhbGciOi.x.y");
        let j = serde_json::json!({"result": {"jwt": "abc.def.ghi"}});
        assert_eq!(find_token(&j, Some("result.jwt")).unwrap().0, "abc.def.ghi");
        assert!(find_token(&serde_json::json!({"ok": true}), None).is_none());
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
    fn swagger2_authorization_api_key_still_gets_the_bearer_scheme() {
        let mut inv = Inventory::empty(SpecVersion::Swagger2);
        inv.security_schemes.insert(
            "bearerAuth".into(),
            middlebrick_model::SecurityScheme {
                name: "bearerAuth".into(),
                kind: SecuritySchemeKind::ApiKey {
                    name: "Authorization".into(),
                    location: middlebrick_model::ParamLocation::Header,
                },
            },
        );
        assert_eq!(
            token_header(&inv, "t0k3n", None),
            ("Authorization".into(), "Bearer t0k3n".into())
        );
        inv.security_schemes.insert(
            "key".into(),
            middlebrick_model::SecurityScheme {
                name: "key".into(),
                kind: SecuritySchemeKind::ApiKey {
                    name: "X-Api-Key".into(),
                    location: middlebrick_model::ParamLocation::Header,
                },
            },
        );
        inv.security_schemes.shift_remove("bearerAuth");
        assert_eq!(
            token_header(&inv, "t0k3n", None),
            ("X-Api-Key".into(), "t0k3n".into())
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

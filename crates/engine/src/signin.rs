//! Signing in through the API's own sign-in operation: which operation, the request that
//! carries the credentials the way it takes them, and reading the answer.
//!
//! The operation is the one the configuration names (`login = "POST /path"`), else the one
//! the checks' classifier finds (`middlebrick_checks::authflow`: a JSON, form or multipart
//! body, a wrapped body, the query string, HTTP Basic on a token route, the OAuth 2 password
//! flow's token URL), with a declared OAuth 2 token URL first even when the spec lists no
//! operation for it, then POST before GET, then the shortest path. One classifier serves the engine and the checks, so the
//! operation the identities sign in through is the one the authentication checks probe.
//!
//! Whether the sign-in worked is `authflow::judge_sign_in`'s answer, not the status: the
//! answer to the right password is compared with the answer to a wrong one (sent once per
//! sign-in operation per scan and kept in [`SignInMemo`]), so a `200 {"status": "fail"}` is a
//! failure. A failure says what was sent (method, URL, content type, where the credentials
//! went) and what came back (status, first bytes, both redacted).

mod delivery;

pub use delivery::{confirm_prefix, credential_use, token_delivery, Delivery};

use crate::config::LoginConfig;
use base64::Engine as _;
use middlebrick_checks::authflow::{self, CredentialPlace, SignInShape, SignInVerdict};
use middlebrick_http::{Outgoing, Transport};
use middlebrick_model::{
    Diagnostic, Exchange, Inventory, Method, Operation, Redactor, RequestBody, RequestSpec,
    SchemaType,
};
use middlebrick_synth::value_for_schema;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use url::Url;

/// How many bytes of a failed sign-in's answer a diagnostic quotes.
const EXCERPT: usize = 200;

/// What one scan learns once about its sign-in operations and shares across identities: the
/// answer each operation gives a wrong password, the token form confirmed for a header, and
/// notes for the report.
#[derive(Debug, Default)]
pub struct SignInMemo {
    wrong: Mutex<HashMap<String, Exchange>>,
    prefixes: Mutex<HashMap<String, Option<String>>>,
    /// Identities that already tried the token forms (each tries once per scan).
    tried: Mutex<std::collections::HashSet<String>>,
    notes: Mutex<Vec<Diagnostic>>,
}

impl SignInMemo {
    /// The notes gathered so far (which token form won), emptied.
    pub fn take_notes(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn note(&self, d: Diagnostic) {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).push(d);
    }

    pub(crate) fn prefix(&self, header: &str) -> Option<Option<String>> {
        let map = self.prefixes.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&header.to_ascii_lowercase()).cloned()
    }

    /// True the first time `identity` asks: it may try the token forms.
    pub(crate) fn first_try(&self, identity: &str) -> bool {
        let mut tried = self.tried.lock().unwrap_or_else(|e| e.into_inner());
        tried.insert(identity.to_string())
    }

    pub(crate) fn set_prefix(&self, header: &str, prefix: Option<String>) {
        let mut map = self.prefixes.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(header.to_ascii_lowercase(), prefix);
    }
}

/// What sending a sign-in needs: the transport, where the API lives, the spec, the redactor
/// and the scan's [`SignInMemo`].
#[derive(Clone, Copy)]
pub struct SignInEnv<'a> {
    pub transport: &'a Transport,
    pub base: &'a Url,
    pub inventory: &'a Inventory,
    pub redactor: &'a Redactor,
    pub memo: &'a SignInMemo,
}

/// Why signing in failed, naming the step.
#[derive(Debug)]
pub struct SignInError {
    pub message: String,
    pub code: &'static str,
    pub hint: Option<&'static str>,
}

/// Where and how to sign in.
#[derive(Debug, Clone)]
pub struct SignInPlan {
    pub method: Method,
    pub path: String,
    pub shape: SignInShape,
    /// Required body fields besides the credentials, with synthesised values.
    other_fields: Map<String, Value>,
}

/// The sign-in operation's method and path, as found for `login` (or any credentials).
pub fn sign_in_operation(inv: &Inventory, login: Option<&LoginConfig>) -> Option<(Method, String)> {
    plan(inv, login.unwrap_or(&LoginConfig::default())).map(|p| (p.method, p.path))
}

/// The plan for signing in with `login`: the configured operation, else a declared OAuth 2
/// token URL (listed among the operations or not), else the classifier's operation (POST
/// before GET, then the shortest path).
pub fn plan(inv: &Inventory, login: &LoginConfig) -> Option<SignInPlan> {
    if let Some((method, path)) = &login.operation {
        let op = inv
            .operations
            .iter()
            .find(|o| o.method == *method && o.path == *path)
            .cloned()
            .unwrap_or_else(|| Operation::new(*method, path.clone()));
        return Some(plan_for(inv, &op, login));
    }
    let tokens = authflow::oauth2_token_paths(inv);
    let found = authflow::sign_in_operations(inv)
        .into_iter()
        .min_by_key(|o| {
            (
                !tokens.contains(&o.path),
                o.method != Method::Post,
                o.path.len(),
            )
        })
        .cloned();
    // A declared token URL is the spec's own word: it wins even when no operation lists it.
    let op = match (found, tokens.first()) {
        (Some(op), _) if tokens.contains(&op.path) => op,
        (_, Some(path)) => Operation::new(Method::Post, path.clone()),
        (found, None) => found?,
    };
    Some(plan_for(inv, &op, login))
}

fn plan_for(inv: &Inventory, op: &Operation, login: &LoginConfig) -> SignInPlan {
    let mut shape = authflow::sign_in_shape(inv, op);
    // A client id or secret belongs to the OAuth 2 password grant alone: an operation the spec
    // does not describe (a crawl, a configured path) is that grant's token endpoint.
    let undescribed = op.request_body.is_none() && op.parameters.is_empty();
    if undescribed && (login.client_id.is_some() || login.client_secret.is_some()) {
        shape.place = CredentialPlace::Form;
        shape.oauth2 = true;
    }
    if let Some(u) = &login.username_field {
        shape.username = u.clone();
    }
    if let Some(p) = &login.password_field {
        shape.password = p.clone();
    }
    let mut other_fields = Map::new();
    let schema = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| match &shape.wrapper {
            Some(w) => s.properties.get(w).cloned().unwrap_or_else(|| s.clone()),
            None => s.clone(),
        });
    for (k, prop) in schema.iter().flat_map(|s| s.properties.iter()) {
        let required = schema.as_ref().is_some_and(|s| s.required.contains(k));
        let empty_object =
            prop.effective_type() == Some(SchemaType::Object) && prop.properties.is_empty();
        if *k == shape.username || *k == shape.password || !required || k == "grant_type" {
            continue;
        }
        if !empty_object {
            other_fields.insert(k.clone(), value_for_schema(prop));
        }
    }
    SignInPlan {
        method: op.method,
        path: op.path.clone(),
        shape,
        other_fields,
    }
}

impl SignInPlan {
    /// `METHOD /path`, the key of the operation.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Where the credentials go, in words, for diagnostics.
    pub fn describe(&self) -> String {
        let under = self
            .shape
            .wrapper
            .as_ref()
            .map(|w| format!(" under `{w}`"))
            .unwrap_or_default();
        let fields = format!("`{}` and `{}`", self.shape.username, self.shape.password);
        match self.shape.place {
            CredentialPlace::Json => format!("credentials as {fields} in the JSON body{under}"),
            CredentialPlace::Form if self.shape.oauth2 => {
                format!("credentials as {fields} in an OAuth 2 password-grant form")
            }
            CredentialPlace::Form => format!("credentials as {fields} in a form body"),
            CredentialPlace::Multipart => format!("credentials as {fields} in a multipart body"),
            CredentialPlace::Query => format!("credentials as {fields} in the query string"),
            CredentialPlace::Basic => "credentials as HTTP Basic".to_string(),
        }
    }

    /// The request that signs in with `login`'s credentials.
    /// The account name to send: the e-mail where the sign-in's field asks for one and the
    /// account's e-mail is known, else the username.
    fn account_name<'a>(&self, login: &'a LoginConfig) -> &'a str {
        let field = self.shape.username.to_ascii_lowercase();
        match &login.email {
            Some(email) if field.contains("mail") => email,
            _ => &login.username,
        }
    }

    pub fn request(&self, login: &LoginConfig) -> RequestSpec {
        let mut spec = RequestSpec::new(self.method, self.path.clone());
        spec.operation = Some(self.key());
        match self.shape.place {
            CredentialPlace::Query => {
                spec.query = vec![
                    (
                        self.shape.username.clone(),
                        self.account_name(login).to_string(),
                    ),
                    (self.shape.password.clone(), login.password.clone()),
                ];
            }
            CredentialPlace::Basic => {
                let pair = format!("{}:{}", self.account_name(login), login.password);
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
                spec.headers
                    .push(("Authorization".into(), format!("Basic {encoded}")));
            }
            place => spec.body = Some(self.body(login, place)),
        }
        spec
    }

    fn body(&self, login: &LoginConfig, place: CredentialPlace) -> RequestBody {
        let mut fields = self.other_fields.clone();
        fields.insert(
            self.shape.username.clone(),
            self.account_name(login).to_string().into(),
        );
        fields.insert(self.shape.password.clone(), login.password.clone().into());
        if self.shape.oauth2 {
            fields.insert("grant_type".into(), "password".into());
            if let Some(id) = &login.client_id {
                fields.insert("client_id".into(), id.clone().into());
            }
            if let Some(secret) = &login.client_secret {
                fields.insert("client_secret".into(), secret.clone().into());
            }
        }
        let text = |v: Value| match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        match place {
            CredentialPlace::Form => {
                RequestBody::Form(fields.into_iter().map(|(k, v)| (k, text(v))).collect())
            }
            CredentialPlace::Multipart => {
                multipart(fields.into_iter().map(|(k, v)| (k, text(v))).collect())
            }
            _ => match &self.shape.wrapper {
                Some(w) => RequestBody::Json(serde_json::json!({ w.clone(): fields })),
                None => RequestBody::Json(Value::Object(fields)),
            },
        }
    }
}

/// A `multipart/form-data` body of text fields.
fn multipart(fields: Vec<(String, String)>) -> RequestBody {
    const BOUNDARY: &str = "middlebrick-sign-in-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    RequestBody::Raw {
        content_type: format!("multipart/form-data; boundary={BOUNDARY}"),
        body,
    }
}

/// Sends one sign-in request with `login`'s credentials and extra headers, without following
/// redirects; returns the exchange and the plan it followed. Keeps no session.
/// `retry_throttled` off keeps a 429 as the answer (throttling checks observe it).
pub async fn send_sign_in(
    env: &SignInEnv<'_>,
    login: &LoginConfig,
    identity: &str,
    headers: &[(String, String)],
    retry_throttled: bool,
) -> Result<(Exchange, SignInPlan), SignInError> {
    let plan = plan(env.inventory, login).ok_or(SignInError {
        message: "step 1/3 (find the sign-in operation): the spec has no OAuth 2 token URL and no operation that takes a username and a password on a sign-in path".into(),
        code: "identity.sign-in-not-found",
        hint: Some("name it in the config: `login = \"POST /path/to/login\"`"),
    })?;
    if plan.shape.place == CredentialPlace::Basic {
        env.redactor.add_basic(&login.username, &login.password);
    }
    let mut spec = plan.request(login);
    spec.headers.extend(headers.iter().cloned());
    let failed = |e: String| SignInError {
        message: format!(
            "step 2/3 (send the sign-in request): {} {} ({}): {}",
            plan.method,
            plan.path,
            plan.describe(),
            env.redactor.redact(&e)
        ),
        code: "identity.sign-in-failed",
        hint: None,
    };
    let mut out =
        Outgoing::from_spec(env.base, &spec, Vec::new()).map_err(|e| failed(e.to_string()))?;
    out.identity = identity.to_string();
    out.follow_redirects = false;
    out.retry_throttled = retry_throttled;
    let ex = env
        .transport
        .send(out)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((ex, plan))
}

/// Signs in with `login` and judges the answer against the operation's answer to a wrong
/// password (asked once per operation per scan). `Ok` carries the exchange of a sign-in that
/// worked.
pub async fn sign_in(
    env: &SignInEnv<'_>,
    login: &LoginConfig,
    identity: &str,
) -> Result<Exchange, SignInError> {
    let (ex, plan) = send_sign_in(env, login, identity, &[], true).await?;
    let plausible = ex.status().is_some_and(|s| (200..400).contains(&s));
    let wrong = if plausible {
        wrong_answer(env, &plan, login, identity).await
    } else {
        None
    };
    let verdict = authflow::judge_sign_in(&ex, wrong.as_ref(), login.token_field.as_deref());
    match verdict {
        SignInVerdict::SignedIn => Ok(ex),
        other => Err(explain_failure(env.redactor, &plan, &ex, &other)),
    }
}

/// The operation's answer to a wrong password for `login`'s username, sent once per scan.
async fn wrong_answer(
    env: &SignInEnv<'_>,
    plan: &SignInPlan,
    login: &LoginConfig,
    identity: &str,
) -> Option<Exchange> {
    let key = plan.key();
    if let Some(ex) = env
        .memo
        .wrong
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return Some(ex.clone());
    }
    let wrong = LoginConfig {
        password: authflow::wrong_password(),
        ..login.clone()
    };
    let (ex, _) = send_sign_in(env, &wrong, identity, &[], true).await.ok()?;
    let mut memo = env.memo.wrong.lock().unwrap_or_else(|e| e.into_inner());
    memo.insert(key, ex.clone());
    Some(ex)
}

/// The diagnostic text of a failed sign-in: what was sent and what came back, redacted, and
/// which step failed. A 404 or 405 never blames the password.
pub fn explain_failure(
    redactor: &Redactor,
    plan: &SignInPlan,
    ex: &Exchange,
    verdict: &SignInVerdict,
) -> SignInError {
    let content_type = ex
        .request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "no body".into());
    let sent = format!(
        "sent {} {} ({content_type}; {})",
        plan.method,
        redactor.redact(&ex.request.url),
        plan.describe()
    );
    let answered = |why: &str| {
        let r = ex.response.as_ref();
        let status = r.map_or(0, |r| r.status);
        let body = r
            .map(|r| excerpt(&redactor.redact(&r.body.text)))
            .unwrap_or_default();
        format!("{sent}; it answered HTTP {status} `{body}`: {why}")
    };
    let (message, code, hint): (String, &'static str, Option<&'static str>) = match verdict {
        SignInVerdict::NoAnswer(e) => (
            format!("step 2/3 (send the sign-in request): {sent}; no answer: {}", redactor.redact(e)),
            "identity.sign-in-failed",
            None,
        ),
        SignInVerdict::NotFound(_) => (
            format!("step 1/3 (find the sign-in operation): {}", answered("the sign-in operation was not found there (the password was not judged)")),
            "identity.sign-in-not-found",
            Some("check the base path, or name the operation in the config: `login = \"POST /path/to/login\"`"),
        ),
        SignInVerdict::Refused(why) => (
            format!("step 3/3 (read the answer): {}", answered(&format!("{why}; are the username and password right?"))),
            "identity.sign-in-failed",
            None,
        ),
        SignInVerdict::NoCredential => (
            format!("step 3/3 (read the answer): {}", answered("neither a token (in the body or a header) nor a Set-Cookie")),
            "identity.sign-in-failed",
            Some("set `token_field` in the identity's config if the token is under another name"),
        ),
        SignInVerdict::SignedIn => (sent, "identity.sign-in-failed", None),
    };
    SignInError {
        message,
        code,
        hint,
    }
}

/// The first [`EXCERPT`] bytes of a text, cut on a character boundary, its whitespace runs
/// folded into single spaces (one line in a diagnostic).
fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    if end < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;

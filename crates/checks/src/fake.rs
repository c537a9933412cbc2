//! A scripted [`Probe`] for check tests: answers are looked up by identity, method and path
//! (plus an optional query substring), and every request is recorded for assertions.

use crate::probe::{CheckSettings, IdentityInfo, Overrides, OwnAccount, Probe, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    BodyRecord, Exchange, Method, Mode, Operation, ParamLocation, RequestRecord, RequestSpec,
    ResponseRecord,
};
use std::sync::Mutex;

type Matcher = Box<dyn Fn(&RequestSpec) -> bool + Send + Sync>;
type Responder = Box<dyn Fn(&RequestSpec) -> Option<ResponseRecord> + Send + Sync>;
type Latency = Box<dyn Fn(&RequestSpec) -> u64 + Send + Sync>;

pub struct FakeProbe {
    routes: Vec<(Matcher, ResponseRecord)>,
    /// Consulted after `routes`: answers computed from the request (stateful fakes).
    dynamic: Vec<Responder>,
    /// `(param, value, identities that saw it)` for `known_values`.
    pub known: Vec<(String, serde_json::Value, Vec<String>)>,
    pub identities: Vec<IdentityInfo>,
    pub mode: Mode,
    pub sent: Mutex<Vec<RequestSpec>>,
    pub observed: Vec<Exchange>,
    /// `(identity, token)` for `token_of`.
    pub tokens: Vec<(String, String)>,
    /// `(identity, username)` for `username_of`.
    pub usernames: Vec<(String, String)>,
    /// `(identity, exchange)` for `sign_in_exchange`.
    pub sign_ins: Vec<(String, Exchange)>,
    /// How many accounts `own_account` has registered.
    pub own_accounts: std::sync::atomic::AtomicUsize,
    pub settings: CheckSettings,
    /// Methods `method_allowed` refuses (DELETE without `--allow-delete`).
    pub forbidden: Vec<Method>,
    /// The scan's callback listener (`http://127.0.0.1:7/cb`), for `callback`.
    pub callback_base: Option<String>,
    /// The user's collector, for `callback`.
    pub collector_base: Option<String>,
    pub loopback: Option<crate::probe::LoopbackPorts>,
    /// Requests for which the fake target fetches a listener URL it was given: the listener
    /// then records a hit with the token in its path.
    fetcher: Option<Matcher>,
    minted: std::sync::atomic::AtomicUsize,
    pub hits: Mutex<Vec<(String, crate::probe::CallbackHit)>>,
    /// `(identity, property, value)`: a body property the engine fills with the sending
    /// identity's own value (its own pet's id in `petId`), as knowledge of each identity does.
    pub own_body: Vec<(String, String, serde_json::Value)>,
    /// How long each answer takes (`elapsed_ms`), for timing checks; 1 ms when unset.
    latency: Option<Latency>,
    /// Answers shared between checks by input, as the engine shares them.
    pub shared: crate::malformed::SharedInputs,
}

impl FakeProbe {
    pub fn new() -> Self {
        FakeProbe {
            routes: Vec::new(),
            dynamic: Vec::new(),
            known: Vec::new(),
            identities: Vec::new(),
            mode: Mode::Safe,
            sent: Mutex::new(Vec::new()),
            observed: Vec::new(),
            tokens: Vec::new(),
            usernames: Vec::new(),
            sign_ins: Vec::new(),
            own_accounts: std::sync::atomic::AtomicUsize::new(0),
            settings: CheckSettings::default(),
            forbidden: Vec::new(),
            callback_base: None,
            collector_base: None,
            loopback: None,
            fetcher: None,
            minted: std::sync::atomic::AtomicUsize::new(0),
            hits: Mutex::new(Vec::new()),
            own_body: Vec::new(),
            latency: None,
            shared: crate::malformed::SharedInputs::default(),
        }
    }

    /// Every answer takes `cost(request)` milliseconds (recorded in `elapsed_ms`; nothing waits).
    pub fn latency(mut self, cost: impl Fn(&RequestSpec) -> u64 + Send + Sync + 'static) -> Self {
        self.latency = Some(Box::new(cost));
        self
    }

    /// The fake target fetches the listener URLs that requests matching `matcher` carry.
    pub fn fetches(
        mut self,
        matcher: impl Fn(&RequestSpec) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.fetcher = Some(Box::new(matcher));
        self
    }

    fn record_fetch(&self, req: &RequestSpec) {
        let (Some(base), Some(fetches)) = (&self.callback_base, &self.fetcher) else {
            return;
        };
        if !fetches(req) {
            return;
        }
        let text = format!("{:?} {:?} {:?}", req.query, req.headers, req.body);
        let Some(at) = text.find(base.as_str()) else {
            return;
        };
        let token: String = text[at + base.len()..]
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        self.hits.lock().unwrap().push((
            token.clone(),
            crate::probe::CallbackHit {
                request_line: format!("GET /cb/{token} HTTP/1.1"),
                headers: vec![("User-Agent".into(), "fake-fetcher".into())],
                peer: "127.0.0.1:40000".into(),
            },
        ));
    }

    /// Fills body property `property` of `identity`'s requests with `value` (when the body
    /// schema has it and no override sets it).
    pub fn own_body_value(
        mut self,
        identity: &str,
        property: &str,
        value: serde_json::Value,
    ) -> Self {
        self.own_body
            .push((identity.into(), property.into(), value));
        self
    }

    pub fn identity(mut self, name: &str, markers: &[&str]) -> Self {
        self.identities.push(IdentityInfo {
            name: name.into(),
            session_cookies: Vec::new(),
            cookie_same_site: Vec::new(),
            token_header: None,
            markers: markers.iter().map(|m| m.to_string()).collect(),
            own: Default::default(),
            admin: false,
        });
        self
    }

    /// Answers requests for which `matcher` holds; earlier routes win.
    pub fn on(
        mut self,
        matcher: impl Fn(&RequestSpec) -> bool + Send + Sync + 'static,
        response: ResponseRecord,
    ) -> Self {
        self.routes.push((Box::new(matcher), response));
        self
    }

    /// Answers with whatever `responder` computes, when no fixed route matched.
    pub fn on_dynamic(
        mut self,
        responder: impl Fn(&RequestSpec) -> Option<ResponseRecord> + Send + Sync + 'static,
    ) -> Self {
        self.dynamic.push(Box::new(responder));
        self
    }

    pub fn sent_count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

pub fn exchange_for(req: &RequestSpec, response: Option<ResponseRecord>) -> Exchange {
    let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let url = if query.is_empty() {
        format!("http://127.0.0.1:9{}", req.path)
    } else {
        format!("http://127.0.0.1:9{}?{}", req.path, query.join("&"))
    };
    Exchange {
        identity: req.identity.clone(),
        request: RequestRecord {
            method: req.method,
            url,
            headers: req.headers.clone(),
            body: req.body.as_ref().map(|b| BodyRecord {
                text: format!("{b:?}"),
                size: 0,
                truncated: false,
            }),
        },
        error: response.is_none().then(|| "no route in fake".to_string()),
        // As the engine does: the answer to a GraphQL request is judged by its root field.
        response: response.map(|mut r| {
            r.graphql_field = req.graphql.as_ref().map(|g| g.field.clone());
            r
        }),
        redirects: vec![],
        elapsed_ms: 1,
    }
}

#[async_trait]
impl Probe for FakeProbe {
    async fn send(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        self.sent.lock().unwrap().push(req.clone());
        self.record_fetch(&req);
        let response = self
            .routes
            .iter()
            .find(|(m, _)| m(&req))
            .map(|(_, r)| r.clone())
            .or_else(|| self.dynamic.iter().find_map(|d| d(&req)));
        let mut ex = exchange_for(&req, response);
        if let Some(cost) = &self.latency {
            ex.elapsed_ms = cost(&req);
        }
        Ok(ex)
    }

    async fn send_input(
        &self,
        input: &crate::malformed::Input,
        req: RequestSpec,
    ) -> Result<Exchange, ProbeError> {
        self.shared.send(input, || self.send(req.clone())).await
    }

    fn request(&self, op: &Operation, identity: &str, overrides: &Overrides) -> RequestSpec {
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for p in &op.parameters {
            let value = overrides
                .params
                .iter()
                .find(|(l, n, _)| *l == p.location && *n == p.name)
                .and_then(|(_, _, v)| v.clone())
                // As the engine does, a `{username}` names the identity sending it.
                .unwrap_or_else(|| match p.name.as_str() {
                    "username" => serde_json::json!(identity),
                    _ => serde_json::json!(1),
                });
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            match p.location {
                ParamLocation::Path => path = path.replace(&format!("{{{}}}", p.name), &text),
                ParamLocation::Query => query.push((p.name.clone(), text)),
                ParamLocation::Header => headers.push((p.name.clone(), text)),
                _ => {}
            }
        }
        let mut spec = RequestSpec::new(op.method, path).as_identity(identity);
        spec.query = query;
        spec.headers = headers;
        if op.request_body.is_some() || !overrides.body.is_empty() || op.graphql.is_some() {
            let mut body = serde_json::Map::new();
            let schema = op
                .request_body
                .as_ref()
                .and_then(|b| b.content.values().next());
            for (who, property, value) in &self.own_body {
                if who == identity && schema.is_some_and(|s| s.properties.contains_key(property)) {
                    body.insert(property.clone(), value.clone());
                }
            }
            for (path, value) in &overrides.body {
                if let (Some(key), Some(v)) = (path.last(), value) {
                    body.insert(key.clone(), v.clone());
                }
            }
            let mut body = serde_json::Value::Object(body);
            // As synthesis does: a GraphQL operation's arguments are its document's variables.
            if let Some(g) = &op.graphql {
                body = serde_json::json!({"query": g.document(), "variables": body});
                spec.graphql = Some(g.request());
            }
            spec.body = Some(middlebrick_model::RequestBody::Json(body));
        }
        spec.operation = Some(op.key());
        spec
    }

    async fn baseline(&self, op: &Operation, identity: &str) -> Result<Exchange, ProbeError> {
        let req = self.request(op, identity, &Overrides::none());
        self.send(req).await
    }

    fn identities(&self) -> Vec<IdentityInfo> {
        self.identities.clone()
    }

    fn mode(&self) -> Mode {
        self.mode
    }

    fn callback(&self) -> Option<crate::probe::Callback> {
        if self.callback_base.is_none() && self.collector_base.is_none() {
            return None;
        }
        let n = self
            .minted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let token = format!("tok{n}x");
        Some(crate::probe::Callback {
            listener_url: self.callback_base.as_ref().map(|b| format!("{b}/{token}")),
            collector_url: self.collector_base.as_ref().map(|b| format!("{b}/{token}")),
            token,
        })
    }

    async fn callback_hits(&self, token: &str, _wait_ms: u64) -> Vec<crate::probe::CallbackHit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == token)
            .map(|(_, h)| h.clone())
            .collect()
    }

    fn loopback_ports(&self) -> Option<crate::probe::LoopbackPorts> {
        self.loopback
    }

    fn observed(&self) -> Vec<Exchange> {
        self.observed.clone()
    }

    fn method_allowed(&self, method: Method) -> bool {
        !self.forbidden.contains(&method)
    }

    fn known_values(&self, _op: &Operation, param: &str) -> Vec<(serde_json::Value, Vec<String>)> {
        self.known
            .iter()
            .filter(|(p, _, _)| p == param)
            .map(|(_, v, who)| (v.clone(), who.clone()))
            .collect()
    }

    async fn sign_in_account(
        &self,
        name: &str,
        username: &str,
        _password: &str,
    ) -> Result<Exchange, ProbeError> {
        let mut req = RequestSpec::new(Method::Post, "/fake-sign-in").as_identity(name);
        req.operation = Some(format!("sign in {username}"));
        self.send(req).await
    }

    fn token_of(&self, identity: &str) -> Option<String> {
        lookup(&self.tokens, identity).cloned()
    }

    fn sign_in_exchange(&self, identity: &str) -> Option<Exchange> {
        lookup(&self.sign_ins, identity).cloned()
    }

    fn username_of(&self, identity: &str) -> Option<String> {
        lookup(&self.usernames, identity).cloned()
    }

    fn sign_in_operation(&self) -> Option<(Method, String)> {
        Some((Method::Post, "/fake-login".into()))
    }

    /// Sends `POST <op path>` (`/fake-login` without an operation) with a JSON body
    /// `{username, password}` and the extra headers.
    async fn sign_in_attempt(
        &self,
        op: Option<&Operation>,
        username: &str,
        password: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        let path = op.map_or("/fake-login".to_string(), |o| o.path.clone());
        let mut req = RequestSpec::new(Method::Post, path.clone());
        req.headers = headers.to_vec();
        // Where the operation declares its credentials, as the engine sends them.
        match op.and_then(crate::authflow::query_credentials) {
            Some((user, pass)) => {
                req.query = vec![(user, username.into()), (pass, password.into())];
            }
            None => {
                req.body = Some(middlebrick_model::RequestBody::Json(
                    serde_json::json!({"username": username, "password": password}),
                ));
            }
        }
        req.operation = Some(format!("POST {path}"));
        self.send(req).await
    }

    /// Sends `POST <op path>` (`/fake-login`) anonymously with the extra headers and a JSON body
    /// `{username, password: "<fresh>"}` (the username from `usernames`, else the identity).
    async fn sign_in_fresh(
        &self,
        op: Option<&Operation>,
        identity: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        let username = lookup(&self.usernames, identity)
            .cloned()
            .unwrap_or_else(|| identity.to_string());
        self.sign_in_attempt(op, &username, "<fresh>", headers)
            .await
    }

    /// Sends `POST /fake-sign-in` as `name`, with operation `fork <identity>`.
    async fn fork_session(&self, identity: &str, name: &str) -> Result<Exchange, ProbeError> {
        let mut req = RequestSpec::new(Method::Post, "/fake-sign-in").as_identity(name);
        req.operation = Some(format!("fork {identity}"));
        self.send(req).await
    }

    fn settings(&self) -> CheckSettings {
        self.settings
    }

    fn registration_operation(&self) -> Option<(Method, String)> {
        Some((Method::Post, "/fake-register".into()))
    }

    /// Sends `POST /fake-register` with a JSON body `{username, password}`.
    async fn register_attempt(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Exchange, ProbeError> {
        let mut req = RequestSpec::new(Method::Post, "/fake-register");
        req.body = Some(middlebrick_model::RequestBody::Json(
            serde_json::json!({"username": username, "password": password}),
        ));
        req.operation = Some("POST /fake-register".into());
        self.send(req).await
    }

    /// Registers `own-<n>` (username `mb-own-<n>`) through `register_attempt`; a 2xx answer
    /// makes the account.
    async fn own_account(&self) -> Result<OwnAccount, ProbeError> {
        let n = self
            .own_accounts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let username = format!("mb-own-{n}");
        let ex = self.register_attempt(&username, "<strong>").await?;
        if ex.is_success() {
            Ok(OwnAccount {
                identity: format!("own-{n}"),
                username,
            })
        } else {
            Err(ProbeError::Refused("registration failed".into()))
        }
    }
}

fn lookup<'a, T>(list: &'a [(String, T)], key: &str) -> Option<&'a T> {
    list.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Matches a request by identity, method and path.
pub fn route(
    identity: &'static str,
    method: Method,
    path: &'static str,
) -> impl Fn(&RequestSpec) -> bool + Send + Sync {
    move |r: &RequestSpec| r.identity == identity && r.method == method && r.path == path
}

//! The seam between checks and the engine.

use async_trait::async_trait;
use middlebrick_model::{
    Exchange, Method, Mode, Operation, Outage, ParamLocation, RequestSpec, Retrigger,
};
use serde_json::Value;
use std::fmt;

/// Why a probe did not produce an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// The scan is stopping (budget, deadline, cancellation, circuit breaker): end quietly.
    Stopped(String),
    /// The engine refused the request (the mode forbids the method, it is out of scope, the
    /// identity is unknown). A check that sees this has a bug or a wrong plan.
    Refused(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Stopped(why) => write!(f, "scan stopping: {why}"),
            ProbeError::Refused(why) => write!(f, "request refused: {why}"),
        }
    }
}

/// A signed-in identity as checks see it: a name and what it may be, never its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    pub name: String,
    /// The identity authenticates with a session cookie (cookie names, never values).
    pub session_cookies: Vec<String>,
    /// The `SameSite` attribute each session cookie was set with, by cookie name (`None` when
    /// the Set-Cookie had none): whether a browser would send it on a cross-site request.
    pub cookie_same_site: Vec<(String, Option<String>)>,
    /// The identity authenticates with a token in a header (`Authorization`, an API-key header).
    pub token_header: Option<String>,
    /// Values that identify this account in answers (username, email, user id), so a check
    /// can tell that an answer carries this identity's personal data.
    pub markers: Vec<String>,
    /// The account's own id, username and e-mail as far as the scan learnt them.
    pub own: middlebrick_model::SelfKnowledge,
    pub admin: bool,
}

/// Changes to the valid request the engine would synthesise: a parameter or body property set
/// to a given value, or dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub params: Vec<(ParamLocation, String, Option<Value>)>,
    /// JSON-body properties by path (`["address", "zip"]`); `None` drops the property.
    pub body: Vec<(Vec<String>, Option<Value>)>,
}

impl Overrides {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn param(location: ParamLocation, name: &str, value: Value) -> Self {
        Overrides {
            params: vec![(location, name.to_string(), Some(value))],
            body: Vec::new(),
        }
    }

    pub fn body_field(path: Vec<String>, value: Value) -> Self {
        Overrides {
            params: Vec::new(),
            body: vec![(path, Some(value))],
        }
    }
}

#[async_trait]
pub trait Probe: Send + Sync {
    /// Sends the request with the identity's credentials attached. Always on the wire: no
    /// answer is reused for another request (a GET the spec calls a read may still change
    /// state, which is what `csrf.state-change-on-get` looks for).
    async fn send(&self, req: RequestSpec) -> Result<Exchange, ProbeError>;

    /// Sends the request with nothing else of the scan in flight, for a check that judges the
    /// time an answer takes (the transport holds every other request until it is answered).
    /// Never answered from anything the scan already has. This default sends it as
    /// [`Probe::send`] does, which is what a fake needs.
    async fn send_timed(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        self.send(req).await
    }

    /// Sends `req`, the valid request for its operation with one input changed as `input` says,
    /// and shares the answer with the other checks that send the same input
    /// ([`crate::malformed`]): one malformed-input pass per parameter.
    async fn send_input(
        &self,
        _input: &crate::malformed::Input,
        req: RequestSpec,
    ) -> Result<Exchange, ProbeError> {
        self.send(req).await
    }

    /// The valid request for `op` as `identity` (harvested ids preferred), with overrides.
    fn request(&self, op: &Operation, identity: &str, overrides: &Overrides) -> RequestSpec;

    /// The answer to the valid request for `op` as `identity`, sent once per scan and shared
    /// by every check that needs it (the control of most differential checks).
    async fn baseline(&self, op: &Operation, identity: &str) -> Result<Exchange, ProbeError>;

    /// Sends `reqs` at the same instant (race-condition checks). The engine passes every gate
    /// for the whole burst first and then writes all requests together; each still counts
    /// against the budget and is recorded. Results in the order of `reqs`. This default sends
    /// them one after another, which is what a fake needs.
    async fn send_burst(&self, reqs: Vec<RequestSpec>) -> Vec<Result<Exchange, ProbeError>> {
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            out.push(self.send(r).await);
        }
        out
    }

    /// Signed-in identities, anonymous excluded.
    fn identities(&self) -> Vec<IdentityInfo>;

    fn mode(&self) -> Mode;

    /// Whether the scan may send `method` at all (DELETE needs `--allow-delete` on top of
    /// active mode), so a check can stay silent before creating anything it could not use.
    fn method_allowed(&self, _method: Method) -> bool {
        true
    }

    /// A bounded sample of exchanges the scan has made so far (for API-wide passive checks).
    fn observed(&self) -> Vec<Exchange>;

    /// Values known for a parameter of `op` (ids harvested from earlier answers), each with
    /// the identities that saw it in their own answers: the basis of ownership discovery.
    /// Answers of privileged operations ([`crate::ownership::privileged_reason`]: an admin
    /// listing shows everyone's objects) are not sightings: their values are known, but not as
    /// seen by anyone.
    fn known_values(&self, op: &Operation, param: &str) -> Vec<(Value, Vec<String>)>;

    /// Signs in an account the scanner itself registered, so later requests can be sent as
    /// `name`. The account is not listed by [`Probe::identities`].
    async fn sign_in_account(
        &self,
        name: &str,
        username: &str,
        password: &str,
    ) -> Result<Exchange, ProbeError>;

    /// The token `identity` sends (without its scheme): what JWT checks forge variants of. It
    /// is a secret: never put it in a description; the report redacts it by value.
    fn token_of(&self, _identity: &str) -> Option<String> {
        None
    }

    /// The header that carries `token` the way `identity` sends its own (the spec's scheme:
    /// `Authorization: Bearer …`, `Authorization: Token …`, `X-Api-Key: …`), for checks that
    /// send a forged variant in its place.
    fn token_header_for(&self, _identity: &str, token: &str) -> (String, String) {
        ("Authorization".into(), format!("Bearer {token}"))
    }

    /// The exchange that signed `identity` in (its Set-Cookie headers carry cookie attributes).
    fn sign_in_exchange(&self, _identity: &str) -> Option<Exchange> {
        None
    }

    /// The username `identity` signs in with, when it signs in by password.
    fn username_of(&self, _identity: &str) -> Option<String> {
        None
    }

    /// The API's sign-in operation (method and path template), when one was found.
    fn sign_in_operation(&self) -> Option<(Method, String)> {
        None
    }

    /// One attempt through a sign-in operation (`op`, or the one identities sign in with when
    /// `None`) with these credentials and extra headers; no session is kept. For throttling and
    /// enumeration checks. The body is built from the operation's schema (JSON or form).
    async fn sign_in_attempt(
        &self,
        _op: Option<&Operation>,
        _username: &str,
        _password: &str,
        _headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        Err(ProbeError::Refused("no sign-in operation".into()))
    }

    /// Signs `identity` (a configured identity that signs in by password, or an account the
    /// scanner registered) in once more through `op` (`None`: the operation identities use),
    /// with `headers` added (a `Cookie` carrying a pre-sign-in session id, say). The identity's
    /// own session is not changed; the answer's tokens and cookie values are redacted in every
    /// sink like any other secret. For cookie-flag and session-fixation checks.
    async fn sign_in_fresh(
        &self,
        _op: Option<&Operation>,
        _identity: &str,
        _headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        Err(ProbeError::Refused("no sign-in operation".into()))
    }

    /// Signs `identity` in again as a separate session that later requests can use under
    /// `name` (new token, new cookies, same account). For checks that end a session (sign-out)
    /// without ending the identity's own. The session is never signed in again on a 401.
    async fn fork_session(&self, _identity: &str, _name: &str) -> Result<Exchange, ProbeError> {
        Err(ProbeError::Refused("no sign-in operation".into()))
    }

    /// The scan's thresholds (defaults unless the user set them).
    fn settings(&self) -> CheckSettings {
        CheckSettings::default()
    }

    /// The API's registration operation (method and path template), when one was found.
    fn registration_operation(&self) -> Option<(Method, String)> {
        None
    }

    /// One attempt through the registration operation with this username and password; the
    /// other required fields are synthesised (an email derived from the username). Active mode
    /// only; an account it creates belongs to the scan.
    async fn register_attempt(
        &self,
        _username: &str,
        _password: &str,
    ) -> Result<Exchange, ProbeError> {
        Err(ProbeError::Refused("no registration operation".into()))
    }

    /// A new account owned by the scan: registered with a random name and a strong random
    /// password (the check never sees it) and signed in, usable as `identity` in requests.
    /// Active mode only; the engine caps how many one scan registers. For checks that must
    /// change an account (reset its password, sign it out): never a user's account.
    async fn own_account(&self) -> Result<OwnAccount, ProbeError> {
        Err(ProbeError::Refused("no registration operation".into()))
    }

    /// The path of the base URL request paths are joined to (`/api/v2`; empty for the root):
    /// what a check that probes paths outside the spec must climb out of.
    fn api_base_path(&self) -> String {
        String::new()
    }
    /// The times the target stopped answering during the scan, in order.
    fn outages(&self) -> Vec<Outage> {
        Vec::new()
    }

    /// Sends outage `index`'s suspect request once more, alone, bracketed by a request the
    /// target answered before; at most once per outage.
    async fn retrigger(&self, _index: usize) -> Option<Retrigger> {
        None
    }

    /// A fresh out-of-band token and where the target may be told to send it: the scan's own
    /// listener and the user's collector (`injection.ssrf`). `None` when the scan has neither.
    /// Never a third-party host: only the listener the scan runs or a collector the user named.
    fn callback(&self) -> Option<Callback> {
        None
    }

    /// The requests the scan's listener received whose request target carries `token`; when
    /// there is none yet, waits up to `wait_ms` for one (a target may fetch after it answers).
    async fn callback_hits(&self, _token: &str, _wait_ms: u64) -> Vec<CallbackHit> {
        Vec::new()
    }

    /// A port the target listens on and one known closed, on the target's loopback address,
    /// for the internal-reach differential of `injection.ssrf`.
    fn loopback_ports(&self) -> Option<LoopbackPorts> {
        None
    }
}

/// An out-of-band token with the URLs that carry it (see [`Probe::callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// Unique and unguessable: minted for one (operation, parameter).
    pub token: String,
    /// A URL on the scan's own listener that carries the token.
    pub listener_url: Option<String>,
    /// A URL on the user's collector that carries the token; the scan cannot read its arrivals.
    pub collector_url: Option<String>,
}

/// A request the scan's listener received: its request line and headers, credentials
/// already redacted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackHit {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    /// The address the connection came from.
    pub peer: String,
}

/// Loopback ports for the internal-reach differential (see [`Probe::loopback_ports`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopbackPorts {
    /// The port the target itself answers on.
    pub open: u16,
    /// A port nothing listens on.
    pub closed: u16,
}

/// Thresholds a user may set for a scan; checks read them through [`Probe::settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSettings {
    /// The longest lifetime (`exp` − `iat`) an access token may have before
    /// `auth.jwt-lifetime` reports it.
    pub jwt_max_lifetime_secs: i64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            jwt_max_lifetime_secs: 24 * 3600,
        }
    }
}

/// An account the scan registered itself (see [`Probe::own_account`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAccount {
    /// The identity name to send requests as.
    pub identity: String,
    pub username: String,
}

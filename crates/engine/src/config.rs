//! The validated scan configuration: what the front end resolved from flags, files and the
//! environment. It holds no live clients; the engine builds those when the scan starts.

use middlebrick_checks::CheckSettings;
use middlebrick_http::TransportConfig;
use middlebrick_model::{CheckId, Method, Mode};
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    File(PathBuf),
    Url(Url),
    /// The description itself (a front end that stores it, such as the monitoring service);
    /// `name` stands for it in the report and in messages. Relative `$ref`s cannot resolve.
    Text {
        name: String,
        text: String,
    },
    /// Look for it at well-known places on the target; crawl when there is none.
    Discover,
}

/// How an identity signs in with a username and password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginConfig {
    pub username: String,
    pub password: String,
    /// The sign-in operation; found in the spec when not given.
    pub operation: Option<(Method, String)>,
    /// Where the token is in the JSON answer (`access_token`, `data.token`); found when not given.
    pub token_field: Option<String>,
    /// Body property names; found from the operation's schema when not given.
    pub username_field: Option<String>,
    pub password_field: Option<String>,
    /// The OAuth 2 client the password flow's token URL wants (`client_id`, `client_secret`
    /// form fields). The secret is a secret: redacted like the password.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// The account's e-mail when it is known besides its username (accounts the scan
    /// registers): sent instead of the username where the sign-in asks for an e-mail.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub login: Option<LoginConfig>,
    /// An identity with administrator rights (used by authorization checks).
    pub admin: bool,
}

impl IdentityConfig {
    /// Every secret this identity carries, for redaction.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.headers.iter().map(|(_, v)| v.clone()).collect();
        for (_, v) in &self.headers {
            if let Some((_, token)) = v.split_once(' ') {
                out.push(token.to_string());
            }
        }
        out.extend(self.cookies.iter().map(|(_, v)| v.clone()));
        if let Some(l) = &self.login {
            out.push(l.password.clone());
            out.extend(l.client_secret.clone());
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub target: Url,
    pub spec: SpecSource,
    pub mode: Mode,
    /// DELETE requests need this on top of `--mode active`.
    pub allow_delete: bool,
    pub identities: Vec<IdentityConfig>,
    pub transport: TransportConfig,
    /// Only these checks (all when empty).
    pub only_checks: Vec<CheckId>,
    pub skip_checks: Vec<CheckId>,
    /// Pages a crawl may fetch when there is no spec.
    pub crawl_limit: usize,
    /// Thresholds checks apply (token lifetime, …).
    pub settings: CheckSettings,
    /// The path on the target's origin that operation paths are joined to, as the user gave
    /// it (`--base-path`); found from the spec and verified against the target when absent.
    pub base_path: Option<String>,
    /// Where `injection.ssrf` listens for callbacks and what the target is told.
    pub callback: CallbackConfig,
}

/// The out-of-band side of `injection.ssrf`. With nothing set, the scan listens on loopback
/// (an ephemeral port) when the target is on this machine, and not at all otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackConfig {
    /// `--callback-listen`: the address the listener binds.
    pub listen: Option<std::net::SocketAddr>,
    /// `--callback-url`: the URL the target is told, which must reach the listener (a tunnel
    /// or a port forward in front of it); the token is appended as a path segment.
    pub url: Option<Url>,
    /// `--callback-collector`: a collector of the user's own for blind fetches; the scan
    /// cannot read its arrivals and lists the tokens it sent instead.
    pub collector: Option<Url>,
}

impl ScanConfig {
    pub fn new(target: Url, transport: TransportConfig) -> Self {
        ScanConfig {
            target,
            spec: SpecSource::Discover,
            mode: Mode::Safe,
            allow_delete: false,
            identities: Vec::new(),
            transport,
            only_checks: Vec::new(),
            skip_checks: Vec::new(),
            crawl_limit: 60,
            settings: CheckSettings::default(),
            base_path: None,
            callback: CallbackConfig::default(),
        }
    }

    pub fn check_enabled(&self, id: CheckId) -> bool {
        (self.only_checks.is_empty() || self.only_checks.contains(&id))
            && !self.skip_checks.contains(&id)
    }

    /// The gate every request passes: a request that changes no state (a safe method, a
    /// GraphQL query even when POSTed) always; any other by [`Self::method_allowed`].
    pub fn request_allowed(&self, req: &middlebrick_model::RequestSpec) -> bool {
        // Passive mode observes: only the safe methods go out, a GraphQL query POST included.
        if self.mode == Mode::Passive {
            return req.method.is_safe();
        }
        if !req.changes_state() {
            return true;
        }
        // A GraphQL mutation named for a deletion is a DELETE for `--allow-delete`.
        match &req.graphql {
            Some(g) if middlebrick_model::graphql_deletes(&g.field) => {
                self.method_allowed(Method::Delete)
            }
            _ => self.method_allowed(req.method),
        }
    }

    /// Whether `op`'s own request may go out in this mode (see [`Self::request_allowed`]).
    pub fn operation_allowed(&self, op: &middlebrick_model::Operation) -> bool {
        if self.mode == Mode::Passive {
            return op.method.is_safe();
        }
        if !op.changes_state() {
            return true;
        }
        match &op.graphql {
            Some(g) if middlebrick_model::graphql_deletes(&g.field) => {
                self.method_allowed(Method::Delete)
            }
            _ => self.method_allowed(op.method),
        }
    }

    /// The method gate every request passes: safe methods always; POST/PUT/PATCH only in
    /// active (or disposable) mode; DELETE only there with `allow_delete`.
    pub fn method_allowed(&self, method: Method) -> bool {
        if method.is_safe() {
            return true;
        }
        match self.mode {
            Mode::Active | Mode::Disposable => method != Method::Delete || self.allow_delete,
            Mode::Passive | Mode::Safe => false,
        }
    }
}

//! One scan, as every front end runs it: a serialisable [`ScanRequest`] (what the monitoring
//! service stores as JSON), resolved into the engine's configuration, run with a
//! cancellation token and an event callback, and returned as a [`ScanOutcome`].
//!
//! ```no_run
//! # async fn f() -> Result<(), middlebrick_core::CoreError> {
//! use middlebrick_core::scan::{run, CancelToken, ScanRequest};
//! let request: ScanRequest = serde_json::from_str(r#"{
//!     "url": "http://127.0.0.1:8000",
//!     "spec": {"url": "http://127.0.0.1:8000/openapi.json"},
//!     "mode": "safe",
//!     "identities": [{"name": "alice", "username": "alice",
//!                     "password": {"env": "ALICE_PASSWORD"}}],
//!     "limits": {"budget": 5000, "max_duration": 600}
//! }"#).unwrap();
//! let outcome = run(&request, CancelToken::new(), |event| eprintln!("{event:?}")).await?;
//! println!("{} ({:?})", outcome.report.grade.as_str(), outcome.status);
//! # Ok(()) }
//! ```
//!
//! Secrets in a request are best given as `{"env": "VAR"}`: the variable is read when the
//! request is resolved, so the stored request holds its name only. A plain string is taken as
//! the value itself; [`ScanRequest::inline_secrets`] lists such fields so a front end that
//! stores requests can refuse them. A request never names a local file (no spec path, no
//! config file) and never sets the SSRF callback listener: a service that runs requests for
//! remote clients must not read its own disk for them or open ports for them. Which hosts a
//! request may target is the caller's decision ([`crate::Allowlist`]), checked on the
//! resolved configuration before it is queued.

use crate::config::{self, FileConfig, Flags, IdentitySection, Limits};
use crate::error::{CoreError, Result};
use crate::record;
use middlebrick_engine::{EventSink, ScanConfig, ScanHandle};
use middlebrick_model::{Mode, Redactor, Report};
use middlebrick_store::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use middlebrick_engine::{Event, Phase};
/// Cancels a scan: see [`middlebrick_engine::ScanHandle`] for what stops and what is returned.
pub use tokio_util::sync::CancellationToken as CancelToken;

/// A scan as a front end asks for it; serialisable, so a service can store it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// The API's base URL (http or https).
    pub url: String,
    /// The OpenAPI description; discovered at the usual places, else crawled, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecInput>,
    /// passive, safe (the default), active or disposable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Only these check ids (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityRequest>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: Limits,
    /// DELETE requests in active or disposable mode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_delete: bool,
    /// As `--base-path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// Hosts in scope besides the target's origin (`host` or `host:port`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
}

fn is_default(l: &Limits) -> bool {
    *l == Limits::default()
}

/// Where the description comes from: `{"url": "https://…"}` or `{"text": "openapi: 3.0.3 …"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecInput {
    Url(String),
    Text(String),
}

/// A secret: the name of an environment variable holding it (`{"env": "VAR"}`), or the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    Env { env: String },
    Value(String),
}

/// An identity, as `middlebrick.toml`'s `[[identity]]` with every secret a [`Secret`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cookies: BTreeMap<String, Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sign-in operation, `"POST /path"`; found in the spec when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

/// What a scan produced.
#[derive(Debug)]
pub struct ScanOutcome {
    /// Redacted, scored; `incomplete` and `coverage.stopped` say whether and why it stopped
    /// early (cancelled: `"interrupted"`).
    pub report: Report,
    /// Complete, Incomplete (a limit stopped it) or Interrupted (cancelled).
    pub status: Status,
    /// Every secret the scan was given or learnt: apply it to anything else written from it.
    pub redactor: Arc<Redactor>,
}

impl ScanOutcome {
    /// The report as the JSON writer renders it (the form the history stores).
    pub fn report_json(&self) -> String {
        record::report_json(&self.report, &self.redactor)
    }
}

impl Secret {
    fn read(&self, identity: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        match self {
            Secret::Value(v) => Ok(v.clone()),
            Secret::Env { env: var } => env(var).ok_or_else(|| {
                CoreError::Config(format!(
                    "identity `{identity}`: environment variable {var} is not set"
                ))
            }),
        }
    }
}

impl IdentityRequest {
    fn section(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<IdentitySection> {
        let map = |m: &BTreeMap<String, Secret>| -> Result<BTreeMap<String, String>> {
            m.iter()
                .map(|(k, s)| Ok((k.clone(), s.read(&self.name, env)?)))
                .collect()
        };
        let one = |s: &Option<Secret>| s.as_ref().map(|s| s.read(&self.name, env)).transpose();
        Ok(IdentitySection {
            name: self.name.clone(),
            headers: map(&self.headers)?,
            cookies: map(&self.cookies)?,
            username: self.username.clone(),
            password: one(&self.password)?,
            login: self.login.clone(),
            token_field: self.token_field.clone(),
            username_field: self.username_field.clone(),
            password_field: self.password_field.clone(),
            client_id: self.client_id.clone(),
            client_secret: one(&self.client_secret)?,
            admin: self.admin,
            ..IdentitySection::default()
        })
    }
}

impl ScanRequest {
    /// A request for `url` with every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        ScanRequest {
            url: url.into(),
            spec: None,
            mode: None,
            checks: Vec::new(),
            skip_checks: Vec::new(),
            identities: Vec::new(),
            limits: Limits::default(),
            allow_delete: false,
            base_path: None,
            allow_hosts: Vec::new(),
        }
    }

    /// The engine's configuration, secrets read from the process environment.
    pub fn resolve(&self) -> Result<ScanConfig> {
        self.resolve_with(&|var| std::env::var(var).ok())
    }

    /// [`ScanRequest::resolve`] with the environment given as a lookup.
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<ScanConfig> {
        let (spec, spec_text) = match &self.spec {
            None => (None, None),
            Some(SpecInput::Url(u)) => {
                let ok = url::Url::parse(u)
                    .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host());
                if !ok {
                    return Err(CoreError::Config(format!(
                        "the spec URL must be an http or https URL, got `{u}`"
                    )));
                }
                (Some(u.clone()), None)
            }
            Some(SpecInput::Text(t)) => (None, Some(("the stored description".into(), t.clone()))),
        };
        let flags = Flags {
            url: self.url.clone(),
            spec,
            spec_text,
            mode: self.mode,
            allow_delete: self.allow_delete,
            checks: self.checks.clone(),
            skip_checks: self.skip_checks.clone(),
            base_path: self.base_path.clone(),
            allow_hosts: self.allow_hosts.clone(),
            limits: self.limits.clone(),
            ..Flags::default()
        };
        let identities = self
            .identities
            .iter()
            .map(|i| i.section(env))
            .collect::<Result<Vec<_>>>()?;
        let file = FileConfig {
            identities,
            ..FileConfig::default()
        };
        config::resolve_with(&flags, file, env)
    }

    /// The fields that hold a secret's value rather than an environment variable's name
    /// (`identity alice: header Authorization`), for a front end that stores requests.
    pub fn inline_secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for i in &self.identities {
            let inline = |s: &Secret| matches!(s, Secret::Value(_));
            for (kind, map) in [("header", &i.headers), ("cookie", &i.cookies)] {
                for (k, s) in map {
                    if inline(s) {
                        out.push(format!("identity {}: {kind} {k}", i.name));
                    }
                }
            }
            for (what, s) in [
                ("password", &i.password),
                ("client_secret", &i.client_secret),
            ] {
                if s.as_ref().is_some_and(inline) {
                    out.push(format!("identity {}: {what}", i.name));
                }
            }
        }
        out
    }
}

/// Resolves and runs one scan: the function a service's worker calls. `events` receives every
/// engine [`Event`] in order, from the scan's task (keep it quick); `cancel` stops the scan,
/// which then returns the report so far with status `Interrupted` (no operations in it when
/// the cancellation came during discovery).
/// Nothing is recorded: the caller stores the outcome where it keeps scans.
pub async fn run(
    request: &ScanRequest,
    cancel: CancelToken,
    events: impl FnMut(Event) + Send + 'static,
) -> Result<ScanOutcome> {
    let cfg = request.resolve()?;
    run_config(cfg, cancel, events, Arc::new(Redactor::new())).await
}

/// [`run`] for a configuration already resolved (the CLI's flags, an MCP tool call), with the
/// redactor the caller's log writer shares so a secret the scan learns is redacted there too.
pub async fn run_config(
    cfg: ScanConfig,
    cancel: CancelToken,
    events: impl FnMut(Event) + Send + 'static,
    redactor: Arc<Redactor>,
) -> Result<ScanOutcome> {
    let events = Mutex::new(events);
    let sink: EventSink = Arc::new(move |e| {
        let mut f = events.lock().unwrap_or_else(|p| p.into_inner());
        f(e)
    });
    let handle = ScanHandle {
        cancel: cancel.clone(),
    };
    let out = middlebrick_engine::scan_with(cfg, sink, handle, redactor).await?;
    let status = record::status_of(&out.report, cancel.is_cancelled());
    Ok(ScanOutcome {
        report: out.report,
        status,
        redactor: out.redactor,
    })
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;

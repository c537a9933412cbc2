//! `middlebrick.toml` and the layering of settings: built-in defaults, then the config file
//! (only when a front end names one), then the front end's own settings ([`Flags`]: the CLI's
//! flags, an MCP tool call's arguments, a service's scan request). The result is the engine's
//! `ScanConfig`, which holds no live clients. The file format is documented in `docs/config.md`.

use crate::error::{CoreError, Result};
use middlebrick_engine::{CallbackConfig, IdentityConfig, LoginConfig, ScanConfig, SpecSource};
use middlebrick_http::TransportConfig;
use middlebrick_model::{CheckId, Method, Mode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use url::Url;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub scan: ScanSection,
    #[serde(default, rename = "identity")]
    pub identities: Vec<IdentitySection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    pub spec: Option<String>,
    pub mode: Option<String>,
    pub allow_delete: Option<bool>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    /// As `--fixed-rate`.
    pub fixed_rate: Option<bool>,
    pub timeout: Option<u64>,
    pub connect_timeout: Option<u64>,
    pub budget: Option<u64>,
    pub max_duration: Option<u64>,
    pub max_response_bytes: Option<usize>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default)]
    pub checks: Vec<String>,
    #[serde(default)]
    pub skip_checks: Vec<String>,
    /// As `--jwt-max-lifetime`.
    pub jwt_max_lifetime: Option<String>,
    /// As `--base-path`.
    pub base_path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    pub name: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub cookies: BTreeMap<String, String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Read the password from this environment variable instead of the file.
    pub password_env: Option<String>,
    /// The sign-in operation, `"POST /path"`.
    pub login: Option<String>,
    pub token_field: Option<String>,
    pub username_field: Option<String>,
    pub password_field: Option<String>,
    /// The OAuth 2 client for the password flow (form fields `client_id`, `client_secret`).
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Read the client secret from this environment variable instead of the file.
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// The transport limits a front end may set; unset ones come from the file, then the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Requests in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// The most requests per second per host (the rate adapts to the target under it); 0 =
    /// no limit at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Keep the rate at `rate` instead of adapting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_rate: Option<bool>,
    /// Total time per request, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Connect timeout, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Maximum requests for the whole scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
    /// Maximum scan duration, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u64>,
    /// Bytes read per response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<usize>,
    /// Accept invalid TLS certificates (self-signed test servers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// What a front end says on top of the file: the CLI's `scan` flags, typed. Every field left
/// at its default leaves the file's setting (or the built-in default) in force.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub url: String,
    /// A file path or an http(s) URL.
    pub spec: Option<String>,
    /// The description itself, when a front end holds it as text (`name`, `text`).
    pub spec_text: Option<(String, String)>,
    pub mode: Option<Mode>,
    pub allow_delete: bool,
    /// `Name: value`, as curl's `-H`; with `cookies`, one identity named `cli`.
    pub headers: Vec<String>,
    /// `a=1; b=2`, as a `Cookie` header.
    pub cookies: Vec<String>,
    pub checks: Vec<String>,
    pub skip_checks: Vec<String>,
    pub jwt_max_lifetime: Option<String>,
    pub base_path: Option<String>,
    pub allow_hosts: Vec<String>,
    /// The SSRF callback options (flags only, never from a file or a remote request, so a
    /// front end that builds scans for others binds at most the default loopback listener).
    pub callback_listen: Option<String>,
    pub callback_url: Option<String>,
    pub callback_collector: Option<String>,
    pub limits: Limits,
}

pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::File {
        what: "reading the config file",
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| CoreError::File {
        what: "parsing the config file",
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn parse_mode(s: &str) -> Result<Mode> {
    match s {
        "passive" => Ok(Mode::Passive),
        "safe" => Ok(Mode::Safe),
        "active" => Ok(Mode::Active),
        "disposable" => Ok(Mode::Disposable),
        other => Err(CoreError::config(format!(
            "unknown mode `{other}` (expected passive, safe, active or disposable)"
        ))),
    }
}

pub fn parse_checks(ids: &[String]) -> Result<Vec<CheckId>> {
    ids.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<CheckId>()
                .map_err(|e| CoreError::config(format!("{e}; `middlebrick checks` lists the ids")))
        })
        .collect()
}

fn parse_operation(s: &str) -> Result<(Method, String)> {
    let (m, p) = s
        .trim()
        .split_once(' ')
        .ok_or_else(|| CoreError::config(format!("login must read `METHOD /path`, got `{s}`")))?;
    let method = m.parse::<Method>().map_err(CoreError::config)?;
    let path = p.trim();
    if !path.starts_with('/') {
        return Err(CoreError::config(format!(
            "login path must start with `/`, got `{path}`"
        )));
    }
    Ok((method, path.to_string()))
}

/// A secret given as a value or as the name of an environment variable holding it.
fn secret(
    identity: &str,
    value: &Option<String>,
    var: &Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>> {
    match (value, var) {
        (Some(v), _) => Ok(Some(v.clone())),
        (None, Some(var)) => env(var).map(Some).ok_or_else(|| {
            CoreError::config(format!(
                "identity `{identity}`: environment variable {var} is not set"
            ))
        }),
        (None, None) => Ok(None),
    }
}

/// One identity of the file (or of a scan request, which takes the same shape), validated.
/// `env` reads the variables that `password_env` and `client_secret_env` name.
pub fn identity(
    section: IdentitySection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<IdentityConfig> {
    if section.name == middlebrick_model::ANONYMOUS {
        return Err(CoreError::config(
            "`anonymous` is built in; give the identity another name",
        ));
    }
    if section.name.is_empty() || section.name.starts_with('*') {
        return Err(CoreError::config(format!(
            "identity name `{}`: names are not empty and do not start with `*` (the plan's \
             wildcard)",
            section.name
        )));
    }
    let password = secret(&section.name, &section.password, &section.password_env, env)?;
    let client_secret = secret(
        &section.name,
        &section.client_secret,
        &section.client_secret_env,
        env,
    )?;
    let login = match (section.username, password) {
        (Some(username), Some(password)) => Some(LoginConfig {
            username,
            password,
            operation: section.login.as_deref().map(parse_operation).transpose()?,
            token_field: section.token_field,
            username_field: section.username_field,
            password_field: section.password_field,
            client_id: section.client_id,
            client_secret,
            email: None,
        }),
        (None, None) => None,
        _ => {
            return Err(CoreError::config(format!(
                "identity `{}` needs both username and password (or password_env)",
                section.name
            )))
        }
    };
    if login.is_none() && section.headers.is_empty() && section.cookies.is_empty() {
        return Err(CoreError::config(format!(
            "identity `{}` has no credentials: give headers, cookies, or username and password",
            section.name
        )));
    }
    Ok(IdentityConfig {
        name: section.name,
        headers: section.headers.into_iter().collect(),
        cookies: section.cookies.into_iter().collect(),
        login,
        admin: section.admin,
    })
}

fn split_header(h: &str) -> Result<(String, String)> {
    let (k, v) = h
        .split_once(':')
        .ok_or_else(|| CoreError::config(format!("header must read `Name: value`, got `{h}`")))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn split_cookie(c: &str) -> Result<Vec<(String, String)>> {
    c.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    CoreError::config(format!("cookie must read `name=value`, got `{p}`"))
                })
        })
        .collect()
}

fn spec_source(s: &str) -> SpecSource {
    match Url::parse(s) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => SpecSource::Url(u),
        _ => SpecSource::File(s.into()),
    }
}

pub fn parse_target(url: &str) -> Result<Url> {
    let u = Url::parse(url).map_err(|e| {
        CoreError::config(format!(
            "`{url}` is not a URL (e.g. http://127.0.0.1:5000): {e}"
        ))
    })?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(CoreError::config(format!(
            "the target must be an http or https URL, got `{url}`"
        )));
    }
    if u.host_str().is_none() {
        return Err(CoreError::config(format!(
            "the target URL has no host: `{url}`"
        )));
    }
    Ok(u)
}

fn transport(target: &Url, l: &Limits, s: &ScanSection, flags: &Flags) -> Result<TransportConfig> {
    let mut t = TransportConfig {
        base_url: target.clone(),
        ..TransportConfig::default()
    };
    if let Some(n) = l.concurrency.or(s.concurrency) {
        if n == 0 {
            return Err(CoreError::config("concurrency must be at least 1"));
        }
        t.concurrency = n;
    }
    let rate = l.rate.or(s.rate);
    if let Some(r) = rate {
        if !(r.is_finite() && r >= 0.0) {
            return Err(CoreError::config(format!(
                "rate must be a number of requests per second (0: no limit), not {r}"
            )));
        }
        t.rate_per_host = (r > 0.0).then_some(r);
        // 0: neither a cap nor adaptation, as fast as the concurrency allows.
        t.adaptive_rate = r > 0.0;
    }
    if l.fixed_rate.or(s.fixed_rate).unwrap_or(false) {
        if t.rate_per_host.is_none() {
            return Err(CoreError::config(
                "a fixed rate needs a rate: give --rate N (requests per second) with --fixed-rate",
            ));
        }
        t.adaptive_rate = false;
    }
    if let Some(x) = l.timeout.or(s.timeout) {
        t.request_timeout = Duration::from_secs(x.max(1));
    }
    if let Some(x) = l.connect_timeout.or(s.connect_timeout) {
        t.connect_timeout = Duration::from_secs(x.max(1));
    }
    if let Some(x) = l.budget.or(s.budget) {
        t.budget = Some(x);
    }
    if let Some(x) = l.max_duration.or(s.max_duration) {
        t.max_duration = Some(Duration::from_secs(x.max(1)));
    }
    if let Some(x) = l.max_response_bytes.or(s.max_response_bytes) {
        t.max_response_bytes = x.max(1024);
    }
    t.accept_invalid_certs = l.insecure;
    t.allowed_hosts = s
        .allow_hosts
        .iter()
        .chain(flags.allow_hosts.iter())
        .cloned()
        .collect();
    t.user_agent = format!("middlebrick/{}", env!("CARGO_PKG_VERSION"));
    Ok(t)
}

/// Layers defaults, the file and the flags into the engine's configuration; `password_env`
/// and `client_secret_env` are read from the process environment.
pub fn resolve(flags: &Flags, file: FileConfig) -> Result<ScanConfig> {
    resolve_with(flags, file, &|var| std::env::var(var).ok())
}

/// [`resolve`] with the environment given as a lookup (tests, a service's own secret store).
pub fn resolve_with(
    flags: &Flags,
    file: FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ScanConfig> {
    let target = parse_target(&flags.url)?;
    let s = file.scan;
    let t = transport(&target, &flags.limits, &s, flags)?;
    let mut cfg = ScanConfig::new(target, t);
    cfg.spec = match &flags.spec_text {
        Some((name, text)) => SpecSource::Text {
            name: name.clone(),
            text: text.clone(),
        },
        None => flags
            .spec
            .as_deref()
            .or(s.spec.as_deref())
            .map(spec_source)
            .unwrap_or(SpecSource::Discover),
    };
    cfg.mode = match flags.mode {
        Some(m) => m,
        None => s
            .mode
            .as_deref()
            .map(parse_mode)
            .transpose()?
            .unwrap_or_default(),
    };
    cfg.allow_delete = flags.allow_delete || s.allow_delete.unwrap_or(false);
    if cfg.allow_delete && cfg.mode < Mode::Active {
        return Err(CoreError::config(
            "--allow-delete only makes sense with --mode active or disposable",
        ));
    }
    cfg.only_checks = parse_checks(if flags.checks.is_empty() {
        &s.checks
    } else {
        &flags.checks
    })?;
    cfg.skip_checks = parse_checks(&[s.skip_checks.clone(), flags.skip_checks.clone()].concat())?;
    if let Some(d) = flags
        .jwt_max_lifetime
        .as_deref()
        .or(s.jwt_max_lifetime.as_deref())
    {
        cfg.settings.jwt_max_lifetime_secs = parse_lifetime(d)?;
    }
    if let Some(p) = flags.base_path.as_deref().or(s.base_path.as_deref()) {
        cfg.base_path = Some(parse_base_path(p)?);
    }
    cfg.callback = callback(flags)?;
    for section in file.identities {
        cfg.identities.push(identity(section, env)?);
    }
    if !flags.headers.is_empty() || !flags.cookies.is_empty() {
        let headers = flags
            .headers
            .iter()
            .map(|h| split_header(h))
            .collect::<Result<Vec<_>>>()?;
        let mut cookies = Vec::new();
        for c in &flags.cookies {
            cookies.extend(split_cookie(c)?);
        }
        cfg.identities.push(IdentityConfig {
            name: "cli".into(),
            headers,
            cookies,
            login: None,
            admin: false,
        });
    }
    let mut names: Vec<&str> = cfg.identities.iter().map(|i| i.name.as_str()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    if names.len() != before {
        return Err(CoreError::config("identity names must be unique"));
    }
    Ok(cfg)
}

/// The SSRF callback options, from the flags only.
fn callback(flags: &Flags) -> Result<CallbackConfig> {
    let url = |flag: &str, v: &Option<String>| -> Result<Option<Url>> {
        v.as_deref()
            .map(|s| {
                let u = Url::parse(s)
                    .map_err(|e| CoreError::config(format!("{flag}: not a URL: {s}: {e}")))?;
                if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                    return Err(CoreError::config(format!(
                        "{flag} needs an http or https URL with a host, got {s}"
                    )));
                }
                Ok(u)
            })
            .transpose()
    };
    let listen = flags
        .callback_listen
        .as_deref()
        .map(|s| {
            s.parse::<std::net::SocketAddr>().map_err(|_| {
                CoreError::config(format!(
                    "--callback-listen needs ADDR:PORT (127.0.0.1:8099), got {s}"
                ))
            })
        })
        .transpose()?;
    Ok(CallbackConfig {
        listen,
        url: url("--callback-url", &flags.callback_url)?,
        collector: url("--callback-collector", &flags.callback_collector)?,
    })
}

/// `api/v2/` -> `/api/v2`; a full URL or a query is a usage error.
pub fn parse_base_path(p: &str) -> Result<String> {
    let p = p.trim();
    if p.contains("://") || p.contains(['?', '#']) {
        return Err(CoreError::config(format!(
            "--base-path takes a path such as /api/v2, not `{p}`"
        )));
    }
    let p = p.trim_matches('/');
    Ok(if p.is_empty() {
        "/".into()
    } else {
        format!("/{p}")
    })
}

/// A lifetime as `90m`, `24h`, `7d`, `3600s` or plain seconds.
pub fn parse_lifetime(text: &str) -> Result<i64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 = number.parse().map_err(|_| {
        CoreError::config(format!("`{text}` is not a duration such as 90m, 24h or 7d"))
    })?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(CoreError::config(format!(
                "`{text}`: the unit must be s, m, h or d"
            )))
        }
    };
    if n <= 0 {
        return Err(CoreError::config(format!(
            "`{text}`: a lifetime must be positive"
        )));
    }
    Ok(n * scale)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

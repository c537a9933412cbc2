//! `middlebrick.toml` and the layering of settings: built-in defaults, then the config file
//! (only when `--config` or `MIDDLEBRICK_CONFIG` names one), then command-line flags. The
//! result is the engine's `ScanConfig`, which holds no live clients. The format is documented
//! in `docs/config.md`.

use crate::args::{ModeArg, ScanArgs};
use anyhow::{anyhow, bail, Context, Result};
use middlebrick_engine::{IdentityConfig, LoginConfig, ScanConfig, SpecSource};
use middlebrick_http::TransportConfig;
use middlebrick_model::{CheckId, Method, Mode};
use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
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

pub fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing the config file {}", path.display()))
}

fn parse_mode(s: &str) -> Result<Mode> {
    match s {
        "passive" => Ok(Mode::Passive),
        "safe" => Ok(Mode::Safe),
        "active" => Ok(Mode::Active),
        "disposable" => Ok(Mode::Disposable),
        other => bail!("unknown mode `{other}` (expected passive, safe, active or disposable)"),
    }
}

fn parse_checks(ids: &[String]) -> Result<Vec<CheckId>> {
    ids.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<CheckId>()
                .map_err(|e| anyhow!("{e}; `middlebrick checks` lists the ids"))
        })
        .collect()
}

fn parse_operation(s: &str) -> Result<(Method, String)> {
    let (m, p) = s
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow!("login must read `METHOD /path`, got `{s}`"))?;
    let method = m.parse::<Method>().map_err(|e| anyhow!(e))?;
    let path = p.trim();
    if !path.starts_with('/') {
        bail!("login path must start with `/`, got `{path}`");
    }
    Ok((method, path.to_string()))
}

fn identity(section: IdentitySection) -> Result<IdentityConfig> {
    if section.name == middlebrick_model::ANONYMOUS {
        bail!("`anonymous` is built in; give the identity another name");
    }
    if section.name.is_empty() || section.name.starts_with('*') {
        bail!(
            "identity name `{}`: names are not empty and do not start with `*` (the plan's \
             wildcard)",
            section.name
        );
    }
    let password = match (&section.password, &section.password_env) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(var)) => Some(std::env::var(var).with_context(|| {
            format!(
                "identity `{}`: environment variable {var} is not set",
                section.name
            )
        })?),
        (None, None) => None,
    };
    let client_secret = match (&section.client_secret, &section.client_secret_env) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(var)) => Some(std::env::var(var).with_context(|| {
            format!(
                "identity `{}`: environment variable {var} is not set",
                section.name
            )
        })?),
        (None, None) => None,
    };
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
        _ => bail!(
            "identity `{}` needs both username and password (or password_env)",
            section.name
        ),
    };
    if login.is_none() && section.headers.is_empty() && section.cookies.is_empty() {
        bail!(
            "identity `{}` has no credentials: give headers, cookies, or username and password",
            section.name
        );
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
        .ok_or_else(|| anyhow!("header must read `Name: value`, got `{h}`"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn split_cookie(c: &str) -> Result<Vec<(String, String)>> {
    c.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow!("cookie must read `name=value`, got `{p}`"))
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
    let u = Url::parse(url)
        .with_context(|| format!("`{url}` is not a URL (e.g. http://127.0.0.1:5000)"))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        bail!("the target must be an http or https URL, got `{url}`");
    }
    if u.host_str().is_none() {
        bail!("the target URL has no host: `{url}`");
    }
    Ok(u)
}

/// Layers defaults, the file and the flags into the engine's configuration.
pub fn resolve(args: &ScanArgs, file: FileConfig) -> Result<ScanConfig> {
    let target = parse_target(&args.url)?;
    let s = file.scan;
    let mut t = TransportConfig {
        base_url: target.clone(),
        ..TransportConfig::default()
    };
    let l = &args.limits;
    if let Some(n) = l.concurrency.or(s.concurrency) {
        if n == 0 {
            bail!("concurrency must be at least 1");
        }
        t.concurrency = n;
    }
    if let Some(r) = l.rate.or(s.rate) {
        t.rate_per_host = (r > 0.0).then_some(r);
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
        .chain(args.allow_hosts.iter())
        .cloned()
        .collect();
    t.user_agent = format!("middlebrick/{}", env!("CARGO_PKG_VERSION"));

    let mut cfg = ScanConfig::new(target, t);
    cfg.spec = args
        .spec
        .as_deref()
        .or(s.spec.as_deref())
        .map(spec_source)
        .unwrap_or(SpecSource::Discover);
    cfg.mode = match args.mode {
        Some(ModeArg::Passive) => Mode::Passive,
        Some(ModeArg::Safe) => Mode::Safe,
        Some(ModeArg::Active) => Mode::Active,
        Some(ModeArg::Disposable) => Mode::Disposable,
        None => s
            .mode
            .as_deref()
            .map(parse_mode)
            .transpose()?
            .unwrap_or_default(),
    };
    cfg.allow_delete = args.allow_delete || s.allow_delete.unwrap_or(false);
    if cfg.allow_delete && cfg.mode < Mode::Active {
        bail!("--allow-delete only makes sense with --mode active or disposable");
    }
    cfg.only_checks = parse_checks(if args.checks.is_empty() {
        &s.checks
    } else {
        &args.checks
    })?;
    cfg.skip_checks = parse_checks(&[s.skip_checks.clone(), args.skip_checks.clone()].concat())?;
    if let Some(d) = args
        .jwt_max_lifetime
        .as_deref()
        .or(s.jwt_max_lifetime.as_deref())
    {
        cfg.settings.jwt_max_lifetime_secs = parse_lifetime(d)?;
    }
    if let Some(p) = args.base_path.as_deref().or(s.base_path.as_deref()) {
        cfg.base_path = Some(parse_base_path(p)?);
    }
    cfg.callback = callback(args)?;
    for section in file.identities {
        cfg.identities.push(identity(section)?);
    }
    if !args.headers.is_empty() || !args.cookies.is_empty() {
        let headers = args
            .headers
            .iter()
            .map(|h| split_header(h))
            .collect::<Result<Vec<_>>>()?;
        let mut cookies = Vec::new();
        for c in &args.cookies {
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
        bail!("identity names must be unique");
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised_and_urls_refused() {
        assert_eq!(parse_base_path("api/v2/").unwrap(), "/api/v2");
        assert_eq!(parse_base_path("/").unwrap(), "/");
        assert!(parse_base_path("http://h/api").is_err());
        assert!(parse_base_path("/api?x=1").is_err());
    }
    use crate::args::Cli;
    use clap::Parser;

    fn scan_args(argv: &[&str]) -> ScanArgs {
        match Cli::parse_from(argv).command {
            crate::args::Command::Scan(a) => *a,
            _ => panic!("scan expected"),
        }
    }

    #[test]
    fn callback_options_are_parsed_and_checked() {
        let a = scan_args(&[
            "middlebrick",
            "scan",
            "http://127.0.0.1:5000",
            "--callback-listen",
            "0.0.0.0:8099",
            "--callback-url",
            "http://10.0.0.5:8099/cb",
            "--callback-collector",
            "https://collector.example.net/in",
        ]);
        let cfg = resolve(&a, FileConfig::default()).unwrap();
        assert_eq!(cfg.callback.listen, Some("0.0.0.0:8099".parse().unwrap()));
        assert_eq!(
            cfg.callback.url.as_ref().map(Url::as_str),
            Some("http://10.0.0.5:8099/cb")
        );
        assert!(cfg.callback.collector.is_some());
        let none = resolve(
            &scan_args(&["middlebrick", "scan", "http://127.0.0.1:5000"]),
            FileConfig::default(),
        )
        .unwrap();
        assert_eq!(none.callback, Default::default());
        for bad in [
            ["--callback-listen", "localhost"],
            ["--callback-url", "ftp://h/x"],
            ["--callback-collector", "not a url"],
        ] {
            let a = scan_args(&[
                "middlebrick",
                "scan",
                "http://127.0.0.1:5000",
                bad[0],
                bad[1],
            ]);
            assert!(resolve(&a, FileConfig::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file: FileConfig = toml::from_str(
            r#"
            [scan]
            mode = "active"
            concurrency = 3
            budget = 500
            [[identity]]
            name = "alice"
            username = "alice"
            password = "pw-alice-1"
            login = "POST /api/auth/login"
            "#,
        )
        .unwrap();
        let args = scan_args(&[
            "middlebrick",
            "scan",
            "http://127.0.0.1:5000",
            "--concurrency",
            "5",
        ]);
        let cfg = resolve(&args, file).unwrap();
        assert_eq!(cfg.mode, Mode::Active);
        assert_eq!(cfg.transport.concurrency, 5);
        assert_eq!(cfg.transport.budget, Some(500));
        let login = cfg.identities[0].login.as_ref().unwrap();
        assert_eq!(
            login.operation,
            Some((Method::Post, "/api/auth/login".to_string()))
        );
        assert_eq!(
            cfg.transport.rate_per_host,
            TransportConfig::default().rate_per_host
        );
    }

    #[test]
    fn an_oauth2_client_is_read_and_its_secret_is_a_secret() {
        let file: FileConfig = toml::from_str(
            r#"
            [[identity]]
            name = "alice"
            username = "alice"
            password = "pw-alice-1"
            client_id = "my-client"
            client_secret = "client-secret-1"
            "#,
        )
        .unwrap();
        let cfg = resolve(&scan_args(&["middlebrick", "scan", "http://h"]), file).unwrap();
        let login = cfg.identities[0].login.as_ref().unwrap();
        assert_eq!(login.client_id.as_deref(), Some("my-client"));
        assert_eq!(login.client_secret.as_deref(), Some("client-secret-1"));
        assert!(cfg.identities[0]
            .secrets()
            .contains(&"client-secret-1".to_string()));
    }

    #[test]
    fn curl_style_header_and_cookie_make_one_identity() {
        let args = scan_args(&[
            "middlebrick",
            "scan",
            "http://h",
            "-H",
            "Authorization: Bearer abc",
            "--cookie",
            "a=1; b=2",
        ]);
        let cfg = resolve(&args, FileConfig::default()).unwrap();
        assert_eq!(cfg.identities.len(), 1);
        assert_eq!(
            cfg.identities[0].headers,
            vec![("Authorization".into(), "Bearer abc".into())]
        );
        assert_eq!(cfg.identities[0].cookies.len(), 2);
    }

    #[test]
    fn mistakes_are_reported_not_ignored() {
        assert!(toml::from_str::<FileConfig>("[scan]\nmdoe = \"safe\"").is_err());
        let args = scan_args(&["middlebrick", "scan", "ftp://h"]);
        assert!(resolve(&args, FileConfig::default()).is_err());
        let args = scan_args(&["middlebrick", "scan", "http://h", "--allow-delete"]);
        assert!(resolve(&args, FileConfig::default()).is_err());
        let args = scan_args(&["middlebrick", "scan", "http://h", "--checks", "auth.nope"]);
        assert!(resolve(&args, FileConfig::default()).is_err());
        let file: FileConfig =
            toml::from_str("[[identity]]\nname = \"x\"\nusername = \"u\"").unwrap();
        let args = scan_args(&["middlebrick", "scan", "http://h"]);
        assert!(resolve(&args, file).is_err());
        for name in ["anonymous", "*", "*privileged", ""] {
            let file: FileConfig = toml::from_str(&format!(
                "[[identity]]\nname = \"{name}\"\nheaders = {{ X-Api-Key = \"k\" }}"
            ))
            .unwrap();
            let err = resolve(&args, file).expect_err(name).to_string();
            assert!(err.contains("name"), "{name}: {err}");
        }
        let file: FileConfig =
            toml::from_str("[[identity]]\nname = \"ci-bot\"\nheaders = { X-Api-Key = \"k\" }")
                .unwrap();
        assert!(resolve(&args, file).is_ok());
    }
}

/// A lifetime as `90m`, `24h`, `7d`, `3600s` or plain seconds.
/// `api/v2/` -> `/api/v2`; a full URL or a query is a usage error.
/// The SSRF callback options; flags only (not the config file), so a front end that builds
/// scans from a file (the MCP server) never binds anything but the default loopback listener.
fn callback(args: &ScanArgs) -> Result<middlebrick_engine::CallbackConfig> {
    let url = |flag: &str, v: &Option<String>| -> Result<Option<Url>> {
        v.as_deref()
            .map(|s| {
                let u = Url::parse(s).with_context(|| format!("{flag}: not a URL: {s}"))?;
                if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                    bail!("{flag} needs an http or https URL with a host, got {s}");
                }
                Ok(u)
            })
            .transpose()
    };
    let listen = args
        .callback_listen
        .as_deref()
        .map(|s| {
            s.parse::<std::net::SocketAddr>()
                .map_err(|_| anyhow!("--callback-listen needs ADDR:PORT (127.0.0.1:8099), got {s}"))
        })
        .transpose()?;
    Ok(middlebrick_engine::CallbackConfig {
        listen,
        url: url("--callback-url", &args.callback_url)?,
        collector: url("--callback-collector", &args.callback_collector)?,
    })
}

fn parse_base_path(p: &str) -> Result<String> {
    let p = p.trim();
    if p.contains("://") || p.contains(['?', '#']) {
        bail!("--base-path takes a path such as /api/v2, not `{p}`");
    }
    let p = p.trim_matches('/');
    Ok(if p.is_empty() {
        "/".into()
    } else {
        format!("/{p}")
    })
}

fn parse_lifetime(text: &str) -> Result<i64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a duration such as 90m, 24h or 7d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("`{text}`: the unit must be s, m, h or d"),
    };
    if n <= 0 {
        bail!("`{text}`: a lifetime must be positive");
    }
    Ok(n * scale)
}

#[cfg(test)]
mod lifetime_tests {
    use super::parse_lifetime;

    #[test]
    fn lifetimes_parse_with_units_and_reject_nonsense() {
        assert_eq!(parse_lifetime("90m").unwrap(), 5400);
        assert_eq!(parse_lifetime("24h").unwrap(), 86_400);
        assert_eq!(parse_lifetime("7d").unwrap(), 604_800);
        assert_eq!(parse_lifetime("3600").unwrap(), 3600);
        assert_eq!(parse_lifetime("15s").unwrap(), 15);
        assert!(parse_lifetime("0h").is_err());
        assert!(parse_lifetime("2w").is_err());
        assert!(parse_lifetime("h").is_err());
    }
}

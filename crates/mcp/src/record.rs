//! Recording scans in the history: what the CLI and the MCP server both do around
//! `middlebrick_engine::scan`. The configuration is hashed without its credentials, so two
//! scans with the same settings and different passwords share a configuration hash and no
//! secret ever reaches the database.

use middlebrick_checks::CHECKS;
use middlebrick_engine::{ScanConfig, SpecSource};
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions, RuleInfo};
use middlebrick_store::{sha256_hex, NewScan, Status};
use std::fmt::Write;

/// The row a scan starts with.
pub fn new_scan(cfg: &ScanConfig) -> NewScan {
    NewScan {
        target: cfg.target.to_string(),
        mode: cfg.mode.to_string(),
        spec_hash: spec_hash(&cfg.spec),
        config_hash: sha256_hex(config_text(cfg).as_bytes()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        checks_version: catalogue_version(),
    }
}

fn spec_hash(spec: &SpecSource) -> Option<String> {
    match spec {
        // An unreadable file fails the scan later, with a better message than this could give.
        SpecSource::File(p) => std::fs::read(p).ok().map(|b| sha256_hex(&b)),
        SpecSource::Url(u) => Some(sha256_hex(format!("url:{u}").as_bytes())),
        SpecSource::Discover => None,
    }
}

/// Every setting that changes what a scan does, and no credential: identities contribute
/// their names, header and cookie names and whether they sign in, never values or usernames.
fn config_text(cfg: &ScanConfig) -> String {
    let mut s = format!(
        "target={}\nspec={:?}\nmode={}\nallow_delete={}\nonly={:?}\nskip={:?}\ncrawl={}\n\
         transport={:?}\n",
        cfg.target,
        cfg.spec,
        cfg.mode,
        cfg.allow_delete,
        cfg.only_checks,
        cfg.skip_checks,
        cfg.crawl_limit,
        cfg.transport
    );
    for i in &cfg.identities {
        let headers: Vec<&str> = i.headers.iter().map(|(k, _)| k.as_str()).collect();
        let cookies: Vec<&str> = i.cookies.iter().map(|(k, _)| k.as_str()).collect();
        let login = i
            .login
            .as_ref()
            .map(|l| format!("{:?} {:?}", l.operation, l.token_field));
        let _ = writeln!(
            s,
            "identity={} admin={} headers={headers:?} cookies={cookies:?} login={login:?}",
            i.name, i.admin
        );
    }
    s
}

/// A digest of the catalogue: the number of checks and a hash of their ids and metadata, so a
/// history reader can tell which scans ran the same checks.
pub fn catalogue_version() -> String {
    let mut text = String::new();
    for c in CHECKS {
        let m = c.meta();
        let _ = writeln!(
            text,
            "{} {:?} {:?} {:?} {}",
            m.id, m.severity, m.kind, m.cwe, m.title
        );
    }
    format!("{}-{}", CHECKS.len(), &sha256_hex(text.as_bytes())[..12])
}

/// The catalogue as the report renderers need it.
pub fn rules() -> Vec<RuleInfo> {
    CHECKS
        .iter()
        .map(|c| {
            let m = c.meta();
            RuleInfo {
                id: m.id,
                title: m.title.to_string(),
                severity: m.severity,
                cwe: m.cwe.to_vec(),
                owasp: m.owasp.to_vec(),
                description: m.description.to_string(),
                remediation: m.remediation.render(&[]),
            }
        })
        .collect()
}

/// The report as it is stored: the JSON writer's output, so redaction and evidence caps are
/// the same as in a `--format json` file.
pub fn report_json(report: &Report, redactor: &Redactor) -> String {
    let opts = RenderOptions {
        color: false,
        verbose: false,
        spec_file: None,
        rules: rules(),
    };
    render(report, Format::Json, &opts, redactor)
}

/// How a scan that produced a report ended.
pub fn status_of(report: &Report, cancelled: bool) -> Status {
    if cancelled {
        Status::Interrupted
    } else if report.incomplete {
        Status::Incomplete
    } else {
        Status::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_engine::{IdentityConfig, LoginConfig};
    use middlebrick_http::TransportConfig;

    fn cfg(password: &str, token: &str) -> ScanConfig {
        let url: url::Url = "http://127.0.0.1:5000/".parse().unwrap();
        let mut c = ScanConfig::new(url.clone(), TransportConfig::new(url));
        c.identities.push(IdentityConfig {
            name: "alice".into(),
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            cookies: vec![("session".into(), token.into())],
            login: Some(LoginConfig {
                username: "alice".into(),
                password: password.into(),
                operation: None,
                token_field: None,
                ..LoginConfig::default()
            }),
            admin: false,
        });
        c
    }

    #[test]
    fn the_config_hash_ignores_credentials_and_the_text_holds_none() {
        let a = cfg("Canary-pass-1", "canary-token-1");
        let b = cfg("Other-pass-2", "other-token-2");
        assert_eq!(new_scan(&a).config_hash, new_scan(&b).config_hash);
        let text = config_text(&a);
        assert!(!text.contains("Canary-pass-1") && !text.contains("canary-token-1"));
        let mut c = cfg("Canary-pass-1", "canary-token-1");
        c.allow_delete = true;
        assert_ne!(new_scan(&a).config_hash, new_scan(&c).config_hash);
    }
}

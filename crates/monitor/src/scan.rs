//! Running one scan for the service: a stored target becomes a [`ScanRequest`], the request
//! every front end hands to `middlebrick_core::scan`, and core resolves and runs it. The
//! service adds only what is its own: environment references for secrets (the database
//! never holds a credential), the sealed headers of a contract scan, and which modes it runs.

use middlebrick_core::scan::{self as core_scan, IdentityRequest, ScanRequest, Secret, SpecInput};
use middlebrick_engine::ScanConfig;
use middlebrick_model::{Mode, Redactor, Report};
use middlebrick_store::service::{Completion, FindingRow, Target};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a target's `config` may hold: request headers whose values name environment
/// variables of the process that runs the scan (`env:NAME`), and identities as
/// `middlebrick.toml`'s, each secret given as `{"env": "NAME"}`; never a value.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityRequest>,
}

impl TargetConfig {
    pub fn parse(json: &str) -> Result<TargetConfig, String> {
        let c: TargetConfig = serde_json::from_str(json).map_err(|e| format!("config: {e}"))?;
        for (name, v) in &c.headers {
            if !v.starts_with("env:") || v.len() == 4 {
                return Err(format!(
                    "config.headers.{name}: give a reference to an environment variable \
                     (\"env:NAME\"); the service stores no credential"
                ));
            }
        }
        let mut probe = ScanRequest::new("http://127.0.0.1/");
        probe.identities = c.identities.clone();
        if let Some(field) = probe.inline_secrets().first() {
            return Err(format!(
                "config.identities: {field} is a value; give {{\"env\": \"NAME\"}}, \
                 the service stores no credential"
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for i in &c.identities {
            if i.name.is_empty() || !names.insert(i.name.as_str()) || i.name == CLIENT {
                return Err(format!(
                    "config.identities: each identity needs its own name (not `{CLIENT}`), got `{}`",
                    i.name
                ));
            }
        }
        Ok(c)
    }
}

/// The identity that carries `config.headers` or a contract scan's headers.
const CLIENT: &str = "client";

/// Where a target's stored `spec` points: an http(s) URL, or the description's text stored
/// as `{"text": "…"}`. A path on the service's disk is refused.
pub fn spec_input(stored: &str) -> Result<SpecInput, String> {
    if let Ok(input) = serde_json::from_str::<SpecInput>(stored) {
        return Ok(input);
    }
    let ok = url::Url::parse(stored)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if ok {
        Ok(SpecInput::Url(stored.to_string()))
    } else {
        Err(format!(
            "spec `{stored}`: give an http or https URL, or {{\"text\": …}} with the \
             description itself; the service reads no file"
        ))
    }
}

/// The scan request for `target`, with `headers` (a contract scan's, already unsealed) or
/// the target's own `config` (environment references, read when the request is resolved).
pub fn request_of(target: &Target, headers: &[(String, String)]) -> Result<ScanRequest, String> {
    let url: url::Url = target
        .url
        .parse()
        .map_err(|e| format!("apiUrl {}: {e}", target.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("apiUrl {}: only http and https", target.url));
    }
    let mut request = ScanRequest::new(target.url.clone());
    request.spec = match target.spec.as_deref() {
        None | Some("") => None,
        Some(s) => Some(spec_input(s)?),
    };
    request.mode = Some(match target.mode.as_str() {
        "" => Mode::Safe,
        m => serde_json::from_value(serde_json::Value::String(m.to_string()))
            .map_err(|_| format!("mode {m}: passive, safe, active or disposable"))?,
    });
    request.checks = target.checks.clone();
    let config = TargetConfig::parse(&target.config_json)?;
    let client: BTreeMap<String, Secret> = if headers.is_empty() {
        config
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Secret::Env {
                        env: v[4..].to_string(),
                    },
                )
            })
            .collect()
    } else {
        headers
            .iter()
            .map(|(k, v)| (k.clone(), Secret::Value(v.clone())))
            .collect()
    };
    if !client.is_empty() {
        request.identities.push(IdentityRequest {
            name: CLIENT.into(),
            headers: client,
            ..IdentityRequest::default()
        });
    }
    request.identities.extend(config.identities);
    Ok(request)
}

/// The engine's configuration for `request` as core resolves it, with the secrets read from
/// this process's environment, checked against what the service runs.
pub fn resolve(
    request: &ScanRequest,
    allow: &middlebrick_core::Allowlist,
    allow_active: bool,
) -> Result<ScanConfig, String> {
    let cfg = request.resolve().map_err(|e| e.to_string())?;
    mode_allowed(cfg.mode, allow_active)?;
    allow.check(&cfg)?;
    Ok(cfg)
}

/// The service runs `passive` and `safe` scans, `active` ones only when started with
/// `--allow-active`, and never `disposable` ones (writes to any object).
pub fn mode_allowed(mode: Mode, allow_active: bool) -> Result<(), String> {
    match mode {
        Mode::Disposable => Err("mode disposable is never run by the service".into()),
        Mode::Active if !allow_active => {
            Err("mode active needs the service started with --allow-active".into())
        }
        _ => Ok(()),
    }
}

/// The engine's configuration for `request` as it is created, before anything is stored,
/// with every environment reference left unread: mode, checks and spec are checked, and the
/// caller checks the mode and the allowlist on it.
pub fn unresolved(request: &ScanRequest) -> Result<ScanConfig, String> {
    request
        .resolve_with(&|_| Some("unread".into()))
        .map_err(|e| e.to_string())
}

/// Runs the scan through core; the report is redacted (the redactor knows every secret the
/// scan was given or learnt), and the redactor comes back for what is written from the report
/// later (alert bodies).
pub async fn run_scan(
    cfg: ScanConfig,
    cancel: CancellationToken,
) -> Result<(Report, Arc<Redactor>), String> {
    let out = core_scan::run_config(cfg, cancel, |_| {}, Arc::new(Redactor::new()))
        .await
        .map_err(|e| e.to_string())?;
    // The stored JSON goes through the JSON renderer with the scan's redactor, as the CLI's
    // history does; the struct we keep is read back from it so both say the same.
    let json = out.report_json();
    let report = serde_json::from_str::<Report>(&json).unwrap_or(out.report);
    Ok((report, out.redactor))
}

/// The rows a completed scan writes: the report, the score, a score per category (the
/// checks' families that ran) and one row per finding.
pub fn completion(report: &Report) -> Completion {
    let mut families: BTreeMap<&str, Vec<middlebrick_model::Finding>> = BTreeMap::new();
    for c in report.coverage.checks.iter().filter(|c| c.ran) {
        families.entry(c.check.family()).or_default();
    }
    for f in &report.findings {
        families
            .entry(f.check.family())
            .or_default()
            .push(f.clone());
    }
    let categories: BTreeMap<&str, u8> = families
        .iter()
        .map(|(k, v)| (*k, middlebrick_engine::score(v).0))
        .collect();
    Completion {
        report_json: serde_json::to_string(report).unwrap_or_default(),
        score: i64::from(report.score),
        grade: report.grade.as_str().to_string(),
        categories_json: serde_json::to_string(&categories).unwrap_or_default(),
        findings: report
            .findings
            .iter()
            .map(|f| FindingRow {
                fingerprint: f.id.clone(),
                check_id: f.check.as_str().to_string(),
                category: f.check.family().to_string(),
                severity: f.severity.as_str().to_string(),
                title: f.title.clone(),
                location: f.location(),
                description: f.description.clone(),
                remediation: f.remediation.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(config: &str) -> Target {
        Target {
            id: "t".into(),
            name: "t".into(),
            url: "http://127.0.0.1:5000/".into(),
            spec: None,
            config_json: config.into(),
            mode: "safe".into(),
            checks: vec!["info.verbose-error".into()],
            schedule_kind: None,
            schedule: None,
            next_run_at: None,
            max_concurrent: 1,
            origin: "api".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn config_secrets_must_be_environment_references() {
        assert!(TargetConfig::parse(r#"{"headers":{"Authorization":"Bearer x"}}"#).is_err());
        assert!(TargetConfig::parse(r#"{"headers":{"Authorization":"env:"}}"#).is_err());
        assert!(TargetConfig::parse(r#"{"cookies":{}}"#).is_err());
        assert!(TargetConfig::parse(r#"{"headers":{"X-Key":"env:MB_TEST_NOPE"}}"#).is_ok());
        let inline = r#"{"identities":[{"name":"alice","username":"alice","password":"pw"}]}"#;
        assert!(TargetConfig::parse(inline)
            .unwrap_err()
            .contains("password"));
        let by_env =
            r#"{"identities":[{"name":"alice","username":"alice","password":{"env":"PW"}}]}"#;
        assert_eq!(TargetConfig::parse(by_env).unwrap().identities.len(), 1);
        let client = r#"{"identities":[{"name":"client","headers":{"X":{"env":"V"}}}]}"#;
        assert!(TargetConfig::parse(client).is_err());
    }

    #[test]
    fn a_spec_is_a_url_or_the_text_never_a_file() {
        assert_eq!(
            spec_input("http://127.0.0.1:5000/openapi.json").unwrap(),
            SpecInput::Url("http://127.0.0.1:5000/openapi.json".into())
        );
        assert_eq!(
            spec_input(r#"{"text":"openapi: 3.0.3"}"#).unwrap(),
            SpecInput::Text("openapi: 3.0.3".into())
        );
        for file in ["/etc/passwd", "spec.yaml", "file:///etc/passwd"] {
            assert!(spec_input(file).is_err(), "{file}");
        }
    }

    #[test]
    fn a_target_becomes_a_request_that_core_resolves() {
        let env = |v: &str| (v == "MB_TEST_PW").then(|| "sesame".to_string());
        let sealed = request_of(&target("{}"), &[("X-Key".into(), "v".into())]).unwrap();
        assert_eq!(sealed.identities[0].name, "client");
        let cfg = sealed.resolve_with(&env).unwrap();
        assert_eq!(cfg.mode, Mode::Safe);
        assert_eq!(
            cfg.only_checks,
            [middlebrick_model::CheckId::InfoVerboseError]
        );
        assert_eq!(cfg.identities[0].headers[0].1, "v");

        let config = r#"{"headers":{"X-Key":"env:MB_TEST_UNSET_VAR"}}"#;
        let missing = request_of(&target(config), &[]).unwrap().resolve_with(&env);
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("MB_TEST_UNSET_VAR"));

        let config = r#"{"identities":[{"name":"alice","username":"alice",
                        "password":{"env":"MB_TEST_PW"}}]}"#;
        let mut t = target(config);
        t.spec = Some("http://127.0.0.1:5000/openapi.json".into());
        t.mode = "active".into();
        let request = request_of(&t, &[]).unwrap();
        // What is stored and resolved names the variable, never its value.
        assert!(!serde_json::to_string(&request).unwrap().contains("sesame"));
        let cfg = request.resolve_with(&env).unwrap();
        assert_eq!(cfg.mode, Mode::Active);
        assert_eq!(cfg.identities[0].name, "alice");
        assert!(matches!(cfg.spec, middlebrick_engine::SpecSource::Url(_)));

        let mut t = target("{}");
        t.url = "file:///etc/passwd".into();
        assert!(request_of(&t, &[]).is_err());
        t = target("{}");
        t.spec = Some("/etc/passwd".into());
        assert!(request_of(&t, &[]).is_err());
        t = target("{}");
        t.mode = "reckless".into();
        assert!(request_of(&t, &[]).is_err());
    }

    #[test]
    fn the_service_never_runs_disposable_and_active_only_when_allowed() {
        assert!(mode_allowed(Mode::Disposable, true).is_err());
        assert!(mode_allowed(Mode::Active, false).is_err());
        assert!(mode_allowed(Mode::Active, true).is_ok());
        assert!(mode_allowed(Mode::Safe, false).is_ok());
    }
}

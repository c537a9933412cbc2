//! Running one scan for the service. Until the shared front-end layer lands, this is the one
//! place that turns a stored target into an engine configuration and runs it, as the CLI's
//! `scan` does for the same URL, spec, mode and checks.

use middlebrick_engine::{IdentityConfig, ScanConfig, ScanHandle, SpecSource};
use middlebrick_http::TransportConfig;
use middlebrick_model::{CheckId, Mode, Redactor, Report};
use middlebrick_store::service::{Completion, FindingRow, Target};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a target's `config` may hold: request headers whose values name environment
/// variables of the process that runs the scan (`env:NAME`), never the values.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
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
        Ok(c)
    }

    /// The headers with their values read from this process's environment.
    fn resolve(&self) -> Result<Vec<(String, String)>, String> {
        self.headers
            .iter()
            .map(|(k, v)| {
                let var = &v[4..];
                std::env::var(var)
                    .map(|val| (k.clone(), val))
                    .map_err(|_| format!("header {k}: environment variable {var} is not set"))
            })
            .collect()
    }
}

/// The engine configuration for `target`, with `headers` (a contract scan's, already
/// unsealed) or the target's own from the environment.
pub fn config_of(target: &Target, headers: &[(String, String)]) -> Result<ScanConfig, String> {
    let url: url::Url = target
        .url
        .parse()
        .map_err(|e| format!("apiUrl {}: {e}", target.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("apiUrl {}: only http and https", target.url));
    }
    let mut t = TransportConfig::new(url.clone());
    t.user_agent = format!("middlebrick/{}", env!("CARGO_PKG_VERSION"));
    let mut cfg = ScanConfig::new(url, t);
    cfg.spec = match target.spec.as_deref() {
        None | Some("") => SpecSource::Discover,
        Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
            SpecSource::Url(s.parse().map_err(|e| format!("spec {s}: {e}"))?)
        }
        Some(s) => SpecSource::File(s.into()),
    };
    cfg.mode = match target.mode.as_str() {
        "passive" => Mode::Passive,
        "safe" | "" => Mode::Safe,
        "active" => Mode::Active,
        "disposable" => Mode::Disposable,
        other => return Err(format!("mode {other}: passive, safe, active or disposable")),
    };
    cfg.only_checks = target
        .checks
        .iter()
        .map(|c| c.parse::<CheckId>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut all = headers.to_vec();
    if headers.is_empty() {
        all = TargetConfig::parse(&target.config_json)?.resolve()?;
    }
    if !all.is_empty() {
        cfg.identities.push(IdentityConfig {
            name: "client".into(),
            headers: all,
            cookies: Vec::new(),
            login: None,
            admin: false,
        });
    }
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

/// Runs the scan; the report is redacted (the engine's redactor knows the headers), and the
/// redactor comes back for what is written from the report later (alert bodies).
pub async fn run_scan(
    cfg: ScanConfig,
    cancel: CancellationToken,
) -> Result<(Report, Arc<Redactor>), String> {
    let handle = ScanHandle { cancel };
    let sink: middlebrick_engine::EventSink = Arc::new(|_| {});
    let out = middlebrick_engine::scan(cfg, sink, handle)
        .await
        .map_err(|e| e.to_string())?;
    let mut report = out.report;
    // The stored JSON goes through the JSON renderer with the scan's redactor, as the CLI's
    // history does; the struct we keep is read back from it so both say the same.
    let json = middlebrick_core::record::report_json(&report, &out.redactor);
    if let Ok(r) = serde_json::from_str::<Report>(&json) {
        report = r;
    }
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
    fn config_headers_must_be_environment_references() {
        assert!(TargetConfig::parse(r#"{"headers":{"Authorization":"Bearer x"}}"#).is_err());
        assert!(TargetConfig::parse(r#"{"headers":{"Authorization":"env:"}}"#).is_err());
        assert!(TargetConfig::parse(r#"{"identities":[]}"#).is_err());
        assert!(TargetConfig::parse(r#"{"headers":{"X-Key":"env:MB_TEST_NOPE"}}"#).is_ok());
    }

    #[test]
    fn a_target_becomes_the_engine_configuration() {
        let cfg = config_of(&target("{}"), &[("X-Key".into(), "v".into())]).unwrap();
        assert_eq!(cfg.mode, Mode::Safe);
        assert_eq!(cfg.only_checks, [CheckId::InfoVerboseError]);
        assert_eq!(cfg.identities[0].headers[0].1, "v");
        let missing = config_of(
            &target(r#"{"headers":{"X-Key":"env:MB_TEST_UNSET_VAR"}}"#),
            &[],
        );
        assert!(missing.unwrap_err().contains("MB_TEST_UNSET_VAR"));
        let mut t = target("{}");
        t.url = "file:///etc/passwd".into();
        assert!(config_of(&t, &[]).is_err());
    }
}

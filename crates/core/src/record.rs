//! Recorded scans: the row a scan starts with, the report stored when it ends, and reading
//! reports back, for every front end alike. The configuration is hashed without its
//! credentials, so two scans with the same settings and different passwords share a
//! configuration hash and no secret ever reaches the database. The SQL is in
//! `middlebrick_store`.

use crate::error::{CoreError, Result};
use middlebrick_engine::{ScanConfig, SpecSource};
use middlebrick_model::{Redactor, Report};
use middlebrick_report::{render, Format, RenderOptions};
use middlebrick_store::{sha256_hex, NewScan, ScanId, Status, Store};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The history database's path: the one given, else the default under the user's data
/// directory.
pub fn history_path(given: Option<&Path>) -> Result<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(middlebrick_store::default_path)
        .ok_or(CoreError::NoHistoryPath)
}

/// Opens (and migrates) the history database.
pub fn open_history(given: Option<&Path>) -> Result<Store> {
    Ok(Store::open(&history_path(given)?)?)
}

/// The row a scan starts with.
pub fn new_scan(cfg: &ScanConfig) -> NewScan {
    NewScan {
        target: cfg.target.to_string(),
        mode: cfg.mode.to_string(),
        spec_hash: spec_hash(&cfg.spec),
        config_hash: sha256_hex(config_text(cfg).as_bytes()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        checks_version: crate::catalogue::version(),
    }
}

fn spec_hash(spec: &SpecSource) -> Option<String> {
    match spec {
        // An unreadable file fails the scan later, with a better message than this could give.
        SpecSource::File(p) => std::fs::read(p).ok().map(|b| sha256_hex(&b)),
        SpecSource::Url(u) => Some(sha256_hex(format!("url:{u}").as_bytes())),
        SpecSource::Text { text, .. } => Some(sha256_hex(text.as_bytes())),
        SpecSource::Discover => None,
    }
}

/// Every setting that changes what a scan does, and no credential: identities contribute
/// their names, header and cookie names and whether they sign in, never values or usernames.
fn config_text(cfg: &ScanConfig) -> String {
    let spec = match &cfg.spec {
        // The text is hashed on its own; its bytes need not be in the configuration's text.
        SpecSource::Text { name, .. } => format!("Text({name:?})"),
        other => format!("{other:?}"),
    };
    let mut s = format!(
        "target={}\nspec={spec}\nmode={}\nallow_delete={}\nonly={:?}\nskip={:?}\ncrawl={}\n\
         transport={:?}\n",
        cfg.target,
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

/// The report as it is stored: the JSON writer's output, so redaction and evidence caps are
/// the same as in a `--format json` file.
pub fn report_json(report: &Report, redactor: &Redactor) -> String {
    let opts = RenderOptions {
        color: false,
        verbose: false,
        spec_file: None,
        rules: crate::catalogue::rules(),
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

/// A scan being recorded: the store and the row's id, `running` until `finish` or `fail`.
#[derive(Debug)]
pub struct Recording {
    pub store: Store,
    pub id: ScanId,
}

impl Recording {
    pub fn start(store: Store, cfg: &ScanConfig) -> Result<Recording> {
        let id = store.start(&new_scan(cfg))?;
        Ok(Recording { store, id })
    }

    /// Stores the report (as [`report_json`] writes it) and its outcome.
    pub fn finish(&mut self, report: &Report, redactor: &Redactor, cancelled: bool) -> Result<()> {
        let json = report_json(report, redactor);
        let status = status_of(report, cancelled);
        Ok(self.store.finish(self.id, report, &json, status)?)
    }

    /// The scan ran no further than `error`; the row keeps it.
    pub fn fail(&self, error: &str) -> Result<()> {
        Ok(self.store.fail(self.id, error)?)
    }

    /// The previous recorded scan of the same target and its report, for `--compare-last`.
    pub fn previous(&self, target: &str) -> Result<Option<(ScanId, Report)>> {
        let Some(prev) = self.store.previous(target, self.id)? else {
            return Ok(None);
        };
        let report = self.store.report(prev)?.ok_or(CoreError::NoReport(prev))?;
        Ok(Some((prev, report)))
    }
}

/// A recorded scan's report; an error when the scan recorded none.
pub fn load(store: &Store, id: ScanId) -> Result<Report> {
    store.report(id)?.ok_or(CoreError::NoReport(id))
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

    #[test]
    fn a_recorded_report_is_read_back_and_a_failed_scan_has_none() {
        let c = cfg("pw-1", "tok-1");
        let mut rec = Recording::start(Store::open_in_memory().unwrap(), &c).unwrap();
        let report = crate::testing::report(
            c.target.as_str(),
            &[("info.verbose-error", &["GET /a"])],
            vec![crate::testing::finding(
                "f1",
                "info.verbose-error",
                "medium",
                Some(("GET", "/a")),
            )],
            false,
        );
        rec.finish(&report, &Redactor::new(), false).unwrap();
        let back = load(&rec.store, rec.id).unwrap();
        assert_eq!(back.findings.len(), report.findings.len());
        assert_eq!(rec.store.get(rec.id).unwrap().status, Status::Complete);
        let second = Recording::start(rec.store, &c).unwrap();
        let (prev, old) = second.previous(&report.target).unwrap().unwrap();
        assert_eq!(prev, rec.id);
        assert_eq!(old.findings.len(), report.findings.len());
        second.fail("unreachable").unwrap();
        assert!(matches!(
            load(&second.store, second.id),
            Err(CoreError::NoReport(_))
        ));
    }
}

//! The report contract (`docs/report-format.md`): what every output format renders.

use crate::check::{CheckId, Mode, Severity};
use crate::coverage::{CheckRun, IdentityRun, NotReached, Tally};
use crate::finding::Finding;
use crate::operation::SpecVersion;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagnosticLevel {
    Info,
    Warning,
    Error,
}

/// Something the scan could not do or wants the user to know (a skipped operation, a failed
/// sign-in, partial coverage). Never a finding about the target's security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub level: DiagnosticLevel,
    /// A short stable code (`spec.broken-operation`, `identity.sign-in-failed`, …).
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// What the user can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(level: DiagnosticLevel, code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            level,
            code: code.to_string(),
            message: message.into(),
            operation: None,
            hint: None,
        }
    }

    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Self::new(DiagnosticLevel::Warning, code, message)
    }

    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::new(DiagnosticLevel::Error, code, message)
    }

    pub fn info(code: &str, message: impl Into<String>) -> Self {
        Self::new(DiagnosticLevel::Info, code, message)
    }

    pub fn on(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
    F,
}

impl Grade {
    /// Bands published in `docs/scoring.md`.
    pub fn from_score(score: u8) -> Grade {
        match score {
            90..=100 => Grade::A,
            80..=89 => Grade::B,
            70..=79 => Grade::C,
            60..=69 => Grade::D,
            _ => Grade::F,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// How much of the API the scan reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub spec: SpecVersion,
    /// Where the operations came from: a file path, a URL, or `crawl`.
    pub source: String,
    pub operations: usize,
    /// Operations that got at least one answer from the target.
    pub operations_reached: usize,
    /// True when there was no spec and operations were found by crawling.
    pub partial: bool,
    /// The path operation paths were joined to (`/api/v2`); empty for the origin root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_path: String,
    /// Operations that never got a real answer (only 404, 405 or the not-found answer, or
    /// nothing), as `METHOD /path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreached: Vec<String>,
    /// Each operation of `unreached` with why (since 1.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_reached: Vec<NotReached>,
    /// Every check of the catalogue: ran (and where) or skipped (and why). Since 1.2; for an
    /// `audit` report, its rules, each API-wide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckRun>,
    /// Every identity the scan was given or registered, signed in or not (since 1.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<IdentityRun>,
    /// Why the scan stopped before the end (budget, time limit, interruption); none when it
    /// ran to the end (since 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The request rate used for each host the scan sent to (since 1.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateUse>,
}

/// The rate one host was sent requests at, in whole requests per second (rounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateUse {
    /// `host:port`.
    pub host: String,
    /// The rate followed the target's answers (backed off and rose); false: fixed.
    pub adaptive: bool,
    /// The cap the user set (`--rate`); none when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<u32>,
    pub start: u32,
    /// The rate when the scan ended.
    pub end: u32,
    pub min: u32,
    pub max: u32,
    /// How many times it backed off (429, 503, no answer, latency rising, an outage).
    pub cuts: u32,
}

impl Coverage {
    /// A coverage record with nothing run yet.
    pub fn new(spec: SpecVersion, source: impl Into<String>, operations: usize) -> Coverage {
        Coverage {
            spec,
            source: source.into(),
            operations,
            operations_reached: operations,
            partial: false,
            base_path: String::new(),
            unreached: Vec::new(),
            not_reached: Vec::new(),
            checks: Vec::new(),
            identities: Vec::new(),
            stopped: None,
            rates: Vec::new(),
        }
    }

    pub fn tally(&self) -> Tally {
        crate::coverage::tally(
            &self.checks,
            self.operations,
            &self.not_reached,
            self.unreached.len(),
        )
    }

    /// Identities that were given and did not sign in.
    pub fn failed_identities(&self) -> impl Iterator<Item = &IdentityRun> {
        self.identities.iter().filter(|i| !i.signed_in)
    }

    /// True when most operations the scan sent something to never answered for real.
    pub fn mostly_unreached(&self) -> bool {
        let t = self.tally();
        t.sent > 0 && t.sent_unreached * 2 > t.sent
    }

    /// The line a person reads first: `12 of 31 checks ran; 16 of 42 operations reached;
    /// identity bob failed to sign in; stopped early: …`.
    pub fn headline(&self) -> String {
        let t = self.tally();
        let mut parts = Vec::new();
        if t.checks > 0 {
            parts.push(format!("{} of {} checks ran", t.checks_ran, t.checks));
        }
        parts.push(format!(
            "{} of {} operations reached",
            self.operations_reached, self.operations
        ));
        let failed: Vec<&str> = self.failed_identities().map(|i| i.name.as_str()).collect();
        match failed.as_slice() {
            [] => {}
            [one] => parts.push(format!("identity {one} failed to sign in")),
            many => parts.push(format!("identities {} failed to sign in", many.join(", "))),
        }
        if let Some(why) = &self.stopped {
            parts.push(format!("stopped early: {why}"));
        }
        parts.join("; ")
    }

    /// Checks that did not run, with why, in catalogue order.
    pub fn skipped_checks(&self) -> impl Iterator<Item = (&CheckRun, &str)> {
        self.checks
            .iter()
            .filter(|c| !c.ran)
            .map(|c| (c, c.reason.as_deref().unwrap_or("not run")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: String,
    pub tool: ToolInfo,
    pub target: String,
    pub mode: Mode,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub requests_sent: u64,
    pub score: u8,
    pub grade: Grade,
    pub coverage: Coverage,
    /// Names of the identities used (never their credentials).
    pub identities: Vec<String>,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    /// True when the scan stopped early (budget, time limit, interrupted, circuit breaker).
    #[serde(default)]
    pub incomplete: bool,
    /// The framework, server, database and driver the scan detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<crate::stack::Stack>,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn highest_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Why a finding of `check` at `operation` (`METHOD /path`, none for API-wide) that is
    /// absent from this report cannot be called fixed: the check did not run there, the
    /// operation was not reached, the scan stopped early, or the report predates the records.
    /// `None` when this scan did test it (and found nothing).
    pub fn not_retested(&self, check: CheckId, operation: Option<&str>) -> Option<String> {
        let c = &self.coverage;
        if c.checks.is_empty() {
            return Some(format!(
                "the report (schema {}) does not record which checks ran",
                self.schema_version
            ));
        }
        if self.incomplete {
            return Some("the scan stopped early".into());
        }
        match c.checks.iter().find(|r| r.check == check) {
            None => return Some(format!("{check} is not in this scan's catalogue")),
            Some(r) if !r.ran => {
                return Some(format!(
                    "{check} did not run ({})",
                    r.reason.as_deref().unwrap_or("not run")
                ))
            }
            Some(r) if !r.covers(operation) => {
                return Some(format!(
                    "{check} did not run on {}",
                    operation.unwrap_or("the API as a whole")
                ))
            }
            Some(_) => {}
        }
        let op = operation?;
        c.unreached
            .iter()
            .any(|u| u == op)
            .then(|| format!("{op} was not reached"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_only_where_the_check_ran_on_a_reached_operation() {
        let mut coverage = Coverage::new(crate::SpecVersion::OpenApi30, "s", 2);
        let mut bola = CheckRun::ran(CheckId::AuthzBola);
        bola.operations = vec!["GET /a/{id}".into(), "GET /b/{id}".into()];
        coverage.checks = vec![
            bola,
            CheckRun::skipped(CheckId::InfoVerboseError, "not selected"),
        ];
        coverage.unreached = vec!["GET /b/{id}".into()];
        let mut r = Report {
            schema_version: "1.4".into(),
            tool: ToolInfo {
                name: "m".into(),
                version: "0".into(),
            },
            target: "http://t/".into(),
            mode: Mode::Safe,
            started_at: String::new(),
            duration_ms: 0,
            requests_sent: 0,
            score: 100,
            grade: Grade::A,
            coverage,
            identities: vec![],
            findings: vec![],
            diagnostics: vec![],
            incomplete: false,
            stack: None,
        };
        assert_eq!(
            r.not_retested(CheckId::AuthzBola, Some("GET /a/{id}")),
            None
        );
        assert_eq!(
            r.not_retested(CheckId::AuthzBola, Some("GET /b/{id}"))
                .unwrap(),
            "GET /b/{id} was not reached"
        );
        assert_eq!(
            r.not_retested(CheckId::AuthzBola, Some("GET /c")).unwrap(),
            "authz.bola did not run on GET /c"
        );
        assert_eq!(
            r.not_retested(CheckId::InfoVerboseError, Some("GET /a/{id}"))
                .unwrap(),
            "info.verbose-error did not run (not selected)"
        );
        r.incomplete = true;
        assert!(r
            .not_retested(CheckId::AuthzBola, Some("GET /a/{id}"))
            .is_some());
        r.coverage.checks.clear();
        assert!(r
            .not_retested(CheckId::AuthzBola, Some("GET /a/{id}"))
            .is_some());
    }

    #[test]
    fn grade_bands() {
        assert_eq!(Grade::from_score(100), Grade::A);
        assert_eq!(Grade::from_score(90), Grade::A);
        assert_eq!(Grade::from_score(89), Grade::B);
        assert_eq!(Grade::from_score(60), Grade::D);
        assert_eq!(Grade::from_score(59), Grade::F);
        assert_eq!(Grade::from_score(0), Grade::F);
    }
}

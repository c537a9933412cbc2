//! The report contract (`docs/report-format.md`): what every output format renders.

use crate::check::{Mode, Severity};
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
    /// Requests the engine's object ledger refused in this mode, with the check that wanted
    /// each: what the scan could not test (issue 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untested: Vec<Untested>,
}

/// A request the scan did not send because it would have changed an object or an account the
/// scan did not create, and the check that wanted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untested {
    /// The check that asked (absent for the engine's own requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::CheckId>,
    /// `METHOD /path/{template}`, or the request's own path when it had no operation.
    pub operation: String,
    pub reason: String,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

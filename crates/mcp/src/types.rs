//! The tools' inputs and structured outputs. Their JSON schemas (from `schemars`) are what an
//! assistant sees in `tools/list`, so the doc comments are written for it.

use middlebrick_model::{Finding, Report};
use middlebrick_store::ScanSummary;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeInput {
    /// Only GET/HEAD/OPTIONS requests the spec lists; only passive checks.
    Passive,
    /// Adds probes that change nothing (the default).
    Safe,
    /// May send state-changing requests; refused unless the server was started with --allow-active.
    Active,
    /// For throw-away environments only: writes to any object, the identities' own data
    /// included; refused unless the server was started with --allow-disposable.
    Disposable,
}

impl ModeInput {
    pub fn mode(self) -> middlebrick_model::Mode {
        match self {
            ModeInput::Passive => middlebrick_model::Mode::Passive,
            ModeInput::Safe => middlebrick_model::Mode::Safe,
            ModeInput::Active => middlebrick_model::Mode::Active,
            ModeInput::Disposable => middlebrick_model::Mode::Disposable,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModeInput::Passive => "passive",
            ModeInput::Safe => "safe",
            ModeInput::Active => "active",
            ModeInput::Disposable => "disposable",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ScanApiInput {
    /// The API's base URL, e.g. http://127.0.0.1:8000
    pub url: String,
    /// OpenAPI description: a file path or URL. Found at the usual places when omitted.
    #[serde(default)]
    pub spec: Option<String>,
    /// Path of a middlebrick.toml (identities, limits, checks).
    #[serde(default)]
    pub config: Option<String>,
    /// passive, safe (default), active or disposable.
    #[serde(default)]
    pub mode: Option<ModeInput>,
    /// Only these check ids (see list_checks).
    #[serde(default)]
    pub checks: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GetScanInput {
    /// An id from scan_api or list_scans.
    pub scan_id: i64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ListScansInput {
    /// At most this many, newest first (default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
    /// Only scans of this target URL.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ExplainInput {
    /// A check id (injection.sql) or a finding id from a scan.
    pub id: String,
    /// Technologies to show remediation for: flask, fastapi, psycopg, asyncpg, sqlalchemy, postgresql, cockroachdb.
    #[serde(default)]
    pub stack: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct DiffInput {
    /// The earlier scan id.
    pub old: i64,
    /// The later scan id.
    pub new: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FindingOut {
    /// Stable fingerprint: the same flaw keeps it across scans.
    pub id: String,
    pub check: String,
    pub severity: String,
    pub confidence: String,
    pub title: String,
    /// `GET /path`, or `(API-wide)`.
    pub location: String,
    pub parameter: Option<String>,
    pub description: String,
}

impl From<&Finding> for FindingOut {
    fn from(f: &Finding) -> Self {
        FindingOut {
            id: f.id.clone(),
            check: f.check.to_string(),
            severity: f.severity.as_str().to_string(),
            confidence: f.confidence.to_string(),
            title: f.title.clone(),
            location: f.location(),
            parameter: f.parameter.clone(),
            description: f.description.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScanResult {
    pub scan_id: i64,
    pub target: String,
    pub mode: String,
    /// complete, incomplete, interrupted, failed, or running (no end recorded).
    pub status: String,
    pub started_at: String,
    pub score: Option<u8>,
    pub grade: Option<String>,
    pub duration_ms: Option<u64>,
    pub requests_sent: Option<u64>,
    pub findings: Vec<FindingOut>,
}

impl ScanResult {
    pub fn new(s: &ScanSummary, report: Option<&Report>) -> Self {
        ScanResult {
            scan_id: s.id,
            target: s.target.clone(),
            mode: s.mode.clone(),
            status: s.status.as_str().to_string(),
            started_at: s.started_at.clone(),
            score: s.score,
            grade: s.grade.clone(),
            duration_ms: s.duration_ms,
            requests_sent: s.requests_sent,
            findings: report
                .map(|r| r.findings.iter().map(FindingOut::from).collect())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScanRow {
    pub scan_id: i64,
    pub target: String,
    pub mode: String,
    pub status: String,
    pub started_at: String,
    pub score: Option<u8>,
    pub grade: Option<String>,
    pub finding_count: Option<u32>,
}

impl From<&ScanSummary> for ScanRow {
    fn from(s: &ScanSummary) -> Self {
        ScanRow {
            scan_id: s.id,
            target: s.target.clone(),
            mode: s.mode.clone(),
            status: s.status.as_str().to_string(),
            started_at: s.started_at.clone(),
            score: s.score,
            grade: s.grade.clone(),
            finding_count: s.finding_count,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScanList {
    pub scans: Vec<ScanRow>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckOut {
    pub id: String,
    pub title: String,
    pub severity: String,
    /// passive, safe-active or state-changing.
    pub kind: String,
    pub cwe: Vec<u32>,
    /// OWASP API Security Top 10 (2023) categories.
    pub owasp: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckList {
    pub checks: Vec<CheckOut>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Explanation {
    pub check: String,
    /// What the check looks for, its mappings and the remediation for the stack.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScanRef {
    pub scan_id: i64,
    pub score: Option<u8>,
    pub grade: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiffResult {
    pub old: ScanRef,
    pub new: ScanRef,
    /// In the new scan and not the old, matched by finding id.
    pub new_findings: Vec<FindingOut>,
    /// In the old scan and not the new, where the new scan ran the check on that operation.
    pub fixed_findings: Vec<FindingOut>,
    /// In the old scan and not the new, but the new scan did not look for them (the check
    /// did not run there, the operation was not reached, or the scan stopped early).
    pub not_retested_findings: Vec<FindingOut>,
    pub unchanged: usize,
}

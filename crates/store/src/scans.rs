//! Recording scans and reading them back.

use crate::{now_rfc3339, Result, Store, StoreError};
use middlebrick_model::Report;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

pub type ScanId = i64;

/// What is known when a scan starts. Hashes, never the configuration itself: the store must
/// never hold a credential.
#[derive(Debug, Clone)]
pub struct NewScan {
    pub target: String,
    pub mode: String,
    /// SHA-256 of the spec file, or of `url:` and the spec URL; `None` when discovered.
    pub spec_hash: Option<String>,
    /// SHA-256 of the configuration without its credentials.
    pub config_hash: String,
    pub tool_version: String,
    /// A digest of the check catalogue (ids and metadata) the scan ran with.
    pub checks_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Started and not finished: still running, or the process was killed.
    Running,
    Complete,
    /// Stopped early by a budget, a time limit or the circuit breaker.
    Incomplete,
    /// Stopped by Ctrl-C or a client's cancellation; the findings so far are kept.
    Interrupted,
    /// The scan could not run (target unreachable, unusable spec).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Complete => "complete",
            Status::Incomplete => "incomplete",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "complete" => Status::Complete,
            "incomplete" => Status::Incomplete,
            "interrupted" => Status::Interrupted,
            "failed" => Status::Failed,
            _ => Status::Running,
        }
    }

    /// What a reader should be told: a scan with no recorded end is incomplete, whether it is
    /// still running or its process was killed.
    pub fn label(self) -> &'static str {
        match self {
            Status::Running => "incomplete (no end recorded)",
            other => other.as_str(),
        }
    }

    /// True when the scan's findings are the whole picture.
    pub fn is_complete(self) -> bool {
        self == Status::Complete
    }
}

/// One row of the history, without the report.
#[derive(Debug, Clone, Serialize)]
pub struct ScanSummary {
    pub id: ScanId,
    pub target: String,
    pub mode: String,
    pub status: Status,
    pub spec_hash: Option<String>,
    pub config_hash: String,
    pub tool_version: String,
    pub checks_version: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub requests_sent: Option<u64>,
    pub score: Option<u8>,
    pub grade: Option<String>,
    pub finding_count: Option<u32>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub target: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

const COLUMNS: &str = "id, target, mode, status, spec_hash, config_hash, tool_version, \
    checks_version, started_at, finished_at, duration_ms, requests_sent, score, grade, \
    finding_count, error";

fn summary(r: &Row) -> rusqlite::Result<ScanSummary> {
    let status: String = r.get(3)?;
    Ok(ScanSummary {
        id: r.get(0)?,
        target: r.get(1)?,
        mode: r.get(2)?,
        status: Status::parse(&status),
        spec_hash: r.get(4)?,
        config_hash: r.get(5)?,
        tool_version: r.get(6)?,
        checks_version: r.get(7)?,
        started_at: r.get(8)?,
        finished_at: r.get(9)?,
        duration_ms: r.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
        requests_sent: r.get::<_, Option<i64>>(11)?.map(|v| v.max(0) as u64),
        score: r.get::<_, Option<i64>>(12)?.map(|v| v.clamp(0, 100) as u8),
        grade: r.get(13)?,
        finding_count: r.get::<_, Option<i64>>(14)?.map(|v| v.max(0) as u32),
        error: r.get(15)?,
    })
}

impl Store {
    /// Records a scan as `running` and returns its id.
    pub fn start(&self, scan: &NewScan) -> Result<ScanId> {
        Ok(self.conn.query_row(
            "INSERT INTO scans (target, mode, status, spec_hash, config_hash, tool_version, \
             checks_version, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            params![
                scan.target,
                scan.mode,
                Status::Running.as_str(),
                scan.spec_hash,
                scan.config_hash,
                scan.tool_version,
                scan.checks_version,
                now_rfc3339()
            ],
            |r| r.get(0),
        )?)
    }

    /// Records the outcome of a scan that produced a report, in one transaction: the row, the
    /// report JSON (already redacted by the caller's renderer) and one row per finding.
    pub fn finish(
        &mut self,
        id: ScanId,
        report: &Report,
        report_json: &str,
        status: Status,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let updated = tx.execute(
            "UPDATE scans SET status = $1, finished_at = $2, duration_ms = $3, \
             requests_sent = $4, score = $5, grade = $6, finding_count = $7, report_json = $8 \
             WHERE id = $9",
            params![
                status.as_str(),
                now_rfc3339(),
                report.duration_ms as i64,
                report.requests_sent as i64,
                report.score,
                report.grade.as_str(),
                report.findings.len() as i64,
                report_json,
                id
            ],
        )?;
        if updated == 0 {
            return Err(StoreError::NotFound(id));
        }
        tx.execute("DELETE FROM findings WHERE scan_id = $1", params![id])?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO findings (scan_id, fingerprint, check_id, severity, title, method, \
                 path, parameter) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (scan_id, fingerprint) DO NOTHING",
            )?;
            for f in &report.findings {
                insert.execute(params![
                    id,
                    f.id,
                    f.check.as_str(),
                    f.severity.as_str(),
                    f.title,
                    f.method.map(|m| m.to_string()),
                    f.path,
                    f.parameter
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that a scan could not run.
    pub fn fail(&self, id: ScanId, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE scans SET status = $1, finished_at = $2, error = $3 WHERE id = $4",
            params![Status::Failed.as_str(), now_rfc3339(), error, id],
        )?;
        Ok(())
    }

    /// Newest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<ScanSummary>> {
        let limit = if filter.limit == 0 { 20 } else { filter.limit };
        let sql = format!(
            "SELECT {COLUMNS} FROM scans WHERE ($1 IS NULL OR target = $1) \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![filter.target, limit as i64, filter.offset as i64],
            summary,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn get(&self, id: ScanId) -> Result<ScanSummary> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM scans WHERE id = $1"),
                params![id],
                summary,
            )
            .optional()?
            .ok_or(StoreError::NotFound(id))
    }

    /// The stored report; `None` when the scan recorded none (killed or failed).
    pub fn report(&self, id: ScanId) -> Result<Option<Report>> {
        let json: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT report_json FROM scans WHERE id = $1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        match json.ok_or(StoreError::NotFound(id))? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    id,
                    message: e.to_string(),
                }),
        }
    }

    /// The check id of a finding fingerprint, from the latest scan that reported it.
    pub fn check_of_finding(&self, fingerprint: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT check_id FROM findings WHERE fingerprint = $1 \
                 ORDER BY scan_id DESC LIMIT 1",
                params![fingerprint],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The latest scan of `target` before `before` that recorded a report.
    pub fn previous(&self, target: &str, before: ScanId) -> Result<Option<ScanId>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM scans WHERE target = $1 AND id < $2 \
                 AND report_json IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![target, before],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{Coverage, Grade, Mode, SpecVersion, ToolInfo};

    fn new_scan(target: &str) -> NewScan {
        NewScan {
            target: target.into(),
            mode: "safe".into(),
            spec_hash: None,
            config_hash: "c".into(),
            tool_version: "0.1.0".into(),
            checks_version: "k".into(),
        }
    }

    fn report(target: &str) -> Report {
        Report {
            schema_version: "1.0".into(),
            tool: ToolInfo {
                name: "middlebrick".into(),
                version: "0.1.0".into(),
            },
            target: target.into(),
            mode: Mode::Safe,
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 5,
            requests_sent: 7,
            score: 100,
            grade: Grade::A,
            coverage: Coverage {
                spec: SpecVersion::OpenApi30,
                source: "spec.json".into(),
                operations: 1,
                operations_reached: 1,
                partial: false,
                base_path: String::new(),
                unreached: Vec::new(),
                ..Coverage::new(SpecVersion::OpenApi30, "", 0)
            },
            identities: vec![],
            findings: vec![],
            diagnostics: vec![],
            incomplete: false,
            stack: None,
        }
    }

    #[test]
    fn a_scan_is_running_until_finished_and_keeps_its_report() {
        let mut s = Store::open_in_memory().unwrap();
        let id = s.start(&new_scan("http://a/")).unwrap();
        assert_eq!(s.get(id).unwrap().status, Status::Running);
        assert!(s.report(id).unwrap().is_none());
        let r = report("http://a/");
        let json = serde_json::to_string(&r).unwrap();
        s.finish(id, &r, &json, Status::Complete).unwrap();
        let got = s.get(id).unwrap();
        assert_eq!(
            (got.status, got.score, got.requests_sent),
            (Status::Complete, Some(100), Some(7))
        );
        assert_eq!(s.report(id).unwrap().unwrap().target, "http://a/");
        assert!(matches!(s.get(999), Err(StoreError::NotFound(999))));
    }

    #[test]
    fn list_filters_by_target_and_previous_skips_scans_without_report() {
        let mut s = Store::open_in_memory().unwrap();
        let a1 = s.start(&new_scan("http://a/")).unwrap();
        let r = report("http://a/");
        s.finish(
            a1,
            &r,
            &serde_json::to_string(&r).unwrap(),
            Status::Complete,
        )
        .unwrap();
        let killed = s.start(&new_scan("http://a/")).unwrap();
        let _b = s.start(&new_scan("http://b/")).unwrap();
        let a3 = s.start(&new_scan("http://a/")).unwrap();
        let only_a = s
            .list(&Filter {
                target: Some("http://a/".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(
            only_a.iter().map(|x| x.id).collect::<Vec<_>>(),
            [a3, killed, a1]
        );
        assert_eq!(s.list(&Filter::default()).unwrap().len(), 4);
        assert_eq!(s.previous("http://a/", a3).unwrap(), Some(a1));
        assert_eq!(s.previous("http://a/", a1).unwrap(), None);
    }

    #[test]
    fn the_file_database_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/history.sqlite3");
        let id = Store::open(&path)
            .unwrap()
            .start(&new_scan("http://a/"))
            .unwrap();
        assert_eq!(
            Store::open(&path).unwrap().get(id).unwrap().target,
            "http://a/"
        );
    }
}

//! The scan queue. A scan is a job: `queued` → `processing` (claimed by a worker under a
//! lease it renews by heartbeat) → `completed` or `failed`. A lease that runs out puts the job
//! back in the queue (the reaper); a job claimed `max_attempts` times and lost again is `dead`.
//! `attempts` counts claims, so a worker killed mid-scan counts as an attempt.
//!
//! Results are written once: completing needs the caller to still hold the lease, and
//! findings are keyed by (scan, fingerprint), so a re-run job neither duplicates nor mixes.

use super::db::{Row, Tx};
use super::targets::{target, Target, TARGET_COLUMNS};
use super::{random_id, ServiceStore};
use crate::Result;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Processing,
    Completed,
    Failed,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "processing" => JobStatus::Processing,
            "completed" => JobStatus::Completed,
            "failed" => JobStatus::Failed,
            "dead" => JobStatus::Dead,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub target_id: String,
    pub target_url: String,
    pub trigger: String,
    pub method: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub heartbeat_at: Option<i64>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub error: Option<String>,
    pub score: Option<i64>,
    pub grade: Option<String>,
    pub categories_json: Option<String>,
    pub finding_count: Option<i64>,
}

const JOB_COLUMNS: &str = "j.id, j.target_id, t.url, j.trigger_kind, j.method, j.status, \
    j.attempts, j.max_attempts, j.lease_owner, j.lease_until, j.heartbeat_at, j.created_by, \
    j.created_at, j.started_at, j.completed_at, j.error, j.score, j.grade, j.categories_json, \
    j.finding_count";

fn job(r: &Row) -> Job {
    Job {
        id: r.text(0),
        target_id: r.text(1),
        target_url: r.text(2),
        trigger: r.text(3),
        method: r.text(4),
        status: JobStatus::parse(&r.text(5)).unwrap_or(JobStatus::Failed),
        attempts: r.int(6),
        max_attempts: r.int(7),
        lease_owner: r.opt_text(8),
        lease_until: r.opt_int(9),
        heartbeat_at: r.opt_int(10),
        created_by: r.opt_text(11),
        created_at: r.int(12),
        started_at: r.opt_int(13),
        completed_at: r.opt_int(14),
        error: r.opt_text(15),
        score: r.opt_int(16),
        grade: r.opt_text(17),
        categories_json: r.opt_text(18),
        finding_count: r.opt_int(19),
    }
}

/// What a worker gets: the job, its target, and the sealed headers of a contract scan.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub job: Job,
    pub target: Target,
    pub sealed_headers: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub fingerprint: String,
    pub check_id: String,
    pub category: String,
    pub severity: String,
    pub title: String,
    pub location: String,
    pub description: String,
    pub remediation: String,
}

/// A finished scan's results.
#[derive(Debug, Clone)]
pub struct Completion {
    pub report_json: String,
    pub score: i64,
    pub grade: String,
    pub categories_json: String,
    pub findings: Vec<FindingRow>,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub target_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    pub requeued: u64,
    pub dead: u64,
}

/// Attempts before a job whose worker keeps disappearing is declared dead.
pub const MAX_ATTEMPTS: i64 = 3;

pub(crate) fn insert_job(
    tx: &mut Tx,
    target_id: &str,
    trigger: &str,
    method: &str,
    sealed_headers: Option<&str>,
    created_by: Option<&str>,
    now: i64,
) -> Result<String> {
    let id = random_id();
    tx.exec(
        "INSERT INTO jobs (id, target_id, trigger_kind, method, sealed_headers, status, \
         attempts, max_attempts, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8)",
        &[
            (&id).into(),
            target_id.into(),
            trigger.into(),
            method.into(),
            sealed_headers.into(),
            MAX_ATTEMPTS.into(),
            created_by.into(),
            now.into(),
        ],
    )?;
    Ok(id)
}

impl ServiceStore {
    /// Queues a scan of `target_id`. With `per_hour` (the key's limit), refuses (`None`) when
    /// the key already created that many scans in the last hour; the count and the insert
    /// are one transaction, under a lock on the key's row.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue(
        &self,
        target_id: &str,
        trigger: &str,
        method: &str,
        sealed_headers: Option<&str>,
        key: Option<(&str, i64)>,
        now: i64,
    ) -> Result<Option<String>> {
        let lock = self.lock(false);
        self.db.tx(|tx| {
            if let Some((key_id, per_hour)) = key {
                tx.query(
                    &format!("SELECT id FROM api_keys WHERE id = $1{lock}"),
                    &[key_id.into()],
                )?;
                let used = tx
                    .one(
                        "SELECT COUNT(*) FROM jobs WHERE created_by = $1 AND created_at > $2",
                        &[key_id.into(), (now - 3_600_000).into()],
                    )?
                    .map_or(0, |r| r.int(0));
                if used >= per_hour {
                    return Ok(None);
                }
            }
            insert_job(
                tx,
                target_id,
                trigger,
                method,
                sealed_headers,
                key.map(|k| k.0),
                now,
            )
            .map(Some)
        })
    }

    /// Takes the oldest queued job whose target is below its concurrency cap, for `worker`,
    /// until `now + lease_ms`. PostgreSQL: candidates `FOR UPDATE SKIP LOCKED` (workers never
    /// wait on each other's candidates), then the target's row `FOR UPDATE`, which serialises
    /// the cap check of one target across workers. SQLite: the whole claim under one writer.
    pub fn claim(&self, worker: &str, lease_ms: i64, now: i64) -> Result<Option<Claimed>> {
        let (skip, lock) = (self.lock(true), self.lock(false));
        self.db.tx(|tx| {
            let candidates: Vec<(String, String)> = tx
                .query(
                    &format!(
                        "SELECT j.id, j.target_id FROM jobs j WHERE j.status = 'queued' \
                         ORDER BY j.created_at, j.id LIMIT 8{skip}"
                    ),
                    &[],
                )?
                .iter()
                .map(|r| (r.text(0), r.text(1)))
                .collect();
            for (id, target_id) in candidates {
                let cap = tx
                    .one(
                        &format!("SELECT max_concurrent FROM targets WHERE id = $1{lock}"),
                        &[(&target_id).into()],
                    )?
                    .map_or(1, |r| r.int(0));
                let running = tx
                    .one(
                        "SELECT COUNT(*) FROM jobs WHERE target_id = $1 \
                         AND status = 'processing'",
                        &[(&target_id).into()],
                    )?
                    .map_or(0, |r| r.int(0));
                if running >= cap {
                    continue;
                }
                tx.exec(
                    "UPDATE jobs SET status = 'processing', attempts = attempts + 1, \
                     lease_owner = $1, lease_until = $2, heartbeat_at = $3, \
                     started_at = COALESCE(started_at, $3), error = NULL WHERE id = $4",
                    &[
                        worker.into(),
                        (now + lease_ms).into(),
                        now.into(),
                        (&id).into(),
                    ],
                )?;
                let row = tx
                    .one(
                        &format!(
                            "SELECT {JOB_COLUMNS}, j.sealed_headers, {TARGET_COLUMNS} \
                             FROM jobs j JOIN targets t ON t.id = j.target_id WHERE j.id = $1"
                        ),
                        &[(&id).into()],
                    )?
                    .ok_or(crate::StoreError::Missing("job"))?;
                return Ok(Some(Claimed {
                    job: job(&row),
                    sealed_headers: row.opt_text(20),
                    target: target(&row, 21),
                }));
            }
            Ok(None)
        })
    }

    /// Renews `worker`'s lease; `false` when the worker no longer holds the job (the reaper
    /// gave it back to the queue): the worker should stop and write nothing.
    pub fn heartbeat(&self, id: &str, worker: &str, lease_ms: i64, now: i64) -> Result<bool> {
        let n = self.db.tx(|tx| {
            tx.exec(
                "UPDATE jobs SET lease_until = $1, heartbeat_at = $2 \
                 WHERE id = $3 AND lease_owner = $4 AND status = 'processing'",
                &[
                    (now + lease_ms).into(),
                    now.into(),
                    id.into(),
                    worker.into(),
                ],
            )
        })?;
        Ok(n == 1)
    }

    /// Expired leases go back to the queue, or to `dead` after `max_attempts` claims.
    pub fn reap(&self, now: i64) -> Result<Reaped> {
        self.db.tx(|tx| {
            let dead = tx.exec(
                "UPDATE jobs SET status = 'dead', lease_owner = NULL, lease_until = NULL, \
                 completed_at = $1, error = 'the worker running this scan stopped answering \
                 on every attempt' WHERE status = 'processing' AND lease_until < $1 \
                 AND attempts >= max_attempts",
                &[now.into()],
            )?;
            let requeued = tx.exec(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL \
                 WHERE status = 'processing' AND lease_until < $1",
                &[now.into()],
            )?;
            Ok(Reaped { requeued, dead })
        })
    }

    /// Records a finished scan if `worker` still holds it; `false` (and nothing written)
    /// otherwise, which also makes a second call a no-op.
    pub fn complete(&self, id: &str, worker: &str, c: &Completion, now: i64) -> Result<bool> {
        self.db.tx(|tx| {
            let n = tx.exec(
                "UPDATE jobs SET status = 'completed', completed_at = $1, report_json = $2, \
                 score = $3, grade = $4, categories_json = $5, finding_count = $6, \
                 lease_owner = NULL, lease_until = NULL, sealed_headers = NULL \
                 WHERE id = $7 AND lease_owner = $8 AND status = 'processing'",
                &[
                    now.into(),
                    (&c.report_json).into(),
                    c.score.into(),
                    (&c.grade).into(),
                    (&c.categories_json).into(),
                    (c.findings.len() as i64).into(),
                    id.into(),
                    worker.into(),
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            for f in &c.findings {
                tx.exec(
                    "INSERT INTO job_findings (scan_id, fingerprint, check_id, category, \
                     severity, title, location, description, remediation) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (scan_id, fingerprint) DO NOTHING",
                    &[
                        id.into(),
                        (&f.fingerprint).into(),
                        (&f.check_id).into(),
                        (&f.category).into(),
                        (&f.severity).into(),
                        (&f.title).into(),
                        (&f.location).into(),
                        (&f.description).into(),
                        (&f.remediation).into(),
                    ],
                )?;
            }
            Ok(true)
        })
    }

    /// Records that a scan could not run (when `worker` still holds it).
    pub fn fail(&self, id: &str, worker: &str, error: &str, now: i64) -> Result<bool> {
        let n = self.db.tx(|tx| {
            tx.exec(
                "UPDATE jobs SET status = 'failed', completed_at = $1, error = $2, \
                 lease_owner = NULL, lease_until = NULL, sealed_headers = NULL \
                 WHERE id = $3 AND lease_owner = $4 AND status = 'processing'",
                &[now.into(), error.into(), id.into(), worker.into()],
            )
        })?;
        Ok(n == 1)
    }

    /// Gives a job back to the queue (a worker stopping before the scan ended); the claim
    /// does not count as an attempt.
    pub fn release(&self, id: &str, worker: &str) -> Result<bool> {
        let n = self.db.tx(|tx| {
            tx.exec(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, \
                 lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_owner = $2 AND status = 'processing'",
                &[id.into(), worker.into()],
            )
        })?;
        Ok(n == 1)
    }

    pub fn job(&self, id: &str) -> Result<Option<Job>> {
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM jobs j JOIN targets t ON t.id = j.target_id \
                         WHERE j.id = $1"
                    ),
                    &[id.into()],
                )?
                .map(|r| job(&r)))
        })
    }

    /// Newest first, with the number of jobs the filter matches.
    pub fn jobs(&self, f: &JobFilter) -> Result<(Vec<Job>, i64)> {
        let mut cond = String::from("1 = 1");
        let mut p = Vec::new();
        if let Some(s) = f.status {
            p.push(s.as_str().into());
            cond.push_str(&format!(" AND j.status = ${}", p.len()));
        }
        if let Some(t) = &f.target_id {
            p.push(t.into());
            cond.push_str(&format!(" AND j.target_id = ${}", p.len()));
        }
        self.db.tx(|tx| {
            let total = tx
                .one(&format!("SELECT COUNT(*) FROM jobs j WHERE {cond}"), &p)?
                .map_or(0, |r| r.int(0));
            let mut q = p.clone();
            q.push(f.limit.clamp(1, 500).into());
            q.push(f.offset.max(0).into());
            let rows = tx.query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs j JOIN targets t ON t.id = j.target_id \
                     WHERE {cond} ORDER BY j.created_at DESC, j.id DESC LIMIT ${} OFFSET ${}",
                    q.len() - 1,
                    q.len()
                ),
                &q,
            )?;
            Ok((rows.iter().map(job).collect(), total))
        })
    }

    /// The stored JSON report of a completed scan.
    pub fn job_report(&self, id: &str) -> Result<Option<String>> {
        self.db.tx(|tx| {
            Ok(tx
                .one("SELECT report_json FROM jobs WHERE id = $1", &[id.into()])?
                .and_then(|r| r.opt_text(0)))
        })
    }

    pub fn job_findings(&self, id: &str) -> Result<Vec<FindingRow>> {
        self.db.tx(|tx| {
            Ok(tx
                .query(
                    "SELECT fingerprint, check_id, category, severity, title, location, \
                     description, remediation FROM job_findings WHERE scan_id = $1 \
                     ORDER BY fingerprint",
                    &[id.into()],
                )?
                .iter()
                .map(|r| FindingRow {
                    fingerprint: r.text(0),
                    check_id: r.text(1),
                    category: r.text(2),
                    severity: r.text(3),
                    title: r.text(4),
                    location: r.text(5),
                    description: r.text(6),
                    remediation: r.text(7),
                })
                .collect())
        })
    }

    /// The completed scan of the same target just before `id`.
    pub fn previous_completed(&self, id: &str) -> Result<Option<String>> {
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    "SELECT p.id FROM jobs p JOIN jobs j ON j.target_id = p.target_id \
                     WHERE j.id = $1 AND p.status = 'completed' AND p.id <> j.id \
                     AND (p.created_at < j.created_at \
                          OR (p.created_at = j.created_at AND p.id < j.id)) \
                     ORDER BY p.created_at DESC, p.id DESC LIMIT 1",
                    &[id.into()],
                )?
                .map(|r| r.text(0)))
        })
    }
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;

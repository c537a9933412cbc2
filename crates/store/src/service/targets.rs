//! Targets (what to scan, how, and when) and their schedules. The store keeps `next_run_at`;
//! what an interval or a cron expression means is the caller's (it passes the next time in).

use super::db::{Row, Value};
use super::{random_id, ServiceStore};
use crate::{Result, StoreError};
use serde::Serialize;

#[derive(Debug, Clone, Default)]
pub struct NewTarget {
    pub name: String,
    pub url: String,
    pub spec: Option<String>,
    /// JSON with credentials only as `env:NAME` references (the caller validates it).
    pub config_json: String,
    pub mode: String,
    pub checks: Vec<String>,
    /// `interval` or `cron`, with its value; `None` for on-demand only.
    pub schedule: Option<(String, String)>,
    pub next_run_at: Option<i64>,
    pub max_concurrent: i64,
    pub origin: String,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub url: String,
    pub spec: Option<String>,
    #[serde(skip)]
    pub config_json: String,
    pub mode: String,
    pub checks: Vec<String>,
    pub schedule_kind: Option<String>,
    pub schedule: Option<String>,
    pub next_run_at: Option<i64>,
    pub max_concurrent: i64,
    pub origin: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const TARGET_COLUMNS: &str = "t.id, t.name, t.url, t.spec, t.config_json, t.mode, \
    t.checks, t.schedule_kind, t.schedule, t.next_run_at, t.max_concurrent, t.origin, \
    t.created_at, t.updated_at";

/// Reads the columns of [`TARGET_COLUMNS`] starting at `at`.
pub(crate) fn target(r: &Row, at: usize) -> Target {
    let checks = r.text(at + 6);
    Target {
        id: r.text(at),
        name: r.text(at + 1),
        url: r.text(at + 2),
        spec: r.opt_text(at + 3),
        config_json: r.text(at + 4),
        mode: r.text(at + 5),
        checks: checks
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        schedule_kind: r.opt_text(at + 7),
        schedule: r.opt_text(at + 8),
        next_run_at: r.opt_int(at + 9),
        max_concurrent: r.int(at + 10),
        origin: r.text(at + 11),
        created_at: r.int(at + 12),
        updated_at: r.int(at + 13),
    }
}

fn values(t: &NewTarget) -> Vec<Value> {
    let (kind, sched) = match &t.schedule {
        Some((k, v)) => (Some(k.clone()), Some(v.clone())),
        None => (None, None),
    };
    vec![
        (&t.name).into(),
        (&t.url).into(),
        t.spec.clone().into(),
        (&t.config_json).into(),
        (&t.mode).into(),
        t.checks.join(",").into(),
        kind.into(),
        sched.into(),
        t.next_run_at.into(),
        t.max_concurrent.max(1).into(),
    ]
}

impl ServiceStore {
    pub fn create_target(&self, t: &NewTarget, now: i64) -> Result<Target> {
        let id = random_id();
        self.db.tx(|tx| {
            let mut p = values(t);
            p.extend([
                (&t.origin).into(),
                t.created_by.clone().into(),
                now.into(),
                (&id).into(),
            ]);
            tx.exec(
                "INSERT INTO targets (name, url, spec, config_json, mode, checks, \
                 schedule_kind, schedule, next_run_at, max_concurrent, origin, created_by, \
                 created_at, updated_at, id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
                &p,
            )
        })?;
        self.target(&id)?.ok_or(StoreError::Missing("target"))
    }

    /// Replaces every setting of a target; `false` when there is no such target.
    pub fn update_target(&self, id: &str, t: &NewTarget, now: i64) -> Result<bool> {
        let mut p = values(t);
        p.extend([now.into(), id.into()]);
        let n = self.db.tx(|tx| {
            tx.exec(
                "UPDATE targets SET name = $1, url = $2, spec = $3, config_json = $4, \
                 mode = $5, checks = $6, schedule_kind = $7, schedule = $8, \
                 next_run_at = $9, max_concurrent = $10, updated_at = $11 \
                 WHERE id = $12 AND deleted_at IS NULL",
                &p,
            )
        })?;
        Ok(n == 1)
    }

    /// Hides a target and stops its schedule; its scans stay readable.
    pub fn delete_target(&self, id: &str, now: i64) -> Result<bool> {
        let n = self.db.tx(|tx| {
            tx.exec(
                "UPDATE targets SET deleted_at = $1, next_run_at = NULL \
                 WHERE id = $2 AND deleted_at IS NULL",
                &[now.into(), id.into()],
            )
        })?;
        Ok(n == 1)
    }

    pub fn target(&self, id: &str) -> Result<Option<Target>> {
        self.db.tx(|tx| {
            Ok(tx
                .one(
                    &format!(
                        "SELECT {TARGET_COLUMNS} FROM targets t \
                         WHERE t.id = $1 AND t.deleted_at IS NULL"
                    ),
                    &[id.into()],
                )?
                .map(|r| target(&r, 0)))
        })
    }

    pub fn targets(&self) -> Result<Vec<Target>> {
        self.db.tx(|tx| {
            Ok(tx
                .query(
                    &format!(
                        "SELECT {TARGET_COLUMNS} FROM targets t WHERE t.deleted_at IS NULL \
                         AND t.origin = 'api' ORDER BY t.created_at, t.id"
                    ),
                    &[],
                )?
                .iter()
                .map(|r| target(r, 0))
                .collect())
        })
    }

    /// The target `POST /api/scan` keeps for `url` (one per URL, so that its scans have a
    /// history to diff against), made on first use.
    pub fn contract_target(
        &self,
        url: &str,
        checks: &[String],
        created_by: &str,
        now: i64,
    ) -> Result<Target> {
        let found = self.db.tx(|tx| {
            Ok(tx
                .one(
                    &format!(
                        "SELECT {TARGET_COLUMNS} FROM targets t WHERE t.url = $1 \
                         AND t.origin = 'contract' AND t.deleted_at IS NULL \
                         ORDER BY t.created_at LIMIT 1"
                    ),
                    &[url.into()],
                )?
                .map(|r| target(&r, 0)))
        })?;
        if let Some(t) = found {
            return Ok(t);
        }
        self.create_target(
            &NewTarget {
                name: url.to_string(),
                url: url.to_string(),
                config_json: "{}".into(),
                mode: "safe".into(),
                checks: checks.to_vec(),
                max_concurrent: 1,
                origin: "contract".into(),
                created_by: Some(created_by.to_string()),
                ..NewTarget::default()
            },
            now,
        )
    }

    /// Moves every due schedule on (to `next(target)`) and queues one scan for each, in one
    /// transaction: two schedulers (two `serve` processes) never queue the same run twice.
    pub fn enqueue_due(
        &self,
        now: i64,
        next: impl Fn(&Target) -> Option<i64>,
    ) -> Result<Vec<String>> {
        let lock = self.lock(true);
        self.db.tx(|tx| {
            let due: Vec<Target> = tx
                .query(
                    &format!(
                        "SELECT {TARGET_COLUMNS} FROM targets t WHERE t.next_run_at <= $1 \
                         AND t.deleted_at IS NULL ORDER BY t.next_run_at LIMIT 50{lock}"
                    ),
                    &[now.into()],
                )?
                .iter()
                .map(|r| target(r, 0))
                .collect();
            let mut queued = Vec::new();
            for t in due {
                tx.exec(
                    "UPDATE targets SET next_run_at = $1 WHERE id = $2",
                    &[next(&t).into(), (&t.id).into()],
                )?;
                queued.push(super::jobs::insert_job(
                    tx, &t.id, "schedule", "GET", None, None, now,
                )?);
            }
            Ok(queued)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdb;
    use super::*;

    pub(crate) fn new_target(url: &str) -> NewTarget {
        NewTarget {
            name: "shop".into(),
            url: url.into(),
            config_json: "{}".into(),
            mode: "safe".into(),
            checks: vec!["transport.security-headers".into()],
            max_concurrent: 1,
            origin: "api".into(),
            ..NewTarget::default()
        }
    }

    #[test]
    fn targets_are_created_updated_listed_and_deleted() {
        testdb::each(|s| {
            let t = s
                .create_target(&new_target("http://127.0.0.1:1/"), 5)
                .unwrap();
            assert_eq!(t.checks, ["transport.security-headers"]);
            let mut changed = new_target("http://127.0.0.1:2/");
            changed.schedule = Some(("interval".into(), "60".into()));
            changed.next_run_at = Some(10);
            assert!(s.update_target(&t.id, &changed, 6).unwrap());
            let got = s.target(&t.id).unwrap().unwrap();
            assert_eq!(
                (got.url.as_str(), got.next_run_at, got.updated_at),
                ("http://127.0.0.1:2/", Some(10), 6)
            );
            assert_eq!(s.targets().unwrap().len(), 1);
            assert!(s.delete_target(&t.id, 7).unwrap());
            assert!(s.target(&t.id).unwrap().is_none());
            assert!(!s.update_target(&t.id, &changed, 8).unwrap());
        });
    }

    #[test]
    fn a_due_schedule_queues_one_scan_and_moves_on() {
        testdb::each(|s| {
            let mut n = new_target("http://127.0.0.1:1/");
            n.schedule = Some(("interval".into(), "60".into()));
            n.next_run_at = Some(1_000);
            let t = s.create_target(&n, 0).unwrap();
            assert!(s.enqueue_due(999, |_| Some(0)).unwrap().is_empty());
            let q = s
                .enqueue_due(1_000, |t| t.next_run_at.map(|x| x + 60_000))
                .unwrap();
            assert_eq!(q.len(), 1);
            assert!(s.enqueue_due(1_001, |_| None).unwrap().is_empty());
            assert_eq!(s.target(&t.id).unwrap().unwrap().next_run_at, Some(61_000));
        });
    }

    #[test]
    fn a_contract_target_is_made_once_per_url() {
        testdb::each(|s| {
            let a = s
                .contract_target("http://127.0.0.1:9/", &[], "k", 1)
                .unwrap();
            let b = s
                .contract_target("http://127.0.0.1:9/", &[], "k", 2)
                .unwrap();
            assert_eq!(a.id, b.id);
            assert!(
                s.targets().unwrap().is_empty(),
                "contract targets are not listed"
            );
        });
    }
}

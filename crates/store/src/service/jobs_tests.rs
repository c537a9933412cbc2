use super::super::targets::NewTarget;
use super::super::testdb;
use super::*;

const LEASE: i64 = 30_000;

fn target(s: &ServiceStore, cap: i64) -> String {
    s.create_target(
        &NewTarget {
            name: "t".into(),
            url: "http://127.0.0.1:1/".into(),
            config_json: "{}".into(),
            mode: "safe".into(),
            max_concurrent: cap,
            origin: "api".into(),
            ..NewTarget::default()
        },
        0,
    )
    .unwrap()
    .id
}

fn queue(s: &ServiceStore, t: &str, now: i64) -> String {
    s.enqueue(t, "manual", "GET", None, None, now)
        .unwrap()
        .unwrap()
}

fn completion(fingerprints: &[&str]) -> Completion {
    Completion {
        report_json: "{}".into(),
        score: 90,
        grade: "A".into(),
        categories_json: "{}".into(),
        findings: fingerprints
            .iter()
            .map(|f| FindingRow {
                fingerprint: f.to_string(),
                check_id: "info.verbose-error".into(),
                category: "info".into(),
                severity: "low".into(),
                title: "t".into(),
                location: "GET /".into(),
                description: "d".into(),
                remediation: "r".into(),
            })
            .collect(),
    }
}

#[test]
fn a_claimed_job_is_completed_once_with_its_findings() {
    testdb::each(|s| {
        let t = target(s, 1);
        let id = queue(s, &t, 1);
        let c = s.claim("w1", LEASE, 2).unwrap().unwrap();
        assert_eq!((c.job.id.as_str(), c.job.attempts), (id.as_str(), 1));
        assert_eq!(c.job.status, JobStatus::Processing);
        assert!(
            s.claim("w2", LEASE, 3).unwrap().is_none(),
            "nothing else queued"
        );
        assert!(s.complete(&id, "w1", &completion(&["a", "b"]), 4).unwrap());
        assert!(!s
            .complete(&id, "w1", &completion(&["a", "b", "c"]), 5)
            .unwrap());
        let j = s.job(&id).unwrap().unwrap();
        assert_eq!(
            (j.status, j.finding_count, j.score),
            (JobStatus::Completed, Some(2), Some(90))
        );
        assert_eq!(s.job_findings(&id).unwrap().len(), 2);
    });
}

#[test]
fn the_per_target_cap_holds_and_other_targets_proceed() {
    testdb::each(|s| {
        let (a, b) = (target(s, 1), target(s, 2));
        let a1 = queue(s, &a, 1);
        let _a2 = queue(s, &a, 2);
        let b1 = queue(s, &b, 3);
        let b2 = queue(s, &b, 4);
        assert_eq!(s.claim("w1", LEASE, 10).unwrap().unwrap().job.id, a1);
        // a's second job waits for a1; b (cap 2) runs both of its jobs.
        assert_eq!(s.claim("w2", LEASE, 10).unwrap().unwrap().job.id, b1);
        assert_eq!(s.claim("w3", LEASE, 10).unwrap().unwrap().job.id, b2);
        assert!(s.claim("w4", LEASE, 10).unwrap().is_none());
        assert!(s.fail(&a1, "w1", "unreachable", 11).unwrap());
        assert!(s.claim("w4", LEASE, 12).unwrap().is_some());
    });
}

#[test]
fn an_expired_lease_is_requeued_then_dead_and_a_stale_worker_writes_nothing() {
    testdb::each(|s| {
        let t = target(s, 1);
        let id = queue(s, &t, 0);
        let mut now = 1;
        for attempt in 1..=MAX_ATTEMPTS {
            let c = s
                .claim(&format!("w{attempt}"), LEASE, now)
                .unwrap()
                .unwrap();
            assert_eq!(c.job.attempts, attempt);
            assert!(s
                .heartbeat(&id, &format!("w{attempt}"), LEASE, now + 10)
                .unwrap());
            assert_eq!(
                s.reap(now + 20).unwrap(),
                Reaped::default(),
                "lease still held"
            );
            now += LEASE + 100;
            let r = s.reap(now).unwrap();
            if attempt < MAX_ATTEMPTS {
                assert_eq!(
                    r,
                    Reaped {
                        requeued: 1,
                        dead: 0
                    }
                );
                assert!(!s
                    .heartbeat(&id, &format!("w{attempt}"), LEASE, now)
                    .unwrap());
                assert!(!s
                    .complete(&id, &format!("w{attempt}"), &completion(&["x"]), now)
                    .unwrap());
            } else {
                assert_eq!(
                    r,
                    Reaped {
                        requeued: 0,
                        dead: 1
                    }
                );
            }
        }
        let j = s.job(&id).unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Dead);
        assert!(j.error.is_some());
        assert!(s.job_findings(&id).unwrap().is_empty());
    });
}

#[test]
fn the_per_key_limit_counts_the_last_hour() {
    testdb::each(|s| {
        let k = s.create_key("secret", "ci", 2, 0).unwrap();
        let t = target(s, 1);
        let key = Some((k.id.as_str(), 2));
        assert!(s
            .enqueue(&t, "contract", "GET", None, key, 1_000)
            .unwrap()
            .is_some());
        assert!(s
            .enqueue(&t, "contract", "GET", None, key, 2_000)
            .unwrap()
            .is_some());
        assert!(s
            .enqueue(&t, "contract", "GET", None, key, 3_000)
            .unwrap()
            .is_none());
        assert!(s
            .enqueue(&t, "contract", "GET", None, key, 3_601_001)
            .unwrap()
            .is_some());
    });
}

#[test]
fn lists_filter_count_and_find_the_previous_scan() {
    testdb::each(|s| {
        let t = target(s, 1);
        let first = queue(s, &t, 1);
        s.claim("w", LEASE, 2).unwrap();
        s.complete(&first, "w", &completion(&[]), 3).unwrap();
        let second = queue(s, &t, 4);
        let (all, total) = s
            .jobs(&JobFilter {
                limit: 1,
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(
            (all.len(), total, all[0].id.as_str()),
            (1, 2, second.as_str())
        );
        let (done, n) = s
            .jobs(&JobFilter {
                status: Some(JobStatus::Completed),
                limit: 10,
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!((n, done[0].id.as_str()), (1, first.as_str()));
        assert_eq!(s.previous_completed(&second).unwrap(), Some(first.clone()));
        assert_eq!(s.previous_completed(&first).unwrap(), None);
        assert_eq!(s.job_report(&first).unwrap().as_deref(), Some("{}"));
    });
}

/// Two threads claim from one PostgreSQL database at once, each over its own connection:
/// every job is claimed exactly once.
#[test]
fn concurrent_claims_on_postgres_never_share_a_job() {
    let Some(url) = crate::service::pg_test_url() else {
        // scripts/test.sh sets it (CI always has PostgreSQL): a plain `cargo test` does not.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "MIDDLEBRICK_TEST_PG must be set under CI"
        );
        println!("not run: MIDDLEBRICK_TEST_PG is not set");
        return;
    };
    let s = ServiceStore::open(&url).unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let t = target(&s, 5);
        ids.push(queue(&s, &t, i));
    }
    let claimed: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|w| {
                let url = url.clone();
                sc.spawn(move || {
                    let s = ServiceStore::open(&url).unwrap();
                    let mut mine = Vec::new();
                    while let Some(c) = s.claim(&format!("w{w}"), LEASE, 100).unwrap() {
                        mine.push(c.job.id);
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = claimed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), claimed.len(), "a job was claimed twice");
    assert_eq!(sorted.len(), ids.len());
    drop(s);
    crate::service::drop_pg_test_db(&url);
}

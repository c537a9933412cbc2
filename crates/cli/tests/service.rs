//! Black-box tests of the monitoring service: the real `middlebrick serve` / `worker` /
//! `key create` against real targets, on SQLite and on the real PostgreSQL (a fleet with a
//! worker killed mid-scan).

mod common;

use common::{bin, not_run, targets_ready, Target};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FAST_CHECKS: &str = "transport.security-headers,info.verbose-error";
const CANARY: &str = "Bearer canary-svc-secret-7731";

/// A `serve` or `worker` process; killed when dropped. Its stderr is kept for audits.
struct Proc {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: Option<String>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(bin())
            .args(args)
            .env("NO_COLOR", "1")
            .env("MIDDLEBRICK_LOG", "info")
            .env("MIDDLEBRICK_SERVICE_KEY", "11".repeat(32))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start middlebrick");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(a.trim().to_string());
                }
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let addr = if args[0] == "serve" {
            Some(
                rx.recv_timeout(Duration::from_secs(30))
                    .unwrap_or_else(|_| panic!("serve did not start: {}", log.lock().unwrap())),
            )
        } else {
            None
        };
        Proc { child, log, addr }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        call(self.addr.as_deref().unwrap(), method, path, key, body)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange (Connection: close); the body parsed as JSON when it is.
fn call(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, text) = call_raw(addr, method, path, key, body);
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn call_raw(
    addr: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to serve");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("x-api-key: {k}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status: u16 = raw[9..12].parse().unwrap();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let text = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, text)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn create_key(db: &str) -> String {
    let out = Command::new(bin())
        .args([
            "key",
            "create",
            "--database",
            db,
            "--label",
            "test",
            "--scans-per-hour",
            "8",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("mb_") && key.len() == 67, "{key}");
    key
}

fn wait_done(p: &Proc, path: &str, key: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (code, v) = p.call("GET", path, Some(key), None);
        assert_eq!(code, 200, "{v}");
        if matches!(v["status"].as_str(), Some("completed" | "failed" | "dead")) {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "scan did not finish: {v}\n{}",
            p.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_on_sqlite_answers_the_seeds_contract_and_our_api() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("svc.sqlite3").display());
    let key = create_key(&db);
    let serve = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--contract-checks",
        FAST_CHECKS,
    ]);

    // Keys: missing 401, unknown 403, both as {error, code}.
    let (c, v) = serve.call("GET", "/api/scans", None, None);
    assert_eq!((c, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    let (c, v) = serve.call("GET", "/api/scans", Some("mb_not-a-key"), None);
    assert_eq!((c, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (c, spec) = serve.call("GET", "/api/openapi.json", None, None);
    assert_eq!(c, 200);
    assert!(spec["paths"]["/api/scan"]["post"].is_object(), "{spec}");

    // The allowlist: a public address is refused and nothing is queued.
    let (c, v) = serve.call(
        "POST",
        "/api/scan",
        Some(&key),
        Some(json!({"apiUrl": "http://8.8.8.8/", "method": "GET"})),
    );
    assert_eq!(
        (c, v["code"].as_str()),
        (403, Some("target_not_allowed")),
        "{v}"
    );

    // The contract: POST /api/scan with headers, poll GET /api/scans/{id} until completed.
    let (c, v) = serve.call(
        "POST",
        "/api/scan",
        Some(&key),
        Some(json!({"apiUrl": target.url, "method": "GET", "headers": {"Authorization": CANARY}})),
    );
    assert_eq!(c, 202, "{v}");
    let id = v["scanId"].as_str().unwrap().to_string();
    let scan = wait_done(
        &serve,
        &format!("/api/scans/{id}"),
        &key,
        Duration::from_secs(90),
    );
    assert_eq!(scan["status"], "completed", "{scan}\n{}", serve.log());
    assert_eq!(
        (scan["id"].as_str(), scan["method"].as_str()),
        (Some(id.as_str()), Some("GET"))
    );
    assert_eq!(scan["apiUrl"], target.url.as_str());
    let overall = scan["overall"].as_i64().unwrap();
    assert!((0..=100).contains(&overall));
    assert!(
        scan["letterGrade"].is_string()
            && scan["completedAt"].is_string()
            && scan["createdAt"].is_string()
    );
    assert!(scan["errorMessage"].is_null());
    let cats = scan["categories"].as_object().unwrap();
    assert!(
        cats.contains_key("transport") && cats.contains_key("info"),
        "{scan}"
    );
    assert!(cats
        .values()
        .all(|v| (0..=100).contains(&v.as_i64().unwrap())));
    let findings = scan["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["category"] == "transport"),
        "the vulnerable shop sends no security headers: {scan}"
    );
    for f in findings {
        for k in [
            "id",
            "severity",
            "category",
            "title",
            "description",
            "remediation",
        ] {
            assert!(f[k].is_string(), "{k} in {f}");
        }
    }
    let (c, list) = serve.call(
        "GET",
        "/api/scans?limit=5&offset=0&status=completed",
        Some(&key),
        None,
    );
    assert_eq!(c, 200);
    assert_eq!(
        (
            list["total"].as_i64(),
            list["limit"].as_i64(),
            list["offset"].as_i64()
        ),
        (Some(1), Some(5), Some(0))
    );
    assert_eq!(list["scans"][0]["id"], id.as_str());

    // Our API: a target whose credentials are references only, two scans, report, diff.
    let (c, v) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(
            json!({"url": target.url, "checks": FAST_CHECKS.split(',').collect::<Vec<_>>(),
                    "config": {"headers": {"Authorization": CANARY}}}),
        ),
    );
    assert_eq!(
        (c, v["code"].as_str()),
        (400, Some("invalid_request")),
        "a literal credential is refused: {v}"
    );
    let (c, t) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(
            json!({"url": target.url, "checks": FAST_CHECKS.split(',').collect::<Vec<_>>(),
                    "schedule": {"cron": "0 3 * * *"}}),
        ),
    );
    assert_eq!(c, 201, "{t}");
    assert!(t["next_run_at"].as_i64().is_some());
    let tid = t["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (c, v) = serve.call(
            "POST",
            &format!("/api/v1/targets/{tid}/scans"),
            Some(&key),
            None,
        );
        assert_eq!(c, 202, "{v}");
        let sid = v["scan_id"].as_str().unwrap().to_string();
        let done = wait_done(
            &serve,
            &format!("/api/v1/scans/{sid}"),
            &key,
            Duration::from_secs(90),
        );
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(
            done["finding_count"].as_i64().unwrap() as usize,
            done["findings"].as_array().unwrap().len()
        );
        ids.push(sid);
    }
    let (c, sarif) = serve.call(
        "GET",
        &format!("/api/v1/scans/{}/report?format=sarif", ids[1]),
        Some(&key),
        None,
    );
    assert_eq!(c, 200);
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{sarif}"
    );
    let (c, html) = call_raw(
        serve.addr.as_deref().unwrap(),
        "GET",
        &format!("/api/v1/scans/{}/report?format=html", ids[1]),
        Some(&key),
        None,
    );
    assert!(c == 200 && html.contains("<html"), "{c}");
    let (c, d) = serve.call(
        "GET",
        &format!("/api/v1/scans/{}/diff", ids[1]),
        Some(&key),
        None,
    );
    assert_eq!(c, 200, "{d}");
    assert_eq!(d["previous"], ids[0].as_str());
    assert!(
        d["new"].as_array().unwrap().is_empty() && d["fixed"].as_array().unwrap().is_empty(),
        "{d}"
    );
    assert!(!d["unchanged"].as_array().unwrap().is_empty(), "{d}");
    assert_eq!(d["score"]["drift"], 0);

    // The per-key limit (8 an hour; 3 used): 429 with the error shape.
    let mut codes = Vec::new();
    for _ in 0..6 {
        let (c, v) = serve.call(
            "POST",
            &format!("/api/v1/targets/{tid}/scans"),
            Some(&key),
            None,
        );
        if c == 429 {
            assert_eq!(v["code"], "rate_limited");
        }
        codes.push(c);
    }
    assert_eq!(codes.iter().filter(|c| **c == 202).count(), 5, "{codes:?}");
    assert_eq!(codes.last(), Some(&429));

    // No secret anywhere: not in any answer above (checked below), the log, or the database.
    let (_, all) = serve.call("GET", "/api/v1/scans?limit=100", Some(&key), None);
    assert!(!all.to_string().contains("canary-svc"), "{all}");
    let (_, one) = serve.call("GET", &format!("/api/v1/scans/{id}"), Some(&key), None);
    assert!(!one.to_string().contains("canary-svc"));
    assert!(!serve.log().contains("canary-svc"), "{}", serve.log());
    drop(serve);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("canary-svc"),
            "the database holds the header"
        );
    }
}

fn psql(sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-At", "-c", sql])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// serve (no in-process worker) and two workers on PostgreSQL; one worker is killed with
/// SIGKILL in the middle of a scan. Its job comes back after the lease and completes once;
/// the tables hold every job's findings once.
#[test]
fn a_fleet_on_postgres_survives_a_killed_worker() {
    if psql("SELECT 1").is_none() {
        if common::in_ci() {
            panic!("PostgreSQL at 127.0.0.1:5432 is required in CI");
        }
        not_run("the fleet test (no PostgreSQL at 127.0.0.1:5432)");
        return;
    }
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let name = format!("mb_fleet_{}", std::process::id());
    psql(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    psql(&format!("CREATE DATABASE {name}")).unwrap();
    let db = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let key = create_key(&db);
    let serve = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--jobs",
        "0",
        "--lease",
        "3",
    ]);
    let mut workers: Vec<Proc> = (0..2)
        .map(|_| Proc::start(&["worker", "--database", &db, "--lease", "3"]))
        .collect();
    let (c, t) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(json!({"url": target.url, "checks": FAST_CHECKS.split(',').collect::<Vec<_>>(), "max_concurrent": 2})),
    );
    assert_eq!(c, 201, "{t}");
    let tid = t["id"].as_str().unwrap();
    let ids: Vec<String> = (0..4)
        .map(|_| {
            let (c, v) = serve.call(
                "POST",
                &format!("/api/v1/targets/{tid}/scans"),
                Some(&key),
                None,
            );
            assert_eq!(c, 202, "{v}");
            v["scan_id"].as_str().unwrap().to_string()
        })
        .collect();

    // Kill the worker that holds the first job to be processing.
    let start = Instant::now();
    let (victim_job, victim_pid) = loop {
        let (_, v) = serve.call("GET", "/api/v1/scans?status=processing", Some(&key), None);
        if let Some(j) = v["scans"].as_array().and_then(|a| a.first()) {
            let owner = j["lease_owner"].as_str().unwrap_or_default().to_string();
            let pid: u32 = owner
                .rsplit('-')
                .nth(2)
                .and_then(|p| p.parse().ok())
                .unwrap();
            break (j["id"].as_str().unwrap().to_string(), pid);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no scan started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let w = workers
        .iter()
        .position(|w| w.child.id() == victim_pid)
        .expect("the owner is one of ours");
    let mut killed = workers.remove(w);
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();

    for id in &ids {
        let v = wait_done(
            &serve,
            &format!("/api/v1/scans/{id}"),
            &key,
            Duration::from_secs(90),
        );
        assert_eq!(v["status"], "completed", "{v}\n{}", workers[0].log());
    }
    let (_, v) = serve.call(
        "GET",
        &format!("/api/v1/scans/{victim_job}"),
        Some(&key),
        None,
    );
    assert!(
        v["attempts"].as_i64().unwrap() >= 2,
        "the killed worker's job ran again: {v}"
    );

    // The audit, straight from the tables.
    let q = |sql: &str| {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                &name,
                "-At",
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        q("SELECT COUNT(*) FROM jobs WHERE status <> 'completed'"),
        "0"
    );
    assert_eq!(
        q("SELECT COUNT(*) FROM jobs j WHERE finding_count <> (SELECT COUNT(*) FROM job_findings f WHERE f.scan_id = j.id)"),
        "0",
        "a job's findings differ from its count"
    );
    assert_eq!(
        q("SELECT COUNT(DISTINCT fingerprint) FROM job_findings GROUP BY scan_id ORDER BY 1"),
        q("SELECT COUNT(*) FROM job_findings GROUP BY scan_id ORDER BY 1")
    );
    // Every scan of the same target with the same checks found the same flaws: none lost.
    let sets = q("SELECT string_agg(fingerprint, ',' ORDER BY fingerprint) FROM job_findings GROUP BY scan_id");
    let distinct: std::collections::BTreeSet<&str> = sets.lines().collect();
    assert_eq!(sets.lines().count(), 4, "{sets}");
    assert_eq!(
        distinct.len(),
        1,
        "the re-run job found something else: {sets}"
    );
    drop(workers);
    drop(serve);
    let _ = psql(&format!("DROP DATABASE IF EXISTS {name}"));
}

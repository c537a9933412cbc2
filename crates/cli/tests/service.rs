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
/// Alice's password on the shops, given to the service's processes as MB_SVC_ALICE_PW.
const ALICE_PW: &str = "Alice-pass-1234";

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
            .env("MB_SVC_ALICE_PW", ALICE_PW)
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

/// Queues a scan of target `tid` (202), waits for it and checks it completed: the scan's id
/// and what the API says of it.
fn scan_target(p: &Proc, key: &str, tid: &str) -> (String, Value) {
    let (c, v) = p.call(
        "POST",
        &format!("/api/v1/targets/{tid}/scans"),
        Some(key),
        None,
    );
    assert_eq!(c, 202, "{v}");
    let sid = v["scan_id"].as_str().unwrap().to_string();
    let done = wait_done(
        p,
        &format!("/api/v1/scans/{sid}"),
        key,
        Duration::from_secs(90),
    );
    assert_eq!(done["status"], "completed", "{done}");
    (sid, done)
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
    assert!(
        spec["paths"]["/api/v1/webhooks"]["post"].is_object(),
        "{spec}"
    );

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
        let (sid, done) = scan_target(&serve, &key, tid);
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

    // A target as core's scan request: the description given as its text (the service reads
    // no file: a path is refused), and an identity that signs in with a password the worker
    // reads from its environment. A literal password is refused.
    // (The shop's description shows Alice's password as an example; it is taken out so that
    // finding the password in the database below means the service stored it.)
    let spec_text =
        std::fs::read_to_string(common::repo_root().join("targets/flask_shop/apispec_1.json"))
            .unwrap()
            .replace(ALICE_PW, "example-password");
    let alice = |password: Value| {
        json!({"url": target.url, "checks": ["transport.security-headers"],
               "spec": {"text": spec_text},
               "config": {"identities": [{"name": "alice", "username": "alice",
                                          "password": password}]}})
    };
    let (c, v) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(alice(json!(ALICE_PW))),
    );
    assert_eq!(
        (c, v["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let mut by_path = alice(json!({"env": "MB_SVC_ALICE_PW"}));
    by_path["spec"] = json!("/etc/passwd");
    let (c, v) = serve.call("POST", "/api/v1/targets", Some(&key), Some(by_path));
    assert_eq!(
        (c, v["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (c, t) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(alice(json!({"env": "MB_SVC_ALICE_PW"}))),
    );
    assert_eq!(c, 201, "{t}");
    let (sid, _) = scan_target(&serve, &key, t["id"].as_str().unwrap());
    let (c, report) = serve.call(
        "GET",
        &format!("/api/v1/scans/{sid}/report?format=json"),
        Some(&key),
        None,
    );
    assert_eq!(c, 200);
    assert_eq!(
        report["coverage"]["identities"],
        json!([{"name": "alice", "signed_in": true}]),
        "{}",
        report["coverage"]
    );
    assert!(
        report["coverage"]["operations"].as_u64().unwrap_or(0) > 10,
        "the stored description was used: {}",
        report["coverage"]
    );

    // The per-key limit (8 an hour; 4 used): 429 with the error shape.
    let mut codes = Vec::new();
    for _ in 0..5 {
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
    assert_eq!(codes.iter().filter(|c| **c == 202).count(), 4, "{codes:?}");
    assert_eq!(codes.last(), Some(&429));

    // No secret anywhere: not in any answer above (checked below), the log, or the database.
    let (_, all) = serve.call("GET", "/api/v1/scans?limit=100", Some(&key), None);
    assert!(!all.to_string().contains("canary-svc"), "{all}");
    let (_, one) = serve.call("GET", &format!("/api/v1/scans/{id}"), Some(&key), None);
    assert!(!one.to_string().contains("canary-svc"));
    assert!(!serve.log().contains("canary-svc"), "{}", serve.log());
    assert!(!serve.log().contains(ALICE_PW), "{}", serve.log());
    drop(serve);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("canary-svc"),
            "the database holds the header"
        );
        assert!(!text.contains(ALICE_PW), "the database holds the password");
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

/// One POST a receiver took: headers (names lower-cased) and the raw body.
type Received = (std::collections::HashMap<String, String>, Vec<u8>);

/// A webhook receiver: a loopback listener that records each POST (headers lower-cased, the
/// raw body) and answers 204.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/ci", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut r = BufReader::new(stream);
                let mut headers = std::collections::HashMap::new();
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                    line.clear();
                }
                let n = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; n];
                if r.read_exact(&mut body).is_err() {
                    continue;
                }
                let mut s = r.into_inner();
                let _ = s.write_all(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                sink.lock().unwrap().push((headers, body));
            }
        });
        Receiver { url, got }
    }

    /// The first delivery of `event`, waiting up to `limit`.
    fn wait_for(&self, event: &str, limit: Duration) -> Received {
        let start = Instant::now();
        loop {
            let found = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|(h, _)| h.get("x-middlebrick-event").map(String::as_str) == Some(event))
                .cloned();
            if let Some(d) = found {
                return d;
            }
            assert!(start.elapsed() < limit, "no {event} delivery received");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Verifies a received delivery's HMAC with the secret shown at creation, as
/// `docs/webhooks.md` tells a receiver to, and returns its JSON body.
fn verified(secret: &str, (headers, body): &Received) -> Value {
    use middlebrick_monitor::webhooks::{verify, Secret, DEFAULT_TOLERANCE};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (ts, sig) = (
        &headers["x-middlebrick-timestamp"],
        &headers["x-middlebrick-signature"],
    );
    verify(&Secret::new(secret), ts, sig, body, now, DEFAULT_TOLERANCE)
        .expect("the delivery's signature verifies with the secret shown once");
    assert!(
        verify(
            &Secret::new("whsec_other"),
            ts,
            sig,
            body,
            now,
            DEFAULT_TOLERANCE
        )
        .is_err(),
        "and not with another secret"
    );
    serde_json::from_slice(body).unwrap()
}

fn checks_of(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A target scanned on an interval with a webhook for new (medium or worse) and fixed
/// findings: the first scheduled scan of the vulnerable shop sends a signed
/// `scan.new_findings`; the shop's secure build then takes the same port, and a later
/// scheduled scan's diff calls the planted findings fixed (and says so to the webhook). The
/// dashboard shows the target with its trend, in headless Chromium.
#[test]
fn scheduled_rescans_alert_signed_webhooks_and_show_on_the_dashboard() {
    if !targets_ready() {
        return;
    }
    let vulnerable = Target::start("flask", "vulnerable");
    let (port, target_url) = (vulnerable.port(), vulnerable.url.clone());
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("svc.sqlite3").display());
    let key = create_key(&db);
    let serve = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--min-interval",
        "1",
    ]);

    // Webhooks: a link-local URL is refused; the secret is shown once and never listed.
    let (c, v) = serve.call(
        "POST",
        "/api/v1/webhooks",
        Some(&key),
        Some(json!({"url": "http://169.254.169.254/latest"})),
    );
    assert_eq!(
        (c, v["code"].as_str()),
        (400, Some("invalid_request")),
        "{v}"
    );
    let (c, hook) = serve.call(
        "POST",
        "/api/v1/webhooks",
        Some(&key),
        Some(json!({"url": receiver.url,
                    "rules": {"new_findings_at_or_above": "medium", "fixed_findings": true}})),
    );
    assert_eq!(c, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 70);
    let (_, list) = serve.call("GET", "/api/v1/webhooks", Some(&key), None);
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret[6..]), "{list}");
    assert!(
        !list.to_string().contains("/hooks/ci"),
        "URLs by origin only: {list}"
    );

    let (c, t) = serve.call(
        "POST",
        "/api/v1/targets",
        Some(&key),
        Some(json!({"url": target_url, "name": "shop",
                    "checks": FAST_CHECKS.split(',').collect::<Vec<_>>(),
                    "schedule": {"interval": 6}})),
    );
    assert_eq!(c, 201, "{t}");
    let tid = t["id"].as_str().unwrap().to_string();
    let completed = |serve: &Proc| -> Vec<Value> {
        let (_, v) = serve.call(
            "GET",
            &format!("/api/v1/scans?target={tid}&status=completed&limit=100"),
            Some(&key),
            None,
        );
        v["scans"].as_array().cloned().unwrap_or_default()
    };

    // (a) the first scheduled scan: every finding is new; the medium-or-worse ones alert.
    let start = Instant::now();
    while completed(&serve).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", serve.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let first = verified(
        &secret,
        &receiver.wait_for("scan.new_findings", Duration::from_secs(20)),
    );
    assert_eq!(first["schema"], "middlebrick.webhook.v1");
    assert_eq!(first["target"]["id"], tid.as_str());
    let alerted = checks_of(&first["findings"]);
    assert!(
        alerted.iter().any(|c| c == "info.verbose-error"),
        "the shop's planted verbose errors: {first}"
    );
    assert!(first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical"))));

    // (b) the fix, deployed as one would: the schedule paused (a scan of a half-stopped app
    // is rightly "not re-tested", not "fixed"), the secure build on the same address, the
    // schedule resumed; its next scan calls the planted findings fixed.
    let settings = |schedule: Value| {
        json!({"url": target_url, "name": "shop",
               "checks": FAST_CHECKS.split(',').collect::<Vec<_>>(), "schedule": schedule})
    };
    let path = format!("/api/v1/targets/{tid}");
    let (c, v) = serve.call("PUT", &path, Some(&key), Some(settings(Value::Null)));
    assert_eq!(c, 200, "{v}");
    let start = Instant::now();
    loop {
        let (_, v) = serve.call(
            "GET",
            &format!("/api/v1/scans?target={tid}"),
            Some(&key),
            None,
        );
        let busy = v["scans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| matches!(s["status"].as_str(), Some("queued" | "processing")));
        if !busy {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(vulnerable);
    let swapped = queue_now_ms();
    let secure = Target::start_on("flask", "secure", port);
    let (c, v) = serve.call(
        "PUT",
        &path,
        Some(&key),
        Some(settings(json!({"interval": 2}))),
    );
    assert_eq!(c, 200, "{v}");
    let start = Instant::now();
    let diff = loop {
        let found = completed(&serve).into_iter().find_map(|s| {
            if s["started_at"].as_i64().unwrap_or(0) <= swapped {
                return None;
            }
            let id = s["id"].as_str().unwrap();
            let (_, d) = serve.call("GET", &format!("/api/v1/scans/{id}/diff"), Some(&key), None);
            (!d["fixed"].as_array()?.is_empty()).then_some(d)
        });
        if let Some(d) = found {
            break d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no rescan reported a fix: {}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        checks_of(&diff["fixed"])
            .iter()
            .any(|c| c == "info.verbose-error"),
        "{diff}"
    );
    assert!(
        diff["new"].as_array().unwrap().is_empty(),
        "the secure twin adds nothing: {diff}"
    );
    let fixed = verified(
        &secret,
        &receiver.wait_for("scan.fixed_findings", Duration::from_secs(20)),
    );
    assert!(fixed["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["change"] == "fixed"));
    let (_, d) = serve.call("GET", "/api/v1/deliveries", Some(&key), None);
    let delivered: Vec<&Value> = d["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "delivered")
        .collect();
    assert!(delivered.len() >= 2, "{d}");
    assert!(!d.to_string().contains(&secret[6..]));

    // (c) the dashboard: loopback only without a key, and never to a page that rebinds its
    // own name to 127.0.0.1.
    let addr = serve.addr.clone().unwrap();
    let (c, _) = call_raw(&addr, "GET", "/dashboard/", None, None);
    assert_eq!(c, 200);
    let rebound = dashboard_as(&addr, "evil.example", None);
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    let with_key = dashboard_as(&addr, "evil.example", Some(&key));
    assert!(with_key.starts_with("HTTP/1.1 200"), "{with_key}");
    let lower = with_key.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{with_key}"
    );
    assert!(!with_key.contains(&secret[6..]));
    let scan_id = completed(&serve)[0]["id"].as_str().unwrap().to_string();
    for path in [
        format!("/dashboard/scans/{scan_id}"),
        format!("/dashboard/scans/{scan_id}/diff"),
        "/dashboard/deliveries".to_string(),
    ] {
        let (c, page) = call_raw(&addr, "GET", &path, None, None);
        assert_eq!(c, 200, "{path}: {page}");
        assert!(page.contains("<main>"), "{path}");
    }
    dashboard_in_chromium(&format!("http://{addr}/dashboard/"));
    drop(secure);
}

fn queue_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The raw answer (status line, headers, body) to `GET /dashboard/` sent with `host`.
fn dashboard_as(addr: &str, host: &str, key: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("GET /dashboard/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("x-api-key: {k}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

/// The targets page in headless Chromium: not blank, no console error (a CSP violation is
/// one), the target table and a trend SVG in the DOM.
fn dashboard_in_chromium(url: &str) {
    let Some(browser) = common::chromium() else {
        assert!(
            !common::in_ci(),
            "chromium is needed under CI (scripts/chromium.sh)"
        );
        not_run(
            "the dashboard in headless Chromium (no chromium; \
             MIDDLEBRICK_INSTALL_CHROMIUM=1 installs it)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("dashboard.png");
    let shot = common::chromium_cmd(&browser, &dir.path().join("p1"))
        .arg("--window-size=1280,800")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let colours = common::png_colours(&png).expect("python3 reads the PNG");
    assert!(colours > 3, "the dashboard is blank ({colours} colours)");
    let dom = common::chromium_cmd(&browser, &dir.path().join("p2"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        text.contains("<table>") && text.contains("<strong>shop</strong>"),
        "{text}"
    );
    assert!(text.contains("<svg class=\"spark"), "a trend: {text}");
    assert!(text.contains("<polyline"), "{text}");
    let log =
        String::from_utf8_lossy(&shot.stderr).to_string() + &String::from_utf8_lossy(&dom.stderr);
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Refused to") || l.contains("Uncaught"))
        .collect();
    assert!(bad.is_empty(), "console errors on the dashboard: {bad:#?}");
}

//! Cancelling a scan through `core::scan::run`: it returns promptly with an honest report,
//! against a real server whose answers never come (`targets/hostile/server.py slow`: `/hang`
//! accepts a request and never answers it).

use middlebrick_core::config::Limits;
use middlebrick_core::scan::{run, CancelToken, Event, Phase, ScanRequest, SpecInput};
use middlebrick_store::Status;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The per-request timeout of these scans: far longer than a cancelled scan may take.
const REQUEST_TIMEOUT_S: u64 = 60;
/// How long a cancelled scan may take to come back.
const PROMPT: Duration = Duration::from_secs(5);

struct SlowServer {
    child: Child,
    url: String,
}

impl SlowServer {
    fn start() -> SlowServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let venv = root.join("targets/.venv/bin/python");
        let python: PathBuf = if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(python)
            .arg(root.join("targets/hostile/server.py"))
            .args(["slow", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs targets/hostile/server.py");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the slow server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        SlowServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(url: &str, spec: Option<String>) -> ScanRequest {
    let mut r = ScanRequest::new(url);
    r.spec = spec.map(SpecInput::Url);
    r.limits = Limits {
        timeout: Some(REQUEST_TIMEOUT_S),
        max_duration: Some(600),
        ..Limits::default()
    };
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_scan_returns_promptly_with_a_report_marked_interrupted() {
    let server = SlowServer::start();
    let cancel = CancelToken::new();
    let phases = Arc::new(Mutex::new(Vec::new()));
    let cancelled_event = Arc::new(Mutex::new(false));
    // Cancel a second after the operations are known: discovery is then checking the base
    // path with documented reads, and its GET /hang is on the wire, waiting for an answer that
    // never comes (uncancelled, this scan takes two request timeouts before its warm-up).
    let t0 = Instant::now();
    let events = {
        let (cancel, phases, seen) = (cancel.clone(), phases.clone(), cancelled_event.clone());
        move |e: Event| match e {
            Event::Operations { .. } => {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    cancel.cancel();
                });
            }
            Event::Phase(p) => phases.lock().unwrap().push((p, t0.elapsed())),
            Event::Cancelled => *seen.lock().unwrap() = true,
            _ => {}
        }
    };
    let req = request(&server.url, Some(format!("{}/openapi.json", server.url)));
    let started = Instant::now();
    let outcome = run(&req, cancel.clone(), events).await.expect("a report");
    let cancelled_at = started.elapsed();
    let phases = phases.lock().unwrap().clone();
    assert!(cancel.is_cancelled());
    assert!(
        cancelled_at < Duration::from_secs(1) + PROMPT,
        "the cancelled scan took {cancelled_at:?} (requests may wait {REQUEST_TIMEOUT_S}s); \
         phases started at {phases:?}"
    );
    assert_eq!(outcome.status, Status::Interrupted);
    assert!(outcome.report.incomplete);
    assert_eq!(
        outcome.report.coverage.stopped.as_deref(),
        Some("interrupted")
    );
    assert!(*cancelled_event.lock().unwrap(), "no Cancelled event");
    let phases: Vec<Phase> = phases.into_iter().map(|(p, _)| p).collect();
    assert_eq!(phases.first(), Some(&Phase::Discovery));
    assert_eq!(phases.last(), Some(&Phase::Scoring), "{phases:?}");
    // Honest: a finding absent from this report is not called fixed.
    assert!(outcome
        .report
        .not_retested(
            middlebrick_model::CheckId::InfoVerboseError,
            Some("GET /items")
        )
        .is_some());
    let json = outcome.report_json();
    assert!(json.contains("\"incomplete\": true"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_before_the_operations_are_known_returns_an_empty_report_marked_interrupted() {
    let server = SlowServer::start();
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            cancel.cancel();
        });
    }
    // The target URL itself never answers: the scan is still in discovery when cancelled.
    let req = request(&format!("{}/hang", server.url), None);
    let started = Instant::now();
    let outcome = run(&req, cancel, |_| {}).await.expect("a report");
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert_eq!(outcome.status, Status::Interrupted);
    assert!(outcome.report.incomplete);
    assert_eq!(outcome.report.coverage.operations, 0);
    assert!(outcome.report.findings.is_empty());
    assert_eq!(
        outcome.report.coverage.stopped.as_deref(),
        Some("interrupted")
    );
}

//! Issue 20's resource-consumption and inventory checks on the real shops: every planted flaw
//! of these checks (groundtruth.toml) is found on both vulnerable builds, the secure twins get
//! none of these checks' findings at all, and a single-page app's catch-all server (our hostile
//! server's `catchall` case) gets no inventory finding. Only these checks run (`--checks`), in
//! active mode (the page-size check fills a short list with objects of its own there), so each
//! scan costs the warm-up plus a few dozen requests. Prints the requests the checks add.

mod common;

use common::{ground_truth, repo_root, scan_checks, targets_ready, write_config, Target};
use serde_json::Value;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHECKS: &str = "availability.uncapped-page-size,availability.no-body-limit,\
                      inventory.undocumented-route,inventory.old-version,inventory.deprecated-live";
/// A check that sends nothing: the scan's fixed cost (discovery, sign-in, warm-up).
const NOTHING: &str = "transport.security-headers";

fn ours(check: &str) -> bool {
    CHECKS.split(',').any(|c| c == check)
}

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

fn line(f: &Value) -> String {
    format!(
        "{} {} {} {} {}",
        f["severity"].as_str().unwrap_or(""),
        f["check"].as_str().unwrap_or(""),
        f["method"].as_str().unwrap_or("*"),
        f["path"].as_str().unwrap_or("*"),
        f["parameter"].as_str().unwrap_or("")
    )
}

fn found(report: &Value, flaw: &common::Flaw) -> bool {
    findings(report).iter().any(|f| {
        f["check"] == flaw.check.as_str()
            && (flaw.path == "*"
                || (f["method"] == flaw.method.as_str() && f["path"] == flaw.path.as_str()))
            && flaw
                .parameter
                .as_deref()
                .is_none_or(|p| f["parameter"] == p)
    })
}

fn both_ways(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let planted: Vec<_> = ground_truth(app)
        .flaws
        .into_iter()
        .filter(|f| ours(&f.check))
        .collect();
    assert!(planted.len() >= 5, "{app}: issue 20 flaws in groundtruth");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    for variant in ["vulnerable", "secure"] {
        let target = Target::start(app, variant);
        let started = Instant::now();
        let report = scan_checks(&target, "active", CHECKS, Some(&config));
        let wall = started.elapsed();
        let fixed = scan_checks(&target, "active", NOTHING, Some(&config));
        let all: Vec<String> = findings(&report).iter().map(|f| line(f)).collect();
        eprintln!(
            "FIGURES {app} {variant}: requests_sent={} (the same scan with no active check: {}) \
             wall_ms={} findings:\n  {}",
            report["requests_sent"],
            fixed["requests_sent"],
            wall.as_millis(),
            all.join("\n  ")
        );
        if variant == "vulnerable" {
            for flaw in &planted {
                assert!(
                    found(&report, flaw),
                    "{app} vulnerable: {} {} {} {:?} not found; got:\n  {}\n(log: {})",
                    flaw.check,
                    flaw.method,
                    flaw.path,
                    flaw.parameter,
                    all.join("\n  "),
                    target.log.display()
                );
            }
        } else {
            assert!(all.is_empty(), "{app} secure: {all:#?}");
        }
    }
}

#[test]
fn flask_inventory_and_resource_flaws_are_found_and_the_twin_is_silent() {
    both_ways("flask");
}

#[test]
fn fastapi_inventory_and_resource_flaws_are_found_and_the_twin_is_silent() {
    both_ways("fastapi");
}

/// The hostile server's `catchall` case, killed on drop.
struct CatchAll {
    child: Child,
    url: String,
}

impl Drop for CatchAll {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_catch_all() -> CatchAll {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new("python3")
        .arg(repo_root().join("targets/hostile/server.py"))
        .args(["catchall", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the hostile server");
    let server = CatchAll {
        child,
        url: format!("http://127.0.0.1:{port}/openapi.json"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the catch-all server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn a_catch_all_server_gets_no_inventory_finding() {
    let server = start_catch_all();
    let out = common::run(&[
        "scan",
        &server.url,
        "--mode",
        "active",
        "--checks",
        "inventory.undocumented-route,inventory.old-version",
        "--no-progress",
        "--format",
        "json",
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report on stdout");
    let sent = report["requests_sent"].as_u64().unwrap_or(0);
    assert!(sent > 30, "the probes were sent ({sent} requests)");
    let all: Vec<String> = findings(&report).iter().map(|f| line(f)).collect();
    assert!(all.is_empty(), "catch-all server: {all:#?}");
}

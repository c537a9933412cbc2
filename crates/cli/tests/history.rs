//! Black-box tests of the scan history: every scan recorded, listed, shown in any format,
//! compared by id, `--compare-last`, and interrupted or killed scans left incomplete.

mod common;

use common::{run, targets_ready, Target};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FAST_CHECKS: &str = "transport.security-headers,info.verbose-error";

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn scans_are_recorded_listed_shown_and_compared() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let db = db.to_str().unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            &target.url,
            "--checks",
            FAST_CHECKS,
            "--history",
            db,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let first = scan(&[]);
    assert!(
        matches!(first.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("recorded as scan 1"));
    let second = scan(&["--compare-last"]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("compare-last: since scan 1"), "{err}");
    assert!(err.contains("0 new, 0 fixed"), "{err}");

    let list = run(&["history", "--history", db, "--format", "json"]);
    assert!(list.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], 2, "newest first");
    for r in &rows {
        assert_eq!(r["status"], "complete");
        assert_eq!(r["target"], format!("{}/", target.url));
        assert_eq!(r["config_hash"].as_str().unwrap().len(), 64);
        assert!(r["checks_version"].as_str().unwrap().contains('-'));
    }
    let text = out(&run(&[
        "history",
        "--history",
        db,
        "--target",
        "http://elsewhere/",
    ]));
    assert!(text.is_empty(), "{text}");

    let shown = run(&["history", "show", "1", "--history", db, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(!report["findings"].as_array().unwrap().is_empty());
    let sarif = out(&run(&[
        "history",
        "show",
        "2",
        "--history",
        db,
        "-f",
        "sarif",
    ]));
    assert!(sarif.contains("\"version\": \"2.1.0\""));
    assert_eq!(
        run(&["history", "show", "9", "--history", db])
            .status
            .code(),
        Some(2)
    );

    // diff mixes a history id and a report file.
    let file = dir.path().join("one.json");
    std::fs::write(&file, &shown.stdout).unwrap();
    let d = run(&[
        "diff",
        file.to_str().unwrap(),
        "2",
        "--history",
        db,
        "--format",
        "json",
    ]);
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(d["new_findings"].as_array().unwrap().len(), 0);
    assert!(!d["unchanged_findings"].as_array().unwrap().is_empty());

    let none = run(&["scan", &target.url, "--checks", FAST_CHECKS, "--no-history"]);
    assert!(matches!(none.status.code(), Some(0 | 1)));
    let rows = out(&run(&["history", "--history", db]));
    let mut lines = rows.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.contains("SCAN") && header.contains("STARTED (UTC)") && header.contains("TARGET"),
        "{rows}"
    );
    assert_eq!(lines.count(), 2, "--no-history recorded a scan");
    // Readable times: `2026-12-07 05:24:01`, no `T`, no fraction.
    let second_row = rows.lines().nth(1).unwrap();
    assert!(
        second_row
            .split_whitespace()
            .nth(2)
            .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':'),
        "{rows}"
    );
}

/// An API whose spec answers at once and whose operations answer after two seconds each.
fn slow_api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let paths: String = (0..20)
        .map(|i| {
            format!(
                r#""/items{i}": {{"get": {{"responses": {{"200": {{"description": "ok"}}}}}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let spec = format!(
        r#"{{"openapi": "3.0.3", "info": {{"title": "slow", "version": "1"}}, "paths": {{{paths}}}}}"#
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let spec = spec.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let body = if line.contains("/openapi.json") {
                    spec
                } else {
                    std::thread::sleep(Duration::from_secs(2));
                    "{}".to_string()
                };
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.flush();
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            });
        }
    });
    url
}

fn start_scan(url: &str, db: &str) -> std::process::Child {
    Command::new(common::bin())
        .args(["scan", url, "--spec", &format!("{url}/openapi.json")])
        .args(["--history", db, "--no-progress", "--rate", "0"])
        .env_remove("MIDDLEBRICK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn history_json(db: &str) -> Vec<serde_json::Value> {
    serde_json::from_slice(&run(&["history", "--history", db, "-f", "json"]).stdout).unwrap()
}

/// Waits until the scan's `running` row exists, so the signal lands mid-scan.
fn wait_running(db: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::path::Path::new(db).exists()
            && history_json(db).iter().any(|r| r["status"] == "running")
        {
            std::thread::sleep(Duration::from_millis(1500));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the scan never recorded its start");
}

#[test]
fn an_interrupted_scan_is_recorded_as_interrupted_with_its_report() {
    let url = slow_api();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite3");
    let db = db.to_str().unwrap();
    let mut child = start_scan(&url, db);
    wait_running(db);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    let rows = history_json(db);
    assert_eq!(rows[0]["status"], "interrupted", "{rows:?}");
    let shown = run(&["history", "show", "1", "--history", db, "-f", "json"]);
    assert!(shown.status.success());
    let report: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(report["incomplete"], true);
}

#[test]
fn a_killed_scan_is_listed_as_incomplete() {
    let url = slow_api();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite3");
    let db = db.to_str().unwrap();
    let mut child = start_scan(&url, db);
    wait_running(db);
    child.kill().unwrap();
    child.wait().unwrap();
    let text = out(&run(&["history", "--history", db]));
    assert!(text.contains("incomplete (no end recorded)"), "{text}");
    let show = run(&["history", "show", "1", "--history", db]);
    assert_eq!(show.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&show.stderr).contains("recorded no report"));
}

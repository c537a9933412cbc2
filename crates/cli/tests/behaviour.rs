//! Black-box behaviour of `middlebrick scan` against the real targets: secrets never written,
//! safe mode sends nothing that changes state, several formats from one scan, the gate and the
//! budget exit codes, and a crawl when there is no spec.

mod common;

use common::{run, targets_ready, write_config, Target};
use std::collections::BTreeMap;
use std::process::Command;

const CANARY: &str = "mb-canary-7f3a9c2e51";

#[test]
fn secrets_given_or_obtained_appear_in_no_output_format() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    // alice carries the canary as a static header besides signing in, so every request she
    // sends (and the evidence that shows it) has it.
    let config = dir.path().join("canary.toml");
    std::fs::write(
        &config,
        format!(
            "[[identity]]\nname = \"alice\"\nusername = \"alice\"\npassword = \"Alice-pass-1234\"\n[identity.headers]\nX-Trace-Token = \"{CANARY}\"\n\n[[identity]]\nname = \"bob\"\nusername = \"bob\"\npassword = \"Bob-pass-1234\"\n"
        ),
    )
    .unwrap();
    let formats = ["json", "sarif", "markdown", "junit", "html", "terminal"];
    let mut args: Vec<String> = vec![
        "scan".into(),
        target.url.clone(),
        "--config".into(),
        config.display().to_string(),
        "--cookie".into(),
        format!("pref={CANARY}"),
        "--no-progress".into(),
        "-v".into(),
    ];
    for f in formats {
        args.extend([
            "--format".into(),
            f.into(),
            "-o".into(),
            dir.path().join(format!("out.{f}")).display().to_string(),
        ]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(dir.path().join("out.json")).unwrap();
    // The canary header was sent: the evidence of some finding shows it, redacted.
    assert!(
        json.contains("x-trace-token") || json.contains("X-Trace-Token"),
        "the canary header should be in the evidence"
    );
    assert!(json.contains("[REDACTED]"));
    let mut artifacts = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ),
    ];
    for f in formats {
        artifacts.push((
            f.to_string(),
            std::fs::read_to_string(dir.path().join(format!("out.{f}"))).unwrap(),
        ));
    }
    for (name, text) in &artifacts {
        assert!(
            !text.is_empty() || name == "stdout" || name == "stderr",
            "{name} is empty"
        );
        for secret in [CANARY, "Alice-pass-1234", "Bob-pass-1234"] {
            assert!(!text.contains(secret), "{secret} leaked into {name}");
        }
        // Tokens obtained by signing in are secrets too, and a signed token a check forged may
        // be a working credential: no JWT with a signature may appear (alg-none proofs may).
        assert!(
            signed_jwt(text).is_none(),
            "a signed token leaked into {name}: {:?}",
            signed_jwt(text)
        );
    }
}

#[test]
fn safe_mode_sends_no_state_changing_request_but_sign_in() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = run(&[
        "scan",
        &target.url,
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        dir.path().join("r.json").to_str().unwrap(),
        "--no-progress",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Werkzeug dev server logs every request line: `"METHOD /path HTTP/1.1" status`.
    let log = std::fs::read_to_string(&target.log).unwrap();
    let mut census: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        // Access-log lines only: `127.0.0.1 - - [date] "GET /path HTTP/1.1" 200 -`.
        if !line.starts_with("127.0.0.1 - - [") {
            continue;
        }
        let Some(request) = line.split('"').nth(1) else {
            continue;
        };
        let mut parts = request.split(' ');
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            continue;
        };
        let method = method.trim_start_matches(|c: char| !c.is_ascii_uppercase());
        *census.entry(method.to_string()).or_default() += 1;
        // Sign-ins (the token one and the cookie one) are the only POSTs safe mode sends: they
        // create a session and change no data.
        if !matches!(method, "GET" | "HEAD" | "OPTIONS") {
            assert!(
                method == "POST" && matches!(path, "/api/auth/login" | "/api/auth/session"),
                "safe mode sent a state-changing request: {line}"
            );
        }
    }
    eprintln!("METHOD CENSUS safe mode, flask vulnerable: {census:?}");
    assert!(census.get("GET").copied().unwrap_or(0) > 20);
}

#[test]
fn gate_and_budget_exit_codes() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("fastapi", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let c = config.to_str().unwrap();
    let gate = run(&[
        "scan",
        &target.url,
        "--config",
        c,
        "--fail-on",
        "high",
        "--no-progress",
        "--format",
        "json",
    ]);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "findings at or above high fail the gate"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&gate.stdout).expect("only the JSON report on stdout");
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "high"));
    let passes = run(&[
        "scan",
        &target.url,
        "--config",
        c,
        "--fail-on",
        "critical",
        "--checks",
        "transport.security-headers",
        "--no-progress",
    ]);
    assert_eq!(passes.status.code(), Some(0));
    let starved = run(&[
        "scan",
        &target.url,
        "--config",
        c,
        "--budget",
        "12",
        "--no-progress",
        "--format",
        "json",
    ]);
    assert_eq!(
        starved.status.code(),
        Some(4),
        "a scan cut short by its budget exits 4"
    );
    let report: serde_json::Value = serde_json::from_slice(&starved.stdout).unwrap();
    assert_eq!(report["incomplete"], true);
    assert!(
        report["requests_sent"].as_u64().unwrap() <= 12,
        "the budget is a hard cap: {}",
        report["requests_sent"]
    );
}

#[test]
fn without_a_spec_the_scan_crawls_and_says_coverage_is_partial() {
    // A static site with links and no OpenAPI description anywhere.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("api/items")).unwrap();
    std::fs::write(
        dir.path().join("api/index.html"),
        r#"<a href="/api/items/">items</a> <a href="/api/status.json">status</a>"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("api/status.json"),
        r#"{"status":"ok","links":{"items":"/api/items/"}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("api/items/index.html"), "<p>no items</p>").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 http.server");
    let url = format!("http://127.0.0.1:{port}/api");
    let mut ready = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ready, "http.server did not start");
    let out = run(&["scan", &url, "--no-progress", "--format", "json"]);
    let text = run(&["scan", &url, "--no-progress"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["coverage"]["partial"], true);
    assert_eq!(report["coverage"]["spec"], "crawled");
    assert!(
        report["coverage"]["operations"].as_u64().unwrap() >= 3,
        "{}",
        report["coverage"]
    );
    assert!(report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "discovery.crawled"));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("partial"),
        "the terminal output says coverage is partial"
    );
}

/// The first JWT-shaped value with a non-empty signature in `text`.
fn signed_jwt(text: &str) -> Option<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    text.match_indices("eyJ").find_map(|(i, _)| {
        let tail = &text[i..];
        let token: String = tail.chars().take_while(|c| ok(*c)).collect();
        let parts: Vec<&str> = token.split('.').collect();
        (parts.len() == 3 && parts[1].len() >= 2 && parts[2].len() >= 8).then_some(token)
    })
}

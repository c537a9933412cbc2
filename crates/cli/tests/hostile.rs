//! Scans of our own hostile server (`targets/hostile/server.py`, issue 16): each case must end
//! within its limits (the binary's peak RSS at most 200 MB, its wall time within
//! `--max-duration` + 5 s) with an honest report. Each test prints one row of the table
//! `case | wall s | peak RSS MB | exit | outcome` on stderr (`--nocapture` shows it).

mod common;

use common::{bin, repo_root};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSS_LIMIT_KB: u64 = 200 * 1024;

/// A running hostile server; killed when dropped.
struct Hostile {
    child: Child,
    url: String,
    /// The server's request log (`METHOD /path` per line).
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hostile {
    fn start(case: &str, extra: &[&str]) -> Option<Hostile> {
        let root = repo_root();
        let venv = root.join("targets/.venv/bin/python");
        let python: PathBuf = if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let dir = tempfile::tempdir().ok()?;
        let log = dir.path().join("requests.log");
        let child = Command::new(python)
            .arg(root.join("targets/hostile/server.py"))
            .arg(case)
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).ok()?)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                eprintln!("hostile server not started ({e}); case {case} not run");
                return None;
            }
        };
        let h = Hostile {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(h);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the hostile server ({case}) did not start");
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of the binary cost and produced.
struct Run {
    code: Option<i32>,
    wall: Duration,
    peak_rss_kb: u64,
    stderr: String,
}

/// Runs the binary with `args`, sampling its peak resident set (`VmHWM`) until it exits.
fn measured(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("MIDDLEBRICK_CONFIG")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        wall: started.elapsed(),
        peak_rss_kb: peak,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Scans `h` with `--max-duration max`, asserts the limits, prints the table row and returns
/// the run and its JSON report.
fn scan_case(case: &str, h: &Hostile, max: u64, extra: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let max_s = max.to_string();
    let mut args = vec![
        "scan",
        &h.url,
        "--no-progress",
        "--no-history",
        "--max-duration",
        &max_s,
        "--format",
        "json",
        "-o",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = measured(&args, &[("MIDDLEBRICK_LOG", "middlebrick_http=info")]);
    let json: Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    eprintln!(
        "| {case} | {:.1} | {} | {} | incomplete={} findings={} |",
        run.wall.as_secs_f64(),
        run.peak_rss_kb / 1024,
        run.code.map_or("signal".into(), |c| c.to_string()),
        json["incomplete"],
        json["findings"].as_array().map_or(0, Vec::len)
    );
    assert!(
        run.wall <= Duration::from_secs(max + 5),
        "{case}: {:?} is over --max-duration {max}s + 5s\n{}",
        run.wall,
        run.stderr
    );
    assert!(
        run.peak_rss_kb <= RSS_LIMIT_KB,
        "{case}: peak RSS {} kB",
        run.peak_rss_kb
    );
    assert!(json.is_object(), "{case}: no report\n{}", run.stderr);
    (run, json)
}

fn diagnostics(report: &Value) -> Vec<(String, String)> {
    report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn hostile_redirects_are_not_followed_off_scope() {
    let Some(h) = Hostile::start("redirects", &[]) else {
        return;
    };
    let (run, report) = scan_case("redirects", &h, 60, &["--timeout", "3"]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    assert_eq!(report["incomplete"], false);
    assert!(
        run.stderr.contains("169.254.169.254") && run.stderr.contains("not followed"),
        "the metadata redirect is refused and said so:\n{}",
        run.stderr
    );
}

#[test]
fn hostile_bodies_are_read_under_the_cap() {
    let Some(h) = Hostile::start("bodies", &[]) else {
        return;
    };
    let (run, report) = scan_case("bodies", &h, 60, &["--timeout", "10"]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    assert_eq!(report["incomplete"], false);
}

#[test]
fn hostile_slow_hanging_and_resetting_answers_are_no_outage() {
    let Some(h) = Hostile::start("slow", &[]) else {
        return;
    };
    let (run, report) = scan_case("slow", &h, 90, &["--timeout", "2"]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    assert_eq!(report["incomplete"], false, "{:#?}", diagnostics(&report));
    assert!(
        !diagnostics(&report)
            .iter()
            .any(|(c, _)| c.starts_with("target.")),
        "slow endpoints on a live target are no outage: {:#?}",
        diagnostics(&report)
    );
}

#[test]
fn a_target_that_dies_mid_scan_gives_an_incomplete_report_and_exit_4() {
    let Some(h) = Hostile::start("dies", &["--die-after", "12"]) else {
        return;
    };
    let (run, report) = scan_case("dies", &h, 90, &["--timeout", "3"]);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(report["incomplete"], true);
    let diags = diagnostics(&report);
    let down = diags
        .iter()
        .find(|(c, _)| c == "target.down")
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert!(
        down.1.contains("the last requests sent were: GET "),
        "{down:?}"
    );
    assert!(diags.iter().any(|(c, _)| c == "scan.incomplete"));
}

#[test]
fn one_request_that_freezes_a_single_process_target_is_reported_and_the_scan_goes_on() {
    let Some(h) = Hostile::start("regex", &[]) else {
        return;
    };
    let (run, report) = scan_case("regex", &h, 150, &["--timeout", "2"]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    assert_eq!(report["incomplete"], false, "{:#?}", diagnostics(&report));
    let findings = report["findings"].as_array().unwrap();
    let dos = findings
        .iter()
        .find(|f| f["check"] == "availability.single-request-dos")
        .unwrap_or_else(|| panic!("{findings:#?}\n{:#?}", diagnostics(&report)));
    assert_eq!(dos["path"], "/names/{name}");
    assert_eq!(dos["cwe"], serde_json::json!([400, 1333]));
    assert!(diagnostics(&report)
        .iter()
        .any(|(c, _)| c == "target.outage"));
}

#[test]
fn the_secure_twin_that_checks_length_first_gets_no_denial_of_service_finding() {
    let Some(h) = Hostile::start("regex-secure", &[]) else {
        return;
    };
    let (run, report) = scan_case("regex-secure", &h, 150, &["--timeout", "2"]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    assert_eq!(report["incomplete"], false);
    let findings = report["findings"].as_array().unwrap();
    assert!(
        !findings
            .iter()
            .any(|f| f["check"] == "availability.single-request-dos"),
        "{findings:#?}"
    );
    assert!(!diagnostics(&report)
        .iter()
        .any(|(c, _)| c.starts_with("target.")));
}

/// Every prefix of at least six characters of `secret`.
fn prefixes(secret: &str) -> Vec<&str> {
    (6..=secret.len())
        .filter(|&n| secret.is_char_boundary(n))
        .map(|n| &secret[..n])
        .collect()
}

fn artifacts(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect()
}

#[test]
fn canary_secrets_leave_no_prefix_in_any_artifact() {
    let token = "tok-canary-5d1f0c9a7b3e2846";
    let header = "hdr-canary-8e2b7a6c1d0f9354";
    let cookie = "ck-canary-3a9f6e2d8b1c7045";
    let password = "pw-canary-6c4e1b9d2a7f0583";
    let Some(h) = Hostile::start(
        "canary",
        &["--token", token, "--canary", header, "--password", password],
    ) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("identities.toml");
    std::fs::write(
        &config,
        format!(
            "[[identity]]\nname = \"alice\"\nusername = \"alice\"\npassword = \"{password}\"\n\
             [identity.headers]\nX-Trace-Token = \"{header}\"\n"
        ),
    )
    .unwrap();
    let arts = out.path().join("artifacts");
    std::fs::create_dir(&arts).unwrap();
    let history = arts.join("history.sqlite3");
    let cookie_arg = format!("pref={cookie}");
    let mut args: Vec<String> = [
        "scan",
        &h.url,
        "--config",
        config.to_str().unwrap(),
        "--cookie",
        &cookie_arg,
        "--no-progress",
        "-v",
        "--max-duration",
        "90",
        "--timeout",
        "5",
        "--history",
        history.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for f in ["json", "sarif", "markdown", "junit", "html", "terminal"] {
        args.extend([
            "--format".into(),
            f.into(),
            "-o".into(),
            arts.join(format!("report.{f}")).display().to_string(),
        ]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = measured(&argv, &[("MIDDLEBRICK_LOG", "debug")]);
    eprintln!(
        "| canary | {:.1} | {} | {} | artifacts grepped |",
        run.wall.as_secs_f64(),
        run.peak_rss_kb / 1024,
        run.code.map_or("signal".into(), |c| c.to_string())
    );
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    let report = std::fs::read_to_string(arts.join("report.json")).unwrap();
    assert!(
        report.contains("[REDACTED]"),
        "the scan signed in and saw its secrets echoed"
    );
    std::fs::write(arts.join("stderr"), &run.stderr).unwrap();
    let all = artifacts(&arts);
    assert!(all.len() >= 8, "six reports, the history, stderr");
    for secret in [token, header, cookie, password] {
        for prefix in prefixes(secret) {
            for (name, text) in &all {
                assert!(
                    !text.contains(prefix),
                    "`{prefix}` (a prefix of a secret) is in {name}"
                );
            }
        }
    }
}

#[test]
fn hostile_specs_are_refused_and_no_value_from_outside_their_folder_is_sent() {
    let Some(h) = Hostile::start("redirects", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let canary = "outside-canary-4f2a9c";
    std::fs::write(
        dir.path().join("outside.yaml"),
        format!("p: {{name: q, in: query, required: true, schema: {{type: string, enum: [{canary}]}}}}\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("spec")).unwrap();
    let spec = dir.path().join("spec/openapi.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /health:\n    get:\n      responses: {'200': {description: ok}}\n  /items:\n    get:\n      parameters: [{$ref: '../outside.yaml#/p'}]\n      responses: {'200': {description: ok}}\n  /go:\n    get:\n      parameters: [{$ref: '/dev/zero'}]\n      responses: {'200': {description: ok}}\n  /away:\n    get:\n      parameters: [{$ref: '/proc/self/environ#/HOME'}]\n      responses: {'200': {description: ok}}\n",
    )
    .unwrap();
    let (run, report) = scan_case("spec-refs", &h, 60, &["--spec", spec.to_str().unwrap()]);
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr);
    let refused: Vec<String> = diagnostics(&report)
        .into_iter()
        .filter(|(c, _)| c == "spec.ref-refused")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    for r in [
        "../outside.yaml#/p",
        "/dev/zero",
        "/proc/self/environ#/HOME",
    ] {
        assert!(refused.iter().any(|m| m.contains(r)), "{r}: {refused:#?}");
    }
    let log = std::fs::read_to_string(&h.log).unwrap();
    assert!(log.contains("GET /health"), "{log}");
    assert!(
        !log.contains(canary),
        "a value read from outside the folder was sent"
    );
    assert!(
        !log.contains("GET /go") && !log.contains("GET /away"),
        "{log}"
    );

    // An alias bomb and a device given as the spec itself end at once with an error.
    let bomb = dir.path().join("spec/bomb.yaml");
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{p}"); 10].join(", ")
        ));
    }
    std::fs::write(&bomb, text).unwrap();
    for spec in [bomb.to_str().unwrap(), "/dev/zero"] {
        let started = Instant::now();
        let out = Command::new(bin())
            .args([
                "scan",
                &h.url,
                "--spec",
                spec,
                "--no-progress",
                "--no-history",
            ])
            .env_remove("MIDDLEBRICK_CONFIG")
            .output()
            .unwrap();
        eprintln!(
            "| spec {spec} | {:.1} | - | {} | refused |",
            started.elapsed().as_secs_f64(),
            out.status.code().unwrap_or(-1)
        );
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

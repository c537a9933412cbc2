//! `injection.sql` and the stack fingerprint on the real targets: every planted injection is
//! found on the parameter the ground truth names, with confirmed or firm confidence; the secure
//! twins (and the randomly slow `/api/search/suggest`) get no injection finding in five
//! consecutive scans; the detected stack is right for each app.

mod common;

use common::{ground_truth, run, targets_ready, write_config, Target};
use serde_json::Value;

fn scan(target: &Target, checks: Option<&str>) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let out_path = dir.path().join("report.json");
    let mut args = vec![
        "scan",
        target.url.as_str(),
        "--config",
        config.to_str().unwrap(),
        "--mode",
        "active",
        "--format",
        "json",
        "-o",
        out_path.to_str().unwrap(),
        "--no-progress",
    ];
    if let Some(c) = checks {
        args.extend(["--checks", c]);
    }
    let out = run(&args);
    let text = std::fs::read_to_string(&out_path).unwrap_or_else(|_| {
        panic!(
            "no report; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report: Value = serde_json::from_str(&text).expect("report is JSON");
    eprintln!(
        "FIGURES {} {} ({}): requests_sent={} duration_ms={} findings={}",
        target.app,
        target.variant,
        checks.unwrap_or("all checks"),
        report["requests_sent"],
        report["duration_ms"],
        report["findings"].as_array().map_or(0, Vec::len)
    );
    report
}

fn injection_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "injection.sql")
        .collect()
}

#[derive(serde::Deserialize)]
struct Planted {
    #[serde(default, rename = "flaw")]
    flaws: Vec<PlantedFlaw>,
}

#[derive(serde::Deserialize)]
struct PlantedFlaw {
    check: String,
    path: String,
    #[serde(default)]
    parameter: Option<String>,
}

fn planted_injections(app: &str) -> Vec<(String, String)> {
    let dir = if app == "flask" {
        "flask_shop"
    } else {
        "fastapi_shop"
    };
    let text = std::fs::read_to_string(
        common::repo_root()
            .join("targets")
            .join(dir)
            .join("groundtruth.toml"),
    )
    .expect("ground truth");
    let p: Planted = toml::from_str(&text).expect("ground truth parses");
    p.flaws
        .into_iter()
        .filter(|f| f.check == "injection.sql")
        .map(|f| {
            (
                f.path,
                f.parameter.expect("injection flaws name a parameter"),
            )
        })
        .collect()
}

fn recall_and_stack(app: &'static str, framework: &str, server: &str, driver: &str) {
    if !targets_ready() {
        return;
    }
    let target = Target::start(app, "vulnerable");
    let report = scan(
        &target,
        Some("injection.sql,info.verbose-error,transport.dev-server"),
    );
    let found = injection_findings(&report);
    let planted = planted_injections(app);
    let mut missed = Vec::new();
    for (path, parameter) in &planted {
        let hit = found
            .iter()
            .find(|f| f["path"] == path.as_str() && f["parameter"] == parameter.as_str());
        match hit {
            Some(f) => assert!(
                matches!(f["confidence"].as_str(), Some("confirmed" | "firm")),
                "{path} {parameter}: {}",
                f["confidence"]
            ),
            None => missed.push(format!("{path} {parameter}")),
        }
    }
    let confirmed = found
        .iter()
        .filter(|f| f["confidence"] == "confirmed")
        .count();
    eprintln!(
        "RECALL injection.sql {app}: {}/{} planted found ({confirmed} confirmed, {} findings)",
        planted.len() - missed.len(),
        planted.len(),
        found.len()
    );
    for f in &found {
        eprintln!(
            "  {} {} {} ({})",
            f["path"], f["parameter"], f["severity"], f["confidence"]
        );
    }
    assert!(missed.is_empty(), "missed on {app}: {missed:?}");
    assert!(
        !found.iter().any(|f| f["path"] == "/api/search/suggest"),
        "the slow endpoint was flagged"
    );
    let stack = &report["stack"];
    eprintln!("STACK {app} vulnerable: {stack}");
    assert_eq!(stack["framework"]["name"], framework, "{stack}");
    assert_eq!(stack["server"]["name"], server, "{stack}");
    assert_eq!(stack["driver"]["name"], driver, "{stack}");
    assert_eq!(stack["database"]["tech"], "postgresql", "{stack}");
    let f = found[0];
    let remediation = f["remediation"].as_str().unwrap();
    assert!(
        remediation.contains(if app == "flask" { "Flask:" } else { "FastAPI:" }),
        "remediation is rendered for the stack: {remediation}"
    );
}

#[test]
fn flask_vulnerable_every_planted_injection_is_found_and_the_stack_is_right() {
    recall_and_stack("flask", "Flask", "Werkzeug development server", "psycopg 3");
}

#[test]
fn fastapi_vulnerable_every_planted_injection_is_found_and_the_stack_is_right() {
    recall_and_stack("fastapi", "FastAPI", "uvicorn", "asyncpg");
}

fn five_clean_scans(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let target = Target::start(app, "secure");
    let truth = ground_truth(app);
    assert!(truth.public.iter().any(|p| p.path == "/api/search/suggest"));
    for round in 1..=5 {
        let report = scan(&target, Some("injection.sql,transport.dev-server"));
        let loud: Vec<_> = report["findings"].as_array().unwrap().iter().collect();
        assert!(
            loud.is_empty(),
            "round {round}: findings on {app} secure: {loud:?}"
        );
    }
    eprintln!("ZERO-FP {app} secure: 5/5 scans without injection or dev-server findings");
}

#[test]
fn flask_secure_five_scans_without_injection_findings() {
    five_clean_scans("flask");
}

#[test]
fn fastapi_secure_five_scans_without_injection_findings() {
    five_clean_scans("fastapi");
}

#[test]
fn secure_stacks_are_detected() {
    if !targets_ready() {
        return;
    }
    for (app, framework, server) in [
        ("flask", "Flask", Some("gunicorn")),
        ("fastapi", "FastAPI", None),
    ] {
        let target = Target::start(app, "secure");
        let report = scan(&target, Some("info.verbose-error"));
        let stack = &report["stack"];
        eprintln!("STACK {app} secure: {stack}");
        assert_eq!(stack["framework"]["name"], framework, "{stack}");
        if let Some(s) = server {
            assert_eq!(stack["server"]["name"], s, "{stack}");
        }
    }
}

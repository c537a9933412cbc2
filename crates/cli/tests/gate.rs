//! Black-box tests of the gate, baselines, `diff`, `audit` and `--output-dir`, with no target:
//! `audit` of a hand-written spec gives a real report with known findings and score, quickly.

mod common;

use common::run;
use std::path::{Path, PathBuf};

/// Findings: no-security (GET /items, medium), credential-in-query (medium),
/// unbounded-array (low), no-rate-limit-response (low, API-wide).
const SPEC: &str = r#"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
  "servers": [{"url": "https://api.example.test"}],
  "paths": {
  "/items": {"get": {
    "parameters": [{"name": "api_key", "in": "query", "schema": {"type": "string", "maxLength": 40}},
                   {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}],
    "responses": {"200": {"description": "ok"}}}}}}"#;

fn spec(dir: &Path) -> PathBuf {
    let p = dir.join("openapi.json");
    std::fs::write(&p, SPEC).unwrap();
    p
}

fn code(args: &[&str]) -> i32 {
    let out = run(args);
    out.status.code().unwrap_or(-1)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn audit_reports_findings_and_the_time_it_took() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path());
    let out = run(&["audit", s.to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    for c in [
        "audit.no-security",
        "audit.credential-in-query",
        "audit.unbounded-array",
        "audit.no-rate-limit-response",
    ] {
        assert!(checks.contains(&c), "{c} missing: {checks:?}");
    }
    assert_eq!(r["requests_sent"], 0);
    assert!(r["findings"][0]["evidence"]["exchanges"]
        .as_array()
        .unwrap()
        .is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("audited 1 operations") && stderr.contains(" ms"),
        "{stderr}"
    );
    assert_eq!(code(&["audit", "/nonexistent/openapi.json"]), 3);
}

#[test]
fn fail_on_and_min_score_gate_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path());
    let s = s.to_str().unwrap();
    assert_eq!(code(&["audit", s]), 0, "no gate, no failure");
    assert_eq!(code(&["audit", s, "--fail-on", "medium"]), 1);
    assert_eq!(code(&["audit", s, "--fail-on", "high"]), 0);
    let r: serde_json::Value =
        serde_json::from_slice(&run(&["audit", s, "-f", "json"]).stdout).unwrap();
    let score = r["score"].as_u64().unwrap();
    assert!(score > 0 && score < 100, "{score}");
    assert_eq!(code(&["audit", s, "--min-score", &score.to_string()]), 0);
    assert_eq!(
        code(&["audit", s, "--min-score", &(score + 1).to_string()]),
        1
    );
    assert_eq!(code(&["audit", s, "--min-score", "F"]), 0);
    assert_eq!(code(&["audit", s, "--min-score", "A"]), (score < 90) as i32);
    assert_eq!(code(&["audit", s, "--min-score", "101"]), 2);
    assert_eq!(code(&["audit", s, "--min-score", "E"]), 2);
    let out = run(&["audit", s, "--fail-on", "medium"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("gate failed"));
    assert!(
        !out.stdout.is_empty(),
        "the report is written before the gate fails"
    );
}

#[test]
fn output_dir_writes_every_format_with_default_names() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path());
    let out_dir = dir.path().join("reports/nested");
    let out = run(&[
        "audit",
        s.to_str().unwrap(),
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("audit.no-security"),
        "terminal on stdout"
    );
    for f in [
        "report.json",
        "report.sarif",
        "report.md",
        "report.xml",
        "report.html",
    ] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    // With --format: only those, and -o wins for its own format.
    let d2 = dir.path().join("two");
    let own = dir.path().join("own.json");
    let out = run(&[
        "audit",
        s.to_str().unwrap(),
        "--output-dir",
        d2.to_str().unwrap(),
        "-f",
        "json",
        "-o",
        own.to_str().unwrap(),
        "-f",
        "sarif",
        "-f",
        "terminal",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let mut names: Vec<String> = std::fs::read_dir(&d2)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["report.sarif", "report.txt"]);
    assert!(own.exists());
}

#[test]
fn audit_sarif_points_into_the_spec_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    spec(dir.path());
    let out = std::process::Command::new(common::bin())
        .args(["audit", "openapi.json", "-f", "sarif"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let op = results
        .iter()
        .find(|r| r["ruleId"] == "audit.no-security")
        .unwrap();
    let phys = &op["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "openapi.json");
    assert_eq!(phys["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(phys["region"]["startLine"], 4, "the line of `/items`");
}

#[test]
fn baseline_suppresses_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path());
    let s = s.to_str().unwrap();
    let report = dir.path().join("r.json");
    assert_eq!(
        code(&["audit", s, "-f", "json", "-o", report.to_str().unwrap()]),
        0
    );
    let all = json(&report)["findings"].as_array().unwrap().len();
    let base = dir.path().join("baseline.toml");
    let b = base.to_str().unwrap();
    assert_eq!(
        code(&[
            "baseline",
            report.to_str().unwrap(),
            "--reason",
            "known, ticket SEC-1",
            "-o",
            b
        ]),
        0
    );
    let text = std::fs::read_to_string(&base).unwrap();
    assert_eq!(text.matches("[[accept]]").count(), all, "{text}");
    assert!(text.contains("reason = \"known, ticket SEC-1\""));

    let suppressed = dir.path().join("s.json");
    assert_eq!(
        code(&[
            "audit",
            s,
            "--baseline",
            b,
            "--fail-on",
            "info",
            "--min-score",
            "100",
            "-f",
            "json",
            "-o",
            suppressed.to_str().unwrap()
        ]),
        0,
        "every finding accepted: both gates pass"
    );
    let r = json(&suppressed);
    assert_eq!(r["findings"].as_array().unwrap().len(), 0);
    assert_eq!(r["score"], 100);
    let notes: Vec<&str> = r["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes
            .iter()
            .filter(|c| **c == "baseline.suppressed")
            .count(),
        all
    );

    // Expired entries count again; an entry for a fixed finding is named.
    let expired = text.replace("reason = ", "expires = \"2000-01-01\"\nreason = ")
        + "\n[[accept]]\nid = \"0000000000000000\"\nreason = \"gone\"\nexpires = \"2999-12-31\"\n";
    std::fs::write(&base, expired).unwrap();
    let out = run(&[
        "audit",
        s,
        "--baseline",
        b,
        "--fail-on",
        "medium",
        "-f",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["findings"].as_array().unwrap().len(), all);
    let codes: Vec<&str> = r["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "baseline.expired").count(),
        all
    );
    assert!(codes.contains(&"baseline.unmatched"));

    // A baseline without a reason, or with a bad date, is a usage error.
    std::fs::write(&base, "[[accept]]\nid = \"x\"\nreason = \"\"\n").unwrap();
    assert_eq!(code(&["audit", s, "--baseline", b]), 2);
    std::fs::write(
        &base,
        "[[accept]]\nid = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
    )
    .unwrap();
    assert_eq!(code(&["audit", s, "--baseline", b]), 2);
}

#[test]
fn diff_names_new_fixed_and_unchanged_and_gates_on_new() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path());
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    code(&[
        "audit",
        s.to_str().unwrap(),
        "-f",
        "json",
        "-o",
        old.to_str().unwrap(),
    ]);
    // The new spec fixes the query key and adds a plain-HTTP server (a new medium finding).
    let fixed = SPEC
        .replace("\"api_key\"", "\"page\"")
        .replace("https://api.example.test", "http://api.example.test");
    std::fs::write(&s, fixed).unwrap();
    code(&[
        "audit",
        s.to_str().unwrap(),
        "-f",
        "json",
        "-o",
        new.to_str().unwrap(),
    ]);
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());

    let out = run(&["diff", o, n, "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = |k: &str| -> Vec<String> {
        d[k].as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(checks("new_findings"), ["audit.plain-http-server"]);
    assert_eq!(checks("fixed_findings"), ["audit.credential-in-query"]);
    assert!(checks("unchanged_findings").contains(&"audit.no-security".to_string()));

    let text = String::from_utf8(run(&["diff", o, n]).stdout).unwrap();
    assert!(text.contains("1 new, 1 fixed"), "{text}");
    assert!(
        text.contains("\nnew:\n") && text.contains("\nfixed:\n"),
        "{text}"
    );
    assert_eq!(code(&["diff", o, n, "--fail-on", "medium"]), 1);
    assert_eq!(code(&["diff", o, n, "--fail-on", "high"]), 0);
    assert_eq!(code(&["diff", n, n, "--fail-on", "info"]), 0, "nothing new");
    assert_eq!(code(&["diff", o, "/nonexistent.json"]), 2);
    assert_eq!(
        code(&["diff", o, s.to_str().unwrap()]),
        2,
        "a spec is not a report"
    );
}

#[test]
fn audit_of_real_world_specs_is_fast_and_finds_things() {
    let shared = common::repo_root().join("../shared/specs");
    let specs = [
        shared.join("twilio/twilio_api_v2010.json"),
        shared.join("twilio/twilio_messaging_v1.json"),
        shared.join("digitalocean/DigitalOcean-public.v2.yaml"),
    ];
    for spec in specs {
        if !spec.exists() {
            assert!(!common::in_ci(), "{} missing", spec.display());
            common::not_run(&format!("audit of {} (missing)", spec.display()));
            continue;
        }
        let start = std::time::Instant::now();
        let out = run(&["audit", spec.to_str().unwrap(), "-f", "json"]);
        let took = start.elapsed();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let n = r["findings"].as_array().unwrap().len();
        let ops = r["coverage"]["operations"].as_u64().unwrap();
        println!(
            "audit {}: {ops} operations, {n} findings in {took:?}",
            spec.display()
        );
        assert!(ops > 10 && n > 0);
    }
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("middlebrick"),
            "{shell}"
        );
    }
    assert_eq!(code(&["completions", "tcsh"]), 2);
}

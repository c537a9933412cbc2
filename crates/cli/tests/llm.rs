//! The `llm.*` checks on the FastAPI shop's assistant (a deterministic fake model behind an
//! OpenAI-style chat endpoint, targets/fastapi_shop/assistant.py): every planted LLM flaw of the
//! ground truth is found on the vulnerable build, and the secure twin gets nothing of medium or
//! higher, in each of five scans against the same running servers (issue 20's bar). Only the
//! `llm.*` checks run, in active mode; each scan prints its requests and wall time.

mod common;

use common::{ground_truth, scan_checks, targets_ready, write_config, Target};
use serde_json::Value;

const CHECKS: &str = "llm.system-prompt-leak,llm.prompt-injection,llm.sensitive-disclosure,\
                      llm.excessive-agency,llm.unbounded-consumption";
const SCANS: usize = 5;

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

fn figures(label: &str, report: &Value) {
    eprintln!(
        "FIGURES {label}: requests_sent={} duration_ms={} findings={}",
        report["requests_sent"],
        report["duration_ms"],
        findings(report).len()
    );
}

#[test]
fn fastapi_assistant_flaws_are_found_five_times_and_the_twin_stays_silent() {
    if !targets_ready() {
        return;
    }
    let planted: Vec<_> = ground_truth("fastapi")
        .flaws
        .into_iter()
        .filter(|f| f.check.starts_with("llm."))
        .collect();
    assert_eq!(planted.len(), 5, "one planted flaw per llm check");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let vulnerable = Target::start("fastapi", "vulnerable");
    let secure = Target::start("fastapi", "secure");
    for n in 1..=SCANS {
        let report = scan_checks(&vulnerable, "active", CHECKS, Some(&config));
        figures(&format!("vulnerable scan {n}"), &report);
        for f in &planted {
            let hit = findings(&report).into_iter().find(|x| {
                x["check"] == f.check.as_str()
                    && x["method"] == f.method.as_str()
                    && x["path"] == f.path.as_str()
            });
            let hit = hit.unwrap_or_else(|| {
                panic!(
                    "vulnerable, scan {n}: {} not found (log: {}); findings: {:?}",
                    f.check,
                    vulnerable.log.display(),
                    findings(&report)
                )
            });
            // The proof is differential: a control exchange and the probe's, at least.
            assert!(
                hit["evidence"]["exchanges"].as_array().unwrap().len() >= 2,
                "{}: {hit}",
                f.check
            );
            assert!(
                hit["owasp"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o.as_str().unwrap().starts_with("LLM")),
                "{} maps to the LLM Top 10: {hit}",
                f.check
            );
        }
        let report = scan_checks(&secure, "active", CHECKS, Some(&config));
        figures(&format!("secure scan {n}"), &report);
        let loud: Vec<_> = findings(&report)
            .into_iter()
            .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
            .collect();
        assert!(loud.is_empty(), "secure, scan {n}: {loud:?}");
    }
}

#[test]
fn safe_mode_sends_no_completion() {
    if !targets_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let vulnerable = Target::start("fastapi", "vulnerable");
    let report = scan_checks(&vulnerable, "safe", CHECKS, Some(&config));
    assert!(findings(&report).is_empty(), "{:?}", findings(&report));
    let log = std::fs::read_to_string(&vulnerable.log).unwrap_or_default();
    assert!(
        !log.contains("POST /api/assistant/chat"),
        "safe mode sent a completion:\n{log}"
    );
}

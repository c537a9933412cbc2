//! Issue 7's bar for the insecure-design checks: each planted replay, race and client-controlled-value flaw is found on
//! both vulnerable apps in five consecutive scans against the same running server, and the
//! secure twins stay silent (nothing medium or higher) in all five. Only these checks run
//! (`--checks`), so each scan costs a few dozen requests and well under a second of scanning.

mod common;

use common::{ground_truth, run, targets_ready, write_config, Target};
use serde_json::Value;

const CHECKS: &str =
    "design.replay-duplicates,design.race-condition,design.client-controlled-values";
const SCANS: usize = 5;

fn scan(target: &Target) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let out_path = dir.path().join("report.json");
    let out = run(&[
        "scan",
        &target.url,
        "--config",
        config.to_str().unwrap(),
        // Races, replays and client-set values act on the identities' own coupons and wallets,
        // which only disposable mode touches (the targets are throw-away).
        "--mode",
        "disposable",
        "--checks",
        CHECKS,
        "--format",
        "json",
        "-o",
        out_path.to_str().unwrap(),
        "--no-progress",
    ]);
    let text = std::fs::read_to_string(&out_path).unwrap_or_else(|_| {
        panic!(
            "no report; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(&text).expect("report is JSON")
}

fn found(report: &Value, check: &str, method: &str, path: &str) -> bool {
    report["findings"].as_array().is_some_and(|fs| {
        fs.iter()
            .any(|f| f["check"] == check && f["method"] == method && f["path"] == path)
    })
}

fn five_scans(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let planted: Vec<_> = ground_truth(app)
        .flaws
        .into_iter()
        .filter(|f| f.check.starts_with("design."))
        .collect();
    assert!(planted.len() >= 2, "{app}: design flaws in groundtruth");
    let vulnerable = Target::start(app, "vulnerable");
    let secure = Target::start(app, "secure");
    for n in 1..=SCANS {
        let report = scan(&vulnerable);
        for f in &planted {
            assert!(
                found(&report, &f.check, &f.method, &f.path),
                "{app} vulnerable, scan {n}: {} {} {} not found (log: {})",
                f.check,
                f.method,
                f.path,
                vulnerable.log.display()
            );
        }
        let report = scan(&secure);
        let loud: Vec<_> = report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
            .collect();
        assert!(loud.is_empty(), "{app} secure, scan {n}: {loud:?}");
    }
}

#[test]
fn flask_design_flaws_are_found_five_times_and_the_twin_stays_silent() {
    five_scans("flask");
}

#[test]
fn fastapi_design_flaws_are_found_five_times_and_the_twin_stays_silent() {
    five_scans("fastapi");
}

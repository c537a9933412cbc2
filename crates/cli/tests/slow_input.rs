//! `availability.slow-input` on the real shops: the catastrophic e-mail pattern and the uncapped
//! `days` loop (groundtruth.toml) are found on both vulnerable builds with their series in the
//! description, and the secure twins (a linear pattern, `days` capped with 400/422) get no
//! finding of this check. Active mode (where state-changing operations compete for the
//! candidate budget, as in a full scan), only this check, so each scan costs the warm-up plus the
//! series. Prints the requests and the wall time the check adds.

mod common;

use common::{ground_truth, scan_checks, targets_ready, write_config, Target};
use serde_json::Value;
use std::time::Instant;

const CHECK: &str = "availability.slow-input";
/// A check that sends nothing: the scan's fixed cost (discovery, sign-in, warm-up).
const NOTHING: &str = "transport.security-headers";

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["check"] == CHECK)
        .collect()
}

fn line(f: &Value) -> String {
    format!(
        "{} {} {} {}: {}",
        f["severity"].as_str().unwrap_or(""),
        f["method"].as_str().unwrap_or("*"),
        f["path"].as_str().unwrap_or("*"),
        f["parameter"].as_str().unwrap_or(""),
        f["description"].as_str().unwrap_or("")
    )
}

/// The two targets are scanned one after the other, not at once: on a two-core machine, a
/// second scan beside the first adds noise of the size of the series being measured.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn both_ways(app: &'static str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !targets_ready() {
        return;
    }
    let planted: Vec<_> = ground_truth(app)
        .flaws
        .into_iter()
        .filter(|f| f.check == CHECK)
        .collect();
    assert_eq!(planted.len(), 2, "{app}: slow-input flaws in groundtruth");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    for variant in ["vulnerable", "secure"] {
        let target = Target::start(app, variant);
        let started = Instant::now();
        let report = scan_checks(&target, "active", CHECK, Some(&config));
        let wall = started.elapsed();
        let fixed_started = Instant::now();
        let fixed = scan_checks(&target, "active", NOTHING, Some(&config));
        let fixed_wall = fixed_started.elapsed();
        let found = findings(&report);
        let all: Vec<String> = found.iter().map(|f| line(f)).collect();
        eprintln!(
            "FIGURES {app} {variant}: requests_sent={} (the same scan with no active check: {}) \
             wall_ms={} (without: {}) findings:\n  {}",
            report["requests_sent"],
            fixed["requests_sent"],
            wall.as_millis(),
            fixed_wall.as_millis(),
            all.join("\n  ")
        );
        if variant == "secure" {
            assert!(all.is_empty(), "{app} secure: {all:#?}");
            continue;
        }
        for flaw in &planted {
            let hit = found.iter().find(|f| {
                f["method"] == flaw.method.as_str()
                    && f["path"] == flaw.path.as_str()
                    && flaw
                        .parameter
                        .as_deref()
                        .is_some_and(|p| f["parameter"] == p)
            });
            let Some(hit) = hit else {
                panic!(
                    "{app} vulnerable: {} {} {:?} not found; got:\n  {}\n(log: {})",
                    flaw.method,
                    flaw.path,
                    flaw.parameter,
                    all.join("\n  "),
                    target.log.display()
                );
            };
            let text = hit["description"].as_str().unwrap_or("");
            assert!(
                text.contains(" ms") && text.contains("per step") && text.contains("stayed flat"),
                "{app}: the description carries the series and the slope: {text}"
            );
            assert!(
                hit["evidence"]["exchanges"]
                    .as_array()
                    .is_some_and(|e| e.len() >= 6),
                "{app}: payload and control exchanges as evidence"
            );
        }
        assert_eq!(
            found.len(),
            planted.len(),
            "{app}: only the planted inputs: {all:#?}"
        );
    }
}

#[test]
fn flask_slow_inputs_are_found_and_the_twin_is_silent() {
    both_ways("flask");
}

#[test]
fn fastapi_slow_inputs_are_found_and_the_twin_is_silent() {
    both_ways("fastapi");
}

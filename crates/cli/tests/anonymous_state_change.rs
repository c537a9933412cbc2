//! `auth.anonymous-state-change` both ways on the real shops (issue 15: an operation that resets
//! or initialises the application without credentials is a finding, proven in the destructive
//! mode): the Flask shop's demo reset (a path word) and the FastAPI shop's demo-data
//! initialisation (named only by its operationId and summary) wipe the database for anonymous
//! callers in the vulnerable builds. Disposable mode proves it by a witness object the owner can
//! no longer read; the secure twins (admin role required) get nothing; active mode sends neither
//! operation and says so.

mod common;

use common::{ground_truth, scan_checks, targets_ready, write_config, Target};
use serde_json::Value;

const CHECK: &str = "auth.anonymous-state-change";

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["check"] == CHECK)
        .collect()
}

/// The operation the target's ground truth plants the flaw on.
fn planted(app: &str) -> (String, String) {
    let truth = ground_truth(app);
    let flaw = truth
        .flaws
        .iter()
        .find(|f| f.check == CHECK)
        .expect("the flaw is in the ground truth");
    (flaw.method.clone(), flaw.path.clone())
}

fn scan(app: &'static str, variant: &'static str, mode: &str) -> Value {
    let target = Target::start(app, variant);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let report = scan_checks(&target, mode, CHECK, Some(&config));
    eprintln!(
        "FIGURES {app} {variant} ({CHECK}, {mode}): requests_sent={} duration_ms={}",
        report["requests_sent"], report["duration_ms"]
    );
    report
}

fn found_with_proof(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let report = scan(app, "vulnerable", "disposable");
    let (method, path) = planted(app);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{app}: {report}");
    let f = found[0];
    assert_eq!(
        (f["method"].as_str(), f["path"].as_str()),
        (Some(method.as_str()), Some(path.as_str()))
    );
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["confidence"], "confirmed");
    let ex = f["evidence"]["exchanges"].as_array().expect("exchanges");
    // Made and read twice by its owner, the anonymous request, refused twice after it.
    assert_eq!(ex.len(), 6, "{f}");
    assert_eq!(ex[3]["identity"], "anonymous");
    assert!(ex[3]["request"]["url"].as_str().unwrap().ends_with(&path));
    for read in &ex[1..3] {
        assert_eq!(read["response"]["status"], 200, "{read}");
    }
    for read in &ex[4..6] {
        let s = read["response"]["status"].as_u64().unwrap();
        assert!([401, 403, 404, 410].contains(&s), "{read}");
    }
}

fn silent_on_the_twin(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let report = scan(app, "secure", "disposable");
    assert!(findings(&report).is_empty(), "{app} secure: {report}");
}

fn active_mode_leaves_it_alone(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let report = scan(app, "vulnerable", "active");
    assert!(findings(&report).is_empty());
    let (method, path) = planted(app);
    let said = report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| {
            d["code"] == "auth.anonymous-state-change-untested"
                && d["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("{method} {path}"))
        });
    assert!(said, "{app}: {}", report["diagnostics"]);
}

#[test]
fn flask_demo_reset_without_credentials_is_found() {
    found_with_proof("flask");
}

#[test]
fn fastapi_demo_data_initialisation_without_credentials_is_found() {
    found_with_proof("fastapi");
}

#[test]
fn flask_secure_twin_is_silent() {
    silent_on_the_twin("flask");
}

#[test]
fn fastapi_secure_twin_is_silent() {
    silent_on_the_twin("fastapi");
}

#[test]
fn flask_active_mode_does_not_send_the_reset() {
    active_mode_leaves_it_alone("flask");
}

#[test]
fn fastapi_active_mode_does_not_send_the_initialisation() {
    active_mode_leaves_it_alone("fastapi");
}

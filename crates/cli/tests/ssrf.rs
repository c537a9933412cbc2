//! `injection.ssrf` on the real targets: the planted fetches (the Flask shop's avatar import, a
//! JSON body in a POST, active mode; the FastAPI shop's link preview, a `format: uri` query
//! parameter, safe mode) are proven by a callback to the scan's own listener carrying the token
//! minted for that input; with the callback sent somewhere the listener cannot see, the
//! loopback differential still finds them, at lower confidence; the secure twins, which allow
//! listed hosts only, get nothing. Each scan prints its figures (requests, wall time).

mod common;

use common::{ground_truth, scan_checks_with, targets_ready, write_config, Target};
use serde_json::Value;

const CHECK: &str = "injection.ssrf";

fn figures(target: &Target, what: &str, report: &Value) {
    eprintln!(
        "FIGURES {} {} ({what}): requests_sent={} duration_ms={} findings={}",
        target.app,
        target.variant,
        report["requests_sent"],
        report["duration_ms"],
        report["findings"].as_array().map_or(0, Vec::len)
    );
}

fn ssrf_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == CHECK)
        .collect()
}

/// The planted flaw of `app` from its ground truth: (method, path, parameter, mode).
fn planted(app: &str) -> (String, String, String, String) {
    let gt = ground_truth(app);
    let f = gt
        .flaws
        .iter()
        .find(|f| f.check == CHECK)
        .unwrap_or_else(|| panic!("{app}: no {CHECK} flaw in groundtruth.toml"));
    (
        f.method.clone(),
        f.path.clone(),
        f.parameter.clone().expect("the SSRF flaw names its input"),
        f.mode.clone().unwrap_or_else(|| "safe".into()),
    )
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn vulnerable_is_found_both_ways(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let (method, path, parameter, mode) = planted(app);
    let target = Target::start(app, "vulnerable");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");

    // The listener on loopback: the callback is the proof.
    let report = scan_checks_with(&target, &mode, CHECK, Some(&config), &[]);
    figures(&target, "injection.ssrf, callback", &report);
    let found = ssrf_findings(&report);
    let f = found
        .iter()
        .find(|f| f["method"] == method.as_str() && f["path"] == path.as_str())
        .unwrap_or_else(|| panic!("{app}: {method} {path} not found: {found:#?}"));
    assert_eq!(f["parameter"], parameter.as_str());
    assert_eq!(f["confidence"], "confirmed", "{f:#}");
    assert_eq!(f["severity"], "high");
    let notes = f["evidence"]["notes"].to_string();
    assert!(
        notes.contains("callback received from 127.0.0.1"),
        "the proof names the callback: {notes}"
    );
    let description = f["description"].as_str().unwrap();
    let token = description
        .split('`')
        .find(|s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("the description names the token");
    assert!(notes.contains(&format!("GET /{token} HTTP/1.1")), "{notes}");
    let sent = f["evidence"]["exchanges"][0]["request"].to_string();
    assert!(
        sent.contains(token),
        "the exchange carries the token: {sent}"
    );
    assert_eq!(found.len(), 1, "one input, one finding: {found:#?}");

    // The target told to call a closed port: no callback arrives, the answers still differ.
    let nowhere = format!("http://127.0.0.1:{}/cb", closed_port());
    let report = scan_checks_with(
        &target,
        &mode,
        CHECK,
        Some(&config),
        &["--callback-url", &nowhere],
    );
    figures(&target, "injection.ssrf, differential only", &report);
    let found = ssrf_findings(&report);
    let f = found
        .iter()
        .find(|f| f["path"] == path.as_str())
        .unwrap_or_else(|| panic!("{app}: differential missed {path}: {found:#?}"));
    assert_eq!(f["confidence"], "firm", "{f:#}");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["evidence"]["exchanges"].as_array().map(Vec::len), Some(4));

    // What the check adds to a scan: the same scan with a passive check only.
    let quiet = scan_checks_with(&target, &mode, "transport.dev-server", Some(&config), &[]);
    figures(&target, "baseline without injection.ssrf", &quiet);
}

fn secure_twin_is_silent(app: &'static str) {
    if !targets_ready() {
        return;
    }
    let target = Target::start(app, "secure");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    for extra in [
        vec![],
        vec![
            "--callback-url".to_string(),
            format!("http://127.0.0.1:{}/cb", closed_port()),
        ],
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let report = scan_checks_with(&target, "active", CHECK, Some(&config), &extra);
        figures(&target, "injection.ssrf", &report);
        let found = ssrf_findings(&report);
        assert!(found.is_empty(), "{app} secure: {found:#?}");
        let ran = report["coverage"]["checks"]
            .as_array()
            .expect("coverage")
            .iter()
            .any(|c| c["check"] == CHECK && c["ran"] == true);
        assert!(ran, "the check ran on the secure twin");
    }
}

#[test]
fn flask_avatar_import_is_found_by_callback_and_by_differential() {
    vulnerable_is_found_both_ways("flask");
}

#[test]
fn fastapi_link_preview_is_found_by_callback_and_by_differential() {
    vulnerable_is_found_both_ways("fastapi");
}

#[test]
fn flask_secure_twin_gets_no_ssrf_finding() {
    secure_twin_is_silent("flask");
}

#[test]
fn fastapi_secure_twin_gets_no_ssrf_finding() {
    secure_twin_is_silent("fastapi");
}

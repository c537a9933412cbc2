//! The engine's model of an API on conventions our shop apps do not share, on the connexion
//! clinic (targets/connexion_clinic): a spec served beside its API under a relative server
//! (`/api/v2`), sign-in by query parameters whose failure is a 200 envelope, an OAuth 2 form
//! token URL, JSend wrappers, UUIDs and usernames in paths. Each test scans with a few checks
//! only; the full recall and silence scans are in targets.rs.

mod common;

use common::{scan_checks, scan_checks_with, targets_ready, write_config, Target};
use serde_json::Value;

fn diagnostics(report: &Value, code: &str) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn the_spec_beside_the_api_and_its_relative_server_give_the_base_path() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("connexion", "secure");
    let report = scan_checks(&target, "safe", "auth.missing-authentication", None);
    assert_eq!(
        report["coverage"]["source"],
        format!("{}/api/v2/openapi.json", target.url),
        "found by discovery"
    );
    assert_eq!(report["coverage"]["base_path"], "/api/v2");
    assert!(
        diagnostics(&report, "spec.base-switched").is_empty(),
        "the spec's own base was right"
    );
    let reached = report["coverage"]["operations_reached"].as_u64().unwrap();
    assert!(reached > 0, "{}", report["coverage"]);
}

#[test]
fn a_wrong_password_answered_200_with_a_failure_envelope_is_a_failed_sign_in() {
    if !targets_ready() {
        return;
    }
    // The vulnerable build's query-string sign-in answers 200 {"status": "fail"} to a wrong
    // password (the secure build closes that sign-in).
    let target = Target::start("connexion", "vulnerable");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("middlebrick.toml");
    std::fs::write(
        &config,
        r#"
[[identity]]
name = "alice"
username = "alice"
password = "Alice-pass-1234"
login = "POST /session"

[[identity]]
name = "mallory"
username = "bob"
password = "not-bobs-password"
login = "POST /session"
"#,
    )
    .expect("config");
    // Accepted here: without the flag the scan exits 5 (crates/cli/tests/coverage.rs).
    let report = scan_checks_with(
        &target,
        "safe",
        "auth.missing-authentication",
        Some(&config),
        &["--allow-failed-sign-in"],
    );
    assert_eq!(
        report["coverage"]["identities"][1]["signed_in"], false,
        "{}",
        report["coverage"]
    );
    assert_eq!(
        report["identities"],
        serde_json::json!(["alice"]),
        "{}",
        report["diagnostics"]
    );
    let failed = diagnostics(&report, "identity.sign-in-failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("mallory"), "{}", failed[0]);
    assert!(
        !failed[0].contains("not-bobs-password"),
        "no secret in a diagnostic"
    );
}

#[test]
fn both_identities_sign_in_without_any_hint_and_know_their_own_usernames() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("connexion", "vulnerable");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");
    let report = scan_checks(&target, "safe", "authz.bola", Some(&config));
    assert_eq!(report["identities"], serde_json::json!(["alice", "bob"]));
    // BOLA on a user-scoped collection needs each identity's own username in the path.
    let bola: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "authz.bola")
        .collect();
    assert!(
        bola.iter()
            .any(|f| f["path"] == "/users/{username}/pets/{petId}"),
        "findings: {:#?}",
        report["findings"]
    );
}

#[test]
fn zero_configuration_registers_two_accounts_through_a_wrapped_registration() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("connexion", "secure");
    let report = scan_checks(&target, "active", "auth.missing-authentication", None);
    assert_eq!(
        report["identities"],
        serde_json::json!(["registered-1", "registered-2"]),
        "{}",
        report["diagnostics"]
    );
}

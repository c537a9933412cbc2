//! Zero configuration in active mode: with no identities given, the scan registers two accounts
//! of its own through the API's registration operation, signs in as both, lists them in the
//! report, and the checks that need two users work with them. In safe mode it registers nothing.

mod common;

use common::{scan_checks, targets_ready, Target};
use serde_json::Value;

fn registered_note(report: &Value) -> Option<String> {
    report["diagnostics"]
        .as_array()?
        .iter()
        .find(|d| d["code"] == "identity.registered")
        .and_then(|d| d["message"].as_str())
        .map(str::to_string)
}

#[test]
fn active_scan_without_identities_registers_two_accounts_and_uses_them() {
    if !targets_ready() {
        return;
    }
    for app in ["flask", "fastapi"] {
        let target = Target::start(app, "vulnerable");
        let report = scan_checks(&target, "active", "authz.bola-write", None);
        let identities: Vec<&str> = report["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            identities,
            ["registered-1", "registered-2"],
            "{app}: both registered accounts sign in"
        );
        let note = registered_note(&report).expect("the report names the accounts it made");
        assert!(
            note.contains("(as registered-1)") && note.contains("(as registered-2)"),
            "{app}: {note}"
        );
        // Two users of its own are enough to prove the planted write BOLA: one creates a note,
        // the other changes it.
        let bola = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "authz.bola-write")
            .count();
        assert!(
            bola > 0,
            "{app}: BOLA on writes is found with the scan's own two accounts"
        );
    }
}

#[test]
fn safe_scan_without_identities_registers_nothing() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("fastapi", "vulnerable");
    let report = scan_checks(&target, "safe", "auth.missing-authentication", None);
    assert_eq!(report["identities"].as_array().map(Vec::len), Some(0));
    assert!(registered_note(&report).is_none());
    let log = std::fs::read_to_string(&target.log).unwrap();
    assert!(
        !log.contains("POST /api/auth/register"),
        "safe mode must not register accounts"
    );
}

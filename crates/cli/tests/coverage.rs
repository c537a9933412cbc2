//! Black-box tests of what a report says it tested, and of a gate that fails when the scan did
//! not happen: against the real vulnerable Flask shop, with a few checks so each scan is short.
//!
//! - a safe-mode scan lists the checks the mode skipped, with why, in every format;
//! - the HTML report renders the remediation's code block;
//! - a wrong password fails the scan with exit 5 and a stderr line, unless accepted; so does
//!   a scan whose operations all answer 404 (a wrong base path);
//! - a `diff` after a `--checks` scan says "not re-tested", never "fixed", for the checks it
//!   did not run;
//! - `history show N -f json | head` exits cleanly.

mod common;

use common::{run, targets_ready, write_config, Target};
use std::path::Path;
use std::process::Command;

/// Reports the flaw on the vulnerable Flask shop (Werkzeug with the debugger on).
const DEV_SERVER: &str = "transport.dev-server";
/// Needs active mode: skipped by a safe-mode scan.
const ACTIVE_ONLY: &str = "authz.bola-write";
const SKIP_REASON: &str = "needs a mode above safe";

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn assert_lists_skipped(format: &str, text: &str) {
    assert!(
        text.contains(ACTIVE_ONLY) && text.contains(SKIP_REASON),
        "the {format} report does not list {ACTIVE_ONLY} as skipped ({SKIP_REASON}):\n{text}"
    );
}

#[test]
fn coverage_in_every_format_gate_on_sign_in_and_not_retested_in_diff() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let history = dir.path().join("history.sqlite3");
    let (config, history) = (config.to_str().unwrap(), history.to_str().unwrap());

    // 1. A safe-mode scan with three checks, one of which needs active mode.
    let out_dir = dir.path().join("first");
    let checks = format!("transport.security-headers,{DEV_SERVER},{ACTIVE_ONLY}");
    let first = run(&[
        "scan",
        &target.url,
        "--config",
        config,
        "--checks",
        &checks,
        "--no-progress",
        "--history",
        history,
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    let terminal = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        terminal.contains(&format!(
            "  tested:     2 of {} checks ran; ",
            middlebrick_checks::CHECKS.len()
        )),
        "the headline first:\n{terminal}"
    );
    assert_lists_skipped("terminal", &terminal);
    for (format, file) in [
        ("JSON", "report.json"),
        ("SARIF", "report.sarif"),
        ("Markdown", "report.md"),
        ("JUnit", "report.xml"),
        ("HTML", "report.html"),
    ] {
        assert_lists_skipped(format, &read(&out_dir.join(file)));
    }
    let json: serde_json::Value =
        serde_json::from_str(&read(&out_dir.join("report.json"))).unwrap();
    let record = json["coverage"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == ACTIVE_ONLY)
        .expect("a record for every check")
        .clone();
    assert_eq!(record["ran"], false);
    assert_eq!(record["reason"], SKIP_REASON);
    let sarif: serde_json::Value =
        serde_json::from_str(&read(&out_dir.join("report.sarif"))).unwrap();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
    // The remediation's fenced code block is a code block in the HTML page.
    let html = read(&out_dir.join("report.html"));
    assert!(
        html.contains("<div class=\"remediation\">")
            && html.contains("<pre><code class=\"language-python\">"),
        "no rendered code block in the HTML remediation"
    );

    // 2. The same target with one of those checks: the other's findings are not re-tested.
    let second_json = dir.path().join("second.json");
    let second = run(&[
        "scan",
        &target.url,
        "--config",
        config,
        "--checks",
        "transport.security-headers",
        "--no-progress",
        "--history",
        history,
        "-f",
        "json",
        "-o",
        second_json.to_str().unwrap(),
    ]);
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let first_json = out_dir.join("report.json");
    let (a, b) = (first_json.to_str().unwrap(), second_json.to_str().unwrap());
    let diff = run(&["diff", a, b, "-f", "json"]);
    assert_eq!(diff.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    let checks_in = |key: &str| -> Vec<String> {
        d[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        checks_in("not_retested_findings").contains(&DEV_SERVER.to_string()),
        "{d:#}"
    );
    assert!(
        !checks_in("fixed_findings").contains(&DEV_SERVER.to_string()),
        "a check that did not run fixed nothing: {d:#}"
    );
    let warned = String::from_utf8_lossy(&diff.stderr);
    assert!(
        warned.contains("warning: the two scans have different check selections"),
        "{warned}"
    );
    let text = String::from_utf8_lossy(&run(&["diff", a, b]).stdout).to_string();
    assert!(
        text.contains("not re-tested") && text.contains("0 fixed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{DEV_SERVER} did not run (not selected)")),
        "{text}"
    );

    // 3. A configured identity with a wrong password: exit 5 and a line on stderr.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        read(Path::new(config)).replace("Bob-pass-1234", "not-bobs-password"),
    )
    .unwrap();
    let wrong = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            &target.url,
            "--config",
            bad.to_str().unwrap(),
            "--checks",
            "transport.security-headers",
            "--no-progress",
            "--no-history",
            "-f",
            "json",
        ];
        args.extend(extra);
        run(&args)
    };
    let failed = wrong(&[]);
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(5), "{err}");
    assert!(
        err.contains(
            "error: the scan did not test what it was set up to: identity `bob` could not sign in"
        ),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(report["coverage"]["identities"][1]["signed_in"], false);
    let accepted = wrong(&["--allow-failed-sign-in"]);
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );

    // 3b. A wrong base path: every operation sent to answers 404, so the scan tested nothing
    // and says so (exit 5); the safe scan above, whose unreached operations were only the
    // writes safe mode never sends, passed.
    let unreached = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            &target.url,
            "--base-path",
            "/no-api-here",
            "--checks",
            "transport.security-headers",
            "--no-progress",
            "--no-history",
            "-f",
            "json",
        ];
        args.extend(extra);
        run(&args)
    };
    let lost = unreached(&[]);
    let err = String::from_utf8_lossy(&lost.stderr);
    assert_eq!(lost.status.code(), Some(5), "{err}");
    assert!(err.contains("never answered for real"), "{err}");
    assert_eq!(unreached(&["--allow-unreached"]).status.code(), Some(0));

    // 4. Reading a recorded report through a pipe that closes early: `head -1`, and a reader
    // that exits before reading anything (the write then always meets a closed pipe; before
    // the fix this panicked with exit 101).
    for reader in ["head -1 >/dev/null", "true"] {
        let piped = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; NO_COLOR=1 '{}' history show 1 -f json --history '{history}' | {reader}",
                common::bin().display()
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&piped.stderr);
        assert!(!err.contains("panicked"), "| {reader}: {err}");
        assert_eq!(piped.status.code(), Some(0), "| {reader}: {err}");
    }
}

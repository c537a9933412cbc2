//! `middlebrick mcp` end to end with the official MCP Python SDK (crates/mcp/tests/client.py):
//! initialise, list tools, scan a vulnerable target, read the findings, fetch the scan again,
//! and see scans of a public host, active-mode and disposable-mode scans refused.

mod common;

use common::{bin, repo_root, targets_ready, Target};
use std::process::Command;

#[test]
fn an_assistant_scans_reads_and_is_refused_outside_the_allowlist() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let out = Command::new(repo_root().join("targets/.venv/bin/python"))
        .arg(repo_root().join("crates/mcp/tests/client.py"))
        .arg(bin())
        .arg(&db)
        .arg(&target.url)
        .env_remove("MIDDLEBRICK_CONFIG")
        .output()
        .expect("run the MCP client");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed:\n{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("client JSON");
    eprintln!("mcp client: {result}");
    assert_eq!(result["server"], "middlebrick");
    assert!(result["progress_notifications"].as_u64().unwrap() > 0);
    let findings: Vec<&str> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(findings.contains(&"injection.sql"), "{findings:?}");
    let refused = result["refused_text"].as_str().unwrap();
    assert!(refused.contains("8.8.8.8") && refused.contains("nothing was sent"));
    assert!(result["refused_seconds"].as_f64().unwrap() < 1.0);
    assert!(result["active_text"]
        .as_str()
        .unwrap()
        .contains("--allow-active"));
    assert!(result["disposable_text"]
        .as_str()
        .unwrap()
        .contains("--allow-disposable"));
    // The scan is in the history the server was given.
    let rows = common::run(&["history", "--history", db.to_str().unwrap(), "-f", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&rows.stdout).unwrap();
    assert_eq!(rows.len(), 1);
}

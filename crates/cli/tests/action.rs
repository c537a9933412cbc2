//! The GitHub Action's logic, run locally: scripts/action/*.sh against the real vulnerable
//! Flask target, as the composite steps in action.yml run them. The job summary and the PR
//! comment body are compared to golden files with volatile parts masked (ports, durations,
//! dates, request counts, evidence); `MIDDLEBRICK_BLESS=1` rewrites them.

mod common;

use common::{bin, repo_root, targets_ready, write_config, Target};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn script(name: &str, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/action").join(name));
    for k in [
        "GITHUB_SERVER_URL",
        "GITHUB_RUN_ID",
        "GITHUB_EVENT_PATH",
        "GITHUB_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1").env_remove("MIDDLEBRICK_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run script")
}

/// Replaces what changes between runs with placeholders, line by line.
pub fn mask(text: &str) -> String {
    let mut out = String::new();
    let mut in_details = false;
    let mut after_details = false;
    for line in text.lines() {
        // Per-finding evidence holds ids, tokens and timings the target makes up on each run;
        // the tables above it are what the golden file pins. The blocks collapse into one
        // placeholder: their number follows the findings table.
        if line.starts_with("<details>") {
            if !after_details {
                out.push_str("<details>…</details>\n");
            }
            in_details = true;
            continue;
        }
        if in_details {
            in_details = !line.starts_with("</details>");
            after_details = true;
            continue;
        }
        if after_details && line.is_empty() {
            continue;
        }
        if after_details {
            out.push('\n');
            after_details = false;
        }
        let mut l = mask_words(line);
        if l.starts_with("**Target**") {
            l = "**Target** … (masked)".to_string();
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn mask_words(line: &str) -> String {
    let mut l = line.to_string();
    while let Some(i) = l.find("127.0.0.1:") {
        let end = l[i + 10..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(l.len(), |e| i + 10 + e);
        l.replace_range(i..end, "HOST");
    }
    l
}

fn golden(name: &str, actual: &str) {
    let path = repo_root().join("crates/cli/tests/golden").join(name);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != actual && std::env::var_os("MIDDLEBRICK_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    assert_eq!(
        on_disk, actual,
        "{name} is stale: run `MIDDLEBRICK_BLESS=1 cargo test -p middlebrick --test action`"
    );
}

fn outputs(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn action_scripts_scan_summarise_annotate_and_gate() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out_dir = dir.path().join("mb");
    let gh_output = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    let comment = dir.path().join("comment.md");
    let install = script(
        "install.sh",
        &[("MIDDLEBRICK_BIN", bin().display().to_string())],
    );
    assert!(install.status.success());
    assert_eq!(
        String::from_utf8_lossy(&install.stdout).trim(),
        bin().display().to_string()
    );
    let env = vec![
        ("MB_BIN", bin().display().to_string()),
        ("MB_TARGET", target.url.clone()),
        ("MB_CONFIG", config.display().to_string()),
        ("MB_FAIL_ON", "high".to_string()),
        ("MB_OUTPUT_DIR", out_dir.display().to_string()),
        ("GITHUB_OUTPUT", gh_output.display().to_string()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("MB_COMMENT_FILE", comment.display().to_string()),
    ];
    let scan = script("scan.sh", &env);
    assert!(
        scan.status.success(),
        "scan.sh never fails: {}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let o = outputs(&gh_output);
    assert_eq!(
        o["exit-code"], "1",
        "the vulnerable target fails --fail-on high: {o:?}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&o["report"]).unwrap()).unwrap();
    assert_eq!(o["score"], report["score"].to_string());
    assert_eq!(o["grade"], report["grade"].as_str().unwrap());
    assert_eq!(
        o["findings-count"],
        report["findings"].as_array().unwrap().len().to_string()
    );
    for f in [
        "report.sarif",
        "report.md",
        "report.xml",
        "report.html",
        "report.txt",
    ] {
        assert!(out_dir.join(f).exists(), "{f} not written");
    }

    let mut env2 = env.clone();
    env2.push(("MB_EXIT_CODE", o["exit-code"].clone()));
    assert!(script("summary.sh", &env2).status.success());
    let notes = script("annotate.sh", &env2);
    let notes = String::from_utf8_lossy(&notes.stdout).to_string();
    assert!(!notes.is_empty());
    assert!(
        notes.lines().all(|l| l.starts_with("::error ")
            || l.starts_with("::warning ")
            || l.starts_with("::notice ")),
        "{notes}"
    );
    assert!(
        notes.lines().next().unwrap().starts_with("::error title="),
        "{notes}"
    );
    let gate = script("gate.sh", &env2);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "gate.sh fails the job with the scan's code"
    );

    let summary_text = std::fs::read_to_string(&summary).unwrap();
    let comment_text = std::fs::read_to_string(&comment).unwrap();
    assert!(comment_text.starts_with("<!-- middlebrick-report -->\n"));
    assert!(
        !comment_text.contains("<details>"),
        "the comment has no per-finding details"
    );
    assert!(summary_text.contains("**Gate:** failed: a gate"));
    golden("action-summary.md", &mask(&summary_text));
    golden("action-comment.md", &mask(&comment_text));
}

//! One scan of the vulnerable Flask target with `--output-dir`: every format written, the SARIF
//! valid against the OASIS 2.1.0 schema with several rules and a physical location on every
//! result, and the HTML page rendered by headless Chromium (not blank, no console errors).

mod common;

use common::{
    chromium, chromium_cmd, in_ci, png_colours, repo_root, run, targets_ready, write_config, Target,
};
use std::path::Path;

fn validate_sarif(doc: &serde_json::Value) {
    let schema_path = repo_root().join("../shared/schemas/sarif-schema-2.1.0.json");
    let Ok(text) = std::fs::read_to_string(&schema_path) else {
        assert!(
            !in_ci(),
            "the SARIF schema is missing at {}",
            schema_path.display()
        );
        common::not_run(&format!(
            "SARIF schema validation of a scan (no schema at {})",
            schema_path.display()
        ));
        return;
    };
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF invalid: {errors:#?}");
}

fn check_sarif(path: &Path) {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    validate_sarif(&doc);
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    let fired: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(
        fired.len() >= 3,
        "several rules fire on the vulnerable target: {fired:?}"
    );
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex resolves");
        let phys = &r["locations"][0]["physicalLocation"]["artifactLocation"];
        assert!(phys["uri"].is_string(), "a physical location always: {r:#}");
        assert_eq!(
            phys["uriBaseId"], "TARGET",
            "the spec was fetched over HTTP"
        );
    }
    assert!(run["originalUriBaseIds"]["TARGET"]["uri"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
}

fn check_html_in_chromium(html: &Path) {
    let Some(browser) = chromium() else {
        assert!(
            !in_ci(),
            "chromium is needed under CI (scripts/chromium.sh)"
        );
        common::not_run(
            "the HTML report rendered in headless Chromium (no chromium; \
             MIDDLEBRICK_INSTALL_CHROMIUM=1 installs it)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.display());
    let png = dir.path().join("shot.png");
    let shot = chromium_cmd(&browser, &dir.path().join("p1"))
        .arg("--window-size=1280,2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let colours = png_colours(&png).expect("python3 reads the PNG");
    assert!(colours > 3, "the screenshot is blank ({colours} colours)");
    let dom = chromium_cmd(&browser, &dir.path().join("p2"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        text.contains("injection.sql") || text.contains("info.verbose-error"),
        "the DOM has the findings"
    );
    // Coverage before the findings; the remediation's fenced code as a code block.
    let tested = text
        .find("<strong>Tested:</strong>")
        .expect("the coverage line");
    assert!(tested < text.find("<h2>Findings</h2>").expect("findings"));
    assert!(
        text.contains("<div class=\"remediation\">") && text.contains("<pre><code"),
        "remediation code blocks render"
    );
    // Console messages are logged as `…:INFO:CONSOLE:1] "message", source: …`; CSP
    // violations also reach the console ("Refused to …").
    let log =
        String::from_utf8_lossy(&shot.stderr).to_string() + &String::from_utf8_lossy(&dom.stderr);
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Refused to") || l.contains("Uncaught"))
        .collect();
    assert!(
        bad.is_empty(),
        "console errors in the HTML report: {bad:#?}"
    );
}

#[test]
fn every_format_from_one_scan_sarif_validates_and_html_renders() {
    if !targets_ready() {
        return;
    }
    let target = Target::start("flask", "vulnerable");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out_dir = dir.path().join("out");
    let out = run(&[
        "scan",
        &target.url,
        "--config",
        config.to_str().unwrap(),
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--no-progress",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "the terminal summary on stdout");
    for f in [
        "report.json",
        "report.sarif",
        "report.md",
        "report.xml",
        "report.html",
    ] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    // The default (safe) mode skips the state-changing checks: every format says so.
    let terminal = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        terminal.contains("checks skipped (needs a mode above safe)"),
        "{terminal}"
    );
    for f in [
        "report.json",
        "report.sarif",
        "report.md",
        "report.xml",
        "report.html",
    ] {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap();
        assert!(
            text.contains("needs a mode above safe"),
            "{f} lists no skipped check"
        );
    }
    check_sarif(&out_dir.join("report.sarif"));
    check_html_in_chromium(&out_dir.join("report.html"));
}

//! The GraphQL API of the FastAPI shop (`targets/fastapi_shop/graphql_*.py`, issue 19): every
//! GraphQL plant of the ground truth (entries on `/graphql`) is found on the vulnerable build,
//! with the GraphQL operation the ground truth names; five scans of the secure build find
//! nothing of medium or higher on `/graphql`. Only the checks the plants are about run, in
//! disposable mode (the back-office mutations are proven by their effect).

mod common;

use common::{ground_truth, scan_checks, targets_ready, write_config, Flaw, Target};
use serde_json::Value;
use std::time::Instant;

const PATH: &str = "/graphql";

/// The checks of the GraphQL plants, from the ground truth: what the scans run.
fn checks(flaws: &[&Flaw]) -> String {
    let mut ids: Vec<&str> = flaws.iter().map(|f| f.check.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join(",")
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings")
}

fn matches(f: &Value, flaw: &Flaw) -> bool {
    f["check"] == flaw.check.as_str()
        && f["path"] == PATH
        && flaw
            .graphql
            .as_ref()
            .is_none_or(|op| f["graphql_operation"] == op.as_str())
        && flaw
            .parameter
            .as_ref()
            .is_none_or(|p| f["parameter"] == p.as_str())
}

fn describe(f: &Value) -> String {
    format!(
        "{} {} {} {} [{}] param {}",
        f["severity"].as_str().unwrap_or(""),
        f["check"].as_str().unwrap_or(""),
        f["method"].as_str().unwrap_or(""),
        f["path"].as_str().unwrap_or(""),
        f["graphql_operation"].as_str().unwrap_or("-"),
        f["parameter"].as_str().unwrap_or("-"),
    )
}

fn figures(label: &str, report: &Value, wall_ms: u128) {
    let on_graphql = findings(report)
        .iter()
        .filter(|f| f["path"] == PATH)
        .count();
    eprintln!(
        "FIGURES fastapi {label}: requests_sent={} duration_ms={} wall_ms={wall_ms} \
         findings={} on_graphql={on_graphql}",
        report["requests_sent"],
        report["duration_ms"],
        findings(report).len(),
    );
}

#[test]
fn every_graphql_plant_is_found_and_the_secure_twin_stays_clean_five_times() {
    if !targets_ready() {
        return;
    }
    let truth = ground_truth("fastapi");
    let plants: Vec<&Flaw> = truth
        .flaws
        .iter()
        .filter(|f| f.path == PATH && f.variants.iter().any(|v| v == "vulnerable"))
        .collect();
    assert!(
        plants.len() >= 10,
        "the ground truth lost its GraphQL plants"
    );
    let checks = checks(&plants);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "");

    let target = Target::start("fastapi", "vulnerable");
    let started = Instant::now();
    let report = scan_checks(&target, "disposable", &checks, Some(&config));
    figures("vulnerable", &report, started.elapsed().as_millis());
    let found = findings(&report);
    let missed: Vec<String> = plants
        .iter()
        .filter(|p| !found.iter().any(|f| matches(f, p)))
        .map(|p| {
            format!(
                "{} {}",
                p.check,
                p.graphql.as_deref().unwrap_or("(endpoint)")
            )
        })
        .collect();
    eprintln!(
        "RECALL graphql fastapi: {}/{} plants found",
        plants.len() - missed.len(),
        plants.len()
    );
    let on_graphql: Vec<String> = found
        .iter()
        .filter(|f| f["path"] == PATH)
        .map(describe)
        .collect();
    assert!(
        missed.is_empty(),
        "missed {missed:?}; found on {PATH}:\n{}\ndiagnostics: {}",
        on_graphql.join("\n"),
        report["diagnostics"]
    );
    drop(target);

    let secure = Target::start("fastapi", "secure");
    for round in 1..=5 {
        let started = Instant::now();
        let report = scan_checks(&secure, "disposable", &checks, Some(&config));
        figures(
            &format!("secure (scan {round} of 5)"),
            &report,
            started.elapsed().as_millis(),
        );
        let loud: Vec<String> = findings(&report)
            .iter()
            .filter(|f| f["path"] == PATH)
            .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
            .map(describe)
            .collect();
        assert!(
            loud.is_empty(),
            "secure scan {round}: medium or higher on {PATH}:\n{}",
            loud.join("\n")
        );
    }
}

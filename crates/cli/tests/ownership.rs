//! Ownership discovery for `authz.bola` on its own, with nothing created by the scan: who owns
//! an id is learnt from each identity's own answers. Both targets list every order to any
//! signed-in user at `GET /api/admin/orders` (a planted BFLA), and the FastAPI spec's example
//! filters (`?status=placed&min_total=10`) leave alice's own order list empty. Neither may hide
//! that bob reads alice's invoice through `GET /api/invoices?order_id=`.

mod common;

use common::{run, targets_ready, write_config, Target};
use serde_json::Value;

fn bola_findings(target: &Target) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out_path = dir.path().join("report.json");
    let out = run(&[
        "scan",
        &target.url,
        "--config",
        config.to_str().unwrap(),
        "--mode",
        "safe",
        "--checks",
        "authz.bola",
        "--no-progress",
        "--format",
        "json",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out_path).unwrap()).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["parameter"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn bola_owner_is_learnt_from_own_answers_not_from_an_admin_listing() {
    if !targets_ready() {
        return;
    }
    for app in ["flask", "fastapi"] {
        let vulnerable = bola_findings(&Target::start(app, "vulnerable"));
        assert!(
            vulnerable.contains(&("/api/invoices".into(), "order_id".into())),
            "{app}: bob reading alice's invoice by order_id is found without any object the \
             scan created; got {vulnerable:?}"
        );
        let secure = bola_findings(&Target::start(app, "secure"));
        assert!(secure.is_empty(), "{app} secure: {secure:?}");
    }
}

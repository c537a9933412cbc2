//! Ownership discovery for `authz.bola` on its own, with nothing created by the scan: who owns
//! an id is learnt from each identity's own answers. Both targets list every order to any
//! signed-in user at `GET /api/admin/orders` (a planted BFLA), and the FastAPI spec's example
//! filters (`?status=placed&min_total=10`) leave alice's own order list empty. Neither may hide
//! that bob reads alice's invoice through `GET /api/invoices?order_id=`.

mod common;

use common::{scan_checks, targets_ready, write_config, Target};

fn bola_findings(target: &Target) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let report = scan_checks(target, "safe", "authz.bola", Some(&config));
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

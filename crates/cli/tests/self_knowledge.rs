//! Who each identity is and objects that have a state, on an API in conventions the in-house
//! targets do not share (`tests/fixtures/self_knowledge_api.py`, in memory, no database): the
//! account inside a wrapped sign-in answer, a current-user read inside a `data` wrapper, UUID
//! user ids and usernames in paths, and a pay operation whose seeded orders are already paid.
//! The vulnerable variant must give `authz.bola` on both user-scoped paths and
//! `design.replay-duplicates` on the pay operation (through a fresh order); the secure one
//! nothing.

mod common;

use common::{repo_root, run, targets_ready, write_config};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The fixture app on a free port; stopped when dropped.
struct Fixture {
    child: Child,
    url: String,
}

impl Fixture {
    fn start(secure: bool) -> Fixture {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let root = repo_root();
        let child = Command::new(root.join("targets/.venv/bin/python"))
            .arg(root.join("crates/cli/tests/fixtures/self_knowledge_api.py"))
            .arg(port.to_string())
            .env("SECURE", if secure { "1" } else { "0" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fixture");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "fixture not up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Fixture { child, url }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn findings(secure: bool) -> Vec<(String, String, String)> {
    let app = Fixture::start(secure);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = dir.path().join("report.json");
    let target = format!("{}/api", app.url);
    let spec = format!("{}/openapi.json", app.url);
    let result = run(&[
        "scan",
        &target,
        "--spec",
        &spec,
        "--config",
        config.to_str().unwrap(),
        "--mode",
        "active",
        "--checks",
        "authz.bola,design.replay-duplicates",
        "--no-progress",
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        result.status.code().is_some_and(|c| c <= 1),
        "scan failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("check"), s("path"), s("parameter"))
        })
        .collect()
}

#[test]
fn identities_are_known_by_id_and_name_and_spent_objects_give_way_to_fresh_ones() {
    if !targets_ready() {
        return;
    }
    let vulnerable = findings(false);
    for (check, path, param) in [
        ("authz.bola", "/users/{userId}/cards", "userId"),
        ("authz.bola", "/farmers/{farmerId}/sheep", "farmerId"),
        (
            "design.replay-duplicates",
            "/orders/{orderId}/pay",
            "Idempotency-Key",
        ),
    ] {
        assert!(
            vulnerable.contains(&(check.into(), path.into(), param.into())),
            "{check} on {path} ({param}) missing; got {vulnerable:?}"
        );
    }
    let secure = findings(true);
    assert!(secure.is_empty(), "secure variant: {secure:?}");
}

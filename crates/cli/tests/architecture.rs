//! Keeps ARCHITECTURE.md true: the dependency edges between the workspace's crates.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let m = "middlebrick-model";
    BTreeMap::from([
        ("middlebrick-model", vec![]),
        ("middlebrick-spec", vec![m]),
        ("middlebrick-synth", vec![m]),
        ("middlebrick-http", vec![m]),
        ("middlebrick-checks", vec![m]),
        ("middlebrick-report", vec![m]),
        ("middlebrick-audit", vec![m, "middlebrick-spec"]),
        ("middlebrick-store", vec![m]),
        (
            "middlebrick-core",
            vec![
                m,
                "middlebrick-engine",
                "middlebrick-checks",
                "middlebrick-http",
                "middlebrick-report",
                "middlebrick-store",
            ],
        ),
        (
            "middlebrick-mcp",
            vec![
                m,
                "middlebrick-core",
                "middlebrick-engine",
                "middlebrick-checks",
                "middlebrick-report",
                "middlebrick-store",
            ],
        ),
        (
            "middlebrick-monitor",
            vec![
                m,
                "middlebrick-core",
                "middlebrick-engine",
                "middlebrick-http",
                "middlebrick-report",
                "middlebrick-store",
            ],
        ),
        (
            "middlebrick-engine",
            vec![
                m,
                "middlebrick-spec",
                "middlebrick-synth",
                "middlebrick-http",
                "middlebrick-checks",
            ],
        ),
        (
            "middlebrick",
            vec![
                m,
                "middlebrick-core",
                "middlebrick-engine",
                "middlebrick-checks",
                "middlebrick-http",
                "middlebrick-report",
                "middlebrick-audit",
                "middlebrick-store",
                "middlebrick-mcp",
                "middlebrick-monitor",
            ],
        ),
    ])
}

#[test]
fn crate_dependencies_follow_architecture_md() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let allowed = allowed();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().unwrap();
        seen.insert(name.to_string());
        let rules = allowed
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in ARCHITECTURE.md; add it and its edges"));
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let normal = dep["kind"].is_null();
            if dep_name.starts_with("middlebrick") && normal {
                assert!(
                    rules.contains(&dep_name),
                    "{name} must not depend on {dep_name} (ARCHITECTURE.md)"
                );
            }
            if dep_name == "anyhow" && normal {
                assert_eq!(
                    name, "middlebrick",
                    "anyhow belongs to the binary only, found in {name}"
                );
            }
            if dep_name == "rusqlite" && normal {
                assert_eq!(
                    name, "middlebrick-store",
                    "SQL belongs to the store crate only, found rusqlite in {name}"
                );
            }
            if (dep_name == "postgres" || dep_name == "tokio-postgres") && normal {
                assert_eq!(
                    name, "middlebrick-store",
                    "SQL belongs to the store crate only, found {dep_name} in {name}"
                );
            }
            if dep_name == "reqwest" && normal {
                assert_eq!(
                    name, "middlebrick-http",
                    "reqwest belongs to the http crate only, found in {name}"
                );
            }
            if (name == "middlebrick-checks" || name == "middlebrick-report") && normal {
                assert!(
                    !matches!(dep_name, "tokio" | "reqwest" | "hyper"),
                    "{name} must stay free of runtime and HTTP client, found {dep_name}"
                );
            }
        }
    }
    for name in allowed.keys() {
        assert!(
            seen.contains(*name),
            "ARCHITECTURE.md names {name}, which no longer exists"
        );
    }
}

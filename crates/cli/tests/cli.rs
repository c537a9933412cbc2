//! Black-box tests of the binary that need no target: the catalogue, generated docs, usage
//! errors and exit codes, dry runs.

mod common;

use common::{repo_root, run};

#[test]
fn checks_lists_every_check_with_cwe_and_owasp() {
    let out = run(&["checks", "--format", "json"]);
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in [
        "auth.missing-authentication",
        "info.verbose-error",
        "transport.security-headers",
    ] {
        assert!(ids.contains(&id), "{id} missing from `middlebrick checks`");
    }
    for c in &list {
        assert!(!c["cwe"].as_array().unwrap().is_empty());
        let owasp: Vec<&str> = c["owasp"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        // The API Top 10 2023, and the LLM Top 10 2025 for checks of LLM endpoints.
        assert!(
            owasp
                .iter()
                .all(|o| (o.starts_with("API") && o.ends_with(":2023"))
                    || (o.starts_with("LLM") && o.ends_with(":2025"))),
            "{c}"
        );
        let llm_check = c["id"].as_str().unwrap().starts_with("llm.");
        assert_eq!(owasp.iter().any(|o| o.starts_with("LLM")), llm_check, "{c}");
    }
    let text = run(&["checks"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("CWE-306"));
}

#[test]
fn docs_checks_md_is_generated_from_the_catalogue() {
    let out = run(&["checks", "--format", "markdown"]);
    let fresh = String::from_utf8(out.stdout).unwrap();
    let path = repo_root().join("docs/checks.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != fresh && std::env::var_os("MIDDLEBRICK_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert_eq!(
        on_disk, fresh,
        "docs/checks.md is stale: run `MIDDLEBRICK_BLESS=1 cargo test -p middlebrick --test cli`"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["scan"]).status.code(), Some(2));
    assert_eq!(run(&["scan", "ftp://x"]).status.code(), Some(2));
    assert_eq!(
        run(&["scan", "http://127.0.0.1:9", "--mode", "reckless"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["scan", "http://127.0.0.1:9", "--fail-on", "severe"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&[
            "scan",
            "http://127.0.0.1:9",
            "--config",
            "/nonexistent/mb.toml"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        run(&["scan", "http://127.0.0.1:9", "--format", "pdf"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn an_unreachable_target_is_a_failed_scan_not_a_clean_one() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&[
        "scan",
        &format!("http://127.0.0.1:{port}"),
        "--no-progress",
        "--connect-timeout",
        "1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for a failed scan");
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not answer"));
}

#[test]
fn dry_run_with_a_spec_file_prints_the_plan_and_sends_nothing() {
    // The target port is closed: a dry run must not need it.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(
        &spec,
        r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},
            "components":{"securitySchemes":{"b":{"type":"http","scheme":"bearer"}}},
            "paths":{
              "/items":{"get":{"responses":{"200":{"description":"ok"}}},
                        "post":{"requestBody":{"content":{"application/json":{"schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}},"responses":{"201":{"description":"ok"}}}},
              "/items/{id}":{"get":{"security":[{"b":[]}],"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"integer"}}],"responses":{"200":{"description":"ok"}}},
                             "delete":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"integer"}}],"responses":{"204":{"description":"ok"}}}}}}"#,
    )
    .unwrap();
    let out = run(&[
        "scan",
        "http://127.0.0.1:9",
        "--spec",
        spec.to_str().unwrap(),
        "--dry-run",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("0 spec requests sent; no probe sent"),
        "{text}"
    );
    assert!(text.contains("GET /items/{id}  ->  GET"), "{text}");
    assert!(text.contains("auth.missing-authentication"), "{text}");
    // safe mode: POST and DELETE operations receive nothing
    assert!(text.contains("POST /items  ->  nothing"), "{text}");
    assert!(text.contains("DELETE /items/{id}  ->  nothing"), "{text}");
    let active = run(&[
        "scan",
        "http://127.0.0.1:9",
        "--spec",
        spec.to_str().unwrap(),
        "--dry-run",
        "--mode",
        "active",
    ]);
    let text = String::from_utf8_lossy(&active.stdout);
    assert!(text.contains("POST /items  ->  POST"), "{text}");
    assert!(
        text.contains("DELETE /items/{id}  ->  nothing"),
        "DELETE needs --allow-delete: {text}"
    );
}

#[test]
fn docs_cli_md_is_generated_from_the_clap_definition() {
    let out = run(&["cli-docs"]);
    assert!(out.status.success());
    let fresh = String::from_utf8(out.stdout).unwrap();
    for must in [
        "## Exit codes",
        "### `middlebrick scan`",
        "`--min-score <SCORE|GRADE>`",
        "### `middlebrick diff`",
        "### `middlebrick audit`",
        "`--output-dir <DIR>`",
    ] {
        assert!(fresh.contains(must), "docs/cli.md lacks {must}");
    }
    let path = repo_root().join("docs/cli.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != fresh && std::env::var_os("MIDDLEBRICK_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert_eq!(
        on_disk, fresh,
        "docs/cli.md is stale: run `MIDDLEBRICK_BLESS=1 cargo test -p middlebrick --test cli`"
    );
}

#[test]
fn explain_prints_the_variant_for_the_stack_asked_for() {
    let out = run(&[
        "explain",
        "injection.sql",
        "--stack",
        "flask,psycopg,cockroachdb",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CWE-89"), "{text}");
    assert!(text.contains("psycopg"), "{text}");
    assert!(
        !text.contains("asyncpg:"),
        "only the requested stack: {text}"
    );
    let all = run(&["explain", "injection.sql"]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("asyncpg"));
    assert_eq!(run(&["explain", "nope.nope"]).status.code(), Some(2));
    // An audit rule is explained as one (it used to print "no such check" and exit 0).
    let audit = run(&["explain", "audit.no-security"]);
    assert_eq!(audit.status.code(), Some(0));
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains("audit rule") && text.contains("Remediation:"),
        "{text}"
    );
    assert_eq!(
        run(&["explain", "injection.sql", "--stack", "django"])
            .status
            .code(),
        Some(2)
    );
}

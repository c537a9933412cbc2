//! Hostile specs (issue 16, rule 6): references that leave the spec's folder, devices, huge
//! files, reference cycles, alias bombs and deep nesting all end quickly with a diagnostic or
//! an error naming what was refused, and no byte of a refused file reaches the inventory.

use super::{codes, TempDir};
use crate::load_path;
use std::time::{Duration, Instant};

fn spec_with_param_ref(reference: &str) -> String {
    format!(
        r#"
openapi: 3.0.0
info: {{title: hostile, version: '1'}}
paths:
  /ok:
    get:
      responses: {{'200': {{description: ok}}}}
  /x:
    get:
      parameters:
        - $ref: '{reference}'
      responses: {{'200': {{description: ok}}}}
"#
    )
}

/// Loads a spec whose `GET /x` references `reference`; asserts `/x` was skipped with a refusal
/// that names the reference, and returns every diagnostic's text.
fn refused(dir: &TempDir, reference: &str) -> String {
    let root = dir.write("spec/openapi.yaml", &spec_with_param_ref(reference));
    let started = Instant::now();
    let inv = load_path(&root).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{reference}");
    let keys: Vec<String> = inv.operations.iter().map(|o| o.key()).collect();
    assert_eq!(keys, vec!["GET /ok"], "{reference}: {:#?}", inv.diagnostics);
    assert!(
        codes(&inv).contains(&"spec.ref-refused"),
        "{reference}: {:#?}",
        inv.diagnostics
    );
    let text: String = inv
        .diagnostics
        .iter()
        .map(|d| format!("{} {}\n", d.message, d.hint.as_deref().unwrap_or("")))
        .collect();
    assert!(
        text.contains(reference),
        "the refusal names the reference: {text}"
    );
    text
}

#[test]
fn references_outside_the_spec_folder_are_refused_and_never_read() {
    let dir = TempDir::new();
    let secret = "canary-outside-0123456789";
    let outside = dir.write(
        "outside.yaml",
        &format!("p: {{name: {secret}, in: query, schema: {{type: string}}}}\n"),
    );
    let absolute = format!("{}#/p", outside.display());
    for reference in [
        absolute.as_str(),
        "../outside.yaml#/p",
        "sub/../../outside.yaml#/p",
    ] {
        let text = refused(&dir, reference);
        assert!(text.contains("outside the spec's folder"), "{text}");
        assert!(!text.contains(secret));
    }
}

#[test]
fn devices_proc_files_and_links_out_of_the_folder_are_refused() {
    let dir = TempDir::new();
    for reference in ["/dev/zero", "/proc/self/environ", "/etc/passwd"] {
        refused(&dir, reference);
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("spec/zero.yaml")).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("spec/env.yaml")).unwrap();
        refused(&dir, "zero.yaml");
        refused(&dir, "env.yaml#/HOME");
        let fifo = dir.path().join("spec/fifo.yaml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let text = refused(&dir, "fifo.yaml");
            assert!(text.contains("not a regular file"), "{text}");
        } else {
            eprintln!("mkfifo unavailable: the FIFO case was not run");
        }
    }
}

#[test]
fn files_over_the_cap_are_refused_unread() {
    let dir = TempDir::new();
    let big = dir.write("spec/big.yaml", "");
    // Sparse: the size is what the cap looks at; nothing this large is written or read.
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(crate::refs::MAX_FILE_BYTES + 1)
        .unwrap();
    let text = refused(&dir, "big.yaml#/p");
    assert!(text.contains("cap per file"), "{text}");
    let err = load_path(&big).unwrap_err();
    assert!(err.to_string().contains("cap"), "{err}");
}

#[test]
fn reference_cycles_across_files_end() {
    let dir = TempDir::new();
    dir.write("spec/a.yaml", "p: {$ref: 'b.yaml#/p'}\n");
    dir.write("spec/b.yaml", "p: {$ref: 'a.yaml#/p'}\n");
    let root = dir.write("spec/openapi.yaml", &spec_with_param_ref("a.yaml#/p"));
    let started = Instant::now();
    let inv = load_path(&root).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(inv.operations.len(), 1);
    assert!(inv.diagnostics.iter().any(|d| d.message.contains("loop")));
}

#[test]
fn alias_bombs_and_deep_nesting_end_quickly() {
    let dir = TempDir::new();
    let mut bomb = String::from(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let prev = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    bomb.push_str("paths: {}\n");
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_yaml = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (name, text) in [
        ("bomb.yaml", bomb),
        ("deep.json", deep_json),
        ("deep.yaml", deep_yaml),
    ] {
        let path = dir.write(name, &text);
        let started = Instant::now();
        let result = load_path(&path);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} took {:?}",
            started.elapsed()
        );
        assert!(result.is_err(), "{name} is refused: {result:?}");
    }
}

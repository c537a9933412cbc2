//! Loads every real-world spec under `shared/specs/` (next to the repository): the Twilio
//! single-file JSON specs and DigitalOcean's description split over ~2,900 YAML files.
//! Without the folder this passes with a note, except on CI (`CI=true`), where it fails.

use middlebrick_model::{SecuritySchemeKind, SpecVersion};
use middlebrick_spec::load_path;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn specs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs");
    if dir.is_dir() {
        return Some(dir);
    }
    let note = format!("shared specs not found at {}; not run", dir.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{note} (CI=true requires them)");
    }
    not_run(&note);
    None
}

/// Says that a test could not run here, on stdout and in `MIDDLEBRICK_NOT_RUN_LOG` when
/// `scripts/test.sh` set it (its summary lists every test that could not run).
fn not_run(what: &str) {
    println!("not run: {what}");
    if let Some(path) = std::env::var_os("MIDDLEBRICK_NOT_RUN_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(f, "{what}");
        }
    }
}

#[test]
fn every_twilio_spec_loads() {
    let Some(dir) = specs_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("twilio"))
        .expect("twilio folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 50,
        "expected the 55 Twilio specs, found {}",
        files.len()
    );
    let (mut ops, mut diagnostics) = (0, 0);
    for file in &files {
        let start = Instant::now();
        let inv = load_path(file).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{}: {} operations, {} diagnostics, {:?}",
            file.file_name().unwrap().to_string_lossy(),
            inv.operations.len(),
            inv.diagnostics.len(),
            start.elapsed()
        );
        for d in &inv.diagnostics {
            println!("  {}: {}", d.code, d.message);
        }
        assert_eq!(inv.version, SpecVersion::OpenApi30);
        assert!(inv.operations.iter().all(|o| o.source.is_some()));
        ops += inv.operations.len();
        diagnostics += inv.diagnostics.len();
    }
    println!(
        "twilio: {} files, {ops} operations, {diagnostics} diagnostics",
        files.len()
    );
    assert!(ops > 1000, "only {ops} operations");
    assert!(
        diagnostics * 100 <= ops,
        "{diagnostics} diagnostics for {ops} operations"
    );

    let big = load_path(&dir.join("twilio/twilio_api_v2010.json")).unwrap();
    assert!(big.operations.len() > 150);
    assert!(matches!(
        &big.security_schemes["accountSid_authToken"].kind,
        SecuritySchemeKind::Http { scheme } if scheme == "basic"
    ));
    assert!(big.operations.iter().all(|o| o.declares_auth()));
}

#[test]
fn digitalocean_split_description_loads_from_its_root() {
    let Some(dir) = specs_dir() else { return };
    let root = dir.join("digitalocean/DigitalOcean-public.v2.yaml");
    let start = Instant::now();
    let inv = load_path(&root).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "digitalocean: {} operations, {} diagnostics, {:?}",
        inv.operations.len(),
        inv.diagnostics.len(),
        start.elapsed()
    );
    for d in &inv.diagnostics {
        println!("  {}: {}", d.code, d.message);
    }
    assert_eq!(inv.version, SpecVersion::OpenApi30);
    assert!(
        inv.operations.len() > 400,
        "only {} operations",
        inv.operations.len()
    );
    assert!(inv.diagnostics.len() <= 10, "{:#?}", inv.diagnostics);
    assert_eq!(inv.servers, vec!["https://api.digitalocean.com"]);
    assert!(matches!(
        &inv.security_schemes["bearer_auth"].kind,
        SecuritySchemeKind::Http { scheme } if scheme == "bearer"
    ));
    // Operations come from files two folders down, and their schemas from further files.
    let create = inv
        .operations
        .iter()
        .find(|o| o.operation_id.as_deref() == Some("sshKeys_create"))
        .expect("sshKeys_create");
    assert_eq!(create.key(), "POST /v2/account/keys");
    let body = &create.request_body.as_ref().expect("body").content["application/json"];
    assert!(!body.properties.is_empty() || !body.one_of.is_empty());
    assert!(create.declares_auth());
    let with_bodies = inv
        .operations
        .iter()
        .filter(|o| o.request_body.is_some())
        .count();
    assert!(with_bodies > 100, "{with_bodies} operations with bodies");
}

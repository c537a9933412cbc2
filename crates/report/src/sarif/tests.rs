use super::*;
use crate::fixture;
use std::path::PathBuf;

fn sarif(report: &Report, opts: &RenderOptions) -> Value {
    serde_json::from_str(&render(report, opts)).unwrap()
}

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/schemas/sarif-schema-2.1.0.json")
}

/// A spec file on disk for physical locations; removed when dropped.
struct TempSpec(PathBuf);

impl TempSpec {
    fn new(name: &str, text: &str) -> TempSpec {
        let path =
            std::env::temp_dir().join(format!("middlebrick-report-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempSpec(path)
    }
}

impl Drop for TempSpec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const SPEC_YAML: &str = "\
openapi: 3.0.3
info:
  title: t
  version: '1'
paths:
  /users:
    post:
      responses: {}
  '/users/{id}':
    delete:
      responses: {}
    get:
      responses: {}
";

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
fn validates_against_the_sarif_schema() {
    let path = schema_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the SARIF schema is missing at {}",
            path.display()
        );
        not_run(&format!(
            "SARIF schema validation of the fixture (no schema at {})",
            path.display()
        ));
        return;
    };
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let spec = TempSpec::new("openapi.yaml", SPEC_YAML);
    let mut with_spec = fixture::options();
    with_spec.spec_file = Some(spec.0.clone());
    let mut relative = fixture::options();
    relative.spec_file = Some(PathBuf::from("./api specs/openapi.yaml"));
    for opts in [fixture::options(), with_spec, relative] {
        let covered = sarif(&fixture::report_with_coverage(), &opts);
        let errors: Vec<String> = validator
            .iter_errors(&covered)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "SARIF invalid: {errors:#?}\n{covered:#}");
        let doc = sarif(&fixture::report(), &opts);
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "SARIF invalid: {errors:#?}\n{doc:#}");
        assert_eq!(
            doc["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(doc["runs"][0]["results"].as_array().unwrap().len(), 3);
    }
    // The validator is live: a wrong level is caught.
    let mut bad = sarif(&fixture::report(), &fixture::options());
    bad["runs"][0]["results"][0]["level"] = json!("severe");
    assert!(!validator.is_valid(&bad));
}

fn assert_rule_indexes_resolve(doc: &Value) {
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in run["results"].as_array().unwrap() {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex {i} of {r:#}");
    }
}

#[test]
fn rule_index_is_the_position_in_rules_whatever_the_order() {
    let report = fixture::report();
    let mut opts = fixture::options();
    assert_rule_indexes_resolve(&sarif(&report, &opts));
    opts.rules.reverse();
    let doc = sarif(&report, &opts);
    assert_rule_indexes_resolve(&doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results[0]["ruleId"], "auth.missing-authentication");
    assert_eq!(results[0]["ruleIndex"], 2);
    assert_eq!(results[2]["ruleId"], "transport.security-headers");
    assert_eq!(results[2]["ruleIndex"], 0);
}

#[test]
fn findings_of_uncatalogued_checks_get_an_appended_rule() {
    let report = fixture::report();
    let mut opts = fixture::options();
    opts.rules.retain(|r| r.id != CheckId::InfoVerboseError);
    opts.rules.push(opts.rules[0].clone()); // a duplicate is dropped, not indexed twice
    let doc = sarif(&report, &opts);
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[2]["id"], "info.verbose-error");
    assert_rule_indexes_resolve(&doc);
}

#[test]
fn rules_carry_tags_severity_and_help() {
    let doc = sarif(&fixture::report(), &fixture::options());
    let rule = &doc["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "auth.missing-authentication");
    assert_eq!(rule["name"], "MissingAuthentication");
    assert_eq!(rule["shortDescription"]["text"], "Missing authentication");
    assert_eq!(rule["help"]["text"], "Fix auth.missing-authentication.");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    assert_eq!(rule["properties"]["security-severity"], "9.5");
    assert_eq!(
        rule["properties"]["tags"],
        json!(["security", "external/cwe/cwe-306", "API2:2023"])
    );
    let levels: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["error", "warning", "note"]);
}

#[test]
fn results_carry_fingerprint_locations_and_properties() {
    let report = fixture::report();
    let doc = sarif(&report, &fixture::options());
    let r = &doc["runs"][0]["results"][0];
    let auth = &report.findings[2];
    assert_eq!(r["partialFingerprints"][FINGERPRINT_KEY], auth.id);
    assert_eq!(
        r["locations"][0]["logicalLocations"][0],
        json!({ "fullyQualifiedName": "GET /users/{id}", "kind": "function" })
    );
    // No spec file: the endpoint, relative to the scanned base URL.
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"],
        json!({ "uri": "users/%7Bid%7D", "uriBaseId": "TARGET" })
    );
    assert_eq!(
        doc["runs"][0]["originalUriBaseIds"]["TARGET"]["uri"],
        format!("{}/", report.target.trim_end_matches('/'))
    );
    assert_eq!(r["properties"]["confidence"], "confirmed");
    assert_eq!(r["properties"]["cwe"], json!(["CWE-306"]));
    assert_eq!(r["properties"]["owasp"], json!(["API2:2023"]));
    let api_wide = &doc["runs"][0]["results"][2]["locations"][0];
    assert_eq!(
        api_wide["logicalLocations"][0]["fullyQualifiedName"],
        "(API-wide)"
    );
    assert_eq!(
        api_wide["physicalLocation"]["artifactLocation"]["uri"],
        "./"
    );
    let notes = &doc["runs"][0]["invocations"][0]["toolExecutionNotifications"];
    assert_eq!(notes[0]["descriptor"]["id"], "spec.broken-operation");
}

#[test]
fn invocations_carry_coverage_and_fail_when_an_identity_did_not_sign_in() {
    let clean = sarif(&fixture::report(), &fixture::options());
    let inv = &clean["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    let doc = sarif(&fixture::report_with_coverage(), &fixture::options());
    let inv = &doc["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert_eq!(inv["properties"]["checks"], 4);
    assert_eq!(inv["properties"]["checksRan"], 3);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    let text = |id: &str| {
        notes
            .iter()
            .find(|n| n["descriptor"]["id"] == id)
            .map(|n| n["message"]["text"].as_str().unwrap().to_string())
    };
    assert_eq!(
        text("coverage").unwrap(),
        "3 of 4 checks ran; 2 of 3 operations reached; identity bob failed to sign in"
    );
    assert_eq!(
        text("coverage.check-skipped").unwrap(),
        "skipped (needs a mode above safe): authz.bola-write"
    );
    let mut stopped = fixture::report();
    stopped.incomplete = true;
    let doc = sarif(&stopped, &fixture::options());
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}

#[test]
fn physical_locations_point_at_the_operation_in_the_spec() {
    let spec = TempSpec::new("lines.yaml", SPEC_YAML);
    let mut opts = fixture::options();
    opts.spec_file = Some(spec.0.clone());
    let doc = sarif(&fixture::report(), &opts);
    let lines: Vec<u64> = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let phys = &r["locations"][0]["physicalLocation"];
            assert!(phys["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("file:///"));
            phys["region"]["startLine"].as_u64().unwrap()
        })
        .collect();
    // GET /users/{id} at line 12, POST /users at 7, API-wide at 1.
    assert_eq!(lines, [12, 7, 1]);
}

#[test]
fn relative_spec_paths_stay_relative_to_the_source_root() {
    let file = SpecFile::load(Path::new("./specs/my api.yaml"));
    let loc = file.physical_location(Some(Method::Get), Some("/x"));
    assert_eq!(loc["artifactLocation"]["uri"], "specs/my%20api.yaml");
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(loc["region"]["startLine"], 1, "unreadable file: line 1");
}

#[test]
fn operation_lines_are_found_in_yaml_and_json() {
    assert_eq!(
        operation_line(SPEC_YAML, Some(Method::Delete), Some("/users/{id}")),
        10
    );
    assert_eq!(
        operation_line(SPEC_YAML, Some(Method::Put), Some("/users/{id}")),
        9
    );
    assert_eq!(
        operation_line(SPEC_YAML, Some(Method::Get), Some("/nope")),
        1
    );
    let json = r#"{
  "paths": {
    "/users": {
      "get": {}
    },
    "/users/{id}": {
      "post": {},
      "get": {}
    }
  }
}"#;
    assert_eq!(
        operation_line(json, Some(Method::Get), Some("/users/{id}")),
        8
    );
    assert_eq!(operation_line(json, Some(Method::Get), Some("/users")), 4);
    assert_eq!(operation_line(json, None, Some("/users")), 3);
    assert_eq!(
        operation_line("{\"paths\":{}}", Some(Method::Get), Some("/users")),
        1
    );
}

#[test]
fn rule_names_are_pascal_case() {
    assert_eq!(
        rule_name(CheckId::TransportSecurityHeaders),
        "SecurityHeaders"
    );
    assert_eq!(security_severity(Severity::Info), "0.0");
    assert_eq!(level(Severity::High), "error");
    assert_eq!(level(Severity::Info), "note");
}

#[test]
fn a_graphql_finding_names_its_operation_in_message_location_and_properties() {
    let mut report = fixture::report();
    let f = &mut report.findings[2];
    f.method = Some(Method::Post);
    f.path = Some("/graphql".into());
    f.graphql_operation = Some("query order".into());
    let doc = sarif(&report, &fixture::options());
    let r = doc["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["properties"]["graphql_operation"] == "query order")
        .expect("the GraphQL finding");
    assert_eq!(
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "POST /graphql query order"
    );
    assert!(r["message"]["text"]
        .as_str()
        .unwrap()
        .contains("on POST /graphql query order"));
    let junit = crate::junit::render(&report, &fixture::options());
    assert!(
        junit.contains(r#"name="POST /graphql query order""#),
        "{junit}"
    );
    let md = crate::markdown::render(&report, &fixture::options());
    assert!(md.contains("POST /graphql query order"));
    let json = crate::json::render(&report);
    assert!(json.contains(r#""graphql_operation": "query order""#));
    let html = crate::html::render(&report, &fixture::options());
    assert!(html.contains("POST /graphql query order"));
}

//! Broken operations are skipped with a diagnostic; no input makes the loader panic
//! (truncations and byte flips of valid specs, deep nesting, reference loops).

use super::{codes, op};
use crate::{load_bytes, SpecError};
use serde_json::json;

#[test]
fn broken_operations_are_skipped_and_named() {
    let spec = json!({
        "openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {
            "/ok": {"get": {"responses": {"200": {"description": "fine"}}}},
            "/unresolvable": {"get": {"responses": {"200": {"description": "", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}}},
            "/string-op": {"get": "not an operation"},
            "/bad-params": {"get": {"parameters": {"a": 1}, "responses": {}}},
            "/bad-param-in": {"get": {"parameters": [{"name": "a", "in": "body"}], "responses": {}}},
            "/bad-schema": {"post": {"requestBody": {"content": {"application/json": {"schema": 42}}}}},
            "/bad-security": {"get": {"security": "none", "responses": {}}},
            "/loop": {"get": {"parameters": [{"$ref": "#/components/parameters/A"}]}},
            "/bad-item": 7,
            "/mixed": {
                "get": {"responses": {"200": "nope"}},
                "put": {"responses": {"204": {"description": "ok"}}}
            },
            "x-extension": {"get": "ignored"}
        },
        "components": {"parameters": {
            "A": {"$ref": "#/components/parameters/B"},
            "B": {"$ref": "#/components/parameters/A"}
        }}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "broken.json").unwrap();
    let keys: Vec<String> = inv.operations.iter().map(|o| o.key()).collect();
    assert_eq!(keys, vec!["GET /ok", "PUT /mixed"]);
    let skipped: Vec<&str> = inv
        .diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.code, "spec.broken-operation");
            d.operation.as_deref().unwrap()
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            "GET /unresolvable",
            "GET /string-op",
            "GET /bad-params",
            "GET /bad-param-in",
            "POST /bad-schema",
            "GET /bad-security",
            "GET /loop",
            "/bad-item",
            "GET /mixed"
        ]
    );
    let missing = &inv.diagnostics[0].message;
    assert!(
        missing.contains("#/components/schemas/Missing"),
        "{missing}"
    );
    assert!(
        inv.diagnostics[6].message.contains("loop"),
        "{}",
        inv.diagnostics[6].message
    );
}

#[test]
fn paths_of_the_wrong_type_and_no_paths() {
    let inv = load_bytes(br#"{"openapi": "3.1.0", "paths": []}"#, "p.json").unwrap();
    assert!(inv.operations.is_empty());
    assert_eq!(codes(&inv), vec!["spec.broken-paths"]);
    let inv = load_bytes(b"openapi: 3.1.0\nwebhooks: {}\n", "w.yaml").unwrap();
    assert!(inv.operations.is_empty() && inv.diagnostics.is_empty());
    let inv = load_bytes(
        br#"{"swagger": "2.0", "security": {"a": []}, "paths": {"/a": {"get": {}}}}"#,
        "s.json",
    )
    .unwrap();
    assert_eq!(codes(&inv), vec!["spec.broken-security"]);
    assert_eq!(op(&inv, "GET /a").security, None);
}

#[test]
fn not_specs_are_errors() {
    for (input, what) in [
        (&b""[..], "empty"),
        (b"just words", "a scalar"),
        (b"[1, 2]", "a list"),
        (b"<html><body>Swagger UI</body></html>", "html"),
        (b"{\"info\": {}}", "no version field"),
    ] {
        let err = load_bytes(input, "https://x/spec").unwrap_err();
        assert!(
            matches!(err, SpecError::NotASpec { .. } | SpecError::Syntax { .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("https://x/spec"), "{err}");
    }
}

/// A small deterministic generator, so failures reproduce without a fuzzing dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

const CORPUS: &[&str] = &[
    r##"{"openapi":"3.0.0","info":{"title":"t"},"servers":[{"url":"https://{h}/x","variables":{"h":{"default":"a"}}}],
"paths":{"/a/{id}":{"parameters":[{"$ref":"#/components/parameters/Id"}],"get":{"security":[{"k":[]}],
"responses":{"200":{"$ref":"#/components/responses/R"}}},"post":{"requestBody":{"content":{"application/json":
{"schema":{"allOf":[{"$ref":"#/components/schemas/N"},{"properties":{"x":{"type":["string","null"]}}}]}}}}}}},
"components":{"parameters":{"Id":{"name":"id","in":"path","schema":{"type":"integer"}}},"responses":{"R":
{"description":"","content":{"application/json":{"schema":{"$ref":"#/components/schemas/N"}}}}},"schemas":{"N":
{"type":"object","properties":{"n":{"$ref":"#/components/schemas/N"},"e":{"enum":[1,2]}}}},"securitySchemes":
{"k":{"type":"apiKey","name":"k","in":"header"},"o":{"type":"oauth2","flows":{"password":{"tokenUrl":"/t","scopes":{}}}}}}}"##,
    "swagger: '2.0'\nhost: h\nbasePath: /b\nsecurityDefinitions:\n  b: {type: basic}\nsecurity: [{b: []}]\nparameters:\n  L: {name: l, in: query, type: integer}\npaths:\n  /f:\n    post:\n      consumes: [multipart/form-data]\n      parameters:\n        - $ref: '#/parameters/L'\n        - {name: f, in: formData, type: file}\n        - {name: b, in: body, schema: {$ref: '#/definitions/D'}}\n      responses:\n        200: {description: ok, schema: {$ref: '#/definitions/D'}}\ndefinitions:\n  D: {type: object, properties: {d: {$ref: '#/definitions/D'}}}\n",
];

#[test]
fn truncated_and_mutated_specs_never_panic() {
    for doc in CORPUS {
        let full = load_bytes(doc.as_bytes(), "corpus").unwrap();
        assert!(full.diagnostics.is_empty(), "{:?}", full.diagnostics);
        assert!(!full.operations.is_empty());
        for cut in 0..doc.len() {
            let _ = load_bytes(&doc.as_bytes()[..cut], "truncated");
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let interesting = b"{}[]:,\"'#/~$ -\n0a";
        for _ in 0..2000 {
            let mut bytes = doc.as_bytes().to_vec();
            for _ in 0..1 + xorshift(&mut seed) % 4 {
                let at = (xorshift(&mut seed) % bytes.len() as u64) as usize;
                bytes[at] = interesting[(xorshift(&mut seed) % interesting.len() as u64) as usize];
            }
            let _ = load_bytes(&bytes, "mutated");
        }
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let deep_json = format!(
        "{{\"openapi\": \"3.0.0\", \"x\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(load_bytes(deep_json.as_bytes(), "deep.json").is_err());
    let deep_yaml = format!("openapi: 3.0.0\nx: {}\n", "[".repeat(100_000));
    assert!(load_bytes(deep_yaml.as_bytes(), "deep.yaml").is_err());
    // Many aliases to aliases (a "billion laughs") must be refused, not expanded.
    let mut laughs =
        String::from("openapi: 3.0.0\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = i - 1;
        laughs.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let _ = load_bytes(laughs.as_bytes(), "laughs.yaml");
}

#[test]
fn a_null_request_body_is_read_as_none() {
    let spec = json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/farmers/{id}": {"get": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": null,
            "responses": {"200": {"description": "ok"}}
        }}}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "null.json").unwrap();
    assert_eq!(inv.operations.len(), 1);
    assert!(inv.operations[0].request_body.is_none());
    assert_eq!(codes(&inv), vec!["spec.null-request-body"]);
}

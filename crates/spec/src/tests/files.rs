//! Specs split over files: relative references from each file's own folder, pointer escaping,
//! each file parsed once (one shared schema), broken and missing files, and references that
//! are not followed.

use super::{codes, op, TempDir};
use crate::{load_bytes, load_path, SpecError};
use middlebrick_model::SchemaType;
use std::sync::Arc;

fn split_spec() -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new();
    let root = dir.write(
        "api/openapi.yaml",
        r#"
openapi: 3.0.0
info: {title: split, version: '1'}
servers: [{url: /api}]
paths:
  /items:
    $ref: 'paths/items.yaml'
  /items/{id}:
    get:
      $ref: 'paths/item_get.yaml'
  /broken:
    get:
      $ref: 'paths/broken.yaml'
  /missing:
    get:
      $ref: 'paths/nope.yaml'
  /remote:
    get:
      responses:
        200:
          description: ok
          content:
            application/json: {schema: {$ref: 'https://example.com/schemas.json#/Thing'}}
"#,
    );
    dir.write(
        "api/paths/items.yaml",
        r#"
get:
  parameters:
    - $ref: '../shared/params.yaml#/limit'
  responses:
    '200':
      description: ok
      content:
        application/json:
          schema: {type: array, items: {$ref: '../shared/models/item.yml'}}
post:
  requestBody:
    content:
      application/json:
        schema: {$ref: '../shared/models/item.yml'}
  responses:
    '201': {$ref: '../shared/responses.yaml#/Created'}
"#,
    );
    dir.write(
        "api/paths/item_get.yaml",
        r#"
parameters:
  - {name: id, in: path, schema: {$ref: '../shared/defs.json#/definitions/a~1b%20c'}}
responses:
  '200':
    description: ok
    content:
      application/json:
        schema: {$ref: '../shared/./models/../models/item.yml'}
"#,
    );
    dir.write("api/paths/broken.yaml", "responses: {200: [unclosed\n");
    dir.write(
        "api/shared/defs.json",
        r#"{"definitions": {"a/b c": {"type": "string", "format": "uuid"}}}"#,
    );
    dir.write(
        "api/shared/models/item.yml",
        "type: object\nproperties:\n  id: {type: integer}\n  tags: {$ref: 'tag.yml'}\n  parent: {$ref: './item.yml'}\n",
    );
    dir.write(
        "api/shared/models/tag.yml",
        "type: array\nitems: {type: string}\n",
    );
    dir.write(
        "api/shared/params.yaml",
        "limit: {name: limit, in: query, schema: {type: integer}}\n",
    );
    dir.write(
        "api/shared/responses.yaml",
        "Created:\n  description: made\n  content:\n    application/json:\n      schema: {$ref: 'models/item.yml'}\n",
    );
    (dir, root)
}

#[test]
fn relative_file_refs_resolve_from_each_files_folder() {
    let (_dir, root) = split_spec();
    let inv = load_path(&root).unwrap();
    let keys: Vec<String> = inv.operations.iter().map(|o| o.key()).collect();
    assert_eq!(
        keys,
        vec![
            "GET /items",
            "POST /items",
            "GET /items/{id}",
            "GET /remote"
        ]
    );
    assert_eq!(inv.base_path, "/api");
    let mut c = codes(&inv);
    c.sort();
    assert_eq!(
        c,
        vec![
            "spec.broken-file",
            "spec.broken-file",
            "spec.broken-operation",
            "spec.broken-operation",
            "spec.external-ref"
        ],
        "{:#?}",
        inv.diagnostics
    );
    let skipped: Vec<&str> = inv
        .diagnostics
        .iter()
        .filter_map(|d| d.operation.as_deref())
        .collect();
    assert_eq!(skipped, vec!["GET /broken", "GET /missing"]);
    assert!(inv
        .diagnostics
        .iter()
        .any(|d| d.message.contains("broken.yaml")));

    let list = op(&inv, "GET /items");
    assert_eq!(list.parameters[0].name, "limit");
    assert_eq!(
        list.source.as_deref(),
        Some(format!("{}#/paths/~1items/get", root.display()).as_str())
    );
    let item = list.success_schema().unwrap().items.clone().unwrap();
    assert_eq!(item.name.as_deref(), Some("item"));
    assert_eq!(item.properties["tags"].ty, Some(SchemaType::Array));
    assert_eq!(
        item.properties["parent"].recursive_ref.as_deref(),
        Some("item")
    );

    // One file, parsed once, converted once: every use is the same allocation.
    let create = op(&inv, "POST /items");
    assert!(Arc::ptr_eq(
        &item,
        &create.request_body.as_ref().unwrap().content["application/json"]
    ));
    assert!(Arc::ptr_eq(&item, create.success_schema().unwrap()));
    let get = op(&inv, "GET /items/{id}");
    assert!(Arc::ptr_eq(&item, get.success_schema().unwrap()));
    assert_eq!(get.parameters[0].schema.format.as_deref(), Some("uuid"));

    let remote = op(&inv, "GET /remote").success_schema().unwrap();
    assert_eq!((remote.ty, remote.name.as_deref()), (None, Some("Thing")));
}

#[test]
fn bytes_specs_note_file_refs_instead_of_failing() {
    let (_dir, root) = split_spec();
    let bytes = std::fs::read(&root).unwrap();
    let inv = load_bytes(&bytes, "https://api.example.com/openapi.yaml").unwrap();
    // Only the operation with a schema-level reference survives; the others need the files.
    assert_eq!(inv.operations.len(), 1);
    assert!(codes(&inv).contains(&"spec.external-ref"));
    assert_eq!(inv.servers, vec!["https://api.example.com/api"]);
}

#[test]
fn unreadable_or_foreign_roots_are_errors_that_name_the_file() {
    let dir = TempDir::new();
    let missing = dir.path().join("nope.yaml");
    let err = load_path(&missing).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }));
    assert!(err.to_string().contains("nope.yaml"), "{err}");

    let not_spec = dir.write("config.yaml", "name: x\nversion: 2\n");
    let err = load_path(&not_spec).unwrap_err();
    assert!(matches!(err, SpecError::NotASpec { .. }));
    assert!(err.to_string().contains("config.yaml"), "{err}");

    let bad = dir.write("bad.json", "{\"openapi\": \"3.0.0\",");
    let err = load_path(&bad).unwrap_err();
    assert!(
        err.to_string().contains("bad.json") && err.to_string().contains("JSON"),
        "{err}"
    );
}

//! OpenAPI 3.0 (YAML) and 3.1 (JSON): parameters, bodies, responses, security, servers,
//! schema keywords, cycles and sharing.

use super::{codes, op};
use crate::load_bytes;
use middlebrick_model::{ParamLocation, SchemaType, SecuritySchemeKind, SpecVersion};
use serde_json::json;
use std::sync::Arc;

const PETS_30: &str = r##"
openapi: 3.0.3
info: {title: Pets, version: "1"}
servers:
  - url: https://api.example.com/api/v1/
security:
  - bearer: []
paths:
  /pets/{pet_id}:
    parameters:
      - $ref: '#/components/parameters/PetId'
      - {name: trace, in: header, schema: {type: string}}
    get:
      operationId: getPet
      summary: One pet
      tags: [pets]
      parameters:
        - {name: trace, in: header, required: true, schema: {type: integer}}
        - {name: Authorization, in: header, schema: {type: string}}
        - name: fields
          in: query
          examples: {first: {$ref: '#/components/examples/Fields'}}
          content:
            application/json: {schema: {type: array, items: {type: string}}}
      responses:
        200:
          description: ok
          content:
            application/xml: {schema: {type: string}}
            application/json: {schema: {$ref: '#/components/schemas/Pet'}}
        404: {$ref: '#/components/responses/NotFound'}
        x-internal: {description: ignored}
    put:
      security: []
      requestBody: {$ref: '#/components/requestBodies/PetBody'}
      responses:
        204: {description: done}
    delete:
      deprecated: true
      security: [{apikey: []}, {}]
      responses: {default: {$ref: '#/components/responses/NotFound'}}
components:
  parameters:
    PetId: {name: pet_id, in: path, schema: {type: integer, format: int64, minimum: 1}}
  examples:
    Fields: {value: [name, tag]}
  requestBodies:
    PetBody:
      required: true
      content:
        application/json: {schema: {$ref: '#/components/schemas/Pet'}}
        application/x-www-form-urlencoded: {}
  responses:
    NotFound:
      description: missing
      content:
        application/problem+json: {schema: {$ref: '#/components/schemas/Error'}}
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    apikey: {type: apiKey, name: X-Key, in: header}
    broken: {type: apiKey, name: k}
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, minLength: 1, maxLength: 64, example: Rex}
        tag: {type: string, nullable: true, pattern: '^[a-z]+$', default: dog}
        kind: {type: string, enum: [cat, dog]}
        owner: {$ref: '#/components/schemas/Owner', nullable: true}
        secret: {type: string, writeOnly: true}
    Owner:
      allOf:
        - $ref: '#/components/schemas/Named'
        - type: object
          required: [email]
          properties: {email: {type: string, format: email}}
    Named:
      type: object
      required: [name]
      properties: {name: {type: string}}
    Error:
      oneOf: [{type: string}, {type: object, properties: {message: {type: string}}}]
"##;

#[test]
fn openapi_30_yaml_operations() {
    let inv = load_bytes(PETS_30.as_bytes(), "pets.yaml").unwrap();
    assert_eq!(inv.version, SpecVersion::OpenApi30);
    assert_eq!(inv.title.as_deref(), Some("Pets"));
    assert_eq!(inv.servers, vec!["https://api.example.com/api/v1/"]);
    assert_eq!(inv.base_path, "/api/v1");
    assert_eq!(inv.operations.len(), 3);
    assert_eq!(codes(&inv), vec!["spec.broken-security-scheme"]);

    let get = op(&inv, "GET /pets/{pet_id}");
    assert_eq!(get.operation_id.as_deref(), Some("getPet"));
    assert_eq!(get.tags, vec!["pets"]);
    assert_eq!(
        get.source.as_deref(),
        Some("pets.yaml#/paths/~1pets~1{pet_id}/get")
    );
    let names: Vec<(&str, ParamLocation)> = get
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location))
        .collect();
    // Path-level first, the operation's `trace` replaces the path-level one in place, and
    // `Authorization` is dropped as OpenAPI 3 says.
    assert_eq!(
        names,
        vec![
            ("pet_id", ParamLocation::Path),
            ("trace", ParamLocation::Header),
            ("fields", ParamLocation::Query)
        ]
    );
    let pet_id = &get.parameters[0];
    assert!(pet_id.required);
    assert_eq!(pet_id.schema.ty, Some(SchemaType::Integer));
    assert_eq!(pet_id.schema.format.as_deref(), Some("int64"));
    assert_eq!(pet_id.schema.minimum, Some(1.0));
    assert!(get.parameters[1].required);
    assert_eq!(get.parameters[1].schema.ty, Some(SchemaType::Integer));
    let fields = &get.parameters[2];
    assert_eq!(fields.schema.ty, Some(SchemaType::Array));
    assert_eq!(fields.example, Some(json!(["name", "tag"])));

    assert_eq!(get.responses.len(), 2);
    assert_eq!(get.responses[0].status, "200");
    assert_eq!(
        get.responses[0].media_type.as_deref(),
        Some("application/json")
    );
    let pet = get.success_schema().unwrap();
    assert_eq!(pet.name.as_deref(), Some("Pet"));
    assert_eq!(pet.required, vec!["name"]);
    assert_eq!(
        get.responses[1].media_type.as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(get.responses[1].schema.as_ref().unwrap().one_of.len(), 2);
    assert!(get.declares_auth());
    assert!(!get.deprecated);

    let put = op(&inv, "PUT /pets/{pet_id}");
    assert!(put.declares_public());
    assert_eq!(put.security, Some(vec![]));
    let body = put.request_body.as_ref().unwrap();
    assert!(body.required);
    let media: Vec<&String> = body.content.keys().collect();
    assert_eq!(
        media,
        vec!["application/json", "application/x-www-form-urlencoded"]
    );
    assert!(
        Arc::ptr_eq(&body.content["application/json"], pet),
        "one Pet, shared"
    );
    assert_eq!(put.responses[0].media_type, None);

    let delete = op(&inv, "DELETE /pets/{pet_id}");
    assert!(delete.deprecated);
    assert!(delete.declares_public() && !delete.declares_auth());
    assert_eq!(
        delete.responses[0].schema, get.responses[1].schema,
        "shared response component"
    );

    assert_eq!(
        inv.security_schemes["apikey"].kind,
        SecuritySchemeKind::ApiKey {
            name: "X-Key".into(),
            location: ParamLocation::Header
        }
    );
    assert!(!inv.security_schemes.contains_key("broken"));
}

#[test]
fn schema_keywords_and_all_of() {
    let inv = load_bytes(PETS_30.as_bytes(), "pets.yaml").unwrap();
    let pet = op(&inv, "GET /pets/{pet_id}")
        .success_schema()
        .unwrap()
        .clone();
    let p = |n: &str| pet.properties[n].clone();
    assert!(p("id").read_only);
    assert!(p("secret").write_only);
    assert_eq!(
        (p("name").min_length, p("name").max_length),
        (Some(1), Some(64))
    );
    assert_eq!(p("name").example, Some(json!("Rex")));
    let tag = p("tag");
    assert!(tag.nullable);
    assert_eq!(tag.pattern.as_deref(), Some("^[a-z]+$"));
    assert_eq!(tag.default, Some(json!("dog")));
    assert_eq!(p("kind").enum_values, vec![json!("cat"), json!("dog")]);
    // `$ref` with a `nullable` sibling: the target, merged, and nullable.
    let owner = p("owner");
    assert!(owner.nullable);
    assert_eq!(owner.effective_type(), Some(SchemaType::Object));
    let props: Vec<&String> = owner.properties.keys().collect();
    assert_eq!(props, vec!["name", "email"]);
    assert_eq!(owner.required, vec!["name", "email"]);
    assert_eq!(owner.properties["email"].format.as_deref(), Some("email"));
}

#[test]
fn openapi_31_json_types_and_examples() {
    let spec = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": {"/things": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "a": {"type": ["string", "null"], "examples": ["x", "y"]},
                    "b": {"type": ["null"]},
                    "c": {"const": 3},
                    "d": true,
                    "e": {"$ref": "#/$defs/E", "description": "annotations do not merge"},
                    "f": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "g": {"type": "object", "additionalProperties": true},
                    "h": {"anyOf": [{"type": "string"}], "oneOf": [{"type": "integer"}]},
                    "i": {"type": "integer", "minimum": 1.5, "maxItems": 4.0}
                }
            }}}},
            "responses": {"201": {"description": "made"}}
        }}},
        "$defs": {"E": {"type": "boolean"}}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "https://x.test/openapi.json").unwrap();
    assert_eq!(inv.version, SpecVersion::OpenApi31);
    assert_eq!(inv.servers, vec!["https://x.test/"]);
    assert_eq!(inv.base_path, "");
    assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
    let post = op(&inv, "POST /things");
    assert_eq!(post.security, None);
    assert_eq!(
        post.source.as_deref(),
        Some("https://x.test/openapi.json#/paths/~1things/post")
    );
    let s = post.request_body.as_ref().unwrap().content["application/json"].clone();
    let p = |n: &str| s.properties[n].clone();
    assert_eq!(p("a").ty, Some(SchemaType::String));
    assert!(p("a").nullable);
    assert_eq!(p("a").example, Some(json!("x")));
    assert_eq!(p("b").ty, Some(SchemaType::Null));
    assert_eq!(p("c").enum_values, vec![json!(3)]);
    assert_eq!(p("d").ty, None);
    assert_eq!(p("e").ty, Some(SchemaType::Boolean));
    assert_eq!(p("e").name.as_deref(), Some("E"));
    assert_eq!(
        p("f").additional_properties.as_ref().unwrap().ty,
        Some(SchemaType::Integer)
    );
    assert!(p("g").additional_properties.is_some());
    assert_eq!(p("h").one_of.len(), 2);
    assert_eq!((p("i").minimum, p("i").max_items), (Some(1.5), Some(4)));
}

#[test]
fn cycles_are_cut_and_components_shared() {
    let spec = json!({
        "openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {
            "/tree": {"get": {"responses": {"200": {"description": "", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}},
            "/a": {"get": {"responses": {"200": {"description": "", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}},
            "/b": {"get": {"responses": {"200": {"description": "", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}
        },
        "components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "self": {"$ref": "#/components/schemas/Node"}
            }},
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"}, {"properties": {"x": {"type": "string"}}}]}
        }}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "cyc.json").unwrap();
    assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
    let node = op(&inv, "GET /tree").success_schema().unwrap();
    let back = node.properties["children"].items.as_ref().unwrap();
    assert_eq!(back.recursive_ref.as_deref(), Some("Node"));
    assert!(
        Arc::ptr_eq(back, &node.properties["self"]),
        "one cut node per component"
    );
    assert!(Arc::ptr_eq(
        node,
        op(&inv, "GET /b").success_schema().unwrap()
    ));
    // A -> B -> allOf A: the cycle through allOf is cut, B keeps its own property.
    let a = op(&inv, "GET /a").success_schema().unwrap();
    let b = &a.properties["b"];
    assert!(b.properties.contains_key("x"));
}

#[test]
fn deep_schemas_are_bounded() {
    let mut schema = json!({"type": "string"});
    for _ in 0..60 {
        schema = json!({"type": "object", "properties": {"n": schema}});
    }
    let spec = json!({"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/deep": {"post": {"requestBody": {"content": {"application/json": {"schema": schema}}},
        "responses": {}}}}});
    let inv = load_bytes(spec.to_string().as_bytes(), "deep.json").unwrap();
    assert_eq!(codes(&inv), vec!["spec.deep-schema"]);
    let mut s = op(&inv, "POST /deep")
        .request_body
        .as_ref()
        .unwrap()
        .content["application/json"]
        .clone();
    let mut depth = 0;
    while let Some(next) = s.properties.get("n").cloned() {
        s = next;
        depth += 1;
    }
    assert!(
        (30..=34).contains(&depth),
        "cut near the limit, got {depth}"
    );
}

#[test]
fn local_path_item_refs() {
    let spec = json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {
            "/users/{id}": {"$ref": "#/components/pathItems/User"},
            "/alias": {"$ref": "#/paths/~1users~1%7Bid%7D"}
        },
        "components": {"pathItems": {"User": {
            "parameters": [{"name": "id", "in": "path", "schema": {"type": "string"}}],
            "get": {"responses": {"200": {"description": "ok"}}}
        }}}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "p.json").unwrap();
    assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
    assert_eq!(op(&inv, "GET /users/{id}").parameters[0].name, "id");
    assert_eq!(
        op(&inv, "GET /alias").source.as_deref(),
        Some("p.json#/paths/~1alias/get")
    );
}

#[test]
fn nullable_any_of_folds_into_the_typed_schema() {
    let spec = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/prefs": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "note": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}], "default": null},
                    "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
                }
            }}}},
            "responses": {"200": {"description": "ok"}}
        }}}
    });
    let inv = load_bytes(spec.to_string().as_bytes(), "mem").unwrap();
    let body = inv.operations[0].request_body.as_ref().unwrap();
    let schema = body.content.values().next().unwrap();
    let note = &schema.properties["note"];
    assert_eq!(note.ty, Some(SchemaType::String));
    assert!(note.nullable);
    assert_eq!(note.max_length, Some(200));
    assert!(note.one_of.is_empty());
    let choice = &schema.properties["choice"];
    assert_eq!(
        choice.one_of.len(),
        2,
        "real alternatives stay alternatives"
    );
}

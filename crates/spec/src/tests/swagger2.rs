//! Swagger 2.0: body and formData parameters, parameter-borne schemas, consumes / produces,
//! security definitions, host and basePath.

use super::op;
use crate::load_bytes;
use middlebrick_model::{ParamLocation, SchemaType, SecuritySchemeKind, SpecVersion};
use serde_json::json;

fn petstore_2() -> serde_json::Value {
    json!({
        "swagger": "2.0",
        "info": {"title": "Store", "version": "1"},
        "host": "store.example.com",
        "basePath": "/v2/",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/xml", "application/json"],
        "securityDefinitions": {
            "basic": {"type": "basic"},
            "key": {"type": "apiKey", "name": "api_key", "in": "query"},
            "oauth": {"type": "oauth2", "flow": "application", "tokenUrl": "https://auth/token",
                      "scopes": {"read": "r", "write": "w"}}
        },
        "security": [{"basic": []}],
        "parameters": {
            "limit": {"name": "limit", "in": "query", "type": "integer", "format": "int32",
                      "minimum": 1, "maximum": 100, "default": 20}
        },
        "paths": {
            "/orders": {
                "get": {
                    "parameters": [
                        {"$ref": "#/parameters/limit"},
                        {"name": "status", "in": "query", "type": "array",
                         "items": {"type": "string", "enum": ["open", "done"]}, "x-example": ["open"]}
                    ],
                    "responses": {"200": {"description": "ok",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Order"}}}}
                },
                "post": {
                    "security": [{"oauth": ["write"]}],
                    "parameters": [{"name": "order", "in": "body", "required": true,
                                    "schema": {"$ref": "#/definitions/Order"}}],
                    "responses": {"201": {"description": "made", "schema": {"$ref": "#/definitions/Order"}},
                                  "400": {"description": "bad"}}
                }
            },
            "/orders/{id}/photo": {
                "parameters": [{"name": "id", "in": "path", "type": "string", "format": "uuid"}],
                "post": {
                    "consumes": ["multipart/form-data"],
                    "produces": [],
                    "parameters": [
                        {"name": "photo", "in": "formData", "type": "file", "required": true},
                        {"name": "caption", "in": "formData", "type": "string", "maxLength": 80}
                    ],
                    "responses": {"200": {"description": "ok", "schema": {"type": "object"}}}
                },
                "put": {
                    "consumes": [],
                    "parameters": [{"name": "caption", "in": "formData", "type": "string"}],
                    "responses": {}
                }
            }
        },
        "definitions": {
            "Order": {"type": "object", "required": ["qty"], "properties": {
                "qty": {"type": "integer", "x-nullable": true},
                "note": {"type": "string", "x-example": "rush"}
            }}
        }
    })
}

#[test]
fn swagger_2_operations() {
    let inv = load_bytes(petstore_2().to_string().as_bytes(), "store.json").unwrap();
    assert_eq!(inv.version, SpecVersion::Swagger2);
    assert!(inv.diagnostics.is_empty(), "{:?}", inv.diagnostics);
    assert_eq!(inv.servers, vec!["https://store.example.com/v2"]);
    assert_eq!(inv.base_path, "/v2");
    assert_eq!(inv.operations.len(), 4);

    let list = op(&inv, "GET /orders");
    let limit = &list.parameters[0];
    assert_eq!(
        (limit.name.as_str(), limit.location),
        ("limit", ParamLocation::Query)
    );
    assert!(!limit.required);
    assert_eq!(limit.schema.ty, Some(SchemaType::Integer));
    assert_eq!(limit.schema.format.as_deref(), Some("int32"));
    assert_eq!(
        (limit.schema.minimum, limit.schema.maximum),
        (Some(1.0), Some(100.0))
    );
    assert_eq!(limit.schema.default, Some(json!(20)));
    let status = &list.parameters[1];
    assert_eq!(status.schema.ty, Some(SchemaType::Array));
    assert_eq!(status.schema.items.as_ref().unwrap().enum_values.len(), 2);
    assert_eq!(status.example, Some(json!(["open"])));
    assert_eq!(
        list.responses[0].media_type.as_deref(),
        Some("application/json")
    );
    let order = list.success_schema().unwrap().items.clone().unwrap();
    assert_eq!(order.name.as_deref(), Some("Order"));
    assert!(order.properties["qty"].nullable);
    assert_eq!(order.properties["note"].example, Some(json!("rush")));
    assert!(list.declares_auth());

    let create = op(&inv, "POST /orders");
    let body = create.request_body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(
        body.content.keys().collect::<Vec<_>>(),
        vec!["application/json"]
    );
    assert_eq!(
        body.content["application/json"].name.as_deref(),
        Some("Order")
    );
    assert!(create.parameters.is_empty());
    assert_eq!(
        create.security.as_ref().unwrap()[0].schemes[0].1,
        vec!["write"]
    );
    assert_eq!(create.responses[1].media_type, None);

    let upload = op(&inv, "POST /orders/{id}/photo");
    assert_eq!(upload.parameters.len(), 1);
    assert!(
        upload.parameters[0].required,
        "path parameters are required"
    );
    assert_eq!(upload.parameters[0].schema.format.as_deref(), Some("uuid"));
    let form = &upload.request_body.as_ref().unwrap().content["multipart/form-data"];
    assert_eq!(form.ty, Some(SchemaType::Object));
    assert_eq!(form.required, vec!["photo"]);
    assert_eq!(form.properties["photo"].ty, Some(SchemaType::String));
    assert_eq!(form.properties["photo"].format.as_deref(), Some("binary"));
    assert_eq!(form.properties["caption"].max_length, Some(80));
    assert_eq!(
        upload.responses[0].media_type.as_deref(),
        Some("application/json")
    );

    let caption = op(&inv, "PUT /orders/{id}/photo");
    let body = caption.request_body.as_ref().unwrap();
    assert!(body
        .content
        .contains_key("application/x-www-form-urlencoded"));
    assert!(!body.required);

    assert_eq!(
        inv.security_schemes["basic"].kind,
        SecuritySchemeKind::Http {
            scheme: "basic".into()
        }
    );
    assert_eq!(
        inv.security_schemes["key"].kind,
        SecuritySchemeKind::ApiKey {
            name: "api_key".into(),
            location: ParamLocation::Query
        }
    );
    assert_eq!(
        inv.security_schemes["oauth"].kind,
        SecuritySchemeKind::OAuth2 {
            token_url: Some("https://auth/token".into()),
            scopes: vec!["read".into(), "write".into()]
        }
    );
}

#[test]
fn swagger_2_yaml_without_host_uses_the_origin() {
    let yaml = "swagger: '2.0'\ninfo: {title: t, version: '1'}\nbasePath: /api\npaths:\n  /ping:\n    get:\n      responses:\n        200: {description: pong}\n";
    let inv = load_bytes(yaml.as_bytes(), "http://localhost:5000/apispec_1.json").unwrap();
    assert_eq!(inv.servers, vec!["http://localhost:5000/api"]);
    assert_eq!(inv.base_path, "/api");
    let ping = op(&inv, "GET /ping");
    assert_eq!(ping.responses[0].status, "200");
    assert_eq!(ping.security, None);
}

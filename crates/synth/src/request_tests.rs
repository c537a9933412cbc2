//! Request synthesis (`request.rs`).

use super::*;
use middlebrick_model::{Method, RequestBodySpec};
use serde_json::json;
use std::sync::Arc;

fn p(name: &str, location: ParamLocation, required: bool, schema: Schema) -> Parameter {
    Parameter {
        name: name.to_string(),
        location,
        required,
        schema: Arc::new(schema),
        example: None,
    }
}

fn ty(t: SchemaType) -> Schema {
    Schema::of_type(t)
}

fn obj(props: &[(&str, Schema)], required: &[&str]) -> Schema {
    Schema {
        ty: Some(SchemaType::Object),
        properties: props
            .iter()
            .map(|(k, v)| (k.to_string(), Arc::new(v.clone())))
            .collect(),
        required: required.iter().map(|r| r.to_string()).collect(),
        ..Schema::default()
    }
}

fn with_body(mut op: Operation, media: &[(&str, Schema)]) -> Operation {
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: media
            .iter()
            .map(|(m, s)| (m.to_string(), Arc::new(s.clone())))
            .collect(),
    });
    op
}

fn none() -> Overrides {
    Overrides::none()
}

fn with(f: impl FnOnce(&mut Overrides)) -> Overrides {
    let mut o = Overrides::none();
    f(&mut o);
    o
}

#[test]
fn path_parameters_prefer_harvested_ids_then_the_spec() {
    let mut op = Operation::new(Method::Get, "/orders/{order_id}/lines/{line}");
    op.parameters.push(p(
        "order_id",
        ParamLocation::Path,
        true,
        ty(SchemaType::Integer),
    ));
    let mut line = ty(SchemaType::String);
    line.enum_values = vec![json!("first"), json!("last")];
    op.parameters
        .push(p("line", ParamLocation::Path, true, line));
    let empty = IdPool::new();
    let req = synthesize(&op, &empty, "alice", &none());
    assert_eq!(req.path, "/orders/1/lines/first");
    assert_eq!(
        req.operation.as_deref(),
        Some("GET /orders/{order_id}/lines/{line}")
    );
    assert_eq!(req.identity, "alice");
    assert_eq!(req.method, Method::Get);

    let mut pool = IdPool::new();
    pool.harvest(
        &Operation::new(Method::Get, "/orders"),
        "alice",
        &json!([{"id": 31}]),
    );
    assert_eq!(
        synthesize(&op, &pool, "alice", &none()).path,
        "/orders/31/lines/first"
    );

    op.parameters[0].example = Some(json!(12));
    assert_eq!(
        synthesize(&op, &empty, "alice", &none()).path,
        "/orders/12/lines/first"
    );
}

#[test]
fn nested_paths_follow_the_parent_actually_used() {
    let mut op = Operation::new(Method::Get, "/users/{user_id}/orders/{order_id}");
    op.parameters.push(p(
        "user_id",
        ParamLocation::Path,
        true,
        ty(SchemaType::Integer),
    ));
    op.parameters.push(p(
        "order_id",
        ParamLocation::Path,
        true,
        ty(SchemaType::Integer),
    ));
    let mut pool = IdPool::new();
    let orders = Operation::new(Method::Get, "/users/{user_id}/orders");
    pool.harvest(
        &Operation::new(Method::Get, "/users"),
        "a",
        &json!([{"id": 5}, {"id": 6}]),
    );
    pool.harvest_at(&orders, "/users/5/orders", "a", &json!([{"id": 50}]));
    pool.harvest_at(&orders, "/users/6/orders", "a", &json!([{"id": 60}]));
    assert_eq!(
        synthesize(&op, &pool, "a", &none()).path,
        "/users/6/orders/60"
    );
    let five = with(|o| o.set_param(ParamLocation::Path, "user_id", json!(5)));
    assert_eq!(
        synthesize(&op, &pool, "a", &five).path,
        "/users/5/orders/50"
    );
}

#[test]
fn undeclared_path_parameters_and_encoding() {
    let op = Operation::new(Method::Get, "/files/{file_id}/{name}");
    let o = with(|o| o.set_param(ParamLocation::Path, "name", json!("a b/é")));
    assert_eq!(
        synthesize(&op, &IdPool::new(), "a", &o).path,
        "/files/1/a%20b%2F%C3%A9"
    );
    let dropped = with(|o| o.drop_param(ParamLocation::Path, "name"));
    assert_eq!(
        synthesize(&op, &IdPool::new(), "a", &dropped).path,
        "/files/1/"
    );
}

#[test]
fn query_header_and_cookie_parameters() {
    let mut op = Operation::new(Method::Get, "/search");
    op.parameters
        .push(p("q", ParamLocation::Query, true, ty(SchemaType::String)));
    let mut limit = ty(SchemaType::Integer);
    limit.default = Some(json!(25));
    op.parameters
        .push(p("limit", ParamLocation::Query, false, limit));
    op.parameters.push(p(
        "verbose",
        ParamLocation::Query,
        false,
        ty(SchemaType::Boolean),
    ));
    let mut tags = ty(SchemaType::Array);
    tags.items = Some(Arc::new(ty(SchemaType::String)));
    tags.example = Some(json!(["x", "y"]));
    op.parameters
        .push(p("tag", ParamLocation::Query, false, tags));
    op.parameters.push(p(
        "X-Request-Id",
        ParamLocation::Header,
        true,
        ty(SchemaType::String),
    ));
    op.parameters.push(p(
        "Authorization",
        ParamLocation::Header,
        true,
        ty(SchemaType::String),
    ));
    op.parameters.push(p(
        "X-API-Key",
        ParamLocation::Header,
        true,
        ty(SchemaType::String),
    ));
    op.parameters.push(p(
        "access_token",
        ParamLocation::Query,
        true,
        ty(SchemaType::String),
    ));
    op.parameters.push(p(
        "locale",
        ParamLocation::Cookie,
        true,
        ty(SchemaType::String),
    ));
    let req = synthesize(&op, &IdPool::new(), "a", &none());
    let q: Vec<(&str, &str)> = req
        .query
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        q,
        vec![
            ("q", "middlebrick"),
            ("limit", "25"),
            ("tag", "x"),
            ("tag", "y")
        ]
    );
    assert_eq!(
        req.headers,
        vec![("X-Request-Id".to_string(), "1".to_string())]
    );
    assert_eq!(req.cookies, vec![("locale".to_string(), "en".to_string())]);
    assert_eq!(req.body, None);

    let o = with(|o| {
        o.set_param(ParamLocation::Header, "x-request-id", json!("r-9"));
        o.drop_param(ParamLocation::Query, "limit");
        o.set_param(ParamLocation::Query, "debug", json!(true));
        o.set_param(ParamLocation::Query, "trace", json!(1));
        o.drop_param(ParamLocation::Query, "trace");
        o.set_param(
            ParamLocation::Header,
            "Authorization",
            json!("Bearer forged"),
        );
    });
    let req = synthesize(&op, &IdPool::new(), "a", &o);
    assert_eq!(req.headers[0].1, "r-9");
    let auth = ("Authorization".to_string(), "Bearer forged".to_string());
    assert_eq!(req.headers[1], auth);
    assert!(!req.query.iter().any(|(k, _)| k == "limit" || k == "trace"));
    let debug = ("debug".to_string(), "true".to_string());
    assert!(req.query.contains(&debug));
}

#[test]
fn json_bodies_are_valid_and_use_known_ids() {
    let schema = obj(
        &[
            ("product_id", ty(SchemaType::Integer)),
            ("quantity", ty(SchemaType::Integer)),
            ("email", ty(SchemaType::String)),
            ("address", obj(&[("zip", ty(SchemaType::String))], &["zip"])),
        ],
        &["product_id", "quantity", "email", "address"],
    );
    let op = with_body(
        Operation::new(Method::Post, "/orders"),
        &[("application/json", schema)],
    );
    let mut pool = IdPool::new();
    pool.harvest(
        &Operation::new(Method::Get, "/products"),
        "a",
        &json!([{"id": 44}]),
    );
    let req = synthesize(&op, &pool, "a", &none());
    let Some(RequestBody::Json(v)) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(v["product_id"], json!(44));
    assert_eq!(v["quantity"], json!(1));
    assert_eq!(v["address"]["zip"], json!("10001"));
    assert!(v["email"].as_str().unwrap().ends_with("@example.com"));

    // Deterministic by default, unique per salt.
    assert_eq!(synthesize(&op, &pool, "a", &none()), req);
    let salted = synthesize(&op, &pool, "a", &none().with_salt(9));
    let Some(RequestBody::Json(w)) = &salted.body else {
        panic!()
    };
    assert_ne!(w["email"], v["email"]);
}

#[test]
fn body_overrides_set_drop_and_replace() {
    let schema = obj(
        &[
            ("name", ty(SchemaType::String)),
            ("address", obj(&[("zip", ty(SchemaType::String))], &["zip"])),
        ],
        &["name", "address"],
    );
    let op = with_body(
        Operation::new(Method::Put, "/me"),
        &[("application/json", schema)],
    );
    let pool = IdPool::new();
    let o = with(|o| {
        o.set_body(["address", "zip"], json!("99999"));
        o.set_body(["role"], json!("admin"));
        o.set_body(["a", "b"], json!(1));
        o.drop_body(vec!["name".to_string()]);
    });
    let Some(RequestBody::Json(v)) = synthesize(&op, &pool, "a", &o).body else {
        panic!()
    };
    assert_eq!(
        v,
        json!({"address": {"zip": "99999"}, "role": "admin", "a": {"b": 1}})
    );
    let whole = with(|o| o.set_body(Vec::<String>::new(), json!([1, 2])));
    assert_eq!(
        synthesize(&op, &pool, "a", &whole).body,
        Some(RequestBody::Json(json!([1, 2])))
    );
    assert_eq!(
        synthesize(
            &op,
            &pool,
            "a",
            &with(|o| o.drop_body(Vec::<String>::new()))
        )
        .body,
        None
    );
    // A body for an operation that declares none, when a check asks for one.
    let bare = Operation::new(Method::Post, "/x");
    assert_eq!(
        synthesize(&bare, &pool, "a", &with(|o| o.set_body(["k"], json!(1)))).body,
        Some(RequestBody::Json(json!({"k": 1})))
    );
}

#[test]
fn form_multipart_text_and_other_json_bodies() {
    let mut tags = ty(SchemaType::Array);
    tags.items = Some(Arc::new(ty(SchemaType::String)));
    let schema = obj(
        &[("username", ty(SchemaType::String)), ("tags", tags)],
        &["username", "tags"],
    );
    let form = with_body(
        Operation::new(Method::Post, "/login"),
        &[
            ("application/xml", ty(SchemaType::String)),
            ("application/x-www-form-urlencoded", schema.clone()),
        ],
    );
    let o = with(|o| o.set_body(["password"], json!("pw")));
    let Some(RequestBody::Form(fields)) = synthesize(&form, &IdPool::new(), "a", &o).body else {
        panic!()
    };
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["username", "tags", "password"]);
    assert!(fields[0].1.starts_with("mb_user_"));

    let mut file = ty(SchemaType::String);
    file.format = Some("binary".into());
    let upload = obj(
        &[("file", file), ("title", ty(SchemaType::String))],
        &["file", "title"],
    );
    let op = with_body(
        Operation::new(Method::Post, "/upload"),
        &[("multipart/form-data", upload)],
    );
    let Some(RequestBody::Raw { content_type, body }) =
        synthesize(&op, &IdPool::new(), "a", &none()).body
    else {
        panic!()
    };
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    assert!(body.contains("name=\"file\"; filename=\"middlebrick.txt\""));
    assert!(body.contains("name=\"title\"\r\n\r\nmiddlebrick\r\n"));
    assert!(body.ends_with("--\r\n"));

    let text = with_body(
        Operation::new(Method::Post, "/t"),
        &[("text/plain", ty(SchemaType::String))],
    );
    assert_eq!(
        synthesize(&text, &IdPool::new(), "a", &none()).body,
        Some(RequestBody::Raw {
            content_type: "text/plain".into(),
            body: "middlebrick".into()
        })
    );
    let api = with_body(
        Operation::new(Method::Patch, "/j"),
        &[(
            "application/vnd.api+json",
            obj(&[("a", ty(SchemaType::Boolean))], &["a"]),
        )],
    );
    assert_eq!(
        synthesize(&api, &IdPool::new(), "a", &none()).body,
        Some(RequestBody::Raw {
            content_type: "application/vnd.api+json".into(),
            body: "{\"a\":false}".into()
        })
    );
}

#[test]
fn query_ids_come_from_the_pool_when_the_name_says_id() {
    let mut op = Operation::new(Method::Get, "/orders");
    op.parameters.push(p(
        "customer_id",
        ParamLocation::Query,
        true,
        ty(SchemaType::Integer),
    ));
    let mut pool = IdPool::new();
    pool.harvest(
        &Operation::new(Method::Get, "/me"),
        "a",
        &json!({"id": 3, "customer_id": 81}),
    );
    let req = synthesize(&op, &pool, "a", &none());
    assert_eq!(
        req.query,
        vec![("customer_id".to_string(), "81".to_string())]
    );
}

#[test]
fn the_pool_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<IdPool>();
    shared::<Overrides>();
}

#[test]
fn graphql_arguments_travel_as_the_variables_of_the_document() {
    use middlebrick_model::{GraphqlArgument, GraphqlKind, GraphqlOperation};
    let mut op = with_body(
        Operation::new(Method::Post, "/graphql"),
        &[(
            "application/json",
            obj(
                &[
                    ("orderId", ty(SchemaType::Integer)),
                    ("note", ty(SchemaType::String)),
                ],
                &["orderId", "note"],
            ),
        )],
    );
    op.graphql = Some(GraphqlOperation {
        kind: GraphqlKind::Query,
        field: "order".into(),
        arguments: vec![
            GraphqlArgument {
                name: "orderId".into(),
                type_ref: "Int!".into(),
            },
            GraphqlArgument {
                name: "note".into(),
                type_ref: "String!".into(),
            },
        ],
        selection: "{ id total }".into(),
        returns: "Order".into(),
    });
    let mut pool = IdPool::new();
    pool.harvest(
        &Operation::new(Method::Get, "/orders"),
        "a",
        &json!([{"id": 44}]),
    );
    let req = synthesize(
        &op,
        &pool,
        "a",
        &with(|o| o.set_body(["note"], json!("x'"))),
    );
    let Some(RequestBody::Json(v)) = &req.body else {
        panic!("{:?}", req.body)
    };
    assert_eq!(
        v["query"],
        json!("query($orderId: Int!, $note: String!) { order(orderId: $orderId, note: $note) { id total } }")
    );
    assert_eq!(v["variables"]["orderId"], json!(44), "a harvested id");
    assert_eq!(
        v["variables"]["note"],
        json!("x'"),
        "overrides land on the arguments"
    );
    assert_eq!(v.as_object().unwrap().len(), 2);
    let g = req.graphql.as_ref().unwrap();
    assert_eq!((g.kind, g.field.as_str()), (GraphqlKind::Query, "order"));
    assert!(
        !req.changes_state(),
        "a query is a read even though it is POSTed"
    );
    assert_eq!(req.operation.as_deref(), Some("POST /graphql query order"));

    // No arguments: an empty `variables` object, and a mutation changes state.
    let mut bare = Operation::new(Method::Post, "/graphql");
    bare.graphql = Some(GraphqlOperation {
        kind: GraphqlKind::Mutation,
        field: "logout".into(),
        arguments: vec![],
        selection: String::new(),
        returns: "Boolean".into(),
    });
    let req = synthesize(&bare, &pool, "a", &none());
    assert_eq!(
        req.body,
        Some(RequestBody::Json(
            json!({"query": "mutation { logout }", "variables": {}})
        ))
    );
    assert!(req.changes_state());
}

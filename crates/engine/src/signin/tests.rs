use super::*;
use middlebrick_model::{
    BodyRecord, ParamLocation, Parameter, RequestBodySpec, RequestRecord, ResponseRecord, Schema,
    SecurityRequirement, SecurityScheme, SecuritySchemeKind, SpecVersion,
};
use std::sync::Arc;

pub(crate) fn exchange(status: u16, body: &str) -> Exchange {
    Exchange {
        identity: "alice".into(),
        request: RequestRecord {
            method: Method::Post,
            url: "http://127.0.0.1:9/api/login?username=alice&password=pw-123456".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: None,
        },
        response: Some(ResponseRecord {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: BodyRecord {
                text: body.into(),
                size: body.len() as u64,
                truncated: false,
            },
            graphql_field: None,
        }),
        redirects: Vec::new(),
        error: None,
        elapsed_ms: 1,
    }
}

fn login() -> LoginConfig {
    LoginConfig {
        username: "alice".into(),
        password: "pw-123456".into(),
        ..LoginConfig::default()
    }
}

fn object(props: &[&str]) -> Schema {
    let mut s = Schema::of_type(SchemaType::Object);
    for p in props {
        s.properties
            .insert(p.to_string(), Arc::new(Schema::of_type(SchemaType::String)));
        s.required.push(p.to_string());
    }
    s
}

fn post(path: &str, media: &str, schema: Schema) -> Operation {
    let mut op = Operation::new(Method::Post, path);
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: [(media.to_string(), Arc::new(schema))]
            .into_iter()
            .collect(),
    });
    op
}

fn inventory(ops: Vec<Operation>) -> Inventory {
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = ops;
    inv
}

fn json_body(plan: &SignInPlan) -> Value {
    match plan.request(&login()).body {
        Some(RequestBody::Json(v)) => v,
        other => panic!("json expected, got {other:?}"),
    }
}

#[test]
fn the_checks_classifier_finds_the_sign_in() {
    let inv = inventory(vec![
        post(
            "/api/auth/register",
            "application/json",
            object(&["username", "password", "email"]),
        ),
        post(
            "/api/auth/login",
            "application/json",
            object(&["email", "password"]),
        ),
    ]);
    let plan = plan(&inv, &login()).expect("found");
    assert_eq!(plan.key(), "POST /api/auth/login");
    let body = json_body(&plan);
    assert_eq!(
        (body["email"].as_str(), body["password"].as_str()),
        (Some("alice"), Some("pw-123456"))
    );
}

#[test]
fn wrapped_bodies_are_sent_wrapped() {
    let mut outer = Schema::of_type(SchemaType::Object);
    outer
        .properties
        .insert("user".into(), Arc::new(object(&["email", "password"])));
    let inv = inventory(vec![post("/api/v2/users/login", "application/json", outer)]);
    let plan = plan(&inv, &login()).expect("found");
    assert_eq!(
        json_body(&plan),
        serde_json::json!({"user": {"email": "alice", "password": "pw-123456"}})
    );
    assert!(plan.describe().contains("under `user`"));
}

#[test]
fn query_and_basic_sign_ins_put_credentials_where_they_are_taken() {
    let mut op = Operation::new(Method::Post, "/login");
    for name in ["username", "password"] {
        op.parameters.push(Parameter {
            name: name.into(),
            location: ParamLocation::Query,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
    }
    let plan_q = plan(&inventory(vec![op]), &login()).expect("found");
    let req = plan_q.request(&login());
    assert_eq!(
        req.query,
        vec![
            ("username".into(), "alice".into()),
            ("password".into(), "pw-123456".into())
        ]
    );
    assert!(req.body.is_none());

    let mut inv = inventory(vec![Operation::new(Method::Post, "/api/tokens")]);
    inv.security_schemes.insert(
        "basic".into(),
        SecurityScheme {
            name: "basic".into(),
            kind: SecuritySchemeKind::Http {
                scheme: "basic".into(),
            },
        },
    );
    inv.operations[0].security = Some(vec![SecurityRequirement {
        schemes: vec![("basic".into(), vec![])],
    }]);
    let req = plan(&inv, &login()).expect("found").request(&login());
    let auth = req
        .headers
        .iter()
        .find(|(k, _)| k == "Authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("Basic YWxpY2U6cHctMTIzNDU2"));
}

#[test]
fn oauth2_token_urls_get_a_password_grant_form_with_the_client() {
    let mut inv = inventory(vec![]);
    inv.security_schemes.insert(
        "oauth".into(),
        SecurityScheme {
            name: "oauth".into(),
            kind: SecuritySchemeKind::OAuth2 {
                token_url: Some("http://h:8000/o/token/".into()),
                scopes: vec![],
            },
        },
    );
    let with_client = LoginConfig {
        client_id: Some("cid".into()),
        client_secret: Some("csecret-123".into()),
        ..login()
    };
    let plan = plan(&inv, &with_client).expect("a token URL without an operation");
    assert_eq!(plan.key(), "POST /o/token/");
    let Some(RequestBody::Form(fields)) = plan.request(&with_client).body else {
        panic!("form expected");
    };
    for pair in [
        ("grant_type", "password"),
        ("username", "alice"),
        ("client_id", "cid"),
        ("client_secret", "csecret-123"),
    ] {
        assert!(fields.contains(&(pair.0.into(), pair.1.into())), "{pair:?}");
    }
}

#[test]
fn the_configured_operation_wins() {
    let inv = inventory(vec![post(
        "/api/auth/login",
        "application/json",
        object(&["username", "password"]),
    )]);
    let named = LoginConfig {
        operation: Some((Method::Post, "/session/new".into())),
        ..login()
    };
    assert_eq!(plan(&inv, &named).unwrap().key(), "POST /session/new");
}

#[test]
fn a_configured_operation_the_spec_does_not_describe_with_a_client_id_is_the_oauth_grant() {
    // No spec describes it (a crawl): the client credentials say it is a token endpoint.
    let inv = Inventory::empty(SpecVersion::Crawled);
    let named = LoginConfig {
        operation: Some((Method::Post, "/o/token/".into())),
        client_id: Some("cid".into()),
        client_secret: Some("csecret-123".into()),
        ..login()
    };
    let plan = plan(&inv, &named).unwrap();
    let Some(RequestBody::Form(fields)) = plan.request(&named).body else {
        panic!("form expected");
    };
    assert!(fields.contains(&("grant_type".into(), "password".into())));
    assert!(fields.contains(&("client_id".into(), "cid".into())));
    // Without client credentials the same undescribed operation takes JSON, as before.
    let plain = LoginConfig {
        operation: Some((Method::Post, "/o/token/".into())),
        ..login()
    };
    assert!(matches!(
        plan_for(&inv, &Operation::new(Method::Post, "/o/token/"), &plain)
            .request(&plain)
            .body,
        Some(RequestBody::Json(_))
    ));
}

#[test]
fn a_known_e_mail_goes_where_the_sign_in_asks_for_an_e_mail() {
    let inv = inventory(vec![post(
        "/login",
        "application/json",
        object(&["email", "password"]),
    )]);
    let registered = LoginConfig {
        email: Some("mbabc@example.com".into()),
        ..login()
    };
    let plan = plan(&inv, &registered).unwrap();
    let Some(RequestBody::Json(v)) = plan.request(&registered).body else {
        panic!("json expected");
    };
    assert_eq!(v["email"], "mbabc@example.com");
    // A username field keeps the username.
    let inv = inventory(vec![post(
        "/login",
        "application/json",
        object(&["username", "password"]),
    )]);
    assert_eq!(
        json_body(&super::plan(&inv, &registered).unwrap())["username"],
        "alice"
    );
}

#[test]
fn multipart_bodies_are_encoded_as_parts() {
    let inv = inventory(vec![post(
        "/login",
        "multipart/form-data",
        object(&["username", "password"]),
    )]);
    let Some(RequestBody::Raw { content_type, body }) =
        plan(&inv, &login()).unwrap().request(&login()).body
    else {
        panic!("raw multipart expected");
    };
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    assert!(body.contains("name=\"username\"\r\n\r\nalice\r\n"));
}

#[test]
fn a_failure_says_what_was_sent_and_never_blames_the_password_for_a_404() {
    let inv = inventory(vec![post(
        "/api/login",
        "application/json",
        object(&["username", "password"]),
    )]);
    let plan = plan(&inv, &login()).unwrap();
    let redactor = Redactor::new();
    redactor.add("pw-123456");
    let ex = exchange(404, "<h1>Not Found</h1>");
    let e = explain_failure(&redactor, &plan, &ex, &SignInVerdict::NotFound(404));
    assert_eq!(e.code, "identity.sign-in-not-found");
    assert!(e.message.contains("was not found there"), "{}", e.message);
    assert!(!e.message.contains("password right"), "{}", e.message);
    assert!(
        !e.message.contains("pw-123456"),
        "the URL as sent is redacted: {}",
        e.message
    );
    assert!(
        e.message.contains("HTTP 404 `<h1>Not Found</h1>`"),
        "{}",
        e.message
    );
    let long = "x".repeat(500);
    let ex = exchange(200, &format!(r#"{{"status":"fail","m":"{long}"}}"#));
    let e = explain_failure(
        &redactor,
        &plan,
        &ex,
        &SignInVerdict::Refused("HTTP 200".into()),
    );
    assert!(e.message.contains("application/json"), "{}", e.message);
    assert!(e.message.contains("JSON body"), "{}", e.message);
    assert!(
        e.message.len() < 700,
        "the body is cut: {}",
        e.message.len()
    );
}

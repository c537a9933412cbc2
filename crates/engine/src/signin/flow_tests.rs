//! The sign-in flow end to end against a small local HTTP server: judged against a wrong
//! password, the token found in a wrapped answer, its `Authorization` prefix confirmed by
//! trying.

use super::*;
use crate::config::IdentityConfig;
use crate::identity::Identity;
use middlebrick_http::TransportConfig;
use middlebrick_model::{
    ParamLocation, RequestBodySpec, Schema, SecurityRequirement, SecurityScheme,
    SecuritySchemeKind, SpecVersion,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
const PASSWORD: &str = "pw-123456";

type Handler = fn(&str, &[(String, String)], &str) -> (u16, String);

/// Serves `handler(request line, headers, body)` on a free port; returns the base URL.
fn serve(handler: Handler) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url: Url = format!("http://{}/", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let len = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let (status, text) = handler(&line, &headers, &String::from_utf8_lossy(&body));
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = s.flush();
            });
        }
    });
    url
}

/// A spec in Swagger-2 habits: `Authorization` as an API-key header, a wrapped sign-in body,
/// the caller's own record behind the key.
fn inventory() -> Inventory {
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.security_schemes.insert(
        "key".into(),
        SecurityScheme {
            name: "key".into(),
            kind: SecuritySchemeKind::ApiKey {
                name: "Authorization".into(),
                location: ParamLocation::Header,
            },
        },
    );
    let mut inner = Schema::of_type(SchemaType::Object);
    for p in ["email", "password"] {
        inner
            .properties
            .insert(p.into(), Arc::new(Schema::of_type(SchemaType::String)));
    }
    let mut outer = Schema::of_type(SchemaType::Object);
    outer.properties.insert("user".into(), Arc::new(inner));
    let mut login = Operation::new(Method::Post, "/api/users/login");
    login.request_body = Some(RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(outer))]
            .into_iter()
            .collect(),
    });
    let mut me = Operation::new(Method::Get, "/api/user");
    me.security = Some(vec![SecurityRequirement {
        schemes: vec![("key".into(), vec![])],
    }]);
    inv.operations = vec![login, me];
    inv
}

fn api(line: &str, headers: &[(String, String)], body: &str) -> (u16, String) {
    if line.starts_with("POST /api/users/login") {
        return if body.contains(PASSWORD) && body.contains(r#""user""#) {
            (
                200,
                format!(r#"{{"user":{{"email":"a@x.test","token":"{JWT}"}}}}"#),
            )
        } else {
            (
                200,
                r#"{"status":"fail","errors":{"body":["invalid"]}}"#.into(),
            )
        };
    }
    let auth = headers.iter().find(|(k, _)| k == "authorization");
    match auth {
        Some((_, v)) if *v == format!("Token {JWT}") => (200, r#"{"user":{"id":1}}"#.into()),
        _ => (401, r#"{"detail":"no"}"#.into()),
    }
}

fn identity(password: &str) -> Identity {
    Identity::new(IdentityConfig {
        name: "alice".into(),
        headers: vec![],
        cookies: vec![],
        login: Some(LoginConfig {
            username: "a@x.test".into(),
            password: password.into(),
            ..LoginConfig::default()
        }),
        admin: false,
    })
}

async fn sign_in_against(
    base: &Url,
    who: &Identity,
) -> (Result<Exchange, Diagnostic>, Vec<Diagnostic>, u64) {
    let transport = Transport::new(TransportConfig::new(base.clone())).unwrap();
    let inv = inventory();
    let redactor = Redactor::new();
    redactor.add(PASSWORD);
    let memo = SignInMemo::default();
    let env = SignInEnv {
        transport: &transport,
        base,
        inventory: &inv,
        redactor: &redactor,
        memo: &memo,
    };
    let out = who.sign_in(&env).await;
    (out, memo.take_notes(), transport.requests_sent())
}

#[tokio::test]
async fn a_wrapped_sign_in_yields_a_token_whose_prefix_is_confirmed_by_trying() {
    let base = serve(api);
    let alice = identity(PASSWORD);
    let (out, notes, sent) = sign_in_against(&base, &alice).await;
    out.expect("signed in");
    let mut req = RequestSpec::new(Method::Get, "/api/user");
    req.operation = Some("GET /api/user".into());
    let (headers, _) = alice.attach(&req, &inventory());
    assert_eq!(
        headers,
        vec![("Authorization".to_string(), format!("Token {JWT}"))]
    );
    assert!(
        notes
            .iter()
            .any(|d| d.code == "identity.token-form" && d.message.contains("Token <token>")),
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|d| !d.message.contains(JWT)),
        "no secret in a note"
    );
    // Right and wrong password, the anonymous read, `Bearer` then `Token`.
    assert_eq!(sent, 5);
}

#[tokio::test]
async fn a_200_failure_envelope_is_a_failed_sign_in_that_says_what_was_sent() {
    let base = serve(api);
    let (out, _, _) = sign_in_against(&base, &identity("pw-wrong-999")).await;
    let d = out.expect_err("the envelope says the sign-in failed");
    assert_eq!(d.code, "identity.sign-in-failed");
    for part in [
        "POST http://127.0.0.1",
        "/api/users/login",
        "application/json",
        "under `user`",
        "HTTP 200",
        "\"status\":\"fail\"",
    ] {
        assert!(d.message.contains(part), "{part} in {}", d.message);
    }
}

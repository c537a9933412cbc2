use crate::server::{serve, Reply};
use crate::{config, request};
use middlebrick_http::{HttpError, Outgoing, Transport};
use middlebrick_model::{Method, RequestBody, RequestSpec};

#[tokio::test]
async fn the_exchange_records_what_was_sent_and_received() {
    let target = serve(|_, _| {
        Reply::status(201)
            .header("X-First", "1")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .body(r#"{"id":7}"#)
    })
    .await;
    let mut cfg = config(target.url("/api/"));
    cfg.user_agent = "mb-test/1".into();
    let t = Transport::new(cfg).unwrap();
    let mut spec = RequestSpec::new(Method::Post, "/items")
        .header("X-Trace", "t1")
        .as_identity("alice");
    spec.query = vec![("q".into(), "a b".into())];
    spec.cookies = vec![("pref".into(), "dark".into())];
    spec.body = Some(RequestBody::Json(serde_json::json!({"name": "n"})));
    let creds = vec![
        ("Authorization".to_string(), "Bearer rec-token".to_string()),
        ("Cookie".to_string(), "session=rec-session".to_string()),
    ];
    let out = Outgoing::from_spec(&target.url("/api/"), &spec, creds).unwrap();
    let ex = t.send(out).await.unwrap();

    assert_eq!(ex.identity, "alice");
    assert_eq!(ex.request.method, Method::Post);
    assert_eq!(ex.request.url, target.url("/api/items?q=a%20b").to_string());
    let sent = &target.stats.requests()[0];
    assert_eq!(sent.target, "/api/items?q=a%20b");
    // The record is the wire: every header the server saw, credentials included, except the
    // two hyper derives (Host, Content-Length).
    let on_wire: Vec<(String, String)> = sent
        .headers
        .iter()
        .filter(|(k, _)| {
            !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length")
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    assert_eq!(ex.request.headers, on_wire);
    assert!(on_wire.contains(&("user-agent".into(), "mb-test/1".into())));
    assert!(on_wire.contains(&("authorization".into(), "Bearer rec-token".into())));
    assert!(on_wire.contains(&("cookie".into(), "pref=dark; session=rec-session".into())));
    assert!(on_wire.contains(&("content-type".into(), "application/json".into())));
    assert!(!on_wire.iter().any(|(k, _)| k == "accept-encoding"));
    assert_eq!(ex.request.body.as_ref().unwrap().text, r#"{"name":"n"}"#);
    assert_eq!(sent.body, br#"{"name":"n"}"#);

    let resp = ex.response.unwrap();
    assert_eq!(resp.status, 201);
    let names: Vec<&str> = resp.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["content-length", "x-first", "set-cookie", "set-cookie"]
    );
    assert_eq!(
        resp.headers_named("set-cookie").collect::<Vec<_>>(),
        ["a=1", "b=2"]
    );
    assert_eq!(resp.body.text, r#"{"id":7}"#);
    assert_eq!((resp.body.size, resp.body.truncated), (8, false));
    assert!(ex.redirects.is_empty() && ex.error.is_none());
}

#[tokio::test]
async fn a_bad_header_is_refused_before_anything_is_sent() {
    let target = serve(|_, _| Reply::ok("")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let mut out = request(Method::Get, target.url("/"), None);
    out.headers = vec![("X-Split".into(), "a\r\nInjected: 1".into())];
    assert!(matches!(
        t.send(out).await,
        Err(HttpError::InvalidRequest(_))
    ));
    assert_eq!(t.requests_sent(), 0);
    assert_eq!(target.stats.request_count(), 0);
}

use crate::server::{serve, Reply};
use crate::{config, get, request};
use middlebrick_http::Transport;
use middlebrick_model::{Method, RequestBody};
use std::sync::atomic::Ordering;

#[tokio::test]
async fn a_redirect_off_scope_is_recorded_not_followed() {
    let foreign = serve(|_, _| Reply::ok("foreign")).await;
    let to = foreign.url("/steal").to_string();
    let target = serve(move |_, _| Reply::redirect(302, &to)).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let ex = t.send(get(target.url("/start"))).await.unwrap();
    assert_eq!(ex.status(), Some(302));
    let error = ex.error.unwrap();
    assert!(
        error.contains("out of scope") && error.contains("/steal"),
        "{error}"
    );
    assert!(ex.request.url.ends_with("/start"));
    assert!(ex.redirects.is_empty());
    assert_eq!(
        foreign.stats.connections.load(Ordering::SeqCst),
        0,
        "the foreign listener was contacted"
    );
    assert_eq!(t.requests_sent(), 1);
}

#[tokio::test]
async fn a_same_host_redirect_is_followed_and_the_hops_recorded() {
    let target = serve(|req, _| match req.target.as_str() {
        "/start" => Reply::redirect(301, "/middle"),
        "/middle" => Reply::redirect(302, "end?x=1"),
        _ => Reply::ok("arrived"),
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let ex = t.send(get(target.url("/start"))).await.unwrap();
    assert_eq!(ex.status(), Some(200));
    assert_eq!(ex.response.unwrap().body.text, "arrived");
    assert_eq!(ex.request.url, target.url("/end?x=1").to_string());
    assert_eq!(
        ex.redirects,
        vec![
            target.url("/start").to_string(),
            target.url("/middle").to_string()
        ]
    );
    assert_eq!(ex.error, None);
    assert_eq!(t.requests_sent(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed_when_the_request_says_so() {
    let target = serve(|_, _| Reply::redirect(302, "/elsewhere")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let mut out = get(target.url("/a"));
    out.follow_redirects = false;
    let ex = t.send(out).await.unwrap();
    assert_eq!(ex.status(), Some(302));
    assert_eq!(ex.error, None);
    assert_eq!(target.stats.request_count(), 1);
}

#[tokio::test]
async fn credentials_are_dropped_when_a_redirect_changes_host() {
    let second = serve(|_, _| Reply::ok("second")).await;
    let to = second.url("/landing").to_string();
    let first = serve(move |_, _| Reply::redirect(307, &to)).await;
    let mut cfg = config(first.url("/"));
    cfg.allowed_hosts = vec![second.host_port()];
    let t = Transport::new(cfg).unwrap();
    let mut out = get(first.url("/start"));
    out.headers = vec![("X-Check".into(), "kept".into())];
    out.credentials = vec![
        ("Authorization".into(), "Bearer canary-token-1".into()),
        ("X-Api-Key".into(), "canary-key-2".into()),
    ];
    let ex = t.send(out).await.unwrap();
    assert_eq!(ex.status(), Some(200));

    let at_first = &first.stats.requests()[0];
    assert_eq!(
        at_first.header("authorization"),
        Some("Bearer canary-token-1")
    );
    assert_eq!(at_first.header("x-api-key"), Some("canary-key-2"));
    let at_second = &second.stats.requests()[0];
    assert_eq!(at_second.header("x-check"), Some("kept"));
    for (k, v) in &at_second.headers {
        assert!(
            !v.contains("canary"),
            "credential {k} followed the redirect"
        );
    }
    assert!(ex
        .request
        .headers
        .iter()
        .all(|(_, v)| !v.contains("canary")));
    assert_eq!(ex.redirects, vec![first.url("/start").to_string()]);
}

#[tokio::test]
async fn credentials_stay_on_a_same_origin_redirect() {
    let target = serve(|req, _| match req.target.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        _ => Reply::ok("b"),
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let mut out = get(target.url("/a"));
    out.credentials = vec![("Authorization".into(), "Bearer same-origin".into())];
    t.send(out).await.unwrap();
    let reqs = target.stats.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("authorization"), Some("Bearer same-origin"));
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_without_body() {
    let target = serve(|req, _| match req.target.as_str() {
        "/submit" => Reply::redirect(303, "/result"),
        _ => Reply::ok("done"),
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let body = RequestBody::Json(serde_json::json!({"name": "x"}));
    let ex = t
        .send(request(Method::Post, target.url("/submit"), Some(body)))
        .await
        .unwrap();
    let reqs = target.stats.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].body, br#"{"name":"x"}"#);
    assert_eq!(reqs[1].method, "GET");
    assert!(reqs[1].body.is_empty());
    assert_eq!(reqs[1].header("content-type"), None);
    assert_eq!(ex.request.method, Method::Get);
    assert_eq!(ex.request.body, None);
    assert_eq!(ex.status(), Some(200));
}

#[tokio::test]
async fn temporary_redirect_keeps_method_and_body() {
    let target = serve(|req, _| match req.target.as_str() {
        "/old" => Reply::redirect(307, "/new"),
        _ => Reply::status(201),
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let body = RequestBody::Form(vec![("a".into(), "1".into())]);
    let ex = t
        .send(request(Method::Put, target.url("/old"), Some(body)))
        .await
        .unwrap();
    let reqs = target.stats.requests();
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].body.as_slice()),
        ("PUT", &b"a=1"[..])
    );
    assert_eq!(
        reqs[1].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(ex.request.method, Method::Put);
    assert_eq!(ex.request.body.unwrap().text, "a=1");
}

#[tokio::test]
async fn a_redirect_loop_stops_at_the_limit() {
    let target = serve(|_, i| Reply::redirect(302, &format!("/hop{}", i + 1))).await;
    let mut cfg = config(target.url("/"));
    cfg.max_redirects = 3;
    let t = Transport::new(cfg).unwrap();
    let ex = t.send(get(target.url("/hop0"))).await.unwrap();
    assert_eq!(ex.status(), Some(302));
    assert_eq!(ex.redirects.len(), 3);
    let error = ex.error.unwrap();
    assert!(
        error.contains("stopped after 3 redirects") && error.contains("/hop4"),
        "{error}"
    );
    assert_eq!(t.requests_sent(), 4);
    assert_eq!(target.stats.request_count(), 4);
}

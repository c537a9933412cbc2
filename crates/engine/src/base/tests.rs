use super::*;
use middlebrick_http::TransportConfig;
use middlebrick_model::{BodyRecord, RequestRecord, ResponseRecord, SpecVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn exchange(url: &str, status: u16, body: &str) -> Exchange {
    Exchange {
        identity: ANONYMOUS.into(),
        request: RequestRecord {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        },
        response: Some(ResponseRecord {
            status,
            headers: Vec::new(),
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

fn inventory(paths: &[&str], base_path: &str, servers: &[&str]) -> Inventory {
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.base_path = base_path.into();
    inv.servers = servers.iter().map(|s| s.to_string()).collect();
    inv.operations = paths
        .iter()
        .map(|p| Operation::new(Method::Get, p.to_string()))
        .collect();
    inv
}

#[test]
fn base_path_is_added_once() {
    let t = Url::parse("http://h:1").unwrap();
    assert_eq!(probe_base(&t, "/api").as_str(), "http://h:1/api");
    let t = Url::parse("http://h:1/api").unwrap();
    assert_eq!(probe_base(&t, "/api").as_str(), "http://h:1/api");
    assert_eq!(probe_base(&t, "").as_str(), "http://h:1/api");
}

#[test]
fn not_found_statuses_and_the_not_found_answer_are_not_real_answers() {
    let nf = NotFound::from_exchange(&exchange(
        "http://h/abc-not-found",
        404,
        r#"{"detail":"Not Found","path":"/abc-not-found"}"#,
    ));
    assert!(!answered_for_real(&exchange("http://h/x", 404, ""), None));
    assert!(!answered_for_real(&exchange("http://h/x", 405, ""), None));
    assert!(answered_for_real(&exchange("http://h/x", 401, ""), None));
    // An SPA or a proxy answering 200 with the same page for any path: not an operation.
    let spa = NotFound::from_exchange(&exchange("http://h/zz-not-found", 200, "<html>app</html>"));
    assert!(!answered_for_real(
        &exchange("http://h/api/users", 200, "<html>app</html>"),
        spa.as_ref()
    ));
    assert!(answered_for_real(
        &exchange("http://h/api/users", 200, "[]"),
        spa.as_ref()
    ));
    // The echoed path is taken out before comparing.
    let catch_all = NotFound::from_exchange(&exchange(
        "http://h/q-not-found",
        400,
        "no route /q-not-found",
    ));
    assert!(!answered_for_real(
        &exchange("http://h/api/items", 400, "no route /api/items"),
        catch_all.as_ref()
    ));
    assert!(answered_for_real(
        &exchange("http://h/api/items", 400, "limit must be a number"),
        nf.as_ref()
    ));
}

#[test]
fn candidates_come_in_order_without_duplicates() {
    let target = Url::parse("http://h:8/app").unwrap();
    let spec = Url::parse("http://h:8/docs/openapi.json").unwrap();
    let got: Vec<String> = candidates(&target, "/api/v2", Some(&spec), &[])
        .into_iter()
        .map(|(u, _)| u.to_string())
        .collect();
    assert_eq!(
        got,
        vec![
            "http://h:8/app/api/v2",
            "http://h:8/app",
            "http://h:8/api/v2",
            "http://h:8/docs/",
            "http://h:8/",
        ]
    );
    // A spec on another origin gives no folder candidate; a bare origin target no duplicates.
    let elsewhere = Url::parse("https://docs.example/openapi.json").unwrap();
    let got = candidates(
        &Url::parse("http://h:8").unwrap(),
        "",
        Some(&elsewhere),
        &[],
    );
    assert_eq!(got.len(), 1);
}

#[test]
fn a_target_that_is_one_of_the_spec_servers_comes_first() {
    // One spec lists seven APIs side by side; the first server is /authz1, the user chose /jwt1.
    let servers: Vec<String> = ["authz1", "jwt1"]
        .iter()
        .map(|l| format!("http://localhost:3333/{l}"))
        .collect();
    let target = Url::parse("http://127.0.0.1:3333/jwt1").unwrap();
    let got = candidates(&target, "/authz1", None, &servers);
    assert_eq!(got[0].0.as_str(), "http://127.0.0.1:3333/jwt1");
    assert_eq!(got[1].0.as_str(), "http://127.0.0.1:3333/jwt1/authz1");
    assert_eq!(server_path("/relative/"), "/relative");
    assert_eq!(server_path("https://h"), "");
}

#[test]
fn samples_are_harmless_reads_without_path_parameters() {
    let inv = inventory(
        &[
            "/a",
            "/b/{id}",
            "/admin/reset-db",
            "/c",
            "/logout",
            "/d",
            "/e",
        ],
        "",
        &[],
    );
    let got: Vec<&str> = samples(&inv).iter().map(|o| o.path.as_str()).collect();
    assert_eq!(got, vec!["/a", "/d", "/e"]);
    assert!(samples(&inventory(&["/x/{id}"], "", &[])).is_empty());
}

#[test]
fn a_server_on_another_origin_is_named_in_a_diagnostic() {
    let target = Url::parse("http://127.0.0.1:5000").unwrap();
    let d = server_elsewhere(&target, &inventory(&[], "", &["https://bank.example/"])).unwrap();
    assert_eq!(d.code, "spec.server-ignored");
    assert!(d.message.contains("https://bank.example/"));
    assert!(
        server_elsewhere(&target, &inventory(&[], "", &["http://127.0.0.1:5000/api"])).is_none()
    );
    assert!(server_elsewhere(&target, &inventory(&[], "", &["/api"])).is_none());
}

/// A loopback server whose operations are `/real/items` and `/real/users` only; everything else is one
/// not-found envelope with status 404 (or 200 for `spa`).
async fn server(spa: bool) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = if ["/real/items", "/real/users"].contains(&path.as_str()) {
                    ("200 OK", r#"{"items":[]}"#.to_string())
                } else if spa {
                    ("200 OK", "<html>shell</html>".to_string())
                } else {
                    ("404 Not Found", format!(r#"{{"error":"no route {path}"}}"#))
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Url::parse(&format!("http://{addr}")).unwrap()
}

fn transport(target: &Url) -> Transport {
    let mut cfg = TransportConfig::new(target.clone());
    cfg.rate_per_host = None;
    Transport::new(cfg).unwrap()
}

#[tokio::test]
async fn a_base_under_which_nothing_answers_is_switched_for_one_that_does() {
    for spa in [false, true] {
        let target = server(spa).await;
        let t = transport(&target);
        // The spec claims /v9, but the API lives under /real.
        let inv = inventory(&["/items", "/users", "/orders/{id}"], "/v9", &[]);
        let spec = target.join("/real/openapi.json").unwrap();
        let choice = choose(&t, &target, &inv, Some(&spec), None).await;
        assert_eq!(choice.base.path(), "/real/", "spa={spa}");
        let d = &choice.diagnostics[0];
        assert_eq!(d.code, "spec.base-switched");
        assert!(
            d.message.contains("the folder the spec was served from"),
            "{}",
            d.message
        );
        assert!(t.requests_sent() <= 20);
    }
}

#[tokio::test]
async fn a_base_that_answers_is_kept_for_one_request_more_than_its_reads() {
    let target = server(false).await;
    let t = transport(&target);
    let inv = inventory(&["/items", "/users"], "/real", &[]);
    let choice = choose(&t, &target, &inv, None, None).await;
    assert_eq!(choice.base.path(), "/real");
    assert!(choice.diagnostics.is_empty(), "{:?}", choice.diagnostics);
    assert_eq!(t.requests_sent(), 3);
    assert!(choice.not_found.is_some());
}

#[tokio::test]
async fn when_nothing_answers_anywhere_the_spec_base_stays_and_the_report_says_so() {
    let target = server(false).await;
    let t = transport(&target);
    let inv = inventory(&["/items"], "/v9", &[]);
    let choice = choose(&t, &target, &inv, None, None).await;
    assert_eq!(choice.base.path(), "/v9");
    assert_eq!(choice.diagnostics[0].code, "spec.base-unverified");
}

#[tokio::test]
async fn a_forced_base_path_is_used_as_given() {
    let target = server(false).await;
    let t = transport(&target);
    let inv = inventory(&["/items"], "/real", &[]);
    let choice = choose(&t, &target, &inv, None, Some("/elsewhere")).await;
    assert_eq!(choice.base.path(), "/elsewhere");
    assert_eq!(t.requests_sent(), 1);
}

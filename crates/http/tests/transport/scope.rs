use crate::server::{serve, Reply};
use crate::{config, get};
use middlebrick_http::{HttpError, Transport};
use std::sync::atomic::Ordering;

#[tokio::test]
async fn an_out_of_scope_url_is_refused_before_any_connection() {
    let target = serve(|_, _| Reply::ok("target")).await;
    let foreign = serve(|_, _| Reply::ok("foreign")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    assert!(!t.in_scope(&foreign.url("/")));
    let err = t.send(get(foreign.url("/x"))).await.unwrap_err();
    assert!(
        matches!(err, HttpError::OutOfScope { ref url } if url.ends_with("/x")),
        "{err}"
    );
    assert_eq!(foreign.stats.connections.load(Ordering::SeqCst), 0);
    assert_eq!(t.requests_sent(), 0);
}

#[tokio::test]
async fn allowed_hosts_are_in_scope_by_host_and_port() {
    let target = serve(|_, _| Reply::ok("target")).await;
    let other = serve(|_, _| Reply::ok("other")).await;
    let mut cfg = config(target.url("/api/"));
    cfg.allowed_hosts = vec![other.host_port()];
    let t = Transport::new(cfg).unwrap();
    assert!(t.in_scope(&target.url("/elsewhere")));
    let ex = t.send(get(other.url("/x"))).await.unwrap();
    assert_eq!(ex.response.unwrap().body.text, "other");
}

#[tokio::test]
async fn non_http_schemes_are_out_of_scope() {
    let target = serve(|_, _| Reply::ok("")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let ftp = url::Url::parse(&format!("ftp://{}/", target.host_port())).unwrap();
    assert!(!t.in_scope(&ftp));
    assert!(matches!(
        t.send(get(ftp)).await,
        Err(HttpError::OutOfScope { .. })
    ));
}

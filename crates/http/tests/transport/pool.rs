//! Connection reuse: kept-alive connections are reused, closed ones are never used again, and
//! a response cut short never hands its half-read connection to the next request.

use crate::server::{serve, Body, Reply};
use crate::{config, get};
use middlebrick_http::Transport;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn keep_alive_connections_are_reused() {
    let target = serve(|_, _| Reply::ok("x")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    for _ in 0..5 {
        assert_eq!(
            t.send(get(target.url("/"))).await.unwrap().status(),
            Some(200)
        );
    }
    assert_eq!(target.stats.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let target = serve(|_, _| Reply::ok("x").header("Connection", "close")).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    for _ in 0..3 {
        let ex = t.send(get(target.url("/"))).await.unwrap();
        assert_eq!((ex.status(), ex.error), (Some(200), None));
    }
    assert_eq!(target.stats.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_idle_is_not_reused() {
    let target = serve(|_, _| Reply::ok("x").close()).await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    for _ in 0..3 {
        let ex = t.send(get(target.url("/"))).await.unwrap();
        assert_eq!((ex.status(), ex.error), (Some(200), None));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(target.stats.connections.load(Ordering::SeqCst), 3);
    assert!(!t.circuit_open());
}

#[tokio::test]
async fn a_truncated_body_closes_its_connection() {
    let target = serve(|req, _| match req.target.as_str() {
        "/big" => Reply {
            body: Body::Bytes(vec![b'x'; 4096]),
            ..Reply::status(200)
        },
        _ => Reply::ok("small"),
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.max_response_bytes = 100;
    let t = Transport::new(cfg).unwrap();
    let big = t.send(get(target.url("/big"))).await.unwrap();
    assert!(big.response.unwrap().body.truncated);
    let small = t.send(get(target.url("/small"))).await.unwrap();
    assert_eq!(small.response.unwrap().body.text, "small");
    assert_eq!(target.stats.connections.load(Ordering::SeqCst), 2);
}

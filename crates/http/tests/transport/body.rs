use crate::server::{serve, Body, Reply};
use crate::{config, get};
use middlebrick_http::Transport;
use std::sync::atomic::Ordering;
use std::time::Duration;

const FIFTY_MB: u64 = 50 * 1024 * 1024;

/// Resident memory of this process, from /proc (Linux); `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
async fn a_huge_body_is_read_only_up_to_the_cap() {
    let target = serve(|_, _| Reply {
        body: Body::Huge(FIFTY_MB),
        ..Reply::status(200)
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let before = rss_bytes();
    let ex = t.send(get(target.url("/big"))).await.unwrap();
    let after = rss_bytes();
    let body = ex.response.unwrap().body;
    assert!(body.truncated);
    assert_eq!(body.text.len(), 1024 * 1024);
    assert_eq!(
        body.size, FIFTY_MB,
        "size is the announced length when larger"
    );
    assert_eq!(ex.error, None);
    // The client stopped reading: the server could not push the rest through the socket.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = target.stats.body_bytes_written.load(Ordering::SeqCst);
    assert!(written < FIFTY_MB / 2, "server wrote {written} bytes");
    if let (Some(b), Some(a)) = (before, after) {
        let grew = a.saturating_sub(b);
        assert!(
            grew < 24 * 1024 * 1024,
            "resident memory grew by {grew} bytes"
        );
    }
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_not_truncated() {
    let target = serve(|_, _| Reply::ok("0123456789")).await;
    let mut cfg = config(target.url("/"));
    cfg.max_response_bytes = 10;
    let t = Transport::new(cfg).unwrap();
    let body = t
        .send(get(target.url("/")))
        .await
        .unwrap()
        .response
        .unwrap()
        .body;
    assert_eq!(
        (body.text.as_str(), body.size, body.truncated),
        ("0123456789", 10, false)
    );
}

#[tokio::test]
async fn a_body_that_stalls_keeps_what_arrived() {
    let target = serve(|_, _| Reply {
        body: Body::Stall {
            announced: 1000,
            sent: b"partial".to_vec(),
        },
        ..Reply::status(200)
    })
    .await;
    let mut cfg = config(target.url("/"));
    cfg.request_timeout = Duration::from_millis(300);
    let t = Transport::new(cfg).unwrap();
    let ex = t.send(get(target.url("/"))).await.unwrap();
    let resp = ex.response.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.text, "partial");
    assert!(resp.body.truncated);
    assert_eq!(resp.body.size, 1000);
    assert_eq!(
        ex.error.as_deref(),
        Some("timed out after 300ms while reading the body")
    );
}

#[tokio::test]
async fn invalid_utf8_is_recorded_lossily() {
    let target = serve(|_, _| Reply {
        body: Body::Bytes(vec![b'o', b'k', 0xff, b'!']),
        ..Reply::status(200)
    })
    .await;
    let t = Transport::new(config(target.url("/"))).unwrap();
    let body = t
        .send(get(target.url("/")))
        .await
        .unwrap()
        .response
        .unwrap()
        .body;
    assert_eq!(body.text, "ok\u{fffd}!");
    assert_eq!(body.size, 4);
}

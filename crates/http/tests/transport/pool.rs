//! Connection reuse: kept-alive connections are reused, closed ones are never used again, and
//! a response cut short never hands its half-read connection to the next request.

use crate::server::{serve, Body, Reply};
use crate::{config, get, request};
use middlebrick_http::Transport;
use middlebrick_model::{Method, RequestBody};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

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

/// A server whose first connection answers one request with `status`, then reads the next one
/// and closes without answering (as uvicorn does after an unhandled exception, racing the
/// client's next request on the kept-alive connection); every later connection answers
/// `second` (200). Returns the base URL and the request lines each connection read.
async fn closes_after_one_answer(status: u16) -> (url::Url, Arc<Mutex<Vec<(usize, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(head) = read_head(&mut sock, &mut buf).await else {
                        return;
                    };
                    log.lock().unwrap().push((n, head));
                    if n == 1 && log.lock().unwrap().iter().filter(|(c, _)| *c == 1).count() == 2 {
                        return; // the second request on the first connection: closed unanswered
                    }
                    let (code, body) = if n == 1 {
                        (status, "first")
                    } else {
                        (200, "second")
                    };
                    let reply = format!(
                        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

/// Reads one request head (and a body of the declared length) from `sock`; its request line.
async fn read_head(sock: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 1024];
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..end + 4 + len);
            return head.lines().next().map(str::to_string);
        }
        let mut chunk = [0u8; 1024];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_safe_request_lost_by_a_reused_connection_goes_once_more_on_a_new_one() {
    let (base, seen) = closes_after_one_answer(200).await;
    let t = Transport::new(config(base.clone())).unwrap();
    let first = t.send(get(base.join("/one").unwrap())).await.unwrap();
    assert_eq!(first.response.unwrap().body.text, "first");
    let again = t.send(get(base.join("/two").unwrap())).await.unwrap();
    assert_eq!(again.error, None);
    assert_eq!(again.response.unwrap().body.text, "second");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (1, "GET /one HTTP/1.1".to_string()),
            (1, "GET /two HTTP/1.1".to_string()),
            (2, "GET /two HTTP/1.1".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_request_that_is_not_safe_is_never_sent_twice() {
    let (base, seen) = closes_after_one_answer(200).await;
    let t = Transport::new(config(base.clone())).unwrap();
    t.send(get(base.join("/one").unwrap())).await.unwrap();
    let post = t
        .send(crate::request(
            middlebrick_model::Method::Post,
            base.join("/orders").unwrap(),
            Some(middlebrick_model::RequestBody::Json(
                serde_json::json!({"n": 1}),
            )),
        ))
        .await
        .unwrap();
    assert!(post.response.is_none() && post.error.is_some(), "{post:?}");
    let posts = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, line)| line.starts_with("POST"))
        .count();
    assert_eq!(posts, 1, "the lost POST was not sent again");
}

#[tokio::test]
async fn a_server_error_answer_gives_up_its_connection() {
    let (base, seen) = closes_after_one_answer(500).await;
    let t = Transport::new(config(base.clone())).unwrap();
    let crash = t.send(get(base.join("/crash").unwrap())).await.unwrap();
    assert_eq!(crash.status(), Some(500));
    let post = t
        .send(request(
            Method::Post,
            base.join("/orders").unwrap(),
            Some(RequestBody::Json(serde_json::json!({"n": 1}))),
        ))
        .await
        .unwrap();
    assert_eq!((post.status(), post.error), (Some(200), None));
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            (1, "GET /crash HTTP/1.1".to_string()),
            (2, "POST /orders HTTP/1.1".to_string()),
        ],
        "the request after the 500 went on a new connection"
    );
}

/// A server that refuses a large body as many do: it answers 413 after the headers, never reads
/// the body, and leaves that connection open and silent; a fresh connection is served.
async fn refuses_large_bodies_and_stalls() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if length > 100_000 {
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n",
                            )
                            .await;
                        // The body stays unread and the connection open: reused, it hangs.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let mut body = vec![0u8; length];
                    if sock.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_large_body_never_leaves_its_connection_to_the_next_request() {
    let url = refuses_large_bodies_and_stalls().await;
    let mut cfg = config(url.clone());
    cfg.request_timeout = Duration::from_secs(3);
    let t = Transport::new(cfg).unwrap();
    assert_eq!(t.send(get(url.clone())).await.unwrap().status(), Some(200));
    let big = RequestBody::Raw {
        content_type: "application/json".into(),
        body: format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024)),
    };
    let refused = t
        .send(request(Method::Post, url.clone(), Some(big)))
        .await
        .unwrap();
    assert_eq!(refused.status(), Some(413));
    assert!(refused
        .request
        .headers
        .iter()
        .any(|(k, v)| k == "connection" && v == "close"));
    let started = std::time::Instant::now();
    let next = t.send(get(url)).await.unwrap();
    assert_eq!(next.status(), Some(200), "{:?}", next.error);
    assert!(started.elapsed() < Duration::from_secs(2));
}

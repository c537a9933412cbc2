//! The floors under the transport, to say what its cost per request is made of.
//!
//! `raw`: one tokio task per connection writing a fixed request and reading the answer with
//! httparse: the kernel and tokio's reactor, and no HTTP library. `hyper`: the same loop over
//! hyper's connection API (`http1::SendRequest`, the body read to the end), which is what
//! `client.rs` builds on, without the transport's gates and records. Neither is a client
//! anyone should use; each is the least its layer can cost, so the transport's distance from
//! wrk splits into kernel + tokio (raw), + hyper (hyper), + our own layer (transport).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, ACCEPT, HOST, USER_AGENT};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::{Position, Url};

/// What every client sends: `GET <path>` with Host, User-Agent and `Accept: */*`, as wrk is
/// told to in `bench/http-throughput.sh`.
#[derive(Clone)]
pub struct Target {
    pub addr: String,
    pub host: String,
    pub path: String,
    pub user_agent: String,
}

impl Target {
    pub fn new(url: &Url, user_agent: &str) -> Target {
        let host = url[Position::BeforeHost..Position::BeforePath].to_string();
        Target {
            addr: host.clone(),
            host,
            path: url[Position::BeforePath..Position::AfterQuery].to_string(),
            user_agent: user_agent.to_string(),
        }
    }

    fn wire(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nhost: {}\r\nuser-agent: {}\r\naccept: */*\r\n\r\n",
            self.path, self.host, self.user_agent
        )
        .into_bytes()
    }
}

async fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Runs `n` requests over the connections, one task each; returns them with (seconds,
/// failures). `one` sends a request on a connection and says whether a 200 came back.
async fn round<C, F, Fut>(conns: Vec<C>, n: u64, one: F) -> (Vec<C>, f64, u64)
where
    C: Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (C, bool)> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let (next, failures, one) = (next.clone(), failures.clone(), one.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let (back, ok) = one(c).await;
                    c = back;
                    if !ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                c
            })
        })
        .collect();
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        back.push(t.await.expect("a floor task panicked"));
    }
    let secs = start.elapsed().as_secs_f64();
    (back, secs, failures.load(Ordering::Relaxed))
}

/// A connection of the raw floor: the socket and a reusable read buffer.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    wire: Arc<[u8]>,
}

pub async fn raw_connections(req: &Target, concurrency: usize) -> Vec<Raw> {
    let wire: Arc<[u8]> = req.wire().into();
    let mut out = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        out.push(Raw {
            stream: connect(&req.addr).await,
            buf: Vec::with_capacity(4096),
            wire: wire.clone(),
        });
    }
    out
}

/// Writes the request, reads until the head and `Content-Length` bytes of body are in.
async fn raw_one(mut c: Raw) -> (Raw, bool) {
    if c.stream.write_all(&c.wire).await.is_err() {
        return (c, false);
    }
    c.buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(read) = c.stream.read(&mut chunk).await else {
            return (c, false);
        };
        if read == 0 {
            return (c, false);
        }
        c.buf.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = resp.parse(&c.buf) else {
            continue;
        };
        let length = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok());
        let Some(length) = length else {
            return (c, false);
        };
        if c.buf.len() >= head + length {
            let ok = resp.code == Some(200);
            return (c, ok);
        }
    }
}

pub async fn raw_round(conns: Vec<Raw>, n: u64) -> (Vec<Raw>, f64, u64) {
    round(conns, n, raw_one).await
}

/// A connection of the hyper floor.
pub struct Hyper {
    sender: http1::SendRequest<Full<Bytes>>,
    req: Arc<Target>,
    host: HeaderValue,
    user_agent: HeaderValue,
}

pub async fn hyper_connections(req: &Target, concurrency: usize) -> Vec<Hyper> {
    let shared = Arc::new(req.clone());
    let mut out = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let io = TokioIo::new(connect(&req.addr).await);
        let (sender, conn) = http1::handshake(io).await.expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        out.push(Hyper {
            sender,
            req: shared.clone(),
            host: HeaderValue::from_str(&req.host).expect("host"),
            user_agent: HeaderValue::from_str(&req.user_agent).expect("user agent"),
        });
    }
    out
}

async fn hyper_one(mut c: Hyper) -> (Hyper, bool) {
    if c.sender.ready().await.is_err() {
        return (c, false);
    }
    let mut req = Request::new(Full::default());
    *req.uri_mut() = c.req.path.parse().expect("path");
    let headers = req.headers_mut();
    headers.insert(HOST, c.host.clone());
    headers.insert(USER_AGENT, c.user_agent.clone());
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    let Ok(resp) = c.sender.send_request(req).await else {
        return (c, false);
    };
    let ok = resp.status() == 200;
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    got.extend_from_slice(&data);
                }
            }
            Err(_) => return (c, false),
        }
    }
    (c, ok && !got.is_empty())
}

pub async fn hyper_round(conns: Vec<Hyper>, n: u64) -> (Vec<Hyper>, f64, u64) {
    round(conns, n, hyper_one).await
}

//! A tiny HTTP/1.1 server on 127.0.0.1 for the transport's tests: scripted replies, and
//! counters for what the transport did to it (connections, requests, concurrency, bytes).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    /// This many bytes of `x`, announced by Content-Length, written in 64 KiB pieces.
    Huge(u64),
    /// Content-Length says `announced`, `sent` bytes are written, then the server stalls.
    Stall {
        announced: u64,
        sent: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub delay: Duration,
    /// Close the connection after this reply without saying so.
    pub close: bool,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::status(200).body(body)
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            delay: Duration::ZERO,
            close: false,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("Location", location)
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = Body::Bytes(body.as_bytes().to_vec());
        self
    }

    pub fn close(mut self) -> Reply {
        self.close = true;
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub active: AtomicUsize,
    pub max_active: AtomicUsize,
    pub body_bytes_written: AtomicU64,
    pub requests: Mutex<Vec<Req>>,
}

impl Stats {
    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
}

impl Server {
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{}", self.addr, path)).unwrap()
    }

    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }
}

pub type Handler = Arc<dyn Fn(&Req, usize) -> Reply + Send + Sync>;

/// Serves plain HTTP; `handler` gets each request and its index (0, 1, …) over the server's life.
pub async fn serve(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let handler: Handler = Arc::new(handler);
    let s = stats.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(sock, handler.clone(), s.clone()));
        }
    });
    Server { addr, stats }
}

/// Serves requests on one connection until the client closes it (keep-alive).
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    sock: S,
    handler: Handler,
    stats: Arc<Stats>,
) {
    let mut sock = BufReader::new(sock);
    while let Some(req) = read_request(&mut sock).await {
        let index = {
            let mut list = stats.requests.lock().unwrap();
            list.push(req.clone());
            list.len() - 1
        };
        let now = stats.active.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_active.fetch_max(now, Ordering::SeqCst);
        let reply = handler(&req, index);
        tokio::time::sleep(reply.delay).await;
        let ok = write_reply(sock.get_mut(), &reply, &stats).await;
        stats.active.fetch_sub(1, Ordering::SeqCst);
        let close = reply.close
            || reply.headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
            });
        if !ok || close {
            return;
        }
    }
}

async fn read_request<S: AsyncRead + Unpin>(sock: &mut BufReader<S>) -> Option<Req> {
    let mut line = String::new();
    if sock.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if sock.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    sock.read_exact(&mut body).await.ok()?;
    Some(Req {
        method,
        target,
        headers,
        body,
    })
}

async fn write_reply<S: AsyncWrite + Unpin>(sock: &mut S, reply: &Reply, stats: &Stats) -> bool {
    let len = match &reply.body {
        Body::Bytes(b) => b.len() as u64,
        Body::Huge(n) => *n,
        Body::Stall { announced, .. } => *announced,
    };
    let mut head = format!("HTTP/1.1 {} X\r\ncontent-length: {len}\r\n", reply.status);
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if sock.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    match &reply.body {
        Body::Bytes(b) => {
            if sock.write_all(b).await.is_err() {
                return false;
            }
            stats
                .body_bytes_written
                .fetch_add(b.len() as u64, Ordering::SeqCst);
        }
        Body::Huge(n) => {
            let piece = vec![b'x'; 64 * 1024];
            let mut left = *n;
            while left > 0 {
                let k = left.min(piece.len() as u64) as usize;
                if sock.write_all(&piece[..k]).await.is_err() {
                    return false;
                }
                stats
                    .body_bytes_written
                    .fetch_add(k as u64, Ordering::SeqCst);
                left -= k as u64;
            }
        }
        Body::Stall { sent, .. } => {
            let _ = sock.write_all(sent).await;
            let _ = sock.flush().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            return false;
        }
    }
    sock.flush().await.is_ok()
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

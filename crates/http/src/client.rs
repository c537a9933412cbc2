//! The HTTP client under the transport: hyper's connection API and a small pool of our own.
//!
//! Why not reqwest: on the loopback benchmark reqwest spent about twice hyper's CPU per request
//! (it re-parses every URL twice and runs a tower stack), which kept the transport near half of
//! wrk's rate; and redirects, cookies, proxies and decompression, most of what it adds, are
//! things the transport must do itself or must not do at all. What is left to do here is
//! small: connect (TCP, then rustls with ALPN), keep connections per origin, and hand each
//! request to the right one. There is no proxy support (no option asks for one yet, and
//! proxies are never picked up silently from the environment).
//!
//! An HTTP/1.1 connection is lent to one request at a time and taken back only after its
//! response body was read to the end; a body cut at the cap or by a timeout drops the
//! connection, which closes it instead of reading the rest. An HTTP/2 connection is shared.

use crate::tls;
use bytes::Bytes;
use futures::future::Either;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2, TrySendError};
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::error::Error as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use url::{Host, Position, Url};

pub(crate) type ReqBody = Full<Bytes>;

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The request cannot be expressed (a URL hyper will not take); nothing was sent.
    Invalid(String),
    /// Connecting, the TLS handshake or the exchange failed.
    Failed(String),
}

enum Sender {
    H1(http1::SendRequest<ReqBody>),
    H2(http2::SendRequest<ReqBody>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    /// Not an `async fn`: that would keep its own copy of the request next to hyper's.
    fn send(
        &mut self,
        req: Request<ReqBody>,
    ) -> impl Future<Output = Result<Response<Incoming>, TrySendError<Request<ReqBody>>>> {
        match self {
            Sender::H1(s) => Either::Left(s.try_send_request(req)),
            Sender::H2(s) => Either::Right(s.try_send_request(req)),
        }
    }

    fn into_lease(self) -> Lease {
        match self {
            Sender::H1(s) => Lease(Some(s)),
            Sender::H2(_) => Lease(None),
        }
    }
}

/// An HTTP/1.1 connection on loan to one request; give it back with [`Client::release`] once
/// the body is read to the end, or drop it to close the connection.
#[derive(Debug)]
pub(crate) struct Lease(Option<http1::SendRequest<ReqBody>>);

/// Where a URL connects to; borrowed from the URL, so a pool lookup allocates nothing.
struct Target<'a> {
    https: bool,
    host: Host<&'a str>,
    host_str: &'a str,
    port: u16,
}

impl<'a> Target<'a> {
    fn of(url: &'a Url) -> Result<Target<'a>, SendError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(SendError::Invalid(format!(
                    "scheme `{other}` is not http(s)"
                )))
            }
        };
        match (url.host(), url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(host_str), Some(port)) => Ok(Target {
                https,
                host,
                host_str,
                port,
            }),
            _ => Err(SendError::Invalid(format!("{url} has no host"))),
        }
    }
}

struct Idle {
    https: bool,
    host: String,
    port: u16,
    /// The HTTP/1.1 Host header for this origin, made once.
    host_header: HeaderValue,
    senders: Vec<Sender>,
}

impl Idle {
    fn is_for(&self, t: &Target<'_>) -> bool {
        self.https == t.https && self.port == t.port && self.host == t.host_str
    }
}

pub(crate) struct Client {
    tls: TlsConnector,
    connect_timeout: Duration,
    max_idle_per_origin: usize,
    /// A handful of origins per scan (the target and allowed hosts), so a list beats a map.
    idle: Mutex<Vec<Idle>>,
}

impl Client {
    pub(crate) fn new(
        accept_invalid_certs: bool,
        connect_timeout: Duration,
        max_idle_per_origin: usize,
    ) -> Result<Client, String> {
        Ok(Client {
            tls: TlsConnector::from(tls::client_config(accept_invalid_certs)?),
            connect_timeout,
            max_idle_per_origin,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends the request `parts` describe to `url` (its URI and Host are set here, per HTTP
    /// version) on a pooled connection, or a new one. A request that a pooled connection could
    /// not take (closed while idle) is moved to another; once written, it is never sent again,
    /// with one exception: a safe request (RFC 9110 §9.2.1) that a reused connection lost
    /// before any answer began goes once more on a new connection. A server that closes a
    /// kept-alive connection after an answer without saying `Connection: close` (uvicorn after
    /// an unhandled exception) races the next request on it; the request never reached the
    /// application.
    ///
    /// The headers are borrowed, not taken: hyper consumes the request it writes, and building
    /// the second copy only when a request was lost keeps a copy of every request's headers
    /// off the common path.
    pub(crate) async fn send(
        &self,
        url: &Url,
        parts: &Parts<'_>,
    ) -> Result<(Response<Incoming>, Lease), SendError> {
        let target = Target::of(url)?;
        let mut unsent = None;
        while let Some((mut sender, host)) = self.checkout(&target) {
            if sender.ready().await.is_err() {
                continue;
            }
            let mut req = unsent.take().unwrap_or_else(|| parts.request());
            address(&mut req, url, &sender, host)?;
            match sender.send(req).await {
                Ok(resp) => return Ok((resp, sender.into_lease())),
                Err(mut e) => match e.take_message() {
                    Some(req) => unsent = Some(req),
                    None if parts.replayable() && lost_before_answer(e.error()) => break,
                    None => return Err(SendError::Failed(describe(e.error()))),
                },
            }
        }
        // Boxed: connecting (DNS, TCP, TLS, handshake) is a large future and a rare path;
        // inline, it would be moved around with every pooled request.
        let mut sender = Box::pin(self.connect(&target)).await?;
        if let Err(e) = sender.ready().await {
            return Err(SendError::Failed(describe(&e)));
        }
        let mut req = unsent.unwrap_or_else(|| parts.request());
        address(&mut req, url, &sender, host_header(&target)?)?;
        match sender.send(req).await {
            Ok(resp) => Ok((resp, sender.into_lease())),
            Err(e) => Err(SendError::Failed(describe(e.error()))),
        }
    }

    /// Takes back an HTTP/1.1 connection whose response was read to the end.
    pub(crate) fn release(&self, url: &Url, lease: Lease) {
        let Some(sender) = lease.0 else { return };
        let Ok(target) = Target::of(url) else { return };
        if sender.is_closed() {
            return;
        }
        self.put(&target, Sender::H1(sender));
    }

    fn put(&self, target: &Target<'_>, sender: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let index = match idle.iter().position(|i| i.is_for(target)) {
            Some(i) => i,
            None => {
                let Ok(host_header) = host_header(target) else {
                    return;
                };
                idle.push(Idle {
                    https: target.https,
                    host: target.host_str.to_string(),
                    port: target.port,
                    host_header,
                    senders: Vec::new(),
                });
                idle.len() - 1
            }
        };
        let senders = &mut idle[index].senders;
        if senders.len() < self.max_idle_per_origin {
            senders.push(sender);
        }
    }

    /// The most recently used open connection: an HTTP/1.1 one is removed from the pool, an
    /// HTTP/2 one stays and is shared.
    fn checkout(&self, target: &Target<'_>) -> Option<(Sender, HeaderValue)> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let entry = idle.iter_mut().find(|i| i.is_for(target))?;
        while let Some(sender) = entry.senders.pop() {
            let host = entry.host_header.clone();
            match sender {
                s if s.is_closed() => continue,
                Sender::H2(s) => {
                    let shared = s.clone();
                    entry.senders.push(Sender::H2(s));
                    return Some((Sender::H2(shared), host));
                }
                h1 => return Some((h1, host)),
            }
        }
        None
    }

    async fn connect(&self, target: &Target<'_>) -> Result<Sender, SendError> {
        let limit = self.connect_timeout;
        match tokio::time::timeout(limit, self.open(target)).await {
            Ok(result) => result.map_err(SendError::Failed),
            Err(_) => Err(SendError::Failed(format!(
                "connect timed out after {}",
                crate::record::human(limit)
            ))),
        }
    }

    async fn open(&self, target: &Target<'_>) -> Result<Sender, String> {
        let tcp = match target.host {
            Host::Ipv4(ip) => TcpStream::connect(SocketAddr::from((ip, target.port))).await,
            Host::Ipv6(ip) => TcpStream::connect(SocketAddr::from((ip, target.port))).await,
            Host::Domain(name) => TcpStream::connect((name, target.port)).await,
        }
        .map_err(|e| format!("connection failed: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if !target.https {
            return handshake_h1(TokioIo::new(tcp)).await;
        }
        let name = match target.host {
            Host::Ipv4(ip) => ServerName::IpAddress(ip.into()),
            Host::Ipv6(ip) => ServerName::IpAddress(ip.into()),
            Host::Domain(name) => ServerName::try_from(name.to_string())
                .map_err(|e| format!("`{name}` is not a valid TLS server name: {e}"))?,
        };
        let stream = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(|e| describe(&e))?;
            tokio::spawn(conn);
            self.put(target, Sender::H2(sender.clone()));
            return Ok(Sender::H2(sender));
        }
        handshake_h1(TokioIo::new(stream)).await
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

async fn handshake_h1<T>(io: T) -> Result<Sender, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io).await.map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Sender::H1(sender))
}

/// A request as the caller keeps it: what [`Client::send`] writes, as often as it must.
pub(crate) struct Parts<'a> {
    pub method: hyper::Method,
    pub headers: &'a HeaderMap,
    pub body: ReqBody,
}

impl Parts<'_> {
    /// A request to write (its body is shared bytes, so this copies the headers only). The
    /// copy has room for the Host header `address` adds: a clone of the map would have none,
    /// and growing it costs more than the copy.
    fn request(&self) -> Request<ReqBody> {
        let mut req = Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        let headers = req.headers_mut();
        headers.reserve(self.headers.len() + 1);
        for (name, value) in self.headers {
            headers.append(name.clone(), value.clone());
        }
        req
    }

    /// Whether sending it twice is harmless: a safe method and nothing else.
    fn replayable(&self) -> bool {
        matches!(
            self.method,
            hyper::Method::GET
                | hyper::Method::HEAD
                | hyper::Method::OPTIONS
                | hyper::Method::TRACE
        )
    }
}

/// The connection ended before an answer's head arrived: closed or reset under the request.
fn lost_before_answer(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return true;
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = s.source();
    }
    false
}

/// `host[:port]` as HTTP/1.1's Host header wants it (the port only when not the default).
fn host_header(target: &Target<'_>) -> Result<HeaderValue, SendError> {
    let https_default = if target.https { 443 } else { 80 };
    let value = if target.port == https_default {
        HeaderValue::from_str(target.host_str)
    } else {
        HeaderValue::from_str(&format!("{}:{}", target.host_str, target.port))
    };
    value.map_err(|_| SendError::Invalid(format!("`{}` is not a valid Host", target.host_str)))
}

/// Sets the request target the way each version wants it: HTTP/1.1 gets the origin form
/// (`/path?query`) and a Host header unless the request brought its own; HTTP/2 gets the
/// absolute URI, from which hyper writes `:authority`.
fn address(
    req: &mut Request<ReqBody>,
    url: &Url,
    sender: &Sender,
    host: HeaderValue,
) -> Result<(), SendError> {
    let bad = |e: hyper::http::uri::InvalidUri| SendError::Invalid(format!("{url}: {e}"));
    match sender {
        Sender::H1(_) => {
            *req.uri_mut() =
                Uri::try_from(&url[Position::BeforePath..Position::AfterQuery]).map_err(bad)?;
            if !req.headers().contains_key(HOST) {
                req.headers_mut().insert(HOST, host);
            }
        }
        Sender::H2(_) => {
            *req.uri_mut() = Uri::try_from(&url[..Position::AfterQuery]).map_err(bad)?;
        }
    }
    Ok(())
}

/// A hyper error and its causes on one line (`connection closed before message completed`,
/// `error reading a body from connection: Connection reset by peer (os error 104)`).
pub(crate) fn describe(e: &hyper::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_string()
    } else {
        format!("request failed: {e}")
    };
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{ACCEPT, COOKIE};

    /// The request written must carry exactly the headers the record was made from, repeated
    /// names and their order included, however often it is built.
    #[test]
    fn a_request_is_built_with_the_callers_headers_exactly() {
        let mut headers = HeaderMap::new();
        headers.append(ACCEPT, HeaderValue::from_static("*/*"));
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        let parts = Parts {
            method: hyper::Method::POST,
            headers: &headers,
            body: ReqBody::new(Bytes::from_static(b"{}")),
        };
        for _ in 0..2 {
            let req = parts.request();
            assert_eq!(req.method(), hyper::Method::POST);
            assert_eq!(req.headers(), &headers);
            let order: Vec<_> = req.headers().iter().map(|(k, v)| (k.as_str(), v)).collect();
            let expected: Vec<_> = headers.iter().map(|(k, v)| (k.as_str(), v)).collect();
            assert_eq!(order, expected);
        }
        assert!(!parts.replayable(), "a POST is never written twice");
    }
}

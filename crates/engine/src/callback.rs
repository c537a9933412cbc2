//! The scan's callback listener for `injection.ssrf`: a plain HTTP/1 listener (on loopback and
//! an ephemeral port unless the user names an address) that records the request line and
//! headers of every request it receives and answers `204`. Checks learn of it through
//! `Probe::callback` and read arrivals by token through `Probe::callback_hits`.
//!
//! It only receives: the scanner never connects anywhere from here, and the URLs it hands out
//! name this listener, the user's collector, or the target's own loopback ports, never a
//! third-party host. Headers that carry credentials are redacted by name when recorded (a
//! target that forwards its caller's `Authorization` would otherwise put a secret in the
//! report); the report's redactor runs over the rest as over every exchange.

use crate::config::ScanConfig;
use middlebrick_checks::{Callback, CallbackHit, LoopbackPorts};
use middlebrick_model::{CheckId, CheckKind, Diagnostic};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// The largest request head read; the rest of a bigger request is ignored.
const HEAD_CAP: usize = 8 * 1024;
/// Arrivals kept per scan: a target that loops on the callback cannot fill the memory.
const HITS_CAP: usize = 1_000;
const READ_TIMEOUT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

/// A recorded arrival with the raw request target it is matched on.
type Arrival = (String, CallbackHit);

/// What `injection.ssrf` may point the target at, built once per scan.
#[derive(Debug, Default)]
pub(crate) struct CallbackEnv {
    pub listener: Option<Listener>,
    /// The user's collector, tokens appended as a last path segment.
    pub collector: Option<Url>,
    pub ports: Option<LoopbackPorts>,
}

impl CallbackEnv {
    pub fn mint(&self) -> Option<Callback> {
        if self.listener.is_none() && self.collector.is_none() {
            return None;
        }
        let token = new_token();
        Some(Callback {
            listener_url: self.listener.as_ref().map(|l| with_token(&l.base, &token)),
            collector_url: self.collector.as_ref().map(|c| with_token(c, &token)),
            token,
        })
    }

    pub async fn hits(&self, token: &str, wait_ms: u64) -> Vec<CallbackHit> {
        match &self.listener {
            Some(l) => l.hits(token, Duration::from_millis(wait_ms)).await,
            None => Vec::new(),
        }
    }
}

/// `base` with `token` as one more path segment (`http://h:1/cb` -> `http://h:1/cb/TOKEN`).
fn with_token(base: &Url, token: &str) -> String {
    let mut u = base.clone();
    let path = format!("{}/{token}", u.path().trim_end_matches('/'));
    u.set_path(&path);
    u.to_string()
}

/// 128 bits from the OS random source, hex: unguessable, and safe in a path and a host label.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS source a predictable token could be forged by a third party calling the
    // listener; the time is mixed in only so a failure still yields distinct tokens.
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = t.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
pub(crate) struct Listener {
    /// What the target is told (the listener's address, or the user's `--callback-url`).
    pub base: Url,
    pub local: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Binds `addr` and starts accepting. `public` is the URL the target should be told; by
    /// default the bound address itself.
    pub async fn start(addr: SocketAddr, public: Option<&Url>) -> std::io::Result<Listener> {
        let socket = TcpListener::bind(addr).await?;
        let local = socket.local_addr()?;
        let base = match public {
            Some(u) => u.clone(),
            None => Url::parse(&format!("http://{}/", told(local)))
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        };
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let sink = arrivals.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = socket.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Some(arrival) = receive(stream, peer).await {
                        let mut list = sink.lock().unwrap_or_else(|e| e.into_inner());
                        if list.len() < HITS_CAP {
                            list.push(arrival);
                        }
                    }
                });
            }
        });
        Ok(Listener {
            base,
            local,
            arrivals,
            task,
        })
    }

    pub async fn hits(&self, token: &str, wait: Duration) -> Vec<CallbackHit> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found: Vec<CallbackHit> = self
                .arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|(target, _)| target.contains(token))
                .map(|(_, hit)| hit.clone())
                .collect();
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The address a target is told for a listener bound to `local`: a wildcard bind (`0.0.0.0`,
/// `::`) is told as loopback, the one address such a listener surely answers on.
fn told(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        std::net::IpAddr::V4(a) if a.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], local.port()))
        }
        std::net::IpAddr::V6(a) if a.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, local.port()))
        }
        _ => local,
    }
}

/// Reads one request head, answers 204 and closes.
async fn receive(mut stream: TcpStream, peer: SocketAddr) -> Option<Arrival> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        while buf.len() < HEAD_CAP && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, read).await;
    let _ = stream
        .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .await;
    let _ = stream.shutdown().await;
    parse_head(&buf, peer)
}

fn parse_head(buf: &[u8], peer: SocketAddr) -> Option<Arrival> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    // A partial head (cut at the cap) still has its request line and the headers before it.
    let _ = req.parse(buf);
    let method = req.method?;
    let target = req.path?.to_string();
    let version = match req.version {
        Some(0) => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let headers = req
        .headers
        .iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| {
            let value = if secret_header(h.name) {
                "[redacted]".to_string()
            } else {
                String::from_utf8_lossy(h.value).into_owned()
            };
            (h.name.to_string(), value)
        })
        .collect();
    Some((
        target.clone(),
        CallbackHit {
            request_line: format!("{method} {target} {version}"),
            headers,
            peer: peer.to_string(),
        },
    ))
}

fn secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || ["token", "secret", "key", "auth", "session", "password"]
        .iter()
        .any(|w| n.contains(w))
}

/// The callback environment of a scan, with notes on what it could not set up. Nothing is
/// bound unless `injection.ssrf` will run; the default listener only when the target is on
/// this machine (a remote target cannot reach the scanner's loopback), or when the user named
/// a listen address or a callback URL.
pub(crate) async fn prepare(cfg: &ScanConfig) -> (CallbackEnv, Vec<Diagnostic>) {
    let mut notes = Vec::new();
    if !cfg.check_enabled(CheckId::InjectionSsrf) || !cfg.mode.allows(CheckKind::SafeActive) {
        return (CallbackEnv::default(), notes);
    }
    let ports = cfg
        .target
        .port_or_known_default()
        .zip(closed_port())
        .map(|(open, closed)| LoopbackPorts { open, closed });
    let c = &cfg.callback;
    let wanted = is_loopback(&cfg.target) || c.listen.is_some() || c.url.is_some();
    let listener = if wanted {
        let addr = c
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        if addr.ip().is_unspecified() && c.url.is_none() {
            notes.push(
                Diagnostic::warning(
                    "ssrf.callback-url-needed",
                    format!(
                        "the SSRF callback listener binds {addr}, which is no address a target \
                         can be told: it is told the loopback address instead"
                    ),
                )
                .hint("give --callback-url with the address the target reaches this machine at"),
            );
        }
        match Listener::start(addr, c.url.as_ref()).await {
            Ok(l) => {
                tracing::debug!(listen = %l.local, url = %l.base, "SSRF callback listener");
                Some(l)
            }
            Err(e) => {
                notes.push(
                    Diagnostic::warning(
                        "ssrf.listener-failed",
                        format!("the SSRF callback listener could not bind {addr}: {e}"),
                    )
                    .hint("choose another address with --callback-listen ADDR:PORT"),
                );
                None
            }
        }
    } else {
        notes.push(
            Diagnostic::info(
                "ssrf.no-listener",
                "the target is not on this machine, so injection.ssrf runs no callback \
                 listener and relies on answers alone",
            )
            .hint(
                "give --callback-listen ADDR:PORT and --callback-url URL (an address the \
                 target can reach), or a collector of your own with --callback-collector URL",
            ),
        );
        None
    };
    let env = CallbackEnv {
        listener,
        collector: c.collector.clone(),
        ports,
    };
    (env, notes)
}

fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A loopback port nothing listens on right now: bound and released. The kernel hands out
/// ephemeral ports in turn, so it stays closed for the few seconds the check needs.
pub(crate) fn closed_port() -> Option<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arrivals_are_recorded_by_token_with_credentials_redacted() {
        let l = Listener::start("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let env = CallbackEnv {
            listener: Some(l),
            ..CallbackEnv::default()
        };
        let cb = env.mint().unwrap();
        let other = env.mint().unwrap();
        assert_ne!(cb.token, other.token);
        assert_eq!(cb.token.len(), 32);
        let url = Url::parse(cb.listener_url.as_deref().unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        let mut s = TcpStream::connect(env.listener.as_ref().unwrap().local)
            .await
            .unwrap();
        let head = format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cr3t\r\nUser-Agent: fetcher/1\r\n\r\n",
            url.path()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 204"));
        let hits = env.hits(&cb.token, 2_000).await;
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].request_line, format!("GET {} HTTP/1.1", url.path()));
        assert!(hits[0]
            .headers
            .contains(&("Authorization".into(), "[redacted]".into())));
        assert!(hits[0]
            .headers
            .contains(&("User-Agent".into(), "fetcher/1".into())));
        assert!(env.hits(&other.token, 0).await.is_empty());
    }

    #[test]
    fn a_wildcard_bind_is_told_as_loopback() {
        assert_eq!(
            told("0.0.0.0:8099".parse().unwrap()),
            "127.0.0.1:8099".parse().unwrap()
        );
        assert_eq!(told("[::]:1".parse().unwrap()), "[::1]:1".parse().unwrap());
        assert_eq!(
            told("10.0.0.5:80".parse().unwrap()),
            "10.0.0.5:80".parse().unwrap()
        );
    }

    #[test]
    fn tokens_join_a_user_url_as_a_last_segment() {
        let base = Url::parse("https://collector.example.net/in/").unwrap();
        assert_eq!(
            with_token(&base, "abc"),
            "https://collector.example.net/in/abc"
        );
        let root = Url::parse("http://10.0.0.5:8099").unwrap();
        assert_eq!(with_token(&root, "abc"), "http://10.0.0.5:8099/abc");
    }
}

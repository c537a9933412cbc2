//! HTTP/1.1 last-byte synchronisation for bursts.
//!
//! Requests sent "at the same time" over a pool still reach the server spread over
//! milliseconds: connection set-up, scheduling and header parsing all take their turn. To make
//! a race window visible, each request of a burst gets its own fresh connection, everything
//! but its final byte is written first, and once every request is waiting on the server for
//! that one byte, the final bytes of all requests are written together. The server then
//! starts handling all of them within microseconds of each other.
//!
//! Plain-HTTP targets only: over TLS the final byte travels in a record of its own, which
//! needs the TLS stack's cooperation; bursts to HTTPS targets use the concurrent path. Each
//! connection sends `Connection: close` and the answer is read to the end, at most
//! `max_bytes`, within `timeout`.

use bytes::Bytes;
use hyper::header::HeaderMap;
use middlebrick_model::{BodyRecord, Method, ResponseRecord};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// How long to let the servers read the partial requests before the final bytes go out.
const SETTLE: Duration = Duration::from_millis(40);

/// One request of a synchronised burst, already encoded.
pub(crate) struct Prepared {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<(String, Bytes)>,
}

/// The request bytes as HTTP/1.1 writes them.
fn serialise(p: &Prepared) -> Vec<u8> {
    let mut target = p.url.path().to_string();
    if let Some(q) = p.url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match p.url.port() {
        Some(port) => format!("{}:{port}", p.url.host_str().unwrap_or("")),
        None => p.url.host_str().unwrap_or("").to_string(),
    };
    let mut out = format!(
        "{} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n",
        p.method
    )
    .into_bytes();
    for (name, value) in &p.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body: &[u8] = p.body.as_ref().map(|(_, b)| b.as_ref()).unwrap_or(&[]);
    if let Some((ct, _)) = &p.body {
        if !p.headers.contains_key(hyper::header::CONTENT_TYPE) {
            out.extend_from_slice(format!("content-type: {ct}\r\n").as_bytes());
        }
    }
    if p.body.is_some() || !matches!(p.method, Method::Get | Method::Head | Method::Options) {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Sends every request with its final byte held back until all are in place; returns each
/// answer (or why there is none) with the time from the final byte to the end of the answer.
pub(crate) async fn send_all(
    reqs: Vec<Prepared>,
    connect_timeout: Duration,
    timeout: Duration,
    max_bytes: usize,
) -> Vec<(Result<ResponseRecord, String>, Duration)> {
    let connects = reqs.iter().map(|p| async move {
        let host = p.url.host_str().unwrap_or("").to_string();
        let port = p.url.port_or_known_default().unwrap_or(80);
        match tokio::time::timeout(connect_timeout, TcpStream::connect((host.as_str(), port))).await
        {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(format!("connect: {e}")),
            Err(_) => Err("connect: timed out".to_string()),
        }
    });
    let mut streams: Vec<Result<TcpStream, String>> = futures::future::join_all(connects).await;
    let wires: Vec<Vec<u8>> = reqs.iter().map(serialise).collect();
    for (s, wire) in streams.iter_mut().zip(&wires) {
        if let Ok(stream) = s {
            if let Err(e) = stream.write_all(&wire[..wire.len() - 1]).await {
                *s = Err(format!("write: {e}"));
            }
        }
    }
    tokio::time::sleep(SETTLE).await;
    let released = Instant::now();
    let finals = streams.iter_mut().zip(&wires).map(|(s, wire)| async move {
        if let Ok(stream) = s {
            if let Err(e) = stream.write_all(&wire[wire.len() - 1..]).await {
                *s = Err(format!("write: {e}"));
            }
        }
    });
    futures::future::join_all(finals).await;
    let reads = streams.into_iter().map(|s| async move {
        let result = match s {
            Ok(stream) => match tokio::time::timeout(timeout, read_answer(stream, max_bytes)).await
            {
                Ok(r) => r,
                Err(_) => Err("answer: timed out".to_string()),
            },
            Err(e) => Err(e),
        };
        (result, released.elapsed())
    });
    futures::future::join_all(reads).await
}

async fn read_answer(mut stream: TcpStream, max_bytes: usize) -> Result<ResponseRecord, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut truncated = false;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > max_bytes + 64 * 1024 {
            truncated = true;
            break;
        }
    }
    parse(&buf, max_bytes, truncated)
}

fn parse(buf: &[u8], max_bytes: usize, cut: bool) -> Result<ResponseRecord, String> {
    let mut headers = [httparse::EMPTY_HEADER; 96];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("answer: incomplete head".into()),
        Err(e) => return Err(format!("answer: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let raw = &buf[head..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let mut body = if chunked { dechunk(raw) } else { raw.to_vec() };
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
    {
        body.truncate(len);
    }
    let size = body.len() as u64;
    let truncated = cut || body.len() > max_bytes;
    body.truncate(max_bytes);
    Ok(ResponseRecord {
        status,
        headers,
        body: BodyRecord {
            text: String::from_utf8_lossy(&body).into_owned(),
            size,
            truncated,
        },
        graphql_field: None,
    })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        raw = &raw[line_end + 2..];
        if size == 0 || raw.len() < size {
            out.extend_from_slice(&raw[..size.min(raw.len())]);
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn answers_parse_with_length_or_chunks() {
        let r = parse(
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nokEXTRA",
            1024,
            false,
        )
        .unwrap();
        assert_eq!((r.status, r.body.text.as_str()), (201, "ok"));
        assert_eq!(r.header("x-a"), Some("b"));
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1024, false).unwrap();
        assert_eq!(r.body.text, "abcde");
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\n0123456789", 4, false).unwrap();
        assert!(r.body.truncated && r.body.text == "0123" && r.body.size == 10);
    }

    #[tokio::test]
    async fn no_request_is_complete_before_every_request_is_in_place() {
        // The server records when each request's final byte arrives: all within a few ms,
        // although the requests were written well before.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut arrivals = Vec::new();
            for _ in 0..4 {
                let (mut s, _) = listener.accept().await.unwrap();
                arrivals.push(tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut b = [0u8; 1024];
                    let mut first_partial = None;
                    loop {
                        let n = s.read(&mut b).await.unwrap();
                        seen.extend_from_slice(&b[..n]);
                        first_partial.get_or_insert_with(Instant::now);
                        if seen.ends_with(b"\r\n\r\n{\"n\":1}") {
                            break;
                        }
                    }
                    let done = Instant::now();
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                    (first_partial.unwrap(), done)
                }));
            }
            let mut out = Vec::new();
            for a in arrivals {
                out.push(a.await.unwrap());
            }
            out
        });
        let url = Url::parse(&format!("http://{addr}/redeem")).unwrap();
        let reqs = (0..4)
            .map(|_| Prepared {
                method: Method::Post,
                url: url.clone(),
                headers: HeaderMap::new(),
                body: Some(("application/json".into(), Bytes::from_static(b"{\"n\":1}"))),
            })
            .collect();
        let answers = send_all(reqs, Duration::from_secs(2), Duration::from_secs(5), 1024).await;
        assert!(answers
            .iter()
            .all(|(r, _)| r.as_ref().is_ok_and(|r| r.status == 200)));
        let times = server.await.unwrap();
        let completes: Vec<Instant> = times.iter().map(|(_, done)| *done).collect();
        let spread = completes
            .iter()
            .max()
            .unwrap()
            .duration_since(*completes.iter().min().unwrap());
        let held = times
            .iter()
            .map(|(partial, done)| done.duration_since(*partial))
            .min()
            .unwrap();
        assert!(
            held >= SETTLE / 2,
            "the final byte was held back ({held:?})"
        );
        assert!(
            spread < Duration::from_millis(15),
            "final bytes released together ({spread:?})"
        );
    }
}

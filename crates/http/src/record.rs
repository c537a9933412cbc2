//! Reading an answer into a [`ResponseRecord`] without letting its size decide our memory use.
//!
//! The body is streamed chunk by chunk into a buffer that stops at the cap; past it, the
//! response is dropped, which closes the connection instead of draining it, so a 50 MB (or
//! endless) answer costs one cap's worth of memory and no more reading. What was read is kept
//! even when the body fails or times out halfway: a half answer is still evidence.

use crate::client::{Client, Parts, SendError};
use crate::error::HttpError;
use http_body_util::BodyExt;
use hyper::body::Body as _;
use middlebrick_model::{BodyRecord, ResponseRecord};
use std::time::Duration;
use url::Url;

/// How an attempt ended: an answer (perhaps with a note on its body), or no answer and why.
#[derive(Debug)]
pub(crate) enum Outcome {
    Answered(ResponseRecord, Option<String>),
    Failed(String),
}

#[derive(Debug)]
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    declared: Option<u64>,
}

/// What an attempt has received so far; filled in place so a timeout keeps it.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    head: Option<Head>,
    buf: Vec<u8>,
    received: u64,
    truncated: bool,
    body_error: Option<String>,
}

/// Buffer space reserved up front when the length is unknown; grows as needed up to the cap.
const INITIAL_BUFFER: usize = 8 * 1024;

/// Sends the request and reads the answer into `out`, at most `cap` body bytes. The
/// connection goes back to the pool only when the body was read to its end and the answer is
/// not a server error: a server often drops the connection after an unhandled error without
/// saying `Connection: close` (uvicorn under Starlette, whose error page is sent before the
/// exception reaches the server), and a request written to it in that moment is lost, which
/// for one that is not safe to send twice means lost for good.
pub(crate) async fn fetch(
    client: &Client,
    url: &Url,
    req: &Parts<'_>,
    cap: usize,
    out: &mut Partial,
) -> Result<(), SendError> {
    let (resp, lease) = client.send(url, req).await?;
    let (parts, mut body) = resp.into_parts();
    let declared = body.size_hint().exact();
    let reusable = !parts.status.is_server_error();
    out.head = Some(Head {
        status: parts.status.as_u16(),
        headers: crate::prepare::record_headers(&parts.headers),
        declared,
    });
    let reserve = declared.map_or(INITIAL_BUFFER, |n| usize::try_from(n).unwrap_or(cap));
    out.buf.reserve(reserve.min(cap));
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(chunk) = frame.into_data() else {
                    continue; // trailers
                };
                out.received += chunk.len() as u64;
                let room = cap - out.buf.len();
                if chunk.len() > room {
                    out.buf.extend_from_slice(&chunk[..room]);
                    out.truncated = true;
                    return Ok(());
                }
                out.buf.extend_from_slice(&chunk);
            }
            Some(Err(e)) => {
                out.truncated = true;
                out.body_error = Some(format!(
                    "reading the body failed: {}",
                    crate::client::describe(&e)
                ));
                return Ok(());
            }
            None => {
                if reusable {
                    client.release(url, lease);
                }
                return Ok(());
            }
        }
    }
}

/// Turns what an attempt got into an [`Outcome`]; `result` is `None` when the request timeout
/// (`limit`) cut it short.
pub(crate) fn conclude(
    result: Option<Result<(), SendError>>,
    out: Partial,
    limit: Duration,
) -> Result<Outcome, HttpError> {
    let err = match result {
        Some(Err(SendError::Invalid(why))) => return Err(HttpError::InvalidRequest(why)),
        Some(Err(SendError::Failed(why))) => return Ok(Outcome::Failed(why)),
        Some(Ok(())) => None,
        None => Some(format!("timed out after {}", human(limit))),
    };
    let Some(head) = out.head else {
        return Ok(Outcome::Failed(err.unwrap_or_else(|| "no answer".into())));
    };
    let truncated = out.truncated || err.is_some();
    let size = if truncated {
        out.received.max(head.declared.unwrap_or(0))
    } else {
        out.received
    };
    let note = match err {
        Some(e) => Some(format!("{e} while reading the body")),
        None => out.body_error,
    };
    let text = String::from_utf8(out.buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let response = ResponseRecord {
        status: head.status,
        headers: head.headers,
        body: BodyRecord {
            text,
            size,
            truncated,
        },
        graphql_field: None,
    };
    Ok(Outcome::Answered(response, note))
}

pub(crate) fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

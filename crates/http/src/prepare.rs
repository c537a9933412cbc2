//! Turning an [`Outgoing`](crate::Outgoing) into bytes and headers for the client, and the
//! record of them.
//!
//! The recorded request headers are read back from the very `HeaderMap` handed to the client
//! (names lower-cased, repeated names grouped, as hyper writes them), so evidence shows what
//! went on the wire and not what we meant to send. Nothing is added behind our back (no
//! Accept-Encoding, no cookie jar); only `Host` (HTTP/1.1, from the URL) and `Content-Length`
//! (from the body) are written by the client, and are left out of the record.

use crate::error::HttpError;
use bytes::Bytes;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, CONNECTION, CONTENT_TYPE, COOKIE, USER_AGENT,
};
use middlebrick_model::{BodyRecord, Method, RequestBody};

/// A request body encoded once and shared, without copying, by every retry and 307/308 hop.
#[derive(Debug, Clone)]
pub(crate) struct WireBody {
    pub content_type: String,
    pub bytes: Bytes,
    pub record: BodyRecord,
}

impl WireBody {
    pub(crate) fn encode(body: RequestBody, record_cap: usize) -> Result<WireBody, HttpError> {
        let content_type = body.content_type().to_string();
        let text = match body {
            RequestBody::Json(value) => serde_json::to_string(&value)
                .map_err(|e| HttpError::InvalidRequest(format!("JSON body: {e}")))?,
            RequestBody::Form(pairs) => url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
            RequestBody::Raw { body, .. } => body,
        };
        let record = BodyRecord {
            text: truncate_at_char(&text, record_cap).to_string(),
            size: text.len() as u64,
            truncated: text.len() > record_cap,
        };
        Ok(WireBody {
            content_type,
            bytes: Bytes::from(text),
            record,
        })
    }
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn method(m: Method) -> hyper::Method {
    match m {
        Method::Get => hyper::Method::GET,
        Method::Head => hyper::Method::HEAD,
        Method::Options => hyper::Method::OPTIONS,
        Method::Post => hyper::Method::POST,
        Method::Put => hyper::Method::PUT,
        Method::Patch => hyper::Method::PATCH,
        Method::Delete => hyper::Method::DELETE,
        Method::Trace => hyper::Method::TRACE,
    }
}

/// The headers of one hop, in the order written: User-Agent and Accept unless the request sets
/// its own, the request's headers, the credentials (when `credentials` is given), and the
/// body's Content-Type unless one was set. Several Cookie headers are merged into one, as
/// RFC 6265 §5.4 requires, so a check's cookies and a session cookie both arrive.
pub(crate) fn header_map(
    user_agent: &HeaderValue,
    headers: &[(String, String)],
    credentials: &[(String, String)],
    content_type: Option<&str>,
) -> Result<HeaderMap, HttpError> {
    let mut map = HeaderMap::with_capacity(4 + headers.len() + credentials.len());
    let given = |name: &str| {
        headers
            .iter()
            .chain(credentials)
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    if !given("user-agent") {
        map.append(USER_AGENT, user_agent.clone());
    }
    if !given("accept") {
        map.append(ACCEPT, HeaderValue::from_static("*/*"));
    }
    let mut cookies = 0;
    for (k, v) in headers.iter().chain(credentials) {
        let name = name(k)?;
        cookies += usize::from(name == COOKIE);
        map.append(name, value(k, v)?);
    }
    if let Some(ct) = content_type {
        if !given("content-type") {
            let value = HeaderValue::from_str(ct)
                .map_err(|_| HttpError::InvalidRequest(format!("bad content type `{ct}`")))?;
            map.append(CONTENT_TYPE, value);
        }
    }
    if cookies > 1 {
        merge_cookies(&mut map);
    }
    Ok(map)
}

/// A request body at least this large goes out with `Connection: close`.
pub(crate) const LARGE_BODY: usize = 256 * 1024;

/// Asks the server to close the connection after a request with a large body (unless the
/// request says otherwise). A server that refuses an oversized body (413) often answers before
/// reading it and leaves the rest unread on the connection; reused, that connection can hang
/// the next request until its timeout (uvicorn did, for 15 s). One fresh connection per large
/// body costs a handshake.
pub(crate) fn close_after_large_body(map: &mut HeaderMap, body_len: usize) {
    if body_len >= LARGE_BODY && !map.contains_key(CONNECTION) {
        map.insert(CONNECTION, HeaderValue::from_static("close"));
    }
}

/// The header map a record describes; the record is what was sent, so this is exact.
pub(crate) fn rebuild(record: &[(String, String)]) -> Result<HeaderMap, HttpError> {
    let mut map = HeaderMap::with_capacity(record.len());
    for (k, v) in record {
        map.append(name(k)?, value(k, v)?);
    }
    Ok(map)
}

fn name(k: &str) -> Result<HeaderName, HttpError> {
    HeaderName::from_bytes(k.as_bytes())
        .map_err(|_| HttpError::InvalidRequest(format!("bad header name `{k}`")))
}

/// Any bytes but control characters: payloads with non-ASCII text are legitimate probes.
fn value(k: &str, v: &str) -> Result<HeaderValue, HttpError> {
    HeaderValue::from_bytes(v.as_bytes()).map_err(|_| {
        HttpError::InvalidRequest(format!("header `{k}` has a control character in its value"))
    })
}

fn merge_cookies(map: &mut HeaderMap) {
    let mut values = map.get_all(COOKIE).iter();
    let (Some(first), Some(_)) = (values.next(), values.next()) else {
        return;
    };
    let mut joined = first.as_bytes().to_vec();
    for v in map.get_all(COOKIE).iter().skip(1) {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(v.as_bytes());
    }
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        map.insert(COOKIE, value);
    }
}

/// The record of a header map: names as sent (lower case), values as lossy UTF-8.
pub(crate) fn record_headers(map: &HeaderMap) -> Vec<(String, String)> {
    // Sized up front: the map's iterator does not know its length, and a collected record
    // would grow (and copy) its way to an answer's ten-odd headers.
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = match value.to_str() {
            Ok(ascii) => ascii.to_owned(),
            Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        };
        out.push((name.as_str().to_owned(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ua() -> HeaderValue {
        HeaderValue::from_static("mb-test")
    }

    #[test]
    fn defaults_come_first_and_yield_to_the_request() {
        let map = header_map(
            &ua(),
            &pairs(&[("X-A", "1")]),
            &pairs(&[]),
            Some("application/json"),
        )
        .unwrap();
        assert_eq!(
            record_headers(&map),
            pairs(&[
                ("user-agent", "mb-test"),
                ("accept", "*/*"),
                ("x-a", "1"),
                ("content-type", "application/json")
            ])
        );
        let map = header_map(
            &ua(),
            &pairs(&[
                ("User-Agent", "custom"),
                ("Accept", "text/html"),
                ("Content-Type", "text/plain"),
            ]),
            &pairs(&[]),
            Some("application/json"),
        )
        .unwrap();
        assert_eq!(
            record_headers(&map),
            pairs(&[
                ("user-agent", "custom"),
                ("accept", "text/html"),
                ("content-type", "text/plain")
            ])
        );
    }

    #[test]
    fn cookies_from_headers_and_credentials_are_merged() {
        let map = header_map(
            &ua(),
            &pairs(&[("Cookie", "a=1; b=2")]),
            &pairs(&[("Cookie", "session=s3cr3t"), ("Authorization", "Bearer x")]),
            None,
        )
        .unwrap();
        let rec = record_headers(&map);
        let cookies: Vec<_> = rec.iter().filter(|(k, _)| k == "cookie").collect();
        assert_eq!(cookies.len(), 1);
        assert_eq!(cookies[0].1, "a=1; b=2; session=s3cr3t");
        assert!(rec.contains(&("authorization".into(), "Bearer x".into())));
    }

    #[test]
    fn a_record_rebuilds_the_same_map() {
        let map = header_map(
            &ua(),
            &pairs(&[("X-A", "1"), ("X-A", "2"), ("X-U", "ünï")]),
            &pairs(&[("Authorization", "Bearer t")]),
            Some("text/plain"),
        )
        .unwrap();
        let record = record_headers(&map);
        assert_eq!(record_headers(&rebuild(&record).unwrap()), record);
        assert_eq!(rebuild(&record).unwrap(), map);
    }

    #[test]
    fn header_injection_is_refused_not_sent() {
        let bad = pairs(&[("X-A", "1\r\nX-Injected: 1")]);
        assert!(matches!(
            header_map(&ua(), &bad, &[], None),
            Err(HttpError::InvalidRequest(_))
        ));
        let bad = pairs(&[("Bad Name", "1")]);
        assert!(header_map(&ua(), &bad, &[], None).is_err());
        let utf8 = pairs(&[("X-Payload", "ünïcode")]);
        assert!(header_map(&ua(), &utf8, &[], None).is_ok());
    }

    #[test]
    fn bodies_are_encoded_and_recorded_up_to_the_cap() {
        let json = WireBody::encode(RequestBody::Json(serde_json::json!({"a": "é"})), 100).unwrap();
        assert_eq!(&json.bytes[..], "{\"a\":\"é\"}".as_bytes());
        assert_eq!(json.content_type, "application/json");
        assert!(!json.record.truncated);
        let form = WireBody::encode(RequestBody::Form(pairs(&[("a b", "c&d")])), 100).unwrap();
        assert_eq!(&form.bytes[..], b"a+b=c%26d");
        let raw = WireBody::encode(
            RequestBody::Raw {
                content_type: "text/plain".into(),
                body: "ééé".into(),
            },
            3,
        )
        .unwrap();
        assert_eq!(raw.record.text, "é");
        assert_eq!(raw.record.size, 6);
        assert!(raw.record.truncated);
        assert_eq!(raw.bytes.len(), 6);
    }
}

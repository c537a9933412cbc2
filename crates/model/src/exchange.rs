//! What a check asks for ([`RequestSpec`]) kept apart from what was really sent and received
//! ([`Exchange`]): the engine fills in credentials, the base URL and cookies, the transport
//! records the result, and evidence is always the recorded exchange, never a string.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The name of the identity that carries no credentials; it always exists.
pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Head,
    Options,
    Post,
    Put,
    Patch,
    Delete,
    Trace,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Head,
        Method::Options,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Trace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Trace => "TRACE",
        }
    }

    /// GET, HEAD, OPTIONS and TRACE change nothing by definition (RFC 9110 §9.2.1).
    pub fn is_safe(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Options | Method::Trace
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown HTTP method `{s}`"))
    }
}

/// A request body as a check describes it; the transport encodes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum RequestBody {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    Raw { content_type: String, body: String },
}

impl RequestBody {
    pub fn content_type(&self) -> &str {
        match self {
            RequestBody::Json(_) => "application/json",
            RequestBody::Form(_) => "application/x-www-form-urlencoded",
            RequestBody::Raw { content_type, .. } => content_type,
        }
    }
}

/// Which of an identity's credentials go with a request. CSRF checks send cookies only, the
/// way a browser on another site would; token checks send the header without the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialUse {
    #[default]
    All,
    CookiesOnly,
    HeadersOnly,
    None,
}

/// What a check wants sent. `path` is concrete (template already filled) and relative to the
/// target's base URL; the engine adds the identity's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSpec {
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub query: Vec<(String, String)>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub cookies: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<RequestBody>,
    /// Which identity's credentials to attach: `anonymous` or a configured name.
    pub identity: String,
    /// The spec operation this request exercises (`GET /items/{id}`), for the report.
    #[serde(default)]
    pub operation: Option<String>,
    /// Which of the identity's credentials to attach.
    #[serde(default)]
    pub credentials: CredentialUse,
    /// The GraphQL operation the request carries (see [`crate::GraphqlRequest`]): the answer is
    /// then judged by its root field's data, and a query counts as a read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<crate::GraphqlRequest>,
}

impl RequestSpec {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        RequestSpec {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            identity: ANONYMOUS.to_string(),
            operation: None,
            credentials: CredentialUse::All,
            graphql: None,
        }
    }

    /// True when sending the request may change state: a method that is not safe, or a GraphQL
    /// request that is not a query. A request marked as a query whose document holds a
    /// mutation (a check wrote its own) counts as a write all the same.
    pub fn changes_state(&self) -> bool {
        match &self.graphql {
            Some(g) => {
                g.kind == crate::GraphqlKind::Mutation
                    || self
                        .graphql_documents()
                        .iter()
                        .any(|d| crate::document_writes(d))
            }
            None => !self.method.is_safe(),
        }
    }

    /// The GraphQL documents the request carries: the `query` of a JSON body (or of each
    /// operation of a batch), an `application/graphql` body, a `query` query parameter.
    fn graphql_documents(&self) -> Vec<&str> {
        let mut docs: Vec<&str> = self
            .query
            .iter()
            .filter(|(k, _)| k == "query")
            .map(|(_, v)| v.as_str())
            .collect();
        match &self.body {
            Some(RequestBody::Json(v)) => {
                let ops = match v {
                    serde_json::Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                docs.extend(ops.into_iter().filter_map(|o| o.get("query")?.as_str()));
            }
            Some(RequestBody::Raw { body, .. }) => docs.push(body),
            Some(RequestBody::Form(fields)) => docs.extend(
                fields
                    .iter()
                    .filter(|(k, _)| k == "query")
                    .map(|(_, v)| v.as_str()),
            ),
            None => {}
        }
        docs
    }

    pub fn as_identity(mut self, name: impl Into<String>) -> Self {
        self.identity = name.into();
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A body as recorded: text (lossy UTF-8) up to the recording cap, with the full size kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRecord {
    pub text: String,
    /// Bytes the peer sent (or would have sent, up to the read cap).
    pub size: u64,
    /// True when `text` holds only the first part of the body.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRecord {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyRecord,
    /// Set when the request was a GraphQL operation: the root field whose value under `data`
    /// is the answer. `status` stays the HTTP status; [`ResponseRecord::is_success`] and
    /// [`ResponseRecord::json`] read the field instead (see [`ResponseRecord::graphql_data`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql_field: Option<String>,
}

impl ResponseRecord {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type without parameters, lower-cased (`application/json`).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Whether the operation succeeded: a 2xx, and for a GraphQL operation a value for its
    /// root field under `data`. A GraphQL server answers 200 with `{"errors": […], "data":
    /// {"order": null}}` (or `"data": null`) when it refuses (not signed in, forbidden, not
    /// found, invalid): that is a refusal here, whatever the status says.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status) && !self.graphql_refused()
    }

    /// True for a GraphQL answer without a value for its root field (see [`Self::is_success`]).
    pub fn graphql_refused(&self) -> bool {
        self.graphql_field.is_some() && self.graphql_data().is_none()
    }

    /// A GraphQL answer's value for its root field (`data.order`), when it is there and not
    /// `null`; `None` for other answers. Errors beside the value (a nested field refused)
    /// leave it a value: the data that came back is what the answer disclosed.
    pub fn graphql_data(&self) -> Option<serde_json::Value> {
        let field = self.graphql_field.as_deref()?;
        let mut whole = self.body_json()?;
        match whole.get_mut("data")?.get_mut(field)?.take() {
            serde_json::Value::Null => None,
            v => Some(v),
        }
    }

    /// The answer's JSON as checks judge it: the body parsed as JSON when it is JSON and was
    /// read whole, except that a GraphQL answer with data is its root field's value
    /// ([`Self::graphql_data`]), so that two identities' answers compare by their data and ids
    /// are read from it. A refused GraphQL answer is the whole body, `errors` included.
    pub fn json(&self) -> Option<serde_json::Value> {
        self.graphql_data().or_else(|| self.body_json())
    }

    /// The whole body parsed as JSON, when it is JSON and was read whole (a GraphQL answer's
    /// `data` and `errors` both).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        if self.body.truncated {
            return None;
        }
        serde_json::from_str(&self.body.text).ok()
    }
}

/// One request and what came of it: the evidence unit of every finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The identity whose credentials were attached.
    pub identity: String,
    pub request: RequestRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    /// Redirect hops followed before `response`, as the URLs requested in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<String>,
    /// Why no response was recorded (timeout, connection refused, out of scope, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

impl Exchange {
    /// The HTTP status, as received (a refused GraphQL operation's is often 200: ask
    /// [`Exchange::is_success`] whether the operation succeeded).
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// True for an answer to a GraphQL operation that refused it ([`ResponseRecord::graphql_refused`]):
    /// a check that accepts a status range (`200..400`) asks this too.
    pub fn graphql_refused(&self) -> bool {
        self.response
            .as_ref()
            .is_some_and(ResponseRecord::graphql_refused)
    }

    /// Whether there was an answer and it was a success ([`ResponseRecord::is_success`]).
    pub fn is_success(&self) -> bool {
        self.response
            .as_ref()
            .is_some_and(ResponseRecord::is_success)
    }

    /// The answer's body as JSON when the answer is a 2xx (see [`ResponseRecord::json`]).
    pub fn success_json(&self) -> Option<serde_json::Value> {
        self.response
            .as_ref()
            .filter(|r| r.is_success())
            .and_then(|r| r.json())
    }

    /// A shell-safe curl command that reproduces the request (already redacted if the record was).
    pub fn to_curl(&self) -> String {
        let mut out = format!("curl -sS -X {}", self.request.method);
        for (k, v) in &self.request.headers {
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("host") {
                continue;
            }
            out.push_str(" -H ");
            out.push_str(&shell_quote(&format!("{k}: {v}")));
        }
        if let Some(body) = &self.request.body {
            out.push_str(" --data-raw ");
            out.push_str(&shell_quote(&body.text));
        }
        out.push(' ');
        out.push_str(&shell_quote(&self.request.url));
        out
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_single_quotes_and_skips_length() {
        let ex = Exchange {
            identity: ANONYMOUS.into(),
            request: RequestRecord {
                method: Method::Post,
                url: "http://127.0.0.1:1/a?q=1".into(),
                headers: vec![
                    ("content-length".into(), "9".into()),
                    ("x-note".into(), "it's".into()),
                ],
                body: Some(BodyRecord {
                    text: "{\"a\":\"'\"}".into(),
                    size: 9,
                    truncated: false,
                }),
            },
            response: None,
            redirects: vec![],
            error: Some("timeout".into()),
            elapsed_ms: 3,
        };
        assert_eq!(
            ex.to_curl(),
            r#"curl -sS -X POST -H 'x-note: it'\''s' --data-raw '{"a":"'\''"}' 'http://127.0.0.1:1/a?q=1'"#
        );
    }

    #[test]
    fn success_json_needs_a_2xx_and_a_whole_json_body() {
        let answer = |status: u16, text: &str, truncated: bool| Exchange {
            identity: ANONYMOUS.into(),
            request: RequestRecord {
                method: Method::Get,
                url: "http://127.0.0.1:1/a".into(),
                headers: vec![],
                body: None,
            },
            response: Some(ResponseRecord {
                status,
                headers: vec![],
                body: BodyRecord {
                    text: text.into(),
                    size: text.len() as u64,
                    truncated,
                },
                graphql_field: None,
            }),
            redirects: vec![],
            error: None,
            elapsed_ms: 1,
        };
        assert_eq!(
            answer(200, r#"{"id":1}"#, false).success_json(),
            Some(serde_json::json!({"id": 1}))
        );
        assert_eq!(answer(404, r#"{"id":1}"#, false).success_json(), None);
        assert_eq!(answer(200, r#"{"id":1}"#, true).success_json(), None);
        assert_eq!(answer(200, "not json", false).success_json(), None);
    }

    #[test]
    fn a_graphql_answer_succeeds_by_its_root_fields_data() {
        let answer = |status: u16, text: &str| ResponseRecord {
            status,
            headers: vec![],
            body: BodyRecord {
                text: text.into(),
                size: text.len() as u64,
                truncated: false,
            },
            graphql_field: Some("order".into()),
        };
        let data = answer(
            200,
            r#"{"data":{"order":{"id":1}},"errors":[{"message":"x"}]}"#,
        );
        assert!(data.is_success() && !data.graphql_refused());
        assert_eq!(data.json(), Some(serde_json::json!({"id": 1})));
        assert_eq!(data.body_json().unwrap()["errors"][0]["message"], "x");
        for refused in [
            r#"{"errors":[{"message":"Not authorized"}],"data":{"order":null}}"#,
            r#"{"errors":[{"message":"sign in"}],"data":null}"#,
            r#"{"errors":[{"message":"Cannot query field"}]}"#,
            "<html>oops</html>",
        ] {
            let r = answer(200, refused);
            assert!(!r.is_success() && r.graphql_refused(), "{refused}");
            assert_eq!(r.status, 200, "the status stays what was received");
        }
        let whole = answer(
            200,
            r#"{"errors":[{"message":"no"}],"data":{"order":null}}"#,
        );
        assert_eq!(whole.json().unwrap()["errors"][0]["message"], "no");
        let mut rest = answer(200, r#"{"errors":[]}"#);
        rest.graphql_field = None;
        assert!(rest.is_success(), "REST answers are judged by status alone");
    }

    #[test]
    fn methods_parse_case_insensitively_and_know_safety() {
        assert_eq!("patch".parse::<Method>().unwrap(), Method::Patch);
        assert!(Method::Get.is_safe() && !Method::Delete.is_safe());
        assert!("BREW".parse::<Method>().is_err());
    }
}

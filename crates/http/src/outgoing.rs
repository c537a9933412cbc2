//! A fully resolved request: the URL is absolute and final, credentials are attached but kept
//! apart from ordinary headers so the transport can drop them when a redirect leaves the host
//! they were meant for.

use crate::error::HttpError;
use middlebrick_model::{Method, RequestBody, RequestSpec, REDACTED};
use std::fmt;
use url::Url;

/// One request as the transport will send it.
#[derive(Clone, PartialEq)]
pub struct Outgoing {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// Authentication headers (Authorization, Cookie, an API-key header). Sent like headers,
    /// but dropped on a redirect to another origin.
    pub credentials: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// The identity whose credentials these are, copied into the exchange.
    pub identity: String,
    /// Follow 3xx answers hop by hop (each hop checked against the scope), or record the 3xx.
    pub follow_redirects: bool,
    /// Retry a 429 or 503 after the wait it asks for. Off when the 429 is what is being
    /// observed (throttling checks): a retry would wait the limiter out and hide it.
    pub retry_throttled: bool,
}

impl Outgoing {
    /// Builds from a check's [`RequestSpec`]: `spec.path` is appended to the base URL's path
    /// (so `https://h/api/v1` + `/items/1` is `https://h/api/v1/items/1`), query pairs are
    /// percent-encoded after any query the base carries, `spec.cookies` become one Cookie
    /// header, and redirects are followed (a check that wants the raw 3xx clears the flag).
    ///
    /// The host never comes from the spec: a path like `//evil.test/x` stays a path.
    pub fn from_spec(
        base: &Url,
        spec: &RequestSpec,
        credentials: Vec<(String, String)>,
    ) -> Result<Outgoing, HttpError> {
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(HttpError::InvalidRequest(format!(
                "{base} is not an http(s) base URL"
            )));
        }
        let mut url = base.clone();
        url.set_fragment(None);
        url.set_path(&join_path(base.path(), &spec.path));
        if !spec.query.is_empty() {
            let mut query = base.query().unwrap_or("").to_string();
            for (k, v) in &spec.query {
                if !query.is_empty() {
                    query.push('&');
                }
                push_encoded(&mut query, k);
                query.push('=');
                push_encoded(&mut query, v);
            }
            url.set_query(Some(&query));
        }
        let mut headers = spec.headers.clone();
        if !spec.cookies.is_empty() {
            let cookie = spec
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            headers.push(("Cookie".to_string(), cookie));
        }
        Ok(Outgoing {
            method: spec.method,
            url,
            headers,
            credentials,
            body: spec.body.clone(),
            identity: spec.identity.clone(),
            follow_redirects: true,
            retry_throttled: true,
        })
    }
}

/// Credentials are shown by name only: an `Outgoing` logged with `{:?}` must not leak them.
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials: Vec<(&str, &str)> = self
            .credentials
            .iter()
            .map(|(k, _)| (k.as_str(), REDACTED))
            .collect();
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("credentials", &credentials)
            .field("body", &self.body)
            .field("identity", &self.identity)
            .field("follow_redirects", &self.follow_redirects)
            .finish()
    }
}

fn join_path(base: &str, path: &str) -> String {
    let prefix = base.trim_end_matches('/');
    let mut out = String::with_capacity(prefix.len() + path.len() + 1);
    out.push_str(prefix);
    if !path.starts_with('/') {
        out.push('/');
    }
    out.push_str(path);
    out
}

/// Percent-encodes everything but `A-Z a-z 0-9 - . _ *`; a space is `%20`, not `+`, because
/// not every API decodes queries as HTML forms do.
fn push_encoded(out: &mut String, s: &str) {
    for piece in url::form_urlencoded::byte_serialize(s.as_bytes()) {
        if piece == "+" {
            out.push_str("%20");
        } else {
            out.push_str(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, path)
    }

    fn url_of(base: &str, spec: &RequestSpec) -> String {
        Outgoing::from_spec(&Url::parse(base).unwrap(), spec, vec![])
            .unwrap()
            .url
            .to_string()
    }

    #[test]
    fn paths_keep_the_base_prefix() {
        let s = spec("/items/1");
        assert_eq!(url_of("http://h/api/v1", &s), "http://h/api/v1/items/1");
        assert_eq!(url_of("http://h/api/v1/", &s), "http://h/api/v1/items/1");
        assert_eq!(url_of("http://h", &s), "http://h/items/1");
        assert_eq!(
            url_of("http://h/api/", &spec("items")),
            "http://h/api/items"
        );
        assert_eq!(url_of("http://h/api#frag", &spec("/x")), "http://h/api/x");
    }

    #[test]
    fn the_spec_cannot_change_the_host() {
        for path in [
            "//evil.test/x",
            "http://evil.test/",
            "/@evil.test",
            "/x?y#z",
        ] {
            let out =
                Outgoing::from_spec(&Url::parse("http://h:81/").unwrap(), &spec(path), vec![])
                    .unwrap();
            assert_eq!(out.url.host_str(), Some("h"), "{path}");
            assert_eq!(out.url.port(), Some(81), "{path}");
            assert_eq!(out.url.query(), None, "{path}");
        }
    }

    #[test]
    fn query_pairs_are_percent_encoded_after_the_base_query() {
        let mut s = spec("/search");
        s.query = vec![("q".into(), "a b&c=d+é".into()), ("x".into(), "1".into())];
        assert_eq!(
            url_of("http://h/?v=2", &s),
            "http://h/search?v=2&q=a%20b%26c%3Dd%2B%C3%A9&x=1"
        );
    }

    #[test]
    fn cookies_become_one_header_and_fields_are_copied() {
        let mut s = spec("/").header("X-Test", "1").as_identity("alice");
        s.cookies = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        s.body = Some(RequestBody::Json(serde_json::json!({"k": 1})));
        let creds = vec![("Authorization".to_string(), "Bearer t0ken".to_string())];
        let out =
            Outgoing::from_spec(&Url::parse("http://h/").unwrap(), &s, creds.clone()).unwrap();
        assert_eq!(
            out.headers,
            vec![
                ("X-Test".to_string(), "1".to_string()),
                ("Cookie".to_string(), "a=1; b=2".to_string())
            ]
        );
        assert_eq!(out.credentials, creds);
        assert_eq!(out.identity, "alice");
        assert_eq!(out.body, s.body);
        assert!(out.follow_redirects);
    }

    #[test]
    fn debug_output_hides_credential_values() {
        let creds = vec![(
            "Authorization".to_string(),
            "Bearer canary-7f3a".to_string(),
        )];
        let out =
            Outgoing::from_spec(&Url::parse("http://h/").unwrap(), &spec("/"), creds).unwrap();
        let shown = format!("{out:?}");
        assert!(shown.contains("Authorization") && !shown.contains("canary-7f3a"));
    }

    #[test]
    fn non_http_bases_are_refused() {
        let base = Url::parse("mailto:a@b.test").unwrap();
        assert!(Outgoing::from_spec(&base, &spec("/"), vec![]).is_err());
    }
}

//! Finding a spec when the user gave only a base URL: the paths frameworks serve it at, the
//! spec URL inside a documentation page (Swagger UI, ReDoc and kin), and a cheap test of whether
//! a fetched body is a spec at all (before paying for a full parse).
//!
//! This module does no I/O; the engine fetches and feeds it.

use crate::parse::trim_start;
use regex::Regex;
use std::sync::OnceLock;

/// Where frameworks serve their spec, most likely first: FastAPI and most generators
/// (`/openapi.json`), Flasgger (`/apispec_1.json`), Flask-RESTX and many hand-written
/// (`/swagger.json`), springdoc (`/v3/api-docs`), springfox (`/v2/api-docs`), Swashbuckle
/// (`/swagger/v1/swagger.json`), swaggo (`/swagger/doc.json`).
pub const WELL_KNOWN_SPEC_PATHS: &[&str] = &[
    "/openapi.json",
    "/openapi.yaml",
    "/apispec_1.json",
    "/swagger.json",
    "/swagger.yaml",
    "/v3/api-docs",
    "/v2/api-docs",
    "/api/openapi.json",
    "/api-docs",
    "/docs/openapi.json",
    "/swagger/v1/swagger.json",
    "/swagger/doc.json",
    "/api/swagger.json",
    "/openapi.yml",
    "/api/v1/openapi.json",
    "/api-docs/swagger.json",
];

/// A quoted string in any of the three JavaScript quotes; the URL is whichever group matched.
const QUOTED: &str = r#"(?:"([^"]*)"|'([^']*)'|`([^`]*)`)"#;

fn patterns() -> &'static [Regex] {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // Swagger UI: `url: "..."`, `"url": "..."` and each `{url: ...}` of `urls: [...]`.
            // The key must be exactly `url` (not `validatorUrl`, `oauth2RedirectUrl`).
            format!(r#"(?:^|[^\w$.-])["']?url["']?\s*:\s*{QUOTED}"#),
            // ReDoc / RapiDoc element attribute.
            format!(r#"(?i)\bspec-url\s*=\s*{QUOTED}"#),
            // ReDoc's JavaScript API.
            format!(r#"\bRedoc\.init\(\s*{QUOTED}"#),
            // Stoplight Elements and Scalar.
            format!(r#"\bapiDescriptionUrl\s*=\s*{QUOTED}"#),
            format!(r#"(?i)\bdata-url\s*=\s*{QUOTED}"#),
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

/// Spec URLs named in a Swagger UI or ReDoc page, in page order, relative or absolute as
/// written (resolving them against the page URL is the caller's job).
pub fn spec_urls_in_html(html: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for re in patterns() {
        for caps in re.captures_iter(html) {
            let Some(m) = (1..=3).find_map(|i| caps.get(i)) else {
                continue;
            };
            let url = decode_entities(m.as_str().trim());
            // Template placeholders and prose are not URLs.
            if url.is_empty() || url.contains(char::is_whitespace) || url.contains("{{") {
                continue;
            }
            found.push((m.start(), url));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<String> = Vec::new();
    for (_, url) in found {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// The `src` of every `<script>` of a page, as written: Swagger UI set-ups that carry the spec
/// inline live in a script of their own (swagger-ui-express serves `swagger-ui-init.js`).
pub fn script_srcs(html: &str) -> Vec<String> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(re) = RE
        .get_or_init(|| Regex::new(&format!(r#"(?i)<script\b[^>]*\bsrc\s*=\s*{QUOTED}"#)).ok())
        .as_ref()
    else {
        return Vec::new();
    };
    re.captures_iter(html)
        .filter_map(|c| (1..=3).find_map(|i| c.get(i)))
        .map(|m| decode_entities(m.as_str().trim()))
        .filter(|u| !u.is_empty())
        .collect()
}

/// A spec written inline in a Swagger UI set-up (swagger-ui-express's `"swaggerDoc": {…}`,
/// `SwaggerUIBundle({spec: {…}})`), as JSON text: the first object after such a key that
/// parses as JSON and has an `openapi` or `swagger` key.
pub fn inline_spec(text: &str) -> Option<String> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| Regex::new(r#"["']?\b(?:swaggerDoc|spec)["']?\s*:\s*\{"#).ok())
        .as_ref()?;
    re.find_iter(text).find_map(|m| {
        let from = m.end() - 1;
        let mut values =
            serde_json::Deserializer::from_str(&text[from..]).into_iter::<serde_json::Value>();
        match values.next()? {
            Ok(v) if v.get("openapi").is_some() || v.get("swagger").is_some() => {
                Some(v.to_string())
            }
            _ => None,
        }
    })
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A cheap sniff: JSON or YAML whose top level has an `openapi` or `swagger` key. Scans the
/// bytes once without building a tree (Twilio's 1.9 MB spec puts `openapi` near the end).
pub fn looks_like_spec(bytes: &[u8]) -> bool {
    let body = trim_start(bytes);
    match body.first() {
        None | Some(b'<') => false,
        Some(b'{') => json_has_top_level_key(body),
        Some(_) => yaml_has_top_level_key(body),
    }
}

fn is_spec_key(key: &[u8]) -> bool {
    key == b"openapi" || key == b"swagger"
}

fn json_has_top_level_key(b: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let Some(end) = string_end(b, start) else {
                    return false;
                };
                if depth == 1 && is_spec_key(&b[start..end]) {
                    let rest = &b[end + 1..];
                    let next = rest.iter().find(|c| !c.is_ascii_whitespace());
                    if next == Some(&b':') {
                        return true;
                    }
                }
                i = end + 1;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// Index of the quote closing a JSON string that starts at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn yaml_has_top_level_key(b: &[u8]) -> bool {
    b.split(|c| *c == b'\n').any(|line| {
        let key_end = line.iter().position(|c| *c == b':');
        let Some(key_end) = key_end else {
            return false;
        };
        let key = &line[..key_end];
        let key = key.strip_suffix(b" ").unwrap_or(key);
        let unquoted = key
            .strip_prefix(b"\"")
            .and_then(|k| k.strip_suffix(b"\""))
            .or_else(|| key.strip_prefix(b"'").and_then(|k| k.strip_suffix(b"'")))
            .unwrap_or(key);
        is_spec_key(unquoted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_spec_is_read_from_a_swagger_ui_set_up_script() {
        let init = r#"window.onload = function() {
  var url = window.location.search.match(/url=([^&]+)/);
  var options = {"swaggerDoc":{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{}}},"customOptions":{}};
  url = options.swaggerUrl || url
}"#;
        let spec = inline_spec(init).expect("found");
        assert!(looks_like_spec(spec.as_bytes()));
        assert!(spec.contains("\"/a\""));
        let bundle =
            "SwaggerUIBundle({ spec: {\"swagger\": \"2.0\", \"paths\": {}}, dom_id: '#ui' })";
        assert!(inline_spec(bundle).is_some());
        // An object under such a key that is no spec, or no object at all, is not one.
        assert!(inline_spec(r#"{"spec": {"name": "x"}}"#).is_none());
        assert!(inline_spec("var spec = 3;").is_none());
    }

    #[test]
    fn script_sources_are_listed_as_written() {
        let html = r#"<script src="./swagger-ui-bundle.js"> </script><SCRIPT type="x" src='./swagger-ui-init.js'></SCRIPT><script>inline()</script>"#;
        assert_eq!(
            script_srcs(html),
            vec!["./swagger-ui-bundle.js", "./swagger-ui-init.js"]
        );
    }

    #[test]
    fn well_known_paths_are_absolute_and_unique() {
        assert!(WELL_KNOWN_SPEC_PATHS.len() >= 15);
        for (i, p) in WELL_KNOWN_SPEC_PATHS.iter().enumerate() {
            assert!(p.starts_with('/'), "{p}");
            assert!(!WELL_KNOWN_SPEC_PATHS[..i].contains(p), "duplicate {p}");
        }
        assert_eq!(WELL_KNOWN_SPEC_PATHS[0], "/openapi.json");
    }

    #[test]
    fn swagger_ui_pages() {
        let html = r#"<script>
          window.onload = function() {
            const ui = SwaggerUIBundle({
              url: "/static/openapi.json",
              validatorUrl: "https://validator.swagger.io/validator",
              oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect',
              dom_id: '#swagger-ui',
            })
          }</script>"#;
        assert_eq!(spec_urls_in_html(html), vec!["/static/openapi.json"]);
        let multi = r#"SwaggerUIBundle({ urls: [{url: 'v1/swagger.json', name: 'v1'},
            {"url": "https://api.example.com/v2/swagger.json?a=1&amp;b=2", "name": "v2"}] })"#;
        assert_eq!(
            spec_urls_in_html(multi),
            vec![
                "v1/swagger.json",
                "https://api.example.com/v2/swagger.json?a=1&b=2"
            ]
        );
        // FastAPI's page.
        let fastapi = "const ui = SwaggerUIBundle({\n        url: '/openapi.json',\n\"dom_id\": \"#swagger-ui\",";
        assert_eq!(spec_urls_in_html(fastapi), vec!["/openapi.json"]);
    }

    #[test]
    fn redoc_and_other_viewers() {
        assert_eq!(
            spec_urls_in_html(
                r#"<redoc spec-url="/openapi.yaml"></redoc><redoc spec-url='/openapi.yaml'>"#
            ),
            vec!["/openapi.yaml"]
        );
        assert_eq!(
            spec_urls_in_html(r#"Redoc.init('https://x.test/spec.json', {}, el)"#),
            vec!["https://x.test/spec.json"]
        );
        assert_eq!(
            spec_urls_in_html(
                r#"<elements-api apiDescriptionUrl="/api/openapi.json" router="hash" />"#
            ),
            vec!["/api/openapi.json"]
        );
        assert_eq!(
            spec_urls_in_html(r#"<script id="api-reference" data-url="/scalar.json"></script>"#),
            vec!["/scalar.json"]
        );
    }

    #[test]
    fn html_without_specs_and_templates() {
        assert!(spec_urls_in_html(
            "<html><body style=\"background:url('x.png')\">hi</body></html>"
        )
        .is_empty());
        assert!(spec_urls_in_html("url: \"{{ spec_url }}\"").is_empty());
        assert!(spec_urls_in_html("").is_empty());
    }

    #[test]
    fn sniffing_specs() {
        assert!(looks_like_spec(
            br#"{"info": {"openapi": 1}, "openapi": "3.0.0"}"#
        ));
        assert!(looks_like_spec(b"\xEF\xBB\xBF{\n \"swagger\" : \"2.0\"}"));
        assert!(!looks_like_spec(br#"{"info": {"openapi": "3.0.0"}}"#));
        assert!(!looks_like_spec(
            br#"{"x": "\"openapi\": 1", "y": ["openapi"]}"#
        ));
        assert!(looks_like_spec(
            b"# comment\n---\nopenapi: 3.1.0\ninfo: {}\n"
        ));
        assert!(looks_like_spec(b"\"swagger\": \"2.0\"\n"));
        assert!(!looks_like_spec(b"info:\n  openapi: 3.1.0\n"));
        assert!(!looks_like_spec(b"<!doctype html><title>openapi:</title>"));
        assert!(!looks_like_spec(b""));
        assert!(!looks_like_spec(b"{\"openapi"));
    }
}

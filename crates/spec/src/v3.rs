//! OpenAPI 3.0 / 3.1 specifics: `servers` (with variables), parameters described by `schema`
//! or `content`, `requestBody`, and responses by media type.

use crate::load::{kind, string, Loader, ParamOut, ResponseShape};
use crate::refs::{Broken, DocId};
use indexmap::IndexMap;
use middlebrick_model::{ParamLocation, Parameter, RequestBodySpec};
use serde_json::{Map, Value};
use url::Url;

/// Server URLs with variables substituted, and the base path (the path of the first one).
/// Relative server URLs are resolved against `origin` when the spec was fetched from a URL,
/// as a directory: an empty URL or `.` is the folder the document is served from, never the
/// document itself (connexion and several generators emit `""`). With no `servers` the
/// origin's root is the server, as OpenAPI 3 says.
pub(crate) fn servers(root: &Value, origin: Option<&Url>) -> (Vec<String>, String) {
    let mut out = Vec::new();
    if let Some(Value::Array(list)) = root.get("servers") {
        for server in list {
            if let Some(url) = server.get("url").and_then(Value::as_str) {
                out.push(substitute(url.trim(), server.get("variables")));
            }
        }
    }
    if out.is_empty() && origin.is_some() {
        out.push("/".to_string());
    }
    if let Some(origin) = origin {
        for url in out.iter_mut() {
            let relative = if url.is_empty() || url == "." {
                "./"
            } else {
                url.as_str()
            };
            if let Ok(joined) = origin.join(relative) {
                *url = joined.to_string();
            }
        }
    }
    let base = out
        .first()
        .map(|u| trim_base(url_path(u)))
        .unwrap_or_default();
    (out, base)
}

/// `{var}` -> the variable's default; unknown variables are left as written.
fn substitute(url: &str, variables: Option<&Value>) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let name = &rest[open + 1..close];
        let value = variables
            .and_then(|v| v.get(name))
            .and_then(|v| v.get("default"))
            .and_then(Value::as_str);
        out.push_str(&rest[..open]);
        match value {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The path part of an absolute or relative URL, without query or fragment.
fn url_path(url: &str) -> &str {
    let path = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("", |j| &after[j..])
        }
        None => url,
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// `/api/v1/` -> `/api/v1`, `/` -> ``, `v1` -> `/v1`.
pub(crate) fn trim_base(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() || trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// The media type a scanner should read first: a JSON one if any, else the first.
pub(crate) fn preferred_media<'a, I: Iterator<Item = &'a String> + Clone>(
    types: I,
) -> Option<&'a String> {
    types
        .clone()
        .find(|t| t.contains("json"))
        .or_else(|| types.clone().next())
}

fn location(o: &Map<String, Value>) -> Result<ParamLocation, Broken> {
    match o.get("in").and_then(Value::as_str) {
        Some("path") => Ok(ParamLocation::Path),
        Some("query") => Ok(ParamLocation::Query),
        Some("header") => Ok(ParamLocation::Header),
        Some("cookie") => Ok(ParamLocation::Cookie),
        other => Err(Broken::new(format!(
            "parameter `{}` is in `{}` (expected path, query, header or cookie)",
            o.get("name").and_then(Value::as_str).unwrap_or("?"),
            other.unwrap_or("?")
        ))),
    }
}

impl Loader {
    pub(crate) fn v3_param(&mut self, doc: DocId, v: &Value) -> Result<ParamOut, Broken> {
        let o = v.as_object().ok_or_else(|| {
            Broken::new(format!("a parameter is {}, expected a mapping", kind(v)))
        })?;
        let name = string(o.get("name")).ok_or_else(|| Broken::new("a parameter has no `name`"))?;
        let location = location(o)?;
        let schema = match (o.get("schema"), o.get("content")) {
            (Some(s), _) => self.schema(doc, s)?,
            (None, Some(Value::Object(content))) => {
                match content.values().next().and_then(|m| m.get("schema")) {
                    Some(s) => self.schema(doc, s)?,
                    None => self.empty_schema(),
                }
            }
            _ => self.empty_schema(),
        };
        let required = location == ParamLocation::Path
            || o.get("required").and_then(Value::as_bool).unwrap_or(false);
        let example = match o.get("example") {
            Some(e) => Some(e.clone()),
            None => self.first_example(doc, o.get("examples")),
        };
        Ok(ParamOut::Param(Parameter {
            name,
            location,
            required,
            schema,
            example,
        }))
    }

    /// The `value` of the first entry of an `examples` map (entries may be `$ref`s).
    fn first_example(&mut self, doc: DocId, examples: Option<&Value>) -> Option<Value> {
        let first = examples?.as_object()?.values().next()?;
        let r = self.deref(doc, first).ok()?;
        let value = r.held.get().get("value").cloned();
        value
    }

    pub(crate) fn v3_request_body(
        &mut self,
        doc: DocId,
        v: &Value,
    ) -> Result<RequestBodySpec, Broken> {
        let o = v.as_object().ok_or_else(|| {
            Broken::new(format!("`requestBody` is {}, expected a mapping", kind(v)))
        })?;
        let mut content = IndexMap::new();
        match o.get("content") {
            None => {}
            Some(Value::Object(media)) => {
                for (media_type, m) in media {
                    let schema = match m.get("schema") {
                        Some(s) => self
                            .schema(doc, s)
                            .map_err(|b| b.within(format_args!("`{media_type}`")))?,
                        None => self.empty_schema(),
                    };
                    content.insert(media_type.clone(), schema);
                }
            }
            Some(other) => {
                return Err(Broken::new(format!(
                    "`requestBody.content` is {}, expected a mapping",
                    kind(other)
                )))
            }
        }
        Ok(RequestBodySpec {
            required: o.get("required").and_then(Value::as_bool).unwrap_or(false),
            content,
        })
    }

    pub(crate) fn v3_response(&mut self, doc: DocId, v: &Value) -> Result<ResponseShape, Broken> {
        let o = v
            .as_object()
            .ok_or_else(|| Broken::new(format!("a response is {}, expected a mapping", kind(v))))?;
        let Some(Value::Object(content)) = o.get("content") else {
            return Ok((None, None));
        };
        let Some(media) = preferred_media(content.keys()) else {
            return Ok((None, None));
        };
        let schema = match content.get(media).and_then(|m| m.get("schema")) {
            Some(s) => Some(self.schema(doc, s)?),
            None => None,
        };
        Ok((Some(media.clone()), schema))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_variables_and_base_paths() {
        let root = json!({"servers": [
            {"url": "https://{region}.api.example.com/{version}/", "variables": {
                "region": {"default": "eu"}, "version": {"default": "v2"}}},
            {"url": "/relative"}
        ]});
        let (servers, base) = servers(&root, None);
        assert_eq!(servers, vec!["https://eu.api.example.com/v2/", "/relative"]);
        assert_eq!(base, "/v2");
        assert_eq!(substitute("https://{nope}.x/{", None), "https://{nope}.x/{");
    }

    #[test]
    fn relative_servers_resolve_against_the_origin() {
        let origin = Url::parse("https://api.example.com/docs/openapi.json").unwrap();
        let (servers, base) =
            super::servers(&json!({"servers": [{"url": "/api/v1/"}]}), Some(&origin));
        assert_eq!(servers, vec!["https://api.example.com/api/v1/"]);
        assert_eq!(base, "/api/v1");
        let (servers, base) = super::servers(&json!({}), Some(&origin));
        assert_eq!(servers, vec!["https://api.example.com/"]);
        assert_eq!(base, "");
        assert_eq!(super::servers(&json!({}), None), (vec![], String::new()));
    }

    #[test]
    fn empty_and_dot_servers_are_the_documents_folder() {
        let origin = Url::parse("http://127.0.0.1:8000/api/v2/openapi.json").unwrap();
        for url in ["", ".", "./", " "] {
            let (servers, base) =
                super::servers(&json!({"servers": [{"url": url}]}), Some(&origin));
            assert_eq!(servers, vec!["http://127.0.0.1:8000/api/v2/"], "{url:?}");
            assert_eq!(base, "/api/v2", "{url:?}");
        }
        let root = Url::parse("http://127.0.0.1:8000/openapi.json").unwrap();
        let (_, base) = super::servers(&json!({"servers": [{"url": ""}]}), Some(&root));
        assert_eq!(base, "");
        // A relative path without a slash is relative to the document's folder too.
        let (servers, _) = super::servers(&json!({"servers": [{"url": "v3"}]}), Some(&origin));
        assert_eq!(servers, vec!["http://127.0.0.1:8000/api/v2/v3"]);
    }

    #[test]
    fn a_server_on_another_host_keeps_its_own_url() {
        let origin = Url::parse("http://127.0.0.1:5000/static/openapi.json").unwrap();
        let root = json!({"servers": [{"url": "https://bank.example/"}]});
        let (servers, base) = super::servers(&root, Some(&origin));
        assert_eq!(servers, vec!["https://bank.example/"]);
        assert_eq!(base, "");
    }

    #[test]
    fn base_path_trimming() {
        assert_eq!(trim_base(url_path("https://h")), "");
        assert_eq!(trim_base(url_path("https://h/")), "");
        assert_eq!(trim_base(url_path("https://h/a/b/?x=1")), "/a/b");
        assert_eq!(trim_base(url_path("v1")), "/v1");
    }
}

//! Swagger 2.0 specifics: `schemes`/`host`/`basePath`, parameters that carry their schema
//! keywords directly, `in: body` and `in: formData` parameters folded into a request body
//! (media types from `consumes`), and responses typed by `produces`.

use crate::load::{kind, string, Loader, ParamOut, ResponseShape};
use crate::refs::{Broken, DocId};
use crate::v3::{preferred_media, trim_base};
use indexmap::IndexMap;
use middlebrick_model::{ParamLocation, Parameter, RequestBodySpec, Schema, SchemaType};
use serde_json::Value;
use std::sync::Arc;
use url::Url;

const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";
const JSON: &str = "application/json";

/// `scheme://host/basePath` for each scheme. Without `host` the spec is served by the API
/// itself, so the origin's host is the server (when the spec was fetched from a URL).
pub(crate) fn servers(root: &Value, origin: Option<&Url>) -> (Vec<String>, String) {
    let base = trim_base(root.get("basePath").and_then(Value::as_str).unwrap_or(""));
    let host = root.get("host").and_then(Value::as_str);
    let mut schemes = crate::load::strings(root.get("schemes"));
    let servers = match (host, origin) {
        (Some(host), _) => {
            if schemes.is_empty() {
                schemes.push(origin.map_or("https", |o| o.scheme()).to_string());
            }
            schemes
                .iter()
                .map(|s| format!("{s}://{host}{base}"))
                .collect()
        }
        (None, Some(origin)) => match origin.host_str() {
            Some(h) => {
                let port = origin.port().map(|p| format!(":{p}")).unwrap_or_default();
                vec![format!("{}://{h}{port}{base}", origin.scheme())]
            }
            None => Vec::new(),
        },
        (None, None) => Vec::new(),
    };
    (servers, base)
}

impl Loader {
    pub(crate) fn v2_param(&mut self, doc: DocId, v: &Value) -> Result<ParamOut, Broken> {
        let o = v.as_object().ok_or_else(|| {
            Broken::new(format!("a parameter is {}, expected a mapping", kind(v)))
        })?;
        let name = string(o.get("name")).ok_or_else(|| Broken::new("a parameter has no `name`"))?;
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        let location = match o.get("in").and_then(Value::as_str) {
            Some("body") => {
                let schema = match o.get("schema") {
                    Some(s) => self.schema(doc, s)?,
                    None => self.empty_schema(),
                };
                return Ok(ParamOut::Body { schema, required });
            }
            Some("formData") => {
                return Ok(ParamOut::Form {
                    schema: self.schema_of_keywords(doc, o)?,
                    file: o.get("type").and_then(Value::as_str) == Some("file"),
                    name,
                    required,
                });
            }
            Some("path") => ParamLocation::Path,
            Some("query") => ParamLocation::Query,
            Some("header") => ParamLocation::Header,
            Some("cookie") => ParamLocation::Cookie,
            other => {
                return Err(Broken::new(format!(
                "parameter `{name}` is in `{}` (expected path, query, header, body or formData)",
                other.unwrap_or("?")
            )))
            }
        };
        Ok(ParamOut::Param(Parameter {
            schema: self.schema_of_keywords(doc, o)?,
            required: required || location == ParamLocation::Path,
            example: o.get("x-example").cloned(),
            name,
            location,
        }))
    }

    /// A response's schema; typed by `produces` (a JSON type if listed), or JSON when the
    /// response has a schema and the spec lists nothing.
    pub(crate) fn v2_response(
        &mut self,
        doc: DocId,
        v: &Value,
        produces: &[String],
    ) -> Result<ResponseShape, Broken> {
        let o = v
            .as_object()
            .ok_or_else(|| Broken::new(format!("a response is {}, expected a mapping", kind(v))))?;
        let Some(s) = o.get("schema") else {
            return Ok((None, None));
        };
        let schema = self.schema(doc, s)?;
        let media = preferred_media(produces.iter())
            .cloned()
            .unwrap_or_else(|| JSON.to_string());
        Ok((Some(media), Some(schema)))
    }
}

/// Folds `body` and `formData` parameters into one request body: the body schema under each
/// `consumes` type (JSON when none), the form fields as one object schema under the form type
/// `consumes` names (multipart when a field is a file, else URL-encoded).
pub(crate) fn request_body(parts: Vec<ParamOut>, consumes: &[String]) -> Option<RequestBodySpec> {
    let mut content = IndexMap::new();
    let mut required = false;
    let mut form = Schema::of_type(SchemaType::Object);
    let (mut has_form, mut has_file) = (false, false);
    for part in parts {
        match part {
            ParamOut::Body {
                schema,
                required: r,
            } => {
                required |= r;
                if consumes.is_empty() {
                    content.insert(JSON.to_string(), schema);
                } else {
                    for t in consumes {
                        content.insert(t.clone(), schema.clone());
                    }
                }
            }
            ParamOut::Form {
                name,
                schema,
                required: r,
                file,
            } => {
                has_form = true;
                has_file |= file;
                required |= r;
                if r {
                    form.required.push(name.clone());
                }
                form.properties.insert(name, schema);
            }
            ParamOut::Param(_) => {}
        }
    }
    if has_form {
        let declared = consumes
            .iter()
            .find(|t| t.starts_with(URLENCODED) || t.starts_with(MULTIPART));
        let media = match declared {
            Some(t) => t.clone(),
            None if has_file => MULTIPART.to_string(),
            None => URLENCODED.to_string(),
        };
        content.insert(media, Arc::new(form));
    }
    (!content.is_empty()).then_some(RequestBodySpec { required, content })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn servers_from_schemes_host_and_base_path() {
        let root = json!({"host": "api.example.com:8443", "basePath": "/v1/", "schemes": ["https", "http"]});
        let (servers, base) = servers(&root, None);
        assert_eq!(
            servers,
            vec![
                "https://api.example.com:8443/v1",
                "http://api.example.com:8443/v1"
            ]
        );
        assert_eq!(base, "/v1");
        let (servers, base) = super::servers(&json!({"basePath": "/"}), None);
        assert!(servers.is_empty());
        assert_eq!(base, "");
        let origin = Url::parse("http://localhost:5000/apispec_1.json").unwrap();
        let (servers, _) = super::servers(&json!({"basePath": "/api"}), Some(&origin));
        assert_eq!(servers, vec!["http://localhost:5000/api"]);
    }

    fn form(name: &str, file: bool) -> ParamOut {
        ParamOut::Form {
            name: name.into(),
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            required: true,
            file,
        }
    }

    #[test]
    fn form_fields_pick_the_form_media_type() {
        let body = request_body(vec![form("a", false)], &[]).unwrap();
        assert_eq!(body.content.keys().collect::<Vec<_>>(), vec![URLENCODED]);
        let body = request_body(vec![form("a", false), form("f", true)], &[]).unwrap();
        let schema = &body.content[MULTIPART];
        assert_eq!(schema.required, vec!["a", "f"]);
        let consumes = vec![MULTIPART.to_string(), URLENCODED.to_string()];
        let body = request_body(vec![form("a", false)], &consumes).unwrap();
        assert!(body.content.contains_key(MULTIPART));
        assert!(request_body(vec![], &consumes).is_none());
    }
}

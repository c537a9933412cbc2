//! Bytes to a `serde_json::Value` tree, JSON or YAML by sniffing the content (a spec served as
//! `/api-docs` has no extension, and `.json` files that are really YAML exist), and the spec
//! version read from the root.

use crate::error::SpecError;
use middlebrick_model::SpecVersion;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// The bytes after a UTF-8 byte-order mark and leading whitespace.
pub(crate) fn trim_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// JSON documents start with `{` or `[`; anything else is read as YAML (of which JSON is
/// nearly a subset, so a mis-sniff still parses).
pub(crate) fn sniff(bytes: &[u8]) -> Format {
    match trim_start(bytes).first() {
        Some(b'{') | Some(b'[') => Format::Json,
        _ => Format::Yaml,
    }
}

/// Parses a document. `origin` names it in the error.
pub(crate) fn parse(bytes: &[u8], origin: &str) -> Result<Value, SpecError> {
    let body = trim_start(bytes);
    let format = sniff(body);
    let result = match format {
        Format::Json => serde_json::from_slice::<Value>(body).map_err(|e| e.to_string()),
        Format::Yaml => parse_yaml(body),
    };
    match result {
        Ok(value) => Ok(value),
        // A flow-style YAML mapping also starts with `{`; give it a second chance.
        Err(json_err) if format == Format::Json => {
            parse_yaml(body).map_err(|_| syntax(origin, format, json_err))
        }
        Err(e) => Err(syntax(origin, format, e)),
    }
}

fn parse_yaml(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_yaml_ng::from_slice::<Value>(body).map_err(|e| e.to_string())
}

fn syntax(origin: &str, format: Format, message: String) -> SpecError {
    SpecError::Syntax {
        origin: origin.to_string(),
        format: format.name(),
        message,
    }
}

/// What the root declares. `Err` when it is not a spec or names a version we do not read;
/// the `Option<String>` is a warning for a newer 3.x minor read as 3.1.
pub(crate) fn version(
    root: &Value,
    origin: &str,
) -> Result<(SpecVersion, Option<String>), SpecError> {
    let not_a_spec = |reason: &str| SpecError::NotASpec {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let obj = root
        .as_object()
        .ok_or_else(|| not_a_spec("the document is not a mapping"))?;
    let (field, raw) = match (obj.get("openapi"), obj.get("swagger")) {
        (Some(v), _) => ("openapi", v),
        (None, Some(v)) => ("swagger", v),
        (None, None) => return Err(not_a_spec("no top-level `openapi` or `swagger` field")),
    };
    // YAML reads an unquoted `swagger: 2.0` or `openapi: 3.1` as a number.
    let text = match raw {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err(not_a_spec(&format!("`{field}` is not a version string"))),
    };
    let unsupported = || SpecError::UnsupportedVersion {
        origin: origin.to_string(),
        version: text.clone(),
    };
    if field == "swagger" {
        return if text == "2.0" || text == "2" {
            Ok((SpecVersion::Swagger2, None))
        } else {
            Err(unsupported())
        };
    }
    let mut parts = text.split('.');
    match (parts.next(), parts.next()) {
        (Some("3"), Some("0")) => Ok((SpecVersion::OpenApi30, None)),
        (Some("3"), Some("1")) => Ok((SpecVersion::OpenApi31, None)),
        (Some("3"), Some(minor)) if minor.chars().all(|c| c.is_ascii_digit()) => Ok((
            SpecVersion::OpenApi31,
            Some(format!(
                "OpenAPI {text} is read as 3.1; newer features are ignored"
            )),
        )),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sniffs_by_content_not_extension() {
        assert_eq!(sniff(b"\xEF\xBB\xBF  \n{\"a\":1}"), Format::Json);
        assert_eq!(sniff(b"openapi: 3.0.0"), Format::Yaml);
        assert_eq!(parse(b"{a: 1}", "x").unwrap(), json!({"a": 1}));
        assert!(matches!(
            parse(b"{\"a\": ", "spec.json"),
            Err(SpecError::Syntax { format: "JSON", .. })
        ));
    }

    #[test]
    fn yaml_status_keys_become_strings() {
        let v = parse(
            b"responses:\n  200: {description: ok}\n  default: {}\n",
            "x",
        )
        .unwrap();
        assert!(v["responses"]["200"].is_object());
    }

    #[test]
    fn versions() {
        let v = |doc: Value| version(&doc, "o").map(|(v, w)| (v, w.is_some()));
        assert_eq!(
            v(json!({"swagger": "2.0"})).unwrap(),
            (SpecVersion::Swagger2, false)
        );
        assert_eq!(
            v(json!({"swagger": 2.0})).unwrap(),
            (SpecVersion::Swagger2, false)
        );
        assert_eq!(
            v(json!({"openapi": "3.0.3"})).unwrap(),
            (SpecVersion::OpenApi30, false)
        );
        assert_eq!(
            v(json!({"openapi": 3.1})).unwrap(),
            (SpecVersion::OpenApi31, false)
        );
        assert_eq!(
            v(json!({"openapi": "3.2.0"})).unwrap(),
            (SpecVersion::OpenApi31, true)
        );
        assert!(matches!(
            v(json!({"openapi": "4.0"})),
            Err(SpecError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            v(json!({"swagger": "1.2"})),
            Err(SpecError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            v(json!({"info": {}})),
            Err(SpecError::NotASpec { .. })
        ));
        assert!(matches!(v(json!([1])), Err(SpecError::NotASpec { .. })));
    }
}

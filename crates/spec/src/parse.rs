//! Bytes to a `serde_json::Value` tree, JSON or YAML by sniffing the content (a spec served as
//! `/api-docs` has no extension, and `.json` files that are really YAML exist), and the spec
//! version read from the root.

use crate::error::SpecError;
use middlebrick_model::SpecVersion;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

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

/// Flow nesting (`[[[[…`) beyond which YAML is refused unread: the YAML reader would refuse it
/// anyway (its recursion limit is 128), but only after a scan that is quadratic in the depth,
/// which lets a 100 KB document cost seconds.
const MAX_FLOW_DEPTH: usize = 512;

fn parse_yaml(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    if flow_depth_exceeds(body, MAX_FLOW_DEPTH) {
        return Err(format!(
            "nesting deeper than {MAX_FLOW_DEPTH} levels of `[` / `{{`"
        ));
    }
    serde_yaml_ng::from_slice::<Tree>(body)
        .map(|t| t.0)
        .map_err(|e| e.to_string())
}

/// A bracket count that ignores quoting: it can only overestimate the real nesting, and
/// prose with hundreds of unmatched brackets does not occur in specs.
fn flow_depth_exceeds(body: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    for b in body {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A `Value` built from YAML. serde_json's own `Value` refuses integers wider than 64 bits and
/// non-string keys, and YAML has both (DigitalOcean writes `maximum: 18446744073709552000`;
/// status codes are integer keys). Wide integers become floats; keys keep their text.
struct Tree(Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| float(v as f64), Value::from))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or_else(|_| float(v as f64), Value::from))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Tree::deserialize(d).map(|t| t.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Tree(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Key(k)) = map.next_key()? {
            let Tree(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Non-finite floats (`.inf`, `.nan`) have no JSON form; they read as null.
fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A mapping key as written: asking for a string makes the YAML reader hand over a scalar's
/// text (`200`, `1.0`, `true`) instead of its typed value.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor).map(Key)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_string())
    }
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
    fn yaml_wide_integers_and_odd_keys() {
        let v = parse(
            b"max: 18446744073709552000\nneg: -170141183460469231731687303715884105728\n\
              1.0: a\ntrue: b\n~: c\ninf: .inf\n",
            "x",
        )
        .unwrap();
        assert_eq!(v["max"].as_f64(), Some(18446744073709552000.0));
        assert!(v["neg"].as_f64().unwrap() < -1e38);
        assert_eq!(v["1.0"], "a");
        assert_eq!(v["true"], "b");
        assert!(v.get("~").is_some() || v.get("null").is_some());
        assert_eq!(v["inf"], Value::Null);
        assert!(parse(b"? [a, b]\n: c\n", "x").is_err());
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

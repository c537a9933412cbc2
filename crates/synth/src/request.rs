//! The valid request for an operation: every path parameter filled (a harvested id first), the
//! required query, header and cookie parameters plus optional ones the spec gives a value for,
//! and a body for the first media type we can encode, with a check's overrides applied.
//! Parameters that carry credentials (`api_key`, `X-Auth-Token`, `session`) are left to the
//! engine, which attaches the identity's real ones, unless an override sets them.
//!
//! Multipart bodies are encoded as real `multipart/form-data` (a `Raw` body with a boundary),
//! not as url-encoded fields: upload endpoints (FastAPI `UploadFile`, Spring `MultipartFile`,
//! multer) reject anything else. JSON media types other than `application/json`
//! (`application/vnd.api+json`, `application/merge-patch+json`) keep their own content type
//! in a `Raw` body, because servers that declare them answer 415 to plain JSON.

use crate::convention::TEXT;
use crate::names::{is_id_like, is_keyish, is_secret_name, normalize};
use crate::path::{fill_path, placeholders};
use crate::pool::{find_param, scalar_text, IdPool};
use crate::value::Gen;
use middlebrick_model::{
    Operation, ParamLocation, Parameter, RequestBody, RequestSpec, Schema, SchemaType,
};
use serde_json::{Map, Value};

const BOUNDARY: &str = "middlebrick-7f3a9c2e41";

/// Changes to the valid request: parameters and JSON-body properties set or dropped, and the
/// salt for values that must be unique per account. The fields mirror the checks crate's
/// `Overrides`, so the engine converts one into the other field by field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Parameters by location and name (header names ignore case): `Some` sets the value (a
    /// parameter the spec does not declare is added), `None` drops it (an empty segment for a
    /// path parameter). The last entry for a parameter wins.
    pub params: Vec<(ParamLocation, String, Option<Value>)>,
    /// Body properties by path (`["address", "zip"]`, array items by index): `Some` sets,
    /// `None` drops. An empty path stands for the whole body (`None`: send no body). Applied
    /// in order, before the body is encoded, so they work for form and multipart bodies too.
    pub body: Vec<(Vec<String>, Option<Value>)>,
    /// Changes the values that must be unique per account (email, username, slug); the same
    /// salt always gives the same values.
    pub salt: u64,
}

impl Overrides {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn set_param(&mut self, location: ParamLocation, name: &str, value: Value) {
        self.params.push((location, name.to_string(), Some(value)));
    }

    pub fn drop_param(&mut self, location: ParamLocation, name: &str) {
        self.params.push((location, name.to_string(), None));
    }

    /// Sets a body property: `set_body(["address", "zip"], json!("10001"))`.
    pub fn set_body<S: Into<String>>(&mut self, path: impl IntoIterator<Item = S>, value: Value) {
        self.body
            .push((path.into_iter().map(Into::into).collect(), Some(value)));
    }

    pub fn drop_body<S: Into<String>>(&mut self, path: impl IntoIterator<Item = S>) {
        self.body
            .push((path.into_iter().map(Into::into).collect(), None));
    }

    pub fn with_salt(mut self, salt: u64) -> Self {
        self.salt = salt;
        self
    }

    fn param(&self, location: ParamLocation, name: &str) -> Option<Option<&Value>> {
        self.params
            .iter()
            .rev()
            .find(|(l, n, _)| *l == location && same_name(location, n, name))
            .map(|(_, _, v)| v.as_ref())
    }
}

fn same_name(location: ParamLocation, a: &str, b: &str) -> bool {
    match location {
        ParamLocation::Header => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// A valid request for `op` as `identity` (see the module header); `operation` is set to
/// `op.key()`.
pub fn synthesize(
    op: &Operation,
    pool: &IdPool,
    identity: &str,
    overrides: &Overrides,
) -> RequestSpec {
    let known = |name: &str, schema: &Schema| pool.for_property(name, schema, identity);
    let gen = Gen {
        salt: overrides.salt,
        known: Some(&known),
    };

    let mut chosen: Vec<(String, String)> = Vec::new();
    for name in placeholders(&op.path) {
        let text = match overrides.param(ParamLocation::Path, name) {
            Some(Some(v)) => joined_text(v),
            Some(None) => String::new(),
            None => {
                let found = pool.ranked(op, name, identity, &chosen).into_iter().next();
                match found {
                    Some((v, _)) => scalar_text(&v),
                    None => joined_text(&declared_value(find_param(op, name), name, &gen)),
                }
            }
        };
        chosen.push((name.to_string(), text));
    }

    let mut req = RequestSpec::new(op.method, fill_path(&op.path, &chosen)).as_identity(identity);
    req.operation = Some(op.key());

    for p in op
        .parameters
        .iter()
        .filter(|p| p.location != ParamLocation::Path)
    {
        let value = match overrides.param(p.location, &p.name) {
            Some(v) => v.cloned(),
            None if p.location == ParamLocation::Header && is_ignored_header(&p.name) => None,
            // Credentials are the engine's to attach; an invented one beside the real one
            // would only make the request fail authentication.
            None if is_secret_name(&p.name) => None,
            None => param_value(op, p, pool, identity, &gen),
        };
        if let Some(v) = value {
            push_param(&mut req, p.location, &p.name, &v);
        }
    }
    let mut added: Vec<(ParamLocation, &str)> = Vec::new();
    for (location, name, _) in &overrides.params {
        let declared = op
            .parameters
            .iter()
            .any(|p| p.location == *location && same_name(*location, &p.name, name));
        let seen = added
            .iter()
            .any(|(l, n)| l == location && same_name(*location, n, name));
        if declared || seen || *location == ParamLocation::Path {
            continue;
        }
        added.push((*location, name));
        if let Some(Some(v)) = overrides.param(*location, name) {
            push_param(&mut req, *location, name, v);
        }
    }

    req.body = body(op, &gen, overrides);
    if let Some(g) = &op.graphql {
        wrap_graphql(&mut req, g);
    }
    req
}

/// A GraphQL operation's arguments, synthesized and overridden as a JSON body like any other,
/// travel as the `variables` of its document: `{"query": "query($id: ID!) { order(id: $id)
/// { … } }", "variables": {"id": 7}}`.
fn wrap_graphql(req: &mut RequestSpec, g: &middlebrick_model::GraphqlOperation) {
    let variables = match req.body.take() {
        Some(RequestBody::Json(v @ Value::Object(_))) => v,
        Some(RequestBody::Raw { body, .. }) => {
            serde_json::from_str(&body).unwrap_or_else(|_| Value::Object(Map::new()))
        }
        _ => Value::Object(Map::new()),
    };
    let mut wrapped = Map::new();
    wrapped.insert("query".into(), Value::String(g.document()));
    wrapped.insert("variables".into(), variables);
    req.body = Some(RequestBody::Json(Value::Object(wrapped)));
    req.graphql = Some(g.request());
}

/// OpenAPI ignores header parameters with these names: the client and the engine set them.
fn is_ignored_header(name: &str) -> bool {
    ["accept", "content-type", "authorization"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// A query, header or cookie parameter's value: required ones always, optional ones when the
/// spec gives an example or default. Id-like and key-like names prefer a harvested value.
fn param_value(
    op: &Operation,
    p: &Parameter,
    pool: &IdPool,
    identity: &str,
    gen: &Gen,
) -> Option<Value> {
    let s = &p.schema;
    let offered = p.example.is_some() || s.example.is_some() || s.default.is_some();
    if !p.required && !offered {
        return None;
    }
    if !is_secret_name(&p.name) && (is_id_like(&p.name) || is_keyish(&normalize(&p.name))) {
        if let Some((v, _)) = pool.ranked(op, &p.name, identity, &[]).into_iter().next() {
            return Some(v);
        }
    }
    Some(declared_value(Some(p), &p.name, gen))
}

/// The parameter's own example when it fits, else a value for its schema (an undeclared path
/// parameter is treated as an untyped one).
fn declared_value(p: Option<&Parameter>, name: &str, gen: &Gen) -> Value {
    let Some(p) = p else {
        return gen.value(&Schema::default(), Some(name), 0);
    };
    if let Some(ex) = p
        .example
        .as_ref()
        .filter(|v| crate::fits::fits(&p.schema, v))
    {
        return ex.clone();
    }
    gen.value(&p.schema, Some(name), 0)
}

/// A value as one parameter string: arrays comma-joined (the `simple` style), objects as JSON.
fn joined_text(v: &Value) -> String {
    match v {
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        other => scalar_text(other),
    }
}

/// Adds a parameter; in the query, arrays repeat the name and objects spread their properties
/// (the `form` style with `explode`, OpenAPI's default for queries).
fn push_param(req: &mut RequestSpec, location: ParamLocation, name: &str, v: &Value) {
    let target = match location {
        ParamLocation::Query => &mut req.query,
        ParamLocation::Header => &mut req.headers,
        ParamLocation::Cookie => &mut req.cookies,
        ParamLocation::Path => return,
    };
    match (location, v) {
        (ParamLocation::Query, Value::Array(items)) => {
            target.extend(items.iter().map(|i| (name.to_string(), scalar_text(i))));
        }
        (ParamLocation::Query, Value::Object(map)) => {
            target.extend(map.iter().map(|(k, i)| (k.clone(), scalar_text(i))));
        }
        _ => target.push((name.to_string(), joined_text(v))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Media {
    Json,
    OtherJson,
    Form,
    Multipart,
    Text,
    Binary,
}

fn media_kind(media_type: &str) -> Option<Media> {
    let mt = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match mt.as_str() {
        "application/json" | "*/*" | "application/*" => Media::Json,
        "application/x-www-form-urlencoded" => Media::Form,
        "text/plain" => Media::Text,
        "application/octet-stream" => Media::Binary,
        m if m.ends_with("+json") || m.ends_with("/json") => Media::OtherJson,
        m if m.starts_with("multipart/") => Media::Multipart,
        _ => return None,
    })
}

fn body(op: &Operation, gen: &Gen, overrides: &Overrides) -> Option<RequestBody> {
    let chosen = op.request_body.as_ref().and_then(|b| {
        b.content
            .iter()
            .find_map(|(mt, s)| media_kind(mt).map(|k| (mt.as_str(), k, &**s)))
    });
    let empty = Schema::of_type(SchemaType::Object);
    let (mt, kind, schema) = match chosen {
        Some(c) => c,
        None if overrides.body.is_empty() => return None,
        None => ("application/json", Media::Json, &empty),
    };
    let mut value = match kind {
        Media::Binary => Value::String(TEXT.into()),
        _ => gen.value(schema, None, 0),
    };
    for (path, v) in &overrides.body {
        if path.is_empty() && v.is_none() {
            return None;
        }
        set_path(&mut value, path, v.as_ref());
    }
    Some(encode(kind, mt, value, schema))
}

/// Sets (`Some`) or removes (`None`) the value at `path`, creating objects on the way when
/// setting; an empty path replaces the whole value.
fn set_path(root: &mut Value, path: &[String], value: Option<&Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(v) = value {
            *root = v.clone();
        }
        return;
    };
    let mut cur = root;
    for seg in parents {
        if value.is_some() && !cur.is_object() && !cur.is_array() {
            *cur = Value::Object(Map::new());
        }
        let next = match (cur, value.is_some()) {
            (Value::Object(m), true) => Some(
                m.entry(seg.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
            ),
            (Value::Object(m), false) => m.get_mut(seg),
            (Value::Array(a), _) => seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if value.is_some() && !cur.is_object() && !cur.is_array() {
        *cur = Value::Object(Map::new());
    }
    match (cur, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.clone(), v.clone());
        }
        (Value::Object(m), None) => {
            m.shift_remove(last);
        }
        (Value::Array(a), v) => {
            let Ok(i) = last.parse::<usize>() else { return };
            match v {
                Some(v) if i < a.len() => a[i] = v.clone(),
                Some(v) if i == a.len() => a.push(v.clone()),
                None if i < a.len() => {
                    a.remove(i);
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn encode(kind: Media, media_type: &str, value: Value, schema: &Schema) -> RequestBody {
    match kind {
        Media::Json => RequestBody::Json(value),
        Media::OtherJson => RequestBody::Raw {
            content_type: media_type.to_string(),
            body: value.to_string(),
        },
        Media::Form => RequestBody::Form(form_fields(&value)),
        Media::Multipart => RequestBody::Raw {
            content_type: format!("multipart/form-data; boundary={BOUNDARY}"),
            body: multipart(&value, schema),
        },
        Media::Text => RequestBody::Raw {
            content_type: "text/plain".to_string(),
            body: scalar_text(&value),
        },
        Media::Binary => RequestBody::Raw {
            content_type: media_type.to_string(),
            body: scalar_text(&value),
        },
    }
}

/// Top-level properties as fields: arrays repeat the name, nested objects travel as JSON text
/// and nulls are left out.
fn form_fields(value: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), scalar_text(i)))),
            other => out.push((k.clone(), scalar_text(other))),
        }
    }
    out
}

/// A `multipart/form-data` body: one part per field, file parts for `format: binary`.
fn multipart(value: &Value, schema: &Schema) -> String {
    let mut out = String::new();
    for (name, text) in form_fields(value) {
        let prop = schema.properties.get(&name);
        let item = prop.and_then(|p| p.items.as_ref().or(Some(p)));
        let binary = item.is_some_and(|s| matches!(s.format.as_deref(), Some("binary" | "base64")));
        out.push_str(&format!("--{BOUNDARY}\r\n"));
        if binary {
            out.push_str(&format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"middlebrick.txt\"\r\n\
                 Content-Type: text/plain\r\n\r\n{text}\r\n",
                quote(&name)
            ));
        } else {
            out.push_str(&format!(
                "Content-Disposition: form-data; name=\"{}\"\r\n\r\n{text}\r\n",
                quote(&name)
            ));
        }
    }
    out.push_str(&format!("--{BOUNDARY}--\r\n"));
    out
}

/// A field name inside a quoted-string header parameter (RFC 7578 §4.2 escapes `"` as `%22`).
fn quote(name: &str) -> String {
    name.replace('"', "%22").replace(['\r', '\n'], " ")
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

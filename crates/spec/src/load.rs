//! The walk from a parsed root to an [`Inventory`]: version, servers, security schemes, then
//! each operation on its own, so one broken operation becomes a diagnostic and is skipped.
//!
//! Version-specific reading (parameters, bodies, responses) lives in `v2.rs` / `v3.rs`; both
//! feed the merge of path-level and operation-level parameters done here.

use crate::error::SpecError;
use crate::parse;
use crate::refs::{escape_token, Broken, DocId, Docs, Held, Key};
use crate::schema::SchemaCache;
use crate::security;
use indexmap::IndexMap;
use middlebrick_model::{
    Diagnostic, Inventory, Method, Operation, Parameter, RequestBodySpec, ResponseSpec, Schema,
    SecurityRequirement, SpecVersion,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Longest chain of `$ref` to `$ref` followed before calling it a loop.
const MAX_REF_HOPS: usize = 16;

const METHODS: [(&str, Method); 8] = [
    ("get", Method::Get),
    ("put", Method::Put),
    ("post", Method::Post),
    ("delete", Method::Delete),
    ("options", Method::Options),
    ("head", Method::Head),
    ("patch", Method::Patch),
    ("trace", Method::Trace),
];

/// One parameter as read, before it is placed: 2.0 `body` and `formData` parameters become
/// (part of) the request body rather than parameters.
#[derive(Debug, Clone)]
pub(crate) enum ParamOut {
    Param(Parameter),
    Body {
        schema: Arc<Schema>,
        required: bool,
    },
    Form {
        name: String,
        schema: Arc<Schema>,
        required: bool,
        file: bool,
    },
}

impl ParamOut {
    /// Identity for the path-level / operation-level merge (name + location).
    fn identity(&self) -> (String, &'static str) {
        match self {
            ParamOut::Param(p) => (p.name.clone(), location_name(p)),
            // 2.0 allows one body parameter: an operation-level one replaces the path-level one.
            ParamOut::Body { .. } => (String::new(), "body"),
            ParamOut::Form { name, .. } => (name.clone(), "formData"),
        }
    }
}

fn location_name(p: &Parameter) -> &'static str {
    match p.location {
        middlebrick_model::ParamLocation::Path => "path",
        middlebrick_model::ParamLocation::Query => "query",
        middlebrick_model::ParamLocation::Header => "header",
        middlebrick_model::ParamLocation::Cookie => "cookie",
    }
}

/// What a response contributes: its (preferred) media type and that media type's schema.
pub(crate) type ResponseShape = (Option<String>, Option<Arc<Schema>>);

/// A node reached through `deref`: its document, the key when a `$ref` was followed (for
/// caching), and the node itself.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub doc: DocId,
    pub key: Option<Key>,
    pub held: Held<'a>,
}

#[derive(Debug)]
pub(crate) struct Loader {
    pub docs: Docs,
    pub version: SpecVersion,
    pub schemas: SchemaCache,
    pub diagnostics: Vec<Diagnostic>,
    params: HashMap<Key, Result<ParamOut, Broken>>,
    responses: HashMap<Key, Result<ResponseShape, Broken>>,
    bodies: HashMap<Key, Result<RequestBodySpec, Broken>>,
}

/// Parses and loads a spec; `path` is set when it came from a file (relative refs followed).
pub(crate) fn load(bytes: &[u8], label: &str, path: Option<&Path>) -> Result<Inventory, SpecError> {
    let root = parse::parse(bytes, label)?;
    let (version, warning) = parse::version(&root, label)?;
    let mut loader = Loader {
        docs: Docs::new(root, label, path),
        version,
        schemas: SchemaCache::default(),
        diagnostics: Vec::new(),
        params: HashMap::new(),
        responses: HashMap::new(),
        bodies: HashMap::new(),
    };
    if let Some(w) = warning {
        loader
            .diagnostics
            .push(Diagnostic::warning("spec.version", w));
    }
    let root = loader.docs.doc(0).value.clone();
    let mut inv = Inventory::empty(version);
    inv.title = root
        .get("info")
        .and_then(|i| i.get("title"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let origin = path
        .is_none()
        .then(|| url::Url::parse(label).ok())
        .flatten();
    (inv.servers, inv.base_path) = match version {
        SpecVersion::Swagger2 => crate::v2::servers(&root, origin.as_ref()),
        _ => crate::v3::servers(&root, origin.as_ref()),
    };
    inv.security_schemes = loader.security_schemes(&root);
    let global = match root.get("security") {
        None => None,
        Some(v) => match security::requirements(v) {
            Ok(reqs) => Some(reqs),
            Err(b) => {
                loader.diagnostics.push(Diagnostic::warning(
                    "spec.broken-security",
                    format!("{label}: top-level `security` ignored: {}", b.0),
                ));
                None
            }
        },
    };
    inv.operations = loader.operations(&root, label, &global);
    if loader.schemas.depth_cuts > 0 {
        loader.diagnostics.push(Diagnostic::info(
            "spec.deep-schema",
            format!(
                "{} schema(s) nest deeper than {} levels and were cut there",
                loader.schemas.depth_cuts,
                crate::schema::MAX_DEPTH
            ),
        ));
    }
    inv.diagnostics = std::mem::take(&mut loader.docs.diagnostics);
    inv.diagnostics.append(&mut loader.diagnostics);
    Ok(inv)
}

impl Loader {
    /// Follows `$ref` chains from `v` (found in `doc`) to the node they end at.
    pub(crate) fn deref<'a>(&mut self, doc: DocId, v: &'a Value) -> Result<Resolved<'a>, Broken> {
        let mut out = Resolved {
            doc,
            key: None,
            held: Held::Here(v),
        };
        for _ in 0..MAX_REF_HOPS {
            let next = match out.held.get().get("$ref") {
                None => return Ok(out),
                Some(Value::String(r)) => r.clone(),
                Some(_) => return Err(Broken::new("`$ref` is not a string")),
            };
            let key = self.docs.resolve(out.doc, &next)?;
            out.held = self.docs.held(&key);
            out.doc = key.doc;
            out.key = Some(key);
        }
        Err(Broken::new(format!(
            "more than {MAX_REF_HOPS} `$ref`s in a row (a reference loop?)"
        )))
    }

    fn operations(
        &mut self,
        root: &Value,
        label: &str,
        global: &Option<Vec<SecurityRequirement>>,
    ) -> Vec<Operation> {
        let mut ops = Vec::new();
        let paths = match root.get("paths") {
            None => return ops,
            Some(Value::Object(paths)) => paths,
            Some(_) => {
                self.diagnostics.push(Diagnostic::error(
                    "spec.broken-paths",
                    format!("{label}: `paths` is not a mapping; no operations loaded"),
                ));
                return ops;
            }
        };
        for (path, item) in paths {
            if path.starts_with("x-") {
                continue;
            }
            if let Err(b) = self.path_item(path, item, label, global, &mut ops) {
                self.broken(path, &b);
            }
        }
        ops
    }

    fn path_item(
        &mut self,
        path: &str,
        item: &Value,
        label: &str,
        global: &Option<Vec<SecurityRequirement>>,
        ops: &mut Vec<Operation>,
    ) -> Result<(), Broken> {
        let item = self.deref(0, item)?;
        let item_doc = item.doc;
        let item = item.held.get();
        let item = item
            .as_object()
            .ok_or_else(|| Broken::new("the path item is not a mapping"))?;
        let shared = item.get("parameters");
        for (name, method) in METHODS {
            let Some(op) = item.get(name) else { continue };
            let key = format!("{method} {path}");
            match self.operation(item_doc, path, method, op, shared, global) {
                Ok(mut op) => {
                    op.source = Some(format!("{label}#/paths/{}/{name}", escape_token(path)));
                    ops.push(op);
                }
                Err(b) => self.broken(&key, &b),
            }
        }
        Ok(())
    }

    fn broken(&mut self, key: &str, b: &Broken) {
        self.diagnostics.push(
            Diagnostic::warning("spec.broken-operation", format!("{key} skipped: {}", b.0))
                .on(key)
                .hint("fix this operation in the spec; the rest of the API is loaded"),
        );
    }

    fn operation(
        &mut self,
        item_doc: DocId,
        path: &str,
        method: Method,
        op: &Value,
        shared: Option<&Value>,
        global: &Option<Vec<SecurityRequirement>>,
    ) -> Result<Operation, Broken> {
        let resolved = self.deref(item_doc, op)?;
        let op_doc = resolved.doc;
        let o = resolved.held.get();
        let o = o
            .as_object()
            .ok_or_else(|| Broken::new("the operation is not a mapping"))?;
        let mut out = Operation::new(method, path);
        out.operation_id = string(o.get("operationId"));
        out.summary = string(o.get("summary"));
        // Only its opening words are read (`model::danger`): a long description is not kept.
        out.description = string(o.get("description")).map(|d| d.chars().take(160).collect());
        out.tags = strings(o.get("tags"));
        out.deprecated = o
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false);

        let params = [(item_doc, shared), (op_doc, o.get("parameters"))];
        let (parameters, body_parts) = self.parameters(params)?;
        out.parameters = parameters;
        if self.version == SpecVersion::Swagger2 {
            let consumes = self.inherited(o, "consumes");
            out.request_body = crate::v2::request_body(body_parts, &consumes);
            let produces = self.inherited(o, "produces");
            out.responses = self.responses(op_doc, o.get("responses"), &produces)?;
        } else {
            // `requestBody: null` is not OpenAPI, but validators that rewrite the document they
            // serve (express-openapi-validator) emit it on every GET: read it as absent.
            if o.get("requestBody").is_some_and(Value::is_null) {
                let key = Operation::new(method, path.to_string()).key();
                self.diagnostics.push(
                    Diagnostic::info(
                        "spec.null-request-body",
                        format!("{key}: `requestBody` is null; read as no request body"),
                    )
                    .on(&key),
                );
            }
            if let Some(body) = o.get("requestBody").filter(|v| !v.is_null()) {
                let body = self
                    .request_body(op_doc, body)
                    .map_err(|b| b.within("requestBody"))?;
                out.request_body = Some(body);
            }
            out.responses = self.responses(op_doc, o.get("responses"), &[])?;
        }
        out.security = match o.get("security") {
            Some(v) => Some(security::requirements(v)?),
            None => global.clone(),
        };
        Ok(out)
    }

    /// Path-level then operation-level parameters, the latter replacing the former by name
    /// and location; 2.0 `body` / `formData` ones are returned apart, for the request body.
    fn parameters(
        &mut self,
        lists: [(DocId, Option<&Value>); 2],
    ) -> Result<(Vec<Parameter>, Vec<ParamOut>), Broken> {
        let mut merged: IndexMap<(String, &'static str), ParamOut> = IndexMap::new();
        for (doc, list) in lists {
            for p in params_list(list)? {
                let label = ["name", "$ref"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str))
                    .unwrap_or("?");
                let p = self
                    .param(doc, p)
                    .map_err(|b| b.within(format_args!("parameter `{label}`")))?;
                merged.insert(p.identity(), p);
            }
        }
        let (mut params, mut body_parts) = (Vec::new(), Vec::new());
        for p in merged.into_values() {
            match p {
                // OpenAPI 3 says these header parameters are ignored; filling them from a
                // schema would clobber the credentials and content type the engine sets.
                ParamOut::Param(p)
                    if self.version != SpecVersion::Swagger2 && ignored_header(&p) => {}
                ParamOut::Param(p) => params.push(p),
                other => body_parts.push(other),
            }
        }
        Ok((params, body_parts))
    }

    /// A 2.0 list (`consumes`, `produces`) from the operation, else from the root.
    fn inherited(&self, op: &Map<String, Value>, field: &str) -> Vec<String> {
        match op.get(field) {
            Some(v) => strings(Some(v)),
            None => strings(self.docs.doc(0).value.get(field)),
        }
    }

    /// A parameter, cached when it was reached through a `$ref` (shared parameters such as
    /// pagination are used by hundreds of operations).
    fn param(&mut self, doc: DocId, v: &Value) -> Result<ParamOut, Broken> {
        let r = self.deref(doc, v)?;
        if let Some(hit) = r.key.as_ref().and_then(|k| self.params.get(k)) {
            return hit.clone();
        }
        let value = r.held.get();
        let out = match self.version {
            SpecVersion::Swagger2 => self.v2_param(r.doc, value),
            _ => self.v3_param(r.doc, value),
        };
        if let Some(k) = r.key {
            self.params.insert(k, out.clone());
        }
        out
    }

    fn responses(
        &mut self,
        doc: DocId,
        v: Option<&Value>,
        produces: &[String],
    ) -> Result<Vec<ResponseSpec>, Broken> {
        let map = match v {
            None => return Ok(Vec::new()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(Broken::new(format!(
                    "`responses` is {}, expected a mapping",
                    kind(other)
                )))
            }
        };
        let mut out = Vec::with_capacity(map.len());
        for (status, r) in map {
            if status.starts_with("x-") {
                continue;
            }
            let (media_type, schema) = self
                .response(doc, r, produces)
                .map_err(|b| Broken(format!("response `{status}`: {}", b.0)))?;
            out.push(ResponseSpec {
                status: status.clone(),
                media_type,
                schema,
            });
        }
        Ok(out)
    }

    /// A response's first media type and schema, cached by `$ref` like parameters.
    fn response(
        &mut self,
        doc: DocId,
        v: &Value,
        produces: &[String],
    ) -> Result<ResponseShape, Broken> {
        let r = self.deref(doc, v)?;
        if let Some(hit) = r.key.as_ref().and_then(|k| self.responses.get(k)) {
            return hit.clone();
        }
        let value = r.held.get();
        let out = match self.version {
            SpecVersion::Swagger2 => self.v2_response(r.doc, value, produces),
            _ => self.v3_response(r.doc, value),
        };
        if let Some(k) = r.key {
            self.responses.insert(k, out.clone());
        }
        out
    }

    /// A 3.x request body, cached by `$ref` like parameters.
    fn request_body(&mut self, doc: DocId, v: &Value) -> Result<RequestBodySpec, Broken> {
        let r = self.deref(doc, v)?;
        if let Some(hit) = r.key.as_ref().and_then(|k| self.bodies.get(k)) {
            return hit.clone();
        }
        let out = self.v3_request_body(r.doc, r.held.get());
        if let Some(k) = r.key {
            self.bodies.insert(k, out.clone());
        }
        out
    }
}

fn ignored_header(p: &Parameter) -> bool {
    p.location == middlebrick_model::ParamLocation::Header
        && ["accept", "content-type", "authorization"]
            .iter()
            .any(|h| p.name.eq_ignore_ascii_case(h))
}

fn params_list(list: Option<&Value>) -> Result<&[Value], Broken> {
    match list {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(Broken::new("`parameters` is not a list")),
    }
}

pub(crate) fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A type name for messages (`a list`, `a string`, …).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

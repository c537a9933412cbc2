//! Walks the input schemas of an operation (parameters and request bodies) to the leaves that
//! can be unbounded. Schemas from `middlebrick-spec` are finite trees (a cycle is a node with
//! `recursive_ref`), and the depth cap keeps pathological nesting cheap.

use middlebrick_model::{Operation, Schema, SchemaType};

const MAX_DEPTH: usize = 12;

/// Formats whose values have a bounded length (dates, ids, numbers written as strings).
const BOUNDED_FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "uuid",
    "int32",
    "int64",
    "byte",
    "ipv4",
    "ipv6",
    "email",
    "duration",
];

/// A leaf worth reporting: where it is (`query:ids`, `body:items[].name`) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unbounded {
    Array(String),
    String(String),
}

/// The unbounded arrays and strings an operation accepts, in declaration order.
pub fn unbounded_inputs(op: &Operation) -> Vec<Unbounded> {
    let mut out = Vec::new();
    for p in &op.parameters {
        let loc = serde_location(p.location);
        visit(&p.schema, &format!("{loc}:{}", p.name), 0, &mut out);
    }
    if let Some(body) = &op.request_body {
        // The first media type is the one clients use; the others usually repeat its schema.
        if let Some((_, schema)) = body.content.first() {
            visit(schema, "body", 0, &mut out);
        }
    }
    out
}

fn serde_location(l: middlebrick_model::ParamLocation) -> &'static str {
    use middlebrick_model::ParamLocation::*;
    match l {
        Path => "path",
        Query => "query",
        Header => "header",
        Cookie => "cookie",
    }
}

fn visit(s: &Schema, at: &str, depth: usize, out: &mut Vec<Unbounded>) {
    if depth > MAX_DEPTH || s.recursive_ref.is_some() || s.read_only {
        return;
    }
    match s.effective_type() {
        Some(SchemaType::Array) => {
            if s.max_items.is_none() {
                out.push(Unbounded::Array(at.to_string()));
            }
            if let Some(items) = &s.items {
                visit(items, &format!("{at}[]"), depth + 1, out);
            }
        }
        Some(SchemaType::String) => {
            let bounded = s.max_length.is_some()
                || !s.enum_values.is_empty()
                || s.pattern.is_some()
                || s.format
                    .as_deref()
                    .is_some_and(|f| BOUNDED_FORMATS.contains(&f));
            if !bounded {
                out.push(Unbounded::String(at.to_string()));
            }
        }
        Some(SchemaType::Object) => {
            for (name, prop) in &s.properties {
                visit(prop, &format!("{at}.{name}"), depth + 1, out);
            }
        }
        _ => {}
    }
    for alt in &s.one_of {
        visit(alt, at, depth + 1, out);
    }
}

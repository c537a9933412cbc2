//! JSON Schema (as OpenAPI uses it) to the model's bounded [`Schema`].
//!
//! Every referenced schema is converted once and shared through an `Arc`, keyed by the
//! (document, pointer) it lives at, so memory stays linear in the spec even when a component is
//! used by every operation. A reference back to a schema still being converted (a cycle) becomes
//! a `recursive_ref` node instead of an endless expansion. A depth limit guards whatever else
//! could nest without bound.
//!
//! Known approximation: a component is cached as first converted, so one first met inside a
//! cycle keeps the cut where that cycle closed (the cut is still at a real back-reference).

use crate::load::{kind, Loader};
use crate::refs::{key_name, split_ref, Broken, DocId, Key, RefError};
use indexmap::IndexMap;
use middlebrick_model::{Schema, SchemaType};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Nesting (properties, items, references…) beyond which a schema is cut to an empty one.
pub(crate) const MAX_DEPTH: usize = 32;

/// Keywords that make the siblings of a `$ref` meaningful (3.1 allows them; 3.0 specs use
/// `nullable` next to `$ref` anyway). Annotations such as `description` do not count.
const REFINING_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "nullable",
    "enum",
    "const",
    "example",
    "examples",
    "default",
    "format",
    "pattern",
    "allOf",
    "oneOf",
    "anyOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "readOnly",
    "writeOnly",
    "additionalProperties",
];

#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    done: HashMap<Key, Result<Arc<Schema>, Broken>>,
    active: HashSet<Key>,
    cycles: HashMap<Key, Arc<Schema>>,
    empty: Option<Arc<Schema>>,
    pub depth_cuts: usize,
}

impl Loader {
    /// Converts the schema `v` found in document `doc`.
    pub(crate) fn schema(&mut self, doc: DocId, v: &Value) -> Result<Arc<Schema>, Broken> {
        self.schema_at(doc, v, 0, None)
    }

    /// Converts a mapping that carries schema keywords without being a schema object itself
    /// (a 2.0 non-body parameter: `type`, `format`, `items`, `enum` … beside `name` and `in`).
    pub(crate) fn schema_of_keywords(
        &mut self,
        doc: DocId,
        map: &Map<String, Value>,
    ) -> Result<Arc<Schema>, Broken> {
        Ok(Arc::new(self.inline(doc, map, 0, None)?))
    }

    pub(crate) fn empty_schema(&mut self) -> Arc<Schema> {
        self.schemas
            .empty
            .get_or_insert_with(|| Arc::new(Schema::default()))
            .clone()
    }

    fn schema_at(
        &mut self,
        doc: DocId,
        v: &Value,
        depth: usize,
        name: Option<String>,
    ) -> Result<Arc<Schema>, Broken> {
        if depth > MAX_DEPTH {
            self.schemas.depth_cuts += 1;
            return Ok(self.empty_schema());
        }
        let map = match v {
            Value::Object(map) => map,
            // 3.1 boolean schemas: `true` allows anything, `false` nothing; neither shapes a value.
            Value::Bool(_) => return Ok(self.empty_schema()),
            other => {
                return Err(Broken::new(format!(
                    "a schema is {}, expected a mapping",
                    kind(other)
                )))
            }
        };
        let Some(reference) = map.get("$ref") else {
            return Ok(Arc::new(self.inline(doc, map, depth, name)?));
        };
        let reference = reference
            .as_str()
            .ok_or_else(|| Broken::new("a schema's `$ref` is not a string"))?;
        let target = self.schema_ref(doc, reference, depth)?;
        if map.keys().any(|k| REFINING_KEYWORDS.contains(&k.as_str())) {
            let own = self.inline(doc, map, depth, name)?;
            return Ok(Arc::new(merge(own, &[target])));
        }
        Ok(target)
    }

    fn schema_ref(
        &mut self,
        doc: DocId,
        reference: &str,
        depth: usize,
    ) -> Result<Arc<Schema>, Broken> {
        let key = match self.docs.resolve(doc, reference) {
            Ok(key) => key,
            // Not followed (a URL, or a file when loading bytes): unknown shape, noted once.
            Err(RefError::External(_)) => {
                return Ok(Arc::new(Schema {
                    name: Some(ref_name(reference)),
                    ..Schema::default()
                }))
            }
            Err(RefError::Broken(b)) => return Err(b),
        };
        if let Some(done) = self.schemas.done.get(&key) {
            return done.clone();
        }
        if self.schemas.active.contains(&key) {
            return Ok(self.cycle_node(&key));
        }
        self.schemas.active.insert(key.clone());
        let held = self.docs.held(&key);
        let name = key_name(&self.docs, &key);
        let result = self
            .schema_at(key.doc, held.get(), depth + 1, Some(name))
            .map_err(|b| b.within(format_args!("`$ref: {reference}`")));
        self.schemas.active.remove(&key);
        self.schemas.done.insert(key, result.clone());
        result
    }

    fn cycle_node(&mut self, key: &Key) -> Arc<Schema> {
        if let Some(node) = self.schemas.cycles.get(key) {
            return node.clone();
        }
        let name = key_name(&self.docs, key);
        let node = Arc::new(Schema {
            name: Some(name.clone()),
            recursive_ref: Some(name),
            ..Schema::default()
        });
        self.schemas.cycles.insert(key.clone(), node.clone());
        node
    }

    /// The keywords of one schema object (its `$ref`, if any, is handled by the caller).
    fn inline(
        &mut self,
        doc: DocId,
        map: &Map<String, Value>,
        depth: usize,
        name: Option<String>,
    ) -> Result<Schema, Broken> {
        let mut s = Schema {
            name,
            ..Schema::default()
        };
        read_type(map, &mut s);
        read_leaves(map, &mut s);
        let child = depth + 1;
        if let Some(Value::Object(props)) = map.get("properties") {
            s.properties = self.properties(doc, props, child)?;
        }
        s.items = match map.get("items") {
            Some(Value::Array(tuple)) => match tuple.first() {
                Some(first) => Some(self.schema_at(doc, first, child, None)?),
                None => None,
            },
            Some(v) => Some(
                self.schema_at(doc, v, child, None)
                    .map_err(|b| b.within("items"))?,
            ),
            None => None,
        };
        s.additional_properties = match map.get("additionalProperties") {
            Some(v @ Value::Object(_)) => Some(self.schema_at(doc, v, child, None)?),
            Some(Value::Bool(true)) => Some(self.empty_schema()),
            _ => None,
        };
        for field in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alts)) = map.get(field) {
                for alt in alts {
                    let alt = self
                        .schema_at(doc, alt, child, None)
                        .map_err(|b| b.within(field))?;
                    s.one_of.push(alt);
                }
            }
        }
        s = fold_nullable_alternative(s);
        if let Some(Value::Array(parts)) = map.get("allOf") {
            let mut merged = Vec::with_capacity(parts.len());
            for part in parts {
                let part = self
                    .schema_at(doc, part, child, None)
                    .map_err(|b| b.within("allOf"))?;
                merged.push(part);
            }
            s = merge(s, &merged);
        }
        Ok(s)
    }
}

impl Loader {
    /// A `properties` mapping. Some specs (DigitalOcean's) put a `$ref` to a shared mapping of
    /// properties in place of the properties themselves; those are read from the target.
    fn properties(
        &mut self,
        doc: DocId,
        props: &Map<String, Value>,
        depth: usize,
    ) -> Result<IndexMap<String, Arc<Schema>>, Broken> {
        let mut out = IndexMap::with_capacity(props.len());
        if let Some(Value::String(reference)) = props.get("$ref") {
            let key = self
                .docs
                .resolve(doc, reference)
                .map_err(|e| Broken::from(e).within("properties"))?;
            let held = self.docs.held(&key);
            if let Value::Object(shared) = held.get() {
                for (k, pv) in shared {
                    out.insert(k.clone(), self.property(key.doc, k, pv, depth)?);
                }
            }
        }
        for (k, pv) in props {
            if k != "$ref" {
                out.insert(k.clone(), self.property(doc, k, pv, depth)?);
            }
        }
        Ok(out)
    }

    fn property(
        &mut self,
        doc: DocId,
        name: &str,
        v: &Value,
        depth: usize,
    ) -> Result<Arc<Schema>, Broken> {
        self.schema_at(doc, v, depth, None)
            .map_err(|b| b.within(format_args!("property `{name}`")))
    }
}

fn ref_name(reference: &str) -> String {
    let (file, fragment) = split_ref(reference);
    let last = fragment.rsplit('/').next().unwrap_or("");
    if !last.is_empty() {
        return last.to_string();
    }
    let file = file.rsplit('/').next().unwrap_or(file);
    file.split('.').next().unwrap_or(file).to_string()
}

fn type_named(name: &str, s: &mut Schema) -> Option<SchemaType> {
    Some(match name {
        "object" => SchemaType::Object,
        "array" => SchemaType::Array,
        "string" => SchemaType::String,
        "integer" => SchemaType::Integer,
        "number" => SchemaType::Number,
        "boolean" => SchemaType::Boolean,
        "null" => SchemaType::Null,
        // 2.0 `type: file` (formData uploads).
        "file" => {
            s.format.get_or_insert_with(|| "binary".to_string());
            SchemaType::String
        }
        _ => return None,
    })
}

/// `type: x`, 3.1 `type: [x, "null"]`, 3.0 `nullable`, 2.0 `x-nullable`.
fn read_type(map: &Map<String, Value>, s: &mut Schema) {
    match map.get("type") {
        Some(Value::String(t)) => s.ty = type_named(t, s),
        Some(Value::Array(types)) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            s.nullable = names.contains(&"null");
            let first = names.iter().find(|t| **t != "null").or(names.first());
            s.ty = first.and_then(|t| type_named(t, s));
        }
        _ => {}
    }
    for flag in ["nullable", "x-nullable"] {
        if map.get(flag).and_then(Value::as_bool) == Some(true) {
            s.nullable = true;
        }
    }
}

fn read_leaves(map: &Map<String, Value>, s: &mut Schema) {
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
    let count = |k: &str| map.get(k).and_then(count_of);
    if s.format.is_none() {
        s.format = text("format");
    }
    s.pattern = text("pattern");
    match (map.get("enum"), map.get("const")) {
        (Some(Value::Array(values)), _) => s.enum_values = values.clone(),
        (_, Some(c)) => s.enum_values = vec![c.clone()],
        _ => {}
    }
    s.example = match (
        map.get("example"),
        map.get("examples"),
        map.get("x-example"),
    ) {
        (Some(e), _, _) => Some(e.clone()),
        (_, Some(Value::Array(list)), _) => list.first().cloned(),
        (_, _, Some(e)) => Some(e.clone()),
        _ => None,
    };
    s.default = map.get("default").cloned();
    s.minimum = map.get("minimum").and_then(Value::as_f64);
    s.maximum = map.get("maximum").and_then(Value::as_f64);
    s.min_length = count("minLength");
    s.max_length = count("maxLength");
    s.min_items = count("minItems");
    s.max_items = count("maxItems");
    s.read_only = flag("readOnly");
    s.write_only = flag("writeOnly");
    if let Some(Value::Array(req)) = map.get("required") {
        s.required = req
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
}

/// A non-negative integer, also when written as `5.0`.
fn count_of(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    })
}

/// Merges `allOf` parts (or a `$ref` target) into a schema: properties and `required` are the
/// union (the schema's own properties win), single-valued keywords come from the schema itself
/// first and then from the parts in order. Parts that are cycle cuts add nothing.
fn merge(own: Schema, parts: &[Arc<Schema>]) -> Schema {
    let parts: Vec<&Schema> = parts
        .iter()
        .map(Arc::as_ref)
        .filter(|p| p.recursive_ref.is_none())
        .collect();
    let mut properties = IndexMap::new();
    let mut required: Vec<String> = Vec::new();
    let mut one_of = Vec::new();
    for p in parts.iter().copied().chain(std::iter::once(&own)) {
        properties.extend(p.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        for r in &p.required {
            if !required.contains(r) {
                required.push(r.clone());
            }
        }
        one_of.extend(p.one_of.iter().cloned());
    }
    let all_nullable = !parts.is_empty() && parts.iter().all(|p| p.nullable);
    let mut out = own;
    out.properties = properties;
    out.required = required;
    out.one_of = one_of;
    out.nullable |= all_nullable;
    for p in parts {
        fill(&mut out, p);
    }
    out
}

fn fill(out: &mut Schema, p: &Schema) {
    fn or<T: Clone>(slot: &mut Option<T>, v: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(v);
        }
    }
    or(&mut out.ty, &p.ty);
    or(&mut out.format, &p.format);
    or(&mut out.example, &p.example);
    or(&mut out.default, &p.default);
    or(&mut out.items, &p.items);
    or(&mut out.additional_properties, &p.additional_properties);
    or(&mut out.minimum, &p.minimum);
    or(&mut out.maximum, &p.maximum);
    or(&mut out.min_length, &p.min_length);
    or(&mut out.max_length, &p.max_length);
    or(&mut out.min_items, &p.min_items);
    or(&mut out.max_items, &p.max_items);
    or(&mut out.pattern, &p.pattern);
    if out.enum_values.is_empty() {
        out.enum_values.clone_from(&p.enum_values);
    }
    out.read_only |= p.read_only;
    out.write_only |= p.write_only;
}

/// `anyOf: [X, {type: "null"}]` is how OpenAPI 3.1 (and Pydantic's `X | None`) spell "X or
/// null": the same as 3.0's `nullable: true` on X. Folding it here means every consumer sees a
/// string as a string, instead of an untyped node with alternatives.
fn fold_nullable_alternative(s: Schema) -> Schema {
    if s.ty.is_some() || !s.properties.is_empty() || s.items.is_some() || s.one_of.len() < 2 {
        return s;
    }
    let is_null = |a: &Arc<Schema>| a.ty == Some(SchemaType::Null) && a.properties.is_empty();
    let mut rest = s.one_of.iter().filter(|a| !is_null(a));
    let (Some(only), None) = (rest.next(), rest.next()) else {
        return s;
    };
    let mut folded = (**only).clone();
    folded.nullable = true;
    folded.example = s.example.clone().or(folded.example);
    folded.default = s.default.clone().or(folded.default);
    folded.read_only |= s.read_only;
    folded.write_only |= s.write_only;
    if s.name.is_some() {
        folded.name = s.name.clone();
    }
    folded
}

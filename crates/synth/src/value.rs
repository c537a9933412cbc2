//! Values that satisfy a schema, so that requests pass the API's validation and reach its code.
//!
//! Order of preference for a node: a known object id (id-like names only, from the pool) >
//! `example` > `default` > an `enum` member (a non-privileged one when there is a choice) >
//! a value suggested by the property name that satisfies the schema > a string for the
//! `pattern` > a value for the `format` > a value of the type within its bounds.
//!
//! Objects get every required property and a few optional ones, leaving out read-only ones
//! (the server sets them) and, when optional, those that could change who the account is or
//! what it may do (`email`, `password`, `role`, `is_admin`): a request meant to be merely
//! valid must not re-point or promote the scanner's own account. Arrays get one item (or
//! `minItems`). Cycles (`recursive_ref`) end in an empty value and depth is bounded.

use crate::convention::{self, Hint, DATE, DATE_TIME, PASSWORD, TEXT, URL, UUID};
use crate::fits::{fits, matches_pattern};
use crate::names::{
    is_account_name, is_id_like, is_privileged_name, is_privileged_value, is_secret_name,
    singular_forms,
};
use crate::pattern;
use middlebrick_model::{Schema, SchemaType};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 8;
/// Optional properties added per object, and only this close to the root.
const MAX_OPTIONAL: usize = 6;
const OPTIONAL_DEPTH: usize = 2;
const MAX_ARRAY: u64 = 16;

/// A value that satisfies a schema (see the module header for the order of preference).
pub fn value_for_schema(schema: &Schema) -> Value {
    Gen::default().value(schema, None, 0)
}

/// A value for a property or parameter called `name`: the name suggests realistic values when
/// the schema gives no example. `salt` changes the values that must be unique per account
/// (email, username, slug); the same inputs always give the same value.
pub fn value_for_property(name: &str, schema: &Schema, salt: u64) -> Value {
    Gen { salt, known: None }.value(schema, Some(name), 0)
}

/// Resolves an id-like property to a value seen in an earlier answer.
pub(crate) type Known<'a> = &'a dyn Fn(&str, &Schema) -> Option<Value>;

#[derive(Default)]
pub(crate) struct Gen<'a> {
    pub salt: u64,
    pub known: Option<Known<'a>>,
}

impl Gen<'_> {
    pub(crate) fn value(&self, schema: &Schema, name: Option<&str>, depth: usize) -> Value {
        if schema.recursive_ref.is_some() {
            return empty_of(schema);
        }
        if let Some(v) = self.declared(schema, name) {
            return v;
        }
        let ty = schema.effective_type();
        if depth >= MAX_DEPTH && matches!(ty, Some(SchemaType::Object | SchemaType::Array)) {
            return empty_of(schema);
        }
        if let Some(alt) = first_alternative(schema) {
            if ty.is_none() {
                return self.value(alt, name, depth + 1);
            }
        }
        match ty {
            Some(SchemaType::String) => Value::String(self.string(schema, name)),
            Some(SchemaType::Integer) => self.number(schema, name, true),
            Some(SchemaType::Number) => self.number(schema, name, false),
            Some(SchemaType::Boolean) => Value::Bool(false),
            Some(SchemaType::Null) => Value::Null,
            Some(SchemaType::Array) => self.array(schema, name, depth),
            Some(SchemaType::Object) => self.object(schema, depth),
            None if schema.minimum.is_some() || schema.maximum.is_some() => {
                self.number(schema, name, false)
            }
            None => match name.and_then(|n| self.hinted(schema, n)) {
                Some(v) => v,
                None => Value::String(self.string(schema, name)),
            },
        }
    }

    /// What the spec or the pool says outright: a known id, example, default, enum member.
    fn declared(&self, schema: &Schema, name: Option<&str>) -> Option<Value> {
        if let (Some(known), Some(n)) = (self.known, name) {
            if is_id_like(n) && !is_secret_name(n) {
                if let Some(v) = known(n, schema).filter(|v| fits(schema, v)) {
                    return Some(v);
                }
            }
        }
        if let Some(ex) = schema.example.as_ref().filter(|v| fits(schema, v)) {
            return Some(without_read_only(schema, ex.clone()));
        }
        if let Some(d) = schema.default.as_ref().filter(|v| fits(schema, v)) {
            return Some(d.clone());
        }
        pick_enum(&schema.enum_values)
    }

    /// The name's suggestion, when it satisfies the schema.
    fn hinted(&self, schema: &Schema, name: &str) -> Option<Value> {
        self.hinted_with(schema, name, self.salt).or_else(|| {
            // A salted name too long for the schema: the plain one may still fit.
            (self.salt != 0)
                .then(|| self.hinted_with(schema, name, 0))
                .flatten()
        })
    }

    fn hinted_with(&self, schema: &Schema, name: &str, salt: u64) -> Option<Value> {
        let hint = convention::by_name(name, salt)?;
        let ty = schema.effective_type();
        let v = match (hint, ty) {
            (Hint::Text(s), Some(SchemaType::String) | None) => Value::String(s),
            (Hint::Text(s), Some(SchemaType::Integer)) => Value::from(s.parse::<i64>().ok()?),
            (Hint::Int(n), Some(SchemaType::Integer | SchemaType::Number) | None) => Value::from(n),
            (Hint::Int(n), Some(SchemaType::String)) => Value::String(n.to_string()),
            (Hint::Float(f), Some(SchemaType::Number) | None) => Value::from(f),
            (Hint::Float(f), Some(SchemaType::Integer)) => Value::from(f.round() as i64),
            (Hint::Float(f), Some(SchemaType::String)) => Value::String(f.to_string()),
            _ => return None,
        };
        fits(schema, &v).then_some(v)
    }

    fn string(&self, schema: &Schema, name: Option<&str>) -> String {
        if let Some(Value::String(s)) = name.and_then(|n| self.hinted(schema, n)) {
            return s;
        }
        let min = schema.min_length.unwrap_or(0) as usize;
        let generated = schema
            .pattern
            .as_deref()
            .and_then(|p| pattern::generate(p, min).map(|s| (p, s)));
        if let Some((p, s)) = &generated {
            if matches_pattern(p, s) != Some(false) && fits(schema, &Value::String(s.clone())) {
                return s.clone();
            }
        }
        let by_format = schema
            .format
            .as_deref()
            .and_then(|f| format_value(f, self.salt))
            .map(|s| fit_length(schema, s));
        if let Some(s) = by_format {
            return s;
        }
        if let Some((_, s)) = generated {
            return s;
        }
        let base = match name {
            Some(n) if is_id_like(n) => "1",
            _ => TEXT,
        };
        fit_length(schema, base.to_string())
    }

    fn number(&self, schema: &Schema, name: Option<&str>, integer: bool) -> Value {
        let hinted = name
            .and_then(|n| self.hinted(schema, n))
            .and_then(|v| v.as_f64());
        let base = hinted.unwrap_or(1.0);
        let n = within_bounds(base, schema.minimum, schema.maximum, integer);
        if integer {
            Value::from(n as i64)
        } else {
            Value::from(n)
        }
    }

    fn array(&self, schema: &Schema, name: Option<&str>, depth: usize) -> Value {
        let n = schema
            .min_items
            .unwrap_or(1)
            .max(1)
            .min(schema.max_items.unwrap_or(u64::MAX))
            .min(MAX_ARRAY);
        let item_name = name.and_then(|n| singular_forms(n).into_iter().next());
        let item = match &schema.items {
            Some(items) => self.value(items, item_name.as_deref(), depth + 1),
            None => Value::String(TEXT.into()),
        };
        Value::Array(vec![item; n as usize])
    }

    fn object(&self, schema: &Schema, depth: usize) -> Value {
        let mut map = Map::new();
        for (k, s) in &schema.properties {
            if schema.required.contains(k) && !s.read_only {
                map.insert(k.clone(), self.value(s, Some(k), depth + 1));
            }
        }
        for r in &schema.required {
            if !schema.properties.contains_key(r) {
                let extra = schema.additional_properties.as_deref();
                let v = match extra {
                    Some(s) => self.value(s, Some(r), depth + 1),
                    None => self.value(&Schema::default(), Some(r), depth + 1),
                };
                map.insert(r.clone(), v);
            }
        }
        if depth < OPTIONAL_DEPTH {
            let optional = schema.properties.iter().filter(|(k, s)| {
                !schema.required.contains(k)
                    && !s.read_only
                    && s.recursive_ref.is_none()
                    && !is_secret_name(k)
                    && !is_privileged_name(k)
                    && !is_account_name(k)
            });
            for (k, s) in optional.take(MAX_OPTIONAL) {
                map.insert(k.clone(), self.value(s, Some(k), depth + 1));
            }
        }
        if let Some(Value::Object(alt)) =
            first_alternative(schema).map(|a| self.value(a, None, depth + 1))
        {
            for (k, v) in alt {
                map.entry(k).or_insert(v);
            }
        }
        Value::Object(map)
    }
}

/// The empty value of a schema's type, where a cycle or the depth bound stops synthesis.
fn empty_of(schema: &Schema) -> Value {
    match schema.effective_type() {
        Some(SchemaType::Array) => Value::Array(Vec::new()),
        Some(SchemaType::Object) if !schema.nullable => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

/// The `oneOf`/`anyOf` alternative to use: the first that is not a cycle, preferring one that
/// is not `null`.
fn first_alternative(schema: &Schema) -> Option<&Schema> {
    let usable = || schema.one_of.iter().filter(|a| a.recursive_ref.is_none());
    usable()
        .find(|a| a.effective_type() != Some(SchemaType::Null))
        .or_else(|| usable().next())
        .map(|a| &**a)
}

/// The first enum member that is neither `null` nor privileged-sounding, else the first.
pub(crate) fn pick_enum(values: &[Value]) -> Option<Value> {
    values
        .iter()
        .find(|v| !v.is_null() && !is_privileged_value(v))
        .or_else(|| values.iter().find(|v| !v.is_null()))
        .or_else(|| values.first())
        .cloned()
}

/// An object example minus the properties the server sets (`readOnly`): many APIs reject
/// unknown or server-owned fields in a request.
fn without_read_only(schema: &Schema, example: Value) -> Value {
    match example {
        Value::Object(mut map) => {
            for (k, s) in &schema.properties {
                if s.read_only {
                    map.remove(k);
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

fn format_value(format: &str, salt: u64) -> Option<String> {
    let s = match format {
        "date" => DATE,
        "date-time" => DATE_TIME,
        "time" => "10:00:00",
        "email" | "idn-email" => return Some(convention::email(salt)),
        "uuid" | "guid" => UUID,
        "uri" | "url" | "iri" => URL,
        "uri-reference" | "iri-reference" | "json-pointer" => "/middlebrick",
        "uri-template" => "https://example.test/{id}",
        "hostname" | "idn-hostname" => "example.test",
        "ipv4" => "192.0.2.10",
        "ipv6" => "2001:db8::10",
        "password" => PASSWORD,
        "byte" | "base64" => "bWlkZGxlYnJpY2s=",
        "binary" => TEXT,
        "duration" => "P1D",
        "regex" => "^mb$",
        "phone" | "tel" => "+15555550123",
        "int32" | "int64" | "integer" => "1",
        "float" | "double" | "decimal" | "number" => "1.5",
        _ => return None,
    };
    Some(s.to_string())
}

/// `s` padded with `x` or cut (by characters) to the schema's length bounds.
fn fit_length(schema: &Schema, mut s: String) -> String {
    let len = s.chars().count();
    if let Some(max) = schema.max_length.map(|m| m as usize) {
        if len > max {
            s = s.chars().take(max).collect();
        }
    }
    if let Some(min) = schema.min_length.map(|m| m.min(4096) as usize) {
        let len = s.chars().count();
        if len < min {
            s.extend(std::iter::repeat_n('x', min - len));
        }
    }
    s
}

/// `base` when within the bounds, else a value strictly inside them when there is room (the
/// model does not say whether a bound is exclusive), else a bound itself.
fn within_bounds(base: f64, min: Option<f64>, max: Option<f64>, integer: bool) -> f64 {
    let (lo, hi) = if integer {
        (min.map(f64::ceil), max.map(f64::floor))
    } else {
        (min, max)
    };
    let within = |n: &f64| lo.is_none_or(|l| *n >= l) && hi.is_none_or(|h| *n <= h);
    let inside = |n: &f64| lo.is_none_or(|l| *n > l) && hi.is_none_or(|h| *n < h);
    if within(&base) {
        return base;
    }
    let step = if integer { 1.0 } else { 0.5 };
    let middle = match (lo, hi) {
        (Some(l), Some(h)) if !integer => Some((l + h) / 2.0),
        _ => None,
    };
    let candidates = [middle, lo.map(|l| l + step), hi.map(|h| h - step), lo, hi];
    let all: Vec<f64> = candidates.into_iter().flatten().collect();
    all.iter()
        .copied()
        .find(inside)
        .or_else(|| all.iter().copied().find(within))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn s(t: SchemaType) -> Schema {
        Schema::of_type(t)
    }

    fn obj(props: &[(&str, Schema)], required: &[&str]) -> Schema {
        Schema {
            ty: Some(SchemaType::Object),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), Arc::new(v.clone())))
                .collect(),
            required: required.iter().map(|r| r.to_string()).collect(),
            ..Schema::default()
        }
    }

    #[test]
    fn example_beats_default_beats_enum() {
        let mut sc = s(SchemaType::String);
        sc.enum_values = vec![json!("e1"), json!("e2")];
        assert_eq!(value_for_schema(&sc), json!("e1"));
        sc.default = Some(json!("e2"));
        assert_eq!(value_for_schema(&sc), json!("e2"));
        sc.example = Some(json!("e1"));
        assert_eq!(value_for_schema(&sc), json!("e1"));
        // An example of the wrong type is a spec bug: ignored.
        let mut int = s(SchemaType::Integer);
        int.example = Some(json!("seven"));
        assert_eq!(value_for_schema(&int), json!(1));
    }

    #[test]
    fn enums_avoid_null_and_privileged_members() {
        let mut sc = s(SchemaType::String);
        sc.enum_values = vec![Value::Null, json!("admin"), json!("member")];
        assert_eq!(value_for_schema(&sc), json!("member"));
        sc.enum_values = vec![json!("admin")];
        assert_eq!(value_for_schema(&sc), json!("admin"));
    }

    #[test]
    fn formats_produce_their_shapes() {
        for (f, want) in [
            ("date", DATE),
            ("date-time", DATE_TIME),
            ("uuid", UUID),
            ("uri", URL),
            ("hostname", "example.test"),
            ("ipv4", "192.0.2.10"),
            ("password", PASSWORD),
            ("byte", "bWlkZGxlYnJpY2s="),
        ] {
            let mut sc = s(SchemaType::String);
            sc.format = Some(f.into());
            assert_eq!(value_for_schema(&sc), json!(want), "{f}");
        }
        let mut email = s(SchemaType::String);
        email.format = Some("email".into());
        assert!(value_for_schema(&email)
            .as_str()
            .unwrap()
            .ends_with("@example.com"));
    }

    #[test]
    fn numbers_respect_bounds() {
        let mut int = s(SchemaType::Integer);
        assert_eq!(value_for_schema(&int), json!(1));
        int.minimum = Some(5.0);
        int.maximum = Some(10.0);
        assert_eq!(value_for_schema(&int), json!(6));
        int.maximum = Some(5.0);
        assert_eq!(value_for_schema(&int), json!(5));
        int.minimum = None;
        int.maximum = Some(0.0);
        assert_eq!(value_for_schema(&int), json!(-1));
        let mut num = s(SchemaType::Number);
        num.minimum = Some(0.1);
        num.maximum = Some(0.2);
        let v = value_for_schema(&num).as_f64().unwrap();
        assert!((0.1..=0.2).contains(&v));
        assert_eq!(value_for_schema(&s(SchemaType::Boolean)), json!(false));
    }

    #[test]
    fn strings_respect_lengths_and_patterns() {
        let mut st = s(SchemaType::String);
        st.min_length = Some(20);
        assert_eq!(value_for_schema(&st).as_str().unwrap().len(), 20);
        st.min_length = None;
        st.max_length = Some(3);
        assert_eq!(value_for_schema(&st), json!("mid"));
        let mut pat = s(SchemaType::String);
        pat.pattern = Some(r"^[A-Z]{3}-\d{4}$".into());
        assert_eq!(value_for_schema(&pat), json!("AAA-1111"));
    }

    #[test]
    fn names_give_realistic_values_that_fit() {
        let st = s(SchemaType::String);
        let email = value_for_property("email", &st, 0);
        assert!(email.as_str().unwrap().ends_with("@example.com"));
        assert_ne!(email, value_for_property("email", &st, 1));
        assert_eq!(
            value_for_property("quantity", &s(SchemaType::Integer), 0),
            json!(1)
        );
        assert_eq!(
            value_for_property("price", &s(SchemaType::Number), 0),
            json!(1.0)
        );
        assert_eq!(
            value_for_property("zip", &s(SchemaType::Integer), 0),
            json!(10001)
        );
        // A name's suggestion that breaks the schema is dropped.
        let mut short = s(SchemaType::String);
        short.max_length = Some(4);
        assert_eq!(
            value_for_property("email", &short, 0)
                .as_str()
                .unwrap()
                .len(),
            4
        );
        let mut uuid = s(SchemaType::String);
        uuid.format = Some("uuid".into());
        assert_eq!(value_for_property("phone", &uuid, 0), json!(UUID));
    }

    #[test]
    fn objects_hold_required_and_a_few_safe_optional_properties() {
        let mut id = s(SchemaType::Integer);
        id.read_only = true;
        let schema = obj(
            &[
                ("id", id),
                ("name", s(SchemaType::String)),
                ("note", s(SchemaType::String)),
                ("role", s(SchemaType::String)),
                ("email", s(SchemaType::String)),
                ("password", s(SchemaType::String)),
            ],
            &["name", "id", "missing"],
        );
        let v = value_for_schema(&schema);
        let m = v.as_object().unwrap();
        assert_eq!(m["name"], json!(TEXT));
        assert!(m.contains_key("note") && m.contains_key("missing"));
        for absent in ["id", "role", "email", "password"] {
            assert!(!m.contains_key(absent), "{absent}");
        }
    }

    #[test]
    fn arrays_have_min_items_and_singular_item_names() {
        let mut arr = s(SchemaType::Array);
        arr.items = Some(Arc::new(s(SchemaType::String)));
        arr.min_items = Some(3);
        assert_eq!(value_for_schema(&arr).as_array().unwrap().len(), 3);
        arr.min_items = None;
        let v = value_for_property("emails", &arr, 0);
        assert!(v[0].as_str().unwrap().contains('@'));
        arr.max_items = Some(0);
        assert_eq!(value_for_schema(&arr), json!([]));
    }

    #[test]
    fn cycles_and_depth_end_in_empty_values() {
        let cycle = Schema {
            recursive_ref: Some("Node".into()),
            ty: Some(SchemaType::Object),
            ..Schema::default()
        };
        let node = obj(&[("parent", cycle.clone())], &["parent"]);
        assert_eq!(value_for_schema(&node), json!({"parent": {}}));
        let mut deep = s(SchemaType::String);
        for _ in 0..50 {
            deep = obj(&[("child", deep)], &["child"]);
        }
        let v = value_for_schema(&deep);
        assert!(serde_json::to_string(&v).unwrap().len() < 200);
    }

    #[test]
    fn one_of_takes_the_first_non_null_alternative() {
        let sc = Schema {
            one_of: vec![
                Arc::new(s(SchemaType::Null)),
                Arc::new(s(SchemaType::Integer)),
            ],
            ..Schema::default()
        };
        assert_eq!(value_for_schema(&sc), json!(1));
        let mut merged = obj(&[("a", s(SchemaType::Boolean))], &["a"]);
        merged.one_of = vec![Arc::new(obj(&[("b", s(SchemaType::Integer))], &["b"]))];
        assert_eq!(value_for_schema(&merged), json!({"a": false, "b": 1}));
    }

    #[test]
    fn examples_drop_read_only_properties() {
        let mut id = s(SchemaType::Integer);
        id.read_only = true;
        let mut sc = obj(&[("id", id), ("name", s(SchemaType::String))], &[]);
        sc.example = Some(json!({"id": 9, "name": "x"}));
        assert_eq!(value_for_schema(&sc), json!({"name": "x"}));
    }
}

//! Object ids and other identifying values seen in earlier answers, remembered per identity,
//! so that requests name objects that exist instead of earning 404s.
//!
//! # What is remembered ([`IdPool::harvest`])
//! - the items of a collection answer (a list, or a list under `items`, `data`, `results`,
//!   HAL `_embedded`, … or under a key named like the collection): their `id`, `uuid`, slug,
//!   username, and fields named `<collection>_id`, keyed by the collection's path;
//! - the object of a single-object answer (`GET /orders/7`, `POST /orders`), keyed by its
//!   collection (`/orders`);
//! - anywhere in the answer: fields named `*_id` / `*Id` / `*_uuid`, slugs and usernames,
//!   fields named like a path parameter of the API ([`IdPool::register_operations`]), and uuid
//!   values, keyed by their normalised name; and `id` fields keyed by the property or
//!   collection segment they sit under (`"customer": {"id": 3}` -> `customer`).
//!
//! Never credentials (`token`, `password`, `api_key`, `session_id`, …), never from DELETE
//! answers (the object is gone). Everything is bounded: at most [`PER_KEY`] values per key
//! (the identity with most values loses its oldest first, so one identity cannot crowd out
//! another), [`MAX_VALUES`] values overall (oldest first), and only the first items, fields
//! and nodes of an answer are read, so memory does not grow with answers or specs.
//!
//! # How a parameter is matched ([`IdPool::value_for`])
//! 1. By collection, for a path parameter: items of the answer of the path up to the
//!    parameter. For `/users/{user_id}/orders/{order_id}` that is first `/users/5/orders` (the
//!    parent value already chosen), then any `/users/{user_id}/orders`. Fields tried: the
//!    parameter's own name (`order_id`, `username`), then for id-like names `id`, then bare
//!    scalar items.
//! 2. By name: a field with the same normalised name anywhere (`order_id` ~ `orderId` ~
//!    `OrderID`; a bare `{id}` is named after its segment, `/orders/{id}` ~ `order_id`), then
//!    `id` fields of objects under a key that is the stem or its plural (`order_id` ~ `order`,
//!    `orders`; `category_id` ~ `categories`; `box_id` ~ `boxes`).
//! 3. Only values that fit the parameter's schema count: an integer parameter never gets a uuid
//!    string, a numeric string becomes a number, an enum or bound excludes what it excludes.
//!
//! Values seen as the asking identity come first, then any identity's; within that, the rule
//! order above, and within a rule, the most recently seen first.

use crate::fits::fits;
use crate::names::{
    graphql_subject, id_stem, is_secret_name, normalize, plural_forms, singular_forms, words,
};
use crate::path::{clean, fill_path, placeholders, prefix_before};
use middlebrick_model::{Operation, ParamLocation, Parameter, Schema, SchemaType};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Values kept per key.
pub const PER_KEY: usize = 32;
/// Values kept overall.
pub const MAX_VALUES: usize = 4096;
/// Path parameter names remembered by [`IdPool::register_operations`].
const MAX_NAMES: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    /// A field (normalised name; empty for scalar items) of the items of the collection at a
    /// path.
    Collection(String, String),
    /// A field with this normalised name, anywhere.
    Name(String),
    /// The `id` of objects under this normalised key.
    Segment(String),
}

#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    identity: String,
    seq: u64,
    /// The owner the record holding the value names (`user_id`, `owner.id`, `username`), as
    /// text: who the object belongs to, whoever saw it.
    owner: Option<String>,
}

/// Object ids and other values seen in earlier answers, remembered per identity.
#[derive(Debug, Default)]
pub struct IdPool {
    buckets: BTreeMap<Key, Vec<Entry>>,
    /// Insertion order, for evicting the oldest value overall; may hold stale entries.
    order: VecDeque<(Key, u64)>,
    total: usize,
    seq: u64,
    pub(crate) names: BTreeSet<String>,
}

impl IdPool {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Learns the API's path parameter names, so fields named like them (`isbn`, `sku`, `code`)
    /// are harvested too. Optional: ids, uuids, slugs and usernames are harvested anyway.
    pub fn register_operations(&mut self, ops: &[Operation]) {
        for op in ops {
            for p in op.params_in(ParamLocation::Path) {
                if self.names.len() >= MAX_NAMES {
                    return;
                }
                if !is_secret_name(&p.name) {
                    self.names.insert(normalize(&p.name));
                }
            }
        }
    }

    /// The best known value for a parameter of `op`, preferring values harvested as
    /// `identity`, then any identity's (see the module header for the rules).
    pub fn value_for(&self, op: &Operation, param: &str, identity: &str) -> Option<Value> {
        let parents = self.parents(op, param, identity);
        self.ranked(op, param, identity, &parents)
            .into_iter()
            .next()
            .map(|(v, _)| v)
    }

    /// All known candidate values with the identity that saw each, identity-owned first.
    pub fn candidates(&self, op: &Operation, param: &str, identity: &str) -> Vec<(Value, String)> {
        let parents = self.parents(op, param, identity);
        self.ranked(op, param, identity, &parents)
    }

    /// Like [`IdPool::candidates`], with the owner the value's record named (as text), when it
    /// named one.
    pub fn candidates_with_owner(
        &self,
        op: &Operation,
        param: &str,
        identity: &str,
    ) -> Vec<(Value, String, Option<String>)> {
        let parents = self.parents(op, param, identity);
        let schema = find_param(op, param).map(|p| &*p.schema);
        self.collect_full(&lookup_keys(op, param, &parents), schema, identity)
    }

    /// Values chosen for the path parameters before `param`, as `value_for` would choose them.
    fn parents(&self, op: &Operation, param: &str, identity: &str) -> Vec<(String, String)> {
        let mut chosen = Vec::new();
        for p in placeholders(&op.path) {
            if p == param {
                break;
            }
            if let Some((v, _)) = self.ranked(op, p, identity, &chosen).into_iter().next() {
                chosen.push((p.to_string(), scalar_text(&v)));
            }
        }
        chosen
    }

    /// Candidates for `param`, given the values already chosen for earlier path parameters.
    pub(crate) fn ranked(
        &self,
        op: &Operation,
        param: &str,
        identity: &str,
        parents: &[(String, String)],
    ) -> Vec<(Value, String)> {
        let schema = find_param(op, param).map(|p| &*p.schema);
        self.collect(&lookup_keys(op, param, parents), schema, identity)
    }

    /// A known value for an id-like body property (`product_id`): by name, then by segment.
    pub(crate) fn for_property(
        &self,
        name: &str,
        schema: &Schema,
        identity: &str,
    ) -> Option<Value> {
        let mut keys = vec![Key::Name(normalize(name))];
        if let Some(stem) = id_stem(name).filter(|s| !s.is_empty()) {
            keys.extend(plural_forms(&stem).into_iter().map(Key::Segment));
        }
        self.collect(&keys, Some(schema), identity)
            .into_iter()
            .next()
            .map(|(v, _)| v)
    }

    fn collect(
        &self,
        keys: &[Key],
        schema: Option<&Schema>,
        identity: &str,
    ) -> Vec<(Value, String)> {
        self.collect_full(keys, schema, identity)
            .into_iter()
            .map(|(v, who, _)| (v, who))
            .collect()
    }

    fn collect_full(
        &self,
        keys: &[Key],
        schema: Option<&Schema>,
        identity: &str,
    ) -> Vec<(Value, String, Option<String>)> {
        let mut out: Vec<(Value, String, Option<String>)> = Vec::new();
        for own in [true, false] {
            for key in keys {
                let Some(bucket) = self.buckets.get(key) else {
                    continue;
                };
                let mut entries: Vec<&Entry> = bucket
                    .iter()
                    .filter(|e| (e.identity == identity) == own)
                    .collect();
                entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
                for e in entries {
                    if let Some(v) = coerce(&e.value, schema) {
                        if !out.iter().any(|(x, _, _)| *x == v) {
                            out.push((v, e.identity.clone(), e.owner.clone()));
                        }
                    }
                }
            }
        }
        out
    }

    /// Remembers one value under `key`, within the bounds.
    pub(crate) fn insert(&mut self, key: Key, value: Value, identity: &str) {
        self.insert_owned(key, value, identity, None);
    }

    /// Like `insert`, with the owner the value's record names.
    pub(crate) fn insert_owned(
        &mut self,
        key: Key,
        value: Value,
        identity: &str,
        owner: Option<&str>,
    ) {
        self.seq += 1;
        let seq = self.seq;
        let bucket = self.buckets.entry(key.clone()).or_default();
        if let Some(e) = bucket
            .iter_mut()
            .find(|e| e.value == value && e.identity == identity)
        {
            e.seq = seq;
            if owner.is_some() {
                e.owner = owner.map(str::to_string);
            }
        } else {
            if bucket.len() >= PER_KEY {
                evict_from(bucket);
                self.total -= 1;
            }
            bucket.push(Entry {
                value,
                identity: identity.to_string(),
                seq,
                owner: owner.map(str::to_string),
            });
            self.total += 1;
        }
        self.order.push_back((key, seq));
        while self.total > MAX_VALUES {
            self.evict_oldest();
        }
        if self.order.len() > 2 * MAX_VALUES {
            self.compact_order();
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            let Some(bucket) = self.buckets.get_mut(&key) else {
                continue;
            };
            let Some(i) = bucket.iter().position(|e| e.seq == seq) else {
                continue;
            };
            bucket.remove(i);
            self.total -= 1;
            if bucket.is_empty() {
                self.buckets.remove(&key);
            }
            return;
        }
    }

    /// Rebuilds the insertion order from the live entries, dropping stale ones.
    fn compact_order(&mut self) {
        let mut live: Vec<(Key, u64)> = self
            .buckets
            .iter()
            .flat_map(|(k, b)| b.iter().map(move |e| (k.clone(), e.seq)))
            .collect();
        live.sort_by_key(|(_, seq)| *seq);
        self.order = live.into();
    }

    #[cfg(test)]
    pub(crate) fn approx_bytes(&self) -> usize {
        let key_len = |k: &Key| match k {
            Key::Collection(a, b) => a.len() + b.len(),
            Key::Name(a) | Key::Segment(a) => a.len(),
        };
        let buckets: usize = self
            .buckets
            .iter()
            .map(|(k, b)| {
                key_len(k)
                    + b.iter()
                        .map(|e| e.value.to_string().len() + e.identity.len() + 48)
                        .sum::<usize>()
            })
            .sum();
        buckets
            + self
                .order
                .iter()
                .map(|(k, _)| key_len(k) + 48)
                .sum::<usize>()
    }

    #[cfg(test)]
    pub(crate) fn max_bucket(&self) -> usize {
        self.buckets.values().map(Vec::len).max().unwrap_or(0)
    }
}

/// Drops the oldest value of the identity holding most values in the bucket.
fn evict_from(bucket: &mut Vec<Entry>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in bucket.iter() {
        *counts.entry(e.identity.as_str()).or_default() += 1;
    }
    let Some((heavy, _)) = counts.iter().max_by_key(|(_, n)| **n) else {
        return;
    };
    let heavy = heavy.to_string();
    if let Some(i) = bucket
        .iter()
        .enumerate()
        .filter(|(_, e)| e.identity == heavy)
        .min_by_key(|(_, e)| e.seq)
        .map(|(i, _)| i)
    {
        bucket.remove(i);
    }
}

/// The declared parameter of that name, a path parameter first.
pub(crate) fn find_param<'a>(op: &'a Operation, name: &str) -> Option<&'a Parameter> {
    op.params_in(ParamLocation::Path)
        .find(|p| p.name == name)
        .or_else(|| op.parameters.iter().find(|p| p.name == name))
}

/// The keys to look in for `param`, in rule order (module header).
fn lookup_keys(op: &Operation, param: &str, parents: &[(String, String)]) -> Vec<Key> {
    let norm = normalize(param);
    let stem = id_stem(param);
    let id_word = words(param).pop().filter(|_| stem.is_some());
    let mut keys = Vec::new();
    let prefix = prefix_before(&op.path, param);

    if let Some((template, _)) = prefix {
        let mut fields = vec![norm.clone()];
        if let Some(w) = &id_word {
            fields.push(w.clone());
            fields.push("id".to_string());
        }
        fields.push(String::new());
        let mut prefixes = Vec::new();
        let wanted = placeholders(template);
        if wanted.iter().all(|w| parents.iter().any(|(n, _)| n == w)) {
            prefixes.push(clean(&fill_path(template, parents)).to_string());
        }
        prefixes.push(clean(template).to_string());
        for p in &prefixes {
            for f in &fields {
                keys.push(Key::Collection(p.clone(), f.clone()));
            }
        }
    }

    // A GraphQL argument names an object of what its field is about, as a path parameter
    // names one of the collection before it: `order(id:)` ~ `/orders/{id}`.
    let prev = match (prefix, &op.graphql) {
        (None, Some(g)) if g.arguments.iter().any(|a| a.name == param) => {
            Some(graphql_subject(&g.field)).filter(|s| !s.is_empty())
        }
        _ => prefix.and_then(|(_, prev)| prev).map(normalize),
    };
    let stems: Vec<String> = match (&stem, &prev) {
        (Some(s), _) if !s.is_empty() => vec![s.clone()],
        (Some(_), Some(prev)) => singular_forms(prev),
        _ => Vec::new(),
    };
    match (&stem, &id_word) {
        (Some(s), Some(w)) if s.is_empty() => {
            keys.extend(stems.iter().map(|st| Key::Name(format!("{st}{w}"))));
        }
        _ => keys.push(Key::Name(norm.clone())),
    }
    for st in &stems {
        keys.extend(plural_forms(st).into_iter().map(Key::Segment));
    }
    let mut seen = BTreeSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// The value as the parameter's schema wants it, or `None` when it cannot fit.
fn coerce(value: &Value, schema: Option<&Schema>) -> Option<Value> {
    let Some(schema) = schema else {
        return Some(value.clone());
    };
    let v = match (schema.effective_type(), value) {
        (Some(SchemaType::Integer), Value::String(s)) => Value::from(s.parse::<i64>().ok()?),
        (Some(SchemaType::Number), Value::String(s)) => Value::from(s.parse::<f64>().ok()?),
        (Some(SchemaType::String), Value::Number(n)) => Value::String(n.to_string()),
        (Some(SchemaType::Boolean | SchemaType::Object | SchemaType::Array), _) => return None,
        _ => value.clone(),
    };
    fits(schema, &v).then_some(v)
}

/// A scalar as it travels in a path, query or header.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;

//! Reading an answer into the [`IdPool`]: which list holds a collection's items, which object
//! an answer is about, and which fields identify something (rules in `pool.rs`).
//!
//! Work per answer is bounded like the pool's memory: the first [`MAX_ITEMS`] items of any
//! array, the first [`MAX_FIELDS`] fields of any object, [`MAX_NODES`] nodes and
//! [`MAX_DEPTH`] levels, so a 100,000-item answer costs what a 64-item one does.

use crate::fits::is_uuid;
use crate::names::{id_stem, is_id_like, is_keyish, is_secret_name, normalize, singular_forms};
use crate::path::{clean, last_literal_segment, parent_if_item};
use crate::pool::{IdPool, Key};
use middlebrick_model::envelope::unwrap_envelope;
use middlebrick_model::names::record_owner;
use middlebrick_model::{Method, Operation};
use serde_json::{Map, Value};

pub(crate) const MAX_ITEMS: usize = 64;
pub(crate) const MAX_FIELDS: usize = 128;
pub(crate) const MAX_NODES: usize = 4096;
pub(crate) const MAX_DEPTH: usize = 12;
const MAX_VALUE_LEN: usize = 128;
const MAX_PATH_LEN: usize = 512;

/// Keys under which APIs wrap a list or an object: the model's one list.
const ENVELOPES: &[&str] = middlebrick_model::envelope::ENVELOPE_KEYS;

impl IdPool {
    /// Learns from one JSON answer to `op` received as `identity` (see the module header of
    /// `pool.rs` for what is kept). Collections are keyed by the template path; use
    /// [`IdPool::harvest_at`] to key them by the concrete path too, which nested resources need.
    pub fn harvest(&mut self, op: &Operation, identity: &str, body: &Value) {
        self.harvest_at(op, &op.path, identity, body);
    }

    /// Like [`IdPool::harvest`], for an answer to the concrete `path` (the request path as
    /// [`crate::synthesize`] made it, relative to the base URL): the items of
    /// `GET /users/5/orders` are then known as user 5's orders.
    pub fn harvest_at(&mut self, op: &Operation, path: &str, identity: &str, body: &Value) {
        if op.method == Method::Delete || path.len() > MAX_PATH_LEN || op.path.len() > MAX_PATH_LEN
        {
            return;
        }
        let template = clean(&op.path);
        let segment = last_literal_segment(template).map(normalize);
        // An object with its own id is one object, even when it holds a list (an order and
        // its lines); only an id-less object can be a list's envelope.
        let is_object = unwrap_envelope(body).as_object().is_some_and(has_id);
        let list = if is_object {
            None
        } else {
            list_items(body, segment.as_deref())
        };
        if let Some(items) = list {
            let paths = distinct(clean(path), template);
            for item in items.iter().take(MAX_ITEMS) {
                self.record_item(item, &paths, segment.as_deref(), identity);
            }
        } else if let Some(obj) = own_object(body, segment.as_deref()) {
            let paths = distinct(
                parent_if_item(template, path),
                parent_if_item(template, template),
            );
            self.record_fields(obj, &paths, segment.as_deref(), identity);
        }
        let mut budget = MAX_NODES;
        let at = Walk {
            parent: segment.as_deref(),
            owner: None,
            depth: 0,
        };
        self.walk(body, at, identity, &mut budget);
    }

    /// The identifying fields of one collection item, or the item itself when it is a scalar.
    fn record_item(&mut self, item: &Value, paths: &[&str], segment: Option<&str>, identity: &str) {
        match item {
            Value::Object(map) => self.record_fields(map, paths, segment, identity),
            v if is_scalar_id(v) => {
                for p in paths {
                    self.insert(
                        Key::Collection(p.to_string(), String::new()),
                        v.clone(),
                        identity,
                    );
                }
            }
            _ => {}
        }
    }

    fn record_fields(
        &mut self,
        map: &Map<String, Value>,
        paths: &[&str],
        segment: Option<&str>,
        identity: &str,
    ) {
        let owner = record_owner(map).filter(|o| o.len() <= MAX_VALUE_LEN);
        for (k, v) in map.iter().take(MAX_FIELDS) {
            if !is_scalar_id(v) || !self.identifies_item(k, v, segment) {
                continue;
            }
            for p in paths {
                self.insert_owned(
                    Key::Collection(p.to_string(), normalize(k)),
                    v.clone(),
                    identity,
                    owner.as_deref(),
                );
            }
        }
    }

    /// Whether a field of a collection item identifies the item: `id`, `uuid`, a slug, a
    /// username, a registered parameter name, or `<collection>_id`.
    fn identifies_item(&self, key: &str, value: &Value, segment: Option<&str>) -> bool {
        if is_secret_name(key) {
            return false;
        }
        let n = normalize(key);
        if matches!(n.as_str(), "id" | "uuid" | "guid" | "pk")
            || is_keyish(&n)
            || self.names.contains(&n)
        {
            return true;
        }
        let own_stem = match (id_stem(key), segment) {
            (Some(stem), Some(seg)) => !stem.is_empty() && singular_forms(seg).contains(&stem),
            _ => false,
        };
        own_stem || value.as_str().is_some_and(is_uuid)
    }

    /// Whether a field anywhere is worth remembering by name.
    fn identifies_by_name(&self, key: &str, norm: &str, value: &Value) -> bool {
        !is_secret_name(key)
            && (is_id_like(key)
                || is_keyish(norm)
                || self.names.contains(norm)
                || value.as_str().is_some_and(is_uuid))
    }

    /// Every identifying field of an answer, at any depth. The items of a list held by a record
    /// that names its owner (`{"username": "alice", "orders": [{"id": 1}]}`, a GraphQL
    /// `me { orders { id } }`) are that owner's unless they name their own; an object a record
    /// merely refers to (`"product": {"id": 5}`) is nobody's by that.
    fn walk(&mut self, value: &Value, at: Walk<'_>, identity: &str, budget: &mut usize) {
        if *budget == 0 || at.depth > MAX_DEPTH {
            return;
        }
        *budget -= 1;
        match value {
            Value::Object(map) => {
                let named = record_owner(map).filter(|o| o.len() <= MAX_VALUE_LEN);
                let owner = named.as_deref().or(at.owner);
                for (k, v) in map.iter().take(MAX_FIELDS) {
                    let n = normalize(k);
                    if is_scalar_id(v) {
                        if n == "id" {
                            if let Some(p) = at.parent {
                                let key = Key::Segment(p.to_string());
                                self.insert_owned(key, v.clone(), identity, owner);
                            }
                        } else if self.identifies_by_name(k, &n, v) {
                            self.insert(Key::Name(n), v.clone(), identity);
                        }
                    } else if v.is_object() || v.is_array() {
                        // An envelope says nothing about what it holds: keep the outer name
                        // and owner.
                        let envelope = ENVELOPES.contains(&n.as_str());
                        let child = Walk {
                            parent: if envelope {
                                at.parent
                            } else {
                                Some(n.as_str())
                            },
                            owner: if envelope || v.is_array() {
                                owner
                            } else {
                                None
                            },
                            depth: at.depth + 1,
                        };
                        self.walk(v, child, identity, budget);
                    }
                }
            }
            Value::Array(items) => {
                for item in items.iter().take(MAX_ITEMS) {
                    let inner = Walk {
                        depth: at.depth + 1,
                        ..at
                    };
                    self.walk(item, inner, identity, budget);
                }
            }
            _ => {}
        }
    }
}

/// Where [`IdPool::walk`] is in an answer: the key above (`id`s are remembered under it), the
/// owner the enclosing list's record names, and how deep.
#[derive(Clone, Copy)]
struct Walk<'a> {
    parent: Option<&'a str>,
    owner: Option<&'a str>,
    depth: usize,
}

fn distinct<'a>(a: &'a str, b: &'a str) -> Vec<&'a str> {
    if a == b {
        vec![a]
    } else {
        vec![a, b]
    }
}

/// An integer, or a short printable string: what an id or a key looks like.
fn is_scalar_id(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::String(s) => {
            !s.is_empty() && s.len() <= MAX_VALUE_LEN && !s.chars().any(char::is_control)
        }
        _ => false,
    }
}

/// The list of a collection answer: the answer itself, or a list under an envelope key or
/// the collection's own name, possibly inside one more envelope (`{"data": {"items": …}}`,
/// HAL `{"_embedded": {"orders": …}}`), or the only list of objects beside scalar metadata.
fn list_items<'a>(body: &'a Value, segment: Option<&str>) -> Option<&'a Vec<Value>> {
    match unwrap_envelope(body) {
        Value::Array(items) => Some(items),
        Value::Object(map) => find_list(map, segment, 0),
        _ => None,
    }
}

fn find_list<'a>(
    map: &'a Map<String, Value>,
    segment: Option<&str>,
    depth: usize,
) -> Option<&'a Vec<Value>> {
    let named = |k: &str| {
        let n = normalize(k);
        Some(n.as_str()) == segment || ENVELOPES.contains(&n.as_str())
    };
    let fields = || map.iter().take(MAX_FIELDS);
    if let Some(list) = fields().find_map(|(k, v)| v.as_array().filter(|_| named(k))) {
        return Some(list);
    }
    if depth < 2 {
        let inner = fields()
            .filter(|(k, _)| named(k))
            .filter_map(|(_, v)| v.as_object());
        for m in inner {
            if let Some(list) = find_list(m, segment, depth + 1) {
                return Some(list);
            }
        }
    }
    if depth > 0 {
        return None;
    }
    let mut lists = fields()
        .filter_map(|(_, v)| v.as_array())
        .filter(|a| a.first().is_some_and(Value::is_object));
    match (lists.next(), lists.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The object a single-object answer is about: the answer itself when it has an id, or the
/// object under an envelope key or the collection's singular name (`{"order": {...}}`).
fn own_object<'a>(body: &'a Value, segment: Option<&str>) -> Option<&'a Map<String, Value>> {
    let map = unwrap_envelope(body).as_object()?;
    if has_id(map) {
        return Some(map);
    }
    let singulars = segment.map(singular_forms).unwrap_or_default();
    map.iter().take(MAX_FIELDS).find_map(|(k, v)| {
        let n = normalize(k);
        let wraps = ENVELOPES.contains(&n.as_str())
            || matches!(n.as_str(), "item" | "object" | "resource" | "entity")
            || singulars.contains(&n);
        v.as_object().filter(|m| wraps && has_id(m))
    })
}

/// Whether an object carries its own identifier (`id`, `uuid`, a slug, a username).
fn has_id(map: &Map<String, Value>) -> bool {
    map.iter().take(MAX_FIELDS).any(|(k, v)| {
        let n = normalize(k);
        is_scalar_id(v) && (matches!(n.as_str(), "id" | "uuid" | "guid" | "pk") || is_keyish(&n))
    })
}

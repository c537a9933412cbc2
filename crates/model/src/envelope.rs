//! Reading answers inside their wrappers. APIs put the data they return under `data`,
//! `result`, `items`, `payload`, … (JSend, JSON:API, HAL, many generators), sometimes twice
//! (`{"data": {"items": [...]}}`). Every place that reads ids or records from an answer
//! (harvest, ownership, self-knowledge, created ids) unwraps through [`unwrap_envelope`], so
//! they all see the same record.
//!
//! An object is a wrapper when it has no id of its own, exactly one envelope key holds an
//! object or a list, and its other keys hold scalars (`status`, `message`, `count`, `page`).
//! Descent is bounded by [`MAX_UNWRAP`].

use crate::names::{is_id_word, normalize_name};
use serde_json::{Map, Value};

/// Normalised keys under which APIs wrap a list or an object.
pub const ENVELOPE_KEYS: &[&str] = &[
    "items", "data", "results", "result", "content", "records", "rows", "entries", "hits", "list",
    "objects", "values", "elements", "nodes", "embedded", "response", "payload", "body",
];

/// Wrappers unwrapped at most.
pub const MAX_UNWRAP: usize = 4;
/// Items of a list read as records at most.
const MAX_RECORDS: usize = 64;

/// Whether `key` (any convention: `_embedded`, `Data`) is an envelope key.
pub fn is_envelope_key(key: &str) -> bool {
    ENVELOPE_KEYS.contains(&normalize_name(key).as_str())
}

/// The value inside the wrappers of `v` (itself when it is not wrapped).
pub fn unwrap_envelope(v: &Value) -> &Value {
    let mut cur = v;
    for _ in 0..MAX_UNWRAP {
        match cur.as_object().and_then(inner) {
            Some(next) => cur = next,
            None => break,
        }
    }
    cur
}

fn inner(map: &Map<String, Value>) -> Option<&Value> {
    if map.keys().any(|k| is_id_word(&normalize_name(k))) {
        return None;
    }
    let mut containers = map.iter().filter(|(_, v)| v.is_object() || v.is_array());
    let (key, value) = containers.next()?;
    (containers.next().is_none() && is_envelope_key(key)).then_some(value)
}

/// The records an answer carries once unwrapped: the objects of a list (the first
/// [`MAX_RECORDS`]), or the one object.
pub fn records(v: &Value) -> Vec<&Map<String, Value>> {
    match unwrap_envelope(v) {
        Value::Array(items) => items
            .iter()
            .take(MAX_RECORDS)
            .filter_map(Value::as_object)
            .collect(),
        Value::Object(map) => vec![map],
        _ => Vec::new(),
    }
}

/// The single record an answer is about, unwrapped; `None` for lists.
pub fn single_record(v: &Value) -> Option<&Map<String, Value>> {
    unwrap_envelope(v).as_object()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrappers_are_unwrapped_at_any_nesting() {
        let v = json!({"status": "success", "data": {"user": 1}});
        assert_eq!(unwrap_envelope(&v), &json!({"user": 1}));
        let v = json!({"result": {"items": [{"id": 1}, {"id": 2}]}, "count": 2});
        assert_eq!(records(&v).len(), 2);
        let v = json!({"Payload": {"Data": {"id": 7}}});
        assert_eq!(single_record(&v).and_then(|m| m.get("id")), Some(&json!(7)));
    }

    #[test]
    fn an_object_with_its_own_id_or_two_containers_is_not_a_wrapper() {
        let v = json!({"id": 1, "data": {"x": 1}});
        assert_eq!(unwrap_envelope(&v), &v);
        let v = json!({"data": {"x": 1}, "items": []});
        assert_eq!(unwrap_envelope(&v), &v);
        let v = json!({"user": {"id": 1}});
        assert_eq!(
            unwrap_envelope(&v),
            &v,
            "a named object is a record, not a wrapper"
        );
    }

    #[test]
    fn unwrapping_is_bounded() {
        let mut v = json!({"id": 1});
        for _ in 0..10 {
            v = json!({ "data": v });
        }
        let out = unwrap_envelope(&v);
        assert!(out.get("data").is_some(), "stops after MAX_UNWRAP levels");
    }
}

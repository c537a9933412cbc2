//! Comparing answers: does this answer carry the same data as that one, is it an error envelope
//! or a login page rather than data. Checks use these to judge differential evidence.

use middlebrick_model::ResponseRecord;
use serde_json::Value;
use std::collections::HashSet;

/// Keys that error envelopes are made of (RFC 9457 problem details, Flask/FastAPI habits,
/// common API gateways). An object whose keys are all among these carries no data.
const ENVELOPE_KEYS: &[&str] = &[
    "error",
    "errors",
    "detail",
    "details",
    "message",
    "msg",
    "status",
    "code",
    "title",
    "type",
    "statuscode",
    "status_code",
    "description",
    "error_description",
    "error_code",
    "success",
    "ok",
    "reason",
    "timestamp",
    "path",
    "trace_id",
    "traceid",
    "request_id",
    "requestid",
    "instance",
    "hint",
];

/// Leaves (strings, numbers, booleans) of a JSON value with their key paths, bounded so a huge
/// answer costs a fixed amount.
fn leaves(v: &Value, out: &mut HashSet<String>, prefix: &str, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, out, &format!("{prefix}/{k}"), budget);
            }
        }
        Value::Array(items) => {
            for v in items.iter().take(50) {
                leaves(v, out, &format!("{prefix}[]"), budget);
            }
        }
        Value::Null => {}
        other => {
            *budget -= 1;
            out.insert(format!("{prefix}={other}"));
        }
    }
}

fn leaf_set(v: &Value) -> HashSet<String> {
    let mut set = HashSet::new();
    let mut budget = 2_000;
    leaves(v, &mut set, "", &mut budget);
    set
}

/// How many data leaves an answer has (0 for non-JSON).
pub fn leaf_count(resp: &ResponseRecord) -> usize {
    resp.json().map(|v| leaf_set(&v).len()).unwrap_or(0)
}

/// True when both answers carry the same data: identical bodies, or JSON whose leaves (key
/// path and value) overlap by at least 80 % of the larger answer. Volatile fields (timestamps,
/// request ids) differ between two calls, which is why this is not strict equality.
pub fn same_data(a: &ResponseRecord, b: &ResponseRecord) -> bool {
    // A refused GraphQL operation carries no data, however alike two refusals are.
    if a.graphql_refused() || b.graphql_refused() {
        return false;
    }
    if a.body.text == b.body.text {
        return !a.body.text.trim().is_empty();
    }
    match (a.json(), b.json()) {
        (Some(x), Some(y)) => {
            let (lx, ly) = (leaf_set(&x), leaf_set(&y));
            let larger = lx.len().max(ly.len());
            if larger == 0 {
                return false;
            }
            let shared = lx.intersection(&ly).count();
            shared * 100 >= larger * 80
        }
        _ => false,
    }
}

/// True when an answer is an error report rather than data: a JSON object made only of
/// envelope keys, an empty body, a refused GraphQL operation, also inside a wrapper (`{"status": "error", "data":
/// {"message": "…"}}`, `{"result": null}`).
pub fn is_error_envelope(resp: &ResponseRecord) -> bool {
    if resp.body.text.trim().is_empty() || resp.graphql_refused() {
        return true;
    }
    let only_envelope_keys = |map: &serde_json::Map<String, Value>| {
        map.keys()
            .all(|k| ENVELOPE_KEYS.contains(&k.to_ascii_lowercase().as_str()))
    };
    match resp.json() {
        Some(Value::Object(map)) if only_envelope_keys(&map) => true,
        Some(v @ Value::Object(_)) => match unwrap_wrapper(&v) {
            Some(Value::Object(inner)) => only_envelope_keys(inner),
            Some(Value::Null) => true,
            _ => false,
        },
        _ => false,
    }
}

/// What a wrapper holds: the model's unwrapping, plus a wrapper whose data is `null` (the
/// model only descends into objects and lists). `None` when the answer is not wrapped.
fn unwrap_wrapper(v: &Value) -> Option<&Value> {
    let inner = middlebrick_model::envelope::unwrap_envelope(v);
    if !std::ptr::eq(inner, v) {
        return Some(inner);
    }
    let map = v.as_object()?;
    let own_id = map.keys().any(|k| {
        middlebrick_model::names::is_id_word(&middlebrick_model::names::normalize_name(k))
    });
    if own_id {
        return None;
    }
    let mut nulls = map
        .iter()
        .filter(|(k, _)| middlebrick_model::envelope::is_envelope_key(k));
    match (nulls.next(), nulls.next()) {
        (Some((_, Value::Null)), None)
            if map.iter().all(|(_, v)| !v.is_object() && !v.is_array()) =>
        {
            Some(&Value::Null)
        }
        _ => None,
    }
}

/// True when an answer is an HTML page asking for a password (a login redirect target).
pub fn looks_like_login_page(resp: &ResponseRecord) -> bool {
    let is_html = resp
        .media_type()
        .map(|m| m.contains("html"))
        .unwrap_or(false);
    let lower = resp.body.text.to_ascii_lowercase();
    is_html && (lower.contains("type=\"password\"") || lower.contains("type='password'"))
}

/// True when an answer carries enough to be called data: JSON with at least two leaves, or a
/// non-JSON body of some length. `{"status": "ok"}` is not data.
pub fn has_substance(resp: &ResponseRecord) -> bool {
    match resp.json() {
        Some(v) => leaf_set(&v).len() >= 2,
        None => resp.body.text.trim().len() >= 32,
    }
}

/// Which of `markers` (an identity's username, email, id) appear in the answer as whole JSON
/// values or, for non-JSON answers, as whole words.
pub fn markers_in<'a>(resp: &ResponseRecord, markers: &'a [String]) -> Vec<&'a str> {
    let json = resp.json();
    markers
        .iter()
        .filter(|m| m.len() >= 3)
        .filter(|m| match &json {
            Some(v) => contains_value(v, m, &mut 5_000),
            None => resp
                .body
                .text
                .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '_')
                .any(|w| w == m.as_str()),
        })
        .map(String::as_str)
        .collect()
}

fn contains_value(v: &Value, needle: &str, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match v {
        Value::String(s) => s == needle,
        Value::Number(n) => n.to_string() == needle,
        Value::Array(items) => items.iter().any(|v| contains_value(v, needle, budget)),
        Value::Object(map) => map.values().any(|v| contains_value(v, needle, budget)),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) fn response(status: u16, content_type: &str, body: &str) -> ResponseRecord {
    ResponseRecord {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: middlebrick_model::BodyRecord {
            text: body.into(),
            size: body.len() as u64,
            truncated: false,
        },
        graphql_field: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    #[test]
    fn same_data_tolerates_volatile_fields_but_not_other_objects() {
        let a = response(
            200,
            JSON,
            r#"{"id":7,"owner":"alice","total":12.5,"items":[1,2],"at":"10:00:01"}"#,
        );
        let b = response(
            200,
            JSON,
            r#"{"id":7,"owner":"alice","total":12.5,"items":[1,2],"at":"10:00:02"}"#,
        );
        let c = response(
            200,
            JSON,
            r#"{"id":8,"owner":"bob","total":3.0,"items":[5],"at":"10:00:02"}"#,
        );
        assert!(same_data(&a, &b));
        assert!(!same_data(&a, &c));
    }

    #[test]
    fn envelopes_login_pages_and_trivial_answers_are_not_data() {
        assert!(is_error_envelope(&response(
            200,
            JSON,
            r#"{"error":"login required"}"#
        )));
        assert!(is_error_envelope(&response(200, JSON, "")));
        assert!(!is_error_envelope(&response(
            200,
            JSON,
            r#"{"id":1,"error":null}"#
        )));
        for wrapped in [
            r#"{"status":"error","data":{"message":"forbidden"}}"#,
            r#"{"success":false,"result":null}"#,
            r#"{"payload":{"error":{"code":403}}}"#,
        ] {
            assert!(
                is_error_envelope(&response(200, JSON, wrapped)),
                "{wrapped}"
            );
        }
        for data in [
            r#"{"status":"success","data":{"id":1,"name":"x"}}"#,
            r#"{"data":[]}"#,
            r#"{"id":1,"data":null}"#,
        ] {
            assert!(!is_error_envelope(&response(200, JSON, data)), "{data}");
        }
        assert!(looks_like_login_page(&response(
            200,
            "text/html; charset=utf-8",
            r#"<form><input type="password" name="pw"></form>"#
        )));
        assert!(!has_substance(&response(200, JSON, r#"{"status":"ok"}"#)));
        assert!(has_substance(&response(
            200,
            JSON,
            r#"{"id":1,"name":"x"}"#
        )));
    }

    #[test]
    fn markers_match_whole_values_only() {
        let r = response(
            200,
            JSON,
            r#"{"owner":"alice","note":"alice2 was here","n":4242}"#,
        );
        let markers = vec!["alice".to_string(), "bob".to_string(), "4242".to_string()];
        assert_eq!(markers_in(&r, &markers), vec!["alice", "4242"]);
        let r = response(200, JSON, r#"{"owner":"alice2"}"#);
        assert!(markers_in(&r, &markers).is_empty());
    }
}

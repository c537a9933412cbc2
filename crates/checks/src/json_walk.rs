//! One bounded, depth-first walk over a JSON answer, for checks that look for fields in it.

use serde_json::{Map, Value};

/// The property being offered: its key and the object holding it (`None` for an entered scalar).
pub(crate) type Property<'a> = Option<(&'a str, &'a Map<String, Value>)>;

/// Walks `v` (found at `path`: `a.b`, `items[]`) within `budget` entered nodes, at most `items`
/// elements of each array. `visit` is called for each property of an object, with its path,
/// value and `(key, the object holding it)`; the walk enters the value only when `visit`
/// returns true. It is called again, without a key, for every scalar the walk enters (the
/// root, array elements, and properties it was told to enter).
pub(crate) fn walk(
    v: &Value,
    path: &str,
    items: usize,
    budget: &mut usize,
    visit: &mut dyn FnMut(&str, &Value, Property<'_>) -> bool,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                // Offers stop with the budget too: a 100,000-key object is not 100,000 offers.
                if *budget == 0 {
                    return;
                }
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if visit(&here, child, Some((k, map))) {
                    walk(child, &here, items, budget, visit);
                }
            }
        }
        Value::Array(list) => {
            let here = format!("{path}[]");
            for item in list.iter().take(items) {
                walk(item, &here, items, budget, visit);
            }
        }
        scalar => {
            visit(path, scalar, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::walk;
    use serde_json::json;

    #[test]
    fn properties_are_offered_before_entry_and_scalars_once_entered() {
        let v = json!({"a": {"b": "x", "skip": {"c": "never"}}, "l": ["y", "z", "cut"]});
        let mut props = Vec::new();
        let mut leaves = Vec::new();
        walk(&v, "", 2, &mut 100, &mut |path, value, key| {
            match key {
                Some(_) => props.push(path.to_string()),
                None => leaves.push((path.to_string(), value.clone())),
            }
            key.is_none_or(|(k, _)| k != "skip")
        });
        assert_eq!(props, ["a", "a.b", "a.skip", "l"]);
        assert_eq!(
            leaves,
            [
                ("a.b".to_string(), json!("x")),
                ("l[]".to_string(), json!("y")),
                ("l[]".to_string(), json!("z")),
            ]
        );
        let mut entered = 0;
        walk(&v, "", 2, &mut 3, &mut |_, _, k| {
            entered += usize::from(k.is_none());
            true
        });
        assert_eq!(entered, 1, "the budget counts entered nodes: root, a, a.b");
    }
}

//! Who owns what, seen from outside: the conventions authorization checks rely on to say that
//! an answer carries *someone's* data, that an operation is privileged, or that an operation
//! reads the caller's own account. Names and shapes only, never a particular API's routes.

use middlebrick_model::{Inventory, Method, Operation, ParamLocation};
use serde_json::Value;

/// Keys whose value names the owner of an object.
const OWNER_KEYS: &[&str] = &[
    "user_id",
    "userid",
    "owner_id",
    "ownerid",
    "owner",
    "customer_id",
    "customerid",
    "account_id",
    "accountid",
    "created_by",
    "createdby",
    "author_id",
    "authorid",
    "member_id",
    "memberid",
    "username",
    "user",
    "email",
    "customer",
    "author",
];

/// Path segments and tags that mark back-office functions.
const PRIVILEGED_WORDS: &[&str] = &[
    "admin",
    "admins",
    "administration",
    "administrator",
    "internal",
    "manage",
    "management",
    "staff",
    "backoffice",
    "back-office",
    "superuser",
    "sudo",
    "moderation",
    "ops",
];

/// Last path segments of operations that read or change the caller's own account.
const SELF_SEGMENTS: &[&str] = &[
    "me", "self", "profile", "account", "whoami", "current", "myself",
];

fn norm(k: &str) -> String {
    k.to_ascii_lowercase().replace('-', "_")
}

/// Which of `markers` (an identity's username, email, user id) the answer names as an owner:
/// the value of an owner-like key equal to a marker (any length: user ids are often small
/// numbers), or any value equal to a marker of three characters or more.
pub fn owners_named(body: &Value, markers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    walk(body, None, markers, &mut found, &mut 5_000);
    found.sort();
    found.dedup();
    found
}

fn walk(
    v: &Value,
    key: Option<&str>,
    markers: &[String],
    found: &mut Vec<String>,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let text = match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            items
                .iter()
                .take(100)
                .for_each(|i| walk(i, key, markers, found, budget));
            None
        }
        Value::Object(map) => {
            map.iter()
                .for_each(|(k, v)| walk(v, Some(k), markers, found, budget));
            None
        }
        _ => None,
    };
    let Some(text) = text else { return };
    let owner_key = key.is_some_and(|k| OWNER_KEYS.contains(&norm(k).as_str()));
    for m in markers {
        if text == *m && (owner_key || m.len() >= 3) {
            found.push(m.clone());
        }
    }
}

/// Why an operation looks privileged (a path segment or tag such as `admin`, or an OAuth scope
/// naming admin rights), or `None`.
pub fn privileged_reason(op: &Operation) -> Option<String> {
    for seg in op.path.split('/').filter(|s| !s.starts_with('{')) {
        if PRIVILEGED_WORDS.contains(&norm(seg).as_str()) {
            return Some(format!("its path has the segment `{seg}`"));
        }
    }
    for tag in &op.tags {
        if PRIVILEGED_WORDS.iter().any(|w| {
            norm(tag)
                .split(|c: char| !c.is_alphanumeric())
                .any(|t| t == *w)
        }) {
            return Some(format!("the spec tags it `{tag}`"));
        }
    }
    if let Some(reqs) = &op.security {
        for r in reqs {
            for (_, scopes) in &r.schemes {
                if let Some(s) = scopes.iter().find(|s| norm(s).contains("admin")) {
                    return Some(format!("the spec requires the scope `{s}`"));
                }
            }
        }
    }
    None
}

/// True for an operation on the caller's own account (`/users/me`, `/profile`).
pub fn is_self_path(path: &str) -> bool {
    !path.contains('{')
        && path
            .rsplit('/')
            .find(|s| !s.is_empty())
            .is_some_and(|last| SELF_SEGMENTS.contains(&norm(last).as_str()))
}

/// The GET operation that reads the caller's own account.
pub fn self_read(inv: &Inventory) -> Option<&Operation> {
    inv.operations
        .iter()
        .filter(|o| o.method == Method::Get && is_self_path(&o.path))
        .min_by_key(|o| o.path.len())
}

/// Path parameters and id-like query parameters: where an object reference travels.
pub fn id_params(op: &Operation) -> Vec<(ParamLocation, String)> {
    op.parameters
        .iter()
        .filter(|p| match p.location {
            ParamLocation::Path => true,
            ParamLocation::Query => {
                let n = norm(&p.name);
                n == "id"
                    || n.ends_with("_id")
                    || n.ends_with("id") && p.name.ends_with("Id")
                    || n == "uuid"
            }
            _ => false,
        })
        .map(|p| (p.location, p.name.clone()))
        .collect()
}

/// True when the values are small integers close together: enumerable by counting.
pub fn sequential(values: &[&Value]) -> bool {
    let mut ints: Vec<i64> = values
        .iter()
        .filter_map(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    if ints.len() < 2 || ints.len() != values.len() {
        return false;
    }
    ints.sort_unstable();
    ints.windows(2).all(|w| w[1] - w[0] <= 10) && ints[0] < 1_000_000
}

/// A short random token for names and markers the scanner creates (process-random keys from
/// the standard library; no dependency needed for a non-cryptographic nonce).
pub fn nonce() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:012x}", RandomState::new().hash_one(n) & 0xffff_ffff_ffff)
}

/// The collection path of an item path: `/orders/{id}` → `/orders`.
pub fn collection_of(path: &str) -> Option<&str> {
    let i = path.rfind("/{")?;
    path[i..].ends_with('}').then(|| &path[..i])
}

/// The id of an object in a create answer: `id`, or a field named like the item's parameter.
pub fn created_id(body: &Value, param: &str) -> Option<Value> {
    let obj = body.as_object()?;
    let inner = ["data", "item", "result"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_object));
    for o in std::iter::once(obj).chain(inner) {
        for key in [param, "id", "uuid"] {
            if let Some(v) = o.get(key).filter(|v| v.is_number() || v.is_string()) {
                return Some(v.clone());
            }
        }
    }
    None
}

/// A plain text property of an object schema that a check can set to a marker and find again:
/// a string without enum or format, writable, not an id, a password or an email.
pub fn plain_text_field(schema: &middlebrick_model::Schema) -> Option<String> {
    schema.properties.iter().find_map(|(k, s)| {
        let k_l = k.to_ascii_lowercase();
        (s.effective_type() == Some(middlebrick_model::SchemaType::String)
            && s.enum_values.is_empty()
            && s.format.is_none()
            && !s.read_only
            && k_l != "id"
            && !k_l.ends_with("_id")
            && !k_l.contains("password")
            && !k_l.contains("email"))
        .then(|| k.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owners_are_named_by_owner_keys_or_long_values() {
        let markers = vec!["alice".to_string(), "1".to_string()];
        assert_eq!(
            owners_named(&json!({"id": 9, "user_id": 1, "street": "x"}), &markers),
            vec!["1"]
        );
        assert_eq!(
            owners_named(&json!({"id": 1, "note": "alice"}), &markers),
            vec!["alice"]
        );
        assert!(
            owners_named(&json!({"id": 1, "qty": 1}), &markers).is_empty(),
            "an id of 1 is not an owner"
        );
    }

    #[test]
    fn privileged_and_self_operations_are_recognised() {
        assert!(privileged_reason(&Operation::new(Method::Get, "/api/admin/orders")).is_some());
        assert!(
            privileged_reason(&Operation::new(Method::Get, "/api/administrative-areas")).is_none()
        );
        let mut tagged = Operation::new(Method::Get, "/reports");
        tagged.tags = vec!["Admin tools".into()];
        assert!(privileged_reason(&tagged).is_some());
        assert!(is_self_path("/api/users/me"));
        assert!(!is_self_path("/api/users/{id}"));
        assert!(!is_self_path("/api/meetings"));
    }

    #[test]
    fn sequential_ids_are_told_from_random_ones() {
        assert!(sequential(&[&json!(1), &json!(2), &json!(4)]));
        assert!(!sequential(&[&json!(1), &json!(90_000)]));
        assert!(!sequential(&[&json!("5f1c"), &json!("77ab")]));
    }
}

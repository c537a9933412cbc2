//! One spelling of a name for every place that compares names: `cardId`, `card_id`, `card-id`,
//! `CardID` and `CARD_ID` are the same name, and so is `id` inside a `card` object or a `cards`
//! list. Harvesting ids, judging ownership and reading the id of a created object all route
//! through [`normalize_name`] / [`qualified_name`], so they never disagree about a convention.

/// Words of an identifier, lower-cased: separators and case changes split it
/// (`OrderID` -> `order`,`id`; `HTTPServer` -> `http`,`server`; `user_name` -> `user`,`name`).
pub fn name_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        if c.is_uppercase() && !cur.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_numeric() || (prev.is_uppercase() && next_lower) {
                flush(&mut cur, &mut out);
            }
        }
        cur.extend(c.to_lowercase());
    }
    flush(&mut cur, &mut out);
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

/// The name with case and separators erased: `order_id`, `orderId`, `OrderID` -> `orderid`.
pub fn normalize_name(name: &str) -> String {
    name_words(name).concat()
}

/// Whether a (normalised) word names an identifier on its own.
pub fn is_id_word(w: &str) -> bool {
    matches!(w, "id" | "uuid" | "guid" | "pk")
}

/// The simplest singular of a collection word (`cards` -> `card`, `categories` -> `category`);
/// callers that must try several spellings (`boxes`) have their own list.
pub fn singular(word: &str) -> String {
    if let Some(base) = word.strip_suffix("ies") {
        return format!("{base}y");
    }
    match word.strip_suffix('s') {
        Some(base) if !word.ends_with("ss") && !base.is_empty() => base.to_string(),
        _ => word.to_string(),
    }
}

/// The normalised name of `key` as read inside an object held under `parent`: a bare `id`
/// (`uuid`, …) under `card` or `cards` is `cardid`; any other key is its own normalised name.
pub fn qualified_name(parent: Option<&str>, key: &str) -> String {
    let n = normalize_name(key);
    match parent.map(normalize_name) {
        Some(p) if is_id_word(&n) && !p.is_empty() => format!("{}{n}", singular(&p)),
        _ => n,
    }
}

/// Whether two names are one name across conventions.
pub fn same_name(a: &str, b: &str) -> bool {
    normalize_name(a) == normalize_name(b)
}

/// Normalised keys whose value names the owner of an object (`user_id`, `userId`, `UserID`
/// and `id` inside a `user` object are all `userid`).
const OWNER_KEYS: &[&str] = &[
    "userid",
    "owner",
    "ownerid",
    "customerid",
    "accountid",
    "createdby",
    "authorid",
    "memberid",
    "username",
    "user",
    "email",
    "customer",
    "author",
    "ownerusername",
];

/// Whether a key, read inside an object held under `parent`, names an owner.
pub fn is_owner_key(parent: Option<&str>, key: &str) -> bool {
    OWNER_KEYS.contains(&qualified_name(parent, key).as_str())
}

/// The owner a record names (`"user_id": 7`, `"owner": {"id": 7}`, `"username": "alice"`), as
/// text; `None` when it names none.
pub fn record_owner(map: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let fields = || map.iter().take(128);
    fields()
        .filter(|(k, _)| is_owner_key(None, k))
        .find_map(|(_, v)| text(v))
        .or_else(|| {
            fields().find_map(|(k, v)| {
                let inner = v.as_object()?;
                inner
                    .iter()
                    .take(128)
                    .filter(|(ik, _)| is_owner_key(Some(k), ik))
                    .find_map(|(_, iv)| text(iv))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_case_and_separators() {
        assert_eq!(name_words("OrderID"), vec!["order", "id"]);
        assert_eq!(name_words("HTTPServer"), vec!["http", "server"]);
        assert_eq!(name_words("x-request-id"), vec!["x", "request", "id"]);
        assert_eq!(name_words("order2Id"), vec!["order2", "id"]);
        assert!(name_words("__").is_empty());
    }

    #[test]
    fn one_name_across_conventions() {
        for n in [
            "cardId", "card_id", "card-id", "CardID", "CARD_ID", "CardId",
        ] {
            assert_eq!(normalize_name(n), "cardid", "{n}");
            assert!(same_name(n, "card_id"));
        }
    }

    #[test]
    fn an_id_inside_an_object_or_a_list_is_named_after_it() {
        assert_eq!(qualified_name(Some("card"), "id"), "cardid");
        assert_eq!(qualified_name(Some("cards"), "id"), "cardid");
        assert_eq!(qualified_name(Some("categories"), "uuid"), "categoryuuid");
        assert_eq!(qualified_name(Some("card"), "number"), "number");
        assert_eq!(qualified_name(None, "id"), "id");
        assert_eq!(singular("address"), "address");
    }

    #[test]
    fn records_name_their_owner_in_any_convention() {
        use serde_json::json;
        let owner = |v: serde_json::Value| record_owner(v.as_object().unwrap());
        assert_eq!(owner(json!({"id": 1, "ownerId": 7})).as_deref(), Some("7"));
        assert_eq!(
            owner(json!({"id": 1, "user": {"id": 7}})).as_deref(),
            Some("7")
        );
        assert_eq!(
            owner(json!({"id": 1, "author": {"username": "al"}})).as_deref(),
            Some("al")
        );
        assert_eq!(owner(json!({"id": 1, "card": {"id": 7}})), None);
        assert!(is_owner_key(Some("owner"), "id") && !is_owner_key(None, "id"));
    }
}

//! How names are split and compared, so that `order_id`, `orderId` and `OrderID` are the same
//! name, `order_id` belongs to the `orders` collection, and a `role` property is treated with
//! care.
//!
//! Plurals are kept simple on purpose (trailing `s`, `es`, `ies`): irregular plurals (`people`)
//! are rare in API paths, and a wrong guess only costs a fallback to a synthesised value.

/// Words of an identifier, lower-cased (the model's one splitter, shared with checks).
pub(crate) fn words(name: &str) -> Vec<String> {
    middlebrick_model::names::name_words(name)
}

/// The name with case and separators erased: `order_id`, `orderId`, `OrderID` -> `orderid`
/// (the model's one normaliser, so harvest and ownership agree).
pub(crate) fn normalize(name: &str) -> String {
    middlebrick_model::names::normalize_name(name)
}

use middlebrick_model::names::is_id_word;

/// For an id-like name, what it identifies: `order_id` -> `order`, `OrderUUID` -> `order`,
/// `id` -> `` (empty: the path must say). `None` for names that are not ids (`username`).
pub(crate) fn id_stem(name: &str) -> Option<String> {
    let mut w = words(name);
    match w.last() {
        Some(last) if is_id_word(last) => {
            w.pop();
            Some(w.concat())
        }
        _ => None,
    }
}

/// Verbs that start a GraphQL field's name without naming what it is about (`getOrder`).
const FIELD_VERBS: &[&str] = &[
    "get", "fetch", "find", "read", "load", "lookup", "retrieve", "show", "view", "query",
];

/// What a GraphQL root field is about, normalised: `order` -> `order`, `getOrder` and
/// `orderById` -> `order`, `userNotes` -> `usernotes`; empty when only a verb is left.
pub(crate) fn graphql_subject(field: &str) -> String {
    let mut w = words(field);
    if let Some(by) = w.iter().skip(1).position(|x| x == "by") {
        w.truncate(by + 1);
    }
    if w.len() > 1 && FIELD_VERBS.contains(&w[0].as_str()) {
        w.remove(0);
    }
    w.concat()
}

pub(crate) fn is_id_like(name: &str) -> bool {
    id_stem(name).is_some()
}

/// Names that identify an object without being called an id; harvested wherever they appear.
const KEYISH: &[&str] = &["slug", "username", "login", "handle", "nickname", "sku"];

pub(crate) fn is_keyish(normalized: &str) -> bool {
    KEYISH.contains(&normalized)
}

/// Names whose values are credentials: never harvested, never filled from the pool.
pub(crate) fn is_secret_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "session",
        "authorization",
        "apikey",
        "otp",
    ];
    let w = words(name);
    let n = w.concat();
    w.iter().any(|x| WORDS.contains(&x.as_str()))
        || ["apikey", "accesskey", "privatekey", "token", "secret"]
            .iter()
            .any(|s| n.contains(s))
}

/// Names that grant or describe privileges: optional ones are left out of synthesised bodies
/// and required ones avoid privileged enum values, so a plain request never asks to be admin.
pub(crate) fn is_privileged_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "role",
        "roles",
        "admin",
        "superuser",
        "staff",
        "permission",
        "permissions",
        "privilege",
        "privileges",
        "scope",
        "scopes",
        "group",
        "groups",
        "owner",
        "verified",
        "approved",
        "balance",
        "credit",
        "credits",
        "tier",
        "plan",
        "level",
        "internal",
    ];
    words(name).iter().any(|w| WORDS.contains(&w.as_str()))
}

/// Names that identify an account (how its owner signs in or is reached): an optional one in
/// an update would re-point the account, so synthesis leaves it out.
pub(crate) fn is_account_name(name: &str) -> bool {
    let n = normalize(name);
    n.contains("email")
        || n.contains("phone")
        || matches!(n.as_str(), "username" | "login" | "handle" | "mobile")
}

/// Enum values that read as privileged (`admin`, `superuser`, `owner`, …).
pub(crate) fn is_privileged_value(v: &serde_json::Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let s = s.to_ascii_lowercase();
    [
        "admin", "root", "super", "owner", "staff", "manager", "system", "internal",
    ]
    .iter()
    .any(|p| s.contains(p))
}

/// Collection segment spellings of a stem: `order` -> `order`, `orders`, `orderes`;
/// `category` -> …, `categories`.
pub(crate) fn plural_forms(stem: &str) -> Vec<String> {
    let mut out = vec![stem.to_string(), format!("{stem}s"), format!("{stem}es")];
    if let Some(base) = stem.strip_suffix('y') {
        out.push(format!("{base}ies"));
    }
    out
}

/// Stems a collection segment may stand for, most specific first:
/// `categories` -> `category`, `categori`, `categorie`; `orders` -> `order`; `boxes` -> `box`, `boxe`.
pub(crate) fn singular_forms(segment: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    if let Some(base) = segment.strip_suffix("ies") {
        push(format!("{base}y"));
    }
    if let Some(base) = segment.strip_suffix("es") {
        push(base.to_string());
    }
    if segment.ends_with('s') && !segment.ends_with("ss") {
        push(segment[..segment.len() - 1].to_string());
    }
    push(segment.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_case_and_separators() {
        assert_eq!(words("OrderID"), vec!["order", "id"]);
        assert_eq!(words("orderId"), vec!["order", "id"]);
        assert_eq!(words("order_id"), vec!["order", "id"]);
        assert_eq!(words("HTTPServer"), vec!["http", "server"]);
        assert_eq!(words("x-request-id"), vec!["x", "request", "id"]);
        assert_eq!(words("order2Id"), vec!["order2", "id"]);
        assert_eq!(words("UUID"), vec!["uuid"]);
        assert!(words("__").is_empty());
    }

    #[test]
    fn normalised_names_match_across_conventions() {
        for n in ["order_id", "orderId", "OrderID", "order-id", "ORDER_ID"] {
            assert_eq!(normalize(n), "orderid", "{n}");
        }
    }

    #[test]
    fn graphql_fields_name_their_subject() {
        for (field, subject) in [
            ("order", "order"),
            ("getOrder", "order"),
            ("orderById", "order"),
            ("fetchLineItemByUuid", "lineitem"),
            ("get", "get"),
        ] {
            assert_eq!(graphql_subject(field), subject, "{field}");
        }
    }

    #[test]
    fn id_stems() {
        assert_eq!(id_stem("order_id").as_deref(), Some("order"));
        assert_eq!(id_stem("OrderUUID").as_deref(), Some("order"));
        assert_eq!(id_stem("lineItemId").as_deref(), Some("lineitem"));
        assert_eq!(id_stem("id").as_deref(), Some(""));
        assert_eq!(id_stem("username"), None);
        assert_eq!(id_stem("idea"), None);
        assert!(is_id_like("petId") && !is_id_like("valid"));
    }

    #[test]
    fn plurals_and_singulars_meet() {
        assert!(plural_forms("order").contains(&"orders".to_string()));
        assert!(plural_forms("category").contains(&"categories".to_string()));
        assert!(plural_forms("box").contains(&"boxes".to_string()));
        assert_eq!(singular_forms("orders")[0], "order");
        assert_eq!(singular_forms("categories")[0], "category");
        assert_eq!(singular_forms("boxes")[0], "box");
        assert_eq!(singular_forms("address"), vec!["address"]);
        assert_eq!(singular_forms("pet"), vec!["pet"]);
    }

    #[test]
    fn secrets_and_privileges_are_recognised() {
        for n in [
            "access_token",
            "apiKey",
            "X-API-Key",
            "password",
            "sessionId",
            "client_secret",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["order_id", "username", "keyword", "monkey"] {
            assert!(!is_secret_name(n), "{n}");
        }
        assert!(is_account_name("contactEmail") && is_account_name("user_name"));
        assert!(!is_account_name("nickname_color"));
        assert!(is_privileged_name("is_admin") && is_privileged_name("role"));
        assert!(!is_privileged_name("name"));
        assert!(is_privileged_value(&serde_json::json!("SuperAdmin")));
        assert!(!is_privileged_value(&serde_json::json!("customer")));
    }
}

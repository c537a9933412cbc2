//! Operations whose name says they change or destroy state, whatever their method says: a
//! `GET /reset`, `GET /createdb`, `GET /orders/{id}/cancel`. The one recogniser for every
//! place that must not send such a read by accident: the base-path probe, the warm-up, the
//! crawl, safe mode and the engine's object gate (issue 16: a warm-up GET dropped and
//! re-created a target's database four times in one scan).
//!
//! The signal is a word from [`STATE_CHANGE_WORDS`]: a whole word of the path or of the
//! `operationId` (split at `/ - _ .` and camelCase humps; `createdb`, a word glued to `db`,
//! `database`, `data` or `all`, counts), or the verb a summary or description opens with
//! ("Drops and re-creates the database"). Only the opening verb of prose counts, so that
//! "Lists the orders created by the caller" stays a read.

use crate::{Method, Operation};

/// Verbs and nouns of state changes: a read whose name carries one is not a read.
pub const STATE_CHANGE_WORDS: &[&str] = &[
    "reset",
    "init",
    "initialize",
    "initialise",
    "seed",
    "setup",
    "populate",
    "create",
    "drop",
    "delete",
    "remove",
    "purge",
    "truncate",
    "logout",
    "signout",
    "destroy",
    "wipe",
    "clear",
    "flush",
    "restart",
    "shutdown",
    "cancel",
    "approve",
    "reject",
    "refund",
    "redeem",
    "revoke",
    "activate",
    "deactivate",
    "disable",
    "migrate",
    "rebuild",
];

/// What a word glued to a state-change word may be: `createdb`, `resetall`.
const GLUED_OBJECTS: &[&str] = &["db", "database", "data", "all"];

/// The state-change word `op`'s path, operationId, summary or description carries, if any
/// (whatever its method).
pub fn state_change_word(op: &Operation) -> Option<&'static str> {
    let named = op
        .path
        .split(['/', '-', '_', '.', '{', '}'])
        .chain(op.operation_id.as_deref())
        .chain(op.graphql.as_ref().map(|g| g.field.as_str()))
        .flat_map(humps)
        .find_map(|w| word_or_glued(&w));
    named.or_else(|| {
        [op.summary.as_deref(), op.description.as_deref()]
            .into_iter()
            .flatten()
            .find_map(opening_verb)
    })
}

/// True when `op` is a read (GET, HEAD, a GraphQL query) whose name says it changes state: it is left out of
/// the warm-up, of safe mode and of the crawl, and only the engine's gate lets it through.
pub fn is_dangerous_read(op: &Operation) -> bool {
    let read = match &op.graphql {
        Some(_) => !op.changes_state(),
        None => matches!(op.method, Method::Get | Method::Head),
    };
    read && state_change_word(op).is_some()
}

/// The state-change words that act on a whole application rather than on one object: a
/// reset, an initialisation, a purge.
pub const WHOLESALE_WORDS: &[&str] = &[
    "reset",
    "init",
    "initialize",
    "initialise",
    "seed",
    "populate",
    "drop",
    "purge",
    "truncate",
    "wipe",
    "flush",
    "restart",
    "shutdown",
    "destroy",
    "migrate",
    "rebuild",
];

/// The wholesale word (see [`WHOLESALE_WORDS`]) `op` is named for, when its path names no
/// object (no path parameter): `POST /admin/reset-db`, `PUT /demo-data` whose operationId is
/// `initializeDemoData`, `GET /initdb`. Such an operation may change every object the
/// application holds, whoever created them. Whether it is a sign-in flow's own reset (a
/// password reset) is the caller's business: that takes the checks crate's recogniser.
pub fn wholesale_word(op: &Operation) -> Option<&'static str> {
    if op.path.contains('{') {
        return None;
    }
    // A password's or a PIN's reset is one account's.
    let credential = op
        .path
        .split(['/', '-', '_', '.'])
        .chain(op.graphql.as_ref().map(|g| g.field.as_str()))
        .flat_map(humps)
        .any(|w| matches!(w.as_str(), "password" | "passwd" | "pin" | "mfa" | "otp"));
    if credential {
        return None;
    }
    state_change_word(op).filter(|w| WHOLESALE_WORDS.contains(w))
}

/// True when a path (of a link a crawl found, of a request without an operation) carries a
/// state-change word.
pub fn path_signals_state_change(path: &str) -> bool {
    path.split(['/', '-', '_', '.', '?', '&', '='])
        .flat_map(humps)
        .any(|w| word_or_glued(&w).is_some())
}

fn known(word: &str) -> Option<&'static str> {
    STATE_CHANGE_WORDS.iter().copied().find(|w| *w == word)
}

fn word_or_glued(word: &str) -> Option<&'static str> {
    known(word).or_else(|| {
        GLUED_OBJECTS.iter().find_map(|suffix| {
            word.strip_suffix(suffix)
                .filter(|stem| !stem.is_empty())
                .and_then(known)
        })
    })
}

/// The words of `s` in lower case, split at camelCase humps (`resetDatabase` → reset,
/// database) and at anything but letters and digits.
fn humps(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The state-change verb prose opens with, in the imperative or the third person ("Reset",
/// "Drops", "Flushes").
fn opening_verb(text: &str) -> Option<&'static str> {
    let first = text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())?
        .to_lowercase();
    word_or_glued(&first)
        .or_else(|| first.strip_suffix('s').and_then(known))
        .or_else(|| first.strip_suffix("es").and_then(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Operation {
        Operation::new(Method::Get, path)
    }

    #[test]
    fn reads_named_for_a_state_change_are_dangerous() {
        for path in [
            "/reset",
            "/api/createdb",
            "/admin/reset-database",
            "/orders/{order_id}/cancel",
            "/users/logout",
            "/db/init",
            "/initdb",
        ] {
            assert!(is_dangerous_read(&get(path)), "{path}");
        }
        let mut op = get("/maintenance");
        op.operation_id = Some("resetDatabase".into());
        assert!(is_dangerous_read(&op));
        let mut op = get("/maintenance");
        op.summary = Some("Drops and re-creates the database".into());
        assert!(is_dangerous_read(&op));
        let mut op = get("/setup");
        op.method = Method::Post;
        assert!(!is_dangerous_read(&op), "only reads are dangerous reads");
        assert_eq!(state_change_word(&op), Some("setup"));
    }

    #[test]
    fn graphql_queries_are_reads_named_by_their_field() {
        let gql = |kind, field: &str| {
            let mut op = Operation::new(Method::Post, "/graphql");
            op.graphql = Some(crate::GraphqlOperation {
                kind,
                field: field.into(),
                arguments: vec![],
                selection: String::new(),
                returns: String::new(),
            });
            op
        };
        assert!(is_dangerous_read(&gql(
            crate::GraphqlKind::Query,
            "resetDemoData"
        )));
        assert!(!is_dangerous_read(&gql(
            crate::GraphqlKind::Query,
            "orders"
        )));
        let wipe = gql(crate::GraphqlKind::Mutation, "resetDatabase");
        assert!(
            !is_dangerous_read(&wipe),
            "a mutation is a write, not a read"
        );
        assert_eq!(wholesale_word(&wipe), Some("reset"));
        assert_eq!(
            wholesale_word(&gql(crate::GraphqlKind::Mutation, "resetPassword")),
            None
        );
    }

    #[test]
    fn ordinary_reads_are_not() {
        for path in [
            "/api/orders",
            "/api/orders/{order_id}",
            "/api/users/me",
            "/api/created-items",
            "/api/updates",
            "/clinics/{clinicId}",
            "/api/products/{id}/reviews",
            "/api/initial-state",
        ] {
            assert!(!is_dangerous_read(&get(path)), "{path}");
        }
        let mut op = get("/api/orders");
        op.summary = Some("Lists the orders created by the caller".into());
        op.description = Some("Returns orders; deleted ones are left out.".into());
        op.operation_id = Some("listOrders".into());
        assert!(!is_dangerous_read(&op));
    }

    #[test]
    fn wholesale_operations_name_no_object() {
        let mut op = Operation::new(Method::Post, "/api/admin/demo-reset");
        assert_eq!(wholesale_word(&op), Some("reset"));
        op.path = "/api/users/{id}/reset".into();
        assert_eq!(wholesale_word(&op), None, "one object's reset");
        let mut op = Operation::new(Method::Put, "/api/demo-data");
        op.operation_id = Some("initializeDemoData".into());
        assert_eq!(wholesale_word(&op), Some("initialize"));
        assert_eq!(wholesale_word(&get("/initdb")), Some("init"));
        let op = Operation::new(Method::Post, "/api/password/reset");
        assert_eq!(wholesale_word(&op), None, "an account's password reset");
        let op = Operation::new(Method::Post, "/api/orders/cancel");
        assert_eq!(wholesale_word(&op), None, "a cancel is not wholesale");
        assert_eq!(
            wholesale_word(&Operation::new(Method::Post, "/api/orders")),
            None
        );
    }

    #[test]
    fn paths_of_links_are_read_the_same_way() {
        assert!(path_signals_state_change("/admin/purge?all=1"));
        assert!(path_signals_state_change("/resetAll"));
        assert!(!path_signals_state_change("/catalogue/items?page=2"));
    }
}

//! Who owns what, seen from outside: the conventions authorization checks rely on to say that
//! an answer carries *someone's* data, that an operation is privileged, or that an operation
//! reads the caller's own account. Names and shapes only, never a particular API's routes.

use middlebrick_model::envelope::{is_envelope_key, unwrap_envelope};
use middlebrick_model::names::{normalize_name, qualified_name};
use middlebrick_model::{Inventory, Method, Operation, ParamLocation};
use serde_json::Value;

pub use middlebrick_model::names::is_owner_key;

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

/// Last path segments of operations that read or change the caller's own account (`/user` is
/// the current user in the RealWorld convention many generators follow).
const SELF_SEGMENTS: &[&str] = &[
    "me",
    "self",
    "profile",
    "account",
    "whoami",
    "current",
    "myself",
    "user",
    "currentuser",
    "myprofile",
    "myaccount",
];

/// How many current-user operations are read at most.
pub const MAX_SELF_READS: usize = 3;

fn norm(k: &str) -> String {
    k.to_ascii_lowercase().replace('-', "_")
}

/// Which of `markers` (an identity's username, email, user id) the answer names as an owner:
/// the value of an owner-like key equal to a marker (any length: user ids are often small
/// numbers), or any value equal to a marker of three characters or more.
pub fn owners_named(body: &Value, markers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    walk(body, (None, None), markers, &mut found, &mut 5_000);
    found.sort();
    found.dedup();
    found
}

/// `at` is the key a value sits under and the key of the object holding it.
fn walk(
    v: &Value,
    at: (Option<&str>, Option<&str>),
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
                .for_each(|i| walk(i, at, markers, found, budget));
            None
        }
        Value::Object(map) => {
            map.iter()
                .for_each(|(k, v)| walk(v, (Some(k), at.0), markers, found, budget));
            None
        }
        _ => None,
    };
    let Some(text) = text else { return };
    let owner_key = at.0.is_some_and(|k| is_owner_key(at.1, k));
    for m in markers {
        if text == *m && (owner_key || m.len() >= 3) {
            found.push(m.clone());
        }
    }
}

/// Words in an operation's summary that say it is reserved for a role
/// (narrower than [`PRIVILEGED_WORDS`]: "manage your addresses" reserves nothing).
const ROLE_WORDS: &[&str] = &[
    "admin",
    "admins",
    "administrator",
    "administrators",
    "staff",
    "superuser",
    "superusers",
    "backoffice",
    "moderator",
    "moderators",
];

/// Why an operation looks privileged, and how much that is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privilege {
    pub reason: String,
    /// The spec says so (a tag, an admin scope, the summary); `false` when
    /// only a path segment names it, which alone justifies no more than a tentative note.
    pub marked: bool,
}

fn has_word(text: &str, words: &[&str]) -> bool {
    norm(text)
        .split(|c: char| !c.is_alphanumeric())
        .any(|t| words.contains(&t))
}

/// How an operation is marked privileged: by the spec (tag, admin scope, summary) first, else by a path segment such as `admin`.
pub fn privilege(op: &Operation) -> Option<Privilege> {
    let marked = |reason: String| {
        Some(Privilege {
            reason,
            marked: true,
        })
    };
    if let Some(tag) = op.tags.iter().find(|t| has_word(t, PRIVILEGED_WORDS)) {
        return marked(format!("the spec tags it `{tag}`"));
    }
    if let Some(reqs) = &op.security {
        for r in reqs {
            for (_, scopes) in &r.schemes {
                if let Some(s) = scopes.iter().find(|s| norm(s).contains("admin")) {
                    return marked(format!("the spec requires the scope `{s}`"));
                }
            }
        }
    }
    if let Some(t) = op.summary.as_deref().filter(|t| has_word(t, ROLE_WORDS)) {
        return marked(format!("the spec describes it as \"{}\"", t.trim()));
    }
    // A GraphQL field has no summary: its description is the one line a schema documents it
    // with (`"Add a catalogue item (admin role)."`).
    if let Some(t) = op
        .graphql
        .as_ref()
        .and(op.description.as_deref())
        .filter(|t| has_word(t, ROLE_WORDS))
    {
        return marked(format!("the schema describes it as \"{}\"", t.trim()));
    }
    op.path
        .split('/')
        .filter(|s| !s.starts_with('{'))
        .find(|seg| PRIVILEGED_WORDS.contains(&norm(seg).as_str()))
        .map(|seg| Privilege {
            reason: format!("its path has the segment `{seg}`"),
            marked: false,
        })
}

/// A `POST` the spec documents as acting on the caller's own state rather than creating: its
/// path has no parameter, is not read and has no item below it, and its documented answers
/// include a success but no `201 Created` (nor `2XX`). `POST /profile/avatar/import` answering
/// 200 replaces the caller's picture; `POST /notes` answering 201 makes a note. An operation
/// with no documented success (a crawled one) is not judged so.
pub fn acts_on_caller(inv: &Inventory, op: &Operation) -> bool {
    let listed = inv.operations.iter().any(|o| {
        o.method == Method::Get
            && (o.path == op.path
                || o.path
                    .strip_prefix(op.path.trim_end_matches('/'))
                    .is_some_and(|rest| rest.starts_with("/{")))
    });
    let success: Vec<&str> = op
        .responses
        .iter()
        .map(|r| r.status.as_str())
        .filter(|s| s.starts_with('2'))
        .collect();
    op.method == Method::Post
        && !op.path.contains('{')
        && !listed
        && !success.is_empty()
        && !success
            .iter()
            .any(|s| *s == "201" || s.eq_ignore_ascii_case("2XX"))
}

/// Why an operation looks privileged (see [`privilege`]), or `None`.
pub fn privileged_reason(op: &Operation) -> Option<String> {
    privilege(op).map(|p| p.reason)
}

/// True for an operation on the caller's own account (`/users/me`, `/profile`, `/whoami`):
/// no path parameter, and a last segment that reads as "the caller" in any convention.
pub fn is_self_path(path: &str) -> bool {
    !path.contains('{')
        && path
            .rsplit('/')
            .find(|s| !s.is_empty())
            .is_some_and(|last| SELF_SEGMENTS.contains(&normalize_name(last).as_str()))
}

/// The GET operations that read the caller's own account, shortest path first, at most
/// [`MAX_SELF_READS`]; privileged ones (an admin's `/admin/user`) are not the caller's.
pub fn self_reads(inv: &Inventory) -> Vec<&Operation> {
    let mut ops: Vec<&Operation> = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && is_self_path(&o.path))
        .filter(|o| privileged_reason(o).is_none())
        .collect();
    ops.sort_by_key(|o| o.path.len());
    ops.truncate(MAX_SELF_READS);
    ops
}

/// The GET operation that reads the caller's own account.
pub fn self_read(inv: &Inventory) -> Option<&Operation> {
    self_reads(inv).into_iter().next()
}

/// The query of the GraphQL endpoint at `path` that reads the caller's own account: a root
/// field named as [`is_self_path`] reads a last segment (`me`, `currentUser`) that takes no
/// required argument.
pub fn graphql_self_read<'a>(inv: &'a Inventory, path: &str) -> Option<&'a Operation> {
    inv.operations.iter().find(|o| {
        o.path == path
            && o.is_read()
            && o.graphql.as_ref().is_some_and(|g| {
                SELF_SEGMENTS.contains(&normalize_name(&g.field).as_str())
                    && g.arguments.iter().all(|a| !a.type_ref.ends_with('!'))
            })
            && privileged_reason(o).is_none()
    })
}

/// Path parameters and id-like query parameters: where an object reference travels.
pub fn id_params(op: &Operation) -> Vec<(ParamLocation, String)> {
    op.parameters
        .iter()
        .filter(|p| match p.location {
            ParamLocation::Path => true,
            ParamLocation::Query => middlebrick_model::names::name_words(&p.name)
                .last()
                .is_some_and(|w| middlebrick_model::names::is_id_word(w)),
            _ => false,
        })
        .map(|p| (p.location, p.name.clone()))
        .collect()
}

/// Where an object reference travels in a request: a parameter, or an argument of a GraphQL
/// field (a property of the JSON body that becomes a variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRef {
    Param(ParamLocation, String),
    Argument(String),
}

impl IdRef {
    pub fn name(&self) -> &str {
        match self {
            IdRef::Param(_, n) | IdRef::Argument(n) => n,
        }
    }

    /// The overrides that put `value` there.
    pub fn set(&self, value: Value) -> crate::probe::Overrides {
        match self {
            IdRef::Param(location, name) => crate::probe::Overrides::param(*location, name, value),
            IdRef::Argument(name) => crate::probe::Overrides::body_field(vec![name.clone()], value),
        }
    }
}

/// [`id_params`], and for a GraphQL field its arguments of type `ID` or with an id-like name
/// (`order(id: ID!)`, `invoice(invoiceId: Int!)`).
pub fn object_refs(op: &Operation) -> Vec<IdRef> {
    let mut refs: Vec<IdRef> = id_params(op)
        .into_iter()
        .map(|(l, n)| IdRef::Param(l, n))
        .collect();
    if let Some(g) = &op.graphql {
        refs.extend(
            g.arguments
                .iter()
                .filter(|a| {
                    a.type_ref.trim_matches(['[', ']', '!']) == "ID"
                        || middlebrick_model::names::name_words(&a.name)
                            .last()
                            .is_some_and(|w| middlebrick_model::names::is_id_word(w))
                })
                .map(|a| IdRef::Argument(a.name.clone())),
        );
    }
    refs
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

/// `op`'s request as `who`, sent to where `owner`'s own request for the object goes (its path
/// and query: a `{username}` naming the owner, a parent's id): an authorization probe differs
/// from the owner's request in who asks, never in which object it names.
pub fn replayed_as(
    probe: &dyn crate::probe::Probe,
    op: &Operation,
    who: &str,
    overrides: &crate::probe::Overrides,
    owner: &middlebrick_model::RequestSpec,
) -> middlebrick_model::RequestSpec {
    let mut r = probe.request(op, who, overrides);
    r.path = owner.path.clone();
    r.query = owner.query.clone();
    r
}

/// `replayed_as`, with the owner's body too: for an operation whose body names its owner
/// (`"user_id": 7`), so the other identity sends exactly the owner's request.
pub fn replayed_whole_as(
    probe: &dyn crate::probe::Probe,
    op: &Operation,
    who: &str,
    owner: &middlebrick_model::RequestSpec,
) -> middlebrick_model::RequestSpec {
    let mut r = replayed_as(probe, op, who, &crate::probe::Overrides::none(), owner);
    r.body = owner.body.clone();
    r
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

/// The id of an object in a create answer, read inside its wrappers: a field named like the
/// item's parameter in any convention (`cardId` for `card_id`, `id` inside a `card` object),
/// else `id`, else `uuid`.
pub fn created_id(body: &Value, param: &str) -> Option<Value> {
    let want = normalize_name(param);
    let top = body.as_object()?;
    let mut objects: Vec<(Option<&str>, &serde_json::Map<String, Value>)> = vec![(None, top)];
    if let Some(inner) = unwrap_envelope(body).as_object() {
        objects.push((None, inner));
    }
    for (parent, o) in objects.clone() {
        for (k, v) in o.iter().take(64) {
            if let Some(m) = v.as_object() {
                let key = if is_envelope_key(k) {
                    parent
                } else {
                    Some(k.as_str())
                };
                objects.push((key, m));
            }
        }
    }
    let scalar = |v: &&Value| v.is_number() || v.is_string();
    let named = objects.iter().find_map(|(parent, o)| {
        o.iter()
            .find(|(k, v)| scalar(v) && qualified_name(*parent, k) == want)
            .map(|(_, v)| v.clone())
    });
    named.or_else(|| {
        ["id", "uuid"].iter().find_map(|key| {
            objects
                .iter()
                .find_map(|(_, o)| o.get(*key).filter(scalar).cloned())
        })
    })
}

/// The longest marker a check writes (`mb-bola-` and a 12-digit nonce, with room to spare).
const MARKER_ROOM: u64 = 24;

/// A plain text property of an object schema that a check can set to a marker and find again:
/// a string without enum or format, long enough for a marker, writable, not an id,
/// an owner, a password or an email.
pub fn plain_text_field(schema: &middlebrick_model::Schema) -> Option<String> {
    schema.properties.iter().find_map(|(k, s)| {
        let k_l = normalize_name(k);
        let id_like = middlebrick_model::names::name_words(k)
            .last()
            .is_some_and(|w| middlebrick_model::names::is_id_word(w));
        (s.effective_type() == Some(middlebrick_model::SchemaType::String)
            && s.enum_values.is_empty()
            && s.format.is_none()
            && !s.read_only
            && !id_like
            && s.max_length.is_none_or(|m| m >= MARKER_ROOM)
            && !is_owner_key(None, k)
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
    fn a_post_documented_without_201_on_an_unlisted_path_acts_on_the_caller() {
        use middlebrick_model::{ResponseSpec, SpecVersion};
        let op = |m: Method, p: &str, codes: &[&str]| {
            let mut o = Operation::new(m, p);
            o.responses = codes
                .iter()
                .map(|c| ResponseSpec {
                    status: (*c).to_string(),
                    media_type: None,
                    schema: None,
                })
                .collect();
            o
        };
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![
            op(
                Method::Post,
                "/profile/avatar/import",
                &["200", "400", "502"],
            ),
            op(Method::Post, "/uploads", &["201", "400"]),
            op(Method::Post, "/feedback", &[]),
            op(Method::Post, "/notes", &["200"]),
            op(Method::Get, "/notes", &["200"]),
            op(Method::Post, "/carts", &["200"]),
            op(Method::Get, "/carts/{cart_id}", &["200"]),
            op(Method::Post, "/exports", &["2XX"]),
            op(Method::Post, "/orders/{id}/pay", &["200"]),
        ];
        let acts = |k: &str| {
            let o = inv.operations.iter().find(|o| o.key() == k).unwrap();
            acts_on_caller(&inv, o)
        };
        assert!(acts("POST /profile/avatar/import"));
        assert!(!acts("POST /uploads"), "201 Created");
        assert!(!acts("POST /feedback"), "nothing documented");
        assert!(!acts("POST /notes"), "a listed path");
        assert!(!acts("POST /carts"), "items below it");
        assert!(!acts("POST /exports"), "2XX may be a 201");
        assert!(
            !acts("POST /orders/{id}/pay"),
            "an action on an object: the gate's"
        );
    }

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
        assert!(privilege(&tagged).unwrap().marked);
        let named = privilege(&Operation::new(Method::Get, "/api/admin/orders")).unwrap();
        assert!(!named.marked, "a path segment alone is a name, not a mark");
        let mut described = Operation::new(Method::Get, "/reports");
        described.summary = Some("List every order (admin role)".into());
        assert!(privilege(&described).unwrap().marked);
        described.summary = Some("Manage your saved addresses".into());
        assert!(privilege(&described).is_none());
        assert!(is_self_path("/api/users/me"));
        assert!(!is_self_path("/api/users/{id}"));
        assert!(!is_self_path("/api/meetings"));
    }

    #[test]
    fn owner_keys_match_across_conventions_and_nesting() {
        let markers = vec!["7".to_string()];
        for body in [
            json!({"id": 1, "userId": 7}),
            json!({"id": 1, "OwnerID": 7}),
            json!({"data": {"id": 1, "owner": {"id": 7}}}),
            json!({"items": [{"id": 1, "user": {"id": 7}}]}),
        ] {
            assert_eq!(owners_named(&body, &markers), vec!["7"], "{body}");
        }
        assert!(owners_named(&json!({"id": 1, "card": {"id": 7}}), &markers).is_empty());
    }

    #[test]
    fn created_ids_are_read_in_any_convention_and_wrapper() {
        let want = Some(json!(5));
        assert_eq!(created_id(&json!({"cardId": 5, "id": 9}), "card_id"), want);
        assert_eq!(created_id(&json!({"card": {"id": 5}}), "card-id"), want);
        assert_eq!(
            created_id(&json!({"status": "ok", "data": {"id": 5}}), "x"),
            want
        );
        assert_eq!(
            created_id(&json!({"payload": {"result": {"CardID": 5}}}), "cardId"),
            want
        );
        assert_eq!(created_id(&json!({"ok": true}), "card_id"), None);
    }

    #[test]
    fn current_user_reads_are_found_in_any_convention() {
        for p in [
            "/me",
            "/api/v2/user",
            "/users/current",
            "/whoami",
            "/account/my-profile",
        ] {
            assert!(is_self_path(p), "{p}");
        }
        let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations = vec![
            Operation::new(Method::Get, "/admin/user"),
            Operation::new(Method::Get, "/api/users/me"),
            Operation::new(Method::Get, "/api/user"),
        ];
        let found: Vec<&str> = self_reads(&inv).iter().map(|o| o.path.as_str()).collect();
        assert_eq!(found, vec!["/api/user", "/api/users/me"]);
    }

    #[test]
    fn query_ids_are_recognised_in_any_convention() {
        let mut op = Operation::new(Method::Get, "/cards");
        for name in ["cardID", "card_id", "q"] {
            op.parameters.push(middlebrick_model::Parameter {
                name: name.into(),
                location: ParamLocation::Query,
                required: false,
                schema: std::sync::Arc::new(middlebrick_model::Schema::default()),
                example: None,
            });
        }
        let names: Vec<String> = id_params(&op).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, vec!["cardID", "card_id"]);
    }

    #[test]
    fn sequential_ids_are_told_from_random_ones() {
        assert!(sequential(&[&json!(1), &json!(2), &json!(4)]));
        assert!(!sequential(&[&json!(1), &json!(90_000)]));
        assert!(!sequential(&[&json!("5f1c"), &json!("77ab")]));
    }
}

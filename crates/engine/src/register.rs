//! Accounts the scan registers itself: finding the API's registration operation, building its
//! body, and the random names and passwords those accounts get.
//!
//! The registration operation is the one the checks' classifier takes for sign-up (a POST
//! whose body takes a password and a username or email, on a sign-up path or an account
//! collection anonymous callers may post to) and which is not the sign-in operation. Only required properties are filled besides the username, email and
//! password ones, so a sign-up body never carries a `role` or `is_admin` the scan did not mean
//! to send.

use crate::identity::is_key;
use middlebrick_checks::authflow::{self, AuthRole};
use middlebrick_model::{Inventory, Method, Operation, RequestBody, RequestSpec, SchemaType};
use middlebrick_synth::value_for_schema;
use serde_json::{Map, Value};

/// How many accounts one scan may register for checks (on top of the two zero-configuration
/// identities): each check that needs one takes a fresh account, and there are few such checks.
pub const OWN_ACCOUNT_CAP: usize = 8;

const PASSWORD_KEYS: &[&str] = &["password", "passwd", "pass", "pwd", "new_password"];
const CONFIRM_KEYS: &[&str] = &[
    "password_confirmation",
    "password_confirm",
    "confirm_password",
    "password2",
    "repeat_password",
    "password_repeat",
    "verify_password",
];
const USERNAME_KEYS: &[&str] = &["username", "user_name", "login", "handle", "user"];
const EMAIL_KEYS: &[&str] = &["email", "email_address", "mail", "e_mail"];

fn body_schema(op: &Operation) -> Option<(&str, &middlebrick_model::Schema)> {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.iter().next())
        .map(|(media, s)| (media.as_str(), s.as_ref()))
}

/// The API's registration operation, when it has one: the shortest-path operation the checks'
/// classifier (`authflow`) takes for a registration, the sign-in excluded.
pub fn find_registration<'a>(
    inv: &'a Inventory,
    sign_in: Option<&(Method, String)>,
) -> Option<&'a Operation> {
    inv.operations
        .iter()
        .filter(|o| sign_in.is_none_or(|(m, p)| !(o.method == *m && o.path == *p)))
        .filter(|o| authflow::role(o) == Some(AuthRole::Registration))
        .min_by_key(|o| o.path.len())
}

/// The email a scan-owned account registers with: on the reserved `example.com` domain, so no
/// message the API sends to it reaches anybody.
pub fn email_for(username: &str) -> String {
    format!("{username}@example.com")
}

/// The request that registers `username` with `password` through `op`.
pub fn registration_request(op: &Operation, username: &str, password: &str) -> RequestSpec {
    let mut req = RequestSpec::new(op.method, op.path.clone());
    req.body = Some(registration_body(op, username, password));
    req.operation = Some(op.key());
    req
}

/// The body for registering `username` with `password` through `op`.
pub fn registration_body(op: &Operation, username: &str, password: &str) -> RequestBody {
    let mut fields = Map::new();
    let mut form = false;
    if let Some((media, schema)) = body_schema(op) {
        form = media.contains("form");
        for (k, prop) in &schema.properties {
            let value = if is_key(k, PASSWORD_KEYS) || is_key(k, CONFIRM_KEYS) {
                Value::String(password.to_string())
            } else if is_key(k, EMAIL_KEYS) {
                Value::String(email_for(username))
            } else if is_key(k, USERNAME_KEYS) {
                Value::String(username.to_string())
            } else if schema.required.contains(k) {
                if prop.effective_type() == Some(SchemaType::Object) && prop.properties.is_empty() {
                    continue;
                }
                value_for_schema(prop)
            } else {
                continue;
            };
            fields.insert(k.clone(), value);
        }
    }
    if form {
        RequestBody::Form(
            fields
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect(),
        )
    } else {
        RequestBody::Json(Value::Object(fields))
    }
}

/// `n` bytes from the operating system's random source.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS source failing is not recoverable here; fall back to the process-random hasher
    // rather than abort a scan over a test account's name.
    if getrandom::fill(&mut buf).is_err() {
        use std::hash::BuildHasher;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = std::collections::hash_map::RandomState::new().hash_one(i) as u8;
        }
    }
    buf
}

/// A fresh username: `mb` and ten lowercase letters and digits (fits the usual
/// `[A-Za-z0-9_.-]{3,32}` rules and reads as the scanner's in the API's user list).
pub fn random_username() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = random_bytes::<10>();
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("mb{tail}")
}

/// A strong password: 24 characters with upper and lower case letters, digits and a symbol, so
/// any reasonable policy accepts it and no guess finds it.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let bytes = random_bytes::<20>();
    let body: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("Mb-{body}7a")
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{RequestBodySpec, Schema};
    use std::sync::Arc;

    fn post(path: &str, media: &str, props: &[&str], required: &[&str]) -> Operation {
        let mut op = Operation::new(Method::Post, path);
        let mut schema = Schema::of_type(SchemaType::Object);
        for p in props {
            schema
                .properties
                .insert(p.to_string(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        schema.required = required.iter().map(|s| s.to_string()).collect();
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [(media.to_string(), Arc::new(schema))]
                .into_iter()
                .collect(),
        });
        op
    }

    fn inventory(ops: Vec<Operation>) -> Inventory {
        let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations = ops;
        inv
    }

    #[test]
    fn registration_is_found_by_shape_not_by_name() {
        let inv = inventory(vec![
            post(
                "/v1/auth/login",
                "application/json",
                &["username", "password"],
                &[],
            ),
            post(
                "/v1/members/signup",
                "application/json",
                &["email", "password", "role"],
                &["email", "password"],
            ),
            post(
                "/v1/auth/reset/confirm",
                "application/json",
                &["username", "code", "password"],
                &[],
            ),
        ]);
        let sign_in = (Method::Post, "/v1/auth/login".to_string());
        let found = find_registration(&inv, Some(&sign_in)).map(|o| o.path.as_str());
        assert_eq!(found, Some("/v1/members/signup"));
    }

    #[test]
    fn a_sign_in_or_reset_alone_is_no_registration() {
        let inv = inventory(vec![
            post("/login", "application/json", &["username", "password"], &[]),
            post(
                "/password/reset",
                "application/json",
                &["username", "token", "new_password"],
                &[],
            ),
        ]);
        assert!(find_registration(&inv, Some(&(Method::Post, "/login".into()))).is_none());
    }

    #[test]
    fn body_fills_identity_fields_and_required_ones_only() {
        let op = post(
            "/users",
            "application/json",
            &[
                "username",
                "email",
                "password",
                "password_confirm",
                "role",
                "full_name",
            ],
            &["username", "email", "password", "full_name"],
        );
        let RequestBody::Json(body) = registration_body(&op, "mbabc", "pw-Strong-1") else {
            panic!("a JSON operation gets a JSON body");
        };
        assert_eq!(body["username"], "mbabc");
        assert_eq!(body["email"], "mbabc@example.com");
        assert_eq!(body["password"], "pw-Strong-1");
        assert_eq!(body["password_confirm"], "pw-Strong-1");
        assert!(
            body.get("full_name").is_some(),
            "required fields are filled"
        );
        assert!(
            body.get("role").is_none(),
            "optional extra fields are never sent"
        );
    }

    #[test]
    fn form_operations_get_a_form_body() {
        let op = post(
            "/signup",
            "application/x-www-form-urlencoded",
            &["login", "pwd"],
            &[],
        );
        let RequestBody::Form(fields) = registration_body(&op, "mbx", "p") else {
            panic!("a form operation gets a form body");
        };
        assert!(fields.contains(&("login".to_string(), "mbx".to_string())));
        assert!(fields.contains(&("pwd".to_string(), "p".to_string())));
    }

    #[test]
    fn random_names_and_passwords_are_fresh_and_well_formed() {
        let (a, b) = (random_username(), random_username());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        let p = random_password();
        assert!(p.len() >= 24);
        assert!(p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_lowercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()));
        assert_ne!(p, random_password());
    }
}

//! Accounts the scan registers itself: finding the API's registration operation, building its
//! body, and the random names and passwords those accounts get.
//!
//! The registration operation is the one the checks' classifier takes for sign-up (a POST
//! whose body takes a password and a username or email, on a sign-up path or an account
//! collection anonymous callers may post to) and which is not the sign-in operation. Only
//! required properties are filled besides the username, email and password ones, so a sign-up
//! body never carries a `role` or `is_admin` the scan did not mean to send. Every value that
//! an API may hold unique (e-mail, username, phone number, display name, slug) is derived from
//! the account's random username, so a second registration never collides with the first; a
//! body that wraps its fields (`{"user": {...}}`) is sent wrapped.

use middlebrick_checks::authflow::{self, AuthRole};
use middlebrick_model::{
    Exchange, Inventory, Method, Operation, RequestBody, RequestSpec, Schema, SchemaType,
};
use middlebrick_synth::value_for_property;
use serde_json::{Map, Value};

/// How many accounts one scan may register for checks (on top of the two zero-configuration
/// identities): each check that needs one takes a fresh account, and there are few such checks.
pub const OWN_ACCOUNT_CAP: usize = 8;

/// Normalised names of an account's login name (besides the classifier's username property).
const USERNAME_NAMES: &[&str] = &["username", "login", "handle", "user", "loginname"];
/// Normalised names of a person's or an account's display name: often unique, always free text.
const NAME_NAMES: &[&str] = &[
    "name",
    "fullname",
    "displayname",
    "nickname",
    "screenname",
    "nick",
];
const PHONE_NAMES: &[&str] = &[
    "phone",
    "phonenumber",
    "mobile",
    "telephone",
    "tel",
    "cell",
    "msisdn",
];

/// The body's media type and the object schema that holds its fields (inside the wrapper).
fn body_schema(op: &Operation) -> Option<(&str, &Schema, Option<String>)> {
    let (media, schema) = op.request_body.as_ref()?.content.iter().next()?;
    let wrapper = authflow::body_wrapper(op);
    let fields = match &wrapper {
        Some(w) => schema.properties.get(w).map(|s| s.as_ref())?,
        None => schema.as_ref(),
    };
    Some((media.as_str(), fields, wrapper))
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

/// A salt for the synthesiser derived from the username, so every value it makes unique per
/// account (slugs, handles) differs between two accounts.
fn salt_of(username: &str) -> u64 {
    username.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A value for `name` unique to the account `username`, when the name is one an API keeps
/// unique (e-mail, login name, phone, display name); `None` for other fields.
fn unique_value(op: &Operation, name: &str, schema: &Schema, username: &str) -> Option<String> {
    let n = authflow::norm(name);
    let digits: String = format!("{:010}", salt_of(username) % 10_000_000_000);
    let letters: String = username
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| match c.to_digit(10) {
            Some(d) => (b'a' + d as u8) as char,
            None => c,
        })
        .collect();
    let value =
        if authflow::is_email_property(op, name) || schema.format.as_deref() == Some("email") {
            email_for(username)
        } else if Some(name) == authflow::username_property(op).as_deref()
            || USERNAME_NAMES.contains(&n.as_str())
        {
            username.to_string()
        } else if PHONE_NAMES.contains(&n.as_str()) || n.ends_with("phone") {
            format!("+1555{}", &digits[3..])
        } else if NAME_NAMES.contains(&n.as_str()) {
            format!("Mb {letters}")
        } else if matches!(n.as_str(), "firstname" | "givenname" | "forename") {
            "Middle".to_string()
        } else if matches!(n.as_str(), "lastname" | "familyname" | "surname") {
            format!("Brick{letters}")
        } else {
            return None;
        };
    // A pattern or an enum the derived value may not meet is left to the synthesiser, except
    // for the login name and e-mail, which must be the account's own.
    let constrained = schema.pattern.is_some() || !schema.enum_values.is_empty();
    let login = value == username || value == email_for(username);
    let fits = (login || !constrained)
        && schema
            .effective_type()
            .is_none_or(|t| t == SchemaType::String)
        && schema
            .max_length
            .is_none_or(|m| value.chars().count() as u64 <= m)
        && schema
            .min_length
            .is_none_or(|m| value.chars().count() as u64 >= m);
    fits.then_some(value)
}

/// The body for registering `username` with `password` through `op`: credentials, every
/// required field with a value valid for its schema and unique to the account, wrapped as the
/// operation wraps them.
pub fn registration_body(op: &Operation, username: &str, password: &str) -> RequestBody {
    let mut fields = Map::new();
    let mut form = false;
    let mut wrapper = None;
    if let Some((media, schema, wrap)) = body_schema(op) {
        form = media.contains("form");
        wrapper = wrap;
        let salt = salt_of(username);
        for (k, prop) in &schema.properties {
            let required = schema.required.contains(k);
            let value = if authflow::is_password_name(k) || authflow::is_changing_password_name(k) {
                Value::String(password.to_string())
            } else if is_login_field(op, k) {
                Value::String(
                    unique_value(op, k, prop, username).unwrap_or_else(|| username.to_string()),
                )
            } else if !required
                || (prop.effective_type() == Some(SchemaType::Object) && prop.properties.is_empty())
            {
                continue;
            } else if let Some(v) = unique_value(op, k, prop, username) {
                Value::String(v)
            } else {
                value_for_property(k, prop, salt)
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
        match wrapper {
            Some(w) => RequestBody::Json(serde_json::json!({ w: fields })),
            None => RequestBody::Json(Value::Object(fields)),
        }
    }
}

/// True for the fields that name the account (its login name or e-mail): always sent.
fn is_login_field(op: &Operation, name: &str) -> bool {
    authflow::is_email_property(op, name)
        || Some(name) == authflow::username_property(op).as_deref()
        || USERNAME_NAMES.contains(&authflow::norm(name).as_str())
}

/// Why a registration failed, for a diagnostic: the status and the answer's first bytes.
pub fn why_failed(ex: &Exchange, redactor: &middlebrick_model::Redactor) -> String {
    match &ex.response {
        Some(r) => {
            let text = redactor.redact(&r.body.text);
            let mut end = text.len().min(200);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!(
                "HTTP {} `{}`",
                r.status,
                text[..end].replace(['\n', '\r'], " ")
            )
        }
        None => ex.error.clone().unwrap_or_else(|| "no answer".into()),
    }
}

/// A random salt for synthesized values (`EngineProbe`'s creations).
pub(crate) fn random_salt() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
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
    fn two_accounts_never_share_a_value_an_api_keeps_unique() {
        let op = post(
            "/api/register",
            "application/json",
            &[
                "username",
                "email",
                "password",
                "phone",
                "full_name",
                "nickname",
                "slug",
            ],
            &[
                "username",
                "email",
                "password",
                "phone",
                "full_name",
                "nickname",
                "slug",
            ],
        );
        let body = |u: &str| match registration_body(&op, u, "pw-Strong-1") {
            RequestBody::Json(v) => v,
            other => panic!("json expected, got {other:?}"),
        };
        let (a, b) = (body("mbaaaa1111"), body("mbbbbb2222"));
        for field in [
            "username",
            "email",
            "phone",
            "full_name",
            "nickname",
            "slug",
        ] {
            assert!(a[field].is_string(), "{field} is filled");
            assert_ne!(a[field], b[field], "{field} differs between accounts");
        }
        assert!(a["phone"].as_str().unwrap().starts_with("+1555"));
    }

    #[test]
    fn wrapped_registrations_are_sent_wrapped() {
        let mut inner = Schema::of_type(SchemaType::Object);
        for p in ["username", "email", "password"] {
            inner
                .properties
                .insert(p.into(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        let mut outer = Schema::of_type(SchemaType::Object);
        outer.properties.insert("user".into(), Arc::new(inner));
        let mut op = Operation::new(Method::Post, "/api/users");
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(outer))]
                .into_iter()
                .collect(),
        });
        assert_eq!(authflow::role(&op), Some(AuthRole::Registration));
        let RequestBody::Json(body) = registration_body(&op, "mbabc", "pw-Strong-1") else {
            panic!("json expected");
        };
        assert_eq!(
            body,
            serde_json::json!({"user": {"username": "mbabc", "email": "mbabc@example.com", "password": "pw-Strong-1"}})
        );
    }

    #[test]
    fn a_failed_registration_says_the_status_and_the_first_bytes() {
        let ex = Exchange {
            identity: "anonymous".into(),
            request: middlebrick_model::RequestRecord {
                method: Method::Post,
                url: "http://h/register".into(),
                headers: vec![],
                body: None,
            },
            response: Some(middlebrick_model::ResponseRecord {
                status: 409,
                headers: vec![],
                body: middlebrick_model::BodyRecord {
                    text: format!(
                        r#"{{"detail":"email taken","p":"Sekret-pw-1{}"}}"#,
                        "x".repeat(400)
                    ),
                    size: 0,
                    truncated: false,
                },
                graphql_field: None,
            }),
            redirects: vec![],
            error: None,
            elapsed_ms: 1,
        };
        let redactor = middlebrick_model::Redactor::new();
        redactor.add("Sekret-pw-1");
        let why = why_failed(&ex, &redactor);
        assert!(
            why.starts_with("HTTP 409 `{\"detail\":\"email taken\""),
            "{why}"
        );
        assert!(!why.contains("Sekret-pw-1") && why.len() < 260, "{why}");
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

//! Where a sign-in operation takes the credentials: which body (JSON, form, multipart), inside
//! which wrapper object, in the query string, or as HTTP Basic; and the OAuth 2 password
//! flow's token URL. Read from the spec alone, like the rest of [`super`].
//!
//! Frameworks disagree on all of these: Django REST's OAuth toolkit takes a form at the
//! declared `tokenUrl`, Rails-style and RealWorld-style APIs wrap the body
//! (`{"user": {"email", "password"}}`), some legacy APIs read `?username=&password=`, and
//! others take HTTP Basic on a token route. The engine signs in with this description and the
//! checks send their attempts through the engine, so both read one answer.

use super::{is_password_name, norm, USERNAME_NAMES};
use middlebrick_model::{
    Inventory, Operation, ParamLocation, Schema, SchemaType, SecuritySchemeKind,
};
use std::sync::Arc;

/// The body's media, as the sign-in request must be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialPlace {
    Json,
    /// `application/x-www-form-urlencoded` (the OAuth 2 password flow's encoding).
    Form,
    Multipart,
    /// `?username=…&password=…` on the request line.
    Query,
    /// `Authorization: Basic base64(username:password)`.
    Basic,
}

/// How to send credentials to one sign-in operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInShape {
    pub place: CredentialPlace,
    /// The property or parameter that takes the account name.
    pub username: String,
    /// The property or parameter that takes the password.
    pub password: String,
    /// The object property the credentials sit in (`user` in `{"user": {...}}`).
    pub wrapper: Option<String>,
    /// The OAuth 2 password flow: `grant_type=password` is added.
    pub oauth2: bool,
}

/// The name of the single object property a body wraps its fields in, when the top level holds
/// no account or password property of its own and exactly one object property with
/// properties, which does (`{"user": {"email": …, "password": …}}`).
pub fn body_wrapper(op: &Operation) -> Option<String> {
    let schema = op.request_body.as_ref()?.content.values().next()?;
    wrapper_of(schema)
}

pub(super) fn wrapper_of(schema: &Schema) -> Option<String> {
    let credential_like =
        |k: &str| is_password_name(k) || USERNAME_NAMES.contains(&norm(k).as_str());
    let is_object =
        |s: &Schema| s.effective_type() == Some(SchemaType::Object) && !s.properties.is_empty();
    // `user` names an account when it is a string, a wrapper when it is an object.
    if schema
        .properties
        .iter()
        .any(|(k, s)| credential_like(k) && !is_object(s))
    {
        return None;
    }
    let objects: Vec<(&String, &Arc<Schema>)> = schema
        .properties
        .iter()
        .filter(|(_, s)| is_object(s))
        .collect();
    match objects.as_slice() {
        [(name, inner)] if inner.properties.keys().any(|k| credential_like(k)) => {
            Some((*name).clone())
        }
        _ => None,
    }
}

/// The query parameters that take the account name and the password, when the operation
/// takes credentials on the request line.
pub fn query_credentials(op: &Operation) -> Option<(String, String)> {
    let params: Vec<&str> = op
        .params_in(ParamLocation::Query)
        .map(|p| p.name.as_str())
        .collect();
    let password = params.iter().find(|n| is_password_name(n))?;
    let username = USERNAME_NAMES
        .iter()
        .find_map(|c| params.iter().find(|n| norm(n) == *c))?;
    Some((username.to_string(), password.to_string()))
}

/// True when the operation's declared security requires an `http` `basic` scheme.
pub fn takes_basic(inv: &Inventory, op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|reqs| {
        reqs.iter().any(|r| {
            r.schemes.iter().any(|(name, _)| {
                inv.security_schemes.get(name).is_some_and(|s| {
                    matches!(&s.kind, SecuritySchemeKind::Http { scheme } if scheme.eq_ignore_ascii_case("basic"))
                })
            })
        })
    })
}

/// The paths (the inventory's base path removed) of every OAuth 2 token URL the spec declares,
/// relative or absolute.
pub fn oauth2_token_paths(inv: &Inventory) -> Vec<String> {
    inv.security_schemes
        .values()
        .filter_map(|s| match &s.kind {
            SecuritySchemeKind::OAuth2 {
                token_url: Some(url),
                ..
            } => Some(super::url_path(url, &inv.base_path)),
            _ => None,
        })
        .collect()
}

/// How to send credentials to `op`: the body when it takes them (its media decides the
/// encoding, its wrapper the nesting), else the query string, else HTTP Basic; an operation at
/// an OAuth 2 token URL is a form with `grant_type=password` whatever its spec says. Names
/// default to `username` and `password` when the spec documents none.
pub fn sign_in_shape(inv: &Inventory, op: &Operation) -> SignInShape {
    let oauth2 = oauth2_token_paths(inv).contains(&op.path);
    let body_user = super::username_property(op);
    let body_pass = super::password_property(op);
    let media = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.keys().next())
        .map(|m| m.to_ascii_lowercase());
    let body_place = match media.as_deref() {
        Some(m) if m.contains("multipart") => CredentialPlace::Multipart,
        Some(m) if m.contains("form") => CredentialPlace::Form,
        _ if oauth2 => CredentialPlace::Form,
        _ => CredentialPlace::Json,
    };
    let named = |user: Option<String>, pass: Option<String>, place, wrapper| SignInShape {
        place,
        username: user.unwrap_or_else(|| "username".into()),
        password: pass.unwrap_or_else(|| "password".into()),
        wrapper,
        oauth2,
    };
    if body_pass.is_some() || oauth2 {
        let place = if oauth2 {
            CredentialPlace::Form
        } else {
            body_place
        };
        return named(body_user, body_pass, place, body_wrapper(op));
    }
    if let Some((user, pass)) = query_credentials(op) {
        return named(Some(user), Some(pass), CredentialPlace::Query, None);
    }
    if takes_basic(inv, op) {
        return named(None, None, CredentialPlace::Basic, None);
    }
    named(body_user, body_pass, body_place, body_wrapper(op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authflow::tests::op_with;
    use crate::authflow::{is_sign_in, sign_in_operations};
    use middlebrick_model::{Method, Parameter, SecurityRequirement, SecurityScheme, SpecVersion};

    fn wrapped(path: &str) -> Operation {
        let mut inner = Schema::of_type(SchemaType::Object);
        for p in ["email", "password"] {
            inner
                .properties
                .insert(p.into(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        let mut outer = Schema::of_type(SchemaType::Object);
        outer.properties.insert("user".into(), Arc::new(inner));
        let mut op = Operation::new(Method::Post, path);
        op.request_body = Some(middlebrick_model::RequestBodySpec {
            required: true,
            content: [("application/json".into(), Arc::new(outer))]
                .into_iter()
                .collect(),
        });
        op
    }

    fn query(method: Method, path: &str, names: &[&str]) -> Operation {
        let mut op = Operation::new(method, path);
        for n in names {
            op.parameters.push(Parameter {
                name: n.to_string(),
                location: ParamLocation::Query,
                required: true,
                schema: Arc::new(Schema::of_type(SchemaType::String)),
                example: None,
            });
        }
        op
    }

    #[test]
    fn wrapped_bodies_are_read_inside_their_wrapper() {
        let op = wrapped("/api/users/login");
        assert_eq!(body_wrapper(&op).as_deref(), Some("user"));
        assert!(is_sign_in(&op));
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let shape = sign_in_shape(&inv, &op);
        assert_eq!(shape.place, CredentialPlace::Json);
        assert_eq!(shape.wrapper.as_deref(), Some("user"));
        assert_eq!(
            (shape.username.as_str(), shape.password.as_str()),
            ("email", "password")
        );
        let flat = op_with(
            Method::Post,
            "/login",
            "application/json",
            &["username", "password"],
        );
        assert_eq!(body_wrapper(&flat), None);
    }

    #[test]
    fn credentials_in_the_query_string_make_a_sign_in() {
        let op = query(Method::Post, "/api/login", &["username", "password"]);
        assert!(is_sign_in(&op));
        assert_eq!(
            query_credentials(&op),
            Some(("username".into(), "password".into()))
        );
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        assert_eq!(sign_in_shape(&inv, &op).place, CredentialPlace::Query);
        let get = query(Method::Get, "/api/login", &["email", "pass"]);
        assert!(is_sign_in(&get));
        let search = query(Method::Get, "/api/users", &["username", "password"]);
        assert!(!is_sign_in(&search), "no sign-in word in the path");
        let no_password = query(Method::Get, "/api/login", &["username"]);
        assert!(!is_sign_in(&no_password));
    }

    #[test]
    fn basic_on_a_token_route_and_oauth2_token_urls_are_sign_ins() {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.security_schemes.insert(
            "basic".into(),
            SecurityScheme {
                name: "basic".into(),
                kind: SecuritySchemeKind::Http {
                    scheme: "basic".into(),
                },
            },
        );
        inv.security_schemes.insert(
            "oauth".into(),
            SecurityScheme {
                name: "oauth".into(),
                kind: SecuritySchemeKind::OAuth2 {
                    token_url: Some("https://auth.example.test/o/token/".into()),
                    scopes: vec![],
                },
            },
        );
        let mut token = Operation::new(Method::Post, "/api/tokens");
        token.security = Some(vec![SecurityRequirement {
            schemes: vec![("basic".into(), vec![])],
        }]);
        let mut notes = Operation::new(Method::Get, "/api/notes");
        notes.security = token.security.clone();
        inv.operations = vec![
            token.clone(),
            notes,
            Operation::new(Method::Post, "/o/token/"),
        ];
        let found: Vec<String> = sign_in_operations(&inv).iter().map(|o| o.key()).collect();
        assert_eq!(found, vec!["POST /api/tokens", "POST /o/token/"]);
        assert_eq!(sign_in_shape(&inv, &token).place, CredentialPlace::Basic);
        let oauth = sign_in_shape(&inv, &inv.operations[2]);
        assert!(oauth.oauth2);
        assert_eq!(oauth.place, CredentialPlace::Form);
        assert_eq!(oauth2_token_paths(&inv), vec!["/o/token/"]);
    }
}

//! Classification tests, and the operation builder other auth checks' tests share.

use super::*;
use middlebrick_model::{
    Parameter, RequestBodySpec, SchemaType, SecurityRequirement, SecurityScheme,
    SecuritySchemeKind, SpecVersion,
};

/// An operation whose body has these properties (`name` or `name:format`), all required.
pub(crate) fn op_with(method: Method, path: &str, media: &str, props: &[&str]) -> Operation {
    let mut op = Operation::new(method, path);
    if !props.is_empty() {
        let mut schema = Schema::of_type(SchemaType::Object);
        for p in props {
            let (name, format) = p.split_once(':').unwrap_or((p, ""));
            let mut s = Schema::of_type(SchemaType::String);
            if !format.is_empty() {
                s.format = Some(format.to_string());
            }
            schema.properties.insert(name.to_string(), Arc::new(s));
            schema.required.push(name.to_string());
        }
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [(media.to_string(), Arc::new(schema))]
                .into_iter()
                .collect(),
        });
    }
    op
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

fn secured(mut op: Operation) -> Operation {
    op.security = Some(vec![SecurityRequirement {
        schemes: vec![("bearer".into(), vec![])],
    }]);
    op
}

#[test]
fn path_words_split_and_join_segments() {
    assert_eq!(
        path_words("/api/auth/password-reset/{id}/forgotPassword"),
        vec![
            "api",
            "auth",
            "password",
            "reset",
            "passwordreset",
            "forgot",
            "forgotpassword"
        ]
    );
    assert!(path_words("/v1/sign_in").contains(&"signin".to_string()));
}

#[test]
fn sign_ins_are_recognised_by_words_and_credentials() {
    let json_login = op_with(
        Method::Post,
        "/api/auth/login",
        JSON,
        &["username", "password"],
    );
    let oauth_form = op_with(
        Method::Post,
        "/api/auth/token",
        FORM,
        &[
            "grant_type",
            "username",
            "password:password",
            "scope",
            "client_id",
            "client_secret:password",
        ],
    );
    let cookie = op_with(
        Method::Post,
        "/api/auth/session",
        FORM,
        &["username", "password"],
    );
    let email = op_with(Method::Post, "/v2/sign-in", JSON, &["email:email", "pwd"]);
    for op in [&json_login, &oauth_form, &cookie, &email] {
        assert!(is_sign_in(op), "{}", op.key());
        assert_eq!(role(op), Some(AuthRole::SignIn));
    }
    assert_eq!(password_property(&oauth_form).as_deref(), Some("password"));
    assert_eq!(username_property(&email).as_deref(), Some("email"));
    assert!(is_form_body(&oauth_form) && !is_form_body(&json_login));
}

#[test]
fn look_alikes_are_not_sign_ins() {
    let change = op_with(
        Method::Post,
        "/api/auth/password",
        JSON,
        &["current_password", "new_password"],
    );
    let refresh = op_with(Method::Post, "/api/auth/refresh", JSON, &["refresh_token"]);
    let put = op_with(
        Method::Put,
        "/api/auth/login",
        JSON,
        &["username", "password"],
    );
    let no_user = op_with(Method::Post, "/api/auth/login", JSON, &["password"]);
    let elsewhere = op_with(Method::Post, "/api/notes", JSON, &["username", "password"]);
    let bare_session = Operation::new(Method::Post, "/api/auth/session");
    for op in [&change, &refresh, &put, &no_user, &elsewhere, &bare_session] {
        assert!(!is_sign_in(op), "{}", op.key());
    }
    assert_eq!(role(&bare_session), None);
}

#[test]
fn registrations_need_words_or_a_public_account_collection() {
    let reg = op_with(
        Method::Post,
        "/api/auth/register",
        JSON,
        &["username", "password", "email"],
    );
    let users = op_with(Method::Post, "/api/users", JSON, &["email", "password"]);
    let admin = secured(op_with(
        Method::Post,
        "/api/admin/users",
        JSON,
        &["username", "password"],
    ));
    let signup = op_with(Method::Post, "/signUp", FORM, &["login", "passwd"]);
    assert!(is_registration(&reg) && !is_sign_in(&reg));
    assert!(is_registration(&users) && is_registration(&signup));
    assert!(!is_registration(&admin));
    assert_eq!(role(&reg), Some(AuthRole::Registration));
    let login = op_with(
        Method::Post,
        "/api/auth/login",
        JSON,
        &["username", "password"],
    );
    assert!(!is_registration(&login));
}

#[test]
fn sign_outs_take_no_input() {
    let logout = Operation::new(Method::Post, "/api/auth/logout");
    let delete = Operation::new(Method::Delete, "/api/auth/session");
    let sign_out = op_with(Method::Post, "/sign-out", JSON, &[]);
    assert!(is_sign_out(&logout) && is_sign_out(&delete) && is_sign_out(&sign_out));
    assert_eq!(role(&logout), Some(AuthRole::SignOut));
    let refresh = Operation::new(Method::Post, "/api/auth/refresh");
    let with_input = op_with(Method::Post, "/api/auth/logout", JSON, &["user_id"]);
    let by_id = Operation::new(Method::Delete, "/api/sessions/{id}");
    let get = Operation::new(Method::Get, "/api/auth/logout");
    for op in [&refresh, &with_input, &by_id, &get] {
        assert!(!is_sign_out(op), "{}", op.key());
    }
}

#[test]
fn reset_requests_and_confirmations_are_told_apart() {
    let request = op_with(
        Method::Post,
        "/api/auth/password-reset",
        JSON,
        &["username"],
    );
    let forgot = op_with(Method::Post, "/forgot-password", JSON, &["email:email"]);
    let confirm = op_with(
        Method::Post,
        "/api/auth/password-reset/confirm",
        JSON,
        &["username", "code", "new_password"],
    );
    let by_link = {
        let mut o = op_with(Method::Put, "/reset/{token}", JSON, &["password"]);
        o.parameters.push(Parameter {
            name: "token".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        o
    };
    assert_eq!(role(&request), Some(AuthRole::ResetRequest));
    assert_eq!(role(&forgot), Some(AuthRole::ResetRequest));
    assert_eq!(role(&confirm), Some(AuthRole::ResetConfirm));
    assert_eq!(role(&by_link), Some(AuthRole::ResetConfirm));
    assert_eq!(code_property(&confirm).as_deref(), Some("code"));
    assert_eq!(
        new_password_property(&confirm).as_deref(),
        Some("new_password")
    );
    assert!(!is_sign_in(&confirm) && !is_registration(&confirm));
    let profile = op_with(
        Method::Patch,
        "/api/users/me",
        JSON,
        &["email", "full_name"],
    );
    assert_eq!(role(&profile), None);
}

#[test]
fn an_oauth2_token_url_is_a_sign_in_even_without_a_body() {
    let mut inv = Inventory::empty(SpecVersion::OpenApi31);
    inv.base_path = "/v1".into();
    inv.security_schemes.insert(
        "oauth".into(),
        SecurityScheme {
            name: "oauth".into(),
            kind: SecuritySchemeKind::OAuth2 {
                token_url: Some("https://id.example.com/v1/oauth/issue?x=1".into()),
                scopes: vec![],
            },
        },
    );
    inv.operations
        .push(Operation::new(Method::Post, "/oauth/issue"));
    inv.operations.push(op_with(
        Method::Post,
        "/login",
        JSON,
        &["username", "password"],
    ));
    inv.operations
        .push(Operation::new(Method::Post, "/api/auth/logout"));
    let found: Vec<String> = sign_in_operations(&inv).iter().map(|o| o.key()).collect();
    assert_eq!(found, vec!["POST /oauth/issue", "POST /login"]);
    assert_eq!(operations_with(&inv, AuthRole::SignOut).len(), 1);
}

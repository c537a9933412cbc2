//! What an operation is for in the authentication flow, read from the spec's shape alone.
//!
//! The authentication checks (throttling, enumeration, password policy, cookies, fixation,
//! sign-out, recovery) must find the API's sign-in, registration, sign-out and password-reset
//! operations on APIs nobody wrote a rule for, so classification uses only what any spec
//! carries: the method, the words of the path, the names and formats of the request body's
//! properties (read inside a wrapper object, `{"user": {...}}`), the query parameters, and the
//! declared security (HTTP Basic, OAuth 2 token URLs). Nothing here knows a route or a field
//! of a particular API.
//!
//! The engine signs its identities in through the same answers: [`sign_in_operations`] and
//! [`sign_in_shape`] say which operation and where the credentials go, [`judge_sign_in`]
//! whether an answer signed in. One classifier, so the engine and the checks never disagree.
//!
//! Every predicate errs on the side of "not this": a check that sends a burst of wrong
//! passwords to something that is not a sign-in, or a reset request to a live account, does
//! harm and proves nothing. An operation has at most one [`AuthRole`]; when the shape fits
//! several, the more specific role wins (sign-out, reset confirm, reset request, registration,
//! then sign-in), and words of the other roles in the path exclude an operation from sign-in.

use middlebrick_model::{Inventory, Method, Operation, ParamLocation, Schema};
use std::sync::Arc;

mod answers;
mod shape;
mod verdict;
pub use answers::{
    is_plain_failure, is_possible_failure, is_throttled, nonexistent_username, normalized_body,
    same_answer, wrong_password,
};
pub use shape::{
    body_wrapper, oauth2_token_paths, query_credentials, sign_in_shape, takes_basic,
    CredentialPlace, SignInShape,
};
pub use verdict::{
    find_token, find_token_in_json, is_failure_envelope, judge_sign_in, session_cookies,
    sign_in_refused, signed_in, FoundToken, SignInVerdict,
};

/// The part an operation plays in the authentication flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRole {
    /// Takes a username and a password and opens a session or issues a token.
    SignIn,
    /// Creates an account from a username (or e-mail) and a password, anonymously.
    Registration,
    /// Ends the caller's session; takes no input.
    SignOut,
    /// Asks for a password reset for a username or e-mail (the code travels out of band).
    ResetRequest,
    /// Sets a new password with a reset code.
    ResetConfirm,
}

/// Path words that name a sign-in. `auth` is weak: it also prefixes registration and reset
/// routes, which the words of those roles rule out first.
const SIGN_IN_WORDS: &[&str] = &[
    "login",
    "signin",
    "logon",
    "token",
    "tokens",
    "session",
    "sessions",
    "auth",
    "authenticate",
    "authentication",
    "jwt",
];
/// Sign-in words strong enough that an operation carrying them is never a registration.
const STRONG_SIGN_IN_WORDS: &[&str] = &["login", "signin", "logon", "token", "tokens", "session"];
const REGISTER_WORDS: &[&str] = &[
    "register",
    "registration",
    "signup",
    "join",
    "enroll",
    "enrol",
    "createaccount",
];
/// A collection of accounts: `POST /users` registers when the spec lets anyone call it.
const ACCOUNT_COLLECTIONS: &[&str] = &["users", "user", "accounts", "account", "members"];
const SIGN_OUT_WORDS: &[&str] = &["logout", "signout", "logoff", "signoff"];
const RESET_WORDS: &[&str] = &[
    "reset",
    "forgot",
    "forgotten",
    "recover",
    "recovery",
    "lost",
];
/// Path words that make a password-taking operation something other than a sign-in.
const NOT_SIGN_IN_WORDS: &[&str] = &["refresh", "password", "passwords", "change", "verify"];

/// Property names (normalised: lower case, letters and digits only) that carry a password.
const PASSWORD_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "userpassword",
    "loginpassword",
    "secret",
];
/// Property names of the account identifier a sign-in takes, best first.
pub(crate) const USERNAME_NAMES: &[&str] = &[
    "username",
    "login",
    "user",
    "userid",
    "email",
    "emailaddress",
    "mail",
    "identifier",
    "account",
    "handle",
    "phone",
    "phonenumber",
    "name",
];
/// Property names of a one-time reset code.
const CODE_NAMES: &[&str] = &[
    "code",
    "token",
    "otp",
    "pin",
    "nonce",
    "key",
    "secret",
    "resetcode",
    "resettoken",
    "resetkey",
    "verificationcode",
    "recoverycode",
    "confirmationcode",
];
/// Words that turn a password property into "the password to change to / from".
const CHANGE_MARKERS: &[&str] = &[
    "new", "old", "current", "confirm", "repeat", "again", "verify", "previous",
];

/// A name lower-cased with everything but letters and digits removed: `new_password`,
/// `newPassword` and `new-password` all become `newpassword`.
pub fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The words of a path's literal segments, each segment both split (`sign-in` → `sign`,
/// `in`; `forgotPassword` → `forgot`, `password`) and joined (`signin`, `forgotpassword`).
/// Template segments (`{id}`) are skipped.
pub fn path_words(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in path
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
    {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in seg.chars() {
            if !c.is_ascii_alphanumeric() {
                push_word(&mut out, &mut word);
                prev_lower = false;
                continue;
            }
            if c.is_ascii_uppercase() && prev_lower {
                push_word(&mut out, &mut word);
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        }
        push_word(&mut out, &mut word);
        let joined = norm(seg);
        if !joined.is_empty() && !out.contains(&joined) {
            out.push(joined);
        }
    }
    out
}

fn push_word(out: &mut Vec<String>, word: &mut String) {
    if !word.is_empty() && !out.contains(word) {
        out.push(std::mem::take(word));
    }
    word.clear();
}

fn has_word(words: &[String], list: &[&str]) -> bool {
    words.iter().any(|w| list.contains(&w.as_str()))
}

/// The last literal segment of a path, normalised.
fn last_word(path: &str) -> String {
    path.rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .map(norm)
        .unwrap_or_default()
}

/// The request body's properties, over every media type the operation accepts (JSON and form
/// bodies usually list the same ones), in spec order, without duplicates. A body that wraps
/// its fields in one object (`{"user": {...}}`, see [`body_wrapper`]) is read inside it.
pub fn body_properties(op: &Operation) -> Vec<(String, Arc<Schema>)> {
    let mut out: Vec<(String, Arc<Schema>)> = Vec::new();
    let Some(body) = &op.request_body else {
        return out;
    };
    for schema in body.content.values() {
        let fields = match shape::wrapper_of(schema) {
            Some(w) => schema
                .properties
                .get(&w)
                .cloned()
                .unwrap_or_else(|| schema.clone()),
            None => schema.clone(),
        };
        for (k, v) in &fields.properties {
            if !out.iter().any(|(n, _)| n == k) {
                out.push((k.clone(), v.clone()));
            }
        }
    }
    out
}

/// True when the first media type of the request body is a form (`x-www-form-urlencoded` or
/// `multipart/form-data`): the OAuth 2 password flow and browser-style sign-ins.
pub fn is_form_body(op: &Operation) -> bool {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.keys().next())
        .is_some_and(|m| m.contains("form"))
}

/// True when the body has required properties (an operation that takes no input has none).
fn has_required_input(op: &Operation) -> bool {
    op.request_body
        .as_ref()
        .is_some_and(|b| b.required && b.content.values().any(|s| !s.required.is_empty()))
}

/// True for a property name that carries the current password (`password`, `passwd`, `pwd`):
/// not a new, old or confirmation password (see [`is_changing_password_name`]).
pub fn is_password_name(name: &str) -> bool {
    PASSWORD_NAMES.contains(&norm(name).as_str())
}

/// True for `new_password`, `oldPassword`, `password_confirmation`, `password2` and the like:
/// the properties of a password change or reset, never of a sign-in.
pub fn is_changing_password_name(name: &str) -> bool {
    let n = norm(name);
    let mentions = ["password", "passwd", "pwd", "passphrase"]
        .iter()
        .any(|p| n.contains(p));
    mentions
        && !PASSWORD_NAMES.contains(&n.as_str())
        && (CHANGE_MARKERS.iter().any(|m| n.contains(m)) || n.ends_with('2'))
}

/// The property that carries the password: a password name, else a `format: password`
/// property that is not a client secret (the OAuth 2 form marks `client_secret` that way).
pub fn password_property(op: &Operation) -> Option<String> {
    let props = body_properties(op);
    props
        .iter()
        .find(|(k, _)| is_password_name(k))
        .or_else(|| {
            props.iter().find(|(k, s)| {
                let n = norm(k);
                s.format.as_deref() == Some("password")
                    && !n.contains("secret")
                    && !n.contains("client")
                    && !is_changing_password_name(k)
            })
        })
        .map(|(k, _)| k.clone())
}

/// The property a password change or reset takes the new password in: a `new…password`
/// name, else a plain password property.
pub fn new_password_property(op: &Operation) -> Option<String> {
    let props = body_properties(op);
    props
        .iter()
        .find(|(k, _)| {
            let n = norm(k);
            is_changing_password_name(k) && n.contains("new")
        })
        .map(|(k, _)| k.clone())
        .or_else(|| password_property(op))
}

/// The property that names the account (username, login, e-mail, phone), best first.
pub fn username_property(op: &Operation) -> Option<String> {
    let props = body_properties(op);
    USERNAME_NAMES.iter().find_map(|c| {
        props
            .iter()
            .find(|(k, _)| norm(k) == *c)
            .map(|(k, _)| k.clone())
    })
}

/// True when `property` of `op`'s body is an e-mail address (by name or `format: email`).
pub fn is_email_property(op: &Operation, property: &str) -> bool {
    body_properties(op).iter().any(|(k, s)| {
        k == property && (norm(k).contains("mail") || s.format.as_deref() == Some("email"))
    })
}

/// The property that carries a one-time code (`code`, `token`, `otp`, `reset_token`…).
pub fn code_property(op: &Operation) -> Option<String> {
    body_properties(op).into_iter().map(|(k, _)| k).find(|k| {
        let n = norm(k);
        !n.contains("password")
            && (CODE_NAMES.contains(&n.as_str())
                || n.ends_with("code")
                || n.ends_with("otp")
                || (n.ends_with("token") && n.contains("reset")))
    })
}

/// True for a sign-in: a POST without path parameters whose body (or wrapped body) takes an
/// account name and a password (not a new or old one), or a POST or GET taking both in the
/// query string, on a path with a sign-in word (`login`, `signin`, `token`, `session`,
/// `auth`…) and none of registration, sign-out, reset, refresh or password change. The OAuth 2
/// password flow's form (`username`, `password`, `grant_type`) fits this;
/// [`sign_in_operations`] also adds a declared token URL and HTTP Basic token routes.
pub fn is_sign_in(op: &Operation) -> bool {
    let in_query = query_credentials(op).is_some();
    let method_fits = op.method == Method::Post || (op.method == Method::Get && in_query);
    if !method_fits || op.path.contains('{') {
        return false;
    }
    let in_body = password_property(op).is_some()
        && username_property(op).is_some()
        && !body_properties(op)
            .iter()
            .any(|(k, _)| is_changing_password_name(k));
    sign_in_path(&op.path) && (in_body || in_query)
}

/// A path with a sign-in word and none of the words of another role.
fn sign_in_path(path: &str) -> bool {
    let words = path_words(path);
    has_word(&words, SIGN_IN_WORDS)
        && !has_word(&words, REGISTER_WORDS)
        && !has_word(&words, SIGN_OUT_WORDS)
        && !has_word(&words, RESET_WORDS)
        && !has_word(&words, NOT_SIGN_IN_WORDS)
}

/// True for a registration: an anonymous-callable POST without path parameters whose body
/// takes a password and a username or e-mail, on a path with a registration word
/// (`register`, `signup`, `join`…), or ending in an account collection (`/users`,
/// `/accounts`) when the spec does not require authentication for it (an admin's "create
/// user" does). Never on a path with a strong sign-in word or a reset word.
pub fn is_registration(op: &Operation) -> bool {
    if op.method != Method::Post || op.path.contains('{') {
        return false;
    }
    let words = path_words(&op.path);
    let named = has_word(&words, REGISTER_WORDS)
        || (ACCOUNT_COLLECTIONS.contains(&last_word(&op.path).as_str()) && !op.declares_auth());
    named
        && !has_word(&words, STRONG_SIGN_IN_WORDS)
        && !has_word(&words, RESET_WORDS)
        && !has_word(&words, SIGN_OUT_WORDS)
        && password_property(op).is_some()
        && username_property(op).is_some()
}

/// True for a sign-out: POST or DELETE without path parameters and without required input,
/// on a path with a sign-out word (`logout`, `signout`, `logoff`), or a DELETE of the
/// session or token itself (`DELETE /auth/session`).
pub fn is_sign_out(op: &Operation) -> bool {
    if !matches!(op.method, Method::Post | Method::Delete) || op.path.contains('{') {
        return false;
    }
    if has_required_input(op) || password_property(op).is_some() {
        return false;
    }
    let words = path_words(&op.path);
    has_word(&words, SIGN_OUT_WORDS)
        || (op.method == Method::Delete
            && matches!(
                last_word(&op.path).as_str(),
                "session" | "sessions" | "token" | "tokens" | "login" | "auth"
            ))
}

/// True for a password-reset request: a POST without path parameters on a path with a reset
/// word (`reset`, `forgot`, `recover`…) whose body takes a username or e-mail and neither a
/// password nor a code. Sending one may e-mail the account's owner: only ever send it for an
/// account the scan owns.
pub fn is_reset_request(op: &Operation) -> bool {
    if op.method != Method::Post || op.path.contains('{') {
        return false;
    }
    let props = body_properties(op);
    has_word(&path_words(&op.path), RESET_WORDS)
        && username_property(op).is_some()
        && password_property(op).is_none()
        && !props.iter().any(|(k, _)| is_changing_password_name(k))
        && code_property(op).is_none()
}

/// True for a password-reset confirmation: POST, PUT or PATCH whose body takes a code (or
/// whose path carries one, `/reset/{token}`) and a new password, on a path with a reset word
/// or with a code property named for a reset (`reset_token`).
pub fn is_reset_confirm(op: &Operation) -> bool {
    if !matches!(op.method, Method::Post | Method::Put | Method::Patch) {
        return false;
    }
    let code = code_property(op);
    let path_code = op.params_in(ParamLocation::Path).any(|p| {
        let n = norm(&p.name);
        CODE_NAMES.contains(&n.as_str()) || n.ends_with("token") || n.ends_with("code")
    });
    let reset_named = has_word(&path_words(&op.path), RESET_WORDS)
        || code.as_deref().is_some_and(|c| norm(c).contains("reset"));
    reset_named && (code.is_some() || path_code) && new_password_property(op).is_some()
}

/// The role `op` plays, if any; the more specific role wins when several fit.
pub fn role(op: &Operation) -> Option<AuthRole> {
    if is_sign_out(op) {
        Some(AuthRole::SignOut)
    } else if is_reset_confirm(op) {
        Some(AuthRole::ResetConfirm)
    } else if is_reset_request(op) {
        Some(AuthRole::ResetRequest)
    } else if is_registration(op) {
        Some(AuthRole::Registration)
    } else if is_sign_in(op) {
        Some(AuthRole::SignIn)
    } else {
        None
    }
}

/// The inventory's operations that play `role`.
pub fn operations_with(inv: &Inventory, r: AuthRole) -> Vec<&Operation> {
    inv.operations
        .iter()
        .filter(|o| role(o) == Some(r))
        .collect()
}

/// Every sign-in operation: those [`is_sign_in`] recognises, the POST at an OAuth 2 scheme's
/// declared token URL (its body may not be documented at all), and a POST or GET on a sign-in
/// path whose declared security is HTTP Basic and which plays no other role (a token route
/// that takes the password as Basic credentials).
pub fn sign_in_operations(inv: &Inventory) -> Vec<&Operation> {
    let token_paths = oauth2_token_paths(inv);
    inv.operations
        .iter()
        .filter(|o| {
            (role(o) == Some(AuthRole::SignIn))
                || (o.method == Method::Post && token_paths.contains(&o.path))
                || (matches!(o.method, Method::Post | Method::Get)
                    && !o.path.contains('{')
                    && role(o).is_none()
                    && sign_in_path(&o.path)
                    && takes_basic(inv, o))
        })
        .collect()
}

/// The path of a (possibly relative, possibly absolute) URL without the inventory's base path.
pub(crate) fn url_path(url: &str, base: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = if url.contains("://") {
        after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
    } else {
        after_scheme
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    match path.strip_prefix(base) {
        Some(rest) if !base.is_empty() && rest.starts_with('/') => rest.to_string(),
        _ => path,
    }
}

#[cfg(test)]
pub(crate) mod tests;

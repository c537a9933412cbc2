//! Who each identity is: its own user id, username and e-mail ([`SelfKnowledge`]), learnt after
//! sign-in from three sources, first source first:
//! 1. the token's claims (`sub`, `user_id`, `uid`, `username`, `preferred_username`, `email`,
//!    …; `sub` is an e-mail when it has an `@`, the username when it equals the sign-in name,
//!    else the id);
//! 2. the sign-in answer, read inside its wrappers: an object under a user-like key (`user`,
//!    `account`, `profile`, …) at any depth, or the record that holds the sign-in name;
//! 3. "current user" reads: a GET without path parameters whose last segment reads as the
//!    caller (`/me`, `/user`, `/whoami`, [`ownership::self_reads`]), and, after the warm-up's
//!    first stage, any GET without path parameters whose single record names the identity's
//!    known username or e-mail while another identity's answer to it differs.
//!
//! Other id-like fields of those records (`"farmerId": "alice"`) are kept by normalised name:
//! a parameter named the same is the account's too.
//!
//! A bare `id` is taken only from a record known to be the account's (a user-like key, the
//! record holding the sign-in name, a current-user read): a sign-in answer's own `id` may name
//! a session. Credentials are never learnt ([`is_credential_key`]).

use crate::identity::{Identities, Identity};
use crate::probe::{path_param_count, EngineProbe};
use middlebrick_checks::ownership::{privileged_reason, self_reads};
use middlebrick_checks::Probe;
use middlebrick_model::envelope::{is_envelope_key, single_record, unwrap_envelope};
use middlebrick_model::names::{is_id_word, name_words, normalize_name};
use middlebrick_model::{Diagnostic, Inventory, SelfKnowledge};
use serde_json::{Map, Value};
use std::sync::Mutex;

/// Normalised keys that name the account's own id explicitly.
const ID_KEYS: &[&str] = &[
    "userid",
    "uid",
    "useruuid",
    "accountid",
    "customerid",
    "memberid",
];
const USERNAME_KEYS: &[&str] = &[
    "username",
    "preferredusername",
    "login",
    "loginname",
    "handle",
    "screenname",
];
const EMAIL_KEYS: &[&str] = &["email", "emailaddress", "mail"];
/// Normalised keys under which an answer keeps the account's record.
const USER_OBJECT_KEYS: &[&str] = &[
    "user",
    "account",
    "profile",
    "me",
    "customer",
    "member",
    "identity",
    "currentuser",
    "person",
    "principal",
];
/// Claims that name the subject the way `sub` does (flask-jwt-extended's older `identity`).
const SUBJECT_CLAIMS: &[&str] = &["sub", "identity"];
/// Depth of the search for a user-like object in an answer.
const MAX_DEPTH: usize = 4;
const MAX_FIELDS: usize = 128;

/// Who each identity is, by identity name: what the probe keeps.
#[derive(Debug, Default)]
pub(crate) struct Selves(Mutex<Vec<(String, SelfKnowledge)>>);

impl Selves {
    /// Adds what was learnt about who `identity` is (what is known already is kept).
    pub(crate) fn learn(&self, identity: &str, k: SelfKnowledge) {
        let mut selves = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match selves.iter_mut().find(|(n, _)| n == identity) {
            Some((_, known)) => known.merge(k),
            None => selves.push((identity.to_string(), k)),
        }
    }

    /// What the scan knows about who `identity` is.
    pub(crate) fn of(&self, identity: &str) -> SelfKnowledge {
        let selves = self.0.lock().unwrap_or_else(|e| e.into_inner());
        selves
            .iter()
            .find(|(n, _)| n == identity)
            .map(|(_, k)| k.clone())
            .unwrap_or_default()
    }

    pub(crate) fn all(&self) -> Vec<(String, SelfKnowledge)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// An info line for each identity whose own user id the scan did not learn (parameters that
/// name a user then fall back to harvested values for it); what was learnt goes to the debug
/// log (`MIDDLEBRICK_LOG=middlebrick_engine=debug`).
pub(crate) fn report(selves: &Selves, identities: &Identities) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for i in &identities.list {
        let k = selves.of(&i.name);
        let mut parts = Vec::new();
        if let Some(id) = k.id.as_ref().and_then(middlebrick_model::scalar_text) {
            parts.push(format!("user id `{id}`"));
        }
        if let Some(u) = &k.username {
            parts.push(format!("username `{u}`"));
        }
        if k.email.is_some() {
            parts.push("its e-mail".to_string());
        }
        parts.extend(k.fields.iter().map(|(n, _)| format!("its `{n}`")));
        let known = if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        };
        tracing::debug!(identity = %i.name, known = %known, "self-knowledge");
        if k.id.is_none() {
            out.push(Diagnostic::info(
                "identity.self-knowledge",
                format!(
                    "the scan did not learn identity `{}`'s own user id (known: {known}): \
                     parameters that name a user are filled from harvested values for it",
                    i.name
                ),
            ));
        }
    }
    out
}

/// An identity's markers for checks: its own (sign-in name, …) plus what it is known to be.
pub(crate) fn markers(mut markers: Vec<String>, own: &SelfKnowledge) -> Vec<String> {
    for v in own.values() {
        if !markers.contains(&v) {
            markers.push(v);
        }
    }
    markers
}

/// Keys whose values are credentials: never learnt as who someone is.
fn is_credential_key(key: &str) -> bool {
    let n = normalize_name(key);
    [
        "token", "secret", "password", "session", "key", "otp", "hash",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A name whose last word is an id word (`farmerId`, `tenant_uuid`).
fn is_id_name(key: &str) -> bool {
    name_words(key).last().is_some_and(|w| is_id_word(w))
}

fn id_value(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(v.clone()),
        Value::String(s) if !s.is_empty() && s.len() <= 128 && !s.contains(char::is_whitespace) => {
            Some(v.clone())
        }
        _ => None,
    }
}

fn text_value(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= 254)
        .map(str::to_string)
}

/// What one record says: explicit user-id keys always; a bare `id` only when `bare_id` (the
/// record is known to be the account's).
pub(crate) fn from_record(map: &Map<String, Value>, bare_id: bool) -> SelfKnowledge {
    let (mut bare, mut explicit) = (None, None);
    let mut k = SelfKnowledge::default();
    for (key, v) in map.iter().take(MAX_FIELDS) {
        if is_credential_key(key) {
            continue;
        }
        let n = normalize_name(key);
        if bare_id && is_id_word(&n) && bare.is_none() {
            bare = id_value(v);
        } else if ID_KEYS.contains(&n.as_str()) && explicit.is_none() {
            explicit = id_value(v);
        } else if USERNAME_KEYS.contains(&n.as_str()) && k.username.is_none() {
            k.username = text_value(v);
        } else if EMAIL_KEYS.contains(&n.as_str()) && k.email.is_none() {
            k.email = text_value(v).filter(|s| s.contains('@'));
        } else if is_id_name(key) && !is_id_word(&n) {
            if let Some(v) = id_value(v) {
                k.merge(SelfKnowledge {
                    fields: vec![(n, v)],
                    ..Default::default()
                });
            }
        }
    }
    k.id = bare.or(explicit);
    k
}

/// What a subject claim says: an e-mail, the sign-in name, an id (a number, or a string with
/// a digit: `42`, a uuid, `auth0|5f3c…`), or a username. A word without digits beside a
/// username claim is neither (generators put the token's kind there: `"sub": "access"`).
fn from_subject(v: &Value, login: Option<&str>, has_username: bool) -> SelfKnowledge {
    let mut k = SelfKnowledge::default();
    match v.as_str() {
        Some(s) if s.contains('@') => k.email = Some(s.to_string()),
        Some(s) if login.is_some_and(|l| l.eq_ignore_ascii_case(s)) => {
            k.username = Some(s.to_string())
        }
        Some(s) if !s.chars().any(|c| c.is_ascii_digit()) => {
            if !has_username {
                k.username = text_value(v);
            }
        }
        _ => k.id = id_value(v),
    }
    k
}

/// What a token's claims say (`login`: the name the identity signs in with).
pub(crate) fn from_claims(claims: &Map<String, Value>, login: Option<&str>) -> SelfKnowledge {
    let mut k = from_record(claims, true);
    for c in SUBJECT_CLAIMS {
        if let Some(v) = claims.get(*c) {
            match v.as_object() {
                Some(inner) => k.merge(from_record(inner, true)),
                None => k.merge(from_subject(v, login, k.username.is_some())),
            }
        }
    }
    k.merge(from_answer(&Value::Object(claims.clone()), login, false));
    k
}

/// What an answer says about the account: a record under a user-like key first, then the
/// record that holds the sign-in name, then (`is_self_read`: the answer is the account's own
/// record) the unwrapped answer itself.
pub(crate) fn from_answer(v: &Value, login: Option<&str>, is_self_read: bool) -> SelfKnowledge {
    let mut k = SelfKnowledge::default();
    let root = unwrap_envelope(v);
    if let Some(user) = user_object(root, 0) {
        k.merge(from_record(user, true));
    }
    if let Some(map) = root.as_object() {
        let holds_login = login.is_some_and(|l| {
            let r = from_record(map, false);
            [r.username, r.email]
                .into_iter()
                .flatten()
                .any(|s| s.eq_ignore_ascii_case(l))
        });
        k.merge(from_record(map, is_self_read || holds_login));
    }
    k
}

/// The first object under a user-like key, searched through wrappers and nested objects.
fn user_object(v: &Value, depth: usize) -> Option<&Map<String, Value>> {
    let map = v.as_object()?;
    if depth > MAX_DEPTH {
        return None;
    }
    for (key, child) in map.iter().take(MAX_FIELDS) {
        let inner = unwrap_envelope(child);
        if USER_OBJECT_KEYS.contains(&normalize_name(key).as_str()) {
            if let Some(m) = inner.as_object() {
                return Some(m);
            }
        }
    }
    map.iter()
        .take(MAX_FIELDS)
        .filter(|(k, v)| v.is_object() && (is_envelope_key(k) || !is_credential_key(k)))
        .find_map(|(_, child)| user_object(child, depth + 1))
}

/// What the identity's own sign-in says: its token's claims, then the sign-in answer, then
/// the name it signs in with (an e-mail when it has an `@`).
pub(crate) fn from_sign_in(identity: &Identity) -> SelfKnowledge {
    let login = identity.username();
    let login = login.as_deref();
    let mut k = SelfKnowledge::default();
    if let Some(jwt) = identity
        .token()
        .and_then(|t| middlebrick_checks::jwt::Jwt::parse(&t))
    {
        k.merge(from_claims(&jwt.claims, login));
    }
    if let Some(json) = identity.sign_in_exchange().and_then(|ex| ex.success_json()) {
        k.merge(from_answer(&json, login, false));
    }
    if let Some(l) = login {
        k.merge(match l.contains('@') {
            true => SelfKnowledge {
                email: Some(l.to_string()),
                ..Default::default()
            },
            false => SelfKnowledge {
                username: Some(l.to_string()),
                ..Default::default()
            },
        });
    }
    k
}

/// After sign-in: each identity's claims and sign-in answer, then the API's current-user reads.
pub(crate) async fn learn(probe: &EngineProbe, inv: &Inventory, identities: &Identities) {
    for identity in &identities.list {
        probe.selves.learn(&identity.name, from_sign_in(identity));
    }
    for op in self_reads(inv) {
        for identity in &identities.list {
            let login = identity.username();
            if let Ok(ex) = probe.baseline(op, &identity.name).await {
                if let Some(json) = ex.success_json() {
                    let k = from_answer(&json, login.as_deref(), true);
                    probe.selves.learn(&identity.name, k);
                }
            }
        }
    }
}

/// After the warm-up's first stage: any GET without path parameters whose single record names
/// the identity's known username or e-mail, while another identity's answer differs, is that
/// identity's own record (its id is learnt from it). Reads only cached baselines.
pub(crate) async fn learn_from_reads(probe: &EngineProbe, inv: &Inventory, ids: &Identities) {
    let reads = inv
        .operations
        .iter()
        .filter(|o| o.is_read() && path_param_count(o) == 0 && privileged_reason(o).is_none());
    for op in reads {
        let mut records = Vec::new();
        for identity in &ids.list {
            let json = match probe.baseline(op, &identity.name).await {
                Ok(ex) => ex.success_json(),
                Err(_) => None,
            };
            let record = json.as_ref().and_then(|j| single_record(j).cloned());
            records.push((identity.name.clone(), record));
        }
        let known: Vec<SelfKnowledge> = records.iter().map(|(n, _)| probe.selves.of(n)).collect();
        for (name, k) in own_records(&records, &known) {
            probe.selves.learn(&name, k);
        }
    }
}

/// Of one operation's answers (each identity's single record, `known` in the same order),
/// those that are the identity's own record: they name its known username or e-mail and
/// another identity's record differs. Only for identities whose id is still unknown.
pub(crate) fn own_records(
    records: &[(String, Option<Map<String, Value>>)],
    known: &[SelfKnowledge],
) -> Vec<(String, SelfKnowledge)> {
    let mut out = Vec::new();
    for ((name, record), known) in records.iter().zip(known) {
        let Some(record) = record else { continue };
        let others_differ = records
            .iter()
            .any(|(n, r)| n != name && r.as_ref().is_some_and(|r| r != record));
        let says = from_record(record, false);
        let names_me = [
            (&known.username, &says.username),
            (&known.email, &says.email),
        ]
        .iter()
        .any(|(k, s)| matches!((k, s), (Some(k), Some(s)) if k.eq_ignore_ascii_case(s)));
        if others_differ && names_me && known.id.is_none() {
            out.push((name.clone(), from_record(record, true)));
        }
    }
    out
}

#[cfg(test)]
#[path = "selfknow_tests.rs"]
mod tests;

//! The accounts the check registers, and how it looks at one: through the read of the caller's
//! own account, or, when the API has none (or the change shows only in a new session), through
//! a fresh sign-in: the claims of the token it issues (`{"role": "admin"}`). The token itself is
//! a secret and never leaves the exchange (the report redacts it by value); only the claim named
//! in the finding is quoted.

use super::{at, credentials_body, own_record};
use crate::check::RunCtx;
use crate::jwt::Jwt;
use crate::ownership::nonce;
use crate::probe::{Overrides, ProbeError};
use middlebrick_model::{Exchange, Operation, ANONYMOUS};
use serde_json::{Map, Value};

/// The account as one look shows it: the exchange that shows it and the record in it.
pub(super) struct Seen {
    pub(super) exchange: Exchange,
    pub(super) record: Option<Map<String, Value>>,
    /// Read from the token a fresh sign-in issued, not from a read of the account.
    pub(super) by_sign_in: bool,
}

impl Seen {
    /// Through a read of the account (its record inside any wrapper).
    pub(super) fn read(exchange: Exchange) -> Seen {
        let record = exchange
            .success_json()
            .as_ref()
            .and_then(own_record)
            .cloned();
        Seen {
            exchange,
            record,
            by_sign_in: false,
        }
    }

    /// Through the claims of the token a sign-in answered with.
    pub(super) fn signed_in(exchange: Exchange) -> Seen {
        Seen {
            record: claims(&exchange),
            exchange,
            by_sign_in: true,
        }
    }

    pub(super) fn holds(&self, field: &str, value: &Value) -> bool {
        self.record.as_ref().and_then(|r| r.get(field)) == Some(value)
    }
}

/// Registers an account, signs in as it and looks at it: through the profile read when there
/// is one, else through the claims of the token its sign-in issued.
pub(super) async fn account(
    ctx: &RunCtx<'_>,
    register: &Operation,
    profile: Option<&Operation>,
    extra: &[(String, Value)],
) -> Result<Option<(String, Exchange, Seen)>, ProbeError> {
    let tag = nonce();
    let (username, password, name) = (
        format!("mb_{tag}"),
        format!("Mb-{tag}-x9!Q"),
        format!("mb-account-{tag}"),
    );
    let mut o = credentials_body(register, &username, &password);
    for (k, v) in extra {
        o.body.push((at(register, k), Some(v.clone())));
    }
    let created = ctx
        .probe
        .send(ctx.probe.request(register, ANONYMOUS, &o))
        .await?;
    if !created.response.as_ref().is_some_and(|r| r.is_success()) {
        return Ok(None);
    }
    let Ok(signed) = ctx.probe.sign_in_account(&name, &username, &password).await else {
        return Ok(None);
    };
    let seen = match profile {
        Some(p) => Seen::read(
            ctx.probe
                .send(ctx.probe.request(p, &name, &Overrides::none()))
                .await?,
        ),
        None => Seen::signed_in(signed),
    };
    Ok(Some((name, created, seen)))
}

/// After an update of the account's own record: the account signed in again, in a new session,
/// and looked at through it (the profile read, else the new token's claims). A privilege some
/// APIs keep in the session or the token shows only there.
pub(super) async fn signed_in_again(
    ctx: &RunCtx<'_>,
    name: &str,
    profile: Option<&Operation>,
) -> Result<Option<Seen>, ProbeError> {
    let again = format!("{name}-again");
    let signed = match ctx.probe.fork_session(name, &again).await {
        Ok(ex) => ex,
        Err(ProbeError::Refused(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(match profile {
        Some(p) => Seen::read(
            ctx.probe
                .send(ctx.probe.request(p, &again, &Overrides::none()))
                .await?,
        ),
        None => Seen::signed_in(signed),
    }))
}

/// The claims of the first JWT the sign-in answer carries (a string anywhere in its JSON body),
/// with the claims of nested objects (`"app_metadata": {"role": …}`) lifted beside the others
/// when their names are free.
pub(super) fn claims(sign_in: &Exchange) -> Option<Map<String, Value>> {
    let body = sign_in.success_json()?;
    let jwt = first_jwt(&body, 0)?;
    let mut out = jwt.claims.clone();
    for v in jwt.claims.values() {
        if let Value::Object(inner) = v {
            for (k, v) in inner {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Some(out)
}

fn first_jwt(v: &Value, depth: usize) -> Option<Jwt> {
    if depth > 4 {
        return None;
    }
    match v {
        Value::String(s) if s.matches('.').count() == 2 => Jwt::parse(s),
        Value::Object(m) => m.values().find_map(|v| first_jwt(v, depth + 1)),
        Value::Array(a) => a.iter().find_map(|v| first_jwt(v, depth + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testing::token_with;
    use middlebrick_model::{Method, RequestSpec};
    use serde_json::json;

    fn answer(body: &str) -> Exchange {
        crate::fake::exchange_for(
            &RequestSpec::new(Method::Post, "/login"),
            Some(crate::similarity::response(200, "application/json", body)),
        )
    }

    use crate::check::{Check, RunCtx};
    use crate::fake::FakeProbe;
    use middlebrick_model::{
        Inventory, Operation, RequestBody, RequestBodySpec, Schema, SchemaType, SpecVersion,
    };
    use std::sync::{Arc, Mutex};

    /// Registration and a profile update, but no read of one's own account.
    fn inventory() -> Inventory {
        let mut reg = Operation::new(Method::Post, "/api/auth/register");
        let mut body = Schema::of_type(SchemaType::Object);
        for k in ["username", "password", "email"] {
            body.properties
                .insert(k.into(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        reg.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![reg, Operation::new(Method::Patch, "/api/users/me")];
        inv
    }

    fn role_in(r: &RequestSpec) -> Option<String> {
        match &r.body {
            Some(RequestBody::Json(v)) => v.get("role").and_then(|v| v.as_str()).map(String::from),
            _ => None,
        }
    }

    /// Tokens carry the account's role; `register` / `update` say whether those take `role`
    /// from the body. A fork of a session signs the same account in again.
    fn api(register: bool, update: bool) -> FakeProbe {
        let admins: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
        FakeProbe::new().on_dynamic(move |r| {
            let mut admins = admins.lock().unwrap();
            let body = |role: &str| {
                let t = token_with(json!({"sub": "9", "role": role}), b"k");
                crate::similarity::response(
                    200,
                    "application/json",
                    &format!(r#"{{"token":"{t}"}}"#),
                )
            };
            match r.path.as_str() {
                "/api/auth/register" => {
                    if register && role_in(r).is_some() {
                        if let Some(RequestBody::Json(v)) = &r.body {
                            admins.push(v["username"].as_str().unwrap_or("").to_string());
                        }
                    }
                    Some(crate::similarity::response(201, "application/json", "{}"))
                }
                "/api/users/me" => {
                    if update && role_in(r).is_some() {
                        admins.push(r.identity.clone());
                    }
                    Some(crate::similarity::response(204, "application/json", ""))
                }
                "/fake-sign-in" => {
                    let op = r.operation.clone().unwrap_or_default();
                    let who = op.rsplit(' ').next().unwrap_or("").to_string();
                    Some(body(if admins.contains(&who) {
                        "admin"
                    } else {
                        "customer"
                    }))
                }
                _ => None,
            }
        })
    }

    async fn locations(p: &FakeProbe) -> Vec<String> {
        let inv = inventory();
        super::super::MassAssignment
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
            .findings
            .iter()
            .map(|f| f.location())
            .collect()
    }

    #[tokio::test]
    async fn without_a_profile_read_a_fresh_sign_in_proves_it_both_ways() {
        assert_eq!(
            locations(&api(true, true)).await,
            vec!["POST /api/auth/register", "PATCH /api/users/me"]
        );
        // The update alone: only signing in again shows the new role.
        assert_eq!(
            locations(&api(false, true)).await,
            vec!["PATCH /api/users/me"]
        );
        assert!(locations(&api(false, false)).await.is_empty());
    }

    #[test]
    fn claims_come_from_the_token_in_the_answer_nested_ones_lifted() {
        let t = token_with(
            json!({"sub": "7", "app_metadata": {"role": "admin"}, "is_staff": false}),
            b"k",
        );
        let c = claims(&answer(&format!(r#"{{"data":{{"access_token":"{t}"}}}}"#))).unwrap();
        assert_eq!(c.get("role"), Some(&json!("admin")));
        assert_eq!(c.get("is_staff"), Some(&json!(false)));
        assert!(claims(&answer(r#"{"access_token":"opaque-abc"}"#)).is_none());
    }
}

//! Write-only account changes in `authz.bola-write`: B sets the password of an account through
//! that account's path (`PUT /users/{user_id}/password`), which answers 204 and offers no read.
//! The effect is the proof: the account signs in with the password B chose.
//!
//! Only on an account the scan registered ([`crate::probe::Probe::own_account`], active mode):
//! never a configured identity's account, whose password the scan must not change. The
//! account's id comes from its own current-user read. Requests: one registration and sign-in,
//! one read, a sign-in with the new password before (refused) and after (accepted), and B's
//! change: six.

use super::{Pair, META};
use crate::check::RunCtx;
use crate::ownership::{created_id, is_owner_key, nonce, self_read};
use crate::probe::{Overrides, ProbeError};
use crate::session::mask;
use middlebrick_model::names::{name_words, normalize_name};
use middlebrick_model::{
    Confidence, Diagnostic, Evidence, Exchange, Finding, Method, Operation, ParamLocation, Severity,
};
use serde_json::Value;

/// Body properties that hold the password the caller already has: B cannot know it, so an
/// operation that requires one is not judged here.
const CURRENT_WORDS: &[&str] = &["current", "old", "existing", "previous"];

fn body_schema(op: &Operation) -> Option<&middlebrick_model::Schema> {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| s.as_ref())
}

/// The body properties that take the new password (`new_password`, `password`,
/// `passwordConfirmation`), none of them the current one.
fn new_password_properties(op: &Operation) -> Vec<String> {
    let Some(schema) = body_schema(op) else {
        return Vec::new();
    };
    schema
        .properties
        .keys()
        .filter(|k| normalize_name(k).contains("password"))
        .filter(|k| {
            !name_words(k)
                .iter()
                .any(|w| CURRENT_WORDS.contains(&w.as_str()))
        })
        .cloned()
        .collect()
}

/// Whether a required body property asks for the current password.
fn needs_current_password(op: &Operation) -> bool {
    body_schema(op).is_some_and(|s| {
        s.required.iter().any(|k| {
            normalize_name(k).contains("password")
                && name_words(k)
                    .iter()
                    .any(|w| CURRENT_WORDS.contains(&w.as_str()))
        })
    })
}

/// The path parameter naming the account: an owner-like name (`user_id`, `username`), else the
/// only path parameter.
fn account_param(op: &Operation) -> Option<String> {
    let params: Vec<&str> = op
        .params_in(ParamLocation::Path)
        .map(|p| p.name.as_str())
        .collect();
    params
        .iter()
        .rev()
        .find(|p| is_owner_key(None, p))
        .or(if params.len() == 1 {
            params.first()
        } else {
            None
        })
        .map(|p| p.to_string())
}

/// A write whose path names an account and whose body sets a new password without the
/// current one.
pub(super) fn applies(op: &Operation) -> bool {
    matches!(op.method, Method::Put | Method::Patch | Method::Post)
        && account_param(op).is_some()
        && !new_password_properties(op).is_empty()
        && !needs_current_password(op)
}

fn new_password() -> String {
    format!("Mb-Pw-{}-{}!7", nonce(), nonce())
}

/// Why the operation was not tested: a configured identity's password is never changed.
fn skipped(op: &Operation, why: &str) -> Diagnostic {
    Diagnostic::info(
        "check.needs-own-account",
        format!(
            "authz.bola-write did not test `{}`: it changes an account's password, which the \
             scan does only on an account it registers itself (active mode and a registration \
             operation), never on a configured identity's ({why})",
            op.key()
        ),
    )
}

/// A finding, nothing (`Ok(None)`), or why the operation could not be tested (`Err`).
type Judged = Result<Option<Finding>, Diagnostic>;

pub(super) async fn judge(
    ctx: &RunCtx<'_>,
    op: &Operation,
    pair: &Pair,
) -> Result<Judged, ProbeError> {
    let (Some(param), Some(me)) = (account_param(op), self_read(ctx.inventory)) else {
        return Ok(Ok(None));
    };
    let victim = match ctx.probe.own_account().await {
        Ok(v) => v,
        Err(ProbeError::Refused(why)) => return Ok(Err(skipped(op, &why))),
        Err(e) => return Err(e),
    };
    let own_read = ctx
        .probe
        .send(ctx.probe.request(me, &victim.identity, &Overrides::none()))
        .await?;
    let Some(account) = own_read
        .success_json()
        .and_then(|j| account_value(&j, &param))
    else {
        return Ok(Ok(None));
    };
    let password = new_password();
    let before = ctx
        .probe
        .sign_in_attempt(None, &victim.username, &password, &[])
        .await
        .map(|ex| mask(ex, &password))?;
    if !crate::authflow::sign_in_refused(&before) {
        return Ok(Ok(None));
    }
    let mut change = Overrides::param(ParamLocation::Path, &param, account.clone());
    for p in new_password_properties(op) {
        change
            .body
            .push((vec![p], Some(Value::String(password.clone()))));
    }
    let b = &pair.b.name;
    let attack = mask(
        ctx.probe.send(ctx.probe.request(op, b, &change)).await?,
        &password,
    );
    let after = mask(
        ctx.probe
            .sign_in_attempt(None, &victim.username, &password, &[])
            .await?,
        &password,
    );
    if !crate::authflow::signed_in(&after, Some(&before)) {
        return Ok(Ok(None));
    }
    Ok(Ok(Some(finding(
        op,
        &param,
        b,
        &victim.username,
        [own_read, before, attack, after],
    ))))
}

/// The account's value for the path parameter, from its own record: a field named like the
/// parameter (`username`, `userId`), else its `id`.
fn account_value(record: &Value, param: &str) -> Option<Value> {
    created_id(record, param)
}

fn finding(
    op: &Operation,
    param: &str,
    b: &str,
    victim: &str,
    exchanges: [Exchange; 4],
) -> Finding {
    let description = format!(
        "Identity `{b}` set the password of another account (`{victim}`, registered by the scan \
         for this test) through `{}` (HTTP {}), without its current password; the account then \
         signed in with the password `{b}` chose, which it had refused just before. Any user can \
         take over other users' accounts.",
        op.key(),
        exchanges[2].status().unwrap_or(0),
    );
    let evidence = Evidence::new(exchanges.to_vec()).note(
        "first: the account reads itself (its id); second: the new password is refused; third: \
         B changes the account's password; fourth: the account signs in with it (the password \
         is masked)",
    );
    META.finding(
        Some(op),
        param,
        Severity::Critical,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use middlebrick_model::{RequestBodySpec, Schema, SchemaType};
    use std::sync::Arc;

    fn op(props: &[&str], required: &[&str]) -> Operation {
        let mut body = Schema::of_type(SchemaType::Object);
        for p in props {
            body.properties
                .insert(p.to_string(), Arc::new(Schema::of_type(SchemaType::String)));
        }
        body.required = required.iter().map(|s| s.to_string()).collect();
        let mut op = Operation::new(Method::Put, "/users/{user_id}/password");
        op.parameters.push(middlebrick_model::Parameter {
            name: "user_id".into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        op
    }

    /// An API where `PUT /users/{id}/password` sets account 77's password for any caller
    /// (`vulnerable`) or only for the account itself; the sign-in answers a token when the
    /// password is the one set.
    fn api(vulnerable: bool) -> crate::fake::FakeProbe {
        use crate::similarity::response;
        use middlebrick_model::{RequestBody, RequestSpec};
        use std::sync::Mutex;
        let set: Arc<Mutex<String>> = Arc::new(Mutex::new("registered".into()));
        let (s1, s2) = (set.clone(), set);
        crate::fake::FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &RequestSpec| r.path == "/fake-register",
                response(201, "application/json", r#"{"id":77}"#),
            )
            .on(
                |r: &RequestSpec| r.path == "/me",
                response(
                    200,
                    "application/json",
                    r#"{"id":77,"username":"mb-own-1"}"#,
                ),
            )
            .on_dynamic(move |r: &RequestSpec| {
                (r.path == "/users/77/password").then(|| {
                    if let (true, Some(RequestBody::Json(v))) = (vulnerable, &r.body) {
                        *s1.lock().unwrap() = v["new_password"].as_str().unwrap_or("").into();
                    }
                    response(if vulnerable { 204 } else { 403 }, "application/json", "")
                })
            })
            .on_dynamic(move |r: &RequestSpec| {
                (r.path == "/fake-login").then(|| {
                    let Some(RequestBody::Json(v)) = &r.body else {
                        return response(400, "application/json", "{}");
                    };
                    if v["password"].as_str() == Some(s2.lock().unwrap().as_str()) {
                        response(
                            200,
                            "application/json",
                            r#"{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3NyJ9.c2ln"}"#,
                        )
                    } else {
                        response(
                            401,
                            "application/json",
                            r#"{"error":"invalid_credentials"}"#,
                        )
                    }
                })
            })
    }

    async fn run(p: &crate::fake::FakeProbe) -> Option<Finding> {
        let mut inv =
            middlebrick_model::Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations = vec![
            op(&["current_password", "new_password"], &["new_password"]),
            Operation::new(Method::Get, "/me"),
        ];
        let ctx = RunCtx {
            probe: p,
            inventory: &inv,
            op: Some(&inv.operations[0]),
        };
        let pair = Pair::of(&ctx).unwrap();
        judge(&ctx, &inv.operations[0], &pair)
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn another_identity_setting_an_accounts_password_is_proven_by_its_sign_in() {
        let f = run(&api(true)).await.expect("finding");
        assert_eq!(f.evidence.exchanges[2].identity, "bob");
        assert!(f.evidence.exchanges[2]
            .request
            .url
            .contains("/users/77/password"));
        assert!(f.description.contains("`bob`") && f.description.contains("mb-own-1"));
        let all = serde_json::to_string(&f.evidence).unwrap();
        assert!(!all.contains("Mb-Pw-"), "the new password is masked: {all}");
        assert!(run(&api(false)).await.is_none());
    }

    #[tokio::test]
    async fn without_an_account_of_its_own_the_scan_says_why_it_did_not_test() {
        // Registration fails: the configured identities' accounts are never used instead.
        let p = crate::fake::FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &middlebrick_model::RequestSpec| r.path == "/fake-register",
                crate::similarity::response(403, "application/json", "{}"),
            );
        let mut inv =
            middlebrick_model::Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
        inv.operations = vec![
            op(&["new_password"], &[]),
            Operation::new(Method::Get, "/me"),
        ];
        let ctx = RunCtx {
            probe: &p,
            inventory: &inv,
            op: Some(&inv.operations[0]),
        };
        let pair = Pair::of(&ctx).unwrap();
        let out = judge(&ctx, &inv.operations[0], &pair).await.unwrap();
        let d = out.expect_err("a diagnostic");
        assert_eq!(d.code, "check.needs-own-account");
        assert!(p
            .sent
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.identity == "anonymous"));
    }

    #[test]
    fn a_password_change_without_the_current_password_applies() {
        assert!(applies(&op(
            &["current_password", "new_password"],
            &["new_password"]
        )));
        assert_eq!(
            new_password_properties(&op(&["oldPassword", "newPassword", "confirmPassword"], &[])),
            vec!["newPassword", "confirmPassword"]
        );
        assert!(!applies(&op(
            &["current_password", "new_password"],
            &["current_password", "new_password"]
        )));
        assert!(!applies(&op(&["nickname"], &[])));
    }
}

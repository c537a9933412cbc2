//! `authz.mass-assignment`: create and update bodies extended with privileged properties are
//! accepted and persisted.
//!
//! Active mode only, and only on accounts the scanner registers itself:
//! 1. register a control account with an ordinary body and read its profile;
//! 2. register a second account whose body adds privileged properties (named in the profile's
//!    schema, or common ones: `role`, `is_admin`, `permissions`, `verified`, `balance`, …) with
//!    escalated values, sign in as it and read its profile: a property that now holds the
//!    escalated value, while the control's does not, was mass-assigned on registration;
//! 3. as the control account, update the profile with the same properties and read it again.
//!
//! 4. on every create and update of the objects the scan makes, the server-set properties the
//!    operation does not take (or the spec marks read-only) are sent with other values and the
//!    object is read back ([`objects`]).
//!
//! The registration and profile operations are found by their shape (a POST whose body takes a
//! password; a GET/PATCH/PUT on `…/me`, `…/profile`). Budget: about 8 requests per scan for the
//! account, four per create and update tried.

mod objects;

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::ownership::{is_self_path, nonce, self_read};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Inventory, Method, Operation, Owasp,
    Remediation, Schema, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug)]
pub struct MassAssignment;

const PRIVILEGED: &[&str] = &[
    "role",
    "roles",
    "is_admin",
    "isAdmin",
    "admin",
    "is_staff",
    "is_superuser",
    "superuser",
    "permissions",
    "scopes",
    "verified",
    "is_verified",
    "email_verified",
    "balance",
    "credits",
    "plan",
    "tier",
    "account_type",
    "user_type",
    "group",
    "groups",
    "is_active",
    "approved",
];
const USERNAME: &[&str] = &["username", "user_name", "login", "name", "handle"];
const PASSWORD: &[&str] = &["password", "passwd", "pass", "pwd"];
const REGISTER: &[&str] = &[
    "register",
    "registration",
    "signup",
    "sign-up",
    "sign_up",
    "users",
    "accounts",
    "join",
];

static META: CheckMeta = CheckMeta {
    id: CheckId::AuthzMassAssignment,
    title: "Privileged properties accepted from the client (mass assignment)",
    description: "In active mode, registers scanner-owned accounts with and without privileged \
        properties (role, is_admin, permissions, verified, balance, …) and updates a profile \
        with them, and creates and updates its own objects with the server-set properties those \
        operations do not take; fires when a follow-up read shows the value sent persisted.",
    cwe: &[915],
    owasp: &[Owasp::Api3],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Bind request bodies to an allowlist of the fields a client may set for that \
            operation; never copy a request body onto a model. Role, permissions, ownership and \
            balances are set by server-side logic only.",
        variants: &[
            (Tech::Flask, "read the fields you accept by name (`data = {k: body[k] for k in (\"email\", \"full_name\") if k in body}`) \
                or load through a marshmallow schema with `unknown=EXCLUDE`; never `User(**request.json)`."),
            (Tech::FastApi, "declare separate input models (`UserCreate`, `UserUpdate`) without `role`, \
                with `model_config = ConfigDict(extra=\"forbid\")` to reject extra fields with 422."),
            (Tech::SqlAlchemy, "do not `setattr` every key of the body on the mapped object; update \
                explicit columns."),
            (Tech::Psycopg, "name the columns an update may write in the statement \
                (`UPDATE users SET full_name = %s, email = %s WHERE id = %s`); never build the \
                SET list from the body's keys."),
            (Tech::Asyncpg, "name the columns an update may write \
                (`UPDATE users SET full_name = $1 WHERE id = $2`); never build the SET list from the \
                body's keys."),
        ],
    },
};

#[async_trait]
impl Check for MassAssignment {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, _op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        Vec::new()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut outcome = judge(ctx).await.unwrap_or_default();
        if let Ok(found) = objects::judge(ctx).await {
            outcome.findings.extend(found);
        }
        outcome
    }
}

fn norm(s: &str) -> String {
    s.to_ascii_lowercase().replace('-', "_")
}

fn body_schema(op: &Operation) -> Option<&Schema> {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| s.as_ref())
}

fn register_op(inv: &Inventory) -> Option<&Operation> {
    // The one classifier first; the older word list stays as a fallback.
    if let Some(op) = crate::authflow::operations_with(inv, crate::authflow::AuthRole::Registration)
        .into_iter()
        .min_by_key(|o| o.path.len())
    {
        return Some(op);
    }
    inv.operations
        .iter()
        .filter(|o| o.method == Method::Post && !o.path.contains('{'))
        .filter(|o| {
            o.path
                .rsplit('/')
                .find(|s| !s.is_empty())
                .is_some_and(|l| REGISTER.contains(&norm(l).as_str()))
        })
        .filter(|o| {
            body_schema(o).is_some_and(|s| {
                s.properties
                    .keys()
                    .any(|k| PASSWORD.contains(&norm(k).as_str()))
            })
        })
        .min_by_key(|o| o.path.len())
}

/// The value that would mean "more privilege" for a property.
fn escalated(name: &str, schema: Option<&Schema>) -> Value {
    if let Some(s) = schema {
        if let Some(v) = s.enum_values.iter().find(|v| {
            v.as_str().is_some_and(|t| {
                ["admin", "owner", "super"]
                    .iter()
                    .any(|w| t.to_ascii_lowercase().contains(w))
            })
        }) {
            return v.clone();
        }
        match s.effective_type() {
            Some(SchemaType::Boolean) => return json!(true),
            Some(SchemaType::Integer | SchemaType::Number) => return json!(1_000_000),
            Some(SchemaType::Array) => return json!(["admin"]),
            _ => {}
        }
    }
    let n = norm(name);
    if n.starts_with("is_")
        || n == "admin"
        || n == "superuser"
        || n.ends_with("verified")
        || n == "approved"
    {
        json!(true)
    } else if n == "balance" || n == "credits" {
        json!(1_000_000)
    } else if n.ends_with('s') && n != "status" {
        json!(["admin"])
    } else {
        json!("admin")
    }
}

/// A value for `name` that differs from the account's `current` one, most telling first: the
/// admin identity's own value, another member of the documented enum (privileged-sounding
/// ones first), `true` for a flag that is false, then the generic escalation; `None` when
/// nothing differs (a flag already raised).
fn differing(
    name: &str,
    schema: Option<&Schema>,
    current: Option<&Value>,
    admin: Option<&Value>,
) -> Option<Value> {
    let differs = |v: &Value| Some(v) != current && !v.is_null();
    let enum_members = schema.map(|s| s.enum_values.clone()).unwrap_or_default();
    let mut ranked = enum_members.clone();
    ranked.sort_by_key(|v| escalated(name, schema) != *v);
    // A flag is only ever raised: `verified: false` on one's own account proves nothing and
    // `is_active: false` would lock the scan out of it.
    let raised = (current.and_then(Value::as_bool) == Some(false)).then(|| json!(true));
    admin
        .cloned()
        .into_iter()
        .chain(ranked)
        .chain(raised)
        .chain(std::iter::once(escalated(name, schema)))
        .find(differs)
}

/// Privileged properties to try and the value for each: those in the account's own record as
/// read (documented or not) and those the profile documents, else the common names; never one
/// the registration body already takes. Each value differs from the record's current one.
fn privileged_fields(
    register: &Operation,
    profile: &Operation,
    own: Option<&serde_json::Map<String, Value>>,
    admin: Option<&serde_json::Map<String, Value>>,
) -> Vec<(String, Value)> {
    let accepted: Vec<String> = fields_of(register).iter().map(|k| norm(k)).collect();
    let documented = profile
        .success_schema()
        .map(|s| record_schema(s).properties.clone())
        .unwrap_or_default();
    let privileged =
        |k: &str| PRIVILEGED.iter().any(|p| norm(p) == norm(k)) && !accepted.contains(&norm(k));
    let mut names: Vec<String> = own
        .into_iter()
        .flat_map(|r| r.keys())
        .chain(documented.keys())
        .filter(|k| privileged(k))
        .cloned()
        .collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|k| seen.insert(k.clone()));
    if names.is_empty() {
        names = vec!["role".into(), "is_admin".into()];
    }
    let mut out: Vec<(String, Value)> = names
        .iter()
        .filter_map(|k| {
            let schema = documented.get(k).map(|s| s.as_ref());
            let current = own.and_then(|r| r.get(k));
            let admin_value = admin.and_then(|r| r.get(k));
            differing(k, schema, current, admin_value).map(|v| (k.clone(), v))
        })
        .collect();
    out.truncate(4);
    out
}

/// The admin identity's own record, read through the profile operation (its baseline).
async fn admin_record(
    ctx: &RunCtx<'_>,
    profile: &Operation,
) -> Option<serde_json::Map<String, Value>> {
    let admin = ctx.probe.identities().into_iter().find(|i| i.admin)?;
    let ex = ctx.probe.baseline(profile, &admin.name).await.ok()?;
    own_record(&ex.success_json()?).cloned()
}

/// Where a body property goes: inside the wrapper the body puts its fields in
/// (`{"user": {...}}`), or at the top level.
fn at(op: &Operation, key: &str) -> Vec<String> {
    match crate::authflow::body_wrapper(op) {
        Some(w) => vec![w, key.to_string()],
        None => vec![key.to_string()],
    }
}

/// The body schema's own fields, inside its wrapper when it has one.
fn fields_of(op: &Operation) -> Vec<String> {
    let Some(s) = body_schema(op) else {
        return Vec::new();
    };
    let inner = crate::authflow::body_wrapper(op).and_then(|w| s.properties.get(&w).cloned());
    match inner {
        Some(i) => i.properties.keys().cloned().collect(),
        None => s.properties.keys().cloned().collect(),
    }
}

fn credentials_body(register: &Operation, username: &str, password: &str) -> Overrides {
    let mut o = Overrides::none();
    for k in &fields_of(register) {
        let n = norm(k);
        let v = if PASSWORD.contains(&n.as_str()) {
            json!(password)
        } else if USERNAME.contains(&n.as_str()) {
            json!(username)
        } else if n.contains("email") {
            json!(format!("{username}@example.com"))
        } else {
            continue;
        };
        o.body.push((at(register, k), Some(v)));
    }
    o
}

/// Registers an account, signs in as it and reads its profile.
async fn account(
    ctx: &RunCtx<'_>,
    register: &Operation,
    profile: &Operation,
    extra: &[(String, Value)],
) -> Result<Option<(String, Exchange, Exchange)>, ProbeError> {
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
    if ctx
        .probe
        .sign_in_account(&name, &username, &password)
        .await
        .is_err()
    {
        return Ok(None);
    }
    let read = ctx
        .probe
        .send(ctx.probe.request(profile, &name, &Overrides::none()))
        .await?;
    Ok(Some((name, created, read)))
}

/// True when the account's own record, read inside any wrapper (`{"data": {...}}`), holds
/// `value` under `field`.
fn holds(read: &Exchange, field: &str, value: &Value) -> bool {
    read.success_json().is_some_and(|j| {
        own_record(&j)
            .and_then(|r| r.get(field))
            .is_some_and(|v| v == value)
    })
}

/// The account's record in a profile answer: inside envelopes, and inside a lone object
/// property of any name (`{"user": {...}}`).
fn own_record(json: &Value) -> Option<&serde_json::Map<String, Value>> {
    let mut record = middlebrick_model::envelope::single_record(json)?;
    for _ in 0..middlebrick_model::envelope::MAX_UNWRAP {
        match record.iter().next() {
            Some((_, Value::Object(inner))) if record.len() == 1 => record = inner,
            _ => break,
        }
    }
    Some(record)
}

/// The schema of the record a documented answer carries, inside its wrapper: the one object
/// property under an envelope key, when the wrapper itself has no id (as answers are read).
fn record_schema(schema: &Arc<Schema>) -> Arc<Schema> {
    let mut cur = schema.clone();
    for _ in 0..middlebrick_model::envelope::MAX_UNWRAP {
        let has_id = cur.properties.keys().any(|k| {
            middlebrick_model::names::is_id_word(&middlebrick_model::names::normalize_name(k))
        });
        let mut objects = cur.properties.iter().filter(|(_, s)| {
            s.effective_type() == Some(SchemaType::Object) || !s.properties.is_empty()
        });
        let lone = cur.properties.len() == 1;
        let next = match (objects.next(), objects.next()) {
            (Some((k, s)), None)
                if !has_id && (lone || middlebrick_model::envelope::is_envelope_key(k)) =>
            {
                s.clone()
            }
            _ => break,
        };
        cur = next;
    }
    cur
}

async fn judge(ctx: &RunCtx<'_>) -> Result<Outcome, ProbeError> {
    let inv = ctx.inventory;
    let (Some(register), Some(profile)) = (register_op(inv), self_read(inv)) else {
        return Ok(Outcome::none());
    };
    let Some((control_name, _, control_read)) = account(ctx, register, profile, &[]).await? else {
        return Ok(Outcome::none());
    };
    let own = control_read.success_json();
    let own = own.as_ref().and_then(own_record);
    let admin = admin_record(ctx, profile).await;
    let fields = privileged_fields(register, profile, own, admin.as_ref());
    if fields.is_empty() {
        return Ok(Outcome::none());
    }
    let mut outcome = Outcome::none();
    if let Some((_, created, read)) = account(ctx, register, profile, &fields).await? {
        let took: Vec<&(String, Value)> = fields
            .iter()
            .filter(|(k, v)| holds(&read, k, v) && !holds(&control_read, k, v))
            .collect();
        if !took.is_empty() {
            let list: Vec<String> = took.iter().map(|(k, v)| format!("`{k}` = {v}")).collect();
            let description = format!(
                "Registration accepted privileged properties from the client: an account registered \
                 with {} reads them back as set, while an account registered without them does not. \
                 Anyone can register as an administrator.",
                list.join(", ")
            );
            let evidence = Evidence::new(vec![created, read, control_read.clone()])
                .note("first: the registration with extra properties; second: that account's profile; third: the control account's profile");
            outcome.findings.push(META.finding(
                Some(register),
                &took[0].0,
                Severity::High,
                Confidence::Confirmed,
                description,
                evidence,
            ));
        }
    }
    let update = inv.operations.iter().find(|o| {
        matches!(o.method, Method::Patch | Method::Put)
            && o.path == profile.path
            && is_self_path(&o.path)
    });
    if let Some(update) = update {
        let mut o = Overrides::none();
        for (k, v) in &fields {
            o.body.push((at(update, k), Some(v.clone())));
        }
        let sent = ctx
            .probe
            .send(ctx.probe.request(update, &control_name, &o))
            .await?;
        let after = ctx
            .probe
            .send(
                ctx.probe
                    .request(profile, &control_name, &Overrides::none()),
            )
            .await?;
        let took: Vec<&(String, Value)> = fields
            .iter()
            .filter(|(k, v)| holds(&after, k, v) && !holds(&control_read, k, v))
            .collect();
        if !took.is_empty() {
            let list: Vec<String> = took.iter().map(|(k, v)| format!("`{k}` = {v}")).collect();
            let description = format!(
                "A profile update accepted privileged properties: after `{}` with {}, the account's \
                 own profile reads them back as set (they were not before). A user can grant \
                 themselves these privileges.",
                update.key(),
                list.join(", ")
            );
            let evidence = Evidence::new(vec![sent, after, control_read])
                .note("first: the update; second: the profile after it; third: the profile before");
            outcome.findings.push(META.finding(
                Some(update),
                &took[0].0,
                Severity::High,
                Confidence::Confirmed,
                description,
                evidence,
            ));
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{RequestBody, RequestBodySpec, RequestSpec, ResponseSpec, SpecVersion};
    use std::sync::Arc;

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
        let mut me = Operation::new(Method::Get, "/api/users/me");
        let mut profile = Schema::of_type(SchemaType::Object);
        profile.properties.insert(
            "username".into(),
            Arc::new(Schema::of_type(SchemaType::String)),
        );
        profile
            .properties
            .insert("role".into(), Arc::new(Schema::of_type(SchemaType::String)));
        me.responses.push(ResponseSpec {
            status: "200".into(),
            media_type: None,
            schema: Some(Arc::new(profile)),
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![reg, me, Operation::new(Method::Patch, "/api/users/me")];
        inv
    }

    fn sets_role(r: &RequestSpec) -> bool {
        matches!(&r.body, Some(RequestBody::Json(v)) if v.get("role").is_some())
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        MassAssignment
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: None,
            })
            .await
    }

    /// A fake API that persists `role` from registration (when `vulnerable`) and from updates
    /// (when `vulnerable`), keyed by the scanner's account names.
    fn api(vulnerable: bool) -> FakeProbe {
        use std::sync::{Arc, Mutex};
        #[derive(Default)]
        struct State {
            escalated_users: Vec<String>,
            escalated_names: Vec<String>,
        }
        let state = Arc::new(Mutex::new(State::default()));
        let (s1, s2, s3, s4) = (state.clone(), state.clone(), state.clone(), state.clone());
        FakeProbe::new()
            .on(
                move |r: &RequestSpec| {
                    if r.path.ends_with("register") && sets_role(r) && vulnerable {
                        if let Some(RequestBody::Json(v)) = &r.body {
                            s1.lock()
                                .unwrap()
                                .escalated_users
                                .push(v["username"].as_str().unwrap_or("").to_string());
                        }
                    }
                    r.path.ends_with("register")
                },
                response(201, "application/json", r#"{"id":9}"#),
            )
            .on(
                move |r: &RequestSpec| {
                    if r.path == "/fake-sign-in" {
                        let mut st = s2.lock().unwrap();
                        let op = r.operation.clone().unwrap_or_default();
                        if st
                            .escalated_users
                            .iter()
                            .any(|u| !u.is_empty() && op.ends_with(u.as_str()))
                        {
                            st.escalated_names.push(r.identity.clone());
                        }
                    }
                    r.path == "/fake-sign-in"
                },
                response(
                    200,
                    "application/json",
                    r#"{"access_token":"t0k3n-abcdef"}"#,
                ),
            )
            .on(
                move |r: &RequestSpec| {
                    if r.method == Method::Patch && sets_role(r) && vulnerable {
                        s3.lock().unwrap().escalated_names.push(r.identity.clone());
                    }
                    r.method == Method::Patch
                },
                response(200, "application/json", r#"{"ok":true}"#),
            )
            .on(
                move |r: &RequestSpec| {
                    r.method == Method::Get
                        && s4.lock().unwrap().escalated_names.contains(&r.identity)
                },
                response(
                    200,
                    "application/json",
                    r#"{"username":"x","role":"admin"}"#,
                ),
            )
            .on(
                |r: &RequestSpec| r.method == Method::Get,
                response(
                    200,
                    "application/json",
                    r#"{"username":"x","role":"customer"}"#,
                ),
            )
    }

    #[tokio::test]
    async fn role_persisted_from_registration_and_update_is_confirmed() {
        let out = run(&api(true)).await;
        let ops: Vec<String> = out.findings.iter().map(|f| f.location()).collect();
        assert_eq!(ops, vec!["POST /api/auth/register", "PATCH /api/users/me"]);
        assert!(out
            .findings
            .iter()
            .all(|f| f.confidence == Confidence::Confirmed));
    }

    #[tokio::test]
    async fn ignored_properties_are_silent() {
        assert!(run(&api(false)).await.findings.is_empty());
    }

    #[test]
    fn wrapped_profiles_are_read_inside_their_envelope() {
        let mut role = Schema::of_type(SchemaType::String);
        role.enum_values = vec![json!("customer"), json!("admin")];
        let mut record = Schema::of_type(SchemaType::Object);
        record
            .properties
            .insert("id".into(), Arc::new(Schema::of_type(SchemaType::String)));
        record.properties.insert("role".into(), Arc::new(role));
        let mut wrapper = Schema::of_type(SchemaType::Object);
        wrapper.properties.insert(
            "status".into(),
            Arc::new(Schema::of_type(SchemaType::String)),
        );
        wrapper.properties.insert("data".into(), Arc::new(record));
        let inner = record_schema(&Arc::new(wrapper));
        assert!(inner.properties.contains_key("role"));
        assert_eq!(
            escalated("role", inner.properties.get("role").map(|s| s.as_ref())),
            json!("admin")
        );
        let read = crate::fake::exchange_for(
            &middlebrick_model::RequestSpec::new(Method::Get, "/me"),
            Some(crate::similarity::response(
                200,
                "application/json",
                r#"{"status":"success","data":{"id":"u1","role":"admin"}}"#,
            )),
        );
        assert!(holds(&read, "role", &json!("admin")));
        assert!(!holds(&read, "role", &json!("customer")));
        // A lone object property of any name wraps the record too.
        let read = crate::fake::exchange_for(
            &middlebrick_model::RequestSpec::new(Method::Get, "/user"),
            Some(crate::similarity::response(
                200,
                "application/json",
                r#"{"user":{"username":"mb","admin":true}}"#,
            )),
        );
        assert!(holds(&read, "admin", &json!(true)));
        let mut lone = Schema::of_type(SchemaType::Object);
        lone.properties
            .insert("user".into(), Arc::new((*inner).clone()));
        assert!(record_schema(&Arc::new(lone))
            .properties
            .contains_key("role"));
    }

    #[test]
    fn escalated_values_follow_the_schema() {
        let mut role = Schema::of_type(SchemaType::String);
        role.enum_values = vec![json!("customer"), json!("admin")];
        assert_eq!(escalated("role", Some(&role)), json!("admin"));
        assert_eq!(escalated("is_admin", None), json!(true));
        assert_eq!(
            escalated("balance", Some(&Schema::of_type(SchemaType::Number))),
            json!(1_000_000)
        );
        let inv = inventory();
        let fields = privileged_fields(
            register_op(&inv).unwrap(),
            self_read(&inv).unwrap(),
            None,
            None,
        );
        assert_eq!(fields, vec![("role".to_string(), json!("admin"))]);
    }

    #[test]
    fn values_differ_from_the_current_one_admin_first_then_other_members() {
        let mut role = Schema::of_type(SchemaType::String);
        role.enum_values = vec![json!("member"), json!("owner"), json!("staff")];
        // The admin identity's value wins when it differs.
        let v = differing(
            "role",
            Some(&role),
            Some(&json!("member")),
            Some(&json!("staff")),
        );
        assert_eq!(v, Some(json!("staff")));
        // Without an admin: the privileged-sounding member, never the current one.
        assert_eq!(
            differing("role", Some(&role), Some(&json!("member")), None),
            Some(json!("owner"))
        );
        assert_eq!(
            differing(
                "role",
                Some(&role),
                Some(&json!("owner")),
                Some(&json!("owner"))
            ),
            Some(json!("member"))
        );
        // Flags are raised, never lowered.
        assert_eq!(
            differing("is_admin", None, Some(&json!(false)), None),
            Some(json!(true))
        );
        assert_eq!(differing("verified", None, Some(&json!(true)), None), None);
    }

    #[test]
    fn undocumented_privileged_keys_of_the_own_record_are_tried() {
        let inv = inventory();
        let own = json!({"username": "mb_x", "role": "customer", "is_staff": false, "plan": null});
        let admin = json!({"username": "admin", "role": "admin", "is_staff": true});
        let fields = privileged_fields(
            register_op(&inv).unwrap(),
            self_read(&inv).unwrap(),
            own.as_object(),
            admin.as_object(),
        );
        assert_eq!(
            fields,
            vec![
                ("role".to_string(), json!("admin")),
                ("is_staff".to_string(), json!(true)),
                ("plan".to_string(), json!("admin")),
            ]
        );
    }
}

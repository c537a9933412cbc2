//! `authz.mass-assignment`: create and update bodies extended with privileged properties are
//! accepted and persisted.
//!
//! Active mode only, on accounts and objects the scanner makes itself:
//! 1. register a control account with an ordinary body and look at it: through the read of the
//!    caller's own account, else through the claims of the token its sign-in issued
//!    ([`account`]);
//! 2. register a second account whose body adds privileged properties (those of the account's
//!    own record, or the profile's schema, that sound privileged: `role`, `is_admin`,
//!    `permissions`, `verified`, `balance`, …), each with a value that differs from the
//!    control's (the admin identity's value, another enum member, a raised flag), and look at it
//!    the same way: a property that holds the value sent, while the control's does not, was
//!    mass-assigned on registration;
//! 3. as the control account, update its own record with the same properties and look again;
//!    when the read does not show them (or there is no read), sign the account in again in a
//!    new session and look through that;
//! 4. on every create and update of the objects the scan makes, the server-set properties the
//!    operation does not take (or the spec marks read-only) are sent with other values and the
//!    object is read back ([`objects`]).
//!
//! The registration and profile operations are found by their shape (a POST whose body takes a
//! password; a GET/PATCH/PUT on `…/me`, `…/profile`). Budget: about 10 requests per scan for the
//! account, four per create and update tried.

mod account;
mod objects;

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::ownership::{is_self_path, self_read};
use crate::probe::{Overrides, ProbeError};
use account::{account, signed_in_again, Seen};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Inventory, Method, Operation, Owasp, Remediation,
    Schema, SchemaType, Severity, Tech,
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
        with them (verified by a read, or the token of a fresh sign-in), and sends every create \
        and update of objects it made (in disposable mode also those the identity owns) with the \
        server-set properties those operations do not take; fires when a follow-up read shows \
        the value sent persisted.",
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
    profile: Option<&Operation>,
    own: Option<&serde_json::Map<String, Value>>,
    admin: Option<&serde_json::Map<String, Value>>,
) -> Vec<(String, Value)> {
    let accepted: Vec<String> = fields_of(register).iter().map(|k| norm(k)).collect();
    let documented = profile
        .and_then(|p| p.success_schema())
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

fn listed(took: &[&(String, Value)]) -> String {
    let list: Vec<String> = took.iter().map(|(k, v)| format!("`{k}` = {v}")).collect();
    list.join(", ")
}

fn how(seen: &Seen) -> &'static str {
    if seen.by_sign_in {
        "the claims of the token a fresh sign-in issues"
    } else {
        "the account's own profile"
    }
}

async fn judge(ctx: &RunCtx<'_>) -> Result<Outcome, ProbeError> {
    let inv = ctx.inventory;
    let Some(register) = register_op(inv) else {
        return Ok(Outcome::none());
    };
    let profile = self_read(inv);
    let Some((control_name, _, control)) = account(ctx, register, profile, &[]).await? else {
        return Ok(Outcome::none());
    };
    // Without a record of the control account there is nothing to compare with.
    if control.record.is_none() {
        return Ok(Outcome::none());
    }
    let admin = match profile {
        Some(p) => admin_record(ctx, p).await,
        None => ctx
            .probe
            .identities()
            .into_iter()
            .find(|i| i.admin)
            .and_then(|a| ctx.probe.sign_in_exchange(&a.name))
            .and_then(|ex| account::claims(&ex)),
    };
    let fields = privileged_fields(register, profile, control.record.as_ref(), admin.as_ref());
    if fields.is_empty() {
        return Ok(Outcome::none());
    }
    let mut outcome = Outcome::none();
    if let Some((_, created, seen)) = account(ctx, register, profile, &fields).await? {
        let took: Vec<&(String, Value)> = fields
            .iter()
            .filter(|(k, v)| seen.holds(k, v) && !control.holds(k, v))
            .collect();
        if !took.is_empty() {
            let description = format!(
                "Registration accepted privileged properties from the client: an account registered \
                 with {} shows them as set ({}), while an account registered without them does \
                 not. Anyone can register with these privileges.",
                listed(&took),
                how(&seen)
            );
            let evidence = Evidence::new(vec![created, seen.exchange, control.exchange.clone()])
                .note("first: the registration with extra properties; second: how that account looks (its profile, or its sign-in answer); third: the control account, looked at the same way");
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
            && is_self_path(&o.path)
            && profile.is_none_or(|p| o.path == p.path)
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
        let stuck = |seen: &Seen| -> Vec<&(String, Value)> {
            fields
                .iter()
                .filter(|(k, v)| seen.holds(k, v) && !control.holds(k, v))
                .collect()
        };
        let mut after = match profile {
            Some(p) => Some(Seen::read(
                ctx.probe
                    .send(ctx.probe.request(p, &control_name, &Overrides::none()))
                    .await?,
            )),
            None => None,
        };
        if after.as_ref().is_none_or(|a| stuck(a).is_empty()) {
            after = signed_in_again(ctx, &control_name, profile)
                .await?
                .or(after);
        }
        let took = after.as_ref().map(stuck).unwrap_or_default();
        if let (Some(after), false) = (&after, took.is_empty()) {
            let description = format!(
                "A profile update accepted privileged properties: after `{}` with {}, {} shows \
                 them as set (they were not before). A user can grant themselves these \
                 privileges.",
                update.key(),
                listed(&took),
                how(after)
            );
            let evidence = Evidence::new(vec![sent, after.exchange.clone(), control.exchange])
                .note("first: the update; second: the account after it (its profile, or a fresh sign-in); third: the account before");
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
mod tests;

//! The write half of `authz.bfla`: a regular identity performs a write the spec reserves for a
//! role, verified by its effect. Only operations the spec marks privileged (tag, admin scope,
//! summary) or whose family a role guards are tried; a name alone never is. Two shapes:
//! - a change to an account's role or status (`PATCH /admin/users/{id}` with an enumerated
//!   property): on an account the scan registered, never anyone else's; the account's own read
//!   afterwards shows the value the regular identity chose. Five requests and a registration.
//! - a create (`POST /admin/products`): the regular identity's marker is then read back from the
//!   resource's item or list read (`/products/{id}`). Two or three requests.
//!
//! A GraphQL mutation is the same write: the schema's description of the field marks it
//! (`"(admin role)"`); one with an owner-like argument (`setUserRole(userId:)`) is an account
//! change read back through the endpoint's `me`-like query (a free-text `role` argument is tried
//! with `admin`); any other is a create read back through the queries returning its type.

use super::META;
use crate::check::{Outcome, RunCtx};
use crate::ownership::{
    created_id, graphql_self_read, is_owner_key, nonce, object_refs, plain_text_field, self_read,
};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use middlebrick_model::envelope::unwrap_envelope;
use middlebrick_model::names::{name_words, normalize_name, singular};
use middlebrick_model::{
    Confidence, Diagnostic, Evidence, Exchange, Finding, Method, Operation, ParamLocation, Schema,
    SchemaType, Severity, ANONYMOUS,
};
use serde_json::Value;

fn body_schema(op: &Operation) -> Option<&Schema> {
    op.request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| s.as_ref())
}

/// Static segments of a path, without parameters.
fn statics(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .collect()
}

/// The path parameter that names an account: an owner-like name, or the one parameter right
/// after a `users`/`accounts`-like segment; for a GraphQL field, an owner-like argument
/// (`setUserRole(userId:)`).
fn account_param(op: &Operation) -> Option<String> {
    if let Some(g) = &op.graphql {
        return g
            .arguments
            .iter()
            .find(|a| is_owner_key(None, &a.name))
            .map(|a| a.name.clone());
    }
    let segs: Vec<&str> = op.path.split('/').collect();
    segs.windows(2).rev().find_map(|w| {
        let name = w[1].strip_prefix('{')?.strip_suffix('}')?;
        let after_accounts = matches!(
            singular(&normalize_name(w[0])).as_str(),
            "user" | "account" | "member" | "customer"
        );
        (is_owner_key(None, name) || after_accounts).then(|| name.to_string())
    })
}

/// An enumerated body property of an account change (`role`, `status`) and its members; else
/// a free-text role (`role: String!`, the values checked by the server only), tried with the
/// one role name every back office has.
fn enum_property(op: &Operation) -> Option<(String, Vec<Value>)> {
    let schema = body_schema(op)?;
    let enumerated = schema
        .properties
        .iter()
        .find(|(_, s)| s.enum_values.len() >= 2 && !s.read_only)
        .map(|(k, s)| (k.clone(), s.enum_values.clone()));
    enumerated.or_else(|| {
        schema
            .properties
            .iter()
            .find(|(k, s)| {
                s.effective_type() == Some(SchemaType::String)
                    && s.enum_values.is_empty()
                    && !s.read_only
                    && name_words(k).last().is_some_and(|w| w == "role")
            })
            .map(|(k, _)| (k.clone(), vec![Value::from("admin")]))
    })
}

/// The overrides that name the account `id` where `param` travels: a path parameter, or a
/// GraphQL argument.
fn naming_account(op: &Operation, param: &str, id: Value) -> Overrides {
    match op.graphql {
        Some(_) => Overrides::body_field(vec![param.to_string()], id),
        None => Overrides::param(ParamLocation::Path, param, id),
    }
}

/// The read of the caller's own account that shows the effect of `op`: for a GraphQL field,
/// a query of the same endpoint (`me`), else the REST one.
fn own_read<'a>(ctx: &RunCtx<'a>, op: &Operation) -> Option<&'a Operation> {
    op.graphql
        .as_ref()
        .and_then(|_| graphql_self_read(ctx.inventory, &op.path))
        .or_else(|| self_read(ctx.inventory))
}

fn field<'a>(record: &'a Value, key: &str) -> Option<&'a Value> {
    record.get(key).or_else(|| unwrap_envelope(record).get(key))
}

/// Runs the write flow that fits `op`.
pub(super) async fn judge(
    ctx: &RunCtx<'_>,
    op: &Operation,
    regular: &IdentityInfo,
    why: &str,
) -> Result<Outcome, ProbeError> {
    if !ctx.probe.method_allowed(op.method) {
        return Ok(Outcome::none());
    }
    match op.method {
        Method::Put | Method::Patch => account_change(ctx, op, regular, why).await,
        // A GraphQL mutation is a POST whatever it does: one that names an account changes it.
        Method::Post if op.graphql.is_some() && account_param(op).is_some() => {
            account_change(ctx, op, regular, why).await
        }
        Method::Post => Ok(create(ctx, op, regular, why)
            .await?
            .map(Outcome::finding)
            .unwrap_or_default()),
        _ => Ok(Outcome::none()),
    }
}

async fn account_change(
    ctx: &RunCtx<'_>,
    op: &Operation,
    regular: &IdentityInfo,
    why: &str,
) -> Result<Outcome, ProbeError> {
    let (Some(param), Some((prop, members)), Some(me)) =
        (account_param(op), enum_property(op), own_read(ctx, op))
    else {
        return Ok(Outcome::none());
    };
    let account = match ctx.probe.own_account().await {
        Ok(a) => a,
        Err(ProbeError::Refused(why)) => {
            return Ok(Outcome {
                findings: Vec::new(),
                diagnostics: vec![Diagnostic::info(
                    "check.needs-own-account",
                    format!(
                        "authz.bfla did not test `{}`: it changes an account's `{prop}`, which \
                         the scan does only on an account it registers itself (active mode and \
                         a registration operation), never on a configured identity's ({why})",
                        op.key()
                    ),
                )],
            })
        }
        Err(e) => return Err(e),
    };
    let read = || ctx.probe.request(me, &account.identity, &Overrides::none());
    let before = ctx.probe.send(read()).await?;
    let Some(record) = before.success_json() else {
        return Ok(Outcome::none());
    };
    let (Some(id), Some(current)) = (created_id(&record, &param), field(&record, &prop)) else {
        return Ok(Outcome::none());
    };
    let Some(chosen) = members.iter().find(|m| *m != current).cloned() else {
        return Ok(Outcome::none());
    };
    let mut change = naming_account(op, &param, id);
    change.body.push((vec![prop.clone()], Some(chosen.clone())));
    let attack = ctx
        .probe
        .send(ctx.probe.request(op, &regular.name, &change))
        .await?;
    let after = ctx.probe.send(read()).await?;
    let now = after.success_json();
    if now.as_ref().and_then(|r| field(r, &prop)) != Some(&chosen) {
        return Ok(Outcome::none());
    }
    let description = format!(
        "The operation is administrative ({why}), yet the regular identity `{}` changed `{prop}` \
         of another account (`{}`, registered by the scan for this test) from {current} to \
         {chosen} (HTTP {}); the account's own read shows the new value. Any user can change \
         other accounts' {prop}.",
        regular.name,
        account.username,
        attack.status().unwrap_or(0),
    );
    Ok(Outcome::finding(finding(
        op,
        description,
        vec![before, attack, after],
        "first: the account reads itself; second: the regular identity changes it; third: the \
         account's read shows the change",
    )))
}

/// Reads that may show an object created through `op`: GET operations on the same resource (the
/// same last static segment), the item read first; for a GraphQL mutation, the queries of the
/// endpoint that return its type and need no argument but an object's id.
fn reads_of<'a>(ctx: &RunCtx<'a>, op: &Operation) -> Vec<&'a Operation> {
    if let Some(g) = &op.graphql {
        return graphql_reads_of(ctx, op, &g.returns);
    }
    let Some(last) = statics(&op.path).last().copied() else {
        return Vec::new();
    };
    let mut reads: Vec<&Operation> = ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && statics(&o.path).last() == Some(&last))
        .filter(|o| o.path.ends_with('}') || !o.path.contains('{'))
        .collect();
    reads.sort_by_key(|o| !o.path.ends_with('}'));
    reads.truncate(2);
    reads
}

fn graphql_reads_of<'a>(ctx: &RunCtx<'a>, op: &Operation, returns: &str) -> Vec<&'a Operation> {
    if returns.is_empty() {
        return Vec::new();
    }
    let mut reads: Vec<&Operation> = ctx
        .inventory
        .operations
        .iter()
        .filter(|o| o.path == op.path && o.is_read())
        .filter(|o| {
            o.graphql.as_ref().is_some_and(|r| {
                let refs = object_refs(o);
                r.returns == returns
                    && r.arguments.iter().all(|a| {
                        !a.type_ref.ends_with('!') || refs.iter().any(|x| x.name() == a.name)
                    })
            })
        })
        .collect();
    reads.sort_by_key(|o| object_refs(o).is_empty());
    reads.truncate(2);
    reads
}

/// The overrides that make `read` ask for the object created with `answer`, or `None` when
/// the answer does not say which; no overrides for a list read.
fn naming_created(read: &Operation, answer: &Value) -> Option<Overrides> {
    if read.graphql.is_some() {
        return match object_refs(read).first() {
            Some(at) => Some(at.set(created_id(answer, at.name())?)),
            None => Some(Overrides::none()),
        };
    }
    match read.params_in(ParamLocation::Path).last() {
        Some(p) => Some(Overrides::param(
            ParamLocation::Path,
            &p.name,
            created_id(answer, &p.name)?,
        )),
        None => Some(Overrides::none()),
    }
}

async fn create(
    ctx: &RunCtx<'_>,
    op: &Operation,
    regular: &IdentityInfo,
    why: &str,
) -> Result<Option<Finding>, ProbeError> {
    let Some(text) = body_schema(op).and_then(plain_text_field) else {
        return Ok(None);
    };
    let reads = reads_of(ctx, op);
    if reads.is_empty() {
        return Ok(None);
    }
    let marker = format!("mb-bfla-{}", nonce());
    let with_marker = Overrides::body_field(vec![text.clone()], Value::String(marker.clone()));
    let attack = ctx
        .probe
        .send(ctx.probe.request(op, &regular.name, &with_marker))
        .await?;
    let Some(answer) = attack.success_json() else {
        return Ok(None);
    };
    for read in reads {
        let Some(over) = naming_created(read, &answer) else {
            continue;
        };
        for who in [regular.name.as_str(), ANONYMOUS] {
            let ex = ctx.probe.send(ctx.probe.request(read, who, &over)).await?;
            if shows(&ex, &marker) {
                let description = format!(
                    "The operation is administrative ({why}), yet the regular identity `{}` \
                     created an object through it (HTTP {}, `{text}` set to a marker), and `{}` \
                     reads it back from `{}`. Any user can create what only administrators \
                     should.",
                    regular.name,
                    attack.status().unwrap_or(0),
                    ex.identity,
                    read.key(),
                );
                return Ok(Some(finding(
                    op,
                    description,
                    vec![attack, ex],
                    "first: the regular identity creates; second: the read shows its marker",
                )));
            }
        }
    }
    Ok(None)
}

fn shows(ex: &Exchange, marker: &str) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.is_success() && r.body.text.contains(marker))
}

fn finding(op: &Operation, description: String, ex: Vec<Exchange>, note: &str) -> Finding {
    META.finding(
        Some(op),
        "",
        Severity::High,
        Confidence::Confirmed,
        description,
        Evidence::new(ex).note(note),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, RequestBody, RequestBodySpec, RequestSpec, SpecVersion};
    use std::sync::{Arc, Mutex};

    fn with_body(mut op: Operation, props: Vec<(&str, Schema)>) -> Operation {
        let mut body = Schema::of_type(middlebrick_model::SchemaType::Object);
        for (k, s) in props {
            body.properties.insert(k.into(), Arc::new(s));
        }
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        op
    }

    fn path_param(op: &mut Operation, name: &str) {
        op.parameters.push(middlebrick_model::Parameter {
            name: name.into(),
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(middlebrick_model::SchemaType::Integer)),
            example: None,
        });
    }

    async fn run(p: &FakeProbe, inv: &Inventory) -> Option<Finding> {
        let ctx = RunCtx {
            probe: p,
            inventory: inv,
            op: Some(&inv.operations[0]),
        };
        let alice = p.identities[0].clone();
        judge(&ctx, &inv.operations[0], &alice, "the spec tags it `admin`")
            .await
            .unwrap()
            .findings
            .into_iter()
            .next()
    }

    /// `PATCH /admin/users/{id}` sets account 77's role for anyone (`vulnerable`) or nobody
    /// but admins.
    fn roles(vulnerable: bool) -> (Inventory, FakeProbe) {
        let mut role = Schema::of_type(middlebrick_model::SchemaType::String);
        role.enum_values = vec![Value::from("customer"), Value::from("admin")];
        let mut patch = with_body(
            Operation::new(Method::Patch, "/admin/users/{id}"),
            vec![("role", role)],
        );
        path_param(&mut patch, "id");
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![patch, Operation::new(Method::Get, "/me")];
        let current = Arc::new(Mutex::new(String::from("customer")));
        let (c1, c2) = (current.clone(), current);
        let p = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on(
                |r: &RequestSpec| r.path == "/fake-register",
                response(201, "application/json", "{}"),
            )
            .on_dynamic(move |r: &RequestSpec| {
                (r.path == "/admin/users/77").then(|| {
                    if let (true, Some(RequestBody::Json(v))) = (vulnerable, &r.body) {
                        *c1.lock().unwrap() = v["role"].as_str().unwrap_or("").into();
                    }
                    response(if vulnerable { 200 } else { 403 }, "application/json", "{}")
                })
            })
            .on_dynamic(move |r: &RequestSpec| {
                (r.path == "/me").then(|| {
                    let body = serde_json::json!({"id": 77, "role": *c2.lock().unwrap()});
                    response(200, "application/json", &body.to_string())
                })
            });
        (inv, p)
    }

    #[tokio::test]
    async fn a_regular_identity_changing_an_accounts_role_is_confirmed() {
        let (inv, p) = roles(true);
        let f = run(&p, &inv).await.expect("finding");
        assert_eq!(f.evidence.exchanges[1].identity, "alice");
        assert!(f.description.contains("\"admin\""), "{}", f.description);
        let (inv, p) = roles(false);
        assert!(run(&p, &inv).await.is_none());
    }

    /// `POST /admin/products` creates for anyone (`vulnerable`); `GET /products/{id}` reads.
    fn catalogue(vulnerable: bool) -> (Inventory, FakeProbe) {
        let string = Schema::of_type(middlebrick_model::SchemaType::String);
        let post = with_body(
            Operation::new(Method::Post, "/admin/products"),
            vec![("name", string)],
        );
        let mut read = Operation::new(Method::Get, "/products/{product_id}");
        path_param(&mut read, "product_id");
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![post, read];
        let name = Arc::new(Mutex::new(String::from("Mug")));
        let (n1, n2) = (name.clone(), name);
        let p = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .on_dynamic(move |r: &RequestSpec| {
                (r.method == Method::Post).then(|| {
                    if !vulnerable {
                        return response(403, "application/json", "{}");
                    }
                    if let Some(RequestBody::Json(v)) = &r.body {
                        *n1.lock().unwrap() = v["name"].as_str().unwrap_or("").into();
                    }
                    response(201, "application/json", r#"{"id":1}"#)
                })
            })
            .on_dynamic(move |r: &RequestSpec| {
                (r.method == Method::Get).then(|| {
                    let body = serde_json::json!({"id": 1, "name": *n2.lock().unwrap()});
                    response(200, "application/json", &body.to_string())
                })
            });
        (inv, p)
    }

    #[tokio::test]
    async fn a_regular_identitys_create_read_back_is_confirmed() {
        let (inv, p) = catalogue(true);
        let f = run(&p, &inv).await.expect("finding");
        assert_eq!(f.severity, Severity::High);
        assert!(f.evidence.exchanges[1].request.url.contains("/products/1"));
        let (inv, p) = catalogue(false);
        assert!(run(&p, &inv).await.is_none());
    }

    #[test]
    fn account_parameters_are_named_or_follow_an_accounts_segment() {
        let op = |p: &str| Operation::new(Method::Patch, p);
        assert_eq!(
            account_param(&op("/admin/users/{id}")).as_deref(),
            Some("id")
        );
        assert_eq!(
            account_param(&op("/admin/x/{userId}")).as_deref(),
            Some("userId")
        );
        assert_eq!(account_param(&op("/admin/products/{id}")), None);
    }
}

#[cfg(test)]
#[path = "write_graphql_tests.rs"]
mod graphql_tests;

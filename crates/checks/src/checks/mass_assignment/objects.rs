//! Mass assignment on the objects the scan creates and updates itself.
//!
//! For every create (a POST to a collection `X` whose item `X/{id}` has a GET) and every update
//! (a PUT/PATCH of `X/{id}` that has a GET), as the first regular identity:
//! 1. a control object is created with the ordinary body and read back: what the server sets
//!    (for an update: an object of the identity's is read, one the scan makes for the purpose,
//!    or in disposable mode one it already owns, never the identity's own account);
//! 2. the server-set properties of that record that the operation does not take (absent from its
//!    documented request body, or documented `readOnly`) are the privileged ones, each given a
//!    value that differs from the server's (another enum member, a raised flag, …);
//! 3. the create is sent again with them (or the update of the object), and the object is read
//!    back: a property that holds the value sent, while the control did not, was
//!    assigned from the client.
//!
//! Identifiers and owner references (BOLA's business), timestamps, values that are not scalars,
//! and money the server computes (`design.client-controlled-values` judges those) are left out.
//! Only objects the scan creates are written to in active mode (the engine's ledger refuses the
//! rest). Budget: four requests per create and four per update, at most [`MAX_OPS`] of each.

use super::{differing, fields_of, own_record, record_schema, META};
use crate::check::RunCtx;
use crate::ownership::{collection_of, created_id};
use crate::probe::{IdentityInfo, Overrides, ProbeError};
use crate::stateful::Candidates;
use middlebrick_model::names::{is_id_word, name_words, normalize_name};
use middlebrick_model::scalar_text;
use middlebrick_model::{
    Confidence, Evidence, Exchange, Finding, Inventory, Method, Operation, ParamLocation, Schema,
    SchemaType, Severity,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Operations of each kind (creates, updates) tried per scan.
pub(super) const MAX_OPS: usize = 6;
/// Properties set in one request.
const MAX_FIELDS: usize = 4;

type Record = Map<String, Value>;

/// The item read of the collection `collection`: `GET collection/{param}`, and its parameter.
fn item_read<'a>(inv: &'a Inventory, collection: &str) -> Option<(&'a Operation, String)> {
    inv.operations.iter().find_map(|o| {
        let rest = o.path.strip_prefix(collection)?.strip_prefix("/{")?;
        let param = rest.strip_suffix('}')?;
        (o.method == Method::Get && !param.contains(['/', '{', '}']))
            .then(|| (o, param.to_string()))
    })
}

/// The body schema's own properties (inside its wrapper) that a client may set: documented and
/// not `readOnly`. `None` when the body is not documented property by property.
fn taken(op: &Operation) -> Option<Vec<String>> {
    let schema = super::body_schema(op)?;
    let inner = crate::authflow::body_wrapper(op)
        .and_then(|w| schema.properties.get(&w).cloned())
        .unwrap_or_else(|| Arc::new(schema.clone()));
    if inner.properties.is_empty() {
        return None;
    }
    Some(
        fields_of(op)
            .iter()
            .filter(|k| !inner.properties.get(*k).is_some_and(|s| s.read_only))
            .map(|k| normalize_name(k))
            .collect(),
    )
}

/// A value shaped like a date or a timestamp (`2026-12-07…`).
fn date_like(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let b = s.as_bytes();
        b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-'
    })
}

/// Whether the property names an identifier or a reference (`id`, `user_id`, `ownerId`).
fn reference(name: &str) -> bool {
    name_words(name).last().is_some_and(|w| is_id_word(w))
}

/// The privileged properties of `op` in `record` (the object as the server made it), each with
/// a value that differs from the server's, and whether the spec documents it read-only.
pub(super) fn privileged(
    op: &Operation,
    read_schema: Option<&Schema>,
    record: &Record,
    computed: &[String],
) -> Vec<(String, Value, bool)> {
    let Some(taken) = taken(op) else {
        return Vec::new();
    };
    let body_read_only = |k: &str| {
        super::body_schema(op)
            .and_then(|s| s.properties.get(k))
            .is_some_and(|s| s.read_only)
    };
    let mut out: Vec<(String, Value, bool)> = record
        .iter()
        .filter(|(k, v)| {
            !taken.contains(&normalize_name(k))
                && (v.is_boolean() || v.is_number() || v.is_string())
                && !date_like(v)
                && !reference(k)
                && !computed
                    .iter()
                    .any(|c| normalize_name(c) == normalize_name(k))
        })
        .filter_map(|(k, v)| {
            let schema = read_schema.and_then(|s| s.properties.get(k)).map(|s| &**s);
            if schema.is_some_and(|s| {
                matches!(s.format.as_deref(), Some("date" | "date-time"))
                    || s.effective_type() == Some(SchemaType::Object)
                    || s.write_only
            }) {
                return None;
            }
            let read_only = schema.is_some_and(|s| s.read_only) || body_read_only(k);
            differing(k, schema, Some(v), None).map(|new| (k.clone(), new, read_only))
        })
        .collect();
    // Documented read-only properties first: the spec itself says the client may not set them.
    out.sort_by_key(|(_, _, ro)| !ro);
    out.truncate(MAX_FIELDS);
    out
}

/// The object `made` (the answer of a create) read back through `read`: the exchange and the
/// record inside any wrapper.
async fn reread(
    ctx: &RunCtx<'_>,
    read: &(&Operation, String),
    made: &Exchange,
    who: &str,
) -> Result<Option<(Value, Exchange, Record)>, ProbeError> {
    let Some(id) = made.success_json().and_then(|j| created_id(&j, &read.1)) else {
        return Ok(None);
    };
    let ex = ctx
        .probe
        .send(ctx.probe.request(
            read.0,
            who,
            &Overrides::param(ParamLocation::Path, &read.1, id.clone()),
        ))
        .await?;
    let record = ex.success_json().as_ref().and_then(own_record).cloned();
    Ok(record.map(|r| (id, ex, r)))
}

fn with_fields(op: &Operation, mut o: Overrides, fields: &[(String, Value, bool)]) -> Overrides {
    for (k, v, _) in fields {
        o.body.push((super::at(op, k), Some(v.clone())));
    }
    o
}

/// The properties that hold the value sent in `after` and did not in `before`.
fn stuck<'f>(
    fields: &'f [(String, Value, bool)],
    before: &Record,
    after: &Record,
) -> Vec<&'f (String, Value, bool)> {
    fields
        .iter()
        .filter(|(k, v, _)| after.get(k) == Some(v) && before.get(k) != Some(v))
        .collect()
}

fn report(
    op: &Operation,
    took: &[&(String, Value, bool)],
    what: &str,
    evidence: Evidence,
) -> Finding {
    let list: Vec<String> = took
        .iter()
        .map(|(k, v, _)| format!("`{k}` = {v}"))
        .collect();
    let documented = took.iter().any(|(_, _, ro)| *ro);
    let why = if documented {
        "the spec marks them read-only"
    } else {
        "the operation's documented request does not take them; the server sets them"
    };
    let description = format!(
        "`{}` accepted properties the client should not set ({why}): {what} with {} reads them \
         back as sent, while the object made without them holds the server's own values.",
        op.key(),
        list.join(", ")
    );
    let (severity, confidence) = if documented {
        (Severity::High, Confidence::Confirmed)
    } else {
        (Severity::Medium, Confidence::Firm)
    };
    META.finding(
        Some(op),
        &took[0].0,
        severity,
        confidence,
        description,
        evidence,
    )
}

/// A create whose privileged properties stick.
async fn judge_create(
    ctx: &RunCtx<'_>,
    create: &Operation,
    read: &(&Operation, String),
    who: &str,
) -> Result<Option<Finding>, ProbeError> {
    let control = ctx
        .probe
        .send(ctx.probe.request(create, who, &Overrides::none()))
        .await?;
    let Some((_, control_read, before)) = reread(ctx, read, &control, who).await? else {
        return Ok(None);
    };
    let computed: Vec<String> = crate::checks::client_values::candidates(create, ctx.inventory)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let read_schema = read.0.success_schema().map(record_schema);
    let fields = privileged(create, read_schema.as_deref(), &before, &computed);
    if fields.is_empty() {
        return Ok(None);
    }
    let sent = ctx
        .probe
        .send(ctx.probe.request(
            create,
            who,
            &with_fields(create, Overrides::none(), &fields),
        ))
        .await?;
    let Some((_, after_read, after)) = reread(ctx, read, &sent, who).await? else {
        return Ok(None);
    };
    let took = stuck(&fields, &before, &after);
    if took.is_empty() {
        return Ok(None);
    }
    let evidence = Evidence::new(vec![sent, after_read, control, control_read]).note(
        "first: the create with the extra properties; second: that object read back; third and \
         fourth: the control create and its read",
    );
    Ok(Some(report(create, &took, "an object created", evidence)))
}

/// Whether `id` names the identity's own account (its id, or an identifier its record gives):
/// a configured identity is a user's account and is never escalated; the account's own
/// properties are judged on accounts the scan registers ([`super::account`]).
fn own_account(who: &IdentityInfo, id: &Value) -> bool {
    let text = scalar_text(id);
    text.is_some()
        && who
            .own
            .id
            .iter()
            .chain(who.own.fields.iter().map(|(_, v)| v))
            .any(|v| scalar_text(v) == text)
}

/// An update whose privileged properties stick on an object of the identity's: one the scan
/// makes for the purpose, or in disposable mode one the identity already owns
/// ([`Candidates`]), never its own account.
async fn judge_update(
    ctx: &RunCtx<'_>,
    update: &Operation,
    read: &(&Operation, String),
    who: &IdentityInfo,
) -> Result<Option<Finding>, ProbeError> {
    let mut candidates = Candidates::new();
    let id = loop {
        match candidates.next(ctx, update, &read.1, &who.name).await? {
            Some(id) if own_account(who, &id) => continue,
            Some(id) => break id,
            None => return Ok(None),
        }
    };
    let at = || Overrides::param(ParamLocation::Path, &read.1, id.clone());
    let before_read = ctx
        .probe
        .send(ctx.probe.request(read.0, &who.name, &at()))
        .await?;
    let Some(before) = before_read
        .success_json()
        .as_ref()
        .and_then(own_record)
        .cloned()
    else {
        return Ok(None);
    };
    let read_schema = read.0.success_schema().map(record_schema);
    let fields = privileged(update, read_schema.as_deref(), &before, &[]);
    if fields.is_empty() {
        return Ok(None);
    }
    let sent = ctx
        .probe
        .send(
            ctx.probe
                .request(update, &who.name, &with_fields(update, at(), &fields)),
        )
        .await?;
    let after_read = ctx
        .probe
        .send(ctx.probe.request(read.0, &who.name, &at()))
        .await?;
    let Some(after) = after_read
        .success_json()
        .as_ref()
        .and_then(own_record)
        .cloned()
    else {
        return Ok(None);
    };
    let took = stuck(&fields, &before, &after);
    if took.is_empty() {
        return Ok(None);
    }
    let evidence = Evidence::new(vec![sent, after_read, before_read]).note(
        "first: the update with the extra properties; second: the object read back; third: the \
         object read before the update",
    );
    Ok(Some(report(
        update,
        &took,
        &format!("an update of {}'s own object", who.name),
        evidence,
    )))
}

/// Every create and update the scan may write to, judged as the first regular identity.
pub(super) async fn judge(ctx: &RunCtx<'_>) -> Result<Vec<Finding>, ProbeError> {
    let Some(who) = ctx.probe.identities().into_iter().find(|i| !i.admin) else {
        return Ok(Vec::new());
    };
    let inv = ctx.inventory;
    let plain = |o: &&Operation| crate::authflow::role(o).is_none();
    let mut findings = Vec::new();
    let creates = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Post && !o.path.ends_with('}'))
        .filter(plain)
        .filter_map(|o| item_read(inv, &o.path).map(|r| (o, r)))
        .take(MAX_OPS);
    for (create, read) in creates {
        match judge_create(ctx, create, &read, &who.name).await {
            Ok(Some(f)) => findings.push(f),
            Ok(None) | Err(ProbeError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let updates = inv
        .operations
        .iter()
        .filter(|o| matches!(o.method, Method::Put | Method::Patch))
        .filter(plain)
        .filter(|o| ctx.probe.method_allowed(o.method))
        .filter_map(|o| {
            let read = item_read(inv, collection_of(&o.path)?).filter(|(r, _)| r.path == o.path)?;
            Some((o, read))
        })
        .take(MAX_OPS);
    for (update, read) in updates {
        match judge_update(ctx, update, &read, &who).await {
            Ok(Some(f)) => findings.push(f),
            Ok(None) | Err(ProbeError::Refused(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(findings)
}

#[cfg(test)]
#[path = "objects_tests.rs"]
mod tests;

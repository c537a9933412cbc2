//! `info.verbose-error`: malformed input makes the API return what its database, driver or
//! runtime said: error texts naming tables and columns, SQLSTATE codes, exception classes,
//! stack traces, or the Werkzeug interactive debugger.
//!
//! Differential: each malformed request is judged against the operation's valid baseline, and a
//! signature counts only when the baseline does not carry it. The debugger is confirmed by
//! fetching one of its static assets, which only a live debugger serves.
//!
//! What is sent, by mode (malformed input changes nothing, but we still keep to the mode):
//! - safe: the path/query/header/cookie parameters of GET operations set to malformed values
//!   (wrong type, int32 overflow, negative, zero, quotes, NUL, over-long). Safe mode sends no
//!   POST/PUT/PATCH/DELETE at all, not even malformed ones.
//! - active: additionally, for POST/PUT/PATCH operations with a JSON body, a body that is not
//!   valid JSON and each body property set to a malformed value, one at a time. A malformed
//!   update is meant to be rejected, but on a lax API it may change the signed-in identity's own
//!   object (a profile): that is why it needs active mode.
//!
//! At most 16 malformed requests per operation, every parameter getting its first value before
//! any gets its second; up to four are in flight together.
//!
//! The quote probe of a parameter is its valid value with a `'` after it (`7'`, `mug'`), the
//! input `injection.sql`'s error stage sends first: it is sent once and its answer serves both
//! checks (`crate::malformed`). Where the valid request sends no value there, a fixed one
//! (`mb-x1'`, `mb x1'"(`) stands in.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::malformed::{quote_breaker, sent_value, Input, Slot};
use crate::probe::{Overrides, ProbeError};
use crate::signatures::{leaked_identifiers, scan, Leak, LeakKind};
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Mode, Operation, Owasp,
    ParamLocation, Remediation, RequestBody, RequestSpec, Schema, SchemaType, Severity, Tech,
    ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct VerboseError;

/// Malformed requests of one operation in flight together.
const LANES: usize = 4;

/// At most this many malformed requests per operation.
const MAX_PROBES_PER_OPERATION: usize = 16;

static META: CheckMeta = CheckMeta {
    id: CheckId::InfoVerboseError,
    title: "Error answers leak database or runtime internals",
    description: "Sends input of the wrong type or shape and looks for database error texts \
        (PostgreSQL, CockroachDB, MySQL, SQLite), SQLSTATE codes, driver exceptions (psycopg, \
        asyncpg, SQLAlchemy), Python tracebacks or a live Werkzeug debugger in the answer that \
        the valid request's answer does not carry.",
    cwe: &[209],
    owasp: &[Owasp::Api8],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Validate input before it reaches the database, answer malformed input with a \
            generic 400/422 body, and log the exception server-side instead of returning it. \
            Exception texts carry table, column and constraint names and sometimes the statement.",
        variants: &[
            (Tech::Flask, "never run with `debug=True` or `FLASK_DEBUG=1` outside a developer's machine; \
                register `@app.errorhandler(Exception)` that logs and returns `{\"error\": \"internal error\"}` \
                with status 500, and use typed route converters (`<int:order_id>`)."),
            (Tech::FastApi, "declare parameter and body types (`order_id: int`, Pydantic models with \
                bounds) so bad input gets a 422, start the app with `debug=False`, and add \
                `@app.exception_handler(Exception)` that logs and returns a generic 500."),
            (Tech::Psycopg, "catch `psycopg.Error` at the boundary and never put `str(exc)` or \
                `exc.diag` into a response."),
            (Tech::Asyncpg, "catch `asyncpg.PostgresError` (and `asyncpg.DataError` raised before the \
                query is sent) at the boundary; do not return its message."),
            (Tech::SqlAlchemy, "catch `sqlalchemy.exc.SQLAlchemyError`; its message embeds the statement \
                (`[SQL: …]`) and parameters."),
            (Tech::CockroachDb, "CockroachDB errors name the failing expression and link its docs; \
                they leak as much as PostgreSQL's, so the same handler applies."),
        ],
    },
};

#[async_trait]
impl Check for VerboseError {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        let mutations = mutations(op, ctx.mode, None);
        let mut plan: Vec<Planned> = mutations
            .iter()
            .map(|_| Planned {
                method: op.method,
                identity: "*",
                purpose: "malformed input",
            })
            .collect();
        if !plan.is_empty() {
            plan.push(Planned {
                method: op.method,
                identity: "*",
                purpose: "valid baseline",
            });
        }
        plan
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

/// One malformed variant of the valid request.
#[derive(Debug, Clone, PartialEq)]
enum Mutation {
    Param(ParamLocation, String, Value),
    BodyField(String, Value),
    /// The valid value in this place with a quote after it, resolved before sending
    /// ([`resolve`]); the value stands in when the valid request sends none there.
    Quoted(Slot, Value),
    InvalidJson,
}

/// A malformed value for a schema: fixed, or the valid value broken by a quote (a fixed value
/// standing in when there is none).
#[derive(Debug, Clone, PartialEq)]
enum Bad {
    Fixed(Value),
    Quoted(Value),
}

/// How many malformed requests the description spells out; the evidence has them all.
const MAX_DESCRIBED: usize = 3;

impl Mutation {
    fn value_text(&self) -> String {
        let text = match self {
            Mutation::Param(_, _, v) | Mutation::BodyField(_, v) | Mutation::Quoted(_, v) => {
                match v {
                    Value::String(s) => s.replace('\0', "\\0"),
                    other => other.to_string(),
                }
            }
            Mutation::InvalidJson => "{\"mb\": [1, ".to_string(),
        };
        if text.len() > 40 {
            format!(
                "{}… ({} chars)",
                text.chars().take(20).collect::<String>(),
                text.len()
            )
        } else {
            text
        }
    }

    /// The value as sent, whole (`value_text` abbreviates long ones for the description).
    fn raw_value(&self) -> String {
        match self {
            Mutation::Param(_, _, Value::String(s))
            | Mutation::BodyField(_, Value::String(s))
            | Mutation::Quoted(_, Value::String(s)) => s.clone(),
            Mutation::Param(_, _, v) | Mutation::BodyField(_, v) | Mutation::Quoted(_, v) => {
                v.to_string()
            }
            Mutation::InvalidJson => "{\"mb\": [1, ".to_string(),
        }
    }

    fn name(&self) -> String {
        match self {
            Mutation::Param(_, name, _)
            | Mutation::BodyField(name, _)
            | Mutation::Quoted(Slot::Param(_, name) | Slot::Body(name), _) => name.clone(),
            Mutation::InvalidJson => "(request body)".to_string(),
        }
    }
}

/// Malformed values for a schema, most telling first: the wrong type, then values at or past
/// the edges a database column has (int32 overflow, negatives, zero), then strings a column or
/// a query parser chokes on (quotes and spaces, NUL, over-long). None of them is crafted to
/// inject anything; they are what a careless client sends. A number with a documented
/// `maximum` below int32's gets the first value past it instead of the overflow, as a string
/// gets `maxLength + 1`: a count the handler loops over (`days`, documented up to 366) would
/// hold the target for minutes at 2^31, and growing such counts under a time ceiling is
/// `availability.slow-input`'s work.
fn bad_values(schema: &Schema, in_body: bool) -> Vec<Bad> {
    let mut out = Vec::new();
    let fixed = |v: Value| Bad::Fixed(v);
    match schema.effective_type() {
        Some(SchemaType::Integer | SchemaType::Number) => {
            out.push(Bad::Quoted(Value::String("mb-x1'".into())));
            let past = schema
                .maximum
                .filter(|m| m.is_finite() && *m < 2_147_483_647.0)
                .map_or(2_147_483_648_i64, |m| m.floor() as i64 + 1);
            out.push(fixed(serde_json::json!(past)));
            out.push(fixed(serde_json::json!(-1)));
            out.push(fixed(serde_json::json!(0)));
        }
        Some(SchemaType::Boolean) => out.push(fixed(Value::String("mb-x1'".into()))),
        Some(SchemaType::String) => {
            let typed = schema.format.as_deref().is_some_and(is_typed_format);
            if typed {
                out.push(Bad::Quoted(Value::String("mb-x1'".into())));
            }
            if in_body {
                out.push(fixed(serde_json::json!({"mb": ["x"]})));
            }
            if schema.enum_values.is_empty() {
                // A typed string already had its quote probe.
                let quote = Value::String("mb x1'\"(".into());
                out.push(if typed {
                    fixed(quote)
                } else {
                    Bad::Quoted(quote)
                });
                out.push(fixed(Value::String("mb\u{0}x1".into())));
                let long = schema
                    .max_length
                    .map(|m| m as usize + 1)
                    .unwrap_or(300)
                    .min(5_000);
                out.push(fixed(Value::String("m".repeat(long.max(1)))));
            }
        }
        Some(SchemaType::Object | SchemaType::Array) if in_body => {
            out.push(fixed(Value::String("mb-x1".into())))
        }
        None if !in_body => out.push(Bad::Quoted(Value::String("mb x1'\"(".into()))),
        _ => {}
    }
    out
}

fn is_typed_format(format: &str) -> bool {
    matches!(
        format,
        "uuid" | "date" | "date-time" | "int32" | "int64" | "ipv4" | "ipv6"
    )
}

fn is_identifier(name: &str) -> bool {
    let words = middlebrick_model::names::name_words(name);
    let n = words.concat();
    words
        .last()
        .is_some_and(|w| middlebrick_model::names::is_id_word(w))
        || n == "createdat"
        || n == "updatedat"
}

/// For an update whose body the spec leaves free-form (`type: object`, no properties), the
/// fields of the resource as the GET on the same path returns it are the best guess at what
/// the update accepts.
fn read_schema_for<'a>(
    op: &Operation,
    inventory: &'a middlebrick_model::Inventory,
) -> Option<&'a Schema> {
    if !matches!(op.method, Method::Put | Method::Patch) {
        return None;
    }
    inventory
        .operations
        .iter()
        .find(|o| o.method == Method::Get && o.path == op.path)
        .and_then(|o| o.success_schema())
        .map(|s| s.as_ref())
        .filter(|s| !s.properties.is_empty())
}

fn has_json_body(op: &Operation) -> Option<&Schema> {
    op.request_body.as_ref().and_then(|b| {
        b.content
            .iter()
            .find(|(media, _)| media.contains("json"))
            .map(|(_, s)| s.as_ref())
    })
}

/// The malformed requests for an operation, interleaved so that every parameter gets its most
/// telling value before any gets a second one, and capped.
fn mutations(op: &Operation, mode: Mode, read_schema: Option<&Schema>) -> Vec<Mutation> {
    let mut per_target: Vec<Vec<Mutation>> = Vec::new();
    if mode == Mode::Passive {
        return Vec::new();
    }
    if op.method == Method::Get {
        for p in &op.parameters {
            per_target.push(
                bad_values(&p.schema, false)
                    .into_iter()
                    .map(|b| match b {
                        Bad::Fixed(v) => Mutation::Param(p.location, p.name.clone(), v),
                        Bad::Quoted(v) => {
                            Mutation::Quoted(Slot::Param(p.location, p.name.clone()), v)
                        }
                    })
                    .collect(),
            );
        }
    }
    let writes = matches!(op.method, Method::Post | Method::Put | Method::Patch);
    if let Some(body) = has_json_body(op).filter(|_| writes && mode >= Mode::Active) {
        per_target.push(vec![Mutation::InvalidJson]);
        let fields = if body.properties.is_empty() {
            read_schema
                .map(|s| &s.properties)
                .unwrap_or(&body.properties)
        } else {
            &body.properties
        };
        for (name, schema) in fields {
            if read_schema.is_some() && body.properties.is_empty() && is_identifier(name) {
                continue;
            }
            if schema.read_only {
                continue;
            }
            per_target.push(
                bad_values(schema, true)
                    .into_iter()
                    .map(|b| match b {
                        Bad::Fixed(v) => Mutation::BodyField(name.clone(), v),
                        Bad::Quoted(v) => Mutation::Quoted(Slot::Body(name.clone()), v),
                    })
                    .collect(),
            );
        }
    }
    let mut out = Vec::new();
    let longest = per_target.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..longest {
        for list in &per_target {
            if let Some(m) = list.get(round) {
                out.push(m.clone());
            }
        }
    }
    out.truncate(MAX_PROBES_PER_OPERATION);
    out
}

/// The identity to send as: a signed-in one when there is any, so requests get past
/// authentication to the code that touches the database.
fn acting_identity(ctx: &RunCtx<'_>) -> String {
    ctx.probe
        .identities()
        .into_iter()
        .find(|i| !i.admin)
        .or_else(|| ctx.probe.identities().into_iter().next())
        .map(|i| i.name)
        .unwrap_or_else(|| ANONYMOUS.to_string())
}

fn leaks_of(ex: &Exchange) -> Vec<Leak> {
    ex.response
        .as_ref()
        .map(|r| scan(&r.body.text))
        .unwrap_or_default()
}

/// The request that carries malformed input `m` (resolved: no [`Mutation::Quoted`] left).
fn malformed_request(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    m: &Mutation,
) -> RequestSpec {
    match m {
        Mutation::Param(loc, name, v) => {
            ctx.probe
                .request(op, identity, &Overrides::param(*loc, name, v.clone()))
        }
        Mutation::BodyField(name, v) => ctx.probe.request(
            op,
            identity,
            &Overrides::body_field(vec![name.clone()], v.clone()),
        ),
        Mutation::InvalidJson => {
            let mut req = ctx.probe.request(op, identity, &Overrides::none());
            req.body = Some(RequestBody::Raw {
                content_type: "application/json".into(),
                body: "{\"mb\": [1, ".into(),
            });
            req
        }
        Mutation::Quoted(..) => unreachable!("resolved before"),
    }
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let muts = mutations(op, ctx.probe.mode(), read_schema_for(op, ctx.inventory));
    if muts.is_empty() {
        return Ok(Outcome::none());
    }
    let identity = acting_identity(ctx);
    let control = ctx.probe.baseline(op, &identity).await?;
    let control_leaks = leaks_of(&control);
    let valid = ctx.probe.request(op, &identity, &Overrides::none());
    // Each malformed request depends on nothing another sends: up to LANES go out together
    // (on a slow read, one after another they set the scan's floor); answers keep their order.
    let sent: Vec<Result<(Mutation, Exchange), ProbeError>> = stream::iter(muts)
        .map(|m| {
            let (m, shared) = resolve(m, op, &valid);
            let req = malformed_request(ctx, op, &identity, &m);
            async move {
                let ex = match shared {
                    Some(input) => ctx.probe.send_input(&input, req).await?,
                    None => ctx.probe.send(req).await?,
                };
                Ok((m, ex))
            }
        })
        .buffered(LANES)
        .collect()
        .await;
    let mut hits: Vec<(Mutation, Exchange, Vec<Leak>)> = Vec::new();
    for result in sent {
        let (m, ex) = result?;
        let new: Vec<Leak> = leaks_of(&ex)
            .into_iter()
            .filter(|l| {
                !control_leaks
                    .iter()
                    .any(|c| c.kind == l.kind && c.source == l.source)
            })
            .collect();
        if !new.is_empty() {
            hits.push((m, ex, new));
        }
    }
    if hits.is_empty() {
        return Ok(Outcome::none());
    }
    let debugger = hits
        .iter()
        .any(|(_, _, l)| l.iter().any(|l| l.kind == LeakKind::Debugger));
    let mut exchanges = vec![control];
    let mut severity = Severity::Medium;
    let mut confidence = Confidence::Firm;
    if debugger {
        if let Some(proof) = confirm_debugger(ctx, op, &identity, &hits).await? {
            exchanges.push(proof);
            severity = Severity::Critical;
            confidence = Confidence::Confirmed;
        } else {
            severity = Severity::High;
        }
    }
    let mut lines = Vec::new();
    let mut idents = Vec::new();
    for (m, ex, leaks) in &hits {
        if let Some(r) = &ex.response {
            // A name inside the malformed value we sent is the API quoting our probe back,
            // not its schema.
            let probe_value = m.raw_value();
            idents.extend(
                leaked_identifiers(&r.body.text)
                    .into_iter()
                    .filter(|n| !probe_value.contains(n.as_str())),
            );
        }
        if lines.len() >= MAX_DESCRIBED {
            continue;
        }
        let what: Vec<String> = leaks
            .iter()
            .take(3)
            .map(|l| {
                format!(
                    "{} ({}): `{}`",
                    l.kind.describe(),
                    l.source.name(),
                    l.excerpt
                )
            })
            .collect();
        lines.push(format!(
            "`{}` = `{}` → HTTP {}: {}",
            m.name(),
            m.value_text(),
            ex.status().unwrap_or(0),
            what.join("; ")
        ));
    }
    if hits.len() > lines.len() {
        lines.push(format!(
            "… and {} more malformed requests with leaks (see the evidence)",
            hits.len() - lines.len()
        ));
    }
    idents.sort();
    idents.dedup();
    let mut description = format!(
        "Malformed input made the API return internals that the valid request's answer does not \
         carry:\n- {}",
        lines.join("\n- ")
    );
    if !idents.is_empty() {
        description.push_str(&format!("\nSchema names revealed: {}.", idents.join(", ")));
    }
    if severity == Severity::Critical {
        description.push_str(
            "\nThe Werkzeug interactive debugger is live: anyone who reaches it can run Python \
             code on the server.",
        );
    }
    exchanges.extend(hits.iter().map(|(_, ex, _)| ex.clone()));
    let evidence = Evidence::new(exchanges)
        .note("first exchange: the valid request (control); then the malformed requests");
    Ok(Outcome::finding(META.finding(
        Some(op),
        "",
        severity,
        confidence,
        description,
        evidence,
    )))
}

/// A quote probe made concrete: the valid request's value in that place with a quote after it,
/// shared with `injection.sql` as an [`Input`]; or the stand-in value, not shared, when the
/// valid request sends nothing there. Other mutations pass through.
fn resolve(m: Mutation, op: &Operation, valid: &RequestSpec) -> (Mutation, Option<Input>) {
    let Mutation::Quoted(slot, stand_in) = m else {
        return (m, None);
    };
    let sent = sent_value(op, valid, &slot);
    let value = sent
        .as_deref()
        .map_or(stand_in, |v| Value::String(quote_breaker(v)));
    let input = sent.map(|_| Input {
        check: META.id,
        operation: op.key(),
        identity: valid.identity.clone(),
        slot: slot.clone(),
        value: value.clone(),
    });
    let m = match slot {
        Slot::Param(loc, name) => Mutation::Param(loc, name, value),
        Slot::Body(name) => Mutation::BodyField(name, value),
    };
    (m, input)
}

/// Asks for the debugger's own script on the same path; only a live debugger serves it.
async fn confirm_debugger(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    hits: &[(Mutation, Exchange, Vec<Leak>)],
) -> Result<Option<Exchange>, ProbeError> {
    let Some((m, _, _)) = hits
        .iter()
        .find(|(_, _, l)| l.iter().any(|l| l.kind == LeakKind::Debugger))
    else {
        return Ok(None);
    };
    let base = match m {
        Mutation::Param(loc, name, v) => {
            ctx.probe
                .request(op, identity, &Overrides::param(*loc, name, v.clone()))
        }
        _ => ctx.probe.request(op, identity, &Overrides::none()),
    };
    let mut req = middlebrick_model::RequestSpec::new(Method::Get, base.path).as_identity(identity);
    req.query = vec![
        ("__debugger__".into(), "yes".into()),
        ("cmd".into(), "resource".into()),
        ("f".into(), "debugger.js".into()),
    ];
    req.operation = Some(op.key());
    let ex = ctx.probe.send(req).await?;
    let served = ex.response.as_ref().is_some_and(|r| {
        r.is_success() && r.body.text.contains("function") && r.body.text.len() > 200
    });
    Ok(served.then_some(ex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Parameter, SpecVersion};
    use std::sync::Arc;

    fn op() -> Operation {
        let mut op = Operation::new(Method::Get, "/products");
        op.parameters.push(Parameter {
            name: "min_price".into(),
            location: ParamLocation::Query,
            required: false,
            schema: Arc::new(Schema::of_type(SchemaType::Number)),
            example: None,
        });
        op.parameters.push(Parameter {
            name: "q".into(),
            location: ParamLocation::Query,
            required: false,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        op
    }

    async fn run(probe: &FakeProbe, op: &Operation) -> Outcome {
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        VerboseError
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: Some(op),
            })
            .await
    }

    fn malformed(r: &middlebrick_model::RequestSpec) -> bool {
        r.query
            .iter()
            .any(|(k, v)| k == "min_price" && (v.starts_with("mb-x1") || v.ends_with('\'')))
    }

    #[test]
    fn free_form_updates_borrow_the_fields_of_the_resource_read() {
        let mut patch = Operation::new(Method::Patch, "/me");
        patch.request_body = Some(middlebrick_model::RequestBodySpec {
            required: true,
            content: [(
                "application/json".to_string(),
                Arc::new(Schema::of_type(SchemaType::Object)),
            )]
            .into_iter()
            .collect(),
        });
        let mut read = Schema::of_type(SchemaType::Object);
        read.properties
            .insert("id".into(), Arc::new(Schema::of_type(SchemaType::Integer)));
        read.properties.insert(
            "email".into(),
            Arc::new(Schema::of_type(SchemaType::String)),
        );
        let mut get = Operation::new(Method::Get, "/me");
        get.responses.push(middlebrick_model::ResponseSpec {
            status: "200".into(),
            media_type: Some("application/json".into()),
            schema: Some(Arc::new(read)),
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi31);
        inv.operations = vec![get, patch.clone()];
        let m = mutations(&patch, Mode::Active, read_schema_for(&patch, &inv));
        assert!(m
            .iter()
            .any(|m| matches!(m, Mutation::BodyField(n, _) if n == "email")));
        assert!(!m
            .iter()
            .any(|m| matches!(m, Mutation::BodyField(n, _) if n == "id")));
    }

    #[test]
    fn every_parameter_gets_its_first_value_before_any_gets_a_second() {
        let m = mutations(&op(), Mode::Safe, None);
        assert!(
            matches!(&m[0], Mutation::Quoted(Slot::Param(_, n), v) if n == "min_price" && v == "mb-x1'")
        );
        assert!(matches!(&m[1], Mutation::Quoted(Slot::Param(_, n), _) if n == "q"));
        assert!(m.len() <= MAX_PROBES_PER_OPERATION);
        let mut choice = Schema::of_type(SchemaType::String);
        choice.enum_values = vec![Value::String("asc".into())];
        assert!(
            bad_values(&choice, false).is_empty(),
            "an enum string has nothing malformed to send in a query"
        );
        assert_eq!(
            bad_values(&Schema::of_type(SchemaType::Integer), false).len(),
            4
        );
    }

    #[test]
    fn a_documented_maximum_is_passed_by_one_not_by_the_int32_overflow() {
        let fixed = |schema: &Schema| -> Vec<Value> {
            bad_values(schema, false)
                .into_iter()
                .filter_map(|b| match b {
                    Bad::Fixed(v) => Some(v),
                    Bad::Quoted(_) => None,
                })
                .collect()
        };
        let free = Schema::of_type(SchemaType::Integer);
        assert!(fixed(&free).contains(&serde_json::json!(2_147_483_648_i64)));
        let mut days = Schema::of_type(SchemaType::Integer);
        days.maximum = Some(366.0);
        assert_eq!(
            fixed(&days),
            [
                serde_json::json!(367),
                serde_json::json!(-1),
                serde_json::json!(0)
            ]
        );
        // A maximum at or past int32's leaves the overflow, which is then past it anyway.
        days.maximum = Some(9_007_199_254_740_991.0);
        assert!(fixed(&days).contains(&serde_json::json!(2_147_483_648_i64)));
    }

    #[tokio::test]
    async fn database_error_on_malformed_input_fires_and_names_the_table() {
        let leak = r#"{"error": "psycopg.errors.InvalidTextRepresentation: invalid input syntax for type numeric: \"mb-x1'\"\nLINE 1: SELECT id, name FROM products WHERE price >= 'mb-x1''", "hint": "relation \"products\""}"#;
        let probe = FakeProbe::new()
            .on(malformed, response(500, "application/json", leak))
            .on(|_| true, response(200, "application/json", r#"[{"id":1}]"#));
        let out = run(&probe, &op()).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert_eq!(f.severity, Severity::Medium);
        assert!(f.description.contains("min_price"));
        assert!(f.description.contains("products"));
        // the control, then malformed values for both parameters
        assert!(probe.sent_count() > 2);
    }

    #[tokio::test]
    async fn our_own_probe_value_is_never_a_revealed_schema_name() {
        // The server quotes the malformed value back as if it were a column: the quote probe
        // `anonymous'` (the valid value with a quote) holds `anonymous`, which the identifier
        // pattern would read as a name; `products` is the API's.
        let mut op = Operation::new(Method::Get, "/products");
        op.parameters.push(Parameter {
            name: "username".into(),
            location: ParamLocation::Query,
            required: false,
            schema: Arc::new(Schema::of_type(SchemaType::String)),
            example: None,
        });
        let probe = FakeProbe::new().on_dynamic(|r| {
            let v = r.query.iter().find(|(k, _)| k == "username")?.1.clone();
            Some(match v.strip_suffix('\'') {
                Some(word) => response(
                    500,
                    "application/json",
                    &format!(
                        r#"{{"error": "psycopg.errors.UndefinedColumn: column \"{word}\" does not exist near '{v}'", "hint": "relation \"products\""}}"#
                    ),
                ),
                None => response(200, "application/json", r#"[{"id":1}]"#),
            })
        });
        let out = run(&probe, &op).await;
        let f = &out.findings[0];
        assert!(
            f.description.contains("Schema names revealed: products."),
            "{}",
            f.description
        );
    }

    #[tokio::test]
    async fn an_over_long_probe_value_echoed_as_a_name_is_not_revealed() {
        let long = |r: &middlebrick_model::RequestSpec| {
            r.query
                .iter()
                .any(|(k, v)| k == "q" && v.len() > 100 && v.chars().all(|c| c == 'm'))
        };
        let echo = format!(
            r#"{{"error": "psycopg.errors.UndefinedColumn: column \"{}\" does not exist", "hint": "relation \"products\""}}"#,
            "m".repeat(300)
        );
        let probe = FakeProbe::new()
            .on(long, response(500, "application/json", &echo))
            .on(|_| true, response(200, "application/json", r#"[{"id":1}]"#));
        let out = run(&probe, &op()).await;
        let f = &out.findings[0];
        assert!(
            f.description.contains("Schema names revealed: products."),
            "{}",
            f.description
        );
    }

    #[tokio::test]
    async fn generic_errors_and_validation_envelopes_are_silent() {
        for body in [
            r#"{"error":"invalid request"}"#,
            r#"{"detail":[{"type":"float_parsing","loc":["query","min_price"],"msg":"Input should be a valid number"}]}"#,
        ] {
            let probe = FakeProbe::new()
                .on(malformed, response(422, "application/json", body))
                .on(|_| true, response(200, "application/json", r#"[{"id":1}]"#));
            assert!(run(&probe, &op()).await.findings.is_empty());
        }
    }

    #[tokio::test]
    async fn a_signature_already_in_the_control_is_not_evidence() {
        let doc = r#"{"faq": "If you see invalid input syntax for type integer, check your id"}"#;
        let probe = FakeProbe::new().on(|_| true, response(200, "application/json", doc));
        assert!(run(&probe, &op()).await.findings.is_empty());
    }

    #[tokio::test]
    async fn live_debugger_confirmed_by_its_asset_is_critical() {
        let page = "<!doctype html><title>DataError // Werkzeug Debugger</title> Traceback (most recent call last)";
        let js = format!("function debuggerInit() {{ {} }}", "x".repeat(300));
        let probe = FakeProbe::new()
            .on(
                |r| r.query.iter().any(|(k, _)| k == "__debugger__"),
                response(200, "text/javascript", &js),
            )
            .on(malformed, response(500, "text/html", page))
            .on(|_| true, response(200, "application/json", "[]"));
        let out = run(&probe, &op()).await;
        assert_eq!(out.findings[0].severity, Severity::Critical);
        assert_eq!(out.findings[0].confidence, Confidence::Confirmed);
    }

    #[test]
    fn safe_mode_never_mutates_write_bodies_field_by_field() {
        let mut post = Operation::new(Method::Post, "/orders");
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties
            .insert("qty".into(), Arc::new(Schema::of_type(SchemaType::Integer)));
        post.request_body = Some(middlebrick_model::RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        assert!(mutations(&post, Mode::Safe, None).is_empty());
        let active = mutations(&post, Mode::Active, None);
        assert_eq!(active[0], Mutation::InvalidJson);
        assert!(
            matches!(&active[1], Mutation::Quoted(Slot::Body(n), v) if n == "qty" && v == "mb-x1'")
        );
        assert!(mutations(&post, Mode::Passive, None).is_empty());
    }

    #[tokio::test]
    async fn the_quote_probe_breaks_the_valid_value_and_falls_back_without_one() {
        let probe = FakeProbe::new().on(|_| true, response(200, "application/json", "[]"));
        run(&probe, &op()).await;
        let sent = probe.sent.lock().unwrap().clone();
        // The fake's valid request sends `1` for every parameter.
        for name in ["min_price", "q"] {
            assert!(
                sent.iter()
                    .any(|r| r.query.iter().any(|(k, v)| k == name && v == "1'")),
                "{name}: {sent:?}"
            );
        }
        let (m, input) = resolve(
            Mutation::Quoted(
                Slot::Param(ParamLocation::Query, "absent".into()),
                Value::String("mb-x1'".into()),
            ),
            &op(),
            &crate::probe::Probe::request(&probe, &op(), ANONYMOUS, &Overrides::none()),
        );
        assert!(matches!(m, Mutation::Param(_, _, Value::String(v)) if v == "mb-x1'"));
        assert!(input.is_none(), "a stand-in value is not shared");
    }

    /// Issue 21: the quote probe is one request for both checks, whichever runs first; the
    /// SQL error stage still reproduces on the wire.
    #[tokio::test]
    async fn the_quote_probe_is_sent_once_for_verbose_errors_and_sql_injection() {
        let parser = r#"{"error": "psycopg.errors.SyntaxError: unterminated quoted string at or near \"'\""}"#;
        let quoted = |r: &RequestSpec| r.query.iter().any(|(k, v)| k == "q" && v == "1'");
        let probe = FakeProbe::new()
            .on(quoted, response(500, "application/json", parser))
            .on(|_| true, response(200, "application/json", r#"[{"id":1}]"#));
        let inv = Inventory::empty(SpecVersion::OpenApi30);
        let op = op();
        let ctx = RunCtx {
            probe: &probe,
            inventory: &inv,
            op: Some(&op),
        };
        let verbose = VerboseError.run(&ctx).await;
        let sql = crate::by_id(CheckId::InjectionSql)
            .expect("registered")
            .run(&ctx)
            .await;
        assert_eq!(verbose.findings.len(), 1);
        assert!(
            sql.findings
                .iter()
                .any(|f| f.parameter.as_deref() == Some("q")),
            "{:?}",
            sql.findings
        );
        let sent = probe.sent.lock().unwrap().clone();
        let times = sent.iter().filter(|r| quoted(r)).count();
        assert_eq!(times, 2, "verbose's probe once, the SQL reproduction once");
    }
}

//! `injection.sql`: a parameter that is pasted into a SQL statement instead of being bound.
//!
//! For each parameter the value the valid request uses (`v`) is the control, sent twice (an
//! answer that changes between two identical requests cannot show a difference; when only the
//! data changed, a third time, as other writers may add to a list meanwhile). Then, in order:
//! 1. Error-based: `v'` and `v"` must make a SQL *parser* speak (`syntax error at or near`,
//!    `unterminated quoted string`; CockroachDB, MySQL and SQLite wordings too) where the
//!    control does not, and again on a second try. Type errors are not evidence: a bound
//!    parameter raises those too.
//! 2. Boolean-based, for reads only: a true and a false condition made of the same characters
//!    (`v AND 7>6` / `v AND 6>7`, quoted, inside a `LIKE` pattern, or after an `ORDER BY`
//!    identifier). The true one must answer like the control, the false one differently, and
//!    both again on a second round (against a fresh control when only the data changed
//!    meanwhile: other writers add to the list searched).
//! 3. Time-based, for reads only and only when 1 and 2 found nothing: one `pg_sleep(2)` probe;
//!    only if it is slow by most of two seconds, three trials of control, 1 s and 2 s, which
//!    must be ordered in every trial and fit a line of slope ~1 (see `sqli::consistent_slope`).
//!
//! What is sent, by mode: safe mode tests the path, query, header and cookie parameters of GET
//! operations. Active mode adds POST/PUT/PATCH parameters and JSON/form body properties, with
//! the error-based payloads only: a broken statement writes nothing, but a true condition in an
//! UPDATE's WHERE could change every row. DELETE operations are never tested.
//!
//! A GraphQL field is tested in its `String`, `ID` and custom-scalar arguments (variables of the
//! document; `Int`, `Float`, `Boolean` refuse text before a resolver runs), a query as a read and
//! a mutation as a write. When the valid value finds nothing (a search for a synthesized word),
//! the boolean stage is tried again from an empty value, which a pasted `LIKE '%…%'` or text
//! comparison turns into rows a true condition keeps and a false one loses.
//!
//! The targets of one operation are tested side by side; within one target, after the control,
//! the error stage, the boolean stage and (when the control finds nothing) the empty-value
//! boolean stage, and within the boolean stage its contexts, and the timing gates: none depends
//! on what another sends, and on a slow read one after another they set the scan's floor. What
//! is proven is judged in order (the first target, the error stage, the first context), as if
//! sent one after another; the empty-value answers count only where the valid value proved
//! nothing.
//!
//! Documented body properties the valid request leaves out (a spec that marks none required)
//! are injected too, up to four. Budget: at most 48 requests per operation for controls, error and boolean probes and timing
//! gates, plus at most one timing series (9 requests, about 10 s) per operation.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::malformed::{find, path_value, text_of, Input, Slot};
use crate::probe::{Overrides, ProbeError};
use crate::signatures::Source;
use crate::similarity::same_data;
use crate::sqli::{
    boolean_pair, breakers, consistent_slope, contexts, parser_error, sleeper, Context, Trial,
    LONG_DELAY, SHORT_DELAY,
};
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Mode, Operation, Owasp,
    ParamLocation, Remediation, RequestBody, RequestSpec, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug)]
pub struct SqlInjection;

const MAX_REQUESTS_PER_OPERATION: usize = 48;
/// Targets (parameters, properties, arguments) of one operation tested side by side.
const LANES: usize = 4;
const TRIALS: usize = 3;
/// Documented body properties the valid request leaves out that are still injected.
const MAX_ABSENT_PROPERTIES: usize = 4;

static META: CheckMeta = CheckMeta {
    id: CheckId::InjectionSql,
    title: "SQL injection",
    description: "Puts read-only SQL fragments into each parameter and reports only with proof: a \
        SQL parser error that the control value does not cause, true and false conditions that \
        answer differently while the true one answers like the control (twice), or pg_sleep \
        delays of two sizes that slow the answer by the requested time in every trial.",
    cwe: &[89],
    owasp: &[Owasp::Api8],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Never build SQL text from input. Pass values as bound parameters of the driver, \
            and map identifiers (sort columns, directions, table names) through a fixed allowlist: \
            placeholders cannot stand for identifiers.",
        variants: &[
            (Tech::Flask, "validate sort and filter arguments against allowlists before the query:\n\
                ```python\nSORTS = {\"name\": \"name\", \"price\": \"price\"}\ncolumn = SORTS.get(request.args.get(\"sort\", \"name\"))\nif column is None:\n    abort(400)\n```"),
            (Tech::FastApi, "type identifiers as `Literal` so FastAPI rejects anything else with a 422:\n\
                ```python\nasync def search(sort: Literal[\"name\", \"price\"] = \"name\", q: str = \"\"):\n    ...\n```"),
            (Tech::Psycopg, "placeholders are `%s` (or `%(name)s`), never f-strings; identifiers go through `psycopg.sql`:\n\
                ```python\nquery = sql.SQL(\"SELECT id, name FROM products WHERE name ILIKE %s ORDER BY {}\").format(sql.Identifier(column))\nrows = conn.execute(query, (f\"%{q}%\",)).fetchall()\n```"),
            (Tech::Asyncpg, "placeholders are `$1`, `$2`, …:\n\
                ```python\nrows = await conn.fetch(\"SELECT id, status FROM orders WHERE user_id = $1 AND status = $2\", user_id, status)\n```"),
            (Tech::SqlAlchemy, "use `text()` with `:name` binds (or Core expressions), never string formatting:\n\
                ```python\nrows = session.execute(text(\"SELECT id FROM products WHERE sku = :sku\"), {\"sku\": sku}).all()\n```"),
            (Tech::CockroachDb, "the same placeholders work over the PostgreSQL wire protocol; \
                CockroachDB also parses `$1` placeholders server-side, so bind even in ad-hoc scripts."),
        ],
    },
};

#[async_trait]
impl Check for SqlInjection {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        let n = declared_targets(op, ctx.mode);
        if n == 0 {
            return Vec::new();
        }
        let purpose = if is_read(op) {
            "SQL fragments (error, boolean, timing)"
        } else {
            "SQL syntax breakers (error only)"
        };
        (0..n.min(8))
            .map(|_| Planned {
                method: op.method,
                identity: "*",
                purpose,
            })
            .collect()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        let sender = Sender {
            ctx,
            left: AtomicUsize::new(MAX_REQUESTS_PER_OPERATION),
        };
        judge(&sender, op).await
    }
}

/// A GET, or a GraphQL query (POSTed, yet a read).
fn is_read(op: &Operation) -> bool {
    op.is_read()
}

fn testable(op: &Operation, mode: Mode) -> bool {
    match mode {
        Mode::Passive => false,
        Mode::Safe => is_read(op),
        Mode::Active | Mode::Disposable => matches!(
            op.method,
            Method::Get | Method::Post | Method::Put | Method::Patch
        ),
    }
}

/// Headers that carry credentials or transport framing, never application input.
fn skipped_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization"
            | "cookie"
            | "content-type"
            | "content-length"
            | "accept"
            | "host"
            | "user-agent"
            | "x-api-key"
    )
}

fn declared_targets(op: &Operation, mode: Mode) -> usize {
    if !testable(op, mode) {
        return 0;
    }
    let params = op
        .parameters
        .iter()
        .filter(|p| !(p.location == ParamLocation::Header && skipped_header(&p.name)))
        .filter(|p| p.schema.effective_type() != Some(SchemaType::Boolean))
        .count();
    if let Some(g) = &op.graphql {
        return g.arguments.iter().filter(|a| carries_text(a)).count();
    }
    let body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .map(|s| s.properties.len())
        .unwrap_or(0);
    params + if is_read(op) { 0 } else { body }
}

/// A GraphQL argument a SQL fragment can travel in: `String`, `ID` or a custom scalar. An
/// `Int`, `Float`, `Boolean` or enum refuses text before any resolver runs.
fn carries_text(a: &middlebrick_model::GraphqlArgument) -> bool {
    let base = a.type_ref.trim_matches(['[', ']', '!']);
    !matches!(base, "Int" | "Float" | "Boolean") && !a.type_ref.starts_with('[')
}

#[derive(Debug, Clone, PartialEq)]
enum Place {
    Param(ParamLocation),
    Body,
    /// An argument of a GraphQL field: a variable of its document.
    Argument,
}

#[derive(Debug, Clone, PartialEq)]
struct Target {
    place: Place,
    name: String,
    value: String,
    numeric: bool,
}

impl Target {
    fn new(place: Place, name: &str, value: String, numeric: bool) -> Target {
        Target {
            place,
            name: name.to_string(),
            value,
            numeric,
        }
    }

    fn label(&self) -> String {
        let where_ = match &self.place {
            Place::Param(ParamLocation::Path) => "path parameter",
            Place::Param(ParamLocation::Query) => "query parameter",
            Place::Param(ParamLocation::Header) => "header",
            Place::Param(ParamLocation::Cookie) => "cookie",
            Place::Body => "body property",
            Place::Argument => "GraphQL argument",
        };
        format!("{where_} `{}`", self.name)
    }
}

/// What to inject into, with the value the valid request uses for each.
fn targets(
    op: &Operation,
    mode: Mode,
    valid: &RequestSpec,
    session_cookies: &[String],
) -> Vec<Target> {
    if !testable(op, mode) {
        return Vec::new();
    }
    if op.graphql.is_some() {
        return graphql_targets(op, valid);
    }
    let mut out = Vec::new();
    for p in &op.parameters {
        let ty = p.schema.effective_type();
        if ty == Some(SchemaType::Boolean)
            || (p.location == ParamLocation::Header && skipped_header(&p.name))
            || (p.location == ParamLocation::Cookie && session_cookies.contains(&p.name))
        {
            continue;
        }
        let sent = match p.location {
            ParamLocation::Path => path_value(&op.path, &valid.path, &p.name),
            ParamLocation::Query => find(&valid.query, &p.name),
            ParamLocation::Header => find(&valid.headers, &p.name),
            ParamLocation::Cookie => find(&valid.cookies, &p.name),
        };
        let numeric = matches!(ty, Some(SchemaType::Integer | SchemaType::Number));
        let value = sent
            .or_else(|| p.example.as_ref().and_then(text_of))
            .or_else(|| p.schema.example.as_ref().and_then(text_of))
            .or_else(|| p.schema.default.as_ref().and_then(text_of))
            .or_else(|| p.schema.enum_values.first().and_then(text_of))
            .unwrap_or_else(|| if numeric { "1".into() } else { "a".into() });
        out.push(Target::new(
            Place::Param(p.location),
            &p.name,
            value,
            numeric,
        ));
    }
    if !is_read(op) {
        if let Some(RequestBody::Json(Value::Object(map))) = &valid.body {
            for (k, v) in map {
                if let Some(value) = text_of(v) {
                    out.push(Target::new(Place::Body, k, value, v.is_number()));
                }
            }
        }
        if let Some(RequestBody::Form(fields)) = &valid.body {
            for (k, v) in fields {
                out.push(Target::new(
                    Place::Body,
                    k,
                    v.clone(),
                    v.parse::<f64>().is_ok(),
                ));
            }
        }
        out.extend(absent_properties(op, valid));
    }
    out
}

/// The text arguments of a GraphQL field, with the variable's value in the valid request
/// (optional ones it leaves out too, as [`absent_properties`] does for a body).
fn graphql_targets(op: &Operation, valid: &RequestSpec) -> Vec<Target> {
    let Some(g) = &op.graphql else {
        return Vec::new();
    };
    let variables = match &valid.body {
        Some(RequestBody::Json(body)) => body.get("variables").cloned(),
        _ => None,
    };
    let mut absent = 0;
    g.arguments
        .iter()
        .filter(|a| carries_text(a))
        .filter_map(|a| {
            let sent = variables
                .as_ref()
                .and_then(|v| v.get(&a.name))
                .and_then(text_of);
            if sent.is_none() {
                absent += 1;
                if absent > MAX_ABSENT_PROPERTIES {
                    return None;
                }
            }
            Some(Target::new(
                Place::Argument,
                &a.name,
                sent.unwrap_or_else(|| "a".into()),
                false,
            ))
        })
        .collect()
}

/// Documented scalar body properties the valid request leaves out (the spec marks none
/// required, so synthesis sends `{}`): a sign-in's username is still read by the handler. At
/// most [`MAX_ABSENT_PROPERTIES`], so a wide schema does not multiply the budget.
fn absent_properties(op: &Operation, valid: &RequestSpec) -> Vec<Target> {
    let present: Vec<&str> = match &valid.body {
        Some(RequestBody::Json(Value::Object(map))) => map.keys().map(String::as_str).collect(),
        Some(RequestBody::Form(fields)) => fields.iter().map(|(k, _)| k.as_str()).collect(),
        _ => return Vec::new(),
    };
    let Some(schema) = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
    else {
        return Vec::new();
    };
    schema
        .properties
        .iter()
        .filter(|(k, _)| !present.contains(&k.as_str()))
        .filter_map(|(k, prop)| {
            let numeric = match prop.effective_type() {
                Some(SchemaType::String) | None => false,
                Some(SchemaType::Integer | SchemaType::Number) => true,
                _ => return None,
            };
            let value = prop
                .example
                .as_ref()
                .and_then(text_of)
                .or_else(|| prop.default.as_ref().and_then(text_of))
                .unwrap_or_else(|| if numeric { "1".into() } else { "a".into() });
            Some(Target::new(Place::Body, k, value, numeric))
        })
        .take(MAX_ABSENT_PROPERTIES)
        .collect()
}

/// Sends on the check's behalf and keeps the operation's request budget, shared by the
/// targets tested side by side.
struct Sender<'a, 'b> {
    ctx: &'a RunCtx<'b>,
    left: AtomicUsize,
}

impl Sender<'_, '_> {
    /// Takes one request from the budget; false when it is spent.
    fn take_budget(&self) -> bool {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    async fn with(
        &self,
        op: &Operation,
        identity: &str,
        t: &Target,
        value: &str,
    ) -> Result<Option<Exchange>, ProbeError> {
        if !self.take_budget() {
            return Ok(None);
        }
        self.send_unbudgeted(op, identity, t, value, Via::Send)
            .await
            .map(Some)
    }

    /// [`Sender::with`] for an input other checks send too (the first syntax breaker, also
    /// `info.verbose-error`'s quote probe): the answer is shared by input
    /// ([`crate::malformed`]). A GraphQL argument is no parameter another check breaks.
    async fn shared(
        &self,
        op: &Operation,
        identity: &str,
        t: &Target,
        value: &str,
    ) -> Result<Option<Exchange>, ProbeError> {
        let slot = match &t.place {
            Place::Param(loc) => Slot::Param(*loc, t.name.clone()),
            Place::Body => Slot::Body(t.name.clone()),
            Place::Argument => return self.with(op, identity, t, value).await,
        };
        if !self.take_budget() {
            return Ok(None);
        }
        let input = Input {
            check: META.id,
            operation: op.key(),
            identity: identity.to_string(),
            slot,
            value: Value::String(value.to_string()),
        };
        self.send_unbudgeted(op, identity, t, value, Via::Input(input))
            .await
            .map(Some)
    }

    async fn send_unbudgeted(
        &self,
        op: &Operation,
        identity: &str,
        t: &Target,
        value: &str,
        via: Via,
    ) -> Result<Exchange, ProbeError> {
        let v = Value::String(value.to_string());
        let req = match &t.place {
            Place::Param(loc) => {
                self.ctx
                    .probe
                    .request(op, identity, &Overrides::param(*loc, &t.name, v))
            }
            // Synthesis puts a GraphQL argument's body property among the variables.
            Place::Argument => self.ctx.probe.request(
                op,
                identity,
                &Overrides::body_field(vec![t.name.clone()], v),
            ),
            Place::Body => {
                let mut req = self.ctx.probe.request(op, identity, &Overrides::none());
                match req.body.as_mut() {
                    Some(RequestBody::Json(Value::Object(map))) => {
                        map.insert(t.name.clone(), v);
                    }
                    Some(RequestBody::Form(fields)) => {
                        match fields.iter_mut().find(|(k, _)| *k == t.name) {
                            Some((_, val)) => *val = value.to_string(),
                            None => fields.push((t.name.clone(), value.to_string())),
                        }
                    }
                    _ => {}
                }
                req
            }
        };
        match via {
            Via::Send => self.ctx.probe.send(req).await,
            Via::Input(input) => self.ctx.probe.send_input(&input, req).await,
        }
    }
}

/// How a request of the check is sent.
enum Via {
    Send,
    /// Shared with other checks by input.
    Input(Input),
}

/// Two answers are alike when they have the same status and the same data.
fn alike(a: &Exchange, b: &Exchange) -> bool {
    match (&a.response, &b.response) {
        (Some(x), Some(y)) => {
            x.status == y.status && (x.body.text == y.body.text || same_data(x, y))
        }
        _ => false,
    }
}

/// An answer that says nothing about the statement: no answer, throttling, a gateway error.
fn inconclusive(ex: &Exchange) -> bool {
    !matches!(ex.status(), Some(s) if !matches!(s, 429 | 502 | 503 | 504))
}

fn body(ex: &Exchange) -> &str {
    ex.response
        .as_ref()
        .map(|r| r.body.text.as_str())
        .unwrap_or("")
}

#[derive(Debug)]
struct ErrorProof {
    payload: String,
    source: Source,
    excerpt: String,
    exchange: Exchange,
}

#[derive(Debug)]
struct BooleanProof {
    context: Context,
    truth: String,
    falsity: String,
    exchanges: [Exchange; 2],
}

#[derive(Debug)]
struct TimeProof {
    context: Context,
    slope: f64,
    trials: Vec<Trial>,
    exchanges: Vec<Exchange>,
}

fn acting_identity(ctx: &RunCtx<'_>) -> (String, Vec<String>) {
    let ids = ctx.probe.identities();
    let chosen = ids.iter().find(|i| !i.admin).or_else(|| ids.first());
    match chosen {
        Some(i) => (i.name.clone(), i.session_cookies.clone()),
        None => (ANONYMOUS.to_string(), Vec::new()),
    }
}

/// Each target's stages in turn, up to [`LANES`] targets side by side: what one target sends
/// depends on nothing another sends, and on a slow read one after another they set the scan's
/// floor. Findings keep the targets' order. A stop (the scan's deadline, a cancel) ends the
/// check with what was proven before it.
async fn judge(s: &Sender<'_, '_>, op: &Operation) -> Outcome {
    let mode = s.ctx.probe.mode();
    if !testable(op, mode) {
        return Outcome::none();
    }
    let (identity, cookies) = acting_identity(s.ctx);
    let valid = s.ctx.probe.request(op, &identity, &Overrides::none());
    let timed = AtomicBool::new(false);
    let results: Vec<_> = stream::iter(targets(op, mode, &valid, &cookies))
        .map(|t| judge_target(s, op, &identity, t, &timed))
        .buffered(LANES)
        .collect()
        .await;
    let findings = results
        .into_iter()
        .map_while(Result::ok)
        .flatten()
        .collect();
    Outcome {
        findings,
        diagnostics: Vec::new(),
    }
}

/// One target's stages: error-based; for a read, beside it, boolean-based (from an empty value
/// too when the valid one finds nothing), then timing when neither proved anything and no
/// timing series has proven another target of the operation already (`timed`).
async fn judge_target(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    mut t: Target,
    timed: &AtomicBool,
) -> Result<Option<middlebrick_model::Finding>, ProbeError> {
    if !is_read(op) {
        // Writes get no control: a valid write would create or change data.
        let error = error_based(s, op, identity, &t, None).await?;
        return Ok(error.map(|e| report(op, &t, None, Some(e), None, None)));
    }
    let Some(c1) = s.with(op, identity, &t, &t.value).await? else {
        return Ok(None);
    };
    // After the control, chains that depend on nothing one another sends go out together:
    // the error stage, the boolean stage and, when the control finds nothing, the boolean
    // stage from an empty value, whose answers count only if the first finds nothing.
    let speculate = found_nothing(&c1) && !t.numeric;
    let (error, stages, early_empty) = futures::join!(
        error_based(s, op, identity, &t, Some(&c1)),
        boolean_stage(s, op, identity, &t, &c1),
        async {
            match speculate {
                true => with_empty_value(s, op, identity, &t).await.map(Some),
                false => Ok(None),
            }
        },
    );
    let (error, early_empty) = (error?, early_empty?);
    let mut control = Some(c1);
    let mut boolean = None;
    let mut time = None;
    if let Some((c1, c2, stable, proof)) = stages? {
        boolean = proof;
        if stable && boolean.is_none() && found_nothing(&c2) && !t.numeric {
            let empty = match early_empty {
                Some(empty) => empty,
                None => with_empty_value(s, op, identity, &t).await?,
            };
            if let Some((proof, empty)) = empty {
                // The report names the control the proof was measured against.
                boolean = Some(proof);
                control = Some(empty);
                t.value = String::new();
            }
        }
        if error.is_none() && boolean.is_none() && !timed.load(Ordering::Relaxed) {
            time = time_based(s, op, identity, &t, &c1, &c2).await?;
            if time.is_some() {
                timed.store(true, Ordering::Relaxed);
            }
        }
    }
    if error.is_some() || boolean.is_some() || time.is_some() {
        return Ok(Some(report(op, &t, control, error, boolean, time)));
    }
    Ok(None)
}

/// The control again ([`control_pair`]), then, when the two answers agree and succeed, the
/// boolean stage against the second: the pair, whether it was stable, and the proof. `None`
/// when the budget ran out before the pair.
async fn boolean_stage(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    c1: &Exchange,
) -> Result<Option<(Exchange, Exchange, bool, Option<BooleanProof>)>, ProbeError> {
    let Some((c1, c2)) = control_pair(s, op, identity, t, c1).await? else {
        return Ok(None);
    };
    let stable = alike(&c1, &c2) && c1.response.as_ref().is_some_and(|r| r.is_success());
    let proof = match stable {
        true => boolean_based(s, op, identity, t, &c2).await?,
        false => None,
    };
    Ok(Some((c1, c2, stable, proof)))
}

/// A successful answer without data (`[]`, `{}`, `null`): a true condition cannot be told
/// from a false one there.
fn found_nothing(ex: &Exchange) -> bool {
    ex.response.as_ref().is_some_and(|r| {
        r.is_success()
            && r.json().is_some_and(|v| {
                let inner = middlebrick_model::envelope::unwrap_envelope(&v);
                inner.is_null()
                    || inner.as_array().is_some_and(Vec::is_empty)
                    || inner.as_object().is_some_and(|m| m.is_empty())
            })
    })
}

/// The boolean stage again with an empty value, when the valid value finds nothing (a search
/// for a synthesized word): pasted into a `LIKE '%…%'` or compared as text, the empty value
/// selects rows, so a true condition keeps them and a false one loses them. Bound, the same
/// conditions are words nothing contains.
async fn with_empty_value(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
) -> Result<Option<(BooleanProof, Exchange)>, ProbeError> {
    let empty = Target {
        value: String::new(),
        ..t.clone()
    };
    let Some(c1) = s.with(op, identity, &empty, "").await? else {
        return Ok(None);
    };
    let Some((c1, c2)) = control_pair(s, op, identity, &empty, &c1).await? else {
        return Ok(None);
    };
    if !alike(&c1, &c2) || found_nothing(&c2) || !c2.is_success() {
        return Ok(None);
    }
    Ok(boolean_based(s, op, identity, &empty, &c2)
        .await?
        .map(|proof| (proof, c2)))
}

/// The control sent again after `c1`, to see that the answer is stable. When the two differ
/// in data only (same status), a third is taken and the last two compared: other writers may
/// have added to the list in between. An answer that changes by itself stays unstable.
async fn control_pair(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    c1: &Exchange,
) -> Result<Option<(Exchange, Exchange)>, ProbeError> {
    let Some(c2) = s.with(op, identity, t, &t.value).await? else {
        return Ok(None);
    };
    if alike(c1, &c2) || c1.status() != c2.status() {
        return Ok(Some((c1.clone(), c2)));
    }
    Ok(s.with(op, identity, t, &t.value).await?.map(|c3| (c2, c3)))
}

async fn error_based(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    control: Option<&Exchange>,
) -> Result<Option<ErrorProof>, ProbeError> {
    if control.is_some_and(|c| parser_error(body(c)).is_some()) {
        return Ok(None);
    }
    for (i, payload) in breakers(&t.value).into_iter().enumerate() {
        let first = if i == 0 {
            s.shared(op, identity, t, &payload).await?
        } else {
            s.with(op, identity, t, &payload).await?
        };
        let Some(first) = first else {
            return Ok(None);
        };
        let Some((source, _)) = parser_error(body(&first)) else {
            continue;
        };
        let Some(again) = s.with(op, identity, t, &payload).await? else {
            return Ok(None);
        };
        if let Some((source2, excerpt)) = parser_error(body(&again)) {
            if source2 == source {
                return Ok(Some(ErrorProof {
                    payload,
                    source,
                    excerpt,
                    exchange: again,
                }));
            }
        }
    }
    Ok(None)
}

/// The boolean stage: each context ([`contexts`]) is tried side by side (a context's pair
/// depends on nothing another sends), and the first context in order that proves it wins.
async fn boolean_based(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    control: &Exchange,
) -> Result<Option<BooleanProof>, ProbeError> {
    let tried: Vec<_> = stream::iter(contexts(&t.value, t.numeric))
        .map(|context| boolean_in(s, op, identity, t, control, context))
        .buffered(LANES)
        .collect()
        .await;
    for proof in tried {
        if let Some(proof) = proof? {
            return Ok(Some(proof));
        }
    }
    Ok(None)
}

/// Two rounds of one context's true and false conditions: the true one answers like the
/// control, the false one differently, the same way both times.
async fn boolean_in(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    control: &Exchange,
    context: Context,
) -> Result<Option<BooleanProof>, ProbeError> {
    let (truth, falsity) = boolean_pair(&t.value, context);
    let mut last: Option<[Exchange; 2]> = None;
    let mut control = control.clone();
    for _round in 0..2 {
        let Some(tx) = s.with(op, identity, t, &truth).await? else {
            return Ok(None);
        };
        match answers_like_control(s, op, identity, t, &tx, &mut control).await? {
            Some(true) => {}
            Some(false) | None => return Ok(None),
        }
        let Some(fx) = s.with(op, identity, t, &falsity).await? else {
            return Ok(None);
        };
        if inconclusive(&fx) || alike(&fx, &tx) {
            return Ok(None);
        }
        if let Some([_, prev_f]) = &last {
            if prev_f.status() != fx.status() {
                return Ok(None);
            }
        }
        last = Some([tx, fx]);
    }
    Ok(last.map(|exchanges| BooleanProof {
        context,
        truth,
        falsity,
        exchanges,
    }))
}

/// Whether the true condition's answer `tx` is the control's. When only the data differs
/// (same status), the control is taken again and compared instead: other writers (the scan's
/// own creations in the list searched among them) may have changed the data since it was
/// taken. A bound parameter's true condition still differs from the fresh control, so this
/// costs one request where the status matches and adds no way to pass. `None`: out of budget.
async fn answers_like_control(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    tx: &Exchange,
    control: &mut Exchange,
) -> Result<Option<bool>, ProbeError> {
    if alike(tx, control) {
        return Ok(Some(true));
    }
    if tx.status() != control.status() {
        return Ok(Some(false));
    }
    let Some(fresh) = s.with(op, identity, t, &t.value).await? else {
        return Ok(None);
    };
    let same = alike(tx, &fresh);
    if same {
        *control = fresh;
    }
    Ok(Some(same))
}

async fn time_based(
    s: &Sender<'_, '_>,
    op: &Operation,
    identity: &str,
    t: &Target,
    c1: &Exchange,
    c2: &Exchange,
) -> Result<Option<TimeProof>, ProbeError> {
    let base = c1.elapsed_ms.max(c2.elapsed_ms);
    // The gates of every context go out together; the series follows the first that opened.
    let contexts = contexts(&t.value, t.numeric);
    let gates: Vec<_> = stream::iter(contexts.iter().copied())
        .map(|context| async move {
            let slow = sleeper(&t.value, context, LONG_DELAY);
            s.with(op, identity, t, &slow).await
        })
        .buffered(LANES)
        .collect()
        .await;
    for (context, gate) in contexts.into_iter().zip(gates) {
        let Some(gate) = gate? else {
            return Ok(None);
        };
        if inconclusive(&gate) || gate.elapsed_ms < base + LONG_DELAY as u64 * 800 {
            continue;
        }
        // The series is outside the per-parameter budget: at most one per operation.
        let mut trials = Vec::new();
        let mut exchanges = Vec::new();
        for _ in 0..TRIALS {
            let c = s
                .send_unbudgeted(op, identity, t, &t.value, Via::Send)
                .await?;
            let short = s
                .send_unbudgeted(
                    op,
                    identity,
                    t,
                    &sleeper(&t.value, context, SHORT_DELAY),
                    Via::Send,
                )
                .await?;
            let long = s
                .send_unbudgeted(
                    op,
                    identity,
                    t,
                    &sleeper(&t.value, context, LONG_DELAY),
                    Via::Send,
                )
                .await?;
            trials.push(Trial {
                control: c.elapsed_ms,
                short: short.elapsed_ms,
                long: long.elapsed_ms,
            });
            if exchanges.is_empty() {
                exchanges = vec![c, short, long];
            }
        }
        return Ok(consistent_slope(&trials).map(|slope| TimeProof {
            context,
            slope,
            trials,
            exchanges,
        }));
    }
    Ok(None)
}

fn report(
    op: &Operation,
    t: &Target,
    control: Option<Exchange>,
    error: Option<ErrorProof>,
    boolean: Option<BooleanProof>,
    time: Option<TimeProof>,
) -> middlebrick_model::Finding {
    let mut lines = Vec::new();
    let mut exchanges = Vec::new();
    match control {
        Some(c) => {
            lines.push(format!(
                "control: `{}` = `{}` → HTTP {}",
                t.name,
                t.value,
                c.status().unwrap_or(0)
            ));
            exchanges.push(c);
        }
        None => lines.push(format!(
            "no control was sent: `{}` is part of a write, and a valid write would change data",
            t.name
        )),
    }
    if let Some(e) = &error {
        lines.push(format!(
            "error-based: `{}` → HTTP {}, {} parser error: `{}` (the control has none; reproduced)",
            e.payload,
            e.exchange.status().unwrap_or(0),
            e.source.name(),
            e.excerpt
        ));
        exchanges.push(e.exchange.clone());
    }
    if let Some(b) = &boolean {
        let [tx, fx] = &b.exchanges;
        lines.push(format!(
            "boolean-based ({}): true `{}` → HTTP {} like the control; false `{}` → HTTP {} with \
             different data; two rounds",
            b.context.describe(),
            b.truth,
            tx.status().unwrap_or(0),
            b.falsity,
            fx.status().unwrap_or(0)
        ));
        exchanges.extend(b.exchanges.iter().cloned());
    }
    if let Some(tp) = &time {
        let series: Vec<String> = tp
            .trials
            .iter()
            .map(|x| format!("{}/{}/{} ms", x.control, x.short, x.long))
            .collect();
        lines.push(format!(
            "time-based ({}): control / pg_sleep({SHORT_DELAY}) / pg_sleep({LONG_DELAY}) answered in {}; \
             slope {:.2} s per requested second",
            tp.context.describe(),
            series.join(", "),
            tp.slope
        ));
        exchanges.extend(tp.exchanges.iter().cloned());
    }
    let confidence = if boolean.is_some() {
        Confidence::Confirmed
    } else {
        Confidence::Firm
    };
    let description = format!(
        "The {} is pasted into a SQL statement: the database interprets it.\n- {}",
        t.label(),
        lines.join("\n- ")
    );
    let evidence = Evidence::new(exchanges)
        .note("first exchange: the control value; then the payloads that made the difference");
    META.finding(
        Some(op),
        &t.name,
        Severity::High,
        confidence,
        description,
        evidence,
    )
}

#[cfg(test)]
#[path = "sql_injection_tests.rs"]
mod tests;

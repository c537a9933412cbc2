//! `availability.slow-input`: an input makes one request slow, and slower the larger it grows
//! (a regular expression that backtracks catastrophically, a loop bounded only by a number the
//! caller chooses). The target keeps answering; each such request just costs more.
//!
//! Candidates (at most [`MAX_CANDIDATES`] per scan, the most telling first): string query
//! parameters and top-level JSON body properties that are matched or searched on the server
//! (a `pattern` or `format: email` in the schema, or names such as `q`, `search`, `filter`,
//! `regex`, `email`, `name`), and integer ones whose cost may grow with the value (`days`,
//! `count`, `depth`, `iterations`, …; page sizes belong to `availability.uncapped-page-size`).
//! Operations other than GET are tried only in active mode, and after every GET.
//!
//! A growing series with early stop, as one identity:
//! - strings: a run of one word character followed by a character that makes a match fail
//!   (`aaaa…a!`), at lengths growing by [`STRING_STEP`] from [`STRING_START`], since
//!   backtracking grows exponentially with the run; the control has the same length and
//!   characters but no run (`a!a!…`), which every pattern rejects or accepts at once;
//! - integers: values ×10 per step from 1; the control is the first value.
//!
//! Each step is sent once while the series climbs. The climb stops at the first answer slower
//! than [`CEILING_MS`], before a step whose predicted time (last time × last growth, at least
//! ×2 for strings and ×10 for integers, and measured from no less than [`NOISE_FLOOR_MS`]) would
//! pass the ceiling, once an answer takes [`ENOUGH_MS`], at any error or 5xx, or when the series
//! ends. An answer that reaches [`ENOUGH_MS`] by a jump of more than twice the expected growth
//! over the step before is timed once more, and the climb goes on when the second answer is
//! fast (one stalled answer must not end a series). Only a climb whose last answer took [`PROOF_FLOOR_MS`] is proven: its last three steps
//! are sent once more (each timing is the smaller of two) and the control twice at each of
//! them. It is a finding when the payload times rise at every step by at least [`MIN_GROWTH`],
//! the last is at least [`PROOF_FLOOR_MS`] and [`MIN_RATIO`] times the control's slowest, and
//! the control stays
//! flat (its slowest at most twice its fastest plus [`FLAT_SLACK_MS`]). One slow answer alone
//! is never a finding. The description gives the series and the slope (growth per step and per
//! character for strings, milliseconds per unit for integers).
//!
//! Every request of a series is sent alone ([`crate::probe::Probe::send_timed`]): nothing else
//! of the scan is in flight while it is timed, so the scan's own load cannot make a step slow.
//!
//! Budget per candidate: at most [`STRING_LENGTHS`] or [`NUMBER_VALUES`] climbing requests,
//! plus 9 to prove and one per confirmed jump.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, Scope};
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::names::normalize_name;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Method, Mode, Operation, Owasp,
    ParamLocation, Remediation, Schema, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct SlowInput;

/// Candidates tried per scan.
pub const MAX_CANDIDATES: usize = 6;
/// The first string length of the series, and its step.
const STRING_START: usize = 14;
const STRING_STEP: usize = 2;
/// Steps of the string series (lengths 14 to 36).
const STRING_LENGTHS: usize = 12;
/// Steps of the integer series (1 to 10^7).
const NUMBER_VALUES: u32 = 8;
/// No request of the series is sent when it is predicted slower than this, and the climb
/// stops at the first answer slower than this (well under the transport's stall threshold).
const CEILING_MS: u64 = 1_500;
/// A payload answer this slow ends the climb.
const ENOUGH_MS: u64 = 250;
/// The last payload time of a climb must reach this to be proven (a climb may stop short of
/// [`ENOUGH_MS`] when its next step is predicted over the ceiling).
const PROOF_FLOOR_MS: u64 = 100;
/// The least factor by which each of the last three payload times must exceed the one before.
const MIN_GROWTH: f64 = 1.3;
/// The least factor between the last payload time and the slowest control time.
const MIN_RATIO: f64 = 4.0;
/// Below this, an answer's time is mostly the round trip and says little about growth.
const NOISE_FLOOR_MS: u64 = 20;
/// Noise the control may show on top of doubling.
const FLAT_SLACK_MS: u64 = 30;

/// Names of strings that are matched or searched on the server, normalised.
const STRING_NAMES: &[&str] = &[
    "q", "query", "search", "filter", "pattern", "regex", "regexp", "match", "email", "mail",
    "name", "term", "keyword", "keywords", "text", "code", "coupon",
];
/// Words in names of integers whose cost may grow with the value, normalised.
const NUMBER_WORDS: &[&str] = &[
    "days",
    "depth",
    "iterations",
    "rounds",
    "range",
    "length",
    "repeat",
    "repeats",
    "times",
    "steps",
    "n",
    "count",
    "levels",
    "weeks",
    "months",
    "years",
    "hours",
    "span",
];
/// Page-size names: `availability.uncapped-page-size` owns them.
const PAGE_NAMES: &[&str] = &[
    "limit",
    "perpage",
    "pagesize",
    "size",
    "maxresults",
    "maxitems",
    "pagelimit",
    "take",
    "top",
    "first",
    "rows",
    "numresults",
    "page",
    "offset",
];

static META: CheckMeta = CheckMeta {
    id: CheckId::AvailabilitySlowInput,
    title: "An input makes a request slower the larger it grows",
    description: "For at most six string or integer inputs that the server matches, searches \
        or loops over, sends a growing series (strings: a run of one letter then a character \
        that fails the match, 14 to 36 characters by 2; integers: ×10 per step), stopping at \
        the first answer over 1.5 s or predicted to be, or at 250 ms. When the last answer took \
        100 ms or more, the last three steps are timed again against a control of the same size (no run, or the \
        smallest value). Fires when the times grow at every step while the control stays \
        flat; reports the series and its slope.",
    cwe: &[1333, 400],
    owasp: &[Owasp::Api4],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Bound the work one input can cause: cap string lengths before any regular \
            expression sees them, write patterns without nested or overlapping quantifiers (or \
            use a linear-time engine such as RE2), and give every numeric range, count or \
            depth a documented maximum enforced on the server (answer 400/422 above it).",
        variants: &[
            (
                Tech::Flask,
                "check `len(value)` before matching and rewrite patterns such as \
                `^([a-z0-9]+)+@` as `^[a-z0-9]+@` (or use the `re2`/`regex` module with a \
                timeout); bound numbers when reading them: `days = request.args.get(\"days\", \
                7, type=int)`, then refuse anything above the maximum with 400.",
            ),
            (
                Tech::FastApi,
                "declare bounds so FastAPI refuses before your code runs: `Query(max_length=254, \
                pattern=...)` with a linear pattern (pydantic-core's engine is linear-time, \
                Python's `re` is not), and `days: Annotated[int, Query(ge=1, le=366)]`.",
            ),
        ],
    },
};

/// What grows in a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
}

/// An input of an operation to grow.
#[derive(Debug, Clone)]
struct Candidate<'a> {
    op: &'a Operation,
    name: String,
    location: Option<ParamLocation>,
    kind: Kind,
    /// Lower ranks are tried first.
    rank: u8,
}

#[async_trait]
impl Check for SlowInput {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if inputs(op, ctx.mode).is_empty() {
            return Vec::new();
        }
        vec![Planned {
            method: op.method,
            identity: "*",
            purpose: "a growing input timed against a control of the same size",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut candidates: Vec<Candidate> = ctx
            .inventory
            .operations
            .iter()
            .filter(|op| ctx.probe.method_allowed(op.method))
            .flat_map(|op| inputs(op, ctx.probe.mode()))
            .collect();
        // Reads first (no side effects, and where search and validation endpoints live), then
        // the most telling inputs.
        candidates.sort_by_key(|c| (c.op.method != Method::Get, c.rank));
        candidates.truncate(MAX_CANDIDATES);
        let mut out = Outcome::none();
        for c in candidates {
            match try_candidate(ctx, &c).await {
                Ok(Some(f)) => out.findings.push(f),
                Ok(None) => {}
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => {}
            }
        }
        out
    }
}

/// The inputs of `op` worth growing, ranked (a declared pattern or e-mail format first).
fn inputs(op: &Operation, mode: Mode) -> Vec<Candidate<'_>> {
    if op.method != Method::Get && mode < Mode::Active {
        return Vec::new();
    }
    let mut found = Vec::new();
    for p in op.params_in(ParamLocation::Query) {
        if let Some((kind, rank)) = classify(&p.name, &p.schema) {
            found.push(Candidate {
                op,
                name: p.name.clone(),
                location: Some(ParamLocation::Query),
                kind,
                rank,
            });
        }
    }
    if let Some(body) = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.get("application/json"))
    {
        for (name, schema) in &body.properties {
            if let Some((kind, rank)) = classify(name, schema) {
                found.push(Candidate {
                    op,
                    name: name.clone(),
                    location: None,
                    kind,
                    rank,
                });
            }
        }
    }
    found
}

/// Whether an input is a candidate, what kind and how telling (lower is better).
fn classify(name: &str, schema: &Schema) -> Option<(Kind, u8)> {
    let n = normalize_name(name);
    if !schema.enum_values.is_empty() {
        return None;
    }
    match schema.ty {
        Some(SchemaType::String) | None => {
            // A short declared maximum is refused before any matching.
            if schema
                .max_length
                .is_some_and(|m| m < (STRING_START + 8) as u64)
            {
                return None;
            }
            let fmt = schema.format.as_deref().unwrap_or("");
            if !matches!(fmt, "" | "email" | "idn-email") {
                return None;
            }
            if schema.pattern.is_some() || fmt.ends_with("email") {
                Some((Kind::Text, 0))
            } else if STRING_NAMES.contains(&n.as_str()) {
                Some((Kind::Text, if n == "name" { 2 } else { 1 }))
            } else {
                None
            }
        }
        Some(SchemaType::Integer) => {
            let words = middlebrick_model::names::name_words(name);
            let named = NUMBER_WORDS.contains(&n.as_str())
                || words
                    .iter()
                    .any(|w| NUMBER_WORDS.contains(&w.as_str()) && w != "n");
            (named && !PAGE_NAMES.contains(&n.as_str())).then_some((Kind::Number, 1))
        }
        _ => None,
    }
}

/// The string at `step`: the payload (a run, then a failing character) or the control (the
/// same characters, no run).
fn text(len: usize, payload: bool) -> String {
    if payload {
        format!("{}!", "a".repeat(len - 1))
    } else {
        "a!".repeat(len / 2) + if len % 2 == 1 { "a" } else { "" }
    }
}

fn size_at(kind: Kind, step: usize) -> u64 {
    match kind {
        Kind::Text => (STRING_START + STRING_STEP * step) as u64,
        Kind::Number => 10u64.pow(step as u32),
    }
}

fn value(kind: Kind, size: u64, payload: bool) -> Value {
    match kind {
        Kind::Text => json!(text(size as usize, payload)),
        Kind::Number if payload => json!(size),
        Kind::Number => json!(1),
    }
}

/// One timed answer; `None` when it is no evidence of processing (no answer, or a 5xx).
async fn timed(
    ctx: &RunCtx<'_>,
    c: &Candidate<'_>,
    who: &str,
    v: Value,
) -> Result<Option<Exchange>, ProbeError> {
    let o = match c.location {
        Some(loc) => Overrides::param(loc, &c.name, v),
        None => Overrides::body_field(vec![c.name.clone()], v),
    };
    // Timed: alone on the wire, never a kept answer.
    let ex = ctx
        .probe
        .send_timed(ctx.probe.request(c.op, who, &o))
        .await?;
    let processed = ex.status().is_some_and(|s| s < 500);
    Ok(processed.then_some(ex))
}

/// The identity to send as: the first whose valid request is not refused as unauthenticated.
async fn sender(ctx: &RunCtx<'_>, op: &Operation) -> Result<Option<String>, ProbeError> {
    let mut who: Vec<String> = ctx.probe.identities().into_iter().map(|i| i.name).collect();
    who.push(ANONYMOUS.to_string());
    for name in who {
        let ex = ctx.probe.baseline(op, &name).await?;
        if ex.status().is_some_and(|s| s < 500 && s != 401 && s != 403) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// One point of a series: the size and the smaller of its timings.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    size: u64,
    ms: u64,
}

async fn try_candidate(
    ctx: &RunCtx<'_>,
    c: &Candidate<'_>,
) -> Result<Option<middlebrick_model::Finding>, ProbeError> {
    let Some(who) = sender(ctx, c.op).await? else {
        return Ok(None);
    };
    let steps = match c.kind {
        Kind::Text => STRING_LENGTHS,
        Kind::Number => NUMBER_VALUES as usize,
    };
    // The climb: one request per step.
    let mut climb: Vec<(Point, Exchange)> = Vec::new();
    for step in 0..steps {
        if let [.., (a, _), (b, _)] = climb.as_slice() {
            // Noise at small times hides growth, so never predict less than the series' own
            // step: ×10 in the value is ×10 in time for a linear loop.
            let least = match c.kind {
                Kind::Text => 2.0,
                Kind::Number => 10.0,
            };
            // Times under the noise floor are mostly the round trip: a growth measured from
            // one of them says nothing about the next step.
            let growth = b.ms.max(1) as f64 / a.ms.max(NOISE_FLOOR_MS) as f64;
            if b.ms as f64 * growth.max(least) > CEILING_MS as f64 {
                break;
            }
        }
        let size = size_at(c.kind, step);
        let Some(ex) = timed(ctx, c, &who, value(c.kind, size, true)).await? else {
            return Ok(None);
        };
        let mut ms = ex.elapsed_ms;
        // Twice the growth the series expects of a backtracking pattern (×4 per two
        // characters) or of a linear loop (×10 per step).
        let jump = match c.kind {
            Kind::Text => 8,
            Kind::Number => 20,
        };
        let jumped = climb.last().is_some_and(|(p, _)| {
            (ENOUGH_MS..=CEILING_MS).contains(&ms) && p.ms.max(1) * jump < ms
        });
        if jumped {
            // A jump far above the step before may be one stalled answer: the same size once
            // more, and the climb goes on when the second is fast.
            let Some(again) = timed(ctx, c, &who, value(c.kind, size, true)).await? else {
                return Ok(None);
            };
            ms = ms.min(again.elapsed_ms);
        }
        climb.push((Point { size, ms }, ex));
        if ms >= ENOUGH_MS || ms > CEILING_MS {
            break;
        }
    }
    let Some((last, _)) = climb.last() else {
        return Ok(None);
    };
    if last.ms < PROOF_FLOOR_MS || climb.len() < 3 {
        return Ok(None);
    }
    // The proof: the last three steps again, and the control twice at each.
    let tail = &climb[climb.len() - 3..];
    let mut payload = Vec::new();
    let mut control = Vec::new();
    let mut exchanges = Vec::new();
    for (p, first) in tail {
        let again = if p.ms > CEILING_MS {
            None
        } else {
            timed(ctx, c, &who, value(c.kind, p.size, true)).await?
        };
        let ms = again.as_ref().map_or(p.ms, |e| e.elapsed_ms.min(p.ms));
        payload.push(Point { size: p.size, ms });
        let mut cms = u64::MAX;
        let mut cex = None;
        for _ in 0..2 {
            let Some(e) = timed(ctx, c, &who, value(c.kind, p.size, false)).await? else {
                return Ok(None);
            };
            cms = cms.min(e.elapsed_ms);
            cex = Some(e);
        }
        control.push(Point {
            size: p.size,
            ms: cms,
        });
        exchanges.push(first.clone());
        exchanges.extend(cex);
    }
    let Some(slope) = judge(c.kind, &payload, &control) else {
        return Ok(None);
    };
    Ok(Some(finding(c, &payload, &control, &slope, exchanges)))
}

/// How the payload series grows.
#[derive(Debug, Clone, PartialEq)]
struct Slope {
    /// Mean factor between consecutive payload times.
    per_step: f64,
    /// Strings: the factor per character (least squares of ln(time) over length). Integers:
    /// milliseconds per unit (least squares of time over value).
    fitted: f64,
}

/// The verdict on a proven series: `Some` when the payload grows at every step, ends slow and
/// far above the control, and the control stays flat.
fn judge(kind: Kind, payload: &[Point], control: &[Point]) -> Option<Slope> {
    let last = payload.last()?;
    let rising = payload
        .windows(2)
        .all(|w| w[1].ms as f64 >= MIN_GROWTH * w[0].ms.max(1) as f64);
    let c_max = control.iter().map(|p| p.ms).max()?;
    let c_min = control.iter().map(|p| p.ms).min()?;
    let flat = c_max <= 2 * c_min + FLAT_SLACK_MS;
    let above = last.ms >= PROOF_FLOOR_MS && last.ms as f64 >= MIN_RATIO * c_max.max(1) as f64;
    if !(rising && flat && above) {
        return None;
    }
    let first = payload.first()?;
    let per_step =
        (last.ms.max(1) as f64 / first.ms.max(1) as f64).powf(1.0 / (payload.len() - 1) as f64);
    let xs: Vec<f64> = payload.iter().map(|p| p.size as f64).collect();
    let fitted = match kind {
        Kind::Text => {
            let ys: Vec<f64> = payload.iter().map(|p| (p.ms.max(1) as f64).ln()).collect();
            least_squares(&xs, &ys).exp()
        }
        Kind::Number => {
            let ys: Vec<f64> = payload.iter().map(|p| p.ms as f64).collect();
            least_squares(&xs, &ys)
        }
    };
    Some(Slope { per_step, fitted })
}

/// The slope of the least-squares line through `(xs, ys)`.
fn least_squares(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

fn series(points: &[Point]) -> String {
    points
        .iter()
        .map(|p| format!("{} → {} ms", p.size, p.ms))
        .collect::<Vec<_>>()
        .join(", ")
}

fn finding(
    c: &Candidate<'_>,
    payload: &[Point],
    control: &[Point],
    slope: &Slope,
    exchanges: Vec<Exchange>,
) -> middlebrick_model::Finding {
    let (what, shape, rate) = match c.kind {
        Kind::Text => (
            "length in characters → time",
            "a run of one letter ending in a character that fails the match (`aaaa…a!`)",
            format!(
                "×{:.1} per step of {STRING_STEP} characters (×{:.2} per character by a \
                 least-squares fit of log time over length): exponential growth, the signature \
                 of a backtracking regular expression",
                slope.per_step, slope.fitted
            ),
        ),
        Kind::Number => (
            "value → time",
            "the value multiplied by ten per step",
            format!(
                "×{:.1} per step, about {:.3} ms per 1,000 by a least-squares fit of time over \
                 value: the work grows with a number the caller chooses",
                slope.per_step,
                slope.fitted * 1000.0
            ),
        ),
    };
    let controls = match c.kind {
        Kind::Text => format!(
            "a control of the same length (the same characters without a run, `a!a!…`) stayed \
             flat: {}",
            series(control)
        ),
        Kind::Number => format!(
            "the control (the value 1, sent beside each step) stayed flat: {}",
            control
                .iter()
                .map(|p| format!("{} ms", p.ms))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let description = format!(
        "`{}` makes {} slower the larger it grows, with {shape}: {} ({what}; each time the \
         smaller of two), {rate}. Meanwhile {controls}. One request can be made to cost \
         seconds of server time, and a larger input more.",
        c.name,
        c.op.key(),
        series(payload),
    );
    let evidence = Evidence::new(exchanges).note(format!(
        "payload series ({what}): {}; {controls}; for each of the last three steps the first \
         payload answer, then a control answer",
        series(payload),
    ));
    META.finding(
        Some(c.op),
        &c.name,
        META.severity,
        Confidence::Firm,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{Inventory, Parameter, SpecVersion};
    use std::sync::Arc;

    fn op(path: &str, param: &str, ty: SchemaType, format: Option<&str>) -> Operation {
        let mut op = Operation::new(Method::Get, path);
        op.parameters.push(Parameter {
            name: param.into(),
            location: ParamLocation::Query,
            required: true,
            schema: Arc::new(Schema {
                ty: Some(ty),
                format: format.map(str::to_string),
                ..Schema::default()
            }),
            example: None,
        });
        op
    }

    fn query(r: &middlebrick_model::RequestSpec, name: &str) -> String {
        r.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The longest run of one character in `s`.
    fn run_of(s: &str) -> u32 {
        let (mut best, mut cur, mut prev) = (0, 0, None);
        for ch in s.chars() {
            cur = if Some(ch) == prev { cur + 1 } else { 1 };
            prev = Some(ch);
            best = best.max(cur);
        }
        best
    }

    /// A fake whose answer time is `cost(request)` milliseconds.
    fn target(
        cost: impl Fn(&middlebrick_model::RequestSpec) -> u64 + Send + Sync + 'static,
    ) -> FakeProbe {
        FakeProbe::new().identity("alice", &[]).latency(cost).on(
            |_| true,
            response(200, "application/json", r#"{"ok":true}"#),
        )
    }

    async fn run(probe: &FakeProbe, ops: Vec<Operation>) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = ops;
        SlowInput
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    /// Exponential in the run: ×2 per character past 10.
    fn backtracking(r: &middlebrick_model::RequestSpec) -> u64 {
        let run = run_of(&query(r, "email"));
        2 + (1u64 << run.saturating_sub(10).min(40)) / 8
    }

    #[tokio::test]
    async fn a_backtracking_input_with_a_flat_control_is_reported_with_its_series() {
        let probe = target(backtracking);
        let out = run(
            &probe,
            vec![op("/check", "email", SchemaType::String, Some("email"))],
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        let f = &out.findings[0];
        assert_eq!(f.parameter.as_deref(), Some("email"));
        assert!(f.description.contains("per character"), "{}", f.description);
        assert!(f.description.contains("ms"), "{}", f.description);
        // Nothing sent above the ceiling, and the budget held.
        let sent = probe.sent.lock().unwrap().clone();
        assert!(sent.iter().all(|r| backtracking(r) <= CEILING_MS));
        assert!(sent.len() <= STRING_LENGTHS + 9 + 1, "{}", sent.len());
    }

    #[tokio::test]
    async fn a_number_whose_cost_grows_with_its_value_is_reported_with_ms_per_thousand() {
        let probe = target(|r| 3 + query(r, "days").parse::<u64>().unwrap_or(0) / 200);
        let out = run(
            &probe,
            vec![op("/report", "days", SchemaType::Integer, None)],
        )
        .await;
        assert_eq!(out.findings.len(), 1);
        assert!(out.findings[0].description.contains("ms per 1,000"));
    }

    #[tokio::test]
    async fn round_trip_noise_at_small_values_does_not_stop_a_linear_climb() {
        // Measured on the FastAPI shop under load: 10^4 answered in 3 ms, 10^5 in 74 ms. The
        // growth of 24 from a time that is mostly round trip once predicted 1.8 s for 10^6 and
        // ended the climb short of the proof floor; 10^6 takes 740 ms.
        let probe = target(|r| match query(r, "days").as_str() {
            "10000" => 3,
            "100000" => 74,
            "1000000" => 740,
            _ => 2,
        });
        let out = run(
            &probe,
            vec![op("/report", "days", SchemaType::Integer, None)],
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert!(out.findings[0].description.contains("1000000 → 740 ms"));
    }

    #[tokio::test]
    async fn one_stalled_answer_early_in_a_series_is_timed_again_and_the_climb_goes_on() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stalled = AtomicBool::new(false);
        let probe = target(move |r| {
            let run = run_of(&query(r, "email"));
            if run == 17 && !stalled.swap(true, Ordering::SeqCst) {
                return 400;
            }
            backtracking(r)
        });
        let out = run(
            &probe,
            vec![op("/check", "email", SchemaType::String, Some("email"))],
        )
        .await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        // The stalled step (length 18, a run of 17) was sent twice while climbing, and once
        // more by the proof (it is one of the last three steps: 18, 20, 22).
        let sent = probe.sent.lock().unwrap().clone();
        let at_18 = sent
            .iter()
            .filter(|r| query(r, "email") == text(18, true))
            .count();
        assert_eq!(at_18, 3, "the stalled step, its confirmation and the proof");
    }

    #[tokio::test]
    async fn a_slow_answer_that_stays_slow_when_timed_again_still_ends_the_climb() {
        // An endpoint slow at random by up to a second and a half, whatever the input.
        let probe = target(|r| if query(r, "q").len() >= 16 { 900 } else { 3 });
        let out = run(&probe, vec![op("/suggest", "q", SchemaType::String, None)]).await;
        assert!(out.findings.is_empty());
        let sent = probe.sent.lock().unwrap().clone();
        let climbing = sent
            .iter()
            .filter(|r| query(r, "q").chars().filter(|&c| c == '!').count() == 1)
            .count();
        assert!(
            climbing <= 3 + 3,
            "the climb stopped at the slow step: {climbing}"
        );
    }

    #[tokio::test]
    async fn a_climb_stopped_by_the_prediction_is_still_proven_and_never_passes_the_ceiling() {
        // 10^6 takes 200 ms: 10^7 would take 2 s, so it is never sent.
        let probe = target(|r| 2 + query(r, "days").parse::<u64>().unwrap_or(0) / 5_000);
        let out = run(
            &probe,
            vec![op("/report", "days", SchemaType::Integer, None)],
        )
        .await;
        assert_eq!(out.findings.len(), 1);
        let sent = probe.sent.lock().unwrap().clone();
        assert!(sent.iter().all(|r| query(r, "days") != "10000000"));
    }

    #[tokio::test]
    async fn a_json_body_property_is_grown_in_active_mode_only_and_after_the_reads() {
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties
            .insert("code".into(), Arc::new(Schema::of_type(SchemaType::String)));
        let mut redeem = Operation::new(Method::Post, "/coupons/check");
        redeem.request_body = Some(middlebrick_model::RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        let cost = |r: &middlebrick_model::RequestSpec| match &r.body {
            Some(middlebrick_model::RequestBody::Json(v)) => {
                let run = run_of(v["code"].as_str().unwrap_or(""));
                2 + (1u64 << run.saturating_sub(10).min(40)) / 8
            }
            _ => 2,
        };
        let probe = target(cost);
        assert!(run(&probe, vec![redeem.clone()]).await.findings.is_empty());
        assert_eq!(probe.sent_count(), 0, "nothing but GET in safe mode");
        let mut probe = target(cost);
        probe.mode = Mode::Active;
        let flat = op("/search", "q", SchemaType::String, None);
        let out = run(&probe, vec![redeem, flat]).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("code"));
        let sent = probe.sent.lock().unwrap().clone();
        assert_eq!(sent[0].method, Method::Get, "reads are tried first");
    }

    #[tokio::test]
    async fn flat_payload_and_control_are_silent_after_the_series() {
        let probe = target(|_| 4);
        let out = run(
            &probe,
            vec![op("/check", "email", SchemaType::String, Some("email"))],
        )
        .await;
        assert!(out.findings.is_empty());
        assert!(probe.sent_count() <= STRING_LENGTHS + 1);
    }

    #[tokio::test]
    async fn payload_and_control_growing_alike_are_silent() {
        // Slow in the length itself, whatever the characters (a server that is just slow on
        // long input): the control grows as much as the payload.
        let probe = target(|r| {
            let len = query(r, "q").len() as u64;
            2 + (1u64 << len.saturating_sub(10).min(40)) / 8
        });
        let out = run(&probe, vec![op("/search", "q", SchemaType::String, None)]).await;
        assert!(out.findings.is_empty());
    }

    #[tokio::test]
    async fn one_slow_answer_alone_is_not_a_finding() {
        // A single spike: the 6th request is slow, nothing else is.
        let n = std::sync::atomic::AtomicUsize::new(0);
        let probe = target(move |_| {
            if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 6 {
                900
            } else {
                5
            }
        });
        let out = run(
            &probe,
            vec![op("/check", "email", SchemaType::String, Some("email"))],
        )
        .await;
        assert!(out.findings.is_empty());
    }

    #[test]
    fn candidates_skip_page_sizes_enums_and_short_strings_and_non_get_in_safe_mode() {
        let page = op("/l", "per_page", SchemaType::Integer, None);
        assert!(inputs(&page, Mode::Safe).is_empty());
        let days = op("/r", "days", SchemaType::Integer, None);
        assert_eq!(inputs(&days, Mode::Safe).len(), 1);
        let mut short = op("/s", "q", SchemaType::String, None);
        Arc::make_mut(&mut short.parameters[0].schema).max_length = Some(10);
        assert!(inputs(&short, Mode::Safe).is_empty());
        let mut post = op("/s", "q", SchemaType::String, None);
        post.method = Method::Post;
        assert!(inputs(&post, Mode::Safe).is_empty());
        assert_eq!(inputs(&post, Mode::Active).len(), 1);
        let id = op("/s", "product_id", SchemaType::Integer, None);
        assert!(inputs(&id, Mode::Safe).is_empty());
    }

    #[test]
    fn the_control_has_the_payloads_length_and_no_run() {
        for len in [14, 15, 36] {
            let (p, c) = (text(len, true), text(len, false));
            assert_eq!((p.len(), c.len()), (len, len));
            assert_eq!(run_of(&p) as usize, len - 1);
            assert_eq!(run_of(&c), 1);
        }
    }
}

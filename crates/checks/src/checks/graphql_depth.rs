//! `graphql.no-depth-limit`: a GraphQL endpoint executes queries nested as deep as the caller
//! likes, so one request can cost as much as the caller wants (CWE-770).
//!
//! From the schema discovery read (`GraphqlEndpoint.types`), finds a cycle of object fields
//! that take no required argument (`Product.reviews → Review.product → Product`) reachable
//! from a root query field that needs no argument, or whose required arguments all have a
//! value the scan has seen (an id harvested earlier). The cycle with the fewest list fields
//! is preferred: lists multiply what each level costs. The documents follow the chain to a
//! depth of [`DEPTHS`] levels, each ending in `__typename`, sent as the first identity that
//! gets data (else anonymously), one after another. The climb stops at the first answer that
//! is not data without errors (a depth or complexity limit, or anything else), at an answer
//! slower than [`CEILING_MS`], before a depth whose predicted time or size passes the ceiling,
//! or after the last depth.
//!
//! It is a finding when an answer at a depth of at least [`DEEP`] levels is data without
//! errors whose objects really nest that deep, and, against the shallowest answer (the
//! control), its time grew ([`time_grew`]) or its size grew ([`size_grew`]); or when the climb
//! was ended by cost (the next depth predicted over a ceiling) after an answer at least
//! [`DEEP_WHEN_COSTLY`] levels deep whose growth shows no complexity limit ([`cost_exploded`]):
//! lists that multiply at every level make deeper queries unsendable within the ceiling. The description
//! gives the series. When a climb shows nothing, it is climbed again as the next sender (the
//! larger answer: its lists may multiply where the first one's held one object each). Queries
//! only: safe in every mode. A climb about to stop on time (the last answer over the ceiling,
//! or the next predicted over it) sends the last depth once more first and keeps the faster
//! answer: one answer stalled on a busy machine does not end it. Budget: [`DEPTHS`] requests
//! per sender tried (the first two signed-in ones that get data, the smaller answer first,
//! else anonymous), plus one re-measure per sender, plus one per identity asked. It runs in
//! the first round, before the malformed input of the others can leave the target busy.

use super::graphql_common::{query_operation, query_request, string_literal, GqlAnswer};
use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
use crate::probe::ProbeError;
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Diagnostic, Evidence, Exchange, Finding, GraphqlEndpoint,
    GraphqlField, Method, Operation, Owasp, Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct GraphqlNoDepthLimit;

/// Object levels of the documents, root field included.
pub const DEPTHS: &[usize] = &[2, 4, 6, 8, 10, 12, 14, 16];
/// The least depth an answered document must reach to be a finding.
pub const DEEP: usize = 10;
/// The least depth of a climb that cost ended (the next depth predicted over a ceiling) for
/// it to be a finding, with [`cost_exploded`] growth: wider than the limits careful servers
/// set (6 is common), so a server with a depth limit refuses it before executing anything.
pub const DEEP_WHEN_COSTLY: usize = 8;
/// No document is sent when predicted slower than this, and the climb stops after an answer
/// slower than this.
const CEILING_MS: u64 = 1_500;
/// Below this, an answer's time is mostly the round trip and says little about growth.
const NOISE_FLOOR_MS: u64 = 30;
/// No document is sent when its answer is predicted larger than this.
const SIZE_CEILING: u64 = 2 * 1024 * 1024;

static META: CheckMeta = CheckMeta {
    id: CheckId::GraphqlNoDepthLimit,
    title: "GraphQL queries nested without a depth or complexity limit",
    description: "Finds a cycle of object fields in the schema reachable from a root query and \
        sends queries following it 2 to 16 levels deep by 2, stopping at the first error, \
        at an answer over 1.5 s or before one predicted to be. Fires when a query at least 10 \
        levels deep is answered with data nested that deep and no error, and its time or its \
        size grew against the 2-level control, or when cost ended the climb after an 8-level \
        answer ten times slower (and 300 ms more) or sixteen times larger; reports the series. Silent when the server \
        refuses the deep query.",
    cwe: &[770, 400],
    owasp: &[Owasp::Api4],
    severity: Severity::Medium,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Bound what one query may cost before executing it: a maximum depth (10 or \
            less covers real clients), a complexity or cost limit that counts list fields \
            multiplied by their page sizes, a cap on aliases and on batched operations, and a \
            timeout on execution. Reject the query with an error in validation, before any \
            resolver runs; persisted (allow-listed) queries remove the problem for first-party \
            clients.",
        variants: &[
            (
                Tech::Flask,
                "Graphene 3 / graphql-core: pass `validation_rules=[depth_limit_validator(\
                max_depth=10)]` (from `graphene.validation`) to the view or to \
                `schema.execute`; Ariadne: `GraphQL(schema, validation_rules=[\
                cost_validator(maximum_cost=…)])` and a depth rule of your own.",
            ),
            (
                Tech::FastApi,
                "Strawberry: `strawberry.Schema(query=Query, extensions=[QueryDepthLimiter(\
                max_depth=10), MaxAliasesLimiter(max_alias_count=15), \
                MaxTokensLimiter(max_token_count=2000)])` and serve it with `GraphQLRouter`.",
            ),
        ],
    },
};

#[async_trait]
impl Check for GraphqlNoDepthLimit {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn scope(&self) -> Scope {
        Scope::Api
    }

    fn not_applicable(&self, inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
        super::graphql_common::no_endpoint(inventory)
    }

    /// Before the other checks: it judges by answer times, and the malformed input of the
    /// main round can leave the target busy for the rest of the scan (an out-of-range count
    /// that a handler loops over holds a worker, and in Python the interpreter lock, for
    /// minutes), which slows every answer by the same factor and ends the climb on the time
    /// ceiling before it is deep enough.
    fn order(&self) -> RunOrder {
        RunOrder::First
    }

    fn plan(&self, op: &Operation, _ctx: PlanCtx) -> Vec<Planned> {
        if op.graphql.is_none() {
            return Vec::new();
        }
        vec![Planned {
            method: Method::Post,
            identity: "*",
            purpose: "queries following a cycle of the schema 2 to 16 levels deep",
        }]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let mut out = Outcome::none();
        for ep in &ctx.inventory.graphql {
            let Some(chain) = chain_for(ctx, ep) else {
                continue;
            };
            match climb(ctx, ep, &chain).await {
                Ok((Some(f), _)) => out.findings.push(f),
                // What each climb showed, so a report says why nothing was found.
                Ok((None, climbs)) if !climbs.is_empty() => out.diagnostics.push(Diagnostic::info(
                    "graphql.depth-not-shown",
                    format!(
                        "`{}`: nested queries showed no unbounded depth ({})",
                        ep.path,
                        climbs.join("; ")
                    ),
                )),
                Ok((None, _)) => {}
                Err(ProbeError::Stopped(_)) => break,
                Err(ProbeError::Refused(_)) => {}
            }
        }
        out
    }
}

/// The fields a deep document follows: the root field (with its argument literals), then
/// a prefix to the cycle, then the cycle repeated.
#[derive(Debug, Clone, PartialEq)]
struct Chain {
    root: String,
    root_args: String,
    prefix: Vec<String>,
    cycle: Vec<String>,
}

impl Chain {
    /// The document `depth` object levels deep, the last selecting `__typename`.
    fn document(&self, depth: usize) -> String {
        let mut names = vec![format!("{}{}", self.root, self.root_args)];
        let mut rest = self.prefix.iter().chain(self.cycle.iter().cycle());
        while names.len() < depth {
            match rest.next() {
                Some(n) => names.push(n.clone()),
                None => break,
            }
        }
        let mut doc = String::from("{");
        for n in &names {
            doc.push(' ');
            doc.push_str(n);
            doc.push_str(" {");
        }
        doc.push_str(" __typename");
        doc.push_str(&" }".repeat(names.len()));
        doc.push_str(" }");
        doc
    }
}

/// Object-typed fields of `ty` that can be asked for bare.
fn edges<'a>(ep: &'a GraphqlEndpoint, ty: &str) -> impl Iterator<Item = &'a GraphqlField> + 'a {
    let types = &ep.types;
    types
        .get(ty)
        .into_iter()
        .flatten()
        .filter(move |f| !f.required_args && types.contains_key(&f.type_name))
}

/// The shortest path of fields from type `from` to type `to` (at least one field).
fn path_between<'a>(
    ep: &'a GraphqlEndpoint,
    from: &str,
    to: &str,
) -> Option<Vec<&'a GraphqlField>> {
    let mut queue: VecDeque<(String, Vec<&GraphqlField>)> = VecDeque::new();
    queue.push_back((from.to_string(), Vec::new()));
    let mut seen = vec![from.to_string()];
    while let Some((ty, path)) = queue.pop_front() {
        for f in edges(ep, &ty) {
            let mut next = path.clone();
            next.push(f);
            if f.type_name == to {
                return Some(next);
            }
            if !seen.contains(&f.type_name) && next.len() < 6 {
                seen.push(f.type_name.clone());
                queue.push_back((f.type_name.clone(), next));
            }
        }
    }
    None
}

/// The best (prefix, cycle) reachable from type `start`: fewest list fields in the cycle,
/// then the shortest.
fn cycle_from(ep: &GraphqlEndpoint, start: &str) -> Option<(Vec<String>, Vec<String>)> {
    // (list fields in the cycle, fields in all), prefix, cycle.
    type Ranked = ((usize, usize), Vec<String>, Vec<String>);
    let mut best: Option<Ranked> = None;
    let mut reach: Vec<(String, Vec<&GraphqlField>)> = vec![(start.to_string(), Vec::new())];
    for ty in ep.types.keys() {
        if ty != start {
            if let Some(p) = path_between(ep, start, ty) {
                reach.push((ty.clone(), p));
            }
        }
    }
    for (ty, prefix) in reach {
        let Some(cycle) = path_between(ep, &ty, &ty) else {
            continue;
        };
        let lists = cycle.iter().filter(|f| f.list).count();
        let rank = (lists, prefix.len() + cycle.len());
        if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
            let names = |v: &[&GraphqlField]| v.iter().map(|f| f.name.clone()).collect();
            best = Some((rank, names(&prefix), names(&cycle)));
        }
    }
    best.map(|(_, p, c)| (p, c))
}

/// A literal for a known value of an argument.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(string_literal(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The argument literals of root field `field` when it needs some: a known value for each
/// required argument of its operation. `None` when one has none.
fn root_args(ctx: &RunCtx<'_>, ep: &GraphqlEndpoint, field: &str) -> Option<String> {
    let op = query_operation(ctx.inventory, ep, Some(field))?;
    let g = op.graphql.as_ref().filter(|g| g.field == field)?;
    let mut args = Vec::new();
    for a in g.arguments.iter().filter(|a| a.type_ref.ends_with('!')) {
        let known = ctx.probe.known_values(op, &a.name);
        let value = known.iter().find_map(|(v, _)| literal(v))?;
        args.push(format!("{}: {value}", a.name));
    }
    Some(format!("({})", args.join(", ")))
}

/// The chain to follow on `ep`: root fields without required arguments first.
fn chain_for(ctx: &RunCtx<'_>, ep: &GraphqlEndpoint) -> Option<Chain> {
    let roots = ep.types.get(&ep.query_type)?;
    let mut ordered: Vec<&GraphqlField> = roots
        .iter()
        .filter(|f| ep.types.contains_key(&f.type_name))
        .collect();
    ordered.sort_by_key(|f| f.required_args);
    for f in ordered {
        let Some((prefix, cycle)) = cycle_from(ep, &f.type_name) else {
            continue;
        };
        let args = if f.required_args {
            match root_args(ctx, ep, &f.name) {
                Some(a) => a,
                None => continue,
            }
        } else {
            String::new()
        };
        return Some(Chain {
            root: f.name.clone(),
            root_args: args,
            prefix,
            cycle,
        });
    }
    None
}

/// How deep objects nest in a JSON value (lists do not count as a level).
fn object_depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(object_depth).max().unwrap_or(0),
        Value::Array(a) => a.iter().map(object_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// One answered step: depth, time and body size.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    depth: usize,
    ms: u64,
    bytes: u64,
}

fn body_size(ex: &Exchange) -> u64 {
    ex.response
        .as_ref()
        .map_or(0, |r| r.body.size.max(r.body.text.len() as u64))
}

/// The time of the deep answer grew against the control's: three times, and 100 ms more.
fn time_grew(control: Step, deep: Step) -> bool {
    deep.ms >= control.ms.saturating_mul(3) && deep.ms >= control.ms + 100
}

/// The growth that shows execution cost unbounded by any complexity limit: ten times the
/// control's time and 300 ms more, or sixteen times its size.
fn cost_exploded(control: Step, deep: Step) -> bool {
    (deep.ms >= control.ms.max(1).saturating_mul(10) && deep.ms >= control.ms + 300)
        || deep.bytes >= control.bytes.max(1).saturating_mul(16)
}

/// The deep answer is twice the control's size, and 200 bytes more.
fn size_grew(control: Step, deep: Step) -> bool {
    deep.bytes >= control.bytes.saturating_mul(2) && deep.bytes >= control.bytes + 200
}

/// The identities that get data for the shallowest document, each with that answer: the first
/// two signed-in ones, the smaller answer first (fewer objects per level: the scan's own writes
/// may have filled one account's lists, and a list that multiplies fast ends the climb early),
/// else anonymous.
async fn senders(
    ctx: &RunCtx<'_>,
    ep: &GraphqlEndpoint,
    chain: &Chain,
) -> Result<Vec<(String, Exchange)>, ProbeError> {
    let doc = chain.document(DEPTHS[0]);
    let mut answered: Vec<(String, Exchange)> = Vec::new();
    for name in ctx.probe.identities().into_iter().map(|i| i.name).take(2) {
        let req = query_request(ctx.probe, ctx.inventory, ep, Some(&chain.root), &doc, &name);
        // Timed: alone on the wire, never a kept answer.
        let ex = ctx.probe.send_timed(req).await?;
        if GqlAnswer::of(&ex).is_some_and(|a| a.answered()) {
            answered.push((name, ex));
        }
    }
    if !answered.is_empty() {
        answered.sort_by_key(|(_, ex)| body_size(ex));
        return Ok(answered);
    }
    let req = query_request(
        ctx.probe,
        ctx.inventory,
        ep,
        Some(&chain.root),
        &doc,
        ANONYMOUS,
    );
    let ex = ctx.probe.send_timed(req).await?;
    Ok(if GqlAnswer::of(&ex).is_some_and(|a| a.answered()) {
        vec![(ANONYMOUS.to_string(), ex)]
    } else {
        Vec::new()
    })
}

/// Why a climb stops before the next depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The last answer took over the ceiling, or the next one's time is predicted to.
    Time,
    /// The next answer's size is predicted over the ceiling.
    Size,
}

/// What stops the climb before `next_depth`, if anything: the last answer slower than the
/// ceiling, or the next one's time or size, predicted from the last two steps (growth per
/// level, compounded over the levels added), over it.
fn stop_before(steps: &[Step], next_depth: usize) -> Option<Stop> {
    if steps.last().is_some_and(|s| s.ms > CEILING_MS) {
        return Some(Stop::Time);
    }
    let [.., a, b] = steps else {
        return None;
    };
    let levels = (b.depth - a.depth).max(1) as f64;
    let ahead = (next_depth - b.depth) as f64;
    let per_level = |x: u64, y: u64| (y.max(1) as f64 / x.max(1) as f64).powf(1.0 / levels);
    // Time grows from no less than the noise floor: 2 ms then 30 ms on a busy machine is the
    // round trip's noise, not ×15 per step.
    let (ta, tb) = (a.ms.max(NOISE_FLOOR_MS), b.ms.max(NOISE_FLOOR_MS));
    let time = b.ms.max(1) as f64 * per_level(ta, tb).max(1.0).powf(ahead);
    let size = b.bytes.max(1) as f64 * per_level(a.bytes, b.bytes).max(1.0).powf(ahead);
    if size > SIZE_CEILING as f64 {
        Some(Stop::Size)
    } else if time > CEILING_MS as f64 {
        Some(Stop::Time)
    } else {
        None
    }
}

/// Climbs as each sender in turn until one shows the growth: a sender whose lists hold one
/// object each nests deep at no cost, and the next one's lists may multiply.
/// The finding, or what each climb showed.
async fn climb(
    ctx: &RunCtx<'_>,
    ep: &GraphqlEndpoint,
    chain: &Chain,
) -> Result<(Option<Finding>, Vec<String>), ProbeError> {
    let mut climbs = Vec::new();
    for (who, first) in senders(ctx, ep, chain).await? {
        match climb_as(ctx, ep, chain, &who, first).await? {
            Ok(f) => return Ok((Some(f), climbs)),
            Err(shown) => climbs.push(shown),
        }
    }
    Ok((None, climbs))
}

async fn climb_as(
    ctx: &RunCtx<'_>,
    ep: &GraphqlEndpoint,
    chain: &Chain,
    who: &str,
    first: Exchange,
) -> Result<Result<Finding, String>, ProbeError> {
    let mut steps = vec![Step {
        depth: DEPTHS[0],
        ms: first.elapsed_ms,
        bytes: body_size(&first),
    }];
    let control = first;
    let mut deepest: Option<Exchange> = None;
    let mut costly = false;
    let mut ended = "the deepest level";
    let mut remeasured = false;
    let send = |depth: usize| {
        let doc = chain.document(depth);
        let req = query_request(ctx.probe, ctx.inventory, ep, Some(&chain.root), &doc, who);
        ctx.probe.send_timed(req)
    };
    for &depth in &DEPTHS[1..] {
        let mut stop = stop_before(&steps, depth);
        if stop == Some(Stop::Time) && !remeasured {
            // A stop decided by one answer's time is checked once: on a busy machine one
            // answer can stall. The faster of the two answers stands.
            remeasured = true;
            let last = steps.len() - 1;
            let again = send(steps[last].depth).await?;
            if nests(&again, steps[last].depth) {
                steps[last].ms = steps[last].ms.min(again.elapsed_ms);
            }
            stop = stop_before(&steps, depth);
        }
        if let Some(stop) = stop {
            costly = true;
            ended = match stop {
                Stop::Time => "the time ceiling",
                Stop::Size => "the size ceiling",
            };
            break;
        }
        let mut ex = send(depth).await?;
        if ex.response.is_none() {
            // A lost answer says nothing about depth (a connection the server dropped under
            // the request): sent once more before the climb ends on it.
            ex = send(depth).await?;
        }
        if !nests(&ex, depth) {
            ended = "an answer that was not data nested that deep";
            break;
        }
        steps.push(Step {
            depth,
            ms: ex.elapsed_ms,
            bytes: body_size(&ex),
        });
        deepest = Some(ex);
    }
    let shown = || {
        let series: Vec<String> = steps
            .iter()
            .map(|s| format!("{}: {} ms, {} bytes", s.depth, s.ms, s.bytes))
            .collect();
        format!("as {who}: {}, ended by {ended}", series.join(", "))
    };
    let (Some(deep_ex), Some(&deep)) = (deepest, steps.last()) else {
        return Ok(Err(shown()));
    };
    let base = steps[0];
    let deep_enough = deep.depth >= DEEP && (time_grew(base, deep) || size_grew(base, deep));
    let cost_ended = costly && deep.depth >= DEEP_WHEN_COSTLY && cost_exploded(base, deep);
    if !(deep_enough || cost_ended) {
        return Ok(Err(shown()));
    }
    Ok(Ok(finding(ep, chain, &steps, control, deep_ex)))
}

/// Whether `ex` is data without errors nested as deep as a document of `depth` levels (`data`
/// itself is one level more than the document's).
fn nests(ex: &Exchange, depth: usize) -> bool {
    GqlAnswer::of(ex)
        .filter(GqlAnswer::answered)
        .and_then(|a| a.data.as_ref().map(object_depth))
        .is_some_and(|nested| nested > depth)
}

fn finding(
    ep: &GraphqlEndpoint,
    chain: &Chain,
    steps: &[Step],
    control: Exchange,
    deep_ex: Exchange,
) -> Finding {
    let series: Vec<String> = steps
        .iter()
        .map(|s| format!("{} levels: {} ms, {} bytes", s.depth, s.ms, s.bytes))
        .collect();
    let (base, deep) = (steps[0], steps[steps.len() - 1]);
    let mut path = vec![chain.root.clone()];
    path.extend(chain.prefix.iter().cloned());
    path.extend(chain.cycle.iter().cloned());
    let description = format!(
        "`{}` executed a query {} levels deep (following `{}` round and round) and answered \
         it with data and no error: nothing limits query depth or complexity. Against the \
         {}-level control the answer grew from {} ms to {} ms and from {} to {} bytes. Each \
         level added costs the server more, and list fields multiply it: one request can \
         exhaust the database or the workers. Series: {}.",
        ep.path,
        deep.depth,
        path.join(" → "),
        base.depth,
        base.ms,
        deep.ms,
        base.bytes,
        deep.bytes,
        series.join("; ")
    );
    let evidence = Evidence::new(vec![control, deep_ex]).note(format!(
        "the {}-level control, then the {}-level query; series: {}",
        base.depth,
        deep.depth,
        series.join("; ")
    ));
    META.finding(
        Some(&super::graphql_common::endpoint_operation(ep)),
        &chain.root,
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
    use middlebrick_model::{Inventory, RequestBody, RequestSpec, SpecVersion};

    fn field(name: &str, ty: &str, list: bool) -> GraphqlField {
        GraphqlField {
            name: name.into(),
            type_name: ty.into(),
            list,
            required_args: false,
        }
    }

    /// `products: [Product]`, `Product.reviews: [Review]`, `Review.product: Product`,
    /// `Product.category: Category`, `Category.products: [Product]`.
    fn endpoint() -> GraphqlEndpoint {
        let mut ep = GraphqlEndpoint {
            path: "/graphql".into(),
            query_type: "Query".into(),
            ..GraphqlEndpoint::default()
        };
        ep.types.insert(
            "Query".into(),
            vec![
                GraphqlField {
                    required_args: true,
                    ..field("product", "Product", false)
                },
                field("products", "Product", true),
            ],
        );
        ep.types.insert(
            "Product".into(),
            vec![
                field("name", "String", false),
                field("reviews", "Review", true),
                field("category", "Category", false),
            ],
        );
        ep.types
            .insert("Review".into(), vec![field("product", "Product", false)]);
        ep.types
            .insert("Category".into(), vec![field("products", "Product", true)]);
        ep
    }

    fn doc(r: &RequestSpec) -> String {
        match &r.body {
            Some(RequestBody::Json(v)) => v["query"].as_str().unwrap_or("").to_string(),
            _ => String::new(),
        }
    }

    /// Levels of a document: its opening braces minus the outer one.
    fn levels(r: &RequestSpec) -> usize {
        doc(r).matches('{').count() - 1
    }

    /// The answer a server resolving the document gives: objects nested as deep as asked.
    fn nested(levels: usize) -> String {
        let mut v = serde_json::json!({"__typename": "Product"});
        for i in 0..levels {
            v = serde_json::json!({ format!("f{i}"): v, "pad": "x".repeat(40) });
        }
        serde_json::json!({ "data": v }).to_string()
    }

    async fn run(probe: &FakeProbe) -> Outcome {
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.graphql.push(endpoint());
        GraphqlNoDepthLimit
            .run(&RunCtx {
                probe,
                inventory: &inv,
                op: None,
            })
            .await
    }

    #[test]
    fn the_cycle_with_fewest_lists_is_followed_from_an_argument_free_root() {
        let ep = endpoint();
        let (prefix, cycle) = cycle_from(&ep, "Product").unwrap();
        // Product.category → Category.products has one list, as does Product.reviews →
        // Review.product: the shorter prefix wins at equal lists.
        assert!(prefix.is_empty());
        assert_eq!(cycle.len(), 2);
        let chain = Chain {
            root: "products".into(),
            root_args: String::new(),
            prefix,
            cycle,
        };
        let d = chain.document(4);
        assert_eq!(d.matches('{').count(), 5, "{d}");
        assert!(d.starts_with("{ products {"), "{d}");
        assert!(d.contains("__typename"));
    }

    #[tokio::test]
    async fn a_deep_query_answered_with_growing_size_is_reported_with_its_series() {
        let probe = FakeProbe::new()
            .on_dynamic(|r| Some(response(200, "application/json", &nested(levels(r)))));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1);
        let f = &out.findings[0];
        assert!(f.description.contains("16 levels"), "{}", f.description);
        assert!(f.description.contains("2 levels:"), "{}", f.description);
        assert_eq!(probe.sent_count(), DEPTHS.len());
    }

    #[tokio::test]
    async fn a_depth_limit_error_is_silent_and_ends_the_climb() {
        let probe = FakeProbe::new().on_dynamic(|r| {
            let body = if levels(r) > 8 {
                r#"{"data":null,"errors":[{"message":"'anonymous' exceeds maximum operation depth of 8"}]}"#.to_string()
            } else {
                nested(levels(r))
            };
            Some(response(200, "application/json", &body))
        });
        let out = run(&probe).await;
        assert!(out.findings.is_empty());
        assert_eq!(probe.sent_count(), 5, "2, 4, 6, 8, then the refused 10");
        // The report says what the climb showed and what ended it.
        let note = &out.diagnostics[0].message;
        assert!(
            note.contains("8: ") && note.contains("not data nested"),
            "{note}"
        );
    }

    #[tokio::test]
    async fn a_deep_query_that_neither_slows_nor_grows_is_silent() {
        // An empty list at the root: accepted at every depth, nothing resolved.
        let probe = FakeProbe::new().on(
            |_| true,
            response(200, "application/json", r#"{"data":{"products":[]}}"#),
        );
        assert!(run(&probe).await.findings.is_empty());
    }

    #[tokio::test]
    async fn time_that_would_pass_the_ceiling_is_never_sent() {
        // ×4 per two levels: 100 ms at 2 levels, 400 ms at 4; 8 would take 6.4 s.
        let probe = FakeProbe::new()
            .latency(|r| 25u64 << (levels(r) as u32))
            .on_dynamic(|r| Some(response(200, "application/json", &nested(levels(r)))));
        let out = run(&probe).await;
        assert!(out.findings.is_empty(), "4 levels are not deep enough");
        let sent = probe.sent.lock().unwrap().clone();
        assert!(sent.iter().all(|r| levels(r) <= 4));
    }

    /// Lists that multiply by four every two levels: 20 ms at 2 levels, 1.3 s at 8.
    fn multiplying(r: &RequestSpec) -> u64 {
        5u64 << (levels(r) as u32)
    }

    #[tokio::test]
    async fn a_climb_ended_by_exploding_cost_past_eight_levels_is_reported() {
        let probe = FakeProbe::new()
            .latency(multiplying)
            .on_dynamic(|r| Some(response(200, "application/json", &nested(levels(r)))));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert!(out.findings[0].description.contains("8 levels"));
        let sent = probe.sent.lock().unwrap().clone();
        assert!(
            sent.iter().all(|r| levels(r) <= 8),
            "10 levels were never sent"
        );
    }

    #[tokio::test]
    async fn a_depth_limit_of_six_is_silent_however_costly_its_accepted_queries() {
        let probe = FakeProbe::new().latency(multiplying).on_dynamic(|r| {
            let body = if levels(r) > 6 {
                r#"{"data":null,"errors":[{"message":"exceeds maximum operation depth of 6"}]}"#
                    .to_string()
            } else {
                nested(levels(r))
            };
            Some(response(200, "application/json", &body))
        });
        assert!(run(&probe).await.findings.is_empty());
    }

    #[test]
    fn a_noisy_fast_answer_does_not_predict_the_next_one_over_the_ceiling() {
        let step = |depth, ms| Step {
            depth,
            ms,
            bytes: 100,
        };
        // 2 ms then one stalled 100 ms answer (a busy machine): measured from the noise
        // floor, ×3.3 and 333 ms predicted, not ×50 and 5 s.
        assert_eq!(stop_before(&[step(2, 2), step(4, 100)], 6), None);
        // Real growth from above the floor still stops the climb: ×8 per two levels.
        assert_eq!(
            stop_before(&[step(2, 40), step(4, 320)], 8),
            Some(Stop::Time)
        );
    }

    #[tokio::test]
    async fn one_stalled_answer_is_measured_again_before_it_ends_the_climb() {
        // The 6-level answer stalls once (1.6 s: the machine was busy); sent again it takes
        // 30 ms like its neighbours, and the climb goes on to 16 levels.
        let six = std::sync::atomic::AtomicUsize::new(0);
        let probe = FakeProbe::new()
            .latency(move |r| match levels(r) {
                6 if six.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 => 1_600,
                6 => 30,
                n => 20 + n as u64,
            })
            .on_dynamic(|r| Some(response(200, "application/json", &nested(levels(r)))));
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert!(out.findings[0].description.contains("16 levels"));
        assert_eq!(probe.sent_count(), DEPTHS.len() + 1, "one re-measure");
    }

    #[tokio::test]
    async fn a_lost_answer_is_sent_once_more_before_it_ends_the_climb() {
        // The 10-level request is lost once (a connection dropped under it); sent again it
        // is answered, and the climb goes on to 16 levels.
        let ten = std::sync::atomic::AtomicUsize::new(0);
        let probe = FakeProbe::new().on_dynamic(move |r| {
            let lost =
                levels(r) == 10 && ten.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0;
            (!lost).then(|| response(200, "application/json", &nested(levels(r))))
        });
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        assert!(out.findings[0].description.contains("16 levels"));
        assert_eq!(probe.sent_count(), DEPTHS.len() + 1, "one resend");
    }

    #[tokio::test]
    async fn a_sender_whose_lists_hold_one_object_each_is_followed_by_the_next() {
        // Bob's lists hold one object each: his answers nest deep at no cost (no growth), so
        // the climb is tried again as alice, whose lists multiply.
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .latency(|r| match r.identity.as_str() {
                "alice" => multiplying(r),
                _ => 5,
            })
            .on_dynamic(|r| {
                let body = match r.identity.as_str() {
                    "alice" => nested(levels(r)).replace("\"pad\":\"", "\"pad\":\"xxxxxx"),
                    // Nested as deep as asked, one small object per level: no growth.
                    _ => {
                        let mut v = serde_json::json!({"__typename": "P"});
                        for i in 0..levels(r) {
                            v = serde_json::json!({ format!("f{i}"): v });
                        }
                        serde_json::json!({ "data": v }).to_string()
                    }
                };
                Some(response(200, "application/json", &body))
            });
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        let sent = probe.sent.lock().unwrap().clone();
        let as_bob = sent
            .iter()
            .skip(2)
            .take_while(|r| r.identity == "bob")
            .count();
        assert_eq!(as_bob, DEPTHS.len() - 1, "bob's whole climb first");
        let as_alice = &sent[2 + as_bob..];
        assert!(!as_alice.is_empty() && as_alice.iter().all(|r| r.identity == "alice"));
    }

    #[tokio::test]
    async fn the_climb_is_sent_as_the_identity_whose_lists_are_shorter() {
        // Alice's lists were filled by other writes: her answers are larger and grow ×16 per
        // two levels, too fast to reach eight levels; bob's grow ×4.
        let probe = FakeProbe::new()
            .identity("alice", &["alice"])
            .identity("bob", &["bob"])
            .latency(|r| match r.identity.as_str() {
                "alice" => 5u64 << (2 * levels(r) as u32),
                _ => multiplying(r),
            })
            .on_dynamic(|r| {
                let mut body = nested(levels(r));
                if r.identity == "alice" {
                    body = body.replace("\"pad\":\"", "\"pad\":\"xxxxxxxxxxxxxxxxxxxx");
                }
                Some(response(200, "application/json", &body))
            });
        let out = run(&probe).await;
        assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
        let sent = probe.sent.lock().unwrap().clone();
        assert!(sent.iter().skip(2).all(|r| r.identity == "bob"));
    }

    #[test]
    fn growth_needs_a_margin() {
        let s = |depth, ms, bytes| Step { depth, ms, bytes };
        assert!(time_grew(s(2, 10, 100), s(16, 400, 100)));
        assert!(!time_grew(s(2, 10, 100), s(16, 25, 100)));
        assert!(size_grew(s(2, 10, 100), s(16, 10, 900)));
        assert!(!size_grew(s(2, 10, 100), s(16, 10, 190)));
    }
}

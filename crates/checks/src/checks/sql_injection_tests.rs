use super::*;
use crate::fake::FakeProbe;
use crate::probe::{IdentityInfo, Probe};
use crate::similarity::response;
use middlebrick_model::{Inventory, Parameter, ResponseRecord, Schema, SpecVersion};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const JSON: &str = "application/json";
const ROWS: &str = r#"{"items":[{"id":1,"name":"Mug"},{"id":2,"name":"Big mug"}],"count":2}"#;
const EMPTY: &str = r#"{"items":[],"count":0}"#;

fn param(name: &str, location: ParamLocation, ty: SchemaType, example: &str) -> Parameter {
    Parameter {
        name: name.into(),
        location,
        required: false,
        schema: Arc::new(Schema::of_type(ty)),
        example: Some(Value::String(example.into())),
    }
}

fn search_op() -> Operation {
    let mut op = Operation::new(Method::Get, "/search");
    op.parameters
        .push(param("q", ParamLocation::Query, SchemaType::String, "mug"));
    op
}

fn query_value(r: &RequestSpec, name: &str) -> Option<String> {
    r.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

async fn run_with(probe: &dyn Probe, op: &Operation) -> Outcome {
    let inv = Inventory::empty(SpecVersion::OpenApi30);
    SqlInjection
        .run(&RunCtx {
            probe,
            inventory: &inv,
            op: Some(op),
        })
        .await
}

/// A search that pastes `q` into `name ILIKE '%q%'`: what PostgreSQL would answer.
fn vulnerable_like(q: &str, leak: bool) -> ResponseRecord {
    let pasted = format!("name ILIKE '%{q}%'");
    if pasted.matches('\'').count() % 2 == 1 {
        let body = if leak {
            r#"{"error":"unterminated quoted string at or near \"'%'\""}"#
        } else {
            r#"{"error":"internal_error"}"#
        };
        return response(500, JSON, body);
    }
    if q == "mug" || q == "mug%' AND '7%'>'6" {
        return response(200, JSON, ROWS);
    }
    response(200, JSON, EMPTY)
}

#[tokio::test]
async fn leaking_search_is_found_by_error_and_boolean_and_confirmed() {
    let probe =
        wrap(FakeProbe::new().on_dynamic(|r| Some(vulnerable_like(&query_value(r, "q")?, true))));
    let out = run_with(&probe, &search_op()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.confidence, Confidence::Confirmed);
    assert_eq!(f.parameter.as_deref(), Some("q"));
    assert!(f.description.contains("error-based"));
    assert!(f.description.contains("mug%' AND '7%'>'6"));
    assert!(f.description.contains("PostgreSQL"));
}

#[tokio::test]
async fn swallowed_errors_still_yield_to_the_boolean_pair() {
    let probe =
        wrap(FakeProbe::new().on_dynamic(|r| Some(vulnerable_like(&query_value(r, "q")?, false))));
    let out = run_with(&probe, &search_op()).await;
    let f = &out.findings[0];
    assert_eq!(f.confidence, Confidence::Confirmed);
    assert!(!f.description.contains("error-based"));
    assert!(f.description.contains("boolean-based (a LIKE pattern)"));
}

/// `vulnerable_like` (errors swallowed) on a list that another writer grows by one matching
/// row once `trigger` has been answered.
fn growing_search(bound: bool, trigger: &'static str) -> Wrap {
    const MORE: &str = r#"{"items":[{"id":1,"name":"Mug"},{"id":2,"name":"Big mug"},{"id":9,"name":"Mug 2"}],"count":3}"#;
    let grown = Arc::new(Mutex::new(false));
    wrap(FakeProbe::new().on_dynamic(move |r| {
        let q = query_value(r, "q")?;
        let mut grown = grown.lock().unwrap();
        let answer = match bound {
            true if q == "mug" => response(200, JSON, ROWS),
            true => response(200, JSON, EMPTY),
            false => vulnerable_like(&q, false),
        };
        if q.contains(trigger) {
            *grown = true;
        }
        let rows = answer.body.text == ROWS && *grown;
        Some(if rows {
            response(200, JSON, MORE)
        } else {
            answer
        })
    }))
}

#[tokio::test]
async fn a_list_that_grows_between_rounds_is_judged_against_a_fresh_control() {
    // Regression (clinic notes search): other checks add notes to the searched list while the
    // boolean rounds run; the second true answer differs from the first round's control.
    // Between the rounds (after the first false condition), between the control and the LIKE
    // context's first true condition (after the quoted context's true condition), and between
    // the two controls (after the first syntax breaker).
    for trigger in ["'6%'>'7", "mug' AND '7'>'6", "mug'"] {
        let out = run_with(&growing_search(false, trigger), &search_op()).await;
        assert_eq!(out.findings.len(), 1, "{trigger}: {:?}", out.findings);
        assert!(out.findings[0].description.contains("boolean-based"));
        let bound = run_with(&growing_search(true, trigger), &search_op()).await;
        assert!(bound.findings.is_empty(), "{trigger}: {:?}", bound.findings);
    }
}

#[tokio::test]
async fn bound_parameters_are_silent_even_when_they_raise_type_errors() {
    // A parameterised id lookup: quotes give PostgreSQL's *type* error, conditions a 400.
    let mut op = Operation::new(Method::Get, "/orders/{id}");
    op.parameters
        .push(param("id", ParamLocation::Path, SchemaType::Integer, "1"));
    let probe = wrap(FakeProbe::new().on_dynamic(|r| {
        let id = r.path.trim_start_matches("/orders/");
        Some(if id == "1" {
            response(200, JSON, r#"{"id":1,"total":9.5}"#)
        } else if id.parse::<i64>().is_ok() {
            response(404, JSON, r#"{"error":"not_found"}"#)
        } else {
            response(
                400,
                JSON,
                &format!(r#"{{"error":"invalid input syntax for type integer: \"{id}\""}}"#),
            )
        })
    }));
    assert!(run_with(&probe, &op).await.findings.is_empty());
    // the search twin: literal matching only
    let probe = wrap(FakeProbe::new().on_dynamic(|r| {
        let q = query_value(r, "q")?;
        Some(response(200, JSON, if q == "mug" { ROWS } else { EMPTY }))
    }));
    assert!(run_with(&probe, &search_op()).await.findings.is_empty());
}

#[tokio::test]
async fn an_answer_that_changes_by_itself_gives_no_boolean_evidence() {
    let n = Arc::new(Mutex::new(0u32));
    let probe = FakeProbe::new().on_dynamic(move |_| {
        let mut n = n.lock().unwrap();
        *n += 1;
        Some(response(
            200,
            JSON,
            &format!(r#"{{"items":[{{"id":{n}}}],"at":{n}}}"#),
        ))
    });
    assert!(run_with(&probe, &search_op()).await.findings.is_empty());
}

#[tokio::test]
async fn order_by_identifiers_are_proven_by_a_conditional_error() {
    let mut op = Operation::new(Method::Get, "/products");
    op.parameters.push(param(
        "sort",
        ParamLocation::Query,
        SchemaType::String,
        "name",
    ));
    let probe = wrap(FakeProbe::new().on_dynamic(|r| {
        let sort = query_value(r, "sort")?;
        Some(match sort.as_str() {
            "name" | "name,(CASE WHEN 7>6 THEN 1 ELSE 1/(SELECT 0) END)" => {
                response(200, JSON, ROWS)
            }
            s if s.contains("6>7") => response(500, JSON, r#"{"error":"internal_error"}"#),
            _ => response(500, JSON, r#"{"error":"internal_error"}"#),
        })
    }));
    let out = run_with(&probe, &op).await;
    assert_eq!(out.findings.len(), 1);
    assert!(out.findings[0].description.contains("ORDER BY"));
}

#[tokio::test]
async fn writes_get_only_syntax_breakers_and_only_in_active_mode() {
    let mut post = Operation::new(Method::Post, "/orders");
    post.request_body = Some(middlebrick_model::RequestBodySpec {
        required: true,
        content: [(
            "application/json".to_string(),
            Arc::new(Schema::of_type(SchemaType::Object)),
        )]
        .into_iter()
        .collect(),
    });
    let leaky = |r: &RequestSpec| {
        let text = format!("{:?}", r.body);
        Some(if text.contains("x'") {
            response(
                500,
                "text/plain",
                r#"psycopg.errors.SyntaxError: syntax error at or near "'""#,
            )
        } else {
            response(201, JSON, r#"{"id":9}"#)
        })
    };
    let mut probe = FakeProbe::new().on_dynamic(leaky);
    probe.mode = Mode::Safe;
    assert!(run_with(&probe, &post).await.findings.is_empty());
    assert_eq!(probe.sent_count(), 0, "safe mode sends no write at all");

    let mut probe = wrap(FakeProbe::new().on_dynamic(leaky));
    probe.mode = Mode::Active;
    probe.body = Some(serde_json::json!({"note": "x"}));
    let out = run_with(&probe, &post).await;
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].confidence, Confidence::Firm);
    let sent = probe.inner.sent.lock().unwrap();
    assert!(
        sent.len() <= 4,
        "breakers and their repeats only: {}",
        sent.len()
    );
    assert!(sent
        .iter()
        .all(|r| !format!("{:?}", r.body).contains("7>6")));
}

/// Delegates to a fake the way the engine's synthesiser would: parameters not overridden take
/// their example, an optional JSON body, and each exchange's time computed from the request
/// (what a database running `pg_sleep`, or an endpoint slow at random, would take).
type Latency = Box<dyn Fn(&RequestSpec, u64) -> u64 + Send + Sync>;

struct Wrap {
    inner: FakeProbe,
    latency: Latency,
    n: Mutex<u64>,
    mode: Mode,
    body: Option<Value>,
    /// When set, each send waits this long on the clock; with `flight`, the requests in flight
    /// now and at most.
    pause: Option<std::time::Duration>,
    flight: (AtomicUsize, AtomicUsize),
}

fn wrap(inner: FakeProbe) -> Wrap {
    Wrap {
        inner,
        latency: Box::new(|_, _| 20),
        n: Mutex::new(0),
        mode: Mode::Safe,
        body: None,
        pause: None,
        flight: (AtomicUsize::new(0), AtomicUsize::new(0)),
    }
}

#[async_trait]
impl Probe for Wrap {
    async fn send(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        if let Some(pause) = self.pause {
            let now = self.flight.0.fetch_add(1, Ordering::SeqCst) + 1;
            self.flight.1.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(pause).await;
            self.flight.0.fetch_sub(1, Ordering::SeqCst);
        }
        let mut ex = self.inner.send(req.clone()).await?;
        let mut n = self.n.lock().unwrap();
        *n += 1;
        ex.elapsed_ms = (self.latency)(&req, *n);
        Ok(ex)
    }
    fn request(&self, op: &Operation, identity: &str, o: &Overrides) -> RequestSpec {
        let mut r = self.inner.request(op, identity, o);
        for p in &op.parameters {
            let overridden = o.params.iter().any(|(_, n, _)| *n == p.name);
            let example = p.example.as_ref().and_then(text_of);
            if let (false, Some(example)) = (overridden, example) {
                match p.location {
                    ParamLocation::Query => {
                        for (k, v) in r.query.iter_mut() {
                            if *k == p.name {
                                *v = example.clone();
                            }
                        }
                    }
                    ParamLocation::Path => {
                        r.path = op.path.replace(&format!("{{{}}}", p.name), &example)
                    }
                    _ => {}
                }
            }
        }
        if let Some(b) = &self.body {
            r.body = Some(RequestBody::Json(b.clone()));
        }
        r
    }
    async fn baseline(&self, op: &Operation, id: &str) -> Result<Exchange, ProbeError> {
        self.send(self.request(op, id, &Overrides::none())).await
    }
    fn identities(&self) -> Vec<IdentityInfo> {
        Vec::new()
    }
    fn mode(&self) -> Mode {
        self.mode
    }
    fn observed(&self) -> Vec<Exchange> {
        Vec::new()
    }
    fn known_values(&self, _: &Operation, _: &str) -> Vec<(Value, Vec<String>)> {
        Vec::new()
    }
    async fn sign_in_account(&self, n: &str, u: &str, p: &str) -> Result<Exchange, ProbeError> {
        self.inner.sign_in_account(n, u, p).await
    }
}

fn slept(r: &RequestSpec) -> u64 {
    let q = query_value(r, "q").unwrap_or_default();
    if q.contains("pg_sleep(2)") {
        2_000
    } else if q.contains("pg_sleep(1)") {
        1_000
    } else {
        0
    }
}

#[tokio::test]
async fn the_targets_of_one_operation_are_tested_side_by_side_and_reported_in_order() {
    // `q` pastes into a LIKE, `sort` is bound: the chains overlap on the wire, and the
    // finding is the same as one after another.
    let mut op = search_op();
    op.parameters.push(param(
        "sort",
        ParamLocation::Query,
        SchemaType::String,
        "name",
    ));
    let mut probe =
        wrap(FakeProbe::new().on_dynamic(|r| Some(vulnerable_like(&query_value(r, "q")?, true))));
    probe.pause = Some(std::time::Duration::from_millis(2));
    let out = run_with(&probe, &op).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    assert_eq!(out.findings[0].parameter.as_deref(), Some("q"));
    // Both targets' chains overlap, and within one, its contexts' pairs and gates; never
    // more than the lanes of the one inside the other.
    let most = probe.flight.1.load(Ordering::SeqCst);
    assert!((2..=LANES * LANES).contains(&most), "{most} in flight");
}

#[tokio::test]
async fn time_based_needs_a_consistent_slope() {
    // Blind: every answer is the same list, errors and conditions change nothing visible.
    let mut probe = wrap(FakeProbe::new().on(|_| true, response(200, JSON, ROWS)));
    probe.latency = Box::new(|r, n| 30 + (n % 3) * 7 + slept(r));
    let out = run_with(&probe, &search_op()).await;
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.confidence, Confidence::Firm);
    assert!(f.description.contains("time-based"), "{}", f.description);
    assert!(probe.inner.sent_count() <= MAX_REQUESTS_PER_OPERATION + 3 * TRIALS);
}

#[tokio::test]
async fn a_randomly_slow_endpoint_is_never_a_time_based_finding() {
    for seed in 0..20u64 {
        let mut probe = wrap(FakeProbe::new().on(|_| true, response(200, JSON, ROWS)));
        // 0-1.5 s, pseudo-random, unrelated to the payload
        probe.latency = Box::new(move |_, n| (n * 7919 + seed * 104_729) % 1_500);
        assert!(
            run_with(&probe, &search_op()).await.findings.is_empty(),
            "seed {seed}"
        );
    }
}

#[test]
fn path_values_are_found_by_lining_up_the_template() {
    assert_eq!(
        path_value("/a/{id}/b", "/a/7/b", "id").as_deref(),
        Some("7")
    );
    assert_eq!(
        path_value("/f/{name}.json", "/f/x.json", "name").as_deref(),
        Some("x")
    );
    assert_eq!(path_value("/a/{id}", "/a/", "id"), None);
    // The filled path is percent-encoded; the value is not (else it is encoded twice).
    assert_eq!(
        path_value("/p/{name}", "/p/TeamR%24cket", "name").as_deref(),
        Some("TeamR$cket")
    );
}

#[test]
fn plan_follows_the_mode() {
    let ctx = |mode| PlanCtx {
        mode,
        identities: 2,
    };
    assert!(!SqlInjection.plan(&search_op(), ctx(Mode::Safe)).is_empty());
    assert!(SqlInjection
        .plan(&search_op(), ctx(Mode::Passive))
        .is_empty());
    let mut del = Operation::new(Method::Delete, "/notes/{id}");
    del.parameters
        .push(param("id", ParamLocation::Path, SchemaType::Integer, "1"));
    assert!(
        SqlInjection.plan(&del, ctx(Mode::Active)).is_empty(),
        "DELETE is never tested"
    );
}

#[test]
fn documented_body_properties_the_valid_request_leaves_out_are_targets_too() {
    let mut login = Operation::new(Method::Post, "/login");
    let mut body = Schema::of_type(SchemaType::Object);
    for (name, ty) in [
        ("username", SchemaType::String),
        ("password", SchemaType::String),
        ("remember", SchemaType::Boolean),
        ("attempts", SchemaType::Integer),
    ] {
        body.properties
            .insert(name.into(), Arc::new(Schema::of_type(ty)));
    }
    login.request_body = Some(middlebrick_model::RequestBodySpec {
        required: true,
        content: [("application/json".to_string(), Arc::new(body))]
            .into_iter()
            .collect(),
    });
    // No property is required, so the valid request is `{}`.
    let mut valid = RequestSpec::new(Method::Post, "/login");
    valid.body = Some(RequestBody::Json(serde_json::json!({})));
    let got: Vec<(String, bool)> = targets(&login, Mode::Active, &valid, &[])
        .into_iter()
        .map(|t| (t.name, t.numeric))
        .collect();
    assert_eq!(
        got,
        vec![
            ("username".to_string(), false),
            ("password".to_string(), false),
            ("attempts".to_string(), true)
        ]
    );
    // A property the valid request sends is a target once, with its own value.
    valid.body = Some(RequestBody::Json(serde_json::json!({"username": "mb"})));
    let names: Vec<String> = targets(&login, Mode::Active, &valid, &[])
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["username", "password", "attempts"]);
}

/// `searchProducts(term: String!, limit: Int)`, its arguments a JSON body's properties as
/// discovery makes them.
fn graphql_search() -> Operation {
    use middlebrick_model::{GraphqlArgument, GraphqlKind, GraphqlOperation, RequestBodySpec};
    let mut op = Operation::new(Method::Post, "/graphql");
    let mut body = Schema::of_type(SchemaType::Object);
    body.properties
        .insert("term".into(), Arc::new(Schema::of_type(SchemaType::String)));
    body.properties.insert(
        "limit".into(),
        Arc::new(Schema::of_type(SchemaType::Integer)),
    );
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: [(JSON.to_string(), Arc::new(body))].into_iter().collect(),
    });
    op.graphql = Some(GraphqlOperation {
        kind: GraphqlKind::Query,
        field: "searchProducts".into(),
        arguments: vec![
            GraphqlArgument {
                name: "term".into(),
                type_ref: "String!".into(),
            },
            GraphqlArgument {
                name: "limit".into(),
                type_ref: "Int".into(),
            },
        ],
        selection: "{ id name }".into(),
        returns: "Product".into(),
    });
    op
}

/// The variable `name` of a GraphQL request; a top-level property of the same name is not one.
fn variable(r: &RequestSpec, name: &str) -> Option<String> {
    match &r.body {
        Some(RequestBody::Json(v)) => v["variables"].get(name).and_then(text_of),
        _ => None,
    }
}

/// A search resolver that pastes `term` into `(name ILIKE '%term%' OR description ILIKE
/// '%term%')` (twice: a lone quote balances, so no parser error), or binds it.
fn graphql_like(term: Option<String>, bound: bool) -> ResponseRecord {
    const ALL: &str =
        r#"{"data":{"searchProducts":[{"id":"1","name":"Mug"},{"id":"2","name":"Pen"}]}}"#;
    const NONE: &str = r#"{"data":{"searchProducts":[]}}"#;
    let term = term.unwrap_or_default();
    let every_row =
        term.is_empty() || (!bound && ["' AND '7'>'6", "%' AND '7%'>'6"].contains(&term.as_str()));
    response(200, JSON, if every_row { ALL } else { NONE })
}

#[tokio::test]
async fn a_graphql_search_that_finds_nothing_is_proven_with_an_empty_value() {
    let probe = FakeProbe::new()
        .identity("alice", &["alice"])
        .on_dynamic(|r| Some(graphql_like(variable(r, "term"), false)));
    let out = run_with(&probe, &graphql_search()).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(f.parameter.as_deref(), Some("term"));
    assert_eq!(f.graphql_operation.as_deref(), Some("query searchProducts"));
    assert_eq!(f.confidence, Confidence::Confirmed);
    assert!(
        f.description.contains("GraphQL argument `term`") && f.description.contains("= ``"),
        "{}",
        f.description
    );
    // Every payload travelled as the variable, never beside it; `limit` (an Int) got none.
    for r in probe.sent.lock().unwrap().iter() {
        let Some(RequestBody::Json(body)) = &r.body else {
            panic!("no JSON body")
        };
        assert!(body.get("term").is_none() && body["variables"].get("limit").is_none());
    }
}

#[tokio::test]
async fn a_bound_graphql_search_is_silent() {
    let probe = FakeProbe::new()
        .identity("alice", &["alice"])
        .on_dynamic(|r| Some(graphql_like(variable(r, "term"), true)));
    let out = run_with(&probe, &graphql_search()).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

//! The catalogue's read checks on GraphQL operations, unchanged: a GraphQL server answers a
//! refusal with HTTP 200, `errors` and a `null` root field, which the checks must see as a
//! refusal (`ResponseRecord::is_success`), and the root field's data is what they compare.

use crate::checks::bola::Bola;
use crate::checks::missing_authentication::MissingAuthentication;
use crate::fake::FakeProbe;
use crate::similarity::response;
use crate::{Check, Outcome, RunCtx};
use middlebrick_model::{
    Confidence, GraphqlArgument, GraphqlKind, GraphqlOperation, Inventory, Method, Operation,
    RequestBody, RequestBodySpec, RequestSpec, Schema, SchemaType, Severity, SpecVersion,
    ANONYMOUS,
};
use std::sync::Arc;

const JSON: &str = "application/json";
const ALICES: &str = r#"{"data":{"order":{"id":"1","total":30,"owner":{"username":"alice","email":"alice@example.com"}}}}"#;
const REFUSED: &str =
    r#"{"errors":[{"message":"Not authorized","path":["order"]}],"data":{"order":null}}"#;
const NO_DATA: &str = r#"{"errors":[{"message":"You must sign in"}],"data":null}"#;

/// `query order(id: ID!)`, its argument a property of the JSON body as discovery makes it.
fn order_query() -> Operation {
    let mut op = Operation::new(Method::Post, "/graphql");
    let mut args = Schema::of_type(SchemaType::Object);
    args.properties
        .insert("id".into(), Arc::new(Schema::of_type(SchemaType::String)));
    args.required.push("id".into());
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: [(JSON.to_string(), Arc::new(args))].into_iter().collect(),
    });
    op.graphql = Some(GraphqlOperation {
        kind: GraphqlKind::Query,
        field: "order".into(),
        arguments: vec![GraphqlArgument {
            name: "id".into(),
            type_ref: "ID!".into(),
        }],
        selection: "{ id total owner { username email } }".into(),
        returns: "Order".into(),
    });
    op
}

/// The request asks for order 1, as a variable of the query.
fn asks_for_order_1(r: &RequestSpec) -> bool {
    match &r.body {
        Some(RequestBody::Json(v)) => {
            v["variables"]["id"] == serde_json::json!(1)
                && v["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("order(id: $id)"))
        }
        _ => false,
    }
}

async fn run(check: &dyn Check, p: &FakeProbe) -> Outcome {
    let inv = Inventory::empty(SpecVersion::OpenApi30);
    let op = order_query();
    check
        .run(&RunCtx {
            probe: p,
            inventory: &inv,
            op: Some(&op),
        })
        .await
}

fn bola_probe(bob_gets: &'static str) -> FakeProbe {
    let mut p = FakeProbe::new()
        .identity("alice", &["alice", "alice@example.com"])
        .identity("bob", &["bob", "bob@example.com"])
        .on(
            |r: &RequestSpec| r.identity == "alice" && asks_for_order_1(r),
            response(200, JSON, ALICES),
        )
        .on(
            |r: &RequestSpec| r.identity == "bob" && asks_for_order_1(r),
            response(200, JSON, bob_gets),
        )
        .on(
            |r: &RequestSpec| r.identity == ANONYMOUS,
            response(200, JSON, NO_DATA),
        );
    p.known = vec![("id".into(), serde_json::json!(1), vec!["alice".into()])];
    p
}

#[tokio::test]
async fn bola_fires_when_another_identitys_query_returns_the_owners_data() {
    let out = run(&Bola, &bola_probe(ALICES)).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.diagnostics);
    let f = &out.findings[0];
    assert_eq!(
        (f.severity, f.confidence),
        (Severity::High, Confidence::Confirmed)
    );
    assert_eq!(f.method, Some(Method::Post));
    assert_eq!(f.path.as_deref(), Some("/graphql"));
    assert_eq!(f.graphql_operation.as_deref(), Some("query order"));
    assert_eq!(f.location(), "POST /graphql query order");
    // The status stays what the server said.
    assert!(f.evidence.exchanges.iter().all(|e| e.status() == Some(200)));
}

#[tokio::test]
async fn bola_is_silent_when_the_other_identity_gets_errors_and_null_data() {
    for refusal in [REFUSED, NO_DATA] {
        let out = run(&Bola, &bola_probe(refusal)).await;
        assert!(out.findings.is_empty(), "{refusal}");
    }
}

fn auth_probe(anonymous_gets: &'static str) -> FakeProbe {
    FakeProbe::new()
        .identity("alice", &["alice", "alice@example.com"])
        .identity("bob", &["bob", "bob@example.com"])
        .on(
            |r: &RequestSpec| r.identity == "alice",
            response(200, JSON, ALICES),
        )
        .on(
            |r: &RequestSpec| r.identity == "bob",
            response(200, JSON, REFUSED),
        )
        .on(
            |r: &RequestSpec| r.identity == ANONYMOUS,
            response(200, JSON, anonymous_gets),
        )
}

#[tokio::test]
async fn missing_authentication_fires_when_an_anonymous_query_gets_the_accounts_data() {
    let out = run(&MissingAuthentication, &auth_probe(ALICES)).await;
    assert_eq!(out.findings.len(), 1);
    let f = &out.findings[0];
    assert_eq!(f.graphql_operation.as_deref(), Some("query order"));
    assert_eq!(f.evidence.exchanges[0].identity, ANONYMOUS);
}

#[tokio::test]
async fn missing_authentication_is_silent_when_anonymous_gets_errors_and_null_data() {
    for refusal in [REFUSED, NO_DATA] {
        let out = run(&MissingAuthentication, &auth_probe(refusal)).await;
        assert!(out.findings.is_empty(), "{refusal}");
    }
}

#[test]
fn fingerprints_tell_graphql_operations_of_one_endpoint_apart() {
    let order = order_query();
    let mut orders = order_query();
    orders.graphql.as_mut().unwrap().field = "orders".into();
    let meta = Bola.meta();
    let finding = |op: &Operation| {
        meta.finding(
            Some(op),
            "id",
            Severity::High,
            Confidence::Firm,
            String::new(),
            middlebrick_model::Evidence::default(),
        )
    };
    assert_ne!(finding(&order).id, finding(&orders).id);
    assert_eq!(finding(&order).id, finding(&order_query()).id);
}

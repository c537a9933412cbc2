//! Rules of `stateful.rs`: state conflicts, producers inferred from the spec, and the bounded
//! order in which candidate objects are tried.

use super::*;
use crate::fake::FakeProbe;
use crate::similarity::response;
use middlebrick_model::{
    ParamLocation, Parameter, RequestSpec, ResponseSpec, SchemaType, SpecVersion,
};
use serde_json::json;
use std::sync::Arc;

fn op(method: Method, path: &str) -> Operation {
    let mut op = Operation::new(method, path);
    let names: Vec<String> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect();
    for name in names {
        op.parameters.push(Parameter {
            name,
            location: ParamLocation::Path,
            required: true,
            schema: Arc::new(Schema::of_type(SchemaType::Integer)),
            example: None,
        });
    }
    op
}

fn answering(mut op: Operation, schema: Schema) -> Operation {
    op.responses.push(ResponseSpec {
        status: "201".into(),
        media_type: Some("application/json".into()),
        schema: Some(Arc::new(schema)),
    });
    op
}

fn object(props: &[(&str, Schema)]) -> Schema {
    let mut s = Schema::of_type(SchemaType::Object);
    for (k, v) in props {
        s.properties.insert(k.to_string(), Arc::new(v.clone()));
    }
    s
}

fn int() -> Schema {
    Schema::of_type(SchemaType::Integer)
}

fn ex(status: u16, body: &str) -> Exchange {
    let req = RequestSpec::new(Method::Post, "/x");
    crate::fake::exchange_for(&req, Some(response(status, "application/json", body)))
}

#[test]
fn state_conflicts_are_409_or_a_refusal_that_names_the_state() {
    assert!(is_state_conflict(&ex(409, "{}")));
    assert!(is_state_conflict(&ex(
        422,
        r#"{"detail":"Order already paid"}"#
    )));
    assert!(is_state_conflict(&ex(
        400,
        r#"{"error":"coupon has been used"}"#
    )));
    assert!(!is_state_conflict(&ex(
        400,
        r#"{"error":"amount must be positive"}"#
    )));
    assert!(!is_state_conflict(&ex(404, r#"{"error":"already gone"}"#)));
}

#[test]
fn the_producer_is_the_collections_post_or_an_answer_that_yields_the_id() {
    let pay = op(Method::Post, "/orders/{order_id}/pay");
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![pay.clone(), op(Method::Post, "/orders")];
    assert_eq!(producer(&inv, &pay, "order_id").unwrap().path, "/orders");

    let use_card = op(Method::Post, "/wallet/{cardId}/charge");
    inv.operations = vec![
        use_card.clone(),
        answering(
            op(Method::Post, "/wallet/topup"),
            object(&[("amount", int())]),
        ),
        answering(
            op(Method::Post, "/wallet/issue"),
            object(&[("data", object(&[("card", object(&[("id", int())]))]))]),
        ),
    ];
    assert_eq!(
        producer(&inv, &use_card, "cardId").unwrap().path,
        "/wallet/issue",
        "`id` inside `card` inside a `data` wrapper yields cardId"
    );
    inv.operations = vec![use_card.clone()];
    assert!(producer(&inv, &use_card, "cardId").is_none());
}

fn inventory() -> Inventory {
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![
        op(Method::Post, "/orders/{order_id}/pay"),
        answering(op(Method::Post, "/orders"), object(&[("id", int())])),
    ];
    inv
}

async fn candidates_in(mode: Mode) -> (Vec<serde_json::Value>, usize) {
    let inv = inventory();
    let mut p = FakeProbe::new().identity("alice", &["alice"]).on(
        |r: &RequestSpec| r.path == "/orders",
        response(201, "application/json", r#"{"data":{"id":99}}"#),
    );
    p.mode = mode;
    for v in [1, 2, 3, 4] {
        p.known
            .push(("order_id".into(), json!(v), vec!["alice".into()]));
    }
    p.known
        .push(("order_id".into(), json!(50), vec!["bob".into()]));
    let ctx = RunCtx {
        probe: &p,
        inventory: &inv,
        op: Some(&inv.operations[0]),
    };
    let mut c = Candidates::new();
    let mut got = Vec::new();
    while let Some(v) = c
        .next(&ctx, &inv.operations[0], "order_id", "alice")
        .await
        .unwrap()
    {
        got.push(v);
    }
    (got, p.sent_count())
}

#[tokio::test]
async fn candidates_are_an_owned_object_then_a_fresh_one_then_others_bounded() {
    let (got, sent) = candidates_in(Mode::Disposable).await;
    assert_eq!(got, vec![json!(1), json!(99), json!(2)]);
    assert_eq!(sent, 1, "one creation request");
}

#[tokio::test]
async fn active_mode_offers_a_fresh_object_before_the_identitys_own() {
    let (got, sent) = candidates_in(Mode::Active).await;
    assert_eq!(got, vec![json!(99), json!(1), json!(2)]);
    assert_eq!(sent, 1, "one creation request");
}

#[tokio::test]
async fn no_fresh_objects_outside_active_mode() {
    let inv = inventory();
    let p = FakeProbe::new().identity("alice", &["alice"]);
    let ctx = RunCtx {
        probe: &p,
        inventory: &inv,
        op: Some(&inv.operations[0]),
    };
    let mut c = Candidates::new();
    assert_eq!(
        c.next(&ctx, &inv.operations[0], "order_id", "alice")
            .await
            .unwrap(),
        None
    );
    assert_eq!(p.sent_count(), 0);
}

//! The gate on GraphQL operations (`ledger.rs`): a query is a read even though it is POSTed,
//! a mutation is judged by the objects its arguments name.

use super::*;
use middlebrick_model::{
    BodyRecord, GraphqlArgument, GraphqlKind, GraphqlOperation, RequestRecord, ResponseRecord,
};
use serde_json::json;

fn gql(kind: GraphqlKind, field: &str, args: &[(&str, &str)]) -> Operation {
    let mut op = Operation::new(Method::Post, "/graphql");
    op.graphql = Some(GraphqlOperation {
        kind,
        field: field.into(),
        arguments: args
            .iter()
            .map(|(n, t)| GraphqlArgument {
                name: n.to_string(),
                type_ref: t.to_string(),
            })
            .collect(),
        selection: "{ id }".into(),
        returns: "Order".into(),
    });
    op
}

fn inv() -> Inventory {
    let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi30);
    inv.operations = vec![
        gql(GraphqlKind::Query, "order", &[("id", "ID!")]),
        gql(GraphqlKind::Query, "resetDemo", &[]),
        gql(GraphqlKind::Mutation, "createOrder", &[("total", "Int!")]),
        gql(
            GraphqlKind::Mutation,
            "updateOrder",
            &[("input", "OrderInput!")],
        ),
        gql(GraphqlKind::Mutation, "cancelOrder", &[("orderId", "Int!")]),
        gql(
            GraphqlKind::Mutation,
            "updateProfile",
            &[("name", "String")],
        ),
        gql(GraphqlKind::Mutation, "resetDatabase", &[]),
    ];
    inv
}

fn req(inv: &Inventory, field: &str, variables: serde_json::Value) -> RequestSpec {
    let op = inv
        .operations
        .iter()
        .find(|o| o.graphql.as_ref().unwrap().field == field)
        .unwrap();
    let g = op.graphql.as_ref().unwrap();
    let mut r = RequestSpec::new(Method::Post, "/graphql").as_identity("alice");
    r.operation = Some(op.key());
    r.body = Some(middlebrick_model::RequestBody::Json(
        json!({"query": g.document(), "variables": variables}),
    ));
    r.graphql = Some(g.request());
    r
}

fn alice() -> Actor {
    Actor {
        name: "alice".into(),
        registered: false,
        own: SelfKnowledge::default(),
    }
}

fn judge(l: &Ledger, mode: Mode, r: &RequestSpec, who: &Actor) -> Result<(), String> {
    l.judge(
        mode,
        &inv(),
        r,
        who,
        &Accounts::default(),
        &Exempt::default(),
    )
}

#[test]
fn a_query_is_a_read_and_a_query_named_for_a_state_change_is_not() {
    let (l, inv) = (Ledger::default(), inv());
    let read = req(&inv, "order", json!({"id": "5"}));
    assert!(judge(&l, Mode::Safe, &read, &alice()).is_ok());
    let reset = req(&inv, "resetDemo", json!({}));
    assert!(judge(&l, Mode::Safe, &reset, &alice()).is_err());
    // A check's own document that holds a mutation is a write, whatever the mark says.
    let mut sneaky = read.clone();
    sneaky.body = Some(middlebrick_model::RequestBody::Json(
        json!({"query": "mutation { resetDatabase }"}),
    ));
    assert!(sneaky.changes_state());
    assert!(judge(&l, Mode::Safe, &sneaky, &alice()).is_err());
}

#[test]
fn mutations_touch_only_the_scans_objects_in_active_mode() {
    let (l, inv) = (Ledger::default(), inv());
    let who = alice();
    // Another's order, named by a top-level argument or inside an input object: refused.
    let cancel = req(&inv, "cancelOrder", json!({"orderId": 5}));
    assert!(judge(&l, Mode::Active, &cancel, &who).is_err());
    let update = req(&inv, "updateOrder", json!({"input": {"id": 5, "total": 1}}));
    assert!(judge(&l, Mode::Active, &update, &who).is_err());
    // A configured identity's own profile: an account the scan did not register.
    let profile = req(&inv, "updateProfile", json!({"name": "x"}));
    assert!(judge(&l, Mode::Active, &profile, &who).is_err());
    // Wiping the application: disposable mode only.
    let wipe = req(&inv, "resetDatabase", json!({}));
    assert!(judge(&l, Mode::Active, &wipe, &who).is_err());
    // A creation passes, and the order it made may then be changed.
    let create = req(&inv, "createOrder", json!({"total": 3}));
    assert!(judge(&l, Mode::Active, &create, &who).is_ok());
    let text = r#"{"data":{"createOrder":{"id":5}}}"#;
    let ex = Exchange {
        identity: "alice".into(),
        request: RequestRecord {
            method: Method::Post,
            url: "http://127.0.0.1/graphql".into(),
            headers: Vec::new(),
            body: None,
        },
        response: Some(ResponseRecord {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: BodyRecord {
                size: text.len() as u64,
                text: text.into(),
                truncated: false,
            },
            graphql_field: Some("createOrder".into()),
        }),
        redirects: Vec::new(),
        error: None,
        elapsed_ms: 0,
    };
    let op = &inv.operations[2];
    l.record(&inv, Some(op), &Exempt::default(), &ex);
    assert!(judge(&l, Mode::Active, &cancel, &who).is_ok());
    assert!(judge(&l, Mode::Active, &update, &who).is_ok());
    assert!(judge(&l, Mode::Disposable, &profile, &who).is_ok());
}

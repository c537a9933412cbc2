//! The write half of `authz.bfla` on GraphQL mutations: a mutation the schema describes as
//! reserved for a role, verified by its effect (an account's role read back through `me`, a
//! created object read back through the query that returns its type).

use super::super::Bfla;
use crate::check::{Check, RunCtx};
use crate::fake::FakeProbe;
use crate::similarity::response;
use middlebrick_model::{
    Finding, GraphqlArgument, GraphqlKind, GraphqlOperation, Inventory, Method, Operation,
    RequestBody, RequestBodySpec, RequestSpec, Schema, SchemaType, SpecVersion,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const JSON: &str = "application/json";
const FORBIDDEN: &str = r#"{"data":null,"errors":[{"message":"Administrator role required","extensions":{"code":"FORBIDDEN"}}]}"#;

/// A root field of `/graphql`, its arguments the properties of the JSON body as discovery
/// makes them.
fn field(
    kind: GraphqlKind,
    name: &str,
    args: &[(&str, &str)],
    returns: &str,
    about: &str,
) -> Operation {
    let mut op = Operation::new(Method::Post, "/graphql");
    let mut body = Schema::of_type(SchemaType::Object);
    for (arg, ty) in args {
        let t = if ty.starts_with("Int") {
            SchemaType::Integer
        } else {
            SchemaType::String
        };
        body.properties
            .insert((*arg).into(), Arc::new(Schema::of_type(t)));
    }
    op.request_body = Some(RequestBodySpec {
        required: true,
        content: [(JSON.to_string(), Arc::new(body))].into_iter().collect(),
    });
    op.description = Some(about.into());
    op.graphql = Some(GraphqlOperation {
        kind,
        field: name.into(),
        arguments: args
            .iter()
            .map(|(n, t)| GraphqlArgument {
                name: (*n).into(),
                type_ref: (*t).into(),
            })
            .collect(),
        selection: "{ id }".into(),
        returns: returns.into(),
    });
    op
}

fn asks(r: &RequestSpec, name: &str) -> Option<Value> {
    match (&r.graphql, &r.body) {
        (Some(g), Some(RequestBody::Json(v))) if g.field == name => Some(v["variables"].clone()),
        _ => None,
    }
}

async fn run(p: &FakeProbe, inv: &Inventory) -> Vec<Finding> {
    Bfla.run(&RunCtx {
        probe: p,
        inventory: inv,
        op: Some(&inv.operations[0]),
    })
    .await
    .findings
}

/// `setUserRole(userId: ID!, role: String!)` (no enum: the server checks the value) and `me`;
/// the mutation works for anyone (`vulnerable`) or answers FORBIDDEN.
fn roles(vulnerable: bool, about: &str) -> (Inventory, FakeProbe) {
    let set = field(
        GraphqlKind::Mutation,
        "setUserRole",
        &[("userId", "ID!"), ("role", "String!")],
        "User",
        about,
    );
    let me = field(
        GraphqlKind::Query,
        "me",
        &[],
        "User",
        "The signed-in account.",
    );
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![set, me];
    let role = Arc::new(Mutex::new(String::from("customer")));
    let (r1, r2) = (role.clone(), role);
    let p = FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .on(
            |r: &RequestSpec| r.path == "/fake-register",
            response(201, JSON, "{}"),
        )
        .on_dynamic(move |r: &RequestSpec| {
            let vars = asks(r, "setUserRole")?;
            if !vulnerable || vars["userId"] != json!("77") {
                return Some(response(200, JSON, FORBIDDEN));
            }
            *r1.lock().unwrap() = vars["role"].as_str().unwrap_or("").into();
            let body = json!({"data": {"setUserRole": {"id": "77", "role": vars["role"]}}});
            Some(response(200, JSON, &body.to_string()))
        })
        .on_dynamic(move |r: &RequestSpec| {
            asks(r, "me")?;
            let body = json!({"data": {"me": {"id": "77", "role": *r2.lock().unwrap()}}});
            Some(response(200, JSON, &body.to_string()))
        });
    (inv, p)
}

#[tokio::test]
async fn a_regular_identity_setting_a_role_through_a_mutation_is_confirmed() {
    let (inv, p) = roles(true, "Change an account's role (admin role).");
    let found = run(&p, &inv).await;
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.graphql_operation.as_deref(), Some("mutation setUserRole"));
    assert!(f.description.contains("\"admin\""), "{}", f.description);
    // The role was changed on the account the scan registered, by the regular identity.
    assert_eq!(f.evidence.exchanges[1].identity, "alice");
    let (inv, p) = roles(false, "Change an account's role (admin role).");
    assert!(run(&p, &inv).await.is_empty());
}

#[tokio::test]
async fn a_mutation_the_schema_does_not_reserve_is_not_tried() {
    let (inv, p) = roles(true, "Change an account's role.");
    assert!(run(&p, &inv).await.is_empty());
    assert_eq!(p.sent_count(), 0);
}

/// `createProduct(sku:, name:)` and `product(id: ID!)`, both of type `Product`.
fn catalogue(vulnerable: bool) -> (Inventory, FakeProbe) {
    let create = field(
        GraphqlKind::Mutation,
        "createProduct",
        &[("sku", "String!"), ("name", "String!")],
        "Product",
        "Add a catalogue item (admin role).",
    );
    let read = field(
        GraphqlKind::Query,
        "product",
        &[("id", "ID!")],
        "Product",
        "One catalogue item (public).",
    );
    let mut inv = Inventory::empty(SpecVersion::OpenApi30);
    inv.operations = vec![create, read];
    let stored = Arc::new(Mutex::new(json!({"sku": "MUG-1", "name": "Mug"})));
    let (n1, n2) = (stored.clone(), stored);
    let p = FakeProbe::new()
        .identity("alice", &["alice"])
        .identity("bob", &["bob"])
        .on_dynamic(move |r: &RequestSpec| {
            let vars = asks(r, "createProduct")?;
            if !vulnerable {
                return Some(response(200, JSON, FORBIDDEN));
            }
            *n1.lock().unwrap() = vars.clone();
            let body = json!({"data": {"createProduct": {"id": "5", "sku": vars["sku"]}}});
            Some(response(200, JSON, &body.to_string()))
        })
        .on_dynamic(move |r: &RequestSpec| {
            let vars = asks(r, "product")?;
            if vars["id"] != json!("5") {
                return Some(response(200, JSON, r#"{"data":{"product":null}}"#));
            }
            let product = n2.lock().unwrap().clone();
            let body = json!({"data": {"product": {"id": "5", "sku": product["sku"], "name": product["name"]}}});
            Some(response(200, JSON, &body.to_string()))
        });
    (inv, p)
}

#[tokio::test]
async fn a_regular_identitys_created_object_read_back_through_a_query_is_confirmed() {
    let (inv, p) = catalogue(true);
    let found = run(&p, &inv).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].graphql_operation.as_deref(),
        Some("mutation createProduct")
    );
    // The fake records a body as its debug text.
    let read_back = &found[0].evidence.exchanges[1].request;
    let sent = &read_back.body.as_ref().expect("body").text;
    assert!(sent.contains("product(id: $id)"), "{sent}");
    assert!(sent.contains(r#""id": String("5")"#), "{sent}");
    let (inv, p) = catalogue(false);
    assert!(run(&p, &inv).await.is_empty());
}

//! Harvesting and matching rules of the id pool (`pool.rs`, `harvest.rs`).

use super::*;
use middlebrick_model::Method;
use serde_json::json;
use std::sync::Arc;

fn op(method: Method, path: &str) -> Operation {
    let mut op = Operation::new(method, path);
    for name in placeholders(path) {
        op.parameters.push(param(name, SchemaType::Integer));
    }
    op
}

fn param(name: &str, ty: SchemaType) -> Parameter {
    Parameter {
        name: name.to_string(),
        location: ParamLocation::Path,
        required: true,
        schema: Arc::new(Schema::of_type(ty)),
        example: None,
    }
}

fn with_param_type(mut op: Operation, name: &str, schema: Schema) -> Operation {
    for p in op.parameters.iter_mut().filter(|p| p.name == name) {
        p.schema = Arc::new(schema.clone());
    }
    op
}

fn get(path: &str) -> Operation {
    op(Method::Get, path)
}

fn values(c: Vec<(Value, String)>) -> Vec<Value> {
    c.into_iter().map(|(v, _)| v).collect()
}

#[test]
fn collection_items_fill_the_item_parameter_newest_first() {
    let mut pool = IdPool::new();
    pool.harvest(&get("/api/orders"), "alice", &json!([{"id": 1}, {"id": 2}]));
    let item = get("/api/orders/{order_id}");
    assert_eq!(pool.value_for(&item, "order_id", "alice"), Some(json!(2)));
    assert_eq!(
        values(pool.candidates(&item, "order_id", "alice")),
        vec![json!(2), json!(1)]
    );
}

#[test]
fn envelopes_are_unwrapped() {
    for body in [
        json!({"data": [{"id": 7}]}),
        json!({"items": [{"id": 7}], "total": 1}),
        json!({"results": [{"id": 7}], "next": null}),
        json!({"orders": [{"id": 7}], "count": 1}),
        json!({"data": {"items": [{"id": 7}]}}),
        json!({"_embedded": {"orders": [{"id": 7}]}}),
        json!({"page": 1, "whatever": [{"id": 7}]}),
    ] {
        let mut pool = IdPool::new();
        pool.harvest(&get("/orders"), "a", &body);
        let item = get("/orders/{id}");
        assert_eq!(pool.value_for(&item, "id", "a"), Some(json!(7)), "{body}");
    }
}

#[test]
fn single_object_answers_belong_to_their_collection() {
    let mut pool = IdPool::new();
    pool.harvest(
        &op(Method::Post, "/orders"),
        "a",
        &json!({"id": 8, "total": 3}),
    );
    pool.harvest(&get("/orders/{id}"), "a", &json!({"data": {"id": 9}}));
    let item = op(Method::Patch, "/orders/{order_id}");
    assert_eq!(
        values(pool.candidates(&item, "order_id", "a")),
        vec![json!(9), json!(8)]
    );
}

#[test]
fn nested_resources_use_the_chosen_parent() {
    let mut pool = IdPool::new();
    pool.harvest(&get("/users"), "a", &json!([{"id": 5}, {"id": 6}]));
    let orders = get("/users/{user_id}/orders");
    pool.harvest_at(&orders, "/users/5/orders", "a", &json!([{"id": 50}]));
    pool.harvest_at(&orders, "/users/6/orders", "a", &json!([{"id": 60}]));
    pool.harvest_at(&orders, "/users/5/orders", "a", &json!([{"id": 51}]));
    let item = get("/users/{user_id}/orders/{order_id}");
    assert_eq!(pool.value_for(&item, "user_id", "a"), Some(json!(6)));
    assert_eq!(pool.value_for(&item, "order_id", "a"), Some(json!(60)));
    let parents = vec![("user_id".to_string(), "5".to_string())];
    let under_5 = values(pool.ranked(&item, "order_id", "a", &parents));
    assert_eq!(&under_5[..2], &[json!(51), json!(50)]);
}

#[test]
fn fields_match_by_normalised_name_anywhere() {
    let mut pool = IdPool::new();
    let body = json!([{"id": 1, "customer_id": 42, "lines": [{"productId": 77}]}]);
    pool.harvest(&get("/invoices"), "a", &body);
    let customer = get("/customers/{customerId}");
    assert_eq!(
        pool.value_for(&customer, "customerId", "a"),
        Some(json!(42))
    );
    let product = get("/products/{ProductID}");
    assert_eq!(pool.value_for(&product, "ProductID", "a"), Some(json!(77)));
    // A bare `{id}` is named after its segment.
    let by_segment = get("/customers/{id}");
    assert_eq!(pool.value_for(&by_segment, "id", "a"), Some(json!(42)));
}

#[test]
fn ids_under_a_segment_match_the_stem() {
    let mut pool = IdPool::new();
    let body = json!({"id": 1, "category": {"id": 9}, "boxes": [{"id": 3}]});
    pool.harvest(&get("/things/{id}"), "a", &body);
    assert_eq!(
        pool.value_for(&get("/categories/{category_id}"), "category_id", "a"),
        Some(json!(9))
    );
    assert_eq!(
        pool.value_for(&get("/boxes/{boxId}"), "boxId", "a"),
        Some(json!(3))
    );
    assert_eq!(
        pool.value_for(&get("/x/{category_id}"), "category_id", "a"),
        Some(json!(9))
    );
    // Envelopes do not name what they hold.
    let mut pool = IdPool::new();
    pool.harvest(&get("/pets"), "a", &json!({"data": [{"id": 4}]}));
    assert_eq!(
        pool.value_for(&get("/owners/{pet_id}"), "pet_id", "a"),
        Some(json!(4))
    );
}

#[test]
fn values_must_fit_the_parameter_schema() {
    let uuid = "123e4567-e89b-12d3-a456-426614174000";
    let mut pool = IdPool::new();
    pool.harvest(&get("/docs"), "a", &json!([{"id": uuid}, {"id": "17"}]));
    let int_op = get("/docs/{doc_id}");
    assert_eq!(
        values(pool.candidates(&int_op, "doc_id", "a")),
        vec![json!(17)]
    );
    let mut uuid_schema = Schema::of_type(SchemaType::String);
    uuid_schema.format = Some("uuid".into());
    let uuid_op = with_param_type(get("/docs/{doc_id}"), "doc_id", uuid_schema);
    assert_eq!(
        values(pool.candidates(&uuid_op, "doc_id", "a")),
        vec![json!(uuid)]
    );
    let mut bounded = Schema::of_type(SchemaType::Integer);
    bounded.minimum = Some(100.0);
    let bounded_op = with_param_type(get("/docs/{doc_id}"), "doc_id", bounded);
    assert_eq!(pool.value_for(&bounded_op, "doc_id", "a"), None);
    let str_op = with_param_type(
        get("/n/{doc_id}"),
        "doc_id",
        Schema::of_type(SchemaType::String),
    );
    let mut pool = IdPool::new();
    pool.harvest(&get("/n"), "a", &json!([{"id": 3}]));
    assert_eq!(pool.value_for(&str_op, "doc_id", "a"), Some(json!("3")));
}

#[test]
fn the_asking_identity_is_preferred() {
    let mut pool = IdPool::new();
    let list = get("/notes");
    pool.harvest(&list, "alice", &json!([{"id": 1}]));
    pool.harvest(&list, "bob", &json!([{"id": 2}]));
    let item = get("/notes/{note_id}");
    assert_eq!(pool.value_for(&item, "note_id", "alice"), Some(json!(1)));
    assert_eq!(pool.value_for(&item, "note_id", "bob"), Some(json!(2)));
    assert_eq!(pool.value_for(&item, "note_id", "carol"), Some(json!(2)));
    assert_eq!(
        pool.candidates(&item, "note_id", "alice"),
        vec![
            (json!(1), "alice".to_string()),
            (json!(2), "bob".to_string())
        ]
    );
}

#[test]
fn usernames_slugs_registered_names_and_scalar_items() {
    let mut pool = IdPool::new();
    pool.harvest(
        &get("/users"),
        "a",
        &json!([{"id": 1, "username": "alice"}]),
    );
    let by_name = with_param_type(
        get("/users/{username}"),
        "username",
        Schema::of_type(SchemaType::String),
    );
    assert_eq!(
        pool.value_for(&by_name, "username", "a"),
        Some(json!("alice"))
    );

    let book = with_param_type(
        get("/books/{isbn}"),
        "isbn",
        Schema::of_type(SchemaType::String),
    );
    pool.harvest(&get("/shelf"), "a", &json!({"books": [{"isbn": "978-3"}]}));
    assert_eq!(pool.value_for(&book, "isbn", "a"), None);
    pool.register_operations(std::slice::from_ref(&book));
    pool.harvest(&get("/shelf"), "a", &json!({"books": [{"isbn": "978-3"}]}));
    assert_eq!(pool.value_for(&book, "isbn", "a"), Some(json!("978-3")));

    pool.harvest(&get("/tags"), "a", &json!(["red", "blue"]));
    let tag = with_param_type(
        get("/tags/{tag}"),
        "tag",
        Schema::of_type(SchemaType::String),
    );
    assert_eq!(pool.value_for(&tag, "tag", "a"), Some(json!("blue")));
}

#[test]
fn secrets_and_delete_answers_are_not_harvested() {
    let mut pool = IdPool::new();
    let body =
        json!({"access_token": "abc", "api_key": "k-1", "session_id": 5, "refresh_token_id": 3});
    pool.harvest(&op(Method::Post, "/login"), "a", &body);
    assert!(pool.is_empty(), "{pool:?}");
    pool.harvest(
        &op(Method::Delete, "/orders/{id}"),
        "a",
        &json!({"id": 4, "user_id": 1}),
    );
    assert!(pool.is_empty());
    pool.harvest(
        &get("/x"),
        "a",
        &json!({"id": 1.5, "flag": true, "id2": null}),
    );
    assert!(pool.is_empty());
}

#[test]
fn one_identity_cannot_crowd_another_out_of_a_key() {
    let mut pool = IdPool::new();
    let list = get("/items");
    pool.harvest(&list, "bob", &json!([{"id": 1}]));
    for chunk in 0..10 {
        let items: Vec<Value> = (0..50)
            .map(|i| json!({"id": 1000 + chunk * 50 + i}))
            .collect();
        pool.harvest(&list, "alice", &Value::Array(items));
    }
    let item = get("/items/{id}");
    assert_eq!(pool.value_for(&item, "id", "bob"), Some(json!(1)));
    assert!(pool.max_bucket() <= PER_KEY);
}

#[test]
fn memory_is_bounded_whatever_the_answers() {
    let mut pool = IdPool::new();
    let huge: Vec<Value> = (0..100_000)
        .map(|i| json!({"id": i, "owner_id": i * 7, "slug": format!("s-{i}"), "nested": {"id": i}}))
        .collect();
    let huge = Value::Array(huge);
    for n in 0..200 {
        let list = get(&format!("/collection{n}/items"));
        pool.harvest(&list, &format!("identity{}", n % 3), &huge);
    }
    let wide: serde_json::Map<String, Value> = (0..100_000)
        .map(|i| (format!("thing{i}_id"), json!(i)))
        .collect();
    pool.harvest(&get("/wide"), "a", &Value::Object(wide));
    assert!(pool.len() <= MAX_VALUES, "{}", pool.len());
    assert!(pool.max_bucket() <= PER_KEY);
    assert!(pool.approx_bytes() < 4 << 20, "{}", pool.approx_bytes());
    // Still useful after all that eviction: the newest collection is known.
    let item = get("/collection199/items/{id}");
    assert!(pool.value_for(&item, "id", "identity1").is_some());
}

#[test]
fn lookup_keys_follow_rule_order() {
    let item = get("/users/{user_id}/orders/{order_id}");
    let parents = vec![("user_id".to_string(), "5".to_string())];
    let keys = lookup_keys(&item, "order_id", &parents);
    let c = |p: &str, f: &str| Key::Collection(p.into(), f.into());
    assert_eq!(
        &keys[..6],
        &[
            c("/users/5/orders", "orderid"),
            c("/users/5/orders", "id"),
            c("/users/5/orders", ""),
            c("/users/{user_id}/orders", "orderid"),
            c("/users/{user_id}/orders", "id"),
            c("/users/{user_id}/orders", ""),
        ]
    );
    assert_eq!(keys[6], Key::Name("orderid".into()));
    assert!(keys.contains(&Key::Segment("orders".into())));
}

#[test]
fn single_objects_are_read_inside_nested_wrappers() {
    let mut pool = IdPool::new();
    let body = json!({"status": "success", "payload": {"data": {"id": 41, "name": "x"}}});
    pool.harvest(&op(Method::Post, "/api/cards"), "alice", &body);
    let item = get("/api/cards/{cardId}");
    assert_eq!(pool.value_for(&item, "cardId", "alice"), Some(json!(41)));
}

#[test]
fn an_id_inside_a_named_object_fills_the_camel_case_parameter() {
    let mut pool = IdPool::new();
    pool.harvest(&get("/api/wallet"), "alice", &json!({"card": {"id": 9}}));
    let op = get("/api/payments/{card-id}");
    assert_eq!(pool.value_for(&op, "card-id", "alice"), Some(json!(9)));
}

#[test]
fn listed_items_keep_the_owner_their_record_names() {
    let mut pool = IdPool::new();
    let body = json!({"data": [{"id": 1, "ownerId": 7}, {"id": 2, "owner": {"id": 8}}, {"id": 3}]});
    pool.harvest(&get("/things"), "alice", &body);
    let item = get("/things/{thingId}");
    let owners: Vec<(Value, Option<String>)> = pool
        .candidates_with_owner(&item, "thingId", "alice")
        .into_iter()
        .map(|(v, _, o)| (v, o))
        .collect();
    assert!(owners.contains(&(json!(1), Some("7".into()))));
    assert!(owners.contains(&(json!(2), Some("8".into()))));
    assert!(owners.contains(&(json!(3), None)));
}

fn graphql_query(field: &str, args: &[(&str, &str)]) -> Operation {
    use middlebrick_model::{GraphqlArgument, GraphqlKind, GraphqlOperation};
    let mut op = Operation::new(Method::Post, "/graphql");
    op.graphql = Some(GraphqlOperation {
        kind: GraphqlKind::Query,
        field: field.into(),
        arguments: args
            .iter()
            .map(|(name, ty)| GraphqlArgument {
                name: (*name).into(),
                type_ref: (*ty).into(),
            })
            .collect(),
        selection: "{ id }".into(),
        returns: String::new(),
    });
    op
}

#[test]
fn a_graphql_argument_names_an_object_of_its_fields_subject() {
    // `me { orders { id } }` then `order(id: ID!)`: the ids typed `ID` travel as strings.
    let mut pool = IdPool::new();
    let me = graphql_query("me", &[]);
    let body = json!({"data": {"me": {"id": "1", "username": "alice",
        "orders": [{"id": "11"}, {"id": "12"}], "favourite": {"id": "5"}}}});
    pool.harvest(&me, "alice", &body);
    for field in ["order", "getOrder", "orderById"] {
        let order = graphql_query(field, &[("id", "ID!")]);
        assert_eq!(
            values(pool.candidates(&order, "id", "alice")),
            vec![json!("12"), json!("11")],
            "{field}"
        );
    }
    // An argument named for its object needs no field: `cancel(orderId:)`.
    let cancel = graphql_query("cancel", &[("orderId", "ID!")]);
    assert_eq!(
        pool.value_for(&cancel, "orderId", "alice"),
        Some(json!("12"))
    );
    // An argument the field does not take is not a GraphQL argument of it.
    assert!(pool
        .candidates(&graphql_query("order", &[]), "id", "alice")
        .is_empty());
}

#[test]
fn the_items_of_a_list_an_owners_record_holds_are_the_owners() {
    let mut pool = IdPool::new();
    let users = graphql_query("users", &[]);
    let body = json!({"data": {"users": [
        {"id": "1", "username": "alice", "orders": [{"id": "11"}], "favourite": {"id": "5"}},
        {"id": "2", "username": "bob", "orders": [{"id": "13", "owner": {"id": "9"}}]},
    ]}});
    pool.harvest(&users, "anonymous", &body);
    let owner_of = |field: &str, value: &str| {
        pool.candidates_with_owner(&graphql_query(field, &[("id", "ID!")]), "id", "")
            .into_iter()
            .find(|(v, _, _)| *v == json!(value))
            .and_then(|(_, _, o)| o)
    };
    assert_eq!(owner_of("order", "11").as_deref(), Some("alice"));
    // A record that names its own owner keeps it.
    assert_eq!(owner_of("order", "13").as_deref(), Some("9"));
    // An object a record refers to is not owned through it.
    assert_eq!(owner_of("favourite", "5"), None);
}

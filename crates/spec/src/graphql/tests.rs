//! Introspection answers and validation errors as a small shop's GraphQL API would give them:
//! users, orders and products, a login and a profile update, an input object that refers to
//! itself, a subscription, an interface and a union.

use super::*;
use middlebrick_model::{GraphqlKind, Method, Schema, SchemaType};
use serde_json::{json, Value};

fn named(kind: &str, name: &str) -> Value {
    json!({"kind": kind, "name": name, "ofType": null})
}
fn scalar(name: &str) -> Value {
    named("SCALAR", name)
}
fn object(name: &str) -> Value {
    named("OBJECT", name)
}
fn non_null(t: Value) -> Value {
    json!({"kind": "NON_NULL", "name": null, "ofType": t})
}
fn list(t: Value) -> Value {
    json!({"kind": "LIST", "name": null, "ofType": t})
}
fn arg(name: &str, ty: Value, default: Option<&str>) -> Value {
    json!({"name": name, "defaultValue": default, "type": ty})
}
fn field(name: &str, args: Vec<Value>, ty: Value) -> Value {
    json!({"name": name, "description": null, "isDeprecated": false, "args": args, "type": ty})
}
fn obj_type(kind: &str, name: &str, fields: Vec<Value>) -> Value {
    json!({"kind": kind, "name": name, "description": null, "fields": fields,
           "inputFields": null, "enumValues": null})
}
fn input_type(name: &str, fields: Vec<Value>) -> Value {
    json!({"kind": "INPUT_OBJECT", "name": name, "fields": null, "inputFields": fields,
           "enumValues": null})
}
fn enum_type(name: &str, values: &[&str]) -> Value {
    let values: Vec<Value> = values.iter().map(|v| json!({"name": v})).collect();
    json!({"kind": "ENUM", "name": name, "fields": null, "inputFields": null, "enumValues": values})
}

fn shop_schema() -> Value {
    let id = || non_null(scalar("ID"));
    let types = vec![
        obj_type(
            "OBJECT",
            "Query",
            vec![
                field("me", vec![], object("User")),
                field("order", vec![arg("id", id(), None)], object("Order")),
                field(
                    "orders",
                    vec![
                        arg("status", named("ENUM", "OrderStatus"), None),
                        arg("first", non_null(scalar("Int")), Some("10")),
                    ],
                    non_null(list(non_null(object("Order")))),
                ),
                field(
                    "node",
                    vec![arg("id", id(), None)],
                    named("INTERFACE", "Node"),
                ),
                field(
                    "search",
                    vec![arg("term", non_null(scalar("String")), None)],
                    list(named("UNION", "SearchResult")),
                ),
                field("serverTime", vec![], scalar("DateTime")),
            ],
        ),
        obj_type(
            "OBJECT",
            "Mutation",
            vec![
                field(
                    "login",
                    vec![
                        arg("username", non_null(scalar("String")), None),
                        arg("password", non_null(scalar("String")), None),
                    ],
                    object("AuthPayload"),
                ),
                field(
                    "updateProfile",
                    vec![arg(
                        "input",
                        non_null(named("INPUT_OBJECT", "ProfileInput")),
                        None,
                    )],
                    object("User"),
                ),
                field(
                    "placeOrder",
                    vec![arg(
                        "productIds",
                        non_null(list(non_null(scalar("ID")))),
                        None,
                    )],
                    object("Order"),
                ),
            ],
        ),
        obj_type(
            "OBJECT",
            "Subscription",
            vec![field("orderUpdated", vec![], object("Order"))],
        ),
        obj_type(
            "OBJECT",
            "User",
            vec![
                field("id", vec![], id()),
                field("username", vec![], non_null(scalar("String"))),
                field("email", vec![], scalar("String")),
                field("role", vec![], named("ENUM", "Role")),
                field(
                    "orders",
                    vec![arg("first", non_null(scalar("Int")), None)],
                    list(object("Order")),
                ),
            ],
        ),
        obj_type(
            "OBJECT",
            "Order",
            vec![
                field("id", vec![], id()),
                field("total", vec![], scalar("Float")),
                field("status", vec![], named("ENUM", "OrderStatus")),
                field("owner", vec![], object("User")),
                field("lines", vec![], list(object("OrderLine"))),
            ],
        ),
        obj_type(
            "OBJECT",
            "OrderLine",
            vec![
                field("product", vec![], object("Product")),
                field("quantity", vec![], scalar("Int")),
            ],
        ),
        obj_type(
            "OBJECT",
            "Product",
            vec![
                field("id", vec![], id()),
                field("name", vec![], scalar("String")),
            ],
        ),
        obj_type(
            "OBJECT",
            "AuthPayload",
            vec![
                field("token", vec![], scalar("String")),
                field("user", vec![], object("User")),
            ],
        ),
        obj_type("INTERFACE", "Node", vec![field("id", vec![], id())]),
        json!({"kind": "UNION", "name": "SearchResult", "fields": null, "inputFields": null,
               "enumValues": null, "possibleTypes": [object("Order"), object("Product")]}),
        enum_type("Role", &["CUSTOMER", "ADMIN"]),
        enum_type("OrderStatus", &["OPEN", "PAID", "SHIPPED"]),
        input_type(
            "ProfileInput",
            vec![
                arg("email", non_null(scalar("String")), None),
                arg("displayName", scalar("String"), None),
                arg("address", named("INPUT_OBJECT", "AddressInput"), None),
            ],
        ),
        input_type(
            "AddressInput",
            vec![
                arg("street", non_null(scalar("String")), None),
                arg("previous", named("INPUT_OBJECT", "AddressInput"), None),
            ],
        ),
        json!({"kind": "SCALAR", "name": "DateTime"}),
        json!({"kind": "SCALAR", "name": "String"}),
        json!({"kind": "OBJECT", "name": "__Schema", "fields": []}),
    ];
    json!({"data": {"__schema": {
        "queryType": {"name": "Query"},
        "mutationType": {"name": "Mutation"},
        "subscriptionType": {"name": "Subscription"},
        "types": types,
    }}})
}

fn op<'a>(s: &'a GraphqlSchema, field: &str) -> &'a Operation {
    s.operations
        .iter()
        .find(|o| o.graphql.as_ref().is_some_and(|g| g.field == field))
        .unwrap_or_else(|| panic!("no operation {field}"))
}

fn body(o: &Operation) -> &Schema {
    o.request_body.as_ref().expect("a body").content["application/json"].as_ref()
}

#[test]
fn an_introspection_answer_becomes_one_operation_per_root_field() {
    let s = parse_introspection(&shop_schema(), "/graphql").unwrap();
    assert_eq!(s.info.queries, 6);
    assert_eq!(s.info.mutations, 3);
    assert_eq!(s.info.subscriptions_ignored, 1);
    assert!(s.info.complete);
    assert_eq!(s.info.how, SchemaHow::Introspection);
    assert_eq!(
        s.info.types, 16,
        "introspection's own __ types are not counted"
    );
    assert_eq!(s.query_type, "Query");
    assert_eq!(s.mutation_type.as_deref(), Some("Mutation"));
    assert_eq!(s.operations.len(), 9);
    for o in &s.operations {
        assert_eq!((o.method, o.path.as_str()), (Method::Post, "/graphql"));
    }
    let login = op(&s, "login");
    assert!(login.changes_state());
    assert_eq!(login.key(), "POST /graphql mutation login");
    assert!(!op(&s, "order").changes_state());
    assert!(op(&s, "me").request_body.is_none(), "no arguments, no body");
}

#[test]
fn arguments_become_a_typed_json_body_with_required_members() {
    let s = parse_introspection(&shop_schema(), "/graphql").unwrap();
    let order = op(&s, "order");
    let g = order.graphql.as_ref().unwrap();
    assert_eq!(g.arguments[0].type_ref, "ID!");
    let b = body(order);
    assert_eq!(b.required, vec!["id"]);
    assert_eq!(b.properties["id"].ty, Some(SchemaType::String));
    assert_eq!(b.properties["id"].format.as_deref(), Some(ID_FORMAT));
    assert!(order.request_body.as_ref().unwrap().required);

    let orders = op(&s, "orders");
    let b = body(orders);
    assert!(b.required.is_empty(), "a default makes `Int!` optional");
    assert_eq!(b.properties["first"].ty, Some(SchemaType::Integer));
    assert_eq!(b.properties["first"].default, Some(json!(10)));
    assert_eq!(
        b.properties["status"].enum_values,
        vec![json!("OPEN"), json!("PAID"), json!("SHIPPED")]
    );

    let place = body(op(&s, "placeOrder"));
    let ids = &place.properties["productIds"];
    assert_eq!(ids.ty, Some(SchemaType::Array));
    assert_eq!(ids.items.as_ref().unwrap().ty, Some(SchemaType::String));
    assert_eq!(
        op(&s, "placeOrder").graphql.as_ref().unwrap().arguments[0].type_ref,
        "[ID!]!"
    );
}

#[test]
fn input_objects_become_object_schemas_and_cycles_are_cut() {
    let s = parse_introspection(&shop_schema(), "/graphql").unwrap();
    let input = &body(op(&s, "updateProfile")).properties["input"];
    assert_eq!(input.ty, Some(SchemaType::Object));
    assert_eq!(input.name.as_deref(), Some("ProfileInput"));
    assert_eq!(input.required, vec!["email"]);
    let address = &input.properties["address"];
    assert_eq!(address.required, vec!["street"]);
    let previous = &address.properties["previous"];
    assert_eq!(previous.recursive_ref.as_deref(), Some("AddressInput"));
    assert!(previous.properties.is_empty());
}

#[test]
fn selections_take_scalars_and_ids_one_level_down_and_skip_fields_with_required_args() {
    let s = parse_introspection(&shop_schema(), "/graphql").unwrap();
    let sel = |f: &str| op(&s, f).graphql.as_ref().unwrap().selection.clone();
    assert_eq!(sel("order"), "{ id total status owner { id } }");
    // `orders(first: Int!)` needs an argument: left out.
    assert_eq!(sel("me"), "{ id username email role }");
    assert_eq!(sel("login"), "{ token user { id } }");
    assert_eq!(sel("search"), "{ __typename }", "a union");
    assert_eq!(sel("node"), "{ id }", "an interface");
    assert_eq!(sel("serverTime"), "", "a custom scalar");
    assert_eq!(op(&s, "orders").graphql.as_ref().unwrap().returns, "Order");
    assert_eq!(
        op(&s, "order").graphql.as_ref().unwrap().document(),
        "query($id: ID!) { order(id: $id) { id total status owner { id } } }"
    );
}

#[test]
fn object_types_are_listed_with_their_fields_for_checks() {
    let s = parse_introspection(&shop_schema(), "/graphql").unwrap();
    assert!(!s.types.contains_key("__Schema"));
    assert!(!s.types.contains_key("Role"));
    assert!(s.types.contains_key("Node"));
    let user = &s.types["User"];
    let orders = user.iter().find(|f| f.name == "orders").unwrap();
    assert!(orders.list && orders.required_args);
    assert_eq!(orders.type_name, "Order");
}

#[test]
fn the_schema_without_its_data_wrapper_is_read_too_and_refusals_are_errors() {
    let text = r#"{"__schema": {"queryType": {"name": "Root"}, "mutationType": null,
        "subscriptionType": null, "types": [{"kind": "OBJECT", "name": "Root",
        "fields": [{"name": "ping", "args": [], "type": {"kind": "SCALAR", "name": "String"}}]}]}}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let s = parse_introspection(&v, "/gql").unwrap();
    assert_eq!(s.operations.len(), 1);
    assert_eq!(s.operations[0].key(), "POST /gql query ping");
    assert_eq!(s.mutation_type, None);
    let refused =
        json!({"errors": [{"message": "GraphQL introspection is not allowed"}], "data": null});
    assert_eq!(
        parse_introspection(&refused, "/graphql").unwrap_err(),
        GraphqlError::NoSchema
    );
    let rootless = json!({"data": {"__schema": {"types": []}}});
    assert_eq!(
        parse_introspection(&rootless, "/graphql").unwrap_err(),
        GraphqlError::NoQueryType
    );
}

#[test]
fn the_confirmation_answer_is_read_strictly() {
    assert_eq!(
        typename_of(&json!({"data": {"__typename": "Query"}})),
        Some("Query")
    );
    assert_eq!(typename_of(&json!({"data": {"__typename": ""}})), None);
    assert_eq!(
        typename_of(&json!({"data": {"__typename": "<html>"}})),
        None
    );
    assert_eq!(typename_of(&json!({"__typename": "Query"})), None);
    assert!(INTROSPECTION_QUERY.contains("__schema") && INTROSPECTION_QUERY.contains("ofType"));
}

#[test]
fn validation_messages_of_graphql_js_graphql_core_and_others_are_read() {
    use ValidationHint::*;
    let unknown = |field: &str, on: &str, s: &[&str]| UnknownField {
        field: field.into(),
        on_type: on.into(),
        suggestions: s.iter().map(|x| x.to_string()).collect(),
    };
    let cases = [
        (
            r#"Cannot query field "usr" on type "Query". Did you mean "user" or "users"?"#,
            unknown("usr", "Query", &["user", "users"]),
        ),
        (
            "Cannot query field 'ordr' on type 'Query'. Did you mean 'order', 'orders', or 'node'?",
            unknown("ordr", "Query", &["order", "orders", "node"]),
        ),
        (
            "Cannot query field 'x' on type 'Query'.",
            unknown("x", "Query", &[]),
        ),
        (
            r#"Cannot query field "id" on type "SearchResult". Did you mean to use an inline fragment on "Order"?"#,
            unknown("id", "SearchResult", &[]),
        ),
        (
            "The field `usr` does not exist on the type `Query`.",
            unknown("usr", "Query", &[]),
        ),
        (
            "Validation error (FieldUndefined@[usr]) : Field 'usr' in type 'Query' is undefined",
            unknown("usr", "Query", &[]),
        ),
    ];
    for (message, want) in cases {
        assert_eq!(parse_validation_message(message), Some(want), "{message}");
    }
    for message in [
        r#"Unknown argument "uid" on field "Query.user". Did you mean "id"?"#,
        "Unknown argument 'uid' on field 'user' of type 'Query'. Did you mean 'id'?",
    ] {
        assert_eq!(
            parse_validation_message(message),
            Some(UnknownArgument {
                argument: "uid".into(),
                field: "user".into(),
                suggestions: vec!["id".into()]
            }),
            "{message}"
        );
    }
    assert_eq!(
        parse_validation_message(
            "Field 'order' argument 'id' of type 'ID!' is required, but it was not provided."
        ),
        Some(MissingArgument {
            field: "order".into(),
            argument: "id".into(),
            type_ref: "ID!".into()
        })
    );
    assert_eq!(
        parse_validation_message(
            r#"Field "orders" of type "[Order!]!" must have a selection of subfields. Did you mean "orders { ... }"?"#
        ),
        Some(NeedsSelection {
            field: "orders".into(),
            type_ref: "[Order!]!".into()
        })
    );
    assert_eq!(
        parse_validation_message("Syntax Error: Unexpected Name"),
        None
    );
}

/// Answers a rebuild probe the way graphql-core (single quotes) or graphql-js (double quotes)
/// validates it against a small schema: unknown fields (with suggestions within the edit
/// distance those libraries use), missing required arguments, objects without a selection.
struct Validator {
    quote: char,
    mutations: bool,
}

type Fields = &'static [(
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
)];

const QUERY: Fields = &[
    ("me", "User", &[]),
    ("orderById", "Order", &[("orderId", "Int!")]),
    ("ordersOfUser", "[Order!]!", &[]),
];
const MUTATION: Fields = &[
    (
        "login",
        "AuthResult",
        &[("username", "String!"), ("password", "String!")],
    ),
    (
        "updateOrder",
        "Order",
        &[("id", "Int!"), ("note", "String")],
    ),
];
const USER: Fields = &[
    ("id", "Int!", &[]),
    ("username", "String!", &[]),
    ("email", "String", &[]),
];
const ORDER: Fields = &[
    ("id", "Int!", &[]),
    ("total", "Float!", &[]),
    ("owner", "User!", &[]),
    ("notes", "String", &[]),
];
const AUTH: Fields = &[("token", "String", &[]), ("user", "User", &[])];

fn fields_of(t: &str) -> Option<Fields> {
    match t {
        "Query" => Some(QUERY),
        "Mutation" => Some(MUTATION),
        "User" => Some(USER),
        "Order" => Some(ORDER),
        "AuthResult" => Some(AUTH),
        _ => None,
    }
}

fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Validator {
    fn q(&self, s: &str) -> String {
        format!("{0}{s}{0}", self.quote)
    }

    fn answer(&self, document: &str) -> Value {
        let tokens: Vec<&str> = document.split_whitespace().collect();
        let root = match tokens[0] {
            "mutation" if self.mutations => "Mutation",
            "mutation" => {
                return json!({"data": null, "errors": [{"message": "Schema is not configured to execute mutation operation."}]})
            }
            _ => "Query",
        };
        let mut errors = Vec::new();
        let mut stack: Vec<Option<&str>> = vec![Some(root)];
        let mut i = 2;
        while i < tokens.len() {
            let tok = tokens[i];
            if tok == "}" {
                stack.pop();
                i += 1;
                continue;
            }
            let parent = *stack.last().unwrap();
            let opens = tokens.get(i + 1) == Some(&"{");
            let known = parent
                .and_then(fields_of)
                .and_then(|fs| fs.iter().find(|f| f.0 == tok));
            match (parent, known) {
                (Some(p), None) => {
                    let near: Vec<String> = fields_of(p)
                        .unwrap()
                        .iter()
                        .filter(|f| distance(tok, f.0) <= tok.len() * 2 / 5 + 1)
                        .map(|f| self.q(f.0))
                        .collect();
                    let mut m =
                        format!("Cannot query field {} on type {}.", self.q(tok), self.q(p));
                    if !near.is_empty() {
                        m.push_str(&format!(" Did you mean {}?", near.join(" or ")));
                    }
                    errors.push(m);
                }
                (Some(_), Some((name, ty, args))) => {
                    for (a, at) in args.iter().filter(|a| a.1.ends_with('!')) {
                        errors.push(format!(
                            "Field {} argument {} of type {} is required, but it was not provided.",
                            self.q(name),
                            self.q(a),
                            self.q(at)
                        ));
                    }
                    let named = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
                    if fields_of(named).is_some() && !opens {
                        errors.push(format!(
                            "Field {} of type {} must have a selection of subfields.",
                            self.q(name),
                            self.q(ty)
                        ));
                    }
                }
                (None, _) => {}
            }
            if opens {
                let named = known.map(|k| k.1.trim_matches(|c| c == '[' || c == ']' || c == '!'));
                stack.push(named);
                i += 2;
            } else {
                i += 1;
            }
        }
        let errors: Vec<Value> = errors.into_iter().map(|m| json!({"message": m})).collect();
        json!({"data": null, "errors": errors})
    }
}

fn rebuild(v: &Validator, budget: usize) -> (GraphqlSchema, usize) {
    let mut r = Rebuild::new("Query", v.mutations);
    while let Some(p) = r.next_probe() {
        assert!(p.document.contains(SENTINEL_FIELD), "{}", p.document);
        r.absorb(&p, &v.answer(&p.document));
        if r.sent() >= budget {
            break;
        }
    }
    let sent = r.sent();
    (r.finish("/graphql"), sent)
}

#[test]
fn a_schema_is_rebuilt_from_suggestions_in_both_quote_styles() {
    for quote in ['\'', '"'] {
        let (s, sent) = rebuild(
            &Validator {
                quote,
                mutations: true,
            },
            40,
        );
        eprintln!("rebuild with {quote}: {sent} probes");
        assert!(sent <= 40, "{sent} probes");
        assert!(!s.info.complete);
        assert_eq!(s.info.how, SchemaHow::Suggestions);
        let names: Vec<String> = s.operations.iter().map(|o| o.key()).collect();
        for want in [
            "POST /graphql query me",
            "POST /graphql query orderById",
            "POST /graphql mutation login",
            "POST /graphql mutation updateOrder",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{quote}: {want} missing from {names:?}"
            );
        }
        assert_eq!(s.mutation_type.as_deref(), Some("Mutation"));
        let order = op(&s, "orderById");
        let g = order.graphql.as_ref().unwrap();
        assert_eq!(g.arguments[0].name, "orderId");
        assert_eq!(g.arguments[0].type_ref, "Int!");
        assert_eq!(
            body(order).properties["orderId"].ty,
            Some(SchemaType::Integer)
        );
        assert_eq!(g.returns, "Order");
        assert!(
            g.selection.contains("id") && g.selection.contains("total"),
            "{}",
            g.selection
        );
        assert!(g.selection.contains("owner { id }"), "{}", g.selection);
        let login = op(&s, "login").graphql.as_ref().unwrap();
        assert_eq!(login.kind, GraphqlKind::Mutation);
        assert_eq!(login.arguments.len(), 2);
        assert!(s.types["User"].iter().any(|f| f.name == "username"));
    }
}

#[test]
fn a_server_without_mutations_or_without_validation_errors_ends_the_rebuild_early() {
    let (s, _) = rebuild(
        &Validator {
            quote: '\'',
            mutations: false,
        },
        40,
    );
    assert_eq!(s.info.mutations, 0);
    assert!(s.info.queries >= 2);
    let mut r = Rebuild::new("Query", true);
    let p = r.next_probe().unwrap();
    r.absorb(
        &p,
        &json!({"errors": [{"message": "Unexpected error."}], "data": null}),
    );
    assert!(r.next_probe().is_none(), "masked errors teach nothing");
    assert_eq!(r.finish("/graphql").operations.len(), 0);
}

//! An introspection answer (`{"data":{"__schema":…}}`, or the `__schema` object without the
//! `data` wrapper as tools save it) read into operations.

use super::types::{type_ref, SchemaBuilder, TypeRef};
use super::{GraphqlError, GraphqlSchema, GraphqlSchemaInfo, SchemaHow, MAX_SELECTION_FIELDS};
use indexmap::IndexMap;
use middlebrick_model::{
    GraphqlArgument, GraphqlField, GraphqlKind, GraphqlOperation, Method, Operation,
    RequestBodySpec, Schema, SchemaType,
};
use serde_json::Value;
use std::sync::Arc;

/// Reads an introspection answer into the operations of the endpoint at `path`.
pub fn parse_introspection(answer: &Value, path: &str) -> Result<GraphqlSchema, GraphqlError> {
    let schema = answer
        .get("data")
        .and_then(|d| d.get("__schema"))
        .or_else(|| answer.get("__schema"))
        .filter(|s| s.is_object())
        .ok_or(GraphqlError::NoSchema)?;
    let root_name = |key: &str| {
        schema
            .get(key)
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let query_type = root_name("queryType").ok_or(GraphqlError::NoQueryType)?;
    let mutation_type = root_name("mutationType");
    let subscription_type = root_name("subscriptionType");
    let types: IndexMap<String, &Value> = schema
        .get("types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("name")?.as_str()?.to_string(), t)))
        .collect();
    let mut builder = SchemaBuilder::new(&types);
    let mut operations = Vec::new();
    let mut counts = [0usize; 2];
    for (i, (kind, root)) in [
        (GraphqlKind::Query, Some(&query_type)),
        (GraphqlKind::Mutation, mutation_type.as_ref()),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(def) = root.and_then(|r| types.get(r.as_str())) else {
            continue;
        };
        for field in fields_of(def) {
            if let Some(op) = operation(kind, field, path, &types, &mut builder) {
                counts[i] += 1;
                operations.push(op);
            }
        }
    }
    let subscriptions_ignored = subscription_type
        .as_ref()
        .and_then(|s| types.get(s.as_str()))
        .map_or(0, |def| fields_of(def).count());
    let object_types = object_types(&types);
    Ok(GraphqlSchema {
        operations,
        query_type,
        mutation_type,
        info: GraphqlSchemaInfo {
            types: types.keys().filter(|n| !n.starts_with("__")).count(),
            queries: counts[0],
            mutations: counts[1],
            subscriptions_ignored,
            complete: true,
            how: SchemaHow::Introspection,
        },
        types: object_types,
    })
}

fn fields_of(def: &Value) -> impl Iterator<Item = &Value> {
    def.get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn args_of(field: &Value) -> impl Iterator<Item = &Value> {
    field
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_required(arg: &Value) -> bool {
    arg.get("type")
        .and_then(|t| t.get("kind"))
        .and_then(Value::as_str)
        == Some("NON_NULL")
        && arg.get("defaultValue").is_none_or(Value::is_null)
}

fn has_required_args(field: &Value) -> bool {
    args_of(field).any(is_required)
}

fn kind_of<'a>(types: &'a IndexMap<String, &Value>, name: &str) -> &'a str {
    types
        .get(name)
        .and_then(|t| t.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("SCALAR")
}

fn operation(
    kind: GraphqlKind,
    field: &Value,
    path: &str,
    types: &IndexMap<String, &Value>,
    builder: &mut SchemaBuilder,
) -> Option<Operation> {
    let name = field.get("name")?.as_str()?;
    let returns = type_ref(field.get("type")?)?;
    let mut arguments = Vec::new();
    let mut body = Schema::of_type(SchemaType::Object);
    for arg in args_of(field) {
        let (Some(aname), Some(ty)) = (arg.get("name").and_then(Value::as_str), arg.get("type"))
        else {
            continue;
        };
        let Some(r) = type_ref(ty) else { continue };
        arguments.push(GraphqlArgument {
            name: aname.to_string(),
            type_ref: r.rendered,
        });
        let mut prop = builder.of_ref(ty, &mut Vec::new());
        if let Some(default) = arg.get("defaultValue").and_then(Value::as_str) {
            // Introspection gives defaults as GraphQL literals; JSON-compatible ones are kept.
            if let Ok(v) = serde_json::from_str::<Value>(default) {
                Arc::make_mut(&mut prop).default = Some(v);
            }
        }
        if is_required(arg) {
            body.required.push(aname.to_string());
        }
        body.properties.insert(aname.to_string(), prop);
    }
    let mut op = Operation::new(Method::Post, path);
    op.operation_id = Some(name.to_string());
    op.description = field
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    op.deprecated = field.get("isDeprecated").and_then(Value::as_bool) == Some(true);
    op.source = Some(format!("graphql:{path}#{}.{name}", kind.as_str()));
    if !arguments.is_empty() {
        op.request_body = Some(RequestBodySpec {
            required: !body.required.is_empty(),
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
    }
    op.graphql = Some(GraphqlOperation {
        kind,
        field: name.to_string(),
        arguments,
        selection: selection(&returns, types),
        returns: returns.name,
    });
    Some(op)
}

/// The selection set for a field of type `returns`: its scalar and enum fields that need no
/// argument, then `id`-like scalars of its object fields one level down (`owner { id }`), at
/// most [`MAX_SELECTION_FIELDS`] in all. `{ __typename }` when nothing qualifies (a union, an
/// object of objects); empty for a scalar or enum.
pub(crate) fn selection(returns: &TypeRef, types: &IndexMap<String, &Value>) -> String {
    let kind = kind_of(types, &returns.name);
    if !matches!(kind, "OBJECT" | "INTERFACE" | "UNION") {
        return String::new();
    }
    let Some(def) = types.get(returns.name.as_str()) else {
        return "{ __typename }".into();
    };
    let mut parts: Vec<String> = Vec::new();
    let mut nested: Vec<String> = Vec::new();
    for f in fields_of(def).filter(|f| !has_required_args(f)) {
        let (Some(name), Some(r)) = (
            f.get("name").and_then(Value::as_str),
            f.get("type").and_then(type_ref),
        ) else {
            continue;
        };
        match kind_of(types, &r.name) {
            "OBJECT" | "INTERFACE" => {
                let ids: Vec<&str> = types
                    .get(r.name.as_str())
                    .map(|d| {
                        fields_of(d)
                            .filter(|g| !has_required_args(g))
                            .filter_map(|g| {
                                let gname = g.get("name")?.as_str()?;
                                let gr = type_ref(g.get("type")?)?;
                                let scalar = matches!(kind_of(types, &gr.name), "SCALAR" | "ENUM");
                                (scalar && id_like(gname)).then_some(gname)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if !ids.is_empty() {
                    nested.push(format!("{name} {{ {} }}", ids.join(" ")));
                }
            }
            "UNION" => {}
            _ => parts.push(name.to_string()),
        }
    }
    parts.extend(nested);
    parts.truncate(MAX_SELECTION_FIELDS);
    if parts.is_empty() {
        return "{ __typename }".into();
    }
    format!("{{ {} }}", parts.join(" "))
}

/// `id`, `uuid`, `ownerId`, `user_id`: a field that names an object.
fn id_like(name: &str) -> bool {
    middlebrick_model::names::name_words(name)
        .last()
        .is_some_and(|w| middlebrick_model::names::is_id_word(w))
}

/// Object and interface types (introspection's own left out) with their fields.
fn object_types(types: &IndexMap<String, &Value>) -> IndexMap<String, Vec<GraphqlField>> {
    types
        .iter()
        .filter(|(n, t)| {
            !n.starts_with("__")
                && matches!(
                    t.get("kind").and_then(Value::as_str),
                    Some("OBJECT" | "INTERFACE")
                )
        })
        .map(|(n, t)| {
            let fields = fields_of(t)
                .filter_map(|f| {
                    let r = type_ref(f.get("type")?)?;
                    Some(GraphqlField {
                        name: f.get("name")?.as_str()?.to_string(),
                        type_name: r.name,
                        list: r.list,
                        required_args: has_required_args(f),
                    })
                })
                .collect();
            (n.clone(), fields)
        })
        .collect()
}

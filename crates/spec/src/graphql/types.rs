//! GraphQL type references: rendered as GraphQL spells them (`[ID!]!`) and mapped to the
//! request-body schemas synthesis fills (Int → integer, ID → string marked `graphql-id`,
//! enums → `enum_values`, input objects → objects, lists → arrays).

use indexmap::IndexMap;
use middlebrick_model::{Schema, SchemaType};
use serde_json::Value;
use std::sync::Arc;

/// The `format` an `ID` argument's schema carries: a string the server uses as an object id,
/// which synthesis treats like any unknown format (any string fits) and checks may read.
pub const ID_FORMAT: &str = "graphql-id";

/// A type reference as introspection gives it (`{kind, name, ofType}`), unwrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeRef {
    /// GraphQL spelling with wrappers: `[Order!]!`.
    pub rendered: String,
    /// The named type inside the wrappers: `Order`.
    pub name: String,
    pub non_null: bool,
    pub list: bool,
}

/// Reads `{kind, name, ofType}` chains; `None` when the chain is broken or nameless.
pub(crate) fn type_ref(v: &Value) -> Option<TypeRef> {
    let kind = v.get("kind")?.as_str()?;
    match kind {
        "NON_NULL" => {
            let inner = type_ref(v.get("ofType")?)?;
            Some(TypeRef {
                rendered: format!("{}!", inner.rendered),
                non_null: true,
                ..inner
            })
        }
        "LIST" => {
            let inner = type_ref(v.get("ofType")?)?;
            Some(TypeRef {
                rendered: format!("[{}]", inner.rendered),
                name: inner.name,
                non_null: false,
                list: true,
            })
        }
        _ => {
            let name = v.get("name")?.as_str()?.to_string();
            Some(TypeRef {
                rendered: name.clone(),
                name,
                non_null: false,
                list: false,
            })
        }
    }
}

pub fn is_builtin_scalar(name: &str) -> bool {
    matches!(name, "Int" | "Float" | "String" | "ID" | "Boolean")
}

/// The schema of a built-in scalar, or an untyped schema named for a custom scalar (`DateTime`)
/// that synthesis fills with a string.
pub fn type_ref_schema_for_name(name: &str) -> Schema {
    let mut s = match name {
        "Int" => Schema {
            format: Some("int32".into()),
            ..Schema::of_type(SchemaType::Integer)
        },
        "Float" => Schema::of_type(SchemaType::Number),
        "String" => Schema::of_type(SchemaType::String),
        "ID" => Schema {
            format: Some(ID_FORMAT.into()),
            ..Schema::of_type(SchemaType::String)
        },
        "Boolean" => Schema::of_type(SchemaType::Boolean),
        _ => Schema::default(),
    };
    s.name = Some(name.to_string());
    s
}

/// Builds argument and input-field schemas from the schema's `types` list; input objects that
/// refer back to themselves are cut with `recursive_ref`, like `$ref` cycles in OpenAPI.
pub(crate) struct SchemaBuilder<'a> {
    pub types: &'a IndexMap<String, &'a Value>,
    done: IndexMap<String, Arc<Schema>>,
}

/// How deep input objects nest before the builder stops descending.
const MAX_INPUT_DEPTH: usize = 6;

impl<'a> SchemaBuilder<'a> {
    pub fn new(types: &'a IndexMap<String, &'a Value>) -> Self {
        SchemaBuilder {
            types,
            done: IndexMap::new(),
        }
    }

    /// The schema of a type reference; lists become arrays, `!` is the caller's `required`.
    pub fn of_ref(&mut self, v: &Value, stack: &mut Vec<String>) -> Arc<Schema> {
        match v.get("kind").and_then(Value::as_str) {
            Some("NON_NULL") => match v.get("ofType") {
                Some(inner) => self.of_ref(inner, stack),
                None => Arc::new(Schema::default()),
            },
            Some("LIST") => {
                let items = match v.get("ofType") {
                    Some(inner) => self.of_ref(inner, stack),
                    None => Arc::new(Schema::default()),
                };
                Arc::new(Schema {
                    items: Some(items),
                    ..Schema::of_type(SchemaType::Array)
                })
            }
            _ => {
                let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
                self.named(name, stack)
            }
        }
    }

    fn named(&mut self, name: &str, stack: &mut Vec<String>) -> Arc<Schema> {
        if let Some(done) = self.done.get(name) {
            return done.clone();
        }
        let Some(def) = self.types.get(name).copied() else {
            return Arc::new(type_ref_schema_for_name(name));
        };
        let schema = match def.get("kind").and_then(Value::as_str) {
            Some("ENUM") => {
                let values = def
                    .get("enumValues")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("name").and_then(Value::as_str))
                    .map(|n| Value::String(n.to_string()))
                    .collect();
                Schema {
                    name: Some(name.to_string()),
                    enum_values: values,
                    ..Schema::of_type(SchemaType::String)
                }
            }
            Some("INPUT_OBJECT") => {
                if stack.iter().any(|s| s == name) || stack.len() >= MAX_INPUT_DEPTH {
                    return Arc::new(Schema {
                        name: Some(name.to_string()),
                        recursive_ref: Some(name.to_string()),
                        ..Schema::of_type(SchemaType::Object)
                    });
                }
                stack.push(name.to_string());
                let s = self.input_object(name, def, stack);
                stack.pop();
                s
            }
            _ => type_ref_schema_for_name(name),
        };
        let schema = Arc::new(schema);
        self.done.insert(name.to_string(), schema.clone());
        schema
    }

    fn input_object(&mut self, name: &str, def: &Value, stack: &mut Vec<String>) -> Schema {
        let mut s = Schema {
            name: Some(name.to_string()),
            ..Schema::of_type(SchemaType::Object)
        };
        for field in def
            .get("inputFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(fname), Some(ty)) =
                (field.get("name").and_then(Value::as_str), field.get("type"))
            else {
                continue;
            };
            let required = ty.get("kind").and_then(Value::as_str) == Some("NON_NULL")
                && field.get("defaultValue").is_none_or(Value::is_null);
            let prop = self.of_ref(ty, stack);
            if required {
                s.required.push(fname.to_string());
            }
            s.properties.insert(fname.to_string(), prop);
        }
        s
    }
}

//! GraphQL schemas turned into the operation inventory: every root field of the query and
//! mutation types becomes one [`Operation`] on the endpoint's path (`POST /graphql`) whose
//! arguments are the properties of its JSON request body (see `middlebrick_model::graphql`).
//!
//! Two sources: an introspection answer (complete), or the pieces a server gives away in its
//! validation errors when introspection is off ("Cannot query field 'usr' on type 'Query'. Did
//! you mean 'user'?"), which the engine collects and [`Rebuild`] asks for and assembles (partial,
//! and marked so). Like the rest of this crate, no I/O: the engine sends, this reads.

mod introspection;
mod rebuild;
mod suggest;
mod types;

#[cfg(test)]
mod tests;

pub use introspection::parse_introspection;
pub use rebuild::{Rebuild, RebuildProbe, SENTINEL_FIELD};
pub use suggest::{parse_validation_message, ValidationHint};
pub use types::{is_builtin_scalar, type_ref_schema_for_name, ID_FORMAT};

use indexmap::IndexMap;
use middlebrick_model::{GraphqlField, Operation};

/// The introspection query sent to read a schema: the standard one's shape (root types, every
/// type with its fields, arguments, input fields and enum values), with type references seven
/// wrappers deep (`[[Int!]!]!` needs five). Directives and descriptions of arguments are left
/// out: the scan does not use them.
pub const INTROSPECTION_QUERY: &str = "query MiddlebrickIntrospection { __schema { \
queryType { name } mutationType { name } subscriptionType { name } \
types { kind name description \
fields(includeDeprecated: true) { name description isDeprecated args { name defaultValue type { ...TypeRef } } type { ...TypeRef } } \
inputFields { name defaultValue type { ...TypeRef } } \
enumValues(includeDeprecated: true) { name } } } } \
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name \
ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

/// The document that confirms an endpoint: every GraphQL server answers it with
/// `{"data":{"__typename":"<query type>"}}`, whatever its schema.
pub const TYPENAME_QUERY: &str = "{__typename}";

/// How a schema was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaHow {
    Introspection,
    Suggestions,
}

impl SchemaHow {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaHow::Introspection => "introspection",
            SchemaHow::Suggestions => "suggestions",
        }
    }
}

/// What was read and how much of it there is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlSchemaInfo {
    /// Named types of the schema (introspection's own `__` types left out).
    pub types: usize,
    pub queries: usize,
    pub mutations: usize,
    /// Subscription fields seen and left out (the scan sends no subscriptions).
    pub subscriptions_ignored: usize,
    /// False when the schema was rebuilt from suggestions: fields the server never suggested
    /// are missing, and arguments may be.
    pub complete: bool,
    pub how: SchemaHow,
}

/// A schema as the inventory takes it: the operations (queries then mutations, in schema
/// order), the root types' names and the object types' fields for checks that build their
/// own documents.
#[derive(Debug, Clone)]
pub struct GraphqlSchema {
    pub operations: Vec<Operation>,
    pub query_type: String,
    pub mutation_type: Option<String>,
    pub types: IndexMap<String, Vec<GraphqlField>>,
    pub info: GraphqlSchemaInfo,
}

/// Why an answer could not be read as a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphqlError {
    #[error("the answer holds no `__schema` (introspection refused or not GraphQL)")]
    NoSchema,
    #[error("the schema names no query type")]
    NoQueryType,
}

/// The most fields one operation's selection asks for: enough to read ids and owners back,
/// small enough that an answer stays cheap.
pub const MAX_SELECTION_FIELDS: usize = 30;

/// The `data.__typename` of a confirmation answer (`{"data":{"__typename":"Query"}}`), the
/// differential that tells a GraphQL endpoint from a page that answers 200 to anything.
pub fn typename_of(answer: &serde_json::Value) -> Option<&str> {
    answer
        .get("data")?
        .get("__typename")?
        .as_str()
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// The messages of a GraphQL answer's `errors` array.
pub fn error_messages(answer: &serde_json::Value) -> Vec<&str> {
    answer
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter()
                .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

//! GraphQL operations in the inventory: each root field of the schema's query and mutation
//! types is one [`crate::Operation`] on the endpoint's path (`POST /graphql`), whose arguments
//! are the properties of its JSON request body. The request that goes out wraps those
//! arguments as the `variables` of [`GraphqlOperation::document`].

use serde::{Deserialize, Serialize};

/// Which root type a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphqlKind {
    Query,
    Mutation,
}

impl GraphqlKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GraphqlKind::Query => "query",
            GraphqlKind::Mutation => "mutation",
        }
    }
}

/// One argument of a root field, with its type as GraphQL spells it (`ID!`, `[Int!]`,
/// `OrderInput!`), which the document declares its variable with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlArgument {
    pub name: String,
    pub type_ref: String,
}

/// What makes an operation a GraphQL one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlOperation {
    pub kind: GraphqlKind,
    /// The root field (`order`, `updateProfile`).
    pub field: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<GraphqlArgument>,
    /// The selection set asked for, braces included (`{ id total owner { id } }`); empty when
    /// the field's type is a scalar or an enum.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selection: String,
    /// The name of the field's type without wrappers (`Order` for `[Order!]!`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub returns: String,
}

impl GraphqlOperation {
    /// `query order`, `mutation updateProfile`: how reports name it.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.as_str(), self.field)
    }

    /// The document sent for this operation, each argument a variable of the same name:
    /// `query($id: ID!) { order(id: $id) { id total } }`.
    pub fn document(&self) -> String {
        let mut doc = String::from(self.kind.as_str());
        if !self.arguments.is_empty() {
            let decls: Vec<String> = self
                .arguments
                .iter()
                .map(|a| format!("${}: {}", a.name, a.type_ref))
                .collect();
            doc.push('(');
            doc.push_str(&decls.join(", "));
            doc.push(')');
        }
        doc.push_str(" { ");
        doc.push_str(&self.field);
        if !self.arguments.is_empty() {
            let args: Vec<String> = self
                .arguments
                .iter()
                .map(|a| format!("{}: ${}", a.name, a.name))
                .collect();
            doc.push('(');
            doc.push_str(&args.join(", "));
            doc.push(')');
        }
        if !self.selection.is_empty() {
            doc.push(' ');
            doc.push_str(&self.selection);
        }
        doc.push_str(" }");
        doc
    }
}

/// What a request says about the GraphQL operation it carries: set by request synthesis from
/// [`GraphqlOperation`] (and by a check that writes its own document), read by the engine to
/// mark the answer ([`crate::ResponseRecord::graphql_field`]) and by the mode gate and the
/// object ledger to tell a query (a read, even when POSTed) from a mutation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlRequest {
    pub kind: GraphqlKind,
    /// The root field asked for; its value under `data` is the answer that matters.
    pub field: String,
}

impl GraphqlOperation {
    /// What a request for this operation carries about it.
    pub fn request(&self) -> GraphqlRequest {
        GraphqlRequest {
            kind: self.kind,
            field: self.field.clone(),
        }
    }
}

/// True when a mutation's field is named for a deletion (`deleteOrder`, `removeCard`,
/// `destroy_session`): the mode gate treats it as a `DELETE` (`--allow-delete`).
pub fn graphql_deletes(field: &str) -> bool {
    let first: String = field
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    matches!(
        first.as_str(),
        "delete" | "remove" | "destroy" | "purge" | "drop"
    )
}

/// The first root field a document selects, alias resolved: `query Q($id: ID) { a: order(id:
/// $id) { id } }` gives `order`. Used to tell which operation of an endpoint a recorded
/// request was for.
pub fn document_root_field(doc: &str) -> Option<String> {
    let open = doc.find('{')?;
    let ident = |s: &str| -> Option<(String, usize)> {
        let start = s.find(|c: char| !c.is_whitespace() && c != ',')?;
        let rest = &s[start..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0).then(|| (rest[..len].to_string(), start + len))
    };
    let after = &doc[open + 1..];
    let (first, used) = ident(after)?;
    let rest = after[used..].trim_start();
    match rest.strip_prefix(':') {
        Some(aliased) => ident(aliased).map(|(name, _)| name),
        None => Some(first),
    }
}

/// True when a GraphQL document holds anything but queries: a `mutation` or `subscription`
/// operation at its top level. Strings, comments and selection sets are skipped, so a field or
/// an argument value named `mutation` inside braces does not count. Used as a safety net: a
/// request marked as a query whose document writes is treated as a write.
pub fn document_writes(doc: &str) -> bool {
    let mut depth = 0usize;
    let mut word = String::new();
    let mut writes = false;
    let mut finish = |word: &mut String, depth: usize| {
        if depth == 0 && (word == "mutation" || word == "subscription") {
            writes = true;
        }
        word.clear();
    };
    let mut chars = doc.chars();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        finish(&mut word, depth);
        match c {
            '#' => {
                chars.by_ref().find(|&n| n == '\n');
            }
            '"' => {
                let mut escaped = false;
                for n in chars.by_ref() {
                    match (escaped, n) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
            }
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    finish(&mut word, depth);
    writes
}

/// A field of an object type of the schema, as the checks that build their own documents
/// need it (nested and aliased queries follow these edges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlField {
    pub name: String,
    /// The field's type without list or non-null wrappers (`Order` for `[Order!]!`).
    pub type_name: String,
    /// The type is a list somewhere in its wrappers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub list: bool,
    /// The field has at least one required argument (it cannot be asked for bare).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required_args: bool,
}

/// A confirmed GraphQL endpoint and what discovery learnt about it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GraphqlEndpoint {
    /// The endpoint's path, relative to the inventory's base path like operation paths.
    pub path: String,
    /// `GET ?query=` is answered as well as a POSTed JSON body.
    #[serde(default)]
    pub get_queries: bool,
    /// A JSON array of operations is answered with an array of results.
    #[serde(default)]
    pub batching: bool,
    /// A POST whose body is the bare document with `Content-Type: application/graphql` is
    /// answered (a content type a cross-site form cannot send, unlike `text/plain`).
    #[serde(default)]
    pub graphql_content_type: bool,
    /// Who could read the schema by introspection: `anonymous` or an identity's name; `None`
    /// when introspection was refused to all who tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspected_as: Option<String>,
    /// The schema was rebuilt from field suggestions ("Did you mean …") and may be partial.
    #[serde(default)]
    pub from_suggestions: bool,
    /// Paths of in-browser consoles (GraphiQL, Playground, Altair) seen for this endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consoles: Vec<String>,
    /// The root types' names (`Query`, `Mutation`).
    #[serde(default)]
    pub query_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_type: Option<String>,
    /// Object and interface types by name, with their fields.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub types: indexmap::IndexMap<String, Vec<GraphqlField>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_field_of_a_document_is_read_through_names_variables_and_aliases() {
        assert_eq!(
            document_root_field("query Q($id: ID!) { order(id: $id) { id } }").as_deref(),
            Some("order")
        );
        assert_eq!(
            document_root_field("{ a0: login(username: \"x\") { token } }").as_deref(),
            Some("login")
        );
        assert_eq!(
            document_root_field("mutation { systemUpdate }").as_deref(),
            Some("systemUpdate")
        );
        assert_eq!(document_root_field("not graphql"), None);
    }

    #[test]
    fn a_document_declares_each_argument_as_a_variable() {
        let op = GraphqlOperation {
            kind: GraphqlKind::Query,
            field: "order".into(),
            arguments: vec![GraphqlArgument {
                name: "id".into(),
                type_ref: "ID!".into(),
            }],
            selection: "{ id total }".into(),
            returns: "Order".into(),
        };
        assert_eq!(op.label(), "query order");
        assert_eq!(
            op.document(),
            "query($id: ID!) { order(id: $id) { id total } }"
        );
        let bare = GraphqlOperation {
            kind: GraphqlKind::Mutation,
            field: "reset".into(),
            arguments: vec![],
            selection: String::new(),
            returns: "Boolean".into(),
        };
        assert_eq!(bare.document(), "mutation { reset }");
        assert!(document_writes(&bare.document()));
        assert!(!document_writes(&op.document()));
    }

    #[test]
    fn only_top_level_operation_keywords_make_a_document_write() {
        assert!(!document_writes("{ mutation { id } }"));
        assert!(!document_writes(
            "query Q { search(text: \"mutation { x }\") { id } } # mutation"
        ));
        assert!(document_writes(
            "query A { me { id } }\nmutation B { logout }"
        ));
        assert!(document_writes("  subscription { orders { id } }"));
        assert!(!document_writes("query mutationLog { log { id } }"));
    }
}

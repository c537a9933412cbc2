//! What the GraphQL checks share: how a document of their own reaches an endpoint, and how a
//! GraphQL answer is read (`data`, `errors`), whatever the HTTP status says.
//!
//! A GraphQL server answers most refusals with HTTP 200 and an `errors` array, so these checks
//! never judge by status alone: a document was answered when its answer is JSON with a non-null
//! `data` member and no `errors`.

use crate::probe::Probe;
use middlebrick_model::{
    GraphqlEndpoint, GraphqlKind, Inventory, Method, Operation, RequestBody, RequestSpec,
};
use serde_json::{json, Value};

/// The inventory's GraphQL operations on `ep`.
pub fn operations_on<'a>(
    inv: &'a Inventory,
    ep: &'a GraphqlEndpoint,
) -> impl Iterator<Item = &'a Operation> + 'a {
    inv.operations
        .iter()
        .filter(move |o| o.graphql.is_some() && o.path == ep.path)
}

/// A query operation on `ep` (the one whose root field is `field` when given): the operation a
/// document of the checks' own is filed under, so the engine treats it as the read it is.
pub fn query_operation<'a>(
    inv: &'a Inventory,
    ep: &'a GraphqlEndpoint,
    field: Option<&str>,
) -> Option<&'a Operation> {
    let queries = || {
        operations_on(inv, ep).filter(|o| {
            o.graphql
                .as_ref()
                .is_some_and(|g| g.kind == GraphqlKind::Query)
        })
    };
    field
        .and_then(|f| queries().find(|o| o.graphql.as_ref().is_some_and(|g| g.field == f)))
        .or_else(|| queries().next())
}

/// The request carrying the query `doc` to `ep` as `identity`: a POSTed JSON body, or
/// `GET ?query=` when the scan may not POST and the endpoint answers GET queries.
pub fn query_request(
    probe: &dyn Probe,
    inv: &Inventory,
    ep: &GraphqlEndpoint,
    field: Option<&str>,
    doc: &str,
    identity: &str,
) -> RequestSpec {
    let get = ep.get_queries && !probe.method_allowed(Method::Post);
    let mut req = if get {
        let mut r = RequestSpec::new(Method::Get, ep.path.clone());
        r.query.push(("query".into(), doc.to_string()));
        r
    } else {
        let mut r = RequestSpec::new(Method::Post, ep.path.clone());
        r.body = Some(RequestBody::Json(json!({ "query": doc })));
        r
    };
    req.identity = identity.to_string();
    req.operation = query_operation(inv, ep, field).map(Operation::key);
    req
}

/// An answer read as GraphQL: its `data` (absent or `null` is `None`) and its error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct GqlAnswer {
    pub data: Option<Value>,
    pub errors: Vec<String>,
}

impl GqlAnswer {
    /// Reads a JSON object answer; `None` when the answer is not a GraphQL result at all.
    pub fn read(json: &Value) -> Option<GqlAnswer> {
        let map = json.as_object()?;
        if !map.contains_key("data") && !map.contains_key("errors") {
            return None;
        }
        let data = map.get("data").filter(|d| !d.is_null()).cloned();
        let errors = map
            .get("errors")
            .and_then(Value::as_array)
            .map(|errs| errs.iter().map(error_message).collect())
            .unwrap_or_default();
        Some(GqlAnswer { data, errors })
    }

    /// Reads an exchange's answer (any status: GraphQL servers differ in what they send with
    /// errors).
    pub fn of(ex: &middlebrick_model::Exchange) -> Option<GqlAnswer> {
        GqlAnswer::read(&ex.response.as_ref()?.json()?)
    }

    /// Data and no error: the document was executed as asked.
    pub fn answered(&self) -> bool {
        self.data.is_some() && self.errors.is_empty()
    }

    /// The root field `name`'s value when it is there and not `null`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.data.as_ref()?.get(name).filter(|v| !v.is_null())
    }
}

/// An error's `message`, or the whole error as text when it has none.
fn error_message(e: &Value) -> String {
    e.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string())
}

/// A pseudo-operation naming the endpoint (`POST /graphql`) for findings about the endpoint
/// as a whole.
pub fn endpoint_operation(ep: &GraphqlEndpoint) -> Operation {
    Operation::new(Method::Post, ep.path.clone())
}

/// A GraphQL string literal for `s` (JSON's escaping is valid GraphQL string syntax).
pub fn string_literal(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Why a GraphQL-only check has nothing to test: no endpoint was found.
pub fn no_endpoint(inventory: &middlebrick_model::Inventory) -> Option<&'static str> {
    inventory
        .graphql
        .is_empty()
        .then_some("no GraphQL endpoint was found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_data_without_errors() {
        let ok = GqlAnswer::read(&json!({"data": {"a": 1}})).unwrap();
        assert!(ok.answered());
        assert_eq!(ok.field("a"), Some(&json!(1)));
        let refused =
            GqlAnswer::read(&json!({"data": null, "errors": [{"message": "no"}]})).unwrap();
        assert!(!refused.answered());
        assert_eq!(refused.errors, vec!["no".to_string()]);
        let partial =
            GqlAnswer::read(&json!({"data": {"a": null}, "errors": [{"message": "x"}]})).unwrap();
        assert!(!partial.answered() && partial.field("a").is_none());
        assert!(GqlAnswer::read(&json!({"id": 1})).is_none());
    }

    #[test]
    fn a_string_literal_escapes_quotes() {
        assert_eq!(string_literal("a\"b"), r#""a\"b""#);
    }
}

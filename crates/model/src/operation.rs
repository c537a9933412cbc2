//! The operation inventory: what an API offers, as loaded from a spec or found by crawling.

use crate::exchange::Method;
use crate::report::Diagnostic;
use crate::schema::Schema;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    Path,
    Query,
    Header,
    Cookie,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    pub schema: Arc<Schema>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestBodySpec {
    pub required: bool,
    /// Media type (`application/json`, `application/x-www-form-urlencoded`, …) to schema, in spec order.
    pub content: IndexMap<String, Arc<Schema>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSpec {
    /// `200`, `4XX` or `default`, as the spec spells it.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Arc<Schema>>,
}

/// One alternative of a security requirement: every scheme named must be satisfied together.
/// An empty requirement means "no authentication" is one of the accepted alternatives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecurityRequirement {
    pub schemes: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SecuritySchemeKind {
    /// `http` with a scheme such as `basic` or `bearer`.
    Http {
        scheme: String,
    },
    /// An API key in a header, query parameter or cookie.
    ApiKey {
        name: String,
        location: ParamLocation,
    },
    /// OAuth 2; the token URL of the password or client-credentials flow when one is declared.
    OAuth2 {
        token_url: Option<String>,
        scopes: Vec<String>,
    },
    OpenIdConnect {
        url: String,
    },
    MutualTls,
    Other {
        raw_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityScheme {
    pub name: String,
    pub kind: SecuritySchemeKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub method: Method,
    /// The path template as the spec's `paths` key spells it, e.g. `/api/items/{item_id}`
    /// (without the inventory's `base_path`).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The operation's `description`, read only to recognise what it does
    /// ([`crate::danger`]); never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBodySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ResponseSpec>,
    /// The effective security (operation-level, else the spec's global); `None` when the spec
    /// says nothing at all (crawled operations, specs without security).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Vec<SecurityRequirement>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// Where the operation is declared (`file#/paths/~1items/get`), for report locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set when the operation is a root field of a GraphQL schema: `method` and `path` are
    /// then those of the HTTP request (`POST /graphql`) and the arguments are the properties
    /// of the JSON request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<crate::graphql::GraphqlOperation>,
}

impl Operation {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Operation {
            method,
            path: path.into(),
            operation_id: None,
            summary: None,
            description: None,
            tags: Vec::new(),
            parameters: Vec::new(),
            request_body: None,
            responses: Vec::new(),
            security: None,
            deprecated: false,
            source: None,
            graphql: None,
        }
    }

    /// `GET /api/items/{item_id}`: how the operation is named in reports and plans; a GraphQL
    /// operation adds its label (`POST /graphql query order`).
    pub fn key(&self) -> String {
        match &self.graphql {
            Some(g) => format!("{} {} {}", self.method, self.path, g.label()),
            None => format!("{} {}", self.method, self.path),
        }
    }

    /// True when sending the operation may change state: a method that is not safe, or a
    /// GraphQL mutation (a GraphQL query is a read even when it is POSTed).
    pub fn changes_state(&self) -> bool {
        match &self.graphql {
            Some(g) => g.kind == crate::graphql::GraphqlKind::Mutation,
            None => !self.method.is_safe(),
        }
    }

    /// True when the operation is a plain read that checks may replay freely: a `GET`, or a
    /// GraphQL query (POSTed, but a read all the same).
    pub fn is_read(&self) -> bool {
        match &self.graphql {
            Some(g) => g.kind == crate::graphql::GraphqlKind::Query,
            None => self.method == Method::Get,
        }
    }

    /// `query order` for a GraphQL operation, how reports name it beside `POST /graphql`.
    pub fn graphql_label(&self) -> Option<String> {
        self.graphql
            .as_ref()
            .map(crate::graphql::GraphqlOperation::label)
    }

    /// True when the spec declares that a caller must authenticate: some requirement is
    /// declared and none of the alternatives is the empty ("anonymous allowed") one.
    pub fn declares_auth(&self) -> bool {
        match &self.security {
            Some(reqs) => !reqs.is_empty() && reqs.iter().all(|r| !r.schemes.is_empty()),
            None => false,
        }
    }

    /// True when the spec lets anonymous callers in and names no credential at all
    /// (`security: []` or `[{}]`); an optional credential (`[{bearer: []}, {}]`) is not this.
    pub fn declares_only_public(&self) -> bool {
        match &self.security {
            Some(reqs) => reqs.iter().all(|r| r.schemes.is_empty()),
            None => false,
        }
    }

    /// True when the spec explicitly lets anonymous callers in (`security: []` or `[{}]`, or
    /// an optional credential `[{bearer: []}, {}]`).
    pub fn declares_public(&self) -> bool {
        match &self.security {
            Some(reqs) => reqs.is_empty() || reqs.iter().any(|r| r.schemes.is_empty()),
            None => false,
        }
    }

    pub fn params_in(&self, location: ParamLocation) -> impl Iterator<Item = &Parameter> {
        self.parameters
            .iter()
            .filter(move |p| p.location == location)
    }

    /// The schema of the first 2xx response, the shape a successful answer should have.
    pub fn success_schema(&self) -> Option<&Arc<Schema>> {
        self.responses
            .iter()
            .filter(|r| r.status.starts_with('2'))
            .find_map(|r| r.schema.as_ref())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecVersion {
    #[serde(rename = "swagger-2.0")]
    Swagger2,
    #[serde(rename = "openapi-3.0")]
    OpenApi30,
    #[serde(rename = "openapi-3.1")]
    OpenApi31,
    /// No spec: operations found by crawling; coverage is partial.
    #[serde(rename = "crawled")]
    Crawled,
}

/// Everything the scan knows about the API's surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub version: SpecVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Server URLs declared by the spec (3.x `servers`, or 2.0 `schemes`+`host`+`basePath`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// The path prefix every operation path is relative to: 2.0 `basePath`, or the path of the
    /// first 3.x server URL (`/api/v1`); empty when there is none. Operation paths exclude it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_path: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub security_schemes: IndexMap<String, SecurityScheme>,
    pub operations: Vec<Operation>,
    /// Problems met while loading: a broken operation is skipped and named here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// GraphQL endpoints found in scope; their root fields are in `operations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graphql: Vec<crate::graphql::GraphqlEndpoint>,
}

impl Inventory {
    pub fn empty(version: SpecVersion) -> Self {
        Inventory {
            version,
            title: None,
            servers: Vec::new(),
            base_path: String::new(),
            security_schemes: IndexMap::new(),
            operations: Vec::new(),
            diagnostics: Vec::new(),
            graphql: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(names: &[&str]) -> SecurityRequirement {
        SecurityRequirement {
            schemes: names.iter().map(|n| (n.to_string(), vec![])).collect(),
        }
    }

    #[test]
    fn declared_security_is_read_from_requirements() {
        let mut op = Operation::new(Method::Get, "/a");
        assert!(!op.declares_auth() && !op.declares_public());
        op.security = Some(vec![req(&["bearer"])]);
        assert!(op.declares_auth());
        op.security = Some(vec![req(&["bearer"]), req(&[])]);
        assert!(!op.declares_auth() && op.declares_public());
        assert!(!op.declares_only_public(), "an optional credential");
        op.security = Some(vec![]);
        assert!(op.declares_public() && op.declares_only_public());
        op.security = Some(vec![req(&[])]);
        assert!(op.declares_only_public());
        assert_eq!(op.key(), "GET /a");
    }
}

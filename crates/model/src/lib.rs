//! The data every middlebrick crate shares: what an API offers ([`Operation`]), what was sent and
//! received ([`Exchange`]), what was found ([`Finding`]) and the report that carries it all.
//!
//! This crate does no I/O and knows no HTTP client, so that checks, reports and front ends can
//! depend on it without pulling in the transport.

mod check;
mod coverage;
pub mod danger;
pub mod envelope;
mod exchange;
mod finding;
mod graphql;
mod health;
pub mod names;
mod operation;
mod redact;
mod report;
mod schema;
mod selfknow;
mod stack;

pub use check::{CheckId, CheckKind, Confidence, Mode, Owasp, Severity};
pub use coverage::{CheckRun, IdentityRun, NotReached, SkippedOn, Tally, UnreachedReason};
pub use exchange::{
    BodyRecord, CredentialUse, Exchange, Method, RequestBody, RequestRecord, RequestSpec,
    ResponseRecord, ANONYMOUS,
};
pub use finding::{fingerprint, Evidence, Finding};
pub use graphql::{
    document_root_field, document_writes, graphql_deletes, GraphqlArgument, GraphqlEndpoint,
    GraphqlField, GraphqlKind, GraphqlOperation, GraphqlRequest,
};
pub use health::{Outage, Retrigger};
pub use operation::{
    Inventory, Operation, ParamLocation, Parameter, RequestBodySpec, ResponseSpec,
    SecurityRequirement, SecurityScheme, SecuritySchemeKind, SpecVersion,
};
pub use redact::{Redactor, REDACTED};
pub use report::{Coverage, Diagnostic, DiagnosticLevel, Grade, RateUse, Report, ToolInfo};
pub use schema::{Schema, SchemaType};
pub use selfknow::{scalar_text, SelfKnowledge};
pub use stack::{Detection, Remediation, Stack, Tech};

/// The version of the JSON report format documented in `docs/report-format.md`.
pub const REPORT_SCHEMA_VERSION: &str = "1.4";

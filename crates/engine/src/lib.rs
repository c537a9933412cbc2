//! The scan engine: one library behind every front end (CLI, MCP server, monitoring).
//!
//! A scan goes through fixed phases: find the operations (a spec given, discovered, or a
//! crawl), sign in the identities, warm up (valid requests that harvest object ids), run every
//! check the mode allows on every operation it applies to, then the API-wide checks; findings
//! are deduplicated by fingerprint and scored. A failure on one operation is a diagnostic, not
//! an abort; the transport's budget, deadline and circuit breaker end a scan early but still
//! produce a report marked incomplete.

mod base;
mod callback;
mod config;
mod coverage;
mod discover;
mod error;
mod events;
mod graphql;
mod health;
mod identity;
mod ledger;
mod plan;
mod probe;
mod register;
mod run;
mod score;
mod selfknow;
mod signin;
mod userparams;

pub use config::{CallbackConfig, IdentityConfig, LoginConfig, ScanConfig, SpecSource};
pub use error::EngineError;
pub use events::{Event, Phase};
pub use plan::{plan, Plan, PlanEntry};
pub use run::{load_inventory, redact_report, scan, scan_with, EventSink, ScanHandle, ScanOutput};
pub use score::{score, SCORING_DOC};

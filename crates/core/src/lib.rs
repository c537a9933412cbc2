//! The layer every middlebrick front end (CLI, MCP server, monitoring service) calls, so each
//! stays glue: configuration resolution ([`config`]: file layering, identities, secrets from
//! environment variables), one scan from a serialisable request ([`scan`]), recorded scans
//! ([`record`]: the history row, the stored report, reading it back), the catalogue's rules
//! ([`catalogue`]), what changed between two scans ([`diff`]), and which hosts a front end that
//! scans for others may send to ([`Allowlist`]).
//!
//! Errors are typed ([`CoreError`]); each front end turns them into its own surface.

pub mod allow;
pub mod catalogue;
pub mod config;
pub mod diff;
mod error;
pub mod record;
pub mod scan;

#[cfg(test)]
mod testing;

pub use allow::Allowlist;
pub use error::{CoreError, Result};
pub use scan::{run, CancelToken, ScanOutcome, ScanRequest};

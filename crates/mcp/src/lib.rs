//! `middlebrick mcp`: the scanner as a Model Context Protocol server over stdio, so a coding
//! assistant can scan the API it is working on, read the findings, and check its fix.
//!
//! The server is a front end like the CLI: it runs `middlebrick_engine::scan`, records every
//! scan in the history (`middlebrick_store`), and renders with `middlebrick_report`. How a tool
//! call's `config` and flags become a `ScanConfig` is the binary's business (it owns the config
//! file format), so the binary passes a [`Resolve`] function in. What the server may scan is
//! decided by its own start-up flags ([`Options`]), never by the tool call.

pub mod allow;
pub mod record;
mod server;
pub mod types;

pub use allow::Allowlist;
pub use server::{LogRedactor, Options, Server};

use middlebrick_engine::ScanConfig;
use middlebrick_store::Store;
use rmcp::ServiceExt;
use std::sync::Arc;
use types::ScanApiInput;

/// Turns a `scan_api` call into a validated configuration, as the CLI would for the same flags.
pub type Resolve = Arc<dyn Fn(&ScanApiInput) -> Result<ScanConfig, String> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("MCP session: {0}")]
    Session(String),
}

/// Serves on stdin/stdout until the client disconnects.
pub async fn serve_stdio(store: Store, opts: Options, resolve: Resolve) -> Result<(), McpError> {
    let server = Server::new(store, opts, resolve);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Session(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpError::Session(e.to_string()))?;
    Ok(())
}

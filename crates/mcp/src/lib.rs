//! `middlebrick mcp`: the scanner as a Model Context Protocol server over stdio, so a coding
//! assistant can scan the API it is working on, read the findings, and check its fix.
//!
//! The server is a front end like the CLI: a tool call becomes a typed request into
//! `middlebrick_core` (configuration resolved as the same `scan` flags would be, the scan run,
//! recorded in the history, diffed), and the answer is rendered with `middlebrick_report`.
//! What the server may scan is decided by its own start-up flags ([`Options`]), never by the
//! tool call.

mod server;
pub mod types;

pub use middlebrick_core::Allowlist;
pub use server::{LogRedactor, Options, Server};

use middlebrick_store::Store;
use rmcp::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("MCP session: {0}")]
    Session(String),
}

/// Serves on stdin/stdout until the client disconnects.
pub async fn serve_stdio(store: Store, opts: Options) -> Result<(), McpError> {
    let server = Server::new(store, opts);
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

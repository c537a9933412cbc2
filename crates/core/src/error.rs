//! The one error type of the core layer. Front ends map it to their own surface: the CLI to an
//! exit code and a hint, the MCP server to a tool error, the service to an HTTP status.

use middlebrick_engine::EngineError;
use middlebrick_store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A setting the user gave is wrong (a flag, a config file entry, a scan request field).
    #[error("{0}")]
    Config(String),
    /// A file the user named could not be read or parsed.
    #[error("{what} {}: {message}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    /// The scan could not run at all (unreachable target, unreadable spec, cancelled early).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The history database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No history database path here (no data directory and none given).
    #[error("no data directory for the history here; pass --history PATH")]
    NoHistoryPath,
    /// A recorded scan that has no report (killed, failed, or still running).
    #[error("scan {0} recorded no report (killed or failed)")]
    NoReport(i64),
}

impl CoreError {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        CoreError::Config(message.into())
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

use thiserror::Error;

/// Why a scan could not run at all. Everything smaller is a diagnostic in the report.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("could not set up the HTTP client: {0}")]
    Transport(String),
    #[error("could not load the API description {source_name}: {message}")]
    Spec {
        source_name: String,
        message: String,
    },
    #[error("the target {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("no operations to scan: {0}")]
    NoOperations(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}
